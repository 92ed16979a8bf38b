// `opsis eval`: how well the built-in model does what held-out prompts ask, read by probes
// trained on studio ground truth; prints a table and optionally writes JSON.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <vector>
#include <memory>
#include <string>

#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "core/error.hpp"
#include "eval/eval.hpp"  // the options struct only; the evaluation links where libtorch was found
#include "media/image_io.hpp"
#ifdef OPSIS_HAVE_MINI
#include "models/builtin.hpp"
#include "models/mini/backend.hpp"
#endif

namespace opsis::cli {
namespace {

// The evaluation's own options (and their defaults) live in eval::EvalOptions; the command
// adds where to write and which weights to use.
struct EvalCommandOptions {
  eval::EvalOptions eval;
  std::string json;
  std::string model;
  int threads = 0;
};

void run_eval(const EvalCommandOptions& c) {
#ifdef OPSIS_HAVE_MINI
  const eval::EvalOptions& o = c.eval;
  {
    eval::EvalOptions checked = o;
    if (checked.probes.empty()) checked.probes = "(found below)";
    eval::validate(checked);
  }
  if (!c.json.empty()) check_output_path(c.json, "json");
  auto backend = models::open_builtin(c.model, c.threads);
  eval::EvalOptions options = o;
  if (options.probes.empty()) options.probes = mini::find_weights("opsis-probes.safetensors");
  eval::EvalReport report;
  {
    ProgressBar bar("eval");
    report = eval::evaluate(*backend, options, bar.progress());
  }
  std::fputs(report.table().c_str(), stdout);
  if (!c.json.empty()) {
    const std::string text = report.json() + "\n";
    media::write_file_atomic(c.json, std::vector<uint8_t>(text.begin(), text.end()));
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
  cmd->add_option("--prompts", options->eval.prompts, "generated clips, 1 to 36")->capture_default_str();
  cmd->add_option("--steps", options->eval.steps, "denoising steps (default: the model's)");
  cmd->add_option("--guidance", options->eval.guidance, "guidance scale for picture and sound (default: the model's)");
  cmd->add_option("--seed", options->eval.seed, "seed of the studio clips and the generations")->capture_default_str();
  cmd->add_option("--probes", options->eval.probes, "the probes' weights (default: the shipped models/opsis-probes.safetensors)");
  cmd->add_option("--train-clips", options->eval.train_clips,
                  "unused: the probes ship trained (opsis-train-probes); kept for old command lines");
  cmd->add_option("--test-clips", options->eval.test_clips, "studio clips of held-out combinations that test the scene probe")
      ->capture_default_str();
  cmd->add_option("--image-clips", options->eval.image_clips, "image-to-video generations for first-frame PSNR")
      ->capture_default_str();
  cmd->add_option("--impact-clips", options->eval.impact_clips, "bouncing/falling clips for impact sync, 0 (off) to 24")
      ->capture_default_str();
  cmd->add_option("--lip-clips", options->eval.lip_clips, "talking clips for lip sync, 0 (off) to 12")->capture_default_str();
  cmd->add_option("--cameo-clips", options->eval.cameo_clips, "clips from an identity portrait, 0 (off) to 36")
      ->capture_default_str();
  cmd->add_option("--negative-clips", options->eval.negative_clips,
                  "prompts asking for rain, each made with and without negative \"rain\", 0 (off) to 24")
      ->capture_default_str();
  cmd->add_option("--long-seconds", options->eval.long_seconds, "length of the long-clip check, 6 to 25 s, 0 (off)")
      ->capture_default_str();
  cmd->add_option("--character-train-clips", options->eval.character_train_clips,
                  "unused: the probes ship trained; kept for old command lines");
  cmd->add_option("--character-test-clips", options->eval.character_test_clips,
                  "studio clips with a character that test the setting/weather/time/identity probes")
      ->capture_default_str();
  cmd->add_option("--detector-clips", options->eval.detector_clips,
                  "studio clips of bounces and falls that test the impact detector against truth, 0 (off) to 500")
      ->capture_default_str();
  cmd->add_option("--mouth-clips", options->eval.mouth_clips,
                  "studio talking close-ups that test the mouth reader against truth, 0 (off) to 100")
      ->capture_default_str();
  cmd->add_option("--json", options->json, "write the results as JSON here");
  cmd->add_option("--model", options->model, "opsis-mini-2-structured (default), opsis-mini-2 (the latent variant), opsis-mini (the first model), or a weights file of any");
  cmd->add_option("--threads", options->threads, "CPU threads (default: all)");
  cmd->callback([options] { run_eval(*options); });
}

}  // namespace opsis::cli
