// The app's cameo page (issue #13) over the cameo registry, consent ledger and liveness
// challenges (src/cameo): the same store the Videos API and the CLI use, not a second one.
//
// Enrollment: a one-time challenge (a phrase to say and a head turn, 5 minutes), then a
// recording (getUserMedia's MediaRecorder WebM or an uploaded MP4/WebM) sent with it; the
// challenge is redeemed (once, before it expires), the recording kept as the cameo's
// reference media, and the cameo activated (only_me until its owner says otherwise). The
// recording is checked against the challenge (the phrase heard, one face turning as asked:
// src/cameo/recording_check.hpp, as `opsis serve --cameo-checks` says) before the cameo is
// made. The operations are CameoService's (cameos.cpp), shared with /v1/cameos
// (cameo_routes.cpp).
#include <nlohmann/json.hpp>

#include "cameo/liveness.hpp"
#include "cameo/registry.hpp"
#include "core/error.hpp"
#include "server/api_error.hpp"
#include "server/app_routes.hpp"
#include "server/cameos.hpp"
#include "server/encoding.hpp"
#include "server/mp4_probe.hpp"
#include "media/mp4.hpp"
#include "media/variants.hpp"

#include <map>
#include <mutex>

namespace opsis::server {

namespace {

using nlohmann::json;

constexpr size_t kMaxRecordingBytes = 24u << 20;

// Registry exceptions in the API's terms (an unknown challenge is a 400 here).
template <typename F>
auto registry_call(F&& f) -> decltype(f()) {
  return cameo_api_call(std::forward<F>(f), false);
}

std::string text(const json& j, const char* name) {
  if (!j.contains(name) || j[name].is_null()) return "";
  if (!j[name].is_string()) throw InvalidArgument(name, std::string(name) + " must be a string");
  return j[name].get<std::string>();
}

json body_of(const httplib::Request& req) {
  json j = req.body.empty() ? json::object() : json::parse(req.body);
  if (!j.is_object()) throw InvalidArgument("body", "the body must be a JSON object");
  return j;
}

// A recording: an MP4 the probe accepts, or a WebM (EBML header), as a base64 data: URL.
std::string recording_bytes(const std::string& url) {
  const size_t comma = url.find(',');
  if (url.rfind("data:", 0) != 0 || comma == std::string::npos || url.substr(0, comma).find(";base64") == std::string::npos)
    throw InvalidArgument("recording", "the recording must be a base64 data: URL");
  auto bytes = base64_decode(url.substr(comma + 1));
  if (!bytes || bytes->empty()) throw InvalidArgument("recording", "the recording's base64 data is malformed");
  if (bytes->size() > kMaxRecordingBytes) throw InvalidArgument("recording", "the recording is larger than 24 MiB");
  std::string data(bytes->begin(), bytes->end());
  const bool webm = data.size() > 4 && static_cast<unsigned char>(data[0]) == 0x1A && static_cast<unsigned char>(data[1]) == 0x45 &&
                    static_cast<unsigned char>(data[2]) == 0xDF && static_cast<unsigned char>(data[3]) == 0xA3;
  if (!webm) probe_mp4(data);  // throws InvalidArgument for what is not an MP4
  return data;
}

// The person cameo a user's avatar comes from: their newest active one.
std::optional<cameo::Cameo> portrait_cameo(CameoConnections& cameos, const std::string& handle) {
  auto lease = cameos.lease();
  std::optional<cameo::Cameo> best;
  for (const auto& c : lease->registry.owned_by(handle))
    if (c.kind == cameo::CameoKind::person && c.state == cameo::CameoState::active && !c.reference_media.empty() &&
        (!best || c.created_at >= best->created_at))
      best = c;
  return best;
}

}  // namespace

std::string avatar_url(CameoConnections& cameos, const std::string& handle) {
  const auto c = portrait_cameo(cameos, handle);
  return c ? "/app/media/avatar/" + handle + "?v=" + c->id.substr(6, 8) : "";
}

void add_app_cameo_routes(const AppApi& api) {
  const AppServices& s = api.services;

  // Avatars: a frame of the recording, decoded once per cameo and kept (small WebP).
  struct AvatarCache {
    std::mutex mutex;
    std::map<std::string, std::string> webp_by_cameo;
  };
  auto cache = std::make_shared<AvatarCache>();
  api.raw_get(R"(/app/media/avatar/([a-z0-9_]{3,30}))", [&s, cache](const httplib::Request& req, httplib::Response& res) {
    const auto c = portrait_cameo(s.cameos, req.matches[1]);
    if (!c) throw not_found("no avatar");
    std::string webp;
    {
      std::lock_guard lock(cache->mutex);
      if (auto it = cache->webp_by_cameo.find(c->id); it != cache->webp_by_cameo.end()) webp = it->second;
    }
    if (webp.empty()) {
      const auto path = s.blobs.local_path(c->reference_media.front());
      if (!path) throw not_found("no avatar");
      const media::Mp4Contents contents = media::read_mp4(*path);
      const std::vector<uint8_t> bytes = media::make_thumbnail(contents.video, 256);
      webp.assign(bytes.begin(), bytes.end());
      std::lock_guard lock(cache->mutex);
      if (cache->webp_by_cameo.size() > 1000) cache->webp_by_cameo.clear();
      cache->webp_by_cameo[c->id] = webp;
    }
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_header("Cache-Control", "public, max-age=300");
    res.set_content(webp, "image/webp");
  });

  api.get("/app/api/cameos/mine", [&s](const std::optional<std::string>& user, const httplib::Request&, httplib::Response&) {
    const std::string me = AppApi::signed_in(user);
    auto lease = s.cameos.lease();
    json data = json::array();
    for (const auto& c : lease->registry.owned_by(me)) data.push_back(cameo::to_json(c, true));
    return json{{"data", data}};
  });

  api.post("/app/api/cameos/challenge", [&s](const std::optional<std::string>& user, const httplib::Request&, httplib::Response&) {
    const std::string me = AppApi::signed_in(user);
    const cameo::LivenessChallenge c = cameo_api_call([&] { return s.cameo_service->issue_challenge(me); }, false);
    return json{{"id", c.id}, {"instructions", c.instructions()}, {"phrase", c.phrase()}, {"head_turn", cameo::name(c.head_turn)},
                {"expires_at", c.expires_at}};
  });

  api.post("/app/api/cameos/enroll", [&s](const std::optional<std::string>& user, const httplib::Request& req, httplib::Response&) {
    const std::string me = AppApi::signed_in(user);
    const json b = body_of(req);
    const std::string recording = recording_bytes(text(b, "recording"));
    Enrollment wanted;  // the same enrollment as POST /v1/cameos (CameoService, cameos.cpp)
    wanted.owner = me;
    wanted.handle = text(b, "handle");
    wanted.display_name = text(b, "display_name");
    wanted.kind = cameo::CameoKind::person;
    wanted.challenge_id = text(b, "challenge_id");
    wanted.recording = recording;
    return registry_call([&] { return cameo::to_json(s.cameo_service->enroll(wanted), true); });
  });

  // Through CameoService (cameos.cpp), as /v1/cameos: lowering who may use a cameo stops the
  // queued and running jobs that may no longer use it.
  auto owned_change = [&s](auto change) {
    return [&s, change](const std::optional<std::string>& user, const httplib::Request& req, httplib::Response&) {
      const std::string me = AppApi::signed_in(user);
      const std::string id = req.matches[1];
      const json b = body_of(req);
      return registry_call([&] { return cameo::to_json(change(*s.cameo_service, id, me, b, req), true); });
    };
  };
  const std::string cameo_path = R"(/app/api/cameos/(cameo_[0-9a-f]+))";
  api.post(cameo_path + "/permission", owned_change([](CameoService& r, const std::string& id, const std::string& me, const json& b, const httplib::Request&) {
    return r.set_permission(me, id, cameo::permission_from_name(text(b, "permission")));
  }));
  api.post(cameo_path + "/approve", owned_change([](CameoService& r, const std::string& id, const std::string& me, const json& b, const httplib::Request&) {
    std::string who = text(b, "user");
    if (who.rfind('@', 0) == 0) who.erase(0, 1);
    return r.approve(me, id, who);
  }));
  api.del(cameo_path + R"(/approve/([a-z0-9_]{1,64}))", owned_change([](CameoService& r, const std::string& id, const std::string& me, const json&, const httplib::Request& req) {
    return r.unapprove(me, id, req.matches[2]);
  }));
  api.post(cameo_path + "/restrictions", owned_change([](CameoService& r, const std::string& id, const std::string& me, const json& b, const httplib::Request&) {
    std::vector<std::string> rules;
    if (b.contains("restrictions")) {
      if (!b["restrictions"].is_array()) throw InvalidArgument("restrictions", "restrictions is a list of sentences");
      for (const auto& item : b["restrictions"]) {
        if (!item.is_string()) throw InvalidArgument("restrictions", "restrictions is a list of sentences");
        if (!item.get<std::string>().empty()) rules.push_back(item.get<std::string>());
      }
    }
    return r.set_restrictions(me, id, rules);
  }));
  api.post(cameo_path + "/revoke", owned_change([](CameoService& r, const std::string& id, const std::string& me, const json&, const httplib::Request&) {
    return r.revoke(me, id);
  }));
  api.del(cameo_path, [&s](const std::optional<std::string>& user, const httplib::Request& req, httplib::Response&) {
    const std::string me = AppApi::signed_in(user);
    const std::string id = req.matches[1];
    registry_call([&] {
      s.cameo_service->remove(me, id);
      return 0;
    });
    return json{{"id", id}, {"deleted", true}};
  });

  // "Videos with me": every video the cameo was used in (others' drafts included), which its
  // owner may delete.
  api.get(cameo_path + "/videos", [&s](const std::optional<std::string>& user, const httplib::Request& req, httplib::Response&) {
    const std::string me = AppApi::signed_in(user);
    const std::vector<store::VideoRecord> videos = registry_call([&] { return s.cameo_service->videos(me, req.matches[1]); });
    json data = json::array();
    for (const auto& found : videos) {
      const store::VideoRecord* v = &found;
      data.push_back({{"id", v->id}, {"creator", v->user}, {"status", store::name(v->status)}, {"created_at", v->created_at},
                      {"poster_url", "/app/media/" + v->id + "/thumbnail"}});
    }
    return json{{"data", data}};
  });
  api.del(cameo_path + R"(/videos/(video_[0-9a-f]+))", [&s, unpublished = api.unpublished](const std::optional<std::string>& user, const httplib::Request& req, httplib::Response&) {
    const std::string me = AppApi::signed_in(user);
    const std::string video_id = req.matches[2];
    registry_call([&] {
      s.cameo_service->delete_video(me, req.matches[1], video_id);
      return 0;
    });
    unpublished(video_id);
    return json{{"id", video_id}, {"deleted", true}};
  });
}

}  // namespace opsis::server
