#pragma once
// The studio world's sound: every impact sounds with its material's timbre at a loudness
// that follows the impact speed; rolling rumbles; cars hum with pitch following speed;
// birds flap and chirp; footsteps land with each step; each setting has its ambience bed
// (and rain its own); speech tracks are mixed in. Every sound starts on the sample of its
// event's time, so it shares the frames' clock.
#include <cstdint>

#include "core/av.hpp"
#include "studio/spec.hpp"
#include "studio/world.hpp"

namespace opsis::studio {

// Mono PCM at timeline.sample_rate lasting exactly spec.seconds().
Audio synthesize_sound(const SceneSpec& spec, const Timeline& timeline, uint64_t seed);

}  // namespace opsis::studio
