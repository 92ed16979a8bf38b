#include "models/mini2/generator.hpp"

#include <cmath>

#include "models/mini2/conditioning.hpp"
#include "models/mini2/video_autoencoder.hpp"

namespace opsis::mini2 {

namespace nn = torch::nn;

namespace {
constexpr int kTimeFeatures = 32;

torch::Tensor modulate(const torch::Tensor& x, const torch::Tensor& shift, const torch::Tensor& scale) {
  return x * (1 + scale) + shift;
}

nn::LayerNorm affine_norm(int d) { return nn::LayerNorm(nn::LayerNormOptions({d}).eps(1e-6)); }

// [..., d] broadcast over the middle dimensions of x ([B, ..., d]) from c-derived [B, d].
torch::Tensor expand_like(const torch::Tensor& v, const torch::Tensor& x) {
  std::vector<int64_t> shape(size_t(x.dim()), 1);
  shape.front() = v.size(0);
  shape.back() = v.size(1);
  return v.view(shape);
}
}  // namespace



GenBlockImpl::GenBlockImpl(int d, int heads, int mlp_ratio, bool temporal_) : temporal(temporal_) {
  video_mod = register_module("video_mod", nn::Linear(d, 6 * d));
  audio_mod = register_module("audio_mod", nn::Linear(d, 6 * d));
  video_self = register_module("video_self", GenAttention(d, heads));
  audio_self = register_module("audio_self", GenAttention(d, heads));
  video_context = register_module("video_context", GenAttention(d, heads));
  audio_context = register_module("audio_context", GenAttention(d, heads));
  video_from_audio = register_module("video_from_audio", GenAttention(d, heads));
  audio_from_video = register_module("audio_from_video", GenAttention(d, heads));
  video_norm_ctx = register_module("video_norm_ctx", affine_norm(d));
  audio_norm_ctx = register_module("audio_norm_ctx", affine_norm(d));
  video_norm_cross = register_module("video_norm_cross", affine_norm(d));
  audio_norm_cross = register_module("audio_norm_cross", affine_norm(d));
  context_norm = register_module("context_norm", affine_norm(d));
  video_mlp_in = register_module("video_mlp_in", nn::Linear(d, mlp_ratio * d));
  video_mlp_out = register_module("video_mlp_out", nn::Linear(mlp_ratio * d, d));
  audio_mlp_in = register_module("audio_mlp_in", nn::Linear(d, mlp_ratio * d));
  audio_mlp_out = register_module("audio_mlp_out", nn::Linear(mlp_ratio * d, d));
  torch::NoGradGuard no_grad;
  // adaLN-zero: every residual branch starts closed.
  for (auto* m : {&video_mod, &audio_mod}) {
    (*m)->weight.zero_();
    (*m)->bias.zero_();
  }
  for (auto* a : {&video_context, &audio_context, &video_from_audio, &audio_from_video}) (*a)->o->weight.mul_(0.1);
}

std::pair<torch::Tensor, torch::Tensor> GenBlockImpl::forward(torch::Tensor video, torch::Tensor audio, const torch::Tensor& c,
                                                              const GeneratorContext& context) {
  const int64_t B = video.size(0), T = video.size(1), S = video.size(2), d = video.size(3), A = audio.size(1);
  auto vm = video_mod(torch::silu(c)).chunk(6, 1);  // each [B, d]
  auto am = audio_mod(torch::silu(c)).chunk(6, 1);
  auto norm = [&](const torch::Tensor& x) { return torch::layer_norm(x, {d}, {}, {}, 1e-6); };
  const auto memory = context_norm(context.tokens);

  // video self-attention: within each latent frame, or across frames for each cell
  {
    auto h = modulate(norm(video), expand_like(vm[0], video), expand_like(vm[1], video));
    torch::Tensor out;
    if (temporal) {
      auto seq = h.permute({0, 2, 1, 3}).reshape({B * S, T, d});
      out = video_self(seq, seq).view({B, S, T, d}).permute({0, 2, 1, 3});
    } else {
      auto seq = h.reshape({B * T, S, d});
      out = video_self(seq, seq).view({B, T, S, d});
    }
    video = video + expand_like(vm[2], video) * out;
  }
  {
    auto h = modulate(norm(audio), expand_like(am[0], audio), expand_like(am[1], audio));
    audio = audio + expand_like(am[2], audio) * audio_self(h, h);
  }
  // conditioning context
  auto flat_video = video.reshape({B, T * S, d});
  flat_video = flat_video + video_context(video_norm_ctx(flat_video), memory, context.mask);
  audio = audio + audio_context(audio_norm_ctx(audio), memory, context.mask);
  // cross-modal: video <- sound tokens; sound <- per-frame video summaries (both on the same clock)
  const auto video_summary = video_norm_cross(flat_video.view({B, T, S, d}).mean(2));  // [B, T, d]
  const auto audio_keys = audio_norm_cross(audio);
  flat_video = flat_video + video_from_audio(video_norm_cross(flat_video), audio_keys);
  audio = audio + audio_from_video(audio_norm_cross(audio), video_summary);
  video = flat_video.view({B, T, S, d});
  // MLPs
  {
    auto h = modulate(norm(video), expand_like(vm[3], video), expand_like(vm[4], video));
    video = video + expand_like(vm[5], video) * video_mlp_out(torch::gelu(video_mlp_in(h)));
  }
  {
    auto h = modulate(norm(audio), expand_like(am[3], audio), expand_like(am[4], audio));
    audio = audio + expand_like(am[5], audio) * audio_mlp_out(torch::gelu(audio_mlp_in(h)));
  }
  (void)A;
  return {video, audio};
}

GeneratorImpl::GeneratorImpl(const GeneratorConfig& c, int channels) : config(c), latent_channels(channels) {
  const int d = c.d_model;
  const int audio_values = 64 * 4;  // mels x frames per token (SoundConfig defaults; checked by the backend)
  slot_embed = register_module("slot_embed", nn::Embedding(nn::EmbeddingOptions(slot_vocabulary_size(c), d).padding_idx(0)));
  slot_time = register_module("slot_time", nn::Linear(2 * kTimeFeatures, d));
  slot_value = register_module("slot_value", nn::Linear(1, d));
  const int patch_values = c.identity_patch * c.identity_patch * 3;
  const int patches = (c.identity_size / c.identity_patch) * (c.identity_size / c.identity_patch);
  identity_embed = register_module("identity_embed", nn::Linear(patch_values, d));
  identity_position = register_parameter("identity_position", torch::randn({1, patches, d}) * 0.02);
  context_pool = register_module("context_pool", nn::Linear(d, d));
  time_mlp = register_module("time_mlp", nn::Sequential(nn::Linear(kTimeFeatures, d), nn::SiLU(), nn::Linear(d, d)));
  video_in = register_module("video_in", nn::Linear(2 * channels + 1, d));
  audio_in = register_module("audio_in", nn::Linear(audio_values, d));
  cell_position = register_module("cell_position", nn::Linear(2 * kTimeFeatures, d));
  blocks = register_module("blocks", nn::ModuleList());
  for (int i = 0; i < c.layers; ++i) blocks->push_back(GenBlock(d, c.heads, c.mlp_ratio, i % 2 == 1));
  video_final_mod = register_module("video_final_mod", nn::Linear(d, 2 * d));
  audio_final_mod = register_module("audio_final_mod", nn::Linear(d, 2 * d));
  video_out = register_module("video_out", nn::Linear(d, channels));
  audio_out = register_module("audio_out", nn::Linear(d, audio_values));
  cell_head = register_module("cell_head", nn::Linear(d, kCellClasses));
  camera_head = register_module("camera_head", nn::Linear(d, 5));
  impact_head = register_module("impact_head", nn::Linear(d, 1));
  audio_mean = register_parameter("audio_mean", torch::zeros({audio_values}), false);
  audio_std = register_parameter("audio_std", torch::ones({audio_values}), false);
  torch::NoGradGuard no_grad;
  for (auto* m : {&video_final_mod, &audio_final_mod}) {
    (*m)->weight.zero_();
    (*m)->bias.zero_();
  }
}

GeneratorContext GeneratorImpl::encode(const ContextInputs& in) {
  const int64_t B = in.ids.size(0);
  auto tokens = slot_embed(in.ids).sum(2);  // [B, L, d]
  auto time_features = torch::cat({layers::sinusoidal(in.times.select(2, 0), kTimeFeatures, 0.05, 60.0),
                                   layers::sinusoidal(in.times.select(2, 1), kTimeFeatures, 0.05, 60.0)}, -1);
  tokens = tokens + slot_time(time_features) * in.has_time.unsqueeze(-1) + slot_value(in.values);
  // Pooled: the mean of the tokens present (the slots decide the scene as a whole).
  auto m = in.mask.to(torch::kFloat32).unsqueeze(-1);
  auto pooled = context_pool((tokens * m).sum(1) / m.sum(1).clamp_min(1));
  // Identity portrait: patches -> tokens (masked out when absent).
  const int S = config.identity_size, P = config.identity_patch, n = S / P;
  auto patches = in.identity.view({B, n, P, n, P, 3}).permute({0, 1, 3, 2, 4, 5}).reshape({B, n * n, P * P * 3});
  auto identity = identity_embed(patches) + identity_position;
  auto identity_mask = (in.has_identity > 0.5).view({B, 1}).expand({B, n * n});
  return {torch::cat({tokens, identity}, 1), torch::cat({in.mask, identity_mask}, 1), pooled};
}

GeneratorOutputs GeneratorImpl::forward(const GeneratorInputs& in, const GeneratorContext& context) {
  const int64_t B = in.video.size(0), T = in.video.size(1), C = in.video.size(2), h = in.video.size(3), w = in.video.size(4);
  const int64_t A = in.audio.size(1), S = h * w;
  const auto options = in.video.options();
  // video tokens: noisy latent, the first-frame condition on latent frame 0, its flag
  auto first = torch::zeros({B, T, C, h, w}, options);
  auto flag = torch::zeros({B, T, 1, h, w}, options);
  first.select(1, 0).copy_(in.first_latent * in.has_first.view({B, 1, 1, 1}));
  flag.select(1, 0).copy_(in.has_first.view({B, 1, 1}).expand({B, h, w}).unsqueeze(1));
  auto v = torch::cat({in.video, first, flag}, 2).permute({0, 1, 3, 4, 2}).reshape({B, T, S, 2 * C + 1});
  v = video_in(v);
  // positions: the cell's centre (x, y in [-1, 1], also right for 9:16 and square) and time in seconds
  auto coordinates = cell_coordinates(h, w, in.video.device()).view({2, S}).transpose(0, 1);  // [S, 2]
  v = v + cell_position(torch::cat({layers::sinusoidal(coordinates.select(1, 0), kTimeFeatures, 0.25, 8.0),
                                    layers::sinusoidal(coordinates.select(1, 1), kTimeFeatures, 0.25, 8.0)}, -1)).view({1, 1, S, -1});
  const double latent_seconds = 2.0 / 24.0, audio_seconds = 0.04;
  auto frame_times = in.time_offset.view({B, 1}) + torch::arange(T, options).view({1, T}) * latent_seconds + latent_seconds / 2;
  auto token_times = in.time_offset.view({B, 1}) + torch::arange(A, options).view({1, A}) * audio_seconds + audio_seconds / 2;
  const int d = config.d_model;
  auto time_embedding = [&](const torch::Tensor& t) {  // sinusoid in seconds, d features, zero-padded
    return layers::sinusoidal(t, d, 0.08, 60.0);
  };
  v = v + time_embedding(frame_times).unsqueeze(2);
  auto a = audio_in((in.audio)) + time_embedding(token_times);
  auto c = time_mlp->forward(layers::sinusoidal(in.t * 1000.0, kTimeFeatures, 1.0, 10000.0)) + context.pooled;

  GeneratorOutputs out;
  for (size_t i = 0; i < blocks->size(); ++i) {
    std::tie(v, a) = blocks[i]->as<GenBlockImpl>()->forward(v, a, c, context);
    if (int(i) + 1 == config.aux_layer) {
      out.cell_logits = cell_head(v).view({B, T, h, w, kCellClasses});
      out.camera = camera_head(v.mean(2));
      out.impact_logits = impact_head(a).squeeze(-1);
    }
  }
  auto vf = video_final_mod(torch::silu(c)).chunk(2, 1);
  auto af = audio_final_mod(torch::silu(c)).chunk(2, 1);
  auto norm = [&](const torch::Tensor& x) { return torch::layer_norm(x, {d}, {}, {}, 1e-6); };
  v = video_out(modulate(norm(v), expand_like(vf[0], v), expand_like(vf[1], v)));  // [B, T, S, C]
  a = audio_out(modulate(norm(a), expand_like(af[0], a), expand_like(af[1], a)));
  out.video = v.view({B, T, h, w, C}).permute({0, 1, 4, 2, 3});
  out.audio = a;
  return out;
}

double generator_forward_flops(const GeneratorConfig& g, int latent_channels, int audio_values, double T, double S, double A,
                               double Lc) {
  const double V = T * S, d = g.d_model, m = g.mlp_ratio;
  double total = 0;
  for (int layer = 0; layer < g.layers; ++layer) {
    const double self_keys = layer % 2 ? T : S;  // spatial and temporal attention alternate
    // video: qkv+out (4), context k/v... (2), cross-modal (2), MLP (2m); attention scores and values
    total += 2 * V * d * d * (4 + 2 + 2 + 2 * m) + 2 * (Lc + A) * 2 * d * d + 4 * V * (self_keys + Lc + A) * d;
    total += 2 * A * d * d * (4 + 2 + 2 + 2 * m) + 2 * (Lc + T) * 2 * d * d + 4 * A * (A + Lc + T) * d;
  }
  return total + 2 * V * d * (2 * latent_channels + 1 + latent_channels) + 2 * A * d * 2 * audio_values;
}

}  // namespace opsis::mini2
