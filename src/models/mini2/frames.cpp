#include "models/mini2/frames.hpp"

namespace opsis::mini2 {

torch::Tensor frames_tensor(const Video& video, int first, int count, int pad_h, int pad_w) {
  TORCH_CHECK(video.frame_count() > 0 && pad_h >= video.height && pad_w >= video.width, "frames_tensor: bad sizes");
  std::vector<torch::Tensor> out;
  out.reserve(size_t(count));
  for (int f = 0; f < count; ++f) {
    const int source = std::min(first + f, video.frame_count() - 1);
    auto bytes = torch::from_blob(const_cast<uint8_t*>(video.frame(source)), {video.height, video.width, 3}, torch::kUInt8);
    auto unit = bytes.to(torch::kFloat32).div(127.5).sub(1.0).permute({2, 0, 1}).unsqueeze(0);
    unit = torch::replication_pad2d(unit, {0, pad_w - video.width, 0, pad_h - video.height});
    out.push_back(unit.squeeze(0).permute({1, 2, 0}));
  }
  return torch::stack(out).contiguous();
}

Video tensor_video(const torch::Tensor& frames, int width, int height, int fps) {
  auto bytes = frames.narrow(1, 0, height).narrow(2, 0, width).detach().to(torch::kCPU, torch::kFloat32)
                   .add(1.0).mul(127.5).round().clamp(0, 255).to(torch::kUInt8).contiguous();
  Video video;
  video.width = width;
  video.height = height;
  video.fps_num = fps;
  video.fps_den = 1;
  video.rgb.assign(bytes.data_ptr<uint8_t>(), bytes.data_ptr<uint8_t>() + bytes.numel());
  return video;
}

torch::Tensor pcm_tensor(const Audio& audio, int64_t first, int64_t count) {
  auto out = torch::zeros({count});
  auto acc = out.accessor<float, 1>();
  const int64_t channels = std::max(1, audio.channels), frames = int64_t(audio.frame_count());
  for (int64_t i = 0; i < count && first + i < frames; ++i)
    if (first + i >= 0) acc[i] = audio.samples[size_t((first + i) * channels)];
  return out;
}

}  // namespace opsis::mini2
