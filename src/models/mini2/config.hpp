#pragma once
// Sizes of opsis-mini 2, stored as JSON in the weights' metadata ("opsis.config"): the file,
// not its name, says what the model is. One struct per part, so the autoencoder can be
// trained (and shipped) before the generator that works on its latents.
#include <string>
#include <utility>
#include <vector>

namespace opsis::mini2 {

inline constexpr const char* kFormat = "opsis-mini-2";

// Video autoencoder: 2 frames x 16 x 16 pixels x RGB -> one latent cell of `channels` values.
// 128x72 (padded to 128x80) at 24 fps -> 12 latent frames/s of 8x5 cells.
struct AutoencoderConfig {
  int channels = 16;         // latent channels per cell
  int frames_per_latent = 2; // temporal compression (a bounce stays within one 83 ms latent frame)
  int downsample = 16;       // spatial compression: pixel-unshuffle 4, then two stride-2 convolutions
  int width_fine = 64;       // channels at 1/4 resolution
  int width_mid = 128;       // at 1/8
  int width_coarse = 128;    // at 1/16
  // Decoder refinement (0 = none, the first decoder): a stage at 1/2 resolution of this many
  // channels that sees the fine features and the first decoder's picture and adds a
  // correction, so that 4-pixel things and edges get pixels of their own (the first decoder
  // paints each 4x4 pixel block from one feature vector). Trained with the encoder frozen,
  // so the latent space -- and a generator trained on it -- stays the same.
  int refine_width = 0;
  int refine_blocks = 2;
  int fps = 24;
  int long_side = 128;       // native sizes: long x short, short x long, long x long
  int short_side = 72;

  std::vector<std::pair<int, int>> sizes() const {
    return {{long_side, short_side}, {short_side, long_side}, {long_side, long_side}};
  }
  int padded(int pixels) const { return (pixels + downsample - 1) / downsample * downsample; }
};

// The sound latent: a log-mel spectrogram on a 10 ms hop (no learned parameters); decoded by
// phase reconstruction (Griffin-Lim). Speech is not in it: espeak-ng speech is mixed in after.
struct SoundConfig {
  int sample_rate = 16000;
  int n_fft = 512;
  int hop = 160;               // 10 ms
  int mels = 64;
  double min_hz = 40, max_hz = 7600;
  double log_floor = 1e-5;     // log10(max(power, floor))
  double log_offset = 2.5;     // normalised value = (log10(power) + offset) / scale
  double log_scale = 2.0;
  int frames_per_token = 4;    // 25 sound tokens per second
  int griffin_lim_iterations = 32;

  int frames_per_second() const { return sample_rate / hop; }
};

// The joint generator over both latents.
struct GeneratorConfig {
  int d_model = 160;
  int heads = 4;
  int layers = 8;          // blocks; even ones attend within a latent frame, odd ones across frames
  int mlp_ratio = 4;
  int aux_layer = 4;       // the auxiliary truth heads read the tokens after this many blocks
  int word_buckets = 2048; // hashed words of the prompt (any text encodes)
  int max_words = 48;
  int phoneme_buckets = 256;
  int identity_size = 32;  // identity portraits are resized to this square
  int identity_patch = 8;
  double timestep_shift = 2.0;   // t' = s t / (1 + (s - 1) t), in training and sampling
  double window_seconds = 4.0;   // one sampling window (longer clips chain windows)
  int default_steps = 16;
};

struct Mini2Config {
  AutoencoderConfig autoencoder;
  SoundConfig sound;
  GeneratorConfig generator;
  bool has_generator = false;  // a file may hold only the autoencoder (while the generator trains)

  std::string to_json() const;
  // Throws opsis::InvalidArgument("weights", ...) for missing or inconsistent values.
  static Mini2Config from_json(const std::string& text);
};

}  // namespace opsis::mini2
