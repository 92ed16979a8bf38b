// The LTX-2 video autoencoder against the reference's goldens (tests/parity/ltx2/): the tiny
// 2.0 checkpoint's VAE (pixel norm, reflect padding, timestep-conditioned decoder with residual
// depth-to-space upsampling), one 9-frame 64 x 64 clip encoded and one latent decoded.
#include "models/ltx2/video_vae.hpp"
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

TEST(Ltx2VideoVae, Version2_0MatchesReference) {
  const std::string path = kGolden + "ltx2_tiny_v2_0.safetensors";
  safetensors::File weights = safetensors::read(path);
  VaeConfig config = parse_config(weights.metadata).vae;
  safetensors::File io = safetensors::read(kGolden + "v2_0_video_vae.safetensors");

  VideoEncoder encoder(config, weights, path);
  expect_close("v2_0 vae.encoder.output", encoder.forward(golden(io, "vae.encoder.input")),
               golden(io, "vae.encoder.output"));

  VideoDecoder decoder(config, weights, path);
  // The golden stores the noise already scaled by decode_noise_scale; the decoder takes N(0, 1).
  torch::Tensor noise = golden(io, "vae.decoder.noise") / VideoDecoder::kDecodeNoiseScale;
  expect_close("v2_0 vae.decoder.output",
               decoder.forward(golden(io, "vae.decoder.input"), golden(io, "vae.decoder.timestep"), noise),
               golden(io, "vae.decoder.output"));
}

TEST(Ltx2VideoVae, MissingTensorIsNamed) {
  const std::string path = kGolden + "ltx2_tiny_v2_0.safetensors";
  safetensors::File weights = safetensors::read(path);
  VaeConfig config = parse_config(weights.metadata).vae;
  const std::string gone = "vae.decoder.up_blocks.0.res_blocks.0.conv2.conv.weight";
  weights.tensors.erase(gone);
  try {
    VideoDecoder decoder(config, weights, path);
    FAIL() << "loaded without " << gone;
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find(gone), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace opsis::ltx2
