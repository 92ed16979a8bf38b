#include "provenance/watermark.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <complex>
#include <limits>
#include <numbers>
#include <numeric>
#include <string>

#include "core/error.hpp"

namespace opsis::provenance {
namespace {

constexpr int kChip = 8;                        // chip side, marked pixels
constexpr int kCellsPerSide = 32;               // chips per tile side
constexpr int kPeriod = kChip * kCellsPerSide;  // tile side, marked pixels (power of two)
constexpr int kCells = kCellsPerSide * kCellsPerSide;
constexpr int kPilotCells = kCells / 4;
constexpr float kResidualClip = 12.0f;  // luma levels; limits what strong edges contribute
constexpr int kChaseBits = 10;  // least reliable bits the decoder may flip (1024 candidates)
// Per-frame pilot peaks above this many standard deviations count as synchronised (the
// largest of 65,536 Gaussian correlations is about 4.3 on an unmarked frame).
constexpr double kFramePeakFloor = 5.0;
// Residual = luma - mean over a (2r+1)^2 box at scale 1: small boxes keep most of the chips and
// remove the picture's low frequencies; measured best among r = 1..8 after H.264 at CRF 30.
constexpr int kDetectorRadius = kChip / 4;
// Masking gain of a block = (luma deviation + floor) / (reference + floor), in [0.35, 2.5].
constexpr double kMaskFloor = 2.0;
constexpr double kMaskReference = 8.0;

// splitmix64: small, fast and good enough to draw a keyed pattern.
struct KeyedRandom {
  uint64_t state;
  explicit KeyedRandom(uint64_t key) : state(key ^ 0x6f707369735f776dULL) {}  // "opsis_wm"
  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
};

// The keyed layout of one tile: which chips are pilots, which bit each data chip carries,
// and each chip's pseudo-random sign.
struct TileLayout {
  // per cell (cy * kCellsPerSide + cx): -1 = pilot, else the codeword bit index
  std::array<int16_t, kCells> bit{};
  std::array<int8_t, kCells> sign{};
};

TileLayout make_layout(uint64_t key) {
  KeyedRandom random(key);
  std::array<int, kCells> order{};
  std::iota(order.begin(), order.end(), 0);
  for (int i = kCells - 1; i > 0; --i) std::swap(order[i], order[random.next() % uint64_t(i + 1)]);
  TileLayout layout;
  for (int i = 0; i < kCells; ++i) {
    layout.bit[order[i]] = i < kPilotCells ? int16_t(-1) : int16_t((i - kPilotCells) % kCodewordBits);
    layout.sign[order[i]] = (random.next() >> 63) ? int8_t(1) : int8_t(-1);
  }
  return layout;
}

// Chip shape: a half sine across the chip in each direction (smooth, no block edges).
const std::array<float, kChip>& chip_shape() {
  static const std::array<float, kChip> shape = [] {
    std::array<float, kChip> s{};
    for (int u = 0; u < kChip; ++u) s[u] = float(std::sin(std::numbers::pi * (u + 0.5) / kChip));
    return s;
  }();
  return shape;
}

// Tile pattern, [kPeriod, kPeriod]: sum of chips, each +-gain times the shape. With
// `codeword`, data chips carry their bits; without, only the pilot chips are drawn.
std::vector<float> tile_pattern(const TileLayout& layout, const Codeword* codeword,
                                const std::array<float, kCells>* gains = nullptr) {
  const auto& shape = chip_shape();
  std::vector<float> pattern(size_t(kPeriod) * kPeriod, 0.0f);
  for (int cy = 0; cy < kCellsPerSide; ++cy) {
    for (int cx = 0; cx < kCellsPerSide; ++cx) {
      const int cell = cy * kCellsPerSide + cx;
      float sign = layout.sign[cell] * (gains ? (*gains)[size_t(cell)] : 1.0f);
      if (layout.bit[cell] >= 0) {
        if (!codeword) continue;
        sign *= (*codeword)[size_t(layout.bit[cell])] ? 1.0f : -1.0f;
      }
      for (int v = 0; v < kChip; ++v)
        for (int u = 0; u < kChip; ++u)
          pattern[size_t(cy * kChip + v) * kPeriod + size_t(cx * kChip + u)] = sign * shape[v] * shape[u];
    }
  }
  return pattern;
}

// <field, chip shape> over cell (cx, cy) of a [kPeriod, kPeriod] field, the cell moved by
// (shift_x, shift_y) cyclically.
double cell_projection(const std::vector<float>& field, int cx, int cy, int shift_x, int shift_y) {
  const auto& shape = chip_shape();
  double response = 0;
  for (int v = 0; v < kChip; ++v) {
    const size_t row = size_t((cy * kChip + v + shift_y) & (kPeriod - 1)) * kPeriod;
    for (int u = 0; u < kChip; ++u)
      response += field[row + size_t((cx * kChip + u + shift_x) & (kPeriod - 1))] * shape[v] * shape[u];
  }
  return response;
}

uint32_t crc32(const uint8_t* data, size_t size) {
  uint32_t crc = 0xffffffffu;
  for (size_t i = 0; i < size; ++i) {
    crc ^= data[i];
    for (int b = 0; b < 8; ++b) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

std::array<uint8_t, 8> payload_bytes(const Payload& payload) {
  std::array<uint8_t, 8> bytes{};
  for (int i = 0; i < 4; ++i) {
    bytes[size_t(i)] = uint8_t(payload.server_id >> (24 - 8 * i));
    bytes[size_t(4 + i)] = uint8_t(payload.video_id >> (24 - 8 * i));
  }
  return bytes;
}

// Returns true and fills `payload` when the codeword's CRC holds.
bool decode_codeword(const Codeword& bits, Payload& payload) {
  std::array<uint8_t, 8> bytes{};
  for (int i = 0; i < kPayloadBits; ++i) bytes[size_t(i / 8)] |= uint8_t(bits[size_t(i)] << (7 - i % 8));
  uint32_t crc = 0;
  for (int i = 0; i < 32; ++i) crc = (crc << 1) | bits[size_t(kPayloadBits + i)];
  if (crc32(bytes.data(), bytes.size()) != crc) return false;
  payload.server_id = uint32_t(bytes[0]) << 24 | uint32_t(bytes[1]) << 16 | uint32_t(bytes[2]) << 8 | bytes[3];
  payload.video_id = uint32_t(bytes[4]) << 24 | uint32_t(bytes[5]) << 16 | uint32_t(bytes[6]) << 8 | bytes[7];
  return true;
}

// In-place radix-2 FFT of length kPeriod with stride. Complex products are written out
// (std::complex's operator* checks for infinities and is several times slower).
void fft(std::complex<double>* data, int stride, bool inverse) {
  constexpr int n = kPeriod;
  static const std::vector<std::complex<double>> twiddles = [] {
    std::vector<std::complex<double>> t(n / 2);
    for (int k = 0; k < n / 2; ++k) t[size_t(k)] = std::polar(1.0, -2 * std::numbers::pi * k / n);
    return t;
  }();
  for (int i = 1, j = 0; i < n; ++i) {
    int bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) std::swap(data[i * stride], data[j * stride]);
  }
  for (int len = 2; len <= n; len <<= 1) {
    const int step = n / len;
    for (int i = 0; i < n; i += len) {
      for (int k = 0; k < len / 2; ++k) {
        const std::complex<double> w = twiddles[size_t(k * step)];
        const double wr = w.real(), wi = inverse ? -w.imag() : w.imag();
        auto& a = data[(i + k) * stride];
        auto& b = data[(i + k + len / 2) * stride];
        const double tr = b.real() * wr - b.imag() * wi, ti = b.real() * wi + b.imag() * wr;
        b = {a.real() - tr, a.imag() - ti};
        a = {a.real() + tr, a.imag() + ti};
      }
    }
  }
}

// 2-D FFT of a [kPeriod, kPeriod] array.
void fft2(std::vector<std::complex<double>>& data, bool inverse) {
  for (int y = 0; y < kPeriod; ++y) fft(data.data() + size_t(y) * kPeriod, 1, inverse);
  for (int x = 0; x < kPeriod; ++x) fft(data.data() + x, kPeriod, inverse);
}

// out = mean of `in` over a (2r+1)^2 box clipped to the image. in, out: [h, w].
void box_mean(const std::vector<float>& in, std::vector<float>& out, int w, int h, int r,
              std::vector<float>& scratch) {
  scratch.resize(size_t(w) * h);
  out.resize(size_t(w) * h);
  for (int y = 0; y < h; ++y) {  // horizontal sums
    const float* src = in.data() + size_t(y) * w;
    float* dst = scratch.data() + size_t(y) * w;
    float sum = 0;
    for (int x = 0; x <= std::min(r, w - 1); ++x) sum += src[x];
    for (int x = 0; x < w; ++x) {
      dst[x] = sum;
      if (x + r + 1 < w) sum += src[x + r + 1];
      if (x - r >= 0) sum -= src[x - r];
    }
  }
  std::vector<float> column_sum(size_t(w), 0.0f);
  for (int y = 0; y <= std::min(r, h - 1); ++y)
    for (int x = 0; x < w; ++x) column_sum[size_t(x)] += scratch[size_t(y) * w + x];
  for (int y = 0; y < h; ++y) {
    const int rows = std::min(h - 1, y + r) - std::max(0, y - r) + 1;
    float* dst = out.data() + size_t(y) * w;
    for (int x = 0; x < w; ++x) {
      const int cols = std::min(w - 1, x + r) - std::max(0, x - r) + 1;
      dst[x] = column_sum[size_t(x)] / float(rows * cols);
    }
    if (y + r + 1 < h) {
      const float* add = scratch.data() + size_t(y + r + 1) * w;
      for (int x = 0; x < w; ++x) column_sum[size_t(x)] += add[x];
    }
    if (y - r >= 0) {
      const float* sub = scratch.data() + size_t(y - r) * w;
      for (int x = 0; x < w; ++x) column_sum[size_t(x)] -= sub[x];
    }
  }
}

void require_video(const Video& video, const char* field) {
  if (video.width <= 0 || video.height <= 0 || video.frame_count() <= 0 ||
      video.rgb.size() != video.frame_bytes() * size_t(video.frame_count()))
    throw InvalidArgument(field, std::string(field) + ": the video is empty or its pixel buffer does not "
                                 "match width x height x 3 x frames");
}

}  // namespace

// One candidate scale: the residual luma of the folded frames summed per tile position.
struct ScaleFold {
  double scale = 1.0;
  std::vector<std::complex<double>> spectrum;  // FFT of the mean residual, [kPeriod, kPeriod]
  std::vector<float> mean_residual;            // [kPeriod, kPeriod]
};

struct FrameFold {
  std::vector<std::complex<double>> spectrum;  // [kPeriod, kPeriod]
  std::vector<float> mean_residual;            // [kPeriod, kPeriod]
};

struct FoldedVideo {
  std::vector<ScaleFold> folds;
  std::vector<FrameFold> frames;  // each folded frame alone, scale 1, grid fixed
  int frames_used = 0;
};

void FoldedVideoDeleter::operator()(FoldedVideo* folded) const { delete folded; }

namespace {
// Informed embedding: the picture itself projects onto each chip (what the detector would
// read from the unmarked video). Per chip, raise the amplitude where the picture opposes the
// chip's sign and lower it where it agrees, then rescale so the mean power (the PSNR) is
// that of the plain pattern. Returns one gain per cell (multiplies `strength`).
std::array<float, kCells> host_cancelling_gains(const Video& video, const TileLayout& layout,
                                                const Codeword& codeword, float strength) {
  FoldOptions host_options;
  host_options.scales = {1.0};
  host_options.per_frame = false;
  const FoldedVideoPtr host = fold_video(video, host_options);
  const std::vector<float>& host_field = host->folds[0].mean_residual;

  // Response of the unit pattern through the detector's filter (the tile repeated 3x3 so
  // the centre tile sees cyclic neighbours): kappa = response / <shape, shape>.
  const std::vector<float> unit = tile_pattern(layout, &codeword);
  const int big = 3 * kPeriod;
  std::vector<float> tiled(size_t(big) * big), blurred, scratch;
  for (int y = 0; y < big; ++y)
    for (int x = 0; x < big; ++x)
      tiled[size_t(y) * big + x] = unit[size_t(y % kPeriod) * kPeriod + size_t(x % kPeriod)];
  box_mean(tiled, blurred, big, big, kDetectorRadius, scratch);
  std::vector<float> filtered(size_t(kPeriod) * kPeriod);
  for (int y = 0; y < kPeriod; ++y)
    for (int x = 0; x < kPeriod; ++x) {
      const size_t at = size_t(y + kPeriod) * big + size_t(x + kPeriod);
      filtered[size_t(y) * kPeriod + x] = tiled[at] - blurred[at];
    }

  std::array<float, kCells> gains{};
  double power = 0;
  for (int cy = 0; cy < kCellsPerSide; ++cy)
    for (int cx = 0; cx < kCellsPerSide; ++cx) {
      const int cell = cy * kCellsPerSide + cx;
      const double unit_response = cell_projection(filtered, cx, cy, 0, 0);  // signed like the chip
      if (std::abs(unit_response) < 1e-9) {
        gains[size_t(cell)] = 1.0f;
      } else {
        // picture's contribution along the chip, in units of `strength`
        const double along = cell_projection(host_field, cx, cy, 0, 0) / unit_response / strength;
        gains[size_t(cell)] = float(std::clamp(1.0 - along, 0.0, 2.0));
      }
      power += double(gains[size_t(cell)]) * gains[size_t(cell)];
    }
  const float normalise = float(1.0 / std::sqrt(std::max(1e-12, power / kCells)));
  for (auto& g : gains) g = std::min(3.0f, g * normalise);
  return gains;
}

}  // namespace

Codeword encode_codeword(const Payload& payload) {
  const auto bytes = payload_bytes(payload);
  const uint32_t crc = crc32(bytes.data(), bytes.size());
  Codeword bits{};
  for (int i = 0; i < kPayloadBits; ++i) bits[size_t(i)] = uint8_t((bytes[size_t(i / 8)] >> (7 - i % 8)) & 1);
  for (int i = 0; i < 32; ++i) bits[size_t(kPayloadBits + i)] = uint8_t((crc >> (31 - i)) & 1);
  return bits;
}

void embed_watermark(Video& video, const Payload& payload, uint64_t key, const WatermarkOptions& options,
                     const Progress* progress) {
  require_video(video, "video");
  if (!(options.strength > 0.0f) || options.strength > 32.0f)
    throw InvalidArgument("strength", "watermark strength must be in (0, 32] luma levels");
  const TileLayout layout = make_layout(key);
  const Codeword codeword = encode_codeword(payload);
  std::array<float, kCells> gains;
  gains.fill(1.0f);
  if (options.informed) gains = host_cancelling_gains(video, layout, codeword, options.strength);
  const std::vector<float> pattern = tile_pattern(layout, &codeword, &gains);
  // The same luma offset goes to R, G and B: it changes luma only, no colour shift.
  std::vector<int16_t> offsets(pattern.size());  // used as is when there is no masking
  for (size_t i = 0; i < pattern.size(); ++i)
    offsets[i] = int16_t(std::clamp(std::lround(pattern[i] * options.strength), -127L, 127L));
  std::array<uint8_t, 512> clamp{};  // index value + 128
  for (int i = 0; i < 512; ++i) clamp[size_t(i)] = uint8_t(std::clamp(i - 128, 0, 255));

  const int frames = video.frame_count();
  // Masking: per 8x8 block (aligned with the chips), an amplitude gain that follows the
  // block's luma contrast, so flat areas (sky) get a fainter mark and textured ones a
  // stronger one; normalised per frame to mean square 1 (same PSNR).
  const int blocks_x = (video.width + kChip - 1) / kChip, blocks_y = (video.height + kChip - 1) / kChip;
  std::vector<float> block_gain(size_t(blocks_x) * blocks_y, 1.0f);
  std::vector<double> block_sum(block_gain.size()), block_sq(block_gain.size());
  std::vector<int> block_n(block_gain.size());
  for (int t = 0; t < frames; ++t) {
    uint8_t* frame = video.frame(t);
    if (options.masking) {
      std::fill(block_sum.begin(), block_sum.end(), 0.0);
      std::fill(block_sq.begin(), block_sq.end(), 0.0);
      std::fill(block_n.begin(), block_n.end(), 0);
      for (int y = 0; y < video.height; ++y) {
        const uint8_t* row = frame + size_t(y) * video.width * 3;
        const size_t block_row = size_t(y / kChip) * blocks_x;
        for (int x = 0; x < video.width; ++x) {
          const double luma = 0.299 * row[3 * x] + 0.587 * row[3 * x + 1] + 0.114 * row[3 * x + 2];
          const size_t b = block_row + size_t(x / kChip);
          block_sum[b] += luma;
          block_sq[b] += luma * luma;
          ++block_n[b];
        }
      }
      double mean_square = 0;
      for (size_t b = 0; b < block_gain.size(); ++b) {
        const double mean = block_sum[b] / block_n[b];
        const double deviation = std::sqrt(std::max(0.0, block_sq[b] / block_n[b] - mean * mean));
        block_gain[b] = float(std::clamp((deviation + kMaskFloor) / (kMaskReference + kMaskFloor), 0.35, 2.5));
        mean_square += double(block_gain[b]) * block_gain[b];
      }
      const float normalise = float(1.0 / std::sqrt(std::max(1e-12, mean_square / double(block_gain.size()))));
      for (auto& g : block_gain) g *= normalise;
    }
    for (int y = 0; y < video.height; ++y) {
      uint8_t* row = frame + size_t(y) * video.width * 3;
      const float* gain_row = block_gain.data() + size_t(y / kChip) * blocks_x;
      const float* pattern_row = pattern.data() + size_t(y % kPeriod) * kPeriod;
      const int16_t* offset_row = offsets.data() + size_t(y % kPeriod) * kPeriod;
      for (int x = 0; x < video.width; ++x) {
        const int d = 128 + (options.masking ? int(std::clamp(std::lround(pattern_row[x & (kPeriod - 1)] * options.strength *
                                                                             gain_row[x / kChip]),
                                                              -127L, 127L))
                                             : offset_row[x & (kPeriod - 1)]);
        uint8_t* px = row + size_t(x) * 3;
        px[0] = clamp[size_t(px[0] + d)];
        px[1] = clamp[size_t(px[1] + d)];
        px[2] = clamp[size_t(px[2] + d)];
      }
    }
    Progress::step(progress, double(t + 1) / frames);
  }
}

FoldedVideoPtr fold_video(const Video& video, const FoldOptions& options, const Progress* progress) {
  require_video(video, "video");
  if (options.max_frames < 1) throw InvalidArgument("max_frames", "max_frames must be at least 1");
  if (options.scales.empty()) throw InvalidArgument("scales", "at least one candidate scale is needed");
  for (double s : options.scales)
    if (!(s >= 0.125 && s <= 8.0)) throw InvalidArgument("scales", "candidate scales must lie in [0.125, 8]");

  const int w = video.width, h = video.height;
  const int frames = video.frame_count();
  const int used = std::min(frames, options.max_frames);
  const size_t pixels = size_t(w) * h;
  const size_t tile = size_t(kPeriod) * kPeriod;

  // One accumulator per candidate scale: received pixel (x, y) lands in tile bin
  // (floor((x + 0.5) / scale), floor((y + 0.5) / scale)) mod kPeriod. Bin counts are
  // separable (columns per bin x rows per bin), so they are not counted per pixel.
  struct Accumulator {
    double scale;
    int radius;
    std::vector<int> bin_x, bin_y;
    std::vector<float> sum;
    std::vector<int> count;
  };
  std::vector<Accumulator> accumulators;
  for (double s : options.scales) {
    Accumulator a;
    a.scale = s;
    a.radius = std::max(1, int(std::lround(s * kDetectorRadius)));
    a.bin_x.resize(size_t(w));
    a.bin_y.resize(size_t(h));
    for (int x = 0; x < w; ++x) a.bin_x[size_t(x)] = int(std::floor((x + 0.5) / s)) & (kPeriod - 1);
    for (int y = 0; y < h; ++y) a.bin_y[size_t(y)] = int(std::floor((y + 0.5) / s)) & (kPeriod - 1);
    std::vector<int> columns(kPeriod, 0), rows(kPeriod, 0);
    for (int x = 0; x < w; ++x) ++columns[size_t(a.bin_x[size_t(x)])];
    for (int y = 0; y < h; ++y) ++rows[size_t(a.bin_y[size_t(y)])];
    a.count.resize(tile);
    for (int by = 0; by < kPeriod; ++by)
      for (int bx = 0; bx < kPeriod; ++bx) a.count[size_t(by) * kPeriod + bx] = rows[size_t(by)] * columns[size_t(bx)];
    a.sum.assign(tile, 0.0f);
    accumulators.push_back(std::move(a));
  }

  std::vector<size_t> by_radius(accumulators.size());  // so each residual is computed once
  std::iota(by_radius.begin(), by_radius.end(), size_t(0));
  std::stable_sort(by_radius.begin(), by_radius.end(),
                   [&](size_t a, size_t b) { return accumulators[a].radius < accumulators[b].radius; });
  // Mean residual per tile position (bins never hit stay 0), less its mean, and its spectrum.
  // `count` holds one frame's pixels per bin; `frames` frames were summed.
  auto finish = [tile](const std::vector<float>& sum, const std::vector<int>& count, int frames,
                       std::vector<float>& mean_residual, std::vector<std::complex<double>>& spectrum) {
    double total = 0;
    int filled = 0;
    for (size_t b = 0; b < tile; ++b)
      if (count[b]) {
        total += double(sum[b]) / (double(count[b]) * frames);
        ++filled;
      }
    const double mean = filled ? total / filled : 0.0;
    mean_residual.resize(tile);
    spectrum.resize(tile);
    for (size_t b = 0; b < tile; ++b) {
      const float v = count[b] ? float(double(sum[b]) / (double(count[b]) * frames) - mean) : 0.0f;
      mean_residual[b] = v;
      spectrum[b] = v;
    }
    fft2(spectrum, false);
  };
  auto folded = FoldedVideoPtr(new FoldedVideo);
  folded->frames_used = used;
  const bool per_frame = options.per_frame && used > 1;
  std::vector<float> frame_sum(per_frame ? tile : 0);
  std::vector<float> luma(pixels), blurred, residual(pixels), scratch;
  for (int i = 0; i < used; ++i) {
    const int t = used == 1 ? 0 : int(std::lround(double(i) * (frames - 1) / (used - 1)));
    const uint8_t* frame = video.frame(t);
    for (size_t p = 0; p < pixels; ++p)
      luma[p] = 0.299f * frame[3 * p] + 0.587f * frame[3 * p + 1] + 0.114f * frame[3 * p + 2];
    int last_radius = -1;
    for (const size_t k : by_radius) {
      auto& a = accumulators[k];
      if (a.radius != last_radius) {
        box_mean(luma, blurred, w, h, a.radius, scratch);
        for (size_t p = 0; p < pixels; ++p)
          residual[p] = std::clamp(luma[p] - blurred[p], -kResidualClip, kResidualClip);
        last_radius = a.radius;
      }
      const bool keep_frame = per_frame && a.scale == 1.0;
      std::vector<float>& target = keep_frame ? frame_sum : a.sum;
      if (keep_frame) std::fill(frame_sum.begin(), frame_sum.end(), 0.0f);
      for (int y = 0; y < h; ++y) {
        float* bins = target.data() + size_t(a.bin_y[size_t(y)]) * kPeriod;
        const float* r = residual.data() + size_t(y) * w;
        const int* bin_x = a.bin_x.data();
        for (int x = 0; x < w; ++x) bins[bin_x[x]] += r[x];
      }
      if (keep_frame) {
        for (size_t b = 0; b < tile; ++b) a.sum[b] += frame_sum[b];
        FrameFold frame_fold;
        finish(frame_sum, a.count, 1, frame_fold.mean_residual, frame_fold.spectrum);
        folded->frames.push_back(std::move(frame_fold));
      }
    }
    Progress::step(progress, double(i + 1) / used);
  }

  for (const auto& a : accumulators) {
    ScaleFold fold;
    fold.scale = a.scale;
    finish(a.sum, a.count, used, fold.mean_residual, fold.spectrum);
    folded->folds.push_back(std::move(fold));
  }
  return folded;
}

namespace {

struct SyncPeak {
  double score = -std::numeric_limits<double>::infinity();  // (peak - mean) / deviation
  int shift_x = 0, shift_y = 0;                              // correlation peak d
};

// Pilot correlation over all cyclic shifts: correlation[d] = sum_p field[p + d] * pilot[p].
SyncPeak find_sync(const std::vector<std::complex<double>>& field_spectrum,
                   const std::vector<std::complex<double>>& pilot_spectrum,
                   std::vector<std::complex<double>>& correlation) {
  correlation.resize(pilot_spectrum.size());
  for (size_t i = 0; i < correlation.size(); ++i) {
    const double fr = field_spectrum[i].real(), fi = field_spectrum[i].imag();
    const double pr = pilot_spectrum[i].real(), pi = -pilot_spectrum[i].imag();  // conjugate
    correlation[i] = {fr * pr - fi * pi, fr * pi + fi * pr};
  }
  fft2(correlation, true);
  double sum = 0, sum_sq = 0, peak = -std::numeric_limits<double>::infinity();
  size_t peak_at = 0;
  for (size_t i = 0; i < correlation.size(); ++i) {
    const double c = correlation[i].real();
    sum += c;
    sum_sq += c * c;
    if (c > peak) {
      peak = c;
      peak_at = i;
    }
  }
  const double n = double(correlation.size());
  const double mean = sum / n;
  const double deviation = std::sqrt(std::max(1e-30, sum_sq / n - mean * mean));
  SyncPeak result;
  result.score = (peak - mean) / deviation;
  result.shift_x = int(peak_at % kPeriod);
  result.shift_y = int(peak_at / kPeriod);
  return result;
}

// Soft value of each codeword bit: sum over its chips of sign * <field, chip shape>.
std::array<double, kCodewordBits> soft_bits(const std::vector<float>& field, const TileLayout& layout, int shift_x,
                                            int shift_y) {
  std::array<double, kCodewordBits> soft{};
  for (int cy = 0; cy < kCellsPerSide; ++cy)
    for (int cx = 0; cx < kCellsPerSide; ++cx) {
      const int cell = cy * kCellsPerSide + cx;
      if (layout.bit[cell] < 0) continue;
      soft[size_t(layout.bit[cell])] += layout.sign[cell] * cell_projection(field, cx, cy, shift_x, shift_y);
    }
  return soft;
}

}  // namespace

// Chase decoding: flip subsets of the least reliable bits, cheapest first, until the CRC
// holds. Each candidate passes by chance with probability 2^-32.
CodewordDecoding decode_soft_codeword(const std::array<double, kCodewordBits>& soft) {
  CodewordDecoding decoded;
  for (int i = 0; i < kCodewordBits; ++i) decoded.raw_bits[size_t(i)] = soft[size_t(i)] > 0 ? 1 : 0;
  std::array<int, kCodewordBits> by_reliability{};
  std::iota(by_reliability.begin(), by_reliability.end(), 0);
  std::sort(by_reliability.begin(), by_reliability.end(),
            [&](int a, int b) { return std::abs(soft[size_t(a)]) < std::abs(soft[size_t(b)]); });
  std::vector<std::pair<double, unsigned>> candidates;
  for (unsigned mask = 0; mask < (1u << kChaseBits); ++mask) {
    double cost = 0;
    for (int j = 0; j < kChaseBits; ++j)
      if (mask >> j & 1u) cost += std::abs(soft[size_t(by_reliability[size_t(j)])]);
    candidates.emplace_back(cost, mask);
  }
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [cost, mask] : candidates) {
    ++decoded.candidates_tried;
    Codeword trial = decoded.raw_bits;
    for (int j = 0; j < kChaseBits; ++j)
      if (mask >> j & 1u) trial[size_t(by_reliability[size_t(j)])] ^= 1u;
    if (decode_codeword(trial, decoded.payload)) {
      decoded.found = true;
      decoded.corrected_bits = std::popcount(mask);
      return decoded;
    }
  }
  decoded.payload = {};
  return decoded;
}

WatermarkDetection detect_watermark(const FoldedVideo& folded, uint64_t key) {
  const TileLayout layout = make_layout(key);
  const std::vector<float> pilot = tile_pattern(layout, nullptr);
  std::vector<std::complex<double>> pilot_spectrum(pilot.begin(), pilot.end());
  fft2(pilot_spectrum, false);
  std::vector<std::complex<double>> correlation;

  // 1. The whole video folded together, at the best scale.
  WatermarkDetection best;
  best.frames_used = folded.frames_used;
  SyncPeak best_peak;
  const ScaleFold* best_fold = nullptr;
  for (const auto& fold : folded.folds) {
    const SyncPeak peak = find_sync(fold.spectrum, pilot_spectrum, correlation);
    if (peak.score > best_peak.score) {
      best_peak = peak;
      best_fold = &fold;
    }
  }
  if (!best_fold) return best;
  best.sync_score = best_peak.score;
  best.scale = best_fold->scale;
  best.offset_x = (kPeriod - best_peak.shift_x) % kPeriod;  // the received origin's place in the tile
  best.offset_y = (kPeriod - best_peak.shift_y) % kPeriod;
  best.soft = soft_bits(best_fold->mean_residual, layout, best_peak.shift_x, best_peak.shift_y);
  CodewordDecoding decoded = decode_soft_codeword(best.soft);
  int tried = decoded.candidates_tried;

  // 2. Frame by frame at scale 1, each frame at its own grid position, for pictures whose
  // mark moved differently in different frames (predicted frames carrying the mark along
  // with the content, reset at each intra frame). Frames whose pilot peak stands out
  // (z > kFramePeakFloor) are combined, weighted by how far it stands out.
  if (!decoded.found && folded.frames.size() > 1) {
    std::array<double, kCodewordBits> combined{};
    double total_weight = 0;
    for (const auto& frame : folded.frames) {
      const SyncPeak peak = find_sync(frame.spectrum, pilot_spectrum, correlation);
      const double weight = peak.score - kFramePeakFloor;
      if (weight <= 0) continue;
      const auto soft = soft_bits(frame.mean_residual, layout, peak.shift_x, peak.shift_y);
      double energy = 0;
      for (double v : soft) energy += v * v;
      const double scale = weight / std::sqrt(std::max(1e-30, energy / kCodewordBits));
      for (int i = 0; i < kCodewordBits; ++i) combined[size_t(i)] += scale * soft[size_t(i)];
      total_weight += weight;
    }
    if (total_weight > 0) {
      const CodewordDecoding per_frame = decode_soft_codeword(combined);
      tried += per_frame.candidates_tried;
      if (per_frame.found || best_peak.score < kFramePeakFloor + 1.0) {
        decoded = per_frame;
        best.soft = combined;
        best.per_frame = true;
      }
    }
  }
  best.raw_bits = decoded.raw_bits;
  best.found = decoded.found;
  best.payload = decoded.payload;
  best.corrected_bits = decoded.corrected_bits;
  if (best.found) best.p_value = double(tried) * std::ldexp(1.0, -32);
  return best;
}

WatermarkDetection detect_watermark(const Video& video, uint64_t key, const Progress* progress) {
  const FoldedVideoPtr folded = fold_video(video, {}, progress);
  return detect_watermark(*folded, key);
}

double watermark_false_positive_bound() { return double(2u << kChaseBits) * std::ldexp(1.0, -32); }

double binomial_tail(int n, int k) {
  if (k <= 0) return 1.0;
  if (k > n) return 0.0;
  // sum_{i>=k} C(n, i) / 2^n, in logs for large n
  double total = 0;
  for (int i = k; i <= n; ++i)
    total += std::exp(std::lgamma(n + 1.0) - std::lgamma(i + 1.0) - std::lgamma(n - i + 1.0) - n * std::log(2.0));
  return std::min(1.0, total);
}

int binomial_threshold(int bits, double rate) {
  for (int k = 0; k <= bits; ++k)
    if (binomial_tail(bits, k) <= rate) return k;
  return bits + 1;
}

PayloadMatch match_payload(const WatermarkDetection& detection, const Payload& expected) {
  const Codeword truth = encode_codeword(expected);
  PayloadMatch match;
  for (int i = 0; i < kCodewordBits; ++i) match.matching_bits += detection.raw_bits[size_t(i)] == truth[size_t(i)];
  match.bit_accuracy = double(match.matching_bits) / kCodewordBits;
  match.p_value = binomial_tail(kCodewordBits, match.matching_bits);
  return match;
}

double video_psnr(const Video& original, const Video& marked) {
  if (original.width != marked.width || original.height != marked.height || original.rgb.size() != marked.rgb.size())
    throw InvalidArgument("video", "PSNR needs two videos of the same size and frame count");
  if (original.rgb.empty()) throw InvalidArgument("video", "PSNR of an empty video is undefined");
  double squared = 0;
  for (size_t i = 0; i < original.rgb.size(); ++i) {
    const double d = double(original.rgb[i]) - double(marked.rgb[i]);
    squared += d * d;
  }
  if (squared == 0) return std::numeric_limits<double>::infinity();
  const double mse = squared / double(original.rgb.size());
  return 10.0 * std::log10(255.0 * 255.0 / mse);
}

}  // namespace opsis::provenance
