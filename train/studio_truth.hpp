#pragma once
// What the trainers read from the studio's ground truth, per frame, per latent cell or per
// sound token: the supervision that costs nothing because the world knows it.
#include <torch/torch.h>

#include "studio/studio.hpp"

namespace opsis::train {

// Per pixel: 1 outside, 1 + object_weight inside the truth box of a visible object or
// character. [pad_h, pad_w].
torch::Tensor box_weight_map(const studio::SceneSpec& spec, const studio::FrameTruth& truth, int pad_h, int pad_w,
                             double object_weight);
// Per 16x16 cell: 0 nothing, 1 + colour of the object covering most of it, 9 a character (the
// entity must cover at least 1/8 of the cell, or have its box centre in it).
// [pad_h / 16, pad_w / 16] int64.
torch::Tensor cell_classes(const studio::SceneSpec& spec, const studio::FrameTruth& truth, int pad_h, int pad_w);
// A close-up portrait of the character standing in the living room (the identity reference
// the models are conditioned on), size x size.
Image identity_portrait(const studio::CharacterSpec& character, int size, uint64_t seed);
// The camera's motion between two frames, scaled to about unit size: yaw, pitch (radians x 10),
// log focal length x 10, x and z position (metres x 2). [5].
torch::Tensor camera_motion(const studio::CameraPose& from, const studio::CameraPose& to);

}  // namespace opsis::train
