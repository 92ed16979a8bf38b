#include "server/webhooks.hpp"

#include <httplib.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "server/encoding.hpp"
#include "server/metrics.hpp"

namespace opsis::server {

std::string webhook_signature(const std::string& secret, const std::string& id, int64_t timestamp, const std::string& body) {
  std::vector<uint8_t> key;
  if (secret.rfind("whsec_", 0) == 0) {
    auto decoded = base64_decode(secret.substr(6));
    if (!decoded) throw InvalidArgument("webhook-secret", "a secret starting with whsec_ must be base64 after the prefix");
    key = *decoded;
  } else {
    key.assign(secret.begin(), secret.end());
  }
  const std::vector<uint8_t> mac = hmac_sha256(key, id + "." + std::to_string(timestamp) + "." + body);
  return "v1," + base64_encode(mac.data(), mac.size());
}

SignedWebhook sign_webhook(const std::string& secret, const std::string& id, const std::string& event_type, const std::string& video_id,
                           int64_t now) {
  nlohmann::json event = {{"id", id},
                          {"object", "event"},
                          {"type", event_type},
                          {"created_at", now},
                          {"data", {{"id", video_id}}}};
  SignedWebhook hook;
  hook.body = event.dump();
  hook.headers = {{"webhook-id", id},
                  {"webhook-timestamp", std::to_string(now)},
                  {"webhook-signature", webhook_signature(secret, id, now, hook.body)}};
  return hook;
}

WebhookSender::WebhookSender(std::string url, std::string secret, Metrics* metrics)
    : secret_(std::move(secret)), metrics_(metrics) {
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos || (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0))
    throw InvalidArgument("webhook-url", "the webhook URL must start with http:// or https://");
  const size_t path_start = url.find('/', scheme_end + 3);
  scheme_host_port_ = url.substr(0, path_start);
  path_ = path_start == std::string::npos ? "/" : url.substr(path_start);
  if (secret_.empty()) throw InvalidArgument("webhook-secret", "webhooks need a signing secret");
  sign_webhook(secret_, "evt_check", "video.completed", "video_check", 0);  // rejects a malformed secret now
  thread_ = std::thread([this] { run(); });
}

WebhookSender::~WebhookSender() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void WebhookSender::send(const std::string& event_type, const std::string& video_id) {
  {
    std::lock_guard lock(mutex_);
    pending_.push_back({"evt_" + random_hex(12), event_type, video_id});
  }
  wake_.notify_all();
}

bool WebhookSender::deliver(const SignedWebhook& hook) {
  httplib::Client client(scheme_host_port_);
  client.set_connection_timeout(5);
  client.set_read_timeout(10);
  httplib::Headers headers;
  for (const auto& [name, value] : hook.headers) headers.emplace(name, value);
  auto response = client.Post(path_.c_str(), headers, hook.body, "application/json");
  return response && response->status >= 200 && response->status < 300;
}

void WebhookSender::run() {
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait(lock, [this] { return stopping_ || !pending_.empty(); });
    if (pending_.empty()) return;  // stopping with nothing left
    Pending next = pending_.front();
    pending_.pop_front();
    lock.unlock();
    bool delivered = false;
    // Back-off 0.5, 1, 2, 4 s; each attempt is signed afresh (same event id, new timestamp).
    for (int attempt = 0; attempt < 5 && !delivered; ++attempt) {
      if (attempt > 0) {
        std::unique_lock wait_lock(mutex_);
        if (wake_.wait_for(wait_lock, std::chrono::milliseconds(250 << attempt), [this] { return stopping_; })) break;
      }
      const int64_t now =
          std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
      delivered = deliver(sign_webhook(secret_, next.event_id, next.event_type, next.video_id, now));
    }
    if (metrics_) metrics_->webhook_delivered(delivered);
    lock.lock();
  }
}

}  // namespace opsis::server
