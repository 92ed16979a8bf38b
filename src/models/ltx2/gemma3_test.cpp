// Gemma 3 against Google's gemma_pytorch on a tiny config (tests/parity/ltx2/golden/gemma3_*):
// one local (sliding window 4) and one global layer (RoPE scaling factor 8), GQA 2:1, unpadded.
#include "models/ltx2/gemma3.hpp"
#include "models/ltx2/golden_test_support.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdio>
#include <string>

#include "core/safetensors.hpp"

namespace opsis::ltx2 {
namespace {

using parity::expect_close;
using parity::golden;
using parity::kGolden;

TEST(Ltx2Gemma3, TinyMatchesReference) {
  const std::string path = kGolden + "gemma3_tiny.safetensors";
  safetensors::File weights = safetensors::read(path);
  Gemma3Config config = parse_gemma3_config(weights.metadata.at("config"));
  ASSERT_EQ(config.sliding, (std::vector<bool>{true, false}));
  EXPECT_EQ(config.rope_scaling_factor, 8);
  Gemma3 gemma(config, weights, path);
  safetensors::File io = safetensors::read(kGolden + "gemma3_io.safetensors");
  torch::Tensor tokens = golden(io, "gemma.tokens");
  torch::Tensor states = gemma.hidden_states(tokens);
  expect_close("gemma.hidden_states", states, golden(io, "gemma.hidden_states"));
  expect_close("gemma.layer0.output", states.select(-1, 1), golden(io, "gemma.layer0.output"));
  // An all-ones mask changes nothing.
  EXPECT_TRUE(torch::equal(gemma.hidden_states(tokens, torch::ones_like(tokens)), states));
}

// A bf16 (or fp8) Gemma kept in its precision (WeightPrecision::AsStored: linear layers and the
// embeddings widened at use) gives exactly what widening it at load gives.
TEST(Ltx2Gemma3, WeightsKeptAsStoredGiveTheSameStates) {
  const std::string path = kGolden + "gemma3_tiny.safetensors";
  const safetensors::File weights = safetensors::read(path);
  const Gemma3Config config = parse_gemma3_config(weights.metadata.at("config"));
  const torch::Tensor tokens = golden(safetensors::read(kGolden + "gemma3_io.safetensors"), "gemma.tokens");
  for (const auto dtype : {safetensors::DType::BF16, safetensors::DType::F8_E5M2}) {
    safetensors::File low = weights;
    for (auto& [name, t] : low.tensors)
      if (dtype == safetensors::DType::BF16) {
        t = safetensors::Tensor::from_float(t.to_float(), t.shape, dtype);
      } else {
        // e5m2 is bf16's top byte... of an fp16: round through fp16, keep the high byte.
        const safetensors::Tensor half = safetensors::Tensor::from_float(t.to_float(), t.shape, safetensors::DType::F16);
        safetensors::Tensor codes;
        codes.dtype = dtype, codes.shape = t.shape;
        for (size_t i = 1; i < half.data.size(); i += 2) codes.data.push_back(half.data[i]);
        t = codes;
      }
    const Gemma3 widened(config, low, path);
    const Gemma3 stored(config, low, path, torch::kCPU, "language_model.model.", WeightPrecision::AsStored);
    const torch::Tensor a = widened.hidden_states(tokens), b = stored.hidden_states(tokens);
    EXPECT_TRUE(torch::equal(a, b)) << safetensors::dtype_name(dtype);
    EXPECT_TRUE(torch::isfinite(b).all().item<bool>());
  }
}

TEST(Ltx2Gemma3, LeftPaddingIsMaskedAndStaysFinite) {
  const std::string path = kGolden + "gemma3_tiny.safetensors";
  safetensors::File weights = safetensors::read(path);
  Gemma3 gemma(parse_gemma3_config(weights.metadata.at("config")), weights, path);
  torch::Tensor tokens = golden(safetensors::read(kGolden + "gemma3_io.safetensors"), "gemma.tokens");
  torch::Tensor mask = torch::ones_like(tokens);
  mask.narrow(1, 0, 3).zero_();  // three pads on the left
  torch::Tensor padded = gemma.hidden_states(tokens, mask);
  EXPECT_TRUE(torch::isfinite(padded).all().item<bool>());
  // The first real token attends only to itself: changing a pad's id changes nothing there.
  torch::Tensor other = tokens.clone();
  other.narrow(1, 0, 3).fill_(1);
  torch::Tensor again = gemma.hidden_states(other, mask);
  EXPECT_TRUE(torch::allclose(again.narrow(1, 3, tokens.size(1) - 3), padded.narrow(1, 3, tokens.size(1) - 3)));
}

}  // namespace
}  // namespace opsis::ltx2
