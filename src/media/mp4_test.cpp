#include "media/mp4.hpp"
#include "media/mp4_limited.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <numbers>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace opsis::media {
namespace {

namespace fs = std::filesystem;

// A fresh empty folder per test, removed afterwards.
class Mp4Test : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    folder_ = fs::temp_directory_path() /
              ("opsis-mp4-test-" + std::to_string(::getpid()) + "-" + info->name());
    fs::remove_all(folder_);
    fs::create_directories(folder_);
  }
  void TearDown() override { fs::remove_all(folder_); }
  std::string file(const std::string& name) const { return (folder_ / name).string(); }
  std::vector<std::string> folder_entries() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(folder_)) names.push_back(e.path().filename());
    return names;
  }
  fs::path folder_;
};

// A dark gradient with a bright 40x40 square moving right by 4 px a frame.
Video moving_square(int width, int height, int frames) {
  Video video;
  video.width = width;
  video.height = height;
  video.rgb.resize(video.frame_bytes() * size_t(frames));
  for (int t = 0; t < frames; ++t) {
    uint8_t* f = video.frame(t);
    for (int y = 0; y < height; ++y) {
      for (int x = 0; x < width; ++x) {
        uint8_t* p = f + (size_t(y) * size_t(width) + size_t(x)) * 3;
        const bool in_square = x >= 10 + 4 * t && x < 50 + 4 * t && y >= 60 && y < 100;
        p[0] = in_square ? 250 : uint8_t(20 + 60 * x / width);
        p[1] = in_square ? 230 : uint8_t(30 + 50 * y / height);
        p[2] = in_square ? 40 : 70;
      }
    }
  }
  return video;
}

Audio sine(double seconds, int rate, int channels, double hz) {
  Audio audio;
  audio.sample_rate = rate;
  audio.channels = channels;
  const size_t n = size_t(std::lround(seconds * rate));
  audio.samples.resize(n * size_t(channels));
  for (size_t i = 0; i < n; ++i) {
    for (int c = 0; c < channels; ++c) {
      // Right channel an octave up so channels cannot be swapped unnoticed.
      audio.samples[i * size_t(channels) + size_t(c)] =
          float(0.3 * std::sin(2 * std::numbers::pi * hz * (c + 1) * double(i) / rate));
    }
  }
  return audio;
}

double psnr(const uint8_t* a, const uint8_t* b, size_t n) {
  double squared = 0;
  for (size_t i = 0; i < n; ++i) {
    const double d = double(a[i]) - double(b[i]);
    squared += d * d;
  }
  const double mse = squared / double(n);
  return mse == 0 ? 99.0 : 10.0 * std::log10(255.0 * 255.0 / mse);
}

// Signal-to-noise ratio of `decoded` against `reference`, in dB, over [begin, end).
double snr_db(const std::vector<float>& reference, const std::vector<float>& decoded, size_t begin,
              size_t end) {
  double signal = 0, noise = 0;
  for (size_t i = begin; i < end; ++i) {
    signal += double(reference[i]) * reference[i];
    const double d = double(decoded[i]) - reference[i];
    noise += d * d;
  }
  return 10.0 * std::log10(signal / std::max(noise, 1e-20));
}

// A 10 ms 1 kHz burst starting at its peak: a click that survives AAC and resampling.
void add_click(Audio& audio, size_t at_sample) {
  const size_t length = size_t(audio.sample_rate / 100);
  for (size_t i = 0; i < length && at_sample + i < audio.frame_count(); ++i) {
    audio.samples[(at_sample + i) * size_t(audio.channels)] =
        float(0.9 * std::cos(2 * std::numbers::pi * 1000.0 * double(i) / audio.sample_rate));
  }
}

// Index of the first sample whose magnitude reaches `threshold` (channel 0), or -1.
long first_onset(const Audio& audio, float threshold) {
  for (size_t i = 0; i < audio.frame_count(); ++i) {
    if (std::fabs(audio.samples[i * size_t(audio.channels)]) >= threshold) return long(i);
  }
  return -1;
}

double mean_brightness(const Video& video, int t) {
  const uint8_t* f = video.frame(t);
  double sum = 0;
  for (size_t i = 0; i < video.frame_bytes(); ++i) sum += f[i];
  return sum / double(video.frame_bytes());
}

// Top-level ISO BMFF boxes, in file order.
std::vector<std::string> top_level_boxes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  in.seekg(0, std::ios::end);
  const uint64_t file_size = uint64_t(in.tellg());
  std::vector<std::string> boxes;
  uint64_t offset = 0;
  while (offset + 8 <= file_size) {
    in.seekg(std::streamoff(offset));
    unsigned char header[16];
    in.read(reinterpret_cast<char*>(header), 8);
    uint64_t size = (uint64_t(header[0]) << 24) | (uint64_t(header[1]) << 16) |
                    (uint64_t(header[2]) << 8) | header[3];
    boxes.emplace_back(reinterpret_cast<char*>(header + 4), 4);
    if (size == 1) {
      in.read(reinterpret_cast<char*>(header + 8), 8);
      size = 0;
      for (int i = 8; i < 16; ++i) size = (size << 8) | header[i];
    } else if (size == 0) {
      size = file_size - offset;
    }
    if (size < 8) break;
    offset += size;
  }
  EXPECT_EQ(offset, file_size) << "boxes do not tile the file";
  return boxes;
}

TEST_F(Mp4Test, LimitedReadScalesFramesDownAndStopsEarly) {
  const std::string path = file("limited.mp4");
  write_mp4(path, moving_square(640, 360, 48), sine(2.0, 48000, 1, 440.0));
  bool truncated = true;
  const Mp4Contents small = read_mp4_limited(path, 16000, {320, 0}, &truncated);
  EXPECT_FALSE(truncated);
  EXPECT_EQ(small.video.width, 320);
  EXPECT_EQ(small.video.height, 180);
  EXPECT_EQ(small.video.frame_count(), 48);
  EXPECT_NEAR(small.audio.seconds(), 2.0, 0.01);
  const Mp4Contents cut = read_mp4_limited(path, 16000, {0, 24}, &truncated);
  EXPECT_TRUE(truncated);
  EXPECT_EQ(cut.video.width, 640);
  EXPECT_GE(cut.video.frame_count(), 24);
  EXPECT_LT(cut.video.frame_count(), 48);
  EXPECT_NEAR(cut.duration, 2.0, 1e-6) << "the container's duration, not the frames read";
}

TEST_F(Mp4Test, RoundTripKeepsFramesDurationPixelsAndSound) {
  const Video video = moving_square(320, 180, 48);
  const Audio audio = sine(2.0, 48000, 1, 440.0);
  const std::string path = file("round.mp4");
  std::vector<double> reported;
  Progress progress;
  progress.report = [&](double f) { reported.push_back(f); };
  write_mp4(path, video, audio, {}, &progress);
  ASSERT_TRUE(fs::exists(path));
  ASSERT_FALSE(reported.empty());
  EXPECT_DOUBLE_EQ(reported.back(), 1.0);
  EXPECT_EQ(folder_entries().size(), 1u) << "a temporary file was left behind";

  const Mp4Contents got = read_mp4(path);
  EXPECT_EQ(got.video_codec, "h264");
  EXPECT_EQ(got.audio_codec, "aac");
  EXPECT_EQ(got.video.width, 320);
  EXPECT_EQ(got.video.height, 180);
  ASSERT_EQ(got.video.frame_count(), 48);
  EXPECT_EQ(got.video.fps_num, 24);
  EXPECT_EQ(got.video.fps_den, 1);
  EXPECT_NEAR(got.duration, 2.0, 1e-6);
  EXPECT_NEAR(got.video.seconds(), 2.0, 1e-9);
  for (int t = 0; t < 48; ++t) {
    EXPECT_GT(psnr(video.frame(t), got.video.frame(t), video.frame_bytes()), 30.0) << "frame " << t;
  }
  EXPECT_EQ(got.audio.sample_rate, 48000);
  EXPECT_EQ(got.audio.channels, 1);
  ASSERT_EQ(got.audio.frame_count(), 96000u) << "audio must last exactly as long as the video";
  // Aligned sample for sample: a shift of even one priming frame would ruin this.
  EXPECT_GT(snr_db(audio.samples, got.audio.samples, 2048, 96000 - 2048), 20.0);
}

TEST_F(Mp4Test, ClickMeantForFrameThirtyIsHeardAtFrameThirty) {
  constexpr int kFrames = 48;
  constexpr int kFlash = 30;
  Video video;
  video.width = 160;
  video.height = 96;
  video.rgb.assign(video.frame_bytes() * kFrames, 0);
  std::fill_n(video.frame(kFlash), video.frame_bytes(), uint8_t(255));
  Audio audio;
  audio.samples.assign(size_t(kFrames) * 2000, 0.0f);  // 48 kHz / 24 fps = 2000 per frame
  const size_t click = size_t(kFlash) * 2000;          // exactly 30/24 s = 1.25 s
  add_click(audio, click);
  const std::string path = file("sync.mp4");
  write_mp4(path, video, audio);

  const Mp4Contents got = read_mp4(path);
  ASSERT_EQ(got.video.frame_count(), kFrames);
  int brightest = 0;
  for (int t = 0; t < kFrames; ++t) {
    if (mean_brightness(got.video, t) > mean_brightness(got.video, brightest)) brightest = t;
  }
  EXPECT_EQ(brightest, kFlash);
  EXPECT_GT(mean_brightness(got.video, kFlash), 240.0);
  EXPECT_LT(mean_brightness(got.video, kFlash - 1), 20.0);
  EXPECT_LT(mean_brightness(got.video, kFlash + 1), 20.0);

  ASSERT_EQ(got.audio.sample_rate, 48000);
  const long onset = first_onset(got.audio, 0.3f);
  ASSERT_GE(onset, 0) << "the click was lost";
  const double onset_seconds = double(onset) / got.audio.sample_rate;
  EXPECT_NEAR(onset_seconds, kFlash / 24.0, 0.002)
      << "audio onset at " << onset_seconds << " s, the white frame starts at " << kFlash / 24.0;
}

TEST_F(Mp4Test, ResampledAudioStaysInSync) {
  // 44.1 kHz input is resampled to 48 kHz on writing; read back at 16 kHz.
  Video video = moving_square(64, 64, 24);
  Audio audio;
  audio.sample_rate = 44100;
  audio.samples.assign(44100, 0.0f);
  const size_t click = 44100 / 2;  // 0.5 s
  add_click(audio, click);
  const std::string path = file("resampled.mp4");
  write_mp4(path, video, audio);

  const Mp4Contents at48 = read_mp4(path);
  EXPECT_EQ(at48.audio.sample_rate, 48000);
  EXPECT_EQ(at48.audio.frame_count(), 48000u);
  EXPECT_NEAR(double(first_onset(at48.audio, 0.3f)) / 48000, 0.5, 0.002);

  const Mp4Contents at16 = read_mp4(path, 16000);
  EXPECT_EQ(at16.audio.sample_rate, 16000);
  EXPECT_NEAR(double(at16.audio.frame_count()), 16000.0, 2.0);
  EXPECT_NEAR(double(first_onset(at16.audio, 0.2f)) / 16000, 0.5, 0.002);
}

TEST_F(Mp4Test, StereoChannelsKeepTheirOrder) {
  const Video video = moving_square(64, 48, 12);
  const Audio audio = sine(0.5, 48000, 2, 500.0);
  write_mp4(file("stereo.mp4"), video, audio);
  const Mp4Contents got = read_mp4(file("stereo.mp4"));
  ASSERT_EQ(got.audio.channels, 2);
  ASSERT_EQ(got.audio.frame_count(), 24000u);
  EXPECT_GT(snr_db(audio.samples, got.audio.samples, 4096, 2 * 24000 - 4096), 15.0);
}

TEST_F(Mp4Test, AudioIsPaddedOrTrimmedToTheVideo) {
  const Video video = moving_square(64, 48, 25);  // 25/24 s = 50000 samples
  Audio too_long = sine(3.0, 48000, 1, 300.0);
  write_mp4(file("long.mp4"), video, too_long);
  Mp4Contents got = read_mp4(file("long.mp4"));
  EXPECT_EQ(got.audio.frame_count(), 50000u);
  EXPECT_NEAR(got.duration, 25.0 / 24.0, 1e-6);

  Audio too_short = sine(0.25, 48000, 1, 300.0);
  write_mp4(file("short.mp4"), video, too_short);
  got = read_mp4(file("short.mp4"));
  ASSERT_EQ(got.audio.frame_count(), 50000u);
  double tail = 0;
  for (size_t i = 14000; i < 50000; ++i) tail = std::max(tail, double(std::fabs(got.audio.samples[i])));
  EXPECT_LT(tail, 0.01) << "padding must be silence";
}

TEST_F(Mp4Test, VideoWithoutAudio) {
  Video video = moving_square(96, 64, 30);
  video.fps_num = 30;
  write_mp4(file("silent.mp4"), video, Audio{});
  const Mp4Contents got = read_mp4(file("silent.mp4"));
  EXPECT_EQ(got.audio_codec, "");
  EXPECT_TRUE(got.audio.samples.empty());
  EXPECT_EQ(got.video.frame_count(), 30);
  EXPECT_EQ(got.video.fps_num, 30);
  EXPECT_NEAR(got.duration, 1.0, 1e-6);
}

TEST_F(Mp4Test, NtscRateKeepsExactDuration) {
  Video video = moving_square(96, 64, 30);  // 30 frames at 30000/1001 fps = 1.001 s
  video.fps_num = 30000;
  video.fps_den = 1001;
  write_mp4(file("ntsc.mp4"), video, sine(1.001, 48000, 1, 440.0));
  const Mp4Contents got = read_mp4(file("ntsc.mp4"));
  EXPECT_EQ(got.video.frame_count(), 30);
  EXPECT_EQ(got.video.fps_num, 30000);
  EXPECT_EQ(got.video.fps_den, 1001);
  EXPECT_NEAR(got.duration, 1.001, 1e-6);
  EXPECT_EQ(got.audio.frame_count(), 48048u);
}

TEST_F(Mp4Test, MoovComesBeforeMdat) {
  write_mp4(file("fast.mp4"), moving_square(128, 72, 24), sine(1.0, 48000, 1, 440.0));
  const std::vector<std::string> boxes = top_level_boxes(file("fast.mp4"));
  const auto moov = std::find(boxes.begin(), boxes.end(), "moov");
  const auto mdat = std::find(boxes.begin(), boxes.end(), "mdat");
  ASSERT_NE(moov, boxes.end());
  ASSERT_NE(mdat, boxes.end());
  EXPECT_LT(moov - boxes.begin(), mdat - boxes.begin());
  EXPECT_EQ(boxes.front(), "ftyp");
}

TEST_F(Mp4Test, PortraitAndLargestSizes) {
  for (const auto& [w, h] : {std::pair{720, 1280}, std::pair{1024, 1792}, std::pair{1920, 1080},
                             std::pair{16, 16}, std::pair{426, 240}, std::pair{130, 74}}) {
    // 426 and 130 px: rows whose byte length is no multiple of 8 (swscale once wrote past them).
    const Video video = moving_square(w, h, 3);
    const std::string path = file(std::to_string(w) + "x" + std::to_string(h) + ".mp4");
    write_mp4(path, video, Audio{});
    const Mp4Contents got = read_mp4(path, 0, 1);
    EXPECT_EQ(got.video.width, w);
    EXPECT_EQ(got.video.height, h);
    EXPECT_EQ(got.video.frame_count(), 3);
    EXPECT_GT(psnr(video.frame(1), got.video.frame(1), video.frame_bytes()), 30.0) << w << "x" << h;
  }
}

TEST_F(Mp4Test, BadInputIsRefusedAndWritesNothing) {
  const std::string path = file("bad.mp4");
  auto expect_refused = [&](const Video& video, const Audio& audio, const std::string& field) {
    try {
      write_mp4(path, video, audio);
      ADD_FAILURE() << "accepted " << video.width << "x" << video.height;
    } catch (const InvalidArgument& e) {
      EXPECT_EQ(e.field(), field) << e.what();
    }
    EXPECT_TRUE(folder_entries().empty());
  };
  expect_refused(moving_square(321, 180, 2), {}, "size");  // odd width
  expect_refused(moving_square(320, 181, 2), {}, "size");  // odd height
  expect_refused(moving_square(1922, 64, 1), {}, "size");  // too wide
  expect_refused(moving_square(64, 1922, 1), {}, "size");  // too tall
  expect_refused(moving_square(8, 8, 1), {}, "size");      // too small
  expect_refused(moving_square(64, 64, 0), {}, "video");   // no frames
  Video ragged = moving_square(64, 64, 2);
  ragged.rgb.pop_back();
  expect_refused(ragged, {}, "video");
  Video no_rate = moving_square(64, 64, 2);
  no_rate.fps_num = 0;
  expect_refused(no_rate, {}, "fps");
  Audio surround = sine(0.1, 48000, 6, 440.0);
  expect_refused(moving_square(64, 64, 2), surround, "audio");
  try {
    Mp4Options options;
    options.audio_sample_rate = 47000;
    write_mp4(path, moving_square(64, 64, 2), sine(0.1, 48000, 1, 440.0), options);
    ADD_FAILURE() << "accepted 47000 Hz AAC";
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(e.field(), "audio_sample_rate");
  }
  try {
    Mp4Options options;
    options.preset = "warp-speed";
    write_mp4(path, moving_square(64, 64, 2), Audio{}, options);
    ADD_FAILURE() << "accepted an unknown preset";
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(e.field(), "preset");
  }
  EXPECT_TRUE(folder_entries().empty());
}

TEST_F(Mp4Test, UnwritablePathIsAnIoErrorAndLeavesNothing) {
  const std::string path = "/nonexistent-dir/x.mp4";
  try {
    write_mp4(path, moving_square(64, 64, 2), Audio{});
    FAIL() << "wrote into a folder that does not exist";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(path));
  EXPECT_FALSE(fs::exists("/nonexistent-dir"));
  // A destination that is an existing folder cannot be replaced by a file.
  fs::create_directory(folder_ / "taken.mp4");
  EXPECT_THROW(write_mp4(file("taken.mp4"), moving_square(64, 64, 2), Audio{}), IoError);
  EXPECT_EQ(folder_entries(), std::vector<std::string>{"taken.mp4"});
  EXPECT_TRUE(fs::is_directory(folder_ / "taken.mp4"));
}

TEST_F(Mp4Test, CancelledWriteLeavesNoFileAndKeepsTheOldOne) {
  const std::string path = file("keep.mp4");
  write_mp4(path, moving_square(64, 64, 6), Audio{});
  const auto size_before = fs::file_size(path);
  Progress progress;
  int calls = 0;
  progress.cancelled = [&] { return ++calls == 10; };
  EXPECT_THROW(write_mp4(path, moving_square(128, 128, 24), sine(1, 48000, 1, 440), {}, &progress),
               Cancelled);
  EXPECT_EQ(calls, 10);
  EXPECT_EQ(folder_entries(), std::vector<std::string>{"keep.mp4"});
  EXPECT_EQ(fs::file_size(path), size_before);
  EXPECT_EQ(read_mp4(path).video.frame_count(), 6);
}

TEST_F(Mp4Test, ReadingMissingOrGarbageFiles) {
  EXPECT_THROW(read_mp4(file("missing.mp4")), IoError);
  std::ofstream(file("garbage.mp4")) << "this is not a video file at all, just some text";
  EXPECT_THROW(read_mp4(file("garbage.mp4")), InvalidArgument);
}

}  // namespace
}  // namespace opsis::media
