// The LTX-2 text path (feature extractor + connectors) against the reference's goldens: the
// tiny checkpoints' text weights, a fake Gemma's hidden states with left padding, and the
// reference's features and connector outputs (tests/parity/ltx2/).
#include "models/ltx2/text_projection.hpp"
#include "models/ltx2/golden_test_support.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdio>
#include <string>

#include "core/error.hpp"
#include "core/safetensors.hpp"

namespace opsis::ltx2 {
namespace {

using parity::expect_close;
using parity::golden;
using parity::kGolden;

// tests/parity/ltx2/make_goldens.py: a fake Gemma 24 wide with 2 layers (3 hidden states).
const TextEncoderSizes kTinyText{24, 3};

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
