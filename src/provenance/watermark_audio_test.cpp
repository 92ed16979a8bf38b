#include "provenance/watermark_audio.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <numbers>
#include <random>

#include "core/error.hpp"
#include "media/mp4.hpp"

namespace opsis::provenance {
namespace {

constexpr uint64_t kKey = 0xa0d10ULL;
const Payload kPayload{0x0000ABCDu, 0x12345678u};

// 4 s of music-like sound: a few harmonic tones with a slow tremolo plus soft noise.
Audio music_like(int sample_rate, int channels, uint32_t seed) {
  Audio audio;
  audio.sample_rate = sample_rate;
  audio.channels = channels;
  const size_t frames = size_t(sample_rate) * 4;
  audio.samples.resize(frames * size_t(channels));
  std::mt19937 random(seed);
  std::normal_distribution<float> noise(0.0f, 0.02f);
  const double notes[] = {220.0, 277.2, 329.6, 440.0};
  for (size_t n = 0; n < frames; ++n) {
    const double t = double(n) / sample_rate;
    double v = 0;
    for (int i = 0; i < 4; ++i)
      for (int h = 1; h <= 4; ++h)
        v += 0.05 / h * std::sin(2 * std::numbers::pi * notes[i] * h * t) * (0.6 + 0.4 * std::sin(2 * std::numbers::pi * (0.5 + i) * t));
    for (int c = 0; c < channels; ++c) audio.samples[n * size_t(channels) + size_t(c)] = float(v) + noise(random);
  }
  return audio;
}

double snr_db(const Audio& original, const Audio& marked) {
  double signal = 0, difference = 0;
  for (size_t i = 0; i < original.samples.size(); ++i) {
    signal += double(original.samples[i]) * original.samples[i];
    const double d = double(marked.samples[i]) - original.samples[i];
    difference += d * d;
  }
  return 10 * std::log10(signal / difference);
}

TEST(AudioWatermark, RoundTripIsExactAndQuiet) {
  const Audio original = music_like(48000, 2, 1);
  Audio marked = original;
  embed_audio_watermark(marked, kPayload, kKey);
  const double snr = snr_db(original, marked);
  EXPECT_GT(snr, 24.0);  // mark about 26 dB under the sound
  EXPECT_LT(snr, 30.0);
  const AudioWatermarkDetection detection = detect_audio_watermark(marked, kKey);
  ASSERT_TRUE(detection.found);
  EXPECT_EQ(detection.payload, kPayload);
  EXPECT_EQ(detection.shift_samples, 0);
  EXPECT_EQ(detection.corrected_bits, 0);
}

TEST(AudioWatermark, SurvivesAacInMp4AndAShift) {
  Audio audio = music_like(48000, 1, 2);
  embed_audio_watermark(audio, kPayload, kKey);
  Video video;  // the container needs a picture track
  video.width = 64;
  video.height = 64;
  video.fps_num = 24;
  video.rgb.assign(video.frame_bytes() * 96, 90);
  const auto path = std::filesystem::temp_directory_path() / ("opsis_audio_wm_" + std::to_string(::getpid()) + ".mp4");
  media::write_mp4(path.string(), video, audio);
  const Audio decoded = media::read_mp4(path.string(), 48000).audio;
  std::filesystem::remove(path);
  const AudioWatermarkDetection detection = detect_audio_watermark(decoded, kKey);
  ASSERT_TRUE(detection.found) << "sync " << detection.sync_score;
  EXPECT_EQ(detection.payload, kPayload);

  Audio delayed = decoded;  // 5 ms of silence in front
  delayed.samples.insert(delayed.samples.begin(), size_t(240 * delayed.channels), 0.0f);
  const AudioWatermarkDetection shifted = detect_audio_watermark(delayed, kKey);
  ASSERT_TRUE(shifted.found);
  EXPECT_EQ(shifted.payload, kPayload);
  EXPECT_NEAR(shifted.shift_samples, 240, 2);
}

TEST(AudioWatermark, UnmarkedSoundAndWrongKeyAreNotDetected) {
  const Audio unmarked = music_like(48000, 1, 3);
  for (uint64_t k = 0; k < 10; ++k) EXPECT_FALSE(detect_audio_watermark(unmarked, kKey + k).found);
  Audio marked = unmarked;
  embed_audio_watermark(marked, kPayload, kKey);
  EXPECT_FALSE(detect_audio_watermark(marked, kKey + 1).found);
}

TEST(AudioWatermark, SilenceStaysSilentAndBadInputIsRejected) {
  Audio silence;
  silence.samples.assign(48000, 0.0f);
  embed_audio_watermark(silence, kPayload, kKey);
  for (float v : silence.samples) ASSERT_EQ(v, 0.0f);
  Audio empty;
  EXPECT_THROW(embed_audio_watermark(empty, kPayload, kKey), InvalidArgument);
  Audio sound = music_like(48000, 1, 4);
  const Audio before = sound;
  AudioWatermarkOptions options;
  options.strength = 2.0;
  EXPECT_THROW(embed_audio_watermark(sound, kPayload, kKey, options), InvalidArgument);
  EXPECT_EQ(sound.samples, before.samples);
}

}  // namespace
}  // namespace opsis::provenance
