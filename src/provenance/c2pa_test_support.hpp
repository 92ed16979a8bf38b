#pragma once
// Shared by the C2PA test binaries (not part of the library): a scratch folder per test,
// small MP4s written by opsis_media's write_mp4, and byte-level edits of files.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <numbers>
#include <string>

#include "core/av.hpp"
#include "media/mp4.hpp"
#include "provenance/c2pa_bmff.hpp"
#include "provenance/x509.hpp"

namespace opsis::provenance::testing {

namespace fs = std::filesystem;

class ScratchFolderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    folder_ = fs::temp_directory_path() /
              ("opsis-c2pa-" + std::to_string(::getpid()) + "-" + info->test_suite_name() + "-" + info->name());
    fs::remove_all(folder_);
    fs::create_directories(folder_);
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(folder_);  // kept for inspection when a test fails
  }
  fs::path file(const std::string& name) const { return folder_ / name; }
  fs::path folder_;
};

// 0.5 s of 64x48 video at 24 fps (a bar sweeping across a gradient, `hue` shifts the colours)
// with a 440 Hz tone, written by write_mp4.
inline void write_test_mp4(const fs::path& path, int hue = 0) {
  Video video;
  video.width = 64;
  video.height = 48;
  const int frames = 12;
  video.rgb.resize(video.frame_bytes() * frames);
  for (int t = 0; t < frames; ++t) {
    uint8_t* f = video.frame(t);
    for (int y = 0; y < video.height; ++y) {
      for (int x = 0; x < video.width; ++x) {
        uint8_t* p = f + (size_t(y) * size_t(video.width) + size_t(x)) * 3;
        const bool bar = x >= 4 * t && x < 4 * t + 8;
        p[0] = bar ? 240 : uint8_t((hue + 3 * x) & 0xff);
        p[1] = bar ? 220 : uint8_t(40 + 3 * y);
        p[2] = uint8_t(90 + hue);
      }
    }
  }
  Audio audio;
  audio.sample_rate = 48000;
  audio.channels = 1;
  audio.samples.resize(24000);
  for (size_t i = 0; i < audio.samples.size(); ++i)
    audio.samples[i] = 0.3f * float(std::sin(2 * std::numbers::pi * 440.0 * double(i) / 48000.0));
  media::write_mp4(path.string(), video, audio);
}

inline Bytes read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void write_bytes(const fs::path& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

inline const bmff::TopLevelBox& find_box(const std::vector<bmff::TopLevelBox>& boxes, const std::string& type) {
  for (const auto& b : boxes)
    if (b.type == type) return b;
  throw std::runtime_error("no " + type + " box");
}

// Flips one byte in the middle of the mdat payload.
inline void flip_mdat_byte(const fs::path& path) {
  Bytes bytes = read_bytes(path);
  const auto boxes = bmff::list_top_level_boxes(bytes);
  const auto& mdat = find_box(boxes, "mdat");
  bytes[size_t(mdat.offset + mdat.header_size + (mdat.size - mdat.header_size) / 2)] ^= 0x5a;
  write_bytes(path, bytes);
}

// Removes the C2PA manifest box, as a metadata stripper would.
inline void strip_manifest(const fs::path& path) {
  Bytes bytes = read_bytes(path);
  const auto boxes = bmff::list_top_level_boxes(bytes);
  for (auto it = boxes.rbegin(); it != boxes.rend(); ++it) {
    if (bmff::is_c2pa_box(*it)) bytes.erase(bytes.begin() + long(it->offset), bytes.begin() + long(it->offset + it->size));
  }
  write_bytes(path, bytes);
}

// Appends a top-level box of an unknown type written with a 64-bit size (size field == 1).
inline void append_large_size_box(const fs::path& path) {
  Bytes bytes = read_bytes(path);
  const Bytes payload = {'o', 'p', 's', 'i', 's', '-', 'l', 'a', 'r', 'g', 'e'};
  const uint64_t size = 16 + payload.size();
  for (uint8_t b : {0, 0, 0, 1}) bytes.push_back(b);
  for (char c : std::string("opsx")) bytes.push_back(uint8_t(c));
  for (int shift = 56; shift >= 0; shift -= 8) bytes.push_back(uint8_t(size >> shift));
  bytes.insert(bytes.end(), payload.begin(), payload.end());
  write_bytes(path, bytes);
}

// Rewrites the last top-level box's size field as 0 ("extends to the end of the file").
inline void make_last_box_open_ended(const fs::path& path) {
  Bytes bytes = read_bytes(path);
  const auto boxes = bmff::list_top_level_boxes(bytes);
  const auto& last = boxes.back();
  for (int i = 0; i < 4; ++i) bytes[size_t(last.offset) + size_t(i)] = 0;
  write_bytes(path, bytes);
}

}  // namespace opsis::provenance::testing
