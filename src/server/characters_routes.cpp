// /v1/videos/characters routes: parse, call CharacterService, serialise as OpenAI's
// VideoCharacter ({id, name, created_at}).
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "server/cameos.hpp"
#include "server/request_body.hpp"
#include "server/routes.hpp"

namespace opsis::server {

namespace {

nlohmann::json character_json(const cameo::Cameo& c) {
  return {{"id", c.id}, {"name", c.display_name}, {"created_at", c.created_at}};
}

}  // namespace

void add_character_routes(const RouteRegistrar& routes, CharacterService& characters) {
  routes.post("/v1/videos/characters", [&characters](const httplib::Request& req, httplib::Response& res, const Caller& caller) {
    const auto upload = multipart_upload(req, "video", "upload a character as multipart/form-data with the fields 'video' (an MP4) and 'name'",
                                         "missing required parameter: 'video' (an MP4 file part)");
    const std::string name = upload.body.required({"name"}, "name");
    res.set_content(character_json(characters.create(caller, name, upload.part.content)).dump(), "application/json");
  });
  routes.get(R"(/v1/videos/characters/([^/]+))", [&characters](const httplib::Request& req, httplib::Response& res, const Caller& caller) {
    res.set_content(character_json(characters.retrieve(caller, req.matches[1])).dump(), "application/json");
  });
}

}  // namespace opsis::server
