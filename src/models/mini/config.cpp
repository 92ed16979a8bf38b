#include "models/mini/config.hpp"

#include <cmath>
#include <nlohmann/json.hpp>

#include "core/error.hpp"

namespace opsis::mini {

int MiniConfig::frames_for(double seconds) const {
  const int frames = std::max(1, int(std::lround(seconds * fps)));
  return (frames + frames_per_token - 1) / frames_per_token * frames_per_token;
}

int MiniConfig::audio_tokens_for(int frames) const {
  const long samples = long(std::ceil(double(frames) / fps * sample_rate));
  return int((samples + audio_patch - 1) / audio_patch);
}

#define OPSIS_MINI_CONFIG_FIELDS(X) \
  X(d_model) X(heads) X(layers) X(text_layers) X(mlp_ratio) X(patch) X(frames_per_token) X(fps) \
  X(sample_rate) X(audio_patch) X(audio_scale) X(max_text_bytes) X(identity_size) X(phoneme_buckets) \
  X(long_side) X(short_side) X(window_seconds)

std::string MiniConfig::to_json() const {
  nlohmann::json j;
#define X(field) j[#field] = field;
  OPSIS_MINI_CONFIG_FIELDS(X)
#undef X
  j["word_buckets"] = word_buckets;
  j["timestep_shift"] = timestep_shift;
  j["layout_grid"] = layout_grid;
  return j.dump();
}

MiniConfig MiniConfig::from_json(const std::string& text) {
  MiniConfig c;
  try {
    const auto j = nlohmann::json::parse(text);
#define X(field) j.at(#field).get_to(c.field);
    OPSIS_MINI_CONFIG_FIELDS(X)
#undef X
    c.word_buckets = j.value("word_buckets", 0);
    c.timestep_shift = j.value("timestep_shift", 1.0);
    c.layout_grid = j.value("layout_grid", 0);
  } catch (const nlohmann::json::exception& e) {
    throw InvalidArgument("weights", std::string("opsis-mini config in the weights' metadata is incomplete: ") + e.what());
  }
  if (c.d_model <= 0 || c.heads <= 0 || c.d_model % c.heads || c.d_model % 4 || c.layers <= 0 || c.patch <= 0 ||
      c.frames_per_token <= 0 || c.fps <= 0 || c.sample_rate <= 0 || c.audio_patch <= 0 || c.max_text_bytes <= 0 ||
      c.identity_size % c.patch || c.phoneme_buckets < 2 || c.word_buckets < 0 || !(c.timestep_shift > 0) || c.layout_grid < 0 || c.layout_grid > 64 || c.long_side <= 0 || c.short_side <= 0)
    throw InvalidArgument("weights", "opsis-mini config in the weights' metadata is inconsistent: " + text);
  return c;
}

}  // namespace opsis::mini
