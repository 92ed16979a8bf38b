#pragma once
// Sound watermark: the same 96-bit codeword as the picture mark (64-bit payload + CRC-32),
// spread over the soundtrack as keyed band-limited noise that follows the sound's own level.
//
// Scheme: the track is cut into 10 ms segments; segment k carries codeword bit k mod 96 as
// a keyed +-1 chip sequence (chips held for 1/16000 s, then first-differenced, which puts the
// energy at roughly 2-8 kHz, kept by AAC at 128 kbit/s). A second keyed sequence, the pilot,
// is added throughout for synchronisation. The mark's amplitude is `strength` times the sound's
// RMS over the surrounding 20 ms, so silence stays silent. The detector searches the pilot over
// shifts of up to +-`max_shift_seconds`, then sums each bit's correlation over all its segments.
// The detector must see the sound at the sample rate it was marked at.
#include <cstdint>

#include "core/av.hpp"
#include "provenance/watermark.hpp"

namespace opsis::provenance {

struct AudioWatermarkOptions {
  double strength = 0.05;  // mark RMS / sound RMS (-26 dB)
};

// Marks every channel in place. Throws opsis::InvalidArgument for an empty track, a bad
// sample rate or strength outside (0, 0.5].
void embed_audio_watermark(Audio& audio, const Payload& payload, uint64_t key,
                           const AudioWatermarkOptions& options = {});

struct AudioWatermarkDetection {
  bool found = false;
  Payload payload;
  Codeword raw_bits{};
  int corrected_bits = 0;
  double p_value = 1.0;     // (CRC candidates tried) * 2^-32 when found
  int shift_samples = 0;    // where the pilot was found (received = marked shifted by this)
  double sync_score = 0.0;  // pilot correlation peak in standard deviations
};

AudioWatermarkDetection detect_audio_watermark(const Audio& audio, uint64_t key, double max_shift_seconds = 0.02);

}  // namespace opsis::provenance
