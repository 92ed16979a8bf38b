// `opsis studio ...`: the studio world from the command line. `render` turns a prompt into
// a clip a person can watch (and its ground truth); `parse` shows what a prompt means.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "core/error.hpp"
#include "media/image_io.hpp"
#include "media/mp4.hpp"
#include "studio/caption.hpp"
#include "studio/studio.hpp"

namespace opsis::cli {

namespace {

struct StudioRenderArgs {
  std::string prompt;
  std::string output;
  std::string truth;
  std::string size = "1280x720";
  double seconds = 0;  // 0: as the prompt says, else 4
  uint64_t seed = 0;
};

std::string join_words(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : ", ") + w;
  return out;
}

// Prompt -> spec, with the clip length forced to `seconds` when given (shots keep their
// proportions). Refuses empty prompts; reports what was not understood.
studio::SceneSpec spec_from_prompt(const std::string& prompt, double seconds) {
  if (prompt.find_first_not_of(" \t\r\n") == std::string::npos)
    throw InvalidArgument("prompt", "the prompt is empty; describe the scene to render");
  if (seconds < 0 || (seconds != 0 && !(seconds > 0)))
    throw InvalidArgument("seconds", "seconds must be more than 0, not " + std::to_string(seconds));
  studio::ParseResult parsed = studio::parse_prompt(prompt, seconds > 0 ? seconds : 4.0);
  if (!parsed.unknown_words.empty())
    std::fprintf(stderr, "opsis: not understood, ignored: %s\n", join_words(parsed.unknown_words).c_str());
  for (const auto& note : parsed.notes) std::fprintf(stderr, "opsis: note: %s\n", note.c_str());
  if (seconds > 0) {
    const double total = parsed.spec.seconds();
    for (auto& shot : parsed.spec.shots) shot.seconds = total > 0 ? shot.seconds * seconds / total : seconds / parsed.spec.shots.size();
  }
  studio::validate(parsed.spec);
  return parsed.spec;
}

void run_render(const StudioRenderArgs& args) {
  const studio::SceneSpec spec = spec_from_prompt(args.prompt, args.seconds);
  const FrameSize size = parse_size(args.size);
  check_output_path(args.output, "output");
  if (!args.truth.empty()) check_output_path(args.truth, "truth");

  studio::RenderOptions options;
  options.width = size.width;
  options.height = size.height;
  options.seed = args.seed;
  studio::Clip clip;
  {
    ProgressBar bar("rendering");
    clip = studio::render_clip(spec, options, bar.progress());
  }
  {
    ProgressBar bar("encoding ");
    media::write_mp4(args.output, clip.video, clip.audio, {}, bar.progress());
  }
  if (!args.truth.empty()) {
    const std::string text = studio::truth_json(spec, clip);
    media::write_file_atomic(args.truth, std::vector<uint8_t>(text.begin(), text.end()));
  }
  std::fprintf(stderr, "opsis: wrote %s (%dx%d, %.2f s, %d frames, sound %d Hz)\n", args.output.c_str(),
               clip.video.width, clip.video.height, clip.video.seconds(), clip.video.frame_count(), clip.audio.sample_rate);
}

}  // namespace

void add_studio_command(CLI::App& app) {
  CLI::App* studio = app.add_subcommand("studio", "The studio world: procedural clips with sound and ground truth");
  studio->require_subcommand(1);

  auto args = std::make_shared<StudioRenderArgs>();
  CLI::App* render = studio->add_subcommand("render", "Render a prompt in the studio world to an MP4 with sound");
  render->add_option("--prompt,-p", args->prompt, "What to show and hear")->required();
  render->add_option("--output,-o", args->output, "MP4 file to write")->required();
  render->add_option("--seconds", args->seconds, "Clip length in seconds (default: as the prompt says, else 4)");
  render->add_option("--size", args->size, "WIDTHxHEIGHT, even, each side 16..1920")->capture_default_str();
  render->add_option("--seed", args->seed, "Seed: the same prompt and seed give the same clip")->capture_default_str();
  render->add_option("--truth", args->truth, "Also write the ground truth (JSON) here");
  render->callback([args] { run_render(*args); });

  auto prompt = std::make_shared<std::string>();
  CLI::App* parse = studio->add_subcommand("parse", "Show the scene a prompt describes, as JSON");
  parse->add_option("prompt", *prompt, "The prompt")->required();
  parse->callback([prompt] {
    const studio::ParseResult parsed = studio::parse_prompt(*prompt);
    std::printf("%s\n", studio::spec_json(parsed.spec).c_str());
    if (!parsed.unknown_words.empty()) std::fprintf(stderr, "not understood: %s\n", join_words(parsed.unknown_words).c_str());
    for (const auto& note : parsed.notes) std::fprintf(stderr, "note: %s\n", note.c_str());
  });
}

}  // namespace opsis::cli
