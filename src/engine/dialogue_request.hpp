#pragma once
// Dialogue for a generation request: the lines the prompt gives its characters, spoken by
// the studio's voices (espeak-ng), as phoneme cues that condition the video and pcm mixed
// into the sound. Kept out of opsis_engine itself so that the engine's core needs no studio.
#include "engine/pipeline.hpp"

namespace opsis::engine {

struct DialogueLine {
  std::string speaker;
  std::string line;
  double start = 0;  // seconds on the clip's clock
  double seconds = 0;
  size_t phonemes = 0;
};

// Parses request.prompt (request.seconds as its default length); each character's line is
// spoken from 0.5 s on, one after the other with 0.3 s between; phonemes are appended to
// request.phonemes and pcm (mono, sample_rate) to request.speech. Returns the lines placed.
std::vector<DialogueLine> add_dialogue(GenerateRequest& request, int sample_rate);

}  // namespace opsis::engine
