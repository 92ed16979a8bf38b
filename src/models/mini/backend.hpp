#pragma once
// opsis-mini as an engine::Backend. Torch-free header: callers (the CLI, the server) include
// only this and the engine.
#include <memory>
#include <string>

#include "engine/backend.hpp"

namespace opsis::mini {

// Loads weights (config from the file's metadata). threads 0 = libtorch's default.
// Throws opsis::IoError (unreadable) or opsis::InvalidArgument("weights", ...) (not opsis-mini).
std::unique_ptr<engine::Backend> open_backend(const std::string& weights_path, int threads = 0);

// Where the shipped weights are: $OPSIS_MODELS_DIR, <executable>/../models, <executable>/../../models,
// <executable>/../share/opsis/models, then the source tree's models/. Throws opsis::IoError listing
// the places looked at when none has opsis-mini.safetensors.
std::string find_weights(const std::string& file_name = "opsis-mini.safetensors");

}  // namespace opsis::mini
