// The tokenizer and lexicon behind parse_prompt(); see caption_words.hpp.
#include "studio/caption_words.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <initializer_list>
#include <string>
#include <unordered_map>
#include <utility>

namespace opsis::studio::caption_words {

// ---------------------------------------------------------------------------------------
// Tokens

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = char(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

namespace {

bool is_word_byte(unsigned char c) { return std::isalnum(c) || c >= 0x80 || c == '\''; }

bool is_number_text(std::string_view s) {
  if (s.empty() || !std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c)) && c != '.') return false;
  return true;
}

}  // namespace

Tokenized tokenize(std::string_view s) {
  Tokenized out;
  auto& tokens = out.tokens;
  auto punct = [&](PunctKind k) {
    if (k == PunctKind::SentenceEnd && !tokens.empty() && tokens.back().kind == Token::Kind::Punct &&
        tokens.back().punct == PunctKind::SentenceEnd)
      return;  // "..." or "?!" is one sentence end
    Token t;
    t.kind = Token::Kind::Punct;
    t.punct = k;
    tokens.push_back(t);
  };
  auto push_word = [&](std::string w) {
    if (w.empty()) return;
    Token t;
    t.kind = Token::Kind::Word;
    t.capitalized = w[0] >= 'A' && w[0] <= 'Z';
    t.lower = ascii_lower(w);
    t.text = std::move(w);
    tokens.push_back(std::move(t));
  };
  auto starts = [&](size_t i, std::string_view p) { return s.substr(i, p.size()) == p; };

  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = s[i];
    // Quoted line: "..." or “...”. Everything inside is kept verbatim.
    if (c == '"' || starts(i, "\u201c") || starts(i, "\u201d")) {
      const size_t open_len = c == '"' ? 1 : 3;
      size_t j = i + open_len;
      size_t close = std::string_view::npos, close_len = 0;
      for (size_t k = j; k < s.size(); ++k) {
        if (s[k] == '"') { close = k, close_len = 1; break; }
        if (starts(k, "\u201d") || starts(k, "\u201c")) { close = k, close_len = 3; break; }
      }
      if (close == std::string_view::npos) out.unclosed_quote = true, close = s.size();
      std::string_view inner = s.substr(j, close - j);
      while (!inner.empty() && std::isspace(static_cast<unsigned char>(inner.front()))) inner.remove_prefix(1);
      while (!inner.empty() && std::isspace(static_cast<unsigned char>(inner.back()))) inner.remove_suffix(1);
      Token t;
      t.kind = Token::Kind::Quote;
      t.text = std::string(inner);
      tokens.push_back(std::move(t));
      i = std::min(s.size(), close + close_len);
      continue;
    }
    if (starts(i, "\u2014") || starts(i, "\u2013")) { punct(PunctKind::Comma); i += 3; continue; }
    if (starts(i, "\u2026")) { punct(PunctKind::SentenceEnd); i += 3; continue; }
    if (starts(i, "\u00a0")) { i += 2; continue; }
    if (c == '\n') { punct(PunctKind::Newline); ++i; continue; }
    if (c == '.' || c == '!' || c == '?' || c == ';') { punct(PunctKind::SentenceEnd); ++i; continue; }
    if (c == ',' || c == '(' || c == ')' || c == '[' || c == ']' || c == '/') { punct(PunctKind::Comma); ++i; continue; }
    if (c == '-') {  // a dash between spaces separates like a comma; inside a word it splits it
      const bool spaced_before = i == 0 || std::isspace(static_cast<unsigned char>(s[i - 1]));
      const bool spaced_after = i + 1 >= s.size() || std::isspace(static_cast<unsigned char>(s[i + 1]));
      if (spaced_before && spaced_after) punct(PunctKind::Comma);
      ++i;
      continue;
    }
    if (c == ':') { punct(PunctKind::Colon); ++i; continue; }
    if (c == '&') { push_word("and"); ++i; continue; }
    if (c == '@' && i + 1 < s.size() && (std::isalnum(static_cast<unsigned char>(s[i + 1])) || s[i + 1] == '_')) {
      // a cameo handle: "@sam" names a character
      size_t j = i + 1;
      while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '_' || s[j] == '.')) ++j;
      while (j > i + 1 && s[j - 1] == '.') --j;
      push_word(std::string(s.substr(i, j - i)));
      for (std::string_view apostrophe : {"'s", "\u2019s"})
        if (starts(j, apostrophe) && (j + apostrophe.size() >= s.size() || !std::isalpha(static_cast<unsigned char>(s[j + apostrophe.size()])))) {
          push_word("'s");
          j += apostrophe.size();
        }
      i = j;
      continue;
    }
    if (std::isdigit(c)) {  // a number: digits with at most one decimal point between digits
      size_t j = i;
      bool dot = false;
      while (j < s.size() && (std::isdigit(static_cast<unsigned char>(s[j])) ||
                              (!dot && s[j] == '.' && j + 1 < s.size() && std::isdigit(static_cast<unsigned char>(s[j + 1])))))
        dot |= s[j] == '.', ++j;
      push_word(std::string(s.substr(i, j - i)));
      i = j;
      continue;
    }
    if (is_word_byte(c) && c != '\'' && !starts(i, "\u2019") && !starts(i, "\u2018")) {
      std::string w;
      size_t j = i;
      while (j < s.size()) {
        const unsigned char d = s[j];
        if (starts(j, "\u2019") || d == '\'') {
          // "Mia's" -> "Mia" + "'s"; "don't" stays one word.
          const size_t len = d == '\'' ? 1 : 3;
          const size_t k = j + len;
          const bool letter_next = k < s.size() && std::isalpha(static_cast<unsigned char>(s[k]));
          if (!letter_next) { j = k; break; }
          const bool s_then_end = (s[k] == 's' || s[k] == 'S') &&
                                  (k + 1 >= s.size() || !std::isalpha(static_cast<unsigned char>(s[k + 1])));
          if (s_then_end) {
            push_word(w);
            w.clear();
            push_word("'s");
            j = k + 1;
            break;
          }
          w += '\'';
          j = k;
          continue;
        }
        if (std::isdigit(d) || d == '"' || starts(j, "\u201c") || starts(j, "\u201d") || starts(j, "\u2014") ||
            starts(j, "\u2013") || starts(j, "\u2026") || starts(j, "\u00a0"))
          break;
        if (!(std::isalpha(d) || d >= 0x80)) break;
        w += char(d);
        ++j;
      }
      push_word(w);
      i = j;
      continue;
    }
    ++i;  // spaces and other symbols separate words
  }
  return out;
}

namespace {

// ---------------------------------------------------------------------------------------
// Lexicon

struct Lexicon {
  std::unordered_map<std::string, Meaning> phrases;
  std::unordered_map<std::string, LabelKind> labels;
  size_t longest = 1;

  void add(std::string_view phrase, Meaning m) {
    std::string key(phrase);
    for (auto& c : key)
      if (c == '-') c = ' ';
    longest = std::max<size_t>(longest, size_t(std::count(key.begin(), key.end(), ' ') + 1));
    phrases[key] = m;
  }
  void add_all(std::initializer_list<std::string_view> words, Meaning m) {
    for (auto w : words) add(w, m);
  }
};

Meaning of(Cat cat, int value = 0, Dir dir = Dir::None) {
  Meaning m;
  m.cat = cat, m.value = value, m.dir = dir;
  return m;
}

Meaning adj(AdjRoles roles) {
  Meaning m;
  m.cat = Cat::Adj;
  m.adj = roles;
  return m;
}

const Lexicon& lexicon() {
  static const Lexicon lex = [] {
    Lexicon L;
    L.add_all({"with", "and", "or", "nor", "of", "in", "on", "at", "is", "are", "was", "were", "be", "being", "been",
               "to", "from", "into", "onto", "over", "under", "across", "through", "by", "for", "as", "this", "that",
               "these", "those", "while", "then", "who", "which", "where", "when", "has", "have", "having", "had",
               "each", "both", "also", "there", "here", "'s", "very", "so", "just", "near", "around", "behind",
               "beside", "between", "along", "past", "above", "below", "off", "toward", "towards", "out", "its",
               "their", "all", "some", "any", "same", "other", "next", "against", "inside of",
               "throughout", "during", "whose", "does", "do", "can", "will", "we", "see", "shows", "showing",
               "features", "featuring", "there's", "it's", "one's", "upon", "among", "amid", "beneath", "within",
               "about", "before", "after", "till", "until", "still", "again", "too"},
              of(Cat::Stop));
    // Understood words with no effect on the spec: scaffolding of directions and the
    // sounds a scene makes (audio blocks describe sounds the spec already implies).
    L.add_all({"camera", "shot", "shots", "scene", "clip", "video", "footage", "film", "view", "frame", "framing",
               "ground", "floor", "grass", "sky", "air", "background", "foreground", "lens", "subject", "action",
               "light", "lighting", "warm", "soft", "quiet", "cozy", "cosy", "busy", "open", "empty", "sandy", "grassy",
               "lush", "vast", "bright", "sound", "sounds", "noise", "ambience", "ambient", "audio", "voice",
               "voices", "footsteps", "footstep", "birdsong", "breeze", "wind", "surf", "traffic", "crickets", "hum",
               "patter", "thud", "thuds", "thump", "thumps", "squeak", "squeaks", "chirp", "chirps", "chirping",
               "wings", "flapping", "engine", "rumble", "rustling", "leaves", "ticking", "clock", "room tone",
               "distant", "low", "cold", "dry", "howling", "lapping", "crunch", "crunching", "whoosh", "creak", "place",
               "in place", "put", "motionless", "hand", "face", "nearby", "together", "up and down", "the waves",
               "ocean waves", "crashing waves", "waves crashing", "pattering", "rolling thunder", "murmur",
               "quietly", "steadily", "overhead", "scurry", "echo", "echoes", "splash", "splashes", "hiss",
               "on top of", "dialogue", "spoken", "line", "lines", "speaking", "silence", "tone", "room",
               "environment", "area", "spot", "setting", "bounce", "roll", "landing", "impact", "impacts",
               "everything", "onscreen", "on screen", "screen", "moment", "way", "side", "lasting", "lasts", "runs for", "duration", "length", "runtime"},
              of(Cat::Filler));
    // These fillers are also verbs or nouns elsewhere; the longer or earlier entries win.
    L.add_all({"a", "an"}, of(Cat::Det, int(DetKind::Indefinite)));
    L.add("the", of(Cat::Det, int(DetKind::Definite)));
    L.add_all({"another", "second", "third", "one more"}, of(Cat::Det, int(DetKind::Another)));

    // Settings.
    auto setting = [&](Setting s, std::initializer_list<std::string_view> words) { L.add_all(words, of(Cat::Setting, int(s))); };
    setting(Setting::Meadow, {"meadow", "meadows", "field", "fields", "grassy field", "open field", "grassland", "pasture",
                              "park", "lawn", "prairie", "countryside", "hillside", "grassy meadow", "green meadow"});
    setting(Setting::Beach, {"beach", "beaches", "seaside", "shore", "seashore", "coast", "sandy beach", "sand", "ocean",
                             "sea", "beachfront", "shoreline"});
    setting(Setting::CityStreet, {"street", "streets", "city street", "city streets", "busy street", "downtown street",
                                  "downtown", "city", "road", "sidewalk", "avenue", "street downtown", "urban street",
                                  "busy city street"});
    setting(Setting::LivingRoom, {"living room", "lounge", "indoors", "indoor", "inside", "sitting room", "family room",
                                  "den", "home", "apartment", "cozy living room"});
    setting(Setting::Forest, {"forest", "forests", "woods", "woodland", "jungle", "trees", "quiet forest"});
    setting(Setting::Snowfield, {"snowfield", "snow field", "snow", "snowy", "snowy field", "field of snow",
                                 "snow covered field", "tundra", "snowy plain", "snowy meadow"});
    setting(Setting::Desert, {"desert", "deserts", "dunes", "sand dunes", "desert dunes", "arid desert", "sandy desert"});
    setting(Setting::NightSky, {"night sky", "starry sky", "starry night sky", "stars", "starry", "space", "outer space",
                                "cosmos", "sky at night", "starry night"});

    auto time = [&](TimeOfDay t, std::initializer_list<std::string_view> words) { L.add_all(words, of(Cat::Time, int(t))); };
    time(TimeOfDay::Day, {"day", "daytime", "daylight", "during the day", "by day", "midday", "noon", "morning",
                          "afternoon", "broad daylight", "in the daytime"});
    time(TimeOfDay::GoldenHour, {"golden hour", "sunset", "sunrise", "dusk", "dawn", "twilight", "evening",
                                 "late afternoon", "magic hour", "golden light", "the warm light of late afternoon",
                                 "warm light of late afternoon"});
    time(TimeOfDay::Night, {"night", "nighttime", "night time", "midnight", "moonlight", "moonlit", "after dark", "moon",
                            "at night"});
    L.add_all({"rain", "rains", "raining", "rainy", "rainfall", "drizzle", "drizzling", "downpour", "pouring rain",
               "storm", "stormy", "showers", "rainstorm", "light rain", "heavy rain", "it rains", "it's raining"},
              of(Cat::Weather, int(Weather::Rain)));
    L.add_all({"clear", "clear skies", "clear sky", "cloudless", "clear weather", "dry weather", "fair weather"},
              of(Cat::Weather, int(Weather::Clear)));
    L.add_all({"sunny", "sunshine", "sunlit", "sunny day"}, of(Cat::Sunny));

    // Objects.
    auto object = [&](ObjectKind k, std::initializer_list<std::string_view> singular, std::initializer_list<std::string_view> plural) {
      L.add_all(singular, of(Cat::ObjNoun, int(k)));
      Meaning m = of(Cat::ObjNoun, int(k));
      m.plural = true;
      L.add_all(plural, m);
    };
    object(ObjectKind::Ball, {"ball", "rubber ball", "beach ball", "soccer ball", "football", "basketball", "tennis ball", "bouncy ball"},
           {"balls", "rubber balls", "beach balls", "soccer balls", "footballs", "basketballs", "tennis balls", "bouncy balls"});
    object(ObjectKind::Box, {"box", "crate", "cube", "cardboard box", "wooden crate", "package", "parcel", "wooden box"},
           {"boxes", "crates", "cubes", "cardboard boxes", "wooden crates", "packages", "parcels", "wooden boxes"});
    object(ObjectKind::Balloon, {"balloon", "party balloon", "hot air balloon"}, {"balloons", "party balloons", "hot air balloons"});
    object(ObjectKind::Bird, {"bird", "songbird", "pigeon", "seagull", "gull", "sparrow", "crow", "dove"},
           {"birds", "songbirds", "pigeons", "seagulls", "gulls", "sparrows", "crows", "doves"});
    object(ObjectKind::Car, {"car", "automobile", "toy car", "vehicle", "taxi", "cab", "sedan", "truck"},
           {"cars", "automobiles", "toy cars", "vehicles", "taxis", "cabs", "sedans", "trucks"});

    // Characters.
    auto character = [&](std::initializer_list<std::string_view> words, int gender, bool plural, int count = 0) {
      Meaning m = of(Cat::CharNoun);
      m.gender = gender, m.plural = plural, m.count = count;
      L.add_all(words, m);
    };
    character({"person", "kid", "child", "teenager", "teen", "adult", "figure", "character", "someone", "somebody",
               "friend", "stranger", "hiker", "dancer", "toddler"},
              0, false);
    character({"man", "boy", "guy", "gentleman"}, 1, false);
    character({"woman", "girl", "lady"}, 2, false);
    character({"people", "persons", "kids", "children", "teenagers", "teens", "adults", "figures", "characters", "friends",
               "strangers", "hikers", "dancers", "toddlers"},
              0, true);
    character({"men", "boys", "guys", "gentlemen"}, 1, true);
    character({"women", "girls", "ladies"}, 2, true);
    character({"couple"}, 0, true, 2);
    auto pronoun = [&](std::initializer_list<std::string_view> words, int gender) {
      Meaning m = of(Cat::Pronoun, int(PronounKind::Character));
      m.gender = gender;
      L.add_all(words, m);
    };
    pronoun({"he", "him", "his", "himself"}, 1);
    pronoun({"she", "her", "hers", "herself"}, 2);
    L.add_all({"it", "itself"}, of(Cat::Pronoun, int(PronounKind::Object)));
    L.add_all({"they", "them", "themselves"}, of(Cat::Pronoun, int(PronounKind::Group)));

    // Adjectives: one word can name a colour, a hair colour and a skin tone; the head noun decides.
    auto color = [&](std::initializer_list<std::string_view> words, Color c, std::optional<HairColor> h = {},
                     std::optional<SkinTone> skin = {}) {
      AdjRoles r;
      r.color = c, r.hair = h, r.skin = skin;
      L.add_all(words, adj(r));
    };
    color({"red", "crimson", "scarlet"}, Color::Red, HairColor::Red);
    color({"orange"}, Color::Orange);
    color({"yellow"}, Color::Yellow, HairColor::Blond);
    color({"golden", "gold"}, Color::Yellow, HairColor::Blond);
    color({"green", "emerald", "lime"}, Color::Green);
    color({"blue", "navy"}, Color::Blue, HairColor::Blue);
    color({"purple", "violet", "lavender", "lilac"}, Color::Purple);
    color({"white"}, Color::White, HairColor::Gray, SkinTone::Pale);
    color({"black", "jet black"}, Color::Black, HairColor::Black, SkinTone::Dark);
    auto hair = [&](std::initializer_list<std::string_view> words, HairColor h, std::optional<SkinTone> skin = {}) {
      AdjRoles r;
      r.hair = h, r.skin = skin, r.hair_word = true;
      L.add_all(words, adj(r));
    };
    hair({"blond", "blonde", "fair haired"}, HairColor::Blond);
    hair({"brunette", "chestnut"}, HairColor::Brown);
    hair({"ginger", "auburn", "redheaded", "red headed"}, HairColor::Red);
    hair({"gray", "grey", "silver", "grey haired"}, HairColor::Gray);
    {
      AdjRoles r;
      r.hair = HairColor::Brown, r.skin = SkinTone::Tan;
      L.add("brown", adj(r));
    }
    auto skin = [&](std::initializer_list<std::string_view> words, SkinTone t, bool skin_word, std::optional<HairColor> h = {}) {
      AdjRoles r;
      r.skin = t, r.skin_word = skin_word, r.hair = h;
      L.add_all(words, adj(r));
    };
    skin({"pale"}, SkinTone::Pale, true);
    skin({"fair"}, SkinTone::Light, true);
    skin({"light"}, SkinTone::Light, false);
    skin({"olive"}, SkinTone::Medium, true);
    skin({"tan", "tanned", "bronze"}, SkinTone::Tan, true);
    skin({"dark", "deep"}, SkinTone::Dark, true, HairColor::Black);
    {
      AdjRoles r;
      r.skin = SkinTone::Medium, r.framing = Framing::Medium;
      L.add("medium", adj(r));
    }
    auto size = [&](std::initializer_list<std::string_view> words, Size z) {
      AdjRoles r;
      r.size = z;
      L.add_all(words, adj(r));
    };
    size({"small", "little", "tiny", "mini", "miniature"}, Size::Small);
    size({"large", "big", "huge", "giant", "massive", "enormous"}, Size::Large);
    auto style = [&](std::initializer_list<std::string_view> words, HairStyle s) {
      AdjRoles r;
      r.style = s;
      L.add_all(words, adj(r));
    };
    style({"short", "cropped"}, HairStyle::Short);
    style({"long", "flowing"}, HairStyle::Long);
    style({"bald", "hairless", "shaved"}, HairStyle::Bald);
    L.add("haired", of(Cat::AttrSuffix, int(AttrKind::Haired)));
    L.add_all({"skinned", "complexioned"}, of(Cat::AttrSuffix, int(AttrKind::Skinned)));
    L.add_all({"hair", "eyebrows", "brows", "stubble", "beard", "head", "hairstyle", "curls", "head of hair"}, of(Cat::HairNoun));
    L.add_all({"shirt", "shirts", "t shirt", "t shirts", "tshirt", "tee", "top", "sweater", "jumper", "jacket", "hoodie",
               "blouse", "dress", "coat", "jersey", "outfit", "clothes"},
              of(Cat::ShirtNoun));
    L.add_all({"skin", "complexion", "skin tone"}, of(Cat::SkinNoun));
    L.add_all({"hat", "hats", "cap", "caps", "sun hat", "baseball cap", "beanie", "top hat", "straw hat", "cowboy hat"},
              of(Cat::Accessory, int(Accessory::Hat)));
    L.add_all({"glasses", "eyeglasses", "spectacles", "sunglasses", "pair of glasses", "a pair of glasses",
               "pair of sunglasses", "a pair of sunglasses", "round glasses"},
              of(Cat::Accessory, int(Accessory::Glasses)));
    L.add_all({"wearing", "wears", "wear", "dressed in", "clad in", "dressed"}, of(Cat::Wearing));

    // Counts.
    auto quantity = [&](std::initializer_list<std::string_view> words, double n) {
      Meaning m = of(Cat::Number);
      m.number = n;
      L.add_all(words, m);
    };
    quantity({"a couple of", "a pair of", "pair of", "couple of", "two of"}, 2);
    quantity({"a few", "several", "a handful of", "few"}, 3);
    quantity({"many", "lots of", "a lot of", "a bunch of", "a flock of", "a group of", "a crowd of", "plenty of", "numerous",
              "a swarm of", "a row of"},
             4);

    // Verbs.
    auto verb = [&](VerbClass v, std::initializer_list<std::string_view> words, Dir d = Dir::None) {
      L.add_all(words, of(Cat::Verb, int(v), d));
    };
    verb(VerbClass::Bounce, {"bounce", "bounces", "bouncing", "bounced"});
    verb(VerbClass::Roll, {"roll", "rolls", "rolling", "rolled"});
    verb(VerbClass::Fall, {"fall", "falls", "falling", "fell", "drop", "drops", "dropping", "dropped", "tumble", "tumbles",
                           "tumbling", "plummet", "plummets", "plummeting", "plunge", "plunges", "falls down", "fall down",
                           "tumbles down", "tumble down", "drops down"});
    verb(VerbClass::Fly, {"fly", "flies", "flying", "flew", "soar", "soars", "soaring", "glide", "glides", "gliding",
                          "flutter", "flutters", "fluttering"});
    verb(VerbClass::Float, {"float", "floats", "floating", "drift", "drifts", "drifting"});
    verb(VerbClass::Float, {"rise", "rises", "rising", "ascend", "ascends", "ascending", "float up", "floats up",
                            "drifts up", "drift up"},
         Dir::Up);
    verb(VerbClass::Spin, {"spin", "spins", "spinning", "rotate", "rotates", "rotating", "twirl", "twirls", "twirling",
                           "whirl", "whirls", "whirling"});
    verb(VerbClass::Still, {"stays still", "stay still", "staying still", "sits still", "sit still", "sitting still",
                            "rests motionless", "rest motionless", "stays put", "stay put", "remains still", "remain still",
                            "rests", "rest", "resting", "sits", "sit", "sitting", "lies", "lie", "lying", "is parked",
                            "parked", "hover", "hovers", "hovering", "lies still", "lie still", "stays", "stay", "remains"});
    verb(VerbClass::Stand, {"stand", "stands", "standing", "stood", "stands still", "stand still", "standing still", "wait",
                            "waits", "waiting", "pose", "poses", "posing", "stands nearby"});
    verb(VerbClass::Walk, {"walk", "walks", "walking", "walked", "stroll", "strolls", "strolling", "wander", "wanders",
                           "wandering", "run", "runs", "running", "ran", "jog", "jogs", "jogging", "march", "marches",
                           "marching"});
    verb(VerbClass::Move, {"move", "moves", "moving", "go", "goes", "going", "travel", "travels", "traveling",
                           "travelling", "heads", "heading", "slide", "slides", "sliding"});
    verb(VerbClass::Drive, {"drive", "drives", "driving", "drove", "race", "races", "racing", "speed", "speeds",
                            "speeding", "zips", "zip"});
    verb(VerbClass::Wave, {"wave", "waves", "waving", "waved", "waves hello", "waves a hand", "waving hello"});
    verb(VerbClass::Jump, {"jump", "jumps", "jumping", "jumped", "hop", "hops", "hopping", "leap", "leaps", "leaping",
                           "jumps up and down", "jump up and down"});
    verb(VerbClass::Talk, {"talk", "talks", "talking", "speak", "speaks", "chat", "chats", "chatting", "converse",
                           "converses", "conversing"});
    verb(VerbClass::Say, {"say", "says", "saying", "said", "ask", "asks", "asking", "asked", "shout", "shouts",
                          "shouting", "shouted", "whisper", "whispers", "whispering", "reply", "replies", "replied",
                          "exclaim", "exclaims", "yell", "yells", "sing", "sings", "calls out", "announces", "says out loud"});

    auto dir = [&](std::initializer_list<std::string_view> words, Dir d) { L.add_all(words, of(Cat::Direction, 0, d)); };
    dir({"left", "leftward", "leftwards", "from right to left", "right to left", "to the left"}, Dir::Left);
    dir({"right", "rightward", "rightwards", "from left to right", "left to right", "to the right"}, Dir::Right);
    dir({"up", "upward", "upwards", "skyward", "skywards"}, Dir::Up);
    dir({"down", "downward", "downwards"}, Dir::Down);
    dir({"forward", "forwards", "closer"}, Dir::In);
    dir({"back", "backward", "backwards", "away"}, Dir::Out);

    // Camera.
    auto cam = [&](CamVerb v, std::initializer_list<std::string_view> words, Dir d = Dir::None, bool fast = false) {
      Meaning m = of(Cat::Camera, int(v), d);
      m.count = fast ? 1 : 0;
      L.add_all(words, m);
    };
    cam(CamVerb::Static, {"static", "static camera", "static shot", "locked off", "locked off camera", "locked off shot",
                          "fixed camera", "fixed shot", "tripod", "tripod shot", "stationary camera", "no camera movement",
                          "no camera motion", "still camera", "locked down", "locked down camera", "camera holds still",
                          "the camera holds still", "steady camera"});
    cam(CamVerb::Pan, {"pan", "pans", "panning", "panned"});
    cam(CamVerb::Pan, {"whip pan", "whip pans", "whip panning"}, Dir::None, true);
    cam(CamVerb::Tilt, {"tilt", "tilts", "tilting", "tilted"});
    cam(CamVerb::Dolly, {"dolly", "dollies", "dollying", "track", "tracks", "tracking", "zoom", "zooms", "zooming",
                         "dolly shot"});
    cam(CamVerb::Dolly, {"push in", "pushes in", "pushing in", "slow push in", "push", "pushes"}, Dir::In);
    cam(CamVerb::Dolly, {"pull back", "pulls back", "pulling back", "pull out", "pulls out", "pulling out", "pull away",
                         "pulls away"},
        Dir::Out);
    cam(CamVerb::Orbit, {"orbit", "orbits", "orbiting", "orbital", "arc", "arcs", "circle", "circles", "circling"});
    cam(CamVerb::DollyZoom, {"dolly zoom", "dolly zooms", "vertigo effect", "vertigo shot", "vertigo zoom", "zolly",
                             "vertigo"});
    L.add_all({"slow", "slowly", "gentle", "gently", "gradual", "gradually", "leisurely", "unhurried", "languid"},
              of(Cat::Speed, int(CameraSpeed::Slow)));
    L.add_all({"fast", "quick", "quickly", "rapid", "rapidly", "swift", "swiftly", "speedy", "brisk", "briskly", "sudden",
               "suddenly", "energetic"},
              of(Cat::Speed, int(CameraSpeed::Fast)));
    auto framing = [&](Framing f, std::initializer_list<std::string_view> words) { L.add_all(words, of(Cat::Framing, int(f))); };
    framing(Framing::Wide, {"wide", "wide shot", "wide framing", "establishing shot", "long shot", "full shot", "wide view",
                            "wide establishing shot", "extreme wide shot"});
    framing(Framing::Medium, {"medium shot", "mid shot", "medium framing", "medium close up", "waist up", "mid",
                              "medium wide shot", "cowboy shot", "midshot"});
    framing(Framing::CloseUp, {"close up", "closeup", "close", "close shot", "tight shot", "tight on", "tight framing", "tight",
                               "extreme close up", "close framing", "tight close up", "macro"});
    auto lens = [&](Lens l, std::initializer_list<std::string_view> words) { L.add_all(words, of(Cat::Lens, int(l))); };
    lens(Lens::Anamorphic, {"anamorphic", "anamorphic lens", "cinemascope", "anamorphic widescreen"});
    lens(Lens::Portrait85mm, {"portrait lens", "telephoto", "telephoto lens", "long lens", "portrait"});
    lens(Lens::Standard, {"standard lens", "normal lens", "standard", "normal", "standard prime"});
    lens(Lens::Wide, {"wide angle", "wide angle lens", "wide lens", "fisheye", "fish eye", "ultra wide", "fisheye lens"});

    L.add_all({"first shot", "opening shot"}, of(Cat::ShotMarker, 1));
    L.add_all({"second shot", "shot two"}, of(Cat::ShotMarker, 2));
    L.add_all({"third shot", "shot three"}, of(Cat::ShotMarker, 3));
    L.add_all({"fourth shot", "shot four"}, of(Cat::ShotMarker, 4));
    L.add_all({"fifth shot", "shot five"}, of(Cat::ShotMarker, 5));
    L.add_all({"next shot", "final shot", "last shot", "closing shot", "new shot"}, of(Cat::ShotMarker, 0));
    L.add_all({"cut to", "cuts to", "cut", "then cut to", "hard cut to", "smash cut to", "cutting to", "then cuts to"},
              of(Cat::Cut));
    L.add_all({"total", "in total", "overall", "in all", "altogether", "total length", "total duration", "in length"},
              of(Cat::Total));
    L.add_all({"no", "without", "not", "free of", "never"}, of(Cat::Negation, 0));
    L.add_all({"avoid", "avoiding", "exclude", "excluding", "negative", "negatives", "negative prompt", "don't show",
               "do not show", "don't include", "do not include", "avoid showing", "must not show"},
              of(Cat::Negation, 1));
    L.add_all({"named", "called", "name is", "whose name is", "by the name of", "goes by"}, of(Cat::NameTrigger));

    auto label = [&](LabelKind k, std::initializer_list<std::string_view> words) {
      for (auto w : words) L.labels[std::string(w)] = k;
    };
    label(LabelKind::Plain, {"scene", "setting", "location", "environment", "subject", "subjects", "character",
                             "characters", "cast", "action", "actions", "time", "time of day", "lighting", "light",
                             "weather", "style", "mood", "look", "tone", "prompt", "description", "objects", "props",
                             "visuals", "world"});
    label(LabelKind::Camera, {"camera", "cinematography", "camera movement", "movement", "shots", "framing", "composition",
                              "camera move", "camera work", "motion"});
    label(LabelKind::Lens, {"lens", "lenses", "optics", "lens choice"});
    label(LabelKind::Audio, {"audio", "sound", "sounds", "sfx", "ambience", "ambient sound", "sound effects", "music",
                             "foley", "soundscape", "ambient audio"});
    label(LabelKind::Dialogue, {"dialogue", "dialog", "lines", "speech", "script", "voiceover"});
    label(LabelKind::Negative, {"avoid", "negative", "negatives", "negative prompt", "exclude", "do not include",
                                "don't include", "not"});
    label(LabelKind::Duration, {"duration", "length", "runtime", "clip length", "seconds", "time length"});
    label(LabelKind::Name, {"name", "names"});
    for (const auto& [k, v] : L.labels) L.longest = std::max<size_t>(L.longest, size_t(std::count(k.begin(), k.end(), ' ') + 1));
    return L;
  }();
  return lex;
}

// ---------------------------------------------------------------------------------------
// Lexemes (pass 1)

struct NumberWord {
  std::string_view word;
  int value;
};
constexpr NumberWord kUnits[] = {{"zero", 0},     {"one", 1},       {"two", 2},       {"three", 3},    {"four", 4},
                                 {"five", 5},     {"six", 6},       {"seven", 7},     {"eight", 8},    {"nine", 9},
                                 {"ten", 10},     {"eleven", 11},   {"twelve", 12},   {"thirteen", 13}, {"fourteen", 14},
                                 {"fifteen", 15}, {"sixteen", 16},  {"seventeen", 17}, {"eighteen", 18}, {"nineteen", 19}};
constexpr NumberWord kTens[] = {{"twenty", 20}, {"thirty", 30}, {"forty", 40}, {"fifty", 50}, {"sixty", 60}};

std::optional<int> unit_word(std::string_view w) {
  for (const auto& u : kUnits)
    if (u.word == w) return u.value;
  return std::nullopt;
}

// A number at token p: digits, or number words ("twenty five"), with an optional
// "and a half". Returns the value and the tokens it spans.
std::optional<std::pair<double, size_t>> read_number(const std::vector<Token>& t, size_t p) {
  auto word_at = [&](size_t i) -> const std::string* {
    return i < t.size() && t[i].kind == Token::Kind::Word ? &t[i].lower : nullptr;
  };
  const std::string* w = word_at(p);
  if (!w) return std::nullopt;
  double value = 0;
  size_t n = 0;
  if (is_number_text(*w)) {
    std::from_chars(w->data(), w->data() + w->size(), value);  // locale-independent, unlike stod
    n = 1;
  } else if (auto u = unit_word(*w)) {
    value = *u, n = 1;
  } else {
    for (const auto& tens : kTens)
      if (tens.word == *w) {
        value = tens.value, n = 1;
        if (const std::string* next = word_at(p + 1))
          if (auto u = unit_word(*next); u && *u > 0 && *u < 10) value += *u, n = 2;
      }
  }
  if (n == 0) return std::nullopt;
  const std::string* a = word_at(p + n);
  const std::string* b = word_at(p + n + 1);
  const std::string* c = word_at(p + n + 2);
  if (a && b && c && *a == "and" && *b == "a" && *c == "half") value += 0.5, n += 3;
  return std::make_pair(value, n);
}

}  // namespace

std::vector<Lexeme> lex(const std::vector<Token>& t) {
  const Lexicon& L = lexicon();
  std::vector<Lexeme> out;
  auto words_from = [&](size_t p, size_t n) -> std::optional<std::string> {
    std::string key;
    for (size_t i = p; i < p + n; ++i) {
      if (i >= t.size() || t[i].kind != Token::Kind::Word) return std::nullopt;
      if (i > p) key += ' ';
      key += t[i].lower;
    }
    return key;
  };
  auto text_of = [&](size_t p, size_t n) {
    std::string s;
    for (size_t i = p; i < p + n; ++i) {
      if (t[i].kind != Token::Kind::Word) continue;
      if (!s.empty()) s += ' ';
      s += t[i].text;
    }
    return s;
  };
  auto is_word = [&](size_t i, std::initializer_list<std::string_view> ws) {
    if (i >= t.size() || t[i].kind != Token::Kind::Word) return false;
    for (auto w : ws)
      if (t[i].lower == w) return true;
    return false;
  };
  size_t p = 0;
  while (p < t.size()) {
    Lexeme x;
    x.first = p;
    if (t[p].kind == Token::Kind::Quote) {
      x.m = of(Cat::Quote), x.text = t[p].text, x.last = p + 1;
      out.push_back(std::move(x));
      ++p;
      continue;
    }
    if (t[p].kind == Token::Kind::Punct) {
      x.m = of(Cat::Punct), x.punct = t[p].punct, x.last = p + 1;
      out.push_back(std::move(x));
      ++p;
      continue;
    }
    x.capitalized = t[p].capitalized;
    // "Camera:", "Negative prompt:" -- a label word followed by a colon.
    bool done = false;
    for (size_t n = std::min(L.longest, size_t(3)); n >= 1 && !done; --n) {
      auto key = words_from(p, n);
      if (!key || p + n >= t.size() || t[p + n].kind != Token::Kind::Punct || t[p + n].punct != PunctKind::Colon) continue;
      auto it = L.labels.find(*key);
      if (it == L.labels.end()) continue;
      x.m = of(Cat::Label, int(it->second)), x.text = text_of(p, n), x.last = p + n + 1;
      done = true;
    }
    if (!done && is_word(p, {"shot", "shots"})) {  // "Shot 2"
      if (auto num = read_number(t, p + 1)) {
        x.m = of(Cat::ShotMarker, int(std::min(num->first, 1e6))), x.last = p + 1 + num->second, x.text = text_of(p, x.last - p);
        done = true;
      }
    }
    if (!done) {
      if (auto num = read_number(t, p)) {
        const size_t q = p + num->second;
        x.m = of(Cat::Number);
        x.m.number = num->first;
        x.last = q;
        if (is_word(q, {"s", "sec", "secs", "second", "seconds"})) {
          x.m.cat = Cat::Duration, x.last = q + 1;
        } else if (is_word(q, {"min", "mins", "minute", "minutes"})) {
          x.m.cat = Cat::Duration, x.m.number *= 60, x.last = q + 1;
        } else if (is_word(q, {"mm", "millimeter", "millimetre"})) {
          // Focal length -> lens family: <= 28 mm wide angle, >= 70 mm portrait, else standard.
          x.m.cat = Cat::Lens;
          x.m.value = int(num->first <= 28 ? Lens::Wide : num->first >= 70 ? Lens::Portrait85mm : Lens::Standard);
          x.last = q + 1;
          if (is_word(x.last, {"lens"})) ++x.last;
        }
        if (x.m.cat == Cat::Duration && is_word(x.last, {"long"})) ++x.last;  // "8 seconds long"
        x.text = text_of(p, x.last - p);
        done = true;
      }
    }
    if (!done) {
      for (size_t n = L.longest; n >= 1 && !done; --n) {
        auto key = words_from(p, n);
        if (!key) continue;
        auto it = L.phrases.find(*key);
        if (it == L.phrases.end()) continue;
        x.m = it->second, x.last = p + n, x.text = text_of(p, n);
        done = true;
      }
    }
    if (!done) {
      const std::string& w = t[p].text;
      if (w[0] == '@') {
        x.m = of(Cat::Name, 1);  // value 1: a handle, always a character
        x.text = w, x.last = p + 1;
        out.push_back(std::move(x));
        p = out.back().last;
        continue;
      }
      const bool letters = std::all_of(w.begin(), w.end(), [](char c) { return std::isalpha(static_cast<unsigned char>(c)) || static_cast<unsigned char>(c) >= 0x80; });
      x.m = of(t[p].capitalized && letters ? Cat::Name : Cat::Unknown);
      x.text = w, x.last = p + 1;
    }
    out.push_back(std::move(x));
    p = out.back().last;
  }
  return out;
}

bool is_function_word(std::string_view lowercase_word) {
  auto it = lexicon().phrases.find(std::string(lowercase_word));
  return it != lexicon().phrases.end() && (it->second.cat == Cat::Stop || it->second.cat == Cat::Det);
}

}  // namespace opsis::studio::caption_words
