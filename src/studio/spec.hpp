#pragma once
// The scene spec: everything the studio world needs to produce a clip, and the vocabulary
// that prompts, captions and the ground truth share. A spec plus a seed fully determines
// frames, sound and truth.
#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace opsis::studio {

enum class Setting { Meadow, Beach, CityStreet, LivingRoom, Forest, Snowfield, Desert, NightSky };
enum class TimeOfDay { Day, GoldenHour, Night };
enum class Weather { Clear, Rain };
enum class ObjectKind { Ball, Box, Balloon, Bird, Car };
enum class Color { Red, Orange, Yellow, Green, Blue, Purple, White, Black };
enum class Size { Small, Large };
enum class Motion { Bounces, RollsLeft, RollsRight, Falls, FliesLeft, FliesRight, FloatsUp, Spins, StaysStill };
enum class SkinTone { Pale, Light, Medium, Tan, Dark };
enum class HairColor { Black, Brown, Blond, Red, Gray, Blue };
enum class HairStyle { Short, Long, Bald };
enum class Accessory { None, Hat, Glasses };
enum class Action { Stands, WalksLeft, WalksRight, Waves, Jumps, Talks };
enum class CameraMove { Static, PanLeft, PanRight, TiltUp, TiltDown, DollyIn, DollyOut, OrbitLeft, OrbitRight, DollyZoom };
enum class CameraSpeed { Slow, Fast };
enum class Framing { Wide, Medium, CloseUp };
enum class Lens { Standard, Anamorphic, Portrait85mm, Wide };

// Canonical words, indexed by the enum's value. Prompts may use other words (see caption.hpp);
// these are the ones captions, truth JSON and error messages use.
inline constexpr std::array<std::string_view, 8> kSettingNames{"meadow", "beach", "city street", "living room", "forest", "snowfield", "desert", "night sky"};
inline constexpr std::array<std::string_view, 3> kTimeOfDayNames{"day", "golden hour", "night"};
inline constexpr std::array<std::string_view, 2> kWeatherNames{"clear", "rain"};
inline constexpr std::array<std::string_view, 5> kObjectKindNames{"ball", "box", "balloon", "bird", "car"};
inline constexpr std::array<std::string_view, 8> kColorNames{"red", "orange", "yellow", "green", "blue", "purple", "white", "black"};
inline constexpr std::array<std::string_view, 2> kSizeNames{"small", "large"};
inline constexpr std::array<std::string_view, 9> kMotionNames{"bounces", "rolls left", "rolls right", "falls", "flies left", "flies right", "floats up", "spins", "stays still"};
inline constexpr std::array<std::string_view, 5> kSkinToneNames{"pale", "light", "medium", "tan", "dark"};
inline constexpr std::array<std::string_view, 6> kHairColorNames{"black", "brown", "blond", "red", "gray", "blue"};
inline constexpr std::array<std::string_view, 3> kHairStyleNames{"short", "long", "bald"};
inline constexpr std::array<std::string_view, 3> kAccessoryNames{"none", "hat", "glasses"};
inline constexpr std::array<std::string_view, 6> kActionNames{"stands", "walks left", "walks right", "waves", "jumps", "talks"};
inline constexpr std::array<std::string_view, 10> kCameraMoveNames{"static", "pan left", "pan right", "tilt up", "tilt down", "dolly in", "dolly out", "orbit left", "orbit right", "dolly zoom"};
inline constexpr std::array<std::string_view, 2> kCameraSpeedNames{"slow", "fast"};
inline constexpr std::array<std::string_view, 3> kFramingNames{"wide", "medium", "close-up"};
inline constexpr std::array<std::string_view, 4> kLensNames{"standard", "anamorphic", "85mm", "wide"};

inline std::string_view name(Setting v) { return kSettingNames[size_t(v)]; }
inline std::string_view name(TimeOfDay v) { return kTimeOfDayNames[size_t(v)]; }
inline std::string_view name(Weather v) { return kWeatherNames[size_t(v)]; }
inline std::string_view name(ObjectKind v) { return kObjectKindNames[size_t(v)]; }
inline std::string_view name(Color v) { return kColorNames[size_t(v)]; }
inline std::string_view name(Size v) { return kSizeNames[size_t(v)]; }
inline std::string_view name(Motion v) { return kMotionNames[size_t(v)]; }
inline std::string_view name(SkinTone v) { return kSkinToneNames[size_t(v)]; }
inline std::string_view name(HairColor v) { return kHairColorNames[size_t(v)]; }
inline std::string_view name(HairStyle v) { return kHairStyleNames[size_t(v)]; }
inline std::string_view name(Accessory v) { return kAccessoryNames[size_t(v)]; }
inline std::string_view name(Action v) { return kActionNames[size_t(v)]; }
inline std::string_view name(CameraMove v) { return kCameraMoveNames[size_t(v)]; }
inline std::string_view name(CameraSpeed v) { return kCameraSpeedNames[size_t(v)]; }
inline std::string_view name(Framing v) { return kFramingNames[size_t(v)]; }
inline std::string_view name(Lens v) { return kLensNames[size_t(v)]; }

// Enum value for a canonical word, if it is one. from_name<Color>("blue") == Color::Blue.
template <typename E, size_t N>
std::optional<E> from_name_in(const std::array<std::string_view, N>& names, std::string_view word) {
  for (size_t i = 0; i < N; ++i)
    if (names[i] == word) return E(i);
  return std::nullopt;
}

struct ObjectSpec {
  ObjectKind kind = ObjectKind::Ball;
  Color color = Color::Red;
  Size size = Size::Small;
  Motion motion = Motion::Bounces;
  bool operator==(const ObjectSpec&) const = default;
};

// Who a character is: what identity conditioning (cameos) must preserve across clips.
struct Identity {
  SkinTone skin = SkinTone::Medium;
  HairColor hair_color = HairColor::Brown;
  HairStyle hair_style = HairStyle::Short;
  Color shirt = Color::Blue;
  Accessory accessory = Accessory::None;
  std::string name = "Alex";
  bool operator==(const Identity&) const = default;
};

struct CharacterSpec {
  Identity identity;
  Action action = Action::Stands;
  std::string line;  // spoken words; non-empty exactly when action == Talks
  bool operator==(const CharacterSpec&) const = default;
};

// One shot: a stretch of the clip seen through one camera set-up. Cuts between shots are
// hard; the world (positions, identities, sounds) continues across them.
struct ShotSpec {
  CameraMove camera = CameraMove::Static;
  CameraSpeed speed = CameraSpeed::Slow;
  Framing framing = Framing::Wide;
  Lens lens = Lens::Standard;
  double seconds = 4.0;
  bool operator==(const ShotSpec&) const = default;
};

inline constexpr double kMaxSeconds = 25.0;
inline constexpr int kMaxObjects = 4;
inline constexpr int kMaxCharacters = 2;

struct SceneSpec {
  Setting setting = Setting::Meadow;
  TimeOfDay time_of_day = TimeOfDay::Day;
  Weather weather = Weather::Clear;
  std::vector<ObjectSpec> objects;        // at most kMaxObjects
  std::vector<CharacterSpec> characters;  // at most kMaxCharacters
  std::vector<ShotSpec> shots{ShotSpec{}};  // at least one; durations add up to the clip's
  std::vector<std::string> negatives;     // things the prompt asked not to show or hear

  double seconds() const {
    double s = 0;
    for (const auto& shot : shots) s += shot.seconds;
    return s;
  }
  bool operator==(const SceneSpec&) const = default;
};

// Throws opsis::InvalidArgument naming the field when the spec cannot be rendered
// (no shots, a shot of zero or negative length, total over kMaxSeconds, too many entities,
// a talking character with no line).
void validate(const SceneSpec& spec);

}  // namespace opsis::studio
