#include "cameo/recording_check.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "core/error.hpp"
#include "media/mp4_limited.hpp"

namespace opsis::cameo {

namespace {

constexpr double kMinSeconds = 3.0;
constexpr double kMaxSeconds = 10.0;
constexpr double kSilentRms = 0.003;  // about -50 dBFS: no microphone, or a muted one
// Decoded frames are at most this wide or high (the face detector works at 240 lines), and
// decoding stops after this many (12 s at 60 fps): at most 125 MB for any upload.
constexpr int kMaxSide = 320;
constexpr int64_t kMaxFrames = 720;

std::string one_decimal(double x) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f", x);
  return text;
}

// The upload in a private temporary file (FFmpeg reads files), removed when done.
class TemporaryFile {
 public:
  explicit TemporaryFile(const std::string& bytes) {
    std::string pattern = (std::filesystem::temp_directory_path() / "opsis-recording-XXXXXX").string();
    const int fd = mkstemp(pattern.data());
    if (fd < 0) throw IoError("cannot make a temporary file for the recording");
    path_ = pattern;
    const char* data = bytes.data();
    size_t left = bytes.size();
    while (left > 0) {
      const ssize_t n = ::write(fd, data, left);
      if (n <= 0) {
        ::close(fd);
        std::filesystem::remove(path_);
        throw IoError("cannot write the recording to a temporary file");
      }
      data += n;
      left -= size_t(n);
    }
    ::close(fd);
  }
  ~TemporaryFile() {
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace

const char* name(RecordingChecks mode) {
  switch (mode) {
    case RecordingChecks::full: return "full";
    case RecordingChecks::studio: return "studio";
    case RecordingChecks::off: return "off";
  }
  return "full";
}

RecordingChecks recording_checks_from_name(const std::string& text) {
  for (const auto mode : {RecordingChecks::full, RecordingChecks::studio, RecordingChecks::off})
    if (text == name(mode)) return mode;
  throw InvalidArgument("cameo-checks", "cameo checks must be full, studio or off, not '" + text.substr(0, 20) + "'");
}

RecordingChecker::RecordingChecker(RecordingChecks mode) : mode_(mode) {}
RecordingChecker::~RecordingChecker() = default;

void RecordingChecker::preload() {
  if (mode_ == RecordingChecks::off) return;
  speech();
  likenesses();
  if (mode_ == RecordingChecks::full) faces();
}

SpeechChecker& RecordingChecker::speech() {
  std::lock_guard lock(mutex_);
  if (!speech_) speech_ = std::make_unique<SpeechChecker>();
  return *speech_;
}

LikenessReader& RecordingChecker::likenesses() {
  std::lock_guard lock(mutex_);
  if (!likenesses_) likenesses_ = std::make_unique<LikenessReader>();
  return *likenesses_;
}

FaceChecker& RecordingChecker::faces() {
  std::lock_guard lock(mutex_);
  if (!faces_) faces_ = std::make_unique<FaceChecker>();
  return *faces_;
}

RecordingReport RecordingChecker::check(const std::string& bytes, CameoKind kind, const LivenessChallenge& challenge) {
  if (mode_ == RecordingChecks::off) return likeness_only(bytes, kind);
  media::Mp4Contents contents;
  bool truncated = false;
  {
    const TemporaryFile file(bytes);
    try {
      contents = media::read_mp4_limited(file.path(), 16000, {kMaxSide, kMaxFrames}, &truncated);
    } catch (const std::exception&) {
      throw RecordingRefused("recording_unreadable",
                             "the recording cannot be decoded; send an MP4 (H.264/AAC) or a WebM (VP8/VP9/Opus) file", false);
    }
  }
  RecordingReport report;
  // The container's duration; a browser's WebM often has none: then the longer track.
  report.seconds = contents.duration > 0 ? contents.duration : std::max(contents.video.seconds(), contents.audio.seconds());
  if (truncated && contents.duration <= 0) report.seconds = std::max(report.seconds, kMaxSeconds + 1);  // more frames than 12 s
  if (report.seconds < kMinSeconds - 0.05 || report.seconds > kMaxSeconds + 0.05)
    throw RecordingRefused("recording_duration", "the recording lasts " + one_decimal(report.seconds) +
                                                     " s; record 3 to 10 seconds answering the challenge", false);
  const std::vector<float> sound = mono(contents.audio.samples, contents.audio.channels);
  double sum = 0;
  for (const float x : sound) sum += double(x) * x;
  report.sound_rms = sound.empty() ? 0 : std::sqrt(sum / double(sound.size()));
  if (contents.audio_codec.empty() || report.sound_rms < kSilentRms)
    throw RecordingRefused("recording_no_sound",
                           contents.audio_codec.empty() ? "the recording has no sound; record with the microphone on"
                                                        : "the recording is silent; record with the microphone on and say the phrase",
                           !contents.audio_codec.empty());
  if (kind != CameoKind::person) return report;

  // The picture first (a photo is refused before it is listened to), then the phrase.
  if (mode_ == RecordingChecks::studio) {
    report.motion = recording_motion(contents.video);
    if (report.motion < kStillMotion)
      throw RecordingRefused("recording_still_image",
                             "the recording does not move: it looks like a still picture, not a person recorded live", true);
  } else {
    report.face = faces().check(contents.video, challenge.head_turn);
    if (!report.face.passed()) throw RecordingRefused(report.face.code, report.face.message, true);
  }
  if (!speech().heard(sound, challenge.words, &report.speech)) {
    std::string heard;
    for (const auto& w : report.speech.words) heard += (heard.empty() ? "" : " ") + w;
    throw RecordingRefused("recording_no_speech_match",
                           "the challenge phrase \"" + challenge.phrase() + "\" was not heard in the recording (" +
                               (heard.empty() ? std::string("no digits were recognised") : "heard \"" + heard + "\"") +
                               "); say the phrase clearly, in English, then record again with a new challenge",
                           true);
  }
  report.likeness = likenesses().read(contents.video);
  return report;
}

// With the checks off nothing is verified, but a person's likeness is still read when the
// recording decodes and the face cascade is installed, so that the built-in model draws the
// cameo as it does with the checks on; otherwise the cameo is drawn as the default identity.
RecordingReport RecordingChecker::likeness_only(const std::string& bytes, CameoKind kind) {
  RecordingReport report;
  if (kind != CameoKind::person) return report;
  try {
    const TemporaryFile file(bytes);
    bool truncated = false;
    const media::Mp4Contents contents = media::read_mp4_limited(file.path(), 16000, {kMaxSide, kMaxFrames}, &truncated);
    report.seconds = contents.duration;
    report.likeness = likenesses().read(contents.video);
  } catch (const std::exception&) {
    // Undecodable, or no cascade: no likeness, which is what checks-off enrollment had before.
  }
  return report;
}

}  // namespace opsis::cameo
