// Studio world throughput: training streams clips straight from the renderer, so frames per
// second per core (this process is single-threaded) at the training size, with sound, is
// the number that matters. Target: >= 1,000 frames/s/core at 128x128 with sound.
#include <benchmark/benchmark.h>

#include "studio/caption.hpp"
#include "studio/studio.hpp"

namespace {

using namespace opsis::studio;

// A busy scene: four objects, two characters (one talking), a camera move, rain.
SceneSpec busy_scene() {
  SceneSpec spec;
  spec.setting = Setting::CityStreet;
  spec.weather = Weather::Rain;
  spec.objects = {{ObjectKind::Ball, Color::Red, Size::Large, Motion::Bounces},
                  {ObjectKind::Box, Color::Blue, Size::Small, Motion::Falls},
                  {ObjectKind::Car, Color::Yellow, Size::Large, Motion::RollsRight},
                  {ObjectKind::Bird, Color::Black, Size::Small, Motion::FliesLeft}};
  CharacterSpec talker;
  talker.action = Action::Talks;
  talker.line = "Watch out for the car!";
  CharacterSpec walker;
  walker.identity.name = "Mia";
  walker.identity.hair_style = HairStyle::Long;
  walker.action = Action::WalksLeft;
  spec.characters = {talker, walker};
  spec.shots = {ShotSpec{CameraMove::OrbitLeft, CameraSpeed::Slow, Framing::Wide, Lens::Standard, 4.0}};
  return spec;
}

SceneSpec simple_scene() {
  SceneSpec spec;
  spec.objects = {{ObjectKind::Ball, Color::Red, Size::Small, Motion::Bounces}};
  spec.shots = {ShotSpec{CameraMove::Static, CameraSpeed::Slow, Framing::Wide, Lens::Standard, 4.0}};
  return spec;
}

void render(benchmark::State& state, const SceneSpec& spec, int width, int height, int sample_rate, bool audio) {
  RenderOptions options;
  options.width = width;
  options.height = height;
  options.sample_rate = sample_rate;
  options.audio = audio;
  int64_t frames = 0;
  uint64_t seed = 0;
  for (auto _ : state) {
    options.seed = seed++;
    Clip clip = render_clip(spec, options);
    frames += clip.video.frame_count();
    benchmark::DoNotOptimize(clip.video.rgb.data());
  }
  state.counters["frames_per_s_per_core"] = benchmark::Counter(double(frames), benchmark::Counter::kIsRate);
}

void BM_Simple128_16k(benchmark::State& s) { render(s, simple_scene(), 128, 128, 16000, true); }
void BM_Busy128_16k(benchmark::State& s) { render(s, busy_scene(), 128, 128, 16000, true); }
void BM_Busy128_48k(benchmark::State& s) { render(s, busy_scene(), 128, 128, 48000, true); }
void BM_Busy128_NoSound(benchmark::State& s) { render(s, busy_scene(), 128, 128, 16000, false); }
void BM_Busy720p_48k(benchmark::State& s) { render(s, busy_scene(), 1280, 720, 48000, true); }

// Captions are generated per training clip too.
void BM_Describe(benchmark::State& state) {
  const SceneSpec spec = busy_scene();
  uint64_t variant = 0;
  for (auto _ : state) benchmark::DoNotOptimize(describe(spec, variant++, CaptionStyle::Prose));
}

}  // namespace

BENCHMARK(BM_Simple128_16k)->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK(BM_Busy128_16k)->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK(BM_Busy128_48k)->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK(BM_Busy128_NoSound)->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK(BM_Busy720p_48k)->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK(BM_Describe)->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
