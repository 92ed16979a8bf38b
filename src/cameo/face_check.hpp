#pragma once
// Face checks of a person's enrollment recording, local and without a learned model beyond the
// Haar cascades of Debian's opencv-data (frontal and profile faces; boxes only): one face is
// visible, it turns the way the challenge asked, it stays the same face, and the recording is
// not a still picture.
//
// The head turn is read from where the face box goes. Directions are the person's own, as the
// challenge tells them ("turn your head to the left"), seen in an unmirrored camera recording
// (what getUserMedia and phone cameras record; only the preview is mirrored): turning to their
// left moves the face towards the image's right, up moves it up. A yaw of 30 degrees moves the
// face about a quarter of its width; the box is followed through frontal and then profile
// detections. What it cannot tell: a printed photo moved by hand the asked way moves the box
// too (the still-picture check only catches a photo held still); only a model of the face's
// shape (landmarks, depth) would.
#include <memory>
#include <mutex>
#include <string>

#include "cameo/liveness.hpp"
#include "core/av.hpp"

namespace opsis::cameo {

struct FaceVerdict {
  // Empty when the recording passes; else "recording_no_face", "recording_several_faces",
  // "recording_no_head_turn", "recording_face_changed" or "recording_still_image".
  std::string code;
  std::string message;  // what was wrong, for the person recording
  // What was measured.
  int frames_sampled = 0;
  int frames_with_face = 0;      // a frontal or profile face
  int frames_with_several = 0;   // two or more frontal faces of similar size
  double turn = 0;               // the largest move the asked way, in face widths (heights for up/down)
  double opposite = 0;           // the largest move the other way
  double motion = 0;             // mean absolute change between sampled frames, 0..255
  double min_similarity = 1;     // the lowest face-crop similarity between neighbouring detections
  bool passed() const { return code.empty(); }
};

// How much the picture changes (0..255): the most changed 8x8 block of a grey copy 128 pixels
// across, between frames a tenth of a second or more apart, median over the recording. Under
// kStillMotion it is a still picture: an encoded photo measured 0.1, one with strong sensor
// noise 1.0; a studio close-up of a character talking 12, a photo moved by hand 30 and more.
double recording_motion(const Video& video);
constexpr double kStillMotion = 3.0;

class FaceChecker {
 public:
  // cascade_dir: holds haarcascade_frontalface_default.xml and haarcascade_profileface.xml;
  // empty: $OPSIS_HAARCASCADES, else /usr/share/opencv4/haarcascades (Debian's opencv-data).
  // Throws opsis::IoError when they are missing.
  explicit FaceChecker(std::string cascade_dir = "");
  ~FaceChecker();
  FaceChecker(const FaceChecker&) = delete;
  FaceChecker& operator=(const FaceChecker&) = delete;

  // Thread-safe (one recording at a time).
  FaceVerdict check(const Video& video, HeadTurn turn);

 private:
  struct Cascades;
  std::unique_ptr<Cascades> cascades_;
  std::mutex mutex_;
};

}  // namespace opsis::cameo
