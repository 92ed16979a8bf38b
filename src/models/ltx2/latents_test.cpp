// LTX-2 token layout and positions against the reference's latent tools (the goldens record
// the positions they made for 3 x 2 x 3 video latents at 24 fps and 8 audio latent frames).
#include "models/ltx2/latents.hpp"
#include "models/ltx2/golden_test_support.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>

#include "core/safetensors.hpp"

namespace opsis::ltx2 {
namespace {

using parity::golden;
using parity::kGolden;

TEST(Ltx2Latents, PositionsMatchReference) {
  safetensors::File io = safetensors::read(kGolden + "v2_3_dit.safetensors");
  EXPECT_TRUE(torch::equal(video_positions(1, 3, 2, 3, 24.0), golden(io, "sample.video.positions")));
  EXPECT_TRUE(torch::equal(video_positions(2, 3, 2, 3, 24.0), golden(io, "dit.video.positions")));
  EXPECT_TRUE(torch::equal(audio_positions(1, 8), golden(io, "sample.audio.positions")));
  EXPECT_TRUE(torch::equal(audio_positions(2, 8), golden(io, "dit.audio.positions")));
}

TEST(Ltx2Latents, PatchifyRoundTripsAndOrdersTokens) {
  torch::Tensor video = torch::randn({2, 16, 3, 2, 3});
  torch::Tensor tokens = patchify_video(video);
  ASSERT_EQ(tokens.sizes().vec(), (std::vector<int64_t>{2, 18, 16}));
  EXPECT_TRUE(torch::equal(tokens[1][3 * 2 + 1 * 3 + 2], video.index({1, torch::indexing::Slice(), 1, 1, 2})));
  EXPECT_TRUE(torch::equal(unpatchify_video(tokens, 3, 2, 3), video));
  torch::Tensor audio = torch::randn({1, 8, 5, 16});
  torch::Tensor atokens = patchify_audio(audio);
  ASSERT_EQ(atokens.sizes().vec(), (std::vector<int64_t>{1, 5, 128}));
  EXPECT_EQ(atokens[0][4][3 * 16 + 7].item<float>(), audio[0][3][4][7].item<float>());
  EXPECT_TRUE(torch::equal(unpatchify_audio(atokens, 8, 16), audio));
}

TEST(Ltx2Latents, AudioLengthFollowsTheClip) {
  EXPECT_EQ(audio_latent_frames(121.0 / 24.0), 126);  // 5.04 s -> 126.04
  EXPECT_EQ(audio_latent_frames(5.0), 125);
  EXPECT_EQ(audio_latent_frames(0.02), 0);   // 0.5 rounds to even
  EXPECT_EQ(audio_latent_frames(0.06), 2);   // 1.5 rounds to even
}

}  // namespace
}  // namespace opsis::ltx2
