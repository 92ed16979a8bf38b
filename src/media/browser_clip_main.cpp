// Writes the MP4 that tests/browser/playback.mjs plays in Chromium (registered in CTest).
//   opsis_media_browser_clip OUT.mp4 WIDTH HEIGHT FRAMES FLASH_FRAME
// 24 fps; a small square moves over black; frame FLASH_FRAME is all white; the sound is
// silent but for a 10 ms 1 kHz click starting exactly at FLASH_FRAME / 24 s.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <numbers>
#include <string>

#include "media/mp4.hpp"

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: %s OUT.mp4 WIDTH HEIGHT FRAMES FLASH_FRAME\n", argv[0]);
    return 2;
  }
  try {
    const std::string out = argv[1];
    const int width = std::stoi(argv[2]);
    const int height = std::stoi(argv[3]);
    const int frames = std::stoi(argv[4]);
    const int flash = std::stoi(argv[5]);
    if (flash < 1 || flash + 1 >= frames) throw std::invalid_argument("FLASH_FRAME must have a frame on each side");

    opsis::Video video;
    video.width = width;
    video.height = height;
    video.rgb.assign(video.frame_bytes() * size_t(frames), 0);
    const int side = std::max(8, std::min(width, height) / 8);
    for (int t = 0; t < frames; ++t) {
      uint8_t* f = video.frame(t);
      if (t == flash) {
        std::fill_n(f, video.frame_bytes(), uint8_t(255));
        continue;
      }
      const int x0 = (t * 4) % std::max(1, width - side);
      const int y0 = (height - side) / 2;
      for (int y = y0; y < y0 + side; ++y) {
        for (int x = x0; x < x0 + side; ++x) {
          uint8_t* p = f + (size_t(y) * size_t(width) + size_t(x)) * 3;
          p[0] = 230, p[1] = 180, p[2] = 40;
        }
      }
    }

    opsis::Audio audio;  // 48 kHz mono: 2000 samples a frame
    audio.samples.assign(size_t(frames) * 2000, 0.0f);
    const size_t click = size_t(flash) * 2000;
    for (size_t i = 0; i < 480; ++i) {
      audio.samples[click + i] = float(0.9 * std::cos(2 * std::numbers::pi * 1000.0 * double(i) / 48000));
    }

    const std::filesystem::path folder = std::filesystem::path(out).parent_path();
    if (!folder.empty()) std::filesystem::create_directories(folder);
    opsis::media::write_mp4(out, video, audio);
    std::printf("wrote %s: %dx%d, %d frames at 24 fps (%.4f s), white frame %d, click at %.6f s\n",
                out.c_str(), width, height, frames, frames / 24.0, flash, flash / 24.0);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "opsis_media_browser_clip: %s\n", e.what());
    return 1;
  }
}
