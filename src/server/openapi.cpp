// The OpenAPI 3.1 document of what `opsis serve` serves (GET /v1/openapi.json).
#include <nlohmann/json.hpp>

#include "server/http_server.hpp"

namespace opsis::server {

namespace {

using nlohmann::json;

json ref(const std::string& name) { return {{"$ref", "#/components/schemas/" + name}}; }

json json_response(const std::string& description, const json& schema) {
  return {{"description", description}, {"content", {{"application/json", {{"schema", schema}}}}}};
}

json errors() {
  json out;
  for (const auto& [code, text] : std::vector<std::pair<std::string, std::string>>{
           {"400", "Invalid field (named in error.param)"}, {"401", "Missing or invalid API key"},
           {"404", "No such video for this key's user, or content not ready"}, {"413", "Request body or image too large"},
           {"429", "Too many active jobs or jobs per minute (Retry-After)"}, {"500", "Internal error"}})
    out[code] = json_response(text, ref("Error"));
  return out;
}

json id_parameter() {
  return {{"name", "video_id"}, {"in", "path"}, {"required", true}, {"schema", {{"type", "string"}}}};
}

json with_errors(json responses) {
  for (auto& [code, body] : errors().items())
    if (!responses.contains(code)) responses[code] = body;
  return responses;
}

json create_body() {
  json props = {{"prompt", {{"type", "string"}, {"minLength", 1}, {"maxLength", 32000}}},
                {"model", {{"type", "string"}, {"description", "sora-2 (alias of the default model) or opsis-studio; see GET /v1/models"}}},
                {"seconds", {{"type", "string"}, {"description", "\"4\", \"8\", \"12\", ... up to \"25\"; opsis-studio takes any whole number 1-25"}}},
                {"size", {{"type", "string"}, {"description", "720x1280, 1280x720, 1024x1792, 1792x1024, or a model's smaller sizes (GET /v1/models)"}}}};
  json multipart = props;
  multipart["input_reference"] = {{"type", "string"}, {"format", "binary"}, {"description", "PNG, JPEG or WebP: the first frame"}};
  multipart["input_reference[image_url]"] = {{"type", "string"}, {"description", "a data: URL of the image"}};
  json as_json = props;
  as_json["input_reference"] = {{"type", "object"}, {"properties", {{"image_url", {{"type", "string"}}}}}};
  json body;
  body["required"] = true;
  body["content"]["multipart/form-data"]["schema"] = {{"type", "object"}, {"required", {"prompt"}}, {"properties", multipart}};
  body["content"]["application/json"]["schema"] = {{"type", "object"}, {"required", {"prompt"}}, {"properties", as_json}};
  return body;
}

}  // namespace

std::string openapi_document() {
  const json bearer = json::array({{{"bearerAuth", json::array()}}});
  json video = {
      {"type", "object"},
      {"required", {"id", "object", "model", "status", "progress", "created_at", "completed_at", "expires_at", "prompt", "size",
                    "seconds", "remixed_from_video_id", "error"}},
      {"properties",
       {{"id", {{"type", "string"}}},
        {"object", {{"const", "video"}}},
        {"model", {{"type", "string"}, {"description", "the model name the request asked for (an alias such as sora-2 stays as asked)"}}},
        {"resolved_model", {{"type", "string"}, {"description", "opsis: the model that made the video (what an alias resolved to)"}}},
        {"status", {{"enum", {"queued", "in_progress", "completed", "failed"}}}},
        {"progress", {{"type", "integer"}, {"minimum", 0}, {"maximum", 100}}},
        {"created_at", {{"type", "integer"}}},
        {"completed_at", {{"type", {"integer", "null"}}}},
        {"expires_at", {{"type", {"integer", "null"}}}},
        {"prompt", {{"type", {"string", "null"}}}},
        {"size", {{"type", "string"}}},
        {"seconds", {{"type", "string"}}},
        {"remixed_from_video_id", {{"type", {"string", "null"}}}},
        {"error", {{"oneOf", {{{"type", "null"}}, {{"type", "object"}, {"properties", {{"code", {{"type", "string"}}}, {"message", {{"type", "string"}}}}}}}}}}}}};
  json error = {{"type", "object"},
                {"properties",
                 {{"error",
                   {{"type", "object"},
                    {"properties",
                     {{"message", {{"type", "string"}}}, {"type", {{"type", "string"}}}, {"param", {{"type", {"string", "null"}}}},
                      {"code", {{"type", {"string", "null"}}}},
                      {"request_id", {{"type", "string"}, {"description", "the response's x-request-id"}}}}}}}}}};
  json list = {{"type", "object"},
               {"properties",
                {{"object", {{"const", "list"}}}, {"data", {{"type", "array"}, {"items", ref("Video")}}},
                 {"first_id", {{"type", {"string", "null"}}}}, {"last_id", {{"type", {"string", "null"}}}},
                 {"has_more", {{"type", "boolean"}}}}}};
  json deleted = {{"type", "object"},
                  {"properties", {{"id", {{"type", "string"}}}, {"object", {{"const", "video.deleted"}}}, {"deleted", {{"type", "boolean"}}}}}};
  json poll_header = {{"openai-poll-after-ms", {{"description", "milliseconds to wait before polling an unfinished video again"},
                                                {"schema", {{"type", "integer"}}}}}};
  json video_response = json_response("The video object", ref("Video"));
  json polled_response = video_response;
  polled_response["headers"] = poll_header;

  json paths;
  paths["/v1/videos"]["post"] = {{"operationId", "createVideo"}, {"security", bearer}, {"requestBody", create_body()},
                                 {"responses", with_errors({{"200", polled_response}})}};
  paths["/v1/videos"]["get"] = {
      {"operationId", "listVideos"}, {"security", bearer},
      {"parameters",
       {{{"name", "limit"}, {"in", "query"}, {"schema", {{"type", "integer"}, {"minimum", 0}, {"maximum", 100}, {"default", 20}}}},
        {{"name", "order"}, {"in", "query"}, {"schema", {{"enum", {"asc", "desc"}}, {"default", "desc"}}}},
        {{"name", "after"}, {"in", "query"}, {"schema", {{"type", "string"}}}}}},
      {"responses", with_errors({{"200", json_response("A page of videos", ref("VideoList"))}})}};
  paths["/v1/videos/{video_id}"]["get"] = {{"operationId", "retrieveVideo"}, {"security", bearer}, {"parameters", {id_parameter()}},
                                           {"responses", with_errors({{"200", polled_response}})}};
  paths["/v1/videos/{video_id}"]["delete"] = {
      {"operationId", "deleteVideo"}, {"security", bearer}, {"parameters", {id_parameter()}},
      {"description", "Deletes the video and its files; a queued or running job is cancelled."},
      {"responses", with_errors({{"200", json_response("Deleted", ref("VideoDeleted"))}})}};
  paths["/v1/videos/{video_id}/content"]["get"] = {
      {"operationId", "downloadVideoContent"}, {"security", bearer},
      {"parameters", {id_parameter(), {{"name", "variant"}, {"in", "query"}, {"schema", {{"enum", {"video", "thumbnail", "spritesheet"}}, {"default", "video"}}}},
                      {{"name", "Range"}, {"in", "header"}, {"schema", {{"type", "string"}}}}}},
      {"responses",
       with_errors({{"200", {{"description", "video/mp4, image/webp (thumbnail) or image/jpeg (spritesheet)"},
                             {"content", {{"video/mp4", json::object()}, {"image/webp", json::object()}, {"image/jpeg", json::object()}}}}},
                    {"206", {{"description", "The requested byte range (Content-Range), or several as multipart/byteranges"}}},
                    {"416", {{"description", "The Range selects nothing within the file, or is malformed (Content-Range: bytes */length)"}}}})}};
  paths["/v1/videos/{video_id}/remix"]["post"] = {
      {"operationId", "remixVideo"}, {"security", bearer}, {"parameters", {id_parameter()}},
      {"requestBody", {{"required", true}, {"content", {{"application/json", {{"schema", {{"type", "object"}, {"required", {"prompt"}}, {"properties", {{"prompt", {{"type", "string"}}}}}}}}}}}}},
      {"responses", with_errors({{"200", polled_response}})}};
  json extend_props = {{"prompt", {{"type", "string"}}}, {"seconds", {{"type", "string"}}},
                       {"video", {{"type", "object"}, {"properties", {{"id", {{"type", "string"}}}}}}}};
  paths["/v1/videos/extensions"]["post"] = {
      {"operationId", "extendVideo"}, {"security", bearer},
      {"requestBody", {{"required", true}, {"content", {{"application/json", {{"schema", {{"type", "object"}, {"required", {"video", "prompt"}}, {"properties", extend_props}}}}},
                                                        {"multipart/form-data", {{"schema", {{"type", "object"}, {"description", "video[id], prompt, seconds"}}}}}}}}},
      {"responses", with_errors({{"200", polled_response}})}};
  paths["/v1/models"]["get"] = {{"operationId", "listModels"}, {"security", bearer},
                                {"responses", with_errors({{"200", {{"description", "Models, their sizes, lengths and input_reference handling"}}}})}};
  paths["/healthz"]["get"] = {{"operationId", "health"}, {"responses", {{"200", {{"description", "Serving; queue depth"}}}}}};
  paths["/metrics"]["get"] = {{"operationId", "metrics"}, {"responses", {{"200", {{"description", "Prometheus text format"}, {"content", {{"text/plain", json::object()}}}}}}}};

  const json document = {
      {"openapi", "3.1.0"},
      {"info", {{"title", "opsis"}, {"version", "0.1.0"}, {"description", "The OpenAI Videos API, served by opsis. Every response carries an x-request-id header (also in error bodies as error.request_id). Webhooks video.completed and video.failed are signed as OpenAI signs its webhooks (webhook-id, webhook-timestamp, webhook-signature)."}}},
      {"servers", {{{"url", "/"}}}},
      {"components",
       {{"securitySchemes", {{"bearerAuth", {{"type", "http"}, {"scheme", "bearer"}}}}},
        {"schemas", {{"Video", video}, {"VideoList", list}, {"VideoDeleted", deleted}, {"Error", error}}}}},
      {"paths", paths}};
  return document.dump(2);
}

}  // namespace opsis::server
