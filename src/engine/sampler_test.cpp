#include "engine/sampler.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "core/error.hpp"
#include "engine/pipeline.hpp"

using namespace opsis::engine;

namespace {

// Data x0 ~ N(mean, std^2) elementwise, noise ~ N(0, 1), x_t = (1 - t) x0 + t noise.
// The exact flow velocity E[noise - x0 | x_t] is linear in x_t:
//   v(x, t) = -mean + (t - (1 - t) std^2) / var_t * (x - (1 - t) mean),
//   var_t = (1 - t)^2 std^2 + t^2,
// and its ODE carries noise z at t = 1 to mean + std z at t = 0.
struct GaussianData : Conditions {
  double video_mean, video_std, audio_mean, audio_std;
  GaussianData(double vm, double vs, double am, double as)
      : video_mean(vm), video_std(vs), audio_mean(am), audio_std(as) {}
};

double exact_velocity(double x, double t, double mean, double std) {
  const double var = (1 - t) * (1 - t) * std * std + t * t;
  return -mean + (t - (1 - t) * std * std) / var * (x - (1 - t) * mean);
}

class GaussianFlow : public Denoiser {
 public:
  int calls = 0;
  Latents denoise(const Latents& x, double t, const Conditions& conditions) override {
    ++calls;
    const auto& g = static_cast<const GaussianData&>(conditions);
    Latents v = x;
    for (float& value : v.video) value = float(exact_velocity(value, t, g.video_mean, g.video_std));
    for (float& value : v.audio) value = float(exact_velocity(value, t, g.audio_mean, g.audio_std));
    return v;
  }
};

Encoded gaussian_request(std::shared_ptr<GaussianData> positive, std::shared_ptr<GaussianData> negative) {
  Encoded e;
  e.positive = std::move(positive);
  e.negative = std::move(negative);
  e.video_shape = {4, 50};
  e.audio_shape = {100};
  return e;
}

}  // namespace

TEST(Sampler, HeunIntegratesTheGaussianFlowToItsExactEndpoint) {
  GaussianFlow flow;
  const auto data = std::make_shared<GaussianData>(2.0, 0.5, -1.0, 3.0);
  const Encoded e = gaussian_request(data, nullptr);
  SamplerOptions options;
  options.steps = 40;
  options.solver = Solver::Heun;
  options.seed = 7;
  const Latents out = sample(flow, e, options);
  const auto z_video = gaussian_noise(200, 7, 1);
  const auto z_audio = gaussian_noise(100, 7, 2);
  double worst = 0;
  for (size_t i = 0; i < 200; ++i) worst = std::max(worst, std::fabs(out.video[i] - (2.0 + 0.5 * z_video[i])));
  for (size_t i = 0; i < 100; ++i) worst = std::max(worst, std::fabs(out.audio[i] - (-1.0 + 3.0 * z_audio[i])));
  EXPECT_LT(worst, 1e-2);  // Euler at 40 steps is off by ~5e-2
  EXPECT_EQ(flow.calls, 2 * 40 - 1);  // the last Heun step (to t = 0) is an Euler step
}

TEST(Sampler, EulerConvergesAtFirstOrder) {
  const auto data = std::make_shared<GaussianData>(1.0, 0.3, 0.5, 2.0);
  auto error_with = [&](int steps) {
    GaussianFlow flow;
    SamplerOptions options;
    options.steps = steps;
    options.seed = 3;
    const Latents out = sample(flow, gaussian_request(data, nullptr), options);
    const auto z = gaussian_noise(200, 3, 1);
    double sum = 0;
    for (size_t i = 0; i < 200; ++i) sum += std::fabs(out.video[i] - (1.0 + 0.3 * z[i]));
    return sum / 200;
  };
  const double coarse = error_with(10), fine = error_with(40);
  EXPECT_LT(fine, 0.05);
  EXPECT_GT(coarse / fine, 3.0);  // ~4x for a first-order method
}

TEST(Sampler, GuidanceScaleIsPerModality) {
  // Guidance 1 on video keeps the positive distribution; guidance 0 on audio gives the
  // negative (baseline) distribution exactly.
  GaussianFlow flow;
  const auto positive = std::make_shared<GaussianData>(2.0, 1.0, 2.0, 1.0);
  const auto negative = std::make_shared<GaussianData>(-3.0, 1.0, -3.0, 1.0);
  SamplerOptions options;
  options.steps = 30;
  options.solver = Solver::Heun;
  options.guidance_video = 1.0;
  options.guidance_audio = 0.0;
  options.seed = 11;
  const Latents out = sample(flow, gaussian_request(positive, negative), options);
  const auto z_video = gaussian_noise(200, 11, 1);
  const auto z_audio = gaussian_noise(100, 11, 2);
  for (size_t i = 0; i < 200; ++i) EXPECT_NEAR(out.video[i], 2.0 + z_video[i], 5e-3);
  for (size_t i = 0; i < 100; ++i) EXPECT_NEAR(out.audio[i], -3.0 + z_audio[i], 5e-3);

  // Guidance > 1 extrapolates away from the negative: the mean moves past the positive one.
  options.guidance_audio = 2.0;
  const Latents pushed = sample(flow, gaussian_request(positive, negative), options);
  double mean = 0;
  for (float v : pushed.audio) mean += v;
  EXPECT_GT(mean / 100, 4.0);
}

TEST(Sampler, DeterministicForASeedAndDifferentAcrossSeeds) {
  GaussianFlow flow;
  const auto data = std::make_shared<GaussianData>(0.0, 1.0, 0.0, 1.0);
  SamplerOptions options;
  options.steps = 5;
  options.seed = 42;
  const Latents a = sample(flow, gaussian_request(data, nullptr), options);
  const Latents b = sample(flow, gaussian_request(data, nullptr), options);
  EXPECT_EQ(a.video, b.video);
  EXPECT_EQ(a.audio, b.audio);
  options.seed = 43;
  const Latents c = sample(flow, gaussian_request(data, nullptr), options);
  EXPECT_NE(a.video, c.video);
  // The noise itself: standard normal.
  const auto z = gaussian_noise(100000, 5, 0);
  double sum = 0, sq = 0;
  for (float v : z) sum += v, sq += double(v) * v;
  EXPECT_NEAR(sum / z.size(), 0.0, 0.02);
  EXPECT_NEAR(sq / z.size(), 1.0, 0.02);
}

TEST(Sampler, ReportsProgressAndStopsWhenCancelled) {
  GaussianFlow flow;
  const auto data = std::make_shared<GaussianData>(0.0, 1.0, 0.0, 1.0);
  SamplerOptions options;
  options.steps = 10;
  std::vector<double> seen;
  opsis::Progress progress;
  progress.report = [&](double f) { seen.push_back(f); };
  sample(flow, gaussian_request(data, nullptr), options, &progress);
  ASSERT_EQ(seen.size(), 11u);
  EXPECT_EQ(seen.front(), 0.0);
  EXPECT_EQ(seen.back(), 1.0);
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));

  int polls = 0;
  progress.cancelled = [&] { return ++polls > 3; };
  flow.calls = 0;
  EXPECT_THROW(sample(flow, gaussian_request(data, nullptr), options, &progress), opsis::Cancelled);
  EXPECT_EQ(flow.calls, 3);
}

TEST(Sampler, TimestepsRunFromNoiseToData) {
  const auto ts = timesteps(4, 3.0);
  ASSERT_EQ(ts.size(), 5u);
  EXPECT_EQ(ts.front(), 1.0);
  EXPECT_EQ(ts.back(), 0.0);
  EXPECT_GT(ts[2], 0.5);  // shift > 1 keeps more steps at high noise
  EXPECT_THROW(timesteps(0, 1.0), opsis::InvalidArgument);
}

TEST(Mix, AddsSpeechAndKeepsThePeakBelowFullScale) {
  opsis::Audio audio;
  audio.sample_rate = 16000;
  audio.samples.assign(16000, 0.5f);
  opsis::Audio speech;
  speech.sample_rate = 32000;
  speech.samples.assign(16000, 0.9f);  // half a second
  mix_into(audio, speech);
  EXPECT_NEAR(audio.samples[100], 1.4f * 0.98f / 1.4f, 1e-4);
  EXPECT_NEAR(audio.samples[12000], 0.5f * 0.98f / 1.4f, 1e-4);
}

namespace {

// A backend that records what the pipeline asks of it: noise levels and window lengths.
class RecordingBackend : public Backend {
 public:
  std::vector<double> noise_levels;
  std::vector<int> window_frames;
  Capabilities capabilities() const override {
    Capabilities c;
    c.name = "recording";
    c.window_seconds = 1.0;
    c.sizes = {{8, 8}};
    c.fps = 24;
    c.sample_rate = 0;
    c.default_steps = 4;
    c.timestep_shift = 3.0;
    return c;
  }
  Encoded encode(const WindowRequest& r) override {
    const int frames = int(std::lround(r.seconds * 24));
    if (frames > 24) throw opsis::InvalidArgument("seconds", "window longer than the model makes");
    window_frames.push_back(frames);
    Encoded e;
    e.positive = std::make_shared<GaussianData>(0.0, 1.0, 0.0, 1.0);
    e.video_shape = {frames, 8, 8, 3};
    e.audio_shape = {1};
    return e;
  }
  Latents denoise(const Latents& x, double t, const Conditions&) override {
    noise_levels.push_back(t);
    Latents v = x;
    for (float& value : v.video) value = 0.0f;
    return v;
  }
  Decoded decode(const Latents& x, const WindowRequest& r) override {
    Decoded d;
    d.video.width = r.width;
    d.video.height = r.height;
    d.video.rgb.assign(x.video.size(), 128);
    return d;
  }
};

}  // namespace

TEST(Pipeline, SamplesAtTheModelsTimeShiftInWindowsItCanMake) {
  RecordingBackend backend;
  Pipeline pipeline(backend);
  GenerateRequest request;
  request.prompt = "a meadow";
  request.seconds = 4.0;  // 96 frames; later windows also regenerate the previous last frame
  request.guidance_video = 1.0;
  request.guidance_audio = 1.0;
  const auto clip = pipeline.run(pipeline.validate(request));
  EXPECT_EQ(clip.video.frame_count(), 96);
  ASSERT_EQ(backend.window_frames.size(), 5u);
  for (int frames : backend.window_frames) EXPECT_LE(frames, 24);
  const auto expected = timesteps(4, 3.0);
  ASSERT_EQ(backend.noise_levels.size(), 20u);
  for (size_t i = 0; i < 4; ++i) EXPECT_DOUBLE_EQ(backend.noise_levels[i], expected[i]);
  EXPECT_GT(backend.noise_levels[1], 0.75 + 0.1);  // shifted: 3 * 0.75 / (1 + 2 * 0.75) = 0.9
}

namespace {

// Each window's sound is a constant: its window number (1, 2, ...).
class SteppedSoundBackend : public RecordingBackend {
 public:
  Capabilities capabilities() const override {
    Capabilities c = RecordingBackend::capabilities();
    c.sample_rate = 2400;  // 100 samples a frame
    return c;
  }
  Encoded encode(const WindowRequest& r) override {
    Encoded e = RecordingBackend::encode(r);
    e.audio_shape = {int64_t(std::lround(r.seconds * 2400))};
    return e;
  }
  Decoded decode(const Latents& x, const WindowRequest& r) override {
    Decoded d = RecordingBackend::decode(x, r);
    d.audio.sample_rate = 2400;
    d.audio.channels = 1;
    d.audio.samples.assign(x.audio.size(), float(window_frames.size()));
    return d;
  }
};

}  // namespace

TEST(Pipeline, WindowsSoundsJoinWithoutAJump) {
  SteppedSoundBackend backend;
  Pipeline pipeline(backend);
  GenerateRequest request;
  request.prompt = "a meadow";
  request.seconds = 2.0;  // 48 frames: three windows
  request.guidance_video = 1.0;
  request.guidance_audio = 1.0;
  const auto clip = pipeline.run(pipeline.validate(request));
  ASSERT_EQ(backend.window_frames.size(), 3u);
  const auto& s = clip.audio.samples;
  ASSERT_EQ(s.size(), 4800u);
  EXPECT_EQ(s.front(), 1.0f);
  EXPECT_EQ(s.back(), 3.0f);
  float largest_step = 0;
  for (size_t i = 1; i < s.size(); ++i) largest_step = std::max(largest_step, std::fabs(s[i] - s[i - 1]));
  EXPECT_LT(largest_step, 0.02f) << "a window boundary clicks";
}
