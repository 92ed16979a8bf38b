#pragma once
// What conditions opsis-mini 2, as context tokens: the prompt's parsed slots (one token per
// setting, time of day, weather, object, character, shot, negative; each the sum of its
// attributes' embeddings), one token per word (hashed, so any text encodes), the phoneme
// timeline, and the identity portrait. Shared by the backend and the trainer.
#include <torch/torch.h>

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "core/av.hpp"
#include "engine/backend.hpp"
#include "models/mini2/config.hpp"
#include "models/mini2/generator.hpp"
#include "studio/spec.hpp"

namespace opsis::mini2 {

struct SlotToken {
  std::array<int64_t, kSlotFields> ids{};  // vocabulary ids, 0 = none
  float start = 0, end = 0;  // seconds on the clip clock (when has_time)
  bool has_time = false;
  float value = 0;
};

// Size of the slot vocabulary for a config (ids are in [1, size)).
int64_t slot_vocabulary_size(const GeneratorConfig& config);

// Which parts of a spec become tokens: everything (a prompt: what it leaves unsaid takes the
// studio's defaults, as the studio renders it), or only what differs from the defaults (a
// negative prompt: "rain" must not also push away from the default meadow).
enum class SlotScope { Everything, NamedOnly };
std::vector<SlotToken> slot_tokens(const studio::SceneSpec& spec, SlotScope scope, const GeneratorConfig& config);
std::vector<SlotToken> word_tokens(const std::string& text, const GeneratorConfig& config);
std::vector<SlotToken> phoneme_tokens(const std::vector<engine::PhonemeCue>& phonemes, double time_offset,
                                      const GeneratorConfig& config);

struct ContextRow {
  std::vector<SlotToken> tokens;
  std::optional<Image> identity;
};

// A prompt's row: its parsed slots, words, phonemes (window clock -> clip clock).
ContextRow prompt_row(const std::string& prompt, SlotScope scope, const std::vector<engine::PhonemeCue>& phonemes,
                      double time_offset, const GeneratorConfig& config);

// Rows -> a padded batch (every row gets at least one token: a null token).
ContextInputs context_inputs(const std::vector<ContextRow>& rows, const GeneratorConfig& config);
ContextInputs to_device(const ContextInputs& inputs, const torch::Device& device);

// Any image -> [S, S, 3] in [-1, 1] (area-resampled; aspect not kept).
torch::Tensor identity_tensor(const Image& image, int size);

}  // namespace opsis::mini2
