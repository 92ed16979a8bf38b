#pragma once
// The server's side of cameos and policy (issue #12): connections to the cameo registry and
// consent ledger (in the data directory's opsis.db, beside the metadata store), the policy
// gate every video request passes before anything is stored or queued (and again at the
// worker), and the OpenAI characters resource (/v1/videos/characters).
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "cameo/ledger.hpp"
#include "cameo/liveness.hpp"
#include "cameo/recording_check.hpp"
#include "cameo/registry.hpp"
#include "policy/policy.hpp"
#include "server/api_error.hpp"
#include "server/videos.hpp"
#include "store/blob_store.hpp"
#include "store/metadata_store.hpp"

namespace opsis::server {

// One cameo::Database (with its ledger and registry) per concurrent user: a connection read
// by one thread while another writes through it can see uncommitted changes, so each caller
// leases its own for the duration of one operation; idle ones are kept for reuse.
class CameoConnections {
 public:
  struct Connection {
    explicit Connection(const std::filesystem::path& path) : db(path), ledger(db), registry(db, ledger) {}
    cameo::Database db;
    cameo::ConsentLedger ledger;
    cameo::CameoRegistry registry;
  };

  class Lease {
   public:
    Lease(CameoConnections& owner, std::unique_ptr<Connection> connection)
        : owner_(&owner), connection_(std::move(connection)) {}
    Lease(Lease&&) = default;
    ~Lease();
    Connection* operator->() const { return connection_.get(); }
    Connection& operator*() const { return *connection_; }

   private:
    CameoConnections* owner_;
    std::unique_ptr<Connection> connection_;
  };

  // Opens one connection at once, so a bad path fails at start-up (opsis::IoError).
  explicit CameoConnections(std::filesystem::path db_path);
  Lease lease();

  // Every blob a cameo keeps as reference media: what the orphan collector must keep too.
  std::set<std::string> referenced_blobs();

 private:
  std::filesystem::path path_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<Connection>> idle_;
};

// The words the studio prompt parser reads as the cameo's likeness ("dark skin, long red hair,
// a green shirt"): what the worker adds after the cameo's @handle in the text the generator
// reads. Empty when it has none (enrolled before likenesses were, a character, no face read)
// or no longer exists.
std::string likeness_words(CameoConnections& cameos, const std::string& cameo_id);

// Policy::decide with the registry at the moment of the call, logged.
class PolicyGate {
 public:
  PolicyGate(policy::Policy policy, CameoConnections& cameos, std::unique_ptr<policy::DecisionLog> log);

  policy::PolicyDecision decide(const std::string& requester, const std::string& prompt,
                                const std::vector<std::string>& cameo_ids, const std::string& stage);
  // At admission: throws ApiError (the decision's http_status, code, param, message) when refused.
  void admit(const Caller& caller, const std::string& prompt, const std::vector<std::string>& cameo_ids);
  // At the worker: the refusal's (code, message), or nothing when the job may run; when it
  // may, each cameo it uses is recorded in the consent ledger as used in `video_id`, and
  // (when `used` is given) listed there as (@handle, cameo id) for the video's C2PA manifest.
  std::optional<std::pair<std::string, std::string>> recheck(const std::string& video_id, const std::string& requester,
                                                             const std::string& prompt,
                                                             const std::vector<std::string>& cameo_ids,
                                                             std::vector<std::pair<std::string, std::string>>* used = nullptr);

  const policy::Policy& policy() const { return policy_; }

 private:
  policy::Policy policy_;
  CameoConnections& cameos_;
  std::unique_ptr<policy::DecisionLog> log_;
};

// /v1/videos/characters: a character is a registry cameo of kind `character`, owned by the
// caller, only_me, active at once (no liveness for characters), its uploaded MP4 kept as the
// reference media blob. Another user's character is "not found".
class CharacterService {
 public:
  CharacterService(CameoConnections& cameos, store::MetadataStore& store, store::BlobStore& blobs, const policy::Policy& policy);

  // Throws InvalidArgument("name" / "video") with nothing stored.
  cameo::Cameo create(const Caller& caller, const std::string& name, const std::string& mp4);
  cameo::Cameo retrieve(const Caller& caller, const std::string& id);

 private:
  CameoConnections& cameos_;
  store::MetadataStore& store_;
  store::BlobStore& blobs_;
  const policy::Policy& policy_;
};

class JobRunner;

// A cameo enrollment: the answer to a liveness challenge (issue #12).
struct Enrollment {
  std::string owner;
  std::string handle;        // "@ada" or "ada"
  std::string display_name;  // empty: the handle
  cameo::CameoKind kind = cameo::CameoKind::person;
  std::string challenge_id;
  std::string recording;     // the recording's bytes (MP4 or WebM), already checked for size
};

// The cameo operations both the Videos API (/v1/cameos, cameo_routes.cpp) and the app's cameo
// page (app_cameo_routes.cpp) offer, over one registry. Every operation but issue/enroll/mine
// takes the cameo's owner: another user's cameo is cameo::CameoNotFound, as none would be.
// Whatever is refused leaves no row and no blob behind.
class CameoService {
 public:
  CameoService(CameoConnections& cameos, store::MetadataStore& store, store::BlobStore& blobs, VideoService& videos,
               JobRunner& runner, std::string data_dir, cameo::RecordingChecker& recordings);

  cameo::LivenessChallenge issue_challenge(const std::string& owner);
  // Checks the handle (free, valid) and the challenge (answerable) before anything is spent;
  // then the recording against the challenge (cameo::RecordingChecker: the phrase heard, one
  // face turning as asked, for a person). A recording refused for what it shows or says spends
  // the challenge (so one challenge cannot be retried until something passes; the person asks
  // for a new one) and throws cameo::RecordingRefused; one that cannot be read leaves it open.
  // Then redeems the challenge, keeps the recording and creates the active cameo (only_me) in
  // one transaction, with (a person's) likeness and portrait PNG when one was read (the PNG is
  // the second reference media blob). Throws InvalidArgument / cameo::ChallengeError /
  // cameo::RecordingRefused, with no cameo and no blob stored.
  cameo::Cameo enroll(const Enrollment& enrollment);

  std::vector<cameo::Cameo> mine(const std::string& owner);
  cameo::Cameo get(const std::string& owner, const std::string& id);
  // The level, and when given the whole approved list (users added and removed to match).
  cameo::Cameo set_permission(const std::string& owner, const std::string& id, cameo::Permission permission,
                              const std::optional<std::vector<std::string>>& approved = std::nullopt);
  cameo::Cameo approve(const std::string& owner, const std::string& id, const std::string& user);
  cameo::Cameo unapprove(const std::string& owner, const std::string& id, const std::string& user);
  cameo::Cameo set_restrictions(const std::string& owner, const std::string& id, const std::vector<std::string>& rules);
  cameo::Cameo revoke(const std::string& owner, const std::string& id);
  void remove(const std::string& owner, const std::string& id);

  // Every video the cameo was used in that still exists (others' drafts included).
  std::vector<store::VideoRecord> videos(const std::string& owner, const std::string& id);
  // Deletes one of those videos as the cameo's owner; cameo::CameoNotFound if it is not one.
  void delete_video(const std::string& owner, const std::string& id, const std::string& video_id);

  // The cameo's consent events with inclusion proofs against a signed tree head (the server's
  // C2PA key): a bundle `opsis ledger verify` checks offline.
  nlohmann::json ledger(const std::string& owner, const std::string& id);

  // Revocation and lowered permissions take effect at once: every queued or running job using
  // the cameo (by id or @handle) whose requester may no longer use it is failed, a running one
  // through the runner's cancellation. Returns how many.
  int stop_jobs_no_longer_allowed(const std::string& cameo_id);

 private:
  CameoConnections& cameos_;
  store::MetadataStore& store_;
  store::BlobStore& blobs_;
  VideoService& videos_;
  JobRunner& runner_;
  std::string data_dir_;
  cameo::RecordingChecker& recordings_;
};

// Runs `f`, turning the registry's and the challenges' exceptions into the API's errors.
// Another user's cameo is "not found", as the characters API answers. The /v1 API answers an
// unknown or foreign challenge with 404 (`missing_challenge_is_404`), the app with 400.
template <typename F>
auto cameo_api_call(F&& f, bool missing_challenge_is_404) -> decltype(f()) {
  try {
    return f();
  } catch (const cameo::CameoNotFound& e) {
    throw not_found(e.what());
  } catch (const cameo::CameoForbidden& e) {
    if (e.code() == "cameo_not_owner") throw not_found("no such cameo");
    throw ApiError(403, "invalid_request_error", e.code(), e.what());
  } catch (const cameo::TooManyChallenges& e) {
    // A rate limit, answered as the Videos API answers its own (videos.cpp): 429, Retry-After.
    ApiError error(429, "rate_limit_error", "rate_limit_exceeded", e.what());
    error.retry_after_seconds = int(e.retry_after_seconds());
    throw error;
  } catch (const cameo::ChallengeError& e) {
    const bool missing = e.code() == "challenge_not_found" || e.code() == "challenge_not_owner";
    throw ApiError(missing && missing_challenge_is_404 ? 404 : 400, "invalid_request_error", e.code(), e.what(),
                   "challenge_id");
  } catch (const cameo::RecordingRefused& e) {
    throw ApiError(400, "invalid_request_error", e.code(), e.what(), "video");
  }
}

}  // namespace opsis::server
