// opsis-train-mini2: trains opsis-mini 2's joint generator with flow matching over the
// latents of its (frozen) video autoencoder and the log-mel sound latent, on freshly rendered
// studio clips (no dataset on disk). Rendering runs on background threads.
//
// The loss is the clean-latent error weighted as a velocity error (1/max(t, floor)^2), with
// extra weight on cells an object or character covers and on sound tokens with an impact,
// plus auxiliary heads (cell classes, camera motion, impacts) on a middle block's tokens.
// Conditioning dropout: each parsed slot 15%, the whole prompt 10% (the guidance baseline).
// The first run copies the autoencoder into its checkpoint, so a run is self-contained and
// its latents never change under it. Checkpoints resume exactly; SIGINT/SIGTERM save.
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
#include <sstream>
#include <thread>

#include "models/mini2/conditioning.hpp"
#include "models/mini2/frames.hpp"
#include "models/mini2/generator.hpp"
#include "models/mini2/sound_latent.hpp"
#include "models/mini2/video_autoencoder.hpp"
#include "models/mini2/weights.hpp"
#include "studio/caption.hpp"
#include "studio/dialogue.hpp"
#include "studio/studio.hpp"
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
  std::string out_dir = "runs/mini2";
  std::string export_path;
  std::string autoencoder_path = "models/opsis-mini-2.safetensors";
  std::string init_path;  // new runs: continue from the autoencoder + generator of an exported file
  std::string decoder_path;  // replace the run's autoencoder by this one: same encoder, better decoder
  double minutes = 0;
  int steps = 10000000;
  int batch = 8;
  double lr = 5e-4;
  double ema_decay = 0.999;
  double shift = 2.0;
  double loss_t_floor = 0.3;
  double pure_noise_share = 0.05;
  double first_frame_share = 0.3;
  double slot_drop = 0.15;
  double prompt_drop = 0.1;
  double identity_share = 0.5;
  double object_weight = 3.0;
  double impact_weight = 4.0;
  double aux_weight = 0.1;
  std::string windows = "1";  // training window lengths, whole seconds, comma-separated
  double sample_window = 2.0; // seconds one sampling window lasts (new runs: saved in the config)
  double clip_seconds_max = 4.0;
  int render_threads = 1;
  int threads = 0;
  int log_every = 10;
  int checkpoint_every = 200;
  uint64_t seed = 1;
  int d_model = 160, layers = 8, heads = 4;
};

struct Example {
  torch::Tensor frames;   // [F, Hp, Wp, 3]
  torch::Tensor first;    // [2, Hp, Wp, 3]: the first frame twice (the image-to-video condition)
  bool has_first = false;
  torch::Tensor audio;    // [A, 256] raw (unnormalised) log-mel tokens
  torch::Tensor cells;    // [T, h, w] int64
  torch::Tensor camera;   // [T, 5]
  torch::Tensor impacts;  // [A] 0/1
  ContextRow context;
  double time_offset = 0;
};

struct Setup {
  AutoencoderConfig autoencoder;
  SoundConfig sound;
  GeneratorConfig generator;
  std::vector<int> windows;
};

Example make_example(std::mt19937_64& rng, const Setup& s, const SoundLatent& sound, const Options& o, int width,
                     int height, int window) {
  std::uniform_real_distribution<double> unit(0, 1);
  const int fps = s.autoencoder.fps, frames = window * fps;
  const double clip_seconds = window + unit(rng) * std::max(0.0, o.clip_seconds_max - window);
  const studio::SceneSpec spec = train::random_scene(rng, std::ceil(clip_seconds * fps) / fps);
  const auto style = unit(rng) < 0.5 ? studio::CaptionStyle::Prose : studio::CaptionStyle::Structured;
  const std::string caption = studio::describe(spec, rng(), style);
  studio::RenderOptions options{width, height, fps, s.sound.sample_rate, rng(), true};
  options.speech = false;  // speech is espeak-ng's, mixed in after generation
  const studio::Clip clip = studio::render_clip(spec, options);

  const int total = clip.video.frame_count();
  const int start = 2 * std::uniform_int_distribution<int>(0, std::max(0, total - frames) / 2)(rng);
  const double start_seconds = double(start) / fps;
  const int pad_h = s.autoencoder.padded(height), pad_w = s.autoencoder.padded(width);
  Example e;
  e.time_offset = start_seconds;
  e.frames = frames_tensor(clip.video, start, frames, pad_h, pad_w);
  e.has_first = unit(rng) < o.first_frame_share;
  if (e.has_first) e.first = frames_tensor(clip.video, start, 1, pad_h, pad_w).expand({2, pad_h, pad_w, 3}).contiguous();

  // sound: log-mel of the window, 4 hops per token
  const int64_t samples = int64_t(window) * s.sound.sample_rate;
  auto pcm = pcm_tensor(clip.audio, int64_t(std::llround(start_seconds * s.sound.sample_rate)), samples);
  auto mel = sound.analyze(pcm.unsqueeze(0))[0];  // [100 W, 64]
  const int64_t tokens = mel.size(0) / s.sound.frames_per_token;
  e.audio = mel.narrow(0, 0, tokens * s.sound.frames_per_token).reshape({tokens, -1}).contiguous();

  // truth per latent frame and per sound token
  const int T = frames / 2;
  std::vector<torch::Tensor> cells, camera;
  for (int t = 0; t < T; ++t) {
    const auto& a = clip.truth.frames[size_t(std::min(total - 1, start + 2 * t))];
    const auto& b = clip.truth.frames[size_t(std::min(total - 1, start + 2 * t + 1))];
    cells.push_back(train::cell_classes(spec, a, pad_h, pad_w));
    camera.push_back(train::camera_motion(a.camera, b.camera));
  }
  e.cells = torch::stack(cells);
  e.camera = torch::stack(camera);
  e.impacts = torch::zeros({tokens});
  std::vector<engine::PhonemeCue> phonemes;
  const double end_seconds = start_seconds + window;
  for (const auto& event : clip.truth.events) {
    if (event.kind == studio::EventKind::Impact && event.time >= start_seconds && event.time < end_seconds)
      e.impacts[int64_t((event.time - start_seconds) / 0.04)] = 1;
    if (event.kind == studio::EventKind::Phoneme && event.time + event.duration >= start_seconds && event.time <= end_seconds) {
      const int viseme = studio::viseme_of(event.phoneme);
      phonemes.push_back({event.phoneme, event.time - start_seconds, event.duration, viseme, studio::openness_of(viseme)});
    }
  }

  // conditioning, with dropout: the whole prompt (guidance baseline), each slot, the words
  if (unit(rng) >= o.prompt_drop) {
    for (auto& t : slot_tokens(spec, SlotScope::Everything, s.generator))
      if (unit(rng) >= o.slot_drop) e.context.tokens.push_back(t);
    if (unit(rng) >= 0.3)
      for (auto& t : word_tokens(caption, s.generator)) e.context.tokens.push_back(t);
  }
  if (unit(rng) >= 0.1)
    for (auto& t : phoneme_tokens(phonemes, start_seconds, s.generator)) e.context.tokens.push_back(t);
  if (!spec.characters.empty() && unit(rng) < o.identity_share)
    e.context.identity = train::identity_portrait(spec.characters[0], 64, rng());
  return e;
}

void render_worker(int index, const Setup& s, const Options& o, train::BatchQueues<Example>& queues, std::atomic<long>& rendered) {
  std::mt19937_64 rng(o.seed * 1000003ull + uint64_t(index) * 7919ull + uint64_t(std::time(nullptr)));
  const SoundLatent sound(s.sound);
  const auto sizes = s.autoencoder.sizes();
  std::discrete_distribution<size_t> size_choice({2.0, 1.0, 1.0});  // 16:9 most often
  while (!g_stop) {
    const size_t si = size_choice(rng);
    const size_t wi = std::uniform_int_distribution<size_t>(0, s.windows.size() - 1)(rng);
    try {
      Example e = make_example(rng, s, sound, o, sizes[si].first, sizes[si].second, s.windows[wi]);
      queues.push(si * s.windows.size() + wi, std::move(e));
      ++rendered;
    } catch (const std::exception& ex) {
      std::fprintf(stderr, "render worker %d: skipped a scene: %s\n", index, ex.what());
    }
  }
}

torch::Tensor noise_levels(int64_t n, double shift, double pure_noise_share) {
  auto t = torch::sigmoid(torch::randn({n}));
  t = torch::where(torch::rand({n}) < 0.1, torch::rand({n}), t);
  t = shift * t / (1 + (shift - 1) * t);
  return torch::where(torch::rand({n}) < pure_noise_share, torch::ones({n}), t);
}

void save_file(const std::string& path, VideoAutoencoder& autoencoder, Generator& generator, const Setup& s,
               safetensors::DType dtype, const std::map<std::string, std::string>& meta) {
  safetensors::File file;
  file.metadata = meta;
  Mini2Config config;
  config.autoencoder = s.autoencoder;
  config.sound = s.sound;
  config.generator = s.generator;
  config.has_generator = true;
  file.metadata["opsis.config"] = config.to_json();
  file.metadata["opsis.model"] = kFormat;
  add_tensors(file, *autoencoder, "autoencoder.", dtype);
  add_tensors(file, *generator, "generator.", dtype);
  safetensors::write(path, file);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"opsis-train-mini2: train opsis-mini 2's joint audio-video generator on the studio world"};
  app.add_option("--out", o.out_dir, "folder for checkpoint.safetensors, ema.safetensors, optimizer.pt, loss.tsv (resumes)");
  app.add_option("--export", o.export_path, "also write autoencoder + EMA generator in half precision here at each checkpoint");
  app.add_option("--decoder", o.decoder_path,
                 "replace the run's autoencoder by this file's (same encoder, a better decoder); kept in later checkpoints");
  app.add_option("--autoencoder", o.autoencoder_path, "new runs: the trained video autoencoder (copied into the run)");
  app.add_option("--init", o.init_path,
                 "new runs: continue from an exported file's autoencoder and generator (e.g. the shipped weights, when "
                 "the run folder was lost); its step and CPU time carry on");
  app.add_option("--minutes", o.minutes, "stop after this many minutes of this run (0 = no limit)");
  app.add_option("--steps", o.steps, "stop after this many optimiser steps (total, across resumes)");
  app.add_option("--batch", o.batch, "clips per step");
  app.add_option("--lr", o.lr, "AdamW learning rate");
  app.add_option("--ema", o.ema_decay, "decay of the moving average of the weights (what is exported)");
  app.add_option("--shift", o.shift, "time shift of the noise levels (new runs: saved for sampling)");
  app.add_option("--loss-t-floor", o.loss_t_floor, "clean-latent error weighted 1/max(t, floor)^2");
  app.add_option("--pure-noise", o.pure_noise_share, "share of examples at t = 1");
  app.add_option("--first-frame", o.first_frame_share, "share of examples conditioned on their first frame");
  app.add_option("--slot-drop", o.slot_drop, "probability of dropping each parsed slot");
  app.add_option("--prompt-drop", o.prompt_drop, "probability of dropping the whole prompt");
  app.add_option("--object-weight", o.object_weight, "extra loss weight on cells covered by an object or character");
  app.add_option("--impact-weight", o.impact_weight, "extra loss weight on sound tokens with an impact");
  app.add_option("--aux-weight", o.aux_weight, "weight of the auxiliary truth heads");
  app.add_option("--windows", o.windows, "training window lengths in whole seconds, e.g. 1,2");
  app.add_option("--sample-window", o.sample_window, "seconds one sampling window lasts (new runs; longer clips chain windows)");
  app.add_option("--clip-seconds", o.clip_seconds_max, "rendered clips last up to this; a window is cut from them");
  app.add_option("--render-threads", o.render_threads);
  app.add_option("--threads", o.threads, "libtorch threads (0 = default)");
  app.add_option("--log-every", o.log_every);
  app.add_option("--checkpoint-every", o.checkpoint_every);
  app.add_option("--seed", o.seed);
  app.add_option("--d-model", o.d_model, "width (new runs only)");
  app.add_option("--layers", o.layers, "blocks (new runs only)");
  app.add_option("--heads", o.heads, "attention heads (new runs only)");
  CLI11_PARSE(app, argc, argv);

  std::vector<std::thread> workers;
  std::unique_ptr<train::BatchQueues<Example>> queues;
  auto stop_workers = [&] {
    g_stop = true;
    if (queues) queues->wake_all();
    for (auto& w : workers) w.join();
    workers.clear();
  };
  try {
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    if (o.threads > 0) torch::set_num_threads(o.threads);
    torch::manual_seed(o.seed);
    fs::create_directories(o.out_dir);
    const std::string checkpoint = (fs::path(o.out_dir) / "checkpoint.safetensors").string();
    const std::string ema_path = (fs::path(o.out_dir) / "ema.safetensors").string();
    const std::string optimizer_path = (fs::path(o.out_dir) / "optimizer.pt").string();

    Setup s;
    {
      std::stringstream list(o.windows);
      for (std::string item; std::getline(list, item, ',');) s.windows.push_back(std::stoi(item));
      if (s.windows.empty()) throw std::runtime_error("--windows lists no window length");
      for (int w : s.windows)
        if (w < 1 || w > 4) throw std::runtime_error("--windows: lengths are whole seconds from 1 to 4");
    }
    int step = 0;
    double cpu_before = 0;  // CPU seconds of the generator's training before this run
    const bool resuming = fs::exists(checkpoint);
    const bool warm = !resuming && !o.init_path.empty();
    const auto source = safetensors::read(resuming ? checkpoint : warm ? o.init_path : o.autoencoder_path);
    const Mini2Config config = read_config(source);
    s.autoencoder = config.autoencoder;
    s.sound = config.sound;
    if (resuming || warm) {
      if (!config.has_generator) throw std::runtime_error("--init: the file has no generator to continue from");
      s.generator = config.generator;
      step = std::stoi(source.metadata.at("opsis.step"));
      if (source.metadata.count("opsis.train_cpu_seconds")) cpu_before = std::stod(source.metadata.at("opsis.train_cpu_seconds"));
    } else {
      s.generator.d_model = o.d_model;
      s.generator.layers = o.layers;
      s.generator.heads = o.heads;
      s.generator.aux_layer = std::max(1, o.layers / 2);
      s.generator.timestep_shift = o.shift;
      s.generator.window_seconds = o.sample_window;
    }
    VideoAutoencoder autoencoder(s.autoencoder);
    load_tensors(*autoencoder, source, "autoencoder.");
    if (!o.decoder_path.empty()) {
      // A decoder trained later on the same frozen encoder (opsis-train-mini2-autoencoder
      // --decoder-only): the latents, and so the generator's training, do not change.
      const auto file = safetensors::read(o.decoder_path);
      const AutoencoderConfig replacement_config = read_config(file).autoencoder;
      VideoAutoencoder replacement(replacement_config);
      load_tensors(*replacement, file, "autoencoder.");
      auto now = autoencoder->named_parameters(true);
      for (const auto& item : replacement->named_parameters(true)) {
        if (VideoAutoencoderImpl::is_decoder_parameter(item.key())) continue;
        const auto found = now.find(item.key());
        if (!found || !torch::allclose(*found, item.value(), 1e-2, 1e-3))
          throw std::runtime_error("--decoder: " + o.decoder_path + " has another encoder than the run ('" + item.key() +
                                   "' differs): its latents would not be the ones the generator learns");
      }
      autoencoder = replacement;
      s.autoencoder = replacement_config;
      std::fprintf(stderr, "decoder from %s (refinement width %d)\n", o.decoder_path.c_str(), replacement_config.refine_width);
    }
    autoencoder->eval();
    for (auto& p : autoencoder->parameters()) p.set_requires_grad(false);
    Generator model(s.generator, s.autoencoder.channels), ema(s.generator, s.autoencoder.channels);
    if (resuming || warm) {
      load_tensors(*model, source, "generator.");
      load_tensors(*ema, resuming && fs::exists(ema_path) ? safetensors::read(ema_path) : source, "generator.");
      std::fprintf(stderr, "%s %s at step %d\n", resuming ? "resuming from" : "continuing from", resuming ? checkpoint.c_str() : o.init_path.c_str(), step);
    } else {
      torch::NoGradGuard no_grad;
      auto from = model->named_parameters(true);
      for (auto& item : ema->named_parameters(true)) item.value().copy_(from[item.key()]);
    }
    model->train();
    long parameters = 0;
    for (const auto& p : model->parameters()) parameters += p.numel();
    std::fprintf(stderr, "opsis-mini 2 generator: %ld parameters, d=%d, %d blocks, windows %s s\n", parameters,
                 s.generator.d_model, s.generator.layers, o.windows.c_str());

    std::vector<torch::Tensor> trainable;
    for (auto& p : model->parameters())
      if (p.requires_grad()) trainable.push_back(p);
    torch::optim::AdamW optimizer(trainable, torch::optim::AdamWOptions(o.lr).betas({0.9, 0.99}).weight_decay(0.01));
    if (resuming && fs::exists(optimizer_path)) torch::load(optimizer, optimizer_path);
    // A warm start's first steps see a fresh optimiser: warm up its learning rate again.
    const int warmup_from = resuming ? 0 : step;

    queues = std::make_unique<train::BatchQueues<Example>>(s.autoencoder.sizes().size() * s.windows.size(),
                                                            size_t(std::max(8, 3 * o.batch)), g_stop);
    std::atomic<long> rendered{0};
    for (int i = 0; i < o.render_threads; ++i)
      workers.emplace_back(render_worker, i, std::cref(s), std::cref(o), std::ref(*queues), std::ref(rendered));

    const std::string log_path = (fs::path(o.out_dir) / "loss.tsv").string();
    const bool new_log = !fs::exists(log_path) || fs::file_size(log_path) == 0;
    std::ofstream log(log_path, std::ios::app);
    if (new_log)
      log << "step\telapsed_s\ttotal_cpu_s\tloss_video\tloss_audio\tcell_accuracy\tcamera_error\timpact_loss\tlr\tclips_per_s\tclips_rendered\tgflops\tshare_of_matmul\n";
    const auto started = std::chrono::steady_clock::now();
    auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(); };
    // Process CPU time (all threads: rendering, the autoencoder, the generator) plus earlier runs'.
    auto cpu_seconds = [&] { return cpu_before + double(std::clock()) / CLOCKS_PER_SEC; };
    double sum_video = 0, sum_audio = 0, sum_cells = 0, sum_camera = 0, sum_impact = 0, sum_flops = 0;
    int since_log = 0;
    // The machine's fp32 matmul rate (1024^2, these threads), measured at every log line (the
    // machine is shared: a rate measured once would compare different moments); the trainer's
    // achieved FLOP/s is reported as a share of it.
    auto measure_matmul = [] {
      auto a = torch::randn({1024, 1024}), b = torch::randn({1024, 1024});
      torch::mm(a, b);
      const auto t0 = std::chrono::steady_clock::now();
      for (int i = 0; i < 3; ++i) torch::mm(a, b);
      return 3 * 2.0 * 1024 * 1024 * 1024 / std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    };
    double machine_flops = measure_matmul();
    std::fprintf(stderr, "machine matmul: %.1f GFLOP/s (1024^2 fp32, %d threads)\n", machine_flops / 1e9, torch::get_num_threads());
    double last_log = 0;

    // Sound-token normalisation, measured on the first batches of a new run.
    bool audio_stats_ready = resuming || warm;
    auto save = [&] {
      const std::map<std::string, std::string> meta{{"opsis.step", std::to_string(step)},
                                                    {"opsis.train_cpu_seconds", std::to_string(cpu_seconds())},
                                                    {"opsis.trained_on", "studio world, rendered on the fly"}};
      save_file(checkpoint, autoencoder, model, s, safetensors::DType::F32, meta);
      save_file(ema_path, autoencoder, ema, s, safetensors::DType::F32, meta);
      if (!o.export_path.empty()) save_file(o.export_path, autoencoder, ema, s, safetensors::DType::F16, meta);
      torch::save(optimizer, optimizer_path + ".tmp");
      fs::rename(optimizer_path + ".tmp", optimizer_path);
      std::fprintf(stderr, "step %d: saved %s\n", step, checkpoint.c_str());
    };

    while (step < o.steps && !g_stop && !(o.minutes > 0 && elapsed() > o.minutes * 60)) {
      std::vector<Example> batch = queues->take(size_t(o.batch));
      if (batch.empty()) break;
      const int64_t B = int64_t(batch.size());
      std::vector<torch::Tensor> frames, audios, cells, cameras, impacts, firsts;
      std::vector<ContextRow> rows;
      std::vector<float> has_first, offsets;
      for (auto& e : batch) {
        frames.push_back(e.frames);
        audios.push_back(e.audio);
        cells.push_back(e.cells);
        cameras.push_back(e.camera);
        impacts.push_back(e.impacts);
        firsts.push_back(e.has_first ? e.first : e.frames.narrow(0, 0, 2));
        has_first.push_back(e.has_first ? 1.f : 0.f);
        offsets.push_back(float(e.time_offset));
        rows.push_back(std::move(e.context));
      }
      torch::Tensor x0_video, first_latent, x0_audio_raw = torch::stack(audios);
      {
        torch::NoGradGuard no_grad;
        x0_video = autoencoder->normalize(autoencoder->encode(torch::stack(frames)));                 // [B, T, C, h, w]
        first_latent = autoencoder->normalize(autoencoder->encode(torch::stack(firsts))).select(1, 0);  // [B, C, h, w]
        if (!audio_stats_ready) {
          auto flat = x0_audio_raw.reshape({-1, x0_audio_raw.size(2)});
          model->audio_mean.copy_(flat.mean(0));
          model->audio_std.copy_(flat.std(0).clamp_min(0.05));
          ema->audio_mean.copy_(model->audio_mean);
          ema->audio_std.copy_(model->audio_std);
          audio_stats_ready = true;
        }
      }
      auto x0_audio = (x0_audio_raw - model->audio_mean) / model->audio_std;
      const auto inputs_context = context_inputs(rows, s.generator);
      auto t = noise_levels(B, s.generator.timestep_shift, o.pure_noise_share);
      auto noise_video = torch::randn_like(x0_video), noise_audio = torch::randn_like(x0_audio);
      auto tv = t.view({B, 1, 1, 1, 1}), ta = t.view({B, 1, 1});
      GeneratorInputs in;
      in.video = (1 - tv) * x0_video + tv * noise_video;
      in.audio = (1 - ta) * x0_audio + ta * noise_audio;
      in.t = t;
      in.first_latent = first_latent;
      in.has_first = torch::tensor(has_first);
      in.time_offset = torch::tensor(offsets);

      const double lr = o.lr * std::min(1.0, double(step - warmup_from + 1) / 300.0);
      for (auto& group : optimizer.param_groups()) static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
      const auto context = model->encode(inputs_context);
      const auto out = model->forward(in, context);
      // Velocity-space weighting of the clean-latent error: 1/max(t, floor)^2, normalised.
      auto weight_t = (t.clamp_min(0.05) / t.clamp_min(std::max(0.05, o.loss_t_floor))).pow(2);
      auto cell_targets = torch::stack(cells);                          // [B, T, h, w]
      auto cell_weight = 1 + o.object_weight * (cell_targets > 0).to(torch::kFloat32);
      auto video_error = (out.video - x0_video).pow(2).mean(2);         // [B, T, h, w]
      auto loss_video = ((video_error * cell_weight).sum({1, 2, 3}) / cell_weight.sum({1, 2, 3}) * weight_t).mean();
      auto impact_targets = torch::stack(impacts);                       // [B, A]
      auto token_weight = 1 + o.impact_weight * impact_targets;
      auto audio_error = (out.audio - x0_audio).pow(2).mean(2);         // [B, A]
      auto loss_audio = ((audio_error * token_weight).sum(1) / token_weight.sum(1) * weight_t).mean();
      auto cell_loss = torch::nn::functional::cross_entropy(out.cell_logits.reshape({-1, kCellClasses}), cell_targets.reshape({-1}));
      auto camera_loss = torch::smooth_l1_loss(out.camera, torch::stack(cameras));
      auto impact_loss = torch::binary_cross_entropy_with_logits(out.impact_logits, impact_targets, {}, torch::full({1}, 10.0));
      auto loss = loss_video + loss_audio + o.aux_weight * (cell_loss + camera_loss + impact_loss);
      // Forward and backward of the generator (~3x the forward); the autoencoder's encoding is not counted.
      sum_flops += 3 * double(B) * generator_forward_flops(s.generator, s.autoencoder.channels, int(x0_audio.size(2)),
                                                            double(x0_video.size(1)), double(x0_video.size(3) * x0_video.size(4)),
                                                            double(x0_audio.size(1)), double(inputs_context.ids.size(1)) + 16);
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
        sum_cells += (out.cell_logits.argmax(-1) == cell_targets).to(torch::kFloat32).mean().item<double>();
      }
      sum_video += loss_video.item<double>();
      sum_audio += loss_audio.item<double>();
      sum_camera += camera_loss.item<double>();
      sum_impact += impact_loss.item<double>();
      ++since_log;
      if (step % o.log_every == 0) {
        const double now = elapsed();
        const double rate = since_log * double(B) / std::max(1e-9, now - last_log);
        const double flops = sum_flops / std::max(1e-9, now - last_log);
        machine_flops = measure_matmul();
        std::fprintf(stderr, "step %d  %.0f s  video %.4f  audio %.4f  cells %.3f  camera %.4f  impacts %.4f  %.2f clips/s  rendered %ld  %.1f GFLOP/s (%.0f%% of matmul)\n",
                     step, now, sum_video / since_log, sum_audio / since_log, sum_cells / since_log, sum_camera / since_log,
                     sum_impact / since_log, rate, rendered.load(), flops / 1e9, 100 * flops / machine_flops);
        log << step << '\t' << now << '\t' << cpu_seconds() << '\t' << sum_video / since_log << '\t' << sum_audio / since_log
            << '\t' << sum_cells / since_log << '\t' << sum_camera / since_log << '\t' << sum_impact / since_log << '\t' << lr
            << '\t' << rate << '\t' << rendered.load() << '\t' << flops / 1e9 << '\t' << flops / machine_flops << std::endl;
        sum_video = sum_audio = sum_cells = sum_camera = sum_impact = sum_flops = 0;
        since_log = 0;
        last_log = now;
      }
      if (step % o.checkpoint_every == 0) save();
    }
    save();
    stop_workers();
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "opsis-train-mini2: error: %s\n", e.what());
    stop_workers();
    return 1;
  }
}
