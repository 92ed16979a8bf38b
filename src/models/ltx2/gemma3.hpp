#pragma once
// Gemma 3 (text) as LTX-2's text encoder: token ids -> every hidden state, Hugging Face
// semantics (docs/ltx2/reference-map.md, section "Gemma 3"): scaled embeddings, layers with
// four (1 + weight) RMS norms, per-head q/k norm, grouped-query attention, local (sliding
// window, RoPE base 10k) and global (RoPE base 1M with linear scaling) layers, GeGLU FFN; the
// last hidden state is the final norm's output. No tokenizer, no LM head.
#include <torch/types.h>

#include <memory>
#include <string>
#include <vector>

#include "core/safetensors.hpp"
#include "models/ltx2/precision.hpp"

namespace opsis::ltx2 {

struct Gemma3Config {
  int vocab_size = 262208, hidden_size = 2304, intermediate_size = 9216, num_hidden_layers = 26;
  int num_attention_heads = 8, num_key_value_heads = 4, head_dim = 256;
  double query_pre_attn_scalar = 256, rms_norm_eps = 1e-6;
  double rope_theta = 1e6, rope_local_base_freq = 10000, rope_scaling_factor = 1;  // linear scaling, global layers
  int sliding_window = 4096;
  std::vector<bool> sliding;  // per layer: true = local (sliding-window) attention
};

// A Hugging Face Gemma 3 config (config.json of Gemma3ForConditionalGeneration, whose
// "text_config" is used, or a bare text config). Throws opsis::InvalidArgument("weights", ...).
Gemma3Config parse_gemma3_config(const std::string& json);

class Gemma3 {
 public:
  // Tensors under `prefix` (HF names: embed_tokens, layers.{i}.self_attn.{q,k,v,o}_proj, ...).
  Gemma3(const Gemma3Config& config, const safetensors::TensorStore& file, const std::string& path,
         torch::Device device = torch::kCPU, const std::string& prefix = "language_model.model.",
         WeightPrecision precision = WeightPrecision::Float32);
  ~Gemma3();
  Gemma3(Gemma3&&) noexcept;
  Gemma3& operator=(Gemma3&&) noexcept;

  // tokens [B, S] int64; attention_mask [B, S] (1 = token, 0 = padding, masked as keys;
  // positions stay 0..S-1) or undefined -> hidden states [B, S, D, layers + 1].
  torch::Tensor hidden_states(const torch::Tensor& tokens, const torch::Tensor& attention_mask = {}) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace opsis::ltx2
