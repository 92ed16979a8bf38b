#include "server/generator.hpp"

#include <algorithm>
#include <cstdio>

#include "core/error.hpp"
#include "server/studio_generator.hpp"
#ifdef OPSIS_HAVE_MINI
#include "models/builtin.hpp"
#include "models/mini/backend.hpp"
#include "server/engine_generator.hpp"
#endif
#include "models/ltx2/model_folder.hpp"

namespace opsis::server {

void ModelRegistry::add(std::shared_ptr<Generator> generator) {
  const std::string name = generator->info().name;
  generators_[name] = std::move(generator);
}

void ModelRegistry::add_alias(const std::string& alias, const std::string& model) {
  if (!generators_.count(model)) throw InvalidArgument("model", "alias " + alias + " names an unknown model " + model);
  aliases_[alias] = model;
}

std::string ModelRegistry::resolve(const std::string& name_or_alias) const {
  if (generators_.count(name_or_alias)) return name_or_alias;
  if (auto it = aliases_.find(name_or_alias); it != aliases_.end()) return it->second;
  std::string known;
  for (const auto& [name, generator] : generators_) known += (known.empty() ? "" : ", ") + name;
  for (const auto& [alias, model] : aliases_) known += ", " + alias;
  throw InvalidArgument("model", "unknown model '" + name_or_alias + "'; this server has: " + known);
}

Generator& ModelRegistry::get(const std::string& canonical_name) const {
  auto it = generators_.find(canonical_name);
  if (it == generators_.end()) throw InvalidArgument("model", "unknown model '" + canonical_name + "'");
  return *it->second;
}

std::vector<ModelInfo> ModelRegistry::models() const {
  std::vector<ModelInfo> out;
  for (const auto& [name, generator] : generators_) out.push_back(generator->info());
  return out;
}

std::shared_ptr<ModelRegistry> make_default_registry(const std::string& default_model, const std::vector<std::string>& model_folders) {
  auto registry = std::make_shared<ModelRegistry>();
  registry->add(std::make_shared<StudioGenerator>());
#ifdef OPSIS_HAVE_MINI
  // The built-in learned model, when its weights are found (models/opsis-mini.safetensors).
  try {
    registry->add(std::make_shared<EngineGenerator>(
        "opsis-mini", "The built-in joint audio-video diffusion model trained on the studio world (CPU).",
        mini::open_backend(mini::find_weights())));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "opsis serve: opsis-mini is not served: %s\n", e.what());
  }
  // opsis-mini 2 (autoencoder latents + joint generator), once its generator is trained in.
  try {
    registry->add(std::make_shared<EngineGenerator>(
        "opsis-mini-2", "opsis-mini 2: a joint audio-video flow model over learned latents, trained on the studio world (CPU).",
        models::open_builtin("opsis-mini-2")));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "opsis serve: opsis-mini-2 is not served: %s\n", e.what());
  }
  // Its structured variant (scene-state flow + learned layered renderer); no first frame.
  try {
    registry->add(std::make_shared<EngineGenerator>(
        "opsis-mini-2-structured",
        "opsis-mini 2, structured: a flow over per-frame scene states drawn by a learned layered renderer, with sound made "
        "from the states, trained on the studio world (CPU; no first frame).",
        models::open_builtin("opsis-mini-2-structured")));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "opsis serve: opsis-mini-2-structured is not served: %s\n", e.what());
  }
  // Installed open-weight models (folders: LTX-2), served by their names; --model may name a
  // folder too, which is then what sora-2 means.
  std::vector<std::string> folders = model_folders;
  std::string default_name = default_model;
  const bool default_is_folder = !default_model.empty() && ltx2::looks_like_model_folder(default_model);
  if (default_is_folder && std::find(folders.begin(), folders.end(), default_model) == folders.end()) folders.push_back(default_model);
  for (const std::string& folder : folders) {
    try {
      auto backend = models::open_builtin(folder);
      const std::string name = backend->capabilities().name;
      for (const ModelInfo& served : registry->models())
        if (served.name == name) throw InvalidArgument("model", "a model named " + name + " is served already");
      if (default_is_folder && folder == default_model) default_name = name;
      registry->add(std::make_shared<EngineGenerator>(name, "LTX-2 (open weights, joint audio-video), installed at " + folder, std::move(backend)));
    } catch (const std::exception& e) {
      if (default_is_folder && folder == default_model) throw;  // what sora-2 should mean cannot be served
      std::fprintf(stderr, "opsis serve: the model in %s is not served: %s\n", folder.c_str(), e.what());
    }
  }
#else
  if (!default_model.empty() && ltx2::looks_like_model_folder(default_model))
    throw InvalidArgument("model", "this opsis was built without libtorch, so it serves no installed model folders");
  for (const std::string& folder : model_folders)
    std::fprintf(stderr, "opsis serve: the model in %s is not served: this opsis was built without libtorch\n", folder.c_str());
  const std::string& default_name = default_model;
#endif
  const std::string target = default_name.empty() ? std::string(StudioGenerator::kName) : registry->resolve(default_name);
  for (const char* alias : {"sora-2", "sora-2-pro", "sora-2-2025-10-06", "sora-2-pro-2025-10-06", "sora-2-2025-12-08"})
    registry->add_alias(alias, target);
  return registry;
}

}  // namespace opsis::server
