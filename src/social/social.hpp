#pragma once
// The opsis app's domain (issue #13), independent of HTTP: accounts (argon2id passwords),
// sessions (only the SHA-256 of a session token is stored) with their CSRF token, a login
// rate limit, publication of videos (a draft is a video of the Videos API; publishing it makes
// it a post), likes, comments, the feed's ranking, reports and moderation. Everything lives
// in the server's opsis.db beside the videos and the cameo registry; follows are the cameo
// registry's (src/cameo), not kept here.
#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cameo/sqlite_database.hpp"

namespace opsis::social {

// argon2id (libargon2), encoded with its salt and parameters ("$argon2id$v=19$m=...").
std::string hash_password(const std::string& password);
bool verify_password(const std::string& encoded, const std::string& password);

// Account handles: 3-30 of a-z, 0-9, '_' (a leading '@' and upper case are accepted and
// normalised). Throws opsis::InvalidArgument("handle").
std::string normalize_account_handle(const std::string& handle);
// 8-200 bytes. Throws InvalidArgument("password").
void check_password(const std::string& password);

// SHA-256 hex of a string (session tokens are stored this way).
std::string sha256_hex(const std::string& text);
// n random bytes from the system's CSPRNG, hex.
std::string random_token(size_t bytes);

enum class Role { user, moderator };

struct User {
  std::string handle;
  std::string display_name;
  std::string bio;
  Role role = Role::user;
  bool banned = false;
  int64_t created_at = 0;
};

struct Session {
  std::string user;
  std::string csrf;
  int64_t expires_at = 0;
};

struct NewSession {
  std::string token;  // the cookie's value; only its hash is stored
  Session session;
};

struct Post {
  std::string video_id;
  std::string user;
  std::string caption;
  std::string parent_id;  // remixed_from_video_id at publication, or empty
  std::vector<std::string> cameo_owners;
  int64_t published_at = 0;
  bool hidden = false;
  int likes = 0;
  int comments = 0;
  int remixes = 0;  // published direct remixes
};

struct Comment {
  int64_t id = 0;
  std::string video_id;
  std::string user;
  std::string text;
  int64_t created_at = 0;
};

struct Report {
  int64_t id = 0;
  std::string reporter;
  std::string kind;    // "video", "comment", "user"
  std::string target;  // video id, comment id, handle
  std::string reason;
  int64_t created_at = 0;
  bool resolved = false;
};

struct ModAction {
  int64_t id = 0;
  std::string moderator;
  std::string action;  // "hide", "delete", "ban", "dismiss"
  std::string kind;
  std::string target;
  std::string note;
  int64_t created_at = 0;
};

enum class FeedTab { for_you, following };

// What the ranking knows about the viewer.
struct Viewer {
  std::string user;                 // empty: signed out
  std::set<std::string> following;  // from the cameo registry's follows
  std::set<std::string> blocked;    // users the viewer blocked or who blocked the viewer: never shown
};

// score = (1 + likes + 2 * remixes) / (age_hours + 2)^1.5
//         * 4 if the viewer follows the creator * 2 if the clip has a cameo of someone the viewer follows
// (for_you, highest first; ties newest first). following: only followed creators, newest first.
double feed_score(const Post& post, const Viewer& viewer, int64_t now);

// Too many failed logins for one handle or one address: 429 with Retry-After.
class LoginLimiter {
 public:
  LoginLimiter(int max_failures = 5, std::chrono::seconds window = std::chrono::seconds(300))
      : max_failures_(max_failures), window_(window) {}
  // Seconds to wait before trying again, 0 when allowed.
  int retry_after(const std::string& handle, const std::string& address);
  void failed(const std::string& handle, const std::string& address);
  void succeeded(const std::string& handle);

 private:
  using Clock = std::chrono::steady_clock;
  int retry_after_locked(const std::string& key, Clock::time_point now);
  std::mutex mutex_;
  int max_failures_;
  std::chrono::seconds window_;
  std::map<std::string, std::deque<Clock::time_point>> failures_;
};

class SocialStore {
 public:
  using Clock = std::function<int64_t()>;  // unix seconds
  // Opens (creating the app's tables in) the SQLite file; ":memory:" for tests.
  explicit SocialStore(const std::filesystem::path& db_path, Clock clock = {});

  // Throws InvalidArgument("handle") when taken or malformed, ("password"), ("display_name").
  User create_user(const std::string& handle, const std::string& password, const std::string& display_name);
  // The user when the password matches and the user is not banned.
  std::optional<User> check_login(const std::string& handle, const std::string& password);
  std::optional<User> user(const std::string& handle);
  User update_profile(const std::string& handle, const std::string& display_name, const std::string& bio);
  void set_role(const std::string& handle, Role role);  // throws InvalidArgument("user") when unknown
  void set_banned(const std::string& handle, bool banned);

  NewSession create_session(const std::string& user, int64_t lifetime_seconds = 14 * 24 * 3600);
  std::optional<Session> session(const std::string& token);
  void end_session(const std::string& token);
  void end_sessions_of(const std::string& user);

  // Publishes a video (the caller checked it is the user's own completed draft). Idempotent
  // for the caption. Throws InvalidArgument("caption") over 500 bytes or not UTF-8.
  Post publish(const std::string& video_id, const std::string& user, const std::string& caption,
               const std::string& parent_id, const std::vector<std::string>& cameo_owners);
  void unpublish(const std::string& video_id);
  std::optional<Post> post(const std::string& video_id);
  // Visible to everyone: published, not hidden, creator not banned.
  bool is_public(const std::string& video_id);
  // Published, visible direct remixes of a video, oldest first.
  std::vector<Post> remixes_of(const std::string& video_id);
  std::vector<Post> posts_by(const std::string& user, int limit = 60);
  std::vector<Post> ranked_feed(const Viewer& viewer, FeedTab tab, int offset, int limit);

  // Blocking: the two never see each other's clips or comments in the app.
  void set_block(const std::string& blocker, const std::string& blocked, bool block);
  bool blocks(const std::string& blocker, const std::string& blocked);
  // Users `user` blocked, and users who blocked `user`.
  std::set<std::string> block_set(const std::string& user);

  // Returns (liked, count).
  std::pair<bool, int> set_like(const std::string& video_id, const std::string& user, bool like);
  bool liked(const std::string& video_id, const std::string& user);

  // 1-1000 bytes of UTF-8. Throws InvalidArgument("text").
  Comment add_comment(const std::string& video_id, const std::string& user, const std::string& text);
  // Comments by users in `hidden` are left out (the viewer's block set).
  std::vector<Comment> comments(const std::string& video_id, int limit = 200, const std::set<std::string>& hidden = {});
  std::optional<Comment> comment(int64_t id);

  // kind: video|comment|user; reason 1-500 bytes.
  Report report(const std::string& reporter, const std::string& kind, const std::string& target, const std::string& reason);
  std::vector<Report> open_reports(int limit = 200);
  // action: hide (video or comment), delete (comment; a video's deletion is the caller's),
  // ban (user), dismiss (the report only). Resolves the reports on the target; recorded.
  ModAction moderate(const std::string& moderator, const std::string& action, const std::string& kind,
                     const std::string& target, const std::string& note);
  std::vector<ModAction> mod_actions(int limit = 200);

 private:
  int64_t now() const;
  Post read_post(cameo::Statement& s);
  cameo::Database db_;
  Clock clock_;
};

}  // namespace opsis::social
