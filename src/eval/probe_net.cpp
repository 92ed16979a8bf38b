#include "eval/probe_net.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.hpp"
#include "core/safetensors.hpp"
#include "train/holdout.hpp"

namespace opsis::eval {
using namespace studio;

std::string scene_label_name(int head, int value) {
  if (value < 0) return "-";
  switch (head) {
    case kSetting: return std::string(kSettingNames[size_t(value)]);
    case kTimeOfDay: return std::string(kTimeOfDayNames[size_t(value)]);
    case kWeather: return std::string(kWeatherNames[size_t(value)]);
    case kObject: return std::string(kObjectKindNames[size_t(value)]);
    case kColor: return std::string(kColorNames[size_t(value)]);
    case kSize: return std::string(kSizeNames[size_t(value)]);
    case kMotion: return std::string(kMotionNames[size_t(value)]);
    default: return std::string(kCameraMoveNames[size_t(value)]);
  }
}

std::string character_label_name(int head, int value) {
  if (value < 0) return "-";
  switch (head) {
    case kSkin: return std::string(kSkinToneNames[size_t(value)]);
    case kHair: return std::string(kHairColorNames[size_t(value)]);
    case kHairStyle: return std::string(kHairStyleNames[size_t(value)]);
    case kShirt: return std::string(kColorNames[size_t(value)]);
    default: return std::string(kAccessoryNames[size_t(value)]);
  }
}

std::array<int, kSceneHeads> scene_labels(const SceneSpec& spec) {
  std::array<int, kSceneHeads> y{};
  y.fill(-1);
  y[kSetting] = int(spec.setting);
  y[kTimeOfDay] = int(spec.time_of_day);
  y[kWeather] = int(spec.weather);
  y[kCamera] = int(spec.shots.at(0).camera);
  if (!spec.objects.empty()) {
    const auto& o = spec.objects[0];
    y[kObject] = int(o.kind), y[kColor] = int(o.color), y[kSize] = int(o.size), y[kMotion] = int(o.motion);
  }
  return y;
}

std::array<int, kCharacterHeads> character_labels(const SceneSpec& spec) {
  std::array<int, kCharacterHeads> y{};
  y.fill(-1);
  // At night the picture is too dark to tell skin tones and hair colours apart reliably at
  // 128x72: identity is only read (and trained, and tested) in daylight and golden hour.
  if (spec.characters.empty() || spec.time_of_day == TimeOfDay::Night) return y;
  const Identity& id = spec.characters[0].identity;
  y[kSkin] = int(id.skin);
  y[kHair] = id.hair_style == HairStyle::Bald ? -1 : int(id.hair_color);
  y[kHairStyle] = int(id.hair_style);
  y[kShirt] = int(id.shirt);
  y[kAccessory] = int(id.accessory);
  return y;
}

// ---- Inputs ----

void resample_rgb(const Video& video, int t, double sx0, double sy0, double sx1, double sy1, int out_w, int out_h,
              std::vector<uint8_t>& out) {
  const uint8_t* f = video.frame(t);
  const int w = video.width, h = video.height;
  const double step_x = (sx1 - sx0) / out_w, step_y = (sy1 - sy0) / out_h;
  for (int y = 0; y < out_h; ++y)
    for (int x = 0; x < out_w; ++x) {
      const double ax = sx0 + x * step_x, bx = ax + step_x, ay = sy0 + y * step_y, by = ay + step_y;
      double sum[3] = {0, 0, 0};
      if (step_x >= 1 && step_y >= 1) {  // area average over the covered pixels
        const int x0 = std::clamp(int(std::floor(ax)), 0, w - 1), x1 = std::clamp(int(std::ceil(bx)), x0 + 1, w);
        const int y0 = std::clamp(int(std::floor(ay)), 0, h - 1), y1 = std::clamp(int(std::ceil(by)), y0 + 1, h);
        for (int yy = y0; yy < y1; ++yy)
          for (int xx = x0; xx < x1; ++xx) {
            const uint8_t* p = f + (size_t(yy) * size_t(w) + size_t(xx)) * 3;
            for (int c = 0; c < 3; ++c) sum[c] += p[c];
          }
        const double n = double(x1 - x0) * double(y1 - y0);
        for (double& s : sum) s /= n;
      } else {  // bilinear at the cell centre
        const double cx = std::clamp((ax + bx) / 2 - 0.5, 0.0, double(w - 1)), cy = std::clamp((ay + by) / 2 - 0.5, 0.0, double(h - 1));
        const int x0 = int(cx), y0 = int(cy), x1 = std::min(x0 + 1, w - 1), y1 = std::min(y0 + 1, h - 1);
        const double fx = cx - x0, fy = cy - y0;
        auto at = [&](int xx, int yy, int c) { return double(f[(size_t(yy) * size_t(w) + size_t(xx)) * 3 + size_t(c)]); };
        for (int c = 0; c < 3; ++c)
          sum[c] = (1 - fy) * ((1 - fx) * at(x0, y0, c) + fx * at(x1, y0, c)) + fy * ((1 - fx) * at(x0, y1, c) + fx * at(x1, y1, c));
      }
      for (double s : sum) out.push_back(uint8_t(std::clamp(std::lround(s), 0L, 255L)));
    }
}

std::vector<uint8_t> scene_frames(const Video& video) {
  const int frames = video.frame_count();
  if (frames < 2 || video.width < 16 || video.height < 16)
    throw InvalidArgument("video", "the probes need at least 2 frames of at least 16x16 pixels");
  const double fps = video.fps(), duration = frames / fps;
  const int gap = std::max(1, int(std::lround(fps / kProbeFps)));
  std::vector<uint8_t> out;
  out.reserve(size_t(2 * kSceneMoments) * kNetWidth * kNetHeight * 3);
  for (int k = 0; k < kSceneMoments; ++k) {
    int i = std::clamp(int(std::floor((k + 0.5) / kSceneMoments * duration * fps)), 0, frames - 1);
    i = std::min(i, frames - 1 - gap);
    i = std::max(i, 0);
    const int j = std::min(i + gap, frames - 1);
    for (int t : {i, j}) resample_rgb(video, t, 0, 0, video.width, video.height, kNetWidth, kNetHeight, out);
  }
  return out;
}

std::vector<uint8_t> character_crops(const Video& video, const std::vector<Box>& boxes) {
  const int frames = std::min(video.frame_count(), int(boxes.size()));
  std::vector<uint8_t> out;
  out.reserve(size_t(kCharacterMoments) * kCropWidth * kCropHeight * 3);
  for (int k = 0; k < kCharacterMoments; ++k) {
    const int want = std::clamp(int(std::floor((k + 0.5) / kCharacterMoments * frames)), 0, std::max(0, frames - 1));
    int t = -1;  // the nearest frame where the box is seen
    for (int d = 0; d < frames && t < 0; ++d) {
      if (want - d >= 0 && !boxes[size_t(want - d)].empty()) t = want - d;
      else if (want + d < frames && !boxes[size_t(want + d)].empty()) t = want + d;
    }
    if (t < 0) {
      out.resize(out.size() + size_t(kCropWidth) * kCropHeight * 3, 0);
      continue;
    }
    const Box& b = boxes[size_t(t)];
    // The box with a margin (more above: a hat), widened to the crop's aspect (1:2) about its centre.
    const double top = b.y0 - 0.08 * (b.y1 - b.y0) - 1, bottom = b.y1 + 1;
    double bw = (b.x1 - b.x0) * 1.1 + 2, bh = bottom - top;
    if (bw * 2 < bh) bw = bh / 2;
    else bh = bw * 2;
    const double cx = (b.x0 + b.x1) / 2.0, cy = (top + bottom) / 2.0;
    resample_rgb(video, t, cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2, kCropWidth, kCropHeight, out);
  }
  return out;
}

torch::Tensor scene_tensor(const std::vector<const std::vector<uint8_t>*>& batch) {
  const int64_t n = int64_t(batch.size()), pixels = int64_t(kNetWidth) * kNetHeight;
  auto bytes = torch::empty({n, 2 * kSceneMoments, kNetHeight, kNetWidth, 3}, torch::kUInt8);
  for (int64_t i = 0; i < n; ++i) {
    if (int64_t(batch[size_t(i)]->size()) != 2 * kSceneMoments * pixels * 3) throw InvalidArgument("probe", "bad scene input size");
    std::memcpy(bytes[i].data_ptr<uint8_t>(), batch[size_t(i)]->data(), batch[size_t(i)]->size());
  }
  auto x = bytes.to(torch::kFloat32).div_(255.0f).permute({0, 1, 4, 2, 3});  // [n][16][3][h][w]
  auto first = x.index({torch::indexing::Slice(), torch::indexing::Slice(0, torch::indexing::None, 2)});
  auto second = x.index({torch::indexing::Slice(), torch::indexing::Slice(1, torch::indexing::None, 2)});
  auto grey = torch::tensor({0.299f, 0.587f, 0.114f}).view({1, 1, 3, 1, 1});
  auto change = ((second - first) * grey).sum(2, true) * 4.0f;   // [n][8][1][h][w]
  auto input = torch::cat({first - 0.5f, change}, 2);              // [n][8][4][h][w]
  return input.reshape({n, kSceneMoments * 4, kNetHeight, kNetWidth}).contiguous();
}

torch::Tensor character_tensor(const std::vector<const std::vector<uint8_t>*>& batch) {
  const int64_t n = int64_t(batch.size());
  auto bytes = torch::empty({n, kCharacterMoments, kCropHeight, kCropWidth, 3}, torch::kUInt8);
  for (int64_t i = 0; i < n; ++i) {
    if (int64_t(batch[size_t(i)]->size()) != int64_t(kCharacterMoments) * kCropHeight * kCropWidth * 3)
      throw InvalidArgument("probe", "bad character input size");
    std::memcpy(bytes[i].data_ptr<uint8_t>(), batch[size_t(i)]->data(), batch[size_t(i)]->size());
  }
  auto x = bytes.to(torch::kFloat32).div_(255.0f).sub_(0.5f).permute({0, 1, 4, 2, 3});
  return x.reshape({n, kCharacterMoments * 3, kCropHeight, kCropWidth}).contiguous();
}

// ---- Networks ----
namespace {
namespace nn = torch::nn;

nn::Sequential conv_block(nn::Sequential s, int in, int out, int kernel, int stride, int padding) {
  s->push_back(nn::Conv2d(nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding).bias(false)));
  s->push_back(nn::BatchNorm2d(out));
  s->push_back(nn::ReLU());
  return s;
}

// Mean and max over the picture: [n][c][h][w] -> [n][2c].
torch::Tensor pool(const torch::Tensor& x) { return torch::cat({x.mean({2, 3}), x.amax({2, 3})}, 1); }

}  // namespace

SceneNetImpl::SceneNetImpl() {
  nn::Sequential s;
  s = conv_block(s, 4 * kSceneMoments, 48, 2, 2, 0);  // 64x36
  s = conv_block(s, 48, 64, 3, 2, 1);                   // 32x18
  s = conv_block(s, 64, 96, 3, 2, 1);                   // 16x9
  s = conv_block(s, 96, 96, 3, 1, 1);
  body = register_module("body", s);
  fc = register_module("fc", nn::Linear(192, 128));
  heads = register_module("heads", nn::ModuleList());
  for (const auto& h : kSceneHeadSpecs) heads->push_back(nn::Linear(128, h.classes));
}

std::vector<torch::Tensor> SceneNetImpl::forward(torch::Tensor x) {
  auto z = torch::relu(fc->forward(pool(body->forward(x))));
  z = torch::dropout(z, 0.1, is_training());
  std::vector<torch::Tensor> out;
  for (const auto& h : *heads) out.push_back(h->as<nn::Linear>()->forward(z));
  return out;
}

CharacterNetImpl::CharacterNetImpl() {
  nn::Sequential s;
  s = conv_block(s, 3 * kCharacterMoments, 32, 3, 1, 1);  // 32x64
  s = conv_block(s, 32, 64, 3, 2, 1);                      // 16x32
  s = conv_block(s, 64, 64, 3, 2, 1);                      // 8x16
  s = conv_block(s, 64, 96, 3, 2, 1);                      // 4x8
  body = register_module("body", s);
  // The 4x8 map flattened keeps where on the body a colour is (hair, face, shirt).
  fc = register_module("fc", nn::Linear(96 * 4 * 8, 128));
  heads = register_module("heads", nn::ModuleList());
  for (const auto& h : kCharacterHeadSpecs) heads->push_back(nn::Linear(128, h.classes));
}

std::vector<torch::Tensor> CharacterNetImpl::forward(torch::Tensor x) {
  auto z = torch::relu(fc->forward(body->forward(x).flatten(1)));
  z = torch::dropout(z, 0.2, is_training());
  std::vector<torch::Tensor> out;
  for (const auto& h : *heads) out.push_back(h->as<nn::Linear>()->forward(z));
  return out;
}

// ---- Probes: load, save, read ----
namespace {

template <typename Net>
void put(safetensors::File& file, const std::string& prefix, const Net& net) {
  for (const auto& p : net->named_parameters()) {
    auto t = p.value().detach().to(torch::kFloat32).contiguous();
    std::vector<float> v(t.template data_ptr<float>(), t.template data_ptr<float>() + t.numel());
    file.tensors[prefix + p.key()] = safetensors::Tensor::from_float(v, t.sizes().vec());
  }
  for (const auto& b : net->named_buffers()) {
    if (b.value().scalar_type() != torch::kFloat32) continue;  // num_batches_tracked
    auto t = b.value().detach().contiguous();
    std::vector<float> v(t.template data_ptr<float>(), t.template data_ptr<float>() + t.numel());
    file.tensors[prefix + b.key()] = safetensors::Tensor::from_float(v, t.sizes().vec());
  }
}

template <typename Net>
void take(const safetensors::File& file, const std::string& prefix, Net& net, bool allow_missing) {
  torch::NoGradGuard no_grad;
  if (allow_missing) {
    bool any = false;
    for (const auto& t : file.tensors) any = any || t.first.rfind(prefix, 0) == 0;
    if (!any) return;
  }
  auto fill = [&](const std::string& name, torch::Tensor target) {
    const auto it = file.tensors.find(prefix + name);
    if (it == file.tensors.end()) throw InvalidArgument("weights", "the probes file lacks " + prefix + name);
    const auto values = it->second.to_float();
    if (int64_t(values.size()) != target.numel() || it->second.shape != target.sizes().vec())
      throw InvalidArgument("weights", "the probes file's " + prefix + name + " has the wrong shape");
    target.copy_(torch::from_blob(const_cast<float*>(values.data()), target.sizes(), torch::kFloat32));
  };
  for (auto& p : net->named_parameters()) fill(p.key(), p.value());
  for (auto& b : net->named_buffers())
    if (b.value().scalar_type() == torch::kFloat32) fill(b.key(), b.value());
}

template <size_t N>
std::vector<std::array<int, N>> argmax_rows(const std::vector<torch::Tensor>& logits) {
  const int64_t n = logits.at(0).size(0);
  std::vector<std::array<int, N>> out(static_cast<size_t>(n), std::array<int, N>{});
  for (size_t h = 0; h < N; ++h) {
    auto a = logits[h].argmax(1).to(torch::kInt64).contiguous();
    for (int64_t i = 0; i < n; ++i) out[size_t(i)][h] = int(a.data_ptr<int64_t>()[i]);
  }
  return out;
}

}  // namespace

Probes::Probes() : scene(SceneNet()), character(CharacterNet()), impact(ImpactNet()), object_map(ObjectMapNet()), motion(MotionNet()) {
  scene->eval();
  character->eval();
  impact->eval();
  object_map->eval();
  motion->eval();
}

namespace {
bool has_prefix(const safetensors::File& file, const std::string& prefix) {
  for (const auto& t : file.tensors)
    if (t.first.rfind(prefix, 0) == 0) return true;
  return false;
}
}  // namespace

Probes Probes::load(const std::string& path, bool allow_missing) {
  const auto file = safetensors::read(path);
  Probes probes;
  take(file, "scene.", probes.scene, allow_missing);
  take(file, "character.", probes.character, allow_missing);
  take(file, "impact.", probes.impact, allow_missing);
  // The object reader came later: files without it read objects with the scene CNN.
  if (has_prefix(file, "object.")) {
    take(file, "object.", probes.object_map, false);
    take(file, "motion.", probes.motion, false);
    probes.has_object_reader = true;
  }
  probes.object_map->eval();
  probes.motion->eval();
  probes.metadata = file.metadata;
  probes.scene->eval();
  probes.character->eval();
  probes.impact->eval();
  return probes;
}

void Probes::merge(const std::string& path, const std::string& parts) {
  const auto file = safetensors::read(path);
  if (parts.find("scene") != std::string::npos) take(file, "scene.", scene, true);
  if (parts.find("character") != std::string::npos) take(file, "character.", character, true);
  if (parts.find("impact") != std::string::npos) take(file, "impact.", impact, true);
  if (parts.find("object") != std::string::npos && has_prefix(file, "object.")) {
    take(file, "object.", object_map, false);
    take(file, "motion.", motion, false);
    has_object_reader = true;
  }
  for (const auto& [k, v] : file.metadata) metadata[k] = v;
}

std::vector<double> Probes::impacts(const Video& video) const {
  const int frames = video.frame_count();
  if (frames < 3) return {};
  auto profile = impact_profile(video);
  torch::NoGradGuard no_grad;
  auto x = torch::from_blob(profile.data(), {1, 2, kImpactBands, frames}, torch::kFloat32);
  auto logits = const_cast<ImpactNetImpl&>(*impact).forward(x).contiguous();
  std::vector<float> l(logits.data_ptr<float>(), logits.data_ptr<float>() + frames);
  return impact_peaks(l, video.fps());
}

void Probes::save(const std::string& path, const std::map<std::string, std::string>& meta) const {
  safetensors::File file;
  file.metadata = meta;
  put(file, "scene.", scene);
  put(file, "character.", character);
  put(file, "impact.", impact);
  if (has_object_reader) {
    put(file, "object.", object_map);
    put(file, "motion.", motion);
  }
  safetensors::write(path, file);
}

std::vector<std::array<int, kSceneHeads>> Probes::read_scenes(const std::vector<const std::vector<uint8_t>*>& inputs) const {
  std::vector<std::array<int, kSceneHeads>> out;
  torch::NoGradGuard no_grad;
  for (size_t start = 0; start < inputs.size(); start += 32) {
    std::vector<const std::vector<uint8_t>*> part(inputs.begin() + long(start), inputs.begin() + long(std::min(inputs.size(), start + 32)));
    const auto rows = argmax_rows<kSceneHeads>(const_cast<SceneNetImpl&>(*scene).forward(scene_tensor(part)));
    out.insert(out.end(), rows.begin(), rows.end());
  }
  return out;
}

std::vector<std::array<int, kCharacterHeads>> Probes::read_characters(const std::vector<const std::vector<uint8_t>*>& inputs) const {
  std::vector<std::array<int, kCharacterHeads>> out;
  torch::NoGradGuard no_grad;
  for (size_t start = 0; start < inputs.size(); start += 64) {
    std::vector<const std::vector<uint8_t>*> part(inputs.begin() + long(start), inputs.begin() + long(std::min(inputs.size(), start + 64)));
    const auto rows = argmax_rows<kCharacterHeads>(const_cast<CharacterNetImpl&>(*character).forward(character_tensor(part)));
    out.insert(out.end(), rows.begin(), rows.end());
  }
  return out;
}

std::array<int, kSceneHeads> Probes::read_scene(const Video& video) const {
  const auto input = scene_frames(video);
  auto read = read_scenes({&input}).at(0);
  if (has_object_reader) {
    const auto object = read_object(object_frames(video));
    read[kObject] = object[0], read[kColor] = object[1], read[kSize] = object[2], read[kMotion] = object[3], read[kCamera] = object[4];
  }
  return read;
}

std::array<int, 5> Probes::read_object(const ObjectFrames& frames) const {
  const auto track = track_object(const_cast<ObjectMapNetImpl&>(*object_map), frames);
  torch::NoGradGuard no_grad;
  const auto logits = const_cast<MotionNetImpl&>(*motion).forward(
      torch::from_blob(const_cast<float*>(track.features.data()), {1, int64_t(track.features.size())}, torch::kFloat32).clone());
  auto argmax = [](const auto& votes) { return int(std::max_element(votes.begin(), votes.end()) - votes.begin()); };
  return {argmax(track.kind_votes), argmax(track.color_votes), int(logits[2].argmax(1).item<int64_t>()),
          int(logits[0].argmax(1).item<int64_t>()), int(logits[1].argmax(1).item<int64_t>())};
}

std::array<int, kCharacterHeads> Probes::read_character(const Video& video, const std::vector<Box>& boxes) const {
  const auto input = character_crops(video, boxes);
  return read_characters({&input}).at(0);
}

// ---- Studio scenes ----
namespace {
int pick(std::mt19937_64& rng, int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); }

Identity any_identity(std::mt19937_64& rng) {
  Identity id;
  id.skin = SkinTone(pick(rng, int(kSkinToneNames.size())));
  id.hair_color = HairColor(pick(rng, int(kHairColorNames.size())));
  id.hair_style = HairStyle(pick(rng, int(kHairStyleNames.size())));
  id.shirt = Color(pick(rng, int(kColorNames.size())));
  id.accessory = Accessory(pick(rng, int(kAccessoryNames.size())));
  return id;
}
}  // namespace

SceneSpec probe_object_scene(std::mt19937_64& rng, bool held_out) {
  for (;;) {
    SceneSpec spec;
    spec.setting = Setting(pick(rng, 8));
    spec.time_of_day = TimeOfDay(pick(rng, 3));
    spec.weather = pick(rng, 4) == 0 ? Weather::Rain : Weather::Clear;
    ObjectSpec object{ObjectKind(pick(rng, 5)), Color(pick(rng, 8)), Size(pick(rng, 2)), Motion(pick(rng, 9))};
    ShotSpec shot;
    shot.camera = CameraMove(pick(rng, 10));
    shot.speed = CameraSpeed(pick(rng, 2));
    shot.seconds = 4.0;
    if (held_out) {
      const auto& o = train::held_out_objects()[size_t(pick(rng, int(train::held_out_objects().size())))];
      const auto& s = train::held_out_shots()[size_t(pick(rng, int(train::held_out_shots().size())))];
      object.kind = o.kind, object.color = o.color, object.motion = o.motion;
      spec.setting = s.setting, shot.camera = s.camera;
    }
    spec.objects = {object};
    spec.shots = {shot};
    if (held_out || !train::is_held_out(spec)) return spec;
  }
}

SceneSpec probe_character_scene(std::mt19937_64& rng) {
  static constexpr std::array<Setting, 7> kGround{Setting::Meadow, Setting::Beach,     Setting::CityStreet, Setting::LivingRoom,
                                                  Setting::Forest, Setting::Snowfield, Setting::Desert};
  static constexpr std::array<Action, 5> kActions{Action::Stands, Action::Waves, Action::WalksLeft, Action::WalksRight, Action::Jumps};
  SceneSpec spec;
  spec.setting = kGround[size_t(pick(rng, int(kGround.size())))];
  spec.time_of_day = TimeOfDay(pick(rng, 3));
  spec.weather = pick(rng, 3) == 0 ? Weather::Rain : Weather::Clear;
  CharacterSpec c;
  c.identity = any_identity(rng);
  c.action = kActions[size_t(pick(rng, int(kActions.size())))];
  spec.characters = {c};
  ShotSpec shot;
  shot.framing = Framing::Medium;  // in a wide shot a person is ~20 px tall at 128x72: too small to judge an identity
  shot.seconds = 2.0;
  spec.shots = {shot};
  return spec;
}

std::vector<Box> boxes_of(const studio::Clip& clip, int entity) {
  std::vector<Box> boxes;
  for (const auto& frame : clip.truth.frames) {
    Box b;
    if (entity < int(frame.entities.size()) && frame.entities[size_t(entity)].visible) {
      const auto& e = frame.entities[size_t(entity)];
      b = {e.x0, e.y0, e.x1, e.y1};
    }
    boxes.push_back(b);
  }
  return boxes;
}

}  // namespace opsis::eval
