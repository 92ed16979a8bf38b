#pragma once
// Text as the policy rules see it: case and accents folded, leetspeak undone, spaced-out
// letters joined, and a fuzzy word match that forgives repeated letters and small typos.
#include <string>
#include <vector>

namespace opsis::policy {

// Lowercase; Latin letters with accents to their base letters (é -> e, ß -> ss, ø -> o);
// Cyrillic capitals to lowercase; anything else kept as it is (valid UTF-8 is assumed; a
// byte that is not is dropped).
std::string fold_text(const std::string& text);

struct Token {
  std::string raw;   // folded, before leetspeak mapping (ages and numbers read from here)
  std::string text;  // what terms are matched against
};

// fold_text, then words (letters, digits, any non-ASCII text; '*', '$', '@' inside a word),
// leetspeak in words that mix letters with digits or symbols ("s3x" -> "sex", "p0rn" ->
// "porn", "$ex" -> "sex"), and runs of three or more single letters joined ("s e x" -> "sex").
std::vector<Token> tokenize(const std::string& text);

// Runs of the same letter collapsed to one ("nuuude" -> "nude", "blood" -> "blod").
std::string squeeze(const std::string& word);

// Optimal string alignment distance (Damerau-Levenshtein with adjacent transpositions),
// capped: returns limit + 1 as soon as the distance must exceed `limit`.
int edit_distance(const std::string& a, const std::string& b, int limit);

// Whether a prompt word is a spelling of a rule word: equal after squeeze (words of 4+
// letters), a plural ("-s", "-es"), a '*'-masked spelling ("p*rn"), or within one edit (rule
// words of 6+ letters, same first letter) or two edits (10+ letters).
bool word_matches(const std::string& prompt_word, const std::string& rule_word);

}  // namespace opsis::policy
