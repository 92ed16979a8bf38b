#pragma once
// A cameo's likeness for the built-in model (issue #12, enrollment item 4): the nearest studio
// identity (skin tone, hair colour and style, shirt colour) read from a checked enrollment
// recording, and a square head-and-shoulders portrait. A studio-world recording gives the
// character's own attributes back; a real person's gives a cartoon of them.
//
// How it reads: in frames spread over the recording, the face is found where it is frontal —
// OpenCV's Haar frontal-face cascade (the one face_check.hpp uses), else, for the studio's
// cartoon characters (which the cascade does not see), the head located by the renderer's own
// skin and hair colours (studio::skin_rgb, hair_rgb) and taken as frontal when both eyes show.
// Attributes are read from regions placed relative to the face box (a box shaped like the
// cascade's: eyes at about 0.38 of its height, mouth at 0.78, chin just below it):
//   skin   the cheeks' median colour, nearest studio skin tone (CIELAB);
//   hair   what is not skin above the forehead: its median colour, nearest studio hair colour;
//   style  bald when the region above the forehead is mostly skin; long when hair-coloured
//          pixels lie beside the face at chin level; else short;
//   shirt  below the chin (neck and hair left out): a vote of the pixels' nearest studio
//          colours, near matches weighing most;
//   accessory (studio cartoons only): a hat when its brim shows past both sides of the head
//          and its crown above the hair, in the studio's hat colour; glasses when both eyes
//          are ringed by dark rims where a face shows skin. On a real person's recording
//          always none (not detected reliably enough to claim).
// Each frame votes; the most frequent value of each attribute wins.
//
// What it cannot do: a studio head over a background of the same colour as its skin (desert
// sand, beach) may not be found; a real person's colours depend on the light (a warm lamp reads
// skin and hair warmer); the nearest studio value is a caricature, not a measurement.
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/av.hpp"
#include "studio/spec.hpp"

namespace opsis::cameo {

struct Likeness {
  studio::SkinTone skin = studio::SkinTone::Medium;
  studio::HairColor hair_color = studio::HairColor::Brown;
  studio::HairStyle hair_style = studio::HairStyle::Short;
  studio::Color shirt = studio::Color::Blue;
  studio::Accessory accessory = studio::Accessory::None;
  bool operator==(const Likeness&) const = default;
};

// {"skin": "dark", "hair_color": "red", "hair_style": "long", "shirt": "green", "accessory": "none"}
// (the studio's canonical words).
nlohmann::json to_json(const Likeness& likeness);
// Throws opsis::InvalidArgument("likeness", ...) for a missing field or an unknown word.
Likeness likeness_from_json(const nlohmann::json& json);

// The words the studio prompt parser reads as this identity: "dark skin, long red hair, a green
// shirt" (and ", glasses" / ", a hat" when it has one).
std::string describe(const Likeness& likeness);

// `prompt` with each handle's first mention ("@maya", any case, not part of a longer handle or
// an e-mail address) followed by " (description)": what the generator reads, so the model
// draws the cameo as enrolled. handles: (handle without '@', description) pairs; one with an
// empty description changes nothing. A described handle the prompt never mentions (a cameo
// asked for by id, `characters: [{"id"}]`) is added as a sentence when `add_unmentioned`:
// "@maya (dark skin, ...) is in the scene."; otherwise it changes nothing.
std::string with_likenesses(const std::string& prompt, const std::vector<std::pair<std::string, std::string>>& handles,
                            bool add_unmentioned = false);

inline constexpr int kPortraitSize = 256;  // pixels per side

struct LikenessReading {
  Likeness likeness;
  Image portrait;            // kPortraitSize square, head and shoulders, from portrait_frame
  std::string face_finder;   // "haar_frontal" or "studio_palette": what found the faces used
  int frames_sampled = 0;
  int frames_used = 0;       // frames with a frontal face that voted
  int portrait_frame = 0;
  int face_x = 0, face_y = 0, face_width = 0, face_height = 0;  // the face box in portrait_frame, frame pixels
};

class LikenessReader {
 public:
  // cascade_dir: as FaceChecker's (holds haarcascade_frontalface_default.xml); empty:
  // $OPSIS_HAARCASCADES, else /usr/share/opencv4/haarcascades. Throws opsis::IoError when the
  // cascade is missing.
  explicit LikenessReader(std::string cascade_dir = "");
  ~LikenessReader();
  LikenessReader(const LikenessReader&) = delete;
  LikenessReader& operator=(const LikenessReader&) = delete;

  // Nothing ("no likeness") when no frontal face was found in enough frames (at least 2, and a
  // tenth of those looked at): the caller enrolls the cameo without one, and the model draws
  // it with the prompt's own words. Thread-safe.
  std::optional<LikenessReading> read(const Video& video);

 private:
  struct Cascade;
  std::unique_ptr<Cascade> cascade_;
  std::mutex mutex_;
};

}  // namespace opsis::cameo
