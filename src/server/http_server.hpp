#pragma once
// `opsis serve`: the OpenAI Videos API over HTTP. Layers: HTTP adapter (this file's
// implementation: cpp-httplib, auth, errors, logging) -> routes that parse and serialise ->
// VideoService -> JobRunner -> Generator.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "server/image_fetch.hpp"
#include "server/videos.hpp"

namespace opsis::server {

struct ServerConfig {
  std::string host = "127.0.0.1";
  int port = 8000;                 // 0 = any free port (printed on stdout)
  std::string data_dir = "opsis-data";
  int workers = 1;
  int http_threads = 64;
  int poll_after_ms = 1000;        // openai-poll-after-ms on unfinished videos
  int64_t retention_seconds = 7 * 24 * 3600;
  int sweep_interval_seconds = 60;  // expired videos and orphan blobs are collected this often
  // Blobs nothing refers to are deleted once older than this (at start-up and every sweep);
  // it must outlast the moment between storing a blob and recording it.
  int64_t orphan_grace_seconds = 3600;
  int shutdown_grace_ms = 10000;   // SIGTERM: running jobs get this long to finish, then are re-queued
  int max_attempts = 3;
  std::string default_model;       // what "sora-2" means (a model's name or an installed model's folder); empty = opsis-studio
  std::vector<std::string> model_folders;  // installed models served by name (LTX-2), with data_dir's models.json
  std::string webhook_url;         // empty = no webhooks
  std::string webhook_secret;
  bool access_log = true;
  bool visible_watermark = false;  // the moving opsis + @user mark on API outputs
  std::string policy_rules;        // a deployment's policy rules file; empty = the built-in rules
  // How cameo enrollment recordings are checked (src/cameo/recording_check.hpp): "full" (speech
  // and faces), "studio" (speech and movement: studio-world characters, for development and
  // tests) or "off" (no check of the content: synthetic cameras in tests). Checked at start-up.
  std::string cameo_checks = "full";
  ImageFetchOptions image_fetch;   // input_reference.image_url over HTTPS (max_bytes follows limits)
  Limits limits;
};

// Runs until SIGTERM or SIGINT. Throws opsis::InvalidArgument for a bad configuration (for
// example a non-loopback host with no API keys) and opsis::IoError for the environment.
void run_server(const ServerConfig& config);

bool is_loopback_host(const std::string& host);

// The OpenAPI 3.1 document of what the server serves.
std::string openapi_document();

}  // namespace opsis::server
