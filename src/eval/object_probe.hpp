#pragma once
// The object reader of `opsis eval`: where the scene's main object is, what it is and how it
// and the camera move, read from pixels in two stages that cannot take shortcuts through the
// setting (the whole-clip scene CNN learned "desert, so dolly zoom" and failed on held-out
// combinations):
//  1. ObjectMapNet, a small fully convolutional net over one frame and its change: per 4x4
//     pixel cell, is it the object, and the object's kind, colour and size there. Its view is
//     ~31 px wide, so it reads the thing, not the place.
//  2. Geometry per frame: the object's track (centroid, area, spin) from that map and the
//     camera's own motion (block matching on the background, fitted to a pan, tilt, zoom and
//     a parallax term); MotionNet, an MLP over 16 steps of these numbers, names the object's
//     motion, its size and the camera move.
// Both are trained by train/train_probes.cpp (--parts object) on studio clips with truth.
#include <torch/torch.h>

#include <array>
#include <vector>

#include "core/av.hpp"
#include "eval/features.hpp"

namespace opsis::eval {

// The reader's frames: 12 per second, resampled by time, at 128x72 (any size is resampled).
inline constexpr int kObjectFps = 12;
struct ObjectFrames {
  int count = 0;
  std::vector<uint8_t> rgb;  // [count][72][128][3]
  const uint8_t* frame(int t) const;
};
ObjectFrames object_frames(const Video& video);

// Per-cell map: 128x72 pixels in 32x18 cells of 4x4.
inline constexpr int kMapWidth = 32, kMapHeight = 18, kMapCell = 4;
inline constexpr int kKinds = 5, kColors = 8, kSizes = 2;
inline constexpr int kMapChannels = 1 + kKinds + kColors + kSizes;  // objectness, kind, colour, size

// Input of one frame t: [4][72][128] (RGB - 0.5, grey change to frame t+1 x 4; the last frame
// looks back to t-1), written into `out` (4*72*128 floats).
void object_map_input(const ObjectFrames& frames, int t, float* out);

struct ObjectMapNetImpl : torch::nn::Module {
  ObjectMapNetImpl();
  torch::Tensor forward(torch::Tensor x);  // [n][4][72][128] -> [n][16][18][32] logits
  torch::nn::Sequential body{nullptr};
  torch::nn::Conv2d head{nullptr};
};
TORCH_MODULE(ObjectMapNet);

// The camera's motion from frame a to frame b (grey levels 0-255, 128x72): a translation in
// pixels per frame, a zoom (relative scale change per frame, x100), and the translation of
// the upper and lower halves apart (parallax: near ground moves more than far things in an
// orbit). Cells where `objectness` (32x18, may be null) is high are left out.
struct CameraStep {
  float tx = 0, ty = 0, zoom = 0, tx_top = 0, tx_bottom = 0, confidence = 0;
};
CameraStep camera_step(const uint8_t* grey_a, const uint8_t* grey_b, const float* objectness);

// 16 steps across the clip, 13 numbers each (see object_probe.cpp).
inline constexpr int kTrackSteps = 16, kTrackFeatures = 13;

struct MotionNetImpl : torch::nn::Module {
  MotionNetImpl();
  // [n][16*13] raw features -> logits {motion [n][9], camera [n][10], size [n][2]}
  std::vector<torch::Tensor> forward(torch::Tensor features);
  torch::Tensor feature_mean, feature_scale;  // set from the training set (saved)
  torch::nn::Linear fc1{nullptr}, fc2{nullptr}, motion{nullptr}, camera{nullptr}, size{nullptr};
};
TORCH_MODULE(MotionNet);

// What the map saw in a clip: kind/colour/size votes summed over object cells and frames,
// and the track features for MotionNet.
struct ObjectTrack {
  std::array<float, kKinds> kind_votes{};
  std::array<float, kColors> color_votes{};
  std::array<float, kSizes> size_votes{};
  float object_mass = 0;              // mean objectness summed over cells per frame
  std::vector<float> features;         // [16*13]
};
// Runs the map net over every frame (in batches).
ObjectTrack track_object(ObjectMapNetImpl& map_net, const ObjectFrames& frames);

// Truth for training the map: per cell 1 inside the object's box of that frame.
std::vector<float> cell_targets(const Box& box, int frame_width, int frame_height);

}  // namespace opsis::eval
