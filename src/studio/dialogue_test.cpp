#include "studio/dialogue.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <thread>
#include <vector>

#include "core/error.hpp"
#include "studio/world.hpp"

namespace opsis::studio {
namespace {

constexpr const char* kLine = "Hello there. Look at the ball, my friend!";

Identity alex() { return Identity{}; }

Identity sam() {
  Identity id;
  id.name = "Sam";
  id.skin = SkinTone::Dark;
  id.hair_color = HairColor::Black;
  id.hair_style = HairStyle::Long;
  id.shirt = Color::Yellow;
  id.accessory = Accessory::Glasses;
  return id;
}

double rms(const std::vector<float>& x, double from_s, double to_s, int sr) {
  const size_t a = size_t(std::max(0.0, from_s) * sr), b = std::min(x.size(), size_t(std::max(0.0, to_s) * sr));
  if (b <= a) return 0;
  double e = 0;
  for (size_t i = a; i < b; ++i) e += double(x[i]) * x[i];
  return std::sqrt(e / double(b - a));
}

bool is_vowel(const std::string& p) {
  return !p.empty() && std::string("aAeEiIoOuUV@03").find(p[0]) != std::string::npos;
}

// Median fundamental frequency of the loud stretches, by normalised autocorrelation (70-400 Hz).
double median_f0(const Audio& a) {
  const int sr = a.sample_rate, win = sr * 40 / 1000, hop = win / 2;
  const auto& x = a.samples;
  double peak = 0;
  for (float v : x) peak = std::max(peak, double(std::abs(v)));
  std::vector<double> f0s;
  for (size_t s = 0; s + size_t(win) + size_t(sr / 70) < x.size(); s += size_t(hop)) {
    double e = 0;
    for (int i = 0; i < win; ++i) e += double(x[s + size_t(i)]) * x[s + size_t(i)];
    if (std::sqrt(e / win) < 0.15 * peak) continue;
    double best = 0;
    int best_lag = 0;
    for (int lag = sr / 400; lag <= sr / 70; ++lag) {
      double c = 0, e2 = 0;
      for (int i = 0; i < win; ++i) {
        c += double(x[s + size_t(i)]) * x[s + size_t(i + lag)];
        e2 += double(x[s + size_t(i + lag)]) * x[s + size_t(i + lag)];
      }
      const double r = c / std::sqrt(e * e2 + 1e-12);
      if (r > best) {
        best = r;
        best_lag = lag;
      }
    }
    if (best > 0.6) f0s.push_back(double(sr) / best_lag);
  }
  if (f0s.empty()) return 0;
  std::nth_element(f0s.begin(), f0s.begin() + long(f0s.size() / 2), f0s.end());
  return f0s[f0s.size() / 2];
}

TEST(Dialogue, TimingsAreMonotonicAndInsideThePcm) {
  const Speech s = speak(kLine, alex(), 16000);
  ASSERT_EQ(s.pcm.sample_rate, 16000);
  ASSERT_EQ(s.pcm.channels, 1);
  ASSERT_GT(s.pcm.seconds(), 1.0);
  ASSERT_LT(s.pcm.seconds(), 6.0);
  ASSERT_GE(s.phonemes.size(), 20u);
  int vowels = 0;
  for (size_t i = 0; i < s.phonemes.size(); ++i) {
    const auto& p = s.phonemes[i];
    EXPECT_GE(p.start, 0.0);
    EXPECT_GE(p.duration, 0.0);
    EXPECT_LE(p.start + p.duration, s.pcm.seconds() + 1e-9) << p.phoneme;
    if (i > 0) {
      EXPECT_GE(p.start, s.phonemes[i - 1].start);
    }
    if (i + 1 < s.phonemes.size()) {
      EXPECT_NEAR(p.start + p.duration, s.phonemes[i + 1].start, 1e-9);
    }
    EXPECT_EQ(p.viseme, viseme_of(p.phoneme));
    vowels += is_vowel(p.phoneme);
  }
  EXPECT_GE(vowels, 8);
  for (float v : s.pcm.samples) ASSERT_LE(std::abs(v), 1.0f);
}

TEST(Dialogue, SpeechIsLouderDuringVowelsThanDuringPauses) {
  const int sr = 16000;
  const Speech s = speak(kLine, alex(), sr);
  double vowel_energy = 0, vowel_time = 0, pause_energy = 0, pause_time = 0;
  for (const auto& p : s.phonemes) {
    if (p.duration < 0.03) continue;
    const double r = rms(s.pcm.samples, p.start + 0.01, p.start + p.duration - 0.01, sr);
    const double t = p.duration - 0.02;
    if (is_vowel(p.phoneme)) {
      vowel_energy += r * r * t;
      vowel_time += t;
    }
    if (p.phoneme[0] == '_') {
      pause_energy += r * r * t;
      pause_time += t;
    }
  }
  ASSERT_GT(vowel_time, 0.3);
  ASSERT_GT(pause_time, 0.1);  // the full stop and the comma give pauses
  const double vowel_rms = std::sqrt(vowel_energy / vowel_time), pause_rms = std::sqrt(pause_energy / pause_time);
  EXPECT_GT(vowel_rms, 0.05);
  EXPECT_GT(vowel_rms, 20 * pause_rms) << "vowel rms " << vowel_rms << ", pause rms " << pause_rms;
}

// After each pause of 50 ms or more, the sound starts where the next phoneme's event says.
TEST(Dialogue, PhonemeEventsMatchTheAudioOnsets) {
  const int sr = 48000;
  for (const Identity& who : {alex(), sam()}) {
    const Speech s = speak(kLine, who, sr);
    double peak = 0;
    for (float v : s.pcm.samples) peak = std::max(peak, double(std::abs(v)));
    std::vector<double> offsets;
    for (size_t i = 1; i < s.phonemes.size(); ++i) {
      const auto& pause = s.phonemes[i - 1];
      if (pause.phoneme[0] != '_' || pause.duration < 0.05) continue;
      size_t next = i;  // espeak-ng follows a clause pause with a zero-length "_"
      while (next < s.phonemes.size() && s.phonemes[next].phoneme[0] == '_') ++next;
      if (next == s.phonemes.size()) continue;
      // espeak-ng's pauses are digital silence: the sound starts at the first sample above 1% of
      // the line's peak.
      size_t onset = 0;
      for (size_t k = size_t((pause.start + 0.02) * sr); k < s.pcm.samples.size(); ++k)
        if (std::abs(s.pcm.samples[k]) > 0.01 * peak) {
          onset = k;
          break;
        }
      ASSERT_GT(onset, 0u);
      offsets.push_back(double(onset) / sr - s.phonemes[next].start);
    }
    ASSERT_GE(offsets.size(), 2u);
    for (double o : offsets) {
      std::printf("[ measured ] audio onset - phoneme event: %+.1f ms\n", o * 1000);
      EXPECT_LT(std::abs(o), 0.003) << who.name;
    }
  }
}

TEST(Dialogue, SameIdentitySameVoiceOtherIdentityOtherVoice) {
  // espeak-ng keeps state between utterances: speak other lines in other voices in between.
  const Speech a1 = speak(kLine, alex(), 16000);
  speak("What a lovely day it is, isn't it?", sam(), 16000);
  speak("Wow.", alex(), 16000);
  const Speech a2 = speak(kLine, alex(), 16000);
  const Speech b = speak(kLine, sam(), 16000);
  EXPECT_EQ(a1.pcm.samples, a2.pcm.samples);
  ASSERT_EQ(a1.phonemes.size(), a2.phonemes.size());
  for (size_t i = 0; i < a1.phonemes.size(); ++i) {
    EXPECT_EQ(a1.phonemes[i].phoneme, a2.phonemes[i].phoneme);
    EXPECT_EQ(a1.phonemes[i].start, a2.phonemes[i].start);
  }
  EXPECT_NE(a1.pcm.samples, b.pcm.samples);
  const double fa = median_f0(a1.pcm), fb = median_f0(b.pcm);
  std::printf("[ measured ] median F0: Alex %.0f Hz, Sam %.0f Hz\n", fa, fb);
  EXPECT_GT(fa, 60);
  EXPECT_GT(fb, 60);
  EXPECT_GT(std::abs(fa - fb) / std::min(fa, fb), 0.05);
}

// The resampler is linear-phase: the 44.1 kHz pcm at sample 2n is the 22.05 kHz pcm at n.
TEST(Dialogue, ResamplingDoesNotShiftTime) {
  const Speech native = speak(kLine, alex(), 22050);
  const Speech doubled = speak(kLine, alex(), 44100);
  ASSERT_EQ(doubled.pcm.samples.size(), 2 * native.pcm.samples.size());
  int best_lag = 99;
  double best = -1;
  for (int lag = -4; lag <= 4; ++lag) {
    double c = 0;
    for (size_t n = 8; n + 8 < native.pcm.samples.size(); ++n)
      c += double(native.pcm.samples[n]) * doubled.pcm.samples[size_t(int64_t(2 * n) + lag)];
    if (c > best) {
      best = c;
      best_lag = lag;
    }
  }
  EXPECT_EQ(best_lag, 0);
  ASSERT_EQ(native.phonemes.size(), doubled.phonemes.size());
  for (size_t i = 0; i < native.phonemes.size(); ++i) EXPECT_NEAR(native.phonemes[i].start, doubled.phonemes[i].start, 1e-9);
  // Any rate: the length scales exactly, and the level is kept.
  for (int sr : {8000, 16000, 44056, 48000}) {
    const Speech other = speak(kLine, alex(), sr);
    EXPECT_EQ(other.pcm.samples.size(), size_t(std::llround(double(native.pcm.samples.size()) * sr / 22050))) << sr;
    const double ratio = rms(other.pcm.samples, 0, 1e9, sr) / rms(native.pcm.samples, 0, 1e9, 22050);
    EXPECT_NEAR(ratio, 1.0, sr < 16000 ? 0.1 : 0.03) << sr;
  }
}

// espeak-ng has global state: concurrent callers are serialised and get what they would alone.
TEST(Dialogue, ConcurrentCallersGetTheirOwnSpeech) {
  const Speech alone_a = speak(kLine, alex(), 16000);
  const Speech alone_b = speak("What a lovely day it is, isn't it?", sam(), 24000);
  std::vector<Speech> got_a(3), got_b(3);
  std::thread ta([&] {
    for (auto& s : got_a) s = speak(kLine, alex(), 16000);
  });
  std::thread tb([&] {
    for (auto& s : got_b) s = speak("What a lovely day it is, isn't it?", sam(), 24000);
  });
  ta.join();
  tb.join();
  for (const auto& s : got_a) EXPECT_EQ(s.pcm.samples, alone_a.pcm.samples);
  for (const auto& s : got_b) EXPECT_EQ(s.pcm.samples, alone_b.pcm.samples);
}

TEST(Dialogue, EmptyTextGivesEmptySpeech) {
  for (const char* text : {"", "   ", "\n\t", "...", "?!"}) {
    const Speech s = speak(text, alex(), 16000);
    EXPECT_TRUE(s.pcm.samples.empty()) << '"' << text << '"';
    EXPECT_TRUE(s.phonemes.empty());
    EXPECT_EQ(s.pcm.sample_rate, 16000);
  }
  EXPECT_THROW(speak("hi", alex(), 0), InvalidArgument);
}

TEST(Dialogue, VisemesFollowTheMouth) {
  EXPECT_EQ(viseme_of("_:"), kRest);
  EXPECT_EQ(viseme_of("_"), kRest);
  EXPECT_EQ(viseme_of("aI"), kOpen);
  EXPECT_EQ(viseme_of("a"), kOpen);
  EXPECT_EQ(viseme_of("A:"), kOpen);
  EXPECT_EQ(viseme_of("oU"), kRound);
  EXPECT_EQ(viseme_of("u:"), kRound);
  EXPECT_EQ(viseme_of("w"), kRound);
  EXPECT_EQ(viseme_of("i:"), kWide);
  EXPECT_EQ(viseme_of("E"), kWide);
  EXPECT_EQ(viseme_of("m"), kLipsClosed);
  EXPECT_EQ(viseme_of("b"), kLipsClosed);
  EXPECT_EQ(viseme_of("p"), kLipsClosed);
  EXPECT_EQ(viseme_of("f"), kTeethLip);
  EXPECT_EQ(viseme_of("v"), kTeethLip);
  EXPECT_EQ(openness_of(kRest), 0.0f);
  EXPECT_EQ(openness_of(kLipsClosed), 0.0f);
  EXPECT_GT(openness_of(kOpen), openness_of(kRound));
  EXPECT_GT(openness_of(kRound), openness_of(kTeethLip));
  // Consonants between: more open than closed lips, less than an open vowel.
  const Speech s = speak("tea", alex(), 16000);
  for (const auto& p : s.phonemes)
    if (p.phoneme == "t") {
      EXPECT_GT(p.openness, 0.0f);
      EXPECT_LT(p.openness, 0.5f);
    }
}

}  // namespace
}  // namespace opsis::studio
