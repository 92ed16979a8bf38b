#include "server/metrics.hpp"

#include <sstream>

namespace opsis::server {

void Metrics::request_served(int status) {
  std::lock_guard lock(mutex_);
  ++requests_by_status_[status];
}

void Metrics::job_finished(const std::string& outcome, double seconds) {
  std::lock_guard lock(mutex_);
  ++jobs_by_outcome_[outcome];
  if (outcome != "completed") return;
  for (size_t i = 0; i < kBuckets.size(); ++i)
    if (seconds <= kBuckets[i]) ++duration_buckets_[i];
  ++duration_count_;
  duration_sum_ += seconds;
}

std::string Metrics::render(int queued, int in_progress, int workers) const {
  std::lock_guard lock(mutex_);
  std::ostringstream out;
  out << "# HELP opsis_jobs_queued Videos waiting for a worker.\n# TYPE opsis_jobs_queued gauge\n"
      << "opsis_jobs_queued " << queued << "\n";
  out << "# HELP opsis_jobs_in_progress Videos being generated.\n# TYPE opsis_jobs_in_progress gauge\n"
      << "opsis_jobs_in_progress " << in_progress << "\n";
  out << "# HELP opsis_workers Generation workers.\n# TYPE opsis_workers gauge\nopsis_workers " << workers << "\n";
  out << "# HELP opsis_jobs_finished_total Jobs finished, by outcome.\n# TYPE opsis_jobs_finished_total counter\n";
  for (const char* outcome : {"completed", "failed", "cancelled"}) {
    auto it = jobs_by_outcome_.find(outcome);
    out << "opsis_jobs_finished_total{outcome=\"" << outcome << "\"} " << (it == jobs_by_outcome_.end() ? 0 : it->second) << "\n";
  }
  out << "# HELP opsis_jobs_requeued_total Running jobs put back in the queue (shutdown or restart).\n"
      << "# TYPE opsis_jobs_requeued_total counter\nopsis_jobs_requeued_total " << requeued_.load() << "\n";
  out << "# HELP opsis_job_duration_seconds Time from a worker taking a job to its completion.\n"
      << "# TYPE opsis_job_duration_seconds histogram\n";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    cumulative = duration_buckets_[i];  // buckets are already cumulative (<= bound)
    out << "opsis_job_duration_seconds_bucket{le=\"" << kBuckets[i] << "\"} " << cumulative << "\n";
  }
  out << "opsis_job_duration_seconds_bucket{le=\"+Inf\"} " << duration_count_ << "\n";
  out << "opsis_job_duration_seconds_sum " << duration_sum_ << "\n";
  out << "opsis_job_duration_seconds_count " << duration_count_ << "\n";
  out << "# HELP opsis_http_requests_total HTTP responses, by status.\n# TYPE opsis_http_requests_total counter\n";
  for (const auto& [status, count] : requests_by_status_)
    out << "opsis_http_requests_total{status=\"" << status << "\"} " << count << "\n";
  out << "# HELP opsis_webhooks_total Webhook deliveries, by result.\n# TYPE opsis_webhooks_total counter\n"
      << "opsis_webhooks_total{result=\"delivered\"} " << webhooks_ok_.load() << "\n"
      << "opsis_webhooks_total{result=\"failed\"} " << webhooks_failed_.load() << "\n";
  return out.str();
}

}  // namespace opsis::server
