#pragma once
// The videos resource, independent of HTTP: validation, ownership (another user's video is
// "not found"), per-key limits, and the job queue. Routes parse requests into these calls
// and serialise what they return.
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "server/generator.hpp"
#include "server/job_runner.hpp"
#include "store/blob_store.hpp"
#include "store/metadata_store.hpp"

namespace opsis::server {

struct Limits {
  int max_active_jobs = 8;             // queued + in_progress per user
  int jobs_per_minute = 30;            // per key
  size_t max_body_bytes = 32u << 20;   // request bodies
  size_t max_image_bytes = 16u << 20;  // input_reference file
  int64_t max_image_pixels = 4096LL * 4096LL;
  int max_list_limit = 100;
};

// Who is calling: the key's user (or "local" on a keyless loopback server) and key id.
struct Caller {
  std::string user;
  std::string key_id;
};

struct CreateVideo {
  std::string prompt;
  std::optional<std::string> model;
  std::optional<std::string> seconds;
  std::optional<std::string> size;
  std::optional<std::vector<uint8_t>> input_reference;  // image bytes (file or decoded data: URL)
  std::vector<std::string> characters;  // cameo ids from `characters: [{"id"}]`
  bool visible_watermark = false;       // the app's videos: always marked (job_runner.hpp)
};

// The video an edit or extension starts from: a completed video of the caller's ({id}), or
// an uploaded MP4.
struct SourceVideo {
  std::string id;
  std::optional<std::string> upload;  // MP4 bytes
};

struct EditVideo {
  SourceVideo video;
  std::string prompt;
  std::vector<std::string> characters;  // as CreateVideo's: checked by the same policy gate
};

struct ExtendVideo {
  SourceVideo video;
  std::string prompt;
  std::string seconds;  // required: the seconds added
  std::vector<std::string> characters;  // as CreateVideo's: checked by the same policy gate
};

struct Content {
  std::string blob_key;
  std::string content_type;
};

class VideoService {
 public:
  VideoService(store::MetadataStore& store, store::BlobStore& blobs, const ModelRegistry& models, JobRunner& runner,
               Limits limits);

  store::VideoRecord create(const Caller& caller, const CreateVideo& request);
  store::VideoRecord retrieve(const Caller& caller, const std::string& id);
  store::ListPage list(const Caller& caller, const store::ListQuery& query);
  void remove(const Caller& caller, const std::string& id);
  // `characters`: cameo ids from `characters: [{"id"}]`, checked (with the prompt's @handles)
  // by the admission check exactly as on create, and recorded on the job for the worker.
  store::VideoRecord remix(const Caller& caller, const std::string& id, const std::string& prompt,
                           const std::vector<std::string>& characters = {});
  // The app's remix: as remix, but the source may be another user's video that `shared` says
  // the caller may remix (a published clip); otherwise "not found". Marked visibly. Cameos as
  // in remix.
  store::VideoRecord remix_shared(const Caller& caller, const std::string& id, const std::string& prompt,
                                  const std::function<bool(const store::VideoRecord&)>& shared,
                                  const std::vector<std::string>& characters = {});
  // The source's model, size and length with a new prompt. From {id}: as remix (lineage in
  // remixed_from_video_id); from an upload: the default model, the upload's first frame.
  store::VideoRecord edit(const Caller& caller, const EditVideo& request);
  store::VideoRecord extend(const Caller& caller, const ExtendVideo& request);
  Content content(const Caller& caller, const std::string& id, const std::string& variant);
  // Deletes videos whose assets have expired, and their blobs. Returns how many.
  int sweep_expired(int64_t now);

  const Limits& limits() const { return limits_; }

  // Called with every prompt (create, remix, edit, extend) before anything is stored or
  // queued; throws to refuse (the policy gate, cameos.hpp). None: every prompt is admitted.
  using AdmissionCheck =
      std::function<void(const Caller&, const std::string& prompt, const std::vector<std::string>& cameo_ids)>;
  void set_admission_check(AdmissionCheck check) { admission_check_ = std::move(check); }
  // Whether something outside the metadata store (a cameo's reference media) still holds a
  // blob: such a blob is kept when a video with the same bytes is deleted.
  using BlobHeld = std::function<bool(const std::string& blob_key)>;
  void set_blob_held(BlobHeld held) { blob_held_ = std::move(held); }
  // Called with the id of every video deleted, whichever path deleted it (its owner, a
  // cameo's owner, a moderator, expiry): the app takes its post, likes and comments down.
  using Deleted = std::function<void(const std::string& video_id)>;
  void set_on_deleted(Deleted deleted) { on_deleted_ = std::move(deleted); }

 private:
  // Concurrency and rate limits, with `lock` on rate_mutex_ held: throws 429.
  void admit(const Caller& caller, std::unique_lock<std::mutex>& lock);
  // check_prompt, then the admission check.
  void screen(const Caller& caller, const std::string& prompt, const std::vector<std::string>& cameo_ids = {});
  store::VideoRecord queue(const Caller& caller, store::VideoRecord video, const JobRequest& request);
  store::VideoRecord owned(const Caller& caller, const std::string& id);
  store::VideoRecord finished_source(const Caller& caller, const std::string& id, const std::string& param);
  store::VideoRecord remix_of(const Caller& caller, const store::VideoRecord& source, const std::string& prompt,
                              bool visible_watermark = false, const std::vector<std::string>& cameo_ids = {});
  // An uploaded MP4 checked against the default model (size, whole seconds), then stored.
  struct Upload {
    std::string model;  // canonical
    std::string blob;
    int width = 0;
    int height = 0;
    int seconds = 0;
  };
  Upload accept_upload(const std::string& bytes);
  void delete_with_blobs(const store::VideoRecord& video);

  store::MetadataStore& store_;
  store::BlobStore& blobs_;
  const ModelRegistry& models_;
  JobRunner& runner_;
  Limits limits_;
  AdmissionCheck admission_check_;
  BlobHeld blob_held_;
  Deleted on_deleted_;
  std::mutex rate_mutex_;
  std::map<std::string, std::deque<std::chrono::steady_clock::time_point>> recent_by_key_;
  std::map<std::string, int> inserting_by_user_;  // admitted creates whose insert has not returned
  // Per user, an upper bound on the jobs queued or running (stored or still being inserted):
  // the last count taken plus every create admitted since. Jobs only leave that state outside
  // admission, so while the bound is under the limit a create is admitted without counting
  // again (a burst of creates used to run one COUNT each, in turn, under rate_mutex_).
  std::map<std::string, int> active_bound_by_user_;
  std::condition_variable insert_returned_;       // an admitted create's insert returned: recount
};

// "video_" + 32 hex digits.
std::string new_video_id();

// The model that made (or will make) the video: VideoRecord::model is the name the client
// asked for, which may be an alias ("sora-2"); the job's request pins what it resolved to.
std::string model_that_ran(const store::VideoRecord& video);

}  // namespace opsis::server
