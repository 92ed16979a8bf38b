#include "studio/sound.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <functional>
#include <numbers>
#include <vector>

#include "core/error.hpp"
#include "studio/dialogue.hpp"

namespace opsis::studio {
namespace {

SceneSpec scene(Setting setting, double seconds, std::vector<ObjectSpec> objects = {},
                std::vector<std::string> negatives = {}) {
  SceneSpec s;
  s.setting = setting;
  s.shots = {ShotSpec{}};
  s.shots[0].seconds = seconds;
  s.objects = std::move(objects);
  s.negatives = std::move(negatives);
  return s;
}

// Frames for every entity of `spec`, with `pose(entity, time)` filling each.
Timeline timeline_for(const SceneSpec& spec, int sample_rate,
                      const std::function<void(int, double, EntityPose&)>& pose = nullptr) {
  Timeline tl;
  tl.fps = 24;
  tl.sample_rate = sample_rate;
  const int frames = int(std::lround(spec.seconds() * tl.fps));
  const size_t n = spec.objects.size() + spec.characters.size();
  for (int f = 0; f < frames; ++f) {
    FrameState fs;
    fs.time = double(f) / tl.fps;
    fs.entities.resize(n);
    for (size_t e = 0; e < n; ++e) {
      fs.entities[e].on_ground = true;
      if (pose) pose(int(e), fs.time, fs.entities[e]);
    }
    tl.frames.push_back(std::move(fs));
  }
  return tl;
}

Event impact(double time, int entity, const char* material, float speed) {
  Event e;
  e.kind = EventKind::Impact;
  e.time = time;
  e.entity = entity;
  e.other = -1;
  e.material = material;
  e.speed = speed;
  return e;
}

double rms(const std::vector<float>& x, double from_s, double to_s, int sr) {
  const size_t a = size_t(std::max(0.0, from_s) * sr), b = std::min(x.size(), size_t(to_s * sr));
  double e = 0;
  for (size_t i = a; i < b; ++i) e += double(x[i]) * x[i];
  return b > a ? std::sqrt(e / double(b - a)) : 0.0;
}

double peak(const std::vector<float>& x, double from_s, double to_s, int sr) {
  const size_t a = size_t(std::max(0.0, from_s) * sr), b = std::min(x.size(), size_t(to_s * sr));
  double p = 0;
  for (size_t i = a; i < b; ++i) p = std::max(p, double(std::fabs(x[i])));
  return p;
}

// First sample after `from_s` where the energy of the 1 ms ending there rises 13 dB (20x) above
// the bed's mean energy over the 300 ms before `from_s`.
double onset_after(const std::vector<float>& x, double from_s, int sr) {
  const size_t win = size_t(sr / 1000);
  std::vector<double> energy(x.size(), 0.0);  // energy[i]: mean square of x(i - win, i]
  double running = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    running += double(x[i]) * x[i];
    if (i >= win) running -= double(x[i - win]) * x[i - win];
    energy[i] = std::max(0.0, running) / double(win);
  }
  const size_t from = size_t(from_s * sr), bed_from = from - size_t(0.3 * sr);
  double bed = 0;
  for (size_t i = bed_from; i < from; ++i) bed += double(x[i]) * x[i];
  bed /= double(from - bed_from);
  for (size_t i = from; i < x.size(); ++i)
    if (energy[i] > 20 * bed + 1e-12) return double(i) / sr;
  return -1;
}

// Power-weighted mean frequency of x[from, from + seconds), by a direct DFT.
double spectral_centroid(const std::vector<float>& x, double from_s, double seconds, int sr) {
  const size_t a = size_t(from_s * sr), n = size_t(seconds * sr);
  double num = 0, den = 0;
  for (size_t k = 1; k < n / 2; ++k) {
    double re = 0, im = 0;
    const double w = 2 * std::numbers::pi * double(k) / double(n);
    for (size_t i = 0; i < n; ++i) {
      const double hann = 0.5 - 0.5 * std::cos(2 * std::numbers::pi * double(i) / double(n));
      re += hann * x[a + i] * std::cos(w * double(i));
      im -= hann * x[a + i] * std::sin(w * double(i));
    }
    const double power = re * re + im * im, freq = double(k) * sr / double(n);
    num += power * freq;
    den += power;
  }
  return num / den;
}

// Strongest period between 25 and 250 Hz, by autocorrelation: the hum's fundamental.
double fundamental(const std::vector<float>& x, double from_s, double seconds, int sr) {
  const size_t a = size_t(from_s * sr), n = size_t(seconds * sr);
  double best = -1;
  int best_lag = 0;
  for (int lag = sr / 250; lag <= sr / 25; ++lag) {
    double c = 0, e = 0;
    for (size_t i = a; i < a + n; ++i) {
      c += double(x[i]) * x[i + size_t(lag)];
      e += double(x[i + size_t(lag)]) * x[i + size_t(lag)];
    }
    const double r = c / std::sqrt(e + 1e-12);
    if (r > best) {
      best = r;
      best_lag = lag;
    }
  }
  return double(sr) / best_lag;
}

// Energy above ~1.8 kHz (first difference twice: a crude high-pass).
double high_band_rms(const std::vector<float>& x, double from_s, double to_s, int sr) {
  const size_t a = size_t(from_s * sr) + 2, b = std::min(x.size(), size_t(to_s * sr));
  double e = 0;
  for (size_t i = a; i < b; ++i) {
    const double d = double(x[i]) - 2.0 * x[i - 1] + x[i - 2];
    e += d * d;
  }
  return std::sqrt(e / double(b - a));
}

TEST(Sound, ExactLengthAndDeterministic) {
  for (int sr : {16000, 48000}) {
    for (double seconds : {2.5, 1.0 / 3.0, 4.0}) {
      const SceneSpec spec = scene(Setting::Meadow, seconds);
      const Audio a = synthesize_sound(spec, timeline_for(spec, sr), 7);
      EXPECT_EQ(a.sample_rate, sr);
      EXPECT_EQ(a.channels, 1);
      EXPECT_EQ(a.samples.size(), size_t(std::llround(seconds * sr)));
    }
  }
  const SceneSpec spec = scene(Setting::CityStreet, 3.0, {ObjectSpec{ObjectKind::Ball}});
  Timeline tl = timeline_for(spec, 16000);
  tl.events = {impact(1.0, 0, "rubber", 3)};
  const Audio a = synthesize_sound(spec, tl, 11), b = synthesize_sound(spec, tl, 11), c = synthesize_sound(spec, tl, 12);
  EXPECT_EQ(a.samples, b.samples);
  EXPECT_NE(a.samples, c.samples);
}

// A clip is the start of a longer clip with the same seed and events: sound can be extended.
TEST(Sound, ShorterClipIsTheStartOfALongerOne) {
  for (Setting setting : {Setting::Beach, Setting::CityStreet, Setting::Forest}) {
    SceneSpec longer = scene(setting, 6.0, {ObjectSpec{ObjectKind::Ball}}), shorter = scene(setting, 2.5, longer.objects);
    longer.weather = shorter.weather = Weather::Rain;
    const auto rolling = [](int, double t, EntityPose& p) { p.vx = float(1.5 + std::sin(t)); };
    Timeline tl_long = timeline_for(longer, 16000, rolling), tl_short = timeline_for(shorter, 16000, rolling);
    tl_long.events = tl_short.events = {impact(1.2, 0, "rubber", 3.0f)};
    const Audio a = synthesize_sound(longer, tl_long, 21), b = synthesize_sound(shorter, tl_short, 21);
    ASSERT_EQ(b.samples.size(), 40000u);
    // Up to the short clip's last frame: after it, the short timeline holds the ball's last speed.
    for (size_t i = 0; i < 16000 * 59 / 24 - 32; ++i) ASSERT_EQ(a.samples[i], b.samples[i]) << name(setting) << " " << i;
  }
}

TEST(Sound, ImpactsStartOnTheirSample) {
  for (Setting setting : {Setting::Meadow, Setting::CityStreet, Setting::Beach, Setting::LivingRoom}) {
    for (int sr : {16000, 48000}) {
      const SceneSpec spec = scene(setting, 4.0, {ObjectSpec{ObjectKind::Ball}, ObjectSpec{ObjectKind::Box}, ObjectSpec{ObjectKind::Car}},
                                   {"birds"});
      Timeline tl = timeline_for(spec, sr, [](int e, double, EntityPose& p) { p.present = e != 2; });
      tl.events = {impact(0.5123, 0, "rubber", 2.0f), impact(1.2345, 1, "wood", 2.0f), impact(2.0017, 0, "rubber", 1.0f),
                   impact(2.7771, 2, "metal", 3.0f)};
      const Audio a = synthesize_sound(spec, tl, 3);
      for (const Event& e : tl.events) {
        const double onset = onset_after(a.samples, e.time - 0.02, sr);
        EXPECT_NEAR(onset, e.time, 0.002) << name(setting) << " " << e.material << " at " << e.time << " sr " << sr;
      }
    }
  }
}

// Whatever the setting, a 3 m/s impact of any material stands out within 2 ms of its time.
TEST(Sound, ImpactOnsetsStandOutInEverySetting) {
  const int sr = 16000;
  const char* materials[] = {"rubber", "wood", "metal"};
  for (int s = 0; s < 8; ++s) {
    for (int seed = 0; seed < 4; ++seed) {
      const SceneSpec spec = scene(Setting(s), 2.0, {ObjectSpec{ObjectKind::Ball}}, {"birds"});
      Timeline tl = timeline_for(spec, sr);
      tl.events = {impact(1.0 + 0.0137 * seed, 0, materials[seed % 3], 3.0f)};
      const Audio a = synthesize_sound(spec, tl, uint64_t(seed));
      EXPECT_NEAR(onset_after(a.samples, tl.events[0].time - 0.02, sr), tl.events[0].time, 0.002)
          << name(Setting(s)) << " seed " << seed << " " << materials[seed % 3];
    }
  }
}

// The sound begins on sample round(time * rate), at full strength.
TEST(Sound, ImpactStartsOnItsExactSample) {
  for (int sr : {16000, 44100, 48000}) {
    const SceneSpec spec = scene(Setting::Forest, 1.0, {ObjectSpec{ObjectKind::Box}});
    Timeline tl = timeline_for(spec, sr);
    const Audio bed = synthesize_sound(spec, tl, 5);
    tl.events = {impact(0.437731, 0, "wood", 3.0f)};
    const Audio hit = synthesize_sound(spec, tl, 5);
    const size_t at = size_t(std::llround(0.437731 * sr));
    for (size_t i = 0; i < at; ++i) ASSERT_EQ(hit.samples[i], bed.samples[i]) << i;
    double first = std::fabs(hit.samples[at] - bed.samples[at]), most = 0;
    for (size_t i = at; i < at + size_t(sr / 100); ++i) most = std::max(most, double(std::fabs(hit.samples[i] - bed.samples[i])));
    EXPECT_GT(first, 0.25 * most) << sr;
  }
}

TEST(Sound, FasterImpactIsLouder) {
  const SceneSpec spec = scene(Setting::Meadow, 3.0, {ObjectSpec{ObjectKind::Box}}, {"birds"});
  Timeline tl = timeline_for(spec, 16000);
  tl.events = {impact(0.8, 0, "wood", 1.0f), impact(2.0, 0, "wood", 5.0f)};
  const Audio a = synthesize_sound(spec, tl, 5);
  const double slow = peak(a.samples, 0.8, 0.9, 16000), fast = peak(a.samples, 2.0, 2.1, 16000);
  EXPECT_GT(fast, 2.0 * slow);
  EXPECT_GT(fast, 0.3);  // effects peak around -10..-3 dBFS
  EXPECT_LT(fast, 0.95);
}

TEST(Sound, NearerIsLouder) {
  const SceneSpec spec = scene(Setting::LivingRoom, 1.0, {ObjectSpec{ObjectKind::Ball}});
  std::vector<double> peaks;
  for (float z : {5.0f, 16.0f}) {
    Timeline tl = timeline_for(spec, 16000, [z](int, double, EntityPose& p) { p.z = z; });
    tl.events = {impact(0.3, 0, "rubber", 2.0f)};
    peaks.push_back(peak(synthesize_sound(spec, tl, 2).samples, 0.3, 0.4, 16000));
  }
  EXPECT_GT(peaks[0], 2.0 * peaks[1]);
}

TEST(Sound, MaterialsHaveTheirOwnColour) {
  const int sr = 16000;
  std::vector<double> centroids;
  for (const char* material : {"rubber", "wood", "metal"}) {
    const SceneSpec spec = scene(Setting::LivingRoom, 1.0, {ObjectSpec{ObjectKind::Ball}});
    Timeline tl = timeline_for(spec, sr);
    tl.events = {impact(0.3, 0, material, 3.0f)};
    const Audio a = synthesize_sound(spec, tl, 9);
    centroids.push_back(spectral_centroid(a.samples, 0.3, 0.1, sr));
    std::printf("[ measured ] %s impact: spectral centroid %.0f Hz\n", material, centroids.back());
  }
  EXPECT_LT(centroids[0] * 1.5, centroids[1]);
  EXPECT_LT(centroids[1] * 1.3, centroids[2]);
}

TEST(Sound, LargerThingsSoundLower) {
  const int sr = 16000;
  std::vector<double> centroids;
  for (Size size : {Size::Small, Size::Large}) {
    const SceneSpec spec = scene(Setting::LivingRoom, 1.0, {ObjectSpec{ObjectKind::Box, Color::Red, size}});
    Timeline tl = timeline_for(spec, sr);
    tl.events = {impact(0.3, 0, "wood", 3.0f)};
    centroids.push_back(spectral_centroid(synthesize_sound(spec, tl, 9).samples, 0.3, 0.1, sr));
  }
  std::printf("[ measured ] wooden box knock: small %.0f Hz, large %.0f Hz\n", centroids[0], centroids[1]);
  EXPECT_LT(centroids[1] * 1.2, centroids[0]);
}

TEST(Sound, RollingBallRumblesWhileItMoves) {
  const int sr = 16000;
  const SceneSpec spec = scene(Setting::Meadow, 3.0, {ObjectSpec{ObjectKind::Ball, Color::Red, Size::Small, Motion::RollsRight}},
                               {"birds"});
  // The same bed (same seed) with the ball still, rolling from 1 s to 2 s, and in the air.
  const Audio still = synthesize_sound(spec, timeline_for(spec, sr), 1);
  const Audio rolls = synthesize_sound(
      spec, timeline_for(spec, sr, [](int, double t, EntityPose& p) { p.vx = (t >= 1.0 && t < 2.0) ? 3.0f : 0.0f; }), 1);
  const Audio flies = synthesize_sound(spec, timeline_for(spec, sr, [](int, double, EntityPose& p) {
                                         p.vx = 3.0f;
                                         p.on_ground = false;
                                       }), 1);
  const double bed = rms(still.samples, 1.2, 1.9, sr), rolling = rms(rolls.samples, 1.2, 1.9, sr);
  std::printf("[ measured ] rms in 1.2-1.9 s: still %.4f, rolling at 3 m/s %.4f\n", bed, rolling);
  EXPECT_GT(rolling, 2.0 * bed);
  EXPECT_NEAR(rms(rolls.samples, 0.2, 0.9, sr), rms(still.samples, 0.2, 0.9, sr), 1e-6);
  EXPECT_LT(rms(rolls.samples, 2.2, 2.9, sr), 1.1 * rms(still.samples, 2.2, 2.9, sr));  // stops when it stops
  EXPECT_NEAR(rms(flies.samples, 0, 3, sr), rms(still.samples, 0, 3, sr), 1e-6);      // no rumble in the air
}

TEST(Sound, CarPitchRisesWithSpeed) {
  const int sr = 16000;
  const SceneSpec spec = scene(Setting::LivingRoom, 4.0, {ObjectSpec{ObjectKind::Car, Color::Red, Size::Small, Motion::RollsRight}});
  const Timeline tl = timeline_for(spec, sr, [](int, double t, EntityPose& p) { p.vx = t < 2.0 ? 2.0f : 12.0f; });
  const Audio a = synthesize_sound(spec, tl, 1);
  const double slow = fundamental(a.samples, 1.0, 0.5, sr), fast = fundamental(a.samples, 3.0, 0.5, sr);
  std::printf("[ measured ] engine fundamental: %.1f Hz at 2 m/s, %.1f Hz at 12 m/s\n", slow, fast);
  EXPECT_GT(fast, 1.6 * slow);
  EXPECT_GT(rms(a.samples, 3.0, 3.5, sr), rms(a.samples, 1.0, 1.5, sr));
  const Audio quiet = synthesize_sound(scene(Setting::LivingRoom, 4.0, spec.objects, {"engine noise"}), tl, 1);
  EXPECT_LT(rms(quiet.samples, 1, 4, sr), 0.2 * rms(a.samples, 1, 4, sr));
}

TEST(Sound, SpeechIsMixedAtItsStart) {
  const int sr = 16000;
  SceneSpec spec = scene(Setting::Meadow, 3.0, {}, {"birds"});
  Timeline tl = timeline_for(spec, sr);
  const Speech speech = speak("Hello there!", Identity{}, sr);
  ASSERT_FALSE(speech.pcm.samples.empty());
  const Audio without = synthesize_sound(spec, tl, 2);
  SpeechTrack track;
  track.start = 1.25;
  track.pcm = speech.pcm;
  tl.speech.push_back(track);
  const Audio with = synthesize_sound(spec, tl, 2);
  const size_t at = size_t(1.25 * sr);
  size_t compared = 0;
  for (size_t i = 0; i < speech.pcm.samples.size() && at + i < with.samples.size(); ++i) {
    if (std::fabs(with.samples[at + i]) >= 0.69f) continue;  // above the limiter's knee
    ASSERT_NEAR(with.samples[at + i] - without.samples[at + i], speech.pcm.samples[i], 1e-5f) << i;
    ++compared;
  }
  EXPECT_GT(compared, speech.pcm.samples.size() / 2);
  for (size_t i = 0; i < at; ++i) ASSERT_EQ(with.samples[i], without.samples[i]);
  EXPECT_GT(rms(with.samples, 1.25, 1.25 + speech.pcm.seconds(), sr), 3 * rms(with.samples, 0.2, 1.2, sr));

  tl.speech[0].pcm.sample_rate = 22050;
  EXPECT_THROW(synthesize_sound(spec, tl, 2), InvalidArgument);
}

TEST(Sound, NegativesSilenceTheBed) {
  const int sr = 16000;
  // Meadow: wind below 1 kHz and birdsong at 2-5 kHz. "no birds" takes away exactly the song.
  const SceneSpec with_birds = scene(Setting::Meadow, 8.0);
  const SceneSpec no_birds = scene(Setting::Meadow, 8.0, {}, {"birds"});
  const Audio a = synthesize_sound(with_birds, timeline_for(with_birds, sr), 4);
  const Audio b = synthesize_sound(no_birds, timeline_for(no_birds, sr), 4);
  std::vector<float> song(a.samples.size());
  for (size_t i = 0; i < song.size(); ++i) song[i] = a.samples[i] - b.samples[i];
  double loudest = 0, at = 0;  // the 100 ms with most song
  for (double t = 0; t + 0.1 < 8; t += 0.05)
    if (rms(song, t, t + 0.1, sr) > loudest) {
      loudest = rms(song, t, t + 0.1, sr);
      at = t;
    }
  const double centroid = spectral_centroid(song, at, 0.1, sr);
  std::printf("[ measured ] meadow birdsong: loudest 100 ms rms %.4f at %.2f s (bed %.4f), centroid %.0f Hz\n", loudest, at,
              rms(b.samples, 0, 8, sr), centroid);
  EXPECT_GT(loudest, 0.01);
  EXPECT_GT(centroid, 2000);
  EXPECT_LT(centroid, 5500);
  // A bird object's chirps go too.
  SceneSpec bird = scene(Setting::Meadow, 3.0, {ObjectSpec{ObjectKind::Bird}}, {"birds", "wind"});
  Timeline tl = timeline_for(bird, sr);
  Event chirp;
  chirp.kind = EventKind::Chirp;
  chirp.time = 1.0;
  chirp.entity = 0;
  tl.events = {chirp};
  EXPECT_LT(peak(synthesize_sound(bird, tl, 4).samples, 0, 3, sr), 1e-6);
  bird.negatives = {"wind"};
  EXPECT_GT(peak(synthesize_sound(bird, tl, 4).samples, 1.0, 1.3, sr), 0.05);
  // Every sound of the meadow's bed named: silence.
  const SceneSpec none = scene(Setting::Meadow, 3.0, {}, {"no birds", "no wind"});
  EXPECT_LT(peak(synthesize_sound(none, timeline_for(none, sr), 4).samples, 0, 3, sr), 1e-6);
  const SceneSpec quiet_street = scene(Setting::CityStreet, 3.0, {}, {"traffic noise"});
  EXPECT_LT(peak(synthesize_sound(quiet_street, timeline_for(quiet_street, sr), 4).samples, 0, 3, sr), 1e-6);
}

TEST(Sound, EverySettingHasAQuietBed) {
  const int sr = 16000;
  for (int s = 0; s < 8; ++s) {
    for (TimeOfDay tod : {TimeOfDay::Day, TimeOfDay::Night}) {
      for (Weather weather : {Weather::Clear, Weather::Rain}) {
        SceneSpec spec = scene(Setting(s), 6.0);
        spec.time_of_day = tod;
        spec.weather = weather;
        const Audio a = synthesize_sound(spec, timeline_for(spec, sr), 8);
        const double level = 20 * std::log10(rms(a.samples, 0, 6, sr) + 1e-12);
        const double loudest = 20 * std::log10(peak(a.samples, 0, 6, sr) + 1e-12);
        EXPECT_GT(level, -50) << name(Setting(s)) << " " << name(tod) << " " << name(weather);
        EXPECT_LT(level, -25) << name(Setting(s)) << " " << name(tod) << " " << name(weather);
        EXPECT_LT(loudest, -12) << name(Setting(s)) << " " << name(tod) << " " << name(weather);
      }
    }
  }
  // Rain is heard: more high band than the dry meadow.
  SceneSpec dry = scene(Setting::Meadow, 4.0, {}, {"birds"}), wet = dry;
  wet.weather = Weather::Rain;
  EXPECT_GT(high_band_rms(synthesize_sound(wet, timeline_for(wet, sr), 1).samples, 0, 4, sr),
            3 * high_band_rms(synthesize_sound(dry, timeline_for(dry, sr), 1).samples, 0, 4, sr));
  // Night in the meadow brings crickets (4-5 kHz): more high band than the day without birds.
  SceneSpec night = dry;
  night.time_of_day = TimeOfDay::Night;
  EXPECT_GT(high_band_rms(synthesize_sound(night, timeline_for(night, sr), 1).samples, 0, 4, sr),
            3 * high_band_rms(synthesize_sound(dry, timeline_for(dry, sr), 1).samples, 0, 4, sr));
}

TEST(Sound, FootstepsFollowTheGround) {
  const int sr = 16000;
  CharacterSpec walker;
  walker.action = Action::WalksRight;
  std::vector<double> centroids;
  for (Setting setting : {Setting::Meadow, Setting::CityStreet}) {
    SceneSpec spec = scene(setting, 2.0, {}, {"birds", "traffic", "wind"});
    spec.characters = {walker};
    Timeline tl = timeline_for(spec, sr);
    Event step;
    step.kind = EventKind::Footstep;
    step.time = 0.9;
    step.entity = 0;
    step.material = setting == Setting::Meadow ? "grass" : "asphalt";
    step.speed = 1.2f;
    tl.events = {step};
    const Audio a = synthesize_sound(spec, tl, 6);
    EXPECT_NEAR(onset_after(a.samples, 0.88, sr), 0.9, 0.002) << step.material;
    centroids.push_back(spectral_centroid(a.samples, 0.9, 0.05, sr));
    std::printf("[ measured ] footstep on %s: centroid %.0f Hz\n", step.material.c_str(), centroids.back());
  }
  EXPECT_GT(centroids[1], 1.3 * centroids[0]);  // asphalt clicks, grass is soft
}

TEST(Sound, LoudPileUpNeverClips) {
  const SceneSpec spec = scene(Setting::CityStreet, 2.0, {ObjectSpec{ObjectKind::Car}, ObjectSpec{ObjectKind::Box}});
  Timeline tl = timeline_for(spec, 16000, [](int, double, EntityPose& p) { p.vx = 15; });
  for (int k = 0; k < 40; ++k) {
    Event e = impact(0.5 + 0.001 * k, k % 2, k % 2 ? "wood" : "metal", 30.0f);
    e.other = 1 - k % 2;
    tl.events.push_back(e);
  }
  const Audio a = synthesize_sound(spec, tl, 1);
  EXPECT_LT(peak(a.samples, 0, 2, 16000), 1.0);
  EXPECT_GT(peak(a.samples, 0, 2, 16000), 0.7);
}

TEST(Sound, BadInputIsRefused) {
  SceneSpec spec = scene(Setting::Meadow, 1.0);
  Timeline tl = timeline_for(spec, 16000);
  tl.sample_rate = 0;
  EXPECT_THROW(synthesize_sound(spec, tl, 1), InvalidArgument);
  tl.sample_rate = 16000;
  spec.shots[0].seconds = 0;
  EXPECT_THROW(synthesize_sound(spec, tl, 1), InvalidArgument);
}

// The training path renders sound with every clip: report its cost.
TEST(Sound, CostPerSecondOfAudio) {
  CharacterSpec walker;
  walker.action = Action::WalksRight;
  for (int sr : {16000, 48000}) {
    SceneSpec spec = scene(Setting::Forest, 10.0,
                           {ObjectSpec{ObjectKind::Ball}, ObjectSpec{ObjectKind::Car}, ObjectSpec{ObjectKind::Bird}});
    spec.characters = {walker};
    spec.weather = Weather::Rain;
    Timeline tl = timeline_for(spec, sr, [](int, double t, EntityPose& p) { p.vx = float(2 + std::sin(t)); });
    for (int k = 0; k < 20; ++k) tl.events.push_back(impact(0.4 * k + 0.1, 0, "rubber", 2.0f));
    for (int k = 0; k < 18; ++k) {
      Event step;
      step.kind = EventKind::Footstep;
      step.time = 0.5 * k + 0.3;
      step.entity = 3;
      step.material = "leaves";
      step.speed = 1.2f;
      tl.events.push_back(step);
    }
    std::sort(tl.events.begin(), tl.events.end(), [](const Event& a, const Event& b) { return a.time < b.time; });
    // Process CPU time: the machine running the tests is often shared.
    const std::clock_t c0 = std::clock();
    const auto t0 = std::chrono::steady_clock::now();
    const int runs = 3;
    for (int r = 0; r < runs; ++r) synthesize_sound(spec, tl, uint64_t(r));
    const double wall_us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / runs / 10.0;
    const double us = double(std::clock() - c0) * 1e6 / CLOCKS_PER_SEC / runs / 10.0;
    std::printf("[ measured ] %d Hz: %.0f us CPU per second of audio (%.1f ns per sample; wall %.0f us)\n", sr, us,
                us * 1000.0 / sr, wall_us);
    EXPECT_LT(us * 1000.0 / sr, 2000.0);  // a generous ceiling; the budget is ~300 ns per sample
  }
}

}  // namespace
}  // namespace opsis::studio
