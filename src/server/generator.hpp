#pragma once
// What the server needs from a video model, and nothing more: a request in, picture and
// sound out, with progress and cancellation per call. The job runner never knows which
// model runs; models are found by name in a registry (aliases such as "sora-2" included).
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/av.hpp"
#include "core/progress.hpp"

namespace opsis::server {

// One step in a clip's making: created from a prompt, remixed with one, or extended by
// `seconds` as one directs.
struct PromptStep {
  enum class Use { Create, Remix, Extend };
  Use use = Use::Create;
  std::string prompt;
  int seconds = 0;  // the clip's length (create), or the seconds added (extend)
};

// A finished clip that a new one derives from.
struct SourceClip {
  PromptStep::Use use = PromptStep::Use::Remix;  // Remix or Extend
  std::vector<PromptStep> history;  // the steps that made the source, oldest first
  Video video;  // decoded frames of the source
  Audio audio;  // decoded sound of the source
};

struct GenerationRequest {
  std::string model;      // the registry's canonical name
  std::string prompt;
  int seconds = 4;        // length of the clip to make; for an extension, the added seconds
  int width = 1280;
  int height = 720;
  uint64_t seed = 0;
  std::optional<Image> first_frame;   // input_reference
  std::optional<SourceClip> source;   // remix or extension
};

struct GenerationResult {
  Video video;
  Audio audio;
};

struct ModelInfo {
  std::string name;
  std::string description;
  std::vector<std::string> sizes;    // "WIDTHxHEIGHT"
  std::vector<int> seconds;          // accepted clip lengths
  bool image_to_video = false;       // input_reference accepted
  std::string input_reference_note; // what the model does with it
};

class Generator {
 public:
  virtual ~Generator() = default;
  virtual ModelInfo info() const = 0;
  // Throws opsis::InvalidArgument (naming the field) for a request this model cannot make,
  // opsis::Cancelled when progress->cancelled() says stop. Reports fractions in [0, 1].
  virtual GenerationResult generate(const GenerationRequest& request, const Progress* progress) = 0;
};

class ModelRegistry {
 public:
  void add(std::shared_ptr<Generator> generator);
  void add_alias(const std::string& alias, const std::string& model);
  // The canonical name for a name or alias; throws InvalidArgument("model") if unknown.
  std::string resolve(const std::string& name_or_alias) const;
  Generator& get(const std::string& canonical_name) const;
  std::vector<ModelInfo> models() const;
  const std::map<std::string, std::string>& aliases() const { return aliases_; }

 private:
  std::map<std::string, std::shared_ptr<Generator>> generators_;
  std::map<std::string, std::string> aliases_;
};

// The registry of every model this build has: opsis-studio, and "sora-2" / "sora-2-pro"
// mapped to `default_model` (empty = opsis-studio).
std::shared_ptr<ModelRegistry> make_default_registry(const std::string& default_model = "",
                                                     const std::vector<std::string>& model_folders = {});

}  // namespace opsis::server
