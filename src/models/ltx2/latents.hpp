#pragma once
// LTX-2 latent layout on the pipeline side (docs/ltx2/reference-map.md, "Latents, positions,
// conditioning"): token order (patch size 1), the RoPE position bounds of video and audio
// tokens, and the audio latent length for a clip.
#include <torch/types.h>

#include <cstdint>

namespace opsis::ltx2 {

// [B, C, F, H, W] -> [B, F*H*W, C] (f, h, w order) and back.
torch::Tensor patchify_video(const torch::Tensor& latent);
torch::Tensor unpatchify_video(const torch::Tensor& tokens, int64_t frames, int64_t height, int64_t width);
// [B, C, T, M] -> [B, T, C*M] (index c * M + m) and back.
torch::Tensor patchify_audio(const torch::Tensor& latent);
torch::Tensor unpatchify_audio(const torch::Tensor& tokens, int64_t channels, int64_t mel_bins);

// [B, 3, F*H*W, 2] [start, end) bounds of each latent voxel in pixels (x 8 frames, x 32, x 32);
// the time axis causally shifted (frame 0 -> [0, 1), frame k -> [8k - 7, 8k + 1)) and divided by
// fps, so in seconds. float32, as the reference's latent tools make them.
torch::Tensor video_positions(int64_t batch, int64_t frames, int64_t height, int64_t width, double fps);

// [B, 1, T, 2] [start, end) bounds in seconds of each audio latent frame: latent frame i covers
// mel frames [max(0, 4i - 3), 4i + 1), times hop / rate.
torch::Tensor audio_positions(int64_t batch, int64_t frames, int sample_rate = 16000, int hop_length = 160);

// Audio latent frames for a clip of `seconds` (25 per second at 16 kHz, hop 160, x4 down),
// rounded half to even as the reference does.
int64_t audio_latent_frames(double seconds, int sample_rate = 16000, int hop_length = 160);

}  // namespace opsis::ltx2
