// Trains opsis-mini 2's learned layered renderer (the structured variant's picture half,
// src/models/mini2/layered_renderer.hpp) on the studio world's parts apart:
//   - backgrounds: frames of random scenes drawn without entities, rain or lens looks, in the
//     setting's fixed scenery layout, at the camera poses the scenes' shots give;
//   - sprites: one entity of a random scene in a random frame, drawn alone over black and over
//     white through a camera that frames its sprite box (coverage = 1 - (white - black)).
// Held-out combinations (train/holdout.hpp) are never drawn. --evaluate N reads N held-out
// probe scenes through the probes twice, as the studio draws them and as the learned renderer
// draws them from the same states: what the renderer loses, in the generator's terms.
//
//   opsis-train-mini2-renderer --out RUNS/mini2-renderer [--steps N] [--threads 2]
//   opsis-train-mini2-renderer --out RUNS/mini2-renderer --evaluate 40 [--preview DIR]
#include <CLI/CLI.hpp>
#include <torch/torch.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include "core/safetensors.hpp"
#include "eval/probe_net.hpp"
#include "media/image_io.hpp"
#include "models/mini2/identity_reader.hpp"
#include "models/mini2/layered_renderer.hpp"
#include "models/mini2/weights.hpp"
#include "studio/studio.hpp"
#include "train/learning_curve.hpp"
#include "train/holdout.hpp"
#include "train/scenes.hpp"
#include "train/studio_truth.hpp"

using namespace opsis;
using namespace opsis::mini2;
namespace fs = std::filesystem;
using torch::indexing::Slice;

namespace {

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop = true; }

struct Options {
  std::string out;
  int threads = 2;
  int64_t steps = 1000000;
  int background_batch = 12;
  int sprite_batch = 32;
  double texture_lr = 0.01, net_lr = 1e-3, look_lr = 1e-3;
  double smoothness = 0.1;  // weight of the textures' total variation
  // Backgrounds: the chance of rain in a batch's scenes (random scenes have 20%: night rain was
  // one frame in 120), and how much a frame's error counts relative to its brightness (0: plain
  // L1; 1: L1 / (mean brightness + 0.15), so that night frames, whose errors are small in
  // absolute terms, are fitted as closely as day ones). Neither mended night rain's looks alone
  // (session 9: 480 steps); the per-look learning rate (look_lr) did.
  double rain_share = 0.5, dark_weight = 1.0;
  int look_errors = 0;  // only print each look's background error over this many frames a look
  int checkpoint_every = 100;
  uint64_t seed = 1;
  int evaluate = 0;
  std::string preview_dir;
  std::string probes_path = "models/opsis-probes.safetensors";
  std::string export_path;
  std::string init;          // a new run starts from a structured weights file's renderer and identity reader
  std::string dump_sprites;  // write one batch of sprite targets (and the network's sprites) as PNG here, then stop
};

// Background targets: [N, 3, h, w] in [0, 1], with poses [N, 6] and looks [N].
struct BackgroundBatch {
  torch::Tensor target, poses, looks;
};

BackgroundBatch background_batch(std::mt19937_64& rng, int count, int width, int height, double rain_share,
                                 int forced_look = -1) {
  BackgroundBatch b;
  b.target = torch::empty({count, height, width, 3}, torch::kUInt8);
  b.poses = torch::empty({count, 6});
  b.looks = torch::empty({count}, torch::kInt64);
  studio::DrawParts parts;
  parts.only_entity = -2, parts.shadows = false, parts.weather = false, parts.lens = false;
  int made = 0;
  while (made < count) {
    studio::SceneSpec spec = train::random_scene(rng, 4.0);
    spec.weather = std::uniform_real_distribution<double>(0, 1)(rng) < rain_share ? studio::Weather::Rain : studio::Weather::Clear;
    if (forced_look >= 0) {  // look_index = (setting * 3 + time) * 2 + weather
      spec.setting = studio::Setting(forced_look / 6);
      spec.time_of_day = studio::TimeOfDay(forced_look / 2 % 3);
      spec.weather = studio::Weather(forced_look % 2);
      if (train::is_held_out(spec)) continue;
    }
    const studio::Timeline timeline = studio::simulate(spec, rng(), 12, 16000);
    const studio::FrameRenderer renderer(spec, studio::fixed_scenery_seed(spec.setting), width, height);
    for (int k = 0; k < 4 && made < count; ++k, ++made) {
      const studio::FrameState& st = timeline.frames[size_t(rng() % timeline.frames.size())];
      renderer.draw(st, b.target[made].data_ptr<uint8_t>(), nullptr, parts);
      const studio::CameraPose& c = st.camera;
      const float v[6] = {c.x, c.y, c.z, c.yaw, c.pitch, c.focal};
      for (int i = 0; i < 6; ++i) b.poses[made][i] = v[i];
      b.looks[made] = int64_t(look_index(spec));
    }
  }
  b.target = b.target.permute({0, 3, 1, 2}).to(torch::kFloat32) / 255;
  return b;
}

// Sprite targets: [N, 4, 48, 48] (premultiplied RGB, coverage) with their conditions [N, D].
struct SpriteBatch {
  torch::Tensor target, condition;
};

// The on-screen sizes a sprite target is drawn at (its box's larger side, pixels): 96 is cut to
// 48 by averaging, as before session 9; the smaller ones are drawn at that size by the studio
// (which keeps thin things such as a balloon's string and a ball's stripes a pixel wide however
// small the object is) and spread to 48 by repeating pixels, so that the renderer's shrinking
// of the 48 px sprite to its box gives that small drawing back. Most objects in a wide shot are
// 3-15 px: the small sizes are drawn most.
constexpr std::array<int, 7> kSpriteRenderSizes{96, 48, 24, 16, 12, 8, 8};
constexpr std::array<double, 7> kSpriteRenderWeights{0.25, 0.1, 0.1, 0.15, 0.15, 0.15, 0.1};

SpriteBatch sprite_batch(std::mt19937_64& rng, int count) {
  namespace F = torch::nn::functional;
  std::discrete_distribution<size_t> size_pick(kSpriteRenderWeights.begin(), kSpriteRenderWeights.end());
  std::vector<torch::Tensor> targets;
  std::vector<float> conditions;
  int made = 0;
  while (made < count) {
    const studio::SceneSpec spec = train::random_scene(rng, 4.0);
    const int entities = int(spec.objects.size() + spec.characters.size());
    if (entities == 0) continue;
    const int R = kSpriteRenderSizes[size_pick(rng)];
    const studio::Timeline timeline = studio::simulate(spec, rng(), 12, 16000);
    const studio::FrameRenderer renderer(spec, rng(), R, R);
    for (int k = 0; k < 4 && made < count; ++k) {
      studio::FrameState st = timeline.frames[size_t(rng() % timeline.frames.size())];
      const int e = int(rng() % uint64_t(entities));
      const studio::EntityPose& pose = st.entities[size_t(e)];
      if (!pose.present) continue;
      const SpriteBox box = sprite_box(spec, e);
      const float bw = box.x1 - box.x0, bh = box.y1 - box.y0, side = std::max(bw, bh);
      const float ppm = float(R) / side, distance = 6.0f;
      st.camera.x = pose.x + 0.5f * (box.x0 + box.x1);
      st.camera.y = pose.y + 0.5f * (box.y0 + box.y1);
      st.camera.z = pose.z - distance;
      st.camera.yaw = 0, st.camera.pitch = 0;
      st.camera.focal = ppm * distance / float(R);
      studio::DrawParts parts;
      parts.background = false, parts.only_entity = e, parts.shadows = false, parts.weather = false, parts.lens = false;
      auto black = torch::empty({R, R, 3}, torch::kUInt8), white = torch::empty({R, R, 3}, torch::kUInt8);
      renderer.draw(st, black.data_ptr<uint8_t>(), nullptr, parts);
      std::fill(parts.fill, parts.fill + 3, uint8_t(255));
      renderer.draw(st, white.data_ptr<uint8_t>(), nullptr, parts);
      // The box inside the square render, in grid_sample's [-1, 1] (x right, y down), sampled
      // at the box's own pixels: R x R for 96, (bh, bw) / side x R for the small sizes.
      const int64_t out_w = R == 96 ? R : std::max<int64_t>(1, std::lround(R * bw / side));
      const int64_t out_h = R == 96 ? R : std::max<int64_t>(1, std::lround(R * bh / side));
      const float half_w = 0.5f * bw / side, half_h = 0.5f * bh / side;
      // Pixel centres across the box: (i + 0.5) / n of its width, in the render's [-1, 1].
      auto xs = (torch::arange(out_w, torch::kFloat32).add(0.5f) / float(out_w) * 2 - 1) * half_w * 2;
      auto ys = (torch::arange(out_h, torch::kFloat32).add(0.5f) / float(out_h) * 2 - 1) * half_h * 2;
      const auto grid = torch::stack({xs.view({1, out_w}).expand({out_h, out_w}), ys.view({out_h, 1}).expand({out_h, out_w})}, -1).unsqueeze(0);
      auto cut = [&](const torch::Tensor& image) {
        const auto x = image.permute({2, 0, 1}).unsqueeze(0).to(torch::kFloat32) / 255;
        const auto sampled = F::grid_sample(x, grid, F::GridSampleFuncOptions().mode(torch::kBilinear).align_corners(false));
        if (R == 96) return F::avg_pool2d(sampled, F::AvgPool2dFuncOptions(R / kSpritePixels));
        return F::interpolate(sampled, F::InterpolateFuncOptions().size(std::vector<int64_t>{kSpritePixels, kSpritePixels}).mode(torch::kNearest));
      };
      const auto b = cut(black), w = cut(white);
      const auto coverage = (1 - (w - b).mean(1, true)).clamp(0, 1);
      targets.push_back(torch::cat({b, coverage}, 1));
      const auto c = sprite_condition(spec, e, pose, st.time, float(R));
      conditions.insert(conditions.end(), c.begin(), c.end());
      ++made;
    }
  }
  SpriteBatch s;
  s.target = torch::cat(targets, 0);
  s.condition = torch::from_blob(conditions.data(), {count, kSpriteConditionDims}).clone();
  return s;
}

// A random studio identity and its portrait, for the identity reader.
studio::Identity random_identity(std::mt19937_64& rng) {
  auto pick = [&](size_t n) { return int(rng() % n); };
  studio::Identity id;
  id.skin = studio::SkinTone(pick(studio::kSkinToneNames.size()));
  id.hair_color = studio::HairColor(pick(studio::kHairColorNames.size()));
  id.hair_style = studio::HairStyle(pick(studio::kHairStyleNames.size()));
  id.shirt = studio::Color(pick(studio::kColorNames.size()));
  id.accessory = studio::Accessory(pick(studio::kAccessoryNames.size()));
  return id;
}

// Portraits [N, 3, 64, 64] and their identities' targets [N, 5].
std::pair<torch::Tensor, torch::Tensor> portrait_batch(std::mt19937_64& rng, int count) {
  std::vector<torch::Tensor> pictures, targets;
  for (int i = 0; i < count; ++i) {
    studio::CharacterSpec person;
    person.identity = random_identity(rng);
    pictures.push_back(portrait_tensor(train::identity_portrait(person, kIdentityPixels, rng())));
    targets.push_back(identity_targets(person.identity));
  }
  return {torch::stack(pictures), torch::stack(targets)};
}

// Mean absolute difference between neighbouring texels of textures [..., h, w]. Adam moves every
// texel a ray touched by about the learning rate, however rarely it is seen, which left the
// ground a coloured mottle (session 6); this pulls the rarely seen ones toward their neighbours.
torch::Tensor total_variation(const torch::Tensor& texture) {
  const int64_t h = texture.size(-2), w = texture.size(-1);
  return (texture.narrow(-2, 1, h - 1) - texture.narrow(-2, 0, h - 1)).abs().mean() +
         (texture.narrow(-1, 1, w - 1) - texture.narrow(-1, 0, w - 1)).abs().mean();
}

torch::Tensor texture_smoothness(BackgroundField& background) {
  // The planes' colour only (their alpha edges are meant to be sharp); the planes hold 30
  // times the ground's texels, so their mean difference counts ten times.
  return total_variation(background->ground_tile) + total_variation(background->ground_map) +
         10 * total_variation(background->planes.narrow(2, 0, 3)) + total_variation(background->sky);
}

// Per-frame weights [N] (mean 1) of the background error: 1 / (mean brightness + 0.15) raised to
// `strength`. A night frame's pixels are a tenth of a day frame's, so are its errors, and the
// plain mean let night skies stay blotched and night rain come out lit like day.
torch::Tensor brightness_weights(const torch::Tensor& target, double strength) {
  auto w = torch::pow(target.mean({1, 2, 3}) + 0.15, -strength);
  return w / w.mean();
}

void save(LayeredRenderer& model, IdentityReader& identity, const std::string& path, int64_t step, double cpu_seconds) {
  safetensors::File file;
  file.metadata["opsis.part"] = "mini2-layered-renderer";
  file.metadata["opsis.step"] = std::to_string(step);
  file.metadata["opsis.cpu_seconds"] = std::to_string(cpu_seconds);
  add_tensors(file, *model, "renderer.");
  add_tensors(file, *identity, "identity.");
  const std::string temporary = path + ".partial";
  safetensors::write(temporary, file);
  fs::rename(temporary, path);
}

struct Loaded {
  int64_t step = 0;
  double cpu_seconds = 0;
  bool upgraded = false;  // written before the sprite's size was a condition: its optimiser state no longer fits
};

Loaded load(LayeredRenderer& model, IdentityReader& identity, const std::string& path) {
  safetensors::File file = safetensors::read(path);
  const bool upgraded = upgrade_renderer_tensors(file);
  load_tensors(*model, file, "renderer.");
  if (has_part(file, "identity.")) load_tensors(*identity, file, "identity.");
  return {file.metadata.count("opsis.step") ? std::stoll(file.metadata.at("opsis.step")) : 0,
          train::RunClock::from_metadata(file.metadata, "opsis.cpu_seconds"), upgraded};
}

// One batch of sprite targets beside the network's sprites for the same conditions: each
// row is target colour, target coverage, sprite colour, sprite coverage (48 px each).
int dump_sprites(const Options& o) {
  LayeredRenderer model;
  IdentityReader identity;
  if (fs::exists(o.out + "/renderer.safetensors")) load(model, identity, o.out + "/renderer.safetensors");
  std::mt19937_64 rng(o.seed);
  const SpriteBatch batch = sprite_batch(rng, 16);
  torch::Tensor made;
  {
    torch::NoGradGuard no_grad;
    made = model->sprites->forward(batch.condition);
  }
  auto tiles = [](const torch::Tensor& s) {  // [N, 4, P, P] -> [N, P, 2P, 3]
    const auto colour = s.index({Slice(), Slice(0, 3)}), cover = s.index({Slice(), Slice(3, 4)}).expand({-1, 3, -1, -1});
    return torch::cat({colour, cover}, 3).permute({0, 2, 3, 1});
  };
  const auto rows = torch::cat({tiles(batch.target), tiles(made)}, 2);  // [N, P, 4P, 3]
  const auto sheet = (rows.reshape({-1, rows.size(2), 3}).clamp(0, 1) * 255).round().to(torch::kUInt8).contiguous();
  Image image(int(sheet.size(1)), int(sheet.size(0)));
  std::copy(sheet.data_ptr<uint8_t>(), sheet.data_ptr<uint8_t>() + sheet.numel(), image.pixels.begin());
  fs::create_directories(o.dump_sprites);
  const auto png = media::encode_png(image);
  std::ofstream(o.dump_sprites + "/sprites.png", std::ios::binary).write(reinterpret_cast<const char*>(png.data()), std::streamsize(png.size()));
  std::printf("wrote %s/sprites.png\n", o.dump_sprites.c_str());
  return 0;
}

int train_renderer(const Options& o) {
  fs::create_directories(o.out);
  const std::string weights_path = o.out + "/renderer.safetensors", optimizer_path = o.out + "/optimizer.pt";
  LayeredRenderer model;
  IdentityReader identity;
  torch::optim::Adam identity_optimizer(identity->parameters(), torch::optim::AdamOptions(1e-3));
  int64_t step = 0;
  double earlier_cpu_seconds = 0;
  std::vector<torch::Tensor> textures, looks, net;
  // Per-look tensors (a look is in about one background frame in 50, night rain's in one in 120)
  // get their own, lower rate: Adam keeps moving a parameter for some ten steps after its
  // gradient stops (its momentum), so at the textures' rate every appearance of a look moved
  // its light by about 0.1 — as large as a night look's whole light scale — and night looks
  // never settled (blotched skies, night rain lit like day).
  for (const auto& item : model->background->named_parameters(false)) {
    const bool per_look = item.key() == "sky" || item.key() == "light_scale" || item.key() == "light_bias" ||
                          item.key() == "haze" || item.key() == "fog_log_distance";
    (per_look ? looks : textures).push_back(item.value());
  }
  for (auto& p : model->sprites->parameters()) net.push_back(p);
  auto make_optimizer = [&] {
    return std::make_unique<torch::optim::Adam>(std::vector<torch::optim::OptimizerParamGroup>{
        torch::optim::OptimizerParamGroup(textures, std::make_unique<torch::optim::AdamOptions>(o.texture_lr)),
        torch::optim::OptimizerParamGroup(net, std::make_unique<torch::optim::AdamOptions>(o.net_lr)),
        torch::optim::OptimizerParamGroup(looks, std::make_unique<torch::optim::AdamOptions>(o.look_lr))});
  };
  std::unique_ptr<torch::optim::Adam> optimizer = make_optimizer();
  if (fs::exists(weights_path)) {
    const Loaded loaded = load(model, identity, weights_path);
    step = loaded.step, earlier_cpu_seconds = loaded.cpu_seconds;
    if (loaded.upgraded) std::printf("the sprite network gained its on-screen size input: the optimiser starts afresh\n");
    if (fs::exists(optimizer_path) && !loaded.upgraded) {
      // Runs before session 9 kept two parameter groups (the per-look group is new): their
      // optimiser state does not fit, and the optimiser starts afresh.
      try {
        torch::load(*optimizer, optimizer_path);
      } catch (const std::exception&) {
        std::printf("the optimiser state in %s has another grouping: the optimiser starts afresh\n", optimizer_path.c_str());
        optimizer = make_optimizer();
      }
    }
    std::printf("resuming from %s at step %lld\n", weights_path.c_str(), (long long)step);
  } else if (!o.init.empty()) {
    // The shipped weights, when the run folder was lost with the machine.
    safetensors::File file = safetensors::read(o.init);
    upgrade_renderer_tensors(file);
    load_tensors(*model, file, "renderer.");
    if (has_part(file, "identity.")) load_tensors(*identity, file, "identity.");
    step = file.metadata.count("opsis.renderer_step") ? std::stoll(file.metadata.at("opsis.renderer_step")) : 0;
    earlier_cpu_seconds = train::RunClock::from_metadata(file.metadata, "opsis.renderer_cpu_seconds");
    std::printf("starting from %s at step %lld\n", o.init.c_str(), (long long)step);
  }
  std::printf("opsis-mini 2 layered renderer: %lld background parameters, %lld sprite parameters\n",
              (long long)[&] { int64_t n = 0; for (auto& p : textures) n += p.numel(); return n; }(),
              (long long)[&] { int64_t n = 0; for (auto& p : net) n += p.numel(); return n; }());
  std::ofstream curve =
      train::open_learning_curve(o.out + "/loss.tsv", "step\tseconds\tbackground_l1\tsprite_l1\tcoverage_l1\tdata_s\tcpu_seconds");
  const train::RunClock clock(earlier_cpu_seconds);
  std::mt19937_64 rng(o.seed * 7919 + uint64_t(step));
  const auto started = std::chrono::steady_clock::now();
  double data_seconds = 0, sum_bg = 0, sum_sprite = 0, sum_cover = 0, sum_identity = 0;
  int window = 0;
  while (!g_stop && step < o.steps) {
    const auto t0 = std::chrono::steady_clock::now();
    const bool vertical = step % 3 == 2;  // native sizes: 128x72 and 72x128
    const BackgroundBatch bg = background_batch(rng, o.background_batch, vertical ? 72 : 128, vertical ? 128 : 72, o.rain_share);
    const SpriteBatch sp = sprite_batch(rng, o.sprite_batch);
    data_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    const auto picture = model->background->forward(bg.poses, bg.looks, int(bg.target.size(2)), int(bg.target.size(3)));
    const auto bg_error = (picture - bg.target).abs().mean({1, 2, 3});  // [N]
    const auto bg_loss = bg_error.mean();  // logged: the curve stays comparable
    const auto bg_weight = brightness_weights(bg.target, o.dark_weight);
    const auto sprite = model->sprites->forward(sp.condition);
    // Errors inside the entity count five times: most of a patch is empty.
    const auto weight = 1 + 4 * sp.target.index({Slice(), Slice(3, 4)});
    const auto sprite_loss = ((sprite - sp.target).abs() * weight).mean();
    optimizer->zero_grad();
    ((bg_error * bg_weight).mean() + sprite_loss + o.smoothness * texture_smoothness(model->background)).backward();
    optimizer->step();
    const auto [portraits, identities] = portrait_batch(rng, 8);
    const auto id_loss = identity_loss(identity->forward(portraits), identities);
    identity_optimizer.zero_grad();
    id_loss.backward();
    identity_optimizer.step();
    sum_identity += id_loss.item<double>();
    ++step;
    sum_bg += bg_loss.item<double>();
    sum_sprite += ((sprite.index({Slice(), Slice(0, 3)}) - sp.target.index({Slice(), Slice(0, 3)})).abs().mean()).item<double>();
    sum_cover += ((sprite.index({Slice(), 3}) - sp.target.index({Slice(), 3})).abs().mean()).item<double>();
    ++window;
    if (step % 10 == 0) {
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      std::printf("step %lld  %.0f s  background %.4f  sprite %.4f  coverage %.4f  identity %.3f  data %.0f%%\n", (long long)step,
                  seconds, sum_bg / window, sum_sprite / window, sum_cover / window, sum_identity / window, 100 * data_seconds / seconds);
      std::fflush(stdout);
      curve << step << '\t' << seconds << '\t' << sum_bg / window << '\t' << sum_sprite / window << '\t' << sum_cover / window
            << '\t' << data_seconds << '\t' << clock.cpu_seconds() << '\n';
      curve.flush();
      sum_bg = sum_sprite = sum_cover = sum_identity = 0, window = 0;
    }
    if (step % o.checkpoint_every == 0 || g_stop || step == o.steps) {
      save(model, identity, weights_path, step, clock.cpu_seconds());
      torch::save(*optimizer, optimizer_path + ".partial");
      fs::rename(optimizer_path + ".partial", optimizer_path);
      if (!o.export_path.empty()) save(model, identity, o.export_path, step, clock.cpu_seconds());
      std::printf("step %lld: saved %s\n", (long long)step, weights_path.c_str());
    }
  }
  return 0;
}

// Reads held-out probe scenes through the probes as the studio draws them and as the
// learned renderer draws them from the same states.
// Each look's background error: mean |learned - studio| over `frames` frames of that look,
// and the same relative to the frames' mean brightness (what a viewer sees of a night sky).
int look_errors(const Options& o) {
  LayeredRenderer model;
  IdentityReader identity;
  const int64_t step = load(model, identity, o.out + "/renderer.safetensors").step;
  model->eval();
  torch::NoGradGuard no_grad;
  std::mt19937_64 rng(o.seed * 131 + 3);
  std::printf("background error per look at step %lld (%d frames each, 128x72): L1 / relative to brightness\n", (long long)step,
              o.look_errors);
  std::printf("  %-12s %18s %18s %18s %18s %18s %18s\n", "setting", "day", "day rain", "golden", "golden rain", "night", "night rain");
  double worst = 0;
  for (int setting = 0; setting < kSettings; ++setting) {
    std::printf("  %-12s", std::string(studio::name(studio::Setting(setting))).c_str());
    for (int k = 0; k < 6; ++k) {
      const int look = setting * 6 + k;
      const BackgroundBatch bg = background_batch(rng, o.look_errors, 128, 72, 0.5, look);
      const auto picture = model->background->forward(bg.poses, bg.looks, 72, 128).clamp(0, 1);
      const double l1 = (picture - bg.target).abs().mean().item<double>(), bright = bg.target.mean().item<double>();
      worst = std::max(worst, l1 / (bright + 1e-3));
      if (!o.preview_dir.empty()) {  // the first frame, studio above learned
        fs::create_directories(o.preview_dir);
        const auto pair = (torch::cat({bg.target[0], picture[0]}, 1).permute({1, 2, 0}) * 255).round().to(torch::kUInt8).contiguous();
        Image image(128, 144);
        std::copy(pair.data_ptr<uint8_t>(), pair.data_ptr<uint8_t>() + pair.numel(), image.pixels.begin());
        const auto png = media::encode_png(image);
        std::ofstream(o.preview_dir + "/look" + std::to_string(look) + ".png", std::ios::binary)
            .write(reinterpret_cast<const char*>(png.data()), std::streamsize(png.size()));
      }
      std::printf("      %.3f / %4.0f%%", l1, 100 * l1 / (bright + 1e-3));
    }
    std::printf("\n");
  }
  std::printf("  worst relative error %.0f%%\n", 100 * worst);
  return 0;
}

int evaluate(const Options& o) {
  LayeredRenderer model;
  IdentityReader identity;
  const int64_t step = load(model, identity, o.out + "/renderer.safetensors").step;
  model->eval();
  identity->eval();
  const eval::Probes probes = eval::Probes::load(o.probes_path);
  std::mt19937_64 rng(o.seed * 31 + 5);
  const int width = 128, height = 72, fps = eval::kProbeFps;
  std::array<int, eval::kSceneHeads> total{}, original{}, learned{};
  std::array<int, eval::kCharacterHeads> person_total{}, person_original{}, person_learned{};
  double sum_psnr = 0;
  int psnr_frames = 0;
  auto learned_video = [&](const studio::SceneSpec& spec, uint64_t seed) {
    const studio::Timeline timeline = studio::simulate(spec, seed, fps, 16000);
    const auto frames = render_clip(model, spec, timeline.frames, width, height);
    Video v;
    v.width = width, v.height = height, v.fps_num = fps, v.fps_den = 1;
    v.rgb.assign(frames.data_ptr<uint8_t>(), frames.data_ptr<uint8_t>() + frames.numel());
    return v;
  };
  for (int i = 0; i < o.evaluate; ++i) {
    const studio::SceneSpec spec = eval::probe_object_scene(rng, true);
    const uint64_t seed = rng();
    studio::RenderOptions ro{width, height, fps, 16000, seed, false};
    ro.scenery_seed = studio::fixed_scenery_seed(spec.setting);
    const studio::Clip clip = studio::render_clip(spec, ro);
    const Video made = learned_video(spec, seed);
    for (int f = 0; f < made.frame_count(); f += 6) {
      double se = 0;
      const uint8_t *a = clip.video.frame(f), *b = made.frame(f);
      for (size_t k = 0; k < made.frame_bytes(); ++k) se += double(a[k] - b[k]) * double(a[k] - b[k]);
      sum_psnr += 10 * std::log10(255.0 * 255.0 / std::max(1e-9, se / double(made.frame_bytes())));
      ++psnr_frames;
    }
    const auto truth = eval::scene_labels(spec);
    const auto a = probes.read_scene(clip.video), b = probes.read_scene(made);
    for (int h = 0; h < eval::kSceneHeads; ++h) {
      if (truth[size_t(h)] < 0) continue;
      ++total[size_t(h)];
      original[size_t(h)] += a[size_t(h)] == truth[size_t(h)];
      learned[size_t(h)] += b[size_t(h)] == truth[size_t(h)];
    }
    if (!o.preview_dir.empty() && i < 8) {
      fs::create_directories(o.preview_dir);
      for (int f : {0, made.frame_count() / 2, made.frame_count() - 1}) {
        Image pair(width, height * 2);
        std::copy(clip.video.frame(f), clip.video.frame(f) + clip.video.frame_bytes(), pair.pixels.begin());
        std::copy(made.frame(f), made.frame(f) + made.frame_bytes(), pair.pixels.begin() + ptrdiff_t(made.frame_bytes()));
        const auto png = media::encode_png(pair);
        std::ofstream(o.preview_dir + "/scene" + std::to_string(i) + "-frame" + std::to_string(f) + ".png", std::ios::binary)
            .write(reinterpret_cast<const char*>(png.data()), std::streamsize(png.size()));
      }
    }
    if (i % 2 == 0) {
      const studio::SceneSpec person = eval::probe_character_scene(rng);
      const uint64_t pseed = rng();
      studio::RenderOptions po{width, height, fps, 16000, pseed, false};
      po.scenery_seed = studio::fixed_scenery_seed(person.setting);
      const studio::Clip pclip = studio::render_clip(person, po);
      const auto boxes = eval::boxes_of(pclip, int(person.objects.size()));
      const auto ptruth = eval::character_labels(person);
      const auto pa = probes.read_character(pclip.video, boxes), pb = probes.read_character(learned_video(person, pseed), boxes);
      for (int h = 0; h < eval::kCharacterHeads; ++h) {
        if (ptruth[size_t(h)] < 0) continue;
        ++person_total[size_t(h)];
        person_original[size_t(h)] += pa[size_t(h)] == ptruth[size_t(h)];
        person_learned[size_t(h)] += pb[size_t(h)] == ptruth[size_t(h)];
      }
    }
  }
  std::printf("layered renderer at step %lld on %d held-out probe scenes (%dx%d): PSNR %.2f dB\n", (long long)step,
              o.evaluate, width, height, sum_psnr / std::max(1, psnr_frames));
  // The identity reader on fresh portraits: each attribute, and all five at once.
  std::array<int, 5> identity_right{};
  int all_right = 0;
  const int portraits = 100;
  for (int i = 0; i < portraits; ++i) {
    studio::CharacterSpec person;
    person.identity = random_identity(rng);
    const studio::Identity read = read_identity(identity, train::identity_portrait(person, kIdentityPixels, rng()));
    const std::array<bool, 5> same{read.skin == person.identity.skin, read.hair_color == person.identity.hair_color,
                                   read.hair_style == person.identity.hair_style, read.shirt == person.identity.shirt,
                                   read.accessory == person.identity.accessory};
    for (size_t k = 0; k < 5; ++k) identity_right[k] += same[k];
    all_right += std::all_of(same.begin(), same.end(), [](bool b) { return b; });
  }
  std::printf("identity reader on %d portraits: skin %d%%, hair colour %d%%, hair style %d%%, shirt %d%%, accessory %d%%, all five %d%%\n",
              portraits, identity_right[0], identity_right[1], identity_right[2], identity_right[3], identity_right[4], all_right);
  std::printf("  %-12s %8s %8s %8s %6s\n", "attribute", "studio", "learned", "points", "n");
  auto row = [](const char* name, int n, int a, int b) {
    if (n == 0) return;
    std::printf("  %-12s %7.1f%% %7.1f%% %+8.1f %6d\n", name, 100.0 * a / n, 100.0 * b / n, 100.0 * (b - a) / n, n);
  };
  for (int h = 0; h < eval::kSceneHeads; ++h) row(eval::kSceneHeadSpecs[size_t(h)].name, total[size_t(h)], original[size_t(h)], learned[size_t(h)]);
  for (int h = 0; h < eval::kCharacterHeads; ++h)
    row(eval::kCharacterHeadSpecs[size_t(h)].name, person_total[size_t(h)], person_original[size_t(h)], person_learned[size_t(h)]);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Trains opsis-mini 2's learned layered renderer on the studio world"};
  Options o;
  app.add_option("--out", o.out, "run folder (weights, optimiser state, loss.tsv)")->required();
  app.add_option("--threads", o.threads, "torch threads");
  app.add_option("--steps", o.steps, "stop after this many steps in all");
  app.add_option("--background-batch", o.background_batch, "background frames per step");
  app.add_option("--sprite-batch", o.sprite_batch, "sprites per step");
  app.add_option("--texture-lr", o.texture_lr, "learning rate of the background's textures");
  app.add_option("--look-lr", o.look_lr, "learning rate of the per-look sky, light and haze");
  app.add_option("--net-lr", o.net_lr, "learning rate of the sprite network");
  app.add_option("--checkpoint-every", o.checkpoint_every, "steps between saves");
  app.add_option("--seed", o.seed, "random seed");
  app.add_option("--export", o.export_path, "also write the weights here at each save");
  app.add_option("--smoothness", o.smoothness, "weight of the textures' total variation");
  app.add_option("--init", o.init, "a new run starts from this structured weights file");
  app.add_option("--rain-share", o.rain_share, "chance of rain in the background frames' scenes");
  app.add_option("--dark-weight", o.dark_weight, "0: plain background L1; 1: each frame's error over its brightness");
  app.add_option("--look-errors", o.look_errors, "only print each look's background error over this many frames");
  app.add_option("--evaluate", o.evaluate, "only read this many held-out probe scenes, studio vs learned");
  app.add_option("--preview", o.preview_dir, "with --evaluate: studio/learned frame pairs as PNG");
  app.add_option("--probes", o.probes_path, "with --evaluate: the probes' weights");
  app.add_option("--dump-sprites", o.dump_sprites, "write a batch of sprite targets and the network's sprites as PNG here, then stop");
  CLI11_PARSE(app, argc, argv);
  torch::set_num_threads(o.threads);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  try {
    if (!o.dump_sprites.empty()) return dump_sprites(o);
    if (o.look_errors > 0) return look_errors(o);
    return o.evaluate > 0 ? evaluate(o) : train_renderer(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "opsis-train-mini2-renderer: %s\n", e.what());
    return 1;
  }
}
