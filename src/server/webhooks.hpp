#pragma once
// Webhooks video.completed / video.failed, signed as OpenAI signs its webhooks (the Standard
// Webhooks scheme): headers webhook-id, webhook-timestamp and
// webhook-signature: "v1," + base64(HMAC-SHA256(secret, id + "." + timestamp + "." + body)),
// where a secret "whsec_<base64>" means the decoded bytes. Delivered from one background
// thread, retried with back-off; a slow receiver never holds up a worker.
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>

namespace opsis::server {

class Metrics;

struct SignedWebhook {
  std::map<std::string, std::string> headers;
  std::string body;
};

// "v1," + base64(HMAC-SHA256(key, id + "." + timestamp + "." + body)); the key is the
// base64-decoded part after "whsec_", or the secret's bytes if it has no such prefix.
std::string webhook_signature(const std::string& secret, const std::string& id, int64_t timestamp, const std::string& body);

// The event body and headers for one event; `now` in unix seconds.
SignedWebhook sign_webhook(const std::string& secret, const std::string& event_id, const std::string& event_type, const std::string& video_id,
                           int64_t now);

class WebhookSender {
 public:
  WebhookSender(std::string url, std::string secret, Metrics* metrics);
  ~WebhookSender();
  void send(const std::string& event_type, const std::string& video_id);

 private:
  struct Pending {
    std::string event_id;  // the same on every retry, so receivers can drop duplicates
    std::string event_type;
    std::string video_id;
  };
  void run();
  bool deliver(const SignedWebhook& hook);

  std::string scheme_host_port_;
  std::string path_;
  std::string secret_;
  Metrics* metrics_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Pending> pending_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace opsis::server
