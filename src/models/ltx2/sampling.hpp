#pragma once
// LTX-2 sampling as the reference pipelines run it (docs/ltx2/reference-map.md, "Scheduler,
// steps, guidance"): the transformer's velocity turned into a denoised (x0) estimate per
// token, the multi-modal guider (CFG + STG + modality guidance + rescale, per stream) over
// passes batched into one forward, conditioning blended back by the denoise mask, and Euler
// steps over a sigma schedule (models/ltx2/schedule.hpp). Video and audio advance together.
//
// This is the family's own x0-space loop; the tensor-free engine sampler (src/engine) is
// velocity-based and has no perturbed passes, so an LTX-2 backend drives this loop instead.
#include <ATen/core/Generator.h>
#include <torch/types.h>

#include <functional>
#include <utility>
#include <vector>

#include "models/ltx2/transformer.hpp"

namespace opsis::ltx2 {

// One stream's guidance (the reference's MultiModalGuiderParams).
struct GuiderParams {
  double cfg = 1.0;        // 1: no negative-prompt pass
  double stg = 0.0;        // 0: no perturbed pass
  double modality = 1.0;   // 1: no isolated (A<->V attention skipped) pass
  double rescale = 0.0;    // 0: no rescale
  std::vector<int> stg_blocks;  // blocks whose self-attention the perturbed pass skips
};

// pred = cond + (cfg - 1)(cond - uncond) + stg (cond - perturbed) + (modality - 1)(cond - isolated),
// then, with rescale r != 0, pred *= r std(cond) / std(pred) + 1 - r. Undefined passes count as
// absent (their scale must then be neutral).
torch::Tensor guide(const GuiderParams& params, const torch::Tensor& cond, const torch::Tensor& uncond,
                    const torch::Tensor& perturbed, const torch::Tensor& isolated);

// x + (x - x0) / sigma * (sigma_next - sigma), in float32.
torch::Tensor euler_step(const torch::Tensor& sample, const torch::Tensor& denoised, float sigma, float sigma_next);

// One stream's sampling state (the reference's LatentState), batch B.
struct LatentState {
  torch::Tensor latent;        // [B, T, C] current tokens
  torch::Tensor denoise_mask;  // [B, T, 1] 1 = generate, 0 = keep the clean value (conditioning)
  torch::Tensor clean;         // [B, T, C] clean (conditioning) tokens where the mask is below 1
  torch::Tensor positions;     // [B, n, T, 2]
};

// The reference's GaussianNoiser: noise ~ N(0, 1) drawn from `generator` in the latent's shape
// (libtorch's CPU generator draws the same numbers as PyTorch's for the same seed), then
// latent = lerp(clean, lerp(latent, noise, noise_scale), denoise_mask).
LatentState add_noise(LatentState state, at::Generator& generator, double noise_scale = 1.0);

// Denoised estimates of both streams at one sigma.
using DenoiseFn = std::function<std::pair<torch::Tensor, torch::Tensor>(const LatentState& video,
                                                                        const LatentState& audio, float sigma)>;

// The guided denoiser: all passes the two guiders need in one batched forward (cond with the
// positive contexts, uncond with the negative ones, perturbed = STG, isolated = modality), each
// stream combined by its own guider. Contexts are [B, S, D] per prompt.
struct GuidedDenoiser {
  const Transformer* transformer = nullptr;
  torch::Tensor video_context, audio_context;                    // positive prompt
  torch::Tensor video_negative_context, audio_negative_context;  // needed when cfg != 1
  GuiderParams video, audio;

  std::pair<torch::Tensor, torch::Tensor> operator()(const LatentState& video_state, const LatentState& audio_state,
                                                     float sigma) const;
};

// The reference's euler_denoising_loop: for each sigma but the last, denoise, blend the estimate
// with the clean tokens by the mask, Euler step. Returns the final (video, audio) states.
std::pair<LatentState, LatentState> euler_loop(const std::vector<float>& sigmas, LatentState video, LatentState audio,
                                               const DenoiseFn& denoise);

}  // namespace opsis::ltx2
