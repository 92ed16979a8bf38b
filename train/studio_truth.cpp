#include "train/studio_truth.hpp"

#include <cmath>

#include "models/mini2/video_autoencoder.hpp"

namespace opsis::train {

namespace {
struct PixelBox {
  int x0, y0, x1, y1;
};
PixelBox clip_box(const studio::EntityTruth& e, int pad_h, int pad_w) {
  return {std::max(0, int(std::floor(e.x0))), std::max(0, int(std::floor(e.y0))), std::min(pad_w, int(std::ceil(e.x1))),
          std::min(pad_h, int(std::ceil(e.y1)))};
}
}  // namespace

torch::Tensor box_weight_map(const studio::SceneSpec& spec, const studio::FrameTruth& truth, int pad_h, int pad_w,
                             double object_weight) {
  auto weight = torch::ones({pad_h, pad_w});
  for (const auto& e : truth.entities) {
    if (!e.visible) continue;
    const PixelBox b = clip_box(e, pad_h, pad_w);
    if (b.x1 > b.x0 && b.y1 > b.y0) weight.slice(0, b.y0, b.y1).slice(1, b.x0, b.x1).fill_(1.0 + object_weight);
  }
  (void)spec;
  return weight;
}

torch::Tensor cell_classes(const studio::SceneSpec& spec, const studio::FrameTruth& truth, int pad_h, int pad_w) {
  const int h = pad_h / 16, w = pad_w / 16;
  auto cover = torch::zeros({mini2::kCellClasses, h, w});  // pixels of each class in each cell
  auto ca = cover.accessor<float, 3>();
  for (const auto& e : truth.entities) {
    if (!e.visible) continue;
    const bool is_object = size_t(e.entity) < spec.objects.size();
    const int cls = is_object ? 1 + int(spec.objects[size_t(e.entity)].color) : mini2::kCellClasses - 1;
    const PixelBox b = clip_box(e, pad_h, pad_w);
    for (int cy = b.y0 / 16; cy * 16 < b.y1 && cy < h; ++cy)
      for (int cx = b.x0 / 16; cx * 16 < b.x1 && cx < w; ++cx) {
        const int ox = std::min(b.x1, cx * 16 + 16) - std::max(b.x0, cx * 16);
        const int oy = std::min(b.y1, cy * 16 + 16) - std::max(b.y0, cy * 16);
        if (ox > 0 && oy > 0) ca[cls][cy][cx] += float(ox * oy);
      }
    // A small thing (a 4-pixel ball in a wide shot) covers no cell much: its centre's cell is
    // still its own.
    const int cx = std::clamp(int((e.x0 + e.x1) / 2) / 16, 0, w - 1), cy = std::clamp(int((e.y0 + e.y1) / 2) / 16, 0, h - 1);
    ca[cls][cy][cx] += 256;
  }
  auto [area, index] = cover.max(0);
  return torch::where(area >= 32, index, torch::zeros_like(index));
}

Image identity_portrait(const studio::CharacterSpec& character, int size, uint64_t seed) {
  studio::SceneSpec spec;
  spec.setting = studio::Setting::LivingRoom;
  studio::CharacterSpec still = character;
  still.action = studio::Action::Stands;
  still.line.clear();
  spec.characters.push_back(still);
  spec.shots[0].framing = studio::Framing::CloseUp;
  spec.shots[0].seconds = 0.25;
  return studio::render_clip(spec, {size, size, 24, 16000, seed, false}).video.frame_image(0);
}

torch::Tensor camera_motion(const studio::CameraPose& a, const studio::CameraPose& b) {
  return torch::tensor({float(b.yaw - a.yaw) * 10.f, float(b.pitch - a.pitch) * 10.f,
                        float(std::log(std::max(1e-3f, b.focal)) - std::log(std::max(1e-3f, a.focal))) * 10.f,
                        float(b.x - a.x) * 2.f, float(b.z - a.z) * 2.f});
}

}  // namespace opsis::train
