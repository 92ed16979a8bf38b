// opsis-mini-bench: time one clip through the whole pipeline (encode, sample with guidance,
// decode) at a native size and the default steps; report wall time, real-time factor, peak
// memory and the transformer's achieved FLOP/s against this machine's measured matmul FLOP/s.
#include <CLI/CLI.hpp>
#include <torch/torch.h>

#include <cstdio>
#include <string>

#include "models/mini/backend.hpp"
#include "models/mini/speed.hpp"
#include "models/mini/weights.hpp"

int main(int argc, char** argv) {
  std::string model_path;
  double seconds = 4;
  int width = 128, height = 72, steps = 0, threads = 0;
  bool random = false;
  CLI::App app{"opsis-mini-bench: speed of one clip at native size"};
  app.add_option("--model", model_path, "weights (default: the shipped opsis-mini)");
  app.add_option("--seconds", seconds);
  app.add_option("--width", width);
  app.add_option("--height", height);
  app.add_option("--steps", steps, "0 = the model's default");
  app.add_option("--threads", threads);
  app.add_flag("--random", random, "untrained weights of the default config (same compute)");
  CLI11_PARSE(app, argc, argv);
  try {
    if (random) {
      model_path = "/tmp/opsis-mini-bench-random.safetensors";
      opsis::mini::MiniModel fresh{opsis::mini::MiniConfig{}};
      opsis::mini::save_model(fresh, model_path);
    }
    if (model_path.empty()) model_path = opsis::mini::find_weights();
    auto backend = opsis::mini::open_backend(model_path, threads);
    const auto caps = backend->capabilities();
    opsis::engine::GenerateRequest r;
    r.prompt = "a red ball bounces on a beach at golden hour, static camera";
    r.negative = "rain";
    r.seconds = seconds;
    r.width = width;
    r.height = height;
    r.steps = steps;
    const auto s = opsis::mini::measure_speed(*backend, r);
    std::printf("opsis-mini bench: %dx%d, %.1f s clip (%d frames, %zu audio samples), %d steps, guidance %s, %d torch threads\n",
                s.width, s.height, s.clip_seconds, s.frames, s.audio_samples, s.steps, s.guided ? "on" : "off",
                s.torch_threads);
    std::printf("  wall time          %.2f s\n", s.wall_seconds);
    std::printf("  real-time factor   %.2f (wall / clip length)\n", s.realtime_factor);
    std::printf("  peak memory (RSS)  %.0f MiB\n", s.peak_rss_mib);
    std::printf("  transformer        %.1f GFLOP, %.1f GFLOP/s achieved\n", s.transformer_flops / 1e9,
                s.achieved_flops_per_second / 1e9);
    std::printf("  machine matmul     %.1f GFLOP/s (1024^2 fp32) -> %.0f%% of it\n", s.machine_flops_per_second / 1e9,
                100.0 * s.share_of_machine());
    (void)caps;
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "opsis-mini-bench: error: %s\n", e.what());
    return 1;
  }
}
