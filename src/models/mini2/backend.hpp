#pragma once
// opsis-mini 2 as an engine::Backend. Torch-free header: callers (the CLI, the server) include
// only this and the engine.
#include <memory>
#include <string>

#include "engine/backend.hpp"

namespace opsis::mini2 {

// Loads an opsis-mini 2 weights file (autoencoder + generator; config from its metadata).
// threads 0 = libtorch's default. Throws opsis::IoError (unreadable) or
// opsis::InvalidArgument("weights", ...) saying what the file is when it is not usable
// (opsis-mini 1 weights, or an autoencoder alone whose generator has not been trained yet).
std::unique_ptr<engine::Backend> open_backend(const std::string& weights_path, int threads = 0);

}  // namespace opsis::mini2
