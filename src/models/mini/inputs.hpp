#pragma once
// Plain pictures, sound and requests -> the model's tensors (shared by the backend and the
// trainer, so both feed the model exactly the same way).
#include <optional>
#include <string>
#include <vector>

#include "core/av.hpp"
#include "engine/backend.hpp"
#include "models/mini/model.hpp"

namespace opsis::mini {

// [height, width, 3] uint8 -> [padded(h), padded(w), 3] float in [-1, 1]; padding is 0.
torch::Tensor image_tensor(const Image& image, const MiniConfig& config);
// Any size -> [S, S, 3] float in [-1, 1] (area-resampled; aspect not kept).
torch::Tensor identity_tensor(const Image& image, const MiniConfig& config);
// Frames [0, frames) of the video (the last frame repeated if the video is shorter) ->
// [frames, padded(h), padded(w), 3].
torch::Tensor video_tensor(const Video& video, int frames, const MiniConfig& config);
// Mono samples (first channel), zero-padded or cut to `samples`, times audio_scale -> [samples].
torch::Tensor audio_tensor(const Audio& audio, int64_t samples, const MiniConfig& config);

struct ConditionRow {
  std::string text;
  std::optional<Image> first_frame;  // already width x height
  std::optional<Image> identity;
  std::vector<engine::PhonemeCue> phonemes;  // on the window's clock
  double time_offset = 0;  // the window's first frame on the clip's clock, seconds
};

// Batch of rows for frames of padded size (pad_h, pad_w).
ConditionInputs condition_inputs(const std::vector<ConditionRow>& rows, int pad_h, int pad_w,
                                 const MiniConfig& config);

ConditionInputs to_device(const ConditionInputs& inputs, const torch::Device& device);

}  // namespace opsis::mini
