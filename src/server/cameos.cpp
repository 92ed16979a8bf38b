#include "server/cameos.hpp"

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "server/api_error.hpp"
#include "cameo/likeness.hpp"
#include "media/image_io.hpp"
#include "server/mp4_probe.hpp"
#include "server/job_runner.hpp"
#include "provenance/c2pa.hpp"

#include <algorithm>
#include <chrono>

namespace opsis::server {

namespace {
constexpr size_t kMaxIdleConnections = 64;
}  // namespace

namespace {
// A refused or failed enrollment recorded nothing: its recording goes too, unless something
// else holds the same bytes. A failure here leaves it to the orphan collector.
void remove_unrecorded_recording(store::MetadataStore& store, store::BlobStore& blobs, CameoConnections& cameos,
                                 const std::string& blob) {
  try {
    if (store.blob_references(blob) == 0 && !cameos.referenced_blobs().count(blob)) blobs.remove(blob);
  } catch (const std::exception&) {
  }
}
}  // namespace

// ---- connections -----------------------------------------------------------------------

CameoConnections::CameoConnections(std::filesystem::path db_path) : path_(std::move(db_path)) {
  idle_.push_back(std::make_unique<Connection>(path_));  // creates the tables; fails here, not later
}

CameoConnections::Lease CameoConnections::lease() {
  {
    std::lock_guard lock(mutex_);
    if (!idle_.empty()) {
      auto connection = std::move(idle_.back());
      idle_.pop_back();
      return Lease(*this, std::move(connection));
    }
  }
  return Lease(*this, std::make_unique<Connection>(path_));
}

CameoConnections::Lease::~Lease() {
  if (!connection_) return;
  std::lock_guard lock(owner_->mutex_);
  if (owner_->idle_.size() < kMaxIdleConnections) owner_->idle_.push_back(std::move(connection_));
}

std::set<std::string> CameoConnections::referenced_blobs() {
  auto connection = lease();
  std::set<std::string> out;
  cameo::Statement select(connection->db, "SELECT reference_media FROM cameos");
  while (select.step()) {
    try {
      const auto media = nlohmann::json::parse(select.text(0));
      if (media.is_array())
        for (const auto& key : media)
          if (key.is_string()) out.insert(key.get<std::string>());
    } catch (const nlohmann::json::exception&) {
      // An unreadable list names no blob.
    }
  }
  return out;
}

// ---- policy ------------------------------------------------------------------------------

PolicyGate::PolicyGate(policy::Policy policy, CameoConnections& cameos, std::unique_ptr<policy::DecisionLog> log)
    : policy_(std::move(policy)), cameos_(cameos), log_(std::move(log)) {}

policy::PolicyDecision PolicyGate::decide(const std::string& requester, const std::string& prompt,
                                          const std::vector<std::string>& cameo_ids, const std::string& stage) {
  policy::PolicyRequest request;
  request.requester = requester;
  request.prompt = prompt;
  request.cameo_ids = cameo_ids;
  request.stage = stage;
  // The registry is read only for cameos (an @handle in the prompt, or ids): a request naming
  // none needs no connection (leasing one per create opened a SQLite connection, schema and
  // all, for each create of a burst that found the pool empty; issue 14).
  if (cameo_ids.empty() && cameo::mentioned_handles(prompt).empty()) return policy_.decide(request, nullptr, log_.get());
  auto connection = cameos_.lease();
  return policy_.decide(request, &connection->registry, log_.get());
}

void PolicyGate::admit(const Caller& caller, const std::string& prompt, const std::vector<std::string>& cameo_ids) {
  const policy::PolicyDecision decision = decide(caller.user, prompt, cameo_ids, "admission");
  if (decision.allowed) return;
  throw ApiError(policy::http_status(decision), "invalid_request_error", decision.code, decision.message, decision.param);
}

std::optional<std::pair<std::string, std::string>> PolicyGate::recheck(const std::string& video_id, const std::string& requester,
                                                                       const std::string& prompt,
                                                                       const std::vector<std::string>& cameo_ids,
                                                                       std::vector<std::pair<std::string, std::string>>* used) {
  const std::string prefix = "refused before generation (the policy was checked again): ";
  const policy::PolicyDecision decision = decide(requester, prompt, cameo_ids, "worker");
  if (!decision.allowed) return std::make_pair(decision.code, prefix + decision.message);
  if (decision.cameos.empty()) return std::nullopt;
  std::vector<std::string> ids;
  for (const auto& c : decision.cameos) ids.push_back(c.id);
  try {
    auto connection = cameos_.lease();
    connection->registry.record_video_use(video_id, requester, ids);  // checks may_use again, in its transaction
  } catch (const cameo::CameoForbidden& e) {
    return std::make_pair(e.code(), prefix + e.what());
  } catch (const cameo::CameoNotFound& e) {
    return std::make_pair(std::string("cameo_not_found"), prefix + e.what());
  }
  if (used)
    for (const auto& c : decision.cameos) used->emplace_back("@" + c.handle, c.id);
  return std::nullopt;
}

// ---- characters --------------------------------------------------------------------------

CharacterService::CharacterService(CameoConnections& cameos, store::MetadataStore& store, store::BlobStore& blobs,
                                   const policy::Policy& policy)
    : cameos_(cameos), store_(store), blobs_(blobs), policy_(policy) {}

cameo::Cameo CharacterService::create(const Caller& caller, const std::string& name, const std::string& mp4) {
  cameo::check_display_name(name);  // InvalidArgument("name"): 1 to 80 characters of text
  if (const std::string figure = policy_.public_figure_named(name); !figure.empty())
    throw InvalidArgument("name", "the name '" + name.substr(0, 80) + "' names " + figure +
                                      ", a real person; a character cannot stand for a real person — choose another name");
  if (mp4.empty()) throw InvalidArgument("video", "the uploaded video is empty");
  probe_mp4(mp4);  // InvalidArgument("video") for anything but a readable MP4 with a video track

  const std::string blob = blobs_.put(std::vector<uint8_t>(mp4.begin(), mp4.end()));
  try {
    auto connection = cameos_.lease();
    cameo::Transaction transaction(connection->db);  // the handle chosen, the cameo made and enrolled: all or nothing
    cameo::NewCameo request;
    request.owner = caller.user;
    request.display_name = name;
    request.handle = connection->registry.suggest_handle(name);
    request.kind = cameo::CameoKind::character;
    request.permission = cameo::Permission::only_me;
    const cameo::Cameo created = connection->registry.create(request);
    cameo::Cameo active = connection->registry.activate(created.id, caller.user, {blob});
    transaction.commit();
    return active;
  } catch (...) {
    remove_unrecorded_recording(store_, blobs_, cameos_, blob);
    throw;
  }
}

cameo::Cameo CharacterService::retrieve(const Caller& caller, const std::string& id) {
  auto connection = cameos_.lease();
  try {
    cameo::Cameo found = connection->registry.get(id);
    // Another user's character, or a person's cameo, is indistinguishable from none.
    if (found.owner == caller.user && found.kind == cameo::CameoKind::character) return found;
  } catch (const cameo::CameoNotFound&) {
  }
  throw not_found("no character with id '" + id.substr(0, 64) + "'");
}

// ---- cameos (/v1/cameos and the app's cameo page) ----------------------------------------

namespace {

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// The cameo, if `owner` owns it; another user's is "not found", as none would be.
cameo::Cameo owned_cameo(cameo::CameoRegistry& registry, const std::string& owner, const std::string& id) {
  try {
    cameo::Cameo found = registry.get(id);
    if (found.owner == owner) return found;
  } catch (const cameo::CameoNotFound&) {
  }
  throw cameo::CameoNotFound("no cameo with id '" + id.substr(0, 64) + "'");
}

bool job_uses(const JobRequest& request, const cameo::Cameo& c) {
  if (std::find(request.cameo_ids.begin(), request.cameo_ids.end(), c.id) != request.cameo_ids.end()) return true;
  const auto handles = cameo::mentioned_handles(request.step.prompt);
  return std::find(handles.begin(), handles.end(), c.handle) != handles.end();
}

}  // namespace

CameoService::CameoService(CameoConnections& cameos, store::MetadataStore& store, store::BlobStore& blobs, VideoService& videos,
                           JobRunner& runner, std::string data_dir, cameo::RecordingChecker& recordings)
    : cameos_(cameos),
      store_(store),
      blobs_(blobs),
      videos_(videos),
      runner_(runner),
      data_dir_(std::move(data_dir)),
      recordings_(recordings) {}

cameo::LivenessChallenge CameoService::issue_challenge(const std::string& owner) {
  auto connection = cameos_.lease();
  return cameo::ChallengeStore(connection->db).issue(owner, unix_now());
}

cameo::Cameo CameoService::enroll(const Enrollment& enrollment) {
  cameo::NewCameo wanted;
  wanted.owner = enrollment.owner;
  wanted.handle = cameo::normalize_handle(enrollment.handle);  // InvalidArgument("handle")
  wanted.display_name = enrollment.display_name.empty() ? wanted.handle : enrollment.display_name;
  cameo::check_display_name(wanted.display_name);
  wanted.kind = enrollment.kind;
  wanted.permission = cameo::Permission::only_me;
  if (enrollment.recording.empty()) throw InvalidArgument("video", "the recording is empty");
  if (enrollment.challenge_id.empty()) throw InvalidArgument("challenge_id", "missing required parameter: 'challenge_id'");
  cameo::LivenessChallenge challenge;
  {
    // Checked before the challenge is spent, so a taken handle can be retried.
    auto connection = cameos_.lease();
    if (!connection->registry.handle_available(wanted.handle))
      throw InvalidArgument("handle", "the cameo handle @" + wanted.handle + " is taken");
    challenge = cameo::ChallengeStore(connection->db).check(enrollment.challenge_id, enrollment.owner, unix_now());
  }
  // The recording against the challenge, outside any transaction (it takes a second or two).
  cameo::RecordingReport report;
  try {
    report = recordings_.check(enrollment.recording, wanted.kind, challenge);
  } catch (const cameo::RecordingRefused& refused) {
    if (refused.spends_challenge()) {
      try {
        auto connection = cameos_.lease();
        cameo::ChallengeStore(connection->db).redeem(enrollment.challenge_id, enrollment.owner, unix_now());
      } catch (const cameo::ChallengeError&) {
        // Spent or expired meanwhile: spent either way.
      }
    }
    throw;
  }
  // What is kept: the recording, and for a person whose likeness was read, the portrait the
  // built-in model is conditioned on (a PNG) beside the identity (cameo/likeness.hpp).
  std::vector<std::string> media;
  nlohmann::json likeness;
  try {
    media.push_back(blobs_.put(std::vector<uint8_t>(enrollment.recording.begin(), enrollment.recording.end())));
    if (wanted.kind == cameo::CameoKind::person && report.likeness) {
      media.push_back(blobs_.put(media::encode_png(report.likeness->portrait)));
      likeness = cameo::to_json(report.likeness->likeness);
    }
    auto connection = cameos_.lease();
    cameo::Transaction transaction(connection->db);  // challenge spent, cameo made and enrolled: all or nothing
    cameo::ChallengeStore(connection->db).redeem(enrollment.challenge_id, enrollment.owner, unix_now());
    const cameo::Cameo created = connection->registry.create(wanted);
    cameo::Cameo active = connection->registry.activate(created.id, enrollment.owner, media, likeness);
    transaction.commit();
    return active;
  } catch (...) {
    for (const auto& blob : media) remove_unrecorded_recording(store_, blobs_, cameos_, blob);
    throw;
  }
}

std::string likeness_words(CameoConnections& cameos, const std::string& cameo_id) {
  cameo::Cameo found;
  try {
    auto connection = cameos.lease();
    found = connection->registry.get(cameo_id);
  } catch (const cameo::CameoNotFound&) {
    return "";
  }
  if (found.likeness.is_null()) return "";
  try {
    return cameo::describe(cameo::likeness_from_json(found.likeness));
  } catch (const InvalidArgument&) {
    return "";  // an unreadable likeness draws as none
  }
}

std::vector<cameo::Cameo> CameoService::mine(const std::string& owner) {
  auto connection = cameos_.lease();
  return connection->registry.owned_by(owner);
}

cameo::Cameo CameoService::get(const std::string& owner, const std::string& id) {
  auto connection = cameos_.lease();
  return owned_cameo(connection->registry, owner, id);
}

cameo::Cameo CameoService::set_permission(const std::string& owner, const std::string& id, cameo::Permission permission,
                                          const std::optional<std::vector<std::string>>& approved) {
  cameo::Cameo changed;
  {
    auto connection = cameos_.lease();
    auto& registry = connection->registry;
    cameo::Transaction transaction(connection->db);
    const cameo::Cameo current = owned_cameo(registry, owner, id);
    if (approved) {
      std::vector<std::string> wanted;
      for (std::string user : *approved) {
        if (user.rfind('@', 0) == 0) user.erase(0, 1);
        cameo::check_user_id(user, "approved");
        if (std::find(wanted.begin(), wanted.end(), user) == wanted.end()) wanted.push_back(user);
      }
      for (const auto& user : current.approved)
        if (std::find(wanted.begin(), wanted.end(), user) == wanted.end()) registry.unapprove(id, owner, user);
      for (const auto& user : wanted)
        if (std::find(current.approved.begin(), current.approved.end(), user) == current.approved.end())
          registry.approve(id, owner, user);
    }
    changed = current.permission == permission && approved ? registry.get(id) : registry.set_permission(id, owner, permission);
    transaction.commit();
  }
  stop_jobs_no_longer_allowed(id);
  return changed;
}

cameo::Cameo CameoService::approve(const std::string& owner, const std::string& id, const std::string& user) {
  auto connection = cameos_.lease();
  owned_cameo(connection->registry, owner, id);
  return connection->registry.approve(id, owner, user);
}

cameo::Cameo CameoService::unapprove(const std::string& owner, const std::string& id, const std::string& user) {
  cameo::Cameo changed;
  {
    auto connection = cameos_.lease();
    owned_cameo(connection->registry, owner, id);
    changed = connection->registry.unapprove(id, owner, user);
  }
  stop_jobs_no_longer_allowed(id);
  return changed;
}

cameo::Cameo CameoService::set_restrictions(const std::string& owner, const std::string& id, const std::vector<std::string>& rules) {
  auto connection = cameos_.lease();
  owned_cameo(connection->registry, owner, id);
  return connection->registry.set_restrictions(id, owner, rules);
}

cameo::Cameo CameoService::revoke(const std::string& owner, const std::string& id) {
  cameo::Cameo changed;
  {
    auto connection = cameos_.lease();
    owned_cameo(connection->registry, owner, id);
    changed = connection->registry.revoke(id, owner);
  }
  stop_jobs_no_longer_allowed(id);
  return changed;
}

void CameoService::remove(const std::string& owner, const std::string& id) {
  cameo::Cameo gone;
  {
    auto connection = cameos_.lease();
    gone = owned_cameo(connection->registry, owner, id);
    connection->registry.remove(id, owner);
  }
  // Jobs that still name it: the cameo no longer exists, so none may use it.
  for (const auto status : {store::VideoStatus::InProgress, store::VideoStatus::Queued})
    for (const auto& video : store_.videos_with_status(status)) {
      try {
        if (job_uses(JobRequest::from_json(video.request_json), gone))
          runner_.fail(video.id, "cameo_revoked",
                       "cancelled: the cameo @" + gone.handle + " was deleted by its owner, who no longer allows its use");
      } catch (const std::exception&) {
        // An unreadable request names no cameo.
      }
    }
}

std::vector<store::VideoRecord> CameoService::videos(const std::string& owner, const std::string& id) {
  std::vector<std::string> ids;
  {
    auto connection = cameos_.lease();
    owned_cameo(connection->registry, owner, id);
    ids = connection->registry.videos_using(id, owner);
  }
  std::vector<store::VideoRecord> out;
  for (const auto& video_id : ids)
    if (auto v = store_.video(video_id)) out.push_back(std::move(*v));  // deleted since: left out
  return out;
}

void CameoService::delete_video(const std::string& owner, const std::string& id, const std::string& video_id) {
  for (const auto& v : videos(owner, id))
    if (v.id == video_id) {
      videos_.remove(Caller{v.user, "cameo-owner:" + owner}, video_id);
      return;
    }
  throw cameo::CameoNotFound("the cameo was not used in a video with id '" + video_id.substr(0, 64) + "'");
}

nlohmann::json CameoService::ledger(const std::string& owner, const std::string& id) {
  auto connection = cameos_.lease();
  owned_cameo(connection->registry, owner, id);
  const int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  const auto credentials = provenance::SigningCredentials::load_or_create(provenance::credentials_directory(data_dir_));
  const cameo::SignedTreeHead head = connection->ledger.current_signed_head(credentials, now_ms);
  return connection->ledger.export_bundle(head, id);
}

int CameoService::stop_jobs_no_longer_allowed(const std::string& cameo_id) {
  std::optional<cameo::Cameo> current;
  int stopped = 0;
  for (const auto status : {store::VideoStatus::InProgress, store::VideoStatus::Queued})
    for (const auto& video : store_.videos_with_status(status)) {
      JobRequest request;
      try {
        request = JobRequest::from_json(video.request_json);
      } catch (const std::exception&) {
        continue;  // an unreadable request names no cameo
      }
      auto connection = cameos_.lease();
      if (!current) current = connection->registry.get(cameo_id);
      if (!job_uses(request, *current)) continue;
      const cameo::UseDecision decision = connection->registry.may_use(video.user, *current);
      if (decision.allowed) continue;
      const bool revoked = current->state == cameo::CameoState::revoked;
      const std::string code = revoked ? "cameo_revoked" : decision.code;
      const std::string message =
          revoked ? "cancelled: the cameo @" + current->handle + " was revoked by its owner; this video can no longer be made"
                  : "cancelled: " + decision.reason;
      if (runner_.fail(video.id, code, message)) ++stopped;
    }
  return stopped;
}

}  // namespace opsis::server
