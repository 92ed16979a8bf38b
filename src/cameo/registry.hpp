#pragma once
// The likeness registry: cameos (a person's or a character's likeness, with an owner, a
// unique @handle, reference media ids, who may use it, free-text restrictions and a state),
// follows (for "mutuals"), the may-use decision, and the consent ledger entry every change
// writes in the same transaction — a change without its ledger entry never commits.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cameo/ledger.hpp"
#include "cameo/sqlite_database.hpp"

namespace opsis::cameo {

// Where the registry and the ledger live in a server data directory (the metadata store's
// SQLite file: the cameo and ledger tables sit beside the videos).
std::filesystem::path database_path(const std::filesystem::path& data_dir);

enum class CameoKind { person, character };
enum class Permission { only_me, approved, mutuals, everyone };
enum class CameoState { pending, active, revoked };

const char* name(CameoKind kind);
const char* name(Permission permission);
const char* name(CameoState state);
// Throw opsis::InvalidArgument("kind" / "permission" / "state", ...) listing the valid names.
CameoKind cameo_kind_from_name(const std::string& text);
Permission permission_from_name(const std::string& text);
CameoState cameo_state_from_name(const std::string& text);

inline constexpr size_t kMaxCameosPerVideo = 2;

// No cameo with that id or handle (or not one the caller may see). HTTP 404.
class CameoNotFound : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The caller may not do this to this cameo (not its owner, or not allowed to use it). HTTP 403.
// code(): "cameo_not_owner", "cameo_permission_denied", "cameo_not_active", "cameo_revoked".
class CameoForbidden : public std::runtime_error {
 public:
  CameoForbidden(std::string code, const std::string& message) : std::runtime_error(message), code_(std::move(code)) {}
  const std::string& code() const noexcept { return code_; }

 private:
  std::string code_;
};

struct Cameo {
  std::string id;  // "cameo_" + 24 hex
  std::string owner;
  std::string handle;  // lowercase, without '@'
  std::string display_name;
  CameoKind kind = CameoKind::person;
  Permission permission = Permission::only_me;
  CameoState state = CameoState::pending;
  std::vector<std::string> reference_media;  // blob ids of the recording and what derives from it
  // The nearest studio identity read from a person's recording (cameo/likeness.hpp's JSON:
  // skin, hair_color, hair_style, shirt, accessory); null when none was read (characters,
  // cameos enrolled before likenesses were, recordings where no frontal face was found).
  nlohmann::json likeness;
  std::vector<std::string> approved;         // users the owner approved (for Permission::approved)
  std::vector<std::string> restrictions;     // the owner's own words, one rule each
  int64_t created_at = 0;
  int64_t updated_at = 0;
};

struct NewCameo {
  std::string owner;
  std::string handle;  // "@ada" or "ada"
  std::string display_name;
  CameoKind kind = CameoKind::person;
  Permission permission = Permission::only_me;
  std::vector<std::string> restrictions;
};

struct UseDecision {
  bool allowed = false;
  std::string code;    // empty when allowed; else as CameoForbidden::code()
  std::string reason;  // a sentence a person can act on
};

// The cameo as JSON (API and CLI): id, handle ("@..."), name, owner, kind, permission, state,
// created_at, updated_at; for its owner also approved, restrictions, reference_media and
// likeness (null when it has none).
nlohmann::json to_json(const Cameo& cameo, bool owner_view);

// Input checks shared with the server (each throws opsis::InvalidArgument(field, ...)).
std::string normalize_handle(const std::string& handle);  // "@Ada_1" -> "ada_1"
void check_user_id(const std::string& user, const std::string& field);
void check_display_name(const std::string& display_name);
void check_restrictions(const std::vector<std::string>& restrictions);
void check_media_ids(const std::vector<std::string>& media_ids);

// "@handle" mentions in a prompt, lowercase, in order of first appearance, without repeats.
// An e-mail address ("a@b.com") is not a mention.
std::vector<std::string> mentioned_handles(const std::string& prompt);

class CameoRegistry {
 public:
  using Clock = std::function<int64_t()>;  // unix seconds
  CameoRegistry(Database& db, ConsentLedger& ledger, Clock clock = {});

  // A cameo waiting for its enrollment to be verified (no ledger entry: nothing consented yet).
  Cameo create(const NewCameo& cameo);
  // Enrollment verified: active, with its reference media and (when one was read) its likeness
  // (a JSON object; null for none). Ledger: "enrolled" (with the likeness's attributes).
  Cameo activate(const std::string& cameo_id, const std::string& actor, const std::vector<std::string>& reference_media,
                 const nlohmann::json& likeness = nullptr);

  Cameo set_permission(const std::string& cameo_id, const std::string& actor, Permission permission);
  Cameo approve(const std::string& cameo_id, const std::string& actor, const std::string& user);
  Cameo unapprove(const std::string& cameo_id, const std::string& actor, const std::string& user);
  Cameo set_restrictions(const std::string& cameo_id, const std::string& actor, const std::vector<std::string>& restrictions);
  // Takes effect at once for every later may_use; the cameo stays listed for its owner.
  Cameo revoke(const std::string& cameo_id, const std::string& actor);
  // Removes the cameo and its approvals; the handle becomes free. The ledger keeps the history.
  void remove(const std::string& cameo_id, const std::string& actor);

  // Throws CameoNotFound.
  Cameo get(const std::string& cameo_id) const;
  Cameo get_by_handle(const std::string& handle) const;
  std::optional<Cameo> find_by_handle(const std::string& handle) const;
  std::vector<Cameo> owned_by(const std::string& owner) const;
  bool handle_available(const std::string& handle) const;
  // A free handle made from a display name ("Rex the Dog" -> "rex_the_dog", "rex_the_dog_2", ...).
  std::string suggest_handle(const std::string& display_name) const;

  void follow(const std::string& follower, const std::string& followee);
  void unfollow(const std::string& follower, const std::string& followee);
  bool follows(const std::string& follower, const std::string& followee) const;
  bool mutuals(const std::string& a, const std::string& b) const;
  // Whom `follower` follows / who follows `followee`, in user-id order.
  std::vector<std::string> following(const std::string& follower) const;
  std::vector<std::string> followers(const std::string& followee) const;

  // Whether `requester` may put `cameo` in a video at this moment.
  UseDecision may_use(const std::string& requester, const Cameo& cameo) const;

  // Checks the cameos a video would use (at most two, each allowed) and records each use in
  // the ledger ("used_in_video"), all or nothing. Throws CameoForbidden / CameoNotFound /
  // InvalidArgument("characters", ...) and then records nothing.
  std::vector<Cameo> record_video_use(const std::string& video_id, const std::string& requester,
                                      const std::vector<std::string>& cameo_ids);

  // Every video the cameo was used in (from the ledger's "used_in_video" events, oldest first,
  // each once): the owner's list of videos to see and delete, drafts of others included.
  // Throws CameoForbidden unless `actor` owns it.
  std::vector<std::string> videos_using(const std::string& cameo_id, const std::string& actor) const;

  ConsentLedger& ledger() { return ledger_; }

 private:
  Cameo owned_for_change(const std::string& cameo_id, const std::string& actor) const;
  void save(const Cameo& cameo);
  void log(const Cameo& cameo, const std::string& event, const std::string& actor, nlohmann::json details);
  int64_t now() const;

  Database& db_;
  ConsentLedger& ledger_;
  Clock clock_;
};

}  // namespace opsis::cameo
