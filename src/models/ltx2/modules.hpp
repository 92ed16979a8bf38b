#pragma once
// The LTX-2 building blocks shared by the transformer and the text connectors
// (docs/ltx2/reference-map.md, "Transformer" and "Text path"): linear layers, the attention
// module with q/k RMS norm, RoPE, optional per-head gate and value pass-through, the GELU-tanh
// feed-forward, the AdaLN-single timestep embedding, and the fractional RoPE tables.
// Weights are plain tensors read by name from a checkpoint (fp32 after load, or the linear
// layers' as stored: WeightPrecision; on one device).
#include <torch/torch.h>

#include <string>
#include <vector>

#include "core/safetensors.hpp"
#include "models/ltx2/precision.hpp"

namespace opsis::ltx2 {

// A weight as it is kept: `values` (float32, bf16, fp16, or uint8 fp8 codes) and, for fp8, the
// table of the 256 codes' values.
struct StoredTensor {
  torch::Tensor values, fp8_table;
  torch::Tensor widened() const;  // float32 on the values' device
  torch::Tensor rows(const torch::Tensor& index) const;  // widened rows values[index] (an embedding lookup)
};

// Reads named tensors out of a checkpoint read whole (safetensors::File) or memory-mapped
// (safetensors::MappedFile: only the tensors taken are paged in), widened to float32 (from
// bf16, fp16 and both fp8 formats) and moved to `device`. Throws opsis::InvalidArgument("weights", ...) naming a missing or mis-shaped tensor.
class TensorSource {
 public:
  TensorSource(const safetensors::TensorStore& file, std::string path, torch::Device device,
               WeightPrecision precision = WeightPrecision::Float32)
      : file_(file), path_(std::move(path)), device_(device), precision_(precision) {}
  torch::Tensor get(const std::string& name, const std::vector<int64_t>& shape) const;
  // As kept under this source's precision (float32 unless AsStored).
  StoredTensor get_stored(const std::string& name, const std::vector<int64_t>& shape) const;
  bool has(const std::string& name) const { return file_.find(name).has_value(); }
  torch::Device device() const { return device_; }

 private:
  const safetensors::TensorStore& file_;
  std::string path_;
  torch::Device device_;
  WeightPrecision precision_;
};

struct Linear {
  StoredTensor weight;  // [out, in], kept as the source's precision says
  torch::Tensor bias;   // [out] (float32) or undefined
  static Linear load(const TensorSource& src, const std::string& prefix, int64_t in, int64_t out, bool bias = true);
  torch::Tensor operator()(const torch::Tensor& x) const;
};

// Weightless RMS norm over the last axis: x / sqrt(mean(x^2) + eps).
torch::Tensor rms_norm(const torch::Tensor& x, double eps);

// cos/sin tables of one RoPE application. Split: [B, H, T, Dh/2]; interleaved: [B, T, D].
struct Rope {
  torch::Tensor cos, sin;
  bool split = true;
  bool defined() const { return cos.defined(); }
};

struct RopeOptions {
  double theta = 10000.0;
  bool split = true;
  bool float64_frequencies = false;
};

// Tables from fractional positions: `positions` [B, n, T] (already the middles / the integer
// positions), each axis divided by max_pos[axis] and mapped to [-1, 1]; D = the rotated width;
// H heads (used by the split layout).
Rope rope_tables(const torch::Tensor& positions, int64_t dim, const std::vector<double>& max_pos, int64_t heads,
                 const RopeOptions& options);
// x [B, T, D] rotated by the tables (H heads for the split layout).
torch::Tensor apply_rope(const torch::Tensor& x, const Rope& rope, int64_t heads);

struct Attention {
  Linear to_q, to_k, to_v, to_out, to_gate_logits;  // gate only with gated attention
  torch::Tensor q_norm, k_norm;                      // [inner]
  int64_t heads = 1, head_dim = 1;
  double eps = 1e-6;
  bool gated = false;

  static Attention load(const TensorSource& src, const std::string& prefix, int64_t query_dim, int64_t context_dim,
                        int64_t heads, int64_t head_dim, bool gated, double eps);
  // x [B, T, Dq]; context [B, S, Dc] (undefined: self-attention); q_rope / k_rope optional
  // (k_rope undefined: q_rope is used for both); keep [B, 1, 1] in [0, 1] or undefined: the
  // attention result is blended with the values, attn * keep + v * (1 - keep) (self-attention only).
  torch::Tensor operator()(const torch::Tensor& x, const torch::Tensor& context = {}, const Rope& q_rope = {},
                           const Rope& k_rope = {}, const torch::Tensor& keep = {}) const;
};

struct FeedForward {  // Linear(D, 4D), GELU(tanh), Linear(4D, D)
  Linear proj_in, proj_out;
  static FeedForward load(const TensorSource& src, const std::string& prefix, int64_t dim, bool bias);
  torch::Tensor operator()(const torch::Tensor& x) const;
};

// Sinusoidal timestep features, 256 channels laid out [cos | sin] (t [N] -> [N, 256]).
torch::Tensor timestep_features(const torch::Tensor& t);

// AdaLayerNormSingle: timestep features -> linear_1, SiLU, linear_2 = embedded; linear(SiLU(embedded)).
struct AdaLnSingle {
  Linear linear_1, linear_2, linear;
  static AdaLnSingle load(const TensorSource& src, const std::string& prefix, int64_t dim, int64_t rows);
  // t [N] (already scaled) -> {modulation [N, rows*D], embedded [N, D]}
  std::pair<torch::Tensor, torch::Tensor> operator()(const torch::Tensor& t) const;
};

}  // namespace opsis::ltx2
