#include "provenance/watermark_audio.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace opsis::provenance {
namespace {

// One keyed chip sequence, first-differenced: value -1, 0 or +1 at each sample, kept sparse.
struct SparseSequence {
  std::vector<int> at;       // sample index
  std::vector<int8_t> sign;  // -1 or +1
};

struct AudioLayout {
  int hold = 1;     // samples per chip (sample_rate / 16000)
  int segment = 1;  // samples per bit segment (10 ms)
  SparseSequence pilot, data;
};

AudioLayout make_audio_layout(uint64_t key, int sample_rate, size_t frames) {
  AudioLayout layout;
  layout.hold = std::max(1, int(std::lround(sample_rate / 16000.0)));
  layout.segment = std::max(1, int(std::lround(sample_rate * 0.01)));
  uint64_t state = key ^ 0x6f707369735f6175ULL;  // "opsis_au"
  auto next = [&state] {
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  };
  int previous_pilot = 0, previous_data = 0;
  for (size_t start = 0; start < frames; start += size_t(layout.hold)) {
    const uint64_t bits = next();
    const int pilot = (bits & 1) ? 1 : -1, data = (bits & 2) ? 1 : -1;
    // c[n] - c[n-1] is non-zero only where a chip starts and differs from the one before
    if (start > 0 && pilot != previous_pilot) {
      layout.pilot.at.push_back(int(start));
      layout.pilot.sign.push_back(int8_t(pilot > previous_pilot ? 1 : -1));
    }
    if (start > 0 && data != previous_data) {
      layout.data.at.push_back(int(start));
      layout.data.sign.push_back(int8_t(data > previous_data ? 1 : -1));
    }
    previous_pilot = pilot;
    previous_data = data;
  }
  return layout;
}

void require_audio(const Audio& audio) {
  if (audio.channels < 1 || audio.sample_rate < 8000 || audio.sample_rate > 384000 || audio.frame_count() == 0 ||
      audio.samples.size() != audio.frame_count() * size_t(audio.channels))
    throw InvalidArgument("audio", "the sound track is empty or malformed (channels >= 1, 8-384 kHz)");
}

std::vector<float> mono(const Audio& audio) {
  std::vector<float> mix(audio.frame_count());
  for (size_t n = 0; n < mix.size(); ++n) {
    float sum = 0;
    for (int c = 0; c < audio.channels; ++c) sum += audio.samples[n * size_t(audio.channels) + size_t(c)];
    mix[n] = sum / float(audio.channels);
  }
  return mix;
}

}  // namespace

void embed_audio_watermark(Audio& audio, const Payload& payload, uint64_t key, const AudioWatermarkOptions& options) {
  require_audio(audio);
  if (!(options.strength > 0 && options.strength <= 0.5))
    throw InvalidArgument("strength", "audio watermark strength must be in (0, 0.5]");
  const size_t frames = audio.frame_count();
  const AudioLayout layout = make_audio_layout(key, audio.sample_rate, frames);
  const Codeword codeword = encode_codeword(payload);
  const std::vector<float> mix = mono(audio);

  // Sound level: RMS over a centred 20 ms window. envelope: [frames]
  const int half_window = std::max(1, int(audio.sample_rate * 0.01));
  std::vector<double> prefix(frames + 1, 0.0);
  for (size_t n = 0; n < frames; ++n) prefix[n + 1] = prefix[n] + double(mix[n]) * mix[n];
  auto envelope = [&](int n) {
    const int lo = std::max(0, n - half_window), hi = std::min(int(frames), n + half_window + 1);
    return std::sqrt((prefix[size_t(hi)] - prefix[size_t(lo)]) / (hi - lo));
  };
  // The pilot and the data sequence are each non-zero on about half of the chip starts (mean
  // square 1 / (2 hold) each); their sum scaled by sqrt(hold) has unit RMS.
  const double unit = std::sqrt(double(layout.hold));
  std::vector<float> mark(frames, 0.0f);
  for (size_t i = 0; i < layout.pilot.at.size(); ++i) {
    const int n = layout.pilot.at[i];
    mark[size_t(n)] += float(options.strength * unit * envelope(n) * layout.pilot.sign[i]);
  }
  for (size_t i = 0; i < layout.data.at.size(); ++i) {
    const int n = layout.data.at[i];
    const int bit = (n / layout.segment) % kCodewordBits;
    const double sign = layout.data.sign[i] * (codeword[size_t(bit)] ? 1.0 : -1.0);
    mark[size_t(n)] += float(options.strength * unit * envelope(n) * sign);
  }
  for (size_t n = 0; n < frames; ++n) {
    if (mark[n] == 0.0f) continue;
    for (int c = 0; c < audio.channels; ++c) {
      float& sample = audio.samples[n * size_t(audio.channels) + size_t(c)];
      sample = std::clamp(sample + mark[n], -1.0f, 1.0f);
    }
  }
}

AudioWatermarkDetection detect_audio_watermark(const Audio& audio, uint64_t key, double max_shift_seconds) {
  require_audio(audio);
  if (!(max_shift_seconds >= 0 && max_shift_seconds <= 1))
    throw InvalidArgument("max_shift_seconds", "the shift searched must be in [0, 1] s");
  const std::vector<float> x = mono(audio);
  const int frames = int(x.size());
  const int max_shift = int(std::lround(max_shift_seconds * audio.sample_rate));
  // The sequences are drawn a little longer than the track so a shifted track still has chips.
  const AudioLayout layout = make_audio_layout(key, audio.sample_rate, size_t(frames + max_shift));

  // Pilot correlation for each shift d: sum_n x[n + d] * pilot[n].
  AudioWatermarkDetection result;
  std::vector<double> correlation(size_t(2 * max_shift + 1), 0.0);
  for (int d = -max_shift; d <= max_shift; ++d) {
    double sum = 0;
    for (size_t i = 0; i < layout.pilot.at.size(); ++i) {
      const int n = layout.pilot.at[i] + d;
      if (n >= 0 && n < frames) sum += x[size_t(n)] * layout.pilot.sign[i];
    }
    correlation[size_t(d + max_shift)] = sum;
  }
  double mean = 0, square = 0, peak = -std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < correlation.size(); ++i) {
    mean += correlation[i];
    square += correlation[i] * correlation[i];
    if (correlation[i] > peak) {
      peak = correlation[i];
      result.shift_samples = int(i) - max_shift;
    }
  }
  mean /= double(correlation.size());
  const double deviation = std::sqrt(std::max(1e-30, square / double(correlation.size()) - mean * mean));
  result.sync_score = correlation.size() > 1 ? (peak - mean) / deviation : 0.0;

  std::array<double, kCodewordBits> soft{};
  for (size_t i = 0; i < layout.data.at.size(); ++i) {
    const int marked_at = layout.data.at[i];
    const int n = marked_at + result.shift_samples;
    if (n < 0 || n >= frames) continue;
    soft[size_t((marked_at / layout.segment) % kCodewordBits)] += x[size_t(n)] * layout.data.sign[i];
  }
  const CodewordDecoding decoded = decode_soft_codeword(soft);
  result.found = decoded.found;
  result.payload = decoded.payload;
  result.raw_bits = decoded.raw_bits;
  result.corrected_bits = decoded.corrected_bits;
  if (decoded.found) result.p_value = double(decoded.candidates_tried) * std::ldexp(1.0, -32);
  return result;
}

}  // namespace opsis::provenance
