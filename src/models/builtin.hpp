#pragma once
// The built-in models by name or weights file: "opsis-mini" (the first, pixel-patch model),
// "opsis-mini-2" (autoencoder latents + joint generator), "opsis-mini-2-structured" (scene-state
// flow + learned layered renderer + sound from states), or a path to a weights file whose
// metadata says which it is. Torch-free header.
#include <memory>
#include <string>
#include <vector>

#include "engine/backend.hpp"

namespace opsis::models {

// The built-in model used when none is named: the structured variant, whose clips show the
// scene the prompt asks for (models/opsis-mini-2.md, session 8) where the latent one still
// draws blurred colour fields. It takes no first frame, so a request that starts from an image
// and names no model goes to kDefaultImageBuiltin, the latent variant, which does.
inline constexpr const char* kDefaultBuiltin = "opsis-mini-2-structured";
inline constexpr const char* kDefaultImageBuiltin = "opsis-mini-2";

// Path of a built-in model's shipped weights, or `name_or_path` itself when it is not a
// built-in name. Throws opsis::IoError when the shipped file cannot be found.
std::string builtin_weights(const std::string& name_or_path);

// Opens the model (a built-in name, a weights file, or an installed model's folder: LTX-2,
// models/ltx2/model_folder.hpp); throws opsis::IoError (unreadable) or opsis::InvalidArgument("weights", ...).
std::unique_ptr<engine::Backend> open_builtin(const std::string& name_or_path, int threads = 0);

// What --model names: a built-in name, a weights file or model folder path as given, else the
// name of a model registered in data_dir's models.json (its folder; models/ltx2/model_folder.hpp). Throws
// opsis::InvalidArgument("model", ...) listing what is installed when the name is none of these.
std::string resolve_model(const std::string& name_or_path, const std::string& data_dir);

}  // namespace opsis::models
