#pragma once
// Between scene specs and natural language, both ways. describe() writes one of many
// paraphrases of a spec, in plain prose or in the structured style of the Sora 2 prompt
// guide (scene, subject, camera, lens, audio, negatives, duration). parse_prompt() reads a
// prompt back into a spec, with everything it did not understand reported.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "studio/spec.hpp"

namespace opsis::studio {

enum class CaptionStyle { Prose, Structured };

// Deterministic for (spec, variant, style); different variants give different wordings of
// the same spec. parse_prompt(describe(s, v, style)).spec == s for every valid spec.
std::string describe(const SceneSpec& spec, uint64_t variant, CaptionStyle style);

struct ParseResult {
  SceneSpec spec;                          // what was understood, defaults elsewhere
  std::vector<std::string> unknown_words;  // words that were not understood, in order
  std::vector<std::string> notes;          // e.g. "two settings named; used the first"
};

// default_seconds is the clip length when the prompt names none.
ParseResult parse_prompt(std::string_view prompt, double default_seconds = 4.0);

}  // namespace opsis::studio
