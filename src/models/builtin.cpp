#include "models/builtin.hpp"

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/safetensors.hpp"
#include "models/ltx2/backend.hpp"
#include "models/ltx2/model_folder.hpp"
#include "models/mini/backend.hpp"
#include "models/mini2/backend.hpp"
#include "models/mini2/config.hpp"
#include "models/mini2/structured_backend.hpp"

namespace opsis::models {

std::string builtin_weights(const std::string& name_or_path) {
  if (name_or_path.empty()) return builtin_weights(kDefaultBuiltin);
  if (name_or_path == "opsis-mini") return mini::find_weights("opsis-mini.safetensors");
  if (name_or_path == "opsis-mini-2") return mini::find_weights("opsis-mini-2.safetensors");
  if (name_or_path == "opsis-mini-2-structured") return mini::find_weights("opsis-mini-2-structured.safetensors");
  return name_or_path;
}

std::unique_ptr<engine::Backend> open_builtin(const std::string& name_or_path, int threads) {
  const std::string path = builtin_weights(name_or_path.empty() ? kDefaultBuiltin : name_or_path);
  // A folder: an installed open-weight model (LTX-2: checkpoint + text encoder).
  if (ltx2::looks_like_model_folder(path)) return ltx2::open_model_folder(path, threads);
  const auto file = safetensors::read(path);
  const auto model = file.metadata.find("opsis.model");
  if (model != file.metadata.end() && model->second == mini2::kFormat) return mini2::open_backend(path, threads);
  if (model != file.metadata.end() && model->second == mini2::kStructuredFormat) return mini2::open_structured_backend(path, threads);
  return mini::open_backend(path, threads);
}

std::string resolve_model(const std::string& name_or_path, const std::string& data_dir) {
  namespace fs = std::filesystem;
  if (name_or_path.empty() || name_or_path == "opsis-mini" || name_or_path == "opsis-mini-2" || name_or_path == "opsis-mini-2-structured")
    return name_or_path;
  std::error_code error;
  if (fs::exists(name_or_path, error) || name_or_path.find('/') != std::string::npos || name_or_path.ends_with(".safetensors"))
    return name_or_path;
  std::string installed;
  for (const std::string& folder : ltx2::registered_model_folders(data_dir)) {
    try {
      const ltx2::ModelFolder found = ltx2::find_model_folder(folder);
      if (found.name == name_or_path) return folder;
      installed += (installed.empty() ? "" : ", ") + found.name;
    } catch (const std::runtime_error&) {
      // A registered folder that cannot be read is no match; opening it by path says why.
    }
  }
  throw InvalidArgument("model", "no model named '" + name_or_path + "': the built-in ones are opsis-mini-2-structured, opsis-mini-2 and opsis-mini" +
                                     (installed.empty() ? std::string("; none is installed in ") + (fs::path(data_dir) / "models.json").string()
                                                        : "; installed: " + installed));
}

}  // namespace opsis::models
