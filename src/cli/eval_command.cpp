// `opsis eval`: how well the built-in model does what held-out prompts ask, read by probes
// trained on studio ground truth; prints a table and optionally writes JSON.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "core/error.hpp"
#ifdef OPSIS_HAVE_MINI
#include "eval/eval.hpp"
#include "models/mini/backend.hpp"
#endif

namespace opsis::cli {
namespace {

struct EvalCommandOptions {
  int prompts = 6;
  int steps = 0;
  uint64_t seed = 0;
  int train_clips = 120;
  int test_clips = 36;
  int image_clips = 1;
  std::string json;
  std::string model;
  int threads = 0;
};

void run_eval(const EvalCommandOptions& c) {
#ifdef OPSIS_HAVE_MINI
  eval::EvalOptions o;
  o.prompts = c.prompts;
  o.steps = c.steps;
  o.seed = c.seed;
  o.train_clips = c.train_clips;
  o.test_clips = c.test_clips;
  o.image_clips = c.image_clips;
  eval::validate(o);
  if (!c.json.empty()) check_output_path(c.json, "json");
  auto backend = mini::open_backend(c.model.empty() ? mini::find_weights() : c.model, c.threads);
  eval::EvalReport report;
  {
    ProgressBar bar("eval");
    report = eval::evaluate(*backend, o, bar.progress());
  }
  std::fputs(report.table().c_str(), stdout);
  if (!c.json.empty()) {
    const std::string partial = c.json + ".partial";
    {
      std::ofstream out(partial, std::ios::binary | std::ios::trunc);
      out << report.json() << "\n";
      if (!out) throw IoError("cannot write '" + partial + "'");
    }
    if (std::rename(partial.c_str(), c.json.c_str()) != 0) {
      std::remove(partial.c_str());
      throw IoError("cannot move the JSON into place at '" + c.json + "'");
    }
  }
#else
  (void)c;
  throw IoError("this opsis was built without libtorch, so the built-in model opsis-mini is not available");
#endif
}

}  // namespace

void add_eval_command(CLI::App& app) {
  auto options = std::make_shared<EvalCommandOptions>();
  CLI::App* cmd = app.add_subcommand("eval", "measure the built-in model on held-out prompts with studio-trained probes");
  cmd->add_option("--prompts", options->prompts, "generated clips, 1 to 36")->capture_default_str();
  cmd->add_option("--steps", options->steps, "denoising steps (default: the model's)");
  cmd->add_option("--seed", options->seed, "seed of the studio clips and the generations")->capture_default_str();
  cmd->add_option("--train-clips", options->train_clips, "studio clips that train the probes")->capture_default_str();
  cmd->add_option("--test-clips", options->test_clips, "held-out studio clips that test the probes")->capture_default_str();
  cmd->add_option("--image-clips", options->image_clips, "image-to-video generations for first-frame PSNR")
      ->capture_default_str();
  cmd->add_option("--json", options->json, "write the results as JSON here");
  cmd->add_option("--model", options->model, "weights file (default: the shipped opsis-mini)");
  cmd->add_option("--threads", options->threads, "CPU threads (default: all)");
  cmd->callback([options] { run_eval(*options); });
}

}  // namespace opsis::cli
