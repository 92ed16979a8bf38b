#pragma once
// opsis-mini 2's joint generator: one flow-matching network that makes the video latent (the
// autoencoder's cells, 12 latent frames/s) and the sound latent (log-mel, 25 tokens/s) in the
// same denoising pass.
//
// Tokens: one per video latent cell, one per 40 ms of sound. Both carry a sinusoidal
// embedding of their time in seconds on the clip's clock (one time axis for both streams).
// Each block: video self-attention (alternately within a latent frame and across frames per
// cell), sound self-attention, attention of both streams to the conditioning context,
// cross-modal attention (video <- sound tokens, sound <- per-frame video summaries), and an
// MLP, all modulated (adaLN) by the noise level plus the pooled conditioning.
//
// Conditioning context: one token per parsed slot of the prompt (setting, time of day,
// weather, each object's kind + colour + size + motion, each character's identity + action,
// each shot's camera + speed + framing + lens + its time span, negatives), a token per word
// (hashed; any text encodes), identity portrait patches, and the phoneme timeline. The
// network predicts the clean latents (x0); the sampler gets the velocity from them.
// Auxiliary heads after a middle block read what the studio's truth knows (which object
// colour or character covers each cell, the camera's motion per latent frame, impacts per
// sound token): free supervision that teaches layout and sync early.
#include <torch/torch.h>

#include <string>
#include <vector>

#include "models/layers/layers.hpp"
#include "models/mini2/config.hpp"

namespace opsis::mini2 {

// Per context token: up to kSlotFields vocabulary ids summed into its embedding (0 = none),
// plus optional times (seconds) and a value.
inline constexpr int kSlotFields = 7;

struct ContextInputs {
  torch::Tensor ids;       // [B, L, kSlotFields] int64 into the slot vocabulary, 0 = none
  torch::Tensor times;     // [B, L, 2] float: start, end (seconds on the clip clock)
  torch::Tensor values;    // [B, L, 1] float (phoneme openness)
  torch::Tensor has_time;  // [B, L] float 0/1
  torch::Tensor mask;      // [B, L] bool: true = a token
  torch::Tensor identity;      // [B, S, S, 3] float in [-1, 1], S = identity_size
  torch::Tensor has_identity;  // [B] float 0/1
};

struct GeneratorContext {
  torch::Tensor tokens;  // [B, Lc, d]
  torch::Tensor mask;    // [B, Lc] bool
  torch::Tensor pooled;  // [B, d]
};

// What the network is asked to denoise, and the first-frame condition.
struct GeneratorInputs {
  torch::Tensor video;        // [B, T, C, h, w] noisy normalised video latent
  torch::Tensor audio;        // [B, A, audio_values] noisy sound tokens
  torch::Tensor t;            // [B] noise level
  torch::Tensor first_latent; // [B, C, h, w] clean normalised latent of the first latent frame (zeros if none)
  torch::Tensor has_first;    // [B] float 0/1
  torch::Tensor time_offset;  // [B] seconds: the clip clock at the window's first frame
};

struct GeneratorOutputs {
  torch::Tensor video;          // [B, T, C, h, w] predicted clean latent
  torch::Tensor audio;          // [B, A, audio_values]
  torch::Tensor cell_logits;    // [B, T, h, w, 10] (auxiliary)
  torch::Tensor camera;         // [B, T, 5] (auxiliary: per latent frame camera motion)
  torch::Tensor impact_logits;  // [B, A] (auxiliary)
};

using GenAttention = layers::Attention;

struct GenBlockImpl : torch::nn::Module {
  GenBlockImpl(int d_model, int heads, int mlp_ratio, bool temporal);
  // video: [B, T, S, d] (S = h*w cells), audio: [B, A, d], c: [B, d]
  std::pair<torch::Tensor, torch::Tensor> forward(torch::Tensor video, torch::Tensor audio, const torch::Tensor& c,
                                                  const GeneratorContext& context);
  bool temporal;  // video self-attention across frames (per cell) instead of within a frame
  torch::nn::Linear video_mod{nullptr}, audio_mod{nullptr};  // c -> shift, scale, gate x2
  GenAttention video_self{nullptr}, audio_self{nullptr}, video_context{nullptr}, audio_context{nullptr};
  GenAttention video_from_audio{nullptr}, audio_from_video{nullptr};
  torch::nn::LayerNorm video_norm_ctx{nullptr}, audio_norm_ctx{nullptr}, video_norm_cross{nullptr},
      audio_norm_cross{nullptr}, context_norm{nullptr};
  torch::nn::Linear video_mlp_in{nullptr}, video_mlp_out{nullptr}, audio_mlp_in{nullptr}, audio_mlp_out{nullptr};
};
TORCH_MODULE(GenBlock);

struct GeneratorImpl : torch::nn::Module {
  GeneratorImpl(const GeneratorConfig& config, int latent_channels);

  GeneratorContext encode(const ContextInputs& inputs);
  GeneratorOutputs forward(const GeneratorInputs& inputs, const GeneratorContext& context);

  GeneratorConfig config;
  int latent_channels;
  torch::nn::Embedding slot_embed{nullptr};
  torch::nn::Linear slot_time{nullptr}, slot_value{nullptr};
  torch::nn::Linear identity_embed{nullptr};
  torch::Tensor identity_position;  // [1, patches, d]
  torch::nn::Linear context_pool{nullptr};
  torch::nn::Sequential time_mlp{nullptr};
  torch::nn::Linear video_in{nullptr}, audio_in{nullptr}, cell_position{nullptr};
  torch::nn::ModuleList blocks{nullptr};
  torch::nn::Linear video_final_mod{nullptr}, audio_final_mod{nullptr};
  torch::nn::Linear video_out{nullptr}, audio_out{nullptr};
  torch::nn::Linear cell_head{nullptr}, camera_head{nullptr}, impact_head{nullptr};
  torch::Tensor audio_mean, audio_std;  // [audio_values]: sound-token normalisation, measured on studio clips
};
TORCH_MODULE(Generator);

// FLOPs (2 per multiply-add) of one forward pass over T latent frames of S cells each, A sound
// tokens and Lc context tokens, attention included: what `opsis bench` and the trainer divide
// by time. latent_channels and audio_values size the input and output projections.
double generator_forward_flops(const GeneratorConfig& g, int latent_channels, int audio_values, double T, double S, double A,
                               double Lc);


}  // namespace opsis::mini2
