#include "eval/features.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdlib>

#include "core/error.hpp"

namespace opsis::eval {
namespace {

constexpr int kBinsPerChannel = 4;  // 4^3 = 64 colour bins
constexpr int kGap = 3;             // frames between the two images of a motion estimate

int colour_bin(const uint8_t* rgb) {
  return (rgb[0] * kBinsPerChannel / 256) * kBinsPerChannel * kBinsPerChannel + (rgb[1] * kBinsPerChannel / 256) * kBinsPerChannel +
         rgb[2] * kBinsPerChannel / 256;
}

// Grey image [h][w] at half resolution.
struct Grey {
  int width = 0, height = 0;
  std::vector<float> values;
  float at(int x, int y) const { return values[size_t(y) * size_t(width) + size_t(x)]; }
};

Grey half_grey(const Video& video, int t) {
  Grey g;
  g.width = video.width / 2;
  g.height = video.height / 2;
  g.values.resize(size_t(g.width) * size_t(g.height));
  const uint8_t* frame = video.frame(t);
  for (int y = 0; y < g.height; ++y)
    for (int x = 0; x < g.width; ++x) {
      float sum = 0;
      for (int dy = 0; dy < 2; ++dy)
        for (int dx = 0; dx < 2; ++dx) {
          const uint8_t* p = frame + (size_t(2 * y + dy) * size_t(video.width) + size_t(2 * x + dx)) * 3;
          sum += 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2];
        }
      g.values[size_t(y) * size_t(g.width) + size_t(x)] = sum / 4;
    }
  return g;
}

struct GlobalMotion {
  float dx = 0, dy = 0, zoom = 0;  // pixels per frame at half resolution; zoom: relative scale change per frame
};

// Mean absolute difference between `now` and `before` seen through a camera that moved by
// (dx, dy) and scaled by (1 + zoom) about the centre, over the central part of the frame.
float mismatch(const Grey& before, const Grey& now, int dx, int dy, float zoom) {
  const float cx = now.width / 2.0f, cy = now.height / 2.0f;
  float sum = 0;
  int count = 0;
  const int margin_x = now.width / 8, margin_y = now.height / 8;
  for (int y = margin_y; y < now.height - margin_y; ++y)
    for (int x = margin_x; x < now.width - margin_x; ++x) {
      const int bx = int(std::lround(cx + (x - cx) / (1 + zoom))) + dx;
      const int by = int(std::lround(cy + (y - cy) / (1 + zoom))) + dy;
      if (bx < 0 || by < 0 || bx >= now.width || by >= now.height) continue;
      sum += std::abs(now.at(x, y) - before.at(bx, by));
      ++count;
    }
  return count ? sum / float(count) : 1e9f;
}

GlobalMotion global_motion(const Grey& before, const Grey& now) {
  GlobalMotion best_motion;
  float best = 1e30f;
  for (int dy = -4; dy <= 4; ++dy)
    for (int dx = -6; dx <= 6; ++dx) {
      const float m = mismatch(before, now, dx, dy, 0);
      if (m < best) best = m, best_motion = {float(dx), float(dy), 0};
    }
  for (float zoom : {-0.08f, -0.04f, -0.02f, 0.02f, 0.04f, 0.08f}) {
    const float m = mismatch(before, now, int(best_motion.dx), int(best_motion.dy), zoom);
    if (m < best) best = m, best_motion.zoom = zoom;
  }
  return best_motion;
}

}  // namespace

std::vector<float> clip_features(const Video& video) {
  const int frames = video.frame_count();
  if (frames < 3 || video.width < 16 || video.height < 16)
    throw InvalidArgument("video", "the evaluation features need at least 3 frames of at least 16x16 pixels");
  const int w = video.width, h = video.height;
  std::vector<float> out;
  out.reserve(kFeatureCount);

  // Whole-frame colour histogram (64) and mean colour of 4 horizontal bands (12), over all frames.
  std::array<double, 64> histogram{};
  std::array<double, 12> bands{};
  for (int t = 0; t < frames; ++t) {
    const uint8_t* f = video.frame(t);
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        const uint8_t* p = f + (size_t(y) * size_t(w) + size_t(x)) * 3;
        histogram[size_t(colour_bin(p))] += 1;
        const int band = y * 4 / h;
        for (int c = 0; c < 3; ++c) bands[size_t(band * 3 + c)] += p[c] / 255.0;
      }
  }
  const double pixels = double(frames) * w * h;
  for (double v : histogram) out.push_back(float(std::sqrt(v / pixels)));
  for (double v : bands) out.push_back(float(v / (pixels / 4)));

  // Camera: global shift/zoom between consecutive frames (every frame pair, half resolution).
  std::vector<GlobalMotion> motions;
  std::vector<Grey> greys;
  greys.reserve(size_t(frames));
  for (int t = 0; t < frames; ++t) greys.push_back(half_grey(video, t));
  // Frames kGap apart, so that slow moves still shift by whole pixels.
  const int gap = std::min(kGap, frames - 1);
  for (int t = gap; t < frames; ++t) motions.push_back(global_motion(greys[size_t(t - gap)], greys[size_t(t)]));

  // Moving region: pixels that differ from the previous frame after undoing the camera's shift.
  std::array<double, 64> moving_histogram{};
  double moving_total = 0;
  std::array<double, 4> cx{}, cy{}, area{};
  std::array<int, 4> quarter_frames{};
  std::vector<float> centroid_x, centroid_y;
  const int gw = greys[0].width, gh = greys[0].height;
  for (int t = gap; t < frames; ++t) {
    const auto& m = motions[size_t(t - gap)];
    double sx = 0, sy = 0, n = 0;
    for (int y = 0; y < gh; ++y)
      for (int x = 0; x < gw; ++x) {
        const int bx = x + int(m.dx), by = y + int(m.dy);
        if (bx < 0 || by < 0 || bx >= gw || by >= gh) continue;
        if (std::abs(greys[size_t(t)].at(x, y) - greys[size_t(t - gap)].at(bx, by)) < 20) continue;
        sx += x, sy += y, n += 1;
        const uint8_t* p = video.frame(t) + (size_t(2 * y) * size_t(w) + size_t(2 * x)) * 3;
        moving_histogram[size_t(colour_bin(p))] += 1;
        moving_total += 1;
      }
    const int q = std::min(3, (t - gap) * 4 / std::max(1, frames - gap));
    quarter_frames[size_t(q)] += 1;
    area[size_t(q)] += n / (gw * gh);
    if (n > 3) {
      cx[size_t(q)] += sx / n / gw;
      cy[size_t(q)] += sy / n / gh;
      centroid_x.push_back(float(sx / n / gw));
      centroid_y.push_back(float(sy / n / gh));
    } else {
      cx[size_t(q)] += 0.5;
      cy[size_t(q)] += 0.5;
    }
  }
  for (double v : moving_histogram) out.push_back(float(std::sqrt(moving_total > 0 ? v / moving_total : 0)));
  for (size_t q = 0; q < 4; ++q) {
    const double n = std::max(1, quarter_frames[q]);
    out.push_back(float(cx[q] / n));
    out.push_back(float(cy[q] / n));
    out.push_back(float(std::sqrt(area[q] / n)));
  }
  // Centroid travel and vertical wobble (bounces): net dx, net dy.
  float net_dx = 0, net_dy = 0;
  if (centroid_x.size() >= 2) {
    net_dx = centroid_x.back() - centroid_x.front();
    net_dy = centroid_y.back() - centroid_y.front();
  }
  out.push_back(net_dx);
  out.push_back(net_dy);
  // Vertical spread of the centroid (bounces, falls) and mean frame-to-frame travel.
  double mean_y = 0, spread_y = 0, travel_x = 0, travel_y = 0;
  for (float v : centroid_y) mean_y += v / double(std::max<size_t>(1, centroid_y.size()));
  for (float v : centroid_y) spread_y += (v - mean_y) * (v - mean_y) / double(std::max<size_t>(1, centroid_y.size()));
  for (size_t i = 1; i < centroid_x.size(); ++i) {
    travel_x += (centroid_x[i] - centroid_x[i - 1]) / double(centroid_x.size() - 1);
    travel_y += (centroid_y[i] - centroid_y[i - 1]) / double(centroid_y.size() - 1);
  }
  out.push_back(float(std::sqrt(spread_y)));
  out.push_back(float(travel_x * 10));
  out.push_back(float(travel_y * 10));

  // Foreground by rarity: pixels whose colour bin covers under 4% of their frame (the scene's
  // small object, mostly). Its centroid per frame, with the camera's accumulated shift added
  // back, gives the object's own travel: net dx, net dy, vertical spread, and the same without
  // the camera correction (6).
  {
    std::vector<float> rx, ry, wx;
    double camera_x = 0, camera_y = 0;
    for (int t = 0; t < frames; ++t) {
      if (t >= gap) camera_x += motions[size_t(t - gap)].dx / gap, camera_y += motions[size_t(t - gap)].dy / gap;
      std::array<int, 64> counts{};
      const uint8_t* f = video.frame(t);
      for (size_t i = 0; i < size_t(w) * size_t(h); ++i) counts[size_t(colour_bin(f + i * 3))] += 1;
      double sx = 0, sy = 0, n = 0;
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
          if (counts[size_t(colour_bin(f + (size_t(y) * size_t(w) + size_t(x)) * 3))] < w * h / 25) sx += x, sy += y, n += 1;
      if (n < 4) continue;
      rx.push_back(float(sx / n / w));
      ry.push_back(float(sy / n / h));
      wx.push_back(float(sx / n / w + camera_x * 2 / w));
    }
    float net_x = 0, net_y = 0, world_x = 0, spread = 0, mean = 0, low = 0;
    if (rx.size() >= 2) {
      net_x = rx.back() - rx.front();
      net_y = ry.back() - ry.front();
      world_x = wx.back() - wx.front();
      for (float v : ry) mean += v / float(ry.size());
      for (float v : ry) spread += (v - mean) * (v - mean) / float(ry.size());
      low = *std::max_element(ry.begin(), ry.end()) - ry.front();
    }
    for (float v : {net_x, net_y, world_x, std::sqrt(spread), low, float(rx.size()) / float(frames)}) out.push_back(v);
  }

  // Camera summary per half: mean dx, dy, zoom and their mean magnitudes (12).
  for (int half = 0; half < 2; ++half) {
    double dx = 0, dy = 0, zoom = 0, adx = 0, ady = 0, azoom = 0;
    int n = 0;
    for (size_t i = 0; i < motions.size(); ++i) {
      if (int(i * 2 / motions.size()) != half) continue;
      dx += motions[i].dx, dy += motions[i].dy, zoom += motions[i].zoom * 25;
      adx += std::abs(motions[i].dx), ady += std::abs(motions[i].dy), azoom += std::abs(motions[i].zoom) * 25;
      ++n;
    }
    n = std::max(n, 1);
    for (double v : {dx, dy, zoom, adx, ady, azoom}) out.push_back(float(v / n));
  }
  return out;
}

}  // namespace opsis::eval

namespace opsis::eval {
namespace {

float luma_of(const uint8_t* p) { return 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2]; }

// Pixel bounds of a box clipped to the picture: x0, y0, x1, y1 (exclusive).
std::array<int, 4> clipped(const Box& b, int width, int height) {
  return {std::clamp(int(std::floor(b.x0)), 0, width), std::clamp(int(std::floor(b.y0)), 0, height),
          std::clamp(int(std::ceil(b.x1)), 0, width), std::clamp(int(std::ceil(b.y1)), 0, height)};
}

}  // namespace

std::vector<float> region_features(const Video& video, const std::vector<Box>& boxes) {
  constexpr int kBands = 5;
  const float band_edges[kBands + 1] = {0.0f, 0.12f, 0.25f, 0.45f, 0.65f, 1.0f};  // of the box height
  std::vector<double> sum(size_t(kRegionFeatureCount), 0.0);
  int seen = 0;
  for (int t = 0; t < video.frame_count() && t < int(boxes.size()); ++t) {
    if (boxes[size_t(t)].empty()) continue;
    const Box& b = boxes[size_t(t)];
    const uint8_t* f = video.frame(t);
    bool any = false;
    std::vector<double> frame_values(size_t(kRegionFeatureCount), 0.0);
    for (int band = 0; band < kBands; ++band) {
      Box part{b.x0, b.y0 + band_edges[band] * (b.y1 - b.y0), b.x1, b.y0 + band_edges[band + 1] * (b.y1 - b.y0)};
      const auto [x0, y0, x1, y1] = clipped(part, video.width, video.height);
      std::array<double, 64> histogram{};
      double r = 0, g = 0, bl = 0, n = 0;
      for (int y = y0; y < y1; ++y)
        for (int x = x0; x < x1; ++x) {
          const uint8_t* p = f + (size_t(y) * size_t(video.width) + size_t(x)) * 3;
          histogram[size_t(colour_bin(p))] += 1;
          r += p[0], g += p[1], bl += p[2], n += 1;
        }
      if (n < 1) continue;
      any = true;
      double* out = frame_values.data() + size_t(band) * 67;
      for (size_t i = 0; i < 64; ++i) out[i] = std::sqrt(histogram[i] / n);
      out[64] = r / n / 255, out[65] = g / n / 255, out[66] = bl / n / 255;
    }
    if (!any) continue;
    for (size_t i = 0; i < sum.size(); ++i) sum[i] += frame_values[i];
    ++seen;
  }
  std::vector<float> out(sum.size(), 0.0f);
  for (size_t i = 0; i < sum.size(); ++i) out[i] = seen ? float(sum[i] / seen) : 0.0f;
  return out;
}

std::vector<double> visual_impacts(const Video& video) {
  const int frames = video.frame_count(), w = video.width, h = video.height;
  std::vector<double> impacts;
  if (frames < 5) return impacts;
  // Vertical centroid of what changed between frames t - 1 and t + 1 (pixels from the top;
  // NaN when nothing did). For one moving object it is about the mean of its positions at
  // t - 1 and t + 1, so it is lowest at the frame the object touches the floor, whether it
  // then bounces back up or stays (then nothing changes any more).
  std::vector<double> centre(size_t(frames), std::nan(""));
  for (int t = 1; t + 1 < frames; ++t) {
    const uint8_t* after = video.frame(t + 1);
    const uint8_t* before = video.frame(t - 1);
    double sy = 0, n = 0;
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        const size_t i = (size_t(y) * size_t(w) + size_t(x)) * 3;
        if (std::abs(luma_of(after + i) - luma_of(before + i)) > 15) sy += y, n += 1;
      }
    if (n >= 3) centre[size_t(t)] = sy / n;
  }
  // A floor contact at t: the centroid came down steadily (never up) by at least 1.5% of the
  // height over the three frames before (an object coming into the picture from above moves
  // its centroid up first), it is the lowest from t - 2 to t + 1 (where seen), and the next
  // frame is higher or nothing changes any more.
  const double least_descent = std::max(1.0, 0.015 * h);
  int last = -100;
  for (int t = 3; t + 1 < frames; ++t) {
    const double a = centre[size_t(t - 3)], b = centre[size_t(t - 1)], c = centre[size_t(t)], next = centre[size_t(t + 1)];
    if (std::isnan(a) || std::isnan(b) || std::isnan(c)) continue;
    if (std::isnan(centre[size_t(t - 2)]) || centre[size_t(t - 2)] < a || b < centre[size_t(t - 2)]) continue;
    if (c - a < least_descent || b > c) continue;
    if (!std::isnan(next) && next >= c) continue;
    bool lowest = true;
    for (int k = -2; k <= 1; ++k)
      if (t + k >= 0 && t + k < frames && !std::isnan(centre[size_t(t + k)]) && centre[size_t(t + k)] > c) lowest = false;
    if (!lowest) continue;
    if (t - last < 4) continue;
    // Between frames: the lowest point of the parabola through t - 1, t, t + 1.
    double offset = 0;
    if (!std::isnan(next)) {
      const double curvature = b - 2 * c + next;
      if (curvature < 0) offset = std::clamp(0.5 * (b - next) / curvature, -0.5, 0.5);
    }
    impacts.push_back((t + offset) / video.fps());
    last = t;
  }
  return impacts;
}

std::vector<double> sound_onsets(const Audio& audio) {
  std::vector<double> onsets;
  if (audio.sample_rate <= 0 || audio.channels <= 0) return onsets;
  const size_t window = size_t(audio.sample_rate / 100), hop = std::max<size_t>(1, size_t(audio.sample_rate / 200));
  const size_t n = audio.frame_count();
  if (n < window + hop) return onsets;
  std::vector<double> db;  // one per hop
  for (size_t start = 0; start + window <= n; start += hop) {
    double sum = 0;
    for (size_t i = start; i < start + window; ++i) {
      const double previous = i > 0 ? audio.samples[(i - 1) * size_t(audio.channels)] : 0.0;
      const double x = audio.samples[i * size_t(audio.channels)] - 0.97 * previous;
      sum += x * x;
    }
    db.push_back(10 * std::log10(sum / double(window) + 1e-12));
  }
  const double loudest = *std::max_element(db.begin(), db.end());
  const int lookback = 6;  // 30 ms of hops
  double last = -1;
  for (size_t k = size_t(lookback); k < db.size(); ++k) {
    if (db[k] < loudest - 45) continue;
    double least = db[k - 1];
    for (size_t j = k - size_t(lookback); j < k; ++j) least = std::min(least, db[j]);
    if (db[k] - least < 6) continue;
    const double time = (double(k * hop) + double(window) / 2) / audio.sample_rate;
    if (last >= 0 && time - last < 0.08) continue;
    onsets.push_back(time);
    last = time;
  }
  return onsets;
}

double share_matched(const std::vector<double>& times, const std::vector<double>& references, double tolerance) {
  if (times.empty()) return 0;
  int matched = 0;
  for (double t : times)
    for (double r : references)
      if (std::abs(t - r) <= tolerance) {
        ++matched;
        break;
      }
  return double(matched) / double(times.size());
}

std::vector<double> mouth_openness(const Video& video, const std::vector<Box>& boxes) {
  std::vector<double> out;
  for (int t = 0; t < video.frame_count(); ++t) {
    double amount = 0;
    if (t < int(boxes.size()) && !boxes[size_t(t)].empty()) {
      const auto [x0, y0, x1, y1] = clipped(boxes[size_t(t)], video.width, video.height);
      for (int y = y0; y < y1; ++y)
        for (int x = x0; x < x1; ++x) {
          const uint8_t* p = video.frame(t) + (size_t(y) * size_t(video.width) + size_t(x)) * 3;
          const float luma = (2.0f * p[0] + 5.0f * p[1] + p[2]) / 8;
          const bool deep_red = p[0] > 80 && p[1] < 60 && p[2] < 75 && p[0] > 2 * p[1];
          amount += deep_red ? 1.0 : std::clamp((70.0 - luma) / 40.0, 0.0, 1.0);
        }
    }
    out.push_back(amount);
  }
  return out;
}

std::vector<double> frame_energy(const Audio& audio, int frames, double fps) {
  std::vector<double> out;
  const size_t channels = size_t(std::max(1, audio.channels));
  for (int t = 0; t < frames; ++t) {
    const size_t a = size_t(t / fps * audio.sample_rate);
    const size_t b = std::min(audio.frame_count(), size_t((t + 1) / fps * audio.sample_rate));
    double sum = 0;
    for (size_t i = a; i < b; ++i) sum += double(audio.samples[i * channels]) * audio.samples[i * channels];
    out.push_back(b > a ? std::sqrt(sum / double(b - a)) : 0.0);
  }
  return out;
}

double correlation_at_lag(const std::vector<double>& x, const std::vector<double>& y, int lag) {
  std::vector<double> a, b;
  for (int t = 0; t < int(x.size()); ++t)
    if (t + lag >= 0 && t + lag < int(y.size())) a.push_back(x[size_t(t)]), b.push_back(y[size_t(t + lag)]);
  if (a.size() < 3) return 0;
  double ma = 0, mb = 0;
  for (size_t i = 0; i < a.size(); ++i) ma += a[i] / double(a.size()), mb += b[i] / double(b.size());
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < a.size(); ++i)
    sab += (a[i] - ma) * (b[i] - mb), saa += (a[i] - ma) * (a[i] - ma), sbb += (b[i] - mb) * (b[i] - mb);
  return saa > 1e-12 && sbb > 1e-12 ? sab / std::sqrt(saa * sbb) : 0.0;
}

}  // namespace opsis::eval
