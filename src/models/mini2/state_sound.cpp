#include "models/mini2/state_sound.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <string_view>

#include "models/mini2/state_flow.hpp"

namespace opsis::mini2 {

namespace nn = torch::nn;

namespace {

constexpr std::array<std::string_view, 5> kMaterials{"rubber", "wood", "latex", "feather", "metal"};
constexpr float kPi = 3.14159265f;

struct DilatedBlockImpl : nn::Module {
  DilatedBlockImpl(int width, int dilation)
      : conv(register_module("conv", nn::Conv1d(nn::Conv1dOptions(width, width, 5).padding(2 * dilation).dilation(dilation)))),
        mix(register_module("mix", nn::Conv1d(nn::Conv1dOptions(width, width, 1)))) {}
  torch::Tensor forward(const torch::Tensor& x) { return x + mix->forward(torch::silu(conv->forward(torch::silu(x)))); }
  nn::Conv1d conv, mix;
};
TORCH_MODULE(DilatedBlock);

}  // namespace

std::vector<float> sound_features(const studio::SceneSpec& spec, const std::vector<studio::FrameState>& frames,
                                  const std::vector<studio::Event>& impacts, int fps) {
  const size_t n = frames.size();
  std::vector<float> f(n * kSoundFeatureDims, 0.0f);
  const double dt = 1.0 / fps;
  const int objects = int(spec.objects.size()), characters = int(spec.characters.size());
  for (size_t i = 0; i < n; ++i) {
    float* v = f.data() + i * kSoundFeatureDims;
    const double time = double(i) * dt;
    v[size_t(spec.setting)] = 1, v[8 + size_t(spec.time_of_day)] = 1, v[11 + size_t(spec.weather)] = 1;
    auto speed = [&](int e, bool horizontal) {
      const size_t a = i > 0 ? i - 1 : i, b = std::min(n - 1, i + 1);
      if (a == b) return 0.0f;
      const auto &p = frames[a].entities[size_t(e)], &q = frames[b].entities[size_t(e)];
      const float d = horizontal ? q.x - p.x : q.y - p.y;
      return std::abs(d) / float(double(b - a) * dt);
    };
    for (int e = 0; e < objects && e < 4; ++e) {
      float* s = v + 13 + e * 14;
      const studio::ObjectSpec& o = spec.objects[size_t(e)];
      const studio::EntityPose& p = frames[i].entities[size_t(e)];
      s[0] = p.present ? 1.0f : 0.0f;
      const std::string material = studio::geometry(o).material;
      for (size_t m = 0; m < kMaterials.size(); ++m) s[1 + m] = material == kMaterials[m] ? 1.0f : 0.0f;
      s[6] = o.size == studio::Size::Large ? 1.0f : 0.0f;
      // The last impact before this frame: an onset impulse and three decays.
      double since = 1e9;
      for (const studio::Event& ev : impacts)
        if (ev.entity == e && ev.time <= time + 0.5 * dt) since = std::min(since, time - ev.time);
      if (since < 1e8) {
        s[7] = std::abs(since) < 0.5 * dt ? 1.0f : 0.0f;
        const double t = std::max(0.0, since);
        s[8] = float(std::exp(-t / 0.02)), s[9] = float(std::exp(-t / 0.06)), s[10] = float(std::exp(-t / 0.2));
      }
      s[11] = p.present && p.y < 0.05f ? std::min(speed(e, true) / 4, 2.0f) : 0.0f;   // rolling, driving
      s[12] = p.present && p.y >= 0.05f ? std::min((speed(e, true) + speed(e, false)) / 4, 2.0f) : 0.0f;  // flying
      // A bird's wing beat: the wings pass the top of their stroke.
      if (o.kind == studio::ObjectKind::Bird && i > 0) {
        const float a = frames[i - 1].entities[size_t(e)].wing_phase, b = p.wing_phase;
        s[13] = std::sin(a) < 0.95f && std::sin(b) >= 0.95f ? 1.0f : 0.0f;
      }
    }
    for (int c = 0; c < characters && c < 2; ++c) {
      float* s = v + 13 + 4 * 14 + c * 4;
      const int e = objects + c;
      const studio::EntityPose& p = frames[i].entities[size_t(e)];
      s[0] = p.present ? 1.0f : 0.0f;
      // A footstep each time the walk phase passes a multiple of pi.
      if (i > 0) {
        const float a = frames[i - 1].entities[size_t(e)].walk_phase, b = p.walk_phase;
        const bool step = std::sin(a) * std::sin(b) < 0 && std::abs(a - b) < kPi;
        s[1] = step ? 1.0f : 0.0f;
      }
      s[2] = i > 0 ? 0.7f * f[(i - 1) * kSoundFeatureDims + size_t(13 + 4 * 14 + c * 4 + 2)] + s[1] : s[1];  // decay
      s[3] = speed(e, true) > 0.2f ? 1.0f : 0.0f;
    }
  }
  return f;
}

SoundNetImpl::SoundNetImpl(int mels, int width) {
  in = register_module("in", nn::Conv1d(nn::Conv1dOptions(kSoundFeatureDims, width, 1)));
  blocks = register_module("blocks", nn::ModuleList());
  for (int dilation : {1, 2, 4, 8, 1, 2}) blocks->push_back(DilatedBlock(width, dilation));
  out = register_module("out", nn::Conv1d(nn::Conv1dOptions(width, mels, 1)));
}

torch::Tensor SoundNetImpl::forward(const torch::Tensor& features) {
  auto x = in->forward(features.transpose(1, 2));
  for (const auto& block : *blocks) x = block->as<DilatedBlock>()->forward(x);
  return out->forward(torch::silu(x)).transpose(1, 2);
}

}  // namespace opsis::mini2
