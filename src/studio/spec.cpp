#include "studio/spec.hpp"

#include <cmath>

#include "core/error.hpp"

namespace opsis::studio {

void validate(const SceneSpec& spec) {
  if (spec.shots.empty()) throw InvalidArgument("shots", "a scene needs at least one shot");
  for (size_t i = 0; i < spec.shots.size(); ++i) {
    const double s = spec.shots[i].seconds;
    if (!std::isfinite(s) || s <= 0)
      throw InvalidArgument("seconds", "shot " + std::to_string(i + 1) + " must last more than 0 seconds");
  }
  if (spec.seconds() > kMaxSeconds + 1e-9)
    throw InvalidArgument("seconds", "a clip lasts at most " + std::to_string(int(kMaxSeconds)) + " seconds");
  if (int(spec.objects.size()) > kMaxObjects)
    throw InvalidArgument("objects", "a scene holds at most " + std::to_string(kMaxObjects) + " objects");
  if (int(spec.characters.size()) > kMaxCharacters)
    throw InvalidArgument("characters", "a scene holds at most " + std::to_string(kMaxCharacters) + " characters");
  for (const auto& c : spec.characters) {
    if (c.action == Action::Talks && c.line.empty())
      throw InvalidArgument("dialogue", c.identity.name + " talks but has no line to say");
    if (c.action != Action::Talks && !c.line.empty())
      throw InvalidArgument("dialogue", c.identity.name + " has a line but does not talk");
  }
}

}  // namespace opsis::studio
