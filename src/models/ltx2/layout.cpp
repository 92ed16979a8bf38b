#include "models/ltx2/layout.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/safetensors.hpp"

namespace opsis::ltx2 {
namespace {

[[noreturn]] void unsupported(const std::string& what) {
  throw InvalidArgument("weights", "LTX-2: " + what + " is not supported by this port yet");
}

struct Writer {
  Layout& out;
  void add(const std::string& name, Shape shape) { out[name] = std::move(shape); }
  void linear(const std::string& p, int64_t in, int64_t out_features, bool bias = true) {
    add(p + ".weight", {out_features, in});
    if (bias) add(p + ".bias", {out_features});
  }
};

// ---- transformer -------------------------------------------------------------------------

void attention(Writer& w, const std::string& p, int64_t query_dim, int64_t context_dim, int64_t heads,
               int64_t head_dim, bool gated) {
  const int64_t inner = heads * head_dim;
  w.linear(p + ".to_q", query_dim, inner);
  w.linear(p + ".to_k", context_dim, inner);
  w.linear(p + ".to_v", context_dim, inner);
  w.add(p + ".q_norm.weight", {inner});
  w.add(p + ".k_norm.weight", {inner});
  w.linear(p + ".to_out.0", inner, query_dim);
  if (gated) w.linear(p + ".to_gate_logits", query_dim, heads);
}

void feed_forward(Writer& w, const std::string& p, int64_t dim, bool bias) {
  w.linear(p + ".net.0.proj", dim, 4 * dim, bias);
  w.linear(p + ".net.2", 4 * dim, dim, bias);
}

void adaln_single(Writer& w, const std::string& p, int64_t dim, int64_t coefficient) {
  w.linear(p + ".emb.timestep_embedder.linear_1", 256, dim);
  w.linear(p + ".emb.timestep_embedder.linear_2", dim, dim);
  w.linear(p + ".linear", dim, coefficient * dim);
}

void transformer(Writer& w, const TransformerConfig& c) {
  const std::string p = "model.diffusion_model.";
  const int64_t dv = c.video_dim(), da = c.audio_dim(), k = c.ada_rows();
  const bool prompt_adaln = c.cross_attention_adaln && c.prompt_adaln;
  // video stream
  w.linear(p + "patchify_proj", c.in_channels, dv);
  if (c.keyframes_embedding) w.add(p + "keyframes_abs_pos_embedding", {1, dv});
  adaln_single(w, p + "adaln_single", dv, k);
  if (prompt_adaln) adaln_single(w, p + "prompt_adaln_single", dv, 2);
  w.add(p + "scale_shift_table", {2, dv});
  w.linear(p + "proj_out", dv, c.out_channels);
  // audio stream
  w.linear(p + "audio_patchify_proj", c.audio_in_channels, da);
  adaln_single(w, p + "audio_adaln_single", da, k);
  if (prompt_adaln) adaln_single(w, p + "audio_prompt_adaln_single", da, 2);
  w.add(p + "audio_scale_shift_table", {2, da});
  w.linear(p + "audio_proj_out", da, c.audio_out_channels);
  // audio <-> video cross-attention modulation
  adaln_single(w, p + "av_ca_video_scale_shift_adaln_single", dv, 4);
  adaln_single(w, p + "av_ca_audio_scale_shift_adaln_single", da, 4);
  adaln_single(w, p + "av_ca_a2v_gate_adaln_single", dv, 1);
  adaln_single(w, p + "av_ca_v2a_gate_adaln_single", da, 1);
  // 2.0: caption projections inside the DiT (linear, GELU-tanh, linear)
  if (!c.caption_proj_before_connector) {
    w.linear(p + "caption_projection.linear_1", c.caption_channels, dv);
    w.linear(p + "caption_projection.linear_2", dv, dv);
    w.linear(p + "audio_caption_projection.linear_1", c.caption_channels, da);
    w.linear(p + "audio_caption_projection.linear_2", da, da);
  }
  for (int i = 0; i < c.num_layers; ++i) {
    const std::string b = p + "transformer_blocks." + std::to_string(i) + ".";
    attention(w, b + "attn1", dv, dv, c.heads, c.head_dim, c.gated_attention);
    attention(w, b + "attn2", dv, c.cross_attention_dim, c.heads, c.head_dim, c.gated_attention);
    feed_forward(w, b + "ff", dv, c.ff_bias);
    w.add(b + "scale_shift_table", {k, dv});
    attention(w, b + "audio_attn1", da, da, c.audio_heads, c.audio_head_dim, c.gated_attention);
    attention(w, b + "audio_attn2", da, c.audio_cross_attention_dim, c.audio_heads, c.audio_head_dim,
              c.gated_attention);
    feed_forward(w, b + "audio_ff", da, c.audio_ff_bias);
    w.add(b + "audio_scale_shift_table", {k, da});
    // Q from one stream, K/V from the other; both use the audio head count and head width.
    attention(w, b + "audio_to_video_attn", dv, da, c.audio_heads, c.audio_head_dim, c.gated_attention);
    attention(w, b + "video_to_audio_attn", da, dv, c.audio_heads, c.audio_head_dim, c.gated_attention);
    w.add(b + "scale_shift_table_a2v_ca_audio", {5, da});
    w.add(b + "scale_shift_table_a2v_ca_video", {5, dv});
    if (c.cross_attention_adaln) {
      w.add(b + "prompt_scale_shift_table", {2, dv});
      w.add(b + "audio_prompt_scale_shift_table", {2, da});
    }
  }
}

// ---- text path -----------------------------------------------------------------------------

void connector(Writer& w, const std::string& p, int64_t heads, int64_t head_dim, int layers, bool gated,
               bool ff_bias) {
  const int64_t dim = heads * head_dim;
  w.add(p + "learnable_registers", {128, dim});
  for (int i = 0; i < layers; ++i) {
    const std::string b = p + "transformer_1d_blocks." + std::to_string(i) + ".";
    attention(w, b + "attn1", dim, dim, heads, head_dim, gated);
    feed_forward(w, b + "ff", dim, ff_bias);
  }
}

void text(Writer& w, const TransformerConfig& c, const TextEncoderSizes& t) {
  const int64_t flat = int64_t(t.hidden) * t.hidden_states;
  if (c.caption_proj_before_connector) {
    w.linear("text_embedding_projection.video_aggregate_embed", flat, c.video_dim());
    w.linear("text_embedding_projection.audio_aggregate_embed", flat, c.audio_dim());
  } else {
    w.linear("text_embedding_projection.aggregate_embed", flat, t.hidden, false);
  }
  connector(w, "model.diffusion_model.video_embeddings_connector.", c.connector_heads, c.connector_head_dim,
            c.connector_layers, c.connector_gated_attention, c.connector_ff_bias);
  connector(w, "model.diffusion_model.audio_embeddings_connector.", c.audio_connector_heads,
            c.audio_connector_head_dim, c.audio_connector_layers, c.connector_gated_attention,
            c.connector_ff_bias);
}

// ---- video VAE -----------------------------------------------------------------------------

int64_t stride_product(const std::string& name) {
  if (name.rfind("compress_all", 0) == 0) return 8;
  if (name.rfind("compress_space", 0) == 0) return 4;
  if (name.rfind("compress_time", 0) == 0) return 2;
  return 1;
}

void conv3d(Writer& w, const std::string& p, int64_t in, int64_t out) {  // CausalConv3d, kernel 3
  w.add(p + ".conv.weight", {out, in, 3, 3, 3});
  w.add(p + ".conv.bias", {out});
}

void time_embedder(Writer& w, const std::string& p, int64_t dim) {
  w.linear(p + ".timestep_embedder.linear_1", 256, dim);
  w.linear(p + ".timestep_embedder.linear_2", dim, dim);
}

void resnet3d(Writer& w, const std::string& p, int64_t in, int64_t out, const VaeConfig& v, bool timestep,
              bool inject_noise) {
  if (!v.pixel_norm) {
    w.add(p + ".norm1.weight", {in});
    w.add(p + ".norm1.bias", {in});
    w.add(p + ".norm2.weight", {out});
    w.add(p + ".norm2.bias", {out});
  }
  conv3d(w, p + ".conv1", in, out);
  conv3d(w, p + ".conv2", out, out);
  if (inject_noise) {
    w.add(p + ".per_channel_scale1", {in, 1, 1});
    w.add(p + ".per_channel_scale2", {in, 1, 1});
  }
  if (in != out) {
    w.add(p + ".conv_shortcut.weight", {out, in, 1, 1, 1});
    w.add(p + ".conv_shortcut.bias", {out});
    w.add(p + ".norm3.weight", {in});
    w.add(p + ".norm3.bias", {in});
  }
  if (timestep) w.add(p + ".scale_shift_table", {4, in});
}

void mid_block(Writer& w, const std::string& p, int64_t ch, int layers, const VaeConfig& v, bool timestep,
               bool inject_noise) {
  if (timestep) time_embedder(w, p + ".time_embedder", 4 * ch);
  for (int j = 0; j < layers; ++j)
    resnet3d(w, p + ".res_blocks." + std::to_string(j), ch, ch, v, timestep, inject_noise);
}

void norm_out(Writer& w, const std::string& p, int64_t ch, const VaeConfig& v) {
  if (v.pixel_norm) return;
  w.add(p + ".conv_norm_out.weight", {ch});
  w.add(p + ".conv_norm_out.bias", {ch});
}

void video_encoder(Writer& w, const VaeConfig& v) {
  const std::string p = "vae.encoder";
  int64_t ch = v.latent_channels;
  conv3d(w, p + ".conv_in", int64_t(v.in_channels) * v.patch_size * v.patch_size, ch);
  for (size_t i = 0; i < v.encoder_blocks.size(); ++i) {
    const VaeBlock& b = v.encoder_blocks[i];
    const std::string q = p + ".down_blocks." + std::to_string(i);
    const int mult = b.multiplier < 0 ? 2 : b.multiplier;
    if (b.name == "res_x") {
      mid_block(w, q, ch, b.num_layers, v, false, false);
    } else if (b.name == "res_x_y") {
      resnet3d(w, q, ch, ch * mult, v, false, false);
      ch *= mult;
    } else if (b.name == "compress_time" || b.name == "compress_space" || b.name == "compress_all") {
      conv3d(w, q, ch, ch);
    } else if (b.name == "compress_all_x_y") {
      conv3d(w, q, ch, ch * mult);
      ch *= mult;
    } else if (b.name == "compress_all_res" || b.name == "compress_space_res" || b.name == "compress_time_res") {
      conv3d(w, q + ".conv", ch, ch * mult / stride_product(b.name));
      ch *= mult;
    } else {
      unsupported("video encoder block \"" + b.name + "\"");
    }
  }
  norm_out(w, p, ch, v);
  int64_t out = v.latent_channels;
  if (v.latent_log_var == "per_channel") out *= 2;
  else if (v.latent_log_var == "uniform" || v.latent_log_var == "constant") out += 1;
  else if (v.latent_log_var != "none") unsupported("vae.latent_log_var \"" + v.latent_log_var + "\"");
  conv3d(w, p + ".conv_out", ch, out);
}

void video_decoder(Writer& w, const VaeConfig& v) {
  if (v.class_name != "CausalVideoAutoencoder") unsupported("video VAE class \"" + v.class_name + "\"");
  const std::string p = "vae.decoder";
  int64_t ch = v.decoder_base_channels;
  for (const VaeBlock& b : v.decoder_blocks) {  // bottleneck width: base x upsampling multipliers
    if (b.name == "compress_time" || b.name == "compress_space" || b.name == "compress_all")
      ch *= b.multiplier < 0 ? 1 : b.multiplier;
    else if (b.name == "res_x_y")
      ch *= b.multiplier < 0 ? 2 : b.multiplier;
  }
  conv3d(w, p + ".conv_in", v.latent_channels, ch);
  const bool t = v.timestep_conditioning;
  for (size_t i = 0; i < v.decoder_blocks.size(); ++i) {
    const VaeBlock& b = v.decoder_blocks[v.decoder_blocks.size() - 1 - i];  // built in reverse
    const std::string q = p + ".up_blocks." + std::to_string(i);
    if (b.name == "res_x") {
      mid_block(w, q, ch, b.num_layers, v, t, b.inject_noise);
    } else if (b.name == "res_x_y") {
      const int mult = b.multiplier < 0 ? 2 : b.multiplier;
      resnet3d(w, q, ch, ch / mult, v, false, b.inject_noise);
      ch /= mult;
    } else if (b.name == "compress_time" || b.name == "compress_space" || b.name == "compress_all") {
      const int mult = b.multiplier < 0 ? 1 : b.multiplier;
      conv3d(w, q + ".conv", ch, stride_product(b.name) * ch / mult);
      ch /= mult;
    } else {
      unsupported("video decoder block \"" + b.name + "\"");
    }
  }
  norm_out(w, p, ch, v);
  conv3d(w, p + ".conv_out", ch, int64_t(v.out_channels) * v.patch_size * v.patch_size);
  if (t) {
    w.add(p + ".timestep_scale_multiplier", {});
    time_embedder(w, p + ".last_time_embedder", 2 * ch);
    w.add(p + ".last_scale_shift_table", {2, ch});
  }
}

// ---- audio VAE decoder -----------------------------------------------------------------------

void conv2d(Writer& w, const std::string& p, int64_t in, int64_t out, int64_t k) {  // CausalConv2d
  w.add(p + ".conv.weight", {out, in, k, k});
  w.add(p + ".conv.bias", {out});
}

void resnet2d(Writer& w, const std::string& p, int64_t in, int64_t out) {
  conv2d(w, p + ".conv1", in, out, 3);
  conv2d(w, p + ".conv2", out, out, 3);
  if (in != out) conv2d(w, p + ".nin_shortcut", in, out, 1);
}

void attn2d(Writer& w, const std::string& p, int64_t ch) {
  for (const char* n : {".q", ".k", ".v", ".proj_out"}) {
    w.add(p + n + ".weight", {ch, ch, 1, 1});
    w.add(p + n + ".bias", {ch});
  }
}

void audio_decoder(Writer& w, const AudioVaeConfig& a) {
  if (!a.pixel_norm) unsupported("audio VAE group norm");
  const std::string p = "audio_vae.decoder";
  const int levels = int(a.ch_mult.size());
  int64_t ch = int64_t(a.ch) * a.ch_mult.back();
  w.add("audio_vae.per_channel_statistics.std-of-means", {a.ch});
  w.add("audio_vae.per_channel_statistics.mean-of-means", {a.ch});
  conv2d(w, p + ".conv_in", a.z_channels, ch, 3);
  resnet2d(w, p + ".mid.block_1", ch, ch);
  if (a.mid_block_attention) attn2d(w, p + ".mid.attn_1", ch);
  resnet2d(w, p + ".mid.block_2", ch, ch);
  int res = a.resolution >> (levels - 1);
  for (int level = levels - 1; level >= 0; --level) {
    const std::string q = p + ".up." + std::to_string(level);
    const int64_t out = int64_t(a.ch) * a.ch_mult[level];
    const bool attn = std::find(a.attn_resolutions.begin(), a.attn_resolutions.end(), res) != a.attn_resolutions.end();
    for (int j = 0; j <= a.num_res_blocks; ++j) {
      resnet2d(w, q + ".block." + std::to_string(j), ch, out);
      ch = out;
      if (attn) attn2d(w, q + ".attn." + std::to_string(j), ch);
    }
    if (level != 0) {
      conv2d(w, q + ".upsample.conv", ch, ch, 3);
      res *= 2;
    }
  }
  conv2d(w, p + ".conv_out", ch, a.out_ch, 3);
}

// ---- vocoder -------------------------------------------------------------------------------

void conv1d(Writer& w, const std::string& p, int64_t in, int64_t out, int64_t k, bool bias = true) {
  w.add(p + ".weight", {out, in, k});
  if (bias) w.add(p + ".bias", {out});
}

void anti_aliased_activation(Writer& w, const std::string& p, int64_t ch, bool beta) {
  w.add(p + ".act.alpha", {ch});
  if (beta) w.add(p + ".act.beta", {ch});
  w.add(p + ".upsample.filter", {1, 1, 12});
  w.add(p + ".downsample.lowpass.filter", {1, 1, 12});
}

void generator(Writer& w, const std::string& p, const GeneratorConfig& g) {
  const bool amp = g.resblock == "AMP1";
  const bool beta = g.activation == "snakebeta";
  const int64_t u = g.upsample_initial_channel;
  conv1d(w, p + "conv_pre", 128, u, 7);  // stereo: 2 x 64 mel bins
  const size_t levels = g.upsample_rates.size();
  const size_t kernels = g.resblock_kernel_sizes.size();
  for (size_t i = 0; i < levels; ++i) {
    const int64_t in = u >> i, out = u >> (i + 1);
    w.add(p + "ups." + std::to_string(i) + ".weight", {in, out, g.upsample_kernel_sizes[i]});
    w.add(p + "ups." + std::to_string(i) + ".bias", {out});
    for (size_t j = 0; j < kernels; ++j) {
      const std::string r = p + "resblocks." + std::to_string(i * kernels + j) + ".";
      const int64_t k = g.resblock_kernel_sizes[j];
      const size_t n = amp ? 3 : g.resblock_dilation_sizes[j].size();
      for (size_t d = 0; d < n; ++d) {
        conv1d(w, r + "convs1." + std::to_string(d), out, out, k);
        conv1d(w, r + "convs2." + std::to_string(d), out, out, k);
        if (amp) {
          anti_aliased_activation(w, r + "acts1." + std::to_string(d), out, beta);
          anti_aliased_activation(w, r + "acts2." + std::to_string(d), out, beta);
        }
      }
    }
  }
  const int64_t last = u >> levels;
  if (amp) anti_aliased_activation(w, p + "act_post", last, true);
  conv1d(w, p + "conv_post", last, 2, 7, g.use_bias_at_final);
}

void vocoder(Writer& w, const VocoderConfig& v) {
  if (!v.bandwidth_extension) {
    generator(w, "vocoder.", v.vocoder);
    return;
  }
  generator(w, "vocoder.vocoder.", v.vocoder);
  generator(w, "vocoder.bwe_generator.", v.bwe);
  const int64_t freqs = v.bwe_n_fft / 2 + 1;
  w.add("vocoder.mel_stft.mel_basis", {v.bwe_mels, freqs});
  w.add("vocoder.mel_stft.stft_fn.forward_basis", {2 * freqs, 1, v.bwe_n_fft});
  w.add("vocoder.mel_stft.stft_fn.inverse_basis", {2 * freqs, 1, v.bwe_n_fft});
}

}  // namespace

Layout expected_layout(const Config& config, const TextEncoderSizes& text_sizes, const Parts& parts) {
  Layout out;
  Writer w{out};
  if (parts.transformer) transformer(w, config.transformer);
  if (parts.text) text(w, config.transformer, text_sizes);
  if (parts.video_encoder || parts.video_decoder) {
    w.add("vae.per_channel_statistics.std-of-means", {config.vae.latent_channels});
    w.add("vae.per_channel_statistics.mean-of-means", {config.vae.latent_channels});
  }
  if (parts.video_encoder) video_encoder(w, config.vae);
  if (parts.video_decoder) video_decoder(w, config.vae);
  if (parts.audio_decoder) audio_decoder(w, config.audio_vae);
  if (parts.vocoder) vocoder(w, config.vocoder);
  return out;
}

Header read_header(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError("cannot open " + path);
  unsigned char size_bytes[8];
  if (!in.read(reinterpret_cast<char*>(size_bytes), 8)) throw InvalidArgument("weights", path + ": not a safetensors file (too short)");
  uint64_t size = 0;
  for (int i = 7; i >= 0; --i) size = (size << 8) | size_bytes[i];
  in.seekg(0, std::ios::end);
  const auto file_size = static_cast<uint64_t>(in.tellg());
  if (size > file_size - 8 || size > (uint64_t(1) << 30))
    throw InvalidArgument("weights", path + ": safetensors header length out of range");
  in.seekg(8);
  std::string text(size, '\0');
  if (!in.read(text.data(), std::streamsize(size))) throw IoError("cannot read the header of " + path);
  auto json = nlohmann::json::parse(text, nullptr, false);
  if (json.is_discarded() || !json.is_object()) throw InvalidArgument("weights", path + ": safetensors header is not a JSON object");
  Header header;
  for (const auto& [name, value] : json.items()) {
    if (name == "__metadata__") {
      if (!value.is_object()) throw InvalidArgument("weights", path + ": __metadata__ is not an object");
      for (const auto& [key, v] : value.items())
        if (v.is_string()) header.metadata[key] = v.get<std::string>();
      continue;
    }
    if (!value.is_object() || !value.contains("dtype") || !value.contains("shape") || !value["dtype"].is_string() ||
        !value["shape"].is_array())
      throw InvalidArgument("weights", path + ": bad header entry for " + name);
    TensorInfo info;
    info.dtype = value["dtype"].get<std::string>();
    for (const auto& d : value["shape"]) {
      if (!d.is_number_integer() || d.get<int64_t>() < 0) throw InvalidArgument("weights", path + ": bad shape for " + name);
      info.shape.push_back(d.get<int64_t>());
    }
    header.tensors.emplace(name, std::move(info));
  }
  return header;
}

LayoutReport compare(const Header& header, const Layout& expected) {
  LayoutReport report;
  for (const auto& [name, shape] : expected) {
    auto it = header.tensors.find(name);
    if (it == header.tensors.end())
      report.missing.push_back(name);
    else if (it->second.shape != shape)
      report.misshaped.push_back(name + ": file " + safetensors::shape_text(it->second.shape) + ", expected " +
                                 safetensors::shape_text(shape));
  }
  for (const auto& [name, info] : header.tensors)
    if (!expected.count(name)) report.unexpected.push_back(name);
  return report;
}

void require_layout(const Header& header, const Layout& expected, const std::string& path) {
  LayoutReport r = compare(header, expected);
  if (r.ok()) return;
  const size_t problems = r.missing.size() + r.misshaped.size();
  std::string first = !r.missing.empty() ? "missing tensor " + r.missing.front() : "mis-shaped tensor " + r.misshaped.front();
  if (problems > 1) first += " (and " + std::to_string(problems - 1) + " more)";
  throw InvalidArgument("weights", path + ": not the LTX-2 checkpoint its config describes: " + first);
}

}  // namespace opsis::ltx2
