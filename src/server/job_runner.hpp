#pragma once
// The job queue's workers. Jobs live in the metadata store, so the queue survives the
// process: a job is persisted (queued) before its creator hears about it; workers claim the
// oldest one atomically; a job found in_progress at start-up was cut off by a crash and is
// queued again, or failed with a reason once it has been tried max_attempts times.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "provenance/finish.hpp"
#include "server/generator.hpp"
#include "store/blob_store.hpp"
#include "store/metadata_store.hpp"

namespace opsis::server {

class Metrics;

// What a worker needs to (re)run a job; stored as VideoRecord::request_json.
struct JobRequest {
  std::string model;
  PromptStep step;          // this video's own step (for an extension, seconds = seconds added)
  std::vector<PromptStep> history;  // the steps that made the source video, oldest first
  int width = 0;
  int height = 0;
  uint64_t seed = 0;
  std::string input_reference_blob;  // blob key of the first-frame image, or empty
  std::string source_id;             // the video remixed or extended, or empty
  // An uploaded MP4 edited (its first frame starts the clip) or extended (its frames and
  // sound come first), or empty.
  std::string source_blob;
  // Cameos named in `characters: [{"id"}]` (the policy adds @handles in the prompt itself).
  std::vector<std::string> cameo_ids;
  // The moving opsis + @user mark on this video whatever the server's default (the app's
  // videos, which may be published, always carry it).
  bool visible_watermark = false;

  std::string to_json() const;
  static JobRequest from_json(const std::string& text);
  // This video's whole history: the source's steps then its own.
  std::vector<PromptStep> full_history() const;
  // Every prompt that shapes this video, one per line: what the policy must allow, the
  // source's @handles included (a remix shows the source's cameos).
  std::string scene_text() const;
};

struct RunnerOptions {
  int workers = 1;
  int max_attempts = 3;                       // starts before a job cut off by crashes is failed
  int64_t retention_seconds = 7 * 24 * 3600;  // completed assets expire this long after completion
  std::string scratch_folder;                 // for MP4s being written (same filesystem as blobs)
  // Data directory whose C2PA credentials and watermark key every MP4 is signed and marked
  // with (provenance/finish.hpp); empty = the scratch folder's parent.
  std::string provenance_dir;
  bool visible_watermark = false;             // the moving opsis + @user mark on API outputs
  // Workers' threads run this much nicer than the process (Linux), so that requests, which
  // are short, get the CPU before generation, which is long, when both want it.
  int worker_nice = 10;
  // The policy's second look, just before generation (permissions may have changed while the
  // job was queued): a refusal's (code, message) fails the job with that error. Empty: none.
  // When the job may run, it fills `cameos_used` with the (@handle, cameo id) of each cameo the
  // job uses: the C2PA manifest records them (never their reference media).
  using CameoUses = std::vector<std::pair<std::string, std::string>>;
  std::function<std::optional<std::pair<std::string, std::string>>(const store::VideoRecord&, const JobRequest&,
                                                                    CameoUses& cameos_used)>
      recheck;
  // The text the generator reads for a prompt of this job, given the cameos the recheck found
  // it uses: each cameo's @handle with its likeness said at its first mention ("@maya" ->
  // "@maya (dark skin, long red hair, a green shirt)"), so the built-in model draws the cameo
  // as enrolled. Applied to the job's prompt and its source's history; the stored prompt stays
  // as the user wrote it. `this_step`: the job's own prompt, where a cameo asked for by id that
  // no prompt mentions is added as a sentence (not to the history, whose scenes it was not in).
  // Empty: the prompts go as written.
  std::function<std::string(const std::string& prompt, const CameoUses& cameos_used, bool this_step)> describe_cameos;
};

class JobRunner {
 public:
  // Called after a job ends completed or failed (webhooks); never for cancelled jobs.
  using FinishedCallback = std::function<void(const store::VideoRecord&)>;

  JobRunner(store::MetadataStore& store, store::BlobStore& blobs, const ModelRegistry& models, RunnerOptions options,
            Metrics* metrics = nullptr, FinishedCallback on_finished = {});
  ~JobRunner();

  // Jobs left in_progress by a process that died: queued again, or failed after max_attempts.
  // Returns how many were re-queued. Call before start().
  int recover();
  void start();
  void wake();                          // a job was queued
  void cancel(const std::string& id);   // the job was deleted: stop it if it is running
  // The job may no longer run (a cameo it uses was revoked, or its permission lowered): a
  // running one stops at its next progress step and ends failed with this error; a queued
  // one is failed at once. Returns whether the job was queued or running.
  bool fail(const std::string& id, const std::string& code, const std::string& message);
  // Stops taking jobs, waits up to `grace` for running ones to finish, then stops the rest
  // and puts them back in the queue for the next start.
  void shutdown(std::chrono::milliseconds grace);
  int running() const;
  int workers() const { return options_.workers; }

 private:
  struct Running {
    std::atomic<bool> cancel{false};   // deleted by its owner
    std::string fail_code, fail_message;  // set (under mutex_) with cancel by fail()
  };
  void work();
  void run_job(store::VideoRecord video);
  void remove_unreferenced(const std::vector<std::string>& blob_keys);

  store::MetadataStore& store_;
  store::BlobStore& blobs_;
  const ModelRegistry& models_;
  RunnerOptions options_;
  provenance::ProvenanceIdentity provenance_;
  Metrics* metrics_;
  FinishedCallback on_finished_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable idle_;
  std::map<std::string, std::shared_ptr<Running>> running_;
  bool stop_taking_ = false;
  std::atomic<bool> abort_running_{false};  // shutdown's grace is over
  std::vector<std::thread> threads_;
};

}  // namespace opsis::server
