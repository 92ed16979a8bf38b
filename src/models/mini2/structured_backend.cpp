#include "models/mini2/structured_backend.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <optional>

#include "core/error.hpp"
#include "core/safetensors.hpp"
#include "models/mini2/identity_reader.hpp"
#include "models/mini2/layered_renderer.hpp"
#include "models/mini2/sound_latent.hpp"
#include "models/mini2/state_flow.hpp"
#include "models/mini2/state_sound.hpp"
#include "models/mini2/weights.hpp"
#include "studio/caption.hpp"

namespace opsis::mini2 {
namespace {

constexpr int kFps = 24, kSoundFps = 100;

struct StructuredConditions : engine::Conditions {
  studio::SceneSpec spec;  // this window's scene (shots cut to the window)
  torch::Tensor statics;   // [1, kStaticConditionDims]
  torch::Tensor per_frame; // [1, T, kFrameConditionDims]
  torch::Tensor start;     // [1, kStateDims]: the state the window must start from (the last window's end), or undefined
  torch::Tensor in_scene;  // [1, 1, kStateDims]: state_mask of the scene
};

// The scene a prompt asks for, with what the negative prompt (and the prompt's own "no ...")
// rules out taken away: a named object kind, people, rain.
studio::SceneSpec scene_for(const engine::WindowRequest& r, double clip_seconds) {
  studio::SceneSpec spec = studio::parse_prompt(r.prompt, clip_seconds).spec;
  std::vector<std::string> negatives = spec.negatives;
  if (!r.negative.empty()) {
    const studio::ParseResult n = studio::parse_prompt(r.negative, clip_seconds);
    negatives.insert(negatives.end(), n.spec.negatives.begin(), n.spec.negatives.end());
    // A negative prompt is a list of things: each named kind counts, as does its weather.
    for (const auto& o : n.spec.objects) negatives.emplace_back(studio::name(o.kind));
    if (n.spec.weather == studio::Weather::Rain) negatives.emplace_back("rain");
    if (!n.spec.characters.empty()) negatives.emplace_back("people");
  }
  for (const std::string& word : negatives) {
    if (word == "rain") spec.weather = studio::Weather::Clear;
    if (word == "people") spec.characters.clear();
    std::erase_if(spec.objects, [&](const studio::ObjectSpec& o) { return studio::name(o.kind) == word; });
  }
  if (spec.objects.size() > size_t(kObjectSlots)) spec.objects.resize(size_t(kObjectSlots));
  if (spec.characters.size() > 2) spec.characters.resize(2);
  return spec;
}

// The shots of `spec` between `start` and start + seconds, on the window's clock.
studio::SceneSpec window_of(const studio::SceneSpec& spec, double start, double seconds) {
  studio::SceneSpec w = spec;
  w.shots.clear();
  double at = 0;
  for (const auto& shot : spec.shots) {
    const double a = std::max(at, start), b = std::min(at + shot.seconds, start + seconds);
    if (b - a > 1e-6) {
      studio::ShotSpec s = shot;
      s.seconds = b - a;
      w.shots.push_back(s);
    }
    at += shot.seconds;
  }
  if (w.shots.empty()) {
    w.shots.push_back(spec.shots.back());
    w.shots.back().seconds = seconds;
  }
  return w;
}

class StructuredBackend : public engine::Backend {
 public:
  StructuredBackend(StateFlow flow, LayeredRenderer renderer, SoundNet sound, std::optional<IdentityReader> identity)
      : flow_(std::move(flow)), renderer_(std::move(renderer)), sound_net_(std::move(sound)), identity_(std::move(identity)),
        sound_(SoundConfig{}) {
    flow_->eval(), renderer_->eval(), sound_net_->eval();
    if (identity_) (*identity_)->eval();
  }

  engine::Capabilities capabilities() const override {
    engine::Capabilities caps;
    caps.name = kStructuredFormat;
    caps.min_seconds = 1;
    caps.max_seconds = 25;
    caps.window_seconds = 4;
    caps.sizes = {{128, 72}, {72, 128}, {256, 144}, {144, 256}};
    caps.fps = kFps;
    caps.sample_rate = sound_.config().sample_rate;
    caps.dialogue_conditioning = true;
    caps.identity_conditioning = identity_.has_value();
    caps.default_steps = 24;
    caps.default_guidance_video = 1.0;  // the scene is conditioned, not guided
    caps.default_guidance_audio = 1.0;
    return caps;
  }

  engine::Encoded encode(const engine::WindowRequest& r) override {
    const auto sizes = capabilities().sizes;
    if (std::find(sizes.begin(), sizes.end(), std::pair{r.width, r.height}) == sizes.end())
      throw InvalidArgument("size", std::string(kStructuredFormat) + " cannot make " + std::to_string(r.width) + "x" + std::to_string(r.height));
    if (!(r.seconds > 0 && r.seconds <= 4 + 1e-9)) throw InvalidArgument("seconds", "one window lasts at most 4 s");
    const double clip_seconds = r.time_offset + r.seconds;
    auto c = std::make_shared<StructuredConditions>();
    c->spec = window_of(scene_for(r, clip_seconds), r.time_offset, r.seconds);
    // An identity portrait (a cameo) says who the first character is.
    if (r.identity) {
      if (!identity_) throw InvalidArgument("cameo", std::string(kStructuredFormat) + " weights without an identity reader take no identity portrait");
      if (!c->spec.characters.empty()) {
        const std::string name = c->spec.characters[0].identity.name;
        c->spec.characters[0].identity = read_identity(*identity_, *r.identity);
        c->spec.characters[0].identity.name = name;
      }
    }
    studio::validate(c->spec);
    const int frames = std::max(2, int(std::lround(r.seconds * kStateFps)) + 1);
    auto statics = static_condition(c->spec);
    auto per_frame = frame_condition(c->spec, frames, r.phonemes);
    c->statics = torch::from_blob(statics.data(), {1, kStaticConditionDims}).clone();
    c->per_frame = torch::from_blob(per_frame.data(), {1, frames, kFrameConditionDims}).clone();
    auto mask = state_mask(c->spec);
    c->in_scene = torch::from_blob(mask.data(), {1, 1, kStateDims}).clone();
    if (!r.carry.empty()) {
      if (r.carry.size() != size_t(kStateDims)) throw std::logic_error("structured backend: a carried state of the wrong size");
      c->start = torch::from_blob(const_cast<float*>(r.carry.data()), {1, kStateDims}).clone();
    }
    engine::Encoded e;
    e.positive = c;
    e.video_shape = {1, frames, kStateDims};
    e.audio_shape = {1, 0};
    return e;
  }

  engine::Latents denoise(const engine::Latents& x, double t, const engine::Conditions& conditions) override {
    torch::NoGradGuard no_grad;
    const auto& c = dynamic_cast<const StructuredConditions&>(conditions);
    const auto states = torch::from_blob(const_cast<float*>(x.video.data()), x.video_shape).clone();
    auto v = masked_velocity(
        flow_->forward(states, torch::full({1}, float(t)), c.statics, c.per_frame, torch::ones({1, states.size(1)}, torch::kBool)), states,
        t, c.in_scene);
    if (c.start.defined()) {
      // A window after the first continues the last one: its first state is known, so that
      // frame moves straight toward it, (x_t - x_0) / t, and the others attend to it on the
      // way (replacement, as in inpainting with a flow).
      const auto first = states.select(1, 0);
      v.select(1, 0).copy_((first - c.start) / std::max(t, 1e-4));
    }
    v = v.contiguous();
    engine::Latents out = x;
    out.video.assign(v.data_ptr<float>(), v.data_ptr<float>() + v.numel());
    return out;
  }

  engine::Decoded decode(const engine::Latents& x, const engine::WindowRequest& r) override {
    torch::NoGradGuard no_grad;
    const auto c = encode(r);
    const auto& spec = dynamic_cast<const StructuredConditions&>(*c.positive).spec;
    const int frames = int(x.video_shape.at(1));
    const DecodedStates seen = decode_states(spec, x.video.data(), frames, kFps);
    const auto rgb = render_clip(renderer_, spec, seen.frames, r.width, r.height);
    engine::Decoded out;
    out.video.width = r.width, out.video.height = r.height, out.video.fps_num = kFps, out.video.fps_den = 1;
    out.video.rgb.assign(rgb.data_ptr<uint8_t>(), rgb.data_ptr<uint8_t>() + rgb.numel());
    // Sound: features of the states at 100 a second -> log-mel -> phase reconstruction.
    const DecodedStates heard = decode_states(spec, x.video.data(), frames, kSoundFps);
    auto features = sound_features(spec, heard.frames, seen.impacts, kSoundFps);
    const auto mel = sound_net_->forward(torch::from_blob(features.data(), {1, int64_t(heard.frames.size()), kSoundFeatureDims}).clone());
    const auto pcm = sound_.synthesize(mel, -1, 0)[0].contiguous();
    out.audio.sample_rate = sound_.config().sample_rate;
    out.audio.channels = 1;
    const size_t samples = size_t(std::lround(r.seconds * out.audio.sample_rate));
    out.audio.samples.assign(pcm.data_ptr<float>(), pcm.data_ptr<float>() + std::min<int64_t>(pcm.numel(), int64_t(samples)));
    out.audio.samples.resize(samples, 0.0f);
    // For the next window, which starts on this one's last picture frame: the state there
    // (between two state frames), its impact flags down (the impact was heard here).
    const double at = std::clamp((r.seconds - 1.0 / kFps) * kStateFps, 0.0, double(frames - 1));
    const int a = int(std::floor(at)), b = std::min(a + 1, frames - 1);
    const float w = float(at - a);
    out.carry.resize(size_t(kStateDims));
    for (int k = 0; k < kStateDims; ++k)
      out.carry[size_t(k)] = (1 - w) * x.video[size_t(a) * kStateDims + size_t(k)] + w * x.video[size_t(b) * kStateDims + size_t(k)];
    mark_no_impacts(out.carry.data());
    return out;
  }

  double forward_flops(const engine::WindowRequest& r) const override {
    const double T = r.seconds * kStateFps + 1, d = double(flow_->d);
    return 2.0 * T * 4 * (12 * d * d + 2 * T * d);
  }

 private:
  StateFlow flow_;
  LayeredRenderer renderer_;
  SoundNet sound_net_;
  std::optional<IdentityReader> identity_;
  SoundLatent sound_;
};

}  // namespace

std::unique_ptr<engine::Backend> open_structured_backend(const std::string& weights_path, int threads) {
  if (threads > 0) torch::set_num_threads(threads);
  auto file = safetensors::read(weights_path);
  upgrade_renderer_tensors(file);
  const auto model = file.metadata.find("opsis.model");
  if (model == file.metadata.end() || model->second != kStructuredFormat)
    throw InvalidArgument("weights", weights_path + " is not an " + kStructuredFormat + " weights file");
  for (const char* part : {"renderer.", "flow.", "sound."})
    if (!has_part(file, part)) throw InvalidArgument("weights", weights_path + " has no " + std::string(part, std::strlen(part) - 1) + " part");
  require_state_layout(file, weights_path);
  StateFlow flow;
  LayeredRenderer renderer;
  SoundNet sound;
  load_tensors(*flow, file, "flow.");
  load_tensors(*renderer, file, "renderer.");
  load_tensors(*sound, file, "sound.");
  std::optional<IdentityReader> identity;
  if (has_part(file, "identity.")) {
    identity.emplace();
    load_tensors(**identity, file, "identity.");
  }
  return std::make_unique<StructuredBackend>(std::move(flow), std::move(renderer), std::move(sound), std::move(identity));
}

void assemble_structured_weights(const std::string& renderer_path, const std::string& states_path, const std::string& out_path) {
  auto renderer_file = safetensors::read(renderer_path);
  upgrade_renderer_tensors(renderer_file);
  const auto states_file = safetensors::read(states_path);
  require_state_layout(states_file, states_path);
  StateFlow flow;
  LayeredRenderer renderer;
  SoundNet sound;
  load_tensors(*renderer, renderer_file, "renderer.");
  load_tensors(*flow, states_file, "ema.");
  load_tensors(*sound, states_file, "sound.");
  safetensors::File out;
  out.metadata["opsis.model"] = kStructuredFormat;
  out.metadata["opsis.state_layout"] = kStateLayoutVersion;
  // The renderer may come from its trainer's file or from an assembled file (a machine whose
  // renderer run folder was lost assembles with the shipped file as --renderer): its step and
  // CPU seconds are kept either way.
  const bool assembled = renderer_file.metadata.count("opsis.renderer_step") > 0;
  const std::string step_key = assembled ? "opsis.renderer_step" : "opsis.step";
  const std::string cpu_key = assembled ? "opsis.renderer_cpu_seconds" : "opsis.cpu_seconds";
  out.metadata["opsis.renderer_step"] = renderer_file.metadata.count(step_key) ? renderer_file.metadata.at(step_key) : "0";
  out.metadata["opsis.states_step"] = states_file.metadata.count("opsis.step") ? states_file.metadata.at("opsis.step") : "0";
  // The CPU seconds each part's training has used (counted since session 7), for a run that restarts from this file.
  if (renderer_file.metadata.count(cpu_key)) out.metadata["opsis.renderer_cpu_seconds"] = renderer_file.metadata.at(cpu_key);
  if (states_file.metadata.count("opsis.cpu_seconds")) out.metadata["opsis.states_cpu_seconds"] = states_file.metadata.at("opsis.cpu_seconds");
  add_tensors(out, *renderer, "renderer.", safetensors::DType::F16);
  add_tensors(out, *flow, "flow.");
  add_tensors(out, *sound, "sound.");
  if (has_part(renderer_file, "identity.")) {
    IdentityReader identity;
    load_tensors(*identity, renderer_file, "identity.");
    add_tensors(out, *identity, "identity.");
  }
  safetensors::write(out_path + ".partial", out);
  std::filesystem::rename(out_path + ".partial", out_path);
}

}  // namespace opsis::mini2
