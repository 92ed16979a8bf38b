#pragma once
// Speech for a character's line, through espeak-ng, with the phoneme timeline that drives
// the character's mouth. One voice per identity: the same Identity always sounds the same.
#include <string>
#include <string_view>
#include <vector>

#include "core/av.hpp"
#include "studio/spec.hpp"

namespace opsis::studio {

struct PhonemeTiming {
  std::string phoneme;  // espeak-ng mnemonic, e.g. "h", "@", "l", "oU"
  double start = 0;     // seconds from the start of the speech pcm
  double duration = 0;  // seconds
  int viseme = 0;       // Viseme (world.hpp) this phoneme shows on the mouth
  float openness = 0;   // 0 closed .. 1 wide open
};

struct Speech {
  Audio pcm;  // mono at the requested sample rate
  std::vector<PhonemeTiming> phonemes;
};

// Speaks `text` in the identity's voice. Thread-safe (espeak-ng itself is not: calls are
// serialised). Throws opsis::IoError if espeak-ng or its data cannot be loaded.
Speech speak(std::string_view text, const Identity& voice, int sample_rate);

// Viseme and openness for an espeak-ng phoneme mnemonic.
int viseme_of(std::string_view phoneme);
float openness_of(int viseme);

}  // namespace opsis::studio
