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
#include "cameo/registry.hpp"
#include "policy/policy.hpp"
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

// Policy::decide with the registry at the moment of the call, logged.
class PolicyGate {
 public:
  PolicyGate(policy::Policy policy, CameoConnections& cameos, std::unique_ptr<policy::DecisionLog> log);

  policy::PolicyDecision decide(const std::string& requester, const std::string& prompt,
                                const std::vector<std::string>& cameo_ids, const std::string& stage);
  // At admission: throws ApiError (the decision's http_status, code, param, message) when refused.
  void admit(const Caller& caller, const std::string& prompt, const std::vector<std::string>& cameo_ids);
  // At the worker: the refusal's (code, message), or nothing when the job may run; when it
  // may, each cameo it uses is recorded in the consent ledger as used in `video_id`.
  std::optional<std::pair<std::string, std::string>> recheck(const std::string& video_id, const std::string& requester,
                                                             const std::string& prompt,
                                                             const std::vector<std::string>& cameo_ids);

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

}  // namespace opsis::server
