#include "server/engine_generator.hpp"

#include <algorithm>
#include <cmath>

#include "core/error.hpp"
#include "engine/dialogue_request.hpp"
#include "engine/pipeline.hpp"
#include "media/image_io.hpp"

namespace opsis::server {

namespace {

// Centre-crop to the aspect ratio of width x height, then scale to it.
Image fit(const Image& image, int width, int height) {
  const double want = double(width) / height;
  int crop_w = image.width, crop_h = image.height;
  if (double(image.width) / image.height > want) crop_w = std::max(1, int(std::lround(image.height * want)));
  else crop_h = std::max(1, int(std::lround(image.width / want)));
  Image cropped(crop_w, crop_h);
  const int x0 = (image.width - crop_w) / 2, y0 = (image.height - crop_h) / 2;
  for (int y = 0; y < crop_h; ++y) std::copy_n(image.row(y + y0) + size_t(x0) * 3, size_t(crop_w) * 3, cropped.row(y));
  return media::resize(cropped, width, height);
}

// Linear resampling of interleaved PCM to `rate`.
Audio resampled(const Audio& in, int rate) {
  if (in.sample_rate == rate || in.samples.empty()) return in;
  Audio out;
  out.sample_rate = rate;
  out.channels = in.channels;
  const size_t frames_in = in.frame_count();
  const size_t frames_out = size_t(std::llround(double(frames_in) * rate / in.sample_rate));
  out.samples.resize(frames_out * size_t(in.channels));
  for (size_t i = 0; i < frames_out; ++i) {
    const double at = double(i) * in.sample_rate / rate;
    const size_t a = std::min(frames_in - 1, size_t(at));
    const size_t b = std::min(frames_in - 1, a + 1);
    const double t = at - double(a);
    for (int c = 0; c < in.channels; ++c)
      out.samples[i * size_t(in.channels) + size_t(c)] =
          float((1 - t) * in.samples[a * size_t(in.channels) + size_t(c)] + t * in.samples[b * size_t(in.channels) + size_t(c)]);
  }
  return out;
}

// The same channel count as `like` (mono <-> stereo by averaging or copying).
Audio with_channels(const Audio& in, int channels) {
  if (in.channels == channels || in.samples.empty()) return in;
  Audio out;
  out.sample_rate = in.sample_rate;
  out.channels = channels;
  const size_t frames = in.frame_count();
  out.samples.resize(frames * size_t(channels));
  for (size_t i = 0; i < frames; ++i) {
    double mono = 0;
    for (int c = 0; c < in.channels; ++c) mono += in.samples[i * size_t(in.channels) + size_t(c)];
    mono /= in.channels;
    for (int c = 0; c < channels; ++c) out.samples[i * size_t(channels) + size_t(c)] = float(mono);
  }
  return out;
}

}  // namespace

EngineGenerator::EngineGenerator(std::string name, std::string description, std::unique_ptr<engine::Backend> backend)
    : name_(std::move(name)), description_(std::move(description)), backend_(std::move(backend)) {}

ModelInfo EngineGenerator::info() const {
  const engine::Capabilities caps = backend_->capabilities();
  ModelInfo info;
  info.name = name_;
  info.description = description_;
  for (const auto& [w, h] : caps.sizes) info.sizes.push_back(std::to_string(w) + "x" + std::to_string(h));
  for (int s = std::max(1, int(std::ceil(caps.min_seconds))); s <= int(std::floor(caps.max_seconds)); ++s)
    info.seconds.push_back(s);
  info.image_to_video = caps.image_conditioning;
  if (caps.image_conditioning)
    info.input_reference_note = "The image (centre-cropped and scaled) conditions the first frame; the model moves the scene on from it.";
  return info;
}

GenerationResult EngineGenerator::generate(const GenerationRequest& request, const Progress* progress) {
  std::lock_guard lock(mutex_);
  const engine::Capabilities caps = backend_->capabilities();
  engine::GenerateRequest r;
  r.prompt = request.prompt;
  r.seconds = request.seconds;
  r.width = request.width;
  r.height = request.height;
  r.seed = request.seed;
  Image source_frame;
  const Image* first = request.first_frame ? &*request.first_frame : nullptr;
  if (request.source) {
    const Video& before = request.source->video;
    if (before.frame_count() == 0) throw InvalidArgument("video", "the source video has no frames");
    source_frame = before.frame_image(request.source->use == PromptStep::Use::Extend ? before.frame_count() - 1 : 0);
    first = &source_frame;
  }
  if (first) {
    if (!caps.image_conditioning)
      throw InvalidArgument("input_reference", name_ + " cannot start from an image; leave input_reference out");
    r.first_frame = fit(*first, r.width, r.height);
  }
  engine::Pipeline pipeline(*backend_);
  r = pipeline.validate(r);
  // Lines the prompt gives its characters are spoken (espeak-ng): their phonemes drive the
  // mouths and their speech is mixed into the sound, as in `opsis generate`.
  if (caps.dialogue_conditioning) engine::add_dialogue(r, caps.sample_rate);
  engine::GeneratedClip clip = pipeline.run(pipeline.validate(r), progress);
  GenerationResult result{std::move(clip.video), std::move(clip.audio)};

  if (request.source && request.source->use == PromptStep::Use::Extend) {
    // Stitched: the source's frames and sound, then the continuation.
    const Video& before = request.source->video;
    if (before.width != result.video.width || before.height != result.video.height)
      throw InvalidArgument("video", "an extension keeps the source's size");
    std::vector<uint8_t> frames = before.rgb;
    frames.insert(frames.end(), result.video.rgb.begin(), result.video.rgb.end());
    result.video.rgb = std::move(frames);
    const int rate = result.audio.samples.empty() ? request.source->audio.sample_rate : result.audio.sample_rate;
    const int channels = result.audio.samples.empty() ? std::max(1, request.source->audio.channels) : result.audio.channels;
    Audio head = with_channels(resampled(request.source->audio, rate), channels);
    // The sound before the cut lasts exactly as long as the source's frames.
    head.samples.resize(size_t(std::llround(before.seconds() * rate)) * size_t(channels), 0.0f);
    head.samples.insert(head.samples.end(), result.audio.samples.begin(), result.audio.samples.end());
    head.sample_rate = rate;
    head.channels = channels;
    result.audio = std::move(head);
  }
  return result;
}

}  // namespace opsis::server
