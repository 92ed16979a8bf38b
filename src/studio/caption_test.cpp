#include "studio/caption.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace opsis::studio {
namespace {

std::string show(const SceneSpec& s) {
  std::ostringstream o;
  o << name(s.setting) << " / " << name(s.time_of_day) << " / " << name(s.weather) << "\n";
  for (const auto& x : s.objects) o << "  object: " << name(x.size) << " " << name(x.color) << " " << name(x.kind) << " " << name(x.motion) << "\n";
  for (const auto& c : s.characters) {
    const auto& id = c.identity;
    o << "  character: " << id.name << " skin=" << name(id.skin) << " hair=" << name(id.hair_style) << " " << name(id.hair_color)
      << " shirt=" << name(id.shirt) << " acc=" << name(id.accessory) << " action=" << name(c.action) << " line=\"" << c.line << "\"\n";
  }
  for (const auto& sh : s.shots)
    o << "  shot: " << name(sh.camera) << " " << name(sh.speed) << " " << name(sh.framing) << " " << name(sh.lens) << " " << sh.seconds << "s\n";
  o << "  negatives:";
  for (const auto& n : s.negatives) o << " [" << n << "]";
  return o.str();
}

std::string show(const ParseResult& r) {
  std::string s = show(r.spec) + "\n  unknown:";
  for (const auto& w : r.unknown_words) s += " " + w;
  s += "\n  notes:";
  for (const auto& n : r.notes) s += " {" + n + "}";
  return s;
}

const std::vector<std::string> kNames{"Mia", "Leo", "Ava", "Noah", "Zoe", "Omar", "Lena", "Ravi", "Ines", "Kai", "Yuki", "Alex", "Sam", "Priya", "@maya", "@jo_2"};
const std::vector<std::string> kLines{"Hello there!", "Look at that.", "Wait for me!", "It's raining again.", "Did you see it?",
                                      "We made it", "Over here, quick!", "I love this place.", "Careful, it's slippery."};
const std::vector<std::string> kNegatives{"bird", "car", "ball", "rain", "people", "text", "watermark", "blur", "lens flare",
                                          "music", "logo", "smoke", "dog"};

// A random valid spec covering the whole vocabulary.
SceneSpec random_spec(std::mt19937_64& rng) {
  auto pick = [&](int n) { return int(rng() % uint64_t(n)); };
  SceneSpec s;
  s.setting = Setting(pick(8));
  s.time_of_day = TimeOfDay(pick(3));
  s.weather = Weather(pick(2));
  const int objects = pick(5);
  for (int i = 0; i < objects; ++i) {
    if (i > 0 && pick(5) == 0) {  // identical neighbours are told as "two red balls"
      s.objects.push_back(s.objects.back());
      continue;
    }
    s.objects.push_back({ObjectKind(pick(5)), Color(pick(8)), Size(pick(2)), Motion(pick(9))});
  }
  const int characters = pick(3);
  std::vector<std::string> names = kNames;
  for (int i = 0; i < characters; ++i) {
    CharacterSpec c;
    auto& id = c.identity;
    id.skin = SkinTone(pick(5));
    id.hair_color = HairColor(pick(6));
    id.hair_style = HairStyle(pick(3));
    id.shirt = Color(pick(8));
    id.accessory = Accessory(pick(3));
    const int n = pick(int(names.size()));
    id.name = names[size_t(n)];
    names.erase(names.begin() + n);
    c.action = Action(pick(6));
    if (c.action == Action::Talks) c.line = kLines[size_t(pick(int(kLines.size())))];
    s.characters.push_back(c);
  }
  const int shots = 1 + pick(3);
  s.shots.clear();
  for (int i = 0; i < shots; ++i)
    s.shots.push_back({CameraMove(pick(10)), CameraSpeed(pick(2)), Framing(pick(3)), Lens(pick(4)), 0.5 * (1 + pick(16))});
  const int negatives = pick(3) == 0 ? 0 : pick(4);
  std::vector<std::string> pool = kNegatives;
  for (int i = 0; i < negatives; ++i) {
    const int n = pick(int(pool.size()));
    s.negatives.push_back(pool[size_t(n)]);
    pool.erase(pool.begin() + n);
  }
  validate(s);
  return s;
}

TEST(CaptionRoundTrip, ThousandsOfRandomSpecsInBothStyles) {
  std::mt19937_64 rng(20261122);
  int checked = 0, failures = 0;
  const int specs = std::getenv("OPSIS_CAPTION_SPECS") ? std::atoi(std::getenv("OPSIS_CAPTION_SPECS")) : 2000;
  const int samples = std::getenv("OPSIS_CAPTION_SAMPLES") ? std::atoi(std::getenv("OPSIS_CAPTION_SAMPLES")) : 0;
  for (int i = 0; i < specs; ++i) {
    const SceneSpec spec = random_spec(rng);
    for (auto style : {CaptionStyle::Prose, CaptionStyle::Structured}) {
      for (uint64_t variant : {0ull, 1ull, 7ull}) {
        const std::string caption = describe(spec, variant, style);
        const ParseResult back = parse_prompt(caption);
        if (checked < samples) std::cout << caption << "\n\n";
        ++checked;
        if (back.spec == spec && back.unknown_words.empty()) continue;
        if (++failures <= 3)
          ADD_FAILURE() << "caption:\n" << caption << "\nexpected:\n" << show(spec) << "\nparsed:\n" << show(back);
      }
    }
  }
  EXPECT_EQ(failures, 0) << "of " << checked << " captions";
  std::cout << "round trip: " << checked - failures << " / " << checked << " captions parsed back exactly\n";
}

TEST(CaptionRoundTrip, ExactDurationsAndUnusualShapes) {
  SceneSpec s;
  s.shots[0].seconds = 77.0 / 24.0;  // a frame-exact length
  s.characters.push_back({});        // a default character: Alex, standing
  s.characters[0].action = Action::Talks;
  s.characters[0].line = "hello there";  // no final punctuation
  s.negatives = {"lens flare"};
  for (auto style : {CaptionStyle::Prose, CaptionStyle::Structured})
    for (uint64_t v = 0; v < 20; ++v) {
      const std::string caption = describe(s, v, style);
      const auto back = parse_prompt(caption);
      EXPECT_EQ(back.spec, s) << caption << "\n" << show(back);
      EXPECT_TRUE(back.unknown_words.empty()) << caption;
    }
}

TEST(CaptionRoundTrip, DescribeIsDeterministicAndVaried) {
  std::mt19937_64 rng(7);
  int varied = 0, total = 0, all_different = 0;
  for (int i = 0; i < 300; ++i) {
    const SceneSpec spec = random_spec(rng);
    for (auto style : {CaptionStyle::Prose, CaptionStyle::Structured}) {
      EXPECT_EQ(describe(spec, 3, style), describe(spec, 3, style));
      std::set<std::string> wordings;
      for (uint64_t v = 0; v < 4; ++v) wordings.insert(describe(spec, v, style));
      ++total;
      varied += wordings.size() >= 3;
      all_different += wordings.size() == 4;
    }
  }
  EXPECT_GE(varied, total * 9 / 10) << varied << " of " << total << " specs had at least 3 wordings in 4 variants";
  std::cout << "variety: " << all_different << " / " << total << " (spec, style) pairs gave 4 different captions in 4 variants\n";
}

TEST(CaptionRoundTrip, StylesDiffer) {
  SceneSpec s;
  s.objects.push_back({ObjectKind::Ball, Color::Red, Size::Small, Motion::Bounces});
  const std::string prose = describe(s, 0, CaptionStyle::Prose);
  const std::string structured = describe(s, 0, CaptionStyle::Structured);
  EXPECT_EQ(prose.find("Audio:"), std::string::npos) << prose;
  EXPECT_TRUE(structured.find("Audio: ") != std::string::npos || structured.find("Sound: ") != std::string::npos) << structured;
  EXPECT_TRUE(structured.find("Camera: ") != std::string::npos || structured.find("Cinematography: ") != std::string::npos) << structured;
}

TEST(CaptionRoundTrip, SimpleScenesStayCompact) {
  std::mt19937_64 rng(11);
  int longest = 0, total = 0;
  for (int i = 0; i < 200; ++i) {
    SceneSpec s = random_spec(rng);
    s.objects.resize(std::min<size_t>(s.objects.size(), 1));
    s.characters.resize(std::min<size_t>(s.characters.size(), 1));
    if (!s.characters.empty() && s.characters[0].action == Action::Talks) s.characters[0].action = Action::Waves, s.characters[0].line.clear();
    s.shots.resize(1);
    s.negatives.clear();
    const std::string caption = describe(s, uint64_t(i), CaptionStyle::Prose);
    std::istringstream words(caption);
    int n = 0;
    for (std::string w; words >> w;) ++n;
    EXPECT_LE(n, 60) << caption;
    longest = std::max(longest, n), total += n;
  }
  std::cout << "simple prose captions: " << total / 200 << " words on average, " << longest << " at most\n";
}


// ---- prompts written by people

ParseResult parsed(const std::string& prompt) { return parse_prompt(prompt); }

TEST(CaptionParse, BoxFallsOnBeachAtSunset) {
  const auto r = parsed("A large blue box falls onto the sand at the beach at sunset, slow dolly in, 85mm");
  EXPECT_EQ(r.spec.setting, Setting::Beach);
  EXPECT_EQ(r.spec.time_of_day, TimeOfDay::GoldenHour);
  ASSERT_EQ(r.spec.objects.size(), 1u) << show(r);
  EXPECT_EQ(r.spec.objects[0], (ObjectSpec{ObjectKind::Box, Color::Blue, Size::Large, Motion::Falls}));
  ASSERT_EQ(r.spec.shots.size(), 1u);
  EXPECT_EQ(r.spec.shots[0].camera, CameraMove::DollyIn);
  EXPECT_EQ(r.spec.shots[0].speed, CameraSpeed::Slow);
  EXPECT_EQ(r.spec.shots[0].lens, Lens::Portrait85mm);
  EXPECT_TRUE(r.unknown_words.empty()) << show(r);
}

TEST(CaptionParse, TwoKidsWaveInSnowyField) {
  const auto r = parsed("Two kids wave in a snowy field. 10 seconds.");
  EXPECT_EQ(r.spec.setting, Setting::Snowfield);
  ASSERT_EQ(r.spec.characters.size(), 2u) << show(r);
  for (const auto& c : r.spec.characters) EXPECT_EQ(c.action, Action::Waves);
  EXPECT_NE(r.spec.characters[0].identity.name, r.spec.characters[1].identity.name);
  EXPECT_EQ(r.spec.characters[0].identity.name, "Alex");  // Identity defaults for the first
  EXPECT_EQ(r.spec.characters[0].identity.skin, Identity{}.skin);
  EXPECT_DOUBLE_EQ(r.spec.seconds(), 10.0);
  EXPECT_TRUE(r.unknown_words.empty()) << show(r);
}

TEST(CaptionParse, UnknownWordsAreReported) {
  const auto r = parsed("A purple zeppelin hovers over the meadow");
  EXPECT_EQ(r.spec.setting, Setting::Meadow);
  EXPECT_TRUE(r.spec.objects.empty());
  const auto& u = r.unknown_words;
  EXPECT_NE(std::find(u.begin(), u.end(), "zeppelin"), u.end()) << show(r);
  // "hovers" and "purple" had nothing to describe, so they are reported too.
  EXPECT_NE(std::find(u.begin(), u.end(), "hovers"), u.end()) << show(r);
  EXPECT_NE(std::find(u.begin(), u.end(), "purple"), u.end()) << show(r);
  EXPECT_EQ(std::find(u.begin(), u.end(), "meadow"), u.end());
  EXPECT_EQ(std::find(u.begin(), u.end(), "the"), u.end());
}

TEST(CaptionParse, UnknownWordsInOrderWithoutDuplicates) {
  const auto r = parsed("A dragon and a dragon and a unicorn, cinematic, cinematic");
  EXPECT_EQ(r.unknown_words, (std::vector<std::string>{"dragon", "unicorn", "cinematic"}));
}

TEST(CaptionParse, EmptyPromptIsDetectable) {
  for (const char* prompt : {"", "   ", "\n\t ", " . , ", "\"\"", "\""}) {
    const auto r = parsed(prompt);
    EXPECT_TRUE(r.unknown_words.empty());
    ASSERT_FALSE(r.notes.empty()) << "'" << prompt << "'";
    EXPECT_EQ(r.notes[0], "empty prompt");
    EXPECT_EQ(r.spec, SceneSpec{});
  }
  EXPECT_DOUBLE_EQ(parse_prompt("", 6.0).spec.seconds(), 6.0);
}

TEST(CaptionParse, DefaultsWhenNothingIsSaid) {
  const auto r = parse_prompt("a ball", 5.0);
  EXPECT_EQ(r.spec.setting, Setting::Meadow);
  EXPECT_EQ(r.spec.time_of_day, TimeOfDay::Day);
  EXPECT_EQ(r.spec.weather, Weather::Clear);
  ASSERT_EQ(r.spec.shots.size(), 1u);
  EXPECT_EQ(r.spec.shots[0], (ShotSpec{CameraMove::Static, CameraSpeed::Slow, Framing::Wide, Lens::Standard, 5.0}));
  ASSERT_EQ(r.spec.objects.size(), 1u);
  EXPECT_EQ(r.spec.objects[0], (ObjectSpec{ObjectKind::Ball, Color::Red, Size::Small, Motion::Bounces}));
  // Each kind moves its own way when the prompt does not say.
  EXPECT_EQ(parsed("a bird").spec.objects.at(0).motion, Motion::FliesRight);
  EXPECT_EQ(parsed("a balloon").spec.objects.at(0).motion, Motion::FloatsUp);
  EXPECT_EQ(parsed("a box").spec.objects.at(0).motion, Motion::StaysStill);
  EXPECT_EQ(parsed("a car").spec.objects.at(0).motion, Motion::RollsRight);
}

TEST(CaptionParse, SynonymsForPlacesTimesAndWeather) {
  EXPECT_EQ(parsed("a kid in the living room").spec.setting, Setting::LivingRoom);
  EXPECT_EQ(parsed("a kid in the lounge").spec.setting, Setting::LivingRoom);
  EXPECT_EQ(parsed("a kid indoors").spec.setting, Setting::LivingRoom);
  EXPECT_EQ(parsed("a car downtown").spec.setting, Setting::CityStreet);
  EXPECT_EQ(parsed("a car on the street").spec.setting, Setting::CityStreet);
  EXPECT_EQ(parsed("a bird under the stars").spec.setting, Setting::NightSky);
  EXPECT_EQ(parsed("a bird under the stars").spec.time_of_day, TimeOfDay::Night);
  EXPECT_EQ(parsed("a bird in the starry sky at dawn").spec.time_of_day, TimeOfDay::GoldenHour);
  EXPECT_EQ(parsed("a man in the snow").spec.setting, Setting::Snowfield);
  EXPECT_EQ(parsed("sand dunes").spec.setting, Setting::Desert);
  EXPECT_EQ(parsed("the woods at sunset").spec.time_of_day, TimeOfDay::GoldenHour);
  EXPECT_EQ(parsed("a rainy street").spec.weather, Weather::Rain);
  EXPECT_EQ(parsed("it is raining on the beach").spec.weather, Weather::Rain);
  EXPECT_EQ(parsed("a sunny meadow").spec.weather, Weather::Clear);
  EXPECT_EQ(parsed("a beach at midnight").spec.time_of_day, TimeOfDay::Night);
  EXPECT_EQ(parsed("an automobile").spec.objects.at(0).kind, ObjectKind::Car);
  EXPECT_EQ(parsed("a crate").spec.objects.at(0).kind, ObjectKind::Box);
  EXPECT_EQ(parsed("a cube").spec.objects.at(0).kind, ObjectKind::Box);
  EXPECT_EQ(parsed("a ball drops").spec.objects.at(0).motion, Motion::Falls);
}

TEST(CaptionParse, FirstSettingWinsWithANote) {
  const auto r = parsed("a ball on the beach in the forest");
  EXPECT_EQ(r.spec.setting, Setting::Beach);
  ASSERT_FALSE(r.notes.empty());
  EXPECT_NE(r.notes[0].find("used the first"), std::string::npos) << r.notes[0];
}

TEST(CaptionParse, CharacterDescription) {
  const auto r = parsed("A woman with long red hair and glasses walks to the left down a rainy city street at night. Close-up.");
  ASSERT_EQ(r.spec.characters.size(), 1u) << show(r);
  const auto& c = r.spec.characters[0];
  EXPECT_EQ(c.identity.hair_style, HairStyle::Long);
  EXPECT_EQ(c.identity.hair_color, HairColor::Red);
  EXPECT_EQ(c.identity.accessory, Accessory::Glasses);
  EXPECT_EQ(c.action, Action::WalksLeft);
  EXPECT_EQ(r.spec.setting, Setting::CityStreet);
  EXPECT_EQ(r.spec.weather, Weather::Rain);
  EXPECT_EQ(r.spec.time_of_day, TimeOfDay::Night);
  EXPECT_EQ(r.spec.shots[0].framing, Framing::CloseUp);
  EXPECT_TRUE(r.unknown_words.empty()) << show(r);
}

TEST(CaptionParse, NamesPronounsAndCompoundAdjectives) {
  const auto r = parsed("A girl called Rose jumps. She has short black hair and wears a purple t-shirt. "
                        "A dark-skinned man named Omar with a hat stands nearby.");
  ASSERT_EQ(r.spec.characters.size(), 2u) << show(r);
  const auto& rose = r.spec.characters[0];
  EXPECT_EQ(rose.identity.name, "Rose");
  EXPECT_EQ(rose.action, Action::Jumps);
  EXPECT_EQ(rose.identity.hair_color, HairColor::Black);
  EXPECT_EQ(rose.identity.shirt, Color::Purple);
  const auto& omar = r.spec.characters[1];
  EXPECT_EQ(omar.identity.name, "Omar");
  EXPECT_EQ(omar.identity.skin, SkinTone::Dark);
  EXPECT_EQ(omar.identity.accessory, Accessory::Hat);
  EXPECT_EQ(omar.action, Action::Stands);
  EXPECT_TRUE(r.unknown_words.empty()) << show(r);
  const auto kid = parsed("A red-haired kid with glasses hops in the snow");
  ASSERT_EQ(kid.spec.characters.size(), 1u);
  EXPECT_EQ(kid.spec.characters[0].identity.hair_color, HairColor::Red);
  EXPECT_EQ(kid.spec.characters[0].action, Action::Jumps);
}

TEST(CaptionParse, DialogueLinesMakeCharactersTalk) {
  auto r = parsed("Mia says: \"Hello there!\" in the living room. No birds.");
  ASSERT_EQ(r.spec.characters.size(), 1u) << show(r);
  EXPECT_EQ(r.spec.characters[0].identity.name, "Mia");
  EXPECT_EQ(r.spec.characters[0].action, Action::Talks);
  EXPECT_EQ(r.spec.characters[0].line, "Hello there!");
  EXPECT_TRUE(r.spec.objects.empty());
  EXPECT_EQ(r.spec.negatives, std::vector<std::string>{"bird"});
  validate(r.spec);

  r = parsed("Dialogue: Mia: \"Where are we?\"\nLeo: \"No idea.\"");
  ASSERT_EQ(r.spec.characters.size(), 2u) << show(r);
  EXPECT_EQ(r.spec.characters[1].identity.name, "Leo");
  EXPECT_EQ(r.spec.characters[1].line, "No idea.");
  EXPECT_TRUE(r.spec.negatives.empty()) << "a quoted 'No' is a line, not a negative";

  r = parsed("\u201cWatch out!\u201d shouts a man in a black jacket");
  ASSERT_EQ(r.spec.characters.size(), 1u) << show(r);
  EXPECT_EQ(r.spec.characters[0].line, "Watch out!");
  EXPECT_EQ(r.spec.characters[0].identity.shirt, Color::Black);

  // Talking with no words to say is kept so that validate() can ask for the line.
  r = parsed("two people chatting");
  ASSERT_EQ(r.spec.characters.size(), 2u);
  EXPECT_EQ(r.spec.characters[0].action, Action::Talks);
  EXPECT_THROW(validate(r.spec), InvalidArgument);
}

TEST(CaptionParse, NegativesDoNotAddWhatTheyNegate) {
  auto r = parsed("A meadow with no birds, slow pan left");
  EXPECT_TRUE(r.spec.objects.empty()) << show(r);
  EXPECT_EQ(r.spec.negatives, std::vector<std::string>{"bird"});
  EXPECT_EQ(r.spec.shots[0].camera, CameraMove::PanLeft);

  r = parsed("no people, no cars, just a quiet forest at night");
  EXPECT_TRUE(r.spec.characters.empty());
  EXPECT_TRUE(r.spec.objects.empty());
  EXPECT_EQ(r.spec.negatives, (std::vector<std::string>{"people", "car"}));
  EXPECT_EQ(r.spec.setting, Setting::Forest);
  EXPECT_EQ(r.spec.time_of_day, TimeOfDay::Night);

  r = parsed("A ball bounces on the beach. Avoid: rain, text overlays, blurry faces");
  EXPECT_EQ(r.spec.weather, Weather::Clear);
  EXPECT_EQ(r.spec.negatives, (std::vector<std::string>{"rain", "text overlays", "blurry faces"}));
  EXPECT_TRUE(r.unknown_words.empty()) << show(r);

  r = parsed("a forest without rain. Negative prompt: cars and birds");
  EXPECT_EQ(r.spec.negatives, (std::vector<std::string>{"rain", "car", "bird"}));
  EXPECT_TRUE(r.spec.objects.empty());
}

TEST(CaptionParse, DurationsInManyForms) {
  EXPECT_DOUBLE_EQ(parsed("a ball, 8 seconds").spec.seconds(), 8);
  EXPECT_DOUBLE_EQ(parsed("a ball, 8s").spec.seconds(), 8);
  EXPECT_DOUBLE_EQ(parsed("a 10-second clip of a ball").spec.seconds(), 10);
  EXPECT_DOUBLE_EQ(parsed("Duration: 12 s").spec.seconds(), 12);
  EXPECT_DOUBLE_EQ(parsed("Duration: 12").spec.seconds(), 12);
  EXPECT_DOUBLE_EQ(parsed("twenty five seconds of rain").spec.seconds(), 25);
  EXPECT_DOUBLE_EQ(parsed("a ball drops for two and a half seconds").spec.seconds(), 2.5);
  // Out of range is kept as given, so validate() can say what is wrong.
  const auto r = parsed("a 40-second clip of the beach");
  EXPECT_DOUBLE_EQ(r.spec.seconds(), 40);
  EXPECT_THROW(validate(r.spec), InvalidArgument);
  EXPECT_DOUBLE_EQ(parsed("one minute of snow").spec.seconds(), 60);
}

TEST(CaptionParse, ShotsAndCuts) {
  auto r = parsed("Shot 1 (3 s): wide shot of a meadow. Cut to shot 2 (2 s): close-up of a bouncing ball.");
  ASSERT_EQ(r.spec.shots.size(), 2u) << show(r);
  EXPECT_EQ(r.spec.shots[0].framing, Framing::Wide);
  EXPECT_DOUBLE_EQ(r.spec.shots[0].seconds, 3);
  EXPECT_EQ(r.spec.shots[1].framing, Framing::CloseUp);
  EXPECT_DOUBLE_EQ(r.spec.shots[1].seconds, 2);
  ASSERT_EQ(r.spec.objects.size(), 1u);
  EXPECT_EQ(r.spec.objects[0].motion, Motion::Bounces);

  // Directions before the first shot are defaults; unstated lengths share the total.
  r = parsed("Lens: anamorphic. Shot 1: slow pan left. Shot 2: fast tilt up. 10 seconds in total.");
  ASSERT_EQ(r.spec.shots.size(), 2u) << show(r);
  EXPECT_EQ(r.spec.shots[0].lens, Lens::Anamorphic);
  EXPECT_EQ(r.spec.shots[1].lens, Lens::Anamorphic);
  EXPECT_EQ(r.spec.shots[1].camera, CameraMove::TiltUp);
  EXPECT_EQ(r.spec.shots[1].speed, CameraSpeed::Fast);
  EXPECT_DOUBLE_EQ(r.spec.shots[0].seconds, 5);

  // A length in its own sentence after the shots is the clip's.
  r = parsed("Shot 1: pan left. Shot 2: tilt up, 2 s. 8 seconds.");
  ASSERT_EQ(r.spec.shots.size(), 2u) << show(r);
  EXPECT_DOUBLE_EQ(r.spec.shots[0].seconds, 6);
  EXPECT_DOUBLE_EQ(r.spec.shots[1].seconds, 2);

  // A cut with no number: what came before was the first shot.
  r = parsed("A woman waves, wide shot. Cut to a close-up of her.");
  ASSERT_EQ(r.spec.shots.size(), 2u) << show(r);
  EXPECT_EQ(r.spec.shots[0].framing, Framing::Wide);
  EXPECT_EQ(r.spec.shots[1].framing, Framing::CloseUp);
  EXPECT_DOUBLE_EQ(r.spec.seconds(), 4);
}

TEST(CaptionParse, StructuredPromptWithLabels) {
  const auto r = parsed("Scene: a forest at dawn.\nSubject: a girl named Lily with short black hair waves.\n"
                        "Camera: slow orbit right, medium shot.\nLens: wide\nAudio: rustling leaves, footsteps.\n"
                        "Duration: 6 seconds.\nAvoid: birds");
  EXPECT_EQ(r.spec.setting, Setting::Forest);
  EXPECT_EQ(r.spec.time_of_day, TimeOfDay::GoldenHour);
  ASSERT_EQ(r.spec.characters.size(), 1u) << show(r);
  EXPECT_EQ(r.spec.characters[0].identity.name, "Lily");
  EXPECT_EQ(r.spec.characters[0].action, Action::Waves);
  EXPECT_EQ(r.spec.shots[0], (ShotSpec{CameraMove::OrbitRight, CameraSpeed::Slow, Framing::Medium, Lens::Wide, 6}));
  EXPECT_EQ(r.spec.negatives, std::vector<std::string>{"bird"});
  EXPECT_TRUE(r.spec.objects.empty());
  EXPECT_TRUE(r.unknown_words.empty()) << show(r);
}

TEST(CaptionParse, AudioBlockDescribesWithoutAdding) {
  const auto r = parsed("A ball bounces. Audio: birds chirping, a car engine in the distance, rain patter");
  EXPECT_EQ(r.spec.objects.size(), 1u) << show(r);
  EXPECT_TRUE(r.spec.characters.empty());
  EXPECT_EQ(r.spec.weather, Weather::Rain) << "the audio hints at rain when nothing else says";
  EXPECT_TRUE(parsed("A meadow. Sound: a loud \"whoosh\"").spec.characters.empty());
}

TEST(CaptionParse, CameraVocabulary) {
  auto cam = [](const std::string& p) { return parsed(p).spec.shots.at(0); };
  EXPECT_EQ(cam("the camera slowly pans to the right").camera, CameraMove::PanRight);
  EXPECT_EQ(cam("whip pan left").speed, CameraSpeed::Fast);
  EXPECT_EQ(cam("push in on the box").camera, CameraMove::DollyIn);
  EXPECT_EQ(cam("the camera pulls back").camera, CameraMove::DollyOut);
  EXPECT_EQ(cam("zoom out").camera, CameraMove::DollyOut);
  EXPECT_EQ(cam("tilt down to the ground").camera, CameraMove::TiltDown);
  EXPECT_EQ(cam("camera orbits left quickly").camera, CameraMove::OrbitLeft);
  EXPECT_EQ(cam("camera orbits left quickly").speed, CameraSpeed::Fast);
  EXPECT_EQ(cam("a dolly zoom").camera, CameraMove::DollyZoom);
  EXPECT_EQ(cam("the camera moves quickly to the left").camera, CameraMove::PanLeft);
  EXPECT_EQ(cam("the camera moves quickly to the left").speed, CameraSpeed::Fast);
  EXPECT_EQ(cam("the camera moves closer").camera, CameraMove::DollyIn);
  EXPECT_EQ(cam("a ball rolls left, the camera stays still").camera, CameraMove::Static);
  EXPECT_EQ(cam("locked-off camera").camera, CameraMove::Static);
  EXPECT_EQ(cam("tight on the ball").framing, Framing::CloseUp);
  EXPECT_EQ(cam("medium shot").framing, Framing::Medium);
  EXPECT_EQ(cam("24mm").lens, Lens::Wide);
  EXPECT_EQ(cam("shot on 50 mm").lens, Lens::Standard);
  EXPECT_EQ(cam("85 mm lens").lens, Lens::Portrait85mm);
  EXPECT_EQ(cam("wide-angle lens").lens, Lens::Wide);
  EXPECT_EQ(cam("wide-angle lens").framing, Framing::Wide);
  EXPECT_EQ(cam("anamorphic, close-up").framing, Framing::CloseUp);
  EXPECT_EQ(cam("anamorphic, close-up").lens, Lens::Anamorphic);
}

TEST(CaptionParse, CountsAndLimits) {
  auto r = parsed("three small white birds fly left against the stars");
  ASSERT_EQ(r.spec.objects.size(), 3u);
  for (const auto& o : r.spec.objects) EXPECT_EQ(o, (ObjectSpec{ObjectKind::Bird, Color::White, Size::Small, Motion::FliesLeft}));
  r = parsed("five balls bounce on the beach");
  EXPECT_EQ(r.spec.objects.size(), size_t(kMaxObjects));
  ASSERT_FALSE(r.notes.empty());
  EXPECT_NE(r.notes.back().find("at most 4"), std::string::npos) << r.notes.back();
  r = parsed("three people walk right");
  EXPECT_EQ(r.spec.characters.size(), size_t(kMaxCharacters));
  EXPECT_FALSE(r.notes.empty());
  r = parsed("a red ball and a blue box bounce");
  ASSERT_EQ(r.spec.objects.size(), 2u);
  EXPECT_EQ(r.spec.objects[1].color, Color::Blue);
  EXPECT_EQ(r.spec.objects[1].motion, Motion::Bounces);
  r = parsed("a couple of balloons rise");
  EXPECT_EQ(r.spec.objects.size(), 2u);
}

TEST(CaptionParse, TheRefersBack) {
  const auto r = parsed("A red ball sits on the lawn. The ball rolls left. Then the ball spins.");
  ASSERT_EQ(r.spec.objects.size(), 1u) << show(r);
  EXPECT_EQ(r.spec.objects[0].motion, Motion::StaysStill);  // first motion kept, with notes
  EXPECT_FALSE(r.notes.empty());
}

TEST(CaptionParse, PunctuationAndCaseDoNotMatter) {
  const auto a = parsed("A SMALL RED BALL BOUNCES ON THE BEACH!!!");
  const auto b = parsed("a small red ball bounces... on the beach");
  EXPECT_EQ(a.spec, b.spec);
  ASSERT_EQ(a.spec.objects.size(), 1u);
  EXPECT_EQ(a.spec.setting, Setting::Beach);
}

TEST(CaptionParse, PronounsAndPredicates) {
  auto r = parsed("A man in a blue coat and a woman with a hat stand by a car. He says: \"Ready?\" She says: \"Go.\"");
  ASSERT_EQ(r.spec.characters.size(), 2u) << show(r);
  EXPECT_EQ(r.spec.characters[0].line, "Ready?");
  EXPECT_EQ(r.spec.characters[0].identity.shirt, Color::Blue);
  EXPECT_EQ(r.spec.characters[1].line, "Go.");
  EXPECT_EQ(r.spec.characters[1].identity.accessory, Accessory::Hat);
  r = parsed("A woman waves. Her hair is long and red.");
  ASSERT_EQ(r.spec.characters.size(), 1u);
  EXPECT_EQ(r.spec.characters[0].identity.hair_style, HairStyle::Long);
  EXPECT_EQ(r.spec.characters[0].identity.hair_color, HairColor::Red);
  r = parsed("The ball is blue and large. It spins.");
  ASSERT_EQ(r.spec.objects.size(), 1u);
  EXPECT_EQ(r.spec.objects[0], (ObjectSpec{ObjectKind::Ball, Color::Blue, Size::Large, Motion::Spins}));
  r = parsed("A man and a woman are on the beach. They wave.");
  ASSERT_EQ(r.spec.characters.size(), 2u);
  EXPECT_EQ(r.spec.characters[0].action, Action::Waves);
  EXPECT_EQ(r.spec.characters[1].action, Action::Waves);
  r = parsed("Dogs run on the beach while Chris runs left");  // plural nouns are not names
  ASSERT_EQ(r.spec.characters.size(), 1u) << show(r);
  EXPECT_EQ(r.spec.characters[0].identity.name, "Chris");
  EXPECT_EQ(r.spec.characters[0].action, Action::WalksLeft);
  r = parsed("Spinning slowly, a small green box sits on the lawn. Bouncing across the meadow, a red ball.");
  ASSERT_EQ(r.spec.objects.size(), 2u) << show(r);
  EXPECT_EQ(r.spec.objects[0].motion, Motion::StaysStill);  // its own verb wins over the loose one
  EXPECT_EQ(r.spec.objects[1].motion, Motion::Bounces);
  r = parsed("A woman with short black hair stands on a rainy street. Dialogue: - Woman: \"Finally.\"");
  ASSERT_EQ(r.spec.characters.size(), 1u) << show(r);
  EXPECT_EQ(r.spec.characters[0].line, "Finally.");
  EXPECT_EQ(r.spec.characters[0].identity.hair_color, HairColor::Black);
  r = parsed("She waves.");  // a pronoun with nobody before it is somebody
  ASSERT_EQ(r.spec.characters.size(), 1u);
  EXPECT_EQ(r.spec.characters[0].action, Action::Waves);
  r = parsed("@maya waves on the beach. @maya says \"hi\".");  // cameo handles name characters
  ASSERT_EQ(r.spec.characters.size(), 1u) << show(r);
  EXPECT_EQ(r.spec.characters[0].identity.name, "@maya");
  EXPECT_EQ(r.spec.characters[0].line, "hi");
}

// Any text parses without throwing, and what comes out has the spec's shape.
TEST(CaptionParse, AnyTextParses) {
  const std::vector<std::string> pieces{
      "a", "the", "two", "1000000", "99999999999999999999", "shot", "Shot 7", "cut to", "no", "avoid:", "Avoid:", "Mia",
      "Mia:", "says", "\"", "\u201c", "\u201d", "hi", ",", ".", ":", "(", ")", "\u2014", "-", "'s", "'", "red", "ball",
      "balls", "woman", "named", "called", "Name:", "Audio:", "Duration:", "seconds", "s", "mm", "85", "0", "0.5",
      "and a half", "pans", "left", "in", "out", "with", "hair", "long", "bald", "glasses", "hat", "waves", "talks",
      "\n", "\xff\xfe", "\xc3\xa9", "\t", "it", "they", "she", "the ball", "Camera:", "Lens: wide", "slow", "fast",
      "meadow", "rain", "night sky", "static", "close-up", "red-haired", "dark-skinned", "wearing", "green", "@x", "#2"};
  std::mt19937_64 rng(99);
  for (int i = 0; i < 3000; ++i) {
    std::string prompt;
    const int n = int(rng() % 40);
    for (int k = 0; k < n; ++k) prompt += pieces[rng() % pieces.size()] + (rng() % 3 ? " " : "");
    ParseResult r;
    ASSERT_NO_THROW(r = parse_prompt(prompt)) << prompt;
    EXPECT_GE(r.spec.shots.size(), 1u) << prompt;
    EXPECT_LE(r.spec.objects.size(), size_t(kMaxObjects)) << prompt;
    EXPECT_LE(r.spec.characters.size(), size_t(kMaxCharacters)) << prompt;
    for (const auto& w : r.unknown_words) EXPECT_FALSE(w.empty()) << prompt;
  }
  for (int i = 0; i < 2000; ++i) {  // raw bytes, including broken UTF-8 and NULs
    std::string bytes(rng() % 80, '\0');
    for (auto& b : bytes) b = char(rng() % 256);
    ASSERT_NO_THROW(parse_prompt(bytes));
  }
  const auto r = parse_prompt("a million balls and 99999999999999999999 birds. Shot 99999999999: pan");
  EXPECT_EQ(r.spec.objects.size(), size_t(kMaxObjects));
  EXPECT_FALSE(r.notes.empty());
}

// prompt -> spec -> caption -> spec is stable for prompts people write.
TEST(CaptionRoundTrip, FreeFormPromptsAreStable) {
  const std::vector<std::string> prompts{
      "A large blue box falls onto the sand at the beach at sunset, slow dolly in, 85mm",
      "Two kids wave in a snowy field. 10 seconds.",
      "A woman with long red hair and glasses walks to the left down a rainy city street at night. Close-up.",
      "Mia says: \"Hello there!\" in the living room. No birds.",
      "Shot 1 (3 s): wide shot of a meadow. Cut to shot 2 (2 s): close-up of a bouncing ball.",
      "three small white birds fly left against the stars, camera orbits left slowly",
      "A girl called Rose jumps. She has short black hair and wears a purple t-shirt.",
      "no people, no cars, just a quiet forest at night",
      "a red car drives left through the desert, fast pan left, wide-angle lens, a 12-second clip",
      "Scene: a forest at dawn. Subject: a girl named Lily with short black hair waves. Camera: slow orbit right. Duration: 6 seconds.",
  };
  for (const auto& prompt : prompts) {
    const SceneSpec first = parse_prompt(prompt).spec;
    for (auto style : {CaptionStyle::Prose, CaptionStyle::Structured})
      for (uint64_t v = 0; v < 5; ++v) {
        const std::string caption = describe(first, v, style);
        const auto again = parse_prompt(caption);
        EXPECT_EQ(again.spec, first) << prompt << "\n" << caption << "\n" << show(again);
        EXPECT_TRUE(again.unknown_words.empty()) << caption << "\n" << show(again);
      }
  }
}


}  // namespace
}  // namespace opsis::studio
