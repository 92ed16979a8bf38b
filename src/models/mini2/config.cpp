#include "models/mini2/config.hpp"

#include <nlohmann/json.hpp>

#include "core/error.hpp"

namespace opsis::mini2 {

// With defaults: files written before the decoder refinement existed have no refine_* keys.
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(AutoencoderConfig, channels, frames_per_latent, downsample, width_fine,
                                                width_mid, width_coarse, refine_width, refine_blocks, fps, long_side,
                                                short_side)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(SoundConfig, sample_rate, n_fft, hop, mels, min_hz, max_hz, log_floor, log_offset,
                                   log_scale, frames_per_token, griffin_lim_iterations)

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(GeneratorConfig, d_model, heads, layers, mlp_ratio, aux_layer, word_buckets, max_words,
                                   phoneme_buckets, identity_size, identity_patch, timestep_shift, window_seconds,
                                   default_steps)

std::string Mini2Config::to_json() const {
  nlohmann::json j;
  j["format"] = kFormat;
  j["autoencoder"] = autoencoder;
  j["sound"] = sound;
  if (has_generator) j["generator"] = generator;
  return j.dump();
}

Mini2Config Mini2Config::from_json(const std::string& text) {
  Mini2Config c;
  try {
    const auto j = nlohmann::json::parse(text);
    if (j.value("format", std::string()) != kFormat)
      throw InvalidArgument("weights", std::string("not opsis-mini 2 weights: the config's format is '") +
                                           j.value("format", std::string("(none)")) + "', expected '" + kFormat + "'");
    j.at("autoencoder").get_to(c.autoencoder);
    j.at("sound").get_to(c.sound);
    c.has_generator = j.contains("generator");
    if (c.has_generator) j.at("generator").get_to(c.generator);
  } catch (const nlohmann::json::exception& e) {
    throw InvalidArgument("weights", std::string("opsis-mini 2 config in the weights' metadata is incomplete: ") + e.what());
  }
  const auto& a = c.autoencoder;
  const auto& s = c.sound;
  if (a.channels <= 0 || a.frames_per_latent != 2 || a.downsample != 16 || a.width_fine <= 0 || a.width_fine % 8 ||
      a.width_mid <= 0 || a.width_mid % 8 || a.width_coarse <= 0 || a.width_coarse % 8 || a.refine_width < 0 || a.refine_width % 8 ||
      a.refine_blocks < 0 || a.refine_blocks > 8 || a.fps <= 0 ||
      a.long_side <= 0 || a.short_side <= 0 || s.sample_rate <= 0 || s.n_fft <= 0 || s.hop <= 0 ||
      s.sample_rate % s.hop || s.mels <= 0 || !(s.min_hz >= 0 && s.max_hz > s.min_hz) || !(s.log_floor > 0) ||
      !(s.log_scale > 0) || s.frames_per_token <= 0 || s.griffin_lim_iterations < 0)
    throw InvalidArgument("weights", "opsis-mini 2 config in the weights' metadata is inconsistent: " + text);
  const auto& g = c.generator;
  if (c.has_generator &&
      (g.d_model <= 0 || g.heads <= 0 || g.d_model % g.heads || g.d_model % 8 || g.layers <= 0 || g.mlp_ratio <= 0 ||
       g.aux_layer < 1 || g.aux_layer > g.layers || g.word_buckets < 2 || g.max_words <= 0 || g.phoneme_buckets < 2 ||
       g.identity_size <= 0 || g.identity_patch <= 0 || g.identity_size % g.identity_patch ||
       !(g.timestep_shift > 0) || !(g.window_seconds >= 1) || g.default_steps <= 0))
    throw InvalidArgument("weights", "opsis-mini 2 config in the weights' metadata is inconsistent: " + text);
  return c;
}

}  // namespace opsis::mini2
