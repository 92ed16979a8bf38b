#include "models/ltx2/transformer.hpp"

#include <algorithm>

#include "core/error.hpp"
#include "models/ltx2/layout.hpp"
#include "models/ltx2/modules.hpp"

namespace opsis::ltx2 {
namespace {

const std::string kPrefix = "model.diffusion_model.";

// What one stream owns outside the blocks.
struct StreamWeights {
  Linear patchify_proj, proj_out;
  AdaLnSingle adaln, prompt_adaln, cross_scale_shift, cross_gate;
  Linear caption_1, caption_2;  // 2.0 only
  torch::Tensor scale_shift_table;  // [2, D]
  bool has_prompt_adaln = false, has_caption_projection = false;
  int64_t dim = 0, heads = 0;
};

struct BlockWeights {
  Attention attn1, attn2, audio_attn1, audio_attn2, audio_to_video, video_to_audio;
  FeedForward ff, audio_ff;
  torch::Tensor table, audio_table;                  // [k, Dv], [k, Da]
  torch::Tensor av_video_table, av_audio_table;      // [5, Dv], [5, Da]
  torch::Tensor prompt_table, audio_prompt_table;    // [2, Dv], [2, Da] (cross-attention AdaLN)
};

// A stream's state through the blocks, with the tensors its preprocessing made.
struct Stream {
  torch::Tensor x;                 // [B, T, D]
  torch::Tensor modulation;        // [B, T, k*D]
  torch::Tensor embedded;          // [B, T, D]
  torch::Tensor context;           // [B, S, D]
  Rope rope, cross_rope;
  torch::Tensor cross_scale_shift;  // [B, T, 4D]
  torch::Tensor cross_gate;         // [B, 1, D]
  torch::Tensor prompt;             // [B, 1, 2D] or undefined
};

// Row i of table [k, D] + embedding [B, T, k*D] viewed [B, T, k, D] -> [B, T, D] (only the
// rows used are materialised: at full size one row is B x 6144 x 4096).
torch::Tensor modulation(const torch::Tensor& table, const torch::Tensor& embedding, int64_t i) {
  const int64_t B = embedding.size(0), T = embedding.size(1), k = table.size(0);
  return table.select(0, i) + embedding.view({B, T, k, -1}).select(2, i);
}

torch::Tensor modulate(const torch::Tensor& x, const torch::Tensor& scale, const torch::Tensor& shift, double eps) {
  return rms_norm(x, eps) * (1 + scale) + shift;
}

// Per-row keep masks [B, 1, 1] for one block: 1 = run, 0 = skipped; undefined when no row skips.
torch::Tensor keep_mask(const std::vector<PerturbationSet>& rows, Skip what, int block, torch::Device device) {
  if (rows.empty()) return {};
  std::vector<float> keep(rows.size(), 1.0f);
  bool any = false;
  for (size_t r = 0; r < rows.size(); ++r)
    for (const Perturbation& p : rows[r])
      if (p.what == what && (p.blocks.empty() || std::find(p.blocks.begin(), p.blocks.end(), block) != p.blocks.end())) {
        keep[r] = 0.0f;
        any = true;
      }
  if (!any) return {};
  return torch::tensor(keep, torch::kFloat32).view({int64_t(rows.size()), 1, 1}).to(device);
}

}  // namespace

struct Transformer::Impl {
  TransformerConfig config;
  torch::Device device = torch::kCPU;
  StreamWeights video, audio;
  std::vector<BlockWeights> blocks;

  Stream prepare(const StreamWeights& w, const StreamInput& in, const StreamInput& other, bool is_video,
                 std::map<std::string, torch::Tensor>* trace) const;
  torch::Tensor head(const StreamWeights& w, const Stream& s) const;
};

Transformer::Transformer(const TransformerConfig& c, const safetensors::TensorStore& file, const std::string& path,
                         torch::Device device, WeightPrecision precision)
    : impl_(std::make_unique<Impl>()) {
  if (c.heads != c.audio_heads)
    throw InvalidArgument("weights", path + ": LTX-2 needs the same head count in both streams (video " +
                                         std::to_string(c.heads) + ", audio " + std::to_string(c.audio_heads) + ")");
  // The whole transformer layout first, so that the error names the first missing tensor and
  // how many more there are.
  Header header;
  header.metadata = file.metadata_map();
  for (const auto& name : file.names()) {
    const auto t = file.find(name);
    header.tensors[name] = {safetensors::dtype_name(t->dtype), t->shape};
  }
  Config whole;
  whole.transformer = c;
  Parts parts;
  parts.text = parts.video_encoder = parts.video_decoder = parts.audio_decoder = parts.vocoder = false;
  require_layout(header, expected_layout(whole, {}, parts), path);

  Impl& m = *impl_;
  m.config = c;
  m.device = device;
  TensorSource src(file, path, device, precision);
  const int64_t dv = c.video_dim(), da = c.audio_dim(), k = c.ada_rows();
  const bool prompt_adaln = c.cross_attention_adaln && c.prompt_adaln;
  const double eps = c.norm_eps;
  auto stream = [&](StreamWeights& w, const std::string& pre, const std::string& name, int64_t dim, int64_t heads,
                    int in, int out, const std::string& gate) {
    w.dim = dim;
    w.heads = heads;
    w.patchify_proj = Linear::load(src, kPrefix + pre + "patchify_proj", in, dim);
    w.proj_out = Linear::load(src, kPrefix + pre + "proj_out", dim, out);
    w.adaln = AdaLnSingle::load(src, kPrefix + pre + "adaln_single", dim, k);
    w.scale_shift_table = src.get(kPrefix + pre + "scale_shift_table", {2, dim});
    w.has_prompt_adaln = prompt_adaln;
    if (prompt_adaln) w.prompt_adaln = AdaLnSingle::load(src, kPrefix + pre + "prompt_adaln_single", dim, 2);
    w.cross_scale_shift = AdaLnSingle::load(src, kPrefix + "av_ca_" + name + "_scale_shift_adaln_single", dim, 4);
    w.cross_gate = AdaLnSingle::load(src, kPrefix + "av_ca_" + gate + "_gate_adaln_single", dim, 1);
    w.has_caption_projection = !c.caption_proj_before_connector;
    if (w.has_caption_projection) {
      w.caption_1 = Linear::load(src, kPrefix + pre + "caption_projection.linear_1", c.caption_channels, dim);
      w.caption_2 = Linear::load(src, kPrefix + pre + "caption_projection.linear_2", dim, dim);
    }
  };
  stream(m.video, "", "video", dv, c.heads, c.in_channels, c.out_channels, "a2v");
  stream(m.audio, "audio_", "audio", da, c.audio_heads, c.audio_in_channels, c.audio_out_channels, "v2a");
  const bool g = c.gated_attention;
  for (int i = 0; i < c.num_layers; ++i) {
    const std::string b = kPrefix + "transformer_blocks." + std::to_string(i) + ".";
    BlockWeights w;
    w.attn1 = Attention::load(src, b + "attn1", dv, dv, c.heads, c.head_dim, g, eps);
    w.attn2 = Attention::load(src, b + "attn2", dv, c.cross_attention_dim, c.heads, c.head_dim, g, eps);
    w.audio_attn1 = Attention::load(src, b + "audio_attn1", da, da, c.audio_heads, c.audio_head_dim, g, eps);
    w.audio_attn2 = Attention::load(src, b + "audio_attn2", da, c.audio_cross_attention_dim, c.audio_heads,
                                    c.audio_head_dim, g, eps);
    w.audio_to_video = Attention::load(src, b + "audio_to_video_attn", dv, da, c.audio_heads, c.audio_head_dim, g, eps);
    w.video_to_audio = Attention::load(src, b + "video_to_audio_attn", da, dv, c.audio_heads, c.audio_head_dim, g, eps);
    w.ff = FeedForward::load(src, b + "ff", dv, c.ff_bias);
    w.audio_ff = FeedForward::load(src, b + "audio_ff", da, c.audio_ff_bias);
    w.table = src.get(b + "scale_shift_table", {k, dv});
    w.audio_table = src.get(b + "audio_scale_shift_table", {k, da});
    w.av_video_table = src.get(b + "scale_shift_table_a2v_ca_video", {5, dv});
    w.av_audio_table = src.get(b + "scale_shift_table_a2v_ca_audio", {5, da});
    if (c.cross_attention_adaln) {
      w.prompt_table = src.get(b + "prompt_scale_shift_table", {2, dv});
      w.audio_prompt_table = src.get(b + "audio_prompt_scale_shift_table", {2, da});
    }
    m.blocks.push_back(std::move(w));
  }
}

Transformer::~Transformer() = default;
Transformer::Transformer(Transformer&&) noexcept = default;
Transformer& Transformer::operator=(Transformer&&) noexcept = default;

const TransformerConfig& Transformer::config() const { return impl_->config; }

Stream Transformer::Impl::prepare(const StreamWeights& w, const StreamInput& in, const StreamInput& other,
                                  bool is_video, std::map<std::string, torch::Tensor>* trace) const {
  const TransformerConfig& c = config;
  const int64_t B = in.latent.size(0);
  torch::Tensor t = in.timesteps.reshape({B, -1}).to(torch::kFloat32);
  const int64_t T = t.size(1);
  torch::Tensor scaled = (t * c.timestep_scale_multiplier).flatten();
  Stream s;
  s.x = w.patchify_proj(in.latent);
  auto [modulation, embedded] = w.adaln(scaled);
  s.modulation = modulation.view({B, T, -1});
  s.embedded = embedded.view({B, T, -1});
  s.context = in.context;
  if (w.has_caption_projection) s.context = w.caption_2(torch::gelu(w.caption_1(s.context), "tanh"));
  RopeOptions rope{c.rope_theta, c.split_rope, c.float64_rope};
  torch::Tensor middles = (in.positions.select(-1, 0) + in.positions.select(-1, 1)) / 2;  // [B, n, T]
  s.rope = rope_tables(middles, w.dim, is_video ? c.max_pos : c.audio_max_pos, w.heads, rope);
  const double cross_max = std::max(c.max_pos.at(0), c.audio_max_pos.at(0));
  s.cross_rope = rope_tables(middles.narrow(1, 0, 1), c.audio_cross_attention_dim, {cross_max}, w.heads, rope);
  s.cross_scale_shift = w.cross_scale_shift(scaled).first.view({B, T, -1});
  s.cross_gate = w.cross_gate(other.sigma.to(torch::kFloat32) * c.av_ca_timestep_scale_multiplier).first.view({B, 1, -1});
  if (w.has_prompt_adaln)
    s.prompt = w.prompt_adaln(in.sigma.to(torch::kFloat32) * c.timestep_scale_multiplier).first.view({B, 1, -1});
  if (trace) {
    const std::string p = is_video ? "pre.video." : "pre.audio.";
    auto& tr = *trace;
    tr[p + "x"] = s.x;
    tr[p + "timestep"] = s.modulation;
    tr[p + "embedded_timestep"] = s.embedded;
    tr[p + "context"] = s.context;
    tr[p + "pe_cos"] = s.rope.cos;
    tr[p + "pe_sin"] = s.rope.sin;
    tr[p + "cross_pe_cos"] = s.cross_rope.cos;
    tr[p + "cross_pe_sin"] = s.cross_rope.sin;
    tr[p + "cross_scale_shift_timestep"] = s.cross_scale_shift;
    tr[p + "cross_gate_timestep"] = s.cross_gate;
    if (s.prompt.defined()) tr[p + "prompt_timestep"] = s.prompt;
  }
  return s;
}

torch::Tensor Transformer::Impl::head(const StreamWeights& w, const Stream& s) const {
  torch::Tensor rows = w.scale_shift_table.unsqueeze(0).unsqueeze(0) + s.embedded.unsqueeze(2);  // [B, T, 2, D]
  torch::Tensor shift = rows.select(2, 0), scale = rows.select(2, 1);
  torch::Tensor normed = torch::layer_norm(s.x, {s.x.size(-1)}, {}, {}, config.norm_eps);
  return w.proj_out(normed * (1 + scale) + shift);
}

TransformerOutput Transformer::forward(const StreamInput& video_in, const StreamInput& audio_in,
                                       const std::vector<PerturbationSet>& perturbations,
                                       std::map<std::string, torch::Tensor>* trace) const {
  const Impl& m = *impl_;
  const TransformerConfig& c = m.config;
  const double eps = c.norm_eps;
  const int64_t B = video_in.latent.size(0);
  if (!perturbations.empty() && int64_t(perturbations.size()) != B)
    throw InvalidArgument("perturbations", "one perturbation set per batch row (" + std::to_string(B) + "), got " +
                                               std::to_string(perturbations.size()));
  torch::NoGradGuard no_grad;
  Stream v = m.prepare(m.video, video_in, audio_in, true, trace);
  Stream a = m.prepare(m.audio, audio_in, video_in, false, trace);

  // Self-attention (value pass-through when skipped) and text cross-attention of one stream.
  auto attend = [&](Stream& s, const Attention& self, const Attention& text, const torch::Tensor& table,
                    const torch::Tensor& prompt_table, const torch::Tensor& keep) {
    auto row = [&](int64_t i) { return modulation(table, s.modulation, i); };  // shift, scale, gate = rows 0, 1, 2
    s.x = s.x + self(modulate(s.x, row(1), row(0), eps), {}, s.rope, {}, keep) * row(2);
    torch::Tensor normed = rms_norm(s.x, eps);
    if (c.cross_attention_adaln) {  // query: rows 6, 7, 8 = shift, scale, gate; K/V: the prompt table
      torch::Tensor kv = prompt_table.unsqueeze(0).unsqueeze(0) + s.prompt.view({s.prompt.size(0), 1, 2, -1});
      torch::Tensor q = normed * (1 + row(7)) + row(6);
      torch::Tensor ctx = s.context * (1 + kv.select(2, 1)) + kv.select(2, 0);
      s.x = s.x + text(q, ctx) * row(8);
    } else {
      s.x = s.x + text(normed, s.context);
    }
  };
  auto feed_forward = [&](Stream& s, const FeedForward& ff, const torch::Tensor& table) {
    auto row = [&](int64_t i) { return modulation(table, s.modulation, i); };  // shift, scale, gate = rows 3, 4, 5
    s.x = s.x + ff(modulate(s.x, row(4), row(3), eps)) * row(5);
  };

  for (int i = 0; i < int(m.blocks.size()); ++i) {
    const BlockWeights& w = m.blocks[i];
    attend(v, w.attn1, w.attn2, w.table, w.prompt_table, keep_mask(perturbations, Skip::VideoSelfAttention, i, m.device));
    attend(a, w.audio_attn1, w.audio_attn2, w.audio_table, w.audio_prompt_table,
           keep_mask(perturbations, Skip::AudioSelfAttention, i, m.device));

    // Audio <-> video, both directions from the states after the attentions above.
    // rows 0, 1 = scale, shift of A->V; 2, 3 = scale, shift of V->A; row 4 = the gate
    const torch::Tensor video_table = w.av_video_table.narrow(0, 0, 4), audio_table = w.av_audio_table.narrow(0, 0, 4);
    auto vrow = [&](int64_t i) { return modulation(video_table, v.cross_scale_shift, i); };
    auto arow = [&](int64_t i) { return modulation(audio_table, a.cross_scale_shift, i); };
    torch::Tensor video_gate = w.av_video_table.select(0, 4) + v.cross_gate;  // [B, 1, Dv]
    torch::Tensor audio_gate = w.av_audio_table.select(0, 4) + a.cross_gate;  // [B, 1, Da]
    torch::Tensor a2v = w.audio_to_video(modulate(v.x, vrow(0), vrow(1), eps), modulate(a.x, arow(0), arow(1), eps),
                                         v.cross_rope, a.cross_rope) * video_gate;
    torch::Tensor v2a = w.video_to_audio(modulate(a.x, arow(2), arow(3), eps), modulate(v.x, vrow(2), vrow(3), eps),
                                         a.cross_rope, v.cross_rope) * audio_gate;
    if (torch::Tensor keep = keep_mask(perturbations, Skip::AudioToVideo, i, m.device); keep.defined()) a2v = a2v * keep;
    if (torch::Tensor keep = keep_mask(perturbations, Skip::VideoToAudio, i, m.device); keep.defined()) v2a = v2a * keep;
    v.x = v.x + a2v;
    a.x = a.x + v2a;

    feed_forward(v, w.ff, w.table);
    feed_forward(a, w.audio_ff, w.audio_table);
    if (trace) {
      (*trace)["block" + std::to_string(i) + ".video"] = v.x;
      (*trace)["block" + std::to_string(i) + ".audio"] = a.x;
    }
  }
  return {m.head(m.video, v), m.head(m.audio, a)};
}

}  // namespace opsis::ltx2
