#include "eval/eval.hpp"

#include <nlohmann/json.hpp>

#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <stdexcept>

#include "core/error.hpp"
#include "engine/dialogue_request.hpp"
#include "engine/pipeline.hpp"
#include "eval/features.hpp"
#include "eval/probe.hpp"
#include "studio/caption.hpp"
#include "studio/studio.hpp"
#include "train/holdout.hpp"

namespace opsis::eval {
namespace {
using namespace studio;

constexpr int kAnalysisFps = 12;  // features are read at 12 frames/s whatever the clip's rate
constexpr double kClipSeconds = 4.0;
constexpr int kAttributes = 5;
const char* const kAttributeNames[kAttributes] = {"setting", "object", "color", "motion", "camera"};
const int kAttributeClasses[kAttributes] = {int(kSettingNames.size()), int(kObjectKindNames.size()),
                                            int(kColorNames.size()), int(kMotionNames.size()),
                                            int(kCameraMoveNames.size())};

std::array<int, kAttributes> labels_of(const SceneSpec& spec) {
  const auto& o = spec.objects.at(0);
  return {int(spec.setting), int(o.kind), int(o.color), int(o.motion), int(spec.shots.at(0).camera)};
}

std::string label_name(int attribute, int value) {
  switch (attribute) {
    case 0: return std::string(kSettingNames[size_t(value)]);
    case 1: return std::string(kObjectKindNames[size_t(value)]);
    case 2: return std::string(kColorNames[size_t(value)]);
    case 3: return std::string(kMotionNames[size_t(value)]);
    default: return std::string(kCameraMoveNames[size_t(value)]);
  }
}

SceneSpec one_object_scene(Setting setting, ObjectSpec object, CameraMove camera) {
  SceneSpec spec;
  spec.setting = setting;
  spec.objects = {object};
  spec.shots = {ShotSpec{}};
  spec.shots[0].camera = camera;
  spec.shots[0].seconds = kClipSeconds;
  return spec;
}

// A studio scene of random attributes; `held_out` picks one of the held-out combinations for
// its object and its shot, otherwise none of them may appear.
SceneSpec random_scene(std::mt19937_64& rng, bool held_out) {
  auto pick = [&](int n) { return int(std::uniform_int_distribution<int>(0, n - 1)(rng)); };
  for (;;) {
    ObjectSpec object{ObjectKind(pick(5)), Color(pick(8)), Size(pick(2)), Motion(pick(9))};
    Setting setting = Setting(pick(8));
    CameraMove camera = CameraMove(pick(10));
    if (held_out) {
      const auto& o = train::held_out_objects()[size_t(pick(int(train::held_out_objects().size())))];
      const auto& s = train::held_out_shots()[size_t(pick(int(train::held_out_shots().size())))];
      object.kind = o.kind, object.color = o.color, object.motion = o.motion;
      setting = s.setting, camera = s.camera;
    }
    SceneSpec spec = one_object_scene(setting, object, camera);
    if (held_out || !train::is_held_out(spec)) return spec;
  }
}

// The clip at kAnalysisFps (every n-th frame).
Video at_analysis_rate(const Video& video) {
  const int stride = std::max(1, int(std::lround(video.fps() / kAnalysisFps)));
  Video out;
  out.width = video.width;
  out.height = video.height;
  out.fps_num = kAnalysisFps;
  for (int t = 0; t < video.frame_count(); t += stride)
    out.rgb.insert(out.rgb.end(), video.frame(t), video.frame(t) + video.frame_bytes());
  return out;
}

RenderOptions studio_options(const EvalOptions& o, uint64_t seed, int fps) {
  RenderOptions r;
  r.width = o.width;
  r.height = o.height;
  r.fps = fps;
  r.seed = seed;
  r.audio = false;
  return r;
}


// ---- Studio clips with a character: setting, weather and identity probes ----

constexpr double kCharacterClipSeconds = 2.0;  // studio clips that train the character probes
constexpr int kCharacterAttributes = 5;
const char* const kCharacterAttributeNames[kCharacterAttributes] = {"setting", "weather", "skin", "hair", "shirt"};
const int kCharacterAttributeClasses[kCharacterAttributes] = {int(kSettingNames.size()), int(kWeatherNames.size()),
                                                              int(kSkinToneNames.size()), int(kHairColorNames.size()),
                                                              int(kColorNames.size())};

std::string character_label_name(int attribute, int value) {
  switch (attribute) {
    case 0: return std::string(kSettingNames[size_t(value)]);
    case 1: return std::string(kWeatherNames[size_t(value)]);
    case 2: return std::string(kSkinToneNames[size_t(value)]);
    case 3: return std::string(kHairColorNames[size_t(value)]);
    default: return std::string(kColorNames[size_t(value)]);
  }
}

std::array<int, kCharacterAttributes> character_labels(const SceneSpec& spec) {
  const Identity& id = spec.characters.at(0).identity;
  return {int(spec.setting), int(spec.weather), int(id.skin), int(id.hair_color), int(id.shirt)};
}

// Settings a person stands in (not the night sky).
constexpr std::array<Setting, 7> kGroundSettings{Setting::Meadow, Setting::Beach,     Setting::CityStreet, Setting::LivingRoom,
                                                 Setting::Forest, Setting::Snowfield, Setting::Desert};
constexpr std::array<Action, 5> kSilentActions{Action::Stands, Action::Waves, Action::WalksLeft, Action::WalksRight, Action::Jumps};

Identity random_identity(std::mt19937_64& rng) {
  auto pick = [&](int n) { return int(std::uniform_int_distribution<int>(0, n - 1)(rng)); };
  Identity id;
  id.skin = SkinTone(pick(int(kSkinToneNames.size())));
  id.hair_color = HairColor(pick(int(kHairColorNames.size())));
  id.hair_style = pick(2) ? HairStyle::Long : HairStyle::Short;  // not bald: the hair colour must show
  id.shirt = Color(pick(int(kColorNames.size())));
  return id;
}

// One character in a random setting and weather, doing something silent; a static camera.
SceneSpec random_character_scene(std::mt19937_64& rng) {
  auto pick = [&](int n) { return int(std::uniform_int_distribution<int>(0, n - 1)(rng)); };
  SceneSpec spec;
  spec.setting = Setting(pick(int(kSettingNames.size())));
  spec.weather = pick(2) ? Weather::Rain : Weather::Clear;
  CharacterSpec character;
  character.identity = random_identity(rng);
  character.action = kSilentActions[size_t(pick(int(kSilentActions.size())))];
  spec.characters = {character};
  spec.shots = {ShotSpec{}};
  spec.shots[0].framing = pick(2) ? Framing::Medium : Framing::Wide;
  spec.shots[0].seconds = kCharacterClipSeconds;
  return spec;
}

// The entity's screen box per frame of a studio clip (empty where it is not seen).
std::vector<Box> boxes_of(const Clip& clip, int entity) {
  std::vector<Box> boxes;
  for (const auto& frame : clip.truth.frames) {
    Box b;
    if (entity < int(frame.entities.size()) && frame.entities[size_t(entity)].visible) {
      const auto& e = frame.entities[size_t(entity)];
      b = {e.x0, e.y0, e.x1, e.y1};
    }
    boxes.push_back(b);
  }
  return boxes;
}

// Frames [first, first + count) of a clip, every `stride`-th.
Video frames_of(const Video& video, int first, int count, int stride) {
  Video out;
  out.width = video.width;
  out.height = video.height;
  out.fps_num = video.fps_num;
  out.fps_den = video.fps_den * stride;
  for (int t = first; t < std::min(video.frame_count(), first + count); t += stride)
    out.rgb.insert(out.rgb.end(), video.frame(t), video.frame(t) + video.frame_bytes());
  return out;
}

std::vector<Box> boxes_in(const std::vector<Box>& boxes, int first, int count, int stride) {
  std::vector<Box> out;
  for (int t = first; t < std::min(int(boxes.size()), first + count); t += stride) out.push_back(boxes[size_t(t)]);
  return out;
}

// Whole-frame features and the character's region features, at kAnalysisFps; frames
// [first, first + count) of the clip (count < 0: to the end).
std::vector<float> character_features(const Video& video, const std::vector<Box>& boxes, int first = 0, int count = -1) {
  const int stride = std::max(1, int(std::lround(video.fps() / kAnalysisFps)));
  if (count < 0) count = video.frame_count() - first;
  const Video part = frames_of(video, first, count, stride);
  auto features = clip_features(part);
  const auto region = region_features(part, boxes_in(boxes, first, count, stride));
  features.insert(features.end(), region.begin(), region.end());
  return features;
}

struct CharacterProbes {
  std::vector<Probe> probes = std::vector<Probe>(kCharacterAttributes);
  std::array<int, kCharacterAttributes> read(const std::vector<float>& features) const {
    std::array<int, kCharacterAttributes> out{};
    for (int a = 0; a < kCharacterAttributes; ++a) out[size_t(a)] = probes[size_t(a)].predict(features);
    return out;
  }
};

// A studio portrait of the character for cameo conditioning: a close-up of it standing in a
// living room (as the trainer makes them).
Image portrait(const CharacterSpec& character, int size, uint64_t seed) {
  SceneSpec spec;
  spec.setting = Setting::LivingRoom;
  CharacterSpec still = character;
  still.action = Action::Stands;
  still.line.clear();
  spec.characters.push_back(still);
  spec.shots[0].framing = Framing::CloseUp;
  spec.shots[0].seconds = 0.25;
  RenderOptions options;
  options.width = size;
  options.height = size;
  options.seed = seed;
  options.audio = false;
  return render_clip(spec, options).video.frame_image(0);
}

// A prompt in plain words; a bug here (a word the parser does not know) is the evaluation's.
SceneSpec parse_known(const std::string& prompt, double seconds) {
  ParseResult parsed = parse_prompt(prompt, seconds);
  if (!parsed.unknown_words.empty())
    throw std::logic_error("eval prompt '" + prompt + "' has words the parser does not know: " + parsed.unknown_words[0]);
  return parsed.spec;
}

ImpactReading read_impacts(const Video& video, const Audio& audio) {
  ImpactReading r;
  const auto visual = visual_impacts(video);
  const auto onsets = sound_onsets(audio);
  r.visual_impacts = int(visual.size());
  r.onsets = int(onsets.size());
  r.with_onset = int(std::lround(share_matched(visual, onsets, kSyncTolerance) * double(visual.size())));
  r.seconds = video.seconds();
  return r;
}

LipReading read_lips(const std::vector<double>& mouth, const std::vector<double>& energy) {
  LipReading r;
  r.correlation = r.best_any_lag = -2;
  for (int lag = -6; lag <= 6; ++lag) {
    const double c = correlation_at_lag(mouth, energy, lag);
    if (c > r.best_any_lag) r.best_any_lag = c, r.best_lag = lag;
    if (std::abs(lag) <= 1 && c > r.correlation) r.correlation = c, r.lag = lag;
  }
  return r;
}

double elapsed_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

void validate(const EvalOptions& o) {
  if (o.prompts < 1 || o.prompts > 36) throw InvalidArgument("prompts", "the prompt count is 1 to 36");
  if (o.guidance < 0 || o.guidance > 30) throw InvalidArgument("guidance", "guidance is 0 (the model's) to 30");
  if (o.steps < 0 || o.steps > 200) throw InvalidArgument("steps", "steps is 0 (the model's default) to 200");
  if (o.train_clips < 20 || o.train_clips > 2000) throw InvalidArgument("train-clips", "train clips is 20 to 2000");
  if (o.test_clips < 5 || o.test_clips > 2000) throw InvalidArgument("test-clips", "test clips is 5 to 2000");
  if (o.image_clips < 0 || o.image_clips > o.prompts)
    throw InvalidArgument("image-clips", "image-to-video clips is 0 to the prompt count");
  if (o.impact_clips < 0 || o.impact_clips > 24) throw InvalidArgument("impact-clips", "impact clips is 0 (off) to 24");
  if (o.lip_clips < 0 || o.lip_clips > 12) throw InvalidArgument("lip-clips", "lip-sync clips is 0 (off) to 12");
  if (o.cameo_clips < 0 || o.cameo_clips > 36) throw InvalidArgument("cameo-clips", "cameo clips is 0 (off) to 36");
  if (o.negative_clips < 0 || o.negative_clips > 24)
    throw InvalidArgument("negative-clips", "negative-prompt clips is 0 (off) to 24");
  if (!(o.long_seconds == 0 || (o.long_seconds >= 6 && o.long_seconds <= 25)))
    throw InvalidArgument("long-seconds", "the long clip is 6 to 25 seconds, or 0 (off)");
  if (o.character_train_clips < 20 || o.character_train_clips > 2000)
    throw InvalidArgument("character-train-clips", "character train clips is 20 to 2000");
  if (o.character_test_clips < 5 || o.character_test_clips > 2000)
    throw InvalidArgument("character-test-clips", "character test clips is 5 to 2000");
}

bool LipReading::met() const { return correlation >= 0.5; }

double psnr_db(const Image& a, const Image& b) {
  if (a.width != b.width || a.height != b.height || a.pixels.empty())
    throw InvalidArgument("image", "PSNR needs two non-empty images of the same size");
  double sum = 0;
  for (size_t i = 0; i < a.pixels.size(); ++i) {
    const double d = double(a.pixels[i]) - double(b.pixels[i]);
    sum += d * d;
  }
  const double mse = sum / double(a.pixels.size());
  return mse <= 0 ? 99.0 : 10 * std::log10(255.0 * 255.0 / mse);
}

EvalReport evaluate(engine::Backend& backend, const EvalOptions& o, const Progress* progress) {
  validate(o);
  const auto start = std::chrono::steady_clock::now();
  EvalReport report;
  const bool character_probes_needed = o.cameo_clips > 0 || o.negative_clips > 0 || o.long_seconds > 0;
  // Work units: a studio clip 1, a 4-second generation 8 (a long clip in proportion).
  const double total_work = o.train_clips + o.test_clips + 8.0 * (o.prompts + o.image_clips) +
                            (character_probes_needed ? 0.5 * (o.character_train_clips + o.character_test_clips) : 0) +
                            9.0 * (o.impact_clips + o.lip_clips + o.cameo_clips) + 16.0 * o.negative_clips +
                            (o.long_seconds > 0 ? 3.0 * o.long_seconds : 0);
  double done = 0;
  auto advance = [&](double amount) {
    done += amount;
    Progress::step(progress, done / total_work);
  };

  // Probes: trained on studio clips without held-out combinations, tested on held-out ones.
  std::mt19937_64 rng(o.seed * 7919 + 17);
  std::vector<std::vector<float>> train_x, test_x;
  std::vector<std::array<int, kAttributes>> train_y, test_y;
  for (int i = 0; i < o.train_clips + o.test_clips; ++i) {
    const bool held_out = i >= o.train_clips;
    const SceneSpec spec = random_scene(rng, held_out);
    const Clip clip = render_clip(spec, studio_options(o, rng(), kAnalysisFps));
    (held_out ? test_x : train_x).push_back(clip_features(clip.video));
    (held_out ? test_y : train_y).push_back(labels_of(spec));
    advance(1);
  }
  std::vector<Probe> probes(kAttributes);
  for (int a = 0; a < kAttributes; ++a) {
    std::vector<int> train_labels, test_labels;
    for (const auto& y : train_y) train_labels.push_back(y[size_t(a)]);
    for (const auto& y : test_y) test_labels.push_back(y[size_t(a)]);
    probes[size_t(a)].fit(train_x, train_labels, kAttributeClasses[a]);
    AttributeScore score;
    score.attribute = kAttributeNames[a];
    score.classes = kAttributeClasses[a];
    score.chance = 1.0 / score.classes;
    score.studio_accuracy = accuracy(probes[size_t(a)], test_x, test_labels);
    report.attributes.push_back(score);
  }
  report.train_clips = o.train_clips;
  report.test_clips = o.test_clips;

  // Generated clips: one held-out object with one held-out shot per prompt, in many wordings.
  engine::Pipeline pipeline(backend);
  auto request_for = [&](const std::string& prompt, double seconds, uint64_t seed) {
    engine::GenerateRequest request;
    request.prompt = prompt;
    request.seconds = seconds;
    request.width = o.width;
    request.height = o.height;
    request.steps = o.steps;
    if (o.guidance > 0) request.guidance_video = request.guidance_audio = o.guidance;
    request.seed = seed;
    return request;
  };
  const auto& objects = train::held_out_objects();
  const auto& shots = train::held_out_shots();
  std::array<int, kAttributes> right{};
  double psnr_sum = 0;
  for (int i = 0; i < o.prompts; ++i) {
    const auto& ho = objects[size_t(i) % objects.size()];
    const auto& hs = shots[(size_t(i) + size_t(i) / shots.size()) % shots.size()];
    const SceneSpec spec = one_object_scene(hs.setting, ObjectSpec{ho.kind, ho.color, Size::Small, ho.motion}, hs.camera);
    engine::GenerateRequest request =
        pipeline.validate(request_for(describe(spec, uint64_t(i), CaptionStyle::Prose), kClipSeconds, o.seed + uint64_t(i)));
    report.steps = request.steps;
    const auto generated = pipeline.run(request);
    advance(8);
    const auto features = clip_features(at_analysis_rate(generated.video));
    const auto asked = labels_of(spec);
    PromptResult result;
    result.prompt = request.prompt;
    for (int a = 0; a < kAttributes; ++a) {
      const int read = probes[size_t(a)].predict(features);
      right[size_t(a)] += read == asked[size_t(a)];
      result.asked.push_back(label_name(a, asked[size_t(a)]));
      result.read.push_back(label_name(a, read));
    }
    report.prompts.push_back(result);

    if (i < o.image_clips) {
      // Image-to-video: the studio's first frame of the same scene as the given image.
      const Clip reference = render_clip(spec, studio_options(o, o.seed + uint64_t(i), 24));
      request.first_frame = reference.video.frame_image(0);
      const auto from_image = pipeline.run(request);
      psnr_sum += psnr_db(from_image.video.frame_image(0), *request.first_frame);
      advance(8);
    }
  }
  for (int a = 0; a < kAttributes; ++a)
    report.attributes[size_t(a)].generated_accuracy = double(right[size_t(a)]) / o.prompts;
  const auto capabilities = backend.capabilities();
  const int fps = capabilities.fps, sample_rate = capabilities.sample_rate;
  auto reference_options = [&](uint64_t seed, bool audio) {
    RenderOptions r = studio_options(o, seed, fps);
    r.sample_rate = sample_rate > 0 ? sample_rate : 16000;
    r.audio = audio;
    return r;
  };

  // Impact sync: bouncing and falling objects, static camera; visual impacts from the pixels,
  // sound onsets from the waveform. The same scene from the studio validates both detectors.
  struct Faller {
    ObjectKind kind;
    Color color;
    Motion motion;
    Setting setting;
  };
  const Faller fallers[] = {{ObjectKind::Ball, Color::Orange, Motion::Bounces, Setting::Beach},
                            {ObjectKind::Box, Color::Yellow, Motion::Falls, Setting::Forest},
                            {ObjectKind::Ball, Color::Red, Motion::Bounces, Setting::Meadow},
                            {ObjectKind::Box, Color::Blue, Motion::Falls, Setting::Desert},
                            {ObjectKind::Ball, Color::Blue, Motion::Bounces, Setting::Snowfield},
                            {ObjectKind::Box, Color::Purple, Motion::Falls, Setting::LivingRoom}};
  for (int i = 0; i < o.impact_clips; ++i) {
    const Faller& f = fallers[size_t(i) % std::size(fallers)];
    const SceneSpec spec = one_object_scene(f.setting, ObjectSpec{f.kind, f.color, Size::Large, f.motion}, CameraMove::Static);
    auto request = pipeline.validate(request_for(describe(spec, uint64_t(i), CaptionStyle::Prose), kClipSeconds, o.seed + 100 + uint64_t(i)));
    const auto generated = pipeline.run(request);
    ImpactClip clip;
    clip.prompt = request.prompt;
    clip.generated = read_impacts(generated.video, generated.audio);
    const Clip studio = render_clip(spec, reference_options(o.seed + 100 + uint64_t(i), true));
    clip.studio = read_impacts(studio.video, studio.audio);
    // Truth: ground contacts at 1 m/s or more (a visible bounce, not the settling rattle) of
    // an object seen in the frame nearest the contact.
    std::vector<double> truth;
    for (const auto& e : studio.truth.events) {
      if (e.kind != EventKind::Impact || e.other != -1 || e.speed < 1.0f) continue;
      const int t = std::clamp(int(std::lround(e.time * fps)), 0, int(studio.truth.frames.size()) - 1);
      const auto& entities = studio.truth.frames[size_t(t)].entities;
      if (e.entity < 0 || e.entity >= int(entities.size()) || !entities[size_t(e.entity)].visible) continue;
      truth.push_back(e.time);
    }
    const auto visual = visual_impacts(studio.video);
    const auto onsets = sound_onsets(studio.audio);
    clip.studio.truth_impacts = int(truth.size());
    clip.studio.truth_seen = int(std::lround(share_matched(truth, visual, kSyncTolerance) * double(truth.size())));
    clip.studio.truth_heard = int(std::lround(share_matched(truth, onsets, kSyncTolerance) * double(truth.size())));
    clip.studio.visual_true = int(std::lround(share_matched(visual, truth, kSyncTolerance) * double(visual.size())));
    report.impacts.push_back(clip);
    advance(9);
  }

  // Lip sync: a character says a line in close-up; the mouth is read inside the box where
  // the studio draws that character in the same scene, from the generated pixels.
  const char* const lines[] = {"Mama made a big pot of warm soup.", "Bob, open the box and pass me a map.",
                               "I ate a whole apple, my mom made pie.", "Wow, what a big bright moon tonight."};
  std::mt19937_64 people_rng(o.seed * 104729 + 31);
  for (int i = 0; i < o.lip_clips; ++i) {
    SceneSpec spec;
    spec.setting = kGroundSettings[size_t(i) % kGroundSettings.size()];
    CharacterSpec speaker;
    speaker.identity = random_identity(people_rng);
    speaker.identity.name = "Ben";
    speaker.action = Action::Talks;
    speaker.line = lines[size_t(i) % std::size(lines)];
    spec.characters = {speaker};
    spec.shots = {ShotSpec{}};
    spec.shots[0].framing = Framing::CloseUp;
    spec.shots[0].seconds = kClipSeconds;
    auto request = pipeline.validate(request_for(describe(spec, uint64_t(i), CaptionStyle::Prose), kClipSeconds, o.seed + 200 + uint64_t(i)));
    engine::add_dialogue(request, sample_rate);
    request = pipeline.validate(request);
    const auto generated = pipeline.run(request);
    const Clip studio = render_clip(parse_known(request.prompt, kClipSeconds), reference_options(o.seed + 200 + uint64_t(i), true));
    const auto boxes = boxes_of(studio, 0);
    LipClip clip;
    clip.prompt = request.prompt;
    const auto studio_mouth = mouth_openness(studio.video, boxes);
    clip.studio = read_lips(studio_mouth, frame_energy(studio.audio, studio.video.frame_count(), studio.video.fps()));
    std::vector<double> drawn;
    for (const auto& frame : studio.truth.frames) drawn.push_back(frame.entities.at(0).mouth_open);
    clip.studio_truth_correlation = correlation_at_lag(studio_mouth, drawn, 0);
    clip.generated = read_lips(mouth_openness(generated.video, boxes),
                               frame_energy(generated.audio, generated.video.frame_count(), generated.video.fps()));
    report.lips.push_back(clip);
    advance(9);
  }

  // Probes for setting, weather and identity, trained on studio clips with one character.
  CharacterProbes character;
  if (character_probes_needed) {
    std::mt19937_64 crng(o.seed * 6151 + 29);
    std::vector<std::vector<float>> cx[2];
    std::vector<std::array<int, kCharacterAttributes>> cy[2];
    for (int i = 0; i < o.character_train_clips + o.character_test_clips; ++i) {
      const int part = i >= o.character_train_clips;
      const SceneSpec spec = random_character_scene(crng);
      const Clip clip = render_clip(spec, studio_options(o, crng(), kAnalysisFps));
      cx[part].push_back(character_features(clip.video, boxes_of(clip, 0)));
      cy[part].push_back(character_labels(spec));
      advance(0.5);
    }
    for (int a = 0; a < kCharacterAttributes; ++a) {
      std::vector<int> train_labels, test_labels;
      for (const auto& y : cy[0]) train_labels.push_back(y[size_t(a)]);
      for (const auto& y : cy[1]) test_labels.push_back(y[size_t(a)]);
      character.probes[size_t(a)].fit(cx[0], train_labels, kCharacterAttributeClasses[a]);
      ProbeScore score;
      score.attribute = kCharacterAttributeNames[a];
      score.classes = kCharacterAttributeClasses[a];
      score.chance = 1.0 / score.classes;
      score.studio_accuracy = accuracy(character.probes[size_t(a)], cx[1], test_labels);
      report.character_probes.push_back(score);
    }
    report.character_train_clips = o.character_train_clips;
    report.character_test_clips = o.character_test_clips;
  }

  // Cameo: an identity portrait and prompts that do not name the identity (other settings
  // and actions); skin, hair and shirt read where the studio puts the character.
  const char* const action_words[] = {"stands", "waves", "walks left", "walks right", "jumps"};
  for (int i = 0; i < o.cameo_clips; ++i) {
    CharacterSpec person;
    person.identity = random_identity(people_rng);
    const Image reference = portrait(person, 64, o.seed + 300 + uint64_t(i));
    const std::string prompt = std::string("A person ") + action_words[size_t(i) % std::size(action_words)] + " in the " +
                               std::string(name(kGroundSettings[size_t(i / 2) % kGroundSettings.size()])) + ".";
    SceneSpec spec = parse_known(prompt, kClipSeconds);
    spec.characters.at(0).identity = person.identity;
    spec.characters.at(0).identity.name = "Alex";
    auto request = request_for(prompt, kClipSeconds, o.seed + 300 + uint64_t(i));
    request.identity = reference;
    request = pipeline.validate(request);
    const auto generated = pipeline.run(request);
    const Clip studio = render_clip(spec, reference_options(o.seed + 300 + uint64_t(i), false));
    const auto read = character.read(character_features(generated.video, boxes_of(studio, 0)));
    const auto asked = character_labels(spec);
    CameoClip clip;
    clip.prompt = prompt;
    clip.rain_read = read[1] == int(Weather::Rain);
    for (int a = 2; a < kCharacterAttributes; ++a) {
      clip.asked.push_back(character_label_name(a, asked[size_t(a)]));
      clip.read.push_back(character_label_name(a, read[size_t(a)]));
    }
    report.cameos.push_back(clip);
    advance(9);
  }

  // Negative prompt: rain (the weather probe is reliable on studio clips). The prompts ask
  // for rain, so that it appears without the negative often enough to measure; each is made
  // with negative "" and with negative "rain", from the same seed.
  report.negative_thing = "rain";
  for (int i = 0; i < o.negative_clips; ++i) {
    const std::string prompt = std::string("A person ") + action_words[size_t(i) % std::size(action_words)] +
                               " in the rain in the " + std::string(name(kGroundSettings[size_t(i + 3) % kGroundSettings.size()])) + ".";
    const SceneSpec spec = parse_known(prompt, kClipSeconds);
    const Clip studio = render_clip(spec, reference_options(o.seed + 400 + uint64_t(i), false));
    const auto boxes = boxes_of(studio, 0);
    NegativeClip clip;
    clip.prompt = prompt;
    for (int with = 0; with < 2; ++with) {
      auto request = request_for(prompt, kClipSeconds, o.seed + 400 + uint64_t(i));
      request.negative = with ? report.negative_thing : "";
      request = pipeline.validate(request);
      const auto generated = pipeline.run(request);
      const bool rain = character.read(character_features(generated.video, boxes))[1] == int(Weather::Rain);
      (with ? clip.seen_with : clip.seen_without) = rain;
      advance(8);
    }
    report.negatives.push_back(clip);
  }

  // Long clip: one setting and one character for long_seconds; the probes read the first
  // and the last window.
  if (o.long_seconds > 0) {
    SceneSpec spec;
    spec.setting = Setting::Snowfield;
    CharacterSpec person;
    person.identity.skin = SkinTone::Dark;
    person.identity.hair_color = HairColor::Red;
    person.identity.hair_style = HairStyle::Long;
    person.identity.shirt = Color::Green;
    person.identity.name = "Mia";
    person.action = Action::Waves;
    spec.characters = {person};
    spec.shots = {ShotSpec{}};
    spec.shots[0].framing = Framing::Medium;
    spec.shots[0].seconds = o.long_seconds;
    auto request = pipeline.validate(request_for(describe(spec, 0, CaptionStyle::Prose), o.long_seconds, o.seed + 500));
    const auto generated = pipeline.run(request);
    const Clip studio = render_clip(spec, reference_options(o.seed + 500, false));
    const auto boxes = boxes_of(studio, 0);
    LongClipResult result;
    result.prompt = request.prompt;
    result.seconds = generated.video.seconds();
    result.window_seconds = kCharacterClipSeconds;
    const int window = int(std::lround(kCharacterClipSeconds * fps));
    const int attributes[] = {0, 2, 3, 4};  // setting, skin, hair, shirt
    const auto asked = character_labels(spec);
    const auto first = character.read(character_features(generated.video, boxes, 0, window));
    const auto last = character.read(character_features(generated.video, boxes, generated.video.frame_count() - window, window));
    const auto studio_first = character.read(character_features(studio.video, boxes, 0, window));
    const auto studio_last = character.read(character_features(studio.video, boxes, studio.video.frame_count() - window, window));
    for (int a : attributes) {
      result.attributes.push_back(kCharacterAttributeNames[a]);
      result.asked.push_back(character_label_name(a, asked[size_t(a)]));
      result.first.push_back(character_label_name(a, first[size_t(a)]));
      result.last.push_back(character_label_name(a, last[size_t(a)]));
      result.studio_first.push_back(character_label_name(a, studio_first[size_t(a)]));
      result.studio_last.push_back(character_label_name(a, studio_last[size_t(a)]));
    }
    report.long_clips.push_back(result);
    advance(3.0 * o.long_seconds);
  }
  report.image_clips = o.image_clips;
  report.image_to_video_psnr_db = o.image_clips ? psnr_sum / o.image_clips : 0;
  report.seconds = elapsed_since(start);
  return report;
}


// ---- Summaries of the target sections (shared by the table and the JSON) ----
namespace {

struct ImpactSummary {
  int clips = 0, visual = 0, with_onset = 0, onsets = 0;
  double seconds = 0;
  double share() const { return visual ? double(with_onset) / visual : 0; }
  // Share a detector firing at random times at the same rate would reach (Poisson).
  double chance_share() const {
    return seconds > 0 ? 1 - std::exp(-double(onsets) / seconds * 2 * kSyncTolerance) : 0;
  }
};

ImpactSummary sum_impacts(const std::vector<ImpactClip>& clips, bool studio) {
  ImpactSummary s;
  for (const auto& c : clips) {
    const ImpactReading& r = studio ? c.studio : c.generated;
    s.clips += 1, s.visual += r.visual_impacts, s.with_onset += r.with_onset, s.onsets += r.onsets, s.seconds += r.seconds;
  }
  return s;
}

struct TruthSummary {
  int truth = 0, seen = 0, heard = 0, visual = 0, visual_true = 0;
  double recall_visual() const { return truth ? double(seen) / truth : 0; }
  double recall_audio() const { return truth ? double(heard) / truth : 0; }
  double precision_visual() const { return visual ? double(visual_true) / visual : 0; }
};

TruthSummary sum_truth(const std::vector<ImpactClip>& clips) {
  TruthSummary s;
  for (const auto& c : clips)
    s.truth += c.studio.truth_impacts, s.seen += c.studio.truth_seen, s.heard += c.studio.truth_heard,
        s.visual += c.studio.visual_impacts, s.visual_true += c.studio.visual_true;
  return s;
}

struct LipSummary {
  int clips = 0, met = 0;
  double mean_correlation = 0;
};

LipSummary sum_lips(const std::vector<LipClip>& clips, bool studio) {
  LipSummary s;
  for (const auto& c : clips) {
    const LipReading& r = studio ? c.studio : c.generated;
    s.clips += 1, s.met += r.met(), s.mean_correlation += r.correlation / double(clips.size());
  }
  return s;
}

const char* const kIdentityNames[3] = {"skin", "hair", "shirt"};

struct CameoSummary {
  std::array<double, 3> held{};  // per identity attribute
  double all_held = 0;
};

CameoSummary sum_cameos(const std::vector<CameoClip>& clips) {
  CameoSummary s;
  std::array<int, 3> held{};
  int all_held = 0;
  for (const auto& c : clips) {
    bool all = true;
    for (size_t a = 0; a < 3; ++a) {
      held[a] += c.asked[a] == c.read[a];
      all = all && c.asked[a] == c.read[a];
    }
    all_held += all;
  }
  const double n = double(std::max<size_t>(1, clips.size()));
  for (size_t a = 0; a < 3; ++a) s.held[a] = held[a] / n;
  s.all_held = all_held / n;
  return s;
}

struct NegativeSummary {
  double without = 0, with = 0;
  bool measurable() const { return without > 0; }
  double ratio() const { return without > 0 ? with / without : 0; }
  bool met() const { return measurable() && with <= without / 5 + 1e-12; }
};

NegativeSummary sum_negatives(const std::vector<NegativeClip>& clips) {
  NegativeSummary s;
  int without = 0, with = 0;
  for (const auto& c : clips) without += c.seen_without, with += c.seen_with;
  const double n = double(std::max<size_t>(1, clips.size()));
  s.without = without / n, s.with = with / n;
  return s;
}

// Share of cameo clips (whose prompts ask for no rain) where the weather probe reads rain.
double rain_in_clips_not_asking(const std::vector<CameoClip>& clips) {
  int rain = 0;
  for (const auto& c : clips) rain += c.rain_read;
  return clips.empty() ? 0.0 : double(rain) / double(clips.size());
}

double probe_accuracy(const std::vector<ProbeScore>& probes, const std::string& attribute) {
  for (const auto& p : probes)
    if (p.attribute == attribute) return p.studio_accuracy;
  return 0;
}

}  // namespace

std::string EvalReport::table() const {
  std::string out;
  char line[512];
  std::snprintf(line, sizeof line, "%-9s %8s %8s %16s %18s\n", "attribute", "classes", "chance", "studio (probe)",
                "generated clips");
  out += line;
  for (const auto& a : attributes) {
    std::snprintf(line, sizeof line, "%-9s %8d %7.0f%% %15.0f%% %17.0f%%\n", a.attribute.c_str(), a.classes,
                  100 * a.chance, 100 * a.studio_accuracy, 100 * a.generated_accuracy);
    out += line;
  }
  std::snprintf(line, sizeof line,
                "probes: %d studio clips to train, %d held-out studio clips to test; %zu generated clips at %d steps\n",
                train_clips, test_clips, prompts.size(), steps);
  out += line;
  if (image_clips > 0) {
    std::snprintf(line, sizeof line, "image-to-video first-frame PSNR: %.1f dB (mean of %d)\n", image_to_video_psnr_db,
                  image_clips);
    out += line;
  }
  auto yes = [](bool v) { return v ? "met" : "NOT met"; };
  if (!character_probes.empty()) {
    out += "\ncharacter probes (studio clips with a character)\n";
    std::snprintf(line, sizeof line, "%-9s %8s %8s %16s\n", "attribute", "classes", "chance", "studio (probe)");
    out += line;
    for (const auto& p : character_probes) {
      std::snprintf(line, sizeof line, "%-9s %8d %7.0f%% %15.0f%%\n", p.attribute.c_str(), p.classes, 100 * p.chance,
                    100 * p.studio_accuracy);
      out += line;
    }
    std::snprintf(line, sizeof line, "(%d studio clips to train, %d to test)\n", character_train_clips, character_test_clips);
    out += line;
  }
  if (!impacts.empty()) {
    const auto g = sum_impacts(impacts, false), st = sum_impacts(impacts, true);
    const auto t = sum_truth(impacts);
    out += "\nimpact sync (target: >= 90% of visual impacts with a sound onset within 42 ms)\n";
    std::snprintf(line, sizeof line, "%-34s %16s %16s\n", "", "studio (detector)", "generated clips");
    out += line;
    std::snprintf(line, sizeof line, "%-34s %16d %16d\n", "clips", st.clips, g.clips);
    out += line;
    std::snprintf(line, sizeof line, "%-34s %16d %16d\n", "visual impacts found", st.visual, g.visual);
    out += line;
    std::snprintf(line, sizeof line, "%-34s %15.0f%% %15.0f%%\n", "with a sound onset within 42 ms", 100 * st.share(),
                  100 * g.share());
    out += line;
    std::snprintf(line, sizeof line, "%-34s %15.0f%% %15.0f%%\n", "same by chance (onset rate)", 100 * st.chance_share(),
                  100 * g.chance_share());
    out += line;
    std::snprintf(line, sizeof line,
                  "detectors vs studio truth (%d ground impacts): seen %.0f%%, heard %.0f%%, visual precision %.0f%%\n",
                  t.truth, 100 * t.recall_visual(), 100 * t.recall_audio(), 100 * t.precision_visual());
    out += line;
    std::snprintf(line, sizeof line, "target: %s\n", yes(g.visual > 0 && g.share() >= 0.9));
    out += line;
  }
  if (!lips.empty()) {
    const auto g = sum_lips(lips, false), st = sum_lips(lips, true);
    double truth = 0;
    for (const auto& c : lips) truth += c.studio_truth_correlation / double(lips.size());
    out += "\nlip sync (target: mouth openness and speech energy correlate >= 0.5 at a lag <= 1 frame)\n";
    std::snprintf(line, sizeof line, "%-34s %16s %16s\n", "", "studio (measure)", "generated clips");
    out += line;
    std::snprintf(line, sizeof line, "%-34s %16.2f %16.2f\n", "mean correlation (lag -1..1)", st.mean_correlation,
                  g.mean_correlation);
    out += line;
    std::snprintf(line, sizeof line, "%-34s %13d/%-2d %13d/%-2d\n", "clips meeting it", st.met, st.clips, g.met, g.clips);
    out += line;
    std::snprintf(line, sizeof line, "pixel measure vs the studio's drawn mouth openness: r = %.2f\ntarget: %s\n", truth,
                  yes(g.met == g.clips));
    out += line;
  }
  if (!cameos.empty()) {
    const auto c = sum_cameos(cameos);
    out += "\ncameo (target: identity held in >= 90% of clips)\n";
    std::snprintf(line, sizeof line, "%-9s %16s %16s\n", "attribute", "studio (probe)", "held in clips");
    out += line;
    for (size_t a = 0; a < 3; ++a) {
      std::snprintf(line, sizeof line, "%-9s %15.0f%% %15.0f%%\n", kIdentityNames[a],
                    100 * probe_accuracy(character_probes, kIdentityNames[a]), 100 * c.held[a]);
      out += line;
    }
    std::snprintf(line, sizeof line, "all held in %.0f%% of %zu clips; target: %s\n", 100 * c.all_held, cameos.size(),
                  yes(c.all_held >= 0.9));
    out += line;
  }
  if (!negatives.empty()) {
    const auto n = sum_negatives(negatives);
    std::snprintf(line, sizeof line,
                  "\nnegative prompt \"%s\" (prompts that ask for it; target: seen in at most 1/5 as many clips)\n"
                  "weather probe on studio clips: %.0f%% (chance 50%%)\n"
                  "seen without the negative: %.0f%% of %zu clips; with it: %.0f%%; ratio %s; target: %s\n",
                  negative_thing.c_str(), 100 * probe_accuracy(character_probes, "weather"), 100 * n.without,
                  negatives.size(), 100 * n.with, n.measurable() ? std::to_string(n.ratio()).substr(0, 4).c_str() : "n/a",
                  n.measurable() ? yes(n.met()) : "not measurable (never seen without the negative)");
    out += line;
    if (!cameos.empty()) {
      const double unasked = rain_in_clips_not_asking(cameos);
      std::snprintf(line, sizeof line,
                    "rain read in generated clips that do not ask for it (the cameo clips): %.0f%% (the probe's false "
                    "alarms on generated pixels)\n",
                    100 * unasked);
      out += line;
    }
  }
  for (const auto& l : long_clips) {
    std::snprintf(line, sizeof line, "\nlong clip (%.1f s; target: setting and identity kept from the first %.0f s to the last)\n",
                  l.seconds, l.window_seconds);
    out += line;
    std::snprintf(line, sizeof line, "%-9s %12s %12s %12s %18s\n", "attribute", "asked", "first", "last", "studio first/last");
    out += line;
    bool kept = true, asked = true;
    for (size_t a = 0; a < l.attributes.size(); ++a) {
      std::snprintf(line, sizeof line, "%-9s %12s %12s %12s %18s\n", l.attributes[a].c_str(), l.asked[a].c_str(),
                    l.first[a].c_str(), l.last[a].c_str(), (l.studio_first[a] + "/" + l.studio_last[a]).c_str());
      out += line;
      kept = kept && l.first[a] == l.last[a];
      asked = asked && l.first[a] == l.asked[a] && l.last[a] == l.asked[a];
    }
    std::snprintf(line, sizeof line, "kept first to last: %s; as asked: %s\n", kept ? "yes" : "no", asked ? "yes" : "no");
    out += line;
  }
  std::snprintf(line, sizeof line, "wall time: %.1f s\n", seconds);
  out += line;
  return out;
}

std::string EvalReport::json() const {
  nlohmann::json j;
  for (const auto& a : attributes)
    j["attributes"][a.attribute] = {{"classes", a.classes},
                                    {"chance", a.chance},
                                    {"studio_probe_accuracy", a.studio_accuracy},
                                    {"generated_accuracy", a.generated_accuracy}};
  j["image_to_video_psnr_db"] = image_clips ? nlohmann::json(image_to_video_psnr_db) : nlohmann::json(nullptr);
  j["image_clips"] = image_clips;
  j["train_clips"] = train_clips;
  j["test_clips"] = test_clips;
  j["steps"] = steps;
  j["seconds"] = seconds;
  auto null_or = [](bool known, double v) { return known ? nlohmann::json(v) : nlohmann::json(nullptr); };
  for (const auto& p : character_probes)
    j["character_probes"][p.attribute] = {{"classes", p.classes}, {"chance", p.chance}, {"studio_probe_accuracy", p.studio_accuracy}};
  if (!character_probes.empty()) j["character_probes_clips"] = {{"train", character_train_clips}, {"test", character_test_clips}};
  if (!impacts.empty()) {
    const auto g = sum_impacts(impacts, false), st = sum_impacts(impacts, true);
    const auto t = sum_truth(impacts);
    auto side = [&](const ImpactSummary& s) {
      return nlohmann::json{{"clips", s.clips},
                            {"visual_impacts", s.visual},
                            {"with_onset", s.with_onset},
                            {"share", null_or(s.visual > 0, s.share())},
                            {"onsets_per_second", s.seconds > 0 ? s.onsets / s.seconds : 0.0},
                            {"chance_share", s.chance_share()}};
    };
    auto& k = j["impact_sync"];
    k["tolerance_seconds"] = kSyncTolerance;
    k["target"] = 0.9;
    k["generated"] = side(g);
    k["studio"] = side(st);
    k["studio"]["truth_impacts"] = t.truth;
    k["studio"]["visual_recall"] = t.recall_visual();
    k["studio"]["visual_precision"] = t.precision_visual();
    k["studio"]["audio_recall"] = t.recall_audio();
    k["met"] = g.visual > 0 && g.share() >= 0.9;
    k["clips"] = nlohmann::json::array();
    for (const auto& c : impacts)
      k["clips"].push_back({{"prompt", c.prompt},
                            {"generated", {{"visual_impacts", c.generated.visual_impacts}, {"with_onset", c.generated.with_onset}, {"onsets", c.generated.onsets}}},
                            {"studio", {{"visual_impacts", c.studio.visual_impacts}, {"with_onset", c.studio.with_onset}, {"onsets", c.studio.onsets},
                                        {"truth_impacts", c.studio.truth_impacts}, {"truth_seen", c.studio.truth_seen}, {"truth_heard", c.studio.truth_heard}}}});
  }
  if (!lips.empty()) {
    const auto g = sum_lips(lips, false), st = sum_lips(lips, true);
    double truth = 0;
    for (const auto& c : lips) truth += c.studio_truth_correlation / double(lips.size());
    auto& k = j["lip_sync"];
    k["target_correlation"] = 0.5;
    k["max_lag_frames"] = 1;
    k["generated"] = {{"clips", g.clips}, {"clips_met", g.met}, {"mean_correlation", g.mean_correlation}};
    k["studio"] = {{"clips", st.clips}, {"clips_met", st.met}, {"mean_correlation", st.mean_correlation}, {"measure_vs_truth_correlation", truth}};
    k["met"] = g.met == g.clips;
    k["clips"] = nlohmann::json::array();
    auto reading = [](const LipReading& r) {
      return nlohmann::json{{"correlation", r.correlation}, {"lag", r.lag}, {"best_any_lag", r.best_any_lag}, {"best_lag", r.best_lag}};
    };
    for (const auto& c : lips)
      k["clips"].push_back({{"prompt", c.prompt}, {"generated", reading(c.generated)}, {"studio", reading(c.studio)},
                            {"studio_measure_vs_truth", c.studio_truth_correlation}});
  }
  if (!cameos.empty()) {
    const auto c = sum_cameos(cameos);
    auto& k = j["cameo"];
    k["target"] = 0.9;
    for (size_t a = 0; a < 3; ++a)
      k["attributes"][kIdentityNames[a]] = {{"held_rate", c.held[a]}, {"studio_probe_accuracy", probe_accuracy(character_probes, kIdentityNames[a])}};
    k["all_held_rate"] = c.all_held;
    k["met"] = c.all_held >= 0.9;
    k["clips"] = nlohmann::json::array();
    for (const auto& clip : cameos) {
      nlohmann::json row{{"prompt", clip.prompt}};
      for (size_t a = 0; a < 3; ++a) row["attributes"][kIdentityNames[a]] = {{"asked", clip.asked[a]}, {"read", clip.read[a]}};
      k["clips"].push_back(row);
    }
  }
  if (!negatives.empty()) {
    const auto n = sum_negatives(negatives);
    auto& k = j["negative_prompt"];
    k["thing"] = negative_thing;
    k["choice"] = "rain: the weather probe reads it reliably on studio clips; the prompts ask for rain so that it appears "
                  "without the negative often enough to measure; each prompt is generated with negative \"\" and with "
                  "negative \"rain\" from the same seed";
    k["probe_studio_accuracy"] = probe_accuracy(character_probes, "weather");
    k["clips"] = int(negatives.size());
    k["rate_without"] = n.without;
    k["rate_with"] = n.with;
    k["ratio"] = null_or(n.measurable(), n.ratio());
    k["target_ratio"] = 0.2;
    k["met"] = n.measurable() ? nlohmann::json(n.met()) : nlohmann::json(nullptr);
    k["rate_in_clips_not_asking"] = null_or(!cameos.empty(), rain_in_clips_not_asking(cameos));  // cameo prompts: the probe's false alarms
    k["prompts"] = nlohmann::json::array();
    for (const auto& c : negatives) k["prompts"].push_back({{"prompt", c.prompt}, {"seen_without", c.seen_without}, {"seen_with", c.seen_with}});
  }
  for (const auto& l : long_clips) {
    auto& k = j["long_clip"];
    k["prompt"] = l.prompt;
    k["seconds"] = l.seconds;
    k["window_seconds"] = l.window_seconds;
    bool kept = true, asked = true, studio_asked = true;
    for (size_t a = 0; a < l.attributes.size(); ++a) {
      k["attributes"][l.attributes[a]] = {{"asked", l.asked[a]}, {"first", l.first[a]}, {"last", l.last[a]},
                                          {"studio_first", l.studio_first[a]}, {"studio_last", l.studio_last[a]}};
      kept = kept && l.first[a] == l.last[a];
      asked = asked && l.first[a] == l.asked[a] && l.last[a] == l.asked[a];
      studio_asked = studio_asked && l.studio_first[a] == l.asked[a] && l.studio_last[a] == l.asked[a];
    }
    k["kept"] = kept;
    k["as_asked"] = asked;
    k["studio_as_asked"] = studio_asked;
    k["met"] = kept && asked;
  }
  j["prompts"] = nlohmann::json::array();
  for (const auto& p : prompts) {
    nlohmann::json row{{"prompt", p.prompt}};
    for (size_t a = 0; a < p.asked.size(); ++a)
      row["attributes"][attributes[a].attribute] = {{"asked", p.asked[a]}, {"read", p.read[a]}};
    j["prompts"].push_back(row);
  }
  return j.dump(2);
}

}  // namespace opsis::eval
