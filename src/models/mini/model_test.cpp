#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "engine/pipeline.hpp"
#include "models/mini/backend.hpp"
#include "models/mini/inputs.hpp"
#include "models/mini/weights.hpp"

using namespace opsis;
using namespace opsis::mini;

namespace {

MiniConfig tiny_config() {
  MiniConfig c;
  c.d_model = 32;
  c.heads = 2;
  c.layers = 2;
  c.text_layers = 1;
  c.mlp_ratio = 2;
  c.patch = 8;
  c.long_side = 32;
  c.short_side = 20;  // padded to 24
  c.identity_size = 16;
  c.max_text_bytes = 48;
  c.window_seconds = 1.0;
  return c;
}

// Fresh models start with zero output layers and zero gates (they predict 0); the tests
// need every path live, so all parameters get small random values.
MiniModel random_model(uint64_t seed) {
  torch::manual_seed(seed);
  MiniModel model(tiny_config());
  torch::NoGradGuard no_grad;
  for (auto& p : model->parameters()) p.normal_(0.0, 0.2);
  model->eval();
  return model;
}

struct Fixture : ::testing::Test {
  void SetUp() override {
    torch::set_num_threads(1);
    at::globalContext().setDeterministicAlgorithms(true, false);
  }
};

Image pattern(int w, int h, int seed) {
  Image im(w, h);
  for (size_t i = 0; i < im.pixels.size(); ++i) im.pixels[i] = uint8_t((i * 37 + size_t(seed) * 101) % 251);
  return im;
}

std::pair<torch::Tensor, torch::Tensor> run(MiniModel& model, const ConditionRow& row, uint64_t noise_seed = 1) {
  const MiniConfig& c = model->config;
  torch::manual_seed(noise_seed);
  const int frames = c.frames_for(0.5), tokens = c.audio_tokens_for(frames);
  auto video = torch::randn({1, frames, c.padded(20), c.padded(32), 3});
  auto audio = torch::randn({1, int64_t(tokens) * c.audio_patch});
  torch::NoGradGuard no_grad;
  auto ctx = model->encode(condition_inputs({row}, c.padded(20), c.padded(32), c));
  return model->forward(video, audio, torch::full({1}, 0.7), ctx);
}

double difference(const std::pair<torch::Tensor, torch::Tensor>& a, const std::pair<torch::Tensor, torch::Tensor>& b,
                  bool video) {
  return (video ? (a.first - b.first) : (a.second - b.second)).abs().max().item<double>();
}

ConditionRow text_row(const std::string& text) {
  ConditionRow row;
  row.text = text;
  return row;
}

std::string temp_weights(const std::string& name) {
  return (std::filesystem::temp_directory_path() / (name + ".safetensors")).string();
}

}  // namespace

TEST_F(Fixture, ForwardGivesVelocitiesOfTheLatentsShapes) {
  MiniModel model = random_model(1);
  const MiniConfig& c = model->config;
  EXPECT_EQ(c.frames_for(0.5), 12);
  EXPECT_EQ(c.frames_for(0.46), 12);  // rounded up to whole latent frames
  EXPECT_EQ(c.audio_tokens_for(12), 13);  // 0.5 s = 8000 samples -> 13 tokens of 640
  torch::manual_seed(0);
  auto video = torch::randn({2, 12, 24, 32, 3});
  auto audio = torch::randn({2, 13 * 640});
  torch::NoGradGuard no_grad;
  auto ctx = model->encode(condition_inputs({text_row("a red ball"), text_row("")}, 24, 32, c));
  auto [v, a] = model->forward(video, audio, torch::tensor({0.3f, 0.9f}), ctx);
  EXPECT_EQ(v.sizes().vec(), video.sizes().vec());
  EXPECT_EQ(a.sizes().vec(), audio.sizes().vec());
  EXPECT_TRUE(torch::isfinite(v).all().item<bool>());
  EXPECT_TRUE(torch::isfinite(a).all().item<bool>());
  // patchify is invertible
  auto back = unpatchify_video(patchify_video(video, 8, 2), 12, 24, 32, 8, 2);
  EXPECT_TRUE(torch::equal(back, video));
}

TEST_F(Fixture, EachConditioningPathChangesBothStreams) {
  MiniModel model = random_model(2);
  const ConditionRow base = text_row("a red ball bounces on a beach");
  const auto reference = run(model, base);
  EXPECT_EQ(difference(reference, run(model, base), true), 0.0);  // deterministic

  ConditionRow text = base;
  text.text = "a blue box spins in a forest";
  ConditionRow first = base;
  first.first_frame = pattern(32, 20, 1);
  ConditionRow identity = base;
  identity.identity = pattern(40, 40, 2);
  ConditionRow phonemes = base;
  phonemes.phonemes = {{"h", 0.05, 0.08, 1, 0.6f}, {"@U", 0.13, 0.12, 2, 0.8f}};
  for (const auto& [name, row] : std::vector<std::pair<std::string, ConditionRow>>{
           {"text", text}, {"first frame", first}, {"identity", identity}, {"phonemes", phonemes}}) {
    const auto out = run(model, row);
    EXPECT_GT(difference(reference, out, true), 1e-4) << name << " does not reach the video";
    EXPECT_GT(difference(reference, out, false), 1e-4) << name << " does not reach the audio";
  }
  // Different identity pictures give different outputs (the picture, not just the flag, matters).
  ConditionRow identity2 = base;
  identity2.identity = pattern(40, 40, 3);
  EXPECT_GT(difference(run(model, identity), run(model, identity2), true), 1e-4);
  // Phoneme timing matters, not just which phonemes.
  ConditionRow later = phonemes;
  for (auto& cue : later.phonemes) cue.start += 0.2;
  EXPECT_GT(difference(run(model, phonemes), run(model, later), true), 1e-4);
}

TEST_F(Fixture, WordsAreHashedPerByteAndReachTheModel) {
  const auto words = text_word_tokens({"Red ball, red BALL!", "beach"}, 48, 4096);
  auto w = words.accessor<int64_t, 2>();
  EXPECT_EQ(words.size(1), 19);
  EXPECT_GT(w[0][0], 0);
  EXPECT_EQ(w[0][0], w[0][2]);   // every byte of "Red" carries its word
  EXPECT_EQ(w[0][0], w[0][10]);  // case does not matter: "red"
  EXPECT_EQ(w[0][4], w[0][14]);  // "ball" and "BALL"
  EXPECT_NE(w[0][0], w[0][4]);
  EXPECT_EQ(w[0][3], 0);         // space
  EXPECT_EQ(w[0][8], 0);         // comma
  EXPECT_EQ(w[0][18], 0);        // "!"
  EXPECT_EQ(w[1][5], 0);         // padding after "beach"
  // The word path changes what the model does (on top of the bytes).
  MiniModel model = random_model(6);
  const ConditionRow row = text_row("a red ball bounces on a beach");
  auto inputs = condition_inputs({row}, 24, 32, model->config);
  torch::NoGradGuard no_grad;
  const auto with_words = model->encode(inputs).pooled;
  inputs.text_words = torch::zeros_like(inputs.text_words);
  EXPECT_GT((with_words - model->encode(inputs).pooled).abs().max().item<double>(), 1e-4);
}

TEST_F(Fixture, WeightsFromBeforeWordBucketsStillLoad) {
  MiniConfig old_config = tiny_config();
  old_config.word_buckets = 0;
  old_config.layout_grid = 0;
  torch::manual_seed(8);
  MiniModel old_model(old_config);
  const std::string path = temp_weights("opsis_mini_old_config");
  auto file = to_safetensors(old_model);
  auto json = nlohmann::json::parse(file.metadata["opsis.config"]);
  for (const char* field : {"word_buckets", "timestep_shift", "layout_grid"}) json.erase(field);  // written before these existed
  file.metadata["opsis.config"] = json.dump();
  safetensors::write(path, file);
  MiniModel loaded = load_model(path);
  EXPECT_EQ(loaded->config.word_buckets, 0);
  EXPECT_FALSE(loaded->word_embed);
  EXPECT_FALSE(loaded->layout);
  EXPECT_EQ(loaded->config.timestep_shift, 1.0);
  loaded->eval();
  const auto out = run(loaded, text_row("a bird flies left"));
  EXPECT_TRUE(torch::isfinite(out.first).all().item<bool>());
  std::filesystem::remove(path);
}

TEST_F(Fixture, SafetensorsRoundTripKeepsTheModel) {
  MiniModel model = random_model(3);
  const std::string path = temp_weights("opsis_mini_roundtrip");
  save_model(model, path);
  MiniModel loaded = load_model(path);
  loaded->eval();
  const ConditionRow row{"a bird flies left", pattern(32, 20, 4), std::nullopt, {}};
  EXPECT_EQ(difference(run(model, row), run(loaded, row), true), 0.0);
  EXPECT_EQ(difference(run(model, row), run(loaded, row), false), 0.0);
  EXPECT_EQ(loaded->config.to_json(), model->config.to_json());

  // Half precision shrinks the file and stays close.
  const std::string half = temp_weights("opsis_mini_roundtrip_f16");
  save_model(model, half, safetensors::DType::F16);
  EXPECT_LT(std::filesystem::file_size(half), std::filesystem::file_size(path) * 6 / 10);
  MiniModel loaded_half = load_model(half);
  loaded_half->eval();
  const auto a = run(model, row), b = run(loaded_half, row);
  EXPECT_LT(difference(a, b, true), 0.05 * a.first.abs().max().item<double>());

  // A tensor of the wrong shape is named in the error.
  auto file = safetensors::read(path);
  file.tensors["video_in.weight"].shape = {1, int64_t(file.tensors["video_in.weight"].data.size() / 4)};
  try {
    from_safetensors(file);
    FAIL() << "mis-shaped weights accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(e.field(), "weights");
    EXPECT_NE(std::string(e.what()).find("video_in.weight"), std::string::npos);
  }
  std::filesystem::remove(path);
  std::filesystem::remove(half);
}

TEST_F(Fixture, TrainingStepsLowerTheFlowLossOnBothStreams) {
  torch::manual_seed(5);
  MiniModel model(tiny_config());
  const MiniConfig& c = model->config;
  torch::optim::AdamW optimizer(model->parameters(), torch::optim::AdamWOptions(3e-3));
  auto x0_video = torch::rand({1, 12, 24, 32, 3}) * 0.2 + 0.4;  // a fixed clip
  auto x0_audio = torch::sin(torch::arange(13 * 640) * 0.3).unsqueeze(0);
  const auto inputs = condition_inputs({text_row("a clip")}, 24, 32, c);
  auto loss_at = [&](bool step) {
    torch::manual_seed(9);
    auto t = torch::full({1}, 0.5);
    auto nv = torch::randn_like(x0_video), na = torch::randn_like(x0_audio);
    auto ctx = model->encode(inputs);
    auto [v, a] = model->forward(0.5 * x0_video + 0.5 * nv, 0.5 * x0_audio + 0.5 * na, t, ctx);
    auto lv = (v - (nv - x0_video)).pow(2).mean(), la = (a - (na - x0_audio)).pow(2).mean();
    if (step) {
      optimizer.zero_grad();
      (lv + la).backward();
      optimizer.step();
    }
    return std::pair{lv.item<double>(), la.item<double>()};
  };
  const auto before = loss_at(false);
  for (int i = 0; i < 30; ++i) loss_at(true);
  const auto after = loss_at(false);
  EXPECT_LT(after.first, 0.8 * before.first);
  EXPECT_LT(after.second, 0.8 * before.second);
}

TEST_F(Fixture, PipelineIsDeterministicAndMakesLongClipsInWindows) {
  MiniModel model = random_model(6);
  const std::string path = temp_weights("opsis_mini_pipeline");
  save_model(model, path);
  auto backend = open_backend(path);
  std::filesystem::remove(path);
  engine::Pipeline pipeline(*backend);
  engine::GenerateRequest request;
  request.prompt = "a yellow balloon floats up over a snowfield";
  request.negative = "rain";
  request.seconds = 2.5;  // 60 frames in three windows of at most 1 s
  request.width = 32;
  request.height = 20;
  request.seed = 123;
  request.steps = 2;
  request.first_frame = pattern(32, 20, 7);
  std::vector<double> progress_seen;
  Progress progress;
  progress.report = [&](double f) { progress_seen.push_back(f); };
  const auto a = pipeline.run(request, &progress);
  EXPECT_EQ(a.video.frame_count(), 60);
  EXPECT_EQ(a.video.width, 32);
  EXPECT_EQ(a.audio.sample_rate, 16000);
  EXPECT_EQ(a.audio.samples.size(), 40000u);
  EXPECT_TRUE(std::equal(request.first_frame->pixels.begin(), request.first_frame->pixels.end(), a.video.rgb.begin()));
  EXPECT_TRUE(std::is_sorted(progress_seen.begin(), progress_seen.end()));
  EXPECT_EQ(progress_seen.back(), 1.0);
  const auto b = pipeline.run(request);
  EXPECT_EQ(a.video.rgb, b.video.rgb);
  EXPECT_EQ(a.audio.samples, b.audio.samples);
  request.seed = 124;
  const auto c = pipeline.run(request);
  EXPECT_NE(a.video.rgb, c.video.rgb);
  EXPECT_NE(a.audio.samples, c.audio.samples);
  // Whole seconds: every later window regenerates the previous last frame, so 4 s of 1 s
  // windows are five windows, not four windows of 25 frames that the model cannot make.
  request.seconds = 4.0;
  const auto whole = pipeline.run(request);
  EXPECT_EQ(whole.video.frame_count(), 96);
  EXPECT_EQ(whole.audio.samples.size(), 64000u);
}

TEST_F(Fixture, PipelineRejectsBadRequestsNamingTheField) {
  MiniModel model = random_model(7);
  const std::string path = temp_weights("opsis_mini_errors");
  save_model(model, path);
  auto backend = open_backend(path);
  std::filesystem::remove(path);
  engine::Pipeline pipeline(*backend);
  auto field_of = [&](const engine::GenerateRequest& r) -> std::string {
    try {
      pipeline.run(r);
    } catch (const InvalidArgument& e) {
      return e.field();
    }
    return "(accepted)";
  };
  engine::GenerateRequest good;
  good.prompt = "a meadow";
  good.seconds = 1;
  good.steps = 1;
  auto r = good;
  r.seconds = 0.5;
  EXPECT_EQ(field_of(r), "seconds");
  r.seconds = 26;
  EXPECT_EQ(field_of(r), "seconds");
  r = good;
  r.width = 64, r.height = 64;
  EXPECT_EQ(field_of(r), "size");
  r = good;
  r.first_frame = pattern(10, 10, 1);
  EXPECT_EQ(field_of(r), "image");
  r = good;
  r.identity = Image(2, 2);
  EXPECT_EQ(field_of(r), "cameo");
  r = good;
  r.prompt = "  ";
  EXPECT_EQ(field_of(r), "prompt");
  r = good;
  r.steps = -3;
  EXPECT_EQ(field_of(r), "steps");
  EXPECT_EQ(field_of(good), "(accepted)");
  EXPECT_THROW(open_backend("/nonexistent/opsis-mini.safetensors"), IoError);
}
