// opsis-train-mini: trains opsis-mini with flow matching on freshly rendered studio clips
// (no dataset on disk). Rendering runs on background threads; the optimiser takes batches
// of one native size at a time. Checkpoints (weights + optimiser + step) resume exactly where
// they stopped; SIGINT/SIGTERM stop after the current step and save.
#include <CLI/CLI.hpp>
#include <torch/torch.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "core/error.hpp"
#include "models/mini/inputs.hpp"
#include "models/mini/weights.hpp"
#include "studio/caption.hpp"
#include "studio/dialogue.hpp"
#include "studio/studio.hpp"
#include "train/batch_queues.hpp"
#include "train/scenes.hpp"
#include "train/studio_truth.hpp"

namespace {
using namespace opsis;
using namespace opsis::mini;
namespace fs = std::filesystem;

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop = true; }

struct Options {
  std::string out_dir = "train-out";
  std::string export_path;
  std::string device = "cpu";
  std::string init_path;  // warm start: tensors of a weights file whose names and shapes match
  double ema_decay = 0.998;
  double loss_t_floor = 0.2;
  double shift = 3.0;
  double fast_lr_factor = 3.0;
  double pure_noise_share = 0.15;  // share of examples trained at t = 1 exactly
  double first_frame_share = 0.3;  // share of examples given their first frame (image-to-video, window chaining)
  double sample_window = 4.0;      // seconds one sampling window lasts (saved in the config)  // time shift of training (and of sampling, through the saved config)  // loss weight 1/max(t, floor)^2 on the clean-clip error
  int steps = 100000;
  double minutes = 0;
  int batch = 4;
  double lr = 3e-4;
  double window_seconds = 1.0;   // length of the training windows
  double clip_seconds_max = 4.0; // windows are cut from rendered clips up to this long
  int render_threads = 1;
  int threads = 0;
  int log_every = 10;
  int checkpoint_every = 200;
  uint64_t seed = 1;
  int d_model = 192, layers = 4, heads = 4, text_layers = 2;
};

struct Example {
  torch::Tensor video;  // [F, Hpad, Wpad, 3]
  torch::Tensor audio;  // [S]
  ConditionRow row;
};

Video slice_video(const Video& video, int start, int frames) {
  Video out = video;
  out.rgb.assign(video.frame(start), video.frame(start) + size_t(frames) * video.frame_bytes());
  return out;
}

Example make_example(std::mt19937_64& rng, const MiniConfig& config, const Options& o, int width, int height) {
  std::uniform_real_distribution<double> unit(0, 1);
  const int window_frames = config.frames_for(o.window_seconds);
  const double clip_seconds = o.window_seconds + unit(rng) * std::max(0.0, o.clip_seconds_max - o.window_seconds);
  const studio::SceneSpec spec = train::random_scene(rng, std::ceil(clip_seconds * config.fps) / config.fps);
  const auto style = unit(rng) < 0.5 ? studio::CaptionStyle::Prose : studio::CaptionStyle::Structured;
  const std::string caption = studio::describe(spec, rng(), style);
  const studio::RenderOptions options{width, height, config.fps, config.sample_rate, rng(), true};
  const studio::Clip clip = studio::render_clip(spec, options);

  const int frames = clip.video.frame_count();
  const int latest_start = std::max(0, frames - window_frames) / config.frames_per_token;
  const int start = config.frames_per_token * std::uniform_int_distribution<int>(0, latest_start)(rng);
  const double start_seconds = double(start) / config.fps;
  Example e;
  e.video = video_tensor(slice_video(clip.video, start, std::min(window_frames, frames - start)), window_frames, config);
  Audio audio = clip.audio;
  const size_t first_sample = size_t(std::llround(start_seconds * audio.sample_rate)) * size_t(audio.channels);
  audio.samples.erase(audio.samples.begin(), audio.samples.begin() + std::ptrdiff_t(std::min(first_sample, audio.samples.size())));
  e.audio = audio_tensor(audio, int64_t(config.audio_tokens_for(window_frames)) * config.audio_patch, config);

  e.row.text = unit(rng) < 0.1 ? std::string() : caption;
  e.row.time_offset = start_seconds;
  const double window_end = start_seconds + double(window_frames) / config.fps;
  for (const auto& event : clip.truth.events) {
    if (event.kind != studio::EventKind::Phoneme) continue;
    if (event.time + event.duration < start_seconds || event.time > window_end) continue;
    const int viseme = studio::viseme_of(event.phoneme);
    e.row.phonemes.push_back({event.phoneme, event.time - start_seconds, event.duration, viseme, studio::openness_of(viseme)});
  }
  if (unit(rng) < 0.1) e.row.phonemes.clear();
  if (unit(rng) < o.first_frame_share) e.row.first_frame = clip.video.frame_image(start);
  if (!spec.characters.empty() && unit(rng) < 0.5)
    e.row.identity = train::identity_portrait(spec.characters[0], config.identity_size, rng());
  return e;
}

void render_worker(int index, const MiniConfig& config, const Options& o, train::BatchQueues<Example>& queues,
                   std::atomic<long>& rendered) {
  std::mt19937_64 rng(o.seed * 1000003ull + uint64_t(index) * 7919ull + uint64_t(std::time(nullptr)));
  const auto sizes = config.sizes();
  std::discrete_distribution<size_t> size_choice({2.0, 1.0, 1.0});  // 16:9 most often
  while (!g_stop) {
    const size_t s = size_choice(rng);
    try {
      Example e = make_example(rng, config, o, sizes[s].first, sizes[s].second);
      queues.push(s, std::move(e));
      ++rendered;
    } catch (const std::exception& ex) {
      std::fprintf(stderr, "render worker %d: skipped a scene: %s\n", index, ex.what());
    }
  }
}

// Noise levels for a batch: logit-normal, one in ten uniform (so t near 0 and near 1 are seen
// too), then shifted: t' = s t / (1 + (s - 1) t), the same shift the sampler's steps get.
//
// A share of the batch gets pure noise (t = 1). In pixel space the clip's global colours stay
// readable from x_t until t is within a hair of 1 (their mean over ~10^5 noisy values), so a
// model trained only on t < 1 reads the scene from the noise instead of from the prompt and,
// sampling from pure noise, ignores the prompt. At t = 1 only the prompt says what the clip
// is; the sampler's first step is exactly there.
torch::Tensor noise_levels(int64_t n, double shift, double pure_noise_share, const torch::Device& device) {
  const auto options = torch::TensorOptions().device(device);
  auto t = torch::sigmoid(torch::randn({n}, options));
  t = torch::where(torch::rand({n}, options) < 0.1, torch::rand({n}, options), t);
  t = shift * t / (1 + (shift - 1) * t);
  return torch::where(torch::rand({n}, options) < pure_noise_share, torch::ones({n}, options), t);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"opsis-train-mini: train the built-in joint audio-video model on the studio world"};
  app.add_option("--out", o.out_dir, "folder for checkpoint.safetensors, optimizer.pt, loss.tsv (resumes from it)");
  app.add_option("--export", o.export_path, "also write half-precision weights here at each checkpoint (the shipped file)");
  app.add_option("--device", o.device, "cpu or cuda[:N]");
  app.add_option("--init", o.init_path, "new runs: start from the matching tensors of this weights file");
  app.add_option("--ema", o.ema_decay, "decay of the weights' moving average that is saved for sampling (0 = off)");
  app.add_option("--shift", o.shift, "time shift s of the noise levels, t' = s t / (1 + (s - 1) t); saved for sampling");
  app.add_option("--fast-lr", o.fast_lr_factor, "learning-rate factor of the direct text paths (word embeddings, pooling, layout)");
  app.add_option("--pure-noise", o.pure_noise_share, "share of examples at t = 1 (pure noise: only the conditioning says what to make)");
  app.add_option("--first-frame", o.first_frame_share, "share of examples conditioned on their first frame");
  app.add_option("--sample-window", o.sample_window,
                 "seconds one sampling window lasts (saved for sampling; longer clips chain windows)");
  app.add_option("--loss-t-floor", o.loss_t_floor,
                 "the clean-clip error at noise level t is weighted 1/max(t, floor)^2 (the velocity error is floor 0)");
  app.add_option("--steps", o.steps, "stop after this many optimiser steps (total, across resumes)");
  app.add_option("--minutes", o.minutes, "stop after this many minutes of this run (0 = no limit)");
  app.add_option("--batch", o.batch, "clips per step");
  app.add_option("--lr", o.lr, "AdamW learning rate");
  app.add_option("--window-seconds", o.window_seconds, "length of each training window");
  app.add_option("--clip-seconds", o.clip_seconds_max, "rendered clips last up to this; a window is cut from them");
  app.add_option("--render-threads", o.render_threads, "background rendering threads");
  app.add_option("--threads", o.threads, "libtorch threads (0 = default)");
  app.add_option("--log-every", o.log_every);
  app.add_option("--checkpoint-every", o.checkpoint_every);
  app.add_option("--seed", o.seed);
  app.add_option("--d-model", o.d_model, "width (new runs only)");
  app.add_option("--layers", o.layers, "joint blocks (new runs only)");
  app.add_option("--heads", o.heads, "attention heads (new runs only)");
  app.add_option("--text-layers", o.text_layers, "text encoder layers (new runs only)");
  CLI11_PARSE(app, argc, argv);

  try {
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    if (o.threads > 0) torch::set_num_threads(o.threads);
    const torch::Device device(o.device);
    fs::create_directories(o.out_dir);
    const std::string checkpoint = (fs::path(o.out_dir) / "checkpoint.safetensors").string();
    const std::string optimizer_path = (fs::path(o.out_dir) / "optimizer.pt").string();
    torch::manual_seed(o.seed);

    int step = 0;
    MiniModel model{nullptr};
    if (fs::exists(checkpoint)) {
      const auto file = safetensors::read(checkpoint);
      model = from_safetensors(file);
      step = std::stoi(file.metadata.at("opsis.step"));
      std::fprintf(stderr, "resuming from %s at step %d\n", checkpoint.c_str(), step);
    } else {
      MiniConfig config;
      config.d_model = o.d_model;
      config.layers = o.layers;
      config.heads = o.heads;
      config.text_layers = o.text_layers;
      model = MiniModel(config);
      if (!o.init_path.empty()) {
        const int copied = load_matching(model, safetensors::read(o.init_path));
        const int skipped = int(model->named_parameters(true).size()) - copied;
        std::fprintf(stderr, "initialised %d tensors from %s (%d new)\n", copied, o.init_path.c_str(), skipped);
      }
    }
    // Sampling windows: a 4 s clip made in one pass keeps its scene (measured: clips chained
    // from 1 s windows through their last frame jump in colour at every joint), although
    // training sees 1 s windows (time positions are absolute seconds, so longer windows are
    // the same positions the model has seen, all at once).
    model->config.window_seconds = o.sample_window;
    model->config.timestep_shift = o.shift;
    model->to(device);
    model->train();
    const MiniConfig config = model->config;
    long parameters = 0;
    for (const auto& p : model->parameters()) parameters += p.numel();
    std::fprintf(stderr, "opsis-mini: %ld parameters, d=%d, %d joint blocks, device %s\n", parameters, config.d_model,
                 config.layers, o.device.c_str());

    // Moving average of the weights (what is saved for sampling); the raw weights train on.
    MiniModel ema(config);
    const std::string ema_path = (fs::path(o.out_dir) / "ema.safetensors").string();
    {
      torch::NoGradGuard no_grad;
      MiniModel source = (step > 0 && fs::exists(ema_path)) ? load_model(ema_path) : model;
      auto from = source->named_parameters(true);
      for (auto& item : ema->named_parameters(true)) item.value().copy_(from[item.key()].detach().to(torch::kCPU));
    }
    ema->config = model->config;
    ema->to(device);
    auto update_ema = [&] {
      torch::NoGradGuard no_grad;
      const double decay = std::min(o.ema_decay, (1.0 + step) / (10.0 + step));
      auto live = model->named_parameters(true);
      for (auto& item : ema->named_parameters(true)) item.value().mul_(decay).add_(live[item.key()].detach(), 1.0 - decay);
    };

    // Two groups: the direct text paths (word embeddings, pooling, layout head) learn at
    // fast_lr_factor x the rate of the rest, so the prompt shapes the clip early in training.
    std::vector<torch::Tensor> fast, rest;
    for (auto& item : model->named_parameters(true)) {
      const std::string& name = item.key();
      const bool direct = name.rfind("layout.", 0) == 0 || name.rfind("word_embed.", 0) == 0 || name.rfind("text_pool.", 0) == 0;
      (direct ? fast : rest).push_back(item.value());
    }
    std::vector<torch::optim::OptimizerParamGroup> groups;
    groups.emplace_back(rest, std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(o.lr).betas({0.9, 0.99}).weight_decay(0.01)));
    groups.emplace_back(fast, std::make_unique<torch::optim::AdamWOptions>(
                                  torch::optim::AdamWOptions(o.lr * o.fast_lr_factor).betas({0.9, 0.99}).weight_decay(0.01)));
    const std::vector<double> group_factor{1.0, o.fast_lr_factor};
    torch::optim::AdamW optimizer(groups, torch::optim::AdamWOptions(o.lr).betas({0.9, 0.99}).weight_decay(0.01));
    if (step > 0 && fs::exists(optimizer_path)) torch::load(optimizer, optimizer_path);

    train::BatchQueues<Example> queues(config.sizes().size(), size_t(std::max(8, 4 * o.batch)), g_stop);
    std::atomic<long> rendered{0};
    std::vector<std::thread> workers;
    for (int i = 0; i < o.render_threads; ++i)
      workers.emplace_back(render_worker, i, std::cref(config), std::cref(o), std::ref(queues), std::ref(rendered));

    std::ofstream log((fs::path(o.out_dir) / "loss.tsv").string(), std::ios::app);
    if (step == 0) log << "step\telapsed_s\tloss_video\tloss_audio\tlr\tclips_rendered\n";
    const auto started = std::chrono::steady_clock::now();
    double sum_video = 0, sum_audio = 0;
    int since_log = 0;
    auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(); };
    auto save = [&] {
      std::map<std::string, std::string> meta{{"opsis.step", std::to_string(step)},
                                              {"opsis.trained_on", "studio world, rendered on the fly"}};
      model->to(torch::kCPU);
      ema->to(torch::kCPU);
      save_model(model, checkpoint, safetensors::DType::F32, meta);
      save_model(ema, ema_path, safetensors::DType::F32, meta);
      if (!o.export_path.empty()) save_model(o.ema_decay > 0 ? ema : model, o.export_path, safetensors::DType::F16, meta);
      model->to(device);
      ema->to(device);
      torch::save(optimizer, optimizer_path + ".tmp");
      fs::rename(optimizer_path + ".tmp", optimizer_path);
      std::fprintf(stderr, "step %d: saved %s\n", step, checkpoint.c_str());
    };

    while (step < o.steps && !g_stop && !(o.minutes > 0 && elapsed() > o.minutes * 60)) {
      std::vector<Example> batch = queues.take(size_t(o.batch));
      if (batch.empty()) break;
      std::vector<torch::Tensor> videos, audios;
      std::vector<ConditionRow> rows;
      for (auto& e : batch) {
        videos.push_back(e.video);
        audios.push_back(e.audio);
        rows.push_back(std::move(e.row));
      }
      auto x0_video = torch::stack(videos).to(device);
      auto x0_audio = torch::stack(audios).to(device);
      const auto inputs = to_device(condition_inputs(rows, int(x0_video.size(2)), int(x0_video.size(3)), config), device);
      const int64_t B = x0_video.size(0);
      auto t = noise_levels(B, o.shift, o.pure_noise_share, device);
      auto noise_video = torch::randn_like(x0_video), noise_audio = torch::randn_like(x0_audio);
      auto tv = t.view({B, 1, 1, 1, 1}), ta = t.view({B, 1});
      auto xt_video = (1 - tv) * x0_video + tv * noise_video;
      auto xt_audio = (1 - ta) * x0_audio + ta * noise_audio;

      const double lr = o.lr * std::min(1.0, double(step + 1) / 100.0);  // warm-up
      for (size_t g = 0; g < optimizer.param_groups().size(); ++g)
        static_cast<torch::optim::AdamWOptions&>(optimizer.param_groups()[g].options()).lr(lr * group_factor[g]);
      const Context context = model->encode(inputs);
      auto [v_video, v_audio] = model->forward(xt_video, xt_audio, t, context);
      // v - v_target = (x0 - x0_pred) / t: the clean-clip error weighted 1/t^2. Near t = 0
      // that weight reaches 400 and a few fine-detail samples dominate the gradient; the floor
      // keeps the weight of coarse structure (setting, object, motion) comparable.
      auto weight = (t.clamp_min(0.05) / t.clamp_min(std::max(0.05, o.loss_t_floor))).pow(2);
      auto loss_video = ((v_video - (noise_video - x0_video)).pow(2).mean({1, 2, 3, 4}) * weight).mean();
      auto loss_audio = ((v_audio - (noise_audio - x0_audio)).pow(2).mean(1) * weight).mean();
      optimizer.zero_grad();
      (loss_video + loss_audio).backward();
      torch::nn::utils::clip_grad_norm_(model->parameters(), 1.0);
      optimizer.step();
      ++step;
      if (o.ema_decay > 0) update_ema();
      sum_video += loss_video.item<double>();
      sum_audio += loss_audio.item<double>();
      ++since_log;
      if (step % o.log_every == 0) {
        std::fprintf(stderr, "step %d  %.0f s  loss video %.4f audio %.4f  lr %.2e  clips %ld\n", step, elapsed(),
                     sum_video / since_log, sum_audio / since_log, lr, rendered.load());
        log << step << '\t' << elapsed() << '\t' << sum_video / since_log << '\t' << sum_audio / since_log << '\t'
            << lr << '\t' << rendered.load() << std::endl;
        sum_video = sum_audio = 0;
        since_log = 0;
      }
      if (step % o.checkpoint_every == 0) save();
    }
    save();
    g_stop = true;
    queues.wake_all();
    for (auto& w : workers) w.join();
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "opsis-train-mini: error: %s\n", e.what());
    g_stop = true;
    std::_Exit(1);
  }
}
