#include "server/videos.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/error.hpp"
#include "media/image_io.hpp"
#include "server/api_error.hpp"
#include "server/encoding.hpp"
#include "server/image_header.hpp"
#include "server/mp4_probe.hpp"

namespace opsis::server {

namespace {

constexpr size_t kMaxPromptChars = 32000;
constexpr int kMaxTotalSeconds = 25;

int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

size_t utf8_length(const std::string& text) {
  size_t n = 0;
  for (unsigned char c : text)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

void check_prompt(const std::string& prompt) {
  if (!valid_utf8(prompt)) throw InvalidArgument("prompt", "the prompt is not valid UTF-8 text");
  if (prompt.find_first_not_of(" \t\r\n") == std::string::npos)
    throw InvalidArgument("prompt", "the prompt is empty; describe the video to make");
  if (utf8_length(prompt) > kMaxPromptChars)
    throw InvalidArgument("prompt", "the prompt is longer than 32000 characters");
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "'" : ", '") + item + "'";
  return out;
}

int parse_seconds(const std::string& text, const ModelInfo& model, const std::string& field) {
  int value = 0;
  const bool digits = !text.empty() && text.size() <= 3 && std::all_of(text.begin(), text.end(), ::isdigit);
  if (digits) value = std::stoi(text);
  if (!digits || std::find(model.seconds.begin(), model.seconds.end(), value) == model.seconds.end()) {
    std::string allowed = model.seconds.empty() ? "" : std::to_string(model.seconds.front()) + " to " + std::to_string(model.seconds.back());
    throw InvalidArgument(field, "seconds must be a whole number of seconds as a string, " + allowed + " for " +
                                     model.name + "; got '" + text + "'");
  }
  return value;
}

void parse_size(const std::string& text, const ModelInfo& model, int& width, int& height) {
  if (std::find(model.sizes.begin(), model.sizes.end(), text) == model.sizes.end())
    throw InvalidArgument("size", "size '" + text + "' is not one " + model.name + " makes; use one of " + join(model.sizes));
  const size_t x = text.find('x');
  width = std::stoi(text.substr(0, x));
  height = std::stoi(text.substr(x + 1));
}

uint64_t random_seed() {
  const std::string hex = random_hex(4);
  return std::stoull(hex, nullptr, 16);
}

}  // namespace

std::string new_video_id() { return "video_" + random_hex(16); }

std::string model_that_ran(const store::VideoRecord& video) {
  try {
    return JobRequest::from_json(video.request_json).model;
  } catch (const std::exception&) {
    return video.model;  // no readable request: the record's name is all there is
  }
}

VideoService::VideoService(store::MetadataStore& store, store::BlobStore& blobs, const ModelRegistry& models,
                           JobRunner& runner, Limits limits)
    : store_(store), blobs_(blobs), models_(models), runner_(runner), limits_(limits) {}

void VideoService::admit(const Caller& caller, std::unique_lock<std::mutex>& lock) {
  // Creates admitted but not yet committed count too, so the limit holds while their inserts
  // wait for a group commit outside the lock. A create whose commit has just become visible is
  // counted twice until its insert returns; so a refusal is only decided when none of this
  // user's creates is in flight: until then each returning insert wakes us to count again.
  auto bound = active_bound_by_user_.find(caller.user);
  if (bound != active_bound_by_user_.end() && bound->second < limits_.max_active_jobs) {
    ++bound->second;  // under the limit even if none of this user's jobs has finished since
  } else {
    for (;;) {
      const auto inserting = inserting_by_user_.find(caller.user);
      const int not_yet_stored = inserting == inserting_by_user_.end() ? 0 : inserting->second;
      const int active = store_.count_active_for_user(caller.user) + not_yet_stored;
      if (active < limits_.max_active_jobs) {
        active_bound_by_user_[caller.user] = active + 1;
        break;
      }
      if (not_yet_stored == 0) {
        ApiError error(429, "rate_limit_error", "rate_limit_exceeded",
                       "you have " + std::to_string(limits_.max_active_jobs) +
                           " videos queued or in progress, the most allowed at once; wait for one to finish");
        error.retry_after_seconds = 5;
        throw error;
      }
      insert_returned_.wait(lock);
    }
  }
  const auto now = std::chrono::steady_clock::now();
  auto& recent = recent_by_key_[caller.key_id.empty() ? caller.user : caller.key_id];
  while (!recent.empty() && now - recent.front() >= std::chrono::minutes(1)) recent.pop_front();
  if (int(recent.size()) >= limits_.jobs_per_minute) {
    const auto wait = std::chrono::minutes(1) - (now - recent.front());
    ApiError error(429, "rate_limit_error", "rate_limit_exceeded",
                   "this key may start " + std::to_string(limits_.jobs_per_minute) + " videos a minute; try again shortly");
    error.retry_after_seconds = std::max<int>(1, int(std::chrono::ceil<std::chrono::seconds>(wait).count()));
    throw error;
  }
  recent.push_back(now);
}

store::VideoRecord VideoService::queue(const Caller& caller, store::VideoRecord video, const JobRequest& request) {
  video.id = new_video_id();
  video.user = caller.user;
  video.status = store::VideoStatus::Queued;
  video.created_at = now_seconds();
  video.request_json = request.to_json();
  {
    std::unique_lock lock(rate_mutex_);
    admit(caller, lock);
    ++inserting_by_user_[caller.user];
  }
  // Persisted (synchronous=FULL, group-committed with concurrent writes) before anyone hears
  // of it; no lock is held while the commit syncs.
  struct Admitted {
    VideoService& service;
    const std::string& user;
    ~Admitted() {
      {
        std::lock_guard lock(service.rate_mutex_);
        if (--service.inserting_by_user_[user] == 0) service.inserting_by_user_.erase(user);
      }
      service.insert_returned_.notify_all();
    }
  } admitted{*this, caller.user};
  store_.insert_video(video);
  runner_.wake();
  return video;
}

void VideoService::screen(const Caller& caller, const std::string& prompt, const std::vector<std::string>& cameo_ids) {
  check_prompt(prompt);
  if (admission_check_) admission_check_(caller, prompt, cameo_ids);
}

store::VideoRecord VideoService::create(const Caller& caller, const CreateVideo& in) {
  screen(caller, in.prompt, in.characters);
  const std::string requested = in.model.value_or("sora-2");  // the spec's default
  const std::string model = models_.resolve(requested);
  const ModelInfo info = models_.get(model).info();
  JobRequest request;
  request.model = model;
  request.step = {PromptStep::Use::Create, in.prompt, parse_seconds(in.seconds.value_or("4"), info, "seconds")};
  const std::string size = in.size.value_or("720x1280");
  parse_size(size, info, request.width, request.height);
  request.seed = random_seed();
  request.cameo_ids = in.characters;
  request.visible_watermark = in.visible_watermark;
  if (in.input_reference) {
    if (!info.image_to_video)
      throw InvalidArgument("input_reference", model + " cannot start from an image; leave input_reference out");
    if (in.input_reference->size() > limits_.max_image_bytes)
      throw ApiError(413, "invalid_request_error", "image_too_large",
                     "input_reference is " + std::to_string(in.input_reference->size()) + " bytes; at most " +
                         std::to_string(limits_.max_image_bytes),
                     "input_reference");
    if (auto claimed = image_dimensions(*in.input_reference); claimed && claimed->first * claimed->second > limits_.max_image_pixels)
      throw InvalidArgument("input_reference", "input_reference is " + std::to_string(claimed->first) + "x" +
                                                   std::to_string(claimed->second) + " pixels; at most " +
                                                   std::to_string(limits_.max_image_pixels) + " pixels in all");
    Image image;
    try {
      image = media::decode_image(*in.input_reference);
    } catch (const InvalidArgument& e) {
      throw InvalidArgument("input_reference", std::string("input_reference is not a readable PNG, JPEG or WebP image: ") + e.what());
    }
    if (int64_t(image.width) * image.height > limits_.max_image_pixels)
      throw InvalidArgument("input_reference", "input_reference has " + std::to_string(int64_t(image.width) * image.height) +
                                                   " pixels; at most " + std::to_string(limits_.max_image_pixels));
    request.input_reference_blob = blobs_.put(*in.input_reference);
  }
  store::VideoRecord video;
  video.model = requested;  // echoed as asked; request.model is what runs
  video.prompt = in.prompt;
  video.size = size;
  video.seconds = std::to_string(request.step.seconds);
  return queue(caller, std::move(video), request);
}

store::VideoRecord VideoService::owned(const Caller& caller, const std::string& id) {
  auto video = store_.video(id);
  // Another user's video is indistinguishable from one that does not exist.
  if (!video || video->user != caller.user) throw not_found("no video with id '" + id + "'");
  return *video;
}

store::VideoRecord VideoService::retrieve(const Caller& caller, const std::string& id) { return owned(caller, id); }

store::ListPage VideoService::list(const Caller& caller, const store::ListQuery& query) {
  if (query.limit < 0 || query.limit > limits_.max_list_limit)
    throw InvalidArgument("limit", "limit must be 0 to " + std::to_string(limits_.max_list_limit));
  store::ListQuery scoped = query;
  scoped.user = caller.user;
  if (!scoped.after.empty()) owned(caller, scoped.after);
  return store_.list_videos(scoped);
}

void VideoService::delete_with_blobs(const store::VideoRecord& video) {
  store_.delete_video(video.id);
  runner_.cancel(video.id);  // a running job stops at its next progress step
  std::string input_image, uploaded_source;
  try {
    const JobRequest request = JobRequest::from_json(video.request_json);
    input_image = request.input_reference_blob;
    uploaded_source = request.source_blob;
  } catch (const std::exception&) {
    // A record without a readable request has no input image or upload to drop.
  }
  for (const auto& key : {video.video_blob, video.thumbnail_blob, video.spritesheet_blob, input_image, uploaded_source})
    if (!key.empty() && store_.blob_references(key) == 0 && !(blob_held_ && blob_held_(key))) blobs_.remove(key);
  if (on_deleted_) {
    try {
      on_deleted_(video.id);
    } catch (const std::exception& e) {
      // The video is gone; a post left behind names a missing video and shows nothing.
      std::fprintf(stderr, "opsis serve: video %s deleted, but its app post was not: %s\n", video.id.c_str(), e.what());
    }
  }
}

void VideoService::remove(const Caller& caller, const std::string& id) { delete_with_blobs(owned(caller, id)); }

store::VideoRecord VideoService::finished_source(const Caller& caller, const std::string& id, const std::string& param) {
  store::VideoRecord source = owned(caller, id);
  if (source.status != store::VideoStatus::Completed || source.video_blob.empty())
    throw ApiError(400, "invalid_request_error", "video_not_ready",
                   "video " + id + " is " + store::name(source.status) + "; only a completed video can be used", param);
  return source;
}

// The cameos a derived video uses: its source's explicit ones, then the newly named ones.
static std::vector<std::string> inherited_cameos(const JobRequest& source, const std::vector<std::string>& named) {
  std::vector<std::string> ids = source.cameo_ids;
  for (const auto& id : named)
    if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
  return ids;
}

store::VideoRecord VideoService::remix_of(const Caller& caller, const store::VideoRecord& source, const std::string& prompt,
                                          bool visible_watermark, const std::vector<std::string>& cameo_ids) {
  const JobRequest from = JobRequest::from_json(source.request_json);
  JobRequest request;
  request.model = from.model;  // what made the source, even if its alias now means another model
  request.history = from.full_history();
  request.step = {PromptStep::Use::Remix, prompt, std::stoi(source.seconds)};
  request.width = from.width;
  request.height = from.height;
  request.seed = from.seed;  // the same world, changed only as the prompt says
  request.source_id = source.id;
  request.visible_watermark = visible_watermark;
  // The source's scene comes along, its cameos with it: this caller must be allowed them now
  // (and the worker checks the whole scene again before generating).
  request.cameo_ids = inherited_cameos(from, cameo_ids);
  screen(caller, request.scene_text(), request.cameo_ids);
  store::VideoRecord video;
  video.model = source.model;
  video.prompt = prompt;
  video.size = source.size;
  video.seconds = source.seconds;
  video.remixed_from = source.id;
  return queue(caller, std::move(video), request);
}

store::VideoRecord VideoService::remix(const Caller& caller, const std::string& id, const std::string& prompt,
                                       const std::vector<std::string>& characters) {
  screen(caller, prompt, characters);
  return remix_of(caller, finished_source(caller, id, "video_id"), prompt, false, characters);
}

store::VideoRecord VideoService::remix_shared(const Caller& caller, const std::string& id, const std::string& prompt,
                                              const std::function<bool(const store::VideoRecord&)>& shared,
                                              const std::vector<std::string>& characters) {
  screen(caller, prompt, characters);
  const auto source = store_.video(id);
  if (!source || (source->user != caller.user && !shared(*source))) throw not_found("no video with id '" + id + "'");
  if (source->status != store::VideoStatus::Completed || source->video_blob.empty())
    throw ApiError(400, "invalid_request_error", "video_not_ready",
                   "video " + id + " is " + store::name(source->status) + "; only a completed video can be used", "video_id");
  return remix_of(caller, *source, prompt, true, characters);
}

VideoService::Upload VideoService::accept_upload(const std::string& bytes) {
  const Mp4Summary summary = probe_mp4(bytes);
  Upload upload;
  upload.model = models_.resolve("sora-2");  // an upload names no model: the default makes the new clip
  const ModelInfo info = models_.get(upload.model).info();
  const std::string size = std::to_string(summary.width) + "x" + std::to_string(summary.height);
  if (std::find(info.sizes.begin(), info.sizes.end(), size) == info.sizes.end())
    throw InvalidArgument("video", "the uploaded video is " + size + "; " + info.name + " continues only " + join(info.sizes));
  upload.width = summary.width;
  upload.height = summary.height;
  upload.seconds = int(std::lround(summary.seconds));
  if (std::find(info.seconds.begin(), info.seconds.end(), upload.seconds) == info.seconds.end())
    throw InvalidArgument("video", "the uploaded video lasts " + std::to_string(summary.seconds) + " s; " + info.name +
                                       " takes " + std::to_string(info.seconds.front()) + " to " +
                                       std::to_string(info.seconds.back()) + " s");
  upload.blob = blobs_.put(std::vector<uint8_t>(bytes.begin(), bytes.end()));
  return upload;
}

store::VideoRecord VideoService::edit(const Caller& caller, const EditVideo& in) {
  screen(caller, in.prompt, in.characters);
  if (!in.video.upload) {
    if (in.video.id.empty()) throw InvalidArgument("video", "name the video to edit: video: {id: \"video_...\"}, or upload an MP4");
    return remix_of(caller, finished_source(caller, in.video.id, "video"), in.prompt, false, in.characters);
  }
  const Upload upload = accept_upload(*in.video.upload);
  JobRequest request;
  request.model = upload.model;
  request.step = {PromptStep::Use::Create, in.prompt, upload.seconds};
  request.width = upload.width;
  request.height = upload.height;
  request.seed = random_seed();
  request.source_blob = upload.blob;
  request.cameo_ids = in.characters;
  store::VideoRecord video;
  video.model = "sora-2";
  video.prompt = in.prompt;
  video.size = std::to_string(upload.width) + "x" + std::to_string(upload.height);
  video.seconds = std::to_string(upload.seconds);
  return queue(caller, std::move(video), request);
}

store::VideoRecord VideoService::extend(const Caller& caller, const ExtendVideo& in) {
  screen(caller, in.prompt, in.characters);
  JobRequest request;
  request.cameo_ids = in.characters;
  store::VideoRecord video;
  int source_seconds = 0;
  if (in.video.upload) {
    const Upload upload = accept_upload(*in.video.upload);
    request.model = upload.model;
    // The upload has no history: the scene is the extension prompt's, and the upload's own
    // frames and sound stand for its first seconds.
    request.history = {{PromptStep::Use::Create, in.prompt, upload.seconds}};
    request.width = upload.width;
    request.height = upload.height;
    request.seed = random_seed();
    request.source_blob = upload.blob;
    source_seconds = upload.seconds;
    video.model = "sora-2";
    video.size = std::to_string(upload.width) + "x" + std::to_string(upload.height);
  } else {
    if (in.video.id.empty()) throw InvalidArgument("video", "name the video to extend: video: {id: \"video_...\"}, or upload an MP4");
    const store::VideoRecord source = finished_source(caller, in.video.id, "video");
    const JobRequest from = JobRequest::from_json(source.request_json);
    request.model = from.model;
    request.history = from.full_history();
    request.width = from.width;
    request.height = from.height;
    request.seed = from.seed;
    request.source_id = source.id;
    request.cameo_ids = inherited_cameos(from, in.characters);
    source_seconds = std::stoi(source.seconds);
    video.model = source.model;
    video.size = source.size;
  }
  const ModelInfo info = models_.get(request.model).info();
  const int added = parse_seconds(in.seconds, info, "seconds");
  const int total = source_seconds + added;
  if (total > kMaxTotalSeconds)
    throw InvalidArgument("seconds", "the extended video would last " + std::to_string(total) + " s; at most " +
                                         std::to_string(kMaxTotalSeconds) + " s in all");
  request.step = {PromptStep::Use::Extend, in.prompt, added};
  if (!request.history.empty()) screen(caller, request.scene_text(), request.cameo_ids);  // the source's cameos come along
  video.prompt = in.prompt;
  video.seconds = std::to_string(total);  // the stitched total, as the API reports it
  return queue(caller, std::move(video), request);
}

Content VideoService::content(const Caller& caller, const std::string& id, const std::string& variant) {
  const store::VideoRecord video = owned(caller, id);
  if (variant != "video" && variant != "thumbnail" && variant != "spritesheet")
    throw InvalidArgument("variant", "variant must be 'video', 'thumbnail' or 'spritesheet', not '" + variant + "'");
  if (video.status != store::VideoStatus::Completed)
    throw ApiError(404, "invalid_request_error", "video_not_ready",
                   "video " + id + " is " + store::name(video.status) + "; its content is not ready");
  if (variant == "video") return {video.video_blob, "video/mp4"};
  if (variant == "thumbnail") return {video.thumbnail_blob, "image/webp"};
  return {video.spritesheet_blob, "image/jpeg"};
}

int VideoService::sweep_expired(int64_t now) {
  int removed = 0;
  for (const auto& video : store_.expired_videos(now)) {
    delete_with_blobs(video);
    ++removed;
  }
  return removed;
}

}  // namespace opsis::server
