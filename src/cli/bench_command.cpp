// `opsis bench`: speed of the built-in model on this machine for one clip at native size and
// the default steps (a benchmark, not a test): wall time, real-time factor, peak memory and
// the transformer's achieved FLOP/s as a share of the machine's measured matmul FLOP/s.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.hpp"
#include "core/error.hpp"
#ifdef OPSIS_HAVE_MINI
#include "models/builtin.hpp"
#include "models/mini/speed.hpp"
#endif

namespace opsis::cli {
namespace {

struct BenchOptions {
  double seconds = 4;
  int steps = 0;
  std::string model;
  int threads = 0;
};

void run_bench(const BenchOptions& o) {
#ifdef OPSIS_HAVE_MINI
  if (o.seconds < 1 || o.seconds > 25) throw InvalidArgument("seconds", "seconds is 1 to 25");
  auto backend = models::open_builtin(o.model, o.threads);
  const auto caps = backend->capabilities();
  engine::GenerateRequest r;
  r.prompt = "a red ball bounces on a beach at golden hour, static camera";
  r.negative = "rain";
  r.seconds = o.seconds;
  r.width = caps.sizes.at(0).first;
  r.height = caps.sizes.at(0).second;
  r.steps = o.steps;
  const auto s = mini::measure_speed(*backend, r);
  std::printf("opsis bench (%s): %dx%d, %.1f s clip (%d frames, %zu audio samples), %d steps, guidance %s, %d threads\n",
              caps.name.c_str(), s.width, s.height, s.clip_seconds, s.frames, s.audio_samples, s.steps,
              s.guided ? "on" : "off", s.torch_threads);
  std::printf("  wall time            %.2f s\n", s.wall_seconds);
  std::printf("  real-time factor     %.2f (wall / clip length)\n", s.realtime_factor);
  std::printf("  peak memory (RSS)    %.0f MiB\n", s.peak_rss_mib);
  std::printf("  transformer          %.1f GFLOP in %.2f s: %.2f GFLOP/s\n", s.transformer_flops / 1e9, s.wall_seconds,
              s.achieved_flops_per_second / 1e9);
  std::printf("  machine matmul       %.1f GFLOP/s (1024^2 fp32) -> transformer at %.1f%% of it\n",
              s.machine_flops_per_second / 1e9, 100.0 * s.share_of_machine());
#else
  (void)o;
  throw IoError("this opsis was built without libtorch, so the built-in model opsis-mini is not available");
#endif
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto options = std::make_shared<BenchOptions>();
  CLI::App* cmd = app.add_subcommand("bench", "speed of the built-in model on this machine (4 s clip, native size)");
  cmd->add_option("--seconds", options->seconds, "clip length")->capture_default_str();
  cmd->add_option("--steps", options->steps, "denoising steps (default: the model's)");
  cmd->add_option("--model", options->model, "opsis-mini-2-structured (default), opsis-mini-2 (the latent variant), opsis-mini (the first model), a weights file of "
                                                 "any, or an installed model's folder (LTX-2)");
  cmd->add_option("--threads", options->threads, "CPU threads (default: all)");
  cmd->callback([options] { run_bench(*options); });
}

}  // namespace opsis::cli
