#include "models/ltx2/video_vae.hpp"

#include <torch/torch.h>

#include <array>
#include <optional>
#include <vector>

#include "core/error.hpp"
#include "models/ltx2/modules.hpp"

namespace opsis::ltx2 {
namespace {

namespace F = torch::nn::functional;
using Stride = std::array<int64_t, 3>;  // time, height, width

[[noreturn]] void unsupported(const std::string& what) {
  throw InvalidArgument("weights", "LTX-2 video VAE: " + what + " is not supported by this port yet");
}

Stride stride_of(const std::string& name) {
  if (name.rfind("compress_all", 0) == 0) return {2, 2, 2};
  if (name.rfind("compress_space", 0) == 0) return {1, 2, 2};
  if (name.rfind("compress_time", 0) == 0) return {2, 1, 1};
  unsupported("block \"" + name + "\"");
}

int64_t product(const Stride& s) { return s[0] * s[1] * s[2]; }

torch::Tensor pixel_norm(const torch::Tensor& x) { return x / torch::sqrt(x.pow(2).mean(1, true) + 1e-8); }

// CausalConv3d, kernel 3: time padded by repeating frames (causal: the first twice in front;
// otherwise the first in front and the last behind), height/width by 1 with the padding mode.
struct Conv3d {
  torch::Tensor weight, bias;
  static Conv3d load(const TensorSource& src, const std::string& p, int64_t in, int64_t out) {
    return {src.get(p + ".conv.weight", {out, in, 3, 3, 3}), src.get(p + ".conv.bias", {out})};
  }
  torch::Tensor operator()(const torch::Tensor& x, bool causal, const std::string& mode) const {
    const int64_t frames = x.size(2);
    torch::Tensor first = x.narrow(2, 0, 1);
    torch::Tensor padded = causal ? torch::cat({first, first, x}, 2) : torch::cat({first, x, x.narrow(2, frames - 1, 1)}, 2);
    auto options = F::PadFuncOptions({1, 1, 1, 1, 0, 0});
    if (mode == "reflect") options.mode(torch::kReflect);
    else if (mode == "replicate") options.mode(torch::kReplicate);
    else if (mode != "zeros") unsupported("padding mode \"" + mode + "\"");
    return torch::conv3d(F::pad(padded, options), weight, bias);
  }
};

// "b c (d p1) (h p2) (w p3) -> b (c p1 p2 p3) d h w" and back.
torch::Tensor space_to_depth(const torch::Tensor& x, const Stride& s) {
  const int64_t b = x.size(0), c = x.size(1), d = x.size(2), h = x.size(3), w = x.size(4);
  return x.view({b, c, d / s[0], s[0], h / s[1], s[1], w / s[2], s[2]})
      .permute({0, 1, 3, 5, 7, 2, 4, 6})
      .reshape({b, c * product(s), d / s[0], h / s[1], w / s[2]});
}

torch::Tensor depth_to_space(const torch::Tensor& x, const Stride& s) {
  const int64_t b = x.size(0), c = x.size(1) / product(s), d = x.size(2), h = x.size(3), w = x.size(4);
  return x.view({b, c, s[0], s[1], s[2], d, h, w})
      .permute({0, 1, 5, 2, 6, 3, 7, 4})
      .reshape({b, c, d * s[0], h * s[1], w * s[2]});
}

struct TimeEmbedder {  // timestep_embedder.linear_1, SiLU, linear_2
  Linear linear_1, linear_2;
  static TimeEmbedder load(const TensorSource& src, const std::string& p, int64_t dim) {
    return {Linear::load(src, p + ".timestep_embedder.linear_1", 256, dim),
            Linear::load(src, p + ".timestep_embedder.linear_2", dim, dim)};
  }
  torch::Tensor operator()(const torch::Tensor& t) const { return linear_2(torch::silu(linear_1(timestep_features(t)))); }
};

// ResnetBlock3D (same width in and out; pixel norm), with timestep modulation when given.
struct ResBlock {
  Conv3d conv1, conv2;
  torch::Tensor table;  // [4, C] or undefined
  torch::Tensor operator()(const torch::Tensor& x, bool causal, const std::string& mode, const torch::Tensor& emb) const {
    const int64_t B = x.size(0), C = x.size(1);
    torch::Tensor h = pixel_norm(x);
    torch::Tensor rows;
    auto row = [&](int i) { return rows.select(1, i).view({B, C, 1, 1, 1}); };
    if (table.defined()) {
      rows = table.unsqueeze(0) + emb.view({B, 4, C});  // shift1, scale1, shift2, scale2
      h = h * (1 + row(1)) + row(0);
    }
    h = conv1(torch::silu(h), causal, mode);
    h = pixel_norm(h);
    if (table.defined()) h = h * (1 + row(3)) + row(2);
    h = conv2(torch::silu(h), causal, mode);
    return x + h;
  }
};

struct Block {
  enum Kind { Res, Down, Up } kind = Res;
  std::vector<ResBlock> res;
  std::optional<TimeEmbedder> time;  // res blocks of a timestep-conditioned decoder
  Conv3d conv;
  Stride stride{1, 1, 1};
  int64_t in = 0, multiplier = 1;
  bool residual = false;
};

Block res_block(const TensorSource& src, const std::string& p, int64_t ch, int layers, bool timestep) {
  Block b;
  b.kind = Block::Res;
  if (timestep) b.time = TimeEmbedder::load(src, p + ".time_embedder", 4 * ch);
  for (int j = 0; j < layers; ++j) {
    const std::string q = p + ".res_blocks." + std::to_string(j);
    ResBlock r{Conv3d::load(src, q + ".conv1", ch, ch), Conv3d::load(src, q + ".conv2", ch, ch), {}};
    if (timestep) r.table = src.get(q + ".scale_shift_table", {4, ch});
    b.res.push_back(std::move(r));
  }
  return b;
}

torch::Tensor run_res(const Block& b, torch::Tensor x, bool causal, const std::string& mode, const torch::Tensor& t) {
  torch::Tensor emb = b.time ? (*b.time)(t) : torch::Tensor();
  for (const ResBlock& r : b.res) x = r(x, causal, mode, emb);
  return x;
}

void check_supported(const VaeConfig& c) {
  if (c.class_name != "CausalVideoAutoencoder") unsupported("class \"" + c.class_name + "\"");
  if (!c.pixel_norm) unsupported("group norm");
}

}  // namespace

// ---- encoder ---------------------------------------------------------------------------------

struct VideoEncoder::Impl {
  VaeConfig config;
  std::string mode;
  Conv3d conv_in, conv_out;
  std::vector<Block> blocks;
  torch::Tensor mean, std;
};

VideoEncoder::VideoEncoder(const VaeConfig& c, const safetensors::TensorStore& file, const std::string& path,
                           torch::Device device)
    : impl_(std::make_unique<Impl>()) {
  check_supported(c);
  Impl& m = *impl_;
  m.config = c;
  m.mode = c.encoder_padding_mode();
  TensorSource src(file, path, device);
  const std::string p = "vae.encoder";
  int64_t ch = c.latent_channels;
  m.conv_in = Conv3d::load(src, p + ".conv_in", int64_t(c.in_channels) * c.patch_size * c.patch_size, ch);
  for (size_t i = 0; i < c.encoder_blocks.size(); ++i) {
    const VaeBlock& vb = c.encoder_blocks[i];
    const std::string q = p + ".down_blocks." + std::to_string(i);
    if (vb.name == "res_x") {
      m.blocks.push_back(res_block(src, q, ch, vb.num_layers, false));
    } else if (vb.name == "compress_all_res" || vb.name == "compress_space_res" || vb.name == "compress_time_res") {
      Block b;
      b.kind = Block::Down;
      b.stride = stride_of(vb.name);
      b.multiplier = vb.multiplier < 0 ? 2 : vb.multiplier;
      b.in = ch;
      b.conv = Conv3d::load(src, q + ".conv", ch, ch * b.multiplier / product(b.stride));
      ch *= b.multiplier;
      m.blocks.push_back(std::move(b));
    } else {
      unsupported("encoder block \"" + vb.name + "\"");
    }
  }
  if (c.latent_log_var != "uniform") unsupported("latent_log_var \"" + c.latent_log_var + "\"");
  m.conv_out = Conv3d::load(src, p + ".conv_out", ch, c.latent_channels + 1);
  m.mean = src.get("vae.per_channel_statistics.mean-of-means", {c.latent_channels}).view({1, -1, 1, 1, 1});
  m.std = src.get("vae.per_channel_statistics.std-of-means", {c.latent_channels}).view({1, -1, 1, 1, 1});
}

VideoEncoder::~VideoEncoder() = default;
VideoEncoder::VideoEncoder(VideoEncoder&&) noexcept = default;
VideoEncoder& VideoEncoder::operator=(VideoEncoder&&) noexcept = default;

torch::Tensor VideoEncoder::forward(const torch::Tensor& video) const {
  const Impl& m = *impl_;
  torch::NoGradGuard no_grad;
  const int64_t P = m.config.patch_size;
  torch::Tensor x = video.to(torch::kFloat32);
  const int64_t frames = 1 + (x.size(2) - 1) / 8 * 8;
  x = x.narrow(2, 0, frames);
  const int64_t b = x.size(0), c = x.size(1), H = x.size(3), W = x.size(4);
  // 4 x 4 pixels to channels: channel = c * 16 + w_offset * 4 + h_offset
  x = x.view({b, c, frames, H / P, P, W / P, P}).permute({0, 1, 6, 4, 2, 3, 5}).reshape({b, c * P * P, frames, H / P, W / P});
  x = m.conv_in(x, true, m.mode);
  for (const Block& blk : m.blocks) {
    if (blk.kind == Block::Res) {
      x = run_res(blk, x, true, m.mode, {});
      continue;
    }
    torch::Tensor in = blk.stride[0] == 2 ? torch::cat({x.narrow(2, 0, 1), x}, 2) : x;
    torch::Tensor shortcut = space_to_depth(in, blk.stride);
    const int64_t group = blk.in * product(blk.stride) / (blk.in * blk.multiplier);
    shortcut = shortcut.view({b, -1, group, shortcut.size(2), shortcut.size(3), shortcut.size(4)}).mean(2);
    x = space_to_depth(blk.conv(in, true, m.mode), blk.stride) + shortcut;
  }
  x = m.conv_out(torch::silu(pixel_norm(x)), true, m.mode).narrow(1, 0, m.config.latent_channels);
  return (x - m.mean) / m.std;
}

// ---- decoder ---------------------------------------------------------------------------------

struct VideoDecoder::Impl {
  VaeConfig config;
  Conv3d conv_in, conv_out;
  std::vector<Block> blocks;
  torch::Tensor mean, std;
  torch::Tensor timestep_scale;  // scalar parameter
  std::optional<TimeEmbedder> last_time;
  torch::Tensor last_table;  // [2, C]
};

VideoDecoder::VideoDecoder(const VaeConfig& c, const safetensors::TensorStore& file, const std::string& path,
                           torch::Device device)
    : impl_(std::make_unique<Impl>()) {
  check_supported(c);
  Impl& m = *impl_;
  m.config = c;
  TensorSource src(file, path, device);
  const std::string p = "vae.decoder";
  int64_t ch = c.decoder_base_channels;
  for (const VaeBlock& b : c.decoder_blocks)
    if (b.name == "compress_time" || b.name == "compress_space" || b.name == "compress_all")
      ch *= b.multiplier < 0 ? 1 : b.multiplier;
  m.conv_in = Conv3d::load(src, p + ".conv_in", c.latent_channels, ch);
  const bool t = c.timestep_conditioning;
  for (size_t i = 0; i < c.decoder_blocks.size(); ++i) {
    const VaeBlock& vb = c.decoder_blocks[c.decoder_blocks.size() - 1 - i];  // built in reverse
    const std::string q = p + ".up_blocks." + std::to_string(i);
    if (vb.inject_noise) unsupported("inject_noise");
    if (vb.name == "res_x") {
      m.blocks.push_back(res_block(src, q, ch, vb.num_layers, t));
    } else if (vb.name == "compress_time" || vb.name == "compress_space" || vb.name == "compress_all") {
      Block b;
      b.kind = Block::Up;
      b.stride = stride_of(vb.name);
      b.multiplier = vb.multiplier < 0 ? 1 : vb.multiplier;
      b.residual = vb.residual;
      b.in = ch;
      b.conv = Conv3d::load(src, q + ".conv", ch, product(b.stride) * ch / b.multiplier);
      ch /= b.multiplier;
      m.blocks.push_back(std::move(b));
    } else {
      unsupported("decoder block \"" + vb.name + "\"");
    }
  }
  m.conv_out = Conv3d::load(src, p + ".conv_out", ch, int64_t(c.out_channels) * c.patch_size * c.patch_size);
  if (t) {
    m.timestep_scale = src.get(p + ".timestep_scale_multiplier", {});
    m.last_time = TimeEmbedder::load(src, p + ".last_time_embedder", 2 * ch);
    m.last_table = src.get(p + ".last_scale_shift_table", {2, ch});
  }
  m.mean = src.get("vae.per_channel_statistics.mean-of-means", {c.latent_channels}).view({1, -1, 1, 1, 1});
  m.std = src.get("vae.per_channel_statistics.std-of-means", {c.latent_channels}).view({1, -1, 1, 1, 1});
}

VideoDecoder::~VideoDecoder() = default;
VideoDecoder::VideoDecoder(VideoDecoder&&) noexcept = default;
VideoDecoder& VideoDecoder::operator=(VideoDecoder&&) noexcept = default;

torch::Tensor VideoDecoder::forward(const torch::Tensor& latent, const torch::Tensor& timestep,
                                    const torch::Tensor& noise) const {
  const Impl& m = *impl_;
  const VaeConfig& c = m.config;
  torch::NoGradGuard no_grad;
  torch::Tensor x = latent.to(torch::kFloat32);
  const int64_t B = x.size(0);
  const bool conditioned = c.timestep_conditioning;
  const bool causal = c.causal_decoder;
  const std::string& mode = c.spatial_padding_mode;
  if (conditioned) {
    torch::Tensor scaled_noise = noise.defined() ? noise.to(torch::kFloat32) * kDecodeNoiseScale : torch::zeros_like(x);
    x = scaled_noise + (1.0 - kDecodeNoiseScale) * x;
  }
  x = x * m.std + m.mean;
  x = m.conv_in(x, causal, mode);
  torch::Tensor t;
  if (conditioned) {
    t = timestep.defined() ? timestep.to(torch::kFloat32) : torch::full({B}, kDecodeTimestep, x.options());
    t = t * m.timestep_scale;
  }
  for (const Block& blk : m.blocks) {
    if (blk.kind == Block::Res) {
      x = run_res(blk, x, causal, mode, t);
      continue;
    }
    torch::Tensor skip;
    if (blk.residual) {
      skip = depth_to_space(x, blk.stride).repeat({1, product(blk.stride) / blk.multiplier, 1, 1, 1});
      if (blk.stride[0] == 2) skip = skip.narrow(2, 1, skip.size(2) - 1);
    }
    torch::Tensor y = depth_to_space(blk.conv(x, causal, mode), blk.stride);
    if (blk.stride[0] == 2) y = y.narrow(2, 1, y.size(2) - 1);
    x = blk.residual ? y + skip : y;
  }
  x = pixel_norm(x);
  if (conditioned) {
    const int64_t C = x.size(1);
    torch::Tensor rows = m.last_table.unsqueeze(0) + (*m.last_time)(t.flatten()).view({B, 2, C});
    x = x * (1 + rows.select(1, 1).view({B, C, 1, 1, 1})) + rows.select(1, 0).view({B, C, 1, 1, 1});
  }
  x = m.conv_out(torch::silu(x), causal, mode);
  const int64_t P = c.patch_size, frames = x.size(2), H = x.size(3), W = x.size(4);
  // channels (c, w_offset, h_offset) back to pixels
  return x.view({B, c.out_channels, P, P, frames, H, W})
      .permute({0, 1, 4, 5, 3, 6, 2})
      .reshape({B, c.out_channels, frames, H * P, W * P});
}

}  // namespace opsis::ltx2
