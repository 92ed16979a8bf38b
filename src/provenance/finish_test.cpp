#include "provenance/finish.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>

#include "core/error.hpp"
#include "media/image_io.hpp"
#include "provenance/watermark_visible.hpp"

namespace opsis::provenance {
namespace {

namespace fs = std::filesystem;

// A smooth moving gradient with noise: picture content the mark must sit on. [frames, 320, 256, 3]
Video moving_picture(int frames) {
  Video video;
  video.width = 320;
  video.height = 256;
  video.rgb.resize(size_t(frames) * video.frame_bytes());
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> noise(-6, 6);
  for (int t = 0; t < frames; ++t)
    for (int y = 0; y < video.height; ++y)
      for (int x = 0; x < video.width; ++x)
        for (int c = 0; c < 3; ++c)
          video.frame(t)[(size_t(y) * video.width + x) * 3 + c] =
              uint8_t(std::clamp(60 + (x + 2 * t) / 3 + y / 4 + 20 * c + noise(rng), 0, 255));
  return video;
}

// A 440 Hz tone with a slow tremolo, 48 kHz mono.
Audio tone(double seconds) {
  Audio audio;
  audio.samples.resize(size_t(seconds * audio.sample_rate));
  for (size_t i = 0; i < audio.samples.size(); ++i) {
    const double t = double(i) / audio.sample_rate;
    audio.samples[i] = float(0.3 * (0.7 + 0.3 * std::sin(6.28 * 2 * t)) * std::sin(6.28318 * 440 * t));
  }
  return audio;
}

class FinishTest : public ::testing::Test {
 protected:
  void SetUp() override {
    folder_ = fs::temp_directory_path() / ("opsis-finish-test-" + std::to_string(::getpid()));
    fs::remove_all(folder_);
    fs::create_directories(folder_);
  }
  void TearDown() override { fs::remove_all(folder_); }
  fs::path folder_;
};

TEST_F(FinishTest, IdentityIsCreatedOnceWithAPrivateKeyFile) {
  const auto first = ProvenanceIdentity::load_or_create(folder_ / "data");
  const auto again = ProvenanceIdentity::load_or_create(folder_ / "data");
  EXPECT_EQ(first.watermark_key, again.watermark_key);
  EXPECT_EQ(first.server_id, again.server_id);
  const auto permissions = fs::status(folder_ / "data" / "watermark.key").permissions();
  EXPECT_EQ(permissions & (fs::perms::group_all | fs::perms::others_all), fs::perms::none);
  const auto other = ProvenanceIdentity::load_or_create(folder_ / "other");
  EXPECT_NE(first.watermark_key, other.watermark_key);
  EXPECT_NE(first.server_id, other.server_id);
  ASSERT_TRUE(load_watermark_identity(folder_ / "data"));
  EXPECT_EQ(load_watermark_identity(folder_ / "data")->watermark_key, first.watermark_key);
  EXPECT_FALSE(load_watermark_identity(folder_ / "nothing-here"));
}

TEST_F(FinishTest, FinishedFileIsSignedAndItsMarksNameTheServerAndVideo) {
  const auto identity = ProvenanceIdentity::load_or_create(folder_ / "data");
  Video video = moving_picture(24);
  Audio audio = tone(1.0);
  FinishRequest request;
  request.video_id = "video_0123456789abcdef";
  request.creator = "alice";
  request.model_name = "opsis-studio";
  const fs::path output = folder_ / "out.mp4";
  const FinishResult result = finish_video(video, audio, output, request, identity);
  EXPECT_EQ(result.payload.server_id, identity.server_id);
  EXPECT_EQ(result.payload.video_id, watermark_video_id(request.video_id));
  for (const auto& entry : fs::directory_iterator(folder_))  // no temporary left beside it
    EXPECT_TRUE(entry.path() == output || entry.path() == folder_ / "data") << entry.path();

  const auto anchors = read_pem_certificates(SigningCredentials::own_root_path(credentials_directory(folder_ / "data")));
  const ManifestReport manifest = read_manifest(output, anchors);
  EXPECT_EQ(manifest.state, "Trusted");
  EXPECT_EQ(manifest.creator, "alice");
  EXPECT_EQ(manifest.title, request.video_id);
  EXPECT_EQ(manifest.training_mining, "notAllowed");
  ASSERT_FALSE(manifest.actions.empty());
  EXPECT_EQ(manifest.actions.front().action, "c2pa.created");

  const WatermarkReport marks = read_watermarks(output, identity.watermark_key);
  EXPECT_TRUE(marks.picture_found);
  EXPECT_TRUE(marks.sound_found);
  EXPECT_EQ(marks.payload, result.payload);
  EXPECT_LT(marks.p_value, 1e-6);
  // Another data directory's key reads nothing.
  EXPECT_FALSE(read_watermarks(output, identity.watermark_key ^ 0x5a5a5a5aULL).found);
}

TEST_F(FinishTest, RefusedRequestWritesNothing) {
  const auto identity = ProvenanceIdentity::load_or_create(folder_ / "data");
  Video video = moving_picture(2);
  Audio audio = tone(0.1);
  FinishRequest request;  // no video id
  request.model_name = "opsis-studio";
  EXPECT_THROW(finish_video(video, audio, folder_ / "out.mp4", request, identity), InvalidArgument);
  request.video_id = "video_x";
  request.model_name = "";
  EXPECT_THROW(finish_video(video, audio, folder_ / "out.mp4", request, identity), InvalidArgument);
  request.model_name = "opsis-studio";
  request.remix_of = ParentVideo{folder_ / "missing.mp4", "missing"};
  EXPECT_THROW(finish_video(video, audio, folder_ / "out.mp4", request, identity), InvalidArgument);
  for (const auto& entry : fs::directory_iterator(folder_)) EXPECT_EQ(entry.path(), folder_ / "data");
}

TEST_F(FinishTest, VisibleMarkOnlyWhenAsked) {
  const auto identity = ProvenanceIdentity::load_or_create(folder_ / "data");
  Video plain = moving_picture(6), marked = plain;
  Audio audio = tone(0.25);
  FinishRequest request;
  request.video_id = "video_visible";
  request.creator = "alice";
  request.model_name = "opsis-studio";
  finish_video(plain, audio, folder_ / "plain.mp4", request, identity);
  request.visible_watermark = true;
  finish_video(marked, audio, folder_ / "marked.mp4", request, identity);
  const MarkPlacement where = visible_watermark_placement(marked.width, marked.height, "alice", 0.0);
  // Inside the mark the two differ by the drawn mark; outside only slightly (the informed
  // invisible mark adapts to the picture, which the visible mark changed). Mean per sample.
  double inside = 0, outside = 0;
  long inside_samples = 0, outside_samples = 0;
  for (int y = 0; y < marked.height; ++y)
    for (int x = 0; x < marked.width; ++x) {
      const size_t i = (size_t(y) * marked.width + x) * 3;
      const int difference = std::abs(int(marked.frame(0)[i]) - int(plain.frame(0)[i]));
      const bool in_mark = x >= where.x && x < where.x + where.width && y >= where.y && y < where.y + where.height;
      (in_mark ? inside : outside) += difference;
      (in_mark ? inside_samples : outside_samples) += 1;
    }
  ASSERT_GT(inside_samples, 0);
  inside /= double(inside_samples);
  outside /= double(outside_samples);
  EXPECT_GT(inside, 2.0);
  EXPECT_LT(outside, inside / 10) << "inside " << inside;
}

// What `opsis generate` calls in place of media::write_mp4: first frame and cameo recorded.
TEST_F(FinishTest, GeneratedFileRecordsItsInputImageAndCameo) {
  Video video = moving_picture(6);
  Audio audio = tone(0.25);
  const fs::path image = folder_ / "first.png";
  media::write_file_atomic(image.string(), media::encode_png(video.frame_image(0)));
  const fs::path output = folder_ / "generated.mp4";
  finish_generated_file(video, audio, output, {"opsis-mini", image.string(), "/photos/bob.png", (folder_ / "data").string(), ""});
  const auto anchors = read_pem_certificates(SigningCredentials::own_root_path(credentials_directory(folder_ / "data")));
  const ManifestReport manifest = read_manifest(output, anchors);
  EXPECT_EQ(manifest.state, "Trusted");
  EXPECT_EQ(manifest.title.rfind("file_", 0), 0u) << manifest.title;
  ASSERT_EQ(manifest.ingredients.size(), 1u);
  EXPECT_EQ(manifest.ingredients[0].format, "image/png");
  EXPECT_EQ(manifest.cameo_handles, std::vector<std::string>{"bob"});
}

}  // namespace
}  // namespace opsis::provenance
