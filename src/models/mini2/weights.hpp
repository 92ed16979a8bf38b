#pragma once
// opsis-mini 2 <-> safetensors. One file holds the parts under prefixes ("autoencoder.",
// later "generator."), tensor names equal the modules' parameter names after the prefix, and
// the config is the metadata entry "opsis.config" (JSON with "format": "opsis-mini-2").
#include <map>
#include <string>

#include <torch/torch.h>

#include "core/safetensors.hpp"
#include "models/mini2/config.hpp"

namespace opsis::mini2 {

// The config of a weights file. Throws opsis::InvalidArgument("weights", ...) that says what
// the file is when it is not opsis-mini 2 (for example opsis-mini 1 weights).
Mini2Config read_config(const safetensors::File& file);

void add_tensors(safetensors::File& file, torch::nn::Module& module, const std::string& prefix,
                 safetensors::DType dtype = safetensors::DType::F32);
// Loads every parameter of `module` from `prefix` + its name; throws
// opsis::InvalidArgument("weights", ...) naming a missing or mis-shaped tensor.
void load_tensors(torch::nn::Module& module, const safetensors::File& file, const std::string& prefix);
// True when the file has at least one tensor under `prefix`.
bool has_part(const safetensors::File& file, const std::string& prefix);

}  // namespace opsis::mini2
