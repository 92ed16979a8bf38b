#include "social/social.hpp"

#include <argon2.h>
#include <sqlite3.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/error.hpp"

namespace opsis::social {

using cameo::Statement;
using cameo::Transaction;

namespace {

// OWASP's argon2id minimum: 19 MiB, 2 passes, 1 lane.
constexpr uint32_t kArgonTime = 2;
constexpr uint32_t kArgonMemoryKiB = 19 * 1024;
constexpr uint32_t kArgonLanes = 1;
constexpr size_t kSaltBytes = 16;
constexpr size_t kHashBytes = 32;

const char* kSchema = R"SQL(
CREATE TABLE IF NOT EXISTS app_users (
  handle TEXT PRIMARY KEY,
  display_name TEXT NOT NULL,
  bio TEXT NOT NULL DEFAULT '',
  password_hash TEXT NOT NULL,
  role TEXT NOT NULL DEFAULT 'user',
  banned INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS app_sessions (
  token_hash TEXT PRIMARY KEY,
  user TEXT NOT NULL,
  csrf TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS app_sessions_user ON app_sessions (user);
CREATE TABLE IF NOT EXISTS app_posts (
  video_id TEXT PRIMARY KEY,
  user TEXT NOT NULL,
  caption TEXT NOT NULL,
  parent_id TEXT NOT NULL DEFAULT '',
  cameo_owners TEXT NOT NULL DEFAULT '',
  published_at INTEGER NOT NULL,
  hidden INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS app_posts_parent ON app_posts (parent_id);
CREATE INDEX IF NOT EXISTS app_posts_user ON app_posts (user, published_at);
CREATE TABLE IF NOT EXISTS app_likes (
  video_id TEXT NOT NULL,
  user TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (video_id, user)
);
CREATE TABLE IF NOT EXISTS app_comments (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  video_id TEXT NOT NULL,
  user TEXT NOT NULL,
  text TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  hidden INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS app_comments_video ON app_comments (video_id, id);
CREATE TABLE IF NOT EXISTS app_blocks (
  blocker TEXT NOT NULL,
  blocked TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (blocker, blocked)
);
CREATE INDEX IF NOT EXISTS app_blocks_blocked ON app_blocks (blocked);
CREATE TABLE IF NOT EXISTS app_reports (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  reporter TEXT NOT NULL,
  kind TEXT NOT NULL,
  target TEXT NOT NULL,
  reason TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  resolved INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS app_mod_actions (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  moderator TEXT NOT NULL,
  action TEXT NOT NULL,
  kind TEXT NOT NULL,
  target TEXT NOT NULL,
  note TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
)SQL";

bool valid_utf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = 0;
    uint32_t cp = 0;
    if (c < 0x80) { ++i; continue; }
    if ((c & 0xE0) == 0xC0) { n = 1; cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { n = 2; cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { n = 3; cp = c & 0x07; }
    else return false;
    for (size_t k = 1; k <= n; ++k) {
      if (i + k >= s.size()) return false;
      const unsigned char d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += n + 1;
  }
  return true;
}

// Text a person typed: valid UTF-8, no control characters but newline and tab, within limits.
std::string checked_text(const std::string& text, const char* field, size_t min_bytes, size_t max_bytes) {
  if (text.size() < min_bytes || text.size() > max_bytes)
    throw InvalidArgument(field, std::string(field) + " must be " + std::to_string(min_bytes) + " to " +
                                     std::to_string(max_bytes) + " bytes");
  if (!valid_utf8(text)) throw InvalidArgument(field, std::string(field) + " must be valid UTF-8");
  for (unsigned char c : text)
    if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7F)
      throw InvalidArgument(field, std::string(field) + " must not contain control characters");
  return text;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ",") + s;
  return out;
}

std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

User read_user(Statement& s) {
  User u;
  u.handle = s.text(0);
  u.display_name = s.text(1);
  u.bio = s.text(2);
  u.role = s.text(3) == "moderator" ? Role::moderator : Role::user;
  u.banned = s.integer(4) != 0;
  u.created_at = s.integer(5);
  return u;
}

constexpr const char* kUserColumns = "handle, display_name, bio, role, banned, created_at";

// Post columns with counts; "p" is app_posts.
constexpr const char* kPostSelect =
    "SELECT p.video_id, p.user, p.caption, p.parent_id, p.cameo_owners, p.published_at, p.hidden, "
    "(SELECT COUNT(*) FROM app_likes l WHERE l.video_id = p.video_id), "
    "(SELECT COUNT(*) FROM app_comments c WHERE c.video_id = p.video_id AND c.hidden = 0), "
    "(SELECT COUNT(*) FROM app_posts r WHERE r.parent_id = p.video_id AND r.hidden = 0) "
    "FROM app_posts p ";
constexpr const char* kVisible =
    " p.hidden = 0 AND NOT EXISTS (SELECT 1 FROM app_users b WHERE b.handle = p.user AND b.banned = 1) ";

}  // namespace

std::string hash_password(const std::string& password) {
  check_password(password);
  unsigned char salt[kSaltBytes];
  if (RAND_bytes(salt, sizeof salt) != 1) throw IoError("no randomness for a password salt");
  const size_t length = argon2_encodedlen(kArgonTime, kArgonMemoryKiB, kArgonLanes, kSaltBytes, kHashBytes, Argon2_id);
  std::string encoded(length, '\0');
  const int rc = argon2id_hash_encoded(kArgonTime, kArgonMemoryKiB, kArgonLanes, password.data(), password.size(), salt,
                                       sizeof salt, kHashBytes, encoded.data(), encoded.size());
  if (rc != ARGON2_OK) throw IoError(std::string("argon2id failed: ") + argon2_error_message(rc));
  encoded.resize(std::char_traits<char>::length(encoded.c_str()));
  return encoded;
}

bool verify_password(const std::string& encoded, const std::string& password) {
  if (encoded.rfind("$argon2id$", 0) != 0) return false;
  return argon2id_verify(encoded.c_str(), password.data(), password.size()) == ARGON2_OK;
}

std::string normalize_account_handle(const std::string& handle) {
  std::string h = handle.rfind('@', 0) == 0 ? handle.substr(1) : handle;
  std::transform(h.begin(), h.end(), h.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  if (h.size() < 3 || h.size() > 30) throw InvalidArgument("handle", "a handle is 3 to 30 characters: a-z, 0-9 and _");
  for (char c : h)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
      throw InvalidArgument("handle", "a handle is 3 to 30 characters: a-z, 0-9 and _");
  return h;
}

void check_password(const std::string& password) {
  if (password.size() < 8) throw InvalidArgument("password", "a password needs at least 8 characters");
  if (password.size() > 200) throw InvalidArgument("password", "a password is at most 200 bytes");
}

std::string sha256_hex(const std::string& text) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char b : digest) {
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out;
}

std::string random_token(size_t bytes) {
  std::vector<unsigned char> buffer(bytes);
  if (RAND_bytes(buffer.data(), int(bytes)) != 1) throw IoError("no randomness for a token");
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char b : buffer) {
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out;
}

double feed_score(const Post& post, const Viewer& viewer, int64_t now) {
  const double age_hours = std::max<double>(0, double(now - post.published_at) / 3600.0);
  double score = (1.0 + post.likes + 2.0 * post.remixes) / std::pow(age_hours + 2.0, 1.5);
  if (viewer.following.count(post.user)) score *= 4;
  for (const auto& owner : post.cameo_owners)
    if (owner != post.user && viewer.following.count(owner)) {
      score *= 2;
      break;
    }
  return score;
}

// ---- login rate limit ----------------------------------------------------------------------

int LoginLimiter::retry_after_locked(const std::string& key, Clock::time_point now) {
  auto it = failures_.find(key);
  if (it == failures_.end()) return 0;
  auto& times = it->second;
  while (!times.empty() && now - times.front() > window_) times.pop_front();
  if (times.empty()) {
    failures_.erase(it);
    return 0;
  }
  if (int(times.size()) < max_failures_) return 0;
  const auto wait = window_ - std::chrono::duration_cast<std::chrono::seconds>(now - times.front());
  return std::max<int>(1, int(wait.count()));
}

int LoginLimiter::retry_after(const std::string& handle, const std::string& address) {
  std::lock_guard lock(mutex_);
  const auto now = Clock::now();
  // An address gets four times a handle's allowance (several people behind one NAT).
  const int by_handle = retry_after_locked("h:" + handle, now);
  int by_address = 0;
  if (auto it = failures_.find("a:" + address); it != failures_.end()) {
    auto& times = it->second;
    while (!times.empty() && now - times.front() > window_) times.pop_front();
    if (int(times.size()) >= 4 * max_failures_)
      by_address = std::max<int>(1, int((window_ - std::chrono::duration_cast<std::chrono::seconds>(now - times.front())).count()));
  }
  return std::max(by_handle, by_address);
}

void LoginLimiter::failed(const std::string& handle, const std::string& address) {
  std::lock_guard lock(mutex_);
  const auto now = Clock::now();
  failures_["h:" + handle].push_back(now);
  failures_["a:" + address].push_back(now);
  if (failures_.size() > 100000) failures_.clear();  // bounded memory under a spray of names
}

void LoginLimiter::succeeded(const std::string& handle) {
  std::lock_guard lock(mutex_);
  failures_.erase("h:" + handle);
}

// ---- the store -------------------------------------------------------------------------------

SocialStore::SocialStore(const std::filesystem::path& db_path, Clock clock) : db_(db_path), clock_(std::move(clock)) {
  Transaction t(db_);
  db_.exec(kSchema);
  t.commit();
}

int64_t SocialStore::now() const {
  if (clock_) return clock_();
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

User SocialStore::create_user(const std::string& handle_in, const std::string& password, const std::string& display_name_in) {
  const std::string handle = normalize_account_handle(handle_in);
  // "local" is the Videos API's user on a keyless loopback server: an account by that name
  // would own those videos. The others would read as the service speaking.
  for (const char* reserved : {"local", "opsis", "admin", "administrator", "moderator", "support", "system", "root"})
    if (handle == reserved) throw InvalidArgument("handle", "the handle @" + handle + " is reserved");
  check_password(password);
  const std::string display_name = display_name_in.empty() ? handle : checked_text(display_name_in, "display_name", 1, 80);
  if (display_name.find('\n') != std::string::npos) throw InvalidArgument("display_name", "a display name is one line");
  const std::string hash = hash_password(password);  // slow: outside the transaction
  Transaction t(db_);
  Statement exists(db_, "SELECT 1 FROM app_users WHERE handle = ?1");
  exists.bind(1, handle);
  if (exists.step()) throw InvalidArgument("handle", "the handle @" + handle + " is taken");
  User u;
  u.handle = handle;
  u.display_name = display_name;
  u.created_at = now();
  Statement(db_, "INSERT INTO app_users (handle, display_name, password_hash, created_at) VALUES (?1, ?2, ?3, ?4)")
      .bind(1, handle)
      .bind(2, display_name)
      .bind(3, hash)
      .bind(4, u.created_at)
      .run();
  t.commit();
  return u;
}

std::optional<User> SocialStore::check_login(const std::string& handle_in, const std::string& password) {
  std::string handle;
  try {
    handle = normalize_account_handle(handle_in);
  } catch (const InvalidArgument&) {
    return std::nullopt;
  }
  std::string hash;
  std::optional<User> found;
  {
    std::lock_guard lock(db_.write_lock());
    Statement s(db_, std::string("SELECT ") + kUserColumns + ", password_hash FROM app_users WHERE handle = ?1");
    s.bind(1, handle);
    if (s.step()) {
      found = read_user(s);
      hash = s.text(6);
    }
  }
  if (!found) {
    // The same work as a real check, so timing does not tell which handles exist.
    static const std::string dummy = hash_password("not-a-real-password");
    verify_password(dummy, password);
    return std::nullopt;
  }
  if (!verify_password(hash, password) || found->banned) return std::nullopt;
  return found;
}

std::optional<User> SocialStore::user(const std::string& handle) {
  std::lock_guard lock(db_.write_lock());
  Statement s(db_, std::string("SELECT ") + kUserColumns + " FROM app_users WHERE handle = ?1");
  s.bind(1, handle);
  if (!s.step()) return std::nullopt;
  return read_user(s);
}

User SocialStore::update_profile(const std::string& handle, const std::string& display_name, const std::string& bio) {
  checked_text(display_name, "display_name", 1, 80);
  if (display_name.find('\n') != std::string::npos) throw InvalidArgument("display_name", "a display name is one line");
  checked_text(bio, "bio", 0, 500);
  Transaction t(db_);
  Statement(db_, "UPDATE app_users SET display_name = ?2, bio = ?3 WHERE handle = ?1")
      .bind(1, handle)
      .bind(2, display_name)
      .bind(3, bio)
      .run();
  if (db_.changes() == 0) throw InvalidArgument("user", "no user @" + handle);
  t.commit();
  return *user(handle);
}

void SocialStore::set_role(const std::string& handle, Role role) {
  Transaction t(db_);
  Statement(db_, "UPDATE app_users SET role = ?2 WHERE handle = ?1")
      .bind(1, handle)
      .bind(2, std::string(role == Role::moderator ? "moderator" : "user"))
      .run();
  if (db_.changes() == 0) throw InvalidArgument("user", "no user @" + handle);
  t.commit();
}

void SocialStore::set_banned(const std::string& handle, bool banned) {
  Transaction t(db_);
  Statement(db_, "UPDATE app_users SET banned = ?2 WHERE handle = ?1").bind(1, handle).bind(2, int64_t(banned)).run();
  if (db_.changes() == 0) throw InvalidArgument("user", "no user @" + handle);
  if (banned) Statement(db_, "DELETE FROM app_sessions WHERE user = ?1").bind(1, handle).run();
  t.commit();
}

NewSession SocialStore::create_session(const std::string& user, int64_t lifetime_seconds) {
  NewSession out;
  out.token = random_token(32);
  out.session.user = user;
  out.session.csrf = random_token(32);
  out.session.expires_at = now() + lifetime_seconds;
  Transaction t(db_);
  Statement(db_, "DELETE FROM app_sessions WHERE expires_at < ?1").bind(1, now()).run();
  Statement(db_, "INSERT INTO app_sessions (token_hash, user, csrf, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)")
      .bind(1, sha256_hex(out.token))
      .bind(2, user)
      .bind(3, out.session.csrf)
      .bind(4, now())
      .bind(5, out.session.expires_at)
      .run();
  t.commit();
  return out;
}

std::optional<Session> SocialStore::session(const std::string& token) {
  if (token.size() != 64) return std::nullopt;
  std::lock_guard lock(db_.write_lock());
  Statement s(db_,
              "SELECT s.user, s.csrf, s.expires_at FROM app_sessions s JOIN app_users u ON u.handle = s.user "
              "WHERE s.token_hash = ?1 AND u.banned = 0");
  s.bind(1, sha256_hex(token));
  if (!s.step()) return std::nullopt;
  Session out{s.text(0), s.text(1), s.integer(2)};
  if (out.expires_at < now()) return std::nullopt;
  return out;
}

void SocialStore::end_session(const std::string& token) {
  Transaction t(db_);
  Statement(db_, "DELETE FROM app_sessions WHERE token_hash = ?1").bind(1, sha256_hex(token)).run();
  t.commit();
}

void SocialStore::end_sessions_of(const std::string& user) {
  Transaction t(db_);
  Statement(db_, "DELETE FROM app_sessions WHERE user = ?1").bind(1, user).run();
  t.commit();
}

Post SocialStore::read_post(Statement& s) {
  Post p;
  p.video_id = s.text(0);
  p.user = s.text(1);
  p.caption = s.text(2);
  p.parent_id = s.text(3);
  p.cameo_owners = split(s.text(4));
  p.published_at = s.integer(5);
  p.hidden = s.integer(6) != 0;
  p.likes = int(s.integer(7));
  p.comments = int(s.integer(8));
  p.remixes = int(s.integer(9));
  return p;
}

Post SocialStore::publish(const std::string& video_id, const std::string& user, const std::string& caption,
                          const std::string& parent_id, const std::vector<std::string>& cameo_owners) {
  checked_text(caption, "caption", 0, 500);
  {
    Transaction t(db_);
    Statement existing(db_, "SELECT user FROM app_posts WHERE video_id = ?1");
    existing.bind(1, video_id);
    if (existing.step()) {
      if (existing.text(0) != user) throw InvalidArgument("video", "not this user's video");
      Statement(db_, "UPDATE app_posts SET caption = ?2 WHERE video_id = ?1").bind(1, video_id).bind(2, caption).run();
    } else {
      Statement(db_,
                "INSERT INTO app_posts (video_id, user, caption, parent_id, cameo_owners, published_at) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
          .bind(1, video_id)
          .bind(2, user)
          .bind(3, caption)
          .bind(4, parent_id)
          .bind(5, join(cameo_owners))
          .bind(6, now())
          .run();
    }
    t.commit();
  }
  return *post(video_id);
}

void SocialStore::unpublish(const std::string& video_id) {
  Transaction t(db_);
  Statement(db_, "DELETE FROM app_posts WHERE video_id = ?1").bind(1, video_id).run();
  Statement(db_, "DELETE FROM app_likes WHERE video_id = ?1").bind(1, video_id).run();
  Statement(db_, "DELETE FROM app_comments WHERE video_id = ?1").bind(1, video_id).run();
  t.commit();
}

std::optional<Post> SocialStore::post(const std::string& video_id) {
  std::lock_guard lock(db_.write_lock());
  Statement s(db_, std::string(kPostSelect) + "WHERE p.video_id = ?1");
  s.bind(1, video_id);
  if (!s.step()) return std::nullopt;
  return read_post(s);
}

bool SocialStore::is_public(const std::string& video_id) {
  std::lock_guard lock(db_.write_lock());
  Statement s(db_, std::string("SELECT 1 FROM app_posts p WHERE p.video_id = ?1 AND ") + kVisible);
  s.bind(1, video_id);
  return s.step();
}

std::vector<Post> SocialStore::remixes_of(const std::string& video_id) {
  std::lock_guard lock(db_.write_lock());
  Statement s(db_, std::string(kPostSelect) + "WHERE p.parent_id = ?1 AND " + kVisible + " ORDER BY p.published_at, p.video_id");
  s.bind(1, video_id);
  std::vector<Post> out;
  while (s.step()) out.push_back(read_post(s));
  return out;
}

std::vector<Post> SocialStore::posts_by(const std::string& user, int limit) {
  std::lock_guard lock(db_.write_lock());
  Statement s(db_, std::string(kPostSelect) + "WHERE p.user = ?1 AND " + kVisible + " ORDER BY p.published_at DESC LIMIT ?2");
  s.bind(1, user).bind(2, int64_t(std::clamp(limit, 1, 200)));
  std::vector<Post> out;
  while (s.step()) out.push_back(read_post(s));
  return out;
}

std::vector<Post> SocialStore::ranked_feed(const Viewer& viewer, FeedTab tab, int offset, int limit) {
  limit = std::clamp(limit, 1, 50);
  offset = std::clamp(offset, 0, 100000);
  std::vector<Post> all;
  {
    std::lock_guard lock(db_.write_lock());
    Statement s(db_, std::string(kPostSelect) + "WHERE " + kVisible);
    while (s.step()) {
      Post p = read_post(s);
      if (tab == FeedTab::following && !viewer.following.count(p.user)) continue;
      if (viewer.blocked.count(p.user)) continue;
      all.push_back(std::move(p));
    }
  }
  const int64_t t = now();
  std::vector<std::pair<double, size_t>> order;
  order.reserve(all.size());
  for (size_t i = 0; i < all.size(); ++i)
    order.emplace_back(tab == FeedTab::following ? double(all[i].published_at) : feed_score(all[i], viewer, t), i);
  std::sort(order.begin(), order.end(), [&](const auto& a, const auto& b) {
    if (a.first != b.first) return a.first > b.first;
    const Post& pa = all[a.second];
    const Post& pb = all[b.second];
    if (pa.published_at != pb.published_at) return pa.published_at > pb.published_at;
    return pa.video_id > pb.video_id;
  });
  std::vector<Post> out;
  for (size_t i = size_t(offset); i < order.size() && out.size() < size_t(limit); ++i) out.push_back(all[order[i].second]);
  return out;
}

std::pair<bool, int> SocialStore::set_like(const std::string& video_id, const std::string& user, bool like) {
  Transaction t(db_);
  if (like)
    Statement(db_, "INSERT OR IGNORE INTO app_likes (video_id, user, created_at) VALUES (?1, ?2, ?3)")
        .bind(1, video_id)
        .bind(2, user)
        .bind(3, now())
        .run();
  else
    Statement(db_, "DELETE FROM app_likes WHERE video_id = ?1 AND user = ?2").bind(1, video_id).bind(2, user).run();
  Statement count(db_, "SELECT COUNT(*) FROM app_likes WHERE video_id = ?1");
  count.bind(1, video_id);
  count.step();
  const int n = int(count.integer(0));
  t.commit();
  return {like, n};
}

bool SocialStore::liked(const std::string& video_id, const std::string& user) {
  std::lock_guard lock(db_.write_lock());
  Statement s(db_, "SELECT 1 FROM app_likes WHERE video_id = ?1 AND user = ?2");
  s.bind(1, video_id).bind(2, user);
  return s.step();
}

Comment SocialStore::add_comment(const std::string& video_id, const std::string& user, const std::string& text) {
  checked_text(text, "text", 1, 1000);
  Comment c;
  c.video_id = video_id;
  c.user = user;
  c.text = text;
  c.created_at = now();
  Transaction t(db_);
  Statement(db_, "INSERT INTO app_comments (video_id, user, text, created_at) VALUES (?1, ?2, ?3, ?4)")
      .bind(1, video_id)
      .bind(2, user)
      .bind(3, text)
      .bind(4, c.created_at)
      .run();
  c.id = sqlite3_last_insert_rowid(db_.handle());
  t.commit();
  return c;
}

void SocialStore::set_block(const std::string& blocker, const std::string& blocked, bool block) {
  if (blocker == blocked) throw InvalidArgument("user", "you cannot block yourself");
  Transaction t(db_);
  if (block)
    Statement(db_, "INSERT OR IGNORE INTO app_blocks (blocker, blocked, created_at) VALUES (?1, ?2, ?3)")
        .bind(1, blocker)
        .bind(2, blocked)
        .bind(3, now())
        .run();
  else
    Statement(db_, "DELETE FROM app_blocks WHERE blocker = ?1 AND blocked = ?2").bind(1, blocker).bind(2, blocked).run();
  t.commit();
}

bool SocialStore::blocks(const std::string& blocker, const std::string& blocked) {
  std::lock_guard lock(db_.write_lock());
  Statement s(db_, "SELECT 1 FROM app_blocks WHERE blocker = ?1 AND blocked = ?2");
  s.bind(1, blocker).bind(2, blocked);
  return s.step();
}

std::set<std::string> SocialStore::block_set(const std::string& user) {
  std::lock_guard lock(db_.write_lock());
  Statement s(db_, "SELECT blocked FROM app_blocks WHERE blocker = ?1 UNION SELECT blocker FROM app_blocks WHERE blocked = ?1");
  s.bind(1, user);
  std::set<std::string> out;
  while (s.step()) out.insert(s.text(0));
  return out;
}

std::vector<Comment> SocialStore::comments(const std::string& video_id, int limit, const std::set<std::string>& hidden) {
  std::lock_guard lock(db_.write_lock());
  Statement s(db_,
              "SELECT c.id, c.video_id, c.user, c.text, c.created_at FROM app_comments c WHERE c.video_id = ?1 AND c.hidden = 0 "
              "AND NOT EXISTS (SELECT 1 FROM app_users b WHERE b.handle = c.user AND b.banned = 1) ORDER BY c.id LIMIT ?2");
  s.bind(1, video_id).bind(2, int64_t(std::clamp(limit, 1, 500)));
  std::vector<Comment> out;
  while (s.step())
    if (!hidden.count(s.text(2))) out.push_back({s.integer(0), s.text(1), s.text(2), s.text(3), s.integer(4)});
  return out;
}

std::optional<Comment> SocialStore::comment(int64_t id) {
  std::lock_guard lock(db_.write_lock());
  Statement s(db_, "SELECT id, video_id, user, text, created_at FROM app_comments WHERE id = ?1 AND hidden = 0");
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  return Comment{s.integer(0), s.text(1), s.text(2), s.text(3), s.integer(4)};
}

Report SocialStore::report(const std::string& reporter, const std::string& kind, const std::string& target,
                           const std::string& reason) {
  if (kind != "video" && kind != "comment" && kind != "user")
    throw InvalidArgument("kind", "a report is about a video, a comment or a user");
  checked_text(target, "target", 1, 100);
  checked_text(reason, "reason", 1, 500);
  Report r{0, reporter, kind, target, reason, now(), false};
  Transaction t(db_);
  Statement(db_, "INSERT INTO app_reports (reporter, kind, target, reason, created_at) VALUES (?1, ?2, ?3, ?4, ?5)")
      .bind(1, reporter)
      .bind(2, kind)
      .bind(3, target)
      .bind(4, reason)
      .bind(5, r.created_at)
      .run();
  r.id = sqlite3_last_insert_rowid(db_.handle());
  t.commit();
  return r;
}

std::vector<Report> SocialStore::open_reports(int limit) {
  std::lock_guard lock(db_.write_lock());
  Statement s(db_,
              "SELECT id, reporter, kind, target, reason, created_at, resolved FROM app_reports WHERE resolved = 0 "
              "ORDER BY id LIMIT ?1");
  s.bind(1, int64_t(std::clamp(limit, 1, 500)));
  std::vector<Report> out;
  while (s.step()) out.push_back({s.integer(0), s.text(1), s.text(2), s.text(3), s.text(4), s.integer(5), s.integer(6) != 0});
  return out;
}

ModAction SocialStore::moderate(const std::string& moderator, const std::string& action, const std::string& kind,
                                const std::string& target, const std::string& note) {
  checked_text(note, "note", 0, 500);
  Transaction t(db_);
  if (action == "hide" && kind == "video") {
    Statement(db_, "UPDATE app_posts SET hidden = 1 WHERE video_id = ?1").bind(1, target).run();
  } else if ((action == "hide" || action == "delete") && kind == "comment") {
    int64_t id = 0;
    try {
      id = std::stoll(target);
    } catch (const std::exception&) {
      throw InvalidArgument("target", "a comment is named by its number");
    }
    if (action == "hide")
      Statement(db_, "UPDATE app_comments SET hidden = 1 WHERE id = ?1").bind(1, id).run();
    else
      Statement(db_, "DELETE FROM app_comments WHERE id = ?1").bind(1, id).run();
  } else if (action == "delete" && kind == "video") {
    // The video itself is deleted by the caller (the Videos API's store); the post goes here.
    Statement(db_, "DELETE FROM app_posts WHERE video_id = ?1").bind(1, target).run();
    Statement(db_, "DELETE FROM app_likes WHERE video_id = ?1").bind(1, target).run();
    Statement(db_, "DELETE FROM app_comments WHERE video_id = ?1").bind(1, target).run();
  } else if (action == "ban" && kind == "user") {
    Statement(db_, "UPDATE app_users SET banned = 1 WHERE handle = ?1").bind(1, target).run();
    Statement(db_, "DELETE FROM app_sessions WHERE user = ?1").bind(1, target).run();
  } else if (action != "dismiss") {
    throw InvalidArgument("action", "actions: hide (video, comment), delete (video, comment), ban (user), dismiss");
  }
  Statement(db_, "UPDATE app_reports SET resolved = 1 WHERE kind = ?1 AND target = ?2").bind(1, kind).bind(2, target).run();
  ModAction a{0, moderator, action, kind, target, note, now()};
  Statement(db_,
            "INSERT INTO app_mod_actions (moderator, action, kind, target, note, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
      .bind(1, moderator)
      .bind(2, action)
      .bind(3, kind)
      .bind(4, target)
      .bind(5, note)
      .bind(6, a.created_at)
      .run();
  a.id = sqlite3_last_insert_rowid(db_.handle());
  t.commit();
  return a;
}

std::vector<ModAction> SocialStore::mod_actions(int limit) {
  std::lock_guard lock(db_.write_lock());
  Statement s(db_, "SELECT id, moderator, action, kind, target, note, created_at FROM app_mod_actions ORDER BY id DESC LIMIT ?1");
  s.bind(1, int64_t(std::clamp(limit, 1, 500)));
  std::vector<ModAction> out;
  while (s.step()) out.push_back({s.integer(0), s.text(1), s.text(2), s.text(3), s.text(4), s.text(5), s.integer(6)});
  return out;
}

}  // namespace opsis::social
