#include "models/mini2/state_flow.hpp"

#include <algorithm>
#include <cmath>
#include <random>

#include "core/error.hpp"
#include "studio/dialogue.hpp"
#include "studio/physics.hpp"

namespace opsis::mini2 {

namespace nn = torch::nn;
using torch::indexing::Slice;

namespace {

// Slot layout (kSlotStateDims values):
enum SlotField : int {
  kX = 0, kY, kZ, kAngleSin, kAngleCos, kSquash, kHeading, kPresent, kWalkSin, kWalkCos, kArm, kWaveSin, kWaveCos,
  kMouth, kViseme0, kWingSin = kViseme0 + 6, kWingCos, kSideOn, kImpact
};
static_assert(kImpact + 1 == kSlotStateDims, "slot layout");

float sign(bool b) { return b ? 1.0f : -1.0f; }

// A grounded object heard landing (decode_states): a descent at least this fast (m/s between
// two state frames; slower hops are a few centimetres, under the flow's jitter) that breaks
// within this height of the ground (metres), plus half a frame's travel.
constexpr float kLandingHeight = 0.12f, kLandingSpeed = 0.5f;

// Camera pose <-> its six scaled values. Each is centred and scaled to about unit spread over
// the training scenes (`opsis-train-mini2-states --stats`): a slow pan turns the yaw by 0.15
// rad, which at the first layout's yaw / 0.6 was a quarter of the flow's unit noise and
// sampled as jitter (camera moves read 0% from samples in session 6).
void put_camera(const studio::CameraPose& c, float* v) {
  v[0] = c.x / 5, v[1] = (c.y - 1.3f) / 0.7f, v[2] = (c.z - 3.4f) / 3, v[3] = c.yaw / 0.2f, v[4] = (c.pitch + 0.04f) / 0.1f,
  v[5] = (std::log(std::max(c.focal, 1e-3f)) + 0.22f) / 0.25f;
}
studio::CameraPose get_camera(const float* v) {
  studio::CameraPose c;
  c.x = v[0] * 5, c.y = v[1] * 0.7f + 1.3f, c.z = v[2] * 3 + 3.4f, c.yaw = v[3] * 0.2f, c.pitch = v[4] * 0.1f - 0.04f;
  c.focal = std::exp(v[5] * 0.25f - 0.22f);
  return c;
}

// The shot in effect at `time` and the time since it started.
std::pair<int, double> shot_at(const studio::SceneSpec& spec, double time) {
  double start = 0;
  for (size_t s = 0; s < spec.shots.size(); ++s) {
    const double end = start + spec.shots[s].seconds;
    if (time < end || s + 1 == spec.shots.size()) return {int(s), time - start};
    start = end;
  }
  return {0, time};
}

// The viseme spoken at `time` by a phoneme list, or -1.
int viseme_at(const std::vector<engine::PhonemeCue>& cues, double time) {
  for (const auto& cue : cues)
    if (time >= cue.start && time < cue.start + cue.duration) return std::clamp(cue.viseme, 0, 5);
  return -1;
}

}  // namespace

void require_state_layout(const safetensors::File& file, const std::string& path) {
  const auto layout = file.metadata.find("opsis.state_layout");
  const std::string found = layout == file.metadata.end() ? "1" : layout->second;
  if (found != kStateLayoutVersion)
    throw InvalidArgument("weights", path + " holds a scene-state flow of state layout " + found + "; this opsis reads layout " +
                                         kStateLayoutVersion + " (retrain the flow with opsis-train-mini2-states and assemble again)");
}

int state_slot(const studio::SceneSpec& spec, int entity) {
  const int objects = int(spec.objects.size());
  if (entity < 0 || entity >= objects + int(spec.characters.size()))
    throw InvalidArgument("entity", "no entity " + std::to_string(entity) + " in the scene");
  if (objects > kObjectSlots || spec.characters.size() > 2)
    throw InvalidArgument("objects", "the structured model draws at most " + std::to_string(kObjectSlots) + " objects and 2 characters");
  return entity < objects ? entity : kObjectSlots + (entity - objects);
}

std::vector<float> encode_states(const studio::SceneSpec& spec, const std::vector<studio::FrameState>& frames,
                                 const std::vector<studio::Event>& events) {
  const int entities = int(spec.objects.size() + spec.characters.size());
  std::vector<float> out(frames.size() * size_t(kStateDims), 0.0f);
  for (size_t f = 0; f < frames.size(); ++f) {
    float* v = out.data() + f * kStateDims;
    put_camera(frames[f].camera, v);
    for (int e = 0; e < entities; ++e) {
      const studio::EntityPose& p = frames[f].entities.at(size_t(e));
      float* s = v + kCameraStateDims + state_slot(spec, e) * kSlotStateDims;
      s[kX] = p.x / 6, s[kY] = (p.y - 1) / 2, s[kZ] = (p.z - 8) / 3;
      s[kAngleSin] = std::sin(p.angle), s[kAngleCos] = std::cos(p.angle);
      s[kSquash] = p.squash * 3, s[kHeading] = sign(p.heading >= 0), s[kPresent] = sign(p.present);
      s[kWalkSin] = std::sin(p.walk_phase), s[kWalkCos] = std::cos(p.walk_phase);
      s[kArm] = p.arm_raise * 2 - 1;
      s[kWaveSin] = std::sin(p.wave_phase), s[kWaveCos] = std::cos(p.wave_phase);
      s[kMouth] = p.mouth_open * 2 - 1;
      for (int k = 0; k < 6; ++k) s[kViseme0 + k] = sign(p.viseme == k);
      s[kWingSin] = std::sin(p.wing_phase), s[kWingCos] = std::cos(p.wing_phase);
      s[kSideOn] = sign(p.side_on);
      s[kImpact] = -1;
    }
  }
  // An impact flags the frame nearest its time, for both bodies that met.
  const double frame_seconds = frames.size() > 1 ? frames[1].time - frames[0].time : 1.0 / kStateFps;
  for (const studio::Event& ev : events) {
    if (ev.kind != studio::EventKind::Impact || ev.entity < 0 || ev.entity >= entities) continue;
    const size_t f = size_t(std::clamp<int64_t>(std::llround(ev.time / frame_seconds), 0, int64_t(frames.size()) - 1));
    for (int who : {ev.entity, ev.other})
      if (who >= 0 && who < entities) out[f * kStateDims + kCameraStateDims + size_t(state_slot(spec, who)) * kSlotStateDims + kImpact] = 1;
  }
  return out;
}

void mark_no_impacts(float* state) {
  for (int slot = 0; slot < kStateSlots; ++slot) state[kCameraStateDims + slot * kSlotStateDims + kImpact] = -1;
}

std::vector<float> state_mask(const studio::SceneSpec& spec) {
  std::vector<float> mask(kStateDims, 0.0f);
  std::fill(mask.begin(), mask.begin() + kCameraStateDims, 1.0f);
  const int entities = int(spec.objects.size() + spec.characters.size());
  for (int e = 0; e < entities; ++e) {
    const int slot = state_slot(spec, e);
    std::fill(mask.begin() + kCameraStateDims + slot * kSlotStateDims, mask.begin() + kCameraStateDims + (slot + 1) * kSlotStateDims, 1.0f);
  }
  return mask;
}

std::vector<float> static_condition(const studio::SceneSpec& spec) {
  std::vector<float> c(kStaticConditionDims, 0.0f);
  size_t at = 0;
  auto one_hot = [&](int value, int count) {
    if (value >= 0 && value < count) c[at + size_t(value)] = 1;
    at += size_t(count);
  };
  one_hot(int(spec.setting), 8), one_hot(int(spec.time_of_day), 3), one_hot(int(spec.weather), 2);
  for (int s = 0; s < kObjectSlots; ++s) {
    const bool here = s < int(spec.objects.size());
    c[at++] = here ? 1.0f : 0.0f;
    one_hot(here ? int(spec.objects[size_t(s)].kind) : -1, 5);
    one_hot(here ? int(spec.objects[size_t(s)].size) : -1, 2);
    one_hot(here ? int(spec.objects[size_t(s)].motion) : -1, 9);
  }
  for (int s = 0; s < 2; ++s) {
    const bool here = s < int(spec.characters.size());
    c[at++] = here ? 1.0f : 0.0f;
    one_hot(here ? int(spec.characters[size_t(s)].action) : -1, 6);
  }
  if (at != c.size()) throw std::logic_error("static_condition: layout and kStaticConditionDims disagree");
  return c;
}

std::vector<float> frame_condition(const studio::SceneSpec& spec, int frames, const std::vector<engine::PhonemeCue>& first_speaker,
                                   const std::vector<engine::PhonemeCue>& second_speaker) {
  std::vector<float> c(size_t(frames) * kFrameConditionDims, 0.0f);
  // Which character slot each speaker is: the talking characters in order.
  std::array<int, 2> speaker_slot{-1, -1};
  int talkers = 0;
  for (size_t i = 0; i < spec.characters.size() && talkers < 2; ++i)
    if (spec.characters[i].action == studio::Action::Talks) speaker_slot[size_t(talkers++)] = int(i);
  for (int f = 0; f < frames; ++f) {
    float* v = c.data() + size_t(f) * kFrameConditionDims;
    const double time = double(f) / kStateFps;
    const auto [shot, since] = shot_at(spec, time);
    const studio::ShotSpec& s = spec.shots[size_t(shot)];
    size_t at = 0;
    auto one_hot = [&](int value, int count) {
      if (value >= 0 && value < count) v[at + size_t(value)] = 1;
      at += size_t(count);
    };
    one_hot(int(s.camera), 10), one_hot(int(s.speed), 2), one_hot(int(s.framing), 3), one_hot(int(s.lens), 4);
    v[at++] = float(since / 4.0);
    v[at++] = since < 0.5 / kStateFps ? 1.0f : 0.0f;  // the shot starts here (a cut)
    for (int k = 0; k < 2; ++k) {
      int viseme = -1;
      for (int t = 0; t < 2; ++t)
        if (speaker_slot[size_t(t)] == k) viseme = viseme_at(t == 0 ? first_speaker : second_speaker, time);
      v[at++] = viseme >= 0 ? 1.0f : 0.0f;
      one_hot(viseme, 6);
    }
    // How far through its shot the frame is, and the shot's length: a named move spans the
    // whole shot, so its rate depends on both.
    v[at++] = float(std::clamp(since / s.seconds, 0.0, 1.0));
    v[at++] = float(s.seconds / 8.0);
    if (at != kFrameConditionDims) throw std::logic_error("frame_condition: layout and kFrameConditionDims disagree");
  }
  return c;
}

namespace {

// One impact read from the states: the state frame it is heard at, and for a landing read
// from the drawn motion the moment of contact between state frames (seconds).
struct StateImpact {
  int entity = 0;
  int frame = 0;
  double time = 0;
  bool landing = false;
};

// Impacts, from two readings of the sampled states, merged:
//  - the learned flag: up at a state frame and not below its neighbours is one event (two
//    flagged frames in a row are two impacts: a ball's last bounces are 80 ms apart);
//  - the drawn motion: a grounded object that comes down onto the ground faster than the
//    studio's slowest audible contact and stops descending there. The flow raises its flags
//    rarely (session 7: 1 of 15 true impacts), while the picture always shows the landing;
//    reading the landing from the same states the renderer draws puts the thud on the frame
//    the ball is seen to hit, whatever path the flow chose.
// The height (metres) a slot's scaled y value is drawn at; a little below the ground at most.
float drawn_height(float scaled_y) { return std::max(scaled_y * 2 + 1, -0.05f); }

std::vector<StateImpact> read_impacts(const studio::SceneSpec& spec, const float* states, int frames) {
  std::vector<StateImpact> out;
  for (int e = 0; e < int(spec.objects.size()); ++e) {
    const size_t slot = size_t(kCameraStateDims + state_slot(spec, e) * kSlotStateDims);
    auto flag = [&](int f) { return f < 0 || f >= frames ? -1.0f : states[size_t(f) * kStateDims + slot + kImpact]; };
    auto height = [&](int f) { return drawn_height(states[size_t(std::clamp(f, 0, frames - 1)) * kStateDims + slot + kY]); };
    // Balloons and birds are placed by their centre and never land.
    const studio::ObjectKind kind = spec.objects[size_t(e)].kind;
    const bool grounded = kind != studio::ObjectKind::Balloon && kind != studio::ObjectKind::Bird;
    std::vector<StateImpact> found;
    for (int f = 0; f < frames; ++f)
      if (flag(f) > 0 && flag(f) >= flag(f - 1) && flag(f) >= flag(f + 1)) found.push_back({e, f, double(f) / kStateFps, false});
    const size_t flagged = found.size();
    int last_landing = -2;
    for (int f = 1; grounded && f < frames; ++f) {
      // Where a descent faster than kLandingSpeed breaks near the ground: the object turns,
      // stops, or (a box tipping onto a face) goes on down at under half the speed. At 12
      // states a second a fast fall's contact falls between two states, so the nearest one may
      // still be half a frame's travel up.
      const float coming = (height(f - 1) - height(f)) * kStateFps, going = (height(f) - height(f + 1)) * kStateFps;
      const bool lands = coming >= kLandingSpeed && going < 0.5f * coming && height(f) < kLandingHeight + 0.5f * coming / kStateFps;
      if (!lands) continue;
      // A landing next to a raised flag, or right after another, is the impact already said.
      const bool heard = f - last_landing <= 1 ||
                         std::any_of(found.begin(), found.begin() + long(flagged), [&](const StateImpact& g) { return std::abs(g.frame - f) <= 1; });
      last_landing = f;
      if (heard) continue;
      // The moment of contact, between state frames: the fall continued under the studio's
      // gravity from the last descending step. When the step before f, carried on, would be
      // under the ground by f, the contact came before f (the state at f is the rebound);
      // otherwise it comes after f, from the step into f.
      const double dt = 1.0 / kStateFps, g = studio::physics::kGravity;
      auto ground_after = [&](int from) {  // seconds after state `from` until the fall from it reaches h = 0
        const double v = (height(from) - height(from - 1)) / dt - g * dt / 2;  // m/s at `from` (negative: down)
        const double h = std::max(0.0f, height(from));
        return (v + std::sqrt(v * v + 2 * g * h)) / g;
      };
      double contact = double(f) / kStateFps;
      if (f >= 2) {
        const double v = (height(f - 1) - height(f - 2)) / dt - g * dt / 2;
        const double at_f = height(f - 1) + v * dt - g * dt * dt / 2;  // where f would be, had it fallen on
        contact = at_f <= 0 ? double(f - 1) / kStateFps + ground_after(f - 1) : double(f) / kStateFps + ground_after(f);
      } else if (f == 1) {
        contact = dt + ground_after(1);
      }
      contact = std::clamp(contact, double(f - 1) / kStateFps, double(std::min(f + 1, frames - 1)) / kStateFps);
      found.push_back({e, f, contact, true});
    }
    std::sort(found.begin(), found.end(), [](const StateImpact& x, const StateImpact& y) { return x.time < y.time; });
    out.insert(out.end(), found.begin(), found.end());
  }
  return out;
}

}  // namespace

DecodedStates decode_states(const studio::SceneSpec& spec, const float* states, int frames, int fps) {
  if (frames < 1) throw InvalidArgument("frames", "no states to decode");
  const int entities = int(spec.objects.size() + spec.characters.size());
  const double seconds = spec.seconds();
  const int out_frames = std::max(1, int(std::lround(seconds * fps)));
  const std::vector<StateImpact> impacts = read_impacts(spec, states, frames);
  DecodedStates d;
  std::vector<float> v(kStateDims);
  for (int i = 0; i < out_frames; ++i) {
    const double time = double(i) / fps;
    // Linear interpolation between the two nearest state frames (angles through sin/cos).
    const double at = std::clamp(time * kStateFps, 0.0, double(frames - 1));
    const int a = int(std::floor(at)), b = std::min(a + 1, frames - 1);
    const float w = float(at - a);
    for (int k = 0; k < kStateDims; ++k) v[size_t(k)] = (1 - w) * states[size_t(a) * kStateDims + size_t(k)] + w * states[size_t(b) * kStateDims + size_t(k)];
    studio::FrameState st;
    st.time = time;
    st.camera = get_camera(v.data());
    st.camera.shot = shot_at(spec, time).first;
    st.entities.resize(size_t(entities));
    for (int e = 0; e < entities; ++e) {
      const float* s = v.data() + kCameraStateDims + state_slot(spec, e) * kSlotStateDims;
      studio::EntityPose& p = st.entities[size_t(e)];
      p.x = s[kX] * 6, p.y = drawn_height(s[kY]), p.z = s[kZ] * 3 + 8;
      p.angle = std::atan2(s[kAngleSin], s[kAngleCos]);
      p.squash = std::clamp(s[kSquash] / 3, 0.0f, 0.6f);
      p.heading = s[kHeading] >= 0 ? 1.0f : -1.0f;
      p.present = s[kPresent] > 0;
      p.walk_phase = std::atan2(s[kWalkSin], s[kWalkCos]);
      p.arm_raise = std::clamp((s[kArm] + 1) / 2, 0.0f, 1.0f);
      p.wave_phase = std::atan2(s[kWaveSin], s[kWaveCos]);
      p.mouth_open = std::clamp((s[kMouth] + 1) / 2, 0.0f, 1.0f);
      p.viseme = int(std::max_element(s + kViseme0, s + kViseme0 + 6) - (s + kViseme0));
      p.wing_phase = std::atan2(s[kWingSin], s[kWingCos]);
      p.side_on = s[kSideOn] > 0;
    }
    // Between two states around a landing the path goes down to the ground at the moment of
    // contact and back (the picture touches down when the thud is heard); on a state frame
    // itself it is the state.
    for (const StateImpact& hit : impacts) {
      if (!hit.landing || w == 0) continue;
      const double contact = hit.time * kStateFps;
      if (contact <= a || contact >= a + 1) continue;
      const size_t slot = size_t(kCameraStateDims + state_slot(spec, hit.entity) * kSlotStateDims);
      const double from = at < contact ? a : contact, to = at < contact ? contact : a + 1.0;
      const double h_from = at < contact ? drawn_height(states[size_t(a) * kStateDims + slot + kY]) : 0.0;
      const double h_to = at < contact ? 0.0 : drawn_height(states[size_t(b) * kStateDims + slot + kY]);
      st.entities[size_t(hit.entity)].y = float(h_from + (h_to - h_from) * (at - from) / std::max(1e-9, to - from));
    }
    for (auto& p : st.entities) p.on_ground = p.y < 0.02f;
    d.frames.push_back(std::move(st));
  }
  for (const StateImpact& hit : impacts) {
    studio::Event ev;
    ev.kind = studio::EventKind::Impact;
    ev.time = hit.time;
    ev.entity = hit.entity;
    ev.material = studio::geometry(spec.objects[size_t(hit.entity)]).material;
    d.impacts.push_back(ev);
  }
  return d;
}

StateFlowBlockImpl::StateFlowBlockImpl(int d, int heads) {
  norm1 = register_module("norm1", nn::LayerNorm(nn::LayerNormOptions({d}).elementwise_affine(false)));
  norm2 = register_module("norm2", nn::LayerNorm(nn::LayerNormOptions({d}).elementwise_affine(false)));
  attention = register_module("attention", layers::Attention(d, heads));
  ff1 = register_module("ff1", nn::Linear(d, 4 * d));
  ff2 = register_module("ff2", nn::Linear(4 * d, d));
  modulate = register_module("modulate", nn::Linear(d, 6 * d));
  torch::NoGradGuard no_grad;
  modulate->weight.zero_(), modulate->bias.zero_();  // each block starts as the identity
}

torch::Tensor StateFlowBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& modulation, const torch::Tensor& mask) {
  const auto m = modulate->forward(modulation).unsqueeze(1).chunk(6, -1);  // [B, 1, d] each
  auto h = norm1->forward(x) * (1 + m[0]) + m[1];
  auto y = x + m[2] * attention->forward(h, h, mask);
  h = norm2->forward(y) * (1 + m[3]) + m[4];
  return y + m[5] * ff2->forward(torch::gelu(ff1->forward(h)));
}

StateFlowImpl::StateFlowImpl(int d_model, int block_count, int heads) : d(d_model) {
  in = register_module("in", nn::Linear(kStateDims + kFrameConditionDims, d));
  static_in = register_module("static_in", nn::Linear(kStaticConditionDims, d));
  time_in = register_module("time_in", nn::Linear(64, d));
  frame_time_in = register_module("frame_time_in", nn::Linear(32, d));
  blocks = register_module("blocks", nn::ModuleList());
  for (int i = 0; i < block_count; ++i) blocks->push_back(StateFlowBlock(d, heads));
  out_norm = register_module("out_norm", nn::LayerNorm(nn::LayerNormOptions({d}).elementwise_affine(false)));
  out = register_module("out", nn::Linear(d, kStateDims));
}

torch::Tensor StateFlowImpl::forward(const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& statics,
                                     const torch::Tensor& per_frame, const torch::Tensor& mask) {
  const int64_t T = x.size(1);
  const auto frame_times = torch::arange(T, x.options()).div(float(kStateFps));
  auto h = in->forward(torch::cat({x, per_frame}, -1)) +
           frame_time_in->forward(layers::sinusoidal(frame_times, 32, 0.1, 60.0)).unsqueeze(0);
  const auto modulation = torch::silu(static_in->forward(statics) + time_in->forward(layers::sinusoidal(t * 1000, 64, 1.0, 10000.0)));
  h = h + modulation.unsqueeze(1);
  for (const auto& block : *blocks) h = block->as<StateFlowBlock>()->forward(h, modulation, mask);
  return out->forward(out_norm->forward(h));
}

torch::Tensor masked_velocity(const torch::Tensor& v, const torch::Tensor& x, double t, const torch::Tensor& mask) {
  return v * mask + x / std::max(t, 1e-4) * (1 - mask);
}

torch::Tensor sample_states(StateFlow& flow, const std::vector<float>& statics, const std::vector<float>& per_frame, int frames,
                            int steps, uint64_t seed, const std::vector<float>& mask) {
  if (mask.size() != size_t(kStateDims)) throw InvalidArgument("mask", "a state mask has " + std::to_string(kStateDims) + " values");
  torch::NoGradGuard no_grad;
  auto generator = at::detail::createCPUGenerator(seed);
  auto x = torch::randn({1, frames, kStateDims}, generator, torch::TensorOptions().dtype(torch::kFloat32));
  const auto s = torch::from_blob(const_cast<float*>(statics.data()), {1, kStaticConditionDims}).clone();
  const auto p = torch::from_blob(const_cast<float*>(per_frame.data()), {1, frames, kFrameConditionDims}).clone();
  const auto frames_mask = torch::ones({1, frames}, torch::kBool);
  const auto in_scene = torch::from_blob(const_cast<float*>(mask.data()), {1, 1, kStateDims}).clone();
  for (int i = 0; i < steps; ++i) {
    const float t = 1.0f - float(i) / float(steps), next = 1.0f - float(i + 1) / float(steps);
    const auto v = masked_velocity(flow->forward(x, torch::full({1}, t), s, p, frames_mask), x, t, in_scene);
    x = x + (next - t) * v;
  }
  return x[0];
}

}  // namespace opsis::mini2
