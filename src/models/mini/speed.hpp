#pragma once
// Speed of one clip through the whole pipeline (encode, sample with guidance, decode):
// shared by `opsis bench` and opsis-mini-bench.
#include <cstddef>

#include "engine/backend.hpp"
#include "engine/pipeline.hpp"
#include "models/mini/config.hpp"

namespace opsis::mini {

struct SpeedReport {
  int width = 0, height = 0, steps = 0, frames = 0, torch_threads = 0;
  double clip_seconds = 0;
  size_t audio_samples = 0;
  bool guided = false;
  double wall_seconds = 0;
  double realtime_factor = 0;      // wall / clip length
  double peak_rss_mib = 0;         // getrusage maxrss of this process so far
  double transformer_flops = 0;    // 2 x multiply-adds of every forward pass of the clip
  double achieved_flops_per_second = 0;
  double machine_flops_per_second = 0;  // 1024^2 fp32 matmul on this machine
  double share_of_machine() const { return achieved_flops_per_second / machine_flops_per_second; }
};

// Peak resident memory of this process, MiB (getrusage).
double peak_rss_mib();

// Measured fp32 matmul throughput (1024 x 1024 x 1024, best of a few runs), FLOP/s.
double matmul_flops_per_second();

// 2 x multiply-adds of one transformer forward pass (batch 1) over nv video tokens, na audio
// tokens and lc conditioning tokens.
double forward_flops(const MiniConfig& config, double nv, double na, double lc);

// Runs `request` (defaults filled in by the pipeline) once and times it; the transformer's
// work comes from the backend's forward_flops (any built-in model).
SpeedReport measure_speed(engine::Backend& backend, engine::GenerateRequest request);

}  // namespace opsis::mini
