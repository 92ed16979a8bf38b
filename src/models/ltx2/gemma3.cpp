#include "models/ltx2/gemma3.hpp"

#include <torch/torch.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "models/ltx2/modules.hpp"

namespace opsis::ltx2 {
namespace {

using json = nlohmann::json;

template <typename T>
void read(const json& j, const char* key, T& out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return;
  try {
    out = it->get<T>();
  } catch (const json::exception&) {
    throw InvalidArgument("weights", std::string("Gemma 3 config: ") + key + " has the wrong type");
  }
}

// x / sqrt(mean(x^2) + eps) * (1 + weight)
torch::Tensor norm(const torch::Tensor& x, const torch::Tensor& weight, double eps) {
  return rms_norm(x, eps) * (1 + weight);
}

// Rotates halves of each head: x [B, H, S, hd], positions [S].
torch::Tensor rope(const torch::Tensor& x, const torch::Tensor& positions, double base, double factor) {
  const int64_t hd = x.size(-1);
  torch::Tensor inv = 1.0 / torch::pow(base, torch::arange(0, hd, 2, x.options()) / double(hd));
  torch::Tensor angles = (positions.to(torch::kFloat32) / factor).unsqueeze(1) * inv.unsqueeze(0);  // [S, hd/2]
  torch::Tensor cos = torch::cat({angles.cos(), angles.cos()}, -1), sin = torch::cat({angles.sin(), angles.sin()}, -1);
  torch::Tensor rotated = torch::cat({-x.narrow(-1, hd / 2, hd / 2), x.narrow(-1, 0, hd / 2)}, -1);
  return x * cos + rotated * sin;
}

struct Layer {
  Linear q, k, v, o, gate, up, down;
  torch::Tensor q_norm, k_norm, input_norm, post_attention_norm, pre_ff_norm, post_ff_norm;
};

}  // namespace

Gemma3Config parse_gemma3_config(const std::string& text) {
  json root;
  try {
    root = json::parse(text);
  } catch (const json::exception& e) {
    throw InvalidArgument("weights", std::string("Gemma 3 config is not JSON: ") + e.what());
  }
  const json& j = root.contains("text_config") ? root["text_config"] : root;
  Gemma3Config c;
  read(j, "vocab_size", c.vocab_size);
  read(j, "hidden_size", c.hidden_size);
  read(j, "intermediate_size", c.intermediate_size);
  read(j, "num_hidden_layers", c.num_hidden_layers);
  read(j, "num_attention_heads", c.num_attention_heads);
  read(j, "num_key_value_heads", c.num_key_value_heads);
  read(j, "head_dim", c.head_dim);
  read(j, "query_pre_attn_scalar", c.query_pre_attn_scalar);
  read(j, "rms_norm_eps", c.rms_norm_eps);
  read(j, "rope_theta", c.rope_theta);
  read(j, "rope_local_base_freq", c.rope_local_base_freq);
  read(j, "sliding_window", c.sliding_window);
  if (auto it = j.find("rope_scaling"); it != j.end() && it->is_object()) {
    const std::string type = it->value("rope_type", it->value("type", std::string("linear")));
    if (type != "linear") throw InvalidArgument("weights", "Gemma 3 config: rope_scaling \"" + type + "\" is not supported");
    read(*it, "factor", c.rope_scaling_factor);
  }
  std::vector<std::string> types;
  read(j, "layer_types", types);
  int pattern = 6;
  read(j, "sliding_window_pattern", pattern);
  for (int i = 0; i < c.num_hidden_layers; ++i)
    c.sliding.push_back(types.empty() ? (i + 1) % pattern != 0 : types.at(size_t(i)) == "sliding_attention");
  if (c.num_attention_heads % c.num_key_value_heads != 0)
    throw InvalidArgument("weights", "Gemma 3 config: query heads not a multiple of key/value heads");
  return c;
}

struct Gemma3::Impl {
  Gemma3Config config;
  StoredTensor embed;  // [vocab, D]: Gemma 3 12B's is 262k x 3840, a billion values
  torch::Tensor final_norm;
  std::vector<Layer> layers;
};

Gemma3::Gemma3(const Gemma3Config& c, const safetensors::TensorStore& file, const std::string& path, torch::Device device,
               const std::string& p, WeightPrecision precision)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.config = c;
  TensorSource src(file, path, device, precision);
  const int64_t D = c.hidden_size, q = int64_t(c.num_attention_heads) * c.head_dim,
                kv = int64_t(c.num_key_value_heads) * c.head_dim, ff = c.intermediate_size;
  m.embed = src.get_stored(p + "embed_tokens.weight", {c.vocab_size, D});
  m.final_norm = src.get(p + "norm.weight", {D});
  for (int i = 0; i < c.num_hidden_layers; ++i) {
    const std::string l = p + "layers." + std::to_string(i) + ".";
    Layer L;
    L.q = Linear::load(src, l + "self_attn.q_proj", D, q, false);
    L.k = Linear::load(src, l + "self_attn.k_proj", D, kv, false);
    L.v = Linear::load(src, l + "self_attn.v_proj", D, kv, false);
    L.o = Linear::load(src, l + "self_attn.o_proj", q, D, false);
    L.q_norm = src.get(l + "self_attn.q_norm.weight", {c.head_dim});
    L.k_norm = src.get(l + "self_attn.k_norm.weight", {c.head_dim});
    L.gate = Linear::load(src, l + "mlp.gate_proj", D, ff, false);
    L.up = Linear::load(src, l + "mlp.up_proj", D, ff, false);
    L.down = Linear::load(src, l + "mlp.down_proj", ff, D, false);
    L.input_norm = src.get(l + "input_layernorm.weight", {D});
    L.post_attention_norm = src.get(l + "post_attention_layernorm.weight", {D});
    L.pre_ff_norm = src.get(l + "pre_feedforward_layernorm.weight", {D});
    L.post_ff_norm = src.get(l + "post_feedforward_layernorm.weight", {D});
    m.layers.push_back(std::move(L));
  }
}

Gemma3::~Gemma3() = default;
Gemma3::Gemma3(Gemma3&&) noexcept = default;
Gemma3& Gemma3::operator=(Gemma3&&) noexcept = default;

torch::Tensor Gemma3::hidden_states(const torch::Tensor& tokens, const torch::Tensor& attention_mask) const {
  const Impl& m = *impl_;
  const Gemma3Config& c = m.config;
  torch::NoGradGuard no_grad;
  const int64_t B = tokens.size(0), S = tokens.size(1), H = c.num_attention_heads, KV = c.num_key_value_heads,
                hd = c.head_dim;
  const double eps = c.rms_norm_eps;
  auto opts = torch::TensorOptions().dtype(torch::kFloat32).device(m.embed.values.device());
  // embeddings x sqrt(D), the factor rounded to float32 first
  torch::Tensor x = m.embed.rows(tokens.to(torch::kLong)) * torch::tensor(std::sqrt(double(c.hidden_size)), opts);
  std::vector<torch::Tensor> states = {x};
  torch::Tensor positions = torch::arange(S, opts);
  torch::Tensor i = torch::arange(S, opts.dtype(torch::kLong)).unsqueeze(1), j = torch::arange(S, opts.dtype(torch::kLong)).unsqueeze(0);
  torch::Tensor causal = j <= i;  // [S, S]
  torch::Tensor local = causal & ((i - j) < c.sliding_window);
  torch::Tensor keys = attention_mask.defined() ? attention_mask.to(torch::kBool).view({B, 1, 1, S}).to(x.device())
                                                : torch::ones({B, 1, 1, S}, opts.dtype(torch::kBool));
  const double lowest = std::numeric_limits<float>::lowest();  // finite, so fully masked (padding) rows stay finite
  for (size_t n = 0; n < m.layers.size(); ++n) {
    const Layer& L = m.layers[n];
    const bool sliding = c.sliding[n];
    torch::Tensor h = norm(x, L.input_norm, eps);
    torch::Tensor q = norm(L.q(h).view({B, S, H, hd}), L.q_norm, eps).transpose(1, 2);
    torch::Tensor k = norm(L.k(h).view({B, S, KV, hd}), L.k_norm, eps).transpose(1, 2);
    torch::Tensor v = L.v(h).view({B, S, KV, hd}).transpose(1, 2);
    const double base = sliding ? c.rope_local_base_freq : c.rope_theta;
    const double factor = sliding ? 1.0 : c.rope_scaling_factor;
    q = rope(q, positions, base, factor);
    k = rope(k, positions, base, factor).repeat_interleave(H / KV, 1);
    v = v.repeat_interleave(H / KV, 1);
    torch::Tensor scores = torch::matmul(q, k.transpose(-2, -1)) * std::pow(c.query_pre_attn_scalar, -0.5);
    torch::Tensor allowed = (sliding ? local : causal).view({1, 1, S, S}) & keys;
    scores = scores.masked_fill(~allowed, lowest);
    torch::Tensor a = torch::matmul(scores.softmax(-1), v).transpose(1, 2).reshape({B, S, H * hd});
    x = x + norm(L.o(a), L.post_attention_norm, eps);
    h = norm(x, L.pre_ff_norm, eps);
    x = x + norm(L.down(torch::gelu(L.gate(h), "tanh") * L.up(h)), L.post_ff_norm, eps);
    states.push_back(x);
  }
  states.back() = norm(x, m.final_norm, eps);
  return torch::stack(states, -1);
}

}  // namespace opsis::ltx2
