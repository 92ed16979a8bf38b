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

namespace opsis::ltx2 {
namespace {

const std::string kGolden = std::string(OPSIS_SOURCE_DIR) + "/tests/parity/ltx2/golden/";

torch::Tensor golden(const safetensors::File& file, const std::string& key) {
  std::vector<float> values = file.tensors.at(key).to_float();
  return torch::from_blob(values.data(), file.tensors.at(key).shape, torch::kFloat32).clone();
}

void expect_close(const std::string& label, const torch::Tensor& mine, const torch::Tensor& reference) {
  ASSERT_EQ(mine.sizes().vec(), reference.sizes().vec()) << label;
  const double err = (mine - reference).abs().max().item<double>();
  std::printf("%-45s max abs %.2e (reference peak %.2e)\n", label.c_str(), err,
              reference.abs().max().item<double>());
  EXPECT_LE(err, 1e-5) << label;
}

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
