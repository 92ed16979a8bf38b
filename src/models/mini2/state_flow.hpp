#pragma once
// opsis-mini 2's structured variant, part 2: a flow model over per-frame scene states. From
// the prompt's parsed scene (setting, objects and their motion, characters and their action,
// shots with their camera move, framing and lens) and the dialogue's phoneme timeline it
// makes, 12 times a second, the camera pose and every entity's pose (position, turn, squash,
// walk and wave phases, mouth, wings) and impact flags; the layered renderer
// (layered_renderer.hpp) draws them and the sound is made from the impacts. It learns from
// the studio's simulation alone (no pixels), so composition, motion and camera moves are
// learned where they are cheap.
//
// A state vector per frame [kStateDims]: the camera (6) then kStateSlots entity slots of
// kSlotStateDims (objects in slots 0-3, characters in 4-5), each value scaled to about [-1, 1].
#include <array>
#include <vector>

#include <torch/torch.h>

#include "core/safetensors.hpp"
#include "engine/backend.hpp"
#include "models/layers/layers.hpp"
#include "studio/spec.hpp"
#include "studio/world.hpp"

namespace opsis::mini2 {

inline constexpr int kStateFps = 12;
// The layout of states and conditions; weights made for another layout are refused.
inline constexpr const char* kStateLayoutVersion = "2";
inline constexpr int kStateSlots = 6, kObjectSlots = 4;
inline constexpr int kCameraStateDims = 6, kSlotStateDims = 24;
inline constexpr int kStateDims = kCameraStateDims + kStateSlots * kSlotStateDims;
inline constexpr int kStaticConditionDims = 8 + 3 + 2 + kObjectSlots * 17 + 2 * 7;
inline constexpr int kFrameConditionDims = 10 + 2 + 3 + 4 + 2 + 2 * 7 + 2;

// Throws InvalidArgument (naming `path`) unless a file's "opsis.state_layout" is kStateLayoutVersion.
void require_state_layout(const safetensors::File& file, const std::string& path);

// Which slot an entity (objects first, then characters) takes.
int state_slot(const studio::SceneSpec& spec, int entity);

// The scene's states as the flow's data: [frames, kStateDims] at kStateFps (frames taken from
// a timeline simulated at kStateFps), with the impact flags from its events; and a mask
// [kStateDims] that is 1 where a dimension belongs to something in the scene.
std::vector<float> encode_states(const studio::SceneSpec& spec, const std::vector<studio::FrameState>& frames,
                                 const std::vector<studio::Event>& events);
std::vector<float> state_mask(const studio::SceneSpec& spec);

// Sets every slot's impact flag of one state vector [kStateDims] to "none".
void mark_no_impacts(float* state);

// What conditions the flow: [kStaticConditionDims] and [frames, kFrameConditionDims]. The
// phonemes (on the clip's clock) are spoken by the first talking character, the second
// talking character's by `second_speaker` (may be empty).
std::vector<float> static_condition(const studio::SceneSpec& spec);
std::vector<float> frame_condition(const studio::SceneSpec& spec, int frames, const std::vector<engine::PhonemeCue>& first_speaker,
                                   const std::vector<engine::PhonemeCue>& second_speaker = {});

// States [frames, kStateDims] at kStateFps -> frame states at `fps` (interpolated; shots by the
// spec's durations) and the impacts they flag (kind Impact, entity, time).
struct DecodedStates {
  std::vector<studio::FrameState> frames;
  std::vector<studio::Event> impacts;
};
DecodedStates decode_states(const studio::SceneSpec& spec, const float* states, int frames, int fps);

struct StateFlowBlockImpl : torch::nn::Module {
  StateFlowBlockImpl(int d, int heads);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& modulation, const torch::Tensor& mask);
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  layers::Attention attention{nullptr};
  torch::nn::Linear ff1{nullptr}, ff2{nullptr}, modulate{nullptr};
};
TORCH_MODULE(StateFlowBlock);

struct StateFlowImpl : torch::nn::Module {
  explicit StateFlowImpl(int d = 160, int blocks = 4, int heads = 4);
  // x: [B, T, kStateDims] noisy states, t: [B] noise level in [0, 1], statics: [B, kStaticConditionDims],
  // per_frame: [B, T, kFrameConditionDims], mask: [B, T] bool (true = a frame) -> velocity [B, T, kStateDims].
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& statics,
                        const torch::Tensor& per_frame, const torch::Tensor& mask);
  int d;
  torch::nn::Linear in{nullptr}, static_in{nullptr}, time_in{nullptr}, frame_time_in{nullptr}, out{nullptr};
  torch::nn::ModuleList blocks{nullptr};
  torch::nn::LayerNorm out_norm{nullptr};
};
TORCH_MODULE(StateFlow);

// The velocity the sampler follows: the flow's where `mask` [kStateDims] is 1 (what the scene
// has), and elsewhere the exact velocity of the data there, which is 0: x_t / t. Training sees
// x_t = t * noise in the slots a scene does not use (its loss is masked there), so left to the
// network's unconstrained output those values drifted off that path during sampling, and since
// every value feeds every token they spoiled the rest (the camera read 0% from samples until
// session 7 found this). x: [B, T, kStateDims], v: the flow's velocity, t > 0.
torch::Tensor masked_velocity(const torch::Tensor& v, const torch::Tensor& x, double t, const torch::Tensor& mask);

// Euler integration of the flow from noise (seeded) to states: [T, kStateDims]. mask: state_mask(spec).
torch::Tensor sample_states(StateFlow& flow, const std::vector<float>& statics, const std::vector<float>& per_frame, int frames,
                            int steps, uint64_t seed, const std::vector<float>& mask);

}  // namespace opsis::mini2
