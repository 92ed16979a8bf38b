// opsis-train-mini2-autoencoder: trains opsis-mini 2's video autoencoder on frame pairs of
// freshly rendered studio clips (no dataset on disk). Rendering runs on a background thread.
// The loss: squared error, weighted up inside the truth boxes of objects and characters (small
// things are a sliver of a plain MSE), plus a per-cell classifier on the latent (which object
// colour or character covers each cell) so that the latent says what the generator needs.
// The decoder learns on latents with relative noise added, so that it tolerates the imperfect
// latents a generator makes. Checkpoints resume exactly; SIGINT/SIGTERM stop and save.
// --decoder-only trains the decoder alone on the frozen encoder's latents (optionally growing a
// refinement stage, --refine-width): the latent space, and a generator trained on it, stay
// valid, while the pictures it decodes to get better.
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
#include <thread>

#include "models/mini2/frames.hpp"
#include "models/mini2/video_autoencoder.hpp"
#include "models/mini2/weights.hpp"
#include "eval/probe_net.hpp"
#include "media/image_io.hpp"
#include "studio/studio.hpp"
#include "train/holdout.hpp"
#include "train/batch_queues.hpp"
#include "train/scenes.hpp"
#include "train/studio_truth.hpp"

namespace {
using namespace opsis;
using namespace opsis::mini2;
namespace fs = std::filesystem;

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop = true; }

struct Options {
  std::string out_dir = "runs/mini2-autoencoder";
  std::string export_path;
  std::string init_path;  // new runs: continue from an exported file's autoencoder (the run folder was lost)
  double minutes = 0;
  int steps = 1000000;
  int batch = 24;  // frame pairs per step
  double lr = 1e-3;
  double ema_decay = 0.999;
  double latent_noise = 0.1;   // relative to the latent's std
  double object_weight = 20.0;  // extra squared-error weight inside truth boxes (4 lost the small objects)
  double cell_weight = 0.2;
  int pairs_per_clip = 4;
  int threads = 0;
  int render_threads = 1;
  int log_every = 10;
  int checkpoint_every = 200;
  uint64_t seed = 1;
  int evaluate = 0;          // > 0: only measure the saved EMA weights on this many held-out clips
  std::string preview_dir;   // with --evaluate: original/reconstruction frame strips as PNG
  std::string probes_path = "models/opsis-probes.safetensors";  // with --evaluate: read originals and reconstructions
  int probe_clips = 0;       // with --evaluate: held-out probe scenes read through the probes (0 = none)
  bool decoder_only = false; // freeze the encoder, the cell head and the latent statistics (sticky: saved in the run)
  int refine_width = 0;      // new runs from --init: add a decoder refinement stage of this many channels
  int refine_blocks = 2;
};

// Loads `module` from `file`; parameters of a refinement stage the file does not have keep
// their initial values (a refined decoder grown from a plain one). Anything else missing throws.
void load_growing_refinement(VideoAutoencoder& module, const safetensors::File& file) {
  safetensors::File present = file;
  for (const auto& item : module->named_parameters(true)) {
    const std::string name = "autoencoder." + item.key();
    if (!file.tensors.count(name) && item.key().rfind("dec_refine", 0) == 0) {
      auto cpu = item.value().detach().to(torch::kCPU, torch::kFloat32).contiguous();
      present.tensors[name] = safetensors::Tensor::from_float(
          std::vector<float>(cpu.data_ptr<float>(), cpu.data_ptr<float>() + cpu.numel()), cpu.sizes().vec());
    }
  }
  load_tensors(*module, present, "autoencoder.");
}

struct Pair {
  torch::Tensor frames;  // [2, Hp, Wp, 3]
  torch::Tensor weight;  // [2, Hp, Wp]
  torch::Tensor cells;   // [h, w] int64 class of each latent cell (first frame of the pair)
};

void render_worker(int index, const AutoencoderConfig& config, const Options& o, train::BatchQueues<Pair>& queues, std::atomic<long>& clips) {
  std::mt19937_64 rng(o.seed * 1000003ull + uint64_t(index) * 7919ull + uint64_t(std::time(nullptr)));
  const auto sizes = config.sizes();
  std::discrete_distribution<size_t> size_choice({2.0, 1.0, 1.0});  // 16:9 most often
  while (!g_stop) {
    const size_t s = size_choice(rng);
    const auto [width, height] = sizes[s];
    try {
      const studio::SceneSpec spec = train::random_scene(rng, 2.0);
      const studio::RenderOptions options{width, height, config.fps, 16000, rng(), false};
      const studio::Clip clip = studio::render_clip(spec, options);
      const int pad_h = config.padded(height), pad_w = config.padded(width);
      std::vector<Pair> pairs;
      for (int i = 0; i < o.pairs_per_clip; ++i) {
        const int pairs_in_clip = clip.video.frame_count() / 2;
        const int first = 2 * std::uniform_int_distribution<int>(0, pairs_in_clip - 1)(rng);
        Pair p;
        p.frames = frames_tensor(clip.video, first, 2, pad_h, pad_w);
        const auto& a = clip.truth.frames[size_t(first)];
        const auto& b = clip.truth.frames[size_t(first + 1)];
        p.weight = torch::stack({train::box_weight_map(spec, a, pad_h, pad_w, o.object_weight),
                                 train::box_weight_map(spec, b, pad_h, pad_w, o.object_weight)});
        p.cells = train::cell_classes(spec, a, pad_h, pad_w);
        pairs.push_back(std::move(p));
      }
      queues.push(s, std::move(pairs));
      ++clips;
    } catch (const std::exception& ex) {
      std::fprintf(stderr, "render worker %d: skipped a scene: %s\n", index, ex.what());
    }
  }
}

void save_part(VideoAutoencoder& model, const std::string& path, safetensors::DType dtype,
               const std::map<std::string, std::string>& meta) {
  safetensors::File file;
  file.metadata = meta;
  Mini2Config config;
  config.autoencoder = model->config;
  file.metadata["opsis.config"] = config.to_json();
  file.metadata["opsis.model"] = kFormat;
  add_tensors(file, *model, "autoencoder.", dtype);
  safetensors::write(path, file);
}

// The evaluation's probes on held-out studio clips and on their reconstructions: what the
// autoencoder loses, in the terms the generator will be judged in (issue: within 3 points).
void probe_reconstructions(VideoAutoencoder& model, const AutoencoderConfig& config, const Options& o) {
  const eval::Probes probes = eval::Probes::load(o.probes_path);
  std::mt19937_64 rng(o.seed * 31 + 5);
  const int width = config.long_side, height = config.short_side;
  const int pad_h = config.padded(height), pad_w = config.padded(width);
  auto reconstruct = [&](const Video& video) {
    const int frames = video.frame_count() / 2 * 2;
    auto x = frames_tensor(video, 0, frames, pad_h, pad_w).unsqueeze(0);
    return tensor_video(model->decode(model->encode(x)).clamp(-1, 1)[0], width, height, config.fps);
  };
  std::array<int, eval::kSceneHeads> scene_total{}, scene_original{}, scene_rebuilt{};
  std::array<int, eval::kCharacterHeads> person_total{}, person_original{}, person_rebuilt{};
  int impacts = 0, impacts_original = 0, impacts_rebuilt = 0;
  auto found_near = [](const std::vector<double>& times, double t) {
    for (double x : times)
      if (std::abs(x - t) <= 0.042) return true;
    return false;
  };
  for (int i = 0; i < o.probe_clips; ++i) {
    const studio::SceneSpec spec = eval::probe_object_scene(rng, true);
    const studio::Clip clip = studio::render_clip(spec, {width, height, config.fps, 16000, rng(), false});
    const Video rebuilt = reconstruct(clip.video);
    const auto truth = eval::scene_labels(spec);
    const auto a = probes.read_scene(clip.video), b = probes.read_scene(rebuilt);
    for (int h = 0; h < eval::kSceneHeads; ++h) {
      if (truth[size_t(h)] < 0) continue;
      ++scene_total[size_t(h)];
      scene_original[size_t(h)] += a[size_t(h)] == truth[size_t(h)];
      scene_rebuilt[size_t(h)] += b[size_t(h)] == truth[size_t(h)];
    }
    const auto seen_original = probes.impacts(clip.video), seen_rebuilt = probes.impacts(rebuilt);
    for (const auto& event : clip.truth.events) {
      if (event.kind != studio::EventKind::Impact || event.entity < 0) continue;
      const size_t frame = std::min(clip.truth.frames.size() - 1, size_t(event.time * config.fps));
      if (!clip.truth.frames[frame].entities[size_t(event.entity)].visible) continue;
      ++impacts;
      impacts_original += found_near(seen_original, event.time);
      impacts_rebuilt += found_near(seen_rebuilt, event.time);
    }
    if (!spec.characters.empty() || i % 2 == 0) {
      const studio::SceneSpec person = eval::probe_character_scene(rng);
      const studio::Clip pclip = studio::render_clip(person, {width, height, config.fps, 16000, rng(), false});
      const auto boxes = eval::boxes_of(pclip, int(person.objects.size()));
      const auto ptruth = eval::character_labels(person);
      const auto pa = probes.read_character(pclip.video, boxes), pb = probes.read_character(reconstruct(pclip.video), boxes);
      for (int h = 0; h < eval::kCharacterHeads; ++h) {
        if (ptruth[size_t(h)] < 0) continue;
        ++person_total[size_t(h)];
        person_original[size_t(h)] += pa[size_t(h)] == ptruth[size_t(h)];
        person_rebuilt[size_t(h)] += pb[size_t(h)] == ptruth[size_t(h)];
      }
    }
  }
  std::printf("probes on %d held-out studio clips (128x72) and on their reconstructions:\n", o.probe_clips);
  std::printf("  %-12s %8s %8s %8s %6s\n", "attribute", "studio", "rebuilt", "points", "n");
  auto row = [](const char* name, int n, int a, int b) {
    if (n == 0) return;
    std::printf("  %-12s %7.1f%% %7.1f%% %+8.1f %6d\n", name, 100.0 * a / n, 100.0 * b / n, 100.0 * (b - a) / n, n);
  };
  for (int h = 0; h < eval::kSceneHeads; ++h)
    row(eval::kSceneHeadSpecs[size_t(h)].name, scene_total[size_t(h)], scene_original[size_t(h)], scene_rebuilt[size_t(h)]);
  for (int h = 0; h < eval::kCharacterHeads; ++h)
    row(eval::kCharacterHeadSpecs[size_t(h)].name, person_total[size_t(h)], person_original[size_t(h)], person_rebuilt[size_t(h)]);
  row("impacts", impacts, impacts_original, impacts_rebuilt);
}

// Measures the autoencoder on studio clips of the held-out combinations (the generator's
// evaluation prompts): PSNR over the picture and inside the truth boxes, decode time.
int evaluate(const Options& o) {
  const std::string ema_path = (fs::path(o.out_dir) / "ema.safetensors").string();
  const auto file = safetensors::read(ema_path);
  const AutoencoderConfig config = read_config(file).autoencoder;
  VideoAutoencoder model(config);
  load_tensors(*model, file, "autoencoder.");
  model->eval();
  torch::NoGradGuard no_grad;
  if (!o.preview_dir.empty()) fs::create_directories(o.preview_dir);
  const auto& objects = train::held_out_objects();
  const auto& shots = train::held_out_shots();
  const auto sizes = config.sizes();
  std::mt19937_64 rng(o.seed);
  double sum_psnr = 0, sum_object_psnr = 0, decode_ms = 0;
  int object_clips = 0, frames_decoded = 0;
  for (int i = 0; i < o.evaluate; ++i) {
    studio::SceneSpec spec;
    const auto& shot = shots[size_t(i) % shots.size()];
    const auto& object = objects[size_t(i) % objects.size()];
    spec.setting = shot.setting;
    spec.time_of_day = studio::TimeOfDay(i % 3);
    spec.shots[0].camera = shot.camera;
    spec.shots[0].seconds = 2.0;
    spec.objects.push_back({object.kind, object.color, studio::Size(i % 2), object.motion});
    if (i % 3 == 0) {
      studio::CharacterSpec character;
      character.identity.name = "Mia";
      character.action = studio::Action::Waves;
      spec.characters.push_back(character);
    }
    const auto [width, height] = sizes[size_t(i) % sizes.size()];
    const studio::Clip clip = studio::render_clip(spec, {width, height, config.fps, 16000, rng(), false});
    const int frames = clip.video.frame_count() / 2 * 2;
    const int pad_h = config.padded(height), pad_w = config.padded(width);
    auto x = frames_tensor(clip.video, 0, frames, pad_h, pad_w).unsqueeze(0);
    auto z = model->encode(x);
    const auto started = std::chrono::steady_clock::now();
    auto y = model->decode(z).clamp(-1, 1);
    decode_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
    frames_decoded += frames;
    auto crop = [&](const torch::Tensor& t) { return t[0].narrow(1, 0, height).narrow(2, 0, width); };
    auto squared = (crop(y) - crop(x)).pow(2).mean(-1);  // [F, h, w]
    sum_psnr += 10 * std::log10(4.0 / squared.mean().item<double>());
    std::vector<torch::Tensor> inside;
    for (int f = 0; f < frames; ++f)
      inside.push_back(train::box_weight_map(spec, clip.truth.frames[size_t(f)], height, width, 1.0) > 1);
    auto mask = torch::stack(inside).to(torch::kFloat32);
    if (mask.sum().item<double>() > 0) {
      sum_object_psnr += 10 * std::log10(4.0 / ((squared * mask).sum() / mask.sum()).item<double>());
      ++object_clips;
    }
    if (!o.preview_dir.empty() && i < 6) {
      // 4 frames across the clip: originals above, reconstructions below.
      Image strip(4 * width, 2 * height);
      for (int k = 0; k < 4; ++k) {
        const int f = k * (frames - 1) / 3;
        const Video original = tensor_video(crop(x).narrow(0, f, 1), width, height, config.fps);
        const Video rebuilt = tensor_video(crop(y).narrow(0, f, 1), width, height, config.fps);
        for (int row = 0; row < height; ++row) {
          std::copy_n(original.rgb.data() + size_t(row) * width * 3, size_t(width) * 3, strip.row(row) + size_t(k) * width * 3);
          std::copy_n(rebuilt.rgb.data() + size_t(row) * width * 3, size_t(width) * 3,
                      strip.row(height + row) + size_t(k) * width * 3);
        }
      }
      media::write_file_atomic((fs::path(o.preview_dir) / ("clip" + std::to_string(i) + ".png")).string(), media::encode_png(strip));
    }
  }
  std::printf("autoencoder step %s on %d held-out studio clips (2 s, native sizes): PSNR %.2f dB, inside objects %.2f dB, "
              "decode %.2f ms per frame\n",
              file.metadata.count("opsis.step") ? file.metadata.at("opsis.step").c_str() : "?", o.evaluate,
              sum_psnr / o.evaluate, sum_object_psnr / std::max(1, object_clips), decode_ms / std::max(1, frames_decoded));
  if (o.probe_clips > 0) probe_reconstructions(model, config, o);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"opsis-train-mini2-autoencoder: train opsis-mini 2's video autoencoder on the studio world"};
  app.add_option("--out", o.out_dir, "folder for checkpoint.safetensors, ema.safetensors, optimizer.pt, loss.tsv (resumes)");
  app.add_option("--export", o.export_path, "also write the EMA weights in half precision here at each checkpoint");
  app.add_option("--init", o.init_path, "new runs: continue from an exported file's autoencoder (e.g. the shipped weights)");
  app.add_option("--minutes", o.minutes, "stop after this many minutes of this run (0 = no limit)");
  app.add_option("--steps", o.steps, "stop after this many optimiser steps (total, across resumes)");
  app.add_option("--batch", o.batch, "frame pairs per step");
  app.add_option("--lr", o.lr, "AdamW learning rate");
  app.add_option("--ema", o.ema_decay, "decay of the moving average of the weights (what is exported)");
  app.add_option("--latent-noise", o.latent_noise, "noise added to the latent before decoding, relative to its std");
  app.add_option("--object-weight", o.object_weight, "extra squared-error weight inside truth boxes");
  app.add_option("--cell-weight", o.cell_weight, "weight of the per-cell class loss");
  app.add_option("--pairs-per-clip", o.pairs_per_clip, "frame pairs taken from each rendered clip");
  app.add_option("--threads", o.threads, "libtorch threads (0 = default)");
  app.add_option("--render-threads", o.render_threads, "background rendering threads");
  app.add_option("--log-every", o.log_every);
  app.add_option("--checkpoint-every", o.checkpoint_every);
  app.add_option("--seed", o.seed);
  app.add_option("--evaluate", o.evaluate, "only measure the saved EMA weights (in --out) on this many held-out studio clips");
  app.add_option("--preview", o.preview_dir, "with --evaluate: write original/reconstruction strips (PNG) here");
  app.add_option("--probe-clips", o.probe_clips, "with --evaluate: read this many held-out studio clips and their reconstructions with the probes");
  app.add_option("--probes", o.probes_path, "with --probe-clips: the probes' weights");
  app.add_flag("--decoder-only", o.decoder_only,
               "train only the decoder on the frozen encoder's latents (the latent space and its statistics stay)");
  app.add_option("--refine-width", o.refine_width, "with --init (or a new run): add a decoder refinement stage of this many channels");
  app.add_option("--refine-blocks", o.refine_blocks, "residual blocks of the refinement stage");
  CLI11_PARSE(app, argc, argv);
  if (o.evaluate > 0) {
    try {
      if (o.threads > 0) torch::set_num_threads(o.threads);
      return evaluate(o);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "opsis-train-mini2-autoencoder: error: %s\n", e.what());
      return 1;
    }
  }

  try {
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    if (o.threads > 0) torch::set_num_threads(o.threads);
    torch::manual_seed(o.seed);
    fs::create_directories(o.out_dir);
    const std::string checkpoint = (fs::path(o.out_dir) / "checkpoint.safetensors").string();
    const std::string ema_path = (fs::path(o.out_dir) / "ema.safetensors").string();
    const std::string optimizer_path = (fs::path(o.out_dir) / "optimizer.pt").string();

    int step = 0;
    AutoencoderConfig config;
    VideoAutoencoder model(config), ema(config);
    if (fs::exists(checkpoint)) {
      const auto file = safetensors::read(checkpoint);
      config = read_config(file).autoencoder;
      model = VideoAutoencoder(config);
      ema = VideoAutoencoder(config);
      load_tensors(*model, file, "autoencoder.");
      load_tensors(*ema, fs::exists(ema_path) ? safetensors::read(ema_path) : file, "autoencoder.");
      step = std::stoi(file.metadata.at("opsis.step"));
      if (file.metadata.count("opsis.decoder_only") && file.metadata.at("opsis.decoder_only") == "1") o.decoder_only = true;
      std::fprintf(stderr, "resuming from %s at step %d\n", checkpoint.c_str(), step);
    } else if (!o.init_path.empty()) {
      // The shipped weights are the EMA: both the live and the averaged weights start there
      // (the optimiser starts afresh, with a new warm-up).
      const auto file = safetensors::read(o.init_path);
      config = read_config(file).autoencoder;
      if (o.refine_width > 0 && config.refine_width == 0) {
        config.refine_width = o.refine_width;
        config.refine_blocks = o.refine_blocks;
      }
      model = VideoAutoencoder(config);
      ema = VideoAutoencoder(config);
      load_growing_refinement(model, file);
      {
        torch::NoGradGuard no_grad;
        auto from = model->named_parameters(true);
        for (auto& item : ema->named_parameters(true)) item.value().copy_(from[item.key()]);
      }
      step = file.metadata.count("opsis.step") ? std::stoi(file.metadata.at("opsis.step")) : 0;
      std::fprintf(stderr, "continuing from %s at step %d\n", o.init_path.c_str(), step);
    } else {
      if (o.decoder_only) throw std::runtime_error("--decoder-only needs a trained encoder: resume a run or give --init");
      config.refine_width = o.refine_width;
      config.refine_blocks = o.refine_blocks;
      model = VideoAutoencoder(config);
      ema = VideoAutoencoder(config);
      torch::NoGradGuard no_grad;
      auto from = model->named_parameters(true);
      for (auto& item : ema->named_parameters(true)) item.value().copy_(from[item.key()]);
    }
    if (o.decoder_only)
      for (auto& item : model->named_parameters(true))
        if (!VideoAutoencoderImpl::is_decoder_parameter(item.key())) item.value().set_requires_grad(false);
    const int warmup_from = fs::exists(checkpoint) ? 0 : step;
    model->train();
    long parameters = 0;
    for (const auto& p : model->parameters()) parameters += p.numel();
    std::fprintf(stderr, "opsis-mini 2 video autoencoder: %ld parameters, %d latent channels, refinement width %d%s\n",
                 parameters, config.channels, config.refine_width, o.decoder_only ? " (training the decoder only)" : "");

    std::vector<torch::Tensor> trainable;
    for (auto& p : model->parameters())
      if (p.requires_grad()) trainable.push_back(p);
    torch::optim::AdamW optimizer(trainable, torch::optim::AdamWOptions(o.lr).betas({0.9, 0.99}).weight_decay(0.01));
    if (fs::exists(checkpoint) && fs::exists(optimizer_path)) torch::load(optimizer, optimizer_path);

    train::BatchQueues<Pair> queues(config.sizes().size(), size_t(std::max(64, 4 * o.batch)), g_stop, /*shuffle=*/true);
    std::atomic<long> clips{0};
    std::vector<std::thread> workers;
    for (int i = 0; i < o.render_threads; ++i)
      workers.emplace_back(render_worker, i, std::cref(config), std::cref(o), std::ref(queues), std::ref(clips));

    std::ofstream log((fs::path(o.out_dir) / "loss.tsv").string(), std::ios::app);
    if (step == 0) log << "step\telapsed_s\tloss\tpsnr_db\tobject_psnr_db\tcell_accuracy\tlr\tpairs_per_s\tclips_rendered\n";
    const auto started = std::chrono::steady_clock::now();
    auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(); };
    double sum_loss = 0, sum_mse = 0, sum_object_mse = 0, sum_cells = 0;
    int since_log = 0;
    double last_log_time = 0;
    // Running statistics of the latent per channel (what the generator normalises with).
    torch::Tensor running_mean = ema->latent_mean.detach().clone(), running_var = ema->latent_std.detach().pow(2);

    auto save = [&] {
      {
        torch::NoGradGuard no_grad;
        ema->latent_mean.copy_(running_mean);
        ema->latent_std.copy_(running_var.sqrt().clamp_min(1e-3));
        model->latent_mean.copy_(running_mean);
        model->latent_std.copy_(running_var.sqrt().clamp_min(1e-3));
      }
      std::map<std::string, std::string> meta{{"opsis.step", std::to_string(step)},
                                              {"opsis.trained_on", "studio world frame pairs, rendered on the fly"}};
      if (o.decoder_only) meta["opsis.decoder_only"] = "1";
      save_part(model, checkpoint, safetensors::DType::F32, meta);
      save_part(ema, ema_path, safetensors::DType::F32, meta);
      if (!o.export_path.empty()) save_part(ema, o.export_path, safetensors::DType::F16, meta);
      torch::save(optimizer, optimizer_path + ".tmp");
      fs::rename(optimizer_path + ".tmp", optimizer_path);
      std::fprintf(stderr, "step %d: saved %s\n", step, checkpoint.c_str());
    };

    while (step < o.steps && !g_stop && !(o.minutes > 0 && elapsed() > o.minutes * 60)) {
      std::vector<Pair> batch = queues.take(size_t(o.batch));
      if (batch.empty()) break;
      std::vector<torch::Tensor> frames, weights, cells;
      for (auto& p : batch) {
        frames.push_back(p.frames);
        weights.push_back(p.weight);
        cells.push_back(p.cells);
      }
      auto x = torch::stack(frames);        // [B, 2, Hp, Wp, 3]
      auto w = torch::stack(weights);       // [B, 2, Hp, Wp]
      auto labels = torch::stack(cells);    // [B, h, w]

      const double lr = o.lr * std::min(1.0, double(step - warmup_from + 1) / 200.0);
      for (auto& group : optimizer.param_groups()) static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
      // [B, 1, C, h, w]; a frozen encoder needs no graph
      auto z = o.decoder_only ? [&] { torch::NoGradGuard no_grad; return model->encode(x); }() : model->encode(x);
      auto noisy = z + o.latent_noise * z.detach().std() * torch::randn_like(z);
      auto y = model->decode(noisy);
      auto squared = (y - x).pow(2).mean(-1);  // [B, 2, Hp, Wp]
      auto recon = (squared * w).sum() / w.sum();
      auto logits = model->cell_logits(z).reshape({-1, kCellClasses});
      auto cell_loss = torch::nn::functional::cross_entropy(logits, labels.reshape({-1}));
      auto loss = o.decoder_only ? recon : recon + o.cell_weight * cell_loss + 1e-4 * z.pow(2).mean();
      optimizer.zero_grad();
      loss.backward();
      torch::nn::utils::clip_grad_norm_(trainable, 1.0);
      optimizer.step();
      ++step;
      {
        torch::NoGradGuard no_grad;
        const double decay = std::min(o.ema_decay, (1.0 + step) / (10.0 + step));
        auto live = model->named_parameters(true);
        for (auto& item : ema->named_parameters(true))
          if (item.value().requires_grad()) item.value().mul_(decay).add_(live[item.key()].detach(), 1.0 - decay);
        auto flat = z.detach().transpose(0, 2).reshape({config.channels, -1});  // [C, ...]
        const double m = o.decoder_only ? 1.0 : step < 50 ? 0.5 : 0.99;  // frozen latent: statistics stay
        running_mean.mul_(m).add_(flat.mean(1), 1 - m);
        running_var.mul_(m).add_(flat.var(1), 1 - m);
        const auto inside = (w > 1).to(torch::kFloat32);
        sum_object_mse += ((squared * inside).sum() / inside.sum().clamp_min(1)).item<double>();
        sum_mse += squared.mean().item<double>();
        sum_cells += (logits.argmax(1) == labels.reshape({-1})).to(torch::kFloat32).mean().item<double>();
      }
      sum_loss += loss.item<double>();
      ++since_log;
      if (step % o.log_every == 0) {
        const double now = elapsed();
        const double psnr = 10 * std::log10(4.0 / (sum_mse / since_log));
        const double object_psnr = 10 * std::log10(4.0 / std::max(1e-10, sum_object_mse / since_log));
        const double rate = since_log * o.batch / std::max(1e-9, now - last_log_time);
        std::fprintf(stderr, "step %d  %.0f s  loss %.5f  psnr %.2f dB  objects %.2f dB  cells %.3f  %.1f pairs/s  clips %ld\n",
                     step, now, sum_loss / since_log, psnr, object_psnr, sum_cells / since_log, rate, clips.load());
        log << step << '\t' << now << '\t' << sum_loss / since_log << '\t' << psnr << '\t' << object_psnr << '\t'
            << sum_cells / since_log << '\t' << lr << '\t' << rate << '\t' << clips.load() << std::endl;
        sum_loss = sum_mse = sum_object_mse = sum_cells = 0;
        since_log = 0;
        last_log_time = now;
      }
      if (step % o.checkpoint_every == 0) save();
    }
    save();
    g_stop = true;
    queues.wake_all();
    for (auto& t : workers) t.join();
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "opsis-train-mini2-autoencoder: error: %s\n", e.what());
    g_stop = true;
    return 1;
  }
}
