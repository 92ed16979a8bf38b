#include "models/ltx2/audio_vae.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <vector>

#include "core/error.hpp"
#include "models/ltx2/modules.hpp"

namespace opsis::ltx2 {
namespace {

namespace F = torch::nn::functional;

torch::Tensor pixel_norm(const torch::Tensor& x) { return x / torch::sqrt(x.pow(2).mean(1, true) + 1e-6); }

// CausalConv2d over [B, C, time, mel]: k - 1 rows of zeros before along time, mel padded symmetrically.
struct Conv2d {
  torch::Tensor weight, bias;
  int64_t k = 3;
  static Conv2d load(const TensorSource& src, const std::string& p, int64_t in, int64_t out, int64_t k) {
    return {src.get(p + ".conv.weight", {out, in, k, k}), src.get(p + ".conv.bias", {out}), k};
  }
  torch::Tensor operator()(const torch::Tensor& x) const {
    const int64_t left = (k - 1) / 2, right = (k - 1) - left;
    return torch::conv2d(F::pad(x, F::PadFuncOptions({left, right, k - 1, 0})), weight, bias);
  }
};

struct ResBlock {
  Conv2d conv1, conv2;
  std::optional<Conv2d> shortcut;
  static ResBlock load(const TensorSource& src, const std::string& p, int64_t in, int64_t out) {
    ResBlock r{Conv2d::load(src, p + ".conv1", in, out, 3), Conv2d::load(src, p + ".conv2", out, out, 3), {}};
    if (in != out) r.shortcut = Conv2d::load(src, p + ".nin_shortcut", in, out, 1);
    return r;
  }
  torch::Tensor operator()(torch::Tensor x) const {
    torch::Tensor h = conv1(torch::silu(pixel_norm(x)));
    h = conv2(torch::silu(pixel_norm(h)));
    if (shortcut) x = (*shortcut)(x);
    return x + h;
  }
};

struct AttnBlock {  // softmax attention over all time x mel positions, 1x1 convolutions
  torch::Tensor q_w, q_b, k_w, k_b, v_w, v_b, out_w, out_b;
  static AttnBlock load(const TensorSource& src, const std::string& p, int64_t ch) {
    AttnBlock a;
    auto get = [&](const char* n, torch::Tensor& w, torch::Tensor& b) {
      w = src.get(p + "." + n + ".weight", {ch, ch, 1, 1});
      b = src.get(p + "." + n + ".bias", {ch});
    };
    get("q", a.q_w, a.q_b);
    get("k", a.k_w, a.k_b);
    get("v", a.v_w, a.v_b);
    get("proj_out", a.out_w, a.out_b);
    return a;
  }
  torch::Tensor operator()(const torch::Tensor& x) const {
    torch::Tensor h = pixel_norm(x);
    torch::Tensor q = torch::conv2d(h, q_w, q_b), k = torch::conv2d(h, k_w, k_b), v = torch::conv2d(h, v_w, v_b);
    const int64_t B = q.size(0), C = q.size(1), H = q.size(2), W = q.size(3);
    torch::Tensor weights = torch::softmax(torch::matmul(q.view({B, C, -1}).transpose(1, 2), k.view({B, C, -1})) *
                                               std::pow(double(C), -0.5),
                                           -1);
    torch::Tensor o = torch::matmul(v.view({B, C, -1}), weights.transpose(1, 2)).view({B, C, H, W});
    return x + torch::conv2d(o, out_w, out_b);
  }
};

struct Level {
  std::vector<ResBlock> blocks;
  std::vector<AttnBlock> attn;  // empty, or one per res block
  std::optional<Conv2d> upsample;
};

}  // namespace

struct AudioDecoder::Impl {
  AudioVaeConfig config;
  torch::Tensor mean, std;
  Conv2d conv_in, conv_out;
  ResBlock mid_1, mid_2;
  std::optional<AttnBlock> mid_attn;
  std::vector<Level> levels;  // in run order: last level first
};

AudioDecoder::AudioDecoder(const AudioVaeConfig& a, const safetensors::TensorStore& file, const std::string& path,
                           torch::Device device)
    : impl_(std::make_unique<Impl>()) {
  if (!a.pixel_norm) throw InvalidArgument("weights", "LTX-2 audio VAE: group norm is not supported by this port yet");
  if (a.causality_axis != "height")
    throw InvalidArgument("weights", "LTX-2 audio VAE: causality axis \"" + a.causality_axis + "\" is not supported");
  Impl& m = *impl_;
  m.config = a;
  TensorSource src(file, path, device);
  const std::string p = "audio_vae.decoder";
  m.mean = src.get("audio_vae.per_channel_statistics.mean-of-means", {a.ch});
  m.std = src.get("audio_vae.per_channel_statistics.std-of-means", {a.ch});
  const int count = int(a.ch_mult.size());
  int64_t ch = int64_t(a.ch) * a.ch_mult.back();
  m.conv_in = Conv2d::load(src, p + ".conv_in", a.z_channels, ch, 3);
  m.mid_1 = ResBlock::load(src, p + ".mid.block_1", ch, ch);
  if (a.mid_block_attention) m.mid_attn = AttnBlock::load(src, p + ".mid.attn_1", ch);
  m.mid_2 = ResBlock::load(src, p + ".mid.block_2", ch, ch);
  int res = a.resolution >> (count - 1);
  for (int level = count - 1; level >= 0; --level) {
    const std::string q = p + ".up." + std::to_string(level);
    const int64_t out = int64_t(a.ch) * a.ch_mult[level];
    const bool attn = std::find(a.attn_resolutions.begin(), a.attn_resolutions.end(), res) != a.attn_resolutions.end();
    Level l;
    for (int j = 0; j <= a.num_res_blocks; ++j) {
      l.blocks.push_back(ResBlock::load(src, q + ".block." + std::to_string(j), ch, out));
      ch = out;
      if (attn) l.attn.push_back(AttnBlock::load(src, q + ".attn." + std::to_string(j), ch));
    }
    if (level != 0) {
      l.upsample = Conv2d::load(src, q + ".upsample.conv", ch, ch, 3);
      res *= 2;
    }
    m.levels.push_back(std::move(l));
  }
  m.conv_out = Conv2d::load(src, p + ".conv_out", ch, a.out_ch, 3);
}

AudioDecoder::~AudioDecoder() = default;
AudioDecoder::AudioDecoder(AudioDecoder&&) noexcept = default;
AudioDecoder& AudioDecoder::operator=(AudioDecoder&&) noexcept = default;

torch::Tensor AudioDecoder::forward(const torch::Tensor& latent) const {
  const Impl& m = *impl_;
  torch::NoGradGuard no_grad;
  torch::Tensor z = latent.to(torch::kFloat32);
  const int64_t B = z.size(0), Z = z.size(1), T = z.size(2), M = z.size(3);
  if (Z * M != m.config.ch)
    throw InvalidArgument("latent", "LTX-2 audio latent has " + std::to_string(Z) + " x " + std::to_string(M) +
                                        " features per frame, the statistics " + std::to_string(m.config.ch));
  // statistics act on the token layout [B, T, z * M] (index c * M + m)
  torch::Tensor tokens = z.permute({0, 2, 1, 3}).reshape({B, T, Z * M}) * m.std + m.mean;
  torch::Tensor x = tokens.view({B, T, Z, M}).permute({0, 2, 1, 3});
  x = m.conv_in(x);
  x = m.mid_1(x);
  if (m.mid_attn) x = (*m.mid_attn)(x);
  x = m.mid_2(x);
  for (const Level& l : m.levels) {
    for (size_t j = 0; j < l.blocks.size(); ++j) {
      x = l.blocks[j](x);
      if (!l.attn.empty()) x = l.attn[j](x);
    }
    if (l.upsample) {
      x = F::interpolate(x, F::InterpolateFuncOptions().scale_factor(std::vector<double>{2.0, 2.0}).mode(torch::kNearest));
      x = (*l.upsample)(x);
      x = x.narrow(2, 1, x.size(2) - 1);  // drop the first row along time
    }
  }
  x = m.conv_out(torch::silu(pixel_norm(x)));
  // to [B, out_ch, 4T - 3, mel_bins]: crop, or zero-pad what is short
  const int64_t frames = 4 * T - 3, bins = m.config.mel_bins;
  x = x.narrow(2, 0, std::min(frames, x.size(2))).narrow(3, 0, std::min(bins, x.size(3)));
  if (x.size(2) < frames || x.size(3) < bins)
    x = F::pad(x, F::PadFuncOptions({0, bins - x.size(3), 0, frames - x.size(2)}));
  return x;
}

}  // namespace opsis::ltx2
