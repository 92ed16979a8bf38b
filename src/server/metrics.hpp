#pragma once
// Counters for /metrics (Prometheus text format 0.0.4). Lock-free counters; the duration
// histogram takes a small lock.
#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace opsis::server {

class Metrics {
 public:
  void request_served(int status);
  void job_finished(const std::string& outcome, double seconds);  // "completed" | "failed" | "cancelled"
  void job_requeued() { requeued_.fetch_add(1); }
  void webhook_delivered(bool ok) { (ok ? webhooks_ok_ : webhooks_failed_).fetch_add(1); }
  // queue gauges come from the store at scrape time.
  std::string render(int queued, int in_progress, int workers) const;

 private:
  static constexpr std::array<double, 10> kBuckets{0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300};
  mutable std::mutex mutex_;
  std::map<int, uint64_t> requests_by_status_;
  std::map<std::string, uint64_t> jobs_by_outcome_;
  std::array<uint64_t, kBuckets.size()> duration_buckets_{};
  uint64_t duration_count_ = 0;
  double duration_sum_ = 0;
  std::atomic<uint64_t> requeued_{0};
  std::atomic<uint64_t> webhooks_ok_{0};
  std::atomic<uint64_t> webhooks_failed_{0};
};

}  // namespace opsis::server
