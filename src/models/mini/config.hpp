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
  // Hash buckets for whole words: each byte of a word also carries its word's embedding, so
  // the words that decide a scene reach the network directly while the byte path still reads
  // any text (unknown words, typos). 0 = bytes only (weights made before this existed).
  int word_buckets = 4096;
  int identity_size = 64;  // identity portraits are resized to this square
  int phoneme_buckets = 256;
  int long_side = 128;     // native sizes: long_side^2, long_side x short_side, short_side x long_side
  int short_side = 72;
  double window_seconds = 4.0;
  // Time shift s of training and sampling: t' = s t / (1 + (s - 1) t). A 16x16x2-pixel patch
  // averages 1536 noisy values, so its mean colour is readable from x_t until t is near 1;
  // s > 1 trains and samples more at high noise, where the layout of the scene is decided
  // (the resolution shift of SD3). 1 = none (weights made before this existed).
  double timestep_shift = 1.0;
  // Side of the coarse colour layout the pooled text predicts directly (layout_grid^2 x RGB,
  // resized to the frame and added to the predicted clean clip, the transformer refining the
  // rest). The attention path alone learns text -> scene far too slowly for a CPU budget.
  // 0 = none (weights made before this existed).
  int layout_grid = 8;

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
