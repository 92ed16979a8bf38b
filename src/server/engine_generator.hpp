#pragma once
// A learned model behind the engine's Pipeline (src/engine) as a server Generator: today
// opsis-mini. Remix conditions the new prompt on the source's first frame (same size, length
// and seed); an extension starts from the source's last frame and is appended to it.
#include <memory>
#include <mutex>

#include "engine/backend.hpp"
#include "server/generator.hpp"

namespace opsis::server {

class EngineGenerator final : public Generator {
 public:
  EngineGenerator(std::string name, std::string description, std::unique_ptr<engine::Backend> backend);
  ModelInfo info() const override;
  GenerationResult generate(const GenerationRequest& request, const Progress* progress) override;

 private:
  std::string name_;
  std::string description_;
  std::unique_ptr<engine::Backend> backend_;
  std::mutex mutex_;  // one generation at a time per loaded model
};

}  // namespace opsis::server
