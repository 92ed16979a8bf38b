#pragma once
// "opsis-studio": the studio world as a video model. It renders exactly the scene the
// prompt describes (src/studio), so it is deterministic for (prompt, size, seconds, seed).
#include "server/generator.hpp"
#include "studio/spec.hpp"

namespace opsis::server {

class StudioGenerator final : public Generator {
 public:
  static constexpr const char* kName = "opsis-studio";
  ModelInfo info() const override;
  GenerationResult generate(const GenerationRequest& request, const Progress* progress) override;
};

// The scene a history of prompt steps describes: the first step's prompt parsed, each remix
// applying what its prompt changes (setting, time of day, weather, objects, characters,
// camera, negatives) and keeping the rest, each extension adding a shot of its seconds.
studio::SceneSpec scene_for_history(const std::vector<PromptStep>& history);

// Frames [0, fade) blend from `image` (centre-cropped and scaled to the video's size) into
// the video; frame 0 is the image itself. video.rgb: [frames, height, width, 3].
void fade_in_from_image(Video& video, const Image& image, int fade_frames);

}  // namespace opsis::server
