#include "train/holdout.hpp"

namespace opsis::train {
using namespace studio;

const std::vector<HeldOutObject>& held_out_objects() {
  static const std::vector<HeldOutObject> list{
      {ObjectKind::Ball, Color::Purple, Motion::RollsLeft},
      {ObjectKind::Box, Color::Yellow, Motion::Falls},
      {ObjectKind::Balloon, Color::Green, Motion::FloatsUp},
      {ObjectKind::Bird, Color::Red, Motion::FliesRight},
      {ObjectKind::Car, Color::White, Motion::RollsLeft},
      {ObjectKind::Ball, Color::Orange, Motion::Bounces},
  };
  return list;
}

const std::vector<HeldOutShot>& held_out_shots() {
  static const std::vector<HeldOutShot> list{
      {Setting::Beach, CameraMove::OrbitLeft},   {Setting::Forest, CameraMove::DollyIn},
      {Setting::CityStreet, CameraMove::PanRight}, {Setting::Snowfield, CameraMove::TiltUp},
      {Setting::Desert, CameraMove::DollyZoom},  {Setting::LivingRoom, CameraMove::PanLeft},
  };
  return list;
}

bool is_held_out(const SceneSpec& spec) {
  for (const auto& object : spec.objects)
    for (const auto& h : held_out_objects())
      if (object.kind == h.kind && object.color == h.color && object.motion == h.motion) return true;
  for (const auto& shot : spec.shots)
    for (const auto& h : held_out_shots())
      if (spec.setting == h.setting && shot.camera == h.camera) return true;
  return false;
}

}  // namespace opsis::train
