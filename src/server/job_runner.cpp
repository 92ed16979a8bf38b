#include "server/job_runner.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "media/mp4.hpp"
#include "media/image_io.hpp"
#include "media/variants.hpp"
#include "server/encoding.hpp"
#include "server/metrics.hpp"

namespace opsis::server {

namespace {

int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

const char* use_name(PromptStep::Use use) {
  switch (use) {
    case PromptStep::Use::Create: return "create";
    case PromptStep::Use::Remix: return "remix";
    case PromptStep::Use::Extend: return "extend";
  }
  return "create";
}

// The policy refused the job at the worker: failed with the policy's code.
struct Refused {
  std::string code;
  std::string message;
};

// The media type of an input_reference image from its first bytes (blobs have no extension).
std::string image_media_type(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  unsigned char magic[12] = {};
  in.read(reinterpret_cast<char*>(magic), sizeof magic);
  if (magic[0] == 0x89 && magic[1] == 'P' && magic[2] == 'N' && magic[3] == 'G') return "image/png";
  if (magic[0] == 0xFF && magic[1] == 0xD8) return "image/jpeg";
  if (std::memcmp(magic, "RIFF", 4) == 0 && std::memcmp(magic + 8, "WEBP", 4) == 0) return "image/webp";
  return "application/octet-stream";
}

// Fault injection for the crash tests: OPSIS_CRASH_AT=<point> kills the process with SIGKILL
// when it reaches that point (nothing flushed, nothing cleaned up), as a power cut or the OOM
// killer would. Points: "job_blobs_stored" (a finished job's files are in the blob store, its
// record does not name them yet).
void crash_point(const char* point) {
  static const char* const wanted = std::getenv("OPSIS_CRASH_AT");
  if (wanted && std::strcmp(wanted, point) == 0) std::raise(SIGKILL);
}

PromptStep::Use use_from_name(const std::string& name) {
  if (name == "remix") return PromptStep::Use::Remix;
  if (name == "extend") return PromptStep::Use::Extend;
  return PromptStep::Use::Create;
}

nlohmann::json step_json(const PromptStep& step) {
  return {{"use", use_name(step.use)}, {"prompt", step.prompt}, {"seconds", step.seconds}};
}

PromptStep step_from(const nlohmann::json& j) {
  return {use_from_name(j.at("use").get<std::string>()), j.at("prompt").get<std::string>(), j.at("seconds").get<int>()};
}

}  // namespace

std::string JobRequest::to_json() const {
  nlohmann::json history_json = nlohmann::json::array();
  for (const auto& s : history) history_json.push_back(step_json(s));
  nlohmann::json out{{"model", model},
                        {"step", step_json(step)},
                        {"history", history_json},
                        {"width", width},
                        {"height", height},
                        {"seed", seed},
                        {"input_reference_blob", input_reference_blob},
                        {"source_id", source_id},
                        {"source_blob", source_blob}};
  if (!cameo_ids.empty()) out["characters"] = cameo_ids;
  if (visible_watermark) out["visible_watermark"] = true;
  return out.dump();
}

JobRequest JobRequest::from_json(const std::string& text) {
  const nlohmann::json j = nlohmann::json::parse(text);
  JobRequest r;
  r.model = j.at("model").get<std::string>();
  r.step = step_from(j.at("step"));
  for (const auto& s : j.at("history")) r.history.push_back(step_from(s));
  r.width = j.at("width").get<int>();
  r.height = j.at("height").get<int>();
  r.seed = j.at("seed").get<uint64_t>();
  r.input_reference_blob = j.value("input_reference_blob", "");
  r.source_id = j.value("source_id", "");
  r.source_blob = j.value("source_blob", "");
  if (j.contains("characters")) r.cameo_ids = j.at("characters").get<std::vector<std::string>>();
  r.visible_watermark = j.value("visible_watermark", false);
  return r;
}

std::string JobRequest::scene_text() const {
  std::string text;
  for (const PromptStep& s : full_history()) {
    if (!text.empty()) text += '\n';
    text += s.prompt;
  }
  return text;
}

std::vector<PromptStep> JobRequest::full_history() const {
  std::vector<PromptStep> all = history;
  all.push_back(step);
  return all;
}

JobRunner::JobRunner(store::MetadataStore& store, store::BlobStore& blobs, const ModelRegistry& models,
                     RunnerOptions options, Metrics* metrics, FinishedCallback on_finished)
    : store_(store), blobs_(blobs), models_(models), options_(std::move(options)),
      provenance_(provenance::ProvenanceIdentity::load_or_create(
          options_.provenance_dir.empty() ? std::filesystem::path(options_.scratch_folder).parent_path()
                                          : std::filesystem::path(options_.provenance_dir))),
      metrics_(metrics),
      on_finished_(std::move(on_finished)) {
  if (options_.workers < 1) throw InvalidArgument("workers", "at least one worker is needed");
  if (options_.scratch_folder.empty()) throw InvalidArgument("data-dir", "the job runner needs a scratch folder");
  std::filesystem::create_directories(options_.scratch_folder);
  for (const auto& entry : std::filesystem::directory_iterator(options_.scratch_folder))
    std::filesystem::remove_all(entry.path());  // MP4s half-written by a process that died
}

JobRunner::~JobRunner() { shutdown(std::chrono::milliseconds(0)); }

int JobRunner::recover() {
  int requeued = 0;
  for (store::VideoRecord video : store_.videos_with_status(store::VideoStatus::InProgress)) {
    if (video.attempts >= options_.max_attempts) {
      video.status = store::VideoStatus::Failed;
      video.error_code = "worker_lost";
      video.error_message = "the server stopped while generating this video " + std::to_string(video.attempts) +
                            " times; it was not tried again";
      video.completed_at = now_seconds();
      video.expires_at = video.completed_at + options_.retention_seconds;
      store_.update_video(video);
      if (metrics_) metrics_->job_finished("failed", 0);
      if (on_finished_) on_finished_(video);
    } else {
      video.status = store::VideoStatus::Queued;
      video.progress = 0;
      store_.update_video(video);
      ++requeued;
      if (metrics_) metrics_->job_requeued();
    }
  }
  return requeued;
}

void JobRunner::start() {
  std::lock_guard lock(mutex_);
  for (int i = 0; i < options_.workers; ++i) threads_.emplace_back([this] { work(); });
}

void JobRunner::wake() { wake_.notify_one(); }

void JobRunner::cancel(const std::string& id) {
  std::lock_guard lock(mutex_);
  if (auto it = running_.find(id); it != running_.end()) it->second->cancel = true;
}

bool JobRunner::fail(const std::string& id, const std::string& code, const std::string& message) {
  {
    std::lock_guard lock(mutex_);
    if (auto it = running_.find(id); it != running_.end()) {
      it->second->fail_code = code;
      it->second->fail_message = message;
      it->second->cancel = true;
      return true;
    }
  }
  auto video = store_.video(id);
  if (!video || video->status != store::VideoStatus::Queued) return false;
  // A worker claiming it meanwhile rechecks the policy before generating, and refuses too.
  video->status = store::VideoStatus::Failed;
  video->error_code = code;
  video->error_message = message;
  video->completed_at = now_seconds();
  video->expires_at = video->completed_at + options_.retention_seconds;
  return store_.update_video(*video);
}

int JobRunner::running() const {
  std::lock_guard lock(mutex_);
  return int(running_.size());
}

void JobRunner::shutdown(std::chrono::milliseconds grace) {
  std::vector<std::thread> threads;
  {
    std::unique_lock lock(mutex_);
    stop_taking_ = true;
    wake_.notify_all();
    idle_.wait_for(lock, grace, [this] { return running_.empty(); });
    abort_running_ = true;
    threads.swap(threads_);
  }
  for (auto& thread : threads) thread.join();
}

void JobRunner::work() {
  if (options_.worker_nice > 0) {
    const int current = ::getpriority(PRIO_PROCESS, 0);
    ::setpriority(PRIO_PROCESS, ::gettid(), std::min(19, current + options_.worker_nice));  // this thread only
  }
  while (true) {
    {
      std::unique_lock lock(mutex_);
      if (stop_taking_) return;
    }
    std::optional<store::VideoRecord> job;
    try {
      job = store_.claim_next_queued();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "opsis serve: cannot read the job queue: %s\n", e.what());
    }
    if (!job) {
      // Also polls: another process (or a restart) may queue jobs without waking us.
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, std::chrono::milliseconds(500), [this] { return stop_taking_; });
      continue;
    }
    const std::string id = job->id;
    try {
      run_job(std::move(*job));
    } catch (const std::exception& e) {
      // The store failed while recording the outcome; the job stays in_progress and the
      // next start re-queues it.
      std::fprintf(stderr, "opsis serve: job %s: %s\n", id.c_str(), e.what());
      std::lock_guard lock(mutex_);
      running_.erase(id);
      idle_.notify_all();
    }
  }
}

void JobRunner::remove_unreferenced(const std::vector<std::string>& blob_keys) {
  for (const auto& key : blob_keys)
    if (!key.empty() && store_.blob_references(key) == 0) blobs_.remove(key);
}

void JobRunner::run_job(store::VideoRecord video) {
  auto state = std::make_shared<Running>();
  {
    std::lock_guard lock(mutex_);
    running_[video.id] = state;
  }
  const auto started = std::chrono::steady_clock::now();
  const std::string id = video.id;
  std::string outcome;
  std::string scratch_mp4;
  std::vector<std::string> written;
  try {
    const JobRequest request = JobRequest::from_json(video.request_json);
    RunnerOptions::CameoUses cameos_used;
    if (options_.recheck)
      if (auto refusal = options_.recheck(video, request, cameos_used)) throw Refused{refusal->first, refusal->second};
    GenerationRequest generation;
    generation.model = request.model;
    auto generator_text = [&](const std::string& prompt, bool this_step) {
      return options_.describe_cameos && !cameos_used.empty() ? options_.describe_cameos(prompt, cameos_used, this_step) : prompt;
    };
    generation.prompt = generator_text(request.step.prompt, true);
    generation.seconds = request.step.seconds;
    generation.width = request.width;
    generation.height = request.height;
    generation.seed = request.seed;
    if (!request.input_reference_blob.empty())
      generation.first_frame = media::decode_image(blobs_.get(request.input_reference_blob));
    provenance::FinishRequest finishing;
    finishing.video_id = id;
    finishing.creator = video.user;
    finishing.model_name = request.model;
    finishing.visible_watermark = options_.visible_watermark || request.visible_watermark;
    for (const auto& [handle, cameo_id] : cameos_used) {
      finishing.cameo_handles.push_back(handle);
      finishing.cameo_ids.push_back(cameo_id);
    }
    if (!request.input_reference_blob.empty()) {
      if (const auto image_path = blobs_.local_path(request.input_reference_blob))
        finishing.input_image = provenance::InputImage{*image_path, "input_reference", image_media_type(*image_path)};
    }
    if (!request.source_id.empty()) {
      const auto source = store_.video(request.source_id);
      if (!source || source->video_blob.empty())
        throw InvalidArgument("video", "the source video " + request.source_id + " was deleted before this job ran");
      const auto path = blobs_.local_path(source->video_blob);
      if (!path) throw IoError("the source video's file is missing from the blob store");
      finishing.remix_of = provenance::ParentVideo{*path, request.source_id};
      media::Mp4Contents decoded = media::read_mp4(*path, 48000);
      SourceClip clip;
      clip.use = request.step.use;
      clip.history = request.history;
      for (auto& step : clip.history) step.prompt = generator_text(step.prompt, false);
      clip.video = std::move(decoded.video);
      clip.audio = std::move(decoded.audio);
      generation.source = std::move(clip);
    } else if (!request.source_blob.empty()) {
      const auto path = blobs_.local_path(request.source_blob);
      if (!path) throw IoError("the uploaded source video is missing from the blob store");
      finishing.remix_of = provenance::ParentVideo{*path, "uploaded video"};
      media::Mp4Contents decoded = media::read_mp4(*path, 48000);
      if (decoded.video.width != request.width || decoded.video.height != request.height)
        throw InvalidArgument("video", "the uploaded video decodes to " + std::to_string(decoded.video.width) + "x" +
                                           std::to_string(decoded.video.height) + ", not the " + std::to_string(request.width) +
                                           "x" + std::to_string(request.height) + " its header claims");
      if (decoded.video.frame_count() == 0) throw InvalidArgument("video", "the uploaded video has no frames");
      if (request.step.use == PromptStep::Use::Extend) {
        SourceClip clip;
        clip.use = PromptStep::Use::Extend;
        clip.history = request.history;
        clip.video = std::move(decoded.video);
        clip.audio = std::move(decoded.audio);
        generation.source = std::move(clip);
      } else {
        generation.first_frame = decoded.video.frame_image(0);  // an edit starts from the upload
      }
    }

    // Progress: generation 0-85 %, encoding 85-95 %, variants 95-100 %.
    // Each write is a durable commit that every request queues behind, so progress is stored
    // at most every 200 ms (or on a 10-point jump), not on every percent.
    int last_reported = 0;
    auto last_write = std::chrono::steady_clock::now();
    auto report = [&](double overall) {
      const int percent = std::clamp(int(overall * 100.0), 0, 99);
      const auto now = std::chrono::steady_clock::now();
      if (percent > last_reported && (now - last_write >= std::chrono::milliseconds(200) || percent >= last_reported + 10)) {
        last_reported = percent;
        last_write = now;
        store_.set_progress(id, percent);
      }
    };
    auto cancelled = [&] { return state->cancel.load() || abort_running_.load(); };
    Progress generating{[&](double f) { report(0.85 * f); }, cancelled};
    Progress encoding{[&](double f) { report(0.85 + 0.10 * f); }, cancelled};

    GenerationResult result = models_.get(request.model).generate(generation, &generating);
    scratch_mp4 = (std::filesystem::path(options_.scratch_folder) / (id + ".mp4")).string();
    // Watermarks, MP4, C2PA signature (the thumbnail and spritesheet below are not signed).
    provenance::finish_video(result.video, result.audio, scratch_mp4, finishing, provenance_, &encoding);
    Progress::step(&encoding, 1.0);
    video.video_blob = blobs_.put_file(scratch_mp4);
    written.push_back(video.video_blob);
    std::filesystem::remove(scratch_mp4);
    scratch_mp4.clear();
    video.thumbnail_blob = blobs_.put(media::make_thumbnail(result.video));
    written.push_back(video.thumbnail_blob);
    video.spritesheet_blob = blobs_.put(media::make_spritesheet(result.video));
    written.push_back(video.spritesheet_blob);
    crash_point("job_blobs_stored");
    if (cancelled()) throw Cancelled();

    video.status = store::VideoStatus::Completed;
    video.progress = 100;
    video.completed_at = now_seconds();
    video.expires_at = video.completed_at + options_.retention_seconds;
    outcome = "completed";
  } catch (const Cancelled&) {
    outcome = "cancelled";
    std::lock_guard lock(mutex_);
    if (!state->fail_code.empty()) {  // fail(): stopped with an error, not deleted
      video.status = store::VideoStatus::Failed;
      video.error_code = state->fail_code;
      video.error_message = state->fail_message;
      outcome = "failed";
    }
  } catch (const Refused& refused) {
    video.status = store::VideoStatus::Failed;
    video.error_code = refused.code;
    video.error_message = refused.message;
    outcome = "failed";
  } catch (const InvalidArgument& e) {
    video.status = store::VideoStatus::Failed;
    video.error_code = "invalid_request";
    video.error_message = e.field().empty() ? e.what() : e.field() + ": " + e.what();
    outcome = "failed";
  } catch (const std::exception& e) {
    video.status = store::VideoStatus::Failed;
    video.error_code = "internal_error";
    video.error_message = std::string("generation failed: ") + e.what();
    outcome = "failed";
  }
  if (!scratch_mp4.empty()) {
    std::error_code ignored;
    std::filesystem::remove(scratch_mp4, ignored);
  }

  bool stored = false;
  if (outcome == "cancelled") {
    if (!state->cancel && abort_running_) {
      // Shutdown: back in the queue, and this start does not count against max_attempts.
      video.status = store::VideoStatus::Queued;
      video.progress = 0;
      video.attempts = std::max(0, video.attempts - 1);
      video.video_blob = video.thumbnail_blob = video.spritesheet_blob = "";
      stored = store_.update_video(video);
      if (metrics_) metrics_->job_requeued();
    }
  } else {
    if (video.status == store::VideoStatus::Failed) {
      video.video_blob = video.thumbnail_blob = video.spritesheet_blob = "";
      video.completed_at = now_seconds();
      video.expires_at = video.completed_at + options_.retention_seconds;
    }
    video.progress = video.status == store::VideoStatus::Completed ? 100 : video.progress;
    // false: the video was deleted while it ran; its files are then dropped below.
    stored = store_.update_video(video);
  }
  if (!stored || outcome != "completed") remove_unreferenced(written);

  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (stored && outcome != "cancelled") {
    if (metrics_) metrics_->job_finished(outcome, seconds);
    if (on_finished_) on_finished_(video);
  } else if (outcome == "cancelled" && metrics_ && state->cancel) {
    metrics_->job_finished("cancelled", seconds);
  }
  std::lock_guard lock(mutex_);
  running_.erase(id);
  idle_.notify_all();
}

}  // namespace opsis::server
