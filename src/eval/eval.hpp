#pragma once
// `opsis eval`: generates clips from prompts built from the held-out combinations and
// measures each against what its prompt asked, with small CNN probes trained on studio
// ground truth and shipped in models/opsis-probes.safetensors (src/eval/probe_net.hpp:
// setting, time of day, weather, object kind, colour, size, motion, camera move; a
// character's skin, hair colour and style, shirt, accessory; a learned visual impact
// detector) and signal-level measures (image-to-video first-frame PSNR, mouth openness,
// sound onsets), and the targets of the opsis-mini issue: impact sync, lip sync, cameo
// identity, negative prompts and long-clip consistency. Each probe and detector is tested on
// held-out studio clips (whose ground truth is known) in every run, and its studio accuracy
// printed next to its reading of generated clips.
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
  double guidance = 0;      // 0: the model's defaults; else this scale for picture and sound
  uint64_t seed = 0;
  std::string probes;       // the probes' weights (models/opsis-probes.safetensors; see src/eval/probe_net.hpp)
  int train_clips = 120;    // unused: the probes ship trained (train/train_probes.cpp); kept for old command lines
  int test_clips = 200;     // studio clips of held-out combinations that test the scene probe
  int image_clips = 1;      // image-to-video generations for the first-frame PSNR (0..prompts)
  int width = 128, height = 72;
  // Targets (0 disables a section).
  int impact_clips = 4;            // bouncing/falling objects: impacts vs sound onsets (0..24)
  int lip_clips = 2;               // a character says a line: mouth vs speech energy (0..12)
  int cameo_clips = 6;             // identity portrait + prompts not naming it (0..36)
  int negative_clips = 4;          // prompts mentioning rain, each with and without negative "rain" (0..24)
  double long_seconds = 25;        // one long clip's length; 0 disables, else 6..25
  int character_train_clips = 200; // unused (the probes ship trained); kept for old command lines
  int character_test_clips = 200;  // studio clips with a character that test setting/weather/time/identity
  int detector_clips = 24;         // studio clips (bounces, falls) that test the impact detector against truth (0..500)
  int mouth_clips = 6;             // studio talking close-ups that test the mouth reader against truth (0..100)
};

// Impacts and sound onsets of one clip (studio or generated).
struct ImpactReading {
  int visual_impacts = 0;      // impacts the pixel detector found
  int with_onset = 0;          // of those, with a sound onset within kSyncTolerance
  int onsets = 0;              // onsets the sound detector found
  double seconds = 0;
  std::vector<double> visual_times, onset_times;  // seconds: where each detector found them
  // Studio clips only: the detectors against the truth's ground impacts of visible objects.
  int truth_impacts = 0;
  int truth_seen = 0;          // truth impacts with a visual impact within the tolerance
  int truth_heard = 0;         // truth impacts with a sound onset within the tolerance
  int visual_true = 0;         // visual impacts with a truth impact within the tolerance
};

struct ImpactClip {
  std::string prompt;
  ImpactReading generated, studio;
};

struct LipReading {
  double correlation = 0;  // best mouth/speech-energy correlation at a lag of -1..1 frames
  int lag = 0;             // its lag, frames (speech later than mouth when positive)
  double best_any_lag = 0; // best correlation at any lag of -6..6 frames
  int best_lag = 0;
  bool met() const;        // correlation >= 0.5 within one frame
};

struct LipClip {
  std::string prompt;
  LipReading generated, studio;
  double studio_truth_correlation = 0;  // pixel measure vs the truth's drawn mouth openness (studio)
};

struct CameoClip {
  std::string prompt;
  std::vector<std::string> asked, read;  // skin, hair, shirt
  bool rain_read = false;  // the weather probe's reading (the prompt asks for none): a false-alarm baseline
};

struct NegativeClip {
  std::string prompt;
  bool seen_without = false, seen_with = false;  // the thing read by its probe
};

struct ProbeScore {
  std::string attribute;
  int classes = 0;
  double chance = 0;
  double studio_accuracy = 0;
  int studio_clips = 0;  // clips where the attribute is shown (a bald character has no hair colour)
};

// The visual impact detector against the studio truth's impacts (clips of bounces and falls).
struct DetectorScore {
  int clips = 0, truth = 0, truth_seen = 0, found = 0, found_true = 0;
  double seconds = 0;
  double recall() const { return truth ? double(truth_seen) / truth : 0; }
  double precision() const { return found ? double(found_true) / found : 0; }
};

// The mouth reader against the studio's drawn mouth openness (talking close-ups).
struct MouthScore {
  int clips = 0;
  double correlation = 0;  // mean over clips, lag 0
};

struct LongClipResult {
  std::string prompt;
  double seconds = 0, window_seconds = 0;
  std::vector<std::string> attributes, asked, first, last;  // setting, skin, hair, shirt
  std::vector<std::string> studio_first, studio_last;       // the probes on the studio render of the same scene
};

struct AttributeScore {
  std::string attribute;  // "setting", "time_of_day", "weather", "object", "color", "size", "motion", "camera"
  int classes = 0;
  double chance = 0;               // 1 / classes
  double studio_accuracy = 0;      // probe on held-out studio clips
  int studio_clips = 0;
  double generated_accuracy = 0;   // probe on generated clips vs what the prompt asked
  // The probe on the studio's own render of each generated prompt's scene: the most a
  // generated clip of those prompts can read through these probes (the prompts ask for small
  // objects, a few pixels at 128x72, which the held-out studio test mixes with large ones).
  double same_prompts_studio_accuracy = 0;
};

struct PromptResult {
  std::string prompt;
  std::vector<std::string> asked, read;  // per attribute, in the order of EvalReport::attributes
};

struct EvalReport {
  std::vector<std::string> not_measured;  // parts the model cannot be asked (no image input, no identity)
  std::vector<AttributeScore> attributes;
  std::vector<PromptResult> prompts;
  int train_clips = 0, test_clips = 0, steps = 0;  // train_clips: what trained the shipped probes
  double image_to_video_psnr_db = 0;  // mean over image_clips; first generated frame vs given image
  int image_clips = 0;
  double seconds = 0;  // wall time of the whole evaluation

  std::vector<ProbeScore> character_probes;  // setting, weather, time of day, identity on studio clips with a character
  DetectorScore impact_detector;
  MouthScore mouth_reader;
  int character_train_clips = 0, character_test_clips = 0;
  std::vector<ImpactClip> impacts;
  std::vector<LipClip> lips;
  std::vector<CameoClip> cameos;
  std::vector<NegativeClip> negatives;
  std::string negative_thing;
  std::vector<LongClipResult> long_clips;  // zero or one

  std::string table() const;
  std::string json() const;
};

// Throws opsis::InvalidArgument naming the option for out-of-range values.
void validate(const EvalOptions& options);

EvalReport evaluate(engine::Backend& backend, const EvalOptions& options, const Progress* progress = nullptr);

inline constexpr double kSyncTolerance = 0.042;  // one frame at 24 fps, seconds

// Peak signal-to-noise ratio of two equal-size images, dB (99 when identical).
double psnr_db(const Image& a, const Image& b);

}  // namespace opsis::eval
