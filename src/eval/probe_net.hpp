#pragma once
// The evaluation's learned probes: two small CNNs (libtorch) trained on studio clips with
// their ground truth (train/train_probes.cpp), shipped as models/opsis-probes.safetensors
// and loaded by `opsis eval`.
//  - the scene probe reads a whole clip (8 moments across it, each a frame and its change
//    over 1/12 s, at 128x72): setting, time of day, weather, and the scene's main object
//    (kind, colour, size, motion) and the camera move;
//  - the character probe reads a character inside its screen box (4 moments, 32x64 crops):
//    skin, hair colour, hair style, shirt colour, accessory;
//  - the object reader (object_probe.hpp), where present, replaces the scene CNN's object,
//    colour, size, motion and camera readings.
// Any clip size is resampled to the native 128x72; any frame rate is sampled by time.
#include <torch/torch.h>

#include <array>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "core/av.hpp"
#include "eval/features.hpp"
#include "eval/impact_net.hpp"
#include "eval/object_probe.hpp"
#include "studio/spec.hpp"
#include "studio/studio.hpp"

namespace opsis::eval {

struct HeadSpec {
  const char* name;
  int classes;
};

inline constexpr int kSceneHeads = 8;
inline constexpr std::array<HeadSpec, kSceneHeads> kSceneHeadSpecs{{{"setting", 8},
                                                                    {"time_of_day", 3},
                                                                    {"weather", 2},
                                                                    {"object", 5},
                                                                    {"color", 8},
                                                                    {"size", 2},
                                                                    {"motion", 9},
                                                                    {"camera", 10}}};
enum SceneHead { kSetting = 0, kTimeOfDay, kWeather, kObject, kColor, kSize, kMotion, kCamera };

inline constexpr int kCharacterHeads = 5;
inline constexpr std::array<HeadSpec, kCharacterHeads> kCharacterHeadSpecs{
    {{"skin", 5}, {"hair", 6}, {"hair_style", 3}, {"shirt", 8}, {"accessory", 3}}};
enum CharacterHead { kSkin = 0, kHair, kHairStyle, kShirt, kAccessory };

// Canonical word of a head's class.
std::string scene_label_name(int head, int value);
std::string character_label_name(int head, int value);

// Truth labels of a spec (-1 where the clip does not show the attribute: no object, a bald
// character's hair colour, any identity at night). The scene's main object is objects[0]; the character characters[0].
std::array<int, kSceneHeads> scene_labels(const studio::SceneSpec& spec);
std::array<int, kCharacterHeads> character_labels(const studio::SceneSpec& spec);

// Network inputs. Native size and the moments sampled.
inline constexpr int kNetWidth = 128, kNetHeight = 72, kSceneMoments = 8;
inline constexpr int kCropWidth = 32, kCropHeight = 64, kCharacterMoments = 4;

// Area-averaged resample of a source rectangle [sx0, sx1) x [sy0, sy1) (pixels, fractional)
// of frame t to out_w x out_h RGB, appended to `out`. Bilinear when upsampling.
void resample_rgb(const Video& video, int t, double sx0, double sy0, double sx1, double sy1, int out_w, int out_h,
                  std::vector<uint8_t>& out);

// Compact (uint8) inputs, so that a training set fits in memory: the scene input is
// kSceneMoments pairs of frames [16][72][128][3]; the character input 4 crops [4][64][32][3].
std::vector<uint8_t> scene_frames(const Video& video);
std::vector<uint8_t> character_crops(const Video& video, const std::vector<Box>& boxes);
// Float network inputs from a batch of compact ones: [n][32][72][128] (per moment the frame's
// RGB and its grey change over 1/12 s) and [n][12][64][32].
torch::Tensor scene_tensor(const std::vector<const std::vector<uint8_t>*>& batch);
torch::Tensor character_tensor(const std::vector<const std::vector<uint8_t>*>& batch);

struct SceneNetImpl : torch::nn::Module {
  SceneNetImpl();
  std::vector<torch::Tensor> forward(torch::Tensor x);  // logits per head
  torch::nn::Sequential body{nullptr};
  torch::nn::Linear fc{nullptr};
  torch::nn::ModuleList heads{nullptr};
};
TORCH_MODULE(SceneNet);

struct CharacterNetImpl : torch::nn::Module {
  CharacterNetImpl();
  std::vector<torch::Tensor> forward(torch::Tensor x);
  torch::nn::Sequential body{nullptr};
  torch::nn::Linear fc{nullptr};
  torch::nn::ModuleList heads{nullptr};
};
TORCH_MODULE(CharacterNet);

// Both probes and the impact detector, loaded from (or saved to) one safetensors file:
// tensors "scene.*", "character.*" and "impact.*", metadata with how they were trained.
class Probes {
 public:
  Probes();
  // Throws opsis::IoError / InvalidArgument for a missing or malformed file (allow_missing:
  // a part whose tensors are all absent keeps its fresh weights; for the trainer).
  static Probes load(const std::string& path, bool allow_missing = false);
  // Takes the parts (any of "scene", "character", "impact" in `parts`) present in another
  // probes file, and its metadata; for the trainer.
  void merge(const std::string& path, const std::string& parts = "scene,character,impact,object");
  void save(const std::string& path, const std::map<std::string, std::string>& metadata) const;

  // Every scene head; object, colour, size, motion and camera from the object reader when
  // the file has one (object_probe.hpp).
  std::array<int, kSceneHeads> read_scene(const Video& video) const;
  // The object reader alone: kind, colour, size, motion, camera move.
  std::array<int, 5> read_object(const ObjectFrames& frames) const;
  std::array<int, kCharacterHeads> read_character(const Video& video, const std::vector<Box>& boxes) const;
  // Batched reads of compact inputs.
  std::vector<std::array<int, kSceneHeads>> read_scenes(const std::vector<const std::vector<uint8_t>*>& inputs) const;
  std::vector<std::array<int, kCharacterHeads>> read_characters(const std::vector<const std::vector<uint8_t>*>& inputs) const;

  // Visual impact times (seconds) of a clip; see impact_net.hpp.
  std::vector<double> impacts(const Video& video) const;

  SceneNet scene;
  CharacterNet character;
  ImpactNet impact;
  ObjectMapNet object_map;
  MotionNet motion;
  bool has_object_reader = false;
  std::map<std::string, std::string> metadata;
};

// ---- Studio scenes for training and testing the probes ----

// A one-object scene (sometimes with a character beside it) or a character-only scene, 4 s
// (objects) or 2 s (character only), random setting, time of day, weather, camera move and
// speed. held_out: the object and the shot are one of train/holdout's held-out combinations;
// otherwise none of them appears.
studio::SceneSpec probe_object_scene(std::mt19937_64& rng, bool held_out);
// One character (any identity, bald and accessories included) in a random setting, time of
// day and weather, doing something, medium shot, static camera, 2 s.
studio::SceneSpec probe_character_scene(std::mt19937_64& rng);

inline constexpr int kProbeFps = 12;

// The entity's screen box per frame of a studio clip (empty where it is not seen).
std::vector<Box> boxes_of(const studio::Clip& clip, int entity);  // studio clips for the probes are rendered at 12 frames/s

}  // namespace opsis::eval
