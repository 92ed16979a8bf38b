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
#include "eval/probe_net.hpp"
#include "studio/caption.hpp"
#include "studio/studio.hpp"
#include "train/holdout.hpp"

namespace opsis::eval {
namespace {
using namespace studio;

constexpr double kClipSeconds = 4.0;
constexpr double kLongWindowSeconds = 2.0;  // the long clip's first and last windows

SceneSpec one_object_scene(Setting setting, ObjectSpec object, CameraMove camera) {
  SceneSpec spec;
  spec.setting = setting;
  spec.objects = {object};
  spec.shots = {ShotSpec{}};
  spec.shots[0].camera = camera;
  spec.shots[0].seconds = kClipSeconds;
  return spec;
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

// ---- Clips with a character: the scene probe's setting, weather and time of day, and the
// character probe's identity attributes, read as one row ----

constexpr int kCharacterAttributes = 3 + kCharacterHeads;
const char* const kCharacterAttributeNames[kCharacterAttributes] = {"setting", "weather", "time_of_day", "skin",
                                                                    "hair",    "hair_style", "shirt",    "accessory"};
constexpr int kSceneHeadOf[3] = {kSetting, kWeather, kTimeOfDay};

int character_attribute_classes(int a) {
  return a < 3 ? kSceneHeadSpecs[size_t(kSceneHeadOf[a])].classes : kCharacterHeadSpecs[size_t(a - 3)].classes;
}

std::string person_label_name(int a, int value) {
  return a < 3 ? scene_label_name(kSceneHeadOf[a], value) : eval::character_label_name(a - 3, value);
}

std::array<int, kCharacterAttributes> person_labels(const SceneSpec& spec) {
  const auto s = scene_labels(spec);
  const auto c = eval::character_labels(spec);
  std::array<int, kCharacterAttributes> out{};
  for (int a = 0; a < 3; ++a) out[size_t(a)] = s[size_t(kSceneHeadOf[a])];
  for (int a = 0; a < kCharacterHeads; ++a) out[size_t(3 + a)] = c[size_t(a)];
  return out;
}

std::array<int, kCharacterAttributes> combine(const std::array<int, kSceneHeads>& s, const std::array<int, kCharacterHeads>& c) {
  std::array<int, kCharacterAttributes> out{};
  for (int a = 0; a < 3; ++a) out[size_t(a)] = s[size_t(kSceneHeadOf[a])];
  for (int a = 0; a < kCharacterHeads; ++a) out[size_t(3 + a)] = c[size_t(a)];
  return out;
}

// Frames [first, first + count) of a clip.
Video frames_of(const Video& video, int first, int count) {
  Video out;
  out.width = video.width;
  out.height = video.height;
  out.fps_num = video.fps_num;
  out.fps_den = video.fps_den;
  for (int t = first; t < std::min(video.frame_count(), first + count); ++t)
    out.rgb.insert(out.rgb.end(), video.frame(t), video.frame(t) + video.frame_bytes());
  return out;
}

std::vector<Box> boxes_in(const std::vector<Box>& boxes, int first, int count) {
  std::vector<Box> out;
  for (int t = first; t < std::min(int(boxes.size()), first + count); ++t) out.push_back(boxes[size_t(t)]);
  return out;
}

// Setting, weather, time of day and identity of the character in `boxes`, from frames
// [first, first + count) (count < 0: to the end).
std::array<int, kCharacterAttributes> read_person(const Probes& probes, const Video& video, const std::vector<Box>& boxes,
                                                  int first = 0, int count = -1) {
  if (count < 0) count = video.frame_count() - first;
  const Video part = frames_of(video, first, count);
  return combine(probes.read_scene(part), probes.read_character(part, boxes_in(boxes, first, count)));
}

// Settings a person stands in (not the night sky).
constexpr std::array<Setting, 7> kGroundSettings{Setting::Meadow, Setting::Beach,     Setting::CityStreet, Setting::LivingRoom,
                                                 Setting::Forest, Setting::Snowfield, Setting::Desert};

Identity random_identity(std::mt19937_64& rng) {
  auto pick = [&](int n) { return int(std::uniform_int_distribution<int>(0, n - 1)(rng)); };
  Identity id;
  id.skin = SkinTone(pick(int(kSkinToneNames.size())));
  id.hair_color = HairColor(pick(int(kHairColorNames.size())));
  id.hair_style = pick(2) ? HairStyle::Long : HairStyle::Short;  // not bald: the hair colour must show
  id.shirt = Color(pick(int(kColorNames.size())));
  id.accessory = Accessory(pick(int(kAccessoryNames.size())));
  return id;
}

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

ImpactReading read_impacts(const Probes& probes, const Video& video, const Audio& audio) {
  ImpactReading r;
  const auto visual = probes.impacts(video);
  const auto onsets = sound_onsets(audio);
  r.visual_impacts = int(visual.size());
  r.onsets = int(onsets.size());
  r.with_onset = int(std::lround(share_matched(visual, onsets, kSyncTolerance) * double(visual.size())));
  r.seconds = video.seconds();
  r.visual_times = visual, r.onset_times = onsets;
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

// Where a clip's studio accuracy is counted: right and seen per attribute.
template <size_t N>
struct Tally {
  std::array<int, N> right{}, count{};
  void add(const std::array<int, N>& read, const std::array<int, N>& truth) {
    for (size_t a = 0; a < N; ++a)
      if (truth[a] >= 0) count[a] += 1, right[a] += read[a] == truth[a];
  }
  double accuracy(size_t a) const { return count[a] ? double(right[a]) / count[a] : 0; }
};

const char* const kLines[] = {"Mama made a big pot of warm soup.", "Bob, open the box and pass me a map.",
                              "I ate a whole apple, my mom made pie.", "Wow, what a big bright moon tonight."};

// A character says a line in close-up (the lip-sync scene).
SceneSpec talking_scene(int i, std::mt19937_64& rng) {
  SceneSpec spec;
  spec.setting = kGroundSettings[size_t(i) % kGroundSettings.size()];
  CharacterSpec speaker;
  speaker.identity = random_identity(rng);
  speaker.identity.name = "Ben";
  speaker.action = Action::Talks;
  speaker.line = kLines[size_t(i) % std::size(kLines)];
  spec.characters = {speaker};
  spec.shots = {ShotSpec{}};
  spec.shots[0].framing = Framing::CloseUp;
  spec.shots[0].seconds = kClipSeconds;
  return spec;
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
  if (o.detector_clips < 0 || o.detector_clips > 500)
    throw InvalidArgument("detector-clips", "detector clips is 0 (off) to 500");
  if (o.mouth_clips < 0 || o.mouth_clips > 100) throw InvalidArgument("mouth-clips", "mouth clips is 0 (off) to 100");
  if (o.probes.empty()) throw InvalidArgument("probes", "the probes' weights file is needed");
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

EvalReport evaluate(engine::Backend& backend, const EvalOptions& options, const Progress* progress) {
  validate(options);
  // What the model cannot be asked is not measured (and said so in the report).
  EvalOptions o = options;
  EvalReport report;
  if (!backend.capabilities().image_conditioning && o.image_clips > 0) {
    o.image_clips = 0;
    report.not_measured.push_back("image-to-video: the model takes no first-frame image");
  }
  if (!backend.capabilities().identity_conditioning && o.cameo_clips > 0) {
    o.cameo_clips = 0;
    report.not_measured.push_back("cameo: the model takes no identity portrait");
  }
  const auto start = std::chrono::steady_clock::now();
  const Probes probes = Probes::load(o.probes);
  auto meta_int = [&](const char* key) {
    const auto it = probes.metadata.find(key);
    return it == probes.metadata.end() ? 0 : std::atoi(it->second.c_str());
  };
  // Work units: a studio clip 0.3, a 4-second generation 8 (a long clip in proportion).
  const double total_work = 0.3 * (o.test_clips + o.detector_clips + o.mouth_clips) + 8.0 * (o.prompts + o.image_clips) +
                            0.15 * o.character_test_clips +
                            9.0 * (o.impact_clips + o.lip_clips + o.cameo_clips) + 16.0 * o.negative_clips +
                            (o.long_seconds > 0 ? 3.0 * o.long_seconds : 0);
  double done = 0;
  auto advance = [&](double amount) {
    done += amount;
    Progress::step(progress, std::min(1.0, done / total_work));
  };

  // The scene probe on studio clips of held-out combinations (it never saw them trained).
  std::mt19937_64 rng(o.seed * 7919 + 17);
  Tally<kSceneHeads> studio_tally;
  for (int i = 0; i < o.test_clips; ++i) {
    const SceneSpec spec = probe_object_scene(rng, true);
    const Clip clip = render_clip(spec, studio_options(o, rng(), kProbeFps));
    studio_tally.add(probes.read_scene(clip.video), scene_labels(spec));
    advance(0.3);
  }
  report.train_clips = meta_int("object_clips") + meta_int("character_clips");
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
  Tally<kSceneHeads> generated_tally, same_prompts_tally;
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
    const auto read = probes.read_scene(generated.video);
    const auto asked = scene_labels(spec);
    generated_tally.add(read, asked);
    same_prompts_tally.add(probes.read_scene(render_clip(spec, studio_options(o, o.seed + uint64_t(i), kProbeFps)).video), asked);
    PromptResult result;
    result.prompt = request.prompt;
    for (int a = 0; a < kSceneHeads; ++a) {
      result.asked.push_back(scene_label_name(a, asked[size_t(a)]));
      result.read.push_back(scene_label_name(a, read[size_t(a)]));
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
  for (int a = 0; a < kSceneHeads; ++a) {
    AttributeScore score;
    score.attribute = kSceneHeadSpecs[size_t(a)].name;
    score.classes = kSceneHeadSpecs[size_t(a)].classes;
    score.chance = 1.0 / score.classes;
    score.studio_accuracy = studio_tally.accuracy(size_t(a));
    score.studio_clips = studio_tally.count[size_t(a)];
    score.generated_accuracy = generated_tally.accuracy(size_t(a));
    score.same_prompts_studio_accuracy = same_prompts_tally.accuracy(size_t(a));
    report.attributes.push_back(score);
  }
  const auto capabilities = backend.capabilities();
  const int fps = capabilities.fps, sample_rate = capabilities.sample_rate;
  auto reference_options = [&](uint64_t seed, bool audio) {
    RenderOptions r = studio_options(o, seed, fps);
    r.sample_rate = sample_rate > 0 ? sample_rate : 16000;
    r.audio = audio;
    return r;
  };

  // The impact detector on studio clips of the kind the impact section asks for (a large
  // ball bouncing or a large box falling, static camera) against the truth's impacts.
  {
    std::mt19937_64 drng(o.seed * 3571 + 5);
    auto pick = [&](int n) { return int(std::uniform_int_distribution<int>(0, n - 1)(drng)); };
    DetectorScore& d = report.impact_detector;
    for (int i = 0; i < o.detector_clips; ++i) {
      const bool ball = pick(2);
      const SceneSpec spec =
          one_object_scene(kGroundSettings[size_t(pick(int(kGroundSettings.size())))],
                           ObjectSpec{ball ? ObjectKind::Ball : ObjectKind::Box, Color(pick(8)), Size::Large,
                                      ball ? Motion::Bounces : Motion::Falls},
                           CameraMove::Static);
      const Clip clip = render_clip(spec, reference_options(drng(), false));
      const auto truth = truth_impacts(clip, fps);
      const auto found = probes.impacts(clip.video);
      d.clips += 1;
      d.truth += int(truth.size());
      d.found += int(found.size());
      d.truth_seen += int(std::lround(share_matched(truth, found, kSyncTolerance) * double(truth.size())));
      d.found_true += int(std::lround(share_matched(found, truth, kSyncTolerance) * double(found.size())));
      d.seconds += clip.video.seconds();
      advance(0.3);
    }
  }

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
    clip.generated = read_impacts(probes, generated.video, generated.audio);
    const Clip studio = render_clip(spec, reference_options(o.seed + 100 + uint64_t(i), true));
    clip.studio = read_impacts(probes, studio.video, studio.audio);
    const auto truth = truth_impacts(studio, fps);
    const auto visual = probes.impacts(studio.video);
    const auto onsets = sound_onsets(studio.audio);
    clip.studio.truth_impacts = int(truth.size());
    clip.studio.truth_seen = int(std::lround(share_matched(truth, visual, kSyncTolerance) * double(truth.size())));
    clip.studio.truth_heard = int(std::lround(share_matched(truth, onsets, kSyncTolerance) * double(truth.size())));
    clip.studio.visual_true = int(std::lround(share_matched(visual, truth, kSyncTolerance) * double(visual.size())));
    report.impacts.push_back(clip);
    advance(9);
  }

  // The mouth reader on studio close-ups of a character talking, against the drawn mouth.
  std::mt19937_64 people_rng(o.seed * 104729 + 31);
  {
    std::mt19937_64 mrng(o.seed * 7727 + 3);
    for (int i = 0; i < o.mouth_clips; ++i) {
      const SceneSpec spec = talking_scene(i, mrng);
      const Clip clip = render_clip(spec, reference_options(mrng(), false));
      const auto mouth = mouth_openness(clip.video, boxes_of(clip, 0));
      std::vector<double> drawn;
      for (const auto& frame : clip.truth.frames) drawn.push_back(frame.entities.at(0).mouth_open);
      report.mouth_reader.clips += 1;
      report.mouth_reader.correlation += correlation_at_lag(mouth, drawn, 0);
      advance(0.3);
    }
    if (report.mouth_reader.clips) report.mouth_reader.correlation /= report.mouth_reader.clips;
  }

  // Lip sync: a character says a line in close-up; the mouth is read inside the box where
  // the studio draws that character in the same scene, from the generated pixels.
  for (int i = 0; i < o.lip_clips; ++i) {
    const SceneSpec spec = talking_scene(i, people_rng);
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

  // Setting, weather, time of day and identity on studio clips with one character.
  {
    std::mt19937_64 crng(o.seed * 6151 + 29);
    Tally<kCharacterAttributes> tally;
    for (int i = 0; i < o.character_test_clips; ++i) {
      const SceneSpec spec = probe_character_scene(crng);
      const Clip clip = render_clip(spec, studio_options(o, crng(), kProbeFps));
      tally.add(read_person(probes, clip.video, boxes_of(clip, 0)), person_labels(spec));
      advance(0.15);
    }
    for (int a = 0; a < kCharacterAttributes; ++a) {
      ProbeScore score;
      score.attribute = kCharacterAttributeNames[a];
      score.classes = character_attribute_classes(a);
      score.chance = 1.0 / score.classes;
      score.studio_accuracy = tally.accuracy(size_t(a));
      score.studio_clips = tally.count[size_t(a)];
      report.character_probes.push_back(score);
    }
    report.character_train_clips = meta_int("character_clips");
    report.character_test_clips = o.character_test_clips;
  }

  // Cameo: an identity portrait and prompts that do not name the identity (other settings
  // and actions); the identity (skin, hair colour and style, shirt, accessory) read where the
  // studio puts the character.
  const char* const action_words[] = {"stands", "waves", "walks left", "walks right", "jumps"};
  for (int i = 0; i < o.cameo_clips; ++i) {
    CharacterSpec person;
    person.identity = random_identity(people_rng);
    const Image reference = portrait(person, 64, o.seed + 300 + uint64_t(i));
    // A medium shot: in a wide one a person is ~20 px tall at 128x72, too small to judge.
    const std::string prompt = std::string("A person ") + action_words[size_t(i) % std::size(action_words)] + " in the " +
                               std::string(name(kGroundSettings[size_t(i / 2) % kGroundSettings.size()])) + ". Medium shot.";
    SceneSpec spec = parse_known(prompt, kClipSeconds);
    spec.characters.at(0).identity = person.identity;
    spec.characters.at(0).identity.name = "Alex";
    auto request = request_for(prompt, kClipSeconds, o.seed + 300 + uint64_t(i));
    request.identity = reference;
    request = pipeline.validate(request);
    const auto generated = pipeline.run(request);
    const Clip studio = render_clip(spec, reference_options(o.seed + 300 + uint64_t(i), false));
    const auto read = read_person(probes, generated.video, boxes_of(studio, 0));
    const auto asked = person_labels(spec);
    CameoClip clip;
    clip.prompt = prompt;
    clip.rain_read = read[1] == int(Weather::Rain);
    for (int a = 3; a < kCharacterAttributes; ++a) {
      clip.asked.push_back(person_label_name(a, asked[size_t(a)]));
      clip.read.push_back(person_label_name(a, read[size_t(a)]));
    }
    report.cameos.push_back(clip);
    advance(9);
  }

  // Negative prompt: rain (read by the scene probe's weather head). The prompts ask for
  // rain, so that it appears without the negative often enough to measure; each is made
  // with negative "" and with negative "rain", from the same seed.
  report.negative_thing = "rain";
  for (int i = 0; i < o.negative_clips; ++i) {
    const std::string prompt = std::string("A person ") + action_words[size_t(i) % std::size(action_words)] +
                               " in the rain in the " + std::string(name(kGroundSettings[size_t(i + 3) % kGroundSettings.size()])) + ".";
    NegativeClip clip;
    clip.prompt = prompt;
    for (int with = 0; with < 2; ++with) {
      auto request = request_for(prompt, kClipSeconds, o.seed + 400 + uint64_t(i));
      request.negative = with ? report.negative_thing : "";
      request = pipeline.validate(request);
      const auto generated = pipeline.run(request);
      const bool rain = probes.read_scene(generated.video)[kWeather] == int(Weather::Rain);
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
    result.window_seconds = kLongWindowSeconds;
    const int window = int(std::lround(kLongWindowSeconds * fps));
    const int attributes[] = {0, 3, 4, 5, 6};  // setting, skin, hair, hair style, shirt
    const auto asked = person_labels(spec);
    const auto first = read_person(probes, generated.video, boxes, 0, window);
    const auto last = read_person(probes, generated.video, boxes, generated.video.frame_count() - window, window);
    const auto studio_first = read_person(probes, studio.video, boxes, 0, window);
    const auto studio_last = read_person(probes, studio.video, boxes, studio.video.frame_count() - window, window);
    for (int a : attributes) {
      result.attributes.push_back(kCharacterAttributeNames[a]);
      result.asked.push_back(person_label_name(a, asked[size_t(a)]));
      result.first.push_back(person_label_name(a, first[size_t(a)]));
      result.last.push_back(person_label_name(a, last[size_t(a)]));
      result.studio_first.push_back(person_label_name(a, studio_first[size_t(a)]));
      result.studio_last.push_back(person_label_name(a, studio_last[size_t(a)]));
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

constexpr size_t kIdentity = 5;
const char* const kIdentityNames[kIdentity] = {"skin", "hair", "hair_style", "shirt", "accessory"};

struct CameoSummary {
  std::array<double, kIdentity> held{};  // per identity attribute
  double all_held = 0;
};

CameoSummary sum_cameos(const std::vector<CameoClip>& clips) {
  CameoSummary s;
  std::array<int, kIdentity> held{};
  int all_held = 0;
  for (const auto& c : clips) {
    bool all = true;
    for (size_t a = 0; a < kIdentity; ++a) {
      held[a] += c.asked[a] == c.read[a];
      all = all && c.asked[a] == c.read[a];
    }
    all_held += all;
  }
  const double n = double(std::max<size_t>(1, clips.size()));
  for (size_t a = 0; a < kIdentity; ++a) s.held[a] = held[a] / n;
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
  std::snprintf(line, sizeof line, "%-12s %8s %8s %16s %22s %18s\n", "attribute", "classes", "chance", "studio (probe)",
                "studio, same prompts", "generated clips");
  out += line;
  for (const auto& a : attributes) {
    std::snprintf(line, sizeof line, "%-12s %8d %7.0f%% %15.1f%% %21.0f%% %17.0f%%\n", a.attribute.c_str(), a.classes,
                  100 * a.chance, 100 * a.studio_accuracy, 100 * a.same_prompts_studio_accuracy, 100 * a.generated_accuracy);
    out += line;
  }
  std::snprintf(line, sizeof line,
                "probes (models/opsis-probes): trained on %d studio clips; tested on %d studio clips of held-out "
                "combinations (target >= 95%%); %zu generated clips at %d steps\n",
                train_clips, test_clips, prompts.size(), steps);
  out += line;
  out += "studio, same prompts: the probes on the studio's own render of each generated prompt's scene (what a\n"
         "  perfect model would read through them; the prompts ask for small objects, a few pixels across here)\n";
  if (image_clips > 0) {
    std::snprintf(line, sizeof line, "image-to-video first-frame PSNR: %.1f dB (mean of %d)\n", image_to_video_psnr_db,
                  image_clips);
    out += line;
  }
  for (const std::string& what : not_measured) out += "not measured: " + what + "\n";
  auto yes = [](bool v) { return v ? "met" : "NOT met"; };
  if (!character_probes.empty()) {
    out += "\ncharacter probes (studio clips with a character)\n";
    std::snprintf(line, sizeof line, "%-12s %8s %8s %16s\n", "attribute", "classes", "chance", "studio (probe)");
    out += line;
    for (const auto& p : character_probes) {
      std::snprintf(line, sizeof line, "%-12s %8d %7.0f%% %15.1f%%\n", p.attribute.c_str(), p.classes, 100 * p.chance,
                    100 * p.studio_accuracy);
      out += line;
    }
    std::snprintf(line, sizeof line, "(%d studio clips with a character tested; target >= 95%%)\n", character_test_clips);
    out += line;
  }
  if (impact_detector.clips > 0) {
    std::snprintf(line, sizeof line,
                  "\nimpact detector on %d studio clips (bounces, falls) vs truth: found %.1f%% of %d impacts within one "
                  "frame (target >= 90%%), precision %.1f%% (%d found)\n",
                  impact_detector.clips, 100 * impact_detector.recall(), impact_detector.truth, 100 * impact_detector.precision(),
                  impact_detector.found);
    out += line;
  }
  if (mouth_reader.clips > 0) {
    std::snprintf(line, sizeof line,
                  "mouth reader on %d studio talking close-ups vs the drawn mouth: r = %.3f (target >= 0.9)\n",
                  mouth_reader.clips, mouth_reader.correlation);
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
    std::snprintf(line, sizeof line, "%-12s %16s %16s\n", "attribute", "studio (probe)", "held in clips");
    out += line;
    for (size_t a = 0; a < kIdentity; ++a) {
      std::snprintf(line, sizeof line, "%-12s %15.1f%% %15.0f%%\n", kIdentityNames[a],
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
                  "weather probe on studio clips: %.1f%% (chance 50%%)\n"
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
    std::snprintf(line, sizeof line, "%-12s %12s %12s %12s %18s\n", "attribute", "asked", "first", "last", "studio first/last");
    out += line;
    bool kept = true, asked = true;
    for (size_t a = 0; a < l.attributes.size(); ++a) {
      std::snprintf(line, sizeof line, "%-12s %12s %12s %12s %18s\n", l.attributes[a].c_str(), l.asked[a].c_str(),
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
                                    {"studio_clips", a.studio_clips},
                                    {"generated_accuracy", a.generated_accuracy},
                                    {"same_prompts_studio_accuracy", a.same_prompts_studio_accuracy}};
  j["image_to_video_psnr_db"] = image_clips ? nlohmann::json(image_to_video_psnr_db) : nlohmann::json(nullptr);
  j["image_clips"] = image_clips;
  j["not_measured"] = not_measured;
  j["train_clips"] = train_clips;
  j["test_clips"] = test_clips;
  j["steps"] = steps;
  j["seconds"] = seconds;
  auto null_or = [](bool known, double v) { return known ? nlohmann::json(v) : nlohmann::json(nullptr); };
  for (const auto& p : character_probes)
    j["character_probes"][p.attribute] = {{"classes", p.classes}, {"chance", p.chance}, {"studio_probe_accuracy", p.studio_accuracy},
                                          {"studio_clips", p.studio_clips}};
  if (!character_probes.empty()) j["character_probes_clips"] = {{"train", character_train_clips}, {"test", character_test_clips}};
  if (impact_detector.clips > 0)
    j["impact_detector"] = {{"clips", impact_detector.clips},         {"truth_impacts", impact_detector.truth},
                            {"found", impact_detector.found},         {"recall", impact_detector.recall()},
                            {"precision", impact_detector.precision()}, {"tolerance_seconds", kSyncTolerance},
                            {"target_recall", 0.9}};
  if (mouth_reader.clips > 0)
    j["mouth_reader"] = {{"clips", mouth_reader.clips}, {"truth_correlation", mouth_reader.correlation}, {"target", 0.9}};
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
                            {"generated", {{"visual_impacts", c.generated.visual_impacts}, {"with_onset", c.generated.with_onset}, {"onsets", c.generated.onsets},
                                          {"visual_times", c.generated.visual_times}, {"onset_times", c.generated.onset_times}}},
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
    for (size_t a = 0; a < kIdentity; ++a)
      k["attributes"][kIdentityNames[a]] = {{"held_rate", c.held[a]}, {"studio_probe_accuracy", probe_accuracy(character_probes, kIdentityNames[a])}};
    k["all_held_rate"] = c.all_held;
    k["met"] = c.all_held >= 0.9;
    k["clips"] = nlohmann::json::array();
    for (const auto& clip : cameos) {
      nlohmann::json row{{"prompt", clip.prompt}};
      for (size_t a = 0; a < kIdentity; ++a) row["attributes"][kIdentityNames[a]] = {{"asked", clip.asked[a]}, {"read", clip.read[a]}};
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
