#pragma once
// Sizes of the opsis-mini model. Stored in the weights' metadata ("opsis.config", JSON) and
// read back from there: the file, not its name, says what the model is.
#include <string>
#include <utility>
#include <vector>

namespace opsis::mini {

struct MiniConfig {
  int d_model = 192;
  int heads = 4;
  int layers = 4;          // joint blocks (each: a video stream block + an audio stream block)
  int text_layers = 2;
  int mlp_ratio = 4;
  int patch = 16;          // video patch side, pixels
  int frames_per_token = 2;  // video frames per patch in time: 24 fps -> 12 latent frames/s
  int fps = 24;
  int sample_rate = 16000;
  int audio_patch = 640;   // raw samples per audio token: 40 ms, 25 tokens/s
  float audio_scale = 4.0f;  // waveform * scale is what the flow models (unit-ish variance)
  int max_text_bytes = 192;
  int identity_size = 64;  // identity portraits are resized to this square
  int phoneme_buckets = 256;
  int long_side = 128;     // native sizes: long_side^2, long_side x short_side, short_side x long_side
  int short_side = 72;
  double window_seconds = 4.0;

  std::vector<std::pair<int, int>> sizes() const {
    return {{long_side, short_side}, {short_side, long_side}, {long_side, long_side}};
  }
  int padded(int pixels) const { return (pixels + patch - 1) / patch * patch; }
  // Video frames a clip of `seconds` is generated with: a whole number of latent frames.
  int frames_for(double seconds) const;
  int audio_tokens_for(int frames) const;  // covers frames / fps seconds

  std::string to_json() const;
  // Throws opsis::InvalidArgument("weights", ...) for missing or inconsistent values.
  static MiniConfig from_json(const std::string& text);
};

}  // namespace opsis::mini
