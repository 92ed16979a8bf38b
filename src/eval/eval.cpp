#include "eval/eval.hpp"

#include <nlohmann/json.hpp>

#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>

#include "core/error.hpp"
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

double elapsed_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

void validate(const EvalOptions& o) {
  if (o.prompts < 1 || o.prompts > 36) throw InvalidArgument("prompts", "the prompt count is 1 to 36");
  if (o.steps < 0 || o.steps > 200) throw InvalidArgument("steps", "steps is 0 (the model's default) to 200");
  if (o.train_clips < 20 || o.train_clips > 2000) throw InvalidArgument("train-clips", "train clips is 20 to 2000");
  if (o.test_clips < 5 || o.test_clips > 2000) throw InvalidArgument("test-clips", "test clips is 5 to 2000");
  if (o.image_clips < 0 || o.image_clips > o.prompts)
    throw InvalidArgument("image-clips", "image-to-video clips is 0 to the prompt count");
}

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
  const double total_work = o.train_clips + o.test_clips + 8.0 * (o.prompts + o.image_clips);
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
  const auto& objects = train::held_out_objects();
  const auto& shots = train::held_out_shots();
  std::array<int, kAttributes> right{};
  double psnr_sum = 0;
  for (int i = 0; i < o.prompts; ++i) {
    const auto& ho = objects[size_t(i) % objects.size()];
    const auto& hs = shots[(size_t(i) + size_t(i) / shots.size()) % shots.size()];
    const SceneSpec spec = one_object_scene(hs.setting, ObjectSpec{ho.kind, ho.color, Size::Small, ho.motion}, hs.camera);
    engine::GenerateRequest request;
    request.prompt = describe(spec, uint64_t(i), CaptionStyle::Prose);
    request.seconds = kClipSeconds;
    request.width = o.width;
    request.height = o.height;
    request.steps = o.steps;
    request.seed = o.seed + uint64_t(i);
    request = pipeline.validate(request);
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
  report.image_clips = o.image_clips;
  report.image_to_video_psnr_db = o.image_clips ? psnr_sum / o.image_clips : 0;
  report.seconds = elapsed_since(start);
  return report;
}

std::string EvalReport::table() const {
  std::string out;
  char line[256];
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
