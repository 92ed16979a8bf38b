// Drives the real `opsis generate` binary with a tiny opsis-mini written by the test.
#include <unistd.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "media/image_io.hpp"
#include "media/mp4.hpp"
#include "tests/support/command.hpp"
#include "models/ltx2/model_folder.hpp"
#include "models/mini/weights.hpp"

namespace fs = std::filesystem;

namespace {

struct Result {
  int code = -1;
  std::string output;
};

Result run(const std::string& args) {
  const auto done = opsis::testing_support::run_command(std::string(OPSIS_BINARY) + " generate " + args);
  return {done.exit_code, done.output};
}

class GenerateCommand : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // One folder per process: CTest runs each test of this suite as its own process, in parallel.
    dir_ = fs::temp_directory_path() / ("opsis_generate_test-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    opsis::mini::MiniConfig c;
    c.d_model = 32;
    c.heads = 2;
    c.layers = 1;
    c.text_layers = 1;
    c.mlp_ratio = 2;
    c.patch = 8;
    c.long_side = 32;
    c.short_side = 20;
    c.identity_size = 16;
    c.window_seconds = 1.0;
    torch::manual_seed(1);
    opsis::mini::MiniModel model(c);
    torch::NoGradGuard no_grad;
    for (auto& p : model->parameters()) p.normal_(0.0, 0.1);
    opsis::mini::save_model(model, (dir_ / "tiny.safetensors").string());
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  static std::string common() {
    return "--model " + (dir_ / "tiny.safetensors").string() + " --steps 2 --threads 1 --data-dir " + (dir_ / "data").string() + " ";
  }
  static fs::path dir_;
};
fs::path GenerateCommand::dir_;

}  // namespace

TEST_F(GenerateCommand, WritesAnMp4WithPictureAndSoundDeterministically) {
  const fs::path a = dir_ / "a.mp4", b = dir_ / "b.mp4";
  const Result ra = run("\"a red ball bounces on a beach\" -o " + a.string() + " --seconds 1.5 --seed 5 --size 32x20 " + common());
  ASSERT_EQ(ra.code, 0) << ra.output;
  const Result rb = run("\"a red ball bounces on a beach\" -o " + b.string() + " --seconds 1.5 --seed 5 --size 32x20 " + common());
  ASSERT_EQ(rb.code, 0) << rb.output;
  const auto clip_a = opsis::media::read_mp4(a.string()), clip_b = opsis::media::read_mp4(b.string());
  EXPECT_EQ(clip_a.video.frame_count(), 36);
  EXPECT_EQ(clip_a.video.width, 32);
  EXPECT_EQ(clip_a.video.height, 20);
  EXPECT_EQ(clip_a.audio_codec, "aac");
  EXPECT_NEAR(clip_a.duration, 1.5, 0.05);
  EXPECT_EQ(clip_a.video.rgb, clip_b.video.rgb);
  EXPECT_EQ(clip_a.audio.samples, clip_b.audio.samples);

  // The file carries content credentials that the reference validator (c2pa-rs) trusts with
  // the data directory's root as anchor.
  const std::string validate = std::string("node ") + OPSIS_SOURCE_DIR + "/tests/c2pa/validate.mjs " + a.string() +
                               " --anchors " + (dir_ / "data" / "c2pa" / "c2pa-root.pem").string();
  const auto validated = opsis::testing_support::run_command(validate);
  const std::string& report = validated.output;
  EXPECT_EQ(validated.exit_code, 0) << report;
  EXPECT_NE(report.find("\"validation_state\":\"Trusted\""), std::string::npos) << report;
  EXPECT_NE(report.find("trainedAlgorithmicMedia"), std::string::npos) << report;
}

TEST_F(GenerateCommand, BadInputsNameTheFieldAndWriteNothing) {
  const fs::path out = dir_ / "refused.mp4";
  fs::remove(out);
  const fs::path not_an_image = dir_ / "notes.png";
  std::ofstream(not_an_image) << "this is text, not a picture";
  const struct {
    std::string args, field;
  } cases[] = {
      {"--size 32x20 --seconds 30", "seconds"},
      {"--size 32x20 --seconds 0.2", "seconds"},
      {"--size 64x64", "size"},
      {"--size big", "size"},
      {"--size 32x20 --image " + (dir_ / "missing.png").string(), "image"},
      {"--size 32x20 --image " + not_an_image.string(), "image"},
      {"--size 32x20 --cameo " + not_an_image.string(), "cameo"},
      {"--size 32x20 --guidance x", "guidance"},
  };
  for (const auto& c : cases) {
    const Result r = run("\"a meadow\" -o " + out.string() + " " + common() + c.args);
    EXPECT_EQ(r.code, 2) << c.args << ": " << r.output;
    EXPECT_NE(r.output.find("error: " + c.field + ":"), std::string::npos) << c.args << ": " << r.output;
    EXPECT_FALSE(fs::exists(out)) << c.args;
  }
}

// Each conditioning path of the command reaches the clip: the first frame (read back from the
// MP4 after H.264), the identity reference, and dialogue named in the prompt.
TEST_F(GenerateCommand, ImageCameoAndDialogueEachReachTheClip) {
  const std::string prompt = "\"a woman waves in a forest\"";
  const fs::path base = dir_ / "base.mp4";
  const Result rb = run(prompt + " -o " + base.string() + " --seconds 1 --seed 3 --size 32x20 " + common());
  ASSERT_EQ(rb.code, 0) << rb.output;
  const auto base_clip = opsis::media::read_mp4(base.string());

  // A smooth picture (H.264 keeps it well at this size) as the first frame.
  opsis::Image picture(32, 20);
  for (int y = 0; y < 20; ++y)
    for (int x = 0; x < 32; ++x) {
      uint8_t* p = picture.row(y) + size_t(x) * 3;
      p[0] = uint8_t(40 + 6 * x), p[1] = uint8_t(200 - 7 * y), p[2] = uint8_t(90 + 3 * (x + y));
    }
  const fs::path picture_path = dir_ / "first.png";
  opsis::media::write_file_atomic(picture_path.string(), opsis::media::encode_png(picture));
  const fs::path with_image = dir_ / "image.mp4";
  const Result ri = run(prompt + " -o " + with_image.string() + " --seconds 1 --seed 3 --size 32x20 --image " +
                        picture_path.string() + " " + common());
  ASSERT_EQ(ri.code, 0) << ri.output;
  const auto image_clip = opsis::media::read_mp4(with_image.string());
  const opsis::Image first = image_clip.video.frame_image(0);
  double squared = 0;
  for (size_t i = 0; i < first.pixels.size(); ++i) {
    const double d = double(first.pixels[i]) - double(picture.pixels[i]);
    squared += d * d;
  }
  const double psnr = 10 * std::log10(255.0 * 255.0 / std::max(1e-9, squared / double(first.pixels.size())));
  EXPECT_GE(psnr, 28.0) << "first frame PSNR " << psnr << " dB";
  EXPECT_NE(image_clip.video.rgb, base_clip.video.rgb);

  const fs::path with_cameo = dir_ / "cameo.mp4";
  const Result rc = run(prompt + " -o " + with_cameo.string() + " --seconds 1 --seed 3 --size 32x20 --cameo " +
                        picture_path.string() + " " + common());
  ASSERT_EQ(rc.code, 0) << rc.output;
  EXPECT_NE(opsis::media::read_mp4(with_cameo.string()).video.rgb, base_clip.video.rgb);

  // A spoken line: espeak-ng's speech is mixed into the sound at 0.5 s, so the second half of
  // the clip is far louder than the tiny model's own sound there.
  const fs::path with_line = dir_ / "line.mp4";
  const Result rl = run("'Sam waves in a forest and says \"hello there\"' -o " + with_line.string() +
                        " --seconds 1.5 --seed 3 --size 32x20 " + common());
  ASSERT_EQ(rl.code, 0) << rl.output;
  EXPECT_NE(rl.output.find("says \"hello there\""), std::string::npos) << rl.output;
  const auto line_clip = opsis::media::read_mp4(with_line.string());
  auto rms = [](const opsis::Audio& a, double from, double to) {
    const size_t ch = size_t(std::max(1, a.channels));
    const size_t begin = size_t(from * a.sample_rate), end = std::min(a.frame_count(), size_t(to * a.sample_rate));
    double sum = 0;
    for (size_t i = begin; i < end; ++i) sum += double(a.samples[i * ch]) * a.samples[i * ch];
    return std::sqrt(sum / double(std::max<size_t>(1, end - begin)));
  };
  EXPECT_GT(rms(line_clip.audio, 0.6, 1.4), 0.02) << "no speech heard";
}

// An installed LTX-2 model's folder (tiny, laid out as a real one) by path and by the name the
// data directory's models.json registers; a line of dialogue stays in the prompt's words (the
// family speaks them itself), and an unknown name lists what is installed.
TEST_F(GenerateCommand, AnLtx2FolderByPathOrRegisteredNameMakesAClipWithSound) {
  const fs::path folder = dir_ / "ltx-tiny";
  opsis::ltx2::write_tiny_model_folder(folder.string(), "2.3", std::string(OPSIS_SOURCE_DIR) + "/tests/parity/ltx2/golden",
                                       std::string(OPSIS_SOURCE_DIR) + "/tests/parity/ltx2/tokenizer/tiny_gemma_like.model", "ltx-tiny");
  const fs::path out = dir_ / "ltx.mp4", data = dir_ / "ltx-data";
  const std::string prompt = "\"A red ball bounces on a sunny beach while Sam says 'what a day'.\"";
  const Result by_path = run(prompt + " -o " + out.string() + " --model " + folder.string() +
                             " --seconds 1 --size 256x160 --steps 3 --threads 1 --data-dir " + data.string());
  ASSERT_EQ(by_path.code, 0) << by_path.output;
  EXPECT_EQ(by_path.output.find("dialogue:"), std::string::npos) << by_path.output;
  const auto clip = opsis::media::read_mp4(out.string());
  EXPECT_EQ(clip.video.frame_count(), 24);
  EXPECT_EQ(clip.video.width, 256);
  EXPECT_EQ(clip.video.height, 160);
  EXPECT_EQ(clip.audio_codec, "aac");
  EXPECT_FALSE(clip.audio.samples.empty());

  fs::create_directories(data);
  std::ofstream(data / "models.json") << "{\"models\": [{\"path\": \"" << folder.string() << "\"}]}";
  const fs::path named = dir_ / "ltx-named.mp4";
  const Result by_name = run(prompt + " -o " + named.string() + " --model ltx-tiny --seconds 1 --size 256x160 --steps 3 --threads 1 --data-dir " +
                             data.string());
  ASSERT_EQ(by_name.code, 0) << by_name.output;
  EXPECT_EQ(opsis::media::read_mp4(named.string()).video.rgb, clip.video.rgb) << "the same model, request and seed";
  const Result unknown = run(prompt + " -o " + (dir_ / "none.mp4").string() + " --model ltx-huge --seconds 1 --data-dir " + data.string());
  EXPECT_EQ(unknown.code, 2) << unknown.output;
  EXPECT_NE(unknown.output.find("installed: ltx-tiny"), std::string::npos) << unknown.output;
  EXPECT_FALSE(fs::exists(dir_ / "none.mp4"));
}
