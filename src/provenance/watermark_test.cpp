#include "provenance/watermark.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <numbers>
#include <random>

#include "core/error.hpp"
#include "media/mp4.hpp"

namespace opsis::provenance {
namespace {

constexpr uint64_t kKey = 0x5eed'0f'0b515ULL;
const Payload kPayload{0xC0FFEE01u, 0x00BADA55u};

// A panning (pan_speed pixels per frame), textured RGB video: a few random sinusoid gratings plus value noise, so the
// detector sees edges and texture as in a real picture. rgb: [frames, h, w, 3].
Video textured_video(int width, int height, int frames, uint32_t seed, double pan_speed = 1.5) {
  std::mt19937 random(seed);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  Video video;
  video.width = width;
  video.height = height;
  video.rgb.resize(size_t(width) * height * 3 * frames);
  struct Grating {
    double fx, fy, phase, amplitude;
    int channel_mix;
  };
  std::vector<Grating> gratings;
  for (int i = 0; i < 6; ++i)
    gratings.push_back({uniform(random) * 0.08 - 0.04, uniform(random) * 0.08 - 0.04, uniform(random) * 6.28,
                        10 + 25 * uniform(random), int(uniform(random) * 3)});
  const int grid = 16;  // value noise lattice, pixels
  const int lattice_w = width / grid + 8, lattice_h = height / grid + 8;
  std::vector<double> lattice(size_t(lattice_w) * lattice_h);
  for (auto& v : lattice) v = uniform(random) * 60 - 30;
  for (int t = 0; t < frames; ++t) {
    const double pan = pan_speed * t;
    uint8_t* frame = video.frame(t);
    for (int y = 0; y < height; ++y) {
      for (int x = 0; x < width; ++x) {
        const double sx = x + pan, sy = y + 0.5 * pan;
        const double gx = sx / grid, gy = sy / grid;
        const int ix = int(gx), iy = int(gy);
        const double fx = gx - ix, fy = gy - iy;
        auto at = [&](int a, int b) { return lattice[size_t((b % lattice_h) * lattice_w + (a % lattice_w))]; };
        const double noise = (at(ix, iy) * (1 - fx) + at(ix + 1, iy) * fx) * (1 - fy) +
                             (at(ix, iy + 1) * (1 - fx) + at(ix + 1, iy + 1) * fx) * fy;
        double rgb[3] = {110 + noise, 120 + noise, 100 + noise};
        for (const auto& g : gratings) rgb[g.channel_mix] += g.amplitude * std::sin(g.fx * sx * 6.28 + g.fy * sy * 6.28 + g.phase);
        uint8_t* px = frame + (size_t(y) * width + x) * 3;
        for (int c = 0; c < 3; ++c) px[c] = uint8_t(std::clamp(std::lround(rgb[c]), 0L, 255L));
      }
    }
  }
  return video;
}

// JPEG-like damage: every 8x8 block of every channel goes through the DCT, is quantised
// with the JPEG luminance table at quality 50, and comes back.
void jpeg_like_quantise(Video& video) {
  static const int table[64] = {16, 11, 10, 16, 24,  40,  51,  61,  12, 12, 14, 19, 26,  58,  60,  55,
                                14, 13, 16, 24, 40,  57,  69,  56,  14, 17, 22, 29, 51,  87,  80,  62,
                                18, 22, 37, 56, 68,  109, 103, 77,  24, 35, 55, 64, 81,  104, 113, 92,
                                49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99};
  double basis[8][8];
  for (int k = 0; k < 8; ++k)
    for (int n = 0; n < 8; ++n)
      basis[k][n] = (k == 0 ? std::sqrt(0.125) : 0.5) * std::cos((2 * n + 1) * k * std::numbers::pi / 16);
  for (int t = 0; t < video.frame_count(); ++t) {
    uint8_t* frame = video.frame(t);
    for (int by = 0; by + 8 <= video.height; by += 8)
      for (int bx = 0; bx + 8 <= video.width; bx += 8)
        for (int c = 0; c < 3; ++c) {
          double block[8][8], coef[8][8];
          for (int y = 0; y < 8; ++y)
            for (int x = 0; x < 8; ++x) block[y][x] = frame[(size_t(by + y) * video.width + bx + x) * 3 + c] - 128.0;
          for (int u = 0; u < 8; ++u)
            for (int v = 0; v < 8; ++v) {
              double s = 0;
              for (int y = 0; y < 8; ++y)
                for (int x = 0; x < 8; ++x) s += basis[u][y] * basis[v][x] * block[y][x];
              coef[u][v] = std::round(s / table[u * 8 + v]) * table[u * 8 + v];
            }
          for (int y = 0; y < 8; ++y)
            for (int x = 0; x < 8; ++x) {
              double s = 0;
              for (int u = 0; u < 8; ++u)
                for (int v = 0; v < 8; ++v) s += basis[u][y] * basis[v][x] * coef[u][v];
              frame[(size_t(by + y) * video.width + bx + x) * 3 + c] = uint8_t(std::clamp(s + 128.0, 0.0, 255.0));
            }
        }
  }
}

Video crop(const Video& video, int x0, int y0, int width, int height) {
  Video out = video;
  out.width = width;
  out.height = height;
  out.rgb.resize(out.frame_bytes() * size_t(video.frame_count()));
  for (int t = 0; t < video.frame_count(); ++t)
    for (int y = 0; y < height; ++y)
      std::copy_n(video.frame(t) + (size_t(y0 + y) * video.width + x0) * 3, size_t(width) * 3,
                  out.frame(t) + size_t(y) * width * 3);
  return out;
}

Video half_size(const Video& video) {
  Video out = video;
  out.width = video.width / 2;
  out.height = video.height / 2;
  out.rgb.resize(out.frame_bytes() * size_t(video.frame_count()));
  for (int t = 0; t < video.frame_count(); ++t)
    for (int y = 0; y < out.height; ++y)
      for (int x = 0; x < out.width; ++x)
        for (int c = 0; c < 3; ++c) {
          auto at = [&](int dx, int dy) { return int(video.frame(t)[(size_t(2 * y + dy) * video.width + 2 * x + dx) * 3 + c]); };
          out.frame(t)[(size_t(y) * out.width + x) * 3 + c] = uint8_t((at(0, 0) + at(1, 0) + at(0, 1) + at(1, 1) + 2) / 4);
        }
  return out;
}

TEST(Watermark, CodewordCarriesPayloadAndCrc) {
  const Codeword a = encode_codeword(kPayload);
  const Codeword b = encode_codeword(Payload{kPayload.server_id, kPayload.video_id ^ 1u});
  EXPECT_EQ(a[0], 1);   // 0xC0... starts with 1
  EXPECT_EQ(a[63], 1);  // ...55 ends with 1
  EXPECT_EQ(b[63], 0);
  int crc_differences = 0;
  for (int i = kPayloadBits; i < kCodewordBits; ++i) crc_differences += a[size_t(i)] != b[size_t(i)];
  EXPECT_GT(crc_differences, 0);
}

TEST(Watermark, RoundTripWithoutAttackIsExactAndInvisible) {
  const Video original = textured_video(320, 256, 8, 1);
  Video marked = original;
  embed_watermark(marked, kPayload, kKey);
  const double psnr = video_psnr(original, marked);
  EXPECT_GE(psnr, 40.0);
  EXPECT_LT(psnr, 60.0);  // something was embedded

  const WatermarkDetection detection = detect_watermark(marked, kKey);
  ASSERT_TRUE(detection.found);
  EXPECT_EQ(detection.payload, kPayload);
  EXPECT_EQ(detection.corrected_bits, 0);
  EXPECT_EQ(match_payload(detection, kPayload).matching_bits, kCodewordBits);
  EXPECT_DOUBLE_EQ(detection.scale, 1.0);
  EXPECT_EQ(detection.offset_x, 0);
  EXPECT_EQ(detection.offset_y, 0);
  EXPECT_LE(detection.p_value, 1e-6);
  EXPECT_LE(watermark_false_positive_bound(), 1e-6);
}

TEST(Watermark, MaskingMovesTheMarkFromFlatToTexturedAreas) {
  Video original = textured_video(512, 256, 4, 8);
  for (int t = 0; t < original.frame_count(); ++t)  // left half flat grey
    for (int y = 0; y < original.height; ++y) std::fill_n(original.frame(t) + size_t(y) * original.width * 3, 256 * 3, 120);
  WatermarkOptions options;
  options.masking = true;
  Video marked = original;
  embed_watermark(marked, kPayload, kKey, options);
  EXPECT_GE(video_psnr(original, marked), 40.0);
  double flat_change = 0, textured_change = 0;
  for (int t = 0; t < original.frame_count(); ++t)
    for (int y = 0; y < original.height; ++y)
      for (int x = 0; x < original.width; ++x) {
        const size_t i = (size_t(y) * original.width + x) * 3;
        const double change = std::abs(int(marked.frame(t)[i]) - int(original.frame(t)[i]));
        (x < 256 ? flat_change : textured_change) += change;
      }
  EXPECT_LT(flat_change * 2, textured_change);
  const WatermarkDetection detection = detect_watermark(marked, kKey);
  ASSERT_TRUE(detection.found);
  EXPECT_EQ(detection.payload, kPayload);
}

TEST(Watermark, SurvivesJpegLikeQuantisation) {
  Video video = textured_video(320, 256, 6, 2);
  embed_watermark(video, kPayload, kKey);
  jpeg_like_quantise(video);
  const WatermarkDetection detection = detect_watermark(video, kKey);
  ASSERT_TRUE(detection.found);
  EXPECT_EQ(detection.payload, kPayload);
}

TEST(Watermark, SurvivesH264ReencodeAtCrf30) {
  Video video = textured_video(960, 544, 12, 3, 0.75);
  embed_watermark(video, kPayload, kKey);
  const auto path = std::filesystem::temp_directory_path() / ("opsis_watermark_test_" + std::to_string(::getpid()) + ".mp4");
  media::Mp4Options options;
  options.crf = 30;
  media::write_mp4(path.string(), video, Audio{}, options);
  const media::Mp4Contents decoded = media::read_mp4(path.string());
  std::filesystem::remove(path);
  ASSERT_EQ(decoded.video.width, video.width);
  const WatermarkDetection detection = detect_watermark(decoded.video, kKey);
  ASSERT_TRUE(detection.found) << "sync score " << detection.sync_score;
  EXPECT_EQ(detection.payload, kPayload);
  EXPECT_GE(match_payload(detection, kPayload).bit_accuracy, 0.95);
}

TEST(Watermark, SurvivesCropAndHalfSize) {
  Video video = textured_video(512, 384, 6, 4);
  embed_watermark(video, kPayload, kKey);

  const WatermarkDetection cropped = detect_watermark(crop(video, 37, 53, 430, 322), kKey);
  ASSERT_TRUE(cropped.found);
  EXPECT_EQ(cropped.payload, kPayload);
  EXPECT_EQ(cropped.offset_x, 37);  // the tile grid was found where the crop left it
  EXPECT_EQ(cropped.offset_y, 53);

  const WatermarkDetection halved = detect_watermark(half_size(video), kKey);
  ASSERT_TRUE(halved.found);
  EXPECT_EQ(halved.payload, kPayload);
  EXPECT_DOUBLE_EQ(halved.scale, 0.5);
}

TEST(Watermark, FollowsAMarkThatMovesWithThePicture) {
  // What a strong encoder does to a panning shot: predicted frames carry the mark along with
  // the content. Here each frame is a window moving over one marked picture, so the mark
  // sits at a different grid position in every frame.
  Video canvas = textured_video(576, 384, 1, 7, 0.0);
  embed_watermark(canvas, kPayload, kKey);
  Video moving;
  moving.width = 320;
  moving.height = 256;
  const int frames = 8;
  moving.rgb.resize(moving.frame_bytes() * frames);
  for (int t = 0; t < frames; ++t)
    for (int y = 0; y < moving.height; ++y)
      std::copy_n(canvas.frame(0) + (size_t(y + 9 * t) * canvas.width + 23 * t) * 3, size_t(moving.width) * 3,
                  moving.frame(t) + size_t(y) * moving.width * 3);
  const WatermarkDetection detection = detect_watermark(moving, kKey);
  ASSERT_TRUE(detection.found);
  EXPECT_EQ(detection.payload, kPayload);
  EXPECT_TRUE(detection.per_frame);

  FoldOptions whole_video_only;
  whole_video_only.per_frame = false;
  EXPECT_FALSE(detect_watermark(*fold_video(moving, whole_video_only), kKey).found);
}

TEST(Watermark, UnmarkedVideoAndWrongKeyAreNotDetected) {
  const Video unmarked = textured_video(320, 256, 6, 5);
  const FoldedVideoPtr folded = fold_video(unmarked);
  int agreeing_bits = 0;
  const int keys = 20;
  for (int k = 0; k < keys; ++k) {
    const WatermarkDetection detection = detect_watermark(*folded, kKey + uint64_t(k));
    EXPECT_FALSE(detection.found) << "key " << k;
    EXPECT_EQ(detection.p_value, 1.0);
    agreeing_bits += match_payload(detection, kPayload).matching_bits;
  }
  // Chance level: about half the bits agree with any payload.
  EXPECT_NEAR(double(agreeing_bits) / (keys * kCodewordBits), 0.5, 0.08);

  Video marked = unmarked;
  embed_watermark(marked, kPayload, kKey);
  EXPECT_FALSE(detect_watermark(marked, kKey ^ 0xdeadbeefULL).found);
}

TEST(Watermark, BinomialFalsePositiveRate) {
  EXPECT_DOUBLE_EQ(binomial_tail(4, 0), 1.0);
  EXPECT_DOUBLE_EQ(binomial_tail(4, 4), 1.0 / 16);
  EXPECT_NEAR(binomial_tail(4, 3), 5.0 / 16, 1e-12);
  EXPECT_NEAR(binomial_tail(96, 48), 0.5 + 0.5 * 0.0813, 0.01);  // P[X>=mean] = 1/2 + P[X=mean]/2
  const int k = binomial_threshold(kCodewordBits, 1e-6);
  EXPECT_LE(binomial_tail(kCodewordBits, k), 1e-6);
  EXPECT_GT(binomial_tail(kCodewordBits, k - 1), 1e-6);
}

TEST(Watermark, RejectsBadInput) {
  Video empty;
  EXPECT_THROW(embed_watermark(empty, kPayload, kKey), InvalidArgument);
  EXPECT_THROW(detect_watermark(empty, kKey), InvalidArgument);
  Video video = textured_video(32, 32, 1, 6);
  const Video before = video;
  WatermarkOptions options;
  options.strength = -1;
  EXPECT_THROW(embed_watermark(video, kPayload, kKey, options), InvalidArgument);
  EXPECT_EQ(video.rgb, before.rgb);  // bad input changes nothing
}

}  // namespace
}  // namespace opsis::provenance
