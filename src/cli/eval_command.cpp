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
  double guidance = 0;
  uint64_t seed = 0;
  int train_clips = 120;
  int test_clips = 36;
  int image_clips = 1;
  int impact_clips = 4;
  int lip_clips = 2;
  int cameo_clips = 6;
  int negative_clips = 4;
  double long_seconds = 25;
  int character_train_clips = 200;
  int character_test_clips = 60;
  std::string json;
  std::string model;
  int threads = 0;
};

void run_eval(const EvalCommandOptions& c) {
#ifdef OPSIS_HAVE_MINI
  eval::EvalOptions o;
  o.prompts = c.prompts;
  o.steps = c.steps;
  o.guidance = c.guidance;
  o.seed = c.seed;
  o.train_clips = c.train_clips;
  o.test_clips = c.test_clips;
  o.image_clips = c.image_clips;
  o.impact_clips = c.impact_clips;
  o.lip_clips = c.lip_clips;
  o.cameo_clips = c.cameo_clips;
  o.negative_clips = c.negative_clips;
  o.long_seconds = c.long_seconds;
  o.character_train_clips = c.character_train_clips;
  o.character_test_clips = c.character_test_clips;
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
  cmd->add_option("--guidance", options->guidance, "guidance scale for picture and sound (default: the model's)");
  cmd->add_option("--seed", options->seed, "seed of the studio clips and the generations")->capture_default_str();
  cmd->add_option("--train-clips", options->train_clips, "studio clips that train the probes")->capture_default_str();
  cmd->add_option("--test-clips", options->test_clips, "held-out studio clips that test the probes")->capture_default_str();
  cmd->add_option("--image-clips", options->image_clips, "image-to-video generations for first-frame PSNR")
      ->capture_default_str();
  cmd->add_option("--impact-clips", options->impact_clips, "bouncing/falling clips for impact sync, 0 (off) to 24")
      ->capture_default_str();
  cmd->add_option("--lip-clips", options->lip_clips, "talking clips for lip sync, 0 (off) to 12")->capture_default_str();
  cmd->add_option("--cameo-clips", options->cameo_clips, "clips from an identity portrait, 0 (off) to 36")
      ->capture_default_str();
  cmd->add_option("--negative-clips", options->negative_clips,
                  "prompts asking for rain, each made with and without negative \"rain\", 0 (off) to 24")
      ->capture_default_str();
  cmd->add_option("--long-seconds", options->long_seconds, "length of the long-clip check, 6 to 25 s, 0 (off)")
      ->capture_default_str();
  cmd->add_option("--character-train-clips", options->character_train_clips,
                  "studio clips with a character that train the setting/weather/identity probes")
      ->capture_default_str();
  cmd->add_option("--character-test-clips", options->character_test_clips, "studio clips with a character that test them")
      ->capture_default_str();
  cmd->add_option("--json", options->json, "write the results as JSON here");
  cmd->add_option("--model", options->model, "weights file (default: the shipped opsis-mini)");
  cmd->add_option("--threads", options->threads, "CPU threads (default: all)");
  cmd->callback([options] { run_eval(*options); });
}

}  // namespace opsis::cli
