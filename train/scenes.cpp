#include "train/scenes.hpp"

#include <array>
#include <string>

#include "train/holdout.hpp"

namespace opsis::train {
using namespace studio;

namespace {
template <typename E, size_t N>
E pick(std::mt19937_64& rng, const std::array<std::string_view, N>&) {
  return E(std::uniform_int_distribution<int>(0, int(N) - 1)(rng));
}
bool chance(std::mt19937_64& rng, double p) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; }

const std::array<const char*, 10> kLines{"hello there", "look at that", "what a day", "come over here",
                                          "it is raining", "I like this place", "watch the ball",
                                          "good morning", "where are we going", "this is fun"};
const std::array<const char*, 6> kNames{"Alex", "Sam", "Robin", "Kai", "Noor", "Jo"};
}  // namespace

SceneSpec random_scene(std::mt19937_64& rng, double seconds) {
  for (;;) {
    SceneSpec spec;
    spec.setting = pick<Setting>(rng, kSettingNames);
    spec.time_of_day = pick<TimeOfDay>(rng, kTimeOfDayNames);
    spec.weather = chance(rng, 0.2) ? Weather::Rain : Weather::Clear;
    const int objects = std::uniform_int_distribution<int>(0, 2)(rng);
    const bool character = chance(rng, objects == 0 ? 1.0 : 0.35);
    for (int i = 0; i < objects; ++i)
      spec.objects.push_back({pick<ObjectKind>(rng, kObjectKindNames), pick<Color>(rng, kColorNames),
                              pick<Size>(rng, kSizeNames), pick<Motion>(rng, kMotionNames)});
    if (character) {
      CharacterSpec c;
      c.identity.skin = pick<SkinTone>(rng, kSkinToneNames);
      c.identity.hair_color = pick<HairColor>(rng, kHairColorNames);
      c.identity.hair_style = pick<HairStyle>(rng, kHairStyleNames);
      c.identity.shirt = pick<Color>(rng, kColorNames);
      c.identity.accessory = pick<Accessory>(rng, kAccessoryNames);
      c.identity.name = kNames[std::uniform_int_distribution<size_t>(0, kNames.size() - 1)(rng)];
      c.action = pick<Action>(rng, kActionNames);
      if (c.action == Action::Talks) c.line = kLines[std::uniform_int_distribution<size_t>(0, kLines.size() - 1)(rng)];
      spec.characters.push_back(c);
    }
    ShotSpec& shot = spec.shots[0];
    shot.camera = chance(rng, 0.3) ? CameraMove::Static : pick<CameraMove>(rng, kCameraMoveNames);
    shot.speed = pick<CameraSpeed>(rng, kCameraSpeedNames);
    shot.framing = pick<Framing>(rng, kFramingNames);
    shot.lens = chance(rng, 0.6) ? Lens::Standard : pick<Lens>(rng, kLensNames);
    shot.seconds = seconds;
    if (!is_held_out(spec)) return spec;
  }
}

}  // namespace opsis::train
