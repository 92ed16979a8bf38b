// The cameo likeness reader (likeness.hpp) on pictures made here: studio close-ups of known
// identities (rendered through src/studio, as enrollment recordings of the built-in path are)
// read back as the identity drawn; Debian's astronaut photo (python3-skimage) read as a real
// person; a recording with no face read as no likeness. And the words a likeness becomes in a
// prompt, read back by the studio's own prompt parser.
#include "cameo/test_media.hpp"
#include "cameo/likeness.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "media/image_io.hpp"
#include "media/mp4.hpp"
#include "studio/caption.hpp"
#include "studio/studio.hpp"

namespace opsis::cameo {
namespace {

namespace fs = std::filesystem;
using studio::Color;
using studio::HairColor;
using studio::HairStyle;
using studio::SkinTone;

using test::have_cascades;
using test::astronaut_path;

Likeness likeness_of(const studio::Identity& id) { return Likeness{id.skin, id.hair_color, id.hair_style, id.shirt, id.accessory}; }

// A close-up of one character saying a challenge's phrase in a meadow: the built-in path's
// enrollment recording (what tests/api/cameos.test.mjs renders through `opsis studio render`),
// through H.264 and back as an upload is.
Video close_up(const studio::Identity& identity, int width, int height, double seconds = 3) {
  studio::ParseResult parsed = studio::parse_prompt("A close-up of Sam in a meadow. Sam says \"seven two nine four\".", seconds);
  EXPECT_EQ(parsed.spec.characters.size(), 1u);
  parsed.spec.characters[0].identity = identity;
  parsed.spec.characters[0].identity.name = "Sam";
  studio::RenderOptions options;
  options.width = width;
  options.height = height;
  options.audio = false;
  options.seed = 11;
  const Video rendered = studio::render_clip(parsed.spec, options).video;
  const fs::path file = fs::temp_directory_path() / ("opsis-likeness-" + std::to_string(::getpid()) + ".mp4");
  media::write_mp4(file.string(), rendered, Audio{});
  Video decoded = media::read_mp4(file.string()).video;
  fs::remove(file);
  return decoded;
}

studio::Identity identity(SkinTone skin, HairColor hair, HairStyle style, Color shirt,
                          studio::Accessory accessory = studio::Accessory::None) {
  studio::Identity id;
  id.skin = skin;
  id.hair_color = hair;
  id.hair_style = style;
  id.shirt = shirt;
  id.accessory = accessory;
  return id;
}

std::string words(const Likeness& l) { return to_json(l).dump(); }

TEST(Likeness, StudioCloseUpsReadBackAsTheIdentityDrawn) {
  if (!have_cascades()) GTEST_SKIP() << "opencv-data is not installed";
  LikenessReader reader;
  const std::vector<studio::Identity> truths = {
      identity(SkinTone::Dark, HairColor::Red, HairStyle::Long, Color::Green),
      identity(SkinTone::Pale, HairColor::Black, HairStyle::Short, Color::Red),
      identity(SkinTone::Medium, HairColor::Blond, HairStyle::Long, Color::Purple),
      identity(SkinTone::Tan, HairColor::Gray, HairStyle::Bald, Color::Yellow),
      identity(SkinTone::Light, HairColor::Blue, HairStyle::Short, Color::Orange),
      identity(SkinTone::Medium, HairColor::Brown, HairStyle::Short, Color::Blue),
      identity(SkinTone::Dark, HairColor::Black, HairStyle::Long, Color::White),
      identity(SkinTone::Light, HairColor::Brown, HairStyle::Short, Color::Black),
      // Hats and glasses, over hair of every darkness (a hat is dark brown, rims near black).
      identity(SkinTone::Medium, HairColor::Black, HairStyle::Short, Color::Blue, studio::Accessory::Hat),
      identity(SkinTone::Pale, HairColor::Blond, HairStyle::Long, Color::Red, studio::Accessory::Hat),
      identity(SkinTone::Dark, HairColor::Brown, HairStyle::Bald, Color::Green, studio::Accessory::Hat),
      identity(SkinTone::Tan, HairColor::Red, HairStyle::Short, Color::White, studio::Accessory::Glasses),
      identity(SkinTone::Dark, HairColor::Black, HairStyle::Long, Color::Yellow, studio::Accessory::Glasses),
      // (Bald with glasses reads right at 320x180 but its shirt reads green at 160x90: there a
      // close-up shows five rows of shirt under the chin, and with the box a bald head gives,
      // the meadow's grass outvotes them. A limit of the shirt vote at that size.)
      identity(SkinTone::Light, HairColor::Gray, HairStyle::Short, Color::Purple, studio::Accessory::Glasses),
  };
  // 320x180: the size enrollment recordings are decoded at (recording_check.cpp); 160x90: the
  // API tests' clips.
  for (const auto& [width, height] : {std::pair{320, 180}, std::pair{160, 90}})
    for (const auto& truth : truths) {
      const std::optional<LikenessReading> reading = reader.read(close_up(truth, width, height));
      EXPECT_TRUE(reading) << width << "x" << height << " " << words(likeness_of(truth)) << ": no face found";
      if (!reading) continue;
      Likeness want = likeness_of(truth);
      if (want.hair_style == HairStyle::Bald) want.hair_color = HairColor::Brown;  // a bald head shows no hair colour
      EXPECT_EQ(reading->likeness, want) << width << "x" << height << " read " << words(reading->likeness) << " for "
                                         << words(want) << " (" << reading->face_finder << ", " << reading->frames_used
                                         << " of " << reading->frames_sampled << " frames)";
      EXPECT_EQ(reading->portrait.width, kPortraitSize);
      EXPECT_EQ(reading->portrait.height, kPortraitSize);
    }
}

// A video of a still picture (the reader does not judge liveness: the recording checks did).
Video still(const Image& image, int frames) {
  Video v;
  v.width = image.width;
  v.height = image.height;
  for (int t = 0; t < frames; ++t) v.rgb.insert(v.rgb.end(), image.pixels.begin(), image.pixels.end());
  return v;
}

TEST(Likeness, TheAstronautPhotoReadsAsAPlausibleCartoon) {
  if (!have_cascades() || astronaut_path().empty()) GTEST_SKIP() << "opencv-data or python3-skimage is not installed";
  const Image photo = media::read_image(astronaut_path());  // 512x512, a woman in an orange suit
  LikenessReader reader;
  const std::optional<LikenessReading> reading = reader.read(still(photo, 8));
  ASSERT_TRUE(reading) << "no face found in the astronaut photo";
  EXPECT_EQ(reading->face_finder, "haar_frontal");
  // Her face is at about x 170-280, y 70-190 of the 512x512 photo.
  EXPECT_GT(reading->face_x + reading->face_width / 2, 190);
  EXPECT_LT(reading->face_x + reading->face_width / 2, 260);
  EXPECT_GT(reading->face_y + reading->face_height / 2, 100);
  EXPECT_LT(reading->face_y + reading->face_height / 2, 170);
  const Likeness& l = reading->likeness;
  std::printf("astronaut: face %d,%d %dx%d; reads %s (\"%s\")\n", reading->face_x, reading->face_y, reading->face_width,
              reading->face_height, words(l).c_str(), describe(l).c_str());
  // Fair skin, short light-brown hair, an orange suit.
  EXPECT_TRUE(l.skin == SkinTone::Pale || l.skin == SkinTone::Light || l.skin == SkinTone::Medium) << words(l);
  EXPECT_TRUE(l.hair_color == HairColor::Brown || l.hair_color == HairColor::Blond) << words(l);
  EXPECT_EQ(l.hair_style, HairStyle::Short) << words(l);
  EXPECT_TRUE(l.shirt == Color::Orange || l.shirt == Color::Red) << words(l);
}

TEST(Likeness, NoFaceIsNoLikeness) {
  if (!have_cascades()) GTEST_SKIP() << "opencv-data is not installed";
  LikenessReader reader;
  // A meadow with a red ball and nobody in it.
  studio::ParseResult parsed = studio::parse_prompt("A red ball bounces in a meadow.", 3);
  studio::RenderOptions options;
  options.width = 320;
  options.height = 180;
  options.audio = false;
  EXPECT_FALSE(reader.read(studio::render_clip(parsed.spec, options).video));
  EXPECT_FALSE(reader.read(Video{}));  // nothing decoded
}

TEST(Likeness, WordsTheStudioParserReadsBack) {
  const std::vector<Likeness> cases = {
      {SkinTone::Dark, HairColor::Red, HairStyle::Long, Color::Green, studio::Accessory::None},
      {SkinTone::Pale, HairColor::Brown, HairStyle::Bald, Color::Orange, studio::Accessory::None},
      {SkinTone::Tan, HairColor::Gray, HairStyle::Short, Color::Black, studio::Accessory::Glasses},
  };
  for (const auto& l : cases) {
    const std::string prompt = with_likenesses("@maya waves on a beach. Then @maya jumps.", {{"maya", describe(l)}});
    EXPECT_EQ(prompt.find("@maya (" + describe(l) + ") waves"), 0u) << prompt;
    EXPECT_EQ(prompt.find("(", prompt.find("Then")), std::string::npos) << "only the first mention: " << prompt;
    const studio::ParseResult parsed = studio::parse_prompt(prompt);
    ASSERT_EQ(parsed.spec.characters.size(), 1u) << prompt;
    const studio::Identity& id = parsed.spec.characters[0].identity;
    EXPECT_EQ(id.name, "@maya");
    EXPECT_EQ(likeness_of(id).skin, l.skin);
    EXPECT_EQ(id.hair_style, l.hair_style);
    if (l.hair_style != HairStyle::Bald) {
      EXPECT_EQ(id.hair_color, l.hair_color);
    }
    EXPECT_EQ(id.shirt, l.shirt);
    EXPECT_EQ(id.accessory, l.accessory);
  }
}

TEST(Likeness, OnlyTheHandleItselfIsDescribed) {
  const std::vector<std::pair<std::string, std::string>> maya = {{"maya", "dark skin"}};
  EXPECT_EQ(with_likenesses("@Maya and @mayabell wave.", maya), "@Maya (dark skin) and @mayabell wave.");
  EXPECT_EQ(with_likenesses("@mayabell and @maya.", maya), "@mayabell and @maya (dark skin).");
  EXPECT_EQ(with_likenesses("mail maya@maya.com", maya), "mail maya@maya.com");
  EXPECT_EQ(with_likenesses("@maya waves.", {{"maya", ""}}), "@maya waves.");
  EXPECT_EQ(with_likenesses("nobody here", maya), "nobody here");
}

// A cameo asked for by id only (`characters: [{"id"}]`) is still drawn as enrolled: the
// generator's text names it in a sentence of its own, which the studio parser reads.
TEST(Likeness, ACameoAskedForByIdIsAddedToTheScene) {
  const std::vector<std::pair<std::string, std::string>> maya = {{"maya", "dark skin, long red hair, a purple shirt"}};
  const std::string prompt = with_likenesses("A red ball bounces on a beach", maya, true);
  EXPECT_EQ(prompt, "A red ball bounces on a beach. @maya (dark skin, long red hair, a purple shirt) is in the scene.");
  const studio::ParseResult parsed = studio::parse_prompt(prompt);
  EXPECT_TRUE(parsed.unknown_words.empty());
  ASSERT_EQ(parsed.spec.characters.size(), 1u);
  EXPECT_EQ(parsed.spec.characters[0].identity.name, "@maya");
  EXPECT_EQ(parsed.spec.characters[0].identity.shirt, studio::Color::Purple);
  ASSERT_EQ(parsed.spec.objects.size(), 1u);
  // Mentioned, it is described in place and not added again; an empty description adds nothing.
  EXPECT_EQ(with_likenesses("@maya waves!  ", maya, true), "@maya (dark skin, long red hair, a purple shirt) waves!  ");
  EXPECT_EQ(with_likenesses("A beach.", {{"maya", ""}}, true), "A beach.");
}

TEST(Likeness, JsonRoundTripAndRefusals) {
  const Likeness l{SkinTone::Tan, HairColor::Blue, HairStyle::Long, Color::Yellow, studio::Accessory::Hat};
  EXPECT_EQ(likeness_from_json(to_json(l)), l);
  EXPECT_EQ(to_json(l)["hair_color"], "blue");
  EXPECT_THROW(likeness_from_json(nlohmann::json{{"skin", "green"}}), InvalidArgument);
  nlohmann::json wrong = to_json(l);
  wrong["shirt"] = "teal";
  EXPECT_THROW(likeness_from_json(wrong), InvalidArgument);
}

}  // namespace
}  // namespace opsis::cameo
