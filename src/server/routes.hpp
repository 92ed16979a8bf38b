#pragma once
// How a resource's routes file registers its handlers on the HTTP adapter (http_server.cpp):
// each handler receives an authenticated caller, and whatever it throws becomes OpenAI's error
// envelope in the adapter, the one place that happens.
#include <httplib.h>

#include <functional>
#include <memory>
#include <string>

#include "core/error.hpp"
#include "server/request_body.hpp"
#include "server/videos.hpp"

namespace opsis::server {

using CallerHandler = std::function<void(const httplib::Request&, httplib::Response&, const Caller&)>;

struct RouteRegistrar {
  std::function<void(const std::string& pattern, CallerHandler)> get;
  std::function<void(const std::string& pattern, CallerHandler)> post;
  std::function<void(const std::string& pattern, CallerHandler)> del;
};

// The preamble of a multipart upload route: the request must be multipart/form-data (else
// InvalidArgument on `field` saying `how` to send it) with a file part `field` that has a
// filename (else `missing`). Returns the part and the body to read the other fields from.
struct MultipartUpload {
  Body body;
  httplib::MultipartFormData part;
};
inline MultipartUpload multipart_upload(const httplib::Request& req, const char* field, const std::string& how,
                                        const std::string& missing) {
  if (!req.is_multipart_form_data()) throw InvalidArgument(field, how);
  Body body(req);
  auto part = body.file_part(field);
  if (!part) throw InvalidArgument(field, missing);
  return {std::move(body), std::move(*part)};
}

class FileService;
// /v1/files: upload (multipart: file, purpose "vision"), list, retrieve, content, delete.
void add_file_routes(const RouteRegistrar& routes, FileService& files);

class CharacterService;
// /v1/videos/characters: create (multipart: video, name), retrieve.
void add_character_routes(const RouteRegistrar& routes, CharacterService& characters);

// The app in the browser (issue #13, app_routes.cpp): its handlers authenticate themselves
// (session cookies, CSRF tokens), so they are registered raw, still inside the adapter's
// guard (whatever they throw becomes the error envelope; GET routes join the Range table).
struct AppRegistrar {
  std::function<void(const std::string& pattern, httplib::Server::Handler)> get;
  std::function<void(const std::string& pattern, httplib::Server::Handler)> post;
  std::function<void(const std::string& pattern, httplib::Server::Handler)> del;
  // A stored video's variant streamed as GET /v1/videos/{id}/content does (Range included),
  // read as `owner` (the app has checked that the viewer may see it).
  std::function<void(const httplib::Request&, httplib::Response&, const Caller& owner, const std::string& id)> send_content;
  // Names the signed-in user in this request's access-log line.
  std::function<void(const std::string& user)> log_user;
};

class CameoService;
// /v1/cameos: challenges, enrollment, the caller's cameos, permission, restrictions, revoke,
// delete, the videos that used one, its consent ledger (cameo_routes.cpp).
void add_cameo_routes(const RouteRegistrar& routes, CameoService& cameos);

class CameoConnections;
class ModelRegistry;
struct AppServices {
  VideoService& videos;
  store::MetadataStore& store;
  CameoConnections& cameos;
  const ModelRegistry& models;
  store::BlobStore& blobs;
  std::string data_dir;
  CameoService* cameo_service = nullptr;  // the cameo operations shared with /v1/cameos
};
// `/` and `/app/...` (pages from web/), `/app/api/...` (JSON), `/app/media/{id}/{variant}`.
// The returned object holds the app's state; keep it while the server runs.
std::shared_ptr<void> add_app_routes(const AppRegistrar& routes, const AppServices& services);

}  // namespace opsis::server
