#include "server/mp4_probe.hpp"

#include <optional>
#include <string>

#include "core/error.hpp"

namespace opsis::server {

namespace {

[[noreturn]] void refuse(const std::string& why) { throw InvalidArgument("video", "the uploaded video is not a readable MP4: " + why); }

uint32_t be32(std::string_view b, size_t at) {
  return uint32_t(uint8_t(b[at])) << 24 | uint32_t(uint8_t(b[at + 1])) << 16 | uint32_t(uint8_t(b[at + 2])) << 8 |
         uint32_t(uint8_t(b[at + 3]));
}
uint64_t be64(std::string_view b, size_t at) { return uint64_t(be32(b, at)) << 32 | be32(b, at + 4); }

struct Box {
  std::string_view type;
  std::string_view body;  // after the header
};

// The boxes directly inside `bytes`, in order; a box running past the end is an error. Only
// moov > trak > mdia > hdlr is descended, so nesting is bounded by the code, not the file.
template <typename Visit>
void each_box(std::string_view bytes, Visit&& visit) {
  size_t at = 0;
  while (at < bytes.size()) {
    if (bytes.size() - at < 8) refuse("a box header is cut off at byte " + std::to_string(at));
    uint64_t size = be32(bytes, at);
    size_t header = 8;
    if (size == 1) {
      if (bytes.size() - at < 16) refuse("a 64-bit box size is cut off");
      size = be64(bytes, at + 8);
      header = 16;
    } else if (size == 0) {
      size = bytes.size() - at;  // to the end
    }
    if (size < header || size > bytes.size() - at) refuse("a box runs past the end of the file");
    visit(Box{bytes.substr(at + 4, 4), bytes.substr(at + header, size_t(size) - header)});
    at += size_t(size);
  }
}

std::optional<Box> child(std::string_view container, std::string_view type) {
  std::optional<Box> found;
  each_box(container, [&](const Box& box) {
    if (!found && box.type == type) found = box;
  });
  return found;
}

struct Track {
  bool video = false;
  int width = 0;
  int height = 0;
};

Track read_track(std::string_view trak) {
  Track track;
  if (auto mdia = child(trak, "mdia")) {
    if (auto hdlr = child(mdia->body, "hdlr"); hdlr && hdlr->body.size() >= 12) track.video = hdlr->body.substr(8, 4) == "vide";
  }
  if (auto tkhd = child(trak, "tkhd")) {
    const std::string_view b = tkhd->body;
    if (b.empty()) refuse("an empty track header");
    // version 0: 4 + 4*5 + 8 + 2*4 + 36 = 76 bytes before width; version 1: 88.
    const size_t at = uint8_t(b[0]) == 1 ? 88 : 76;
    if (b.size() < at + 8) refuse("a track header is cut off");
    track.width = int(be32(b, at) >> 16);
    track.height = int(be32(b, at + 4) >> 16);
  }
  return track;
}

}  // namespace

Mp4Summary probe_mp4(std::string_view bytes) {
  if (bytes.size() < 8 || bytes.substr(4, 4) != "ftyp") refuse("it does not start with an ftyp box");
  std::optional<Box> moov;
  each_box(bytes, [&](const Box& box) {
    if (!moov && box.type == "moov") moov = box;
  });
  if (!moov) refuse("it has no moov box (the movie header)");
  Mp4Summary summary;
  const auto mvhd = child(moov->body, "mvhd");
  if (!mvhd || mvhd->body.empty()) refuse("it has no movie header (mvhd)");
  const std::string_view m = mvhd->body;
  uint64_t timescale = 0, duration = 0;
  if (uint8_t(m[0]) == 1) {
    if (m.size() < 32) refuse("the movie header is cut off");
    timescale = be32(m, 20);
    duration = be64(m, 24);
  } else {
    if (m.size() < 20) refuse("the movie header is cut off");
    timescale = be32(m, 12);
    duration = be32(m, 16);
  }
  if (timescale == 0) refuse("the movie header's timescale is 0");
  summary.seconds = double(duration) / double(timescale);
  bool found = false;
  each_box(moov->body, [&](const Box& box) {
    if (found || box.type != "trak") return;
    const Track track = read_track(box.body);
    if (!track.video) return;
    found = true;
    summary.width = track.width;
    summary.height = track.height;
  });
  if (!found) refuse("it has no video track");
  return summary;
}

}  // namespace opsis::server
