#pragma once
// Attribute combinations the trainer never shows the model, so that evaluation on them
// measures composition (known parts in a new combination), not memory.
#include <vector>

#include "studio/spec.hpp"

namespace opsis::train {

struct HeldOutObject {
  studio::ObjectKind kind;
  studio::Color color;
  studio::Motion motion;
};
struct HeldOutShot {
  studio::Setting setting;
  studio::CameraMove camera;
};

const std::vector<HeldOutObject>& held_out_objects();
const std::vector<HeldOutShot>& held_out_shots();

// True if any object or any shot of the spec is one of the held-out combinations.
bool is_held_out(const studio::SceneSpec& spec);

}  // namespace opsis::train
