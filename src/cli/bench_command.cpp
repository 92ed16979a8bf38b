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
#include "models/mini/backend.hpp"
#include "models/mini/speed.hpp"
#include "models/mini/weights.hpp"
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
  const std::string path = o.model.empty() ? mini::find_weights() : o.model;
  auto backend = mini::open_backend(path, o.threads);
  const auto config = mini::load_model(path)->config;
  engine::GenerateRequest r;
  r.prompt = "a red ball bounces on a beach at golden hour, static camera";
  r.negative = "rain";
  r.seconds = o.seconds;
  r.width = config.long_side;
  r.height = config.short_side;
  r.steps = o.steps;
  const auto s = mini::measure_speed(*backend, config, r);
  std::printf("opsis bench (opsis-mini): %dx%d, %.1f s clip (%d frames, %zu audio samples), %d steps, guidance %s, %d threads\n",
              s.width, s.height, s.clip_seconds, s.frames, s.audio_samples, s.steps, s.guided ? "on" : "off",
              s.torch_threads);
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
  cmd->add_option("--model", options->model, "weights file (default: the shipped opsis-mini)");
  cmd->add_option("--threads", options->threads, "CPU threads (default: all)");
  cmd->callback([options] { run_bench(*options); });
}

}  // namespace opsis::cli
