#pragma once
// Plain pictures and sound <-> opsis-mini 2's tensors (shared by the backend and the trainers,
// so both feed the networks exactly the same way).
#include <torch/torch.h>

#include "core/av.hpp"

namespace opsis::mini2 {

// Frames [first, first + count) of the video (the last frame repeated past its end) ->
// [count, pad_h, pad_w, 3] float in [-1, 1]; the padding (bottom, right) repeats the edge.
torch::Tensor frames_tensor(const Video& video, int first, int count, int pad_h, int pad_w);
// [F, pad_h, pad_w, 3] in [-1, 1] -> a Video of width x height (the top-left corner) at fps.
Video tensor_video(const torch::Tensor& frames, int width, int height, int fps);
// Mono (first channel) samples [first, first + count), zero past the end -> [count].
torch::Tensor pcm_tensor(const Audio& audio, int64_t first, int64_t count);

}  // namespace opsis::mini2
