#pragma once
// The enrollment recording checked against its liveness challenge (issue #12), locally: it lasts
// 3 to 10 seconds with sound; for a person, the challenge's phrase is spoken (speech_check.hpp)
// and one face is seen turning the asked way, the same face throughout, not a still picture
// (face_check.hpp). A character (a pet, an object) is checked for length only: its freshness is
// the challenge, its consent the owner's declaration.
//
// Modes, chosen by whoever runs the server (`opsis serve --cameo-checks`):
//   full   (default) every check above;
//   studio the face checks give way to "it moves" (not a still picture): for the studio world's
//          cartoon characters, which no face detector sees — development and tests only;
//   off    no check of the content at all: for synthetic cameras (a browser's fake device) and
//          generated clips in the app's browser tests. Never for a deployment.
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>

#include "cameo/face_check.hpp"
#include "cameo/likeness.hpp"
#include "cameo/liveness.hpp"
#include "cameo/registry.hpp"
#include "cameo/speech_check.hpp"

namespace opsis::cameo {

enum class RecordingChecks { full, studio, off };
const char* name(RecordingChecks mode);
// Throws opsis::InvalidArgument("cameo-checks", ...) for anything but full, studio, off.
RecordingChecks recording_checks_from_name(const std::string& text);

// A recording that does not answer its challenge. code(): "recording_unreadable",
// "recording_duration", "recording_no_sound", "recording_no_speech_match", "recording_no_face",
// "recording_several_faces", "recording_no_head_turn", "recording_face_changed",
// "recording_still_image". spends_challenge(): whether the challenge it answered is used up
// (true for what the recording shows or says; false for a file that could not be checked).
class RecordingRefused : public std::runtime_error {
 public:
  RecordingRefused(std::string code, const std::string& message, bool spends_challenge)
      : std::runtime_error(message), code_(std::move(code)), spends_(spends_challenge) {}
  const std::string& code() const noexcept { return code_; }
  bool spends_challenge() const noexcept { return spends_; }

 private:
  std::string code_;
  bool spends_;
};

struct RecordingReport {
  double seconds = 0;
  double sound_rms = 0;        // of the whole recording, 0..1
  SpeechReading speech;        // empty unless the phrase was checked
  FaceVerdict face;            // empty unless the face was checked
  double motion = 0;           // studio mode: recording_motion()
  // For a person's recording that passed (full and studio modes): the nearest studio identity
  // and a portrait (likeness.hpp); empty when no frontal face was found to read it from.
  std::optional<LikenessReading> likeness;
};

class RecordingChecker {
 public:
  // The recogniser and the cascades are loaded on first use (opsis::IoError when missing).
  explicit RecordingChecker(RecordingChecks mode = RecordingChecks::full);
  ~RecordingChecker();

  RecordingChecks mode() const { return mode_; }
  // Loads what the mode needs now (opsis::IoError when a model is missing): a server checks
  // its environment at start-up, not at the first enrollment.
  void preload();
  // bytes: the uploaded file (MP4 or WebM; what FFmpeg reads). Throws RecordingRefused. A
  // person's recording that passes is then read for its likeness (RecordingReport::likeness).
  // With the checks off nothing is refused, and the likeness is read when it can be.
  RecordingReport check(const std::string& bytes, CameoKind kind, const LivenessChallenge& challenge);

 private:
  RecordingReport likeness_only(const std::string& bytes, CameoKind kind);
  SpeechChecker& speech();
  FaceChecker& faces();
  LikenessReader& likenesses();

  RecordingChecks mode_;
  std::mutex mutex_;
  std::unique_ptr<SpeechChecker> speech_;
  std::unique_ptr<FaceChecker> faces_;
  std::unique_ptr<LikenessReader> likenesses_;
};

}  // namespace opsis::cameo
