#include "eval/object_probe.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.hpp"
#include "eval/probe_net.hpp"

namespace opsis::eval {
namespace {
namespace nn = torch::nn;
constexpr int kW = kNetWidth, kH = kNetHeight;

nn::Sequential conv_block(nn::Sequential s, int in, int out, int stride, int dilation) {
  s->push_back(nn::Conv2d(nn::Conv2dOptions(in, out, 3).stride(stride).padding(dilation).dilation(dilation).bias(false)));
  s->push_back(nn::BatchNorm2d(out));
  s->push_back(nn::ReLU());
  return s;
}

float grey_of(const uint8_t* p) { return 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2]; }

std::vector<uint8_t> grey_frame(const uint8_t* rgb) {
  std::vector<uint8_t> g(size_t(kW) * kH);
  for (size_t i = 0; i < g.size(); ++i) g[i] = uint8_t(std::lround(grey_of(rgb + 3 * i)));
  return g;
}

}  // namespace

const uint8_t* ObjectFrames::frame(int t) const { return rgb.data() + size_t(t) * kW * kH * 3; }

ObjectFrames object_frames(const Video& video) {
  const int source = video.frame_count();
  if (source < 2 || video.width < 16 || video.height < 16)
    throw InvalidArgument("video", "the object reader needs at least 2 frames of at least 16x16 pixels");
  ObjectFrames out;
  out.count = std::max(2, int(std::floor(video.seconds() * kObjectFps + 1e-6)));
  out.rgb.reserve(size_t(out.count) * kW * kH * 3);
  for (int t = 0; t < out.count; ++t) {
    const int i = std::clamp(int(std::lround(t * video.fps() / kObjectFps)), 0, source - 1);
    resample_rgb(video, i, 0, 0, video.width, video.height, kW, kH, out.rgb);
  }
  return out;
}

void object_map_input(const ObjectFrames& frames, int t, float* out) {
  const int u = t + 1 < frames.count ? t + 1 : std::max(0, t - 1);
  const uint8_t* a = frames.frame(t);
  const uint8_t* b = frames.frame(u);
  const float sign = u > t ? 1.0f : -1.0f;
  const size_t plane = size_t(kW) * kH;
  for (size_t i = 0; i < plane; ++i) {
    for (int c = 0; c < 3; ++c) out[size_t(c) * plane + i] = a[3 * i + size_t(c)] / 255.0f - 0.5f;
    out[3 * plane + i] = sign * (grey_of(b + 3 * i) - grey_of(a + 3 * i)) / 255.0f * 4.0f;
  }
}

ObjectMapNetImpl::ObjectMapNetImpl() {
  nn::Sequential s;
  s = conv_block(s, 4, 32, 2, 1);   // 64x36
  s = conv_block(s, 32, 48, 2, 1);  // 32x18
  s = conv_block(s, 48, 48, 1, 2);  // dilated: a view of ~23 px
  s = conv_block(s, 48, 48, 1, 1);  // ~31 px
  body = register_module("body", s);
  head = register_module("head", nn::Conv2d(nn::Conv2dOptions(48, kMapChannels, 1)));
}

torch::Tensor ObjectMapNetImpl::forward(torch::Tensor x) { return head->forward(body->forward(x)); }

CameraStep camera_step(const uint8_t* a, const uint8_t* b, const float* objectness) {
  // 8x4 blocks of 14 px, kept 8 px from the edges so that every displacement within reach
  // (+-6 px per frame) can be tried for every block.
  constexpr int kBlock = 14, kReach = 6, kColumns = 8, kRows = 4;
  constexpr int kLeft = (kW - kColumns * kBlock) / 2, kTop = (kH - kRows * kBlock) / 2;
  struct Match {
    double x, y, dx, dy, weight;
    int row;
  };
  std::vector<Match> matches;
  for (int row = 0; row < kRows; ++row)
    for (int column = 0; column < kColumns; ++column) {
      const int x0 = kLeft + column * kBlock, y0 = kTop + row * kBlock;
      // Leave out blocks the object covers: they move with it, not with the camera.
      if (objectness) {
        float most = 0;
        for (int cy = y0 / kMapCell; cy < std::min(kMapHeight, (y0 + kBlock + kMapCell - 1) / kMapCell); ++cy)
          for (int cx = x0 / kMapCell; cx < (x0 + kBlock) / kMapCell; ++cx) most = std::max(most, objectness[cy * kMapWidth + cx]);
        if (most > 0.3f) continue;
      }
      double texture = 0;
      for (int y = y0; y < y0 + kBlock; ++y)
        for (int x = x0; x < x0 + kBlock; ++x) {
          const int v = a[y * kW + x];
          if (x + 1 < kW) texture += std::abs(a[y * kW + x + 1] - v);
          if (y + 1 < kH) texture += std::abs(a[(y + 1) * kW + x] - v);
        }
      texture /= kBlock * kBlock;
      if (texture < 1.5) continue;  // flat sky or snow: no evidence of motion
      constexpr int kSide = 2 * kReach + 1;
      std::array<double, kSide * kSide> sad;
      sad.fill(std::numeric_limits<double>::infinity());
      int best = -1;
      for (int dy = -kReach; dy <= kReach; ++dy)
        for (int dx = -kReach; dx <= kReach; ++dx) {
          if (x0 + dx < 0 || x0 + dx + kBlock > kW || y0 + dy < 0 || y0 + dy + kBlock > kH) continue;
          int sum = 0;
          for (int y = 0; y < kBlock; ++y) {
            const uint8_t* pa = a + (y0 + y) * kW + x0;
            const uint8_t* pb = b + (y0 + y + dy) * kW + x0 + dx;
            for (int x = 0; x < kBlock; ++x) sum += std::abs(int(pa[x]) - int(pb[x]));
          }
          const int k = (dy + kReach) * kSide + dx + kReach;
          sad[size_t(k)] = sum;
          if (best < 0 || sum < sad[size_t(best)]) best = k;
        }
      if (best < 0) continue;
      const int by = best / kSide, bx = best % kSide;
      // Sub-pixel: a parabola through the neighbours where they exist.
      auto refine = [&](int at, int step, int index) {
        if (index <= 0 || index >= kSide - 1) return 0.0;
        const double l = sad[size_t(at - step)], c = sad[size_t(at)], r = sad[size_t(at + step)];
        if (!std::isfinite(l) || !std::isfinite(r)) return 0.0;
        const double curve = l - 2 * c + r;
        return curve > 0 ? std::clamp(0.5 * (l - r) / curve, -0.5, 0.5) : 0.0;
      };
      const double dx = bx - kReach + refine(best, 1, bx), dy = by - kReach + refine(best, kSide, by);
      matches.push_back({(x0 + kBlock / 2.0 - kW / 2.0) / (kW / 2.0), (y0 + kBlock / 2.0 - kH / 2.0) / (kW / 2.0), dx, dy,
                         std::min(texture, 12.0), row});
    }
  CameraStep step;
  // Weighted least squares: dx = tx + s*x, dy = ty + s*y (x, y in half-widths from the centre),
  // fitted twice: the second time without the blocks the first fit explains worst (a moving
  // thing the map missed, a repeated pattern).
  double solution[3] = {0, 0, 0};
  auto fit = [&](const std::vector<Match>& use) {
    double m[3][3] = {}, v[3] = {};
    for (const auto& k : use) {
      const double rows[2][3] = {{1, 0, k.x}, {0, 1, k.y}}, values[2] = {k.dx, k.dy};
      for (int e = 0; e < 2; ++e)
        for (int i = 0; i < 3; ++i) {
          v[i] += k.weight * rows[e][i] * values[e];
          for (int j = 0; j < 3; ++j) m[i][j] += k.weight * rows[e][i] * rows[e][j];
        }
    }
    m[2][2] += 1e-3;  // all blocks on one line: the zoom is unknown, keep it near 0
    auto det3 = [](const double q[3][3]) {
      return q[0][0] * (q[1][1] * q[2][2] - q[1][2] * q[2][1]) - q[0][1] * (q[1][0] * q[2][2] - q[1][2] * q[2][0]) +
             q[0][2] * (q[1][0] * q[2][1] - q[1][1] * q[2][0]);
    };
    const double d = det3(m);
    if (std::abs(d) < 1e-9) return false;
    for (int c = 0; c < 3; ++c) {  // Cramer's rule
      double q[3][3];
      for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j) q[i][j] = j == c ? v[i] : m[i][j];
      solution[c] = det3(q) / d;
    }
    return true;
  };
  if (matches.size() < 3 || !fit(matches)) return step;
  {
    std::vector<Match> kept;
    for (const auto& k : matches)
      if (std::hypot(k.dx - solution[0] - solution[2] * k.x, k.dy - solution[1] - solution[2] * k.y) < 1.5) kept.push_back(k);
    if (kept.size() >= 3 && kept.size() < matches.size() && fit(kept)) matches = std::move(kept);
  }
  step.tx = float(solution[0]);
  step.ty = float(solution[1]);
  step.zoom = float(solution[2] / (kW / 2.0) * 100.0);
  double top = 0, top_w = 0, bottom = 0, bottom_w = 0, total = 0;
  for (const auto& k : matches) {
    const double rest = k.dx - solution[2] * k.x;
    (k.row < kRows / 2 ? top : bottom) += k.weight * rest;
    (k.row < kRows / 2 ? top_w : bottom_w) += k.weight;
    total += k.weight;
  }
  step.tx_top = float(top_w > 0 ? top / top_w : solution[0]);
  step.tx_bottom = float(bottom_w > 0 ? bottom / bottom_w : solution[0]);
  step.confidence = float(total / (kColumns * kRows * 12.0));
  return step;
}

MotionNetImpl::MotionNetImpl() {
  constexpr int in = kTrackSteps * kTrackFeatures;
  feature_mean = register_buffer("feature_mean", torch::zeros({in}));
  feature_scale = register_buffer("feature_scale", torch::ones({in}));
  fc1 = register_module("fc1", nn::Linear(in, 160));
  fc2 = register_module("fc2", nn::Linear(160, 128));
  motion = register_module("motion", nn::Linear(128, 9));
  camera = register_module("camera", nn::Linear(128, 10));
  size = register_module("size", nn::Linear(128, 2));
}

std::vector<torch::Tensor> MotionNetImpl::forward(torch::Tensor features) {
  auto z = (features - feature_mean) * feature_scale;
  z = torch::dropout(torch::relu(fc1->forward(z)), 0.3, is_training());
  z = torch::dropout(torch::relu(fc2->forward(z)), 0.3, is_training());
  return {motion->forward(z), camera->forward(z), size->forward(z)};
}

ObjectTrack track_object(ObjectMapNetImpl& map_net, const ObjectFrames& frames) {
  torch::NoGradGuard no_grad;
  const int n = frames.count, cells = kMapWidth * kMapHeight;
  // Per frame: objectness [cells], P(large) [cells] and the class votes.
  std::vector<float> objectness(size_t(n) * cells), large(size_t(n) * cells);
  ObjectTrack track;
  for (int start = 0; start < n; start += 16) {
    const int count = std::min(16, n - start);
    auto x = torch::empty({count, 4, kH, kW});
    for (int i = 0; i < count; ++i) object_map_input(frames, start + i, x[i].data_ptr<float>());
    auto logits = map_net.forward(x);  // [count][16][18][32]
    auto p = torch::sigmoid(logits.select(1, 0));                                          // [count][18][32]
    auto kinds = torch::softmax(logits.narrow(1, 1, kKinds), 1);                           // [count][5][18][32]
    auto colors = torch::softmax(logits.narrow(1, 1 + kKinds, kColors), 1);
    auto sizes = torch::softmax(logits.narrow(1, 1 + kKinds + kColors, kSizes), 1);
    // Only the peak region of each frame votes: cells at least half as sure as the surest
    // one (and above 0.2); a faint haze over 500 background cells would outvote the object.
    auto peak = std::get<0>(p.flatten(1).max(1)).view({count, 1, 1});
    auto selected = p * (p >= torch::clamp_min(peak * 0.5, 0.2)).to(torch::kFloat32);  // [count][18][32]
    auto weight = selected.unsqueeze(1);
    auto kind_votes = (kinds * weight).sum({0, 2, 3}).contiguous();
    auto color_votes = (colors * weight).sum({0, 2, 3}).contiguous();
    auto size_votes = (sizes * weight).sum({0, 2, 3}).contiguous();
    for (int k = 0; k < kKinds; ++k) track.kind_votes[size_t(k)] += kind_votes.data_ptr<float>()[k];
    for (int k = 0; k < kColors; ++k) track.color_votes[size_t(k)] += color_votes.data_ptr<float>()[k];
    for (int k = 0; k < kSizes; ++k) track.size_votes[size_t(k)] += size_votes.data_ptr<float>()[k];
    auto pc = selected.contiguous();
    auto lc = sizes.select(1, 1).contiguous();
    std::copy(pc.data_ptr<float>(), pc.data_ptr<float>() + size_t(count) * cells, objectness.begin() + long(start) * cells);
    std::copy(lc.data_ptr<float>(), lc.data_ptr<float>() + size_t(count) * cells, large.begin() + long(start) * cells);
  }
  // Per frame geometry.
  struct PerFrame {
    float cx = 0, cy = 0, log_mass = 0, peak = 0, large = 0, spin = 0;
    bool seen = false;
    CameraStep camera;
  };
  std::vector<PerFrame> per(static_cast<size_t>(n));
  std::vector<uint8_t> grey_now = grey_frame(frames.frame(0)), grey_next;
  float last_x = 0, last_y = 0;
  double mass_sum = 0;
  for (int t = 0; t < n; ++t) {
    const float* p = objectness.data() + size_t(t) * cells;
    const int u = t + 1 < n ? t + 1 : t - 1;
    grey_next = grey_frame(frames.frame(u));
    PerFrame& f = per[size_t(t)];
    double mass = 0, sx = 0, sy = 0, sl = 0, spin = 0;
    for (int cy = 0; cy < kMapHeight; ++cy)
      for (int cx = 0; cx < kMapWidth; ++cx) {
        const float w = p[cy * kMapWidth + cx];  // 0 outside the frame's peak region
        f.peak = std::max(f.peak, w);
        if (w <= 0) continue;
        mass += w, sx += w * (cx + 0.5), sy += w * (cy + 0.5), sl += w * large[size_t(t) * cells + size_t(cy * kMapWidth + cx)];
        double change = 0;
        for (int y = cy * kMapCell; y < (cy + 1) * kMapCell; ++y)
          for (int x = cx * kMapCell; x < (cx + 1) * kMapCell; ++x) change += std::abs(grey_next[size_t(y * kW + x)] - grey_now[size_t(y * kW + x)]);
        spin += w * change / (kMapCell * kMapCell * 255.0);
      }
    mass_sum += mass;
    f.seen = mass > 0.3;
    if (f.seen) {
      last_x = float(sx / mass / kMapWidth * 2 - 1);
      last_y = float(sy / mass / kMapHeight * 2 - 1);
      f.large = float(sl / mass);
      f.spin = float(spin / mass * 10);
    }
    f.cx = last_x, f.cy = last_y;
    f.log_mass = float(std::log(mass / cells + 1e-3));
    f.camera = u > t ? camera_step(grey_now.data(), grey_next.data(), p) : per[size_t(std::max(0, t - 1))].camera;
    grey_now.swap(grey_next);
  }
  track.object_mass = float(mass_sum / n);
  // 16 steps: the mean of each quantity over the frames of that step.
  track.features.assign(size_t(kTrackSteps) * kTrackFeatures, 0.0f);
  for (int s = 0; s < kTrackSteps; ++s) {
    const int from = s * n / kTrackSteps, to = std::max(from + 1, (s + 1) * n / kTrackSteps);
    float* out = track.features.data() + size_t(s) * kTrackFeatures;
    int k = 0;
    for (int t = from; t < std::min(to, n); ++t, ++k) {
      const PerFrame& f = per[size_t(t)];
      const PerFrame& next = per[size_t(std::min(n - 1, t + 1))];
      const bool moving = f.seen && next.seen && t + 1 < n;
      const float values[kTrackFeatures] = {f.cx, f.cy, f.log_mass, f.peak, f.large,
                                            f.camera.tx, f.camera.ty, f.camera.zoom, f.camera.tx_top, f.camera.tx_bottom,
                                            moving ? (next.cx - f.cx) * 10 : 0.0f, moving ? (next.cy - f.cy) * 10 : 0.0f, f.spin};
      for (int i = 0; i < kTrackFeatures; ++i) out[i] += values[i];
    }
    for (int i = 0; i < kTrackFeatures; ++i) out[i] /= float(std::max(1, k));
  }
  return track;
}

std::vector<float> cell_targets(const Box& box, int frame_width, int frame_height) {
  std::vector<float> out(size_t(kMapWidth) * kMapHeight, 0.0f);
  if (box.empty()) return out;
  const double sx = double(kW) / frame_width, sy = double(kH) / frame_height;
  for (int cy = 0; cy < kMapHeight; ++cy)
    for (int cx = 0; cx < kMapWidth; ++cx) {
      // A cell is the object's when its centre is inside the box, or the box is inside the cell
      // (a far, tiny object still owns one cell).
      const double x = (cx + 0.5) * kMapCell, y = (cy + 0.5) * kMapCell;
      const double x0 = box.x0 * sx, x1 = box.x1 * sx, y0 = box.y0 * sy, y1 = box.y1 * sy;
      const bool centre_inside = x >= x0 && x < x1 && y >= y0 && y < y1;
      const double mx = (x0 + x1) / 2, my = (y0 + y1) / 2;
      const bool holds_middle = mx >= cx * kMapCell && mx < (cx + 1) * kMapCell && my >= cy * kMapCell && my < (cy + 1) * kMapCell;
      if (centre_inside || holds_middle) out[size_t(cy * kMapWidth + cx)] = 1.0f;
    }
  return out;
}

}  // namespace opsis::eval
