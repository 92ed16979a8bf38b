#include "media/image_io.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace opsis::media {
namespace {

namespace fs = std::filesystem;

// Smooth colour ramps plus a sharp red square: compressible, and wrong channel order or
// orientation shows up immediately.
Image test_picture(int width, int height) {
  Image image(width, height);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      uint8_t* p = image.row(y) + x * 3;
      const bool square = x >= width / 4 && x < width / 2 && y >= height / 4 && y < height / 2;
      p[0] = square ? 230 : uint8_t(255 * x / width);
      p[1] = square ? 20 : uint8_t(255 * y / height);
      p[2] = square ? 20 : 128;
    }
  }
  return image;
}

double psnr(const Image& a, const Image& b) {
  EXPECT_EQ(a.pixels.size(), b.pixels.size());
  double squared = 0;
  for (size_t i = 0; i < a.pixels.size(); ++i) {
    const double d = double(a.pixels[i]) - double(b.pixels[i]);
    squared += d * d;
  }
  const double mse = squared / double(a.pixels.size());
  return mse == 0 ? 99.0 : 10.0 * std::log10(255.0 * 255.0 / mse);
}

bool starts_with(const std::vector<uint8_t>& bytes, const std::string& magic, size_t at = 0) {
  return bytes.size() >= at + magic.size() && std::memcmp(bytes.data() + at, magic.data(), magic.size()) == 0;
}

TEST(ImageIo, PngRoundTripIsLossless) {
  const Image image = test_picture(97, 61);
  const std::vector<uint8_t> png = encode_png(image);
  ASSERT_TRUE(starts_with(png, "\x89PNG\r\n\x1a\n"));
  const Image back = decode_image(png);
  EXPECT_EQ(back.width, 97);
  EXPECT_EQ(back.height, 61);
  EXPECT_EQ(back.pixels, image.pixels);
}

TEST(ImageIo, JpegRoundTripIsClose) {
  const Image image = test_picture(160, 90);
  const std::vector<uint8_t> jpeg = encode_jpeg(image, 92);
  ASSERT_TRUE(starts_with(jpeg, "\xFF\xD8\xFF"));
  const Image back = decode_image(jpeg);
  EXPECT_EQ(back.width, 160);
  EXPECT_EQ(back.height, 90);
  EXPECT_GT(psnr(image, back), 30.0);
  EXPECT_LT(encode_jpeg(image, 30).size(), jpeg.size()) << "quality must matter";
}

TEST(ImageIo, WebpRoundTripIsClose) {
  const Image image = test_picture(128, 96);
  const std::vector<uint8_t> webp = encode_webp(image, 90.0f);
  ASSERT_TRUE(starts_with(webp, "RIFF") && starts_with(webp, "WEBP", 8));
  const Image back = decode_image(webp);
  EXPECT_EQ(back.width, 128);
  EXPECT_EQ(back.height, 96);
  EXPECT_GT(psnr(image, back), 30.0);
}

TEST(ImageIo, GarbageAndTruncatedBytesAreInvalidArgument) {
  EXPECT_THROW(decode_image({}), InvalidArgument);
  EXPECT_THROW(decode_image({'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd', '!'}),
               InvalidArgument);
  const Image image = test_picture(64, 64);
  for (std::vector<uint8_t> bytes : {encode_png(image), encode_jpeg(image), encode_webp(image)}) {
    bytes.resize(bytes.size() / 3);  // right magic, missing data
    try {
      decode_image(bytes);
      ADD_FAILURE() << "decoded a truncated image";
    } catch (const InvalidArgument& e) {
      EXPECT_EQ(e.field(), "image");
    }
  }
  std::vector<uint8_t> fake_png = encode_png(image);
  for (size_t i = 16; i < fake_png.size(); ++i) fake_png[i] = uint8_t(i * 7);
  EXPECT_THROW(decode_image(fake_png), InvalidArgument);
}

TEST(ImageIo, EncodersRefuseMalformedImages) {
  Image broken(10, 10);
  broken.pixels.resize(10);
  EXPECT_THROW(encode_png(broken), InvalidArgument);
  EXPECT_THROW(encode_jpeg(broken), InvalidArgument);
  EXPECT_THROW(encode_webp(broken), InvalidArgument);
  EXPECT_THROW(encode_png(Image{}), InvalidArgument);
  EXPECT_THROW(encode_jpeg(test_picture(8, 8), 0), InvalidArgument);
}

TEST(ImageIo, ResizeShrinksByAveragingAndEnlargesSmoothly) {
  // A 1-pixel checkerboard averages to mid grey when halved; bilinear would alias.
  Image checker(64, 64);
  for (int y = 0; y < 64; ++y) {
    for (int x = 0; x < 64; ++x) {
      const uint8_t v = (x + y) % 2 ? 255 : 0;
      std::memset(checker.row(y) + x * 3, v, 3);
    }
  }
  const Image half = resize(checker, 32, 32);
  for (uint8_t v : half.pixels) EXPECT_NEAR(v, 128, 1);
  const Image odd = resize(checker, 21, 13);  // non-integer factors still average
  for (uint8_t v : odd.pixels) EXPECT_NEAR(v, 128, 20);

  // Enlarging a 2x1 black/white image gives a monotonic ramp between them.
  Image two(2, 1);
  std::memset(two.row(0) + 3, 255, 3);
  const Image ramp = resize(two, 8, 1);
  EXPECT_EQ(ramp.pixels[0], 0);
  EXPECT_EQ(ramp.pixels[7 * 3], 255);
  for (int x = 1; x < 8; ++x) EXPECT_GE(ramp.pixels[size_t(x) * 3], ramp.pixels[size_t(x - 1) * 3]);

  // Same size is the identity; a smooth picture survives a down-and-up trip.
  const Image picture = test_picture(120, 80);
  EXPECT_EQ(resize(picture, 120, 80).pixels, picture.pixels);
  EXPECT_GT(psnr(picture, resize(resize(picture, 60, 40), 120, 80)), 20.0);
  EXPECT_THROW(resize(picture, 0, 10), InvalidArgument);
}

TEST(ImageIo, WriteFileAtomicAndReadImage) {
  const fs::path folder = fs::temp_directory_path() / ("opsis-image-test-" + std::to_string(::getpid()));
  fs::remove_all(folder);
  fs::create_directories(folder);
  const std::string path = (folder / "picture.png").string();
  const Image image = test_picture(33, 17);
  write_file_atomic(path, encode_png(image));
  EXPECT_EQ(read_image(path).pixels, image.pixels);
  write_file_atomic(path, encode_jpeg(image));  // replaces the PNG whole
  EXPECT_EQ(read_image(path).width, 33);
  size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(folder)) ++entries;
  EXPECT_EQ(entries, 1u) << "a temporary file was left behind";

  EXPECT_THROW(write_file_atomic("/nonexistent-dir/picture.png", {1, 2, 3}), IoError);
  EXPECT_FALSE(fs::exists("/nonexistent-dir"));
  EXPECT_THROW(read_image((folder / "missing.png").string()), IoError);
  fs::remove_all(folder);
}

}  // namespace
}  // namespace opsis::media
