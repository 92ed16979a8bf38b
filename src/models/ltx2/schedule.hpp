#pragma once
// The noise schedules of the LTX-2 reference pipelines (docs/ltx2/reference-map.md,
// "Scheduler, steps, guidance"), computed in float32 the way the reference does, so the
// sigmas match it bit for bit.
#include <cstdint>
#include <vector>

namespace opsis::ltx2 {

struct ScheduleOptions {
  double base_shift = 0.95;   // shift at 1024 tokens
  double max_shift = 2.05;    // shift at 4096 tokens (linear in between and beyond)
  bool stretch = true;        // rescale so the last non-zero sigma is `terminal`
  double terminal = 0.1;
};

// steps + 1 sigmas from 1 down to 0 for a video latent of `tokens` = frames x height x width
// latent positions (the reference's default, when it has no latent, is 4096).
std::vector<float> ltx2_sigmas(int steps, int64_t tokens, const ScheduleOptions& options = {});

// The distilled model's fixed schedules (stage 1: 8 steps; stage 2 after the x2 upscaler: 3).
const std::vector<float>& distilled_sigmas();
const std::vector<float>& distilled_stage2_sigmas();

}  // namespace opsis::ltx2
