#include "models/ltx2/schedule.hpp"

#include <cmath>
#include <string>

#include "core/error.hpp"

namespace opsis::ltx2 {
namespace {

// torch.linspace(start, end, n) in float32 on the CPU: the first half counted from start, the
// second half from end, with a float32 step.
std::vector<float> linspace(float start, float end, int n) {
  std::vector<float> out(static_cast<size_t>(n));
  if (n == 1) {
    out[0] = start;
    return out;
  }
  const float step = (end - start) / float(n - 1);
  const int halfway = n / 2;
  for (int i = 0; i < n; ++i)
    out[size_t(i)] = i < halfway ? start + step * float(i) : end - step * float(n - i - 1);
  return out;
}

}  // namespace

std::vector<float> ltx2_sigmas(int steps, int64_t tokens, const ScheduleOptions& o) {
  if (steps < 1) throw InvalidArgument("steps", "steps must be at least 1, got " + std::to_string(steps));
  if (tokens < 1) throw InvalidArgument("size", "the video latent has no tokens");
  std::vector<float> sigmas = linspace(1.0f, 0.0f, steps + 1);
  // Shift linear in the token count through (1024, base_shift) and (4096, max_shift).
  const double slope = (o.max_shift - o.base_shift) / (4096.0 - 1024.0);
  const double shift = double(tokens) * slope + (o.base_shift - slope * 1024.0);
  const float e = float(std::exp(shift));
  // e / (e + 1/s - 1), evaluated as the reference's tensor expression is: a scalar divided by
  // a tensor is the tensor's reciprocal times the scalar.
  for (float& s : sigmas)
    if (s != 0.0f) s = e * (1.0f / (e + (1.0f / s - 1.0f)));
  if (o.stretch) {
    float last = 0.0f;  // 1 - the last non-zero sigma
    for (float s : sigmas)
      if (s != 0.0f) last = 1.0f - s;
    const float scale = last / float(1.0 - o.terminal);
    for (float& s : sigmas)
      if (s != 0.0f) s = 1.0f - (1.0f - s) / scale;
  }
  return sigmas;
}

const std::vector<float>& distilled_sigmas() {
  static const std::vector<float> s = {1.0f, 0.99375f, 0.9875f, 0.98125f, 0.975f, 0.909375f, 0.725f, 0.421875f, 0.0f};
  return s;
}

const std::vector<float>& distilled_stage2_sigmas() {
  static const std::vector<float> s = {0.909375f, 0.725f, 0.421875f, 0.0f};
  return s;
}

}  // namespace opsis::ltx2
