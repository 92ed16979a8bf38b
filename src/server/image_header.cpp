#include "server/image_header.hpp"

#include <algorithm>
#include <cstring>

namespace opsis::server {

namespace {

constexpr uint32_t kMaxSide = 0x7fffffff;

uint32_t be32(const uint8_t* p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]; }
uint32_t be16(const uint8_t* p) { return uint32_t(p[0]) << 8 | p[1]; }
uint32_t le16(const uint8_t* p) { return uint32_t(p[1]) << 8 | p[0]; }
uint32_t le24(const uint8_t* p) { return uint32_t(p[2]) << 16 | uint32_t(p[1]) << 8 | p[0]; }
uint32_t le32(const uint8_t* p) { return uint32_t(p[3]) << 24 | le24(p); }

}  // namespace

std::optional<std::pair<int64_t, int64_t>> image_dimensions(const std::vector<uint8_t>& b) {
  const size_t n = b.size();
  static const uint8_t kPng[8] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a};
  if (n >= 24 && std::memcmp(b.data(), kPng, 8) == 0 && std::memcmp(b.data() + 12, "IHDR", 4) == 0)
    // PNG allows at most 2^31 - 1 a side; larger claims are clamped there so that
    // width * height never overflows int64 in the callers' pixel checks (found by fuzz_image).
    return std::pair<int64_t, int64_t>{std::min<uint32_t>(be32(&b[16]), kMaxSide), std::min<uint32_t>(be32(&b[20]), kMaxSide)};

  if (n >= 4 && b[0] == 0xff && b[1] == 0xd8) {
    size_t i = 2;
    while (i + 9 < n) {
      if (b[i] != 0xff) return std::nullopt;
      const uint8_t marker = b[i + 1];
      if (marker == 0xff) {  // fill byte
        ++i;
        continue;
      }
      const bool start_of_frame = marker >= 0xc0 && marker <= 0xcf && marker != 0xc4 && marker != 0xc8 && marker != 0xcc;
      if (start_of_frame) return std::pair<int64_t, int64_t>{be16(&b[i + 7]), be16(&b[i + 5])};
      if (marker == 0x01 || (marker >= 0xd0 && marker <= 0xd8)) {
        i += 2;
        continue;
      }
      i += 2 + be16(&b[i + 2]);
    }
    return std::nullopt;
  }

  if (n >= 30 && std::memcmp(b.data(), "RIFF", 4) == 0 && std::memcmp(b.data() + 8, "WEBP", 4) == 0) {
    const uint8_t* chunk = b.data() + 12;
    if (std::memcmp(chunk, "VP8 ", 4) == 0) return std::pair<int64_t, int64_t>{le16(&b[26]) & 0x3fff, le16(&b[28]) & 0x3fff};
    if (std::memcmp(chunk, "VP8L", 4) == 0) {
      const uint32_t bits = le32(&b[21]);
      return std::pair<int64_t, int64_t>{1 + (bits & 0x3fff), 1 + ((bits >> 14) & 0x3fff)};
    }
    if (std::memcmp(chunk, "VP8X", 4) == 0) return std::pair<int64_t, int64_t>{1 + le24(&b[24]), 1 + le24(&b[27])};
  }
  return std::nullopt;
}

}  // namespace opsis::server
