// /v1/cameos (issue #12) for API-key callers: liveness challenges, enrollment (multipart
// recording answering a challenge), the caller's cameos, permission (level and approved
// list), restrictions, revoke, delete, the videos that used a cameo (deletable by its owner)
// and its consent-ledger events with proofs. The operations themselves are CameoService's
// (cameos.cpp), shared with the app's cameo page; this file parses and serialises.
//
// Every route but challenge/enroll/list names a cameo: another user's is 404 as none is.
// Refusals are OpenAI-style errors with code and param, and leave no row and no blob.
#include <nlohmann/json.hpp>

#include "cameo/liveness.hpp"
#include "cameo/registry.hpp"
#include "core/error.hpp"
#include "server/api_error.hpp"
#include "server/cameos.hpp"
#include "server/mp4_probe.hpp"
#include "server/request_body.hpp"
#include "server/routes.hpp"

namespace opsis::server {

namespace {

using nlohmann::json;

constexpr size_t kMaxRecordingBytes = 24u << 20;
constexpr double kMinRecordingSeconds = 3.0;
constexpr double kMaxRecordingSeconds = 10.0;

const std::string kCameoPath = R"(/v1/cameos/(cameo_[0-9a-zA-Z]{1,64}))";

// Registry and challenge errors in the API's terms (an unknown challenge is a 404 here).
template <typename F>
auto api_call(F&& f) -> decltype(f()) {
  return cameo_api_call(std::forward<F>(f), true);
}

json cameo_json(const cameo::Cameo& c) {
  json out = cameo::to_json(c, true);
  out["object"] = "cameo";
  return out;
}

json json_body(const httplib::Request& req) {
  if (req.is_multipart_form_data()) throw InvalidArgument("", "send this request's body as JSON");
  json j = req.body.empty() ? json::object() : json::parse(req.body);  // json::exception -> 400 invalid_json
  if (!j.is_object()) throw InvalidArgument("", "the request body must be a JSON object");
  return j;
}

std::vector<std::string> string_list(const json& body, const char* field) {
  std::vector<std::string> out;
  if (!body.contains(field) || body[field].is_null()) return out;
  if (!body[field].is_array()) throw InvalidArgument(field, std::string(field) + " must be a list of strings");
  for (const auto& item : body[field]) {
    if (!item.is_string()) throw InvalidArgument(field, std::string(field) + " must be a list of strings");
    out.push_back(item.get<std::string>());
  }
  return out;
}

json video_json(const store::VideoRecord& v) {
  json out = {{"id", v.id},         {"object", "video"},       {"creator", v.user},
              {"status", store::name(v.status)}, {"progress", v.progress}, {"created_at", v.created_at},
              {"completed_at", v.completed_at ? json(v.completed_at) : json(nullptr)}, {"error", nullptr}};
  if (!v.error_code.empty()) out["error"] = {{"code", v.error_code}, {"message", v.error_message}};
  return out;
}

bool is_webm(const std::string& bytes) {
  return bytes.size() > 4 && static_cast<unsigned char>(bytes[0]) == 0x1A && static_cast<unsigned char>(bytes[1]) == 0x45 &&
         static_cast<unsigned char>(bytes[2]) == 0xDF && static_cast<unsigned char>(bytes[3]) == 0xA3;
}

// The enrollment recording: an MP4 of 3 to 10 seconds, or a WebM (a browser's MediaRecorder;
// its length is read when it is decoded), at most 24 MiB. Checked before anything is stored or
// the challenge spent; its content is CameoService::enroll's (cameo::RecordingChecker).
void check_recording(const std::string& mp4) {
  if (mp4.empty()) throw InvalidArgument("video", "the uploaded recording is empty");
  if (mp4.size() > kMaxRecordingBytes)
    throw ApiError(413, "invalid_request_error", "recording_too_large",
                   "the recording is " + std::to_string(mp4.size() >> 20) + " MiB; at most 24 MiB is accepted", "video");
  if (is_webm(mp4)) return;
  const Mp4Summary summary = probe_mp4(mp4);  // InvalidArgument("video") for anything but an MP4 with video
  if (summary.seconds < kMinRecordingSeconds - 0.05 || summary.seconds > kMaxRecordingSeconds + 0.05) {
    char text[160];
    std::snprintf(text, sizeof text, "the recording lasts %.1f s; record 3 to 10 seconds answering the challenge", summary.seconds);
    throw ApiError(400, "invalid_request_error", "recording_duration", text, "video");
  }
}

}  // namespace

void add_cameo_routes(const RouteRegistrar& routes, CameoService& cameos) {
  routes.post("/v1/cameos/challenges", [&cameos](const httplib::Request&, httplib::Response& res, const Caller& caller) {
    const cameo::LivenessChallenge c = api_call([&] { return cameos.issue_challenge(caller.user); });
    res.set_content(json{{"id", c.id},
                         {"object", "cameo.challenge"},
                         {"phrase", c.phrase()},
                         {"head_turn", cameo::name(c.head_turn)},
                         {"instructions", c.instructions()},
                         {"created_at", c.issued_at},
                         {"expires_at", c.expires_at}}
                        .dump(),
                    "application/json");
  });

  routes.post("/v1/cameos", [&cameos](const httplib::Request& req, httplib::Response& res, const Caller& caller) {
    if (!req.is_multipart_form_data())
      throw InvalidArgument("video", "enroll a cameo as multipart/form-data with the fields 'video' (an MP4 or WebM recording), "
                                     "'handle', 'kind' (person or character) and 'challenge_id'");
    const Body body(req);
    Enrollment enrollment;
    enrollment.owner = caller.user;
    enrollment.handle = body.required({"handle"}, "handle");
    enrollment.display_name = body.text({"name"}).value_or("");
    enrollment.kind = cameo::cameo_kind_from_name(body.text({"kind"}).value_or("person"));
    enrollment.challenge_id = body.required({"challenge_id"}, "challenge_id");
    auto video = body.file("video");
    if (!video) throw InvalidArgument("video", "missing required parameter: 'video' (the MP4 recording)");
    check_recording(*video);
    enrollment.recording = std::move(*video);
    res.set_content(api_call([&] { return cameo_json(cameos.enroll(enrollment)); }).dump(), "application/json");
  });

  routes.get("/v1/cameos", [&cameos](const httplib::Request&, httplib::Response& res, const Caller& caller) {
    json data = json::array();
    for (const auto& c : cameos.mine(caller.user)) data.push_back(cameo_json(c));
    res.set_content(json{{"object", "list"}, {"data", data}}.dump(), "application/json");
  });

  routes.get(kCameoPath, [&cameos](const httplib::Request& req, httplib::Response& res, const Caller& caller) {
    res.set_content(api_call([&] { return cameo_json(cameos.get(caller.user, req.matches[1])); }).dump(), "application/json");
  });

  routes.post(kCameoPath + "/permission", [&cameos](const httplib::Request& req, httplib::Response& res, const Caller& caller) {
    const json body = json_body(req);
    if (!body.contains("permission") || !body["permission"].is_string())
      throw InvalidArgument("permission", "permission is one of only_me, approved, mutuals, everyone");
    const cameo::Permission level = cameo::permission_from_name(body["permission"].get<std::string>());
    std::optional<std::vector<std::string>> approved;
    if (body.contains("approved") && !body["approved"].is_null()) approved = string_list(body, "approved");
    res.set_content(api_call([&] { return cameo_json(cameos.set_permission(caller.user, req.matches[1], level, approved)); }).dump(),
                    "application/json");
  });

  routes.post(kCameoPath + "/restrictions", [&cameos](const httplib::Request& req, httplib::Response& res, const Caller& caller) {
    const json body = json_body(req);
    if (!body.contains("restrictions")) throw InvalidArgument("restrictions", "missing required parameter: 'restrictions'");
    std::vector<std::string> rules;
    for (auto& rule : string_list(body, "restrictions"))
      if (!rule.empty()) rules.push_back(std::move(rule));
    res.set_content(api_call([&] { return cameo_json(cameos.set_restrictions(caller.user, req.matches[1], rules)); }).dump(),
                    "application/json");
  });

  routes.post(kCameoPath + "/revoke", [&cameos](const httplib::Request& req, httplib::Response& res, const Caller& caller) {
    res.set_content(api_call([&] { return cameo_json(cameos.revoke(caller.user, req.matches[1])); }).dump(), "application/json");
  });

  routes.del(kCameoPath, [&cameos](const httplib::Request& req, httplib::Response& res, const Caller& caller) {
    const std::string id = req.matches[1];
    api_call([&] {
      cameos.remove(caller.user, id);
      return 0;
    });
    res.set_content(json{{"id", id}, {"object", "cameo.deleted"}, {"deleted", true}}.dump(), "application/json");
  });

  routes.get(kCameoPath + "/videos", [&cameos](const httplib::Request& req, httplib::Response& res, const Caller& caller) {
    json data = json::array();
    for (const auto& v : api_call([&] { return cameos.videos(caller.user, req.matches[1]); })) data.push_back(video_json(v));
    res.set_content(json{{"object", "list"}, {"data", data}}.dump(), "application/json");
  });

  routes.del(kCameoPath + R"(/videos/([0-9a-zA-Z_]{1,80}))", [&cameos](const httplib::Request& req, httplib::Response& res, const Caller& caller) {
    const std::string video_id = req.matches[2];
    api_call([&] {
      cameos.delete_video(caller.user, req.matches[1], video_id);
      return 0;
    });
    res.set_content(json{{"id", video_id}, {"object", "video.deleted"}, {"deleted", true}}.dump(), "application/json");
  });

  routes.get(kCameoPath + "/ledger", [&cameos](const httplib::Request& req, httplib::Response& res, const Caller& caller) {
    res.set_content(api_call([&] { return cameos.ledger(caller.user, req.matches[1]); }).dump(), "application/json");
  });
}

}  // namespace opsis::server
