// /v1/files routes: parse, call FileService, serialise as OpenAI's File objects.
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "server/files.hpp"
#include "server/request_body.hpp"
#include "server/routes.hpp"

namespace opsis::server {

namespace {

using nlohmann::json;

json file_json(const store::FileRecord& f) {
  return {{"id", f.id},           {"object", "file"},      {"bytes", f.bytes},         {"created_at", f.created_at},
          {"expires_at", nullptr}, {"filename", f.filename}, {"purpose", f.purpose},    {"status", "processed"},
          {"status_details", nullptr}};
}

}  // namespace

void add_file_routes(const RouteRegistrar& routes, FileService& files) {
  routes.post("/v1/files", [&files](const httplib::Request& req, httplib::Response& res, const Caller& caller) {
    auto request = multipart_upload(req, "file", "upload files as multipart/form-data with the fields 'file' and 'purpose'",
                                    "missing required parameter: 'file' (a file part with a filename)");
    FileUpload upload;
    upload.purpose = request.body.required({"purpose"}, "purpose");
    upload.filename = request.part.filename;
    upload.bytes = std::move(request.part.content);
    res.set_content(file_json(files.upload(caller, upload)).dump(), "application/json");
  });
  routes.get("/v1/files", [&files](const httplib::Request& req, httplib::Response& res, const Caller& caller) {
    int limit = 10000;
    if (req.has_param("limit")) {
      const std::string text = req.get_param_value("limit");
      if (text.empty() || text.size() > 6 || text.find_first_not_of("0123456789") != std::string::npos)
        throw InvalidArgument("limit", "limit must be a whole number, 1 to 10000");
      limit = std::stoi(text);
    }
    std::optional<std::string> purpose;
    if (req.has_param("purpose")) purpose = req.get_param_value("purpose");
    json data = json::array();
    for (const auto& f : files.list(caller, limit, purpose)) data.push_back(file_json(f));
    const json body = {{"object", "list"},
                       {"data", data},
                       {"first_id", data.empty() ? json(nullptr) : data.front()["id"]},
                       {"last_id", data.empty() ? json(nullptr) : data.back()["id"]},
                       {"has_more", false}};
    res.set_content(body.dump(), "application/json");
  });
  routes.get(R"(/v1/files/([^/]+))", [&files](const httplib::Request& req, httplib::Response& res, const Caller& caller) {
    res.set_content(file_json(files.retrieve(caller, req.matches[1])).dump(), "application/json");
  });
  routes.get(R"(/v1/files/([^/]+)/content)", [&files](const httplib::Request& req, httplib::Response& res, const Caller& caller) {
    const std::vector<uint8_t> bytes = files.content(caller, req.matches[1]);
    res.set_content(std::string(bytes.begin(), bytes.end()), "application/octet-stream");
  });
  routes.del(R"(/v1/files/([^/]+))", [&files](const httplib::Request& req, httplib::Response& res, const Caller& caller) {
    const std::string id = req.matches[1];
    files.remove(caller, id);
    res.set_content(json{{"id", id}, {"object", "file"}, {"deleted", true}}.dump(), "application/json");
  });
}

}  // namespace opsis::server
