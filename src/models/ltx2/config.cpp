#include "models/ltx2/config.hpp"

#include <nlohmann/json.hpp>

#include "core/error.hpp"

namespace opsis::ltx2 {
namespace {

using nlohmann::json;

[[noreturn]] void fail(const std::string& message) {
  throw InvalidArgument("weights", "LTX-2 checkpoint config: " + message);
}

template <typename T>
void read(const json& section, const char* key, T& out, const std::string& where) {
  auto it = section.find(key);
  if (it == section.end() || it->is_null()) return;  // absent: the reference default
  try {
    out = it->get<T>();
  } catch (const json::exception&) {
    fail(where + "." + key + " has the wrong type (" + it->dump() + ")");
  }
}

const json& section(const json& parent, const char* key) {
  static const json empty = json::object();
  auto it = parent.find(key);
  if (it == parent.end() || !it->is_object()) return empty;
  return *it;
}

// Fields whose value the reference checks (it refuses a checkpoint that says otherwise).
void expect(const json& t, const char* key, const json& value) {
  auto it = t.find(key);
  json actual = it == t.end() ? json(nullptr) : *it;
  if (actual != value)
    fail("transformer." + std::string(key) + " is " + actual.dump() + ", the reference requires " + value.dump());
}

TransformerConfig parse_transformer(const json& t) {
  TransformerConfig c;
  const std::string w = "transformer";
  expect(t, "dropout", 0.0);
  expect(t, "attention_bias", true);
  expect(t, "num_vector_embeds", nullptr);
  expect(t, "activation_fn", "gelu-approximate");
  expect(t, "num_embeds_ada_norm", 1000);
  expect(t, "use_linear_projection", false);
  expect(t, "only_cross_attention", false);
  expect(t, "cross_attention_norm", true);
  expect(t, "double_self_attention", false);
  expect(t, "upcast_attention", false);
  expect(t, "standardization_norm", "rms_norm");
  expect(t, "norm_elementwise_affine", false);
  expect(t, "qk_norm", "rms_norm");
  expect(t, "positional_embedding_type", "rope");
  expect(t, "use_audio_video_cross_attention", true);
  expect(t, "share_ff", false);
  expect(t, "av_cross_ada_norm", true);
  expect(t, "use_middle_indices_grid", true);
  read(t, "num_layers", c.num_layers, w);
  read(t, "num_attention_heads", c.heads, w);
  read(t, "attention_head_dim", c.head_dim, w);
  read(t, "audio_num_attention_heads", c.audio_heads, w);
  read(t, "audio_attention_head_dim", c.audio_head_dim, w);
  if (!t.contains("num_attention_heads") || t["num_attention_heads"] != t.value("audio_num_attention_heads", json(nullptr)))
    fail("transformer.num_attention_heads and audio_num_attention_heads must be given and equal");
  read(t, "in_channels", c.in_channels, w);
  read(t, "out_channels", c.out_channels, w);
  read(t, "audio_in_channels", c.audio_in_channels, w);
  read(t, "audio_out_channels", c.audio_out_channels, w);
  read(t, "cross_attention_dim", c.cross_attention_dim, w);
  read(t, "audio_cross_attention_dim", c.audio_cross_attention_dim, w);
  read(t, "norm_eps", c.norm_eps, w);
  read(t, "positional_embedding_theta", c.rope_theta, w);
  read(t, "positional_embedding_max_pos", c.max_pos, w);
  read(t, "audio_positional_embedding_max_pos", c.audio_max_pos, w);
  read(t, "timestep_scale_multiplier", c.timestep_scale_multiplier, w);
  read(t, "av_ca_timestep_scale_multiplier", c.av_ca_timestep_scale_multiplier, w);
  std::string rope = "split";
  read(t, "rope_type", rope, w);
  if (rope != "split" && rope != "interleaved") fail("transformer.rope_type \"" + rope + "\" is unknown");
  c.split_rope = rope == "split";
  c.float64_rope = t.value("frequencies_precision", json(false)) == json("float64");
  read(t, "apply_gated_attention", c.gated_attention, w);
  read(t, "cross_attention_adaln", c.cross_attention_adaln, w);
  read(t, "use_prompt_adaln_single", c.prompt_adaln, w);
  read(t, "ff_bias", c.ff_bias, w);
  read(t, "audio_ff_bias", c.audio_ff_bias, w);
  read(t, "use_keyframes_abs_pos_embedding", c.keyframes_embedding, w);

  // Text path: V2 when any of its four keys is present, and then all must hold these values.
  static const std::pair<const char*, bool> v2[] = {{"caption_proj_before_connector", true},
                                                    {"caption_projection_first_linear", false},
                                                    {"caption_proj_input_norm", false},
                                                    {"caption_projection_second_linear", false}};
  int present = 0;
  for (const auto& [key, value] : v2) present += t.contains(key) ? 1 : 0;
  if (present > 0) {
    for (const auto& [key, value] : v2)
      if (t.value(key, json(nullptr)) != json(value))
        fail(std::string("transformer.") + key + " must be " + (value ? "true" : "false") + " for the V2 text path");
    c.caption_proj_before_connector = true;
  } else {
    if (!t.contains("caption_channels")) fail("transformer.caption_channels is required for the 2.0 text path");
    read(t, "caption_channels", c.caption_channels, w);
  }
  read(t, "connector_num_attention_heads", c.connector_heads, w);
  read(t, "connector_attention_head_dim", c.connector_head_dim, w);
  read(t, "connector_num_layers", c.connector_layers, w);
  c.audio_connector_heads = c.connector_heads;
  c.audio_connector_head_dim = c.connector_head_dim;
  c.audio_connector_layers = c.connector_layers;
  read(t, "audio_connector_num_attention_heads", c.audio_connector_heads, w);
  read(t, "audio_connector_attention_head_dim", c.audio_connector_head_dim, w);
  read(t, "audio_connector_num_layers", c.audio_connector_layers, w);
  read(t, "connector_positional_embedding_max_pos", c.connector_max_pos, w);
  read(t, "connector_apply_gated_attention", c.connector_gated_attention, w);
  read(t, "connector_ff_bias", c.connector_ff_bias, w);
  return c;
}

std::vector<VaeBlock> parse_blocks(const json& list, const std::string& where) {
  std::vector<VaeBlock> blocks;
  if (!list.is_array()) return blocks;
  for (const auto& entry : list) {
    if (!entry.is_array() || entry.size() != 2 || !entry[0].is_string()) fail(where + " entry " + entry.dump() + " is not [name, params]");
    VaeBlock b;
    b.name = entry[0].get<std::string>();
    const json& p = entry[1];
    if (p.is_number_integer()) {
      b.num_layers = p.get<int>();
    } else if (p.is_object()) {
      read(p, "num_layers", b.num_layers, where);
      read(p, "multiplier", b.multiplier, where);
      read(p, "residual", b.residual, where);
      read(p, "inject_noise", b.inject_noise, where);
    } else {
      fail(where + " entry " + entry.dump() + " has parameters of the wrong type");
    }
    blocks.push_back(b);
  }
  return blocks;
}

VaeConfig parse_vae(const json& v) {
  VaeConfig c;
  const std::string w = "vae";
  read(v, "_class_name", c.class_name, w);
  read(v, "in_channels", c.in_channels, w);
  read(v, "out_channels", c.out_channels, w);
  read(v, "latent_channels", c.latent_channels, w);
  read(v, "patch_size", c.patch_size, w);
  std::string norm = "pixel_norm";
  read(v, "norm_layer", norm, w);
  if (norm != "pixel_norm" && norm != "group_norm") fail("vae.norm_layer \"" + norm + "\" is unknown");
  c.pixel_norm = norm == "pixel_norm";
  read(v, "latent_log_var", c.latent_log_var, w);
  c.encoder_blocks = parse_blocks(v.value("encoder_blocks", json::array()), "vae.encoder_blocks");
  c.decoder_blocks = parse_blocks(v.value("decoder_blocks", json::array()), "vae.decoder_blocks");
  read(v, "decoder_base_channels", c.decoder_base_channels, w);
  read(v, "causal_decoder", c.causal_decoder, w);
  read(v, "timestep_conditioning", c.timestep_conditioning, w);
  read(v, "spatial_padding_mode", c.spatial_padding_mode, w);
  c.has_spatial_padding_mode = v.contains("spatial_padding_mode") && !v["spatial_padding_mode"].is_null();
  read(v, "encoder_spatial_padding_mode", c.encoder_spatial_padding_mode, w);
  return c;
}

AudioVaeConfig parse_audio_vae(const json& a) {
  AudioVaeConfig c;
  const json& params = section(section(a, "model"), "params");
  const json& dd = section(params, "ddconfig");
  const std::string w = "audio_vae.model.params.ddconfig";
  read(dd, "ch", c.ch, w);
  read(dd, "out_ch", c.out_ch, w);
  read(dd, "ch_mult", c.ch_mult, w);
  read(dd, "num_res_blocks", c.num_res_blocks, w);
  read(dd, "attn_resolutions", c.attn_resolutions, w);
  read(dd, "resolution", c.resolution, w);
  read(dd, "z_channels", c.z_channels, w);
  std::string norm = "pixel";
  read(dd, "norm_type", norm, w);
  c.pixel_norm = norm == "pixel";
  read(dd, "causality_axis", c.causality_axis, w);
  read(dd, "mid_block_add_attention", c.mid_block_attention, w);
  const json& pre = section(a, "preprocessing");
  int mel = 0;
  read(dd, "mel_bins", mel, w);
  if (mel == 0) read(section(pre, "mel"), "n_mel_channels", mel, "audio_vae.preprocessing.mel");
  if (mel == 0) read(section(a, "variables"), "mel_bins", mel, "audio_vae.variables");
  if (mel != 0) c.mel_bins = mel;
  read(params, "sampling_rate", c.sample_rate, "audio_vae.model.params");
  read(section(pre, "stft"), "hop_length", c.hop_length, "audio_vae.preprocessing.stft");
  return c;
}

GeneratorConfig parse_generator(const json& g, const std::string& w) {
  GeneratorConfig c;
  read(g, "resblock", c.resblock, w);
  read(g, "activation", c.activation, w);
  read(g, "upsample_initial_channel", c.upsample_initial_channel, w);
  read(g, "upsample_rates", c.upsample_rates, w);
  read(g, "upsample_kernel_sizes", c.upsample_kernel_sizes, w);
  read(g, "resblock_kernel_sizes", c.resblock_kernel_sizes, w);
  read(g, "resblock_dilation_sizes", c.resblock_dilation_sizes, w);
  read(g, "use_tanh_at_final", c.use_tanh_at_final, w);
  read(g, "use_bias_at_final", c.use_bias_at_final, w);
  read(g, "output_sampling_rate", c.output_sampling_rate, w);
  if (c.upsample_rates.size() != c.upsample_kernel_sizes.size())
    fail(w + ".upsample_rates and upsample_kernel_sizes differ in length");
  if (c.resblock_kernel_sizes.size() != c.resblock_dilation_sizes.size())
    fail(w + ".resblock_kernel_sizes and resblock_dilation_sizes differ in length");
  if (c.resblock != "1" && c.resblock != "AMP1") fail(w + ".resblock \"" + c.resblock + "\" is not supported");
  if (g.value("stereo", json(true)) != json(true)) fail(w + ".stereo must be true");
  return c;
}

VocoderConfig parse_vocoder(const json& v) {
  VocoderConfig c;
  if (!v.contains("bwe")) {
    c.vocoder = parse_generator(v, "vocoder");
    if (c.vocoder.resblock != "1") fail("vocoder.resblock must be \"1\" without bandwidth extension");
    return c;
  }
  c.bandwidth_extension = true;
  c.vocoder = parse_generator(section(v, "vocoder"), "vocoder.vocoder");
  const json& b = section(v, "bwe");
  c.bwe = parse_generator(b, "vocoder.bwe");
  for (const auto* g : {&c.vocoder, &c.bwe})
    if (g->resblock != "AMP1" || g->activation != "snakebeta")
      fail("vocoder with bandwidth extension: both generators must be AMP1 with snakebeta");
  for (const char* key : {"input_sampling_rate", "output_sampling_rate", "n_fft", "hop_length", "num_mels"})
    if (!b.contains(key)) fail(std::string("vocoder.bwe.") + key + " is required");
  read(b, "input_sampling_rate", c.bwe_input_rate, "vocoder.bwe");
  read(b, "output_sampling_rate", c.bwe_output_rate, "vocoder.bwe");
  read(b, "n_fft", c.bwe_n_fft, "vocoder.bwe");
  read(b, "hop_length", c.bwe_hop, "vocoder.bwe");
  read(b, "num_mels", c.bwe_mels, "vocoder.bwe");
  c.vocoder.output_sampling_rate = c.bwe_input_rate;
  c.bwe.output_sampling_rate = c.bwe_output_rate;
  return c;
}

std::vector<int> parse_version(const std::string& text) {
  std::vector<int> parts;
  size_t start = 0;
  while (start <= text.size() && !text.empty()) {
    size_t dot = text.find('.', start);
    std::string part = text.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (part.empty() || part.find_first_not_of("0123456789") != std::string::npos) break;
    parts.push_back(std::stoi(part));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return parts;
}

}  // namespace

Config parse_config(const std::map<std::string, std::string>& metadata) {
  auto it = metadata.find("config");
  if (it == metadata.end()) fail("the file has no \"config\" metadata (not an LTX-2 single-file checkpoint)");
  json root = json::parse(it->second, nullptr, false);
  if (root.is_discarded() || !root.is_object()) fail("\"config\" metadata is not a JSON object");
  Config c;
  c.transformer = parse_transformer(section(root, "transformer"));
  c.vae = parse_vae(section(root, "vae"));
  c.audio_vae = parse_audio_vae(section(root, "audio_vae"));
  c.vocoder = parse_vocoder(section(root, "vocoder"));
  if (auto v = metadata.find("model_version"); v != metadata.end()) {
    c.model_version = v->second;
    std::string normalized = v->second;
    for (char& ch : normalized)
      if (ch == '-') ch = '.';
    c.version = parse_version(normalized);
  }
  return c;
}

}  // namespace opsis::ltx2
