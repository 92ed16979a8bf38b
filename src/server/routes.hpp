#pragma once
// How a resource's routes file registers its handlers on the HTTP adapter (http_server.cpp):
// each handler receives an authenticated caller, and whatever it throws becomes OpenAI's error
// envelope in the adapter, the one place that happens.
#include <httplib.h>

#include <functional>
#include <string>

#include "server/videos.hpp"

namespace opsis::server {

using CallerHandler = std::function<void(const httplib::Request&, httplib::Response&, const Caller&)>;

struct RouteRegistrar {
  std::function<void(const std::string& pattern, CallerHandler)> get;
  std::function<void(const std::string& pattern, CallerHandler)> post;
  std::function<void(const std::string& pattern, CallerHandler)> del;
};

class FileService;
// /v1/files: upload (multipart: file, purpose "vision"), list, retrieve, content, delete.
void add_file_routes(const RouteRegistrar& routes, FileService& files);

class CharacterService;
// /v1/videos/characters: create (multipart: video, name), retrieve.
void add_character_routes(const RouteRegistrar& routes, CharacterService& characters);

}  // namespace opsis::server
