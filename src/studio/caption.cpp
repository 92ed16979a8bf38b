// describe(): SceneSpec -> one of many paraphrases, in prose or in the structured style.
// Every wording here is one that parse_prompt() reads back to the same spec; the
// round-trip test in caption_test.cpp holds the two together.
#include <cstdint>
#include <algorithm>
#include <charconv>
#include <initializer_list>
#include <string>
#include <vector>

#include "studio/caption.hpp"

namespace opsis::studio {
namespace {

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next() {  // splitmix64
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  size_t below(size_t n) { return size_t(next() % n); }
  bool chance(double p) { return double(next() >> 11) * 0x1.0p-53 < p; }
  std::string pick(std::initializer_list<const char*> options) { return *(options.begin() + below(options.size())); }

 private:
  uint64_t state_;
};

uint64_t spec_hash(const SceneSpec& s) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&](uint64_t v) { h = (h ^ v) * 1099511628211ull; };
  auto mix_text = [&](const std::string& t) {
    for (char c : t) mix(uint64_t(static_cast<unsigned char>(c)));
    mix(0xff);
  };
  mix(uint64_t(s.setting)), mix(uint64_t(s.time_of_day)), mix(uint64_t(s.weather));
  for (const auto& o : s.objects) mix(uint64_t(o.kind)), mix(uint64_t(o.color)), mix(uint64_t(o.size)), mix(uint64_t(o.motion));
  for (const auto& c : s.characters) {
    const auto& id = c.identity;
    mix(uint64_t(id.skin)), mix(uint64_t(id.hair_color)), mix(uint64_t(id.hair_style)), mix(uint64_t(id.shirt));
    mix(uint64_t(id.accessory)), mix_text(id.name), mix(uint64_t(c.action)), mix_text(c.line);
  }
  for (const auto& sh : s.shots)
    mix(uint64_t(sh.camera)), mix(uint64_t(sh.speed)), mix(uint64_t(sh.framing)), mix(uint64_t(sh.lens)),
        mix(uint64_t(sh.seconds * 2));
  for (const auto& n : s.negatives) mix_text(n);
  return h;
}

std::string capitalize(std::string s) {
  if (!s.empty() && s[0] >= 'a' && s[0] <= 'z') s[0] = char(s[0] - 'a' + 'A');
  return s;
}

std::string article_for(const std::string& next) {
  if (next.empty()) return "a";
  const char c = next[0];
  const bool vowel = c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u' || c == '8' || next.rfind("11", 0) == 0 ||
                     next.rfind("18", 0) == 0;
  return vowel ? "an" : "a";
}

std::string with_article(const std::string& phrase) { return article_for(phrase) + " " + phrase; }

// "a, b and c"
std::string join_list(const std::vector<std::string>& items, Rng& rng, const char* last = "and") {
  std::string out;
  const bool oxford = rng.chance(0.3);
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += i + 1 == items.size() ? (oxford && items.size() > 2 ? ", " : " ") + std::string(last) + " " : ", ";
    out += items[i];
  }
  return out;
}

const char* kNumberWords[] = {"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
                              "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
                              "eighteen", "nineteen", "twenty"};

// The shortest digits that read back as exactly v ("2.5", "3.2083333333333335").
std::string number_digits(double v) {
  char buf[64];
  const auto result = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, result.ptr);
}

// Seconds as "3", "three", "2.5" or "two and a half".
std::string seconds_number(double v, Rng& rng) {
  const long whole = long(v);
  const bool half = v - double(whole) == 0.5;
  if ((v == double(whole) || half) && whole >= 1 && whole <= 20 && rng.chance(0.3))
    return std::string(kNumberWords[whole]) + (half ? " and a half" : "");
  return number_digits(v);
}

std::string seconds_phrase(double v, Rng& rng) {
  switch (rng.below(3)) {
    case 0: return seconds_number(v, rng) + " seconds";
    case 1: return number_digits(v) + " s";
    default: return number_digits(v) + "s";
  }
}

// ---- objects

std::string kind_noun(ObjectKind k, bool plural, Rng& rng) {
  switch (k) {
    case ObjectKind::Ball: return plural ? rng.pick({"balls", "rubber balls", "bouncy balls"}) : rng.pick({"ball", "rubber ball", "bouncy ball"});
    case ObjectKind::Box: return plural ? rng.pick({"boxes", "crates", "cubes", "cardboard boxes"}) : rng.pick({"box", "crate", "cube", "cardboard box"});
    case ObjectKind::Balloon: return plural ? rng.pick({"balloons", "party balloons"}) : rng.pick({"balloon", "party balloon"});
    case ObjectKind::Bird: return plural ? rng.pick({"birds", "songbirds"}) : rng.pick({"bird", "songbird"});
    case ObjectKind::Car: return plural ? rng.pick({"cars", "toy cars", "automobiles"}) : rng.pick({"car", "toy car", "automobile"});
  }
  return "thing";
}

std::string size_word(Size s, Rng& rng) {
  return s == Size::Small ? rng.pick({"small", "small", "little", "tiny"}) : rng.pick({"large", "large", "big", "huge"});
}

std::string color_word(Color c, Rng& rng) {
  switch (c) {
    case Color::Red: return rng.pick({"red", "red", "crimson"});
    case Color::Purple: return rng.pick({"purple", "purple", "violet"});
    default: return std::string(name(c));
  }
}

std::string motion_phrase(Motion m, bool plural, Rng& rng) {
  auto p = [&](std::initializer_list<const char*> one, std::initializer_list<const char*> many) {
    return plural ? rng.pick(many) : rng.pick(one);
  };
  switch (m) {
    case Motion::Bounces: return p({"bounces", "bounces up and down", "is bouncing"}, {"bounce", "bounce up and down", "are bouncing"});
    case Motion::RollsLeft: return p({"rolls left", "rolls to the left", "rolls leftward"}, {"roll left", "roll to the left", "roll leftward"});
    case Motion::RollsRight: return p({"rolls right", "rolls to the right", "rolls rightward"}, {"roll right", "roll to the right", "roll rightward"});
    case Motion::Falls: return p({"falls", "drops", "falls to the ground", "tumbles down"}, {"fall", "drop", "fall to the ground", "tumble down"});
    case Motion::FliesLeft: return p({"flies left", "flies to the left", "soars leftward"}, {"fly left", "fly to the left", "soar leftward"});
    case Motion::FliesRight: return p({"flies right", "flies to the right", "soars rightward"}, {"fly right", "fly to the right", "soar rightward"});
    case Motion::FloatsUp: return p({"floats up", "rises", "drifts upward", "floats upward"}, {"float up", "rise", "drift upward", "float upward"});
    case Motion::Spins: return p({"spins", "spins in place", "rotates", "twirls"}, {"spin", "spin in place", "rotate", "twirl"});
    case Motion::StaysStill: return p({"stays still", "sits still", "rests motionless", "stays put"}, {"stay still", "sit still", "rest motionless", "stay put"});
  }
  return "";
}

// Clauses for the objects, runs of identical objects told as one ("two small red balls bounce").
std::vector<std::string> object_clauses(const std::vector<ObjectSpec>& objects, Rng& rng) {
  std::vector<std::string> out;
  for (size_t i = 0; i < objects.size();) {
    size_t n = 1;
    while (i + n < objects.size() && objects[i + n] == objects[i]) ++n;
    const ObjectSpec& o = objects[i];
    bool kind_seen = false;
    for (size_t k = 0; k < i; ++k) kind_seen |= objects[k].kind == o.kind;
    const std::string adjs = size_word(o.size, rng) + " " + color_word(o.color, rng);
    std::string phrase;
    if (n == 1) {
      const std::string body = adjs + " " + kind_noun(o.kind, false, rng);
      const size_t form = rng.below(6);
      if (form == 0 && !kind_seen) phrase = "the " + body;
      else if (form == 1) phrase = "one " + body;
      else phrase = with_article(body);
    } else {
      std::string count = n == 2 ? rng.pick({"two", "2", "a pair of"}) : rng.chance(0.5) ? kNumberWords[n] : number_digits(double(n));
      phrase = count + " " + adjs + " " + kind_noun(o.kind, true, rng);
    }
    if (rng.chance(0.15))  // "there is a small red ball that bounces"
      out.push_back((n > 1 ? "there are " : "there is ") + phrase + " that " + motion_phrase(o.motion, n > 1, rng));
    else
      out.push_back(phrase + " " + motion_phrase(o.motion, n > 1, rng));
    i += n;
  }
  return out;
}

// ---- characters

std::string skin_word(SkinTone s, Rng& rng) {
  switch (s) {
    case SkinTone::Light: return rng.pick({"light", "light", "fair"});
    case SkinTone::Medium: return rng.pick({"medium", "medium", "olive"});
    case SkinTone::Tan: return rng.pick({"tan", "tan", "tanned"});
    default: return std::string(name(s));
  }
}

std::string hair_color_word(HairColor h, Rng& rng) {
  switch (h) {
    case HairColor::Blond: return rng.pick({"blond", "blonde"});
    case HairColor::Red: return rng.pick({"red", "ginger"});
    case HairColor::Gray: return rng.pick({"gray", "grey", "silver"});
    default: return std::string(name(h));
  }
}

std::string hair_phrase(const Identity& id, Rng& rng) {
  const std::string color = hair_color_word(id.hair_color, rng);
  if (id.hair_style == HairStyle::Bald)
    return rng.chance(0.5) ? "a bald head and " + color + " eyebrows" : color + " eyebrows and a shaved head";
  return std::string(name(id.hair_style)) + " " + color + " hair";
}

std::string shirt_phrase(Color c, Rng& rng) {
  return with_article(color_word(c, rng) + " " + rng.pick({"shirt", "shirt", "t-shirt", "sweater", "jacket"}));
}

std::string accessory_phrase(Accessory a, Rng& rng) {
  if (a == Accessory::Hat) return rng.pick({"a hat", "a sun hat", "a cap"});
  return rng.pick({"glasses", "a pair of glasses", "round glasses"});
}

std::string action_phrase(const CharacterSpec& c, bool line_inline, Rng& rng) {
  switch (c.action) {
    case Action::Stands: return rng.pick({"stands", "stands still", "is standing", "waits"});
    case Action::WalksLeft: return rng.pick({"walks left", "walks to the left", "strolls to the left", "walks leftward"});
    case Action::WalksRight: return rng.pick({"walks right", "walks to the right", "strolls to the right", "walks rightward"});
    case Action::Waves: return rng.pick({"waves", "is waving", "waves at the camera"});
    case Action::Jumps: return rng.pick({"jumps", "hops", "leaps", "jumps up and down"});
    case Action::Talks:
      if (line_inline) return rng.pick({"says: ", "says, ", "says "}) + "\"" + c.line + "\"";
      return rng.pick({"talks", "speaks", "is talking"});
  }
  return "";
}

// "Mia, a person with light skin, long blond hair and a green shirt," + the action.
std::string character_clause(const CharacterSpec& c, bool line_inline, Rng& rng) {
  const Identity& id = c.identity;
  std::vector<std::string> attrs;
  const size_t form = rng.below(5);
  const bool skin_adjective = form <= 1 && rng.chance(0.3);  // only the forms with a noun can carry it
  if (!skin_adjective) attrs.push_back(rng.chance(0.7) ? skin_word(id.skin, rng) + " skin" : with_article(skin_word(id.skin, rng) + " complexion"));
  attrs.push_back(hair_phrase(id, rng));
  attrs.push_back(shirt_phrase(id.shirt, rng));
  if (id.accessory != Accessory::None) attrs.push_back(accessory_phrase(id.accessory, rng));
  for (size_t i = attrs.size(); i > 1; --i) std::swap(attrs[i - 1], attrs[rng.below(i)]);
  const std::string noun = skin_adjective ? skin_word(id.skin, rng) + "-skinned " + rng.pick({"person", "figure", "character"})
                                          : rng.pick({"person", "figure", "character", "person"});
  const std::string described = join_list(attrs, rng);
  const std::string action = action_phrase(c, line_inline, rng);
  switch (form) {
    case 0: return id.name + ", " + with_article(noun) + " with " + described + ", " + action;
    case 1: return with_article(noun) + " named " + id.name + " with " + described + " " + action;
    case 2: return id.name + " (" + described + ") " + action;
    case 3: return id.name + ", who has " + described + ", " + action;
    default: return id.name + " " + action + ". They have " + described;
  }
}

// ---- the place

std::string setting_noun(Setting s, Rng& rng) {
  switch (s) {
    case Setting::Meadow: return rng.pick({"meadow", "grassy meadow", "open field"});
    case Setting::Beach: return rng.pick({"beach", "sandy beach", "seashore"});
    case Setting::CityStreet: return rng.pick({"city street", "busy street", "downtown street"});
    case Setting::LivingRoom: return rng.pick({"living room", "cozy living room", "lounge"});
    case Setting::Forest: return rng.pick({"forest", "quiet forest", "woods"});
    case Setting::Snowfield: return rng.pick({"snowfield", "snowy field", "field of snow"});
    case Setting::Desert: return rng.pick({"desert", "sandy desert", "desert dunes"});
    case Setting::NightSky: return rng.pick({"night sky", "starry sky"});
  }
  return "";
}

std::string setting_preposition(Setting s, Rng& rng) {
  switch (s) {
    case Setting::Meadow: return rng.pick({"in", "across"});
    case Setting::Beach: return "on";
    case Setting::CityStreet: return rng.pick({"on", "along"});
    case Setting::LivingRoom: return "in";
    case Setting::Forest: return rng.pick({"in", "through"});
    case Setting::Snowfield: return rng.pick({"on", "across"});
    case Setting::Desert: return rng.pick({"in", "across"});
    case Setting::NightSky: return rng.pick({"against", "under"});
  }
  return "in";
}

std::string time_phrase(TimeOfDay t, Rng& rng) {
  switch (t) {
    case TimeOfDay::Day: return rng.pick({"during the day", "in daylight", "by day", "in the daytime", "at midday"});
    case TimeOfDay::GoldenHour: return rng.pick({"at golden hour", "at sunset", "in the warm light of late afternoon", "at dusk"});
    case TimeOfDay::Night: return rng.pick({"at night", "after dark", "at nighttime", "under the moon"});
  }
  return "";
}

std::string weather_phrase(Weather w, Rng& rng) {
  if (w == Weather::Rain) return rng.pick({"in the rain", "in pouring rain", "while it rains", "in light rain"});
  return rng.pick({"under clear skies", "in clear weather"});
}

// "a sunny meadow at night", "a busy street at dusk in the rain" -- always with its article.
struct Place {
  std::string noun_phrase;  // "a sunny meadow"
  std::string noun;         // "sunny meadow"
  std::string extras;       // " at dusk in the rain" (leading space) or ""
};

Place place(const SceneSpec& s, Rng& rng) {
  const bool sunny = s.weather == Weather::Clear && s.time_of_day == TimeOfDay::Day && rng.chance(0.3);
  std::string noun = setting_noun(s.setting, rng);
  if (sunny) noun = "sunny " + noun;
  Place p;
  p.noun = noun;
  const bool plural = noun.back() == 's';  // "the woods", "the desert dunes"
  p.noun_phrase = rng.chance(0.7) && !plural ? with_article(noun) : "the " + noun;
  // Day and clear are the defaults and may go unsaid, except that a night sky implies night.
  const bool say_time = s.time_of_day != TimeOfDay::Day || s.setting == Setting::NightSky || (!sunny && rng.chance(0.5));
  const bool say_weather = s.weather == Weather::Rain || (!sunny && rng.chance(0.3));
  if (say_time) p.extras += " " + time_phrase(s.time_of_day, rng);
  if (say_weather) p.extras += " " + weather_phrase(s.weather, rng);
  return p;
}

// ---- camera

std::string move_noun(CameraMove m, Rng& rng) {
  switch (m) {
    case CameraMove::Static: return rng.pick({"static camera", "locked-off camera", "static shot", "fixed camera"});
    case CameraMove::PanLeft: return rng.pick({"pan left", "pan to the left"});
    case CameraMove::PanRight: return rng.pick({"pan right", "pan to the right"});
    case CameraMove::TiltUp: return rng.pick({"tilt up", "tilt upward"});
    case CameraMove::TiltDown: return rng.pick({"tilt down", "tilt downward"});
    case CameraMove::DollyIn: return rng.pick({"dolly in", "push in", "dolly forward"});
    case CameraMove::DollyOut: return rng.pick({"dolly out", "pull back", "pull out"});
    case CameraMove::OrbitLeft: return rng.pick({"orbit left", "orbit to the left"});
    case CameraMove::OrbitRight: return rng.pick({"orbit right", "orbit to the right"});
    case CameraMove::DollyZoom: return rng.pick({"dolly zoom", "dolly zoom", "vertigo effect"});
  }
  return "";
}

std::string move_verb(CameraMove m, Rng& rng) {
  switch (m) {
    case CameraMove::Static: return "";  // told with a noun only
    case CameraMove::PanLeft: return rng.pick({"pans left", "pans to the left"});
    case CameraMove::PanRight: return rng.pick({"pans right", "pans to the right"});
    case CameraMove::TiltUp: return rng.pick({"tilts up", "tilts upward"});
    case CameraMove::TiltDown: return rng.pick({"tilts down", "tilts downward"});
    case CameraMove::DollyIn: return rng.pick({"dollies in", "pushes in"});
    case CameraMove::DollyOut: return rng.pick({"dollies out", "pulls back"});
    case CameraMove::OrbitLeft: return rng.pick({"orbits left", "orbits to the left"});
    case CameraMove::OrbitRight: return rng.pick({"orbits right", "orbits to the right"});
    case CameraMove::DollyZoom: return "does a dolly zoom";
  }
  return "";
}

std::string framing_phrase(Framing f, Rng& rng) {
  switch (f) {
    case Framing::Wide: return rng.pick({"wide shot", "wide framing", "wide establishing shot"});
    case Framing::Medium: return rng.pick({"medium shot", "mid shot", "medium framing"});
    case Framing::CloseUp: return rng.pick({"close-up", "close shot", "tight framing", "tight close-up"});
  }
  return "";
}

std::string lens_phrase(Lens l, Rng& rng) {
  switch (l) {
    case Lens::Standard: return rng.pick({"standard lens", "normal lens", "50mm lens"});
    case Lens::Anamorphic: return rng.pick({"anamorphic lens", "anamorphic lens", "anamorphic"});
    case Lens::Portrait85mm: return rng.pick({"85mm lens", "85 mm portrait lens", "portrait lens"});
    case Lens::Wide: return rng.pick({"wide-angle lens", "wide lens", "24mm wide-angle lens"});
  }
  return "";
}

// One shot's directions, e.g. "slow pan left, wide shot, anamorphic lens".
std::string shot_directions(const ShotSpec& s, Rng& rng) {
  const bool slow = s.speed == CameraSpeed::Slow;
  std::string move;
  const bool say_speed = !slow || rng.chance(0.7);
  if (s.camera != CameraMove::Static && rng.chance(0.35)) {
    std::string adverb = slow ? rng.pick({"slowly", "gently", "gradually"}) : rng.pick({"quickly", "rapidly", "swiftly"});
    move = "the camera " + (say_speed ? adverb + " " : std::string()) + move_verb(s.camera, rng);
  } else {
    std::string adjective = slow ? rng.pick({"slow", "gentle", "gradual"}) : rng.pick({"fast", "quick", "rapid"});
    move = (say_speed ? adjective + " " : std::string()) + move_noun(s.camera, rng);
    if (rng.chance(0.3)) move = with_article(move);
  }
  const std::string framing = framing_phrase(s.framing, rng);
  const std::string lens = lens_phrase(s.lens, rng);
  switch (rng.below(4)) {
    case 0: return move + ", " + framing + ", " + lens;
    case 1: return framing + ", " + move + ", " + lens;
    case 2: return with_article(framing) + " on " + with_article(lens) + ", " + move;
    default: return move + ", " + with_article(framing) + " through " + with_article(lens);
  }
}

std::string negatives_list(const std::vector<std::string>& negatives, Rng& rng, const char* joiner) {
  std::vector<std::string> items;
  for (const auto& n : negatives) {
    std::string item = n;
    if (rng.chance(0.5)) {
      if (n == "bird") item = "birds";
      else if (n == "car") item = "cars";
      else if (n == "ball") item = "balls";
      else if (n == "box") item = "boxes";
      else if (n == "balloon") item = "balloons";
    }
    items.push_back(item);
  }
  return join_list(items, rng, joiner);
}

// ---- sounds the scene implies

std::string ambience(const SceneSpec& s, Rng& rng) {
  switch (s.setting) {
    case Setting::Meadow: return rng.pick({"birdsong and a soft breeze", "a soft breeze through the grass"});
    case Setting::Beach: return rng.pick({"lapping surf", "surf and wind"});
    case Setting::CityStreet: return rng.pick({"distant traffic", "a low traffic hum"});
    case Setting::LivingRoom: return rng.pick({"quiet room tone", "a ticking clock"});
    case Setting::Forest: return rng.pick({"rustling leaves", "birdsong and rustling leaves"});
    case Setting::Snowfield: return rng.pick({"howling wind", "a cold wind"});
    case Setting::Desert: return rng.pick({"dry wind", "a low wind"});
    case Setting::NightSky: return rng.pick({"crickets", "a low hum"});
  }
  return "";
}

std::string object_sound(const ObjectSpec& o, Rng& rng) {
  const std::string kind(name(o.kind));
  if (o.kind == ObjectKind::Bird) return o.motion == Motion::StaysStill ? "chirps" : "flapping wings";
  if (o.kind == ObjectKind::Car && o.motion != Motion::StaysStill) return "engine hum";
  switch (o.motion) {
    case Motion::Bounces: return rng.chance(0.5) ? "bouncing thuds" : "the thuds of the bouncing " + kind;
    case Motion::Falls: return "the thud of the " + kind + " landing";
    case Motion::RollsLeft: case Motion::RollsRight: return "the rumble of the rolling " + kind;
    case Motion::FliesLeft: case Motion::FliesRight: case Motion::FloatsUp: return "a soft whoosh";
    case Motion::Spins: return "a whoosh";
    case Motion::StaysStill: return "";
  }
  return "";
}

std::string audio_block(const SceneSpec& s, Rng& rng) {
  std::vector<std::string> parts{ambience(s, rng)};
  if (s.weather == Weather::Rain) parts.push_back(rng.pick({"rain patter", "pattering rain"}));
  for (const auto& o : s.objects) {
    std::string sound = object_sound(o, rng);
    if (!sound.empty() && std::find(parts.begin(), parts.end(), sound) == parts.end()) parts.push_back(sound);
  }
  for (const auto& c : s.characters) {
    if (c.action == Action::WalksLeft || c.action == Action::WalksRight) parts.push_back("footsteps");
    if (c.action == Action::Jumps) parts.push_back("the thump of " + c.identity.name + " landing");
    if (c.action == Action::Talks) parts.push_back(c.identity.name + "'s voice");
  }
  return join_list(parts, rng);
}

// ---- the two styles

std::string prose(const SceneSpec& s, Rng& rng) {
  std::vector<std::string> sentences;
  const Place where = place(s, rng);
  std::vector<std::string> clauses = object_clauses(s.objects, rng);
  const bool lines_inline = rng.chance(0.6);
  for (const auto& c : s.characters) clauses.push_back(character_clause(c, lines_inline, rng));
  const std::string setting = setting_preposition(s.setting, rng) + " " + where.noun_phrase + where.extras;

  if (clauses.empty()) {
    switch (rng.below(3)) {
      case 0: sentences.push_back(capitalize((where.noun.back() == 's' ? "the empty " + where.noun : with_article("empty " + where.noun))) + where.extras); break;
      case 1: sentences.push_back("A quiet view of " + where.noun_phrase + where.extras); break;
      default: sentences.push_back("The scene: " + where.noun_phrase + where.extras); break;
    }
  } else {
    switch (rng.below(3)) {
      case 0: {  // "In a meadow at dusk, a ball bounces while Mia waves."
        std::string first = capitalize(setting) + ", " + clauses[0];
        for (size_t i = 1; i < clauses.size(); ++i) first += (i + 1 == clauses.size() ? rng.pick({" while ", " and ", ", and "}) : std::string(", ")) + clauses[i];
        sentences.push_back(first);
        break;
      }
      case 1: {  // "A ball bounces in a meadow at dusk. Mia waves."
        sentences.push_back(capitalize(clauses[0]) + " " + setting);
        for (size_t i = 1; i < clauses.size(); ++i) {
          if (rng.chance(0.5)) sentences.back() += rng.pick({" while ", ", and ", " as "}) + clauses[i];
          else sentences.push_back(capitalize(clauses[i]));
        }
        break;
      }
      default: {  // "A meadow at dusk. A ball bounces. Mia waves."
        sentences.push_back(capitalize(where.noun_phrase + where.extras));
        for (const auto& c : clauses) sentences.push_back(capitalize(c));
        break;
      }
    }
  }
  if (!lines_inline)
    for (const auto& c : s.characters)
      if (c.action == Action::Talks) sentences.push_back(c.identity.name + rng.pick({" says: \"", ": \"", " says \""}) + c.line + "\"");

  std::vector<std::string> camera;
  if (s.shots.size() == 1) {
    std::string d = capitalize(shot_directions(s.shots[0], rng));
    switch (rng.below(4)) {
      case 0: camera.push_back(d + ", " + seconds_phrase(s.shots[0].seconds, rng)); break;
      case 1: camera.push_back(d); camera.push_back(capitalize(with_article(number_digits(s.shots[0].seconds) + "-second clip"))); break;
      case 2: camera.push_back(d); camera.push_back("Duration: " + seconds_phrase(s.shots[0].seconds, rng)); break;
      default: camera.push_back(d); camera.push_back(capitalize(seconds_phrase(s.shots[0].seconds, rng)) + " long"); break;
    }
  } else {
    const bool ordinals = s.shots.size() <= 3 && rng.chance(0.3);
    const char* ordinal[] = {"first", "second", "third"};
    const bool say_total = rng.chance(0.4);
    if (say_total && rng.chance(0.5)) camera.push_back(capitalize(with_article(number_digits(s.seconds()) + "-second clip")));
    for (size_t k = 0; k < s.shots.size(); ++k) {
      std::string marker = ordinals ? capitalize(std::string(ordinal[k]) + " shot") : "Shot " + std::to_string(k + 1);
      if (k > 0 && rng.chance(0.6))
        marker = rng.pick({"Cut to ", "Then cut to "}) +
                 (ordinals ? "the " + std::string(ordinal[k]) + " shot" : "shot " + std::to_string(k + 1));
      const std::string len = rng.chance(0.5) ? " (" + seconds_phrase(s.shots[k].seconds, rng) + ")" : ", " + seconds_phrase(s.shots[k].seconds, rng);
      camera.push_back(marker + len + ": " + shot_directions(s.shots[k], rng));
    }
    if (say_total && camera.size() == s.shots.size()) camera.push_back(capitalize(seconds_phrase(s.seconds(), rng)) + " in total");
  }
  std::string negatives;
  if (!s.negatives.empty()) {
    switch (rng.below(4)) {
      case 0: negatives = "Avoid: " + negatives_list(s.negatives, rng, "and"); break;
      case 1: negatives = "No " + negatives_list(s.negatives, rng, "or"); break;
      case 2: negatives = "Without " + negatives_list(s.negatives, rng, "or"); break;
      default: negatives = "Negative: " + negatives_list(s.negatives, rng, "and"); break;
    }
  }
  std::string out;
  auto add = [&](const std::string& sentence) {
    if (sentence.empty()) return;
    if (!out.empty()) out += ' ';
    out += sentence;
    const char last = sentence.back();
    const char before_quote = sentence.size() >= 2 ? sentence[sentence.size() - 2] : ' ';
    const bool quote_ends = last == '"' && (before_quote == '.' || before_quote == '!' || before_quote == '?');
    if (!quote_ends && last != '.' && last != '!' && last != '?') out += '.';
  };
  const bool camera_first = rng.chance(0.15);
  if (camera_first)
    for (const auto& c : camera) add(c);
  for (const auto& x : sentences) add(x);
  if (!camera_first)
    for (const auto& c : camera) add(c);
  add(negatives);
  return out;
}

std::string structured(const SceneSpec& s, Rng& rng) {
  const Place where = place(s, rng);
  const std::string scene_label = rng.pick({"Scene: ", "Scene: ", "Setting: "});
  std::string scene = scene_label + where.noun_phrase + where.extras + ".";
  if (rng.chance(0.25)) {  // "Scene: a meadow.\nTime: golden hour.\nWeather: rain."
    std::string time;
    switch (s.time_of_day) {
      case TimeOfDay::Day: time = rng.pick({"day", "daytime"}); break;
      case TimeOfDay::GoldenHour: time = rng.pick({"golden hour", "sunset"}); break;
      case TimeOfDay::Night: time = rng.pick({"night", "nighttime"}); break;
    }
    const std::string noun = setting_noun(s.setting, rng);
    scene = scene_label + (noun.back() == 's' ? "the " + noun : with_article(noun)) + ".\nTime: " + time + ".\nWeather: " +
            (s.weather == Weather::Rain ? rng.pick({"rain", "rainy"}) : rng.pick({"clear", "clear skies"})) + ".";
  }
  std::vector<std::string> clauses = object_clauses(s.objects, rng);
  for (const auto& c : s.characters) clauses.push_back(character_clause(c, false, rng));
  std::string subject;
  if (!clauses.empty()) {
    subject = rng.pick({"Subject: ", "Subjects: ", "Action: "});
    for (size_t i = 0; i < clauses.size(); ++i) subject += (i ? " " : "") + capitalize(clauses[i]) + ".";
  }
  std::string camera;
  if (s.shots.size() == 1) {
    const ShotSpec& sh = s.shots[0];
    const bool slow = sh.speed == CameraSpeed::Slow;
    std::string move = move_noun(sh.camera, rng);
    if (!slow || rng.chance(0.6)) move = (slow ? rng.pick({"slow", "gentle"}) : rng.pick({"fast", "quick"})) + " " + move;
    camera = rng.pick({"Camera: ", "Camera: ", "Cinematography: "}) + move + ", " + framing_phrase(sh.framing, rng) + ".";
    std::string lens = rng.pick({"Lens: ", "Lens: "}) + lens_phrase(sh.lens, rng) + ".";
    camera += "\n" + lens;
  } else {
    for (size_t k = 0; k < s.shots.size(); ++k) {
      if (k) camera += "\n";
      const std::string secs = seconds_phrase(s.shots[k].seconds, rng);
      switch (rng.below(3)) {
        case 0: camera += "Shot " + std::to_string(k + 1) + " \u2014 " + secs; break;
        case 1: camera += "Shot " + std::to_string(k + 1) + " (" + secs + ")"; break;
        default: camera += "Shot " + std::to_string(k + 1) + ", " + secs; break;
      }
      camera += ": " + shot_directions(s.shots[k], rng) + ".";
    }
  }
  std::string duration = rng.pick({"Duration: ", "Duration: ", "Length: "}) + seconds_phrase(s.seconds(), rng) + ".";
  std::string audio = rng.pick({"Audio: ", "Sound: ", "Audio: "}) + audio_block(s, rng) + ".";
  std::string dialogue;
  for (const auto& c : s.characters)
    if (c.action == Action::Talks) {
      const bool bullets = rng.chance(0.3);
      dialogue += (dialogue.empty() ? (bullets ? "Dialogue:\n- " : "Dialogue: ") : (bullets ? "\n- " : "\n")) + c.identity.name + ": \"" + c.line + "\"";
    }
  std::string avoid;
  if (!s.negatives.empty()) avoid = rng.pick({"Avoid: ", "Negative: ", "Avoid: "}) + negatives_list(s.negatives, rng, "and") + ".";

  std::vector<std::string> free{scene, camera, duration};
  if (!avoid.empty()) free.push_back(avoid);
  for (size_t i = free.size(); i > 1; --i) std::swap(free[i - 1], free[rng.below(i)]);
  // Subject comes before the audio and dialogue that name its characters.
  std::vector<std::string> blocks;
  const size_t subject_at = subject.empty() ? free.size() : rng.below(free.size() + 1);
  for (size_t i = 0; i < subject_at && i < free.size(); ++i) blocks.push_back(free[i]);
  if (!subject.empty()) blocks.push_back(subject);
  std::vector<std::string> after;
  for (size_t i = subject_at; i < free.size(); ++i) after.push_back(free[i]);
  after.push_back(audio);
  if (!dialogue.empty()) after.push_back(dialogue);
  for (size_t i = after.size(); i > 1; --i) std::swap(after[i - 1], after[rng.below(i)]);
  for (auto& b : after) blocks.push_back(b);
  std::string out;
  for (const auto& b : blocks) out += (out.empty() ? "" : "\n") + b;
  return out;
}

}  // namespace

std::string describe(const SceneSpec& spec, uint64_t variant, CaptionStyle style) {
  Rng rng(variant * 0x2545F4914F6CDD1Dull ^ spec_hash(spec) ^ (style == CaptionStyle::Structured ? 0x5bd1e995ull : 0));
  rng.next();
  return style == CaptionStyle::Prose ? prose(spec, rng) : structured(spec, rng);
}

}  // namespace opsis::studio
