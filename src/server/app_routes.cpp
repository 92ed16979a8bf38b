// The opsis app in the browser (issue #13): the pages in web/ and the JSON they fetch under
// /app/api. The domain (accounts, sessions, posts, likes, comments, feed ranking, moderation)
// is src/social; videos are the Videos API's (VideoService: the same jobs, lineage and
// provenance); follows and cameos are the cameo registry's (src/cameo).
//
// Security: the session cookie is HttpOnly, SameSite=Lax (Secure behind TLS); every POST and
// DELETE under /app/api carries X-CSRF-Token, checked against the session's token (signed in)
// or the HttpOnly double-submit cookie opsis_csrf (signed out) and the Origin when sent;
// another user's draft is a 404; pages are sent with a strict Content-Security-Policy and
// render user text with textContent only.
#include <openssl/crypto.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cameo/registry.hpp"
#include "core/error.hpp"
#include "server/api_error.hpp"
#include "server/api_keys.hpp"
#include "server/app_routes.hpp"
#include "server/cameos.hpp"
#include "server/encoding.hpp"
#include "server/provenance_check.hpp"
#include "provenance/c2pa.hpp"
#include "provenance/x509.hpp"
#include "server/request_body.hpp"
#include "server/routes.hpp"
#include "social/social.hpp"

namespace opsis::server {

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr const char* kSessionCookie = "opsis_session";
constexpr const char* kCsrfCookie = "opsis_csrf";
constexpr int64_t kSessionSeconds = 14 * 24 * 3600;

constexpr const char* kCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
    "connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; "
    "object-src 'none'";

void security_headers(httplib::Response& res, const char* cache = "no-store") {
  res.set_header("Content-Security-Policy", kCsp);
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Referrer-Policy", "same-origin");
  res.set_header("X-Frame-Options", "DENY");
  res.set_header("Cache-Control", cache);
}

std::string cookie(const httplib::Request& req, const std::string& name) {
  const std::string header = req.get_header_value("Cookie");
  size_t pos = 0;
  while (pos < header.size()) {
    while (pos < header.size() && (header[pos] == ' ' || header[pos] == ';')) ++pos;
    const size_t end = header.find(';', pos);
    const std::string part = header.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    const size_t eq = part.find('=');
    if (eq != std::string::npos && part.substr(0, eq) == name) return part.substr(eq + 1);
    if (end == std::string::npos) break;
    pos = end + 1;
  }
  return "";
}

bool behind_tls(const httplib::Request& req) { return req.get_header_value("X-Forwarded-Proto") == "https"; }

void set_cookie(httplib::Response& res, const httplib::Request& req, const std::string& name, const std::string& value,
                int64_t max_age, const char* same_site) {
  std::string c = name + "=" + value + "; Path=/; HttpOnly; SameSite=" + same_site + "; Max-Age=" + std::to_string(max_age);
  if (behind_tls(req)) c += "; Secure";
  res.set_header("Set-Cookie", c);
}

bool same_token(const std::string& a, const std::string& b) {
  return a.size() == b.size() && !a.empty() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool hex64(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

ApiError unauthorized() { return ApiError(401, "invalid_request_error", "not_signed_in", "sign in first"); }
ApiError forbidden(const std::string& code, const std::string& message) {
  return ApiError(403, "invalid_request_error", code, message);
}

json body_json(const httplib::Request& req) {
  if (req.body.empty()) return json::object();
  json j = json::parse(req.body);
  if (!j.is_object()) throw InvalidArgument("body", "the body must be a JSON object");
  return j;
}

std::string text_field(const json& j, const char* name, const std::string& fallback = "") {
  if (!j.contains(name) || j[name].is_null()) return fallback;
  if (!j[name].is_string()) throw InvalidArgument(name, std::string(name) + " must be a string");
  return j[name].get<std::string>();
}

std::string web_dir() {
  if (const char* env = std::getenv("OPSIS_WEB_DIR"); env && *env) return env;
#ifdef OPSIS_WEB_DIR
  return OPSIS_WEB_DIR;
#else
  return "web";
#endif
}

const char* content_type_of(const fs::path& path) {
  const std::string ext = path.extension().string();
  if (ext == ".html") return "text/html; charset=utf-8";
  if (ext == ".js" || ext == ".mjs") return "text/javascript; charset=utf-8";
  if (ext == ".css") return "text/css; charset=utf-8";
  if (ext == ".svg") return "image/svg+xml";
  if (ext == ".png") return "image/png";
  if (ext == ".json") return "application/json";
  if (ext == ".ico") return "image/x-icon";
  return nullptr;
}

// A file under web/, or nothing: only plain names (letters, digits, '-', '_', '.'), no "..".
std::optional<std::string> read_web_file(const std::string& relative) {
  if (relative.empty() || relative.size() > 200 || relative.find("..") != std::string::npos) return std::nullopt;
  for (char c : relative)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == '/')) return std::nullopt;
  const fs::path path = fs::path(web_dir()) / relative;
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return std::nullopt;
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

class App {
 public:
  App(const AppRegistrar& routes, const AppServices& services)
      : routes_(routes), s_(services), social_(cameo::database_path(services.data_dir)) {}

  // A video deleted by any path (the Videos API, a cameo's owner, a moderator, expiry) takes
  // its post down with it.
  ~App() { s_.videos.set_on_deleted(nullptr); }

  void install() {
    s_.videos.set_on_deleted([this](const std::string& video_id) { social_.unpublish(video_id); });
    // Pages: one shell, routed in the browser (web/app.js) by its path.
    auto shell = [this](const httplib::Request&, httplib::Response& res) {
      const auto page = read_web_file("index.html");
      if (!page) throw not_found("the app's pages (web/) are not installed; set OPSIS_WEB_DIR");
      security_headers(res);
      res.set_content(*page, "text/html; charset=utf-8");
    };
    routes_.get("/", shell);
    // Only the app's own pages: any other path is a 404, as for the API.
    routes_.get(R"(/app(/|/(feed|following|login|signup|create|drafts|account|mod|cameo|v/video_[0-9a-f]+|u/[A-Za-z0-9_]{3,30}))?)", shell);
    routes_.get(R"(/app/static/([A-Za-z0-9_./-]+))", [](const httplib::Request& req, httplib::Response& res) {
      const std::string name = req.matches[1];
      const char* type = content_type_of(name);
      const auto file = type ? read_web_file(name) : std::nullopt;
      if (!file) throw not_found("no such file");
      security_headers(res, "no-cache");
      res.set_content(*file, type);
    });

    api_get("/app/api/session", [this](const Ctx& c, const httplib::Request& req, httplib::Response& res) {
      json out{{"user", nullptr}};
      if (c.session) {
        out["user"] = me_json(c.session->user);
        out["csrf"] = c.session->csrf;
      } else {
        std::string token = cookie(req, kCsrfCookie);
        if (!hex64(token)) {
          token = social::random_token(32);
          set_cookie(res, req, kCsrfCookie, token, kSessionSeconds, "Strict");
        }
        out["csrf"] = token;
      }
      return out;
    });
    api_post("/app/api/signup", [this](const Ctx&, const httplib::Request& req, httplib::Response& res) {
      // At most 10 new accounts an hour from one address.
      const std::string per_address = "signup@" + req.remote_addr;
      if (const int wait = signups_.retry_after(per_address, req.remote_addr); wait > 0) {
        ApiError e(429, "rate_limit_error", "too_many_signups", "too many new accounts from this address; try again later");
        e.retry_after_seconds = wait;
        throw e;
      }
      signups_.failed(per_address, req.remote_addr);
      const json b = body_json(req);
      const social::User u = social_.create_user(text_field(b, "handle"), text_field(b, "password"), text_field(b, "display_name"));
      return start_session(req, res, u.handle);
    });
    api_post("/app/api/login", [this](const Ctx&, const httplib::Request& req, httplib::Response& res) {
      const json b = body_json(req);
      const std::string handle = text_field(b, "handle");
      const int wait = limiter_.retry_after(handle, req.remote_addr);
      if (wait > 0) {
        ApiError e(429, "rate_limit_error", "too_many_logins", "too many failed sign-ins; try again later");
        e.retry_after_seconds = wait;
        throw e;
      }
      const auto u = social_.check_login(handle, text_field(b, "password"));
      if (!u) {
        limiter_.failed(handle, req.remote_addr);
        throw ApiError(401, "invalid_request_error", "bad_login", "wrong handle or password");
      }
      limiter_.succeeded(handle);
      return start_session(req, res, u->handle);
    });
    api_post("/app/api/logout", [this](const Ctx& c, const httplib::Request& req, httplib::Response& res) {
      if (c.session) social_.end_session(cookie(req, kSessionCookie));
      set_cookie(res, req, kSessionCookie, "", 0, "Lax");
      return json{{"signed_out", true}};
    });
    api_post("/app/api/profile", [this](const Ctx& c, const httplib::Request& req, httplib::Response&) {
      const std::string me = signed_in(c);
      const json b = body_json(req);
      social_.update_profile(me, text_field(b, "display_name"), text_field(b, "bio"));
      return me_json(me);
    });
    api_post("/app/api/keys", [this](const Ctx& c, const httplib::Request&, httplib::Response&) {
      const std::string me = signed_in(c);
      const CreatedKey key = create_api_key(s_.store, me);
      return json{{"id", key.record.id}, {"secret", key.secret}, {"prefix", key.record.prefix}};
    });
    api_get("/app/api/keys", [this](const Ctx& c, const httplib::Request&, httplib::Response&) {
      const std::string me = signed_in(c);
      json keys = json::array();
      for (const auto& k : s_.store.keys())
        if (k.user == me) keys.push_back({{"id", k.id}, {"prefix", k.prefix}, {"created_at", k.created_at}, {"revoked", k.revoked_at != 0}});
      return json{{"data", keys}};
    });

    api_get(R"(/app/api/users/([a-z0-9_]{3,30}))", [this](const Ctx& c, const httplib::Request& req, httplib::Response&) {
      const std::string handle = req.matches[1];
      const auto u = social_.user(handle);
      if (!u || u->banned) throw not_found("no user @" + handle);
      if (c.session && social_.blocks(handle, c.session->user)) throw not_found("no user @" + handle);
      json out = public_user_json(*u);
      if (c.session) out["you_block"] = social_.blocks(c.session->user, handle);
      auto lease = s_.cameos.lease();
      out["followers"] = lease->registry.followers(handle).size();
      out["following"] = lease->registry.following(handle).size();
      if (c.session) {
        out["you_follow"] = lease->registry.follows(c.session->user, handle);
        out["follows_you"] = lease->registry.follows(handle, c.session->user);
      }
      json posts = json::array();
      for (const auto& p : social_.posts_by(handle)) posts.push_back(post_json(p, c));
      out["posts"] = posts;
      return out;
    });
    auto follow = [this](bool on) {
      return [this, on](const Ctx& c, const httplib::Request& req, httplib::Response&) {
        const std::string me = signed_in(c);
        const std::string handle = req.matches[1];
        const auto u = social_.user(handle);
        if (!u || u->banned) throw not_found("no user @" + handle);
        if (on && social_.block_set(me).count(handle)) throw not_found("no user @" + handle);
        auto lease = s_.cameos.lease();
        if (on)
          lease->registry.follow(me, handle);
        else
          lease->registry.unfollow(me, handle);
        return json{{"you_follow", on}, {"mutuals", lease->registry.mutuals(me, handle)}};
      };
    };
    // Blocking also ends follows both ways (so no "mutuals" cameo permission survives it).
    auto block = [this](bool on) {
      return [this, on](const Ctx& c, const httplib::Request& req, httplib::Response&) {
        const std::string me = signed_in(c);
        const std::string handle = req.matches[1];
        if (!social_.user(handle)) throw not_found("no user @" + handle);
        social_.set_block(me, handle, on);
        if (on) {
          auto lease = s_.cameos.lease();
          lease->registry.unfollow(me, handle);
          lease->registry.unfollow(handle, me);
        }
        return json{{"you_block", on}};
      };
    };
    api_post(R"(/app/api/users/([a-z0-9_]{3,30})/block)", block(true));
    api_del(R"(/app/api/users/([a-z0-9_]{3,30})/block)", block(false));
    api_post(R"(/app/api/users/([a-z0-9_]{3,30})/follow)", follow(true));
    api_del(R"(/app/api/users/([a-z0-9_]{3,30})/follow)", follow(false));

    api_get("/app/api/models", [this](const Ctx&, const httplib::Request&, httplib::Response&) {
      // The server's default (what "sora-2" means) first: the composer preselects it.
      std::string preferred;
      try {
        preferred = s_.models.resolve("sora-2");
      } catch (const std::exception&) {
      }
      json data = json::array();
      for (const auto& m : s_.models.models()) {
        json entry = {{"id", m.name}, {"sizes", m.sizes}, {"seconds", m.seconds}, {"image", m.image_to_video}, {"default", m.name == preferred}};
        if (m.name == preferred) data.insert(data.begin(), std::move(entry));
        else data.push_back(std::move(entry));
      }
      return json{{"data", data}};
    });
    api_get("/app/api/cameos/usable", [this](const Ctx& c, const httplib::Request&, httplib::Response&) {
      const std::string me = signed_in(c);
      return json{{"data", usable_cameos(me)}};
    });

    api_post("/app/api/videos", [this](const Ctx& c, const httplib::Request& req, httplib::Response&) {
      return video_json(create(signed_in(c), body_json(req)), c);
    });
    api_get("/app/api/drafts", [this](const Ctx& c, const httplib::Request&, httplib::Response&) {
      const std::string me = signed_in(c);
      store::ListQuery q;
      q.limit = 100;
      const auto page = s_.videos.list(caller(me), q);
      json data = json::array();
      for (const auto& v : page.videos) data.push_back(video_json(v, c));
      return json{{"data", data}};
    });
    api_get(R"(/app/api/videos/(video_[0-9a-f]+))", [this](const Ctx& c, const httplib::Request& req, httplib::Response&) {
      const store::VideoRecord v = visible(c, req.matches[1]);
      json out = video_json(v, c);
      out["chain"] = chain_json(v, c);
      return out;
    });
    api_post(R"(/app/api/videos/(video_[0-9a-f]+)/publish)", [this](const Ctx& c, const httplib::Request& req, httplib::Response&) {
      const std::string me = signed_in(c);
      const store::VideoRecord v = s_.videos.retrieve(caller(me), req.matches[1]);  // another's: 404
      if (v.status != store::VideoStatus::Completed) throw ApiError(400, "invalid_request_error", "video_not_ready", "only a finished video can be published");
      const json b = body_json(req);
      std::vector<std::string> owners;
      {
        auto lease = s_.cameos.lease();
        for (const auto& id : JobRequest::from_json(v.request_json).cameo_ids) {
          try {
            owners.push_back(lease->registry.get(id).owner);
          } catch (const cameo::CameoNotFound&) {
          }
        }
      }
      social_.publish(v.id, me, text_field(b, "caption"), v.remixed_from, owners);
      return video_json(v, c);
    });
    api_post(R"(/app/api/videos/(video_[0-9a-f]+)/unpublish)", [this](const Ctx& c, const httplib::Request& req, httplib::Response&) {
      const std::string me = signed_in(c);
      const store::VideoRecord v = s_.videos.retrieve(caller(me), req.matches[1]);
      social_.unpublish(v.id);
      return video_json(v, c);
    });
    api_del(R"(/app/api/videos/(video_[0-9a-f]+))", [this](const Ctx& c, const httplib::Request& req, httplib::Response&) {
      const std::string me = signed_in(c);
      const std::string id = req.matches[1];
      s_.videos.remove(caller(me), id);
      social_.unpublish(id);
      return json{{"id", id}, {"deleted", true}};
    });
    auto like = [this](bool on) {
      return [this, on](const Ctx& c, const httplib::Request& req, httplib::Response&) {
        const std::string me = signed_in(c);
        const std::string id = req.matches[1];
        public_for(c, id);
        const auto [liked, count] = social_.set_like(id, me, on);
        return json{{"liked", liked}, {"likes", count}};
      };
    };
    api_post(R"(/app/api/videos/(video_[0-9a-f]+)/like)", like(true));
    api_del(R"(/app/api/videos/(video_[0-9a-f]+)/like)", like(false));
    api_get(R"(/app/api/videos/(video_[0-9a-f]+)/comments)", [this](const Ctx& c, const httplib::Request& req, httplib::Response&) {
      const std::string id = req.matches[1];
      public_for(c, id);
      json data = json::array();
      for (const auto& m : social_.comments(id, 200, c.session ? social_.block_set(c.session->user) : std::set<std::string>{}))
        data.push_back(comment_json(m));
      return json{{"data", data}};
    });
    api_post(R"(/app/api/videos/(video_[0-9a-f]+)/comments)", [this](const Ctx& c, const httplib::Request& req, httplib::Response&) {
      const std::string me = signed_in(c);
      const std::string id = req.matches[1];
      public_for(c, id);
      return comment_json(social_.add_comment(id, me, text_field(body_json(req), "text")));
    });
    api_get("/app/api/feed", [this](const Ctx& c, const httplib::Request& req, httplib::Response&) {
      social::Viewer viewer;
      if (c.session) {
        viewer.user = c.session->user;
        auto lease = s_.cameos.lease();
        for (auto& f : lease->registry.following(viewer.user)) viewer.following.insert(f);
        viewer.blocked = social_.block_set(viewer.user);
      }
      const std::string tab = req.has_param("tab") ? req.get_param_value("tab") : "for_you";
      if (tab != "for_you" && tab != "following") throw InvalidArgument("tab", "tab is for_you or following");
      int offset = 0;
      if (req.has_param("offset")) {
        try {
          offset = std::stoi(req.get_param_value("offset"));
        } catch (const std::exception&) {
          throw InvalidArgument("offset", "offset must be a whole number");
        }
      }
      const auto posts = social_.ranked_feed(viewer, tab == "following" ? social::FeedTab::following : social::FeedTab::for_you, offset, 10);
      json data = json::array();
      for (const auto& p : posts) data.push_back(post_json(p, c));
      return json{{"data", data}, {"next_offset", posts.size() == 10 ? json(offset + 10) : json(nullptr)}};
    });

    api_post("/app/api/reports", [this](const Ctx& c, const httplib::Request& req, httplib::Response&) {
      const std::string me = signed_in(c);
      const json b = body_json(req);
      const auto r = social_.report(me, text_field(b, "kind"), text_field(b, "target"), text_field(b, "reason"));
      return json{{"id", r.id}, {"received", true}};
    });
    api_get("/app/api/mod/queue", [this](const Ctx& c, const httplib::Request&, httplib::Response&) {
      moderator(c);
      json reports = json::array();
      for (const auto& r : social_.open_reports())
        reports.push_back({{"id", r.id}, {"reporter", r.reporter}, {"kind", r.kind}, {"target", r.target}, {"reason", r.reason}, {"created_at", r.created_at}});
      json actions = json::array();
      for (const auto& a : social_.mod_actions(50))
        actions.push_back({{"id", a.id}, {"moderator", a.moderator}, {"action", a.action}, {"kind", a.kind}, {"target", a.target}, {"note", a.note}, {"created_at", a.created_at}});
      return json{{"reports", reports}, {"actions", actions}};
    });
    api_post("/app/api/mod/actions", [this](const Ctx& c, const httplib::Request& req, httplib::Response&) {
      const std::string me = moderator(c);
      const json b = body_json(req);
      const std::string action = text_field(b, "action"), kind = text_field(b, "kind"), target = text_field(b, "target");
      if (action == "delete" && kind == "video") {
        if (const auto v = s_.store.video(target)) s_.videos.remove(caller(v->user), target);
      }
      const auto a = social_.moderate(me, action, kind, target, text_field(b, "note"));
      return json{{"id", a.id}, {"action", a.action}};
    });

    // "Made with": the C2PA manifest of the stored file, checked against this server's root,
    // and its ingredients (a remix names its parent), as GET /v1/provenance reports it.
    api_get(R"(/app/api/videos/(video_[0-9a-f]+)/provenance)", [this](const Ctx& c, const httplib::Request& req, httplib::Response&) {
      const store::VideoRecord v = visible(c, req.matches[1]);
      if (v.video_blob.empty()) throw not_found("the video is not finished");
      const auto path = s_.blobs.local_path(v.video_blob);
      if (!path) throw not_found("the video's file has expired");
      const auto root = provenance::SigningCredentials::own_root_path(provenance::credentials_directory(s_.data_dir));
      std::vector<provenance::Bytes> anchors;
      std::error_code ec;
      if (fs::exists(root, ec)) anchors = provenance::read_pem_certificates(root);
      const ProvenanceCheck check = check_provenance(*path, anchors, std::nullopt, nullptr);
      const auto& m = check.manifest;
      json ingredients = json::array();
      for (const auto& i : m.ingredients) ingredients.push_back({{"title", i.title}, {"relationship", i.relationship}, {"intact", i.manifest_hash_matches}});
      std::string summary = !m.has_manifest ? "no C2PA manifest"
                                            : m.state + " C2PA manifest, signed by " + (m.signer ? m.signer->subject : std::string("?")) +
                                                  "; made by " + m.model + " for " + m.creator +
                                                  (m.ingredients.empty() ? "" : "; " + std::to_string(m.ingredients.size()) + " ingredient(s)");
      return json{{"state", m.state}, {"claim_generator", m.claim_generator}, {"model", m.model}, {"creator", m.creator},
                  {"cameos", m.cameo_handles}, {"ingredients", ingredients}, {"summary", summary}};
    });
    // The dialogue of the prompt as WebVTT, spread over the clip (the caption track).
    routes_.get(R"(/app/media/(video_[0-9a-f]+)/captions\.vtt)", [this](const httplib::Request& req, httplib::Response& res) {
      const store::VideoRecord v = visible(context(req), req.matches[1]);
      const json lines = dialogue_of(v.prompt);
      const double seconds = std::max(1, std::atoi(v.seconds.c_str()));
      auto stamp = [](double t) {
        char text[32];
        std::snprintf(text, sizeof text, "00:%02d:%06.3f", int(t) / 60, t - 60 * (int(t) / 60));
        return std::string(text);
      };
      std::string vtt = "WEBVTT\n\n";
      for (size_t i = 0; i < lines.size(); ++i) {
        const double from = seconds * double(i) / double(lines.size()), to = seconds * double(i + 1) / double(lines.size());
        std::string text = lines[i].get<std::string>();
        // WebVTT cue text: '<' and '&' escaped, "-->" cannot end the cue early.
        std::string safe;
        for (char ch : text) safe += ch == '<' ? std::string("&lt;") : ch == '&' ? std::string("&amp;") : ch == '>' ? std::string("&gt;") : std::string(1, ch);
        vtt += stamp(from) + " --> " + stamp(to) + "\n" + safe + "\n\n";
      }
      res.set_header("X-Content-Type-Options", "nosniff");
      res.set_content(vtt, "text/vtt; charset=utf-8");
    });

    auto adapt = [](AppHandler h) {
      return [h](const Ctx& c, const httplib::Request& req, httplib::Response& res) {
        return h(c.session ? std::optional<std::string>(c.session->user) : std::nullopt, req, res);
      };
    };
    add_app_cameo_routes(AppApi{
        [this, adapt](const std::string& p, AppHandler h) { api_get(p, adapt(std::move(h))); },
        [this, adapt](const std::string& p, AppHandler h) { api_post(p, adapt(std::move(h))); },
        [this, adapt](const std::string& p, AppHandler h) { api_del(p, adapt(std::move(h))); },
        [this](const std::string& p, httplib::Server::Handler h) { routes_.get(p, std::move(h)); },
        s_,
        [this](const std::string& video_id) { social_.unpublish(video_id); }});

    // Media: the owner's drafts, or a public clip (the file as stored: watermark and C2PA kept).
    routes_.get(R"(/app/media/(video_[0-9a-f]+)/(video|thumbnail|spritesheet))", [this](const httplib::Request& req, httplib::Response& res) {
      const Ctx c = context(req);
      const store::VideoRecord v = visible(c, req.matches[1]);
      res.set_header("X-Content-Type-Options", "nosniff");
      res.set_header("Cache-Control", "private, max-age=300");
      httplib::Request copy = req;
      copy.params = {{"variant", std::string(req.matches[2])}};
      routes_.send_content(copy, res, caller(v.user), v.id);
    });
  }

 private:
  struct Ctx {
    std::optional<social::Session> session;
    std::optional<social::User> user;
  };
  using Handler = std::function<json(const Ctx&, const httplib::Request&, httplib::Response&)>;

  Ctx context(const httplib::Request& req) {
    Ctx c;
    const std::string token = cookie(req, kSessionCookie);
    if (hex64(token)) c.session = social_.session(token);
    if (c.session) {
      c.user = social_.user(c.session->user);
      routes_.log_user(c.session->user);
    }
    return c;
  }

  // Every state-changing call: the CSRF token (session's, or the double-submit cookie when
  // signed out) and, when the browser sends one, an Origin of this host.
  void check_csrf(const Ctx& c, const httplib::Request& req) {
    const std::string origin = req.get_header_value("Origin");
    if (!origin.empty()) {
      const std::string host = req.get_header_value("Host");
      if (origin != "http://" + host && origin != "https://" + host) throw forbidden("bad_origin", "cross-site request refused");
    }
    const std::string sent = req.get_header_value("X-CSRF-Token");
    const std::string expected = c.session ? c.session->csrf : cookie(req, kCsrfCookie);
    if (!hex64(expected) || !same_token(sent, expected))
      throw forbidden("csrf_failed", "missing or wrong CSRF token; reload the page");
  }

  void send(httplib::Response& res, const json& body) {
    security_headers(res);
    res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
  }
  void api_get(const std::string& pattern, Handler h) {
    routes_.get(pattern, [this, h](const httplib::Request& req, httplib::Response& res) {
      const Ctx c = context(req);
      send(res, h(c, req, res));
    });
  }
  void api_post(const std::string& pattern, Handler h) {
    routes_.post(pattern, [this, h](const httplib::Request& req, httplib::Response& res) {
      const Ctx c = context(req);
      check_csrf(c, req);
      send(res, h(c, req, res));
    });
  }
  void api_del(const std::string& pattern, Handler h) {
    routes_.del(pattern, [this, h](const httplib::Request& req, httplib::Response& res) {
      const Ctx c = context(req);
      check_csrf(c, req);
      send(res, h(c, req, res));
    });
  }

  static std::string signed_in(const Ctx& c) {
    if (!c.session || !c.user) throw unauthorized();
    return c.session->user;
  }
  std::string moderator(const Ctx& c) {
    const std::string me = signed_in(c);
    if (c.user->role != social::Role::moderator) throw not_found("no such page");
    return me;
  }
  static Caller caller(const std::string& user) { return {user, "app:" + user}; }

  json start_session(const httplib::Request& req, httplib::Response& res, const std::string& handle) {
    const social::NewSession s = social_.create_session(handle, kSessionSeconds);
    set_cookie(res, req, kSessionCookie, s.token, kSessionSeconds, "Lax");
    return json{{"user", me_json(handle)}, {"csrf", s.session.csrf}};
  }

  json public_user_json(const social::User& u) {
    const std::string avatar = avatar_url(s_.cameos, u.handle);
    json out{{"handle", u.handle}, {"display_name", u.display_name}, {"bio", u.bio},
             {"avatar", avatar.empty() ? json(nullptr) : json(avatar)}, {"cameo", nullptr}};
    auto lease = s_.cameos.lease();
    for (const auto& cam : lease->registry.owned_by(u.handle))
      if (cam.kind == cameo::CameoKind::person && cam.state == cameo::CameoState::active) {
        out["cameo"] = "@" + cam.handle;
        break;
      }
    return out;
  }
  json me_json(const std::string& handle) {
    const auto u = social_.user(handle);
    if (!u) throw unauthorized();
    json out = public_user_json(*u);
    out["moderator"] = u->role == social::Role::moderator;
    return out;
  }

  json post_json(const social::Post& p, const Ctx& c) {
    json out{{"id", p.video_id}, {"creator", p.user}, {"caption", p.caption}, {"published_at", p.published_at},
             {"likes", p.likes}, {"comments", p.comments}, {"remixes", p.remixes},
             {"remixed_from_video_id", p.parent_id.empty() ? json(nullptr) : json(p.parent_id)},
             {"video_url", "/app/media/" + p.video_id + "/video"}, {"poster_url", "/app/media/" + p.video_id + "/thumbnail"}};
    if (c.session) out["liked"] = social_.liked(p.video_id, c.session->user);
    if (const auto v = s_.store.video(p.video_id)) {
      out["model"] = model_that_ran(*v);
      out["seconds"] = v->seconds;
      out["size"] = v->size;
      out["dialogue"] = dialogue_of(v->prompt);
    }
    return out;
  }

  // The dialogue lines of a prompt ("Dialogue: ..." lines, or quoted speech), for the clip's
  // caption track.
  static json dialogue_of(const std::string& prompt) {
    json lines = json::array();
    std::istringstream in(prompt);
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("Dialogue:", 0) == 0) {
        std::string text = line.substr(9);
        while (!text.empty() && text.front() == ' ') text.erase(0, 1);
        if (!text.empty()) lines.push_back(text);
      }
    }
    return lines;
  }

  json video_json(const store::VideoRecord& v, const Ctx& c) {
    const bool mine = c.session && c.session->user == v.user;
    json out{{"id", v.id}, {"creator", v.user}, {"status", store::name(v.status)}, {"progress", v.progress},
             {"created_at", v.created_at}, {"size", v.size}, {"seconds", v.seconds}, {"model", v.model},
             {"resolved_model", model_that_ran(v)},
             {"remixed_from_video_id", v.remixed_from.empty() ? json(nullptr) : json(v.remixed_from)},
             {"video_url", "/app/media/" + v.id + "/video"}, {"poster_url", "/app/media/" + v.id + "/thumbnail"},
             {"mine", mine}, {"dialogue", dialogue_of(v.prompt)}};
    if (mine) out["prompt"] = v.prompt;
    if (!v.error_code.empty()) out["error"] = {{"code", v.error_code}, {"message", v.error_message}};
    const auto p = social_.post(v.id);
    out["published"] = p.has_value() && !p->hidden;
    if (p) {
      out["caption"] = p->caption;
      out["likes"] = p->likes;
      out["comments"] = p->comments;
      out["remixes"] = p->remixes;
      if (c.session) out["liked"] = social_.liked(v.id, c.session->user);
    }
    return out;
  }

  json comment_json(const social::Comment& m) {
    return {{"id", m.id}, {"user", m.user}, {"text", m.text}, {"created_at", m.created_at}};
  }

  // A published clip the viewer may see (not hidden, creator not banned, no block between
  // them), or 404.
  void public_for(const Ctx& c, const std::string& id) {
    const auto p = social_.post(id);
    if (!p || !social_.is_public(id) || (c.session && social_.block_set(c.session->user).count(p->user)))
      throw not_found("no published clip " + id);
  }

  // A video the viewer may see: their own (draft or not), a public clip, or one that used a
  // cameo of theirs (others' drafts included). Otherwise 404.
  store::VideoRecord visible(const Ctx& c, const std::string& id) {
    const auto v = s_.store.video(id);
    if (!v) throw not_found("no video " + id);
    if (c.session && c.session->user == v->user) return *v;
    if (social_.is_public(id) && !(c.session && social_.block_set(c.session->user).count(v->user))) return *v;
    if (c.session) {
      auto lease = s_.cameos.lease();
      for (const auto& cam : lease->registry.owned_by(c.session->user)) {
        const auto used = lease->registry.videos_using(cam.id, c.session->user);
        if (std::find(used.begin(), used.end(), id) != used.end()) return *v;
      }
    }
    throw not_found("no video " + id);
  }

  // Ancestors (root first, each public or the viewer's; a hidden one shows as private) and the
  // published direct remixes of this clip.
  json chain_json(const store::VideoRecord& v, const Ctx& c) {
    json ancestors = json::array();
    std::string parent = v.remixed_from;
    for (int depth = 0; !parent.empty() && depth < 50; ++depth) {
      const auto p = s_.store.video(parent);
      if (!p) {
        ancestors.insert(ancestors.begin(), json{{"id", nullptr}, {"private", true}});
        break;
      }
      const bool can_see = (c.session && c.session->user == p->user) || social_.is_public(p->id);
      ancestors.insert(ancestors.begin(), can_see ? json{{"id", p->id}, {"creator", p->user}, {"caption", social_.post(p->id) ? social_.post(p->id)->caption : ""}}
                                                  : json{{"id", nullptr}, {"private", true}});
      parent = p->remixed_from;
    }
    json remixes = json::array();
    for (const auto& r : social_.remixes_of(v.id)) remixes.push_back({{"id", r.video_id}, {"creator", r.user}, {"caption", r.caption}, {"remixes", r.remixes}});
    return json{{"ancestors", ancestors}, {"remixes", remixes}};
  }

  json usable_cameos(const std::string& me) {
    auto lease = s_.cameos.lease();
    std::set<std::string> people{me};
    for (auto& u : lease->registry.following(me)) people.insert(u);
    for (auto& u : lease->registry.followers(me)) people.insert(u);
    json out = json::array();
    for (const auto& owner : people)
      for (const auto& cam : lease->registry.owned_by(owner))
        if (lease->registry.may_use(me, cam).allowed)
          out.push_back({{"id", cam.id}, {"handle", "@" + cam.handle}, {"name", cam.display_name}, {"owner", cam.owner}});
    return out;
  }

  // The composer: the prompt with the prompt guide's optional fields as labelled lines.
  store::VideoRecord create(const std::string& me, const json& b) {
    std::string prompt = text_field(b, "prompt");
    for (const auto& [field, label] : std::vector<std::pair<const char*, const char*>>{
             {"scene", "Scene"}, {"camera", "Camera"}, {"lens", "Lens"}, {"audio", "Audio"}, {"dialogue", "Dialogue"}, {"avoid", "Avoid"}}) {
      std::string value = text_field(b, field);
      if (value.empty()) continue;
      for (char& ch : value)
        if (ch == '\n' || ch == '\r') ch = ' ';
      prompt += std::string(prompt.empty() ? "" : "\n") + label + ": " + value;
    }
    // Cameos picked in the composer, by @handle: for a new clip and for a remix alike (the
    // remix's own checks then apply to them, as to its source's).
    std::vector<std::string> characters;
    if (b.contains("cameos")) {
      if (!b["cameos"].is_array() || b["cameos"].size() > cameo::kMaxCameosPerVideo)
        throw InvalidArgument("cameos", "at most two cameos, by @handle");
      auto lease = s_.cameos.lease();
      for (const auto& h : b["cameos"]) {
        if (!h.is_string()) throw InvalidArgument("cameos", "cameos are @handles");
        const auto cam = lease->registry.find_by_handle(h.get<std::string>());
        if (!cam) throw InvalidArgument("cameos", "no cameo " + h.get<std::string>());
        characters.push_back(cam->id);
      }
    }
    const std::string remix_of = text_field(b, "remix_of");
    if (!remix_of.empty())
      return s_.videos.remix_shared(caller(me), remix_of, prompt, [this](const store::VideoRecord& v) { return social_.is_public(v.id); },
                                    characters);
    CreateVideo create;
    create.prompt = prompt;
    create.visible_watermark = true;
    if (auto m = text_field(b, "model"); !m.empty()) create.model = m;
    if (auto s = text_field(b, "seconds"); !s.empty()) create.seconds = s;
    if (auto s = text_field(b, "size"); !s.empty()) create.size = s;
    if (auto img = text_field(b, "image"); !img.empty()) {
      if (img.rfind("data:", 0) != 0) throw InvalidArgument("image", "the first frame must be an uploaded image");
      create.input_reference = data_url_bytes(img);
    }
    create.characters = std::move(characters);
    return s_.videos.create(caller(me), create);
  }

  AppRegistrar routes_;
  AppServices s_;
  social::SocialStore social_;
  social::LoginLimiter limiter_;
  social::LoginLimiter signups_{10, std::chrono::seconds(3600)};
};

}  // namespace

std::string AppApi::signed_in(const std::optional<std::string>& user) {
  if (!user) throw unauthorized();
  return *user;
}

std::shared_ptr<void> add_app_routes(const AppRegistrar& routes, const AppServices& services) {
  auto app = std::make_shared<App>(routes, services);
  app->install();
  return app;
}

}  // namespace opsis::server
