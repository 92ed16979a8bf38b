#pragma once
// Simple, hand-made features of a clip's frames for the evaluation probes: colour
// histograms of the whole frame and of the moving region, the foreground's centroid
// trajectory, and the camera's global shift and zoom between frames; a character's colours
// inside its box; and the sync detectors (visual impacts, sound onsets, mouth openness,
// speech energy) with the correlation they are compared by.
#include <vector>

#include "core/av.hpp"

namespace opsis::eval {

// A fixed-length feature vector (kFeatureCount values) of any clip with at least 3 frames.
// Throws opsis::InvalidArgument("video", ...) for fewer.
std::vector<float> clip_features(const Video& video);

inline constexpr int kFeatureCount = 64 + 12 + 64 + 17 + 6 + 12;

// A screen box in pixels (x0, y0) inclusive to (x1, y1) exclusive; empty when x1 <= x0.
struct Box {
  float x0 = 0, y0 = 0, x1 = 0, y1 = 0;
  bool empty() const { return x1 - x0 < 1 || y1 - y0 < 1; }
};

// Colour of a character, read inside its box per frame (boxes: one per frame, empty where it
// is not seen): for 5 horizontal bands (hair, face, shirt, legs...) a 64-bin colour histogram
// and the mean RGB, averaged over the frames where the box is seen. kRegionFeatureCount values.
inline constexpr int kRegionFeatureCount = 5 * (64 + 3);
std::vector<float> region_features(const Video& video, const std::vector<Box>& boxes);

// Visual impacts of a static-camera clip, from the pixels alone: the vertical centroid of
// what changed between frames t - 1 and t + 1 comes down steadily and then turns back up or
// stops changing (a floor contact); the time is refined between frames by a parabola. Made
// for one falling or bouncing object; validated against the studio truth by `opsis eval`.
// Returns seconds.
std::vector<double> visual_impacts(const Video& video);

// Sound onsets from the waveform: 10 ms windows every 5 ms of the pre-emphasised signal
// (first channel); an onset where the energy rises 6 dB or more above the least of the
// 30 ms before, within 45 dB of the clip's loudest window, at most one per 80 ms. Seconds.
std::vector<double> sound_onsets(const Audio& audio);

// Share of `times` with an entry of `references` within `tolerance` seconds (0 if empty).
double share_matched(const std::vector<double>& times, const std::vector<double>& references, double tolerance);

// Mouth openness per frame: inside each frame's box (the talking character's box in a
// close-up), the deep-red pixels count 1 and the others by how dark they are (1 at luma 30,
// 0 at 70 and above): an open mouth shows its dark inside and tongue, and a blurred one
// still counts. Hair and clothes add a constant. 0 where the box is empty.
std::vector<double> mouth_openness(const Video& video, const std::vector<Box>& boxes);

// RMS of the first channel over each video frame's span.
std::vector<double> frame_energy(const Audio& audio, int frames, double fps);

// Pearson correlation of x[t] with y[t + lag] over the overlap (0 when either is constant).
double correlation_at_lag(const std::vector<double>& x, const std::vector<double>& y, int lag);

}  // namespace opsis::eval
