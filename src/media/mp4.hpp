#pragma once
// MP4 files: H.264 (yuv420p, constant frame rate) + AAC-LC, moov first (faststart), with the
// AAC encoder delay handled so a sound meant for frame N is heard at frame N in players.
#include <string>

#include "core/av.hpp"
#include "core/progress.hpp"

namespace opsis::media {

struct Mp4Options {
  int crf = 18;                    // x264 constant rate factor
  std::string preset = "veryfast"; // x264 preset
  int audio_bitrate = 128000;      // AAC bits per second
  int audio_sample_rate = 48000;   // audio is resampled to this if the input differs
  int threads = 0;                 // encoder threads; 0 = as many as the codecs choose
};

// Writes video (+ audio if it has samples) to `path`, atomically: the file appears whole or
// not at all (written to a temporary name beside it, then renamed). Width and height must be
// even, at most 1920 on either side. The file lasts exactly video.seconds().
// Throws opsis::InvalidArgument (bad sizes, empty video) or opsis::IoError.
void write_mp4(const std::string& path, const Video& video, const Audio& audio,
               const Mp4Options& options = {}, const Progress* progress = nullptr);

struct Mp4Contents {
  Video video;   // RGB frames as decoded
  Audio audio;   // PCM as decoded, edit list applied (priming removed); may be empty
  std::string video_codec;  // "h264"
  std::string audio_codec;  // "aac" or empty
  double duration = 0;      // container duration, seconds
};

// Decodes every frame and all audio. audio_sample_rate 0 keeps the file's rate; threads 0 lets
// the decoders choose. Throws opsis::IoError (unreadable file) or opsis::InvalidArgument (not
// a video file).
Mp4Contents read_mp4(const std::string& path, int audio_sample_rate = 0, int threads = 0);

}  // namespace opsis::media
