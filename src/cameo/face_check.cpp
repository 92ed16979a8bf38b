#include "cameo/face_check.hpp"

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <vector>

#include "core/error.hpp"

namespace opsis::cameo {

namespace {

constexpr const char* kDefaultCascades = "/usr/share/opencv4/haarcascades";
constexpr int kMaxSamples = 40;          // frames looked at, spread over the recording
constexpr double kMinSampleSeconds = 0.1;
constexpr int kDetectHeight = 240;        // frames are scaled to this height for the cascades
constexpr double kTurnNeeded = 0.15;      // face widths (heights for up/down) the box must move
constexpr double kSameFace = 0.45;        // histogram correlation of neighbouring face crops
constexpr double kJump = 1.0;             // a move of more than a face width between samples: another face

double iou(const cv::Rect& a, const cv::Rect& b) {
  const double inter = (a & b).area();
  return inter / double(a.area() + b.area() - inter);
}

cv::Mat grey_frame(const Video& video, int t, double scale) {
  cv::Mat rgb(video.height, video.width, CV_8UC3, const_cast<uint8_t*>(video.frame(t)));
  cv::Mat grey, small;
  cv::cvtColor(rgb, grey, cv::COLOR_RGB2GRAY);
  cv::resize(grey, small, cv::Size(), scale, scale, cv::INTER_AREA);
  return small;
}

std::vector<int> sample_frames(const Video& video) {
  const int frames = video.frame_count();
  const double fps = video.fps_den > 0 && video.fps_num > 0 ? double(video.fps_num) / video.fps_den : 24.0;
  const int step = std::max({1, int(std::ceil(double(frames) / kMaxSamples)), int(std::lround(kMinSampleSeconds * fps))});
  std::vector<int> out;
  for (int t = 0; t < frames; t += step) out.push_back(t);
  return out;
}

// An HSV hue/saturation histogram of the face box (its middle, less background), normalised.
cv::Mat face_histogram(const Video& video, int t, const cv::Rect& box_in_frame) {
  cv::Mat rgb(video.height, video.width, CV_8UC3, const_cast<uint8_t*>(video.frame(t)));
  cv::Rect inner(box_in_frame.x + box_in_frame.width / 5, box_in_frame.y + box_in_frame.height / 5, box_in_frame.width * 3 / 5,
                 box_in_frame.height * 3 / 5);
  inner &= cv::Rect(0, 0, video.width, video.height);
  cv::Mat hsv, hist;
  cv::cvtColor(rgb(inner), hsv, cv::COLOR_RGB2HSV);
  const int channels[] = {0, 1};
  const int sizes[] = {18, 8};
  const float hue[] = {0, 180}, sat[] = {0, 256};
  const float* ranges[] = {hue, sat};
  cv::calcHist(&hsv, 1, channels, cv::Mat(), hist, 2, sizes, ranges);
  cv::normalize(hist, hist, 1, 0, cv::NORM_L1);
  return hist;
}

std::string percent(double x) {
  char text[32];
  std::snprintf(text, sizeof text, "%.0f%%", 100 * x);
  return text;
}

}  // namespace

double recording_motion(const Video& video) {
  const std::vector<int> samples = sample_frames(video);
  if (samples.size() < 2 || video.width <= 0 || video.height <= 0) return 0;
  // Changes are averaged over blocks of 8x8 pixels of a copy 128 pixels wide or high: noise
  // averages out within a block, a moving mouth or head does not. Per pair of samples the
  // most changed block; over the recording the median pair (one cut or glitch does not count).
  const double scale = 128.0 / std::max(video.width, video.height);
  std::vector<double> changes;
  cv::Mat previous = grey_frame(video, samples[0], scale);
  for (size_t i = 1; i < samples.size(); ++i) {
    cv::Mat current = grey_frame(video, samples[i], scale);
    cv::Mat diff, fine, blocks;
    cv::absdiff(current, previous, diff);
    diff.convertTo(fine, CV_32F);
    cv::resize(fine, blocks, cv::Size(std::max(1, fine.cols / 8), std::max(1, fine.rows / 8)), 0, 0, cv::INTER_AREA);
    double most = 0;
    cv::minMaxLoc(blocks, nullptr, &most);
    changes.push_back(most);
    previous = current;
  }
  std::nth_element(changes.begin(), changes.begin() + changes.size() / 2, changes.end());
  return changes[changes.size() / 2];
}

struct FaceChecker::Cascades {
  cv::CascadeClassifier frontal, profile;
};

FaceChecker::FaceChecker(std::string cascade_dir) : cascades_(std::make_unique<Cascades>()) {
  if (cascade_dir.empty()) {
    const char* env = std::getenv("OPSIS_HAARCASCADES");
    cascade_dir = env && *env ? env : kDefaultCascades;
  }
  const auto frontal = std::filesystem::path(cascade_dir) / "haarcascade_frontalface_default.xml";
  const auto profile = std::filesystem::path(cascade_dir) / "haarcascade_profileface.xml";
  if (!std::filesystem::exists(frontal) || !std::filesystem::exists(profile) || !cascades_->frontal.load(frontal.string()) ||
      !cascades_->profile.load(profile.string()))
    throw IoError("the face cascades are missing in " + cascade_dir +
                  " (install Debian's opencv-data, or set OPSIS_HAARCASCADES)");
}

FaceChecker::~FaceChecker() = default;

FaceVerdict FaceChecker::check(const Video& video, HeadTurn turn) {
  FaceVerdict verdict;
  const std::vector<int> samples = sample_frames(video);
  verdict.frames_sampled = int(samples.size());
  verdict.motion = recording_motion(video);
  if (verdict.motion < kStillMotion) {
    verdict.code = "recording_still_image";
    verdict.message = "the recording does not move: it looks like a still picture, not a person recorded live";
    return verdict;
  }
  const double scale = double(kDetectHeight) / video.height;
  const int min_face = kDetectHeight / 8;

  // The primary face of each sample: the largest frontal face, else a profile (either way).
  struct Sample {
    int t = 0;
    std::optional<cv::Rect> face;  // in frame pixels
    bool frontal = false;
  };
  std::vector<Sample> faces;
  {
    std::lock_guard lock(mutex_);
    for (const int t : samples) {
      cv::Mat grey = grey_frame(video, t, scale);
      cv::equalizeHist(grey, grey);
      std::vector<cv::Rect> frontal, profile, mirrored;
      cascades_->frontal.detectMultiScale(grey, frontal, 1.1, 5, 0, cv::Size(min_face, min_face));
      Sample s{t, std::nullopt, false};
      std::sort(frontal.begin(), frontal.end(), [](const cv::Rect& a, const cv::Rect& b) { return a.area() > b.area(); });
      if (!frontal.empty()) {
        s.face = frontal[0];
        s.frontal = true;
        for (size_t k = 1; k < frontal.size(); ++k)
          if (frontal[k].width >= 0.6 * frontal[0].width && iou(frontal[k], frontal[0]) < 0.2) {
            ++verdict.frames_with_several;
            break;
          }
      } else {
        cascades_->profile.detectMultiScale(grey, profile, 1.1, 5, 0, cv::Size(min_face, min_face));
        cv::Mat flipped;
        cv::flip(grey, flipped, 1);
        cascades_->profile.detectMultiScale(flipped, mirrored, 1.1, 5, 0, cv::Size(min_face, min_face));
        for (auto r : mirrored) profile.push_back(cv::Rect(grey.cols - r.x - r.width, r.y, r.width, r.height));
        std::sort(profile.begin(), profile.end(), [](const cv::Rect& a, const cv::Rect& b) { return a.area() > b.area(); });
        if (!profile.empty()) s.face = profile[0];
      }
      if (s.face) {
        const cv::Rect& r = *s.face;
        s.face = cv::Rect(int(r.x / scale), int(r.y / scale), int(r.width / scale), int(r.height / scale)) &
                 cv::Rect(0, 0, video.width, video.height);
        ++verdict.frames_with_face;
      }
      faces.push_back(s);
    }
  }

  // A face, seen from the front at the start (the first half of the recording).
  const Sample* start = nullptr;
  for (size_t i = 0; i < faces.size() && !start; ++i)
    if (faces[i].frontal && 2 * i < faces.size()) start = &faces[i];
  int frontal_frames = 0;
  for (const auto& s : faces) frontal_frames += s.frontal;
  if (!start || verdict.frames_with_face < std::max(3, verdict.frames_sampled / 4)) {
    verdict.code = "recording_no_face";
    verdict.message = "no face was found in the recording (a face was seen in " + std::to_string(verdict.frames_with_face) +
                      " of " + std::to_string(verdict.frames_sampled) +
                      " frames looked at); record in good light with your face centred, facing the camera at the start";
    return verdict;
  }
  if (verdict.frames_with_several >= std::max(2, frontal_frames / 4)) {
    verdict.code = "recording_several_faces";
    verdict.message = "more than one face is in the recording (in " + std::to_string(verdict.frames_with_several) + " of " +
                      std::to_string(frontal_frames) + " frames with a face); record yourself alone";
    return verdict;
  }

  // The same face throughout: neighbouring detections look alike and do not jump.
  const Sample* previous = nullptr;
  cv::Mat previous_hist;
  for (const auto& s : faces) {
    if (!s.face) continue;
    cv::Mat hist = face_histogram(video, s.t, *s.face);
    if (previous) {
      const double similarity = cv::compareHist(previous_hist, hist, cv::HISTCMP_CORREL);
      verdict.min_similarity = std::min(verdict.min_similarity, similarity);
      const cv::Point2d a(previous->face->x + previous->face->width / 2.0, previous->face->y + previous->face->height / 2.0);
      const cv::Point2d b(s.face->x + s.face->width / 2.0, s.face->y + s.face->height / 2.0);
      const double jump = cv::norm(a - b) / std::max(previous->face->width, s.face->width);
      if (similarity < kSameFace || jump > kJump) {
        verdict.code = "recording_face_changed";
        verdict.message = "the face in the recording changes part way through; record one person, continuously";
        return verdict;
      }
    }
    previous = &s;
    previous_hist = hist;
  }

  // The turn: how far the face goes from where it started, in the asked direction (person's own
  // left = image right in an unmirrored recording) and the opposite one. Two samples must agree.
  const cv::Rect& ref = *start->face;
  const double ref_x = ref.x + ref.width / 2.0, ref_y = ref.y + ref.height / 2.0;
  std::vector<double> along, against;
  for (const auto& s : faces) {
    if (!s.face || s.t <= start->t) continue;
    const double dx = (s.face->x + s.face->width / 2.0 - ref_x) / ref.width;
    const double dy = (s.face->y + s.face->height / 2.0 - ref_y) / ref.height;
    double move = 0;
    switch (turn) {
      case HeadTurn::left: move = dx; break;
      case HeadTurn::right: move = -dx; break;
      case HeadTurn::up: move = -dy; break;
      case HeadTurn::down: move = dy; break;
    }
    along.push_back(std::max(0.0, move));
    against.push_back(std::max(0.0, -move));
  }
  auto second_largest = [](std::vector<double> v) {
    if (v.size() < 2) return 0.0;
    std::nth_element(v.begin(), v.begin() + 1, v.end(), std::greater<>());
    return v[1];
  };
  verdict.turn = second_largest(along);
  verdict.opposite = second_largest(against);
  if (verdict.turn < kTurnNeeded || verdict.opposite > verdict.turn) {
    verdict.code = "recording_no_head_turn";
    verdict.message = std::string("the head does not turn ") + (turn == HeadTurn::up || turn == HeadTurn::down ? "" : "to the ") +
                      name(turn) + " as the challenge asked (the face moved " + percent(verdict.turn) +
                      " of its size that way, " + percent(verdict.opposite) +
                      " the other way); start facing the camera, then turn slowly";
    return verdict;
  }
  return verdict;
}

}  // namespace opsis::cameo
