#pragma once
// Words for parse_prompt(): the tokenizer and the phrase lexicon that turns tokens into
// lexemes (pass 1 of the parser). Internal to the caption code.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "studio/spec.hpp"

namespace opsis::studio::caption_words {

enum class PunctKind { SentenceEnd, Newline, Comma, Colon };

struct Token {
  enum class Kind { Word, Quote, Punct } kind = Kind::Word;
  std::string text;   // as written; for a Quote the words inside the quotes
  std::string lower;  // ASCII-lowercased text (words only)
  PunctKind punct = PunctKind::Comma;
  bool capitalized = false;
};

struct Tokenized {
  std::vector<Token> tokens;
  bool unclosed_quote = false;
};

// What a lexeme is, for the grammar: Stop and Det carry no meaning; Filler is understood
// but changes nothing (scaffolding such as "camera", sounds such as "birdsong").
enum class Cat {
  Stop, Filler, Unknown, Punct, Quote, Number, Duration, Setting, Time, Weather, Sunny,
  ObjNoun, CharNoun, Pronoun, Adj, AttrSuffix, HairNoun, ShirtNoun, SkinNoun, Accessory, Det,
  Verb, Direction, Camera, Speed, Framing, Lens, ShotMarker, Cut, Total, Negation, NameTrigger,
  Label, Name, Wearing
};

enum class Dir { None, Left, Right, Up, Down, In, Out };
enum class VerbClass { Bounce, Roll, Fall, Fly, Float, Spin, Still, Stand, Walk, Move, Drive, Wave, Jump, Talk, Say };
enum class CamVerb { Static, Pan, Tilt, Dolly, Orbit, DollyZoom };
enum class LabelKind { Plain, Audio, Negative, Duration, Lens, Camera, Name, Dialogue };
enum class PronounKind { Character, Object, Group };
enum class DetKind { Indefinite, Definite, Another };
enum class AttrKind { Haired, Skinned };

struct AdjRoles {
  std::optional<Color> color;
  std::optional<HairColor> hair;
  std::optional<SkinTone> skin;
  std::optional<Size> size;
  std::optional<HairStyle> style;
  std::optional<Framing> framing;
  bool hair_word = false;  // names a hair colour on its own ("a blond kid")
  bool skin_word = false;  // names a skin tone on its own ("a pale kid")
};

struct Meaning {
  Cat cat = Cat::Unknown;
  int value = 0;  // the enum value for the category
  Dir dir = Dir::None;
  bool plural = false;
  int count = 0;       // nouns that imply a count ("couple"); camera: 1 = implies fast ("whip pan")
  double number = 0;   // Number, Duration
  int gender = 0;      // CharNoun, Pronoun: 1 "man"/"he", 2 "woman"/"she", 0 either
  AdjRoles adj;
};

struct Lexeme {
  Meaning m;
  size_t first = 0, last = 0;  // token range [first, last)
  std::string text;            // as written: a name, a quoted line, or the words
  bool capitalized = false;
  bool used = false;
  PunctKind punct = PunctKind::Comma;
};

std::string ascii_lower(std::string_view s);

// Words, numbers, quoted lines (kept verbatim) and punctuation.
Tokenized tokenize(std::string_view text);

// Tokens grouped by longest match against the lexicon ("city street", "3 s", "85 mm",
// "Camera:", "Shot 2"); words the lexicon lacks become Name (capitalised) or Unknown.
std::vector<Lexeme> lex(const std::vector<Token>& tokens);

// A word that carries no meaning of its own ("the", "with", "is"): never an unknown word.
bool is_function_word(std::string_view lowercase_word);

}  // namespace opsis::studio::caption_words
