#include "models/builtin.hpp"

#include "core/safetensors.hpp"
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
  const auto file = safetensors::read(path);
  const auto model = file.metadata.find("opsis.model");
  if (model != file.metadata.end() && model->second == mini2::kFormat) return mini2::open_backend(path, threads);
  if (model != file.metadata.end() && model->second == mini2::kStructuredFormat) return mini2::open_structured_backend(path, threads);
  return mini::open_backend(path, threads);
}

}  // namespace opsis::models
