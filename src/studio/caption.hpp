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
// the same spec (word order, synonyms, sentence shapes; for Structured also block order and
// an Audio block with the sounds the scene implies). Every field is said, so
// parse_prompt(describe(s, v, style)).spec == s with no unknown words for every valid spec
// that meets the conditions at the end of the parse_prompt comment below.
std::string describe(const SceneSpec& spec, uint64_t variant, CaptionStyle style);

struct ParseResult {
  SceneSpec spec;                          // what was understood, defaults elsewhere
  std::vector<std::string> unknown_words;  // words that were not understood, in order
  std::vector<std::string> notes;          // e.g. "two settings named; used the first"
};

// default_seconds is the clip length when the prompt names none.
//
// Reads any text: case, punctuation, plurals and synonyms do not matter ("sunset" is golden
// hour, "downtown" a city street, "indoors" the living room, "automobile" a car, "crate" a
// box, "drops" falls, "kid"/"man"/"woman"/"person" a character), counts come as digits or
// words ("two red balls", "a pair of"), durations as "8 seconds", "8s", "a 10-second clip",
// "Duration: 12 s" or "two and a half seconds". Structured prompts use labelled blocks
// ("Scene:", "Subject:", "Camera:", "Lens:", "Audio:", "Dialogue:", "Avoid:", "Duration:",
// "Shot 2 (3 s): ..."); camera directions given before the first shot marker apply to every
// shot that does not set its own; an Audio block only describes sounds (it adds nothing, and
// hints at place and weather only when nothing else names them).
//
// Defaults, for whatever the prompt leaves unsaid: meadow, day, clear; one static, slow,
// wide, standard-lens shot of default_seconds (several shots without lengths share the
// total); an object is small and red and moves the way its kind does (ball bounces, box
// stays still, balloon floats up, bird flies right, car rolls right; "rolls"/"walks"
// without a direction go right); a character has the Identity defaults and stands; unnamed
// characters are named Alex, Sam, Jo, Kim... in order, skipping names already used.
//
// Names: a word after "named"/"called"/"Name:", a capitalised word that acts ("Mia waves",
// "Mia, a woman with ...", "Mia (short hair)"), a speaker ("Mia: \"Hi\"", "Mia says ..."),
// or a cameo handle ("@maya", kept with its @). "he"/"she"/"they" refer back (to the last
// man/woman/anyone named; "she" with nobody before is a new character), "the ball" to the
// last ball that fits, and "is" describes the noun before it ("her hair is long and red").
// A quoted line makes its speaker talk (the line goes to the character the sentence is
// about, or a new one). "talks"/"chatting" with no quoted line leaves the character talking
// with an empty line, which validate() rejects with a message asking for the words.
//
// Negatives ("no birds", "without rain", "Avoid: birds, text overlays", "Negative: ...") go
// to spec.negatives as lowercase words, object kinds and "rain" in their canonical singular,
// any human noun as "people"; they never add the negated thing to the scene.
//
// Nothing is clamped silently: a duration out of range is kept for validate() to reject;
// more objects or characters than a scene holds keeps the first ones with a note; two
// settings (times, weathers, camera moves for one shot, ...) keep the first with a note.
// unknown_words lists, lowercased, in order and once each, every word that did not make it
// into the spec and is not a function word: unknown nouns ("zeppelin") and known words that
// had nothing to apply to ("purple" and "hovers" in "a purple zeppelin hovers").
// An empty or blank prompt gives the default spec, no unknown words, and the note
// "empty prompt" as notes[0] (callers such as the CLI refuse it themselves).
//
// The round trip parse_prompt(describe(s)) == s holds for specs whose character names are
// distinct single capitalised words that are not vocabulary words, whose lines contain no
// double quote, and whose negatives are in the canonical form above (no "and"/"or"/commas).
ParseResult parse_prompt(std::string_view prompt, double default_seconds = 4.0);

}  // namespace opsis::studio
