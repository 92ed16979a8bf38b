#pragma once
// What an uploaded MP4 claims to be, read from its boxes (ISO/IEC 14496-12) without decoding:
// the first video track's width and height (tkhd) and the movie's duration (mvhd). Used to
// refuse an upload the model cannot continue before anything is queued; the worker decodes
// the file later and checks the frames themselves. Bytes come from outside: every size is
// checked against what remains, nesting is bounded.
#include <cstdint>
#include <string_view>

namespace opsis::server {

struct Mp4Summary {
  int width = 0;           // of the first video track, from tkhd (16.16 fixed point)
  int height = 0;
  double seconds = 0;      // mvhd duration / timescale
};

// Throws opsis::InvalidArgument("video", ...) naming what is wrong (not ISO BMFF, no moov,
// no video track, a box running past the end).
Mp4Summary probe_mp4(std::string_view bytes);

}  // namespace opsis::server
