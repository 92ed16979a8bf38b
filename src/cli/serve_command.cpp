// `opsis serve`: the OpenAI Videos API (src/server). Runs until SIGTERM/SIGINT, which
// finish or re-queue running work.
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <memory>

#include "cli/commands.hpp"
#include "server/http_server.hpp"

namespace opsis::cli {

void add_serve_command(CLI::App& app) {
  auto config = std::make_shared<server::ServerConfig>();
  if (const char* secret = std::getenv("OPSIS_WEBHOOK_SECRET")) config->webhook_secret = secret;
  auto retention_hours = std::make_shared<double>(24.0 * 7);
  auto body_mib = std::make_shared<double>(32);
  auto image_mib = std::make_shared<double>(16);

  CLI::App* serve = app.add_subcommand("serve", "Serve the OpenAI Videos API (/v1/videos) over HTTP");
  serve->add_option("--host", config->host, "Address to listen on; anything but loopback requires API keys")->capture_default_str();
  serve->add_option("--port", config->port, "Port (0: any free port, printed on stdout)")->capture_default_str();
  serve->add_option("--data-dir", config->data_dir, "Metadata (SQLite) and media (blobs) live here")->capture_default_str();
  serve->add_option("--workers", config->workers, "Videos generated at once")->capture_default_str()->check(CLI::Range(1, 64));
  serve->add_option("--http-threads", config->http_threads, "Connections served at once")->capture_default_str()->check(CLI::Range(2, 1024));
  serve->add_option("--model", config->default_model,
                    "What sora-2 means: a served model's name or an installed model's folder (default: opsis-studio)");
  serve->add_option("--model-folder", config->model_folders,
                    "An installed model's folder (LTX-2) to serve by its name; repeatable. DATA_DIR/models.json lists more");
  serve->add_option("--retention-hours", *retention_hours, "Finished videos are deleted this long after completion")->capture_default_str();
  serve->add_option("--sweep-seconds", config->sweep_interval_seconds, "How often expired videos and orphan blobs are deleted")->capture_default_str();
  serve->add_option("--orphan-grace-seconds", config->orphan_grace_seconds,
                    "Blobs nothing refers to are deleted once this old (at start-up and every sweep)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  serve->add_option("--poll-after-ms", config->poll_after_ms, "openai-poll-after-ms sent with unfinished videos")->capture_default_str();
  serve->add_option("--shutdown-grace-ms", config->shutdown_grace_ms, "On SIGTERM, running jobs get this long to finish before being re-queued")->capture_default_str();
  serve->add_option("--max-attempts", config->max_attempts, "Starts before a job cut off by crashes is failed")->capture_default_str();
  serve->add_option("--max-active-jobs", config->limits.max_active_jobs, "Queued + running videos per user")->capture_default_str();
  serve->add_option("--jobs-per-minute", config->limits.jobs_per_minute, "Videos a key may start per minute (429 beyond)")->capture_default_str();
  serve->add_option("--max-body-mib", *body_mib, "Largest request body (413 beyond)")->capture_default_str();
  serve->add_option("--max-image-mib", *image_mib, "Largest input_reference image file")->capture_default_str();
  serve->add_option("--max-image-pixels", config->limits.max_image_pixels, "Most pixels in an input_reference image")->capture_default_str();
  serve->add_option("--webhook-url", config->webhook_url, "POST video.completed / video.failed events here");
  serve->add_option("--webhook-secret", config->webhook_secret, "Signing secret (whsec_<base64> or text; env OPSIS_WEBHOOK_SECRET)");
  serve->add_flag("--visible-watermark", config->visible_watermark,
                  "Draw the moving opsis + @user mark on API outputs (the invisible mark and C2PA are always on)");
  serve->add_flag("!--no-access-log", config->access_log, "Do not log each request (JSON lines on stderr)");
  serve->add_option("--policy-rules", config->policy_rules,
                    "A policy rules file (JSON, as src/policy/rules.json) instead of the built-in rules")
      ->check(CLI::ExistingFile);
  serve->add_option("--cameo-checks", config->cameo_checks,
                    "How cameo enrollment recordings are checked: full (the phrase heard, one face turning as asked), "
                    "studio (the phrase heard, the picture moving: studio-world characters, for development and tests), "
                    "off (no check of the content: synthetic cameras in tests; never for a deployment)")
      ->capture_default_str()
      ->check(CLI::IsMember({"full", "studio", "off"}));
  serve->add_flag("!--no-remote-images", config->image_fetch.enabled,
                  "Do not fetch input_reference.image_url over HTTPS (data: URLs and /v1/files still work)");
  serve->callback([config, retention_hours, body_mib, image_mib] {
    config->retention_seconds = int64_t(*retention_hours * 3600.0);
    config->limits.max_body_bytes = size_t(*body_mib * 1024 * 1024);
    config->limits.max_image_bytes = size_t(*image_mib * 1024 * 1024);
    server::run_server(*config);
  });
}

}  // namespace opsis::cli
