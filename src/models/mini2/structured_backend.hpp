#pragma once
// opsis-mini 2's structured variant as an engine::Backend: the prompt's parsed scene and the
// dialogue condition the scene-state flow (state_flow.hpp), whose latent is the state sequence
// the sampler integrates; decoding draws the states with the learned layered renderer
// (layered_renderer.hpp) and makes their sound (state_sound.hpp). No studio renderer or
// simulation runs. Torch-free header.
#include <memory>
#include <string>

#include "engine/backend.hpp"

namespace opsis::mini2 {

// The "opsis.model" metadata of a structured weights file.
inline constexpr const char* kStructuredFormat = "opsis-mini-2-structured";

// Loads a structured weights file ("renderer.", "flow.", "sound." parts; "identity." when it
// takes identity portraits). threads 0 = libtorch's
// default. Throws opsis::IoError or opsis::InvalidArgument("weights", ...) naming what is missing.
std::unique_ptr<engine::Backend> open_structured_backend(const std::string& weights_path, int threads = 0);

// Writes a structured weights file from the trainers' run files (the renderer's weights and
// identity reader, the state flow's EMA weights and sound network).
void assemble_structured_weights(const std::string& renderer_path, const std::string& states_path, const std::string& out_path);

}  // namespace opsis::mini2
