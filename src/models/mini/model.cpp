#include "models/mini/model.hpp"

#include <cctype>
#include <cmath>

namespace opsis::mini {
namespace F = torch::nn::functional;
using torch::indexing::Slice;


torch::Tensor text_tokens(const std::vector<std::string>& texts, int max_bytes) {
  int64_t longest = 1;
  for (const auto& t : texts) longest = std::max<int64_t>(longest, std::min<int64_t>(int64_t(t.size()), max_bytes));
  auto tokens = torch::zeros({int64_t(texts.size()), longest}, torch::kInt64);
  auto acc = tokens.accessor<int64_t, 2>();
  for (size_t b = 0; b < texts.size(); ++b)
    for (int64_t i = 0; i < std::min<int64_t>(int64_t(texts[b].size()), longest); ++i) {
      unsigned char ch = static_cast<unsigned char>(texts[b][size_t(i)]);
      if (ch >= 'A' && ch <= 'Z') ch = static_cast<unsigned char>(ch - 'A' + 'a');
      acc[int64_t(b)][i] = int64_t(ch) + 1;
    }
  return tokens;
}

torch::Tensor text_word_tokens(const std::vector<std::string>& texts, int max_bytes, int buckets) {
  auto bytes = text_tokens(texts, max_bytes);  // for the shape
  auto words = torch::zeros_like(bytes);
  if (buckets < 2) return words;
  auto acc = words.accessor<int64_t, 2>();
  const int64_t L = bytes.size(1);
  auto is_word = [](unsigned char ch) { return std::isalnum(ch) || ch >= 0x80; };
  for (size_t b = 0; b < texts.size(); ++b) {
    const std::string& text = texts[b];
    const int64_t n = std::min<int64_t>(int64_t(text.size()), L);
    for (int64_t i = 0; i < n;) {
      if (!is_word(static_cast<unsigned char>(text[size_t(i)]))) {
        ++i;
        continue;
      }
      int64_t end = i;
      uint32_t h = 2166136261u;  // FNV-1a of the lower-cased word
      while (end < int64_t(text.size()) && is_word(static_cast<unsigned char>(text[size_t(end)]))) {
        h = (h ^ static_cast<unsigned char>(std::tolower(static_cast<unsigned char>(text[size_t(end)])))) * 16777619u;
        ++end;
      }
      const int64_t bucket = 1 + int64_t(h % uint32_t(buckets - 1));
      for (int64_t j = i; j < std::min(end, n); ++j) acc[int64_t(b)][j] = bucket;
      i = end;
    }
  }
  return words;
}

int phoneme_bucket(const std::string& phoneme, int buckets) {
  uint32_t h = 2166136261u;  // FNV-1a
  for (unsigned char ch : phoneme) h = (h ^ ch) * 16777619u;
  return 1 + int(h % uint32_t(buckets - 1));
}

torch::Tensor patchify_video(const torch::Tensor& video, int patch, int frames_per_token) {
  const int64_t B = video.size(0), Fr = video.size(1), H = video.size(2), W = video.size(3);
  const int64_t T = Fr / frames_per_token, Hp = H / patch, Wp = W / patch;
  return video.reshape({B, T, frames_per_token, Hp, patch, Wp, patch, 3})
      .permute({0, 1, 3, 5, 2, 4, 6, 7})
      .reshape({B, T * Hp * Wp, int64_t(frames_per_token) * patch * patch * 3});
}

torch::Tensor unpatchify_video(const torch::Tensor& tokens, int frames, int height, int width, int patch,
                               int frames_per_token) {
  const int64_t B = tokens.size(0), T = frames / frames_per_token, Hp = height / patch, Wp = width / patch;
  return tokens.reshape({B, T, Hp, Wp, frames_per_token, patch, patch, 3})
      .permute({0, 1, 4, 2, 5, 3, 6, 7})
      .reshape({B, frames, height, width, 3});
}

namespace {

torch::nn::Linear linear(int in, int out, bool zero = false) {
  auto l = torch::nn::Linear(torch::nn::LinearOptions(in, out));
  if (zero) {
    torch::NoGradGuard no_grad;
    l->weight.zero_();
    l->bias.zero_();
  }
  return l;
}
torch::nn::LayerNorm affine_norm(int d) { return torch::nn::LayerNorm(torch::nn::LayerNormOptions({d}).eps(1e-6)); }

// x * (1 + scale) + shift with [B, d] modulation broadcast over tokens.
torch::Tensor modulate(const torch::Tensor& x, const torch::Tensor& shift, const torch::Tensor& scale) {
  return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1);
}

}  // namespace


TextLayerImpl::TextLayerImpl(int d, int heads, int mlp_ratio) {
  norm1 = register_module("norm1", affine_norm(d));
  norm2 = register_module("norm2", affine_norm(d));
  attn = register_module("attn", Attention(d, heads));
  mlp_in = register_module("mlp_in", linear(d, d * mlp_ratio));
  mlp_out = register_module("mlp_out", linear(d * mlp_ratio, d));
}

torch::Tensor TextLayerImpl::forward(torch::Tensor x, const torch::Tensor& mask) {
  auto h = norm1(x);
  x = x + attn(h, h, mask);
  return x + mlp_out(F::gelu(mlp_in(norm2(x))));
}

StreamBlockImpl::StreamBlockImpl(int d, int heads, int mlp_ratio) {
  modulation = register_module("modulation", linear(d, 6 * d, /*zero=*/true));
  self_attn = register_module("self_attn", Attention(d, heads));
  context_attn = register_module("context_attn", Attention(d, heads));
  cross_modal = register_module("cross_modal", Attention(d, heads));
  context_norm = register_module("context_norm", affine_norm(d));
  cross_norm = register_module("cross_norm", affine_norm(d));
  other_norm = register_module("other_norm", affine_norm(d));
  mlp_in = register_module("mlp_in", linear(d, d * mlp_ratio));
  mlp_out = register_module("mlp_out", linear(d * mlp_ratio, d));
}

torch::Tensor StreamBlockImpl::forward(torch::Tensor x, const torch::Tensor& other, const torch::Tensor& c,
                                       const Context& context) {
  const int64_t d = x.size(2);
  auto m = modulation(F::silu(c)).split(d, -1);  // 6 x [B, d]
  auto h = modulate(F::layer_norm(x, F::LayerNormFuncOptions({d}).eps(1e-6)), m[0], m[1]);
  x = x + m[2].unsqueeze(1) * self_attn(h, h);
  x = x + context_attn(context_norm(x), context.tokens, context.mask);
  x = x + cross_modal(cross_norm(x), other_norm(other));
  h = modulate(F::layer_norm(x, F::LayerNormFuncOptions({d}).eps(1e-6)), m[3], m[4]);
  return x + m[5].unsqueeze(1) * mlp_out(F::gelu(mlp_in(h)));
}

JointBlockImpl::JointBlockImpl(int d, int heads, int mlp_ratio) {
  video = register_module("video", StreamBlock(d, heads, mlp_ratio));
  audio = register_module("audio", StreamBlock(d, heads, mlp_ratio));
}

MiniModelImpl::MiniModelImpl(const MiniConfig& c) : config(c) {
  const int d = c.d_model;
  text_embed = register_module("text_embed", torch::nn::Embedding(257, d));
  text_position = register_module("text_position", torch::nn::Embedding(c.max_text_bytes, d));
  if (c.word_buckets > 0) {
    word_embed = register_module("word_embed", torch::nn::Embedding(c.word_buckets, d));
    torch::NoGradGuard no_grad;
    word_embed->weight.normal_(0.0, 0.1);
    word_embed->weight[0].zero_();
  }
  text_layers = register_module("text_layers", torch::nn::ModuleList());
  for (int i = 0; i < c.text_layers; ++i) text_layers->push_back(TextLayer(d, c.heads, c.mlp_ratio));
  text_norm = register_module("text_norm", affine_norm(d));
  text_pool = register_module("text_pool", linear(d, d));
  null_token = register_parameter("null_token", torch::randn({1, 1, d}) * 0.02);
  const int identity_tokens = (c.identity_size / c.patch) * (c.identity_size / c.patch);
  identity_embed = register_module("identity_embed", linear(c.patch * c.patch * 3, d));
  identity_position = register_parameter("identity_position", torch::randn({1, identity_tokens, d}) * 0.02);
  identity_layer = register_module("identity_layer", TextLayer(d, c.heads, c.mlp_ratio));
  phoneme_embed = register_module("phoneme_embed", torch::nn::Embedding(c.phoneme_buckets, d));
  viseme_embed = register_module("viseme_embed", torch::nn::Embedding(8, d));
  openness_embed = register_module("openness_embed", linear(1, d));
  first_frame_embed = register_module("first_frame_embed", linear(c.patch * c.patch * 3, d));
  first_frame_flag = register_parameter("first_frame_flag", torch::zeros({d}));
  time_mlp = register_module("time_mlp", torch::nn::Sequential(linear(256, d), torch::nn::SiLU(), linear(d, d)));
  video_in = register_module("video_in", linear(c.frames_per_token * c.patch * c.patch * 3, d));
  audio_in = register_module("audio_in", linear(c.audio_patch, d));
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (int i = 0; i < c.layers; ++i) blocks->push_back(JointBlock(d, c.heads, c.mlp_ratio));
  video_final_mod = register_module("video_final_mod", linear(d, 2 * d, true));
  audio_final_mod = register_module("audio_final_mod", linear(d, 2 * d, true));
  video_out = register_module("video_out", linear(d, c.frames_per_token * c.patch * c.patch * 3, true));
  audio_out = register_module("audio_out", linear(d, c.audio_patch, true));
  if (c.layout_grid > 0) layout = register_module("layout", linear(d, 3 * c.layout_grid * c.layout_grid, true));
}

Context MiniModelImpl::encode(const ConditionInputs& in) {
  const MiniConfig& c = config;
  const int64_t B = in.text.size(0), L = in.text.size(1), d = c.d_model;
  auto device = null_token.device();
  // text: [B, L, d]
  auto text_mask = in.text.gt(0);
  auto positions = torch::arange(L, torch::TensorOptions().dtype(torch::kInt64).device(device));
  auto text = text_embed(in.text) + text_position(positions).unsqueeze(0);
  if (word_embed && in.text_words.defined()) text = text + word_embed(in.text_words);
  for (const auto& layer : *text_layers) text = layer->as<TextLayer>()->forward(text, text_mask.logical_or(positions.eq(0).unsqueeze(0)));
  text = text_norm(text);
  auto text_maskf = text_mask.to(torch::kFloat32).unsqueeze(-1);
  auto pooled = text_pool((text * text_maskf).sum(1) / text_maskf.sum(1).clamp_min(1.0));

  // identity: [B, S, S, 3] -> [B, (S/p)^2, d]
  const int64_t S = c.identity_size, g = S / c.patch;
  auto id_patches = in.identity.reshape({B, g, c.patch, g, c.patch, 3}).permute({0, 1, 3, 2, 4, 5}).reshape({B, g * g, c.patch * c.patch * 3});
  auto identity = identity_layer->forward(identity_embed(id_patches) + identity_position, torch::Tensor());
  auto identity_mask = in.has_identity.gt(0.5).unsqueeze(1).expand({B, g * g});

  // phonemes: [B, P, d], time embedding on the first d/2 features like the streams
  auto phonemes = phoneme_embed(in.phoneme_ids) + viseme_embed(in.phoneme_visemes.clamp(0, 7)) +
                  openness_embed(in.phoneme_openness.unsqueeze(-1));
  const int64_t P = in.phoneme_ids.size(1);
  auto time_offset = in.time_offset.defined() ? in.time_offset.to(device) : torch::zeros({B}, null_token.options());
  auto time_features = sinusoidal(in.phoneme_times + time_offset.unsqueeze(1), int(d / 2), 0.02, 60.0);
  phonemes = phonemes + torch::cat({time_features, torch::zeros({B, P, d - d / 2}, time_features.options())}, -1);
  auto phoneme_mask = in.phoneme_ids.gt(0);

  Context ctx;
  ctx.tokens = torch::cat({null_token.expand({B, 1, d}), text, identity, phonemes}, 1);
  ctx.mask = torch::cat({torch::ones({B, 1}, text_mask.options()), text_mask, identity_mask, phoneme_mask}, 1);
  ctx.pooled = pooled;
  ctx.time_offset = time_offset;
  // first frame: [B, Hpad, Wpad, 3] -> [B, Hp*Wp, d]
  const int64_t Hp = in.first_frame.size(1) / c.patch, Wp = in.first_frame.size(2) / c.patch;
  auto ff = in.first_frame.reshape({B, Hp, c.patch, Wp, c.patch, 3}).permute({0, 1, 3, 2, 4, 5}).reshape({B, Hp * Wp, c.patch * c.patch * 3});
  ctx.first_frame = (first_frame_embed(ff) + first_frame_flag) * in.has_first_frame.view({B, 1, 1});
  return ctx;
}

std::pair<torch::Tensor, torch::Tensor> MiniModelImpl::forward(const torch::Tensor& video, const torch::Tensor& audio,
                                                               const torch::Tensor& t, const Context& context) {
  const MiniConfig& c = config;
  const int64_t B = video.size(0), Fr = video.size(1), H = video.size(2), W = video.size(3), d = c.d_model;
  const int64_t T = Fr / c.frames_per_token, Hp = H / c.patch, Wp = W / c.patch, N = audio.size(1) / c.audio_patch;
  auto options = video.options();

  // video tokens [B, T*Hp*Wp, d]: time in seconds (d/2 features) + row (d/4) + column (d/4)
  auto x = video_in(patchify_video(video, c.patch, c.frames_per_token));
  // frame_times: [B, T] on the clip clock
  auto frame_times = (torch::arange(T, options) * c.frames_per_token + 0.5 * (c.frames_per_token - 1)) / c.fps;
  frame_times = frame_times.unsqueeze(0) + context.time_offset.view({B, 1});
  auto time_part = sinusoidal(frame_times, int(d / 2), 0.02, 60.0).view({B, T, 1, 1, d / 2}).expand({B, T, Hp, Wp, d / 2});
  const int64_t dr = d / 4, dc = d - d / 2 - d / 4;
  auto row_part = sinusoidal(torch::arange(Hp, options), int(dr), 2.0, 64.0).view({1, 1, Hp, 1, dr}).expand({B, T, Hp, Wp, dr});
  auto col_part = sinusoidal(torch::arange(Wp, options), int(dc), 2.0, 64.0).view({1, 1, 1, Wp, dc}).expand({B, T, Hp, Wp, dc});
  x = x + torch::cat({time_part, row_part, col_part}, -1).reshape({B, T * Hp * Wp, d});
  // first-frame conditioning lands on the first latent frame's tokens
  auto first = torch::cat({context.first_frame, torch::zeros({B, (T - 1) * Hp * Wp, d}, options)}, 1);
  x = x + first;

  // audio tokens [B, N, d]: same time features
  auto a = audio_in(audio.view({B, N, c.audio_patch}));
  auto audio_times = ((torch::arange(N, options) + 0.5) * c.audio_patch / c.sample_rate).unsqueeze(0) + context.time_offset.view({B, 1});
  a = a + torch::cat({sinusoidal(audio_times, int(d / 2), 0.02, 60.0), torch::zeros({B, N, d - d / 2}, options)}, -1);

  // shared conditioning vector [B, d]
  auto cond = time_mlp->forward<torch::Tensor>(sinusoidal(t * 1000.0, 256, 1.0, 10000.0)) + context.pooled;

  for (const auto& module : *blocks) {
    auto* block = module->as<JointBlock>();
    auto x_next = block->video->forward(x, a, cond, context);
    a = block->audio->forward(a, x, cond, context);
    x = x_next;
  }
  auto vm = video_final_mod(F::silu(cond)).chunk(2, -1);
  auto am = audio_final_mod(F::silu(cond)).chunk(2, -1);
  auto v_tokens = video_out(modulate(F::layer_norm(x, F::LayerNormFuncOptions({d}).eps(1e-6)), vm[0], vm[1]));
  auto a_tokens = audio_out(modulate(F::layer_norm(a, F::LayerNormFuncOptions({d}).eps(1e-6)), am[0], am[1]));
  // The network predicts the clean signal x0 and the velocity follows from it:
  // v = (x_t - x0) / t. A 1536-value patch cannot pass through a d-wide token, so a network
  // asked for v directly (which is mostly the noise itself) cannot reproduce per-pixel noise and
  // its samples stay noisy; x0 lies near a low-dimensional manifold and fits (Li & He 2025, "JiT").
  auto x0_video = unpatchify_video(v_tokens, int(Fr), int(H), int(W), c.patch, c.frames_per_token);
  if (layout) {
    // [B, 3 g^2] -> [B, 3, g, g] -> bilinear to [B, 3, H, W] -> [B, 1, H, W, 3], every frame
    const int64_t g = c.layout_grid;
    auto coarse = layout(context.pooled).view({B, 3, g, g});
    auto full = F::interpolate(coarse, F::InterpolateFuncOptions().size(std::vector<int64_t>{H, W}).mode(torch::kBilinear).align_corners(false));
    x0_video = x0_video + full.permute({0, 2, 3, 1}).unsqueeze(1);
  }
  auto x0_audio = a_tokens.reshape({B, N * c.audio_patch});
  auto inv_t = 1.0 / t.clamp_min(0.05);
  return {(video - x0_video) * inv_t.view({B, 1, 1, 1, 1}), (audio - x0_audio) * inv_t.view({B, 1})};
}

}  // namespace opsis::mini
