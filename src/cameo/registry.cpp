#include "cameo/registry.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.hpp"

namespace opsis::cameo {

using nlohmann::json;

namespace {

constexpr const char* kSchema = R"SQL(
CREATE TABLE IF NOT EXISTS cameos (
  id TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  handle TEXT NOT NULL UNIQUE,
  display_name TEXT NOT NULL,
  kind TEXT NOT NULL,
  permission TEXT NOT NULL,
  state TEXT NOT NULL,
  reference_media TEXT NOT NULL DEFAULT '[]',
  restrictions TEXT NOT NULL DEFAULT '[]',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  likeness TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS cameos_owner ON cameos(owner, created_at);
CREATE TABLE IF NOT EXISTS cameo_approvals (
  cameo_id TEXT NOT NULL REFERENCES cameos(id) ON DELETE CASCADE,
  user TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (cameo_id, user)
);
CREATE TABLE IF NOT EXISTS follows (
  follower TEXT NOT NULL,
  followee TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (follower, followee)
);
)SQL";

constexpr const char* kKindNames[] = {"person", "character"};
constexpr const char* kPermissionNames[] = {"only_me", "approved", "mutuals", "everyone"};
constexpr const char* kStateNames[] = {"pending", "active", "revoked"};
constexpr size_t kMaxRestrictions = 20;
constexpr size_t kMaxRestrictionLength = 500;
constexpr size_t kMaxApproved = 1000;
constexpr size_t kMaxMedia = 16;

template <size_t N>
int index_of(const char* const (&names)[N], const std::string& text, const std::string& field) {
  for (size_t i = 0; i < N; ++i)
    if (text == names[i]) return int(i);
  std::string valid;
  for (size_t i = 0; i < N; ++i) valid += std::string(i ? ", " : "") + names[i];
  throw InvalidArgument(field, "unknown " + field + " '" + text.substr(0, 40) + "'; use one of: " + valid);
}

// Valid UTF-8 without control characters.
bool is_clean_text(const std::string& text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7f) return false;
    size_t extra = 0;
    if (c < 0x80) extra = 0;
    else if ((c & 0xe0) == 0xc0 && c >= 0xc2) extra = 1;
    else if ((c & 0xf0) == 0xe0) extra = 2;
    else if ((c & 0xf8) == 0xf0 && c <= 0xf4) extra = 3;
    else return false;
    if (extra > text.size() - i - 1) return false;
    for (size_t k = 1; k <= extra; ++k)
      if ((static_cast<unsigned char>(text[i + k]) & 0xc0) != 0x80) return false;
    i += extra + 1;
  }
  return true;
}

size_t utf8_length(const std::string& text) {
  size_t n = 0;
  for (unsigned char c : text)
    if ((c & 0xc0) != 0x80) ++n;
  return n;
}

std::string random_id(const char* prefix) {
  uint8_t bytes[12];
  if (RAND_bytes(bytes, sizeof bytes) != 1) throw IoError("cannot draw random bytes for an id");
  return prefix + merkle::to_hex(bytes);
}

std::string sha256_hex(const std::string& text) {
  return merkle::to_hex(merkle::sha256(std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size())));
}

json string_list(const std::vector<std::string>& items) { return json(items); }

std::vector<std::string> parse_list(const std::string& text) {
  const json j = json::parse(text, nullptr, false);
  std::vector<std::string> out;
  if (j.is_array())
    for (const auto& item : j)
      if (item.is_string()) out.push_back(item.get<std::string>());
  return out;
}

const std::set<std::string>& reserved_handles() {
  static const std::set<std::string> reserved = {"admin", "opsis", "everyone", "here", "me", "root", "system",
                                                 "support", "moderator", "openai", "sora", "null", "undefined"};
  return reserved;
}

constexpr const char* kCameoColumns =
    "id, owner, handle, display_name, kind, permission, state, reference_media, restrictions, created_at, updated_at, likeness";

// Databases made before cameos had likenesses lack the column: added, empty (no likeness).
void add_likeness_column(Database& db) {
  auto has_column = [&] {
    Statement columns(db, "PRAGMA table_info(cameos)");
    while (columns.step())
      if (columns.text(1) == "likeness") return true;
    return false;
  };
  if (has_column()) return;
  try {
    db.exec("ALTER TABLE cameos ADD COLUMN likeness TEXT NOT NULL DEFAULT ''");
  } catch (const std::exception&) {
    if (!has_column()) throw;  // else another connection added it first
  }
}

std::string likeness_text(const json& likeness) { return likeness.is_null() ? std::string() : likeness.dump(); }

}  // namespace

json to_json(const Cameo& c, bool owner_view) {
  json out = {{"id", c.id},
              {"handle", "@" + c.handle},
              {"name", c.display_name},
              {"owner", c.owner},
              {"kind", name(c.kind)},
              {"permission", name(c.permission)},
              {"state", name(c.state)},
              {"created_at", c.created_at},
              {"updated_at", c.updated_at}};
  if (owner_view) {
    out["approved"] = c.approved;
    out["restrictions"] = c.restrictions;
    out["reference_media"] = c.reference_media;
    out["likeness"] = c.likeness;
  }
  return out;
}

std::filesystem::path database_path(const std::filesystem::path& data_dir) { return data_dir / "opsis.db"; }

const char* name(CameoKind kind) { return kKindNames[int(kind)]; }
const char* name(Permission permission) { return kPermissionNames[int(permission)]; }
const char* name(CameoState state) { return kStateNames[int(state)]; }
CameoKind cameo_kind_from_name(const std::string& text) { return CameoKind(index_of(kKindNames, text, "kind")); }
Permission permission_from_name(const std::string& text) {
  return Permission(index_of(kPermissionNames, text, "permission"));
}
CameoState cameo_state_from_name(const std::string& text) { return CameoState(index_of(kStateNames, text, "state")); }

std::string normalize_handle(const std::string& handle) {
  std::string text = handle;
  if (!text.empty() && text[0] == '@') text.erase(0, 1);
  if (text.size() < 3 || text.size() > 30)
    throw InvalidArgument("handle", "a handle has 3 to 30 characters (letters, digits, '_' and '.')");
  std::string out;
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '_' || c == '.') out += char(std::tolower(u));
    else
      throw InvalidArgument("handle", "a handle may hold only letters a-z, digits, '_' and '.'; '" + handle.substr(0, 40) +
                                          "' does not");
  }
  if (!std::isalpha(static_cast<unsigned char>(out[0]))) throw InvalidArgument("handle", "a handle starts with a letter");
  if (out.back() == '.' || out.find("..") != std::string::npos)
    throw InvalidArgument("handle", "a handle cannot end with '.' or hold '..'");
  if (reserved_handles().count(out)) throw InvalidArgument("handle", "@" + out + " is reserved; choose another handle");
  return out;
}

void check_user_id(const std::string& user, const std::string& field) {
  if (user.empty() || user.size() > 128 || !is_clean_text(user))
    throw InvalidArgument(field, field + " must be a user id of 1 to 128 printable characters");
}

void check_display_name(const std::string& display_name) {
  if (!is_clean_text(display_name))
    throw InvalidArgument("name", "the name must be text without control characters (valid UTF-8)");
  const size_t length = utf8_length(display_name);
  if (length < 1 || length > 80 || display_name.find_first_not_of(' ') == std::string::npos)
    throw InvalidArgument("name", "the name has 1 to 80 characters");
}

void check_restrictions(const std::vector<std::string>& restrictions) {
  if (restrictions.size() > kMaxRestrictions)
    throw InvalidArgument("restrictions", "at most " + std::to_string(kMaxRestrictions) + " restrictions");
  for (const auto& r : restrictions) {
    if (!is_clean_text(r) || r.find_first_not_of(' ') == std::string::npos || utf8_length(r) > kMaxRestrictionLength)
      throw InvalidArgument("restrictions", "each restriction is one line of 1 to " +
                                                std::to_string(kMaxRestrictionLength) + " characters");
  }
}

void check_media_ids(const std::vector<std::string>& media_ids) {
  if (media_ids.size() > kMaxMedia)
    throw InvalidArgument("reference_media", "at most " + std::to_string(kMaxMedia) + " reference media ids");
  for (const auto& id : media_ids) {
    const bool ok = !id.empty() && id.size() <= 128 && std::all_of(id.begin(), id.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == ':' || c == '.';
    });
    if (!ok) throw InvalidArgument("reference_media", "a reference media id is a blob id (letters, digits, _-:.)");
  }
}

std::vector<std::string> mentioned_handles(const std::string& prompt) {
  std::vector<std::string> out;
  for (size_t i = 0; i < prompt.size(); ++i) {
    if (prompt[i] != '@') continue;
    if (i > 0) {
      const auto before = static_cast<unsigned char>(prompt[i - 1]);
      if (std::isalnum(before) || before == '_' || before == '.' || before >= 0x80) continue;  // e-mail address
    }
    size_t end = i + 1;
    while (end < prompt.size() && (std::isalnum(static_cast<unsigned char>(prompt[end])) || prompt[end] == '_' ||
                                   prompt[end] == '.'))
      ++end;
    while (end > i + 1 && prompt[end - 1] == '.') --end;  // "@ada." ends a sentence
    std::string handle = prompt.substr(i + 1, end - i - 1);
    if (handle.empty()) continue;
    std::transform(handle.begin(), handle.end(), handle.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    if (std::find(out.begin(), out.end(), handle) == out.end()) out.push_back(handle);
    i = end - 1;
  }
  return out;
}

CameoRegistry::CameoRegistry(Database& db, ConsentLedger& ledger, Clock clock)
    : db_(db), ledger_(ledger), clock_(std::move(clock)) {
  db_.exec(kSchema);
  add_likeness_column(db_);
}

int64_t CameoRegistry::now() const { return clock_ ? clock_() : int64_t(std::time(nullptr)); }

namespace {

Cameo read_cameo(const Statement& s) {
  Cameo c;
  c.id = s.text(0);
  c.owner = s.text(1);
  c.handle = s.text(2);
  c.display_name = s.text(3);
  c.kind = cameo_kind_from_name(s.text(4));
  c.permission = permission_from_name(s.text(5));
  c.state = cameo_state_from_name(s.text(6));
  c.reference_media = parse_list(s.text(7));
  c.restrictions = parse_list(s.text(8));
  c.created_at = s.integer(9);
  c.updated_at = s.integer(10);
  const std::string likeness = s.text(11);
  if (!likeness.empty()) c.likeness = json::parse(likeness, nullptr, false);
  if (c.likeness.is_discarded()) c.likeness = nullptr;  // unreadable: none
  return c;
}

}  // namespace

Cameo CameoRegistry::get(const std::string& cameo_id) const {
  Statement select(db_, std::string("SELECT ") + kCameoColumns + " FROM cameos WHERE id = ?1");
  select.bind(1, cameo_id);
  if (!select.step()) throw CameoNotFound("no cameo with id '" + cameo_id.substr(0, 64) + "'");
  Cameo cameo = read_cameo(select);
  Statement approvals(db_, "SELECT user FROM cameo_approvals WHERE cameo_id = ?1 ORDER BY created_at, user");
  approvals.bind(1, cameo.id);
  while (approvals.step()) cameo.approved.push_back(approvals.text(0));
  return cameo;
}

std::optional<Cameo> CameoRegistry::find_by_handle(const std::string& handle) const {
  std::string key = handle;
  if (!key.empty() && key[0] == '@') key.erase(0, 1);
  std::transform(key.begin(), key.end(), key.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  Statement select(db_, "SELECT id FROM cameos WHERE handle = ?1");
  select.bind(1, key);
  if (!select.step()) return std::nullopt;
  return get(select.text(0));
}

Cameo CameoRegistry::get_by_handle(const std::string& handle) const {
  auto cameo = find_by_handle(handle);
  if (!cameo) throw CameoNotFound("no cameo @" + handle.substr(0, 64) + "; check the handle");
  return *cameo;
}

std::vector<Cameo> CameoRegistry::owned_by(const std::string& owner) const {
  Statement select(db_, "SELECT id FROM cameos WHERE owner = ?1 ORDER BY created_at, id");
  select.bind(1, owner);
  std::vector<std::string> ids;
  while (select.step()) ids.push_back(select.text(0));
  std::vector<Cameo> out;
  for (const auto& id : ids) out.push_back(get(id));
  return out;
}

bool CameoRegistry::handle_available(const std::string& handle) const {
  const std::string key = normalize_handle(handle);
  Statement select(db_, "SELECT 1 FROM cameos WHERE handle = ?1");
  select.bind(1, key);
  return !select.step();
}

std::string CameoRegistry::suggest_handle(const std::string& display_name) const {
  std::string base;
  for (unsigned char c : display_name) {
    if (std::isalnum(c)) base += char(std::tolower(c));
    else if (!base.empty() && base.back() != '_')
      base += '_';
  }
  while (!base.empty() && base.back() == '_') base.pop_back();
  if (base.empty() || !std::isalpha(static_cast<unsigned char>(base[0]))) base = "cameo_" + base;
  base = base.substr(0, 24);
  while (base.size() < 3) base += '_';
  for (int n = 1; n < 10000; ++n) {
    const std::string candidate = n == 1 ? base : base + "_" + std::to_string(n);
    try {
      if (handle_available(candidate)) return candidate;
    } catch (const InvalidArgument&) {  // reserved
    }
  }
  return random_id("cameo_").substr(0, 30);
}

void CameoRegistry::save(const Cameo& c) {
  Statement(db_,
            "UPDATE cameos SET permission = ?2, state = ?3, reference_media = ?4, restrictions = ?5, updated_at = ?6, "
            "likeness = ?7 WHERE id = ?1")
      .bind(1, c.id)
      .bind(2, std::string(name(c.permission)))
      .bind(3, std::string(name(c.state)))
      .bind(4, string_list(c.reference_media).dump())
      .bind(5, string_list(c.restrictions).dump())
      .bind(6, c.updated_at)
      .bind(7, likeness_text(c.likeness))
      .run();
}

void CameoRegistry::log(const Cameo& cameo, const std::string& event, const std::string& actor, json details) {
  json record = {{"event", event},
                 {"cameo_id", cameo.id},
                 {"handle", cameo.handle},
                 {"owner", cameo.owner},
                 {"actor", actor},
                 {"time", now()}};
  for (auto& [key, value] : details.items()) record[key] = value;
  ledger_.append(record.dump(), cameo.id, now());
}

Cameo CameoRegistry::create(const NewCameo& request) {
  check_user_id(request.owner, "owner");
  const std::string handle = normalize_handle(request.handle);
  check_display_name(request.display_name);
  check_restrictions(request.restrictions);
  Transaction transaction(db_);
  if (!handle_available(handle)) throw InvalidArgument("handle", "@" + handle + " is taken; choose another handle");
  Cameo cameo;
  cameo.id = random_id("cameo_");
  cameo.owner = request.owner;
  cameo.handle = handle;
  cameo.display_name = request.display_name;
  cameo.kind = request.kind;
  cameo.permission = request.permission;
  cameo.state = CameoState::pending;
  cameo.restrictions = request.restrictions;
  cameo.created_at = cameo.updated_at = now();
  Statement(db_, std::string("INSERT INTO cameos (") + kCameoColumns + ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)")
      .bind(1, cameo.id)
      .bind(2, cameo.owner)
      .bind(3, cameo.handle)
      .bind(4, cameo.display_name)
      .bind(5, std::string(name(cameo.kind)))
      .bind(6, std::string(name(cameo.permission)))
      .bind(7, std::string(name(cameo.state)))
      .bind(8, std::string("[]"))
      .bind(9, string_list(cameo.restrictions).dump())
      .bind(10, cameo.created_at)
      .bind(11, cameo.updated_at)
      .bind(12, std::string())
      .run();
  transaction.commit();
  return cameo;
}

Cameo CameoRegistry::owned_for_change(const std::string& cameo_id, const std::string& actor) const {
  Cameo cameo = get(cameo_id);
  if (cameo.owner != actor)
    throw CameoForbidden("cameo_not_owner", "only the owner of @" + cameo.handle + " may change it");
  return cameo;
}

Cameo CameoRegistry::activate(const std::string& cameo_id, const std::string& actor,
                              const std::vector<std::string>& reference_media, const json& likeness) {
  check_media_ids(reference_media);
  if (!likeness.is_null() && !likeness.is_object())
    throw InvalidArgument("likeness", "a likeness is a JSON object of studio attributes");
  if (reference_media.empty())
    throw InvalidArgument("reference_media", "an enrolled cameo needs its recording (a reference media id)");
  Transaction transaction(db_);
  Cameo cameo = owned_for_change(cameo_id, actor);
  if (cameo.state != CameoState::pending)
    throw InvalidArgument("state", "@" + cameo.handle + " is " + name(cameo.state) + "; only a pending cameo can be enrolled");
  cameo.state = CameoState::active;
  cameo.reference_media = reference_media;
  cameo.likeness = likeness;
  cameo.updated_at = now();
  save(cameo);
  json details = {{"kind", name(cameo.kind)},
                  {"permission", name(cameo.permission)},
                  {"reference_media", reference_media},
                  {"restrictions_sha256", sha256_hex(string_list(cameo.restrictions).dump())}};
  if (!likeness.is_null()) details["likeness"] = likeness;  // attribute words, never an image
  log(cameo, "enrolled", actor, details);
  transaction.commit();
  return cameo;
}

Cameo CameoRegistry::set_permission(const std::string& cameo_id, const std::string& actor, Permission permission) {
  Transaction transaction(db_);
  Cameo cameo = owned_for_change(cameo_id, actor);
  if (cameo.state == CameoState::revoked)
    throw InvalidArgument("state", "@" + cameo.handle + " is revoked; it cannot be shared again (enroll anew)");
  if (cameo.permission == permission) return cameo;
  const Permission before = cameo.permission;
  cameo.permission = permission;
  cameo.updated_at = now();
  save(cameo);
  log(cameo, "permission_changed", actor, {{"from", name(before)}, {"to", name(permission)}});
  transaction.commit();
  return cameo;
}

Cameo CameoRegistry::approve(const std::string& cameo_id, const std::string& actor, const std::string& user) {
  check_user_id(user, "user");
  Transaction transaction(db_);
  Cameo cameo = owned_for_change(cameo_id, actor);
  if (cameo.state == CameoState::revoked) throw InvalidArgument("state", "@" + cameo.handle + " is revoked");
  if (user == cameo.owner) throw InvalidArgument("user", "the owner may always use their own cameo");
  if (std::find(cameo.approved.begin(), cameo.approved.end(), user) != cameo.approved.end()) return cameo;
  if (cameo.approved.size() >= kMaxApproved)
    throw InvalidArgument("user", "at most " + std::to_string(kMaxApproved) + " approved users");
  Statement(db_, "INSERT INTO cameo_approvals (cameo_id, user, created_at) VALUES (?1, ?2, ?3)")
      .bind(1, cameo.id)
      .bind(2, user)
      .bind(3, now())
      .run();
  cameo.approved.push_back(user);
  cameo.updated_at = now();
  save(cameo);
  log(cameo, "approval_granted", actor, {{"user", user}});
  transaction.commit();
  return cameo;
}

Cameo CameoRegistry::unapprove(const std::string& cameo_id, const std::string& actor, const std::string& user) {
  check_user_id(user, "user");
  Transaction transaction(db_);
  Cameo cameo = owned_for_change(cameo_id, actor);
  auto it = std::find(cameo.approved.begin(), cameo.approved.end(), user);
  if (it == cameo.approved.end())
    throw InvalidArgument("user", user.substr(0, 64) + " is not approved for @" + cameo.handle);
  Statement(db_, "DELETE FROM cameo_approvals WHERE cameo_id = ?1 AND user = ?2").bind(1, cameo.id).bind(2, user).run();
  cameo.approved.erase(it);
  cameo.updated_at = now();
  save(cameo);
  log(cameo, "approval_removed", actor, {{"user", user}});
  transaction.commit();
  return cameo;
}

Cameo CameoRegistry::set_restrictions(const std::string& cameo_id, const std::string& actor,
                                      const std::vector<std::string>& restrictions) {
  check_restrictions(restrictions);
  Transaction transaction(db_);
  Cameo cameo = owned_for_change(cameo_id, actor);
  if (cameo.state == CameoState::revoked) throw InvalidArgument("state", "@" + cameo.handle + " is revoked");
  if (cameo.restrictions == restrictions) return cameo;
  cameo.restrictions = restrictions;
  cameo.updated_at = now();
  save(cameo);
  // The words stay in the registry; the ledger commits to them without publishing them.
  log(cameo, "restrictions_edited", actor,
      {{"count", restrictions.size()}, {"restrictions_sha256", sha256_hex(string_list(restrictions).dump())}});
  transaction.commit();
  return cameo;
}

Cameo CameoRegistry::revoke(const std::string& cameo_id, const std::string& actor) {
  Transaction transaction(db_);
  Cameo cameo = owned_for_change(cameo_id, actor);
  if (cameo.state == CameoState::revoked) throw InvalidArgument("state", "@" + cameo.handle + " is already revoked");
  cameo.state = CameoState::revoked;
  cameo.updated_at = now();
  save(cameo);
  log(cameo, "revoked", actor, json::object());
  transaction.commit();
  return cameo;
}

void CameoRegistry::remove(const std::string& cameo_id, const std::string& actor) {
  Transaction transaction(db_);
  const Cameo cameo = owned_for_change(cameo_id, actor);
  Statement(db_, "DELETE FROM cameo_approvals WHERE cameo_id = ?1").bind(1, cameo.id).run();
  Statement(db_, "DELETE FROM cameos WHERE id = ?1").bind(1, cameo.id).run();
  log(cameo, "deleted", actor, {{"reference_media", cameo.reference_media}});
  transaction.commit();
}

void CameoRegistry::follow(const std::string& follower, const std::string& followee) {
  check_user_id(follower, "follower");
  check_user_id(followee, "followee");
  if (follower == followee) throw InvalidArgument("followee", "a user cannot follow themselves");
  Transaction transaction(db_);
  Statement(db_, "INSERT OR IGNORE INTO follows (follower, followee, created_at) VALUES (?1, ?2, ?3)")
      .bind(1, follower)
      .bind(2, followee)
      .bind(3, now())
      .run();
  transaction.commit();
}

void CameoRegistry::unfollow(const std::string& follower, const std::string& followee) {
  Transaction transaction(db_);
  Statement(db_, "DELETE FROM follows WHERE follower = ?1 AND followee = ?2").bind(1, follower).bind(2, followee).run();
  transaction.commit();
}

bool CameoRegistry::follows(const std::string& follower, const std::string& followee) const {
  Statement select(db_, "SELECT 1 FROM follows WHERE follower = ?1 AND followee = ?2");
  select.bind(1, follower).bind(2, followee);
  return select.step();
}

bool CameoRegistry::mutuals(const std::string& a, const std::string& b) const { return follows(a, b) && follows(b, a); }

std::vector<std::string> CameoRegistry::following(const std::string& follower) const {
  Statement select(db_, "SELECT followee FROM follows WHERE follower = ?1 ORDER BY followee");
  select.bind(1, follower);
  std::vector<std::string> out;
  while (select.step()) out.push_back(select.text(0));
  return out;
}

std::vector<std::string> CameoRegistry::followers(const std::string& followee) const {
  Statement select(db_, "SELECT follower FROM follows WHERE followee = ?1 ORDER BY follower");
  select.bind(1, followee);
  std::vector<std::string> out;
  while (select.step()) out.push_back(select.text(0));
  return out;
}

UseDecision CameoRegistry::may_use(const std::string& requester, const Cameo& cameo) const {
  const std::string at = "@" + cameo.handle;
  if (cameo.state == CameoState::revoked)
    return {false, "cameo_revoked", at + " was revoked by its owner and can no longer be used"};
  if (cameo.state == CameoState::pending)
    return {false, "cameo_not_active", at + " has not finished enrollment; it can be used once its owner is verified"};
  if (requester == cameo.owner) return {true, "", ""};
  switch (cameo.permission) {
    case Permission::everyone:
      return {true, "", ""};
    case Permission::only_me:
      return {false, "cameo_permission_denied", "only the owner of " + at + " may use it; ask them to share it with you"};
    case Permission::approved:
      if (std::find(cameo.approved.begin(), cameo.approved.end(), requester) != cameo.approved.end()) return {true, "", ""};
      return {false, "cameo_permission_denied",
              at + " may be used only by people its owner approved; ask its owner to approve you"};
    case Permission::mutuals:
      if (mutuals(requester, cameo.owner)) return {true, "", ""};
      return {false, "cameo_permission_denied",
              at + " may be used only by people who follow its owner and whom its owner follows back"};
  }
  return {false, "cameo_permission_denied", at + " may not be used"};
}

std::vector<std::string> CameoRegistry::videos_using(const std::string& cameo_id, const std::string& actor) const {
  const Cameo cameo = owned_for_change(cameo_id, actor);
  std::vector<std::string> videos;
  for (const auto& entry : ledger_.entries(cameo.id)) {
    const json record = json::parse(entry.record, nullptr, false);
    if (!record.is_object() || record.value("event", "") != "used_in_video" || !record.contains("video_id") ||
        !record["video_id"].is_string())
      continue;
    const std::string video = record["video_id"].get<std::string>();
    if (std::find(videos.begin(), videos.end(), video) == videos.end()) videos.push_back(video);
  }
  return videos;
}

std::vector<Cameo> CameoRegistry::record_video_use(const std::string& video_id, const std::string& requester,
                                                   const std::vector<std::string>& cameo_ids) {
  if (video_id.empty() || video_id.size() > 128) throw InvalidArgument("video_id", "a video id is 1 to 128 characters");
  check_user_id(requester, "requester");
  std::set<std::string> distinct(cameo_ids.begin(), cameo_ids.end());
  if (distinct.size() != cameo_ids.size()) throw InvalidArgument("characters", "a cameo is listed twice");
  if (cameo_ids.size() > kMaxCameosPerVideo)
    throw InvalidArgument("characters", "a video may use at most " + std::to_string(kMaxCameosPerVideo) + " cameos; it names " +
                                            std::to_string(cameo_ids.size()));
  Transaction transaction(db_);
  std::vector<Cameo> cameos;
  for (const auto& id : cameo_ids) {
    Cameo cameo = get(id);
    const UseDecision decision = may_use(requester, cameo);
    if (!decision.allowed) throw CameoForbidden(decision.code, decision.reason);
    cameos.push_back(std::move(cameo));
  }
  for (const auto& cameo : cameos) log(cameo, "used_in_video", requester, {{"video_id", video_id}});
  transaction.commit();
  return cameos;
}

}  // namespace opsis::cameo
