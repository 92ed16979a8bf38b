#include "models/mini2/layered_renderer.hpp"

#include <algorithm>
#include <cmath>

#include "core/error.hpp"

namespace opsis::mini2 {

namespace nn = torch::nn;
namespace F = torch::nn::functional;
using torch::indexing::Slice;

namespace {

// Depths of the background planes (metres, world z): dense just behind the stage (z = 8),
// where props and the room's back wall stand, sparse toward the far layers (24 - 380 m).
constexpr std::array<float, 16> kPlaneDepths{9.5f, 10.5f, 11.5f, 12.6f, 13.2f, 14.6f, 17, 21, 24, 30, 40, 55, 75, 130, 220, 380};
constexpr float kPlaneUMax = 3.0f;                   // x/z in [-3, 3]: about 72 degrees either side
constexpr float kPlaneVMin = -0.1f, kPlaneVMax = 0.9f;  // y/z
constexpr float kRoomHalfWidth = 7.0f, kRoomHeight = 3.0f;
constexpr float kTileMetres = 4.0f;
constexpr float kPi = 3.14159265358979f;

struct SpriteStageImpl : nn::Module {
  SpriteStageImpl(int in, int out)
      : conv1(register_module("conv1", nn::Conv2d(nn::Conv2dOptions(in + 2, out, 3).padding(1)))),
        conv2(register_module("conv2", nn::Conv2d(nn::Conv2dOptions(out, out, 3).padding(1)))) {}
  torch::Tensor forward(const torch::Tensor& x);
  nn::Conv2d conv1, conv2;
};
TORCH_MODULE(SpriteStage);

// [N, C, h, w] -> [N, C + 2, h, w]: x and y in [-1, 1] appended.
torch::Tensor with_coordinates(const torch::Tensor& x) {
  const int64_t n = x.size(0), h = x.size(2), w = x.size(3);
  const auto o = torch::TensorOptions().dtype(x.dtype()).device(x.device());
  const auto ys = torch::linspace(-1, 1, h, o).view({1, 1, h, 1}).expand({n, 1, h, w});
  const auto xs = torch::linspace(-1, 1, w, o).view({1, 1, 1, w}).expand({n, 1, h, w});
  return torch::cat({x, xs, ys}, 1);
}

torch::Tensor SpriteStageImpl::forward(const torch::Tensor& x) {
  auto y = F::interpolate(x, F::InterpolateFuncOptions().scale_factor(std::vector<double>{2, 2}).mode(torch::kNearest));
  y = torch::silu(conv1->forward(with_coordinates(y)));
  return torch::silu(conv2->forward(y));
}

// Samples textures [N, C, th, tw] at grid [N, H, W, 2] (x, y in [-1, 1]) -> [N, C, H, W].
torch::Tensor sample(const torch::Tensor& texture, const torch::Tensor& grid, bool border = false) {
  auto options = F::GridSampleFuncOptions().mode(torch::kBilinear).align_corners(false);
  if (border) options.padding_mode(torch::kBorder);
  return F::grid_sample(texture, grid, options);
}

// Grid coordinates inside a texture (a layer is only where its texture is).
torch::Tensor inside(const torch::Tensor& gx, const torch::Tensor& gy) {
  return (gx.abs() <= 1) & (gy.abs() <= 1);
}

}  // namespace

int look_index(const studio::SceneSpec& spec) {
  return (int(spec.setting) * 3 + int(spec.time_of_day)) * 2 + int(spec.weather);
}

SpriteBox sprite_box(const studio::SceneSpec& spec, int entity) {
  const int objects = int(spec.objects.size());
  if (entity < 0 || entity >= objects + int(spec.characters.size()))
    throw InvalidArgument("entity", "no entity " + std::to_string(entity) + " in the scene");
  if (entity >= objects) {
    const float h = studio::geometry(spec.characters[size_t(entity - objects)]).height;
    return {-0.42f * h, 0.42f * h, -0.04f * h, 1.18f * h};
  }
  const studio::Geometry g = studio::geometry(spec.objects[size_t(entity)]);
  const float w = g.width, h = g.height;
  switch (spec.objects[size_t(entity)].kind) {
    case studio::ObjectKind::Ball: return {-0.75f * w, 0.75f * w, -0.1f * w, 1.15f * w};
    case studio::ObjectKind::Box: return {-0.95f * w, 0.95f * w, -0.1f * w, 1.5f * w};
    case studio::ObjectKind::Balloon: return {-0.9f * w, 0.9f * w, -1.9f * h, 0.75f * h};
    case studio::ObjectKind::Bird: return {-0.45f * w, 0.45f * w, -0.45f * w, 0.5f * w};
    case studio::ObjectKind::Car: return {-0.56f * w, 0.56f * w, -0.05f * h, 1.1f * h};
  }
  throw InvalidArgument("entity", "unknown object kind");
}

std::array<float, kSpriteConditionDims> sprite_condition(const studio::SceneSpec& spec, int entity,
                                                          const studio::EntityPose& pose, double time, float pixels) {
  std::array<float, kSpriteConditionDims> c{};
  const int objects = int(spec.objects.size());
  size_t at = 0;
  auto one_hot = [&](int value, int count) {
    if (value >= 0 && value < count) c[at + size_t(value)] = 1;
    at += size_t(count);
  };
  const bool character = entity >= objects;
  const studio::ObjectSpec* object = character ? nullptr : &spec.objects[size_t(entity)];
  const studio::Identity* id = character ? &spec.characters[size_t(entity - objects)].identity : nullptr;
  one_hot(character ? 5 : int(object->kind), 6);
  one_hot(character ? -1 : int(object->color), 8);
  one_hot(character ? -1 : int(object->size), 2);
  one_hot(character ? int(id->skin) : -1, 5);
  one_hot(character ? int(id->hair_color) : -1, 6);
  one_hot(character ? int(id->hair_style) : -1, 3);
  one_hot(character ? int(id->shirt) : -1, 8);
  one_hot(character ? int(id->accessory) : -1, 3);
  one_hot(int(spec.setting), 8);
  one_hot(int(spec.time_of_day), 3);
  one_hot(int(spec.weather), 2);
  auto put = [&](float v) { c[at++] = v; };
  put(std::sin(pose.angle)), put(std::cos(pose.angle));
  put(pose.squash);
  put(pose.heading < 0 ? -1.0f : 1.0f);
  put(std::sin(pose.walk_phase)), put(std::cos(pose.walk_phase));
  put(pose.arm_raise);
  put(std::sin(pose.wave_phase)), put(std::cos(pose.wave_phase));
  put(pose.mouth_open);
  one_hot(character ? pose.viseme : -1, 6);
  put(std::sin(pose.wing_phase)), put(std::cos(pose.wing_phase));
  put(pose.side_on ? 1.0f : 0.0f);
  // A car's wheels turn with the distance driven (three spokes: period 2 pi / 3); a balloon's
  // string sways with time.
  const float wheel_radius = object && object->kind == studio::ObjectKind::Car ? 0.24f * studio::geometry(*object).height : 1.0f;
  const float turn = object && object->kind == studio::ObjectKind::Car ? pose.x / wheel_radius : 0.0f;
  put(std::sin(3 * turn)), put(std::cos(3 * turn));
  put(object && object->kind == studio::ObjectKind::Balloon ? std::sin(float(time) * 2.1f + pose.x) : 0.0f);
  put(std::log2(std::clamp(pixels, 8.0f, 96.0f) / 48.0f) / 2);  // -0.79 (8 px) .. 0.5 (96 px and more)
  if (at != c.size()) throw std::logic_error("sprite_condition: layout and kSpriteConditionDims disagree");
  return c;
}

bool upgrade_renderer_tensors(safetensors::File& file, const std::string& prefix) {
  const auto found = file.tensors.find(prefix + "sprites.in1.weight");
  if (found == file.tensors.end() || found->second.shape.size() != 2 || found->second.shape[1] != kSpriteConditionDims - 1) return false;
  safetensors::Tensor& weight = found->second;
  const int64_t rows = weight.shape[0], columns = weight.shape[1];
  const std::vector<float> old = weight.to_float();
  std::vector<float> grown(size_t(rows * (columns + 1)), 0.0f);
  for (int64_t r = 0; r < rows; ++r)
    std::copy_n(old.begin() + r * columns, columns, grown.begin() + r * (columns + 1));
  weight = safetensors::Tensor::from_float(grown, {rows, columns + 1}, weight.dtype);
  return true;
}

BackgroundFieldImpl::BackgroundFieldImpl() {
  const int64_t K = int64_t(kPlaneDepths.size());
  auto planes_init = torch::full({kSettings, K, 4, 40, 192}, 0.5f);
  planes_init.index_put_({Slice(), Slice(), 3}, -6.0f);  // start transparent
  planes = register_parameter("planes", planes_init);
  auto walls_init = torch::full({kSettings, 2, 4, 16, 64}, 0.5f);
  walls_init.index_put_({Slice(), Slice(), 3}, -6.0f);
  walls = register_parameter("walls", walls_init);
  auto ceiling_init = torch::full({kSettings, 4, 32, 32}, 0.5f);
  ceiling_init.index_put_({Slice(), 3}, -6.0f);
  ceiling = register_parameter("ceiling", ceiling_init);
  ground_map = register_parameter("ground_map", torch::full({kSettings, 3, 64, 64}, 0.4f));
  ground_tile = register_parameter("ground_tile", torch::zeros({kSettings, 3, 64, 64}));
  sky = register_parameter("sky", torch::full({kLooks, 3, 32, 96}, 0.6f));
  light_scale = register_parameter("light_scale", torch::ones({kLooks, 3}));
  light_bias = register_parameter("light_bias", torch::zeros({kLooks, 3}));
  haze = register_parameter("haze", torch::full({kLooks, 3}, 0.7f));
  fog_log_distance = register_parameter("fog_log_distance", torch::full({kLooks}, std::log(400.0f)));
}

torch::Tensor BackgroundFieldImpl::forward(const torch::Tensor& poses, const torch::Tensor& look, int height, int width) {
  const int64_t B = poses.size(0), H = height, W = width, K = int64_t(kPlaneDepths.size());
  const auto dev = poses.device();
  const auto o = torch::TensorOptions().dtype(torch::kFloat32).device(dev);
  const auto setting = torch::div(look, 6, "floor");
  auto col = [&](int i) { return poses.index({Slice(), i}).view({B, 1, 1}); };
  const auto cx = col(0), cy = col(1), cz = col(2), yaw = col(3), pitch = col(4);
  const auto f = col(5) * float(std::min(H, W));
  // The inverse of studio::project: pixel -> world ray direction (not normalised).
  const auto a = (torch::arange(W, o) + 0.5f - 0.5f * float(W)).view({1, 1, W}) / f;   // [B, 1, W]
  const auto b = -(torch::arange(H, o) + 0.5f - 0.5f * float(H)).view({1, H, 1}) / f;  // [B, H, 1]
  const auto cyw = torch::cos(yaw), syw = torch::sin(yaw), cp = torch::cos(pitch), sp = torch::sin(pitch);
  const auto dy = (cp * b + sp).expand({B, H, W});
  const auto zr = -sp * b + cp;
  const auto dx = cyw * a + syw * zr;  // [B, H, W]
  const auto dz = -syw * a + cyw * zr;
  const auto norm = torch::sqrt(dx * dx + dy * dy + dz * dz);
  const float inf = 1e9f;

  std::vector<torch::Tensor> ts, rgbs, alphas;
  auto add_layer = [&](torch::Tensor t, const torch::Tensor& rgba /* [B, 4, H, W] */, const torch::Tensor& valid) {
    ts.push_back(torch::where(valid, t, torch::full_like(t, inf)));
    rgbs.push_back(rgba.index({Slice(), Slice(0, 3)}));
    alphas.push_back(torch::sigmoid(rgba.index({Slice(), 3})) * valid.to(torch::kFloat32));
  };

  // Vertical planes z = const, textures over (x/z, y/z).
  {
    const auto zk = torch::tensor(std::vector<float>(kPlaneDepths.begin(), kPlaneDepths.end()), o).view({1, K, 1, 1});
    const auto dzk = dz.unsqueeze(1), safe = torch::where(dzk > 1e-4f, dzk, torch::ones_like(dzk));
    const auto t = (zk - cz.unsqueeze(1)) / safe;                               // [B, K, H, W]
    auto valid = (dzk > 1e-4f) & (t > 0);
    const auto x = cx.unsqueeze(1) + t * dx.unsqueeze(1), y = cy.unsqueeze(1) + t * dy.unsqueeze(1);
    const auto gx = x / zk / kPlaneUMax;
    const auto gy = 1 - 2 * (y / zk - kPlaneVMin) / (kPlaneVMax - kPlaneVMin);
    const auto grid = torch::stack({gx, gy}, -1).view({B * K, H, W, 2});
    const auto tex = planes.index({setting}).view({B * K, 4, 40, 192});
    const auto rgba = sample(tex, grid, true).view({B, K, 4, H, W});
    valid = valid & inside(gx, gy);
    for (int64_t k = 0; k < K; ++k) add_layer(t.index({Slice(), k}), rgba.index({Slice(), k}), valid.index({Slice(), k}));
  }
  // Side walls x = -7 and x = +7, over (z in [-2, 14], y in [0, 3.2]).
  for (int side = 0; side < 2; ++side) {
    const float wx = side == 0 ? -kRoomHalfWidth : kRoomHalfWidth;
    const auto toward = side == 0 ? dx < -1e-4f : dx > 1e-4f;
    const auto safe = torch::where(toward, dx, torch::ones_like(dx));
    const auto t = (wx - cx) / safe;
    const auto z = cz + t * dz, y = cy + t * dy;
    const auto gx = (z - 6) / 8, gy = 1 - 2 * y / 3.2f;
    const auto rgba = sample(walls.index({setting, side}), torch::stack({gx, gy}, -1), true);
    add_layer(t, rgba, toward & (t > 0) & inside(gx, gy));
  }
  // Ceiling y = 3 over (x in [-7, 7], z in [-2, 14]).
  {
    const auto up = dy > 1e-4f;
    const auto t = (kRoomHeight - cy) / torch::where(up, dy, torch::ones_like(dy));
    const auto x = cx + t * dx, z = cz + t * dz;
    const auto gx = x / kRoomHalfWidth, gy = (z - 6) / 8;
    const auto rgba = sample(ceiling.index({setting}), torch::stack({gx, gy}, -1), true);
    add_layer(t, rgba, up & (t > 0) & inside(gx, gy));
  }
  // Ground y = 0: a coarse map plus a repeating detail tile; opaque.
  {
    const auto down = dy < -1e-4f;
    const auto t = -cy / torch::where(down, dy, -torch::ones_like(dy));
    const auto valid = down & (t > 0);
    const auto x = cx + t * dx, z = cz + t * dz;
    const auto coarse = sample(ground_map.index({setting}), torch::stack({x / 40, (z - 32) / 40}, -1), true);
    const auto tx = torch::remainder(x, kTileMetres) / kTileMetres * 2 - 1, tz = torch::remainder(z, kTileMetres) / kTileMetres * 2 - 1;
    const auto detail = sample(ground_tile.index({setting}), torch::stack({tx, tz}, -1), true);
    const auto rgba = torch::cat({coarse + detail, torch::full({B, 1, H, W}, 20.0f, o)}, 1);
    add_layer(t, rgba, valid);
  }

  // Light and haze per look, then front-to-back compositing over the sky.
  const auto scale = light_scale.index({look}).view({B, 3, 1, 1}), bias = light_bias.index({look}).view({B, 3, 1, 1});
  const auto haze_rgb = haze.index({look}).view({B, 3, 1, 1});
  const auto fog = torch::exp(fog_log_distance.index({look})).view({B, 1, 1});
  const int64_t L = int64_t(ts.size());
  auto T = torch::stack(ts, 1);                   // [B, L, H, W]
  auto A = torch::stack(alphas, 1);               // [B, L, H, W]
  auto C = torch::stack(rgbs, 1) * scale.unsqueeze(1) + bias.unsqueeze(1);  // [B, L, 3, H, W]
  const auto mist = (1 - torch::exp(-torch::clamp(T, 0, 1e4) * norm.unsqueeze(1) / fog.unsqueeze(1))).unsqueeze(2);
  C = C * (1 - mist) + haze_rgb.unsqueeze(1) * mist;
  const auto order = std::get<1>(torch::sort(T, 1));
  A = torch::gather(A, 1, order);
  C = torch::gather(C, 1, order.unsqueeze(2).expand({B, L, 3, H, W}));
  const auto through = torch::cumprod(1 - A, 1);
  const auto before = torch::cat({torch::ones({B, 1, H, W}, o), through.index({Slice(), Slice(0, L - 1)})}, 1);
  auto picture = (C * (A * before).unsqueeze(2)).sum(1);  // [B, 3, H, W]

  const auto azimuth = torch::atan2(dx, dz), elevation = torch::asin(torch::clamp(dy / norm, -1, 1));
  const auto sky_rgb = sample(sky.index({look}), torch::stack({azimuth / 1.9f, 1 - 2 * (elevation + 0.35f) / 1.7f}, -1), true);
  return picture + sky_rgb * through.index({Slice(), L - 1}).unsqueeze(1);
}

SpriteNetImpl::SpriteNetImpl() {
  in1 = register_module("in1", nn::Linear(kSpriteConditionDims, 256));
  in2 = register_module("in2", nn::Linear(256, 128 * 6 * 6));
  stages = register_module("stages", nn::ModuleList());
  stages->push_back(SpriteStage(128, 96));
  stages->push_back(SpriteStage(96, 64));
  stages->push_back(SpriteStage(64, 32));
  out = register_module("out", nn::Conv2d(nn::Conv2dOptions(32 + 2, 4, 3).padding(1)));
}

torch::Tensor SpriteNetImpl::forward(const torch::Tensor& condition) {
  auto x = torch::silu(in2->forward(torch::silu(in1->forward(condition)))).view({condition.size(0), 128, 6, 6});
  for (const auto& stage : *stages) x = stage->as<SpriteStage>()->forward(x);
  x = out->forward(with_coordinates(x));
  const auto alpha = torch::sigmoid(x.index({Slice(), Slice(3, 4)}));
  return torch::cat({torch::sigmoid(x.index({Slice(), Slice(0, 3)})) * alpha, alpha}, 1);
}

LayeredRendererImpl::LayeredRendererImpl() {
  background = register_module("background", BackgroundField());
  sprites = register_module("sprites", SpriteNet());
}

int anamorphic_bar(int width, int height) {
  const double aspect = double(width) / double(height);
  return std::max(0, int(std::lround(double(height) * (1.0 - aspect / 2.39) / 2.0)));
}

torch::Tensor render_clip(LayeredRenderer& renderer, const studio::SceneSpec& spec,
                          const std::vector<studio::FrameState>& states, int width, int height) {
  torch::NoGradGuard no_grad;
  const int64_t frames = int64_t(states.size());
  const int entities = int(spec.objects.size() + spec.characters.size());
  const int look = look_index(spec);
  // Backgrounds, a few frames at a time.
  std::vector<torch::Tensor> pictures;
  for (int64_t first = 0; first < frames; first += 16) {
    const int64_t n = std::min<int64_t>(16, frames - first);
    auto poses = torch::empty({n, 6});
    for (int64_t i = 0; i < n; ++i) {
      const studio::CameraPose& c = states[size_t(first + i)].camera;
      const float v[6] = {c.x, c.y, c.z, c.yaw, c.pitch, c.focal};
      for (int k = 0; k < 6; ++k) poses[i][k] = v[k];
    }
    auto bg = renderer->background->forward(poses, torch::full({n}, int64_t(look), torch::kInt64), height, width);
    pictures.push_back(bg.clamp(0, 1));
  }
  auto picture = torch::cat(pictures, 0);  // [F, 3, H, W]
  // The 85mm look blurs what is behind the subjects.
  for (int64_t i = 0; i < frames; ++i) {
    const studio::Lens lens = spec.shots[size_t(states[size_t(i)].camera.shot)].lens;
    if (lens != studio::Lens::Portrait85mm) continue;
    const int r = std::max(1, int(std::lround(float(std::min(width, height)) * 0.011f)));
    auto one = picture.index({Slice(i, i + 1)});
    one = F::avg_pool2d(F::pad(one, F::PadFuncOptions({r, r, r, r}).mode(torch::kReplicate)),
                        F::AvgPool2dFuncOptions(2 * r + 1).stride(1));
    picture.index_put_({Slice(i, i + 1)}, one);
  }

  // Sprites: every visible entity of every frame through the network at once (in chunks).
  struct Placement {
    int64_t frame;
    float depth, u0, u1, v0, v1;  // box on screen, pixels
  };
  std::vector<Placement> placements;
  std::vector<float> conditions;
  for (int64_t i = 0; i < frames; ++i) {
    const studio::FrameState& st = states[size_t(i)];
    for (int e = 0; e < entities && e < int(st.entities.size()); ++e) {
      const studio::EntityPose& pose = st.entities[size_t(e)];
      if (!pose.present) continue;
      const studio::Projected p = studio::project(st.camera, pose.x, pose.y, pose.z, width, height);
      if (!p.in_front) continue;
      const SpriteBox box = sprite_box(spec, e);
      const float s = p.pixels_per_metre;
      Placement pl{i, p.depth, p.u + box.x0 * s, p.u + box.x1 * s, p.v - box.y1 * s, p.v - box.y0 * s};
      if (pl.u1 < 0 || pl.u0 > float(width) || pl.v1 < 0 || pl.v0 > float(height)) continue;
      if (pl.u1 - pl.u0 > 40.0f * float(std::max(width, height))) continue;  // the camera is inside it
      placements.push_back(pl);
      const auto c = sprite_condition(spec, e, pose, st.time, std::max(pl.u1 - pl.u0, pl.v1 - pl.v0));
      conditions.insert(conditions.end(), c.begin(), c.end());
    }
  }
  if (!placements.empty()) {
    const auto cond = torch::from_blob(conditions.data(), {int64_t(placements.size()), kSpriteConditionDims}).clone();
    std::vector<torch::Tensor> chunks;
    for (int64_t first = 0; first < cond.size(0); first += 64)
      chunks.push_back(renderer->sprites->forward(cond.index({Slice(first, std::min<int64_t>(first + 64, cond.size(0)))})));
    const auto sprites = torch::cat(chunks, 0);  // [N, 4, 48, 48]
    std::vector<size_t> order(placements.size());
    for (size_t k = 0; k < order.size(); ++k) order[k] = k;
    std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) { return placements[x].depth > placements[y].depth; });
    const auto px = torch::arange(width, torch::kFloat32).add(0.5f).view({1, width});
    const auto py = torch::arange(height, torch::kFloat32).add(0.5f).view({height, 1});
    for (size_t k : order) {
      const Placement& pl = placements[k];
      auto sprite = sprites.index({Slice(int64_t(k), int64_t(k) + 1)});
      // Shrink first when the box is small, so sampling does not alias.
      const int64_t sw = std::clamp<int64_t>(int64_t(std::ceil(pl.u1 - pl.u0)), 1, kSpritePixels);
      const int64_t sh = std::clamp<int64_t>(int64_t(std::ceil(pl.v1 - pl.v0)), 1, kSpritePixels);
      if (sw < kSpritePixels || sh < kSpritePixels) sprite = F::adaptive_avg_pool2d(sprite, F::AdaptiveAvgPool2dFuncOptions({sh, sw}));
      const auto gx = ((px - pl.u0) / (pl.u1 - pl.u0) * 2 - 1).expand({height, width});
      const auto gy = ((py - pl.v0) / (pl.v1 - pl.v0) * 2 - 1).expand({height, width});
      const auto placed = sample(sprite, torch::stack({gx, gy}, -1).unsqueeze(0))[0];  // [4, H, W]
      auto frame = picture.index({pl.frame});
      frame.mul_(1 - placed.index({Slice(3, 4)})).add_(placed.index({Slice(0, 3)}));
    }
  }

  // Letterbox bars and the wide lens's vignette.
  for (int64_t i = 0; i < frames; ++i) {
    const studio::Lens lens = spec.shots[size_t(states[size_t(i)].camera.shot)].lens;
    if (lens == studio::Lens::Anamorphic) {
      const int bar = anamorphic_bar(width, height);
      if (bar > 0) {
        picture.index({i, Slice(), Slice(0, bar)}).zero_();
        picture.index({i, Slice(), Slice(height - bar, height)}).zero_();
      }
    } else if (lens == studio::Lens::Wide) {
      const auto dxs = (torch::arange(width, torch::kFloat32) + 0.5f - 0.5f * float(width)).view({1, width});
      const auto dys = (torch::arange(height, torch::kFloat32) + 0.5f - 0.5f * float(height)).view({height, 1});
      const float norm = 1.0f / (0.25f * float(width * width + height * height));
      const auto r2 = (dxs * dxs + dys * dys) * norm;
      const auto gain = (1 - 0.55f * r2 * r2 - 0.1f * r2).clamp(0, 1);
      picture.index({i}).mul_(gain);
    }
  }
  return (picture.clamp(0, 1) * 255).round().to(torch::kUInt8).permute({0, 2, 3, 1}).contiguous();
}

}  // namespace opsis::mini2
