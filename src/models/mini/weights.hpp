#pragma once
// opsis-mini <-> safetensors: tensor names are the module's parameter names
// ("blocks.0.video.self_attn.q.weight"), the config is the metadata entry "opsis.config".
#include <map>
#include <string>

#include "core/safetensors.hpp"
#include "models/mini/model.hpp"

namespace opsis::mini {

safetensors::File to_safetensors(MiniModel& model, safetensors::DType dtype = safetensors::DType::F32,
                                 const std::map<std::string, std::string>& extra_metadata = {});
// Builds the model from the file's config and loads every tensor; throws
// opsis::InvalidArgument("weights", ...) naming a missing, extra or mis-shaped tensor.
MiniModel from_safetensors(const safetensors::File& file);
// Warm start: copies every tensor of the file whose name and shape match a parameter of the
// model; returns how many parameters were copied (the rest keep their values).
int load_matching(MiniModel& model, const safetensors::File& file);

void save_model(MiniModel& model, const std::string& path, safetensors::DType dtype = safetensors::DType::F32,
                const std::map<std::string, std::string>& extra_metadata = {});
MiniModel load_model(const std::string& path);

}  // namespace opsis::mini
