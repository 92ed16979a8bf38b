#pragma once
// read_mp4 for files from outside whose size is not known in advance (a cameo enrollment
// recording, MP4 or WebM): frames scaled down as they are decoded, and decoding stopped after a
// number of frames, so a long or large upload cannot fill the memory.
#include <cstdint>
#include <string>

#include "media/mp4.hpp"

namespace opsis::media {

struct Mp4ReadLimits {
  int max_side = 0;        // > 0: frames scaled (aspect kept, even sides) to at most this on either side
  int64_t max_frames = 0;  // > 0: decoding stops after this many video frames (sound with them)
};

// As read_mp4; *truncated (when given) says whether decoding stopped at max_frames.
Mp4Contents read_mp4_limited(const std::string& path, int audio_sample_rate, const Mp4ReadLimits& limits,
                             bool* truncated = nullptr);

}  // namespace opsis::media
