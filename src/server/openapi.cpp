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
  // Named, not `errors().items()` in the range-for: items() only refers to the json it is
  // called on, and a temporary there dies before the loop runs (C++20 extends the lifetime of
  // the range expression's result only, not of temporaries inside it). Iterating the freed
  // object's std::map crashed `opsis serve` in std::_Rb_tree_increment (GET /openapi.json).
  const json shared = errors();
  for (const auto& [code, body] : shared.items())
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
  multipart["input_reference[image_url]"] = {{"type", "string"}, {"description", "a data: URL, or an https:// URL of a public host"}};
  multipart["input_reference[file_id]"] = {{"type", "string"}, {"description", "a file of yours uploaded with purpose vision"}};
  multipart["characters[0][id]"] = {{"type", "string"}, {"description", "a cameo (character) you may use; characters[1][id] for a second"}};
  json as_json = props;
  as_json["characters"] = {{"type", "array"}, {"maxItems", 2},
                           {"description", "cameos (characters) in the video: each one you may use now, checked again before generation"},
                           {"items", {{"type", "object"}, {"required", {"id"}}, {"properties", {{"id", {{"type", "string"}}}}}}}};
  as_json["input_reference"] = {{"type", "object"},
                                {"description", "exactly one of image_url (data: or https:// of a public host) and file_id (purpose vision)"},
                                {"properties", {{"image_url", {{"type", "string"}}}, {"file_id", {{"type", "string"}}}}}};
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
  const json file = {{"type", "object"},
                     {"required", {"id", "object", "bytes", "created_at", "filename", "purpose"}},
                     {"properties", {{"id", {{"type", "string"}}}, {"object", {{"const", "file"}}}, {"bytes", {{"type", "integer"}}},
                                     {"created_at", {{"type", "integer"}}}, {"expires_at", {{"type", {"integer", "null"}}}},
                                     {"filename", {{"type", "string"}}}, {"purpose", {{"type", "string"}}},
                                     {"status", {{"type", "string"}}}}}};
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
  // characters: [{id}] on remix, edit and extend as on create (the same checks).
  const json characters = create_body()["content"]["application/json"]["schema"]["properties"]["characters"];
  json remix_body;
  remix_body["required"] = true;
  remix_body["content"]["application/json"]["schema"] = {
      {"type", "object"}, {"required", {"prompt"}}, {"properties", {{"prompt", {{"type", "string"}}}, {"characters", characters}}}};
  paths["/v1/videos/{video_id}/remix"]["post"] = {
      {"operationId", "remixVideo"}, {"security", bearer}, {"parameters", {id_parameter()}},
      {"requestBody", remix_body},
      {"responses", with_errors({{"200", polled_response}})}};
  // Edits and extensions: `video` as {id} of a completed video, or an uploaded MP4 (multipart).
  const json video_source = {{"oneOf", {{{"type", "object"}, {"required", {"id"}}, {"properties", {{"id", {{"type", "string"}}}}}},
                                        {{"type", "string"}, {"format", "binary"}, {"description", "an MP4 (multipart only)"}}}}};
  auto source_body = [&](json props, json required) {
    const json schema = {{"type", "object"}, {"required", required}, {"properties", props}};
    return json{{"required", true}, {"content", {{"application/json", {{"schema", schema}}}, {"multipart/form-data", {{"schema", schema}}}}}};
  };
  paths["/v1/videos/edits"]["post"] = {
      {"operationId", "editVideo"}, {"security", bearer},
      {"description", "A new video from the source's model, size and length with a new prompt. From {id}: remixed_from_video_id names "
                      "the source. From an upload: the default model, starting from the upload's first frame."},
      {"requestBody", source_body({{"prompt", {{"type", "string"}}}, {"video", video_source}, {"characters", characters}}, {"video", "prompt"})},
      {"responses", with_errors({{"200", polled_response}})}};
  paths["/v1/videos/extensions"]["post"] = {
      {"operationId", "extendVideo"}, {"security", bearer},
      {"description", "The source's frames and sound, then `seconds` more; the response's seconds is the stitched total."},
      {"requestBody", source_body({{"prompt", {{"type", "string"}}}, {"seconds", {{"type", "string"}}}, {"video", video_source}, {"characters", characters}},
                                  {"video", "prompt", "seconds"})},
      {"responses", with_errors({{"200", polled_response}})}};
  const json file_id = {{"name", "file_id"}, {"in", "path"}, {"required", true}, {"schema", {{"type", "string"}}}};
  paths["/v1/files"]["post"] = {
      {"operationId", "createFile"}, {"security", bearer},
      {"description", "Stores an image (PNG, JPEG or WebP) for input_reference: {file_id}; only purpose vision, owned by the uploading user."},
      {"requestBody", {{"required", true}, {"content", {{"multipart/form-data", {{"schema", {{"type", "object"}, {"required", {"file", "purpose"}},
                                                                                           {"properties", {{"file", {{"type", "string"}, {"format", "binary"}}},
                                                                                                           {"purpose", {{"enum", {"vision"}}}}}}}}}}}}}},
      {"responses", with_errors({{"200", json_response("The file object", ref("File"))}})}};
  paths["/v1/files"]["get"] = {{"operationId", "listFiles"}, {"security", bearer},
                               {"parameters", {{{"name", "limit"}, {"in", "query"}, {"schema", {{"type", "integer"}, {"minimum", 1}, {"maximum", 10000}}}},
                                               {{"name", "purpose"}, {"in", "query"}, {"schema", {{"type", "string"}}}}}},
                               {"responses", with_errors({{"200", {{"description", "The caller's files, newest first"}}}})}};
  paths["/v1/files/{file_id}"]["get"] = {{"operationId", "retrieveFile"}, {"security", bearer}, {"parameters", {file_id}},
                                         {"responses", with_errors({{"200", json_response("The file object", ref("File"))}})}};
  paths["/v1/files/{file_id}"]["delete"] = {{"operationId", "deleteFile"}, {"security", bearer}, {"parameters", {file_id}},
                                            {"responses", with_errors({{"200", {{"description", "{id, object: file, deleted: true}"}}}})}};
  paths["/v1/files/{file_id}/content"]["get"] = {{"operationId", "downloadFile"}, {"security", bearer}, {"parameters", {file_id}},
                                                 {"responses", with_errors({{"200", {{"description", "The file's bytes"}}}})}};
  const json character_id = {{"name", "character_id"}, {"in", "path"}, {"required", true}, {"schema", {{"type", "string"}}}};
  paths["/v1/videos/characters"]["post"] = {
      {"operationId", "createCharacter"}, {"security", bearer},
      {"requestBody", {{"required", true}, {"content", {{"multipart/form-data", {{"schema", {{"type", "object"}, {"required", {"video", "name"}},
          {"properties", {{"video", {{"type", "string"}, {"format", "binary"}, {"description", "an MP4 of the character"}}},
                          {"name", {{"type", "string"}, {"minLength", 1}, {"maxLength", 80}}}}}}}}}}}}},
      {"responses", with_errors({{"200", json_response("The character (a cameo of kind character, only_me)", ref("VideoCharacter"))}})}};
  paths["/v1/videos/characters/{character_id}"]["get"] = {
      {"operationId", "getCharacter"}, {"security", bearer}, {"parameters", {character_id}},
      {"responses", with_errors({{"200", json_response("The character", ref("VideoCharacter"))}})}};
  // /v1/cameos (issue #12, cameo_routes.cpp): opsis's own resource, not in OpenAI's API.
  const json cameo_id = {{"name", "cameo_id"}, {"in", "path"}, {"required", true}, {"schema", {{"type", "string"}}}};
  const json cameo_body = {{"description", "The cameo: id, object cameo, handle (@...), name, owner, kind, permission, state, approved, "
                                           "restrictions, reference_media (the recording's blob id, then the portrait PNG's "
                                           "when a likeness was read), likeness ({skin, hair_color, hair_style, shirt, "
                                           "accessory}: the nearest studio identity read from a person's recording, which the "
                                           "built-in model draws for the @handle; null when none was read), created_at, "
                                           "updated_at"}};
  auto cameo_op = [&](const std::string& id, const std::string& description, json extra = json::object()) {
    json op = {{"operationId", id}, {"security", bearer}, {"parameters", {cameo_id}}, {"description", description},
               {"responses", with_errors({{"200", cameo_body}})}};
    op.update(extra);
    return op;
  };
  paths["/v1/cameos/challenges"]["post"] = {
      {"operationId", "createCameoChallenge"}, {"security", bearer},
      {"description", "A one-time liveness challenge for the caller: a phrase to say and a head turn (left, right, up, down), "
                      "valid a few minutes: {id, object: cameo.challenge, phrase, head_turn, instructions, created_at, expires_at}"},
      {"responses", with_errors({{"200", {{"description", "The challenge"}}},
                                 {"429", {{"description", "Already 5 open challenges (rate_limit_error, rate_limit_exceeded; Retry-After)"}}}})}};
  paths["/v1/cameos"]["post"] = {
      {"operationId", "enrollCameo"}, {"security", bearer},
      {"description", "Enrolls a cameo from a 3-10 s MP4 or WebM recording with sound (at most 24 MiB) answering an unexpired, "
                      "unused challenge of the caller's. A person's recording must say the challenge's phrase and show one face "
                      "turning the asked way (errors recording_no_speech_match, recording_no_face, recording_several_faces, "
                      "recording_no_head_turn, recording_face_changed, recording_still_image, recording_no_sound, "
                      "recording_duration, recording_unreadable; param video); a refusal for what the recording shows or says "
                      "spends the challenge, one for a file that cannot be read does not. Active and only_me."},
      {"requestBody", {{"required", true}, {"content", {{"multipart/form-data", {{"schema", {{"type", "object"}, {"required", {"video", "handle", "challenge_id"}},
          {"properties", {{"video", {{"type", "string"}, {"format", "binary"}}}, {"handle", {{"type", "string"}}}, {"name", {{"type", "string"}}},
                          {"kind", {{"enum", {"person", "character"}}}}, {"challenge_id", {{"type", "string"}}}}}}}}}}}}},
      {"responses", with_errors({{"200", cameo_body}})}};
  paths["/v1/cameos"]["get"] = {{"operationId", "listCameos"}, {"security", bearer},
                                {"responses", with_errors({{"200", {{"description", "{object: list, data: the caller's cameos}"}}}})}};
  paths["/v1/cameos/{cameo_id}"]["get"] = cameo_op("getCameo", "The caller's cameo (another user's is 404)");
  paths["/v1/cameos/{cameo_id}"]["delete"] = cameo_op("deleteCameo", "Deletes the cameo; its handle becomes free; the ledger keeps its history");
  paths["/v1/cameos/{cameo_id}/permission"]["post"] = cameo_op(
      "setCameoPermission", "JSON {permission: only_me|approved|mutuals|everyone, approved?: [user]}; queued and running jobs "
                            "whose requester may no longer use the cameo fail at once");
  paths["/v1/cameos/{cameo_id}/restrictions"]["post"] = cameo_op("setCameoRestrictions", "JSON {restrictions: [sentence]}");
  paths["/v1/cameos/{cameo_id}/revoke"]["post"] =
      cameo_op("revokeCameo", "Revokes the cameo: queued and running jobs using it fail at once with cameo_revoked");
  paths["/v1/cameos/{cameo_id}/videos"]["get"] = cameo_op("listCameoVideos", "Every video using the cameo, other users' drafts included");
  paths["/v1/cameos/{cameo_id}/videos/{video_id}"]["delete"] = cameo_op(
      "deleteCameoVideo", "Deletes a video that used the cameo, as the cameo's owner",
      {{"parameters", {cameo_id, {{"name", "video_id"}, {"in", "path"}, {"required", true}, {"schema", {{"type", "string"}}}}}}});
  paths["/v1/cameos/{cameo_id}/ledger"]["get"] = cameo_op(
      "getCameoLedger", "The cameo's consent events with inclusion proofs and a signed tree head (opsis-consent-ledger-bundle/v1); "
                        "check it offline with `opsis ledger verify`");
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
        {"schemas", {{"Video", video}, {"VideoList", list}, {"VideoDeleted", deleted}, {"File", file}, {"Error", error},
                     {"VideoCharacter", {{"type", "object"}, {"required", {"id", "name", "created_at"}},
                                         {"properties", {{"id", {{"type", {"string", "null"}}}}, {"name", {{"type", {"string", "null"}}}},
                                                         {"created_at", {{"type", "integer"}}}}}}}}}}},
      {"paths", paths}};
  return document.dump(2);
}

}  // namespace opsis::server
