#pragma once
// The LTX-2 family's configuration, read from a checkpoint's metadata ("config" JSON with the
// sections transformer, vae, audio_vae, vocoder; "model_version"), never from a file name.
// Every field defaults to what the official reference assumes when the field is absent
// (docs/ltx2/reference-map.md).
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace opsis::ltx2 {

struct TransformerConfig {
  int num_layers = 48;
  int heads = 32, head_dim = 128;              // video stream: width 4096
  int audio_heads = 32, audio_head_dim = 64;   // audio stream: width 2048
  int in_channels = 128, out_channels = 128;
  int audio_in_channels = 128, audio_out_channels = 128;
  int cross_attention_dim = 4096, audio_cross_attention_dim = 2048;
  double norm_eps = 1e-6;
  double rope_theta = 10000.0;
  std::vector<double> max_pos = {20, 2048, 2048};
  std::vector<double> audio_max_pos = {20};
  double timestep_scale_multiplier = 1000;
  double av_ca_timestep_scale_multiplier = 1;
  bool split_rope = true;          // "rope_type": "split" (2.3) or "interleaved" (2.0)
  bool float64_rope = false;       // "frequencies_precision": "float64"
  bool gated_attention = false;    // "apply_gated_attention"
  bool cross_attention_adaln = false;
  bool prompt_adaln = true;        // "use_prompt_adaln_single" (only with cross_attention_adaln)
  bool ff_bias = true, audio_ff_bias = true;
  bool keyframes_embedding = false;  // "use_keyframes_abs_pos_embedding"
  // Text side. caption_proj_before_connector: the 2.3 ("V2") text path, projections before the
  // connectors; otherwise the 2.0 ("V1") path with caption projections inside the DiT.
  bool caption_proj_before_connector = false;
  int caption_channels = 3840;
  int connector_heads = 30, connector_head_dim = 128, connector_layers = 2;
  int audio_connector_heads = 30, audio_connector_head_dim = 128, audio_connector_layers = 2;
  std::vector<double> connector_max_pos = {1};
  bool connector_gated_attention = false;
  bool connector_ff_bias = true;

  int video_dim() const { return heads * head_dim; }
  int audio_dim() const { return audio_heads * audio_head_dim; }
  int ada_rows() const { return cross_attention_adaln ? 9 : 6; }
};

// One entry of "encoder_blocks" / "decoder_blocks": a name and its parameters.
struct VaeBlock {
  std::string name;         // res_x, res_x_y, compress_{time,space,all}[_res|_x_y], attn, ...
  int num_layers = 1;
  int multiplier = -1;      // -1: the block kind's default
  bool residual = false;
  bool inject_noise = false;
};

struct VaeConfig {
  std::string class_name = "CausalVideoAutoencoder";
  int in_channels = 3, out_channels = 3, latent_channels = 128, patch_size = 4;
  bool pixel_norm = true;             // "norm_layer": "pixel_norm" | "group_norm"
  std::string latent_log_var = "uniform";
  std::vector<VaeBlock> encoder_blocks, decoder_blocks;
  int decoder_base_channels = 128;
  bool causal_decoder = false;
  bool timestep_conditioning = true;
  std::string spatial_padding_mode = "reflect";          // decoder (and encoder when present)
  std::string encoder_spatial_padding_mode = "zeros";
  bool has_spatial_padding_mode = false;  // "spatial_padding_mode" present: the encoder uses it too
  const std::string& encoder_padding_mode() const {
    return has_spatial_padding_mode ? spatial_padding_mode : encoder_spatial_padding_mode;
  }
};

struct AudioVaeConfig {
  int ch = 128, out_ch = 2, num_res_blocks = 2, resolution = 256, z_channels = 8;
  std::vector<int> ch_mult = {1, 2, 4};
  std::vector<int> attn_resolutions = {8, 16, 32};
  bool pixel_norm = true;
  std::string causality_axis = "height";
  bool mid_block_attention = true;
  int mel_bins = 64;
  int sample_rate = 16000, hop_length = 160;
};

struct GeneratorConfig {  // one HiFi-GAN / BigVGAN generator
  std::string resblock = "1";      // "1" (HiFi-GAN) or "AMP1" (BigVGAN with anti-aliased snake)
  std::string activation = "snake";
  int upsample_initial_channel = 1024;
  std::vector<int> upsample_rates = {6, 5, 2, 2, 2};
  std::vector<int> upsample_kernel_sizes = {16, 15, 8, 4, 4};
  std::vector<int> resblock_kernel_sizes = {3, 7, 11};
  std::vector<std::vector<int>> resblock_dilation_sizes = {{1, 3, 5}, {1, 3, 5}, {1, 3, 5}};
  bool use_tanh_at_final = true;
  bool use_bias_at_final = true;
  int output_sampling_rate = 24000;
};

struct VocoderConfig {
  GeneratorConfig vocoder;
  bool bandwidth_extension = false;  // 2.3: a "bwe" section
  GeneratorConfig bwe;
  int bwe_input_rate = 0, bwe_output_rate = 0, bwe_n_fft = 0, bwe_hop = 0, bwe_mels = 0;
};

struct Config {
  TransformerConfig transformer;
  VaeConfig vae;
  AudioVaeConfig audio_vae;
  VocoderConfig vocoder;
  std::string model_version;     // as stored ("2.3.0", "2.3.rc1", "" when absent)
  std::vector<int> version;      // its leading integer parts: (2, 3, 0); () when absent
  // This version or a later one (lexicographic on the parts; false when absent).
  bool at_least(int major, int minor) const { return !version.empty() && version >= std::vector<int>{major, minor}; }
};

// Throws opsis::InvalidArgument("weights", ...) naming the field when the metadata is not an
// LTX-2 configuration (no "config", malformed JSON, a value of the wrong type, a fixed value
// the reference refuses, an unknown block).
Config parse_config(const std::map<std::string, std::string>& metadata);

}  // namespace opsis::ltx2
