#pragma once
// Simple, hand-made features of a clip's frames for the evaluation probes: colour
// histograms of the whole frame and of the moving region, the foreground's centroid
// trajectory, and the camera's global shift and zoom between frames.
#include <vector>

#include "core/av.hpp"

namespace opsis::eval {

// A fixed-length feature vector (kFeatureCount values) of any clip with at least 3 frames.
// Throws opsis::InvalidArgument("video", ...) for fewer.
std::vector<float> clip_features(const Video& video);

inline constexpr int kFeatureCount = 64 + 12 + 64 + 17 + 6 + 12;

}  // namespace opsis::eval
