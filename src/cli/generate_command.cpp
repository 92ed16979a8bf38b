// `opsis generate "PROMPT" -o out.mp4`: prompt (+ first-frame image, cameo, dialogue from the
// prompt) to an MP4 with picture and synchronized sound, through the engine's pipeline and
// the built-in opsis-mini model. Every input is checked before any compute is spent; the
// file appears whole or not at all.
#include <cstdlib>
#include <CLI/CLI.hpp>

#include <cstdio>
#include <optional>
#include <string>

#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "core/error.hpp"
#include "engine/dialogue_request.hpp"
#include "engine/pipeline.hpp"
#include "media/image_io.hpp"
#include "media/mp4.hpp"
#include "provenance/finish.hpp"
#ifdef OPSIS_HAVE_MINI
#include "models/builtin.hpp"
#endif

namespace opsis::cli {
namespace {

struct GenerateOptions {
  std::string prompt;
  std::string output;
  std::string negative;
  double seconds = 4;
  std::string size;
  uint64_t seed = 0;
  std::string image;
  std::string cameo;
  int steps = 0;
  std::string guidance;  // "G" for both modalities or "VIDEO,AUDIO"
  std::string model;
  int threads = 0;
  std::string data_dir;  // signing credentials and watermark key; empty: $OPSIS_DATA_DIR or ./opsis-data
};

Image read_image_field(const std::string& path, const std::string& field) {
  try {
    return media::read_image(path);
  } catch (const InvalidArgument& e) {
    throw InvalidArgument(field, "cannot read image '" + path + "': " + e.what());
  } catch (const IoError& e) {
    throw InvalidArgument(field, "cannot read image '" + path + "': " + e.what());
  }
}

void parse_guidance(const std::string& text, engine::GenerateRequest& r) {
  if (text.empty()) return;
  try {
    size_t used = 0;
    const double video = std::stod(text, &used);
    double audio = video;
    if (used < text.size()) {
      if (text[used] != ',') throw std::invalid_argument("separator");
      size_t used_audio = 0;
      audio = std::stod(text.substr(used + 1), &used_audio);
      if (used + 1 + used_audio != text.size()) throw std::invalid_argument("trailing");
    }
    r.guidance_video = video;
    r.guidance_audio = audio;
  } catch (const std::logic_error&) {
    throw InvalidArgument("guidance", "guidance is a number, or VIDEO,AUDIO (e.g. 3 or 3,2), got '" + text + "'");
  }
}

std::unique_ptr<engine::Backend> open_model(const GenerateOptions& o) {
#ifdef OPSIS_HAVE_MINI
  if (o.model.empty() && !o.image.empty()) {
    std::fprintf(stderr, "model: %s (the default model, %s, takes no first frame)\n", models::kDefaultImageBuiltin,
                 models::kDefaultBuiltin);
    return models::open_builtin(models::kDefaultImageBuiltin, o.threads);
  }
  // A name from the data directory's models.json (installed models), else as given.
  std::string data_dir = o.data_dir;
  if (data_dir.empty()) data_dir = std::getenv("OPSIS_DATA_DIR") ? std::getenv("OPSIS_DATA_DIR") : "opsis-data";
  return models::open_builtin(models::resolve_model(o.model, data_dir), o.threads);
#else
  (void)o;
  throw IoError("this opsis was built without libtorch, so the built-in model opsis-mini is not available");
#endif
}

void run_generate(const GenerateOptions& o) {
  engine::GenerateRequest r;
  r.prompt = o.prompt;
  r.negative = o.negative;
  r.seconds = o.seconds;
  r.seed = o.seed;
  r.steps = o.steps;
  if (!o.size.empty()) {
    const FrameSize size = parse_size(o.size);
    r.width = size.width;
    r.height = size.height;
  }
  parse_guidance(o.guidance, r);
  check_output_path(o.output, "output");
  if (!o.cameo.empty()) r.identity = read_image_field(o.cameo, "cameo");
  std::optional<Image> image;
  if (!o.image.empty()) image = read_image_field(o.image, "image");

  auto backend = open_model(o);
  engine::Pipeline pipeline(*backend);
  // Size defaults come from the model, so the image is fitted after the first check.
  r = pipeline.validate(r);
  if (image) r.first_frame = media::resize(*image, r.width, r.height);
  // Dialogue as a phoneme track and espeak-ng's voice, for models that take one; others (LTX-2)
  // make speech from the prompt's words themselves.
  if (backend->capabilities().dialogue_conditioning)
    for (const auto& line : engine::add_dialogue(r, backend->capabilities().sample_rate))
      std::fprintf(stderr, "dialogue: %s says \"%s\" at %.2f s (%zu phonemes)\n", line.speaker.c_str(), line.line.c_str(),
                   line.start, line.phonemes);
  r = pipeline.validate(r);

  engine::GeneratedClip clip;
  {
    ProgressBar bar("generating");
    clip = pipeline.run(r, bar.progress());
  }
  // Watermarked (picture and sound), written atomically and signed with C2PA credentials.
  // The fingerprint of the request makes the watermark payload, and so the frames and
  // sound, the same for the same request and seed.
  // (The model by the name it reports, so a folder named by path or by its registered name is
  // the same request.)
  const std::string fingerprint = backend->capabilities().name + "\n" + o.prompt + "\n" + o.negative + "\n" + std::to_string(r.seconds) + "\n" +
                                  std::to_string(r.width) + "x" + std::to_string(r.height) + "\n" + std::to_string(r.seed) +
                                  "\n" + std::to_string(r.steps) + "\n" + o.guidance + "\n" + o.image + "\n" + o.cameo;
  provenance::finish_generated_file(clip.video, clip.audio, o.output,
                                    {backend->capabilities().name, o.image, o.cameo, o.data_dir, fingerprint});
  std::fprintf(stderr, "wrote %s (%dx%d, %.2f s, seed %llu)\n", o.output.c_str(), clip.video.width, clip.video.height,
               clip.video.seconds(), static_cast<unsigned long long>(r.seed));
}

}  // namespace

void add_generate_command(CLI::App& app) {
  auto options = std::make_shared<GenerateOptions>();
  CLI::App* cmd = app.add_subcommand("generate", "prompt -> video with synchronized sound (MP4)");
  cmd->add_option("prompt", options->prompt, "what to make")->required();
  cmd->add_option("-o,--output", options->output, "MP4 file to write")->required();
  cmd->add_option("--negative", options->negative, "what not to show or hear");
  cmd->add_option("--seconds", options->seconds, "length, 1 to 25 seconds")->capture_default_str();
  cmd->add_option("--size", options->size, "WIDTHxHEIGHT: 128x72, 72x128 or 128x128 for opsis-mini");
  cmd->add_option("--seed", options->seed, "same seed, same clip")->capture_default_str();
  cmd->add_option("--image", options->image, "first frame (PNG, JPEG or WebP)");
  cmd->add_option("--cameo", options->cameo, "identity reference portrait (PNG, JPEG or WebP)");
  cmd->add_option("--steps", options->steps, "denoising steps (default: the model's)");
  cmd->add_option("--guidance", options->guidance, "guidance scale G, or VIDEO,AUDIO");
  cmd->add_option("--model", options->model,
                  "opsis-mini-2-structured (default), opsis-mini-2 (the latent variant; the default with --image), opsis-mini (the "
                  "first model), a weights file of any, an installed model's folder (LTX-2: docs/ltx2/running.md), or the name "
                  "of one registered in the data directory's models.json");
  cmd->add_option("--threads", options->threads, "CPU threads (default: all)");
  cmd->add_option("--data-dir", options->data_dir,
                  "where the signing certificate and watermark key live (default: $OPSIS_DATA_DIR, else ./opsis-data)");
  cmd->callback([options] { run_generate(*options); });
}

}  // namespace opsis::cli
