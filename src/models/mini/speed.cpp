#include "models/mini/speed.hpp"

#include <sys/resource.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>

namespace opsis::mini {

double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return double(usage.ru_maxrss) / 1024.0;  // Linux reports KiB
}

double matmul_flops_per_second() {
  torch::NoGradGuard no_grad;
  auto a = torch::randn({1024, 1024}), b = torch::randn({1024, 1024});
  torch::matmul(a, b);
  double best = 1e30;
  for (int run = 0; run < 3; ++run) {
    const auto start = std::chrono::steady_clock::now();
    const int reps = 4;
    for (int i = 0; i < reps; ++i) torch::matmul(a, b);
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / reps);
  }
  return 2.0 * 1024 * 1024 * 1024 / best;
}

double forward_flops(const MiniConfig& c, double nv, double na, double lc) {
  const double d = c.d_model, r = c.mlp_ratio;
  auto stream = [&](double n, double other) {
    return 2 * n * d * d * (4 + 2 + 2 + 2 * r) + 2 * (lc + other) * 2 * d * d  // projections
           + 4 * n * (n + lc + other) * d;                                      // attention scores + values
  };
  const double blocks = c.layers * (stream(nv, na) + stream(na, nv));
  const double io = 2 * nv * 2 * (c.frames_per_token * c.patch * c.patch * 3) * d + 2 * na * 2 * c.audio_patch * d;
  return blocks + io;
}

SpeedReport measure_speed(engine::Backend& backend, engine::GenerateRequest request) {
  engine::Pipeline pipeline(backend);
  request = pipeline.validate(request);
  SpeedReport report;
  report.machine_flops_per_second = matmul_flops_per_second();
  const auto start = std::chrono::steady_clock::now();
  const auto clip = pipeline.run(request);
  report.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  const double seconds = request.seconds;
  const double window = backend.capabilities().window_seconds;
  const int windows = int(std::ceil(seconds / window - 1e-9));
  engine::WindowRequest first;
  first.prompt = request.prompt;
  first.seconds = std::min(seconds, window);
  first.width = request.width;
  first.height = request.height;
  report.guided = *request.guidance_video != 1.0 || *request.guidance_audio != 1.0;
  report.transformer_flops = windows * request.steps * (report.guided ? 2 : 1) * backend.forward_flops(first);
  report.width = request.width;
  report.height = request.height;
  report.steps = request.steps;
  report.frames = clip.video.frame_count();
  report.audio_samples = clip.audio.samples.size();
  report.torch_threads = torch::get_num_threads();
  report.clip_seconds = seconds;
  report.realtime_factor = report.wall_seconds / seconds;
  report.peak_rss_mib = peak_rss_mib();
  report.achieved_flops_per_second = report.transformer_flops / report.wall_seconds;
  return report;
}

}  // namespace opsis::mini
