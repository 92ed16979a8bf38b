// The LTX-2 text path (feature extractor + connectors) against the reference's goldens: the
// tiny checkpoints' text weights, a fake Gemma's hidden states with left padding, and the
// reference's features and connector outputs (tests/parity/ltx2/).
#include "models/ltx2/text_projection.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdio>
#include <string>

#include "core/error.hpp"
#include "core/safetensors.hpp"

namespace opsis::ltx2 {
namespace {

const std::string kGolden = std::string(OPSIS_SOURCE_DIR) + "/tests/parity/ltx2/golden/";
// tests/parity/ltx2/make_goldens.py: a fake Gemma 24 wide with 2 layers (3 hidden states).
const TextEncoderSizes kTinyText{24, 3};

torch::Tensor golden(const safetensors::File& file, const std::string& key) {
  const safetensors::Tensor& t = file.tensors.at(key);
  if (t.dtype == safetensors::DType::I64)
    return torch::from_blob(const_cast<uint8_t*>(t.data.data()), t.shape, torch::kInt64).clone();
  std::vector<float> values = t.to_float();
  return torch::from_blob(values.data(), t.shape, torch::kFloat32).clone();
}

void expect_close(const std::string& label, const torch::Tensor& mine, const torch::Tensor& reference) {
  ASSERT_TRUE(mine.defined()) << label;
  ASSERT_EQ(mine.sizes().vec(), reference.sizes().vec()) << label;
  const double err = (mine.to(torch::kFloat32) - reference.to(torch::kFloat32)).abs().max().item<double>();
  std::printf("%-45s max abs %.2e\n", label.c_str(), err);
  EXPECT_LE(err, 1e-5) << label;
}

void check_version(const std::string& name) {
  const std::string path = kGolden + "ltx2_tiny_" + name + ".safetensors";
  safetensors::File weights = safetensors::read(path);
  TextProjection text(parse_config(weights.metadata).transformer, kTinyText, weights, path);
  safetensors::File io = safetensors::read(kGolden + name + "_dit.safetensors");
  torch::Tensor mask = golden(io, "text.attention_mask");
  ASSERT_GT((mask == 0).sum().item<int64_t>(), 0) << "the golden should cover left padding";
  std::map<std::string, torch::Tensor> trace;
  TextEncoding out = text.forward(golden(io, "text.hidden_states"), mask, &trace);
  expect_close(name + " text.features_video", trace["features_video"], golden(io, "text.features_video"));
  expect_close(name + " text.features_audio", trace["features_audio"], golden(io, "text.features_audio"));
  expect_close(name + " text.video_encoding", out.video, golden(io, "text.video_encoding"));
  expect_close(name + " text.audio_encoding", out.audio, golden(io, "text.audio_encoding"));
  EXPECT_TRUE(torch::equal(out.mask, golden(io, "text.binary_mask")));
}

TEST(Ltx2TextProjection, Version2_0MatchesReference) { check_version("v2_0"); }
TEST(Ltx2TextProjection, Version2_3MatchesReference) { check_version("v2_3"); }

TEST(Ltx2TextProjection, MissingTensorIsNamed) {
  const std::string path = kGolden + "ltx2_tiny_v2_0.safetensors";
  safetensors::File weights = safetensors::read(path);
  const std::string gone = "model.diffusion_model.audio_embeddings_connector.learnable_registers";
  weights.tensors.erase(gone);
  try {
    TextProjection text(parse_config(weights.metadata).transformer, kTinyText, weights, path);
    FAIL() << "loaded without " << gone;
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find(gone), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace opsis::ltx2
