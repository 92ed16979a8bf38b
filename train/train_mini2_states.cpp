// Trains opsis-mini 2's scene-state flow (the structured variant's motion half,
// src/models/mini2/state_flow.hpp) on the studio world's simulation alone: random scenes
// (held-out combinations never drawn) are simulated at 12 states a second, no pixel drawn.
// --evaluate N samples states for N held-out probe scenes and reads them through the probes,
// drawn by the studio from the true states, by the studio from the sampled states (the flow's
// own quality) and, given --renderer, by the learned renderer from the sampled states (the
// whole structured picture).
//
//   opsis-train-mini2-states --out RUNS/mini2-states [--steps N] [--threads 2]
//   opsis-train-mini2-states --out RUNS/mini2-states --evaluate 40 [--renderer RUNS/mini2-renderer/renderer.safetensors]
#include <CLI/CLI.hpp>
#include <torch/torch.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <thread>

#include "core/error.hpp"
#include "core/safetensors.hpp"
#include "eval/eval.hpp"
#include "eval/features.hpp"
#include "eval/probe_net.hpp"
#include "models/mini2/layered_renderer.hpp"
#include "models/mini2/sound_latent.hpp"
#include "models/mini2/state_flow.hpp"
#include "models/mini2/state_sound.hpp"
#include "models/mini2/structured_backend.hpp"
#include "models/mini2/weights.hpp"
#include "studio/dialogue.hpp"
#include "studio/sound.hpp"
#include "studio/studio.hpp"
#include "train/learning_curve.hpp"
#include "train/scenes.hpp"

using namespace opsis;
using namespace opsis::mini2;
namespace fs = std::filesystem;
using torch::indexing::None;
using torch::indexing::Slice;

namespace {

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop = true; }

struct Options {
  std::string out;
  int threads = 2;
  int data_threads = 2;
  int64_t steps = 1000000;
  int batch = 64;
  double lr = 5e-4;
  // Weight of the entities' error relative to the camera, in frame heights at the subject
  // (session 9; see the loss). 0 turns it off.
  double screen_weight = 0.03;
  // Weight of the objects' height error next to their impacts and of its acceleration (session
  // 10; see the loss). 0 turns it off.
  double landing_weight = 1.0;
  int checkpoint_every = 200;
  uint64_t seed = 1;
  int evaluate = 0;
  int stats = 0;
  bool show_camera = false;
  int sound_scenes = 0;  // --sound-check
  bool seen_combinations = false;
  int sample_steps = 24;
  std::string renderer_path;
  std::string probes_path = "models/opsis-probes.safetensors";
  std::string assemble;  // write a structured weights file (with --renderer) and stop
  std::string init;      // a new run starts from a structured weights file's flow and sound
};

constexpr int kFrames = 4 * kStateFps;  // 4 s clips
constexpr int kFramingCondition = 10 + 2;  // frame_condition: camera move (10), speed (2), then framing (3)

// The phoneme cues of the first and second talking characters, from a timeline's events.
std::array<std::vector<engine::PhonemeCue>, 2> speaker_cues(const studio::SceneSpec& spec, const std::vector<studio::Event>& events) {
  std::array<std::vector<engine::PhonemeCue>, 2> cues;
  std::vector<int> talkers;
  for (size_t i = 0; i < spec.characters.size(); ++i)
    if (spec.characters[i].action == studio::Action::Talks) talkers.push_back(int(spec.objects.size() + i));
  for (const studio::Event& ev : events) {
    if (ev.kind != studio::EventKind::Phoneme) continue;
    for (size_t t = 0; t < talkers.size() && t < 2; ++t)
      if (ev.entity == talkers[t]) {
        const int viseme = studio::viseme_of(ev.phoneme);
        cues[t].push_back({ev.phoneme, ev.time, ev.duration, viseme, studio::openness_of(viseme)});
      }
  }
  return cues;
}

constexpr int kSoundFps = 100;                // 10 ms sound frames
constexpr int kSoundFrames = 4 * kSoundFps;

struct Example {
  std::vector<float> states, mask, statics, per_frame;
  std::vector<float> sound_features, mel;  // [kSoundFrames, kSoundFeatureDims], [kSoundFrames, mels]
};

const SoundLatent& sound_latent() {
  static const SoundLatent latent{SoundConfig{}};
  return latent;
}

// with_sound: also the studio's sound and its features (the sound network trains on one clip in
// kSoundShare: its loss had flattened by step 300 while its 1-D convolutions over 400 frames
// cost more than the flow's step).
constexpr int kSoundShare = 8;

Example make_example(const studio::SceneSpec& spec, uint64_t seed, bool with_sound) {
  const studio::Timeline timeline = studio::simulate(spec, seed, kStateFps, 16000);
  Example e;
  std::vector<studio::FrameState> frames(timeline.frames.begin(), timeline.frames.begin() + std::min<size_t>(kFrames, timeline.frames.size()));
  while (int(frames.size()) < kFrames) frames.push_back(frames.back());
  e.states = encode_states(spec, frames, timeline.events);
  e.mask = state_mask(spec);
  e.statics = static_condition(spec);
  const auto cues = speaker_cues(spec, timeline.events);
  e.per_frame = frame_condition(spec, kFrames, cues[0], cues[1]);
  if (!with_sound) return e;
  // The sound, with every impact moved onto its state frame (where the flow flags it and the
  // picture shows it), without speech (espeak-ng's, mixed in by the pipeline).
  studio::Timeline snapped = timeline;
  snapped.speech.clear();
  for (studio::Event& ev : snapped.events)
    if (ev.kind == studio::EventKind::Impact) ev.time = std::round(ev.time * kStateFps) / kStateFps;
  const Audio pcm = studio::synthesize_sound(spec, snapped, seed);
  const auto mel = sound_latent().analyze(torch::from_blob(const_cast<float*>(pcm.samples.data()), {1, int64_t(pcm.samples.size())}).clone());
  const auto clipped = mel[0].index({Slice(0, kSoundFrames)}).contiguous();
  e.mel.assign(clipped.data_ptr<float>(), clipped.data_ptr<float>() + clipped.numel());
  e.mel.resize(size_t(kSoundFrames) * size_t(SoundConfig{}.mels), clipped.numel() > 0 ? e.mel.back() : 0.0f);
  const DecodedStates heard = decode_states(spec, e.states.data(), kFrames, kSoundFps);
  e.sound_features = sound_features(spec, heard.frames, heard.impacts, kSoundFps);
  e.sound_features.resize(size_t(kSoundFrames) * kSoundFeatureDims, 0.0f);
  return e;
}

// Simulation and the studio's sound run on threads of their own (they cost more than a step).
class ExampleSource {
 public:
  ExampleSource(uint64_t seed, int threads) {
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this, seed, i] { run(seed + 7919 * uint64_t(i)); });
  }
  ~ExampleSource() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    changed_.notify_all();
    for (auto& t : threads_) t.join();
  }
  std::vector<Example> take(size_t count) {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return ready_.size() >= count || g_stop; });
    std::vector<Example> out;
    while (out.size() < count && !ready_.empty()) out.push_back(std::move(ready_.front())), ready_.pop_front();
    changed_.notify_all();
    return out;
  }

 private:
  void run(uint64_t seed) {
    std::mt19937_64 rng(seed);
    for (uint64_t made = 0;; ++made) {
      const studio::SceneSpec spec = train::random_scene(rng, 4.0);
      Example e = make_example(spec, rng(), made % kSoundShare == 0);
      std::unique_lock lock(mutex_);
      changed_.wait(lock, [&] { return ready_.size() < 1024 || stopping_; });
      if (stopping_) return;
      ready_.push_back(std::move(e));
      changed_.notify_all();
    }
  }
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Example> ready_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

torch::Tensor stack(const std::vector<Example>& batch, std::vector<float> Example::*field, std::vector<int64_t> shape) {
  std::vector<float> all;
  for (const auto& e : batch) all.insert(all.end(), (e.*field).begin(), (e.*field).end());
  shape.insert(shape.begin(), int64_t(batch.size()));
  return torch::from_blob(all.data(), shape).clone();
}

void save(StateFlow& flow, StateFlow& ema, SoundNet& sound, const std::string& path, int64_t step, double cpu_seconds) {
  safetensors::File file;
  file.metadata["opsis.part"] = "mini2-state-flow";
  file.metadata["opsis.step"] = std::to_string(step);
  file.metadata["opsis.cpu_seconds"] = std::to_string(cpu_seconds);
  file.metadata["opsis.state_layout"] = kStateLayoutVersion;
  add_tensors(file, *flow, "flow.");
  add_tensors(file, *ema, "ema.");
  add_tensors(file, *sound, "sound.");
  safetensors::write(path + ".partial", file);
  fs::rename(path + ".partial", path);
}

struct Loaded {
  int64_t step = 0;
  double cpu_seconds = 0;
};

Loaded load(StateFlow& flow, StateFlow& ema, SoundNet& sound, const std::string& path) {
  const safetensors::File file = safetensors::read(path);
  require_state_layout(file, path);
  load_tensors(*flow, file, "flow.");
  load_tensors(*ema, file, "ema.");
  if (has_part(file, "sound.")) load_tensors(*sound, file, "sound.");
  return {file.metadata.count("opsis.step") ? std::stoll(file.metadata.at("opsis.step")) : 0,
          train::RunClock::from_metadata(file.metadata, "opsis.cpu_seconds")};
}

int train_states(const Options& o) {
  fs::create_directories(o.out);
  const std::string path = o.out + "/states.safetensors", optimizer_path = o.out + "/optimizer.pt";
  StateFlow flow, ema;
  SoundNet sound;
  int64_t step = 0;
  double earlier_cpu_seconds = 0;
  torch::optim::AdamW optimizer(flow->parameters(), torch::optim::AdamWOptions(o.lr).weight_decay(0.01));
  torch::optim::Adam sound_optimizer(sound->parameters(), torch::optim::AdamOptions(1e-3));
  if (fs::exists(path)) {
    const Loaded loaded = load(flow, ema, sound, path);
    step = loaded.step, earlier_cpu_seconds = loaded.cpu_seconds;
    if (fs::exists(optimizer_path)) torch::load(optimizer, optimizer_path);
    std::printf("resuming from %s at step %lld\n", path.c_str(), (long long)step);
  } else if (!o.init.empty()) {
    // The shipped weights (EMA flow: both copies start from it), when the run folder was lost.
    const safetensors::File file = safetensors::read(o.init);
    require_state_layout(file, o.init);
    load_tensors(*flow, file, "flow.");
    load_tensors(*ema, file, "flow.");
    load_tensors(*sound, file, "sound.");
    step = file.metadata.count("opsis.states_step") ? std::stoll(file.metadata.at("opsis.states_step")) : 0;
    earlier_cpu_seconds = train::RunClock::from_metadata(file.metadata, "opsis.states_cpu_seconds");
    std::printf("starting from %s at step %lld\n", o.init.c_str(), (long long)step);
  } else {
    torch::NoGradGuard no_grad;
    auto target = ema->parameters();
    auto source = flow->parameters();
    for (size_t i = 0; i < target.size(); ++i) target[i].copy_(source[i]);
  }
  int64_t parameters = 0;
  for (const auto& p : flow->parameters()) parameters += p.numel();
  std::printf("opsis-mini 2 state flow: %lld parameters, %d frames of %d values\n", (long long)parameters, kFrames, kStateDims);
  std::ofstream curve = train::open_learning_curve(o.out + "/loss.tsv", "step\tseconds\tloss\tsound_l1\tclips\tcpu_seconds");
  const train::RunClock clock(earlier_cpu_seconds);
  ExampleSource source(o.seed * 1000003 + uint64_t(step), o.data_threads);
  std::mt19937_64 rng(o.seed + uint64_t(step));
  const auto started = std::chrono::steady_clock::now();
  double sum = 0, sum_sound = 0, sum_screen = 0, sum_landing = 0;
  int window = 0;
  const int mels = SoundConfig{}.mels;
  auto camera_weight = torch::ones({1, 1, kStateDims});
  camera_weight.index_put_({0, 0, Slice(0, kCameraStateDims)}, 2.0f);
  auto position_fields = torch::zeros({1, 1, kStateDims});  // x, y, z of the object slots
  for (int slot = 0; slot < kObjectSlots; ++slot) position_fields.index_put_({0, 0, Slice(kCameraStateDims + slot * kSlotStateDims, kCameraStateDims + slot * kSlotStateDims + 3)}, 1.0f);
  // The object slots' height values and impact flags (the slot's second and last values).
  std::vector<int64_t> heights, impacts;
  for (int slot = 0; slot < kObjectSlots; ++slot)
    heights.push_back(kCameraStateDims + slot * kSlotStateDims + 1), impacts.push_back(kCameraStateDims + (slot + 1) * kSlotStateDims - 1);
  const auto height_columns = torch::tensor(heights), impact_columns = torch::tensor(impacts);
  while (!g_stop && step < o.steps) {
    const auto batch = source.take(size_t(o.batch));
    if (int(batch.size()) < o.batch) break;
    const auto x0 = stack(batch, &Example::states, {kFrames, kStateDims});
    const auto mask = stack(batch, &Example::mask, {1, kStateDims});
    const auto statics = stack(batch, &Example::statics, {kStaticConditionDims});
    const auto per_frame = stack(batch, &Example::per_frame, {kFrames, kFrameConditionDims});
    const auto noise = torch::randn_like(x0);
    // Noise levels: uniform, with a share near 1 (where the composition is decided).
    auto t = torch::rand({o.batch});
    t = torch::where(torch::rand({o.batch}) < 0.2, 1 - 0.1 * torch::rand({o.batch}), t);
    const auto tt = t.view({o.batch, 1, 1});
    const auto xt = (1 - tt) * x0 + tt * noise;
    const auto v = flow->forward(xt, t, statics, per_frame, torch::ones({o.batch, kFrames}, torch::kBool));
    // The camera's six values count twice: one camera against up to six entities' 24 values each.
    // `loss` (the curve's column since step 0) is that mean.
    const auto error = v - (noise - x0);
    const auto weight = mask * camera_weight;
    const auto loss = (error.pow(2) * weight).sum() / (weight.sum() * kFrames);
    // The objects' positions count four times, and their error's change from frame to frame
    // is a second term (from step 3,880 on): at 3,880 their velocity error was 2-3x the
    // entities' mean and sampled paths jittered by 10-30 cm a frame, which the motion probe and
    // the landings the sound is made from both read.
    const auto position_mask = mask * position_fields;
    const auto position_error = error * position_mask;
    const auto jitter = (position_error.index({Slice(), Slice(1, None)}) - position_error.index({Slice(), Slice(None, -1)})).pow(2).sum() /
                        (position_mask.sum() * (kFrames - 1) + 1e-6);
    // Where things are on screen (from step 14,747, session 9): a medium shot frames 1.3 m and a
    // close-up 0.55 m at the subject, so an error of 30 cm between the camera and the person it
    // follows is a quarter or half of the frame; in metres it weighed as little as in a wide
    // shot's 10 m, and sampled close-ups let the speaker drift out of the frame. This term is the
    // subject's x, y error relative to the camera's, in frame heights at the subject (1.3 m or
    // 0.55 m when the shot follows a subject; 10 m in a wide shot).
    const auto framing = per_frame.narrow(2, kFramingCondition, 3);  // [B, F, 3] wide, medium, close-up
    const auto extent = (framing.select(2, 0) * 10 + framing.select(2, 1) * 1.3 + framing.select(2, 2) * 0.55).clamp_min(0.3);
    // In the clean states the flow implies (x0 = x_t - t v, so their error is t times the
    // velocity's): the velocity's own error holds the noise's, independent per value and as
    // large as the data's, which no flow can make the camera and the subject share.
    const auto x0_error = error * tt;
    const auto camera_x = x0_error.select(2, 0) * 5, camera_y = x0_error.select(2, 1) * 0.7;  // metres (put_camera's scales)
    // The subject only (the first character, else the first object: what a medium shot or a
    // close-up follows): where the others are is not known until late in sampling.
    const int character_slot = kCameraStateDims + kObjectSlots * kSlotStateDims;
    const auto has_character = mask.select(2, character_slot).select(1, 0).view({o.batch, 1});  // [B, 1]
    const auto subject_x = has_character * x0_error.select(2, character_slot) + (1 - has_character) * x0_error.select(2, kCameraStateDims);
    const auto subject_y =
        has_character * x0_error.select(2, character_slot + 1) + (1 - has_character) * x0_error.select(2, kCameraStateDims + 1);
    const auto has_subject = (has_character + mask.select(2, kCameraStateDims).select(1, 0).view({o.batch, 1})).clamp_max(1);
    const auto dx = subject_x * 6 - camera_x, dy = subject_y * 2 - camera_y;
    const auto screen = ((dx.pow(2) + dy.pow(2)) / extent.pow(2) * has_subject).sum() / (has_subject.sum() * kFrames + 1e-6);
    // Landings (from step 18,436, session 10): sampled falls slowed before the ground and
    // resting objects bobbed by 5-10 cm, so the visual impact detector found the thuds the
    // states were heard at in a third of cases (--sound-check). The objects' height error
    // counts again on the frames next to their impacts, and its second difference (the
    // acceleration's error: gravity, and the turn at a bounce) is a term of its own.
    const auto flags = (x0.index_select(2, impact_columns) > 0).to(torch::kFloat);                               // [B, F, 4]
    const auto near_impact = torch::max_pool1d(flags.transpose(1, 2), 3, 1, 1).transpose(1, 2);                // ±1 frame
    const auto height_mask = mask.index_select(2, height_columns);                                               // [B, 1, 4]
    const auto height_error = error.index_select(2, height_columns) * height_mask;                               // [B, F, 4]
    const auto landing = (height_error.pow(2) * near_impact).sum() / ((near_impact * height_mask).sum() + 1e-6);
    const auto acceleration = (height_error.index({Slice(), Slice(2, None)}) - 2 * height_error.index({Slice(), Slice(1, -1)}) +
                               height_error.index({Slice(), Slice(None, -2)}))
                                  .pow(2)
                                  .sum() /
                              (height_mask.sum() * (kFrames - 2) + 1e-6);
    const auto objective = (error.pow(2) * weight * (1 + 3 * position_fields)).sum() / (weight.sum() * kFrames) + jitter +
                           o.screen_weight * screen + o.landing_weight * (landing + 0.25 * acceleration);
    optimizer.zero_grad();
    objective.backward();
    torch::nn::utils::clip_grad_norm_(flow->parameters(), 1.0);
    optimizer.step();
    {
      torch::NoGradGuard no_grad;
      const double decay = std::min(0.999, (1.0 + double(step)) / (10.0 + double(step)));
      auto target = ema->parameters();
      auto params = flow->parameters();
      for (size_t i = 0; i < target.size(); ++i) target[i].mul_(decay).add_(params[i], 1 - decay);
    }
    std::vector<Example> heard;
    for (const Example& e : batch)
      if (!e.mel.empty()) heard.push_back(e);
    if (heard.empty()) heard.push_back(make_example(train::random_scene(rng, 4.0), rng(), true));
    const auto features = stack(heard, &Example::sound_features, {kSoundFrames, kSoundFeatureDims});
    const auto mel = stack(heard, &Example::mel, {kSoundFrames, mels});
    const auto sound_loss = (sound->forward(features) - mel).abs().mean();
    sound_optimizer.zero_grad();
    sound_loss.backward();
    sound_optimizer.step();
    ++step;
    sum += loss.item<double>(), sum_sound += sound_loss.item<double>(), sum_screen += screen.item<double>(), sum_landing += landing.item<double>(), ++window;
    if (step % 20 == 0) {
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      std::printf("step %lld  %.0f s  %.0f CPU s  loss %.4f  sound %.4f  on screen %.3f  landing %.4f\n", (long long)step, seconds,
                  clock.cpu_seconds(), sum / window, sum_sound / window, sum_screen / window, sum_landing / window);
      std::fflush(stdout);
      curve << step << '\t' << seconds << '\t' << sum / window << '\t' << sum_sound / window << '\t' << step * o.batch << '\t'
            << clock.cpu_seconds() << '\n';
      curve.flush();
      sum = 0, sum_sound = 0, sum_screen = 0, sum_landing = 0, window = 0;
    }
    if (step % o.checkpoint_every == 0 || g_stop || step == o.steps) {
      save(flow, ema, sound, path, step, clock.cpu_seconds());
      torch::save(optimizer, optimizer_path + ".partial");
      fs::rename(optimizer_path + ".partial", optimizer_path);
      std::printf("step %lld: saved %s\n", (long long)step, path.c_str());
    }
  }
  if (step % o.checkpoint_every != 0) save(flow, ema, sound, path, step, clock.cpu_seconds());
  return 0;
}

Video studio_video(const studio::SceneSpec& spec, const std::vector<studio::FrameState>& frames, int width, int height, int fps) {
  const studio::FrameRenderer renderer(spec, studio::fixed_scenery_seed(spec.setting), width, height);
  Video v;
  v.width = width, v.height = height, v.fps_num = fps, v.fps_den = 1;
  v.rgb.resize(frames.size() * v.frame_bytes());
  for (size_t i = 0; i < frames.size(); ++i) renderer.draw(frames[i], v.rgb.data() + i * v.frame_bytes(), nullptr);
  return v;
}

// The spread of the camera's six state values over random scenes: their standard deviation
// over all frames and their mean range within a clip (what a camera move changes), and the
// same for one object slot's position, to see which values the flow's unit noise drowns.
int print_state_stats(const Options& o) {
  std::mt19937_64 rng(o.seed);
  constexpr int kShown = kCameraStateDims + 3;
  std::array<double, kShown> sum{}, sum_sq{}, range{};
  int64_t count = 0;
  for (int i = 0; i < o.stats; ++i) {
    const studio::SceneSpec spec = train::random_scene(rng, 4.0);
    if (spec.objects.empty()) { --i; continue; }
    const studio::Timeline timeline = studio::simulate(spec, rng(), kStateFps, 16000);
    const auto states = encode_states(spec, timeline.frames, timeline.events);
    const size_t frames = states.size() / kStateDims;
    for (int k = 0; k < kShown; ++k) {
      const size_t column = size_t(k < kCameraStateDims ? k : kCameraStateDims + (k - kCameraStateDims));
      float low = 1e9f, high = -1e9f;
      for (size_t f = 0; f < frames; ++f) {
        const float v = states[f * kStateDims + column];
        sum[size_t(k)] += v, sum_sq[size_t(k)] += double(v) * v;
        low = std::min(low, v), high = std::max(high, v);
      }
      range[size_t(k)] += high - low;
    }
    count += int64_t(frames);
  }
  const char* names[kShown] = {"camera x", "camera y", "camera z", "camera yaw", "camera pitch", "camera focal", "object x", "object y", "object z"};
  std::printf("%-14s %8s %8s %14s\n", "value", "mean", "std", "range in clip");
  for (int k = 0; k < kShown; ++k) {
    const double mean = sum[size_t(k)] / double(count);
    std::printf("%-14s %8.3f %8.3f %14.3f\n", names[k], mean, std::sqrt(std::max(0.0, sum_sq[size_t(k)] / double(count) - mean * mean)),
                range[size_t(k)] / o.stats);
  }
  return 0;
}

// The EMA flow's velocity error on fresh training scenes at a few noise levels, for the
// camera's values and the entities' apart: which part the flow has not learned yet.
void print_velocity_errors(StateFlow& flow, uint64_t seed) {
  torch::NoGradGuard no_grad;
  std::mt19937_64 rng(seed);
  std::vector<Example> batch;
  while (batch.size() < 64) batch.push_back(make_example(train::random_scene(rng, 4.0), rng(), false));
  const auto x0 = stack(batch, &Example::states, {kFrames, kStateDims});
  const auto mask = stack(batch, &Example::mask, {1, kStateDims});
  const auto statics = stack(batch, &Example::statics, {kStaticConditionDims});
  const auto per_frame = stack(batch, &Example::per_frame, {kFrames, kFrameConditionDims});
  torch::manual_seed(int64_t(seed));
  const auto noise = torch::randn_like(x0);
  std::printf("  velocity error (mean square) on 64 training scenes:   t    camera  entities  object x,y\n");
  for (const double level : {0.1, 0.3, 0.6, 0.9}) {
    const auto t = torch::full({64}, float(level));
    const auto xt = (1 - level) * x0 + level * noise;
    const auto error = (flow->forward(xt, t, statics, per_frame, torch::ones({64, kFrames}, torch::kBool)) - (noise - x0)).pow(2) * mask;
    const auto camera = error.index({Slice(), Slice(), Slice(0, kCameraStateDims)}).mean().item<double>();
    const auto rest = error.index({Slice(), Slice(), Slice(kCameraStateDims, kStateDims)});
    const double entities = (rest.sum() / (mask.index({Slice(), Slice(), Slice(kCameraStateDims, kStateDims)}).sum() * kFrames)).item<double>();
    // The objects' positions (slots 0-3, values x and y): what the motion probe reads.
    double position = 0, counted = 0;
    for (int slot = 0; slot < kObjectSlots; ++slot)
      for (int field = 0; field < 2; ++field) {
        const int64_t k = kCameraStateDims + slot * kSlotStateDims + field;
        position += error.index({Slice(), Slice(), k}).sum().item<double>();
        counted += mask.index({Slice(), Slice(), k}).sum().item<double>() * kFrames;
      }
    std::printf("%58.1f  %8.4f  %8.4f  %10.4f\n", level, camera, entities, position / std::max(counted, 1.0));
  }
}

// Tracked shots (a medium shot or close-up of one talking character, the framing of dialogue
// and cameos): how often the sampled character's head is inside the frame, and how far its
// centre is from the frame's centre (in frame widths), against the simulation's own truth.
void screen_check(StateFlow& ema, int scenes, int sample_steps, uint64_t seed) {
  std::mt19937_64 rng(seed * 977 + 11);
  const int width = 128, height = 72;
  double inside[2] = {0, 0}, offset[2] = {0, 0}, counted[2] = {0, 0};
  for (int i = 0; i < scenes; ++i) {
    studio::SceneSpec spec = eval::probe_character_scene(rng);
    spec.characters[0].action = studio::Action::Talks;
    spec.characters[0].line = "what a day it is";
    spec.shots[0].framing = i % 2 ? studio::Framing::CloseUp : studio::Framing::Medium;
    spec.shots[0].seconds = 4.0;
    const uint64_t scene_seed = rng();
    const studio::Timeline truth = studio::simulate(spec, scene_seed, kStateFps, 16000);
    const auto cues = speaker_cues(spec, truth.events);
    const int frames = int(std::lround(spec.seconds() * kStateFps));
    const auto states = sample_states(ema, static_condition(spec), frame_condition(spec, frames, cues[0], cues[1]), frames, sample_steps,
                                      scene_seed, state_mask(spec));
    const DecodedStates decoded = decode_states(spec, states.contiguous().data_ptr<float>(), frames, kStateFps);
    const int entity = int(spec.objects.size());  // the character
    auto measure = [&](const std::vector<studio::FrameState>& f, int way) {
      for (const auto& frame : f) {
        const studio::EntityPose& pose = frame.entities.at(size_t(entity));
        // The head: 0.9 of a ~1.7 m character's height above its feet.
        const studio::Projected p = studio::project(frame.camera, pose.x, pose.y + 1.5f, pose.z, width, height);
        const bool in = p.in_front && p.u >= 0 && p.u < width && p.v >= 0 && p.v < height;
        inside[way] += in, counted[way] += 1;
        offset[way] += p.in_front ? std::min(1.0, std::abs(p.u - width / 2.0) / width) : 1.0;
      }
    };
    measure(truth.frames, 0);
    measure(decoded.frames, 1);
  }
  const double n_truth = std::max(1.0, counted[0]), n = std::max(1.0, counted[1]);
  std::printf("tracked shots (%d talking medium shots and close-ups): head inside the frame %.1f%% truth, %.1f%% sampled; "
              "mean distance from the centre %.3f / %.3f frame widths\n",
              scenes, 100 * inside[0] / n_truth, 100 * inside[1] / n, offset[0] / n_truth, offset[1] / n);
}

// Impact sync, link by link, on the eval's impact scenes (a large ball bouncing or a large box
// falling, static camera): which link loses the thud's frame.
//  1. truth states -> the sound network -> onsets, against the truth's impacts (the sound alone);
//  2. sampled states -> the impacts read from them -> the sound network -> onsets, against those
//     impacts (does the network sound what it is told);
//  3. the learned renderer's picture of the samples -> the visual impact detector, against the
//     impacts read from the states (does the picture show them where they are heard), and
//     against the onsets (what opsis eval measures).
void sound_check(StateFlow& ema, SoundNet& sound, std::optional<LayeredRenderer>& renderer, const eval::Probes& probes, int scenes,
                 int sample_steps, uint64_t seed, bool verbose) {
  torch::NoGradGuard no_grad;
  // As opsis eval measures it: pictures at 24 a second, one of their frames' tolerance.
  const int width = 128, height = 72, fps = 24;
  const double tolerance = eval::kSyncTolerance;
  const studio::Setting settings[] = {studio::Setting::Beach, studio::Setting::Forest, studio::Setting::Meadow, studio::Setting::Desert,
                                      studio::Setting::Snowfield, studio::Setting::LivingRoom};
  int truth_impacts = 0, truth_heard = 0, read = 0, read_heard = 0, seen = 0, seen_read = 0, seen_heard = 0, drawn = 0, drawn_read = 0;
  auto matched = [&](const std::vector<double>& times, const std::vector<double>& refs) {
    int n = 0;
    for (double t : times)
      n += std::any_of(refs.begin(), refs.end(), [&](double r) { return std::abs(t - r) <= tolerance; });
    return n;
  };
  auto heard = [&](const studio::SceneSpec& spec, const float* states, int frames, const std::vector<studio::Event>& impacts) {
    const DecodedStates at_100 = decode_states(spec, states, frames, kSoundFps);
    auto features = sound_features(spec, at_100.frames, impacts, kSoundFps);
    const auto mel = sound->forward(torch::from_blob(features.data(), {1, int64_t(at_100.frames.size()), kSoundFeatureDims}).clone());
    const auto pcm = sound_latent().synthesize(mel, -1, 0)[0].contiguous();
    Audio audio;
    audio.sample_rate = sound_latent().config().sample_rate, audio.channels = 1;
    audio.samples.assign(pcm.data_ptr<float>(), pcm.data_ptr<float>() + pcm.numel());
    return eval::sound_onsets(audio);
  };
  auto times = [](const std::vector<studio::Event>& events) {
    std::vector<double> t;
    for (const auto& ev : events)
      if (ev.kind == studio::EventKind::Impact && ev.entity == 0) t.push_back(ev.time);
    return t;
  };
  for (int i = 0; i < scenes; ++i) {
    studio::SceneSpec spec;
    spec.setting = settings[size_t(i) % std::size(settings)];
    const bool ball = i % 2 == 0;
    spec.objects = {studio::ObjectSpec{ball ? studio::ObjectKind::Ball : studio::ObjectKind::Box,
                                       ball ? studio::Color::Red : studio::Color::Blue, studio::Size::Large,
                                       ball ? studio::Motion::Bounces : studio::Motion::Falls}};
    spec.shots = {studio::ShotSpec{}};
    spec.shots[0].seconds = 4.0;
    const uint64_t scene_seed = seed * 131 + uint64_t(i);
    const studio::Timeline truth = studio::simulate(spec, scene_seed, kStateFps, 16000);
    const int frames = int(std::lround(spec.seconds() * kStateFps));
    // 1. The truth's states (their impacts on state frames, as in training).
    std::vector<studio::FrameState> truth_frames(truth.frames.begin(), truth.frames.begin() + std::min<size_t>(size_t(frames), truth.frames.size()));
    const auto truth_states = encode_states(spec, truth_frames, truth.events);
    const int truth_count = int(truth_states.size() / kStateDims);
    const DecodedStates truth_decoded = decode_states(spec, truth_states.data(), truth_count, fps);
    const auto truth_times = times(truth.events);
    const auto truth_onsets = heard(spec, truth_states.data(), truth_count, truth_decoded.impacts);
    truth_impacts += int(truth_times.size()), truth_heard += matched(truth_times, truth_onsets);
    // 2. A sample.
    const auto cues = speaker_cues(spec, truth.events);
    const auto states = sample_states(ema, static_condition(spec), frame_condition(spec, frames, cues[0], cues[1]), frames, sample_steps,
                                      scene_seed, state_mask(spec)).contiguous();
    const DecodedStates decoded = decode_states(spec, states.data_ptr<float>(), frames, fps);
    const auto read_times = times(decoded.impacts);
    const auto onsets = heard(spec, states.data_ptr<float>(), frames, decoded.impacts);
    read += int(read_times.size()), read_heard += matched(read_times, onsets);
    // 3. The picture.
    Video video = studio_video(spec, decoded.frames, width, height, fps);
    const auto studio_seen = probes.impacts(video);
    drawn += int(studio_seen.size()), drawn_read += matched(studio_seen, read_times);
    std::vector<double> visual;
    if (renderer) {
      const auto rgb = render_clip(*renderer, spec, decoded.frames, width, height);
      std::copy(rgb.data_ptr<uint8_t>(), rgb.data_ptr<uint8_t>() + rgb.numel(), video.rgb.begin());
      visual = probes.impacts(video);
      seen += int(visual.size()), seen_read += matched(visual, read_times), seen_heard += matched(visual, onsets);
    }
    if (verbose) {
      auto list = [](const char* name, const std::vector<double>& t) {
        std::printf("      %-22s", name);
        for (double x : t) std::printf(" %.3f", x);
        std::printf("\n");
      };
      std::printf("  %s %s\n", std::string(studio::name(spec.setting)).c_str(), ball ? "ball bounces" : "box falls");
      // The object's drawn height (m) at each state frame, truth and sampled.
      const size_t y = size_t(kCameraStateDims + state_slot(spec, 0) * kSlotStateDims + 1);  // the slot's height value
      std::printf("      height truth  ");
      for (int f = 0; f < truth_count; ++f) std::printf(" %4.2f", std::max(truth_states[size_t(f) * kStateDims + y] * 2 + 1, -0.05f));
      std::printf("\n      height sampled");
      for (int f = 0; f < frames; ++f) std::printf(" %4.2f", std::max(states[f][int64_t(y)].item<float>() * 2 + 1, -0.05f));
      std::printf("\n");
      list("truth impacts", truth_times), list("onsets (truth states)", truth_onsets), list("read from sample", read_times),
          list("onsets (sample)", onsets), list("seen (studio's picture)", studio_seen), list("seen (learned picture)", visual);
    }
  }
  auto pct = [](int a, int b) { return b ? 100.0 * a / b : 0.0; };
  std::printf("impact sync, link by link (%d scenes, within %.0f ms):\n", scenes, 1000 * tolerance);
  std::printf("  truth impacts heard through the sound network:      %5.1f%% of %d\n", pct(truth_heard, truth_impacts), truth_impacts);
  std::printf("  sampled impacts heard through the sound network:    %5.1f%% of %d\n", pct(read_heard, read), read);
  std::printf("  seen in the studio's picture of the samples: at a sampled impact %5.1f%% of %d\n", pct(drawn_read, drawn), drawn);
  if (renderer)
    std::printf("  seen in the learned picture: at a sampled impact %5.1f%%, with an onset %5.1f%% of %d\n", pct(seen_read, seen),
                pct(seen_heard, seen), seen);
}

int evaluate(const Options& o) {
  StateFlow flow, ema;
  SoundNet sound;
  const int64_t step = load(flow, ema, sound, o.out + "/states.safetensors").step;
  ema->eval();
  if (o.show_camera) print_velocity_errors(ema, o.seed);
  screen_check(ema, std::max(8, o.evaluate / 2), o.sample_steps, o.seed);
  std::optional<LayeredRenderer> renderer;
  if (!o.renderer_path.empty()) {
    renderer.emplace();
    safetensors::File file = safetensors::read(o.renderer_path);
    upgrade_renderer_tensors(file);
    load_tensors(**renderer, file, "renderer.");
    (*renderer)->eval();
  }
  const eval::Probes probes = eval::Probes::load(o.probes_path);
  if (o.sound_scenes > 0) {
    sound_check(ema, sound, renderer, probes, o.sound_scenes, o.sample_steps, o.seed, o.show_camera);
    return 0;
  }
  std::mt19937_64 rng(o.seed * 31 + 5);
  const int width = 128, height = 72, fps = eval::kProbeFps;
  constexpr int kWays = 3;  // studio from truth, studio from samples, learned renderer from samples
  std::array<int, eval::kSceneHeads> total{};
  std::array<std::array<int, eval::kSceneHeads>, kWays> right{};
  int impacts = 0, impacts_sampled = 0;
  for (int i = 0; i < o.evaluate; ++i) {
    const studio::SceneSpec spec = eval::probe_object_scene(rng, !o.seen_combinations);
    const uint64_t seed = rng();
    const studio::Timeline truth = studio::simulate(spec, seed, fps, 16000);
    const auto cues = speaker_cues(spec, truth.events);
    const int frames = int(std::lround(spec.seconds() * kStateFps));
    const auto states = sample_states(ema, static_condition(spec), frame_condition(spec, frames, cues[0], cues[1]), frames,
                                      o.sample_steps, seed, state_mask(spec));
    const DecodedStates decoded = decode_states(spec, states.contiguous().data_ptr<float>(), frames, fps);
    if (o.show_camera) {
      // The first shot's camera from its first to its last frame, truth against sample.
      const auto& first_shot = spec.shots.front();
      const size_t last = size_t(std::min<double>(double(truth.frames.size()), std::lround(first_shot.seconds * fps)) - 1);
      auto change = [&](const std::vector<studio::FrameState>& f) {
        const auto &a = f.front().camera, &b = f[std::min(last, f.size() - 1)].camera;
        return std::array<float, 5>{b.x - a.x, b.z - a.z, b.yaw - a.yaw, b.pitch - a.pitch, std::log(b.focal / a.focal)};
      };
      const auto t = change(truth.frames), g = change(decoded.frames);
      std::printf("  %-12s %-7s truth dx %+5.2f dz %+5.2f yaw %+5.2f pitch %+5.2f focal %+5.2f | sampled %+5.2f %+5.2f %+5.2f %+5.2f %+5.2f\n",
                  std::string(studio::name(first_shot.camera)).c_str(), std::string(studio::name(first_shot.framing)).c_str(), t[0], t[1],
                  t[2], t[3], t[4], g[0], g[1], g[2], g[3], g[4]);
      // The sampled camera values (scaled) every half second, to tell a wrong path from jitter.
      const auto sampled = states.contiguous();
      for (int k = 0; k < kCameraStateDims; ++k) {
        std::printf("      value %d:", k);
        for (int f = 0; f < frames; f += 6) std::printf(" %+5.2f", sampled[f][k].item<float>());
        std::printf("\n");
      }
      // The first object's impact flag (last value of its slot), sampled, with the true impacts' frames.
      std::printf("      impact flag:");
      for (int f = 0; f < frames; ++f) std::printf(" %+.1f", sampled[f][kCameraStateDims + kSlotStateDims - 1].item<float>());
      std::printf("\n      true impacts at state frames:");
      for (const auto& ev : truth.events)
        if (ev.kind == studio::EventKind::Impact && ev.entity == 0) std::printf(" %ld", std::lround(ev.time * kStateFps));
      std::printf("\n");
    }
    std::array<Video, kWays> videos;
    videos[0] = studio_video(spec, truth.frames, width, height, fps);
    videos[1] = studio_video(spec, decoded.frames, width, height, fps);
    if (renderer) {
      const auto rgb = render_clip(*renderer, spec, decoded.frames, width, height);
      videos[2] = videos[1];
      std::copy(rgb.data_ptr<uint8_t>(), rgb.data_ptr<uint8_t>() + rgb.numel(), videos[2].rgb.begin());
    }
    const auto labels = eval::scene_labels(spec);
    for (int w = 0; w < kWays; ++w) {
      if (videos[size_t(w)].rgb.empty()) continue;
      const auto read = probes.read_scene(videos[size_t(w)]);
      for (int h = 0; h < eval::kSceneHeads; ++h)
        if (labels[size_t(h)] >= 0) right[size_t(w)][size_t(h)] += read[size_t(h)] == labels[size_t(h)];
    }
    for (int h = 0; h < eval::kSceneHeads; ++h) total[size_t(h)] += labels[size_t(h)] >= 0;
    // Impacts: a true impact of a visible object with a sampled one within a frame at 12/s.
    for (const auto& ev : truth.events) {
      if (ev.kind != studio::EventKind::Impact || ev.entity < 0 || ev.entity >= int(spec.objects.size())) continue;
      ++impacts;
      for (const auto& s : decoded.impacts)
        if (s.entity == ev.entity && std::abs(s.time - ev.time) <= 1.0 / kStateFps + 1e-6) {
          ++impacts_sampled;
          break;
        }
    }
  }
  std::printf("state flow (EMA) at step %lld on %d held-out probe scenes, %d sampling steps:\n", (long long)step, o.evaluate,
              o.sample_steps);
  std::printf("  %-12s %10s %10s %10s %6s\n", "attribute", "truth", "sampled", "learned", "n");
  for (int h = 0; h < eval::kSceneHeads; ++h) {
    if (total[size_t(h)] == 0) continue;
    auto pct = [&](int w) { return 100.0 * right[size_t(w)][size_t(h)] / total[size_t(h)]; };
    std::printf("  %-12s %9.1f%% %9.1f%% ", eval::kSceneHeadSpecs[size_t(h)].name, pct(0), pct(1));
    if (renderer) std::printf("%9.1f%% ", pct(2)); else std::printf("%10s ", "-");
    std::printf("%6d\n", total[size_t(h)]);
  }
  std::printf("  true object impacts with a sampled impact within a state frame: %d of %d\n", impacts_sampled, impacts);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Trains opsis-mini 2's scene-state flow on the studio world's simulation"};
  Options o;
  app.add_option("--out", o.out, "run folder (weights, optimiser state, loss.tsv)")->required();
  app.add_option("--threads", o.threads, "torch threads");
  app.add_option("--data-threads", o.data_threads, "threads simulating scenes and their sound");
  app.add_option("--steps", o.steps, "stop after this many steps in all");
  app.add_option("--batch", o.batch, "clips per step");
  app.add_option("--screen-weight", o.screen_weight, "weight of the entities' on-screen error relative to the camera");
  app.add_option("--landing-weight", o.landing_weight, "weight of the objects' height error at their impacts and of its acceleration");
  app.add_option("--lr", o.lr, "learning rate");
  app.add_option("--checkpoint-every", o.checkpoint_every, "steps between saves");
  app.add_option("--seed", o.seed, "random seed");
  app.add_option("--evaluate", o.evaluate, "only sample and read this many held-out probe scenes");
  app.add_option("--stats", o.stats, "only print the spread of the camera's state values over this many random scenes");
  app.add_flag("--seen", o.seen_combinations, "with --evaluate: probe scenes of combinations training sees (not held out)");
  app.add_flag("--show-camera", o.show_camera, "with --evaluate: print each scene's first-shot camera change, truth and sampled");
  app.add_option("--sample-steps", o.sample_steps, "with --evaluate: Euler steps");
  app.add_option("--sound-check", o.sound_scenes, "with --evaluate: only the impact sync link by link, on this many impact scenes "
                 "(--show-camera lists the times)");
  app.add_option("--renderer", o.renderer_path, "with --evaluate: also draw the samples with this learned renderer");
  app.add_option("--probes", o.probes_path, "with --evaluate: the probes' weights");
  app.add_option("--init", o.init, "a new run starts from this structured weights file");
  app.add_option("--assemble", o.assemble, "write a structured weights file here from this run and --renderer, then stop");
  CLI11_PARSE(app, argc, argv);
  torch::set_num_threads(o.threads);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  try {
    if (!o.assemble.empty()) {
      if (o.renderer_path.empty()) throw InvalidArgument("renderer", "--assemble needs --renderer");
      assemble_structured_weights(o.renderer_path, o.out + "/states.safetensors", o.assemble);
      std::printf("wrote %s\n", o.assemble.c_str());
      return 0;
    }
    if (o.stats > 0) return print_state_stats(o);
    return o.evaluate > 0 ? evaluate(o) : train_states(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "opsis-train-mini2-states: %s\n", e.what());
    return 1;
  }
}
