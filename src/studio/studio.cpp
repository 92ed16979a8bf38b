#include "studio/studio.hpp"

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "studio/sound.hpp"

namespace opsis::studio {

namespace {

void validate_options(const RenderOptions& o) {
  auto check_side = [](int side, const char* what) {
    if (side < 16 || side > 1920 || side % 2 != 0)
      throw InvalidArgument("size", std::string("the ") + what + " must be an even number of pixels from 16 to 1920, not " +
                                        std::to_string(side));
  };
  check_side(o.width, "width");
  check_side(o.height, "height");
  if (o.fps < 1 || o.fps > 60) throw InvalidArgument("fps", "frame rate must be 1 to 60, not " + std::to_string(o.fps));
  if (o.sample_rate < 8000 || o.sample_rate > 96000)
    throw InvalidArgument("sample_rate", "sample rate must be 8000 to 96000 Hz, not " + std::to_string(o.sample_rate));
}

}  // namespace

Clip render_clip(const SceneSpec& spec, const RenderOptions& options, const Progress* progress) {
  validate(spec);
  validate_options(options);

  const Timeline timeline = simulate(spec, options.seed, options.fps, options.sample_rate);
  const FrameRenderer renderer(spec, options.scenery_seed.value_or(options.seed), options.width, options.height);

  Clip clip;
  clip.video.width = options.width;
  clip.video.height = options.height;
  clip.video.fps_num = options.fps;
  clip.video.fps_den = 1;
  const int frame_count = int(timeline.frames.size());
  clip.video.rgb.resize(size_t(frame_count) * clip.video.frame_bytes());
  clip.truth.frames.reserve(size_t(frame_count));

  // Sound is a fixed share of the work; frames report progress as they are drawn.
  const double picture_share = options.audio ? 0.9 : 1.0;
  for (int i = 0; i < frame_count; ++i) {
    const FrameState& state = timeline.frames[size_t(i)];
    FrameTruth truth;
    truth.index = i;
    truth.time = state.time;
    truth.shot = state.camera.shot;
    truth.camera = state.camera;
    renderer.draw(state, clip.video.frame(i), &truth.entities);
    for (EntityTruth& e : truth.entities) {
      const EntityPose& pose = state.entities.at(size_t(e.entity));
      e.world_x = pose.x, e.world_y = pose.y, e.world_z = pose.z;
    }
    clip.truth.frames.push_back(std::move(truth));
    if (progress && (i % 8 == 7 || i + 1 == frame_count)) Progress::step(progress, picture_share * (i + 1) / frame_count);
  }
  if (options.audio) {
    if (options.speech) {
      clip.audio = synthesize_sound(spec, timeline, options.seed);
    } else {
      Timeline without_speech = timeline;
      without_speech.speech.clear();
      clip.audio = synthesize_sound(spec, without_speech, options.seed);
    }
  }
  clip.truth.events = timeline.events;
  Progress::step(progress, 1.0);
  return clip;
}

namespace {

nlohmann::json spec_to_json(const SceneSpec& spec) {
  using nlohmann::json;
  json objects = json::array();
  for (const auto& o : spec.objects)
    objects.push_back({{"kind", name(o.kind)}, {"color", name(o.color)}, {"size", name(o.size)}, {"motion", name(o.motion)}});
  json characters = json::array();
  for (const auto& c : spec.characters) {
    const Identity& id = c.identity;
    characters.push_back({{"name", id.name},
                          {"skin", name(id.skin)},
                          {"hair_color", name(id.hair_color)},
                          {"hair_style", name(id.hair_style)},
                          {"shirt", name(id.shirt)},
                          {"accessory", name(id.accessory)},
                          {"action", name(c.action)},
                          {"line", c.line}});
  }
  json shots = json::array();
  for (const auto& s : spec.shots)
    shots.push_back({{"camera", name(s.camera)}, {"speed", name(s.speed)}, {"framing", name(s.framing)},
                     {"lens", name(s.lens)}, {"seconds", s.seconds}});
  return {{"setting", name(spec.setting)}, {"time_of_day", name(spec.time_of_day)}, {"weather", name(spec.weather)},
          {"objects", objects},           {"characters", characters},                {"shots", shots},
          {"negatives", spec.negatives},  {"seconds", spec.seconds()}};
}

}  // namespace

std::string spec_json(const SceneSpec& spec) { return spec_to_json(spec).dump(1); }

std::string truth_json(const SceneSpec& spec, const Clip& clip) {
  using nlohmann::json;
  json entities = json::array();
  for (size_t i = 0; i < spec.objects.size(); ++i)
    entities.push_back({{"index", i}, {"type", "object"}, {"kind", name(spec.objects[i].kind)}, {"color", name(spec.objects[i].color)}});
  for (size_t i = 0; i < spec.characters.size(); ++i)
    entities.push_back({{"index", spec.objects.size() + i}, {"type", "character"}, {"name", spec.characters[i].identity.name}});

  json frames = json::array();
  for (const FrameTruth& f : clip.truth.frames) {
    json boxes = json::array();
    for (const EntityTruth& e : f.entities) {
      json b = {{"entity", e.entity},
                {"visible", e.visible},
                {"box", {e.x0, e.y0, e.x1, e.y1}},
                {"position", {e.world_x, e.world_y, e.world_z}}};
      if (size_t(e.entity) >= spec.objects.size()) b["mouth_open"] = e.mouth_open;
      boxes.push_back(std::move(b));
    }
    const CameraPose& c = f.camera;
    frames.push_back({{"index", f.index},
                      {"time", f.time},
                      {"shot", f.shot},
                      {"camera", {{"x", c.x}, {"y", c.y}, {"z", c.z}, {"yaw", c.yaw}, {"pitch", c.pitch}, {"focal", c.focal}}},
                      {"entities", boxes}});
  }
  json events = json::array();
  for (const Event& e : clip.truth.events) {
    json j = {{"kind", kEventKindNames[int(e.kind)]}, {"time", e.time}, {"frame", int(e.time * clip.video.fps() + 0.5)}};
    switch (e.kind) {
      case EventKind::Impact:
        j["entity"] = e.entity, j["other"] = e.other, j["material"] = e.material, j["speed"] = e.speed;
        break;
      case EventKind::Footstep:
        j["entity"] = e.entity, j["material"] = e.material, j["speed"] = e.speed;
        break;
      case EventKind::Phoneme:
        j["entity"] = e.entity, j["phoneme"] = e.phoneme, j["duration"] = e.duration;
        break;
      case EventKind::Cut:
        j["shot"] = e.shot;
        break;
      case EventKind::WingFlap:
      case EventKind::Chirp:
        j["entity"] = e.entity;
        break;
    }
    events.push_back(std::move(j));
  }
  json out = {{"spec", spec_to_json(spec)},
              {"width", clip.video.width},
              {"height", clip.video.height},
              {"fps", clip.video.fps()},
              {"frame_count", clip.video.frame_count()},
              {"sample_rate", clip.audio.sample_rate},
              {"entities", entities},
              {"frames", frames},
              {"events", events}};
  return out.dump(1);
}

}  // namespace opsis::studio
