#pragma once
// Random studio scenes for training: every attribute drawn uniformly, held-out combinations
// redrawn.
#include <random>

#include "studio/spec.hpp"

namespace opsis::train {

studio::SceneSpec random_scene(std::mt19937_64& rng, double seconds);

}  // namespace opsis::train
