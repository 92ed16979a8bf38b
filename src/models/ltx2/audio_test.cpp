// The LTX-2 audio path against the reference's goldens (tests/parity/ltx2/): the audio VAE
// decoder (latent -> stereo log-mel) and the vocoders (2.0 HiFi-GAN; 2.3 BigVGAN + bandwidth
// extension to 48 kHz), each fed the reference's own input.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdio>
#include <string>

#include "core/safetensors.hpp"
#include "models/ltx2/audio_vae.hpp"
#include "models/ltx2/config.hpp"
#include "models/ltx2/vocoder.hpp"
#include "models/ltx2/golden_test_support.hpp"

namespace opsis::ltx2 {
namespace {

using parity::expect_close;
using parity::golden;
using parity::kGolden;

void check_version(const std::string& name, int sample_rate) {
  const std::string path = kGolden + "ltx2_tiny_" + name + ".safetensors";
  safetensors::File weights = safetensors::read(path);
  Config config = parse_config(weights.metadata);
  safetensors::File io = safetensors::read(kGolden + name + "_audio.safetensors");
  AudioDecoder decoder(config.audio_vae, weights, path);
  expect_close(name + " audio.decoder.output", decoder.forward(golden(io, "audio.decoder.input")),
               golden(io, "audio.decoder.output"));
  Vocoder vocoder(config.vocoder, weights, path);
  EXPECT_EQ(vocoder.sample_rate(), sample_rate);
  expect_close(name + " audio.vocoder.output", vocoder.forward(golden(io, "audio.decoder.output")),
               golden(io, "audio.vocoder.output"));
}

TEST(Ltx2Audio, Version2_0MatchesReference) { check_version("v2_0", 24000); }
TEST(Ltx2Audio, Version2_3MatchesReference) { check_version("v2_3", 48000); }

}  // namespace
}  // namespace opsis::ltx2
