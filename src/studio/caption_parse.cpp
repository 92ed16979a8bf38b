// parse_prompt(): free text -> SceneSpec.
//
// Two passes. Pass 1 splits the text into tokens (words, numbers, quoted lines,
// punctuation) and groups them into lexemes by longest match against a phrase lexicon
// ("city street", "close up", "rolls", "85 mm", "3 s", "Camera:"). Pass 2 walks the
// lexemes sentence by sentence with a little grammar: noun phrases (determiner, count,
// adjectives, head noun) create or refer to objects and characters; verbs apply to the
// subject group in front of them; attribute phrases ("with long blond hair") apply to the
// character last named; camera words apply to the current shot. Every lexeme that ends up
// applied is marked used; the words of the others are the unknown words.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "studio/caption.hpp"
#include "studio/caption_words.hpp"

namespace opsis::studio {
namespace {

using namespace caption_words;

// ---------------------------------------------------------------------------------------
// The spec under construction (pass 2)

struct ObjectBuild {
  ObjectKind kind = ObjectKind::Ball;
  std::optional<Color> color;
  std::optional<Size> size;
  std::optional<Motion> motion;
};

struct CharacterBuild {
  std::optional<SkinTone> skin;
  std::optional<HairColor> hair_color;
  std::optional<HairStyle> hair_style;
  std::optional<Color> shirt;
  std::optional<Accessory> accessory;
  std::optional<std::string> name;
  std::optional<Action> action;
  std::string line;
  int gender = 0;         // from the noun, for "he"/"she"
  int last_mention = -1;  // lexeme of the latest mention
};

struct ShotBuild {
  std::optional<CameraMove> camera;
  std::optional<CameraSpeed> speed;
  std::optional<Framing> framing;
  std::optional<Lens> lens;
  std::optional<double> seconds;
};

// Shots one prompt may ask for; a clip of at most kMaxSeconds needs no more.
constexpr int kMaxShots = 10;

struct Ref {
  bool character = false;
  int index = 0;
  bool operator==(const Ref&) const = default;
};

// The noun phrase being read: determiner, count, adjectives, participles.
struct NounPhrase {
  bool active = false;
  std::optional<DetKind> det;
  std::optional<double> count;
  int count_lexeme = -1;
  std::vector<int> adjectives;   // lexeme indices
  std::vector<int> participles;  // verb lexemes used as adjectives ("a bouncing ball")
  // Character attributes from "red-haired", "dark-skinned": applied to the head noun or,
  // when none comes, to the character the phrase describes.
  std::optional<HairColor> hair;
  std::optional<HairStyle> style;
  std::optional<SkinTone> skin;
  std::vector<int> attribute_lexemes;
};

class Parser {
 public:
  Parser(std::string_view prompt, double default_seconds) : default_seconds_(default_seconds) {
    auto tokenized = tokenize(prompt);
    tokens_ = std::move(tokenized.tokens);
    if (tokenized.unclosed_quote) note("a quoted line has no closing quote; read it to the end of the prompt");
    lex_ = lex(tokens_);
  }

  ParseResult run();

 private:
  // -- helpers over lexemes
  const Meaning& m(int i) const { return lex_[size_t(i)].m; }
  Cat cat(int i) const { return i >= 0 && i < int(lex_.size()) ? lex_[size_t(i)].m.cat : Cat::Punct; }
  bool is_punct(int i, PunctKind k) const {
    return i >= 0 && i < int(lex_.size()) && lex_[size_t(i)].m.cat == Cat::Punct && lex_[size_t(i)].punct == k;
  }
  bool is_boundary(int i) const {
    return i < 0 || i >= int(lex_.size()) || is_punct(i, PunctKind::SentenceEnd) || is_punct(i, PunctKind::Newline) ||
           cat(i) == Cat::Label;
  }
  bool is_text(int i, std::initializer_list<std::string_view> ws) const {
    if (i < 0 || i >= int(lex_.size())) return false;
    const std::string l = ascii_lower(lex_[size_t(i)].text);
    for (auto w : ws)
      if (l == w) return true;
    return false;
  }
  void use(int i) { lex_[size_t(i)].used = true; }
  void note(std::string s) {
    if (std::find(notes_.begin(), notes_.end(), s) == notes_.end()) notes_.push_back(std::move(s));
  }

  // -- spec parts
  template <typename T>
  void set_scene(std::optional<T>& f, T v, int i, std::string_view what) {
    use(i);
    if (!f) f = v;
    else if (*f != v)
      note("two " + std::string(what) + " named (" + std::string(name(*f)) + ", " + std::string(name(v)) + "); used the first");
  }
  ShotBuild& shot() {
    if (shot_index_ < 0) return global_shot_;
    if (size_t(shot_index_) >= shots_.size()) shots_.resize(size_t(shot_index_) + 1);
    return shots_[size_t(shot_index_)];
  }
  template <typename T>
  void set_once(std::optional<T>& slot, T v, std::string_view what) {
    if (!slot) slot = v;
    else if (*slot != v) note("two " + std::string(what) + " given for one shot; used the first");
  }
  // A count from the prompt, limited to one more than a scene holds (the finish notes the
  // extra ones); a count far past that is noted here as written.
  int capped_count(double n, int limit, std::string_view what) {
    if (!(n >= 1)) return 1;
    if (n > limit + 1) {
      note(number_text(n) + " " + std::string(what) + " asked for; a scene holds at most " + std::to_string(limit));
      return limit + 1;
    }
    return int(std::lround(n));
  }
  static std::string number_text(double n) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.15g", n);
    return buf;
  }

  // -- grammar
  void end_sentence();
  void flush_noun_phrase();
  void object_head(int i);
  void character_head(int i);
  void attribute_head(int i);
  void describe_attribute(Cat head, const std::vector<int>& adjectives, const std::vector<int>& chars);
  void name_word(int i);
  void verb(int i);
  void say(int i, const std::vector<Ref>& subjects);
  bool apply_verb(int verb_lexeme, const Ref& r, Dir d);
  Dir find_direction(int i, bool camera);
  Dir verb_direction(int i) {
    switch (VerbClass(m(i).value)) {
      case VerbClass::Roll: case VerbClass::Fly: case VerbClass::Float: case VerbClass::Walk: case VerbClass::Move:
      case VerbClass::Drive:
        return find_direction(i, false);
      default:
        return m(i).dir;
    }
  }
  void camera(int i);
  bool camera_verb(int i);
  void claim_speed(int i);
  void duration(int i);
  enum class NegationMode { Inline, Short, Full };
  void negation(int i, NegationMode mode);
  void name_trigger(int i);
  void label(int i);
  void quote(int i);
  // A quoted line that ends a sentence ("... says: "Hi!" Slow pan left") ends it here too.
  void end_after_quote(int q) {
    const std::string& t = lex_[size_t(q)].text;
    if (q + 1 >= int(lex_.size())) return;
    const Lexeme& next = lex_[size_t(q + 1)];
    if (!next.capitalized && next.text.rfind('@', 0) != 0) return;
    const bool terminal = !t.empty() && (t.back() == '.' || t.back() == '!' || t.back() == '?');
    const bool speaker_next = cat(q + 1) == Cat::Name || find_character(lex_[size_t(q + 1)].text) >= 0;
    if (terminal || !speaker_next) end_sentence();
  }
  void give_line(int character, const std::string& line);
  int create_character(std::optional<std::string> name);
  int find_character(std::string_view name) const;
  void apply_stashed_verbs(const std::vector<Ref>& refs);
  void mention(const std::vector<Ref>& refs) {
    for (const auto& r : refs)
      if (std::find(sentence_entities_.begin(), sentence_entities_.end(), r) == sentence_entities_.end())
        sentence_entities_.push_back(r);
  }
  int next_significant(int i) const;
  int prev_significant(int i) const;
  ParseResult finish();

  double default_seconds_;
  std::vector<Token> tokens_;
  std::vector<Lexeme> lex_;
  std::vector<std::string> notes_;

  std::optional<Setting> setting_;
  std::optional<TimeOfDay> time_;
  std::optional<Weather> weather_;
  std::optional<Setting> soft_setting_;
  std::optional<TimeOfDay> soft_time_;
  std::optional<Weather> soft_weather_;
  std::vector<ObjectBuild> objects_;
  std::vector<CharacterBuild> characters_;
  std::vector<bool> talk_without_line_;
  ShotBuild global_shot_;
  std::vector<ShotBuild> shots_;
  int shot_index_ = -1;  // -1: no shot marker yet; directions are defaults for every shot
  std::optional<double> total_seconds_;
  std::vector<std::string> negatives_;

  // sentence state
  LabelKind block_ = LabelKind::Plain;
  NounPhrase np_;
  std::vector<Ref> group_;       // subjects since the last verb
  std::vector<Ref> last_group_;  // subjects of the last verb in this sentence
  std::vector<Ref> previous_;    // the last entities mentioned
  std::vector<Ref> sentence_entities_, last_sentence_entities_;  // for "they"
  std::vector<int> target_;      // characters that attribute phrases describe
  std::vector<int> stashed_verbs_;
  std::vector<int> pending_quotes_;
  bool wearing_ = false;
  // The noun that "is ..." describes, and whether a copula ("is", "are") came after it.
  struct Predicate {
    Cat head = Cat::Unknown;
    std::vector<Ref> objects;
    std::vector<int> characters;
    int lexeme = -1;
  } predicate_;
  bool copula_ = false;
  int last_name_lexeme_ = -1, last_name_character_ = -1;
  int last_character_noun_lexeme_ = -1;
  std::vector<int> last_character_noun_refs_;
  size_t pos_ = 0;
  int sentence_begin_ = 0;  // first lexeme of the current sentence
  int shot_sentence_ = -1;  // sentence_begin_ of the sentence with the last shot marker or cut
};

int Parser::next_significant(int i) const {
  for (int j = i + 1; j < int(lex_.size()); ++j) {
    const Cat c = cat(j);
    if (c == Cat::Stop || c == Cat::Filler || c == Cat::Det || is_punct(j, PunctKind::Comma)) continue;
    if (is_boundary(j)) return -1;
    return j;
  }
  return -1;
}

int Parser::prev_significant(int i) const {
  for (int j = i - 1; j >= 0; --j) {
    const Cat c = cat(j);
    if (c == Cat::Stop || c == Cat::Filler || c == Cat::Det || is_punct(j, PunctKind::Comma)) continue;
    if (is_boundary(j)) return -1;
    return j;
  }
  return -1;
}

int Parser::find_character(std::string_view name) const {
  for (size_t k = 0; k < characters_.size(); ++k)
    if (characters_[k].name && *characters_[k].name == name) return int(k);
  return -1;
}

int Parser::create_character(std::optional<std::string> name) {
  characters_.push_back({});
  talk_without_line_.push_back(false);
  characters_.back().name = std::move(name);
  return int(characters_.size()) - 1;
}

// "Bouncing across the meadow, a red ball ...": a verb with no subject before it goes to
// the entities of its sentence that do nothing yet.
void Parser::apply_stashed_verbs(const std::vector<Ref>& refs) {
  for (int v : stashed_verbs_)
    for (const auto& r : refs) {
      const bool idle = r.character ? !characters_[size_t(r.index)].action : !objects_[size_t(r.index)].motion;
      if (idle) apply_verb(v, r, verb_direction(v));
    }
  stashed_verbs_.clear();
}

void Parser::flush_noun_phrase() {
  if (!np_.active) {
    wearing_ = false;
    return;
  }
  NounPhrase np = std::move(np_);
  np_ = {};
  // After "is": "her hair is long and red", "the ball is blue".
  if (copula_ && predicate_.head != Cat::Unknown) {
    if (predicate_.head == Cat::ObjNoun) {
      for (int a : np.adjectives)
        for (const auto& r : predicate_.objects) {
          auto& o = objects_[size_t(r.index)];
          if (m(a).adj.color) o.color = m(a).adj.color, use(a);
          else if (m(a).adj.size) o.size = m(a).adj.size, use(a);
        }
    } else if (predicate_.head != Cat::CharNoun) {
      describe_attribute(predicate_.head, np.adjectives, predicate_.characters);
    }
  }
  // A phrase with no head: "Mia is bald", "wearing green", "medium" (a framing).
  for (int a : np.adjectives) {
    if (lex_[size_t(a)].used) continue;
    const AdjRoles& r = m(a).adj;
    if (r.style == HairStyle::Bald && !target_.empty()) {
      for (int c : target_) characters_[size_t(c)].hair_style = HairStyle::Bald;
      use(a);
    } else if (wearing_ && r.color && !target_.empty()) {
      for (int c : target_) characters_[size_t(c)].shirt = *r.color;
      use(a);
    } else if (r.framing && !r.color && !r.size) {
      set_once(shot().framing, *r.framing, "framings");
      use(a);
    }
  }
  if ((np.hair || np.style || np.skin) && !target_.empty()) {
    for (int c : target_) {
      auto& ch = characters_[size_t(c)];
      if (np.hair) ch.hair_color = *np.hair;
      if (np.style) ch.hair_style = *np.style;
      if (np.skin) ch.skin = *np.skin;
    }
    for (int a : np.attribute_lexemes) use(a);
  }
  wearing_ = false;
}

void Parser::object_head(int i) {
  NounPhrase np = std::move(np_);
  np_ = {};
  use(i);
  const auto kind = ObjectKind(m(i).value);
  const bool plural = m(i).plural;
  int count = np.count ? capped_count(*np.count, kMaxObjects, "objects") : plural ? 2 : 1;
  if (np.count_lexeme >= 0) use(np.count_lexeme);
  std::optional<Color> color;
  std::optional<Size> size;
  for (int a : np.adjectives) {
    const AdjRoles& r = m(a).adj;
    if (r.color && !color) color = r.color, use(a);
    else if (r.size && !size) size = r.size, use(a);
  }
  std::vector<Ref> refs;
  if (np.det == DetKind::Definite) {  // "the ball": the last ball that fits what is said
    for (int k = int(objects_.size()) - 1; k >= 0; --k) {
      const auto& o = objects_[size_t(k)];
      if (o.kind != kind || (color && o.color && *o.color != *color) || (size && o.size && *o.size != *size)) continue;
      refs.push_back({false, k});
      if (!plural) break;
    }
    std::reverse(refs.begin(), refs.end());
  }
  if (refs.empty()) {
    if (count <= 0) count = 1;
    for (int k = 0; k < count; ++k) {
      ObjectBuild o;
      o.kind = kind, o.color = color, o.size = size;
      objects_.push_back(o);
      refs.push_back({false, int(objects_.size()) - 1});
    }
  } else {
    for (const auto& r : refs) {
      auto& o = objects_[size_t(r.index)];
      if (color && !o.color) o.color = color;
      if (size && !o.size) o.size = size;
    }
  }
  for (int v : np.participles)
    for (const auto& r : refs) apply_verb(v, r, verb_direction(v));
  for (const auto& r : refs)
    if (std::find(group_.begin(), group_.end(), r) == group_.end()) group_.push_back(r);
  previous_ = refs;
  mention(refs);
  predicate_ = {Cat::ObjNoun, refs, {}, i};
}

void Parser::character_head(int i) {
  NounPhrase np = std::move(np_);
  np_ = {};
  use(i);
  const bool plural = m(i).plural;
  int count = np.count ? capped_count(*np.count, kMaxCharacters, "characters") : m(i).count > 0 ? m(i).count : plural ? 2 : 1;
  if (np.count_lexeme >= 0) use(np.count_lexeme);
  std::vector<int> chars;
  // "Woman: "Finally."": a bare noun as a speaker label is the character it names.
  if (!np.det && !np.count && !plural && is_punct(i + 1, PunctKind::Colon) && cat(i + 2) == Cat::Quote) {
    int c = -1;
    for (int k = 0; k < int(characters_.size()); ++k) {
      const auto& ch = characters_[size_t(k)];
      if ((ch.gender == 0 || m(i).gender == 0 || ch.gender == m(i).gender) &&
          (c < 0 || ch.last_mention > characters_[size_t(c)].last_mention))
        c = k;
    }
    if (c < 0) c = create_character(std::nullopt);
    characters_[size_t(c)].last_mention = i;
    if (characters_[size_t(c)].gender == 0) characters_[size_t(c)].gender = m(i).gender;
    use(i + 2);
    give_line(c, lex_[size_t(i + 2)].text);
    group_.clear();
    last_group_ = {Ref{true, c}};
    target_ = {c};
    pos_ = size_t(i + 2);
    end_after_quote(i + 2);
    return;
  }
  // "Mia, a woman with ...": the noun describes the name just given.
  const int before = [&] {
    int j = i - 1;
    while (j >= 0 && (cat(j) == Cat::Det || cat(j) == Cat::Adj || cat(j) == Cat::Filler || cat(j) == Cat::AttrSuffix ||
                      cat(j) == Cat::Number || cat(j) == Cat::Verb))
      --j;
    return j;
  }();
  if (np.det == DetKind::Indefinite && count == 1 && is_punct(before, PunctKind::Comma) && before - 1 == last_name_lexeme_ &&
      last_name_character_ >= 0) {
    chars.push_back(last_name_character_);
  } else if (np.det == DetKind::Definite && !characters_.empty()) {
    if (plural) {
      for (int k = 0; k < int(characters_.size()); ++k) chars.push_back(k);
    } else {
      chars.push_back(target_.empty() ? int(characters_.size()) - 1 : target_.back());
    }
  } else {
    if (count <= 0) count = 1;
    for (int k = 0; k < count; ++k) chars.push_back(create_character(std::nullopt));
  }
  for (int a : np.adjectives) {
    const AdjRoles& r = m(a).adj;
    for (int c : chars) {
      auto& ch = characters_[size_t(c)];
      if (r.hair_word && r.hair) ch.hair_color = r.hair, use(a);
      else if (r.skin_word && r.skin) ch.skin = r.skin, use(a);
      else if (r.style == HairStyle::Bald) ch.hair_style = HairStyle::Bald, use(a);
    }
  }
  for (int c : chars) {
    auto& ch = characters_[size_t(c)];
    ch.last_mention = i;
    if (ch.gender == 0) ch.gender = m(i).gender;
    if (np.hair) ch.hair_color = np.hair;
    if (np.style) ch.hair_style = np.style;
    if (np.skin) ch.skin = np.skin;
  }
  for (int a : np.attribute_lexemes) use(a);
  std::vector<Ref> refs;
  for (int c : chars) refs.push_back({true, c});
  for (int v : np.participles)
    for (const auto& r : refs) apply_verb(v, r, verb_direction(v));
  for (const auto& r : refs)
    if (std::find(group_.begin(), group_.end(), r) == group_.end()) group_.push_back(r);
  previous_ = refs;
  mention(refs);
  target_ = chars;
  last_character_noun_lexeme_ = i;
  last_character_noun_refs_ = chars;
}

// Hair, shirt, skin and accessory nouns describe the character being talked about.
// Adjectives of a hair, shirt or skin noun: "long blond hair", "a green shirt".
void Parser::describe_attribute(Cat head, const std::vector<int>& adjectives, const std::vector<int>& chars) {
  for (int a : adjectives) {
    const AdjRoles& r = m(a).adj;
    for (int t : chars) {
      auto& ch = characters_[size_t(t)];
      if (head == Cat::HairNoun) {
        if (r.style) ch.hair_style = r.style, use(a);
        else if (r.hair) ch.hair_color = r.hair, use(a);
      } else if (head == Cat::ShirtNoun) {
        if (r.color) ch.shirt = r.color, use(a);
      } else if (head == Cat::SkinNoun) {
        if (r.skin) ch.skin = r.skin, use(a);
      }
    }
  }
}

void Parser::attribute_head(int i) {
  NounPhrase np = std::move(np_);
  np_ = {};
  if (target_.empty()) return;  // nobody to describe: the words stay unknown
  use(i);
  const Cat c = cat(i);
  if (np.count_lexeme >= 0 && c == Cat::Accessory) use(np.count_lexeme);
  describe_attribute(c, np.adjectives, target_);
  predicate_ = {c, {}, target_, i};
  if (c == Cat::Accessory) {
    for (int t : target_) {
      auto& ch = characters_[size_t(t)];
      const auto acc = Accessory(m(i).value);
      if (ch.accessory && *ch.accessory != acc) note("a character can wear one accessory; kept " + std::string(name(*ch.accessory)));
      else ch.accessory = acc;
    }
  }
}

void Parser::name_word(int i) {
  const std::string& text = lex_[size_t(i)].text;
  auto follows = [&](int j) { return j < int(lex_.size()) ? j : -1; };
  const int next = follows(i + 1);
  const int existing = find_character(text);
  auto dialogue_after_colon = [&](int c) {
    if (is_punct(next, PunctKind::Colon) && cat(next + 1) == Cat::Quote) {
      use(next + 1);
      give_line(c, lex_[size_t(next + 1)].text);
      group_.clear();
      last_group_ = {Ref{true, c}};
      pos_ = size_t(next + 1);
      end_after_quote(next + 1);
      return true;
    }
    return false;
  };
  auto as_subject = [&](int c) {
    use(i);
    characters_[size_t(c)].last_mention = i;
    const Ref r{true, c};
    if (std::find(group_.begin(), group_.end(), r) == group_.end()) group_.push_back(r);
    previous_ = {r};
    mention({r});
    target_ = {c};
    last_name_lexeme_ = i, last_name_character_ = c;
  };
  if (existing >= 0) {
    as_subject(existing);
    dialogue_after_colon(existing);
    return;
  }
  // "a woman, Mia, ..." -- a name right after an unnamed character noun.
  if (is_punct(i - 1, PunctKind::Comma) && i - 2 == last_character_noun_lexeme_ && last_character_noun_refs_.size() == 1 &&
      !characters_[size_t(last_character_noun_refs_[0])].name) {
    characters_[size_t(last_character_noun_refs_[0])].name = text;
    as_subject(last_character_noun_refs_[0]);
    return;
  }
  // What follows a name when it is one: "Mia: "Hi"", "Mia: short hair, ...", "Mia waves",
  // "Mia, a woman ...", "Mia, who has ...", "Mia (short hair)".
  auto describes_character = [&](int j) {
    while (cat(j) == Cat::Det || cat(j) == Cat::Adj || cat(j) == Cat::Filler || cat(j) == Cat::AttrSuffix ||
           cat(j) == Cat::Stop || cat(j) == Cat::Number)
      ++j;
    const Cat h = cat(j);
    return h == Cat::CharNoun || h == Cat::HairNoun || h == Cat::ShirtNoun || h == Cat::SkinNoun ||
           h == Cat::Accessory || h == Cat::Wearing || h == Cat::AttrSuffix;
  };
  bool is_name = m(i).value == 1;  // "@handle"
  const Cat nc = cat(next);
  if (is_name) {
  } else if (is_punct(next, PunctKind::Colon)) {
    is_name = cat(next + 1) == Cat::Quote || describes_character(next + 1);
  } else if (nc == Cat::Verb) {
    const auto v = VerbClass(m(next).value);
    is_name = v == VerbClass::Stand || v == VerbClass::Walk || v == VerbClass::Wave || v == VerbClass::Jump ||
              v == VerbClass::Talk || v == VerbClass::Say || v == VerbClass::Still || v == VerbClass::Move;
    // "Dogs run": a plural noun with a plural verb is not a name ("Chris runs" is).
    const std::string& verb_phrase = lex_[size_t(next)].text;
    const std::string verb_word = verb_phrase.substr(0, verb_phrase.find(' '));
    if (text.size() > 2 && text.back() == 's' && !verb_word.empty() && verb_word.back() != 's') is_name = false;
  } else if (nc == Cat::Wearing || nc == Cat::NameTrigger) {
    is_name = true;
  } else if (is_text(next, {"with", "who", "is", "has", "'s", "and", "in"})) {
    is_name = !is_text(next, {"and", "in"}) || cat(next + 1) == Cat::Name || cat(next + 1) == Cat::Det;
  } else if (is_punct(next, PunctKind::Comma)) {
    is_name = describes_character(next + 1);
  }
  if (!is_name) return;
  const int c = create_character(text);
  as_subject(c);
  dialogue_after_colon(c);
}

// Direction words after a verb: "rolls to the left", "pans right", "dolly in".
Dir Parser::find_direction(int i, bool camera) {
  if (m(i).dir != Dir::None) return m(i).dir;
  for (int j = i + 1, seen = 0; j < int(lex_.size()) && seen < 5; ++j, ++seen) {
    const Cat c = cat(j);
    if (c == Cat::Direction) {
      use(j);
      return m(j).dir;
    }
    if (camera && is_text(j, {"in", "toward", "towards", "inward", "into"})) return Dir::In;
    if (camera && is_text(j, {"out", "outward"})) return Dir::Out;
    if (c == Cat::Speed || c == Cat::Stop || c == Cat::Filler || c == Cat::Det || c == Cat::Setting) continue;
    break;
  }
  return Dir::None;
}

bool Parser::apply_verb(int v, const Ref& r, Dir d) {
  const auto cls = VerbClass(m(v).value);
  if (r.character) {
    auto& ch = characters_[size_t(r.index)];
    std::optional<Action> a;
    switch (cls) {
      case VerbClass::Bounce: case VerbClass::Jump: a = Action::Jumps; break;
      case VerbClass::Still: case VerbClass::Stand: a = Action::Stands; break;
      case VerbClass::Walk: case VerbClass::Move: a = d == Dir::Left ? Action::WalksLeft : Action::WalksRight; break;
      case VerbClass::Wave: a = Action::Waves; break;
      case VerbClass::Talk: case VerbClass::Say: a = Action::Talks; break;
      default: break;
    }
    if (!a) return false;
    use(v);
    if (*a == Action::Talks) {
      if (ch.action && *ch.action != Action::Talks)
        note(std::string(name(*ch.action)) + " replaced by talks: a character who speaks talks");
      ch.action = Action::Talks;
      if (ch.line.empty()) talk_without_line_[size_t(r.index)] = true;
    } else if (!ch.action) {
      ch.action = a;
    } else if (*ch.action != *a && *ch.action != Action::Talks) {
      note("a character does one thing; kept " + std::string(name(*ch.action)) + " over " + std::string(name(*a)));
    }
    return true;
  }
  auto& o = objects_[size_t(r.index)];
  const bool airborne = o.kind == ObjectKind::Bird || o.kind == ObjectKind::Balloon;
  std::optional<Motion> mo;
  switch (cls) {
    case VerbClass::Bounce: case VerbClass::Jump: mo = Motion::Bounces; break;
    case VerbClass::Roll: case VerbClass::Drive: mo = d == Dir::Left ? Motion::RollsLeft : Motion::RollsRight; break;
    case VerbClass::Fall: mo = Motion::Falls; break;
    case VerbClass::Fly: mo = d == Dir::Left ? Motion::FliesLeft : d == Dir::Up ? Motion::FloatsUp : Motion::FliesRight; break;
    case VerbClass::Float:
      mo = d == Dir::Left ? Motion::FliesLeft : d == Dir::Right ? Motion::FliesRight : d == Dir::Down ? Motion::Falls : Motion::FloatsUp;
      break;
    case VerbClass::Spin: mo = Motion::Spins; break;
    case VerbClass::Still: case VerbClass::Stand: mo = Motion::StaysStill; break;
    case VerbClass::Move:
      if (d == Dir::Up) mo = Motion::FloatsUp;
      else if (d == Dir::Down) mo = Motion::Falls;
      else if (airborne) mo = d == Dir::Left ? Motion::FliesLeft : Motion::FliesRight;
      else mo = d == Dir::Left ? Motion::RollsLeft : Motion::RollsRight;
      break;
    default: break;
  }
  if (!mo) return false;
  use(v);
  if (!o.motion) o.motion = mo;
  else if (*o.motion != *mo)
    note("an object moves one way; kept " + std::string(name(*o.motion)) + " over " + std::string(name(*mo)));
  return true;
}

void Parser::verb(int i) {
  // "a bouncing ball": a verb inside a noun phrase describes the head noun to come.
  if (np_.active) {
    const Cat n = cat(i + 1);
    if (n == Cat::Adj || n == Cat::ObjNoun || n == Cat::CharNoun || n == Cat::Filler) {
      np_.participles.push_back(i);
      return;
    }
  }
  flush_noun_phrase();
  // "the camera moves slowly to the left", "the camera stays still": a camera move.
  int before = i - 1;
  while (before >= 0 && cat(before) == Cat::Speed) --before;
  if (is_text(before, {"camera"}) && camera_verb(i)) return;
  const bool speech = VerbClass(m(i).value) == VerbClass::Say;
  std::vector<Ref> subjects = !group_.empty() ? group_ : last_group_;
  if (subjects.empty()) {
    if (speech && !characters_.empty() && (cat(i + 1) == Cat::Quote || is_punct(i + 1, PunctKind::Colon)))
      subjects = {Ref{true, int(characters_.size()) - 1}};
    else {
      stashed_verbs_.push_back(i);
      return;
    }
  }
  const Dir d = verb_direction(i);
  for (const auto& r : subjects) apply_verb(i, r, d);
  if (speech) say(i, subjects);
  if (!group_.empty()) last_group_ = group_;
  group_.clear();
}

// "Mia says: "Hello"" or ""Hello," says Mia" -- the quoted line after (or before) the verb.
void Parser::say(int i, const std::vector<Ref>& subjects) {
  int speaker = -1;  // the character nearest the verb
  for (const auto& r : subjects)
    if (r.character) speaker = r.index;
  if (speaker < 0) return;
  int j = i + 1;
  while (is_punct(j, PunctKind::Colon) || is_punct(j, PunctKind::Comma)) ++j;
  if (cat(j) == Cat::Quote && !lex_[size_t(j)].used) {
    use(j);
    give_line(speaker, lex_[size_t(j)].text);
    return;
  }
  if (!pending_quotes_.empty()) {
    const int q = pending_quotes_.front();
    pending_quotes_.erase(pending_quotes_.begin());
    use(q);
    give_line(speaker, lex_[size_t(q)].text);
  }
}

void Parser::give_line(int c, const std::string& line) {
  auto& ch = characters_[size_t(c)];
  if (line.empty()) return;
  if (ch.action && *ch.action != Action::Talks)
    note(std::string(name(*ch.action)) + " replaced by talks: a character with a line talks");
  ch.action = Action::Talks;
  if (!ch.line.empty()) {
    note("two lines for one character; joined them");
    ch.line += " ";
  }
  ch.line += line;
  talk_without_line_[size_t(c)] = false;
}

void Parser::quote(int i) {
  if (lex_[size_t(i)].used) return;
  // ""Hello," says Mia": keep it for the verb that follows in this sentence.
  pending_quotes_.push_back(i);
}

void Parser::camera(int i) {
  use(i);
  const auto v = CamVerb(m(i).value);
  std::optional<CameraMove> move;
  const Dir d = find_direction(i, true);
  switch (v) {
    case CamVerb::Static: move = CameraMove::Static; break;
    case CamVerb::Pan: move = d == Dir::Left ? CameraMove::PanLeft : CameraMove::PanRight; break;
    case CamVerb::Tilt: move = d == Dir::Down ? CameraMove::TiltDown : CameraMove::TiltUp; break;
    case CamVerb::Dolly: move = d == Dir::Out || d == Dir::Down ? CameraMove::DollyOut : CameraMove::DollyIn; break;
    case CamVerb::Orbit: move = d == Dir::Left ? CameraMove::OrbitLeft : CameraMove::OrbitRight; break;
    case CamVerb::DollyZoom: move = CameraMove::DollyZoom; break;
  }
  set_once(shot().camera, *move, "camera moves");
  if (m(i).count == 1) set_once(shot().speed, CameraSpeed::Fast, "camera speeds");
  claim_speed(i);
}

bool Parser::camera_verb(int i) {
  std::optional<CameraMove> move;
  switch (VerbClass(m(i).value)) {
    case VerbClass::Still: case VerbClass::Stand: move = CameraMove::Static; break;
    case VerbClass::Move: case VerbClass::Walk: case VerbClass::Drive: case VerbClass::Fly: case VerbClass::Float:
    case VerbClass::Roll:
      switch (find_direction(i, true)) {
        case Dir::Left: move = CameraMove::PanLeft; break;
        case Dir::Right: move = CameraMove::PanRight; break;
        case Dir::Up: move = CameraMove::TiltUp; break;
        case Dir::Down: move = CameraMove::TiltDown; break;
        case Dir::In: move = CameraMove::DollyIn; break;
        case Dir::Out: move = CameraMove::DollyOut; break;
        case Dir::None: break;
      }
      break;
    default: break;
  }
  if (!move) return false;
  use(i);
  set_once(shot().camera, *move, "camera moves");
  claim_speed(i);
  return true;
}

// A speed word belongs to the camera move nearest to it in the sentence.
void Parser::claim_speed(int i) {
  auto try_claim = [&](int j) {
    if (j >= 0 && cat(j) == Cat::Speed && !lex_[size_t(j)].used) {
      use(j);
      set_once(shot().speed, CameraSpeed(m(j).value), "camera speeds");
      return true;
    }
    return false;
  };
  int back = i, fwd = i;
  for (int step = 0; step < 2; ++step) {
    back = back >= 0 ? prev_significant(back) : -1;
    if (try_claim(back)) return;
    fwd = fwd >= 0 ? next_significant(fwd) : -1;
    if (try_claim(fwd)) return;
  }
}

void Parser::duration(int i) {
  use(i);
  const double s = m(i).number;
  // A length belongs to a shot when said in the sentence that opens it ("Shot 2 (3 s): ...");
  // said anywhere else it is the clip's.
  bool total = block_ == LabelKind::Duration || shot_index_ < 0 || sentence_begin_ != shot_sentence_;
  for (int j : {i - 2, i - 1, i + 1, i + 2})
    if (cat(j) == Cat::Total || is_text(j, {"clip", "video", "film", "footage"})) {
      total = true;
      if (cat(j) == Cat::Total) use(j);
    }
  if (total) {
    if (total_seconds_ && *total_seconds_ != s) note("two durations given; used the first");
    else total_seconds_ = s;
  } else {
    set_once(shot().seconds, s, "durations");
  }
}

// "no birds", "without rain", "No birds, rain or text.", "Avoid: birds, text overlays".
// mode Inline: one item (or a few joined by and/or) of plain nouns; Short: a list of such
// items up to the first one that reads as scene description; Full: everything to the end
// of the sentence (after "Avoid:", "Negative:").
void Parser::negation(int i, NegationMode mode) {
  use(i);
  auto item_text = [&](const std::vector<int>& item) -> std::string {
    if (item.size() == 1) {
      const Meaning& mm = m(item[0]);
      if (mm.cat == Cat::ObjNoun) return std::string(name(ObjectKind(mm.value)));
      if (mm.cat == Cat::Weather && mm.value == int(Weather::Rain)) return "rain";
      if (mm.cat == Cat::CharNoun) return "people";
    }
    std::string s;
    for (int x : item)
      for (size_t t = lex_[size_t(x)].first; t < lex_[size_t(x)].last; ++t) {
        if (tokens_[t].kind != Token::Kind::Word) continue;
        if (!s.empty() && tokens_[t].lower != "'s") s += ' ';
        s += tokens_[t].lower;
      }
    return s;
  };
  auto plain = [&](int j) {  // may stand in a short negative item
    const Cat c = cat(j);
    return !(c == Cat::Stop || c == Cat::Verb || c == Cat::Camera || c == Cat::Framing || c == Cat::Lens ||
             c == Cat::Duration || c == Cat::Speed || c == Cat::ShotMarker || c == Cat::Cut || c == Cat::Name ||
             c == Cat::Time || c == Cat::Setting || c == Cat::Quote || c == Cat::Punct || c == Cat::Label ||
             c == Cat::Total || c == Cat::NameTrigger || c == Cat::Direction || c == Cat::Pronoun);
  };
  auto separator = [&](int j) {
    return is_punct(j, PunctKind::Comma) || is_text(j, {"and", "or", "nor"}) || (cat(j) == Cat::Negation && m(j).value == 0);
  };
  int j = i + 1;
  int consumed_to = i;  // last lexeme taken
  std::vector<int> item;
  auto take = [&] {
    while (!item.empty() && (cat(item.front()) == Cat::Det || is_text(item.front(), {"any", "some", "other"})))
      use(item.front()), item.erase(item.begin());
    if (!item.empty()) {
      std::string text = item_text(item);
      if (std::find(negatives_.begin(), negatives_.end(), text) == negatives_.end()) negatives_.push_back(text);
      for (int x : item) use(x);
    }
    item.clear();
  };
  while (j < int(lex_.size()) && !is_boundary(j) && cat(j) != Cat::Quote) {
    if (separator(j)) {
      if (mode == NegationMode::Inline && is_punct(j, PunctKind::Comma)) break;
      take();
      // the next item must read as a negative too, or the list ends here
      if (mode != NegationMode::Full) {
        int k = j + 1;
        while (k < int(lex_.size()) && (separator(k) || cat(k) == Cat::Det)) ++k;
        int n = 0;
        bool ok = k < int(lex_.size()) && plain(k);
        for (; ok && k < int(lex_.size()) && !separator(k) && !is_boundary(k); ++k, ++n) ok = plain(k) && n < 4;
        if (!ok) break;
      }
      use(j);
      consumed_to = j;
      ++j;
      continue;
    }
    if (mode != NegationMode::Full && !plain(j) && cat(j) != Cat::Det) break;
    item.push_back(j);
    consumed_to = j;
    ++j;
  }
  take();
  pos_ = size_t(consumed_to);
}

void Parser::name_trigger(int i) {
  int j = i + 1;
  if (j >= int(lex_.size()) || lex_[size_t(j)].text.empty() || cat(j) == Cat::Punct || cat(j) == Cat::Quote) return;
  std::string text = lex_[size_t(j)].text;
  if (text.find(' ') != std::string::npos) return;
  int c = -1;
  if (block_ == LabelKind::Name) {
    c = !target_.empty() ? target_.back() : !characters_.empty() ? int(characters_.size()) - 1 : create_character(std::nullopt);
  } else if (last_character_noun_lexeme_ >= 0 && last_character_noun_refs_.size() == 1 &&
             prev_significant(i) == last_character_noun_lexeme_) {
    c = last_character_noun_refs_[0];
  }
  if (c < 0) return;
  if (characters_[size_t(c)].name && *characters_[size_t(c)].name != text) {
    note("a second name for one character; kept " + *characters_[size_t(c)].name);
  } else {
    text[0] = char(std::toupper(static_cast<unsigned char>(text[0])));
    characters_[size_t(c)].name = text;
  }
  use(i), use(j);
  last_name_lexeme_ = j, last_name_character_ = c;
  target_ = {c};
  pos_ = size_t(j);
}

void Parser::label(int i) {
  end_sentence();
  use(i);
  block_ = LabelKind(m(i).value);
  if (block_ == LabelKind::Negative) negation(i, NegationMode::Full);
  if (block_ == LabelKind::Name) name_trigger(i);
}

void Parser::end_sentence() {
  flush_noun_phrase();
  // A quoted line nobody introduced belongs to the character the sentence is about.
  for (int q : pending_quotes_) {
    if (lex_[size_t(q)].used) continue;
    if (lex_[size_t(q)].text.empty()) {  // "" says nothing
      use(q);
      continue;
    }
    int c = -1;
    for (const auto& refs : {group_, last_group_, previous_})
      for (const auto& r : refs)
        if (c < 0 && r.character) c = r.index;
    if (c < 0 && !characters_.empty()) c = int(characters_.size()) - 1;
    if (c < 0) {
      c = create_character(std::nullopt);
      note("a quoted line has no speaker; added a character to say it");
    }
    use(q);
    give_line(c, lex_[size_t(q)].text);
  }
  pending_quotes_.clear();
  apply_stashed_verbs(sentence_entities_);
  group_.clear();
  last_group_.clear();
  target_.clear();
  block_ = LabelKind::Plain;
  wearing_ = false;
  predicate_ = {};
  copula_ = false;
  if (!sentence_entities_.empty()) last_sentence_entities_ = std::move(sentence_entities_);
  sentence_entities_.clear();
  sentence_begin_ = int(pos_) + 1;
}

ParseResult Parser::run() {
  for (pos_ = 0; pos_ < lex_.size(); ++pos_) {
    const int i = int(pos_);
    const Cat c = cat(i);
    // Known names win over any other reading of the word.
    const bool name_like = lex_[pos_].capitalized || lex_[pos_].text.rfind('@', 0) == 0;
    if (name_like && lex_[pos_].last - lex_[pos_].first == 1 && c != Cat::Label && find_character(lex_[pos_].text) >= 0) {
      flush_noun_phrase();
      name_word(i);
      continue;
    }
    if (block_ == LabelKind::Audio) {
      // Sounds the scene implies: understood, and they only hint at the place and weather.
      if (is_boundary(i)) { end_sentence(); if (c == Cat::Label) label(i); continue; }
      if (c == Cat::Setting) soft_setting_ = soft_setting_ ? soft_setting_ : Setting(m(i).value);
      if (c == Cat::Weather) soft_weather_ = soft_weather_ ? soft_weather_ : Weather(m(i).value);
      if (c == Cat::Time) soft_time_ = soft_time_ ? soft_time_ : TimeOfDay(m(i).value);
      // a quoted sound ('a "whoosh"') is not a line; "Mia: "Hi"" was taken as a name above
      if (c != Cat::Unknown && c != Cat::Name) use(i);
      continue;
    }
    // "is long and red": the copula lasts through adjectives, "and" and commas
    if (copula_ && !(c == Cat::Adj || c == Cat::Filler || is_punct(i, PunctKind::Comma) ||
                     is_text(i, {"and", "or", "very"}))) {
      flush_noun_phrase();
      copula_ = false;
    }
    switch (c) {
      case Cat::Punct:
        if (is_boundary(i)) end_sentence();
        else flush_noun_phrase();
        break;
      case Cat::Label: label(i); break;
      case Cat::Stop:
        flush_noun_phrase();
        // "Mia, who has long hair, waves" / "They have long hair": "has" takes the subjects,
        // so a later verb goes back to them and a new subject starts afresh.
        if (is_text(i, {"has", "have", "had", "having"}) && !group_.empty()) last_group_ = group_, group_.clear();
        if (is_text(i, {"is", "are", "was", "were", "looks", "look", "seems"}) && predicate_.head != Cat::Unknown) {
          int j = i - 1;  // right after its noun: "her hair is", "a shirt that is"
          while (j >= 0 && is_text(j, {"that", "which"})) --j;
          copula_ = j == predicate_.lexeme;
        }
        break;
      case Cat::Filler: break;
      case Cat::Unknown: flush_noun_phrase(); break;
      case Cat::Quote: flush_noun_phrase(); quote(i); end_after_quote(i); break;
      case Cat::Det:
        flush_noun_phrase();
        np_.active = true, np_.det = DetKind(m(i).value);
        use(i);
        break;
      case Cat::Number:
        if (block_ == LabelKind::Duration) {
          flush_noun_phrase();
          duration(i);
          break;
        }
        if (np_.count) flush_noun_phrase();
        np_.active = true, np_.count = m(i).number, np_.count_lexeme = i;
        break;
      case Cat::Adj:
        np_.active = true;
        np_.adjectives.push_back(i);
        break;
      case Cat::AttrSuffix: {
        std::vector<int> keep;
        bool any = false;
        for (int a : np_.adjectives) {
          const AdjRoles& r = m(a).adj;
          if (AttrKind(m(i).value) == AttrKind::Haired && r.style) np_.style = r.style;
          else if (AttrKind(m(i).value) == AttrKind::Haired && r.hair) np_.hair = r.hair;
          else if (AttrKind(m(i).value) == AttrKind::Skinned && r.skin) np_.skin = r.skin;
          else { keep.push_back(a); continue; }
          any = true;
          np_.attribute_lexemes.push_back(a);
        }
        np_.adjectives = keep;
        if (any) np_.attribute_lexemes.push_back(i);
        np_.active = true;
        break;
      }
      case Cat::Sunny:
        use(i);
        set_scene(weather_, Weather::Clear, i, "kinds of weather");
        if (!soft_time_) soft_time_ = TimeOfDay::Day;
        break;
      case Cat::Weather: set_scene(weather_, Weather(m(i).value), i, "kinds of weather"); break;
      case Cat::Time: set_scene(time_, TimeOfDay(m(i).value), i, "times of day"); break;
      case Cat::Setting: {
        np_ = {};  // adjectives of a place ("green meadow") are not kept: reported unknown
        set_scene(setting_, Setting(m(i).value), i, "settings");
        if (Setting(m(i).value) == Setting::NightSky && !soft_time_) soft_time_ = TimeOfDay::Night;
        break;
      }
      case Cat::ObjNoun: object_head(i); break;
      case Cat::CharNoun: character_head(i); break;
      case Cat::HairNoun: case Cat::ShirtNoun: case Cat::SkinNoun: case Cat::Accessory: attribute_head(i); break;
      case Cat::Wearing: flush_noun_phrase(); wearing_ = true; use(i); break;
      case Cat::Pronoun: {
        flush_noun_phrase();
        use(i);
        const auto k = PronounKind(m(i).value);
        std::vector<Ref> refs;
        if (k == PronounKind::Character) {
          // the character mentioned last whose noun fits "he"/"she"; else the last one
          const int g = m(i).gender;
          int best = -1, fallback = -1;
          for (int c = 0; c < int(characters_.size()); ++c) {
            const auto& ch = characters_[size_t(c)];
            if (fallback < 0 || ch.last_mention > characters_[size_t(fallback)].last_mention) fallback = c;
            if ((ch.gender == 0 || ch.gender == g) && (best < 0 || ch.last_mention > characters_[size_t(best)].last_mention)) best = c;
          }
          int c = best >= 0 ? best : fallback;
          if (c < 0) c = create_character(std::nullopt);  // "She waves."
          if (characters_[size_t(c)].gender == 0) characters_[size_t(c)].gender = g;
          characters_[size_t(c)].last_mention = i;
          refs.push_back({true, c});
        } else if (k == PronounKind::Object) {
          if (!objects_.empty()) refs.push_back({false, int(objects_.size()) - 1});
        } else {
          refs = !sentence_entities_.empty() ? sentence_entities_ : last_sentence_entities_;
        }
        for (const auto& r : refs) {
          if (std::find(group_.begin(), group_.end(), r) == group_.end()) group_.push_back(r);
          if (r.character) target_ = {r.index};
        }
        break;
      }
      case Cat::Verb: verb(i); break;
      case Cat::Direction:
        flush_noun_phrase();
        if (m(i).dir != Dir::Left && m(i).dir != Dir::Right) use(i);  // "up", "back": harmless when unused
        break;
      case Cat::Camera: flush_noun_phrase(); camera(i); break;
      case Cat::Speed:
        flush_noun_phrase();
        if (!lex_[pos_].used && (block_ == LabelKind::Camera)) {
          use(i);
          set_once(shot().speed, CameraSpeed(m(i).value), "camera speeds");
        }
        break;
      case Cat::Framing:
        flush_noun_phrase();
        use(i);
        if (block_ == LabelKind::Lens && Framing(m(i).value) == Framing::Wide) set_once(shot().lens, Lens::Wide, "lenses");
        else set_once(shot().framing, Framing(m(i).value), "framings");
        claim_speed(i);
        break;
      case Cat::Lens:
        flush_noun_phrase();
        use(i);
        set_once(shot().lens, Lens(m(i).value), "lenses");
        break;
      case Cat::Duration: flush_noun_phrase(); duration(i); break;
      case Cat::Total: flush_noun_phrase(); break;
      case Cat::ShotMarker: {
        flush_noun_phrase();
        use(i);
        const int n = m(i).value;
        if (n >= 1 && n <= kMaxShots) shot_index_ = n - 1;
        else if (n == 0 && shot_index_ < kMaxShots - 1) shot_index_ = std::max(0, shot_index_ + 1);
        else { note("shot numbers run from 1 to " + std::to_string(kMaxShots) + "; ignored shot " + std::to_string(n)); break; }
        if (size_t(shot_index_) >= shots_.size()) shots_.resize(size_t(shot_index_) + 1);
        shot_sentence_ = sentence_begin_;
        break;
      }
      case Cat::Cut: {
        flush_noun_phrase();
        use(i);
        if (cat(next_significant(i)) == Cat::ShotMarker) break;
        if (shot_index_ < 0) {  // what came before the first cut was the first shot
          shots_.assign(1, global_shot_);
          global_shot_ = {};
          shot_index_ = 1;
        } else if (shot_index_ < kMaxShots - 1) {
          ++shot_index_;
        } else {
          note("at most " + std::to_string(kMaxShots) + " shots; later cuts ignored");
        }
        shot_sentence_ = sentence_begin_;
        if (size_t(shot_index_) >= shots_.size()) shots_.resize(size_t(shot_index_) + 1);
        break;
      }
      case Cat::Negation: {
        flush_noun_phrase();
        const bool sentence_start = is_boundary(i - 1) || i <= sentence_begin_;
        negation(i, m(i).value == 1 ? NegationMode::Full : sentence_start ? NegationMode::Short : NegationMode::Inline);
        break;
      }
      case Cat::NameTrigger: flush_noun_phrase(); name_trigger(i); break;
      case Cat::Name:
        flush_noun_phrase();
        name_word(i);
        break;
    }
  }
  end_sentence();
  return finish();
}

ParseResult Parser::finish() {
  ParseResult result;
  SceneSpec& spec = result.spec;
  bool any_word = false;
  for (const auto& t : tokens_) any_word |= t.kind == Token::Kind::Word || (t.kind == Token::Kind::Quote && !t.text.empty());
  if (!any_word) {
    notes_.insert(notes_.begin(), "empty prompt");
    spec.shots[0].seconds = default_seconds_;
    result.notes = notes_;
    return result;
  }
  spec.setting = setting_.value_or(soft_setting_.value_or(Setting::Meadow));
  spec.time_of_day = time_.value_or(soft_time_.value_or(TimeOfDay::Day));
  spec.weather = weather_.value_or(soft_weather_.value_or(Weather::Clear));

  for (const auto& o : objects_) {
    ObjectSpec s;
    s.kind = o.kind;
    s.color = o.color.value_or(Color::Red);
    s.size = o.size.value_or(Size::Small);
    Motion fallback = Motion::Bounces;
    switch (o.kind) {
      case ObjectKind::Ball: fallback = Motion::Bounces; break;
      case ObjectKind::Box: fallback = Motion::StaysStill; break;
      case ObjectKind::Balloon: fallback = Motion::FloatsUp; break;
      case ObjectKind::Bird: fallback = Motion::FliesRight; break;
      case ObjectKind::Car: fallback = Motion::RollsRight; break;
    }
    s.motion = o.motion.value_or(fallback);
    spec.objects.push_back(s);
  }
  if (int(spec.objects.size()) > kMaxObjects) {
    note(std::to_string(spec.objects.size()) + " objects described; a scene holds at most " + std::to_string(kMaxObjects) +
         ", kept the first " + std::to_string(kMaxObjects));
    spec.objects.resize(kMaxObjects);
  }

  static constexpr std::string_view kDefaultNames[] = {"Alex", "Sam", "Jo", "Kim", "Lee", "Max"};
  for (size_t k = 0; k < characters_.size(); ++k) {
    const auto& c = characters_[k];
    CharacterSpec s;
    if (c.skin) s.identity.skin = *c.skin;
    if (c.hair_color) s.identity.hair_color = *c.hair_color;
    if (c.hair_style) s.identity.hair_style = *c.hair_style;
    if (c.shirt) s.identity.shirt = *c.shirt;
    if (c.accessory) s.identity.accessory = *c.accessory;
    if (c.name) {
      s.identity.name = *c.name;
    } else {
      for (auto n : kDefaultNames)
        if (find_character(n) < 0 &&
            std::none_of(spec.characters.begin(), spec.characters.end(), [&](const CharacterSpec& o) { return o.identity.name == n; })) {
          s.identity.name = std::string(n);
          break;
        }
    }
    s.action = c.action.value_or(Action::Stands);
    s.line = c.line;
    if (s.action == Action::Talks && s.line.empty())
      note(s.identity.name + " talks but no line was given in quotes");
    spec.characters.push_back(s);
  }
  if (int(spec.characters.size()) > kMaxCharacters) {
    note(std::to_string(spec.characters.size()) + " characters described; a scene holds at most " +
         std::to_string(kMaxCharacters) + ", kept the first " + std::to_string(kMaxCharacters));
    spec.characters.resize(kMaxCharacters);
  }

  // Shots: directions given before any shot marker are defaults for every shot.
  std::vector<ShotBuild> shots = shots_;
  if (shots.empty()) shots.push_back({});
  for (auto& s : shots) {
    if (!s.camera) s.camera = global_shot_.camera;
    if (!s.speed) s.speed = global_shot_.speed;
    if (!s.framing) s.framing = global_shot_.framing;
    if (!s.lens) s.lens = global_shot_.lens;
    if (!s.seconds && shots.size() == 1) s.seconds = global_shot_.seconds;
  }
  const double total = total_seconds_.value_or(default_seconds_);
  double known = 0;
  int unknown = 0;
  for (const auto& s : shots) s.seconds ? known += *s.seconds : ++unknown;
  if (unknown == 0 && total_seconds_ && std::abs(known - *total_seconds_) > 1e-6)
    note("the shots add up to " + std::to_string(known) + " s but the prompt says " + std::to_string(*total_seconds_) +
         " s; used the shot lengths");
  double each = 0;
  if (unknown > 0) {
    each = (total - known) / unknown;
    if (each <= 0) {
      each = total / double(shots.size());
      note("the shot lengths leave no time for the other shots; gave them " + std::to_string(each) + " s each");
    }
  }
  spec.shots.clear();
  for (const auto& s : shots) {
    ShotSpec out;
    out.camera = s.camera.value_or(CameraMove::Static);
    out.speed = s.speed.value_or(CameraSpeed::Slow);
    out.framing = s.framing.value_or(Framing::Wide);
    out.lens = s.lens.value_or(Lens::Standard);
    out.seconds = s.seconds.value_or(each);
    spec.shots.push_back(out);
  }
  spec.negatives = negatives_;

  // Unknown words: the words of every lexeme that did not make it into the spec.
  for (const auto& x : lex_) {
    if (x.used) continue;
    const Cat c = x.m.cat;
    if (c == Cat::Punct || c == Cat::Stop || c == Cat::Filler || c == Cat::Det || c == Cat::Quote) continue;
    for (size_t t = x.first; t < x.last; ++t) {
      if (tokens_[t].kind != Token::Kind::Word) continue;
      const std::string& w = tokens_[t].lower;
      if (is_function_word(w)) continue;
      if (std::find(result.unknown_words.begin(), result.unknown_words.end(), w) == result.unknown_words.end())
        result.unknown_words.push_back(w);
    }
  }
  result.notes = notes_;
  return result;
}

}  // namespace

ParseResult parse_prompt(std::string_view prompt, double default_seconds) {
  return Parser(prompt, default_seconds).run();
}

}  // namespace opsis::studio
