#include "models/ltx2/modules.hpp"

#include <cmath>
#include <cstring>

#include "core/error.hpp"

namespace opsis::ltx2 {

namespace {

const safetensors::TensorRef& require(const std::optional<safetensors::TensorRef>& found, const std::string& path,
                                      const std::string& name, const std::vector<int64_t>& shape) {
  if (!found)
    throw InvalidArgument("weights", path + ": tensor '" + name + "' is missing (expected shape " + safetensors::shape_text(shape) + ")");
  if (found->shape != shape)
    throw InvalidArgument("weights", path + ": tensor '" + name + "' has shape " + safetensors::shape_text(found->shape) +
                                         ", the config gives " + safetensors::shape_text(shape));
  return *found;
}

}  // namespace

torch::Tensor StoredTensor::widened() const {
  if (fp8_table.defined()) return fp8_table.index({values.to(torch::kLong)});
  return values.scalar_type() == torch::kFloat32 ? values : values.to(torch::kFloat32);
}

torch::Tensor StoredTensor::rows(const torch::Tensor& index) const {
  const torch::Tensor picked = values.index({index});
  if (fp8_table.defined()) return fp8_table.index({picked.to(torch::kLong)});
  return picked.to(torch::kFloat32);
}

torch::Tensor TensorSource::get(const std::string& name, const std::vector<int64_t>& shape) const {
  const auto found = file_.find(name);
  require(found, path_, name, shape);
  if (found->dtype == safetensors::DType::F32 && reinterpret_cast<uintptr_t>(found->data) % alignof(float) == 0) {
    // Straight from the file's bytes (mapped or read), copied once into the tensor. (A header
    // whose length is not a multiple of 4 leaves the data unaligned: then through to_float.)
    return torch::from_blob(const_cast<uint8_t*>(found->data), shape, torch::kFloat32).to(device_, /*non_blocking=*/false, /*copy=*/true);
  }
  std::vector<float> values = found->to_float();  // bf16 / fp16 / fp8 widened here
  return torch::from_blob(values.data(), shape, torch::kFloat32).to(device_, false, true);
}

StoredTensor TensorSource::get_stored(const std::string& name, const std::vector<int64_t>& shape) const {
  const auto found = file_.find(name);
  const safetensors::TensorRef& t = require(found, path_, name, shape);
  StoredTensor out;
  using safetensors::DType;
  if (precision_ == WeightPrecision::Float32 || t.dtype == DType::F32) {
    out.values = get(name, shape);
    return out;
  }
  auto copy_as = [&](torch::ScalarType type) {
    // Through an aligned buffer: the file's bytes need not sit on the element's alignment.
    torch::Tensor host = torch::empty(shape, torch::TensorOptions().dtype(type));
    std::memcpy(host.data_ptr(), t.data, t.bytes);
    return host.to(device_);
  };
  switch (t.dtype) {
    case DType::BF16: out.values = copy_as(torch::kBFloat16); break;
    case DType::F16: out.values = copy_as(torch::kHalf); break;
    case DType::F8_E4M3:
    case DType::F8_E5M2: {
      out.values = copy_as(torch::kUInt8);
      // The 256 codes' values, widened as the loader widens them.
      uint8_t codes[256];
      for (int i = 0; i < 256; ++i) codes[i] = uint8_t(i);
      const std::vector<float> table = safetensors::TensorRef{t.dtype, {256}, codes, 256}.to_float();
      out.fp8_table = torch::tensor(table, torch::kFloat32).to(device_);
      break;
    }
    default: out.values = get(name, shape);
  }
  return out;
}

Linear Linear::load(const TensorSource& src, const std::string& prefix, int64_t in, int64_t out, bool bias) {
  Linear l;
  l.weight = src.get_stored(prefix + ".weight", {out, in});
  if (bias) l.bias = src.get(prefix + ".bias", {out});
  return l;
}

torch::Tensor Linear::operator()(const torch::Tensor& x) const {
  return torch::nn::functional::linear(x, weight.widened(), bias);
}

torch::Tensor rms_norm(const torch::Tensor& x, double eps) {
  return x * torch::rsqrt(x.pow(2).mean(-1, true) + eps);
}

Rope rope_tables(const torch::Tensor& positions, int64_t dim, const std::vector<double>& max_pos, int64_t heads,
                 const RopeOptions& options) {
  const int64_t B = positions.size(0), n = positions.size(1), T = positions.size(2);
  if (int64_t(max_pos.size()) != n)
    throw InvalidArgument("positions", "LTX-2 RoPE: " + std::to_string(n) + " position axes, " +
                                           std::to_string(max_pos.size()) + " max positions");
  const int64_t F = dim / (2 * n);
  auto f32 = positions.options().dtype(torch::kFloat32);
  torch::Tensor grid;
  if (options.float64_frequencies) {
    auto f64 = positions.options().dtype(torch::kFloat64);
    grid = (torch::pow(options.theta, torch::linspace(0, 1, F, f64)) * M_PI / 2).to(torch::kFloat32);
  } else {
    grid = torch::pow(options.theta, torch::linspace(0, 1, F, f32)) * M_PI / 2;
  }
  std::vector<torch::Tensor> axes;
  for (int64_t i = 0; i < n; ++i) axes.push_back(positions.select(1, i).to(torch::kFloat32) / max_pos[i]);
  torch::Tensor frac = torch::stack(axes, -1) * 2 - 1;                                  // [B, T, n]
  torch::Tensor angles = (grid.view({1, 1, F, 1}) * frac.unsqueeze(2)).flatten(2);    // f-major, axis-minor
  Rope r;
  r.split = options.split;
  if (options.split) {
    const int64_t pad = dim / 2 - F * n;
    r.cos = torch::cat({torch::ones({B, T, pad}, f32), angles.cos()}, -1).view({B, T, heads, -1}).transpose(1, 2);
    r.sin = torch::cat({torch::zeros({B, T, pad}, f32), angles.sin()}, -1).view({B, T, heads, -1}).transpose(1, 2);
  } else {
    const int64_t pad = dim % (2 * n);
    r.cos = torch::cat({torch::ones({B, T, pad}, f32), angles.cos().repeat_interleave(2, -1)}, -1);
    r.sin = torch::cat({torch::zeros({B, T, pad}, f32), angles.sin().repeat_interleave(2, -1)}, -1);
  }
  return r;
}

torch::Tensor apply_rope(const torch::Tensor& x, const Rope& rope, int64_t heads) {
  using torch::indexing::Slice;
  if (rope.split) {
    const int64_t B = x.size(0), T = x.size(1), D = x.size(2);
    torch::Tensor xh = x.view({B, T, heads, D / heads}).transpose(1, 2);
    auto halves = xh.chunk(2, -1);
    const torch::Tensor &x1 = halves[0], &x2 = halves[1];
    torch::Tensor out = torch::cat({x1 * rope.cos - x2 * rope.sin, x2 * rope.cos + x1 * rope.sin}, -1);
    return out.transpose(1, 2).reshape({B, T, D});
  }
  torch::Tensor a = x.index({"...", Slice(0, torch::indexing::None, 2)});
  torch::Tensor b = x.index({"...", Slice(1, torch::indexing::None, 2)});
  torch::Tensor rotated = torch::stack({-b, a}, -1).flatten(-2);
  return x * rope.cos + rotated * rope.sin;
}

Attention Attention::load(const TensorSource& src, const std::string& p, int64_t query_dim, int64_t context_dim,
                          int64_t heads, int64_t head_dim, bool gated, double eps) {
  const int64_t inner = heads * head_dim;
  Attention a;
  a.to_q = Linear::load(src, p + ".to_q", query_dim, inner);
  a.to_k = Linear::load(src, p + ".to_k", context_dim, inner);
  a.to_v = Linear::load(src, p + ".to_v", context_dim, inner);
  a.q_norm = src.get(p + ".q_norm.weight", {inner});
  a.k_norm = src.get(p + ".k_norm.weight", {inner});
  a.to_out = Linear::load(src, p + ".to_out.0", inner, query_dim);
  if (gated) a.to_gate_logits = Linear::load(src, p + ".to_gate_logits", query_dim, heads);
  a.heads = heads;
  a.head_dim = head_dim;
  a.gated = gated;
  a.eps = eps;
  return a;
}

torch::Tensor Attention::operator()(const torch::Tensor& x, const torch::Tensor& context, const Rope& q_rope,
                                    const Rope& k_rope, const torch::Tensor& keep) const {
  const torch::Tensor& c = context.defined() ? context : x;
  torch::Tensor q = rms_norm(to_q(x), eps) * q_norm;
  torch::Tensor k = rms_norm(to_k(c), eps) * k_norm;
  torch::Tensor v = to_v(c);
  if (q_rope.defined()) {
    q = apply_rope(q, q_rope, heads);
    k = apply_rope(k, k_rope.defined() ? k_rope : q_rope, heads);
  }
  const int64_t B = q.size(0), T = q.size(1), S = k.size(1), inner = heads * head_dim;
  torch::Tensor qh = q.view({B, T, heads, head_dim}).transpose(1, 2);
  torch::Tensor kh = k.view({B, S, heads, head_dim}).transpose(1, 2);
  torch::Tensor vh = v.view({B, S, heads, head_dim}).transpose(1, 2);
  torch::Tensor scores = torch::matmul(qh, kh.transpose(-2, -1)) * (1.0 / std::sqrt(double(head_dim)));
  torch::Tensor out = torch::matmul(scores.softmax(-1), vh).transpose(1, 2).reshape({B, T, inner});
  if (keep.defined()) out = out * keep + v * (1 - keep);
  if (gated) {
    torch::Tensor gate = 2 * torch::sigmoid(to_gate_logits(x));  // [B, T, H]
    out = (out.view({B, T, heads, head_dim}) * gate.unsqueeze(-1)).view({B, T, inner});
  }
  return to_out(out);
}

FeedForward FeedForward::load(const TensorSource& src, const std::string& p, int64_t dim, bool bias) {
  FeedForward f;
  f.proj_in = Linear::load(src, p + ".net.0.proj", dim, 4 * dim, bias);
  f.proj_out = Linear::load(src, p + ".net.2", 4 * dim, dim, bias);
  return f;
}

torch::Tensor FeedForward::operator()(const torch::Tensor& x) const {
  return proj_out(torch::gelu(proj_in(x), "tanh"));
}

torch::Tensor timestep_features(const torch::Tensor& t) {
  auto f32 = t.options().dtype(torch::kFloat32);
  torch::Tensor exponent = torch::arange(128, f32) * (-std::log(10000.0)) / 128.0;
  torch::Tensor angles = t.to(torch::kFloat32).unsqueeze(1) * torch::exp(exponent).unsqueeze(0);
  return torch::cat({angles.cos(), angles.sin()}, -1);
}

AdaLnSingle AdaLnSingle::load(const TensorSource& src, const std::string& p, int64_t dim, int64_t rows) {
  AdaLnSingle a;
  a.linear_1 = Linear::load(src, p + ".emb.timestep_embedder.linear_1", 256, dim);
  a.linear_2 = Linear::load(src, p + ".emb.timestep_embedder.linear_2", dim, dim);
  a.linear = Linear::load(src, p + ".linear", dim, rows * dim);
  return a;
}

std::pair<torch::Tensor, torch::Tensor> AdaLnSingle::operator()(const torch::Tensor& t) const {
  torch::Tensor embedded = linear_2(torch::silu(linear_1(timestep_features(t))));
  return {linear(torch::silu(embedded)), embedded};
}

}  // namespace opsis::ltx2
