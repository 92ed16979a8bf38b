// opsis-mini-bench: time one clip through the whole pipeline (encode, sample with guidance,
// decode) at a native size and the default steps; report wall time, real-time factor, peak
// memory and the transformer's achieved FLOP/s against this machine's measured matmul FLOP/s.
#include <CLI/CLI.hpp>
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>

#include "engine/pipeline.hpp"
#include "models/mini/backend.hpp"
#include "models/mini/weights.hpp"

namespace {

double peak_rss_mib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return 0;
}

double matmul_flops_per_second() {
  auto a = torch::randn({1024, 1024}), b = torch::randn({1024, 1024});
  torch::matmul(a, b);
  const auto start = std::chrono::steady_clock::now();
  const int reps = 10;
  for (int i = 0; i < reps; ++i) torch::matmul(a, b);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return reps * 2.0 * 1024 * 1024 * 1024 / s;
}

// Multiply-adds x 2 of one forward pass (batch 1).
double forward_flops(const opsis::mini::MiniConfig& c, double nv, double na, double lc) {
  const double d = c.d_model, r = c.mlp_ratio;
  auto stream = [&](double n, double other) {
    return 2 * n * d * d * (4 + 2 + 2 + 2 * r + 0) + 2 * (lc + other) * 2 * d * d  // projections
           + 4 * n * (n + lc + other) * d;                                          // attention scores + values
  };
  const double blocks = c.layers * (stream(nv, na) + stream(na, nv));
  const double io = 2 * nv * 2 * (c.frames_per_token * c.patch * c.patch * 3) * d + 2 * na * 2 * c.audio_patch * d;
  return blocks + io;
}

}  // namespace

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
    const auto config = opsis::mini::load_model(model_path)->config;
    opsis::engine::Pipeline pipeline(*backend);
    opsis::engine::GenerateRequest r;
    r.prompt = "a red ball bounces on a beach at golden hour, static camera";
    r.negative = "rain";
    r.seconds = seconds;
    r.width = width;
    r.height = height;
    r.steps = steps;
    r = pipeline.validate(r);
    const double machine = matmul_flops_per_second();
    const auto start = std::chrono::steady_clock::now();
    const auto clip = pipeline.run(r);
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    const int frames = config.frames_for(std::min(seconds, config.window_seconds));
    const int windows = int(std::ceil(seconds / config.window_seconds - 1e-9));
    const double nv = double(frames / config.frames_per_token) * (config.padded(height) / config.patch) *
                      (config.padded(width) / config.patch);
    const double na = config.audio_tokens_for(frames);
    const double lc = 1 + std::min<double>(r.prompt.size(), config.max_text_bytes) + 16;
    const bool guided = *r.guidance_video != 1.0 || *r.guidance_audio != 1.0;
    const double flops = windows * r.steps * (guided ? 2 : 1) * forward_flops(config, nv, na, lc);
    std::printf("opsis-mini bench: %dx%d, %.1f s clip (%d frames, %zu audio samples), %d steps, guidance %s, %d torch threads\n",
                width, height, seconds, clip.video.frame_count(), clip.audio.samples.size(), r.steps,
                guided ? "on" : "off", torch::get_num_threads());
    std::printf("  wall time          %.2f s\n", wall);
    std::printf("  real-time factor   %.2f (wall / clip length)\n", wall / seconds);
    std::printf("  peak memory (RSS)  %.0f MiB\n", peak_rss_mib());
    std::printf("  transformer        %.1f GFLOP, %.1f GFLOP/s achieved\n", flops / 1e9, flops / wall / 1e9);
    std::printf("  machine matmul     %.1f GFLOP/s (1024^2 fp32) -> %.0f%% of it\n", machine / 1e9,
                100.0 * flops / wall / machine);
    (void)caps;
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "opsis-mini-bench: error: %s\n", e.what());
    return 1;
  }
}
