#include "eval/impact_net.hpp"

#include <algorithm>
#include <cmath>

namespace opsis::eval {
namespace nn = torch::nn;

std::vector<float> impact_profile(const Video& video) {
  const int frames = video.frame_count(), w = video.width, h = video.height;
  std::vector<float> out(size_t(2) * kImpactBands * size_t(std::max(frames, 0)), 0.0f);
  auto at = [&](int channel, int band, int t) -> float& {
    return out[(size_t(channel) * kImpactBands + size_t(band)) * size_t(frames) + size_t(t)];
  };
  std::vector<double> changed(kImpactBands), amount(kImpactBands), pixels(kImpactBands);
  for (int y = 0; y < h; ++y) pixels[size_t(std::min(kImpactBands - 1, y * kImpactBands / h))] += w;
  for (int t = 1; t < frames; ++t) {
    std::fill(changed.begin(), changed.end(), 0.0);
    std::fill(amount.begin(), amount.end(), 0.0);
    const uint8_t* a = video.frame(t - 1);
    const uint8_t* b = video.frame(t);
    for (int y = 0; y < h; ++y) {
      const size_t band = size_t(std::min(kImpactBands - 1, y * kImpactBands / h));
      for (int x = 0; x < w; ++x) {
        const size_t i = (size_t(y) * size_t(w) + size_t(x)) * 3;
        const float d = std::abs(0.299f * (b[i] - a[i]) + 0.587f * (b[i + 1] - a[i + 1]) + 0.114f * (b[i + 2] - a[i + 2]));
        changed[band] += d > 12;
        amount[band] += d;
      }
    }
    for (int band = 0; band < kImpactBands; ++band) {
      const double n = std::max(1.0, pixels[size_t(band)]);
      at(0, band, t) = float(std::sqrt(changed[size_t(band)] / n));
      at(1, band, t) = float(amount[size_t(band)] / n / 32.0);
    }
  }
  return out;
}

ImpactNetImpl::ImpactNetImpl() {
  nn::Sequential b;
  b->push_back(nn::Conv2d(nn::Conv2dOptions(2, 16, {3, 5}).padding({1, 2})));
  b->push_back(nn::ReLU());
  b->push_back(nn::Conv2d(nn::Conv2dOptions(16, 16, {3, 5}).stride({2, 1}).padding({1, 2})));
  b->push_back(nn::ReLU());
  b->push_back(nn::Conv2d(nn::Conv2dOptions(16, 32, {3, 3}).stride({2, 1}).padding({1, 1})));
  b->push_back(nn::ReLU());
  body = register_module("body", b);
  nn::Sequential hd;
  hd->push_back(nn::Conv1d(nn::Conv1dOptions(32, 32, 5).padding(2)));
  hd->push_back(nn::ReLU());
  hd->push_back(nn::Conv1d(nn::Conv1dOptions(32, 1, 1)));
  head = register_module("head", hd);
}

torch::Tensor ImpactNetImpl::forward(torch::Tensor x) {
  auto z = body->forward(x).amax(2);  // over the bands: [n][32][T]
  return head->forward(z).squeeze(1);
}

std::vector<double> impact_peaks(const std::vector<float>& logits, double fps) {
  const int n = int(logits.size());
  std::vector<double> p(static_cast<size_t>(n));
  for (int t = 0; t < n; ++t) p[size_t(t)] = 1 / (1 + std::exp(-double(logits[size_t(t)])));
  std::vector<int> peaks;
  for (int t = 0; t < n; ++t) {
    if (p[size_t(t)] < 0.5) continue;
    bool top = true;
    for (int k = -2; k <= 2 && top; ++k) {
      const int u = t + k;
      if (k == 0 || u < 0 || u >= n) continue;
      if (p[size_t(u)] > p[size_t(t)] || (p[size_t(u)] == p[size_t(t)] && u < t)) top = false;
    }
    if (top && (peaks.empty() || t - peaks.back() >= 3)) peaks.push_back(t);
  }
  std::vector<double> times;
  for (int t : peaks) {
    const double before = t > 0 ? p[size_t(t - 1)] : 0, after = t + 1 < n ? p[size_t(t + 1)] : 0;
    const double offset = std::clamp((after - before) / (before + p[size_t(t)] + after), -0.5, 0.5);
    times.push_back((t + offset) / fps);
  }
  return times;
}

std::vector<double> truth_impacts(const studio::Clip& clip, double fps) {
  std::vector<double> truth;
  for (const auto& e : clip.truth.events) {
    if (e.kind != studio::EventKind::Impact || e.other != -1 || e.speed < 1.0f) continue;
    const int t = std::clamp(int(std::lround(e.time * fps)), 0, int(clip.truth.frames.size()) - 1);
    const auto& entities = clip.truth.frames[size_t(t)].entities;
    if (e.entity < 0 || e.entity >= int(entities.size()) || !entities[size_t(e.entity)].visible) continue;
    truth.push_back(e.time);
  }
  return truth;
}

}  // namespace opsis::eval
