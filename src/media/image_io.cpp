#include "media/image_io.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>

#include <jpeglib.h>
#include <png.h>
#include <unistd.h>
#include <webp/decode.h>
#include <webp/encode.h>

#include "core/error.hpp"
#include "media/temporary_file.hpp"

namespace opsis::media {
namespace {

// Larger pictures are refused before decoding allocates for them.
constexpr int64_t kMaxDecodedPixels = 100'000'000;
constexpr int kMaxDecodedSide = 30000;

void check_decoded_size(const char* format, int64_t width, int64_t height) {
  if (width <= 0 || height <= 0 || width > kMaxDecodedSide || height > kMaxDecodedSide ||
      width * height > kMaxDecodedPixels) {
    throw InvalidArgument("image", std::string(format) + " image of " + std::to_string(width) +
                                       "x" + std::to_string(height) +
                                       " pixels is empty or too large to decode");
  }
}

void check_encodable(const Image& image) {
  if (image.width <= 0 || image.height <= 0 ||
      image.pixels.size() != size_t(image.width) * size_t(image.height) * 3) {
    throw InvalidArgument("image", "image of " + std::to_string(image.width) + "x" +
                                       std::to_string(image.height) + " with " +
                                       std::to_string(image.pixels.size()) +
                                       " bytes is not a whole RGB picture");
  }
}

bool starts_with(const std::vector<uint8_t>& bytes, size_t offset, const char* magic, size_t n) {
  return bytes.size() >= offset + n && std::memcmp(bytes.data() + offset, magic, n) == 0;
}

// ---- PNG (libpng's simplified API: errors come back in png_image::message) ----

Image decode_png(const std::vector<uint8_t>& bytes) {
  png_image png{};
  png.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&png, bytes.data(), bytes.size())) {
    throw InvalidArgument("image", std::string("unreadable PNG: ") + png.message);
  }
  try {
    check_decoded_size("PNG", png.width, png.height);
  } catch (...) {
    png_image_free(&png);
    throw;
  }
  png.format = PNG_FORMAT_RGB;
  Image image(int(png.width), int(png.height));
  // Transparent pixels are composited onto black.
  const png_color black{0, 0, 0};
  if (!png_image_finish_read(&png, &black, image.pixels.data(), 0, nullptr)) {
    throw InvalidArgument("image", std::string("unreadable PNG: ") + png.message);
  }
  return image;
}

// ---- JPEG (libjpeg reports errors through a callback that must not return: longjmp) ----

struct JpegErrorManager {
  jpeg_error_mgr manager;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

extern "C" void jpeg_error_exit_to_jump(j_common_ptr info) {
  auto* errors = reinterpret_cast<JpegErrorManager*>(info->err);
  (*info->err->format_message)(info, errors->message);
  std::longjmp(errors->jump, 1);
}

extern "C" void jpeg_silence_message(j_common_ptr) {}

// Only trivially destructible locals live in these two functions, so the longjmp skips no
// destructor. They return false with `message` filled on failure.
bool decode_jpeg_raw(const uint8_t* data, size_t size, Image* out, JpegErrorManager* errors) {
  jpeg_decompress_struct info{};
  info.err = jpeg_std_error(&errors->manager);
  errors->manager.error_exit = jpeg_error_exit_to_jump;
  errors->manager.output_message = jpeg_silence_message;
  if (setjmp(errors->jump)) {
    jpeg_destroy_decompress(&info);
    return false;
  }
  jpeg_create_decompress(&info);
  jpeg_mem_src(&info, data, static_cast<unsigned long>(size));
  jpeg_read_header(&info, TRUE);
  info.out_color_space = JCS_RGB;
  jpeg_calc_output_dimensions(&info);
  const int64_t width = info.output_width;
  const int64_t height = info.output_height;
  if (width <= 0 || height <= 0 || width > kMaxDecodedSide || height > kMaxDecodedSide ||
      width * height > kMaxDecodedPixels) {
    std::snprintf(errors->message, sizeof errors->message,
                  "JPEG image of %lldx%lld pixels is empty or too large to decode",
                  static_cast<long long>(width), static_cast<long long>(height));
    jpeg_destroy_decompress(&info);
    return false;
  }
  jpeg_start_decompress(&info);
  out->width = int(width);
  out->height = int(height);
  out->pixels.assign(size_t(width) * size_t(height) * 3, 0);
  while (info.output_scanline < info.output_height) {
    JSAMPROW row = out->pixels.data() + size_t(info.output_scanline) * size_t(width) * 3;
    jpeg_read_scanlines(&info, &row, 1);
  }
  jpeg_finish_decompress(&info);
  jpeg_destroy_decompress(&info);
  return true;
}

bool encode_jpeg_raw(const Image* image, int quality, unsigned char** buffer,
                     unsigned long* size, JpegErrorManager* errors) {
  jpeg_compress_struct info{};
  info.err = jpeg_std_error(&errors->manager);
  errors->manager.error_exit = jpeg_error_exit_to_jump;
  errors->manager.output_message = jpeg_silence_message;
  if (setjmp(errors->jump)) {
    jpeg_destroy_compress(&info);
    return false;
  }
  jpeg_create_compress(&info);
  jpeg_mem_dest(&info, buffer, size);
  info.image_width = JDIMENSION(image->width);
  info.image_height = JDIMENSION(image->height);
  info.input_components = 3;
  info.in_color_space = JCS_RGB;
  jpeg_set_defaults(&info);
  jpeg_set_quality(&info, quality, TRUE);
  info.optimize_coding = TRUE;
  jpeg_start_compress(&info, TRUE);
  while (info.next_scanline < info.image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(image->row(int(info.next_scanline)));
    jpeg_write_scanlines(&info, &row, 1);
  }
  jpeg_finish_compress(&info);
  jpeg_destroy_compress(&info);
  return true;
}

Image decode_jpeg(const std::vector<uint8_t>& bytes) {
  JpegErrorManager errors{};
  Image image;
  if (!decode_jpeg_raw(bytes.data(), bytes.size(), &image, &errors)) {
    throw InvalidArgument("image", std::string("unreadable JPEG: ") + errors.message);
  }
  return image;
}

// ---- WebP ----

Image decode_webp(const std::vector<uint8_t>& bytes) {
  int width = 0;
  int height = 0;
  if (!WebPGetInfo(bytes.data(), bytes.size(), &width, &height)) {
    throw InvalidArgument("image", "unreadable WebP: the header is damaged or unsupported");
  }
  check_decoded_size("WebP", width, height);
  Image image(width, height);
  if (!WebPDecodeRGBInto(bytes.data(), bytes.size(), image.pixels.data(), image.pixels.size(),
                         width * 3)) {
    throw InvalidArgument("image", "unreadable WebP: the picture data is damaged");
  }
  return image;
}

// ---- resize: separable filter, one list of taps per output row or column ----

struct Taps {
  int first = 0;               // first source index
  std::vector<float> weights;  // weights for source indices first, first+1, ...
};

std::vector<Taps> filter_taps(int source, int target) {
  std::vector<Taps> taps(static_cast<size_t>(target));
  const double scale = double(source) / double(target);
  for (int x = 0; x < target; ++x) {
    Taps& t = taps[size_t(x)];
    if (scale > 1.0) {
      // Shrinking: average the source pixels the output pixel covers, by covered length.
      const double begin = x * scale;
      const double end = std::min(double(source), (x + 1) * scale);
      t.first = int(std::floor(begin));
      const int last = std::min(source - 1, int(std::ceil(end)) - 1);
      for (int i = t.first; i <= last; ++i) {
        const double covered = std::min(end, double(i + 1)) - std::max(begin, double(i));
        t.weights.push_back(float(std::max(0.0, covered) / (end - begin)));
      }
    } else {
      // Enlarging (or same size): bilinear between the two nearest source centres.
      const double centre = std::clamp((x + 0.5) * scale - 0.5, 0.0, double(source - 1));
      t.first = std::min(int(std::floor(centre)), std::max(0, source - 2));
      const double fraction = centre - t.first;
      t.weights.push_back(float(1.0 - fraction));
      if (source > 1) t.weights.push_back(float(fraction));
    }
  }
  return taps;
}

uint8_t to_byte(float v) { return uint8_t(std::clamp(std::lround(v), 0L, 255L)); }

}  // namespace

Image decode_image(const std::vector<uint8_t>& bytes) {
  static const char kPng[] = {'\x89', 'P', 'N', 'G', '\r', '\n', '\x1a', '\n'};
  if (starts_with(bytes, 0, kPng, sizeof kPng)) return decode_png(bytes);
  if (starts_with(bytes, 0, "\xFF\xD8\xFF", 3)) return decode_jpeg(bytes);
  if (starts_with(bytes, 0, "RIFF", 4) && starts_with(bytes, 8, "WEBP", 4)) return decode_webp(bytes);
  throw InvalidArgument("image", "not a PNG, JPEG or WebP image (the first bytes match none of "
                                 "them)");
}

Image read_image(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw IoError("cannot read image " + path + ": " + std::strerror(errno));
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  if (file.bad()) throw IoError("cannot read image " + path + ": read failed");
  return decode_image(bytes);
}

std::vector<uint8_t> encode_png(const Image& image) {
  check_encodable(image);
  png_image png{};
  png.version = PNG_IMAGE_VERSION;
  png.width = png_uint_32(image.width);
  png.height = png_uint_32(image.height);
  png.format = PNG_FORMAT_RGB;
  png_alloc_size_t size = 0;
  if (!png_image_write_to_memory(&png, nullptr, &size, 0, image.pixels.data(), 0, nullptr)) {
    throw IoError(std::string("PNG encoding failed: ") + png.message);
  }
  std::vector<uint8_t> bytes(size);
  if (!png_image_write_to_memory(&png, bytes.data(), &size, 0, image.pixels.data(), 0, nullptr)) {
    throw IoError(std::string("PNG encoding failed: ") + png.message);
  }
  bytes.resize(size);
  return bytes;
}

std::vector<uint8_t> encode_jpeg(const Image& image, int quality) {
  check_encodable(image);
  if (quality < 1 || quality > 100) {
    throw InvalidArgument("quality", "JPEG quality must be between 1 and 100");
  }
  if (image.width > 65500 || image.height > 65500) {
    throw InvalidArgument("image", "JPEG cannot hold more than 65500 pixels on a side");
  }
  JpegErrorManager errors{};
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  const bool ok = encode_jpeg_raw(&image, quality, &buffer, &size, &errors);
  std::vector<uint8_t> bytes;
  if (ok) bytes.assign(buffer, buffer + size);
  std::free(buffer);
  if (!ok) throw IoError(std::string("JPEG encoding failed: ") + errors.message);
  return bytes;
}

std::vector<uint8_t> encode_webp(const Image& image, float quality) {
  check_encodable(image);
  if (!(quality >= 0.0f && quality <= 100.0f)) {
    throw InvalidArgument("quality", "WebP quality must be between 0 and 100");
  }
  if (image.width > WEBP_MAX_DIMENSION || image.height > WEBP_MAX_DIMENSION) {
    throw InvalidArgument("image", "WebP cannot hold more than " +
                                       std::to_string(WEBP_MAX_DIMENSION) + " pixels on a side");
  }
  uint8_t* output = nullptr;
  const size_t size = WebPEncodeRGB(image.pixels.data(), image.width, image.height,
                                    image.width * 3, quality, &output);
  if (size == 0) {
    WebPFree(output);
    throw IoError("WebP encoding failed");
  }
  std::vector<uint8_t> bytes(output, output + size);
  WebPFree(output);
  return bytes;
}

Image resize(const Image& image, int width, int height) {
  check_encodable(image);
  if (width <= 0 || height <= 0) {
    throw InvalidArgument("size", "cannot resize to " + std::to_string(width) + "x" +
                                      std::to_string(height));
  }
  if (width == image.width && height == image.height) return image;
  const std::vector<Taps> columns = filter_taps(image.width, width);
  const std::vector<Taps> rows = filter_taps(image.height, height);
  // horizontal: [source height, target width, 3]
  std::vector<float> horizontal(size_t(image.height) * size_t(width) * 3);
  for (int y = 0; y < image.height; ++y) {
    const uint8_t* src = image.row(y);
    float* dst = horizontal.data() + size_t(y) * size_t(width) * 3;
    for (int x = 0; x < width; ++x) {
      const Taps& t = columns[size_t(x)];
      float sum[3] = {0, 0, 0};
      for (size_t k = 0; k < t.weights.size(); ++k) {
        const uint8_t* p = src + size_t(t.first + int(k)) * 3;
        for (int c = 0; c < 3; ++c) sum[c] += t.weights[k] * p[c];
      }
      for (int c = 0; c < 3; ++c) dst[x * 3 + c] = sum[c];
    }
  }
  Image out(width, height);
  const size_t stride = size_t(width) * 3;
  std::vector<float> sum(stride);
  for (int y = 0; y < height; ++y) {
    const Taps& t = rows[size_t(y)];
    std::fill(sum.begin(), sum.end(), 0.0f);
    for (size_t k = 0; k < t.weights.size(); ++k) {
      const float* src = horizontal.data() + size_t(t.first + int(k)) * stride;
      const float w = t.weights[k];
      for (size_t i = 0; i < stride; ++i) sum[i] += w * src[i];
    }
    uint8_t* dst = out.row(y);
    for (size_t i = 0; i < stride; ++i) dst[i] = to_byte(sum[i]);
  }
  return out;
}

void write_file_atomic(const std::string& path, const std::vector<uint8_t>& bytes) {
  const std::filesystem::path destination(path);
  if (destination.filename().empty()) throw IoError("cannot write " + path + ": not a file name");
  const std::string temporary = detail::temporary_path_beside(destination);
  std::FILE* file = std::fopen(temporary.c_str(), "wb");
  if (!file) throw IoError("cannot write " + path + ": " + std::strerror(errno));
  const bool written = std::fwrite(bytes.data(), 1, bytes.size(), file) == bytes.size() &&
                       std::fflush(file) == 0 && ::fsync(::fileno(file)) == 0;
  const int write_errno = errno;
  const bool closed = std::fclose(file) == 0;
  if (!written || !closed) {
    std::error_code ignored;
    std::filesystem::remove(temporary, ignored);
    throw IoError("cannot write " + path + ": " + std::strerror(written ? errno : write_errno));
  }
  std::error_code ec;
  std::filesystem::rename(temporary, destination, ec);
  if (ec) {
    std::error_code ignored;
    std::filesystem::remove(temporary, ignored);
    throw IoError("cannot write " + path + ": " + ec.message());
  }
}

}  // namespace opsis::media
