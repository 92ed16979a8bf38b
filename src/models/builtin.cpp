#include "models/builtin.hpp"

#include <algorithm>
#include <filesystem>
#include <iterator>
#include <utility>
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

namespace {

// The built-in models' names and their shipped weights files.
const std::pair<const char*, const char*> kBuiltins[] = {{"opsis-mini", "opsis-mini.safetensors"},
                                                         {"opsis-mini-2", "opsis-mini-2.safetensors"},
                                                         {"opsis-mini-2-structured", "opsis-mini-2-structured.safetensors"}};

}  // namespace

std::string builtin_weights(const std::string& name_or_path) {
  if (name_or_path.empty()) return builtin_weights(kDefaultBuiltin);
  for (const auto& [name, file] : kBuiltins)
    if (name_or_path == name) return mini::find_weights(file);
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
  if (name_or_path.empty() || std::any_of(std::begin(kBuiltins), std::end(kBuiltins), [&](const auto& b) { return name_or_path == b.first; }))
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
