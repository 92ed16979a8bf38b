// The LTX-2 family through the engine: tiny model folders laid out as real ones (the parity
// goldens' checkpoints, a sharded Gemma 3 with an index, the tiny SentencePiece model) opened by
// the same loaders real weights take, and a clip made through engine::Pipeline with the
// reference's guided sampling loop; both the 2.0 and the 2.3 layouts.
#include "models/ltx2/backend.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "core/error.hpp"
#include "core/progress.hpp"
#include "core/safetensors.hpp"
#include "engine/pipeline.hpp"
#include "engine/sampler.hpp"
#include "models/ltx2/model_folder.hpp"

namespace opsis::ltx2 {
namespace {

namespace fs = std::filesystem;
const std::string kSource = OPSIS_SOURCE_DIR;

fs::path tiny_folder(const std::string& version, const std::string& tag) {
  const fs::path dir = fs::temp_directory_path() / ("opsis-ltx2-backend-" + tag + "-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  write_tiny_model_folder(dir.string(), version, kSource + "/tests/parity/ltx2/golden",
                          kSource + "/tests/parity/ltx2/tokenizer/tiny_gemma_like.model", "ltx-tiny-" + tag);
  return dir;
}

engine::GenerateRequest tiny_request(uint64_t seed) {
  engine::GenerateRequest r;
  r.prompt = "A red ball bounces on a sunny beach.";
  r.negative = "blurry";
  r.seconds = 1;
  r.width = 256, r.height = 160;
  r.steps = 3;
  r.seed = seed;
  return r;
}

double spread(const std::vector<float>& v) {
  double mean = 0, square = 0;
  for (float x : v) mean += x, square += double(x) * x;
  mean /= double(v.size());
  return std::sqrt(std::max(0.0, square / double(v.size()) - mean * mean));
}

class Ltx2BackendVersions : public ::testing::TestWithParam<std::string> {};

TEST_P(Ltx2BackendVersions, TinyFolderMakesAClipWithSoundThroughThePipeline) {
  const std::string version = GetParam();
  const fs::path dir = tiny_folder(version, version == "2.0" ? "v20" : "v23");
  const ModelFolder folder = find_model_folder(dir.string());
  EXPECT_EQ(folder.text_shards.size(), 2u);  // found through the index
  auto backend = open_model_folder(dir.string(), 1);
  const engine::Capabilities caps = backend->capabilities();
  EXPECT_EQ(caps.name, folder.name);
  EXPECT_TRUE(caps.image_conditioning);
  EXPECT_EQ(caps.default_steps, version == "2.0" ? 40 : 30);
  EXPECT_EQ(caps.sample_rate, version == "2.0" ? 24000 : 48000) << "the tiny vocoders' output rates (2.3: bandwidth extension to 48 kHz)";

  engine::Pipeline pipeline(*backend);
  int reports = 0;
  Progress progress;
  progress.report = [&](double) { ++reports; };
  const engine::GeneratedClip a = pipeline.run(tiny_request(7), &progress);
  EXPECT_EQ(a.video.width, 256);
  EXPECT_EQ(a.video.height, 160);
  EXPECT_EQ(a.video.frame_count(), 24);
  EXPECT_EQ(a.audio.sample_rate, caps.sample_rate);
  EXPECT_EQ(a.audio.samples.size(), size_t(caps.sample_rate));
  EXPECT_GE(reports, 3) << "progress once per step";
  for (float s : a.audio.samples) ASSERT_TRUE(std::isfinite(s));
  EXPECT_GT(spread(a.audio.samples), 1e-6) << "the vocoder's output is not silence";
  std::vector<float> pixels(a.video.rgb.begin(), a.video.rgb.end());
  EXPECT_GT(spread(pixels), 1.0) << "the decoder's picture is not one flat colour";

  // The seed decides the clip: the same seed again is the same clip, another seed another.
  const engine::GeneratedClip again = pipeline.run(tiny_request(7));
  EXPECT_EQ(again.video.rgb, a.video.rgb);
  EXPECT_EQ(again.audio.samples, a.audio.samples);
  const engine::GeneratedClip other = pipeline.run(tiny_request(8));
  EXPECT_NE(other.video.rgb, a.video.rgb);
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Versions, Ltx2BackendVersions, ::testing::Values("2.0", "2.3"));

TEST(Ltx2Backend, AFirstFrameHoldsTheFirstLatentFrameWhateverTheSeed) {
  const fs::path dir = tiny_folder("2.3", "i2v");
  auto backend = open_model_folder(dir.string(), 1);
  engine::WindowRequest r;
  r.prompt = "a beach";
  r.seconds = 1, r.width = 256, r.height = 160;
  Image image(256, 160);
  for (int y = 0; y < 160; ++y)
    for (int x = 0; x < 256; ++x) image.row(y)[3 * x] = uint8_t(x), image.row(y)[3 * x + 1] = uint8_t(y), image.row(y)[3 * x + 2] = 90;
  r.first_frame = image;
  const engine::Encoded encoded = backend->encode(r);
  engine::SamplerOptions options;
  options.steps = 2, options.guidance_video = 3, options.guidance_audio = 7;
  options.seed = 1;
  const engine::Latents x1 = *backend->sample_window(encoded, options, nullptr);
  options.seed = 2;
  const engine::Latents x2 = *backend->sample_window(encoded, options, nullptr);
  const size_t channels = size_t(encoded.video_shape[2]), first = size_t(5 * 8) * channels;  // 160/32 x 256/32 cells
  EXPECT_TRUE(std::equal(x1.video.begin(), x1.video.begin() + long(first), x2.video.begin())) << "the picture's tokens are kept";
  EXPECT_FALSE(std::equal(x1.video.begin() + long(first), x1.video.end(), x2.video.begin() + long(first))) << "the rest is sampled";
  const engine::Decoded decoded = backend->decode(x1, r);
  EXPECT_EQ(decoded.video.frame_count(), 24);
  fs::remove_all(dir);
}

TEST(Ltx2Backend, RefusalsNameWhatIsWrongAndCancellationStops) {
  const fs::path dir = tiny_folder("2.0", "errors");
  auto backend = open_model_folder(dir.string(), 1);
  engine::Pipeline pipeline(*backend);
  engine::GenerateRequest r = tiny_request(1);
  r.width = 250;
  EXPECT_THROW(pipeline.run(r), InvalidArgument);
  r = tiny_request(1);
  r.phonemes.push_back({"a", 0.1, 0.1, 1, 0.5f});
  EXPECT_THROW(pipeline.run(r), InvalidArgument);
  Progress stop;
  stop.cancelled = [] { return true; };
  EXPECT_THROW(pipeline.run(tiny_request(1), &stop), Cancelled);
  backend.reset();

  // A checkpoint without one of its tensors: the error names it.
  const fs::path checkpoint = dir / "ltx-2-tiny-v2_0.safetensors";
  safetensors::File file = safetensors::read(checkpoint.string());
  ASSERT_EQ(file.tensors.erase("vocoder.conv_pre.weight"), 1u);
  safetensors::write(checkpoint.string(), file);
  try {
    open_model_folder(dir.string(), 1);
    ADD_FAILURE() << "a checkpoint without vocoder.conv_pre.weight opened";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("vocoder.conv_pre.weight"), std::string::npos) << e.what();
  }
  // No text encoder: said so.
  fs::remove_all(dir / "gemma-3-tiny");
  try {
    open_model_folder(dir.string(), 1);
    ADD_FAILURE() << "a folder without its text encoder opened";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("gemma-3-tiny"), std::string::npos) << e.what();
  }
  EXPECT_THROW(open_model_folder((dir / "nothing-here").string(), 1), InvalidArgument);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace opsis::ltx2
