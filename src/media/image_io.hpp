#pragma once
// Still images: PNG, JPEG and WebP in; PNG, JPEG and WebP out.
#include <cstdint>
#include <string>
#include <vector>

#include "core/av.hpp"

namespace opsis::media {

// Format detected from the bytes, not the file name. Throws opsis::InvalidArgument for
// data that is not a readable PNG/JPEG/WebP image.
Image decode_image(const std::vector<uint8_t>& bytes);
Image read_image(const std::string& path);  // + opsis::IoError if unreadable

std::vector<uint8_t> encode_png(const Image& image);
std::vector<uint8_t> encode_jpeg(const Image& image, int quality = 90);
std::vector<uint8_t> encode_webp(const Image& image, float quality = 85.0f);

// Bilinear (area-averaged when shrinking) resize.
Image resize(const Image& image, int width, int height);

// Writes bytes atomically (temporary file + rename). Throws opsis::IoError.
void write_file_atomic(const std::string& path, const std::vector<uint8_t>& bytes);

}  // namespace opsis::media
