#include "server/cameos.hpp"

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "server/api_error.hpp"
#include "server/mp4_probe.hpp"

namespace opsis::server {

namespace {
constexpr size_t kMaxIdleConnections = 64;
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
                                                                       const std::vector<std::string>& cameo_ids) {
  const std::string prefix = "refused before generation (the policy was checked again): ";
  const policy::PolicyDecision decision = decide(requester, prompt, cameo_ids, "worker");
  if (!decision.allowed) return std::make_pair(decision.code, prefix + decision.message);
  if (decision.cameos.empty()) return std::nullopt;
  std::vector<std::string> used;
  for (const auto& c : decision.cameos) used.push_back(c.id);
  try {
    auto connection = cameos_.lease();
    connection->registry.record_video_use(video_id, requester, used);  // checks may_use again, in its transaction
  } catch (const cameo::CameoForbidden& e) {
    return std::make_pair(e.code(), prefix + e.what());
  } catch (const cameo::CameoNotFound& e) {
    return std::make_pair(std::string("cameo_not_found"), prefix + e.what());
  }
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
    // Nothing recorded: the blob goes too, unless something else holds the same bytes.
    try {
      if (store_.blob_references(blob) == 0 && !cameos_.referenced_blobs().count(blob)) blobs_.remove(blob);
    } catch (const std::exception&) {
      // Left for the orphan collector.
    }
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

}  // namespace opsis::server
