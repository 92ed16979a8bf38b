#pragma once
// opsis-mini: a two-stream transformer for joint video + audio flow matching (the LTX-2 /
// Ovi family, scaled down). One stream over spacetime pixel patches of the video, one over
// raw-waveform patches of the audio; every block has self-attention, attention to the
// conditioning context (text, identity, phonemes), cross-modal attention to the other
// stream, and an MLP, modulated (adaLN) by a timestep embedding shared by both streams.
// Both streams carry the same sinusoidal embedding of time in seconds, so a video token
// and an audio token at the same moment line up.
#include <torch/torch.h>

#include <string>
#include <vector>

#include "models/layers/layers.hpp"
#include "models/mini/config.hpp"

namespace opsis::mini {

// Conditioning inputs for a batch. Absent parts are zeros with their presence flag 0.
struct ConditionInputs {
  torch::Tensor text;              // [B, L] int64: UTF-8 byte + 1, 0 = padding
  torch::Tensor text_words;        // [B, L] int64: bucket of the word byte l belongs to, 0 = none
  torch::Tensor first_frame;       // [B, Hpad, Wpad, 3] float in [-1, 1]
  torch::Tensor has_first_frame;   // [B] float 0/1
  torch::Tensor identity;          // [B, S, S, 3] float in [-1, 1], S = identity_size
  torch::Tensor has_identity;      // [B] float 0/1
  torch::Tensor phoneme_ids;       // [B, P] int64 in [1, buckets), 0 = padding
  torch::Tensor phoneme_visemes;   // [B, P] int64
  torch::Tensor phoneme_openness;  // [B, P] float
  torch::Tensor phoneme_times;     // [B, P] float: centre of the phoneme, seconds
  // [B] float or undefined: the clip clock at the window's first frame, seconds. Every time
  // position (video, audio, phonemes) is shifted by it, so a model trained on windows cut
  // from anywhere in longer clips sees the same clock at inference.
  torch::Tensor time_offset;
};

// The encoded context, computed once per sampling run and reused at every step.
struct Context {
  torch::Tensor tokens;       // [B, Lc, d]
  torch::Tensor mask;         // [B, Lc] bool, true = attend
  torch::Tensor pooled;       // [B, d]: text summary, added to the timestep embedding
  torch::Tensor first_frame;  // [B, Hp*Wp, d]: added to the first latent frame's tokens
  torch::Tensor time_offset;  // [B] seconds
};

using layers::Attention;

struct TextLayerImpl : torch::nn::Module {
  TextLayerImpl(int d_model, int heads, int mlp_ratio);
  torch::Tensor forward(torch::Tensor x, const torch::Tensor& mask);
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  Attention attn{nullptr};
  torch::nn::Linear mlp_in{nullptr}, mlp_out{nullptr};
};
TORCH_MODULE(TextLayer);

struct StreamBlockImpl : torch::nn::Module {
  StreamBlockImpl(int d_model, int heads, int mlp_ratio);
  // x: [B, N, d] this stream; other: [B, M, d] the other stream (before this block);
  // c: [B, d] shared conditioning vector.
  torch::Tensor forward(torch::Tensor x, const torch::Tensor& other, const torch::Tensor& c, const Context& context);
  torch::nn::Linear modulation{nullptr};  // c -> shift, scale, gate for self-attention and MLP
  Attention self_attn{nullptr}, context_attn{nullptr}, cross_modal{nullptr};
  torch::nn::LayerNorm context_norm{nullptr}, cross_norm{nullptr}, other_norm{nullptr};
  torch::nn::Linear mlp_in{nullptr}, mlp_out{nullptr};
};
TORCH_MODULE(StreamBlock);

struct JointBlockImpl : torch::nn::Module {
  JointBlockImpl(int d_model, int heads, int mlp_ratio);
  StreamBlock video{nullptr}, audio{nullptr};
};
TORCH_MODULE(JointBlock);

struct MiniModelImpl : torch::nn::Module {
  explicit MiniModelImpl(const MiniConfig& config);

  Context encode(const ConditionInputs& inputs);
  // video: [B, F, Hpad, Wpad, 3], audio: [B, N * audio_patch], t: [B] -> velocities, same shapes
  // (computed from the network's prediction of the clean clip: v = (x_t - x0) / max(t, 0.05)).
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& video, const torch::Tensor& audio,
                                                  const torch::Tensor& t, const Context& context);

  MiniConfig config;
  torch::nn::Embedding text_embed{nullptr}, text_position{nullptr};
  torch::nn::Embedding word_embed{nullptr};  // only when config.word_buckets > 0
  torch::nn::ModuleList text_layers{nullptr};
  torch::nn::LayerNorm text_norm{nullptr};
  torch::nn::Linear text_pool{nullptr};
  torch::Tensor null_token;  // [1, 1, d]: always in the context so every row has a key
  torch::nn::Linear identity_embed{nullptr};
  torch::Tensor identity_position;  // [1, tokens, d]
  TextLayer identity_layer{nullptr};
  torch::nn::Embedding phoneme_embed{nullptr}, viseme_embed{nullptr};
  torch::nn::Linear openness_embed{nullptr};
  torch::nn::Linear first_frame_embed{nullptr};
  torch::Tensor first_frame_flag;  // [d]
  torch::nn::Sequential time_mlp{nullptr};
  torch::nn::Linear video_in{nullptr}, audio_in{nullptr};
  torch::nn::ModuleList blocks{nullptr};
  torch::nn::Linear video_final_mod{nullptr}, audio_final_mod{nullptr};
  torch::nn::Linear video_out{nullptr}, audio_out{nullptr};
  torch::nn::Linear layout{nullptr};  // pooled text -> [3 * g * g] coarse colours (config.layout_grid = g > 0)
};
TORCH_MODULE(MiniModel);

using layers::sinusoidal;

// Inputs from plain data (one batch row each); lengths are padded to the longest.
torch::Tensor text_tokens(const std::vector<std::string>& texts, int max_bytes);
// Same layout as text_tokens: for every byte inside a word (a run of letters and digits,
// lower-cased), that word's hash bucket in [1, buckets); 0 elsewhere.
torch::Tensor text_word_tokens(const std::vector<std::string>& texts, int max_bytes, int buckets);
int phoneme_bucket(const std::string& phoneme, int buckets);

// [B, F, H, W, 3] <-> [B, T*Hp*Wp, frames_per_token*patch*patch*3]
torch::Tensor patchify_video(const torch::Tensor& video, int patch, int frames_per_token);
torch::Tensor unpatchify_video(const torch::Tensor& tokens, int frames, int height, int width, int patch,
                               int frames_per_token);

}  // namespace opsis::mini
