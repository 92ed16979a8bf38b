#pragma once
// The LTX-2 family as an engine Backend: a model folder (models/ltx2/model_folder.hpp) opened
// through the same loaders the parity tests prove (Gemma 3 -> text projection and connectors ->
// the audio-video transformer sampled by the reference's guided Euler loop -> video VAE
// decoder; audio VAE decoder -> vocoder), so `opsis generate --model FOLDER` and `opsis serve
// --model FOLDER` make a clip with sound. Torch-free header.
#include <memory>
#include <string>

#include "engine/backend.hpp"

namespace opsis::ltx2 {

// Opens the folder's checkpoint (memory-mapped; its layout checked against its own config
// first, naming a missing or mis-shaped tensor) and text encoder (sharded or not). threads: torch
// threads (0 = libtorch's default). Runs on CUDA when this libtorch has it and a GPU is there.
// Throws opsis::InvalidArgument("model" | "weights", ...) or opsis::IoError.
std::unique_ptr<engine::Backend> open_model_folder(const std::string& folder, int threads = 0);

}  // namespace opsis::ltx2
