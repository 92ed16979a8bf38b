#pragma once
// `opsis eval`: generates clips from prompts built from the held-out combinations and
// measures each against what its prompt asked, with probes trained on studio ground truth
// (setting, object kind, colour, motion, camera move) and signal-level measures
// (image-to-video first-frame PSNR).
#include <cstdint>
#include <string>
#include <vector>

#include "core/av.hpp"
#include "core/progress.hpp"
#include "engine/backend.hpp"

namespace opsis::eval {

struct EvalOptions {
  int prompts = 6;          // generated clips, one per held-out prompt (1..36)
  int steps = 0;            // 0: the model's default
  uint64_t seed = 0;
  int train_clips = 120;    // studio clips that train the probes (no held-out combination)
  int test_clips = 36;      // studio clips of held-out combinations that test them
  int image_clips = 1;      // image-to-video generations for the first-frame PSNR (0..prompts)
  int width = 128, height = 72;
};

struct AttributeScore {
  std::string attribute;  // "setting", "object", "color", "motion", "camera"
  int classes = 0;
  double chance = 0;               // 1 / classes
  double studio_accuracy = 0;      // probe on held-out studio clips
  double generated_accuracy = 0;   // probe on generated clips vs what the prompt asked
};

struct PromptResult {
  std::string prompt;
  std::vector<std::string> asked, read;  // per attribute, in the order of EvalReport::attributes
};

struct EvalReport {
  std::vector<AttributeScore> attributes;
  std::vector<PromptResult> prompts;
  int train_clips = 0, test_clips = 0, steps = 0;
  double image_to_video_psnr_db = 0;  // mean over image_clips; first generated frame vs given image
  int image_clips = 0;
  double seconds = 0;  // wall time of the whole evaluation

  std::string table() const;
  std::string json() const;
};

// Throws opsis::InvalidArgument naming the option for out-of-range values.
void validate(const EvalOptions& options);

EvalReport evaluate(engine::Backend& backend, const EvalOptions& options, const Progress* progress = nullptr);

// Peak signal-to-noise ratio of two equal-size images, dB (99 when identical).
double psnr_db(const Image& a, const Image& b);

}  // namespace opsis::eval
