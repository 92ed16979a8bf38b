#include "studio/sound.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <map>
#include <mutex>
#include <numbers>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

// Everything here runs per sample on the training data path (>= 1,000 frames a second per core
// with sound), so: oscillators by rotation or phase accumulators with a polynomial sine, one-pole
// and biquad filters, an xorshift noise source, and exp/cos only per event or per control block.
//
// Levels: each setting's continuous bed sits near -35 dBFS RMS (living room -46, night sky -38)
// so effects stand out with clean onsets; effects peak near -3 dBFS at full loudness; a soft
// limiter bends anything above 0.7 so nothing clips. Sounds of a thing follow its distance from
// the camera (1/distance, bounded).

namespace opsis::studio {
namespace {

constexpr float kTwoPi = 2.0f * std::numbers::pi_v<float>;
constexpr int kBlock = 32;  // control-rate block: speeds and envelopes are updated once per block

// ---------------------------------------------------------------------------------------
// Building blocks

// splitmix64 for decisions (when, how loud, which pitch); xorshift32 for audio-rate noise.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  float uniform() { return float(next() >> 40) * 0x1.0p-24f; }  // [0, 1)
  float uniform(float lo, float hi) { return lo + (hi - lo) * uniform(); }
  // Exponential waiting time with the given mean.
  float wait(float mean) { return -mean * std::log(1.0f - uniform()); }

 private:
  uint64_t state_;
};

// One independent stream per (seed, layer, index): adding an event leaves the others unchanged.
Rng stream(uint64_t seed, uint64_t layer, uint64_t index) {
  Rng mix(seed ^ (layer * 0xd1b54a32d192ed03ull) ^ (index * 0x8cb92ba72f3d8dd7ull));
  return Rng(mix.next());
}

class Noise {
 public:
  explicit Noise(uint64_t seed) : state_(uint32_t(seed ^ (seed >> 32)) | 1u) {}
  float operator()() {  // uniform in [-1, 1)
    state_ ^= state_ << 13;
    state_ ^= state_ >> 17;
    state_ ^= state_ << 5;
    return float(int32_t(state_)) * 0x1.0p-31f;
  }

 private:
  uint32_t state_;
};

// sin(2 pi turns), |error| < 0.001: a parabola refined once.
inline float sin_turns(float turns) {
  const float x = turns - std::floor(turns + 0.5f);  // [-0.5, 0.5)
  float y = 8.0f * x - 16.0f * x * std::fabs(x);
  return 0.225f * (y * std::fabs(y) - y) + y;
}

// Coefficient of a one-pole lowpass with cutoff fc: y += a (x - y).
inline float one_pole(float fc, float sr) { return 1.0f - std::exp(-kTwoPi * std::min(fc, 0.45f * sr) / sr); }

struct OnePole {
  float a = 1, y = 0;
  float lowpass(float x) { return y += a * (x - y); }
  float highpass(float x) { return x - lowpass(x); }
};

// RBJ band-pass (constant 0 dB peak gain).
struct Biquad {
  float b0 = 0, b1 = 0, b2 = 0, a1 = 0, a2 = 0, z1 = 0, z2 = 0;
  static Biquad bandpass(float fc, float q, float sr) {
    const float w = kTwoPi * std::min(fc, 0.45f * sr) / sr;
    const float alpha = std::sin(w) / (2 * q), a0 = 1 + alpha;
    Biquad f;
    f.b0 = alpha / a0;
    f.b1 = 0;
    f.b2 = -alpha / a0;
    f.a1 = -2 * std::cos(w) / a0;
    f.a2 = (1 - alpha) / a0;
    return f;
  }
  float operator()(float x) {  // transposed direct form II
    const float y = b0 * x + z1;
    z1 = b1 * x - a1 * y + z2;
    z2 = b2 * x - a2 * y;
    return y;
  }
};

// A value that wanders smoothly between random targets, one every `period` seconds.
class Drift {
 public:
  Drift(Rng rng, float period, float lo, float hi) : rng_(rng), period_(period), lo_(lo), hi_(hi) {
    from_ = rng_.uniform(lo, hi);
    to_ = rng_.uniform(lo, hi);
  }
  float at(double t) {  // t must not decrease between calls
    while (t >= knot_ + period_) {
      knot_ += period_;
      from_ = to_;
      to_ = rng_.uniform(lo_, hi_);
    }
    const float u = float((t - knot_) / period_);
    return from_ + (to_ - from_) * u * u * (3 - 2 * u);  // smoothstep
  }

 private:
  Rng rng_;
  double knot_ = 0;
  float period_, lo_, hi_, from_ = 0, to_ = 0;
};

struct Mode {
  float freq;   // Hz
  float amp;    // initial amplitude
  float decay;  // seconds to fall by 1/e
};

// Damped sinusoids started in cosine phase, so the sound is at full amplitude on its first sample.
void add_modes(std::vector<float>& out, size_t start, const Mode* modes, size_t count, float sr) {
  for (size_t m = 0; m < count; ++m) {
    const Mode& mode = modes[m];
    if (mode.freq >= 0.45f * sr || mode.amp <= 0) continue;
    const float w = kTwoPi * mode.freq / sr;
    const float cw = std::cos(w), sw = std::sin(w), r = std::exp(-1.0f / (mode.decay * sr));
    const size_t len = std::min(out.size() - std::min(out.size(), start), size_t(mode.decay * 7.0f * sr) + 1);
    float c = mode.amp, s = 0;
    float* o = out.data() + start;
    for (size_t i = 0; i < len; ++i) {
      o[i] += c;
      const float c2 = r * (c * cw - s * sw);
      s = r * (c * sw + s * cw);
      c = c2;
    }
  }
}

struct Burst {
  float amp = 0;         // peak amplitude
  float attack = 0;      // seconds of linear rise (0: full at the first sample)
  float decay = 0.01f;   // seconds to fall by 1/e
  float lowpass = 8000;  // Hz
  float highpass = 0;    // Hz, 0 for none
  float grain = 0;       // seconds between random level changes (crunch); 0 for smooth noise
};

// Filtered noise with an attack-decay envelope.
void add_burst(std::vector<float>& out, size_t start, const Burst& b, float sr, Rng& rng) {
  if (start >= out.size() || b.amp <= 0) return;
  Noise noise(rng.next());
  OnePole lp{one_pole(b.lowpass, sr)}, lp2{one_pole(b.lowpass, sr)};
  OnePole hp{b.highpass > 0 ? one_pole(b.highpass, sr) : 0.0f};
  const size_t attack = size_t(b.attack * sr);
  const size_t len = std::min(out.size() - start, attack + size_t(b.decay * 7.0f * sr) + 1);
  const float r = std::exp(-1.0f / (b.decay * sr));
  // The filters take a moment to open; compensate so the peak lands near b.amp.
  const float gain = b.amp * std::min(6.0f, std::sqrt(0.5f * sr / std::max(200.0f, b.lowpass)));
  const size_t grain = b.grain > 0 ? std::max<size_t>(1, size_t(b.grain * sr)) : len + 1;
  float env = attack ? 0.0f : 1.0f, grain_level = 1;
  float* o = out.data() + start;
  for (size_t i = 0; i < len; ++i) {
    if (i % grain == 0 && b.grain > 0) grain_level = rng.uniform() < 0.35f ? rng.uniform(0.6f, 1.6f) : rng.uniform(0.0f, 0.25f);
    if (i < attack)
      env = float(i + 1) / float(attack);
    else
      env *= (i == attack ? 1.0f : r);
    float x = lp2.lowpass(lp.lowpass(noise()));
    if (b.highpass > 0) x = hp.highpass(x);
    o[i] += gain * env * grain_level * x;
  }
}

// A frequency sweep (bird chirp, horn): f0 -> f1 over `seconds`, with a smooth envelope that
// reaches its peak after `attack` seconds.
void add_sweep(std::vector<float>& out, size_t start, float seconds, float f0, float f1, float amp, float attack,
               float sr, float harmonic2 = 0) {
  if (start >= out.size()) return;
  const size_t len = std::min(out.size() - start, size_t(seconds * sr));
  if (len == 0) return;
  const size_t rise = std::max<size_t>(1, size_t(attack * sr));
  const float df = (f1 - f0) / float(len);
  float f = f0, phase = 0;
  float* o = out.data() + start;
  for (size_t i = 0; i < len; ++i) {
    const float env = i < rise ? float(i + 1) / float(rise) : 1.0f - float(i - rise) / float(len - rise + 1);
    float x = sin_turns(phase);
    if (harmonic2 > 0) x += harmonic2 * sin_turns(2 * phase);
    o[i] += amp * env * env * x;
    phase += f / sr;
    if (phase >= 1) phase -= 1;
    f += df;
  }
}

// ---------------------------------------------------------------------------------------
// What the negatives ask to leave out

struct Muted {
  bool bed = false, birds = false, wind = false, traffic = false, horns = false, rain = false, waves = false,
       crickets = false, footsteps = false, engines = false;
};

Muted muted_by(const std::vector<std::string>& negatives) {
  Muted m;
  for (const std::string& raw : negatives) {
    std::string n;
    for (unsigned char c : raw) n.push_back(char(std::tolower(c)));
    auto has = [&n](std::string_view word) { return n.find(word) != std::string::npos; };
    if (has("ambien") || has("background") || has("room tone")) m.bed = true;
    if (has("bird") || has("chirp") || has("birdsong")) m.birds = true;
    if (has("wind") || has("breeze")) m.wind = true;
    if (has("traffic")) m.traffic = m.horns = true;
    if (has("horn") || has("honk")) m.horns = true;
    if (has("rain")) m.rain = true;
    if (has("wave") || has("surf") || has("ocean") || has("sea")) m.waves = true;
    if (has("cricket") || has("insect")) m.crickets = true;
    if (has("footstep") || has("steps")) m.footsteps = true;
    if (has("engine")) m.engines = true;
  }
  return m;
}

// ---------------------------------------------------------------------------------------
// Ambience beds. Continuous parts go into `bed` and are scaled to the setting's level; sparse
// parts (birds, horns, drops) are added at absolute levels afterwards.

enum : uint64_t { kLayerWind = 1, kLayerLeaves, kLayerWaves, kLayerTraffic, kLayerRoom, kLayerRain, kLayerCrickets,
                  kLayerBirds, kLayerHorns, kLayerDrops, kLayerImpact, kLayerFootstep, kLayerWing, kLayerChirp,
                  kLayerRolling, kLayerEngine };

// Wind: low-passed noise whose cutoff and level follow slow gusts; `whistle` adds a resonant
// band that wanders in pitch (cold wind over snow).
void add_wind(std::vector<float>& bed, float level, float cutoff_lo, float cutoff_hi, float whistle, float sr,
              uint64_t seed) {
  Rng rng = stream(seed, kLayerWind, 0);
  Noise noise(rng.next());
  Drift gust(Rng(rng.next()), 2.1f, 0.75f, 1.25f), tone(Rng(rng.next()), 2.3f, 700.0f, 1400.0f);
  OnePole lp1, lp2;
  Biquad band;
  for (size_t b = 0; b < bed.size(); b += kBlock) {
    const double t = double(b) / sr;
    const float g = gust.at(t);
    lp1.a = lp2.a = one_pole(cutoff_lo + (cutoff_hi - cutoff_lo) * (g - 0.75f) / 0.5f, sr);
    if (whistle > 0 && b % (kBlock * 8) == 0) {
      const Biquad next = Biquad::bandpass(tone.at(t), 18.0f, sr);
      band.b0 = next.b0, band.b2 = next.b2, band.a1 = next.a1, band.a2 = next.a2;
    }
    const size_t end = std::min(bed.size(), b + kBlock);
    const float gain = level * g;
    for (size_t i = b; i < end; ++i) {
      const float n = noise();
      float x = lp2.lowpass(lp1.lowpass(n));
      if (whistle > 0) x += whistle * band(n);
      bed[i] += gain * x;
    }
  }
}

// Leaves: high band-passed noise in gusty rustles.
void add_leaves(std::vector<float>& bed, float level, float sr, uint64_t seed) {
  Rng rng = stream(seed, kLayerLeaves, 0);
  Noise noise(rng.next());
  Drift gust(Rng(rng.next()), 0.9f, 0.6f, 1.1f);
  Biquad band = Biquad::bandpass(3500.0f, 0.7f, sr);
  for (size_t b = 0; b < bed.size(); b += kBlock) {
    const float g = level * gust.at(double(b) / sr);
    const size_t end = std::min(bed.size(), b + kBlock);
    for (size_t i = b; i < end; ++i) bed[i] += g * band(noise());
  }
}

// Waves: each wave swells for most of its period, breaks, and washes out; the break is bright.
void add_waves(std::vector<float>& bed, float level, float sr, uint64_t seed) {
  Rng rng = stream(seed, kLayerWaves, 0);
  Noise noise(rng.next());
  OnePole lp1, lp2;
  double wave_start = -rng.uniform(0.0f, 6.0f), period = rng.uniform(6.0f, 9.0f);
  for (size_t b = 0; b < bed.size(); b += kBlock) {
    const double t = double(b) / sr;
    while (t >= wave_start + period) {
      wave_start += period;
      period = rng.uniform(6.0f, 9.0f);
    }
    const float u = float((t - wave_start) / period);  // 0..1 through one wave
    const float swell = u < 0.65f ? u / 0.65f : std::exp(-(u - 0.65f) * 7.0f);
    const float env = 0.7f + 0.4f * swell * swell;
    lp1.a = lp2.a = one_pole(300.0f + 1500.0f * swell * swell, sr);
    const size_t end = std::min(bed.size(), b + kBlock);
    for (size_t i = b; i < end; ++i) bed[i] += level * env * lp2.lowpass(lp1.lowpass(noise()));
  }
}

// Traffic: a low rumble with cars passing (slow swells of mid-band noise).
void add_traffic(std::vector<float>& bed, float level, float sr, uint64_t seed) {
  Rng rng = stream(seed, kLayerTraffic, 0);
  Noise noise(rng.next());
  Drift pass(Rng(rng.next()), 2.5f, 0.5f, 1.2f);
  OnePole lo1{one_pole(120.0f, sr)}, lo2{one_pole(120.0f, sr)}, mid1{one_pole(900.0f, sr)}, mid2{one_pole(900.0f, sr)};
  for (size_t b = 0; b < bed.size(); b += kBlock) {
    const float p = pass.at(double(b) / sr);
    const size_t end = std::min(bed.size(), b + kBlock);
    for (size_t i = b; i < end; ++i) {
      const float n = noise();
      bed[i] += level * (2.5f * lo2.lowpass(lo1.lowpass(n)) + 0.6f * p * mid2.lowpass(mid1.lowpass(n)));
    }
  }
}

// Room tone: very low, steady, dark noise with a faint mains hum.
void add_room(std::vector<float>& bed, float level, float sr, uint64_t seed) {
  Rng rng = stream(seed, kLayerRoom, 0);
  Noise noise(rng.next());
  OnePole lp1{one_pole(300.0f, sr)}, lp2{one_pole(300.0f, sr)};
  const float w = kTwoPi * 100.0f / sr, cw = std::cos(w), sw = std::sin(w);
  float c = 1, s = 0;
  for (size_t i = 0; i < bed.size(); ++i) {
    bed[i] += level * (lp2.lowpass(lp1.lowpass(noise())) + 0.05f * c);
    const float c2 = c * cw - s * sw;
    s = c * sw + s * cw;
    c = c2;
    if ((i & 4095) == 0) {  // keep the rotation on the unit circle
      const float norm = 1.0f / std::sqrt(c * c + s * s);
      c *= norm;
      s *= norm;
    }
  }
}

// Rain: bright hiss.
void add_rain_hiss(std::vector<float>& bed, float level, float sr, uint64_t seed) {
  Rng rng = stream(seed, kLayerRain, 0);
  Noise noise(rng.next());
  OnePole hp{one_pole(1500.0f, sr)}, lp{one_pole(9000.0f, sr)};
  Drift intensity(Rng(rng.next()), 3.0f, 0.8f, 1.2f);
  for (size_t b = 0; b < bed.size(); b += kBlock) {
    const float g = level * intensity.at(double(b) / sr);
    const size_t end = std::min(bed.size(), b + kBlock);
    for (size_t i = b; i < end; ++i) bed[i] += g * lp.lowpass(hp.highpass(noise()));
  }
}

// Crickets: each one a ~4-5 kHz tone gated into chirps of 3-4 pulses, repeated steadily.
// Only the pulses are rendered; each starts its oscillator at the phase of the running tone.
void add_crickets(std::vector<float>& bed, float level, float sr, uint64_t seed) {
  Rng rng = stream(seed, kLayerCrickets, 0);
  for (int k = 0; k < 3; ++k) {
    const float freq = rng.uniform(3900.0f, 5200.0f);
    const float period = rng.uniform(0.45f, 0.9f), pulse = rng.uniform(0.012f, 0.02f);
    const int pulses = 3 + int(rng.uniform() * 2.0f);
    const float amp = level * rng.uniform(0.5f, 1.0f);
    const double w = 2.0 * std::numbers::pi * freq / sr;
    const float cw = float(std::cos(w)), sw = float(std::sin(w));
    const size_t period_n = size_t(period * sr), pulse_n = size_t(pulse * sr);
    for (size_t chirp = size_t(rng.uniform() * float(period_n)); chirp < bed.size(); chirp += period_n) {
      for (int p = 0; p < pulses; ++p) {
        const size_t start = chirp + size_t(p) * 2 * pulse_n;
        if (start >= bed.size()) break;
        const size_t len = std::min(pulse_n, bed.size() - start);
        const double phase = std::fmod(w * double(start), 2.0 * std::numbers::pi);
        float c = float(std::cos(phase)), s = float(std::sin(phase));
        for (size_t i = 0; i < len; ++i) {
          const float u = float(i) / float(pulse_n);
          bed[start + i] += amp * 4 * u * (1 - u) * c;
          const float c2 = c * cw - s * sw;
          s = c * sw + s * cw;
          c = c2;
        }
      }
    }
  }
}

// Songbirds in the distance: short phrases of 2-5 swept notes at random times.
void add_birdsong(std::vector<float>& out, float mean_gap, float level, float sr, uint64_t seed) {
  Rng rng = stream(seed, kLayerBirds, 0);
  // Gaps are random but bounded, so every clip longer than a few seconds hears some.
  auto gap = [&rng, mean_gap]() { return std::clamp(rng.wait(mean_gap), 0.4f * mean_gap, 2.5f * mean_gap); };
  double t = rng.uniform(0.2f, mean_gap);
  const double seconds = double(out.size()) / sr;
  while (t < seconds) {
    const int notes = 2 + int(rng.uniform() * 4.0f);
    const float base = rng.uniform(2200.0f, 4200.0f), amp = level * rng.uniform(0.5f, 1.0f);
    double note_t = t;
    for (int k = 0; k < notes; ++k) {
      const float len = rng.uniform(0.05f, 0.14f);
      const float f0 = base * rng.uniform(0.85f, 1.2f), f1 = f0 * rng.uniform(0.7f, 1.35f);
      add_sweep(out, size_t(note_t * sr), len, f0, f1, amp, 0.01f, sr);
      note_t += len + rng.uniform(0.03f, 0.09f);
    }
    t = note_t + gap();
  }
}

// Distant car horns: two detuned buzzy tones, now and then.
void add_horns(std::vector<float>& out, float level, float sr, uint64_t seed) {
  Rng rng = stream(seed, kLayerHorns, 0);
  double t = rng.uniform(1.0f, 6.0f);
  const double seconds = double(out.size()) / sr;
  while (t < seconds) {
    const float f = rng.uniform(380.0f, 480.0f), len = rng.uniform(0.25f, 0.7f);
    add_sweep(out, size_t(t * sr), len, f, f, level, 0.02f, sr, 0.5f);
    add_sweep(out, size_t(t * sr), len, f * 1.26f, f * 1.26f, 0.7f * level, 0.02f, sr, 0.5f);
    t += len + rng.wait(7.0f);
  }
}

// Raindrops: short bright ticks at random.
void add_drops(std::vector<float>& out, float level, float sr, uint64_t seed) {
  Rng rng = stream(seed, kLayerDrops, 0);
  double t = rng.wait(0.05f);
  const double seconds = double(out.size()) / sr;
  while (t < seconds) {
    const Mode drop{rng.uniform(1800.0f, 5000.0f), level * rng.uniform(0.2f, 1.0f), rng.uniform(0.003f, 0.008f)};
    add_modes(out, size_t(t * sr), &drop, 1, sr);
    t += rng.wait(0.06f);
  }
}

double rms_of(const std::vector<float>& x) {
  double e = 0;
  for (float v : x) e += double(v) * v;
  return x.empty() ? 0.0 : std::sqrt(e / double(x.size()));
}

// The continuous part of a setting's bed, at its generators' own gains.
void render_bed(std::vector<float>& bed, Setting setting, const Muted& muted, float sr, uint64_t seed) {
  switch (setting) {
    case Setting::Meadow:
      if (!muted.wind) add_wind(bed, 1, 250, 700, 0, sr, seed);
      break;
    case Setting::Beach:
      if (!muted.waves) add_waves(bed, 1, sr, seed);
      if (!muted.wind) add_wind(bed, 0.25f, 300, 800, 0, sr, seed);
      break;
    case Setting::CityStreet:
      if (!muted.traffic) add_traffic(bed, 1, sr, seed);
      break;
    case Setting::LivingRoom:
      add_room(bed, 1, sr, seed);
      break;
    case Setting::Forest:
      if (!muted.wind) {
        add_leaves(bed, 1, sr, seed);
        add_wind(bed, 0.6f, 200, 500, 0, sr, seed);
      }
      break;
    case Setting::Snowfield:
      if (!muted.wind) add_wind(bed, 1, 350, 1200, 0.35f, sr, seed);
      break;
    case Setting::Desert:
      if (!muted.wind) add_wind(bed, 1, 500, 2200, 0, sr, seed);
      break;
    case Setting::NightSky:
      if (!muted.wind) add_wind(bed, 1, 200, 500, 0, sr, seed);
      break;
  }
}

// RMS of the continuous bed, dBFS.
float bed_level_dbfs(Setting setting) {
  switch (setting) {
    case Setting::LivingRoom: return -46;
    case Setting::NightSky: return -38;
    case Setting::Beach: return -36;
    case Setting::CityStreet: return -34;
    default: return -35;
  }
}

// RMS of a generator's output measured once per (what, rate) on a fixed 16 s render (two waves
// at least) with a fixed seed. Gains set from it do not depend on the clip's length or seed, so a clip is exactly the
// start of a longer one with the same seed.
double reference_rms(int what, const Muted& muted, float sr) {
  static std::mutex mutex;
  static std::map<std::array<int, 5>, double> cache;
  const std::array<int, 5> key{what, int(muted.wind), int(muted.waves), int(muted.traffic), int(sr)};
  std::lock_guard<std::mutex> lock(mutex);
  if (auto it = cache.find(key); it != cache.end()) return it->second;
  constexpr uint64_t kCalibrationSeed = 0x0b5e55edull;
  std::vector<float> probe(size_t(16 * sr), 0.0f);
  if (what < 0)
    add_rain_hiss(probe, 1, sr, kCalibrationSeed);
  else
    render_bed(probe, Setting(what), muted, sr, kCalibrationSeed);
  return cache[key] = rms_of(probe);
}

void add_ambience(std::vector<float>& out, const SceneSpec& spec, const Muted& muted, float sr, uint64_t seed) {
  if (muted.bed) return;
  const bool night = spec.time_of_day == TimeOfDay::Night || spec.setting == Setting::NightSky;
  const bool indoors = spec.setting == Setting::LivingRoom;
  const bool rain = spec.weather == Weather::Rain && !muted.rain;
  std::vector<float> bed(out.size(), 0.0f);
  render_bed(bed, spec.setting, muted, sr, seed);
  const double reference = reference_rms(int(spec.setting), muted, sr);
  if (reference > 0) {
    const float g = float(std::pow(10.0, bed_level_dbfs(spec.setting) / 20.0) / reference);
    for (size_t i = 0; i < out.size(); ++i) out[i] += g * bed[i];
  }
  if (rain) {
    std::fill(bed.begin(), bed.end(), 0.0f);
    add_rain_hiss(bed, 1, sr, seed);
    const float g = float(std::pow(10.0, (indoors ? -40.0 : -33.0) / 20.0) / reference_rms(-1, Muted{}, sr));
    for (size_t i = 0; i < out.size(); ++i) out[i] += g * bed[i];
  }

  // Sparse parts at absolute levels (peaks), kept well under the effects.
  const float birds_gap = spec.setting == Setting::Forest ? 1.8f : spec.setting == Setting::Meadow ? 3.5f : 0.0f;  // s
  const bool outdoors_green = spec.setting == Setting::Meadow || spec.setting == Setting::Forest ||
                              spec.setting == Setting::NightSky || spec.setting == Setting::Desert;
  if (night && outdoors_green && !muted.crickets && !rain) add_crickets(out, 0.035f, sr, seed);
  if (birds_gap > 0 && !night && !muted.birds && !rain) add_birdsong(out, birds_gap, 0.05f, sr, seed);
  if (spec.setting == Setting::CityStreet && !muted.horns && !muted.traffic) add_horns(out, 0.015f, sr, seed);
  if (rain) add_drops(out, indoors ? 0.01f : 0.04f, sr, seed);
}

// ---------------------------------------------------------------------------------------
// Entities

struct EntityInfo {
  bool is_object = false;
  ObjectKind kind = ObjectKind::Ball;
  Action action = Action::Stands;
  float width = 0.4f;  // metres
  std::string material;
};

std::vector<EntityInfo> entities_of(const SceneSpec& spec) {
  std::vector<EntityInfo> all;
  for (const ObjectSpec& o : spec.objects) {
    const Geometry g = geometry(o);
    all.push_back({true, o.kind, Action::Stands, g.width, g.material});
  }
  for (const CharacterSpec& c : spec.characters) {
    const Geometry g = geometry(c);
    all.push_back({false, ObjectKind::Ball, c.action, g.width, g.material});
  }
  return all;
}

// The entity's pose at time t, linearly interpolated between the frames around it.
struct Motion2D {
  float vx = 0, vy = 0;
  bool on_ground = false, present = false;
  float nearness = 1;  // gain for the distance from the camera: 1 at the stage's distance
};

Motion2D motion_at(const Timeline& tl, size_t entity, double t) {
  Motion2D m;
  if (tl.frames.empty() || tl.fps <= 0) return m;
  const double f = std::clamp(t * tl.fps, 0.0, double(tl.frames.size() - 1));
  const size_t k = size_t(f);
  const size_t k1 = std::min(k + 1, tl.frames.size() - 1);
  if (entity >= tl.frames[k].entities.size() || entity >= tl.frames[k1].entities.size()) return m;
  const EntityPose& a = tl.frames[k].entities[entity];
  const EntityPose& b = tl.frames[k1].entities[entity];
  const float u = float(f - double(k));
  m.vx = a.vx + (b.vx - a.vx) * u;
  m.vy = a.vy + (b.vy - a.vy) * u;
  m.on_ground = u < 0.5f ? a.on_ground : b.on_ground;
  m.present = u < 0.5f ? a.present : b.present;
  // Level falls as 1/distance from the camera (8 m: the stage seen from the camera's start),
  // bounded so nothing vanishes or blasts.
  const CameraPose& ca = tl.frames[k].camera;
  const CameraPose& cb = tl.frames[k1].camera;
  const float dx = (a.x + (b.x - a.x) * u) - (ca.x + (cb.x - ca.x) * u);
  const float dy = (a.y + (b.y - a.y) * u) - (ca.y + (cb.y - ca.y) * u);
  const float dz = (a.z + (b.z - a.z) * u) - (ca.z + (cb.z - ca.z) * u);
  m.nearness = std::clamp(kStageZ / std::max(0.5f, std::sqrt(dx * dx + dy * dy + dz * dz)), 0.4f, 1.6f);
  return m;
}

// Sizes relative to the small version of each thing: bigger sounds lower.
float pitch_scale(const EntityInfo& e) { return std::sqrt(0.4f / std::max(0.1f, e.width)); }

// The sound of `material` struck at `speed` m/s.
void add_impact(std::vector<float>& out, size_t start, const std::string& material, float speed, float scale, float level,
                float sr, Rng& rng) {
  // Amplitude grows with speed up to 5.6 m/s (a ball dropped from 1.6 m); the floor keeps a soft
  // bounce audible over the bed. Each material peaks near -3 dBFS at full loudness.
  const float loud = level * std::min(1.0f, 0.3f + speed / 8.0f);
  auto vary = [&rng]() { return rng.uniform(0.96f, 1.04f); };
  if (material == "rubber") {
    const Mode modes[] = {{170 * scale * vary(), 0.45f * loud, 0.035f},
                          {170 * 2.4f * scale * vary(), 0.1f * loud, 0.015f}};
    add_modes(out, start, modes, 2, sr);
    add_burst(out, start, {0.15f * loud, 0, 0.003f, 3000, 0, 0}, sr, rng);
    add_burst(out, start, {0.25f * loud, 0, 0.0008f, 6000, 400, 0}, sr, rng);  // the contact slap
  } else if (material == "wood") {
    const Mode modes[] = {{340 * scale * vary(), 0.2f * loud, 0.045f},
                          {730 * scale * vary(), 0.16f * loud, 0.03f},
                          {1150 * scale * vary(), 0.12f * loud, 0.02f},
                          {1510 * scale * vary(), 0.07f * loud, 0.015f}};
    add_modes(out, start, modes, 4, sr);
    add_burst(out, start, {0.12f * loud, 0, 0.004f, 5000, 800, 0}, sr, rng);
    add_burst(out, start, {0.4f * loud, 0, 0.001f, 9000, 1500, 0}, sr, rng);  // the contact click
  } else if (material == "metal") {
    const Mode modes[] = {{520 * scale * vary(), 0.13f * loud, 0.5f},   {1230 * scale * vary(), 0.11f * loud, 0.45f},
                          {1940 * scale * vary(), 0.1f * loud, 0.35f},  {2870 * scale * vary(), 0.085f * loud, 0.3f},
                          {3710 * scale * vary(), 0.07f * loud, 0.22f}, {4550 * scale * vary(), 0.055f * loud, 0.15f}};
    add_modes(out, start, modes, 6, sr);
    add_burst(out, start, {0.55f * loud, 0, 0.002f, 9000, 1200, 0}, sr, rng);  // the strike
  } else if (material == "latex") {
    const Mode body{95 * scale * vary(), 0.4f * loud, 0.05f};
    add_modes(out, start, &body, 1, sr);
    add_burst(out, start, {0.12f * loud, 0, 0.02f, 1200, 0, 0}, sr, rng);
  } else if (material == "feather") {
    add_burst(out, start, {0.25f * loud, 0, 0.02f, 1800, 150, 0}, sr, rng);
  } else {  // a person or anything unknown: a dull thump
    const Mode body{75 * scale * vary(), 0.5f * loud, 0.06f};
    add_modes(out, start, &body, 1, sr);
    add_burst(out, start, {0.15f * loud, 0, 0.015f, 1500, 0, 0}, sr, rng);
  }
}

// A footstep on `ground`; a jump's landing adds a body thump.
void add_footstep(std::vector<float>& out, size_t start, const std::string& ground, float speed, bool landing,
                  float gain, float sr, Rng& rng) {
  const float loud = gain * std::min(1.0f, 0.5f + 0.25f * speed) * rng.uniform(0.85f, 1.1f);
  if (ground == "grass") {
    add_burst(out, start, {0.12f * loud, 0.002f, 0.03f, 1100, 120, 0}, sr, rng);
  } else if (ground == "sand") {
    add_burst(out, start, {0.16f * loud, 0, 0.04f, 4000, 900, 0.003f}, sr, rng);
  } else if (ground == "snow") {
    add_burst(out, start, {0.2f * loud, 0, 0.06f, 5000, 1200, 0.004f}, sr, rng);
  } else if (ground == "leaves") {
    add_burst(out, start, {0.16f * loud, 0, 0.05f, 7000, 1800, 0.002f}, sr, rng);
  } else if (ground == "wood") {
    const Mode modes[] = {{190 * rng.uniform(0.95f, 1.05f), 0.18f * loud, 0.03f},
                          {440 * rng.uniform(0.95f, 1.05f), 0.1f * loud, 0.02f},
                          {900 * rng.uniform(0.95f, 1.05f), 0.05f * loud, 0.01f}};
    add_modes(out, start, modes, 3, sr);
    add_burst(out, start, {0.1f * loud, 0, 0.004f, 6000, 1000, 0}, sr, rng);
  } else {  // asphalt and other hard ground: a click
    add_burst(out, start, {0.25f * loud, 0, 0.008f, 9000, 1800, 0}, sr, rng);
    const Mode heel{140 * rng.uniform(0.95f, 1.05f), 0.03f * loud, 0.012f};
    add_modes(out, start, &heel, 1, sr);
  }
  if (landing) {
    const Mode body{68 * rng.uniform(0.95f, 1.05f), 0.35f * gain * std::min(1.0f, speed / 3.5f), 0.07f};
    add_modes(out, start, &body, 1, sr);
  }
}

// A wing beat: a soft low whoosh.
void add_wing_flap(std::vector<float>& out, size_t start, float width, float gain, float sr, Rng& rng) {
  const float big = std::min(1.0f, width / 0.9f);
  add_burst(out, start, {gain * (0.04f + 0.08f * big), 0.012f, 0.025f, 900 - 400 * big, 120, 0}, sr, rng);
}

// A chirp: one or two quick sweeps in 2-5 kHz.
void add_chirp(std::vector<float>& out, size_t start, float width, float gain, float sr, Rng& rng) {
  const float big = std::min(1.0f, width / 0.9f);
  const float f0 = rng.uniform(2600.0f, 4800.0f) * (1.0f - 0.3f * big);
  const bool up = rng.uniform() < 0.5f;
  const float len = rng.uniform(0.06f, 0.12f);
  const float f1 = up ? std::min(5000.0f, f0 * 1.35f) : std::max(2000.0f, f0 * 0.7f);
  add_sweep(out, start, len, f0, f1, 0.2f * gain, 0.004f, sr, 0.15f);
  if (rng.uniform() < 0.5f)
    add_sweep(out, start + size_t((len + 0.04f) * sr), len * 0.8f, f1, f0, 0.15f * gain, 0.004f, sr, 0.15f);
}

// A ball rolling on the ground: a rumble with a lump per turn, level with speed.
void add_rolling(std::vector<float>& out, const Timeline& tl, size_t entity, const EntityInfo& info, float sr,
                 uint64_t seed) {
  Rng rng = stream(seed, kLayerRolling, entity);
  Noise noise(rng.next());
  OnePole lp1, lp2;
  const float radius = 0.5f * info.width, scale = pitch_scale(info);
  float turn_phase = 0, level = 0;
  for (size_t b = 0; b < out.size(); b += kBlock) {
    const Motion2D m = motion_at(tl, entity, (double(b) + 0.5 * kBlock) / sr);
    const float speed = (m.present && m.on_ground) ? std::fabs(m.vx) : 0.0f;
    const float target = speed > 0.05f ? 0.25f * m.nearness * std::min(1.0f, speed / 4.0f) : 0.0f;
    const float next_level = level + 0.3f * (target - level);  // ~3 ms smoothing at 48 kHz
    lp1.a = lp2.a = one_pole((70 + 45 * speed) * scale, sr);
    const float turn_rate = speed / (kTwoPi * std::max(0.05f, radius)) / sr;  // turns per sample
    const size_t end = std::min(out.size(), b + kBlock);
    if (level < 1e-5f && next_level < 1e-5f) {
      level = next_level;
      continue;
    }
    const float dl = (next_level - level) / float(end - b);
    for (size_t i = b; i < end; ++i) {
      const float lump = 1.0f + 0.35f * sin_turns(turn_phase);
      out[i] += level * lump * 3.0f * lp2.lowpass(lp1.lowpass(noise()));
      turn_phase += turn_rate;
      if (turn_phase >= 1) turn_phase -= 1;
      level += dl;
    }
  }
}

// A car's engine: a buzzy tone (sawtooth through two lowpasses) whose pitch follows speed.
void add_engine(std::vector<float>& out, const Timeline& tl, size_t entity, const EntityInfo& info, float sr,
                uint64_t seed) {
  Rng rng = stream(seed, kLayerEngine, entity);
  Noise noise(rng.next());
  OnePole lp1, lp2;
  const float idle = rng.uniform(28.0f, 34.0f) * pitch_scale(info) / std::sqrt(0.4f / 2.6f);
  float phase = 0, f = idle, level = 0;
  for (size_t b = 0; b < out.size(); b += kBlock) {
    const Motion2D m = motion_at(tl, entity, (double(b) + 0.5 * kBlock) / sr);
    const float speed = std::hypot(m.vx, m.vy);
    const float target_f = idle + 7.5f * std::min(speed, 20.0f);
    const float target_level = m.present ? m.nearness * (0.05f + 0.06f * std::min(1.0f, speed / 8.0f)) : 0.0f;
    const size_t end = std::min(out.size(), b + kBlock);
    const float next_f = f + 0.2f * (target_f - f), next_level = level + 0.2f * (target_level - level);
    if (level < 1e-5f && next_level < 1e-5f) {
      level = next_level;
      f = next_f;
      continue;
    }
    lp1.a = lp2.a = one_pole(5.0f * f, sr);
    const float df = (next_f - f) / float(end - b), dl = (next_level - level) / float(end - b);
    for (size_t i = b; i < end; ++i) {
      const float saw = 2.0f * phase - 1.0f + 0.15f * noise();
      out[i] += level * 2.5f * lp2.lowpass(lp1.lowpass(saw));
      phase += f / sr;
      if (phase >= 1) phase -= 1;
      f += df;
      level += dl;
    }
  }
}

// Peaks above the knee are bent smoothly towards 1; nothing reaches it.
void soft_limit(std::vector<float>& out) {
  constexpr float kKnee = 0.7f, kRoom = 1.0f - kKnee;
  for (float& v : out) {
    const float a = std::fabs(v);
    if (a <= kKnee) continue;
    const float z = std::min(3.0f, (a - kKnee) / kRoom);
    const float t = z * (27 + z * z) / (27 + 9 * z * z);  // tanh(z), Pade, exact 1 at z = 3
    v = std::copysign(kKnee + kRoom * std::min(t, 0.999f), v);
  }
}

}  // namespace

Audio synthesize_sound(const SceneSpec& spec, const Timeline& timeline, uint64_t seed) {
  if (timeline.sample_rate < 8000 || timeline.sample_rate > 192000)
    throw InvalidArgument("sample_rate", "sound sample rate must be between 8000 and 192000 Hz, got " +
                                             std::to_string(timeline.sample_rate));
  const double seconds = spec.seconds();
  if (!(seconds > 0) || seconds > kMaxSeconds)
    throw InvalidArgument("seconds", "a clip lasts more than 0 and at most " + std::to_string(int(kMaxSeconds)) +
                                         " seconds, got " + std::to_string(seconds));
  for (const SpeechTrack& track : timeline.speech)
    if (!track.pcm.samples.empty() && (track.pcm.sample_rate != timeline.sample_rate || track.pcm.channels != 1))
      throw InvalidArgument("speech", "a speech track must be mono at the timeline's sample rate (" +
                                          std::to_string(timeline.sample_rate) + " Hz)");

  const float sr = float(timeline.sample_rate);
  Audio audio;
  audio.sample_rate = timeline.sample_rate;
  audio.channels = 1;
  audio.samples.assign(size_t(std::llround(seconds * timeline.sample_rate)), 0.0f);
  std::vector<float>& out = audio.samples;
  const Muted muted = muted_by(spec.negatives);
  const std::vector<EntityInfo> entities = entities_of(spec);

  add_ambience(out, spec, muted, sr, seed);

  for (size_t e = 0; e < entities.size(); ++e) {
    const EntityInfo& info = entities[e];
    if (!info.is_object) continue;
    if (info.kind == ObjectKind::Ball) add_rolling(out, timeline, e, info, sr, seed);
    if (info.kind == ObjectKind::Car && !muted.engines) add_engine(out, timeline, e, info, sr, seed);
  }

  for (size_t k = 0; k < timeline.events.size(); ++k) {
    const Event& ev = timeline.events[k];
    if (ev.time < 0 || ev.time >= seconds) continue;
    const size_t start = size_t(std::llround(ev.time * sr));
    const bool known = ev.entity >= 0 && size_t(ev.entity) < entities.size();
    const float near = known ? motion_at(timeline, size_t(ev.entity), ev.time).nearness : 1.0f;
    switch (ev.kind) {
      case EventKind::Impact: {
        if (ev.speed < 0.02f) break;
        Rng rng = stream(seed, kLayerImpact, k);
        const float scale = known ? pitch_scale(entities[size_t(ev.entity)]) : 1.0f;
        add_impact(out, start, ev.material, ev.speed, scale, near, sr, rng);
        if (ev.other >= 0 && size_t(ev.other) < entities.size()) {  // the other body rings too
          const EntityInfo& other = entities[size_t(ev.other)];
          add_impact(out, start, other.material, ev.speed, pitch_scale(other), 0.5f * near, sr, rng);
        }
        break;
      }
      case EventKind::Footstep: {
        if (muted.footsteps) break;
        Rng rng = stream(seed, kLayerFootstep, k);
        const bool landing = known && entities[size_t(ev.entity)].action == Action::Jumps;
        add_footstep(out, start, ev.material, ev.speed, landing, near, sr, rng);
        break;
      }
      case EventKind::WingFlap: {
        Rng rng = stream(seed, kLayerWing, k);
        add_wing_flap(out, start, known ? entities[size_t(ev.entity)].width : 0.3f, near, sr, rng);
        break;
      }
      case EventKind::Chirp: {
        if (muted.birds) break;
        Rng rng = stream(seed, kLayerChirp, k);
        add_chirp(out, start, known ? entities[size_t(ev.entity)].width : 0.3f, near, sr, rng);
        break;
      }
      case EventKind::Phoneme:  // the speech track carries the sound
      case EventKind::Cut:      // sound continues across cuts
        break;
    }
  }

  for (const SpeechTrack& track : timeline.speech) {
    if (track.start >= seconds) continue;
    const int64_t at = std::llround(track.start * sr);
    for (size_t i = 0; i < track.pcm.samples.size(); ++i) {
      const int64_t j = at + int64_t(i);
      if (j < 0) continue;
      if (size_t(j) >= out.size()) break;
      out[size_t(j)] += track.pcm.samples[i];
    }
  }

  soft_limit(out);
  return audio;
}

}  // namespace opsis::studio
