#pragma once
// Inside the app's routes (app_routes.cpp): how a further app routes file registers JSON
// handlers that already passed the session and CSRF checks (app_cameo_routes.cpp).
#include <httplib.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "server/routes.hpp"

namespace opsis::server {

// The signed-in user's handle, or nothing.
using AppHandler = std::function<nlohmann::json(const std::optional<std::string>& user, const httplib::Request&, httplib::Response&)>;

struct AppApi {
  std::function<void(const std::string& pattern, AppHandler)> get, post, del;
  // A GET route answering anything but JSON (images), inside the adapter's guard.
  std::function<void(const std::string& pattern, httplib::Server::Handler)> raw_get;
  const AppServices& services;
  // Takes a video out of the app (its post, likes and comments) after it was deleted.
  std::function<void(const std::string& video_id)> unpublished;
  // The user's handle if signed in, else throws 401.
  static std::string signed_in(const std::optional<std::string>& user);
};

// /app/api/cameos/...: enrollment (challenge, recording), permissions, approvals,
// restrictions, revoke, delete, and the videos that used a cameo, over the cameo registry.
// Also GET /app/media/avatar/{handle}: a frame of the user's active person cameo's recording
// (WebP), their avatar.
void add_app_cameo_routes(const AppApi& api);

// The avatar's URL for a user with an active person cameo, or empty.
std::string avatar_url(CameoConnections& cameos, const std::string& handle);

}  // namespace opsis::server
