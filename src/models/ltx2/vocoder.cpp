#include "models/ltx2/vocoder.hpp"

#include <torch/torch.h>

#include <cmath>
#include <optional>
#include <vector>

#include "core/error.hpp"
#include "models/ltx2/modules.hpp"

namespace opsis::ltx2 {
namespace {

namespace F = torch::nn::functional;

[[noreturn]] void unsupported(const std::string& what) {
  throw InvalidArgument("weights", "LTX-2 vocoder: " + what + " is not supported by this port yet");
}

struct Conv1d {
  torch::Tensor weight, bias;
  static Conv1d load(const TensorSource& src, const std::string& p, int64_t in, int64_t out, int64_t k,
                     bool with_bias = true) {
    Conv1d c;
    c.weight = src.get(p + ".weight", {out, in, k});
    if (with_bias) c.bias = src.get(p + ".bias", {out});
    return c;
  }
  torch::Tensor operator()(const torch::Tensor& x, int64_t padding, int64_t dilation = 1) const {
    return torch::conv1d(x, weight, bias, 1, padding, dilation);
  }
};

// Anti-aliased SnakeBeta: upsample x2 (filter, replicate padding), x + sin^2(x e^alpha) / (e^beta + 1e-9),
// low-pass downsample x2.
struct Activation {
  torch::Tensor alpha, beta;              // [C, 1] after exp
  torch::Tensor up_filter, down_filter;   // [C, 1, 12]
  static Activation load(const TensorSource& src, const std::string& p, int64_t ch) {
    Activation a;
    a.alpha = src.get(p + ".act.alpha", {ch}).exp().view({1, ch, 1});
    a.beta = src.get(p + ".act.beta", {ch}).exp().view({1, ch, 1});
    a.up_filter = src.get(p + ".upsample.filter", {1, 1, 12}).expand({ch, 1, 12}).contiguous();
    a.down_filter = src.get(p + ".downsample.lowpass.filter", {1, 1, 12}).expand({ch, 1, 12}).contiguous();
    return a;
  }
  torch::Tensor operator()(torch::Tensor x) const {
    const int64_t C = x.size(1), k = up_filter.size(-1), r = 2;
    const int64_t pad = k / r - 1, left = pad * r + (k - r) / 2, right = pad * r + (k - r + 1) / 2;
    x = F::pad(x, F::PadFuncOptions({pad, pad}).mode(torch::kReplicate));
    x = r * torch::conv_transpose1d(x, up_filter, {}, r, 0, 0, C);
    x = x.narrow(-1, left, x.size(-1) - left - right);
    x = x + 1.0 / (beta + 1e-9) * torch::sin(x * alpha).pow(2);
    x = F::pad(x, F::PadFuncOptions({k / 2 - 1, k / 2}).mode(torch::kReplicate));
    const int64_t no_padding = 0;
    return torch::conv1d(x, down_filter, {}, 2, no_padding, 1, C);
  }
};

struct ResBlock {
  int64_t kernel = 3;
  std::vector<int64_t> dilations;
  std::vector<Conv1d> convs1, convs2;
  std::vector<Activation> acts1, acts2;  // AMP1 only
};

struct Generator {
  GeneratorConfig config;
  bool amp = false;
  Conv1d conv_pre, conv_post;
  std::vector<torch::Tensor> ups_weight, ups_bias;
  std::vector<ResBlock> resblocks;  // level i, kernel j at i * K + j
  std::optional<Activation> act_post;

  static Generator load(const TensorSource& src, const std::string& p, const GeneratorConfig& g, int64_t in) {
    Generator gen;
    gen.config = g;
    gen.amp = g.resblock == "AMP1";
    if (!gen.amp && g.resblock != "1") unsupported("resblock \"" + g.resblock + "\"");
    if (gen.amp && g.activation != "snakebeta") unsupported("AMP activation \"" + g.activation + "\"");
    const int64_t u = g.upsample_initial_channel;
    gen.conv_pre = Conv1d::load(src, p + "conv_pre", in, u, 7);
    const size_t K = g.resblock_kernel_sizes.size();
    for (size_t i = 0; i < g.upsample_rates.size(); ++i) {
      const int64_t cin = u >> i, cout = u >> (i + 1);
      gen.ups_weight.push_back(src.get(p + "ups." + std::to_string(i) + ".weight", {cin, cout, g.upsample_kernel_sizes[i]}));
      gen.ups_bias.push_back(src.get(p + "ups." + std::to_string(i) + ".bias", {cout}));
      for (size_t j = 0; j < K; ++j) {
        const std::string q = p + "resblocks." + std::to_string(i * K + j) + ".";
        ResBlock r;
        r.kernel = g.resblock_kernel_sizes[j];
        for (int d : g.resblock_dilation_sizes.at(j)) r.dilations.push_back(d);
        if (gen.amp && r.dilations.size() != 3) unsupported("AMP1 with other than 3 dilations");
        for (size_t n = 0; n < r.dilations.size(); ++n) {
          r.convs1.push_back(Conv1d::load(src, q + "convs1." + std::to_string(n), cout, cout, r.kernel));
          r.convs2.push_back(Conv1d::load(src, q + "convs2." + std::to_string(n), cout, cout, r.kernel));
          if (gen.amp) {
            r.acts1.push_back(Activation::load(src, q + "acts1." + std::to_string(n), cout));
            r.acts2.push_back(Activation::load(src, q + "acts2." + std::to_string(n), cout));
          }
        }
        gen.resblocks.push_back(std::move(r));
      }
    }
    const int64_t last = u >> g.upsample_rates.size();
    if (gen.amp) gen.act_post = Activation::load(src, p + "act_post", last);
    gen.conv_post = Conv1d::load(src, p + "conv_post", last, 2, 7, g.use_bias_at_final);
    return gen;
  }

  // x [B, Cin, T] -> [B, 2, T x prod(rates)]; final: tanh (or clamp) at the end.
  torch::Tensor operator()(const torch::Tensor& x, bool final) const {
    const GeneratorConfig& g = config;
    torch::Tensor y = conv_pre(x, 3);
    const size_t K = g.resblock_kernel_sizes.size();
    for (size_t i = 0; i < g.upsample_rates.size(); ++i) {
      const int64_t rate = g.upsample_rates[i], k = g.upsample_kernel_sizes[i];
      if (!amp) y = F::leaky_relu(y, F::LeakyReLUFuncOptions().negative_slope(0.1));
      y = torch::conv_transpose1d(y, ups_weight[i], ups_bias[i], rate, (k - rate) / 2);
      std::vector<torch::Tensor> outs;
      for (size_t j = 0; j < K; ++j) {
        const ResBlock& r = resblocks[i * K + j];
        torch::Tensor z = y;
        for (size_t n = 0; n < r.dilations.size(); ++n) {
          const int64_t d = r.dilations[n];
          torch::Tensor t;
          if (amp) {
            t = r.convs1[n](r.acts1[n](z), (r.kernel * d - d) / 2, d);
            t = r.convs2[n](r.acts2[n](t), (r.kernel - 1) / 2);
          } else {
            auto lrelu = [](const torch::Tensor& v) { return F::leaky_relu(v, F::LeakyReLUFuncOptions().negative_slope(0.1)); };
            t = r.convs1[n](lrelu(z), d * (r.kernel - 1) / 2, d);
            t = r.convs2[n](lrelu(t), (r.kernel - 1) / 2);
          }
          z = z + t;
        }
        outs.push_back(z);
      }
      y = torch::stack(outs).mean(0);
    }
    y = amp ? (*act_post)(y) : F::leaky_relu(y, F::LeakyReLUFuncOptions().negative_slope(0.01));
    y = conv_post(y, 3);
    if (final) y = g.use_tanh_at_final ? torch::tanh(y) : y.clamp(-1, 1);
    return y;
  }
};

}  // namespace

struct Vocoder::Impl {
  VocoderConfig config;
  Generator vocoder, bwe;
  torch::Tensor mel_basis, forward_basis;  // [mels, n_fft/2 + 1], [2 (n_fft/2 + 1), 1, n_fft]
  torch::Tensor resample_filter;            // [1, 1, k] Hann-windowed sinc for the x r upsampling
  int64_t ratio = 1, half_width = 0;
};

Vocoder::Vocoder(const VocoderConfig& c, const safetensors::TensorStore& file, const std::string& path, torch::Device device)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.config = c;
  TensorSource src(file, path, device);
  if (!c.bandwidth_extension) {
    m.vocoder = Generator::load(src, "vocoder.", c.vocoder, 128);
    return;
  }
  m.vocoder = Generator::load(src, "vocoder.vocoder.", c.vocoder, 128);
  m.bwe = Generator::load(src, "vocoder.bwe_generator.", c.bwe, 2 * int64_t(c.bwe_mels));
  const int64_t freqs = c.bwe_n_fft / 2 + 1;
  m.mel_basis = src.get("vocoder.mel_stft.mel_basis", {c.bwe_mels, freqs});
  m.forward_basis = src.get("vocoder.mel_stft.stft_fn.forward_basis", {2 * freqs, 1, c.bwe_n_fft});
  if (c.bwe_input_rate <= 0 || c.bwe_output_rate % c.bwe_input_rate != 0)
    unsupported("bandwidth extension from " + std::to_string(c.bwe_input_rate) + " to " +
                std::to_string(c.bwe_output_rate) + " Hz");
  // Hann-windowed sinc (rolloff 0.99, 6 zero crossings) for upsampling by r
  m.ratio = c.bwe_output_rate / c.bwe_input_rate;
  const double rolloff = 0.99, zeros = 6;
  m.half_width = int64_t(std::ceil(zeros / rolloff));
  const int64_t r = m.ratio, k = 2 * m.half_width * r + 1;
  torch::Tensor t = (torch::arange(k, torch::kFloat32) / double(r) - double(m.half_width)) * rolloff;
  torch::Tensor window = torch::cos(t.clamp(-zeros, zeros) * M_PI / zeros / 2).pow(2);
  m.resample_filter = (torch::sinc(t) * window * rolloff / double(r)).view({1, 1, -1}).to(device);
}

Vocoder::~Vocoder() = default;
Vocoder::Vocoder(Vocoder&&) noexcept = default;
Vocoder& Vocoder::operator=(Vocoder&&) noexcept = default;

int Vocoder::sample_rate() const {
  const VocoderConfig& c = impl_->config;
  return c.bandwidth_extension ? c.bwe_output_rate : c.vocoder.output_sampling_rate;
}

torch::Tensor Vocoder::forward(const torch::Tensor& mel) const {
  const Impl& m = *impl_;
  torch::NoGradGuard no_grad;
  torch::Tensor x = mel.to(torch::kFloat32);
  const int64_t B = x.size(0);
  // [B, 2, T, mels] -> [B, 2 * mels, T] (channel = stereo * mels + mel)
  x = m.vocoder(x.transpose(2, 3).reshape({B, 2 * x.size(3), x.size(2)}), true);
  if (!m.config.bandwidth_extension) return x;

  const VocoderConfig& c = m.config;
  const int64_t hop = c.bwe_hop, n_fft = c.bwe_n_fft, length = x.size(-1);
  x = F::pad(x, F::PadFuncOptions({0, (hop - length % hop) % hop}));
  // causal log-mel per channel
  torch::Tensor flat = F::pad(x.reshape({-1, 1, x.size(-1)}), F::PadFuncOptions({n_fft - hop, 0}));
  torch::Tensor spec = torch::conv1d(flat, m.forward_basis, {}, hop);
  const int64_t freqs = spec.size(1) / 2;
  torch::Tensor magnitude = torch::sqrt(spec.narrow(1, 0, freqs).pow(2) + spec.narrow(1, freqs, freqs).pow(2));
  torch::Tensor logmel = torch::log(torch::clamp(torch::matmul(m.mel_basis, magnitude), 1e-5));
  logmel = logmel.view({B, 2 * logmel.size(1), logmel.size(2)});
  torch::Tensor residual = m.bwe(logmel, false);
  // skip: x upsampled by r with the windowed sinc
  const int64_t C = x.size(1), r = m.ratio, w = m.half_width, k = m.resample_filter.size(-1);
  torch::Tensor skip = F::pad(x, F::PadFuncOptions({w, w}).mode(torch::kReplicate));
  skip = r * torch::conv_transpose1d(skip, m.resample_filter.expand({C, 1, k}).contiguous(), {}, r, 0, 0, C);
  skip = skip.narrow(-1, 2 * w * r, skip.size(-1) - 2 * w * r - (k - r));
  return torch::clamp(residual + skip, -1, 1).narrow(-1, 0, length * r);
}

}  // namespace opsis::ltx2
