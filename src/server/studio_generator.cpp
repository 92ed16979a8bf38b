#include "server/studio_generator.hpp"

#include <algorithm>
#include <cmath>

#include "core/error.hpp"
#include "media/image_io.hpp"
#include "studio/caption.hpp"
#include "studio/studio.hpp"

namespace opsis::server {

namespace {

constexpr int kFps = 24;
constexpr int kSampleRate = 48000;
constexpr int kFadeFrames = 12;  // 0.5 s at 24 fps: input_reference -> rendered scene

studio::SceneSpec parse_with_length(const std::string& prompt, int seconds) {
  studio::ParseResult parsed = studio::parse_prompt(prompt, double(seconds));
  studio::SceneSpec spec = std::move(parsed.spec);
  // The request's seconds decide the length; the prompt's shots keep their proportions.
  const double total = spec.seconds();
  for (auto& shot : spec.shots)
    shot.seconds = total > 0 ? shot.seconds * seconds / total : double(seconds) / double(spec.shots.size());
  return spec;
}

bool camera_named(const studio::ShotSpec& shot) {
  const studio::ShotSpec plain;
  return shot.camera != plain.camera || shot.speed != plain.speed || shot.framing != plain.framing || shot.lens != plain.lens;
}

void copy_camera(const studio::ShotSpec& from, studio::ShotSpec& to) {
  to.camera = from.camera;
  to.speed = from.speed;
  to.framing = from.framing;
  to.lens = from.lens;
}

// What a remix prompt changes: every part of the scene it names differently from an unnamed
// default. (A remix prompt that names the default itself, "in a meadow", is not seen as a
// change: the parser cannot tell it from silence.)
void apply_changes(studio::SceneSpec& scene, const studio::SceneSpec& asked) {
  const studio::SceneSpec plain;
  if (asked.setting != plain.setting) scene.setting = asked.setting;
  if (asked.time_of_day != plain.time_of_day) scene.time_of_day = asked.time_of_day;
  if (asked.weather != plain.weather) scene.weather = asked.weather;
  if (!asked.objects.empty()) scene.objects = asked.objects;
  if (!asked.characters.empty()) scene.characters = asked.characters;
  if (!asked.shots.empty() && camera_named(asked.shots.front()))
    for (auto& shot : scene.shots) copy_camera(asked.shots.front(), shot);
  for (const auto& negative : asked.negatives)
    if (std::find(scene.negatives.begin(), scene.negatives.end(), negative) == scene.negatives.end())
      scene.negatives.push_back(negative);
}

}  // namespace

studio::SceneSpec scene_for_history(const std::vector<PromptStep>& history) {
  if (history.empty() || history.front().use != PromptStep::Use::Create)
    throw InvalidArgument("video", "the source video's history does not start with its creation");
  studio::SceneSpec scene = parse_with_length(history.front().prompt, history.front().seconds);
  for (size_t i = 1; i < history.size(); ++i) {
    const PromptStep& step = history[i];
    if (step.use == PromptStep::Use::Remix) {
      apply_changes(scene, studio::parse_prompt(step.prompt, scene.seconds()).spec);
    } else if (step.use == PromptStep::Use::Extend) {
      // The world runs on; the new shot is filmed as the extension prompt says, or as the
      // last shot was when it names no camera.
      studio::ShotSpec added = scene.shots.back();
      added.seconds = double(step.seconds);
      const studio::SceneSpec asked = studio::parse_prompt(step.prompt, double(step.seconds)).spec;
      if (!asked.shots.empty() && camera_named(asked.shots.front())) copy_camera(asked.shots.front(), added);
      scene.shots.push_back(added);
    }
  }
  return scene;
}

void fade_in_from_image(Video& video, const Image& image, int fade_frames) {
  // Centre-crop the image to the video's aspect ratio, then scale it to the video's size.
  const double want = double(video.width) / video.height;
  int crop_w = image.width, crop_h = image.height;
  if (double(image.width) / image.height > want) crop_w = std::max(1, int(std::lround(image.height * want)));
  else crop_h = std::max(1, int(std::lround(image.width / want)));
  Image cropped(crop_w, crop_h);
  const int x0 = (image.width - crop_w) / 2, y0 = (image.height - crop_h) / 2;
  for (int y = 0; y < crop_h; ++y)
    std::copy_n(image.row(y + y0) + size_t(x0) * 3, size_t(crop_w) * 3, cropped.row(y));
  const Image first = media::resize(cropped, video.width, video.height);

  const int frames = std::min(fade_frames, video.frame_count());
  for (int t = 0; t < frames; ++t) {
    const double rendered_weight = double(t) / fade_frames;
    uint8_t* frame = video.frame(t);
    for (size_t i = 0; i < video.frame_bytes(); ++i)
      frame[i] = uint8_t(std::lround((1.0 - rendered_weight) * first.pixels[i] + rendered_weight * frame[i]));
  }
}

ModelInfo StudioGenerator::info() const {
  ModelInfo info;
  info.name = kName;
  info.description =
      "The studio world rendered exactly as the prompt describes it (settings, objects, characters, camera, "
      "lens, sound); deterministic, CPU only. Remix re-renders the source's scene with the new prompt's "
      "changes; extension renders the scene on and appends it to the source clip.";
  info.sizes = {"720x1280", "1280x720", "1024x1792", "1792x1024", "960x540", "540x960", "640x360",
                "360x640",  "320x180",  "180x320",   "256x256",   "160x90",  "90x160"};
  for (int s = 1; s <= 25; ++s) info.seconds.push_back(s);
  info.image_to_video = true;
  info.input_reference_note =
      "The image is the first frame (centre-cropped and scaled to the size); the picture cross-fades from it into "
      "the rendered scene over the first 0.5 s. The studio world does not continue the image's own content.";
  return info;
}

GenerationResult StudioGenerator::generate(const GenerationRequest& request, const Progress* progress) {
  std::vector<PromptStep> history;
  PromptStep step;
  step.prompt = request.prompt;
  step.seconds = request.seconds;
  if (request.source) {
    history = request.source->history;
    step.use = request.source->use;
  }
  history.push_back(step);
  const studio::SceneSpec scene = scene_for_history(history);
  if (scene.seconds() > studio::kMaxSeconds + 1e-9)
    throw InvalidArgument("seconds", "the clip would last " + std::to_string(int(std::lround(scene.seconds()))) +
                                         " s; at most " + std::to_string(int(studio::kMaxSeconds)) + " s in all");

  studio::RenderOptions options;
  options.width = request.width;
  options.height = request.height;
  options.fps = kFps;
  options.sample_rate = kSampleRate;
  options.seed = request.seed;
  studio::Clip clip = studio::render_clip(scene, options, progress);

  GenerationResult result{std::move(clip.video), std::move(clip.audio)};
  if (request.first_frame) fade_in_from_image(result.video, *request.first_frame, kFadeFrames);

  if (request.source && request.source->use == PromptStep::Use::Extend) {
    // Stitch: the source's own frames and sound, then the world rendered on from where it ended.
    const Video& before = request.source->video;
    if (before.width != result.video.width || before.height != result.video.height)
      throw InvalidArgument("video", "the source video is " + std::to_string(before.width) + "x" +
                                         std::to_string(before.height) + "; an extension keeps its size");
    const int kept = std::min(before.frame_count(), result.video.frame_count());
    std::copy_n(before.rgb.begin(), size_t(kept) * before.frame_bytes(), result.video.rgb.begin());
    const Audio& sound = request.source->audio;
    if (!sound.samples.empty() && sound.sample_rate == result.audio.sample_rate && sound.channels == result.audio.channels) {
      const size_t samples = std::min(result.audio.samples.size(),
                                      size_t(std::llround(double(kept) / kFps * kSampleRate)) * size_t(sound.channels));
      const size_t copied = std::min(samples, sound.samples.size());
      std::copy_n(sound.samples.begin(), copied, result.audio.samples.begin());
    }
  }
  return result;
}

}  // namespace opsis::server
