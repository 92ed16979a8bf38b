#include "models/ltx2/text_projection.hpp"

#include <cmath>
#include <limits>

#include "core/error.hpp"
#include "models/ltx2/modules.hpp"

namespace opsis::ltx2 {
namespace {

constexpr int64_t kRegisters = 128;  // learnable registers per connector (fixed in the reference)
constexpr double kEps = 1e-6;

struct Connector {
  torch::Tensor registers;  // [128, D]
  std::vector<Attention> attention;
  std::vector<FeedForward> ff;
  int64_t dim = 0, heads = 0;

  static Connector load(const TensorSource& src, const std::string& p, int64_t heads, int64_t head_dim, int layers,
                        bool gated, bool ff_bias) {
    Connector c;
    c.dim = heads * head_dim;
    c.heads = heads;
    c.registers = src.get(p + "learnable_registers", {kRegisters, c.dim});
    for (int i = 0; i < layers; ++i) {
      const std::string b = p + "transformer_1d_blocks." + std::to_string(i) + ".";
      c.attention.push_back(Attention::load(src, b + "attn1", c.dim, c.dim, heads, head_dim, gated, kEps));
      c.ff.push_back(FeedForward::load(src, b + "ff", c.dim, ff_bias));
    }
    return c;
  }

  // x [B, S, D] with the valid tokens first; valid [B, S, 1] float.
  torch::Tensor operator()(torch::Tensor x, const torch::Tensor& valid, const Rope& rope) const {
    const int64_t S = x.size(1);
    torch::Tensor tiled = registers.repeat({S / kRegisters, 1}).unsqueeze(0);
    x = valid * x + (1 - valid) * tiled;
    for (size_t i = 0; i < attention.size(); ++i) {
      x = x + attention[i](rms_norm(x, kEps), {}, rope);
      x = x + ff[i](rms_norm(x, kEps));
    }
    return rms_norm(x, kEps);
  }
};

}  // namespace

struct TextProjection::Impl {
  TransformerConfig config;
  TextEncoderSizes text;
  bool v2 = false;
  Linear aggregate, video_aggregate, audio_aggregate;
  Connector video, audio;
};

TextProjection::TextProjection(const TransformerConfig& c, const TextEncoderSizes& text,
                               const safetensors::TensorStore& file, const std::string& path, torch::Device device,
                               WeightPrecision precision)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.config = c;
  m.text = text;
  m.v2 = c.caption_proj_before_connector;
  TensorSource src(file, path, device, precision);
  const int64_t flat = int64_t(text.hidden) * text.hidden_states;
  if (m.v2) {
    m.video_aggregate = Linear::load(src, "text_embedding_projection.video_aggregate_embed", flat, c.video_dim());
    m.audio_aggregate = Linear::load(src, "text_embedding_projection.audio_aggregate_embed", flat, c.audio_dim());
  } else {
    m.aggregate = Linear::load(src, "text_embedding_projection.aggregate_embed", flat, text.hidden, false);
  }
  const std::string p = "model.diffusion_model.";
  m.video = Connector::load(src, p + "video_embeddings_connector.", c.connector_heads, c.connector_head_dim,
                            c.connector_layers, c.connector_gated_attention, c.connector_ff_bias);
  m.audio = Connector::load(src, p + "audio_embeddings_connector.", c.audio_connector_heads,
                            c.audio_connector_head_dim, c.audio_connector_layers, c.connector_gated_attention,
                            c.connector_ff_bias);
}

TextProjection::~TextProjection() = default;
TextProjection::TextProjection(TextProjection&&) noexcept = default;
TextProjection& TextProjection::operator=(TextProjection&&) noexcept = default;

TextEncoding TextProjection::forward(const torch::Tensor& hidden_states, const torch::Tensor& attention_mask,
                                     std::map<std::string, torch::Tensor>* trace) const {
  const Impl& m = *impl_;
  torch::NoGradGuard no_grad;
  torch::Tensor hs = hidden_states.to(torch::kFloat32);
  const int64_t B = hs.size(0), S = hs.size(1), Dg = hs.size(2), L = hs.size(3);
  if (Dg != m.text.hidden || L != m.text.hidden_states)
    throw InvalidArgument("text", "LTX-2 text projection: hidden states [" + std::to_string(Dg) + " x " +
                                      std::to_string(L) + "], the weights expect [" + std::to_string(m.text.hidden) +
                                      " x " + std::to_string(m.text.hidden_states) + "]");
  if (S % kRegisters != 0)
    throw InvalidArgument("text", "LTX-2 text projection: sequence length " + std::to_string(S) +
                                      " is not a multiple of 128");
  torch::Tensor tokens = attention_mask.to(torch::kFloat32).unsqueeze(-1);  // [B, S, 1]

  // Feature extractor.
  torch::Tensor features_video, features_audio;
  if (m.v2) {
    torch::Tensor normed = hs * torch::rsqrt(hs.pow(2).mean(2, true) + kEps);
    torch::Tensor x = normed.reshape({B, S, Dg * L}) * tokens;
    features_video = m.video_aggregate(x * std::sqrt(double(m.config.video_dim()) / double(Dg)));
    features_audio = m.audio_aggregate(x * std::sqrt(double(m.config.audio_dim()) / double(Dg)));
  } else {
    torch::Tensor valid = attention_mask.to(torch::kBool).view({B, S, 1, 1});
    torch::Tensor count = attention_mask.to(torch::kFloat32).sum(1).view({B, 1, 1, 1});
    torch::Tensor mean = (hs * valid).sum({1, 2}, true) / (count * double(Dg) + kEps);
    const double inf = std::numeric_limits<double>::infinity();
    torch::Tensor low = hs.masked_fill(~valid, inf).amin({1, 2}, true);
    torch::Tensor high = hs.masked_fill(~valid, -inf).amax({1, 2}, true);
    torch::Tensor x = (8 * (hs - mean) / (high - low + kEps)).reshape({B, S, Dg * L}) * tokens;
    features_video = features_audio = m.aggregate(x);
  }
  if (trace) {
    (*trace)["features_video"] = features_video;
    (*trace)["features_audio"] = features_audio;
  }

  // Valid tokens first (stable), registers in place of the padding, then the connectors.
  torch::Tensor order = std::get<1>(torch::sort(attention_mask.to(torch::kInt32), /*stable=*/true, 1,
                                                /*descending=*/true));
  torch::Tensor valid = attention_mask.gather(1, order).to(torch::kFloat32).unsqueeze(-1);
  auto gather = [&](const torch::Tensor& f) { return f.gather(1, order.unsqueeze(-1).expand_as(f)); };
  const TransformerConfig& c = m.config;
  RopeOptions rope{c.rope_theta, c.split_rope, c.float64_rope};
  torch::Tensor positions = torch::arange(S, hs.options()).view({1, 1, S});
  const std::vector<double> max_pos = {c.connector_max_pos.at(0)};
  TextEncoding out;
  out.video = m.video(gather(features_video), valid, rope_tables(positions, m.video.dim, max_pos, m.video.heads, rope));
  out.audio = m.audio(gather(features_audio), valid, rope_tables(positions, m.audio.dim, max_pos, m.audio.heads, rope));
  out.mask = torch::ones({B, S}, attention_mask.options().dtype(torch::kInt64));
  return out;
}

}  // namespace opsis::ltx2
