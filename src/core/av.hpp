#pragma once
// Plain in-memory picture and sound, shared by every concern (studio, models, media).
#include <cstdint>
#include <cstddef>
#include <vector>

namespace opsis {

// One RGB image, 8 bits per channel. pixels: [height, width, 3], row-major.
struct Image {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> pixels;

  Image() = default;
  Image(int w, int h) : width(w), height(h), pixels(size_t(w) * size_t(h) * 3, 0) {}
  uint8_t* row(int y) { return pixels.data() + size_t(y) * size_t(width) * 3; }
  const uint8_t* row(int y) const { return pixels.data() + size_t(y) * size_t(width) * 3; }
};

// A sequence of RGB frames at a constant rate. rgb: [frames, height, width, 3].
struct Video {
  int width = 0;
  int height = 0;
  int fps_num = 24;  // frame rate = fps_num / fps_den
  int fps_den = 1;
  std::vector<uint8_t> rgb;

  double fps() const { return double(fps_num) / double(fps_den); }
  size_t frame_bytes() const { return size_t(width) * size_t(height) * 3; }
  int frame_count() const { return frame_bytes() ? int(rgb.size() / frame_bytes()) : 0; }
  double seconds() const { return frame_count() / fps(); }
  uint8_t* frame(int t) { return rgb.data() + size_t(t) * frame_bytes(); }
  const uint8_t* frame(int t) const { return rgb.data() + size_t(t) * frame_bytes(); }
  Image frame_image(int t) const {
    Image im(width, height);
    const uint8_t* src = frame(t);
    im.pixels.assign(src, src + frame_bytes());
    return im;
  }
};

// PCM sound. samples: [frames, channels] interleaved, float in [-1, 1].
struct Audio {
  int sample_rate = 48000;
  int channels = 1;
  std::vector<float> samples;

  size_t frame_count() const { return channels ? samples.size() / size_t(channels) : 0; }
  double seconds() const { return sample_rate ? double(frame_count()) / sample_rate : 0.0; }
};

}  // namespace opsis
