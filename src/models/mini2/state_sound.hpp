#pragma once
// opsis-mini 2's structured variant, part 3: the sound made from scene states. Per 10 ms
// sound frame, features read from the states (impact onsets and their decays per object and
// material, rolling and flying speeds, wing beats, footsteps, the setting's ambience, rain)
// go through a dilated 1-D convolutional network to the sound latent (normalised log-mel,
// sound_latent.hpp), turned into a waveform by phase reconstruction. Speech stays espeak-ng,
// mixed in by the pipeline. Trained on the studio's sound of simulated scenes whose impacts
// sit on the state frames (train/train_mini2_states.cpp), so an impact is heard on the frame
// where the picture shows it.
#include <vector>

#include <torch/torch.h>

#include "studio/spec.hpp"
#include "studio/world.hpp"

namespace opsis::mini2 {

inline constexpr int kSoundFeatureDims = 13 + 4 * 14 + 2 * 4;

// frames: the scene's states at `fps` sound frames a second (decode_states at 100 for a 10 ms
// hop); impacts: Impact events (entity, time). -> [frames.size(), kSoundFeatureDims]
std::vector<float> sound_features(const studio::SceneSpec& spec, const std::vector<studio::FrameState>& frames,
                                  const std::vector<studio::Event>& impacts, int fps);

struct SoundNetImpl : torch::nn::Module {
  explicit SoundNetImpl(int mels = 64, int width = 128);
  // features: [B, frames, kSoundFeatureDims] -> normalised log-mel [B, frames, mels]
  torch::Tensor forward(const torch::Tensor& features);
  torch::nn::Conv1d in{nullptr}, out{nullptr};
  torch::nn::ModuleList blocks{nullptr};
};
TORCH_MODULE(SoundNet);

}  // namespace opsis::mini2
