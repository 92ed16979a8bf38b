// opsis-train-probes: trains the evaluation's probes (src/eval/probe_net.hpp) on studio clips
// with their ground truth and writes models/opsis-probes.safetensors.
//   scene probe: one-object scenes with none of the held-out combinations (and
//     character-only scenes for setting/time/weather), tested on scenes OF the held-out
//     combinations;
//   character probe: character scenes, tested on fresh ones.
// Training sees mild picture damage (blur, noise, gain) so that the probes also read the
// blurrier generated clips.
#include <CLI/CLI.hpp>
#include <torch/torch.h>

#include <chrono>
#include <functional>
#include <cstring>
#include <memory>
#include <tuple>
#include <cstdio>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "eval/probe_net.hpp"
#include "studio/studio.hpp"

using namespace opsis;
using namespace opsis::eval;

namespace {

struct Example {
  std::vector<uint8_t> input;
  std::vector<int> labels;
};

studio::RenderOptions options(uint64_t seed) {
  studio::RenderOptions r;
  r.width = kNetWidth;
  r.height = kNetHeight;
  r.fps = kProbeFps;
  r.seed = seed;
  r.audio = false;
  return r;
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// Blur (3x3 box, per channel), gain and noise on a float batch [n][c][h][w]; frame
// channels are those with (c % period) < frame_channels, the rest are differences.
torch::Tensor damage(torch::Tensor x, int period, int frame_channels, std::mt19937_64& rng) {
  const int64_t n = x.size(0), c = x.size(1);
  std::uniform_real_distribution<float> u(0, 1);
  auto blurred = torch::avg_pool2d(x, 3, 1, 1, false, false);
  std::vector<float> blur(static_cast<size_t>(n)), gain(static_cast<size_t>(n)), noise(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    blur[size_t(i)] = u(rng) < 0.4f ? u(rng) : 0.0f;
    gain[size_t(i)] = 0.94f + 0.12f * u(rng);
    noise[size_t(i)] = u(rng) < 0.5f ? 0.02f * u(rng) : 0.0f;
  }
  auto b = torch::tensor(blur).view({n, 1, 1, 1});
  x = x * (1 - b) + blurred * b;
  auto is_frame = torch::zeros({c});
  for (int64_t k = 0; k < c; ++k) is_frame[k] = (k % period) < frame_channels ? 1.0f : 0.0f;
  is_frame = is_frame.view({1, c, 1, 1});
  auto g = torch::tensor(gain).view({n, 1, 1, 1});
  // Frames are value - 0.5: a gain g scales the value; differences scale by g.
  x = is_frame * ((x + 0.5f) * g - 0.5f) + (1 - is_frame) * x * g;
  auto s = torch::tensor(noise).view({n, 1, 1, 1});
  x = x + torch::randn_like(x) * s * (is_frame + (1 - is_frame) * 4.0f);
  return x;
}

template <typename Net, typename MakeInput, size_t Heads>
void train_net(Net& net, const std::vector<Example>& train, const std::vector<Example>& test, int epochs, int batch,
               double lr, MakeInput make_input, int period, int frame_channels, const std::array<HeadSpec, Heads>& specs,
               std::mt19937_64& rng, const char* what, std::map<std::string, std::string>& meta,
               const std::function<void()>& checkpoint) {
  torch::optim::AdamW optimizer(net->parameters(), torch::optim::AdamWOptions(lr).weight_decay(1e-4));
  std::vector<size_t> order(train.size());
  std::iota(order.begin(), order.end(), 0);
  const int steps_per_epoch = int((train.size() + size_t(batch) - 1) / size_t(batch));
  const int total_steps = epochs * steps_per_epoch;
  int step = 0;
  const auto start = std::chrono::steady_clock::now();
  auto evaluate = [&](const std::vector<Example>& set, bool print) {
    net->eval();
    torch::NoGradGuard no_grad;
    std::array<int, Heads> right{}, count{};
    for (size_t s = 0; s < set.size(); s += 64) {
      std::vector<const std::vector<uint8_t>*> inputs;
      for (size_t i = s; i < std::min(set.size(), s + 64); ++i) inputs.push_back(&set[i].input);
      const auto logits = net->forward(make_input(inputs));
      for (size_t h = 0; h < Heads; ++h) {
        auto a = logits[h].argmax(1).contiguous();
        for (size_t i = 0; i < inputs.size(); ++i) {
          const int y = set[s + i].labels[h];
          if (y < 0) continue;
          count[h] += 1;
          right[h] += a.template data_ptr<int64_t>()[i] == y;
        }
      }
    }
    std::string line;
    for (size_t h = 0; h < Heads; ++h) {
      char buf[96];
      std::snprintf(buf, sizeof buf, " %s %.1f%% (%d)", specs[h].name, count[h] ? 100.0 * right[h] / count[h] : 0.0, count[h]);
      line += buf;
      if (print) meta[std::string(what) + " test " + specs[h].name] = std::to_string(count[h] ? double(right[h]) / count[h] : 0.0);
    }
    net->train();
    return line;
  };
  net->train();
  for (int epoch = 0; epoch < epochs; ++epoch) {
    std::shuffle(order.begin(), order.end(), rng);
    double loss_sum = 0;
    for (int b = 0; b < steps_per_epoch; ++b) {
      const double progress = double(step) / total_steps;
      const double rate = lr * (step < steps_per_epoch ? double(step + 1) / steps_per_epoch : 0.5 * (1 + std::cos(M_PI * progress)));
      for (auto& group : optimizer.param_groups()) static_cast<torch::optim::AdamWOptions&>(group.options()).lr(rate);
      std::vector<const std::vector<uint8_t>*> inputs;
      std::vector<std::vector<int64_t>> labels(Heads);
      for (size_t i = size_t(b) * size_t(batch); i < std::min(train.size(), size_t(b + 1) * size_t(batch)); ++i) {
        inputs.push_back(&train[order[i]].input);
        for (size_t h = 0; h < Heads; ++h) labels[h].push_back(train[order[i]].labels[h]);
      }
      auto x = damage(make_input(inputs), period, frame_channels, rng);
      const auto logits = net->forward(x);
      torch::Tensor loss = torch::zeros({});
      for (size_t h = 0; h < Heads; ++h) {
        auto y = torch::tensor(labels[h]);
        if ((y >= 0).sum().item<int64_t>() == 0) continue;
        loss = loss + torch::nn::functional::cross_entropy(
                          logits[h], y, torch::nn::functional::CrossEntropyFuncOptions().ignore_index(-1).label_smoothing(0.05));
      }
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
      loss_sum += loss.item<double>();
      ++step;
    }
    std::printf("%s epoch %d/%d: loss %.3f, %.0f s;%s\n", what, epoch + 1, epochs, loss_sum / steps_per_epoch,
                seconds_since(start), (epoch + 1 == epochs || (epoch + 1) % 4 == 0) ? evaluate(test, false).c_str() : "");
    std::fflush(stdout);
    net->eval();
    checkpoint();  // the probes file so far, after every epoch (a long run can be stopped)
    net->train();
  }
  std::printf("%s held-out test:%s\n", what, evaluate(test, true).c_str());
  net->eval();
}

// ---- The object reader (src/eval/object_probe.hpp) ----

struct ObjectClip {
  ObjectFrames frames;
  std::vector<float> cells;      // [frames][18*32] 1 where the object is
  std::array<int, 5> labels{};   // kind, colour, size, motion, camera (-1: no object)
};

ObjectClip object_clip(const studio::SceneSpec& spec, uint64_t seed) {
  const auto clip = studio::render_clip(spec, options(seed));
  ObjectClip c;
  c.frames = object_frames(clip.video);
  const auto boxes = spec.objects.empty() ? std::vector<Box>() : boxes_of(clip, 0);
  for (int t = 0; t < c.frames.count; ++t) {
    // object_frames samples the 12 fps clip one to one.
    const Box box = t < int(boxes.size()) ? boxes[size_t(t)] : Box{};
    const auto cells = cell_targets(box, clip.video.width, clip.video.height);
    c.cells.insert(c.cells.end(), cells.begin(), cells.end());
  }
  const auto y = scene_labels(spec);
  c.labels = {y[kObject], y[kColor], y[kSize], y[kMotion], y[kCamera]};
  return c;
}

// A 3x3 box blur of every frame (generated clips are softer than the studio's).
ObjectFrames blurred(const ObjectFrames& f) {
  ObjectFrames out = f;
  const int w = kNetWidth, h = kNetHeight;
  for (int t = 0; t < f.count; ++t)
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        for (int c = 0; c < 3; ++c) {
          int sum = 0, n = 0;
          for (int dy = -1; dy <= 1; ++dy)
            for (int dx = -1; dx <= 1; ++dx) {
              const int yy = y + dy, xx = x + dx;
              if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
              sum += f.frame(t)[(size_t(yy) * w + size_t(xx)) * 3 + size_t(c)], ++n;
            }
          out.rgb[((size_t(t) * h + size_t(y)) * w + size_t(x)) * 3 + size_t(c)] = uint8_t(sum / n);
        }
  return out;
}

void train_object_reader(Probes& probes, int clips, int test_clips, int map_steps, int motion_epochs, std::mt19937_64& rng,
                         std::map<std::string, std::string>& meta, const std::function<void()>& checkpoint) {
  const auto start = std::chrono::steady_clock::now();
  std::vector<ObjectClip> train, test;
  for (int i = 0; i < clips; ++i) {
    // One clip in six shows a character and no object: the map must not call a person the object.
    const auto spec = i % 6 == 5 ? probe_character_scene(rng) : probe_object_scene(rng, false);
    train.push_back(object_clip(spec, rng()));
  }
  for (int i = 0; i < test_clips; ++i) test.push_back(object_clip(probe_object_scene(rng, true), rng()));
  std::printf("object reader: rendered %d + %d clips in %.0f s\n", clips, test_clips, seconds_since(start));
  std::fflush(stdout);

  // 1. The map: random frames of random clips.
  auto& net = *probes.object_map;
  net.train();
  torch::optim::AdamW optimizer(net.parameters(), torch::optim::AdamWOptions(2e-3).weight_decay(1e-4));
  constexpr int kBatch = 24, kCells = kMapWidth * kMapHeight;
  std::uniform_int_distribution<size_t> any_clip(0, train.size() - 1);
  double loss_sum = 0, found = 0, truth = 0, claimed = 0;
  for (int step = 0; step < map_steps; ++step) {
    const double rate = 2e-3 * (step < 100 ? (step + 1) / 100.0 : 0.5 * (1 + std::cos(M_PI * step / map_steps)));
    for (auto& group : optimizer.param_groups()) static_cast<torch::optim::AdamWOptions&>(group.options()).lr(rate);
    auto x = torch::empty({kBatch, 4, kNetHeight, kNetWidth});
    auto cells = torch::empty({kBatch, kMapHeight, kMapWidth});
    std::vector<int64_t> kinds, colors, sizes;
    for (int i = 0; i < kBatch; ++i) {
      const auto& c = train[any_clip(rng)];
      const int t = std::uniform_int_distribution<int>(0, c.frames.count - 1)(rng);
      object_map_input(c.frames, t, x[i].data_ptr<float>());
      std::memcpy(cells[i].data_ptr<float>(), c.cells.data() + size_t(t) * kCells, kCells * sizeof(float));
      kinds.push_back(c.labels[0]), colors.push_back(c.labels[1]), sizes.push_back(c.labels[2]);
    }
    x = damage(x, 4, 3, rng);
    const auto logits = net.forward(x);  // [n][16][18][32]
    auto objectness = logits.select(1, 0);
    // Object cells are ~1% of a frame: weighted up so that the map does not settle on "nothing".
    auto loss = torch::binary_cross_entropy_with_logits(objectness, cells, {}, torch::full({1}, 25.0f));
    // Attributes on the object's cells: per-cell cross entropy against the clip's label.
    const auto mask = cells.flatten(0).gt(0.5);  // [n*18*32]
    auto per_cell = [&](int offset, int classes, const std::vector<int64_t>& labels) {
      auto l = logits.narrow(1, offset, classes).permute({0, 2, 3, 1}).reshape({-1, classes});
      auto y = torch::tensor(labels).view({kBatch, 1}).expand({kBatch, kCells}).reshape({-1});
      auto keep = mask & y.ge(0);
      if (keep.sum().item<int64_t>() == 0) return torch::zeros({});
      return torch::nn::functional::cross_entropy(l.index({keep}), y.index({keep}));
    };
    loss = loss + per_cell(1, kKinds, kinds) + per_cell(1 + kKinds, kColors, colors) + 0.5 * per_cell(1 + kKinds + kColors, kSizes, sizes);
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    loss_sum += loss.item<double>();
    {
      auto said = objectness.detach().gt(0), is = cells.gt(0.5);
      found += (said & is).sum().item<double>(), truth += is.sum().item<double>(), claimed += said.sum().item<double>();
    }
    if ((step + 1) % 100 == 0) {
      std::printf("object map step %d/%d: loss %.3f, cells found %.1f%%, claimed cells right %.1f%%, %.0f s\n", step + 1, map_steps,
                  loss_sum / 100, 100 * found / std::max(1.0, truth), 100 * found / std::max(1.0, claimed), seconds_since(start));
      std::fflush(stdout);
      loss_sum = found = truth = claimed = 0;
    }
    if ((step + 1) % 500 == 0) {
      net.eval();
      probes.has_object_reader = true;
      checkpoint();
      net.train();
    }
  }
  net.eval();

  // 2. Tracks of every clip (half the training clips blurred), then the motion MLP.
  auto tracks_of = [&](const std::vector<ObjectClip>& set, bool blur_half) {
    std::vector<ObjectTrack> out;
    for (size_t i = 0; i < set.size(); ++i)
      out.push_back(track_object(net, blur_half && i % 2 == 1 ? blurred(set[i].frames) : set[i].frames));
    return out;
  };
  const auto train_tracks = tracks_of(train, true), test_tracks = tracks_of(test, false);
  std::printf("object reader: tracked %zu + %zu clips, %.0f s\n", train_tracks.size(), test_tracks.size(), seconds_since(start));
  auto votes_accuracy = [&](const std::vector<ObjectTrack>& tracks, const std::vector<ObjectClip>& set, int which) {
    int right = 0, count = 0;
    for (size_t i = 0; i < set.size(); ++i) {
      if (set[i].labels[size_t(which)] < 0) continue;
      const auto& t = tracks[i];
      const int read = which == 0   ? int(std::max_element(t.kind_votes.begin(), t.kind_votes.end()) - t.kind_votes.begin())
                       : which == 1 ? int(std::max_element(t.color_votes.begin(), t.color_votes.end()) - t.color_votes.begin())
                                    : int(std::max_element(t.size_votes.begin(), t.size_votes.end()) - t.size_votes.begin());
      right += read == set[i].labels[size_t(which)], ++count;
    }
    return count ? double(right) / count : 0.0;
  };
  auto features = [](const std::vector<ObjectTrack>& tracks) {
    auto f = torch::empty({int64_t(tracks.size()), kTrackSteps * kTrackFeatures});
    for (size_t i = 0; i < tracks.size(); ++i) std::memcpy(f[int64_t(i)].data_ptr<float>(), tracks[i].features.data(), tracks[i].features.size() * sizeof(float));
    return f;
  };
  auto labels = [](const std::vector<ObjectClip>& set, int which) {
    std::vector<int64_t> y;
    for (const auto& c : set) y.push_back(c.labels[size_t(which)]);
    return torch::tensor(y);
  };
  const auto x_train = features(train_tracks), x_test = features(test_tracks);
  probes.motion = MotionNet();  // fresh: the features of a retrained map differ
  auto& motion = *probes.motion;
  {
    torch::NoGradGuard no_grad;
    motion.feature_mean.copy_(x_train.mean(0));
    motion.feature_scale.copy_(1.0 / (x_train.std(0) + 1e-3));
  }
  const std::array<int, 3> which{3, 4, 2};  // motion, camera, size
  std::array<torch::Tensor, 3> y_train, y_test;
  for (int h = 0; h < 3; ++h) y_train[size_t(h)] = labels(train, which[size_t(h)]), y_test[size_t(h)] = labels(test, which[size_t(h)]);
  torch::optim::AdamW mlp_optimizer(motion.parameters(), torch::optim::AdamWOptions(1e-3).weight_decay(1e-2));
  auto accuracy = [&](const torch::Tensor& x, const std::array<torch::Tensor, 3>& y) {
    motion.eval();
    torch::NoGradGuard no_grad;
    const auto logits = motion.forward(x);
    std::array<double, 3> out{};
    for (int h = 0; h < 3; ++h) {
      auto keep = y[size_t(h)].ge(0);
      out[size_t(h)] = (logits[size_t(h)].argmax(1).eq(y[size_t(h)]) & keep).sum().item<double>() / std::max<int64_t>(1, keep.sum().item<int64_t>());
    }
    motion.train();
    return out;
  };
  const int64_t n = x_train.size(0);
  motion.train();
  for (int epoch = 0; epoch < motion_epochs; ++epoch) {
    auto order = torch::randperm(n);
    for (int64_t b = 0; b < n; b += 64) {
      auto idx = order.narrow(0, b, std::min<int64_t>(64, n - b));
      // Noise on the (normalised) features: 1,200 clips are few for 208 numbers.
      auto x = x_train.index({idx});
      x = x + torch::randn_like(x) * 0.3 / motion.feature_scale;
      const auto logits = motion.forward(x);
      torch::Tensor loss = torch::zeros({});
      for (int h = 0; h < 3; ++h)
        loss = loss + torch::nn::functional::cross_entropy(logits[size_t(h)], y_train[size_t(h)].index({idx}),
                                                           torch::nn::functional::CrossEntropyFuncOptions().ignore_index(-1).label_smoothing(0.05));
      mlp_optimizer.zero_grad();
      loss.backward();
      mlp_optimizer.step();
    }
    if ((epoch + 1) % 50 == 0 || epoch + 1 == motion_epochs) {
      const auto a = accuracy(x_train, y_train), b = accuracy(x_test, y_test);
      std::printf("motion mlp epoch %d/%d: train motion %.1f%% camera %.1f%% size %.1f%% | held-out motion %.1f%% camera %.1f%% size %.1f%%\n",
                  epoch + 1, motion_epochs, 100 * a[0], 100 * a[1], 100 * a[2], 100 * b[0], 100 * b[1], 100 * b[2]);
      std::fflush(stdout);
    }
  }
  motion.eval();
  const auto held_out = accuracy(x_test, y_test);
  const double kind = votes_accuracy(test_tracks, test, 0), color = votes_accuracy(test_tracks, test, 1),
               size_votes = votes_accuracy(test_tracks, test, 2);
  std::printf("object reader held-out test (%zu clips): object %.1f%%, colour %.1f%%, size %.1f%% (map votes %.1f%%), motion %.1f%%, camera %.1f%%\n",
              test.size(), 100 * kind, 100 * color, 100 * held_out[2], 100 * size_votes, 100 * held_out[0], 100 * held_out[1]);
  {  // Where the kind goes wrong: truth rows, read columns.
    std::array<std::array<int, kKinds>, kKinds> confusion{};
    for (size_t i = 0; i < test.size(); ++i) {
      if (test[i].labels[0] < 0) continue;
      const auto& v = test_tracks[i].kind_votes;
      confusion[size_t(test[i].labels[0])][size_t(std::max_element(v.begin(), v.end()) - v.begin())] += 1;
    }
    std::printf("object kind confusion (rows truth, columns read; ball box balloon bird car):\n");
    for (int r = 0; r < kKinds; ++r) {
      for (int c = 0; c < kKinds; ++c) std::printf(" %4d", confusion[size_t(r)][size_t(c)]);
      std::printf("\n");
    }
  }
  meta["object test object"] = std::to_string(kind);
  meta["object test color"] = std::to_string(color);
  meta["object test size"] = std::to_string(held_out[2]);
  meta["object test motion"] = std::to_string(held_out[0]);
  meta["object test camera"] = std::to_string(held_out[1]);
  meta["reader_clips"] = std::to_string(clips);
  meta["reader_map_steps"] = std::to_string(map_steps);
  probes.has_object_reader = true;
}

// ---- How legible the object is: the reader's accuracy by the object's size on screen ----
// Renders held-out-combination clips at the probes' size (128x72), reads them as `opsis eval`
// does, and splits the readings by the object's median on-screen extent (the larger side of
// its box over the frames it is in view). A 0.4 m ball in a wide shot (10 m across 72 px)
// is about 3 px: what a reader can still tell there is the question this answers.
void legibility(const Probes& probes, int clips, std::mt19937_64& rng) {
  constexpr std::array<double, 5> kEdges{0, 3, 5, 8, 14};  // px: buckets [0,3) [3,5) [5,8) [8,14) [14,inf)
  constexpr int kBuckets = int(kEdges.size()), kRows = 5;  // object, colour, size, motion, camera
  constexpr std::array<int, kRows> kHeads{kObject, kColor, kSize, kMotion, kCamera};
  std::array<std::array<int, kRows>, kBuckets> right{};
  std::array<int, kBuckets> count{};
  std::array<std::array<int, kBuckets>, kKinds> per_kind{};
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < clips; ++i) {
    const auto spec = probe_object_scene(rng, true);
    const auto clip = studio::render_clip(spec, options(rng()));
    std::vector<float> extents;
    for (const Box& b : boxes_of(clip, 0))
      if (b.x1 > b.x0 && b.y1 > b.y0) extents.push_back(std::max(b.x1 - b.x0, b.y1 - b.y0));
    float extent = 0;
    if (!extents.empty()) {
      std::nth_element(extents.begin(), extents.begin() + long(extents.size() / 2), extents.end());
      extent = extents[extents.size() / 2];
    }
    int bucket = kBuckets - 1;
    while (bucket > 0 && extent < kEdges[size_t(bucket)]) --bucket;
    const auto read = probes.read_scene(clip.video);
    const auto truth = scene_labels(spec);
    ++count[size_t(bucket)];
    per_kind[size_t(truth[kObject])][size_t(bucket)] += 1;
    for (int r = 0; r < kRows; ++r) right[size_t(bucket)][size_t(r)] += read[size_t(kHeads[size_t(r)])] == truth[size_t(kHeads[size_t(r)])];
  }
  std::printf("object reader by the object's on-screen extent (held-out combinations, %dx%d, %d clips, %.0f s)\n", kNetWidth,
              kNetHeight, clips, seconds_since(start));
  std::printf("  %-10s %6s %8s %8s %8s %8s %8s   %s\n", "extent", "clips", "object", "colour", "size", "motion", "camera",
              "kinds (ball box balloon bird car)");
  std::array<int, kRows> all{};
  for (int b = 0; b < kBuckets; ++b) {
    char label[32];
    if (b + 1 < kBuckets) std::snprintf(label, sizeof label, "%g-%g px", kEdges[size_t(b)], kEdges[size_t(b) + 1]);
    else std::snprintf(label, sizeof label, ">= %g px", kEdges[size_t(b)]);
    std::printf("  %-10s %6d", label, count[size_t(b)]);
    for (int r = 0; r < kRows; ++r) {
      all[size_t(r)] += right[size_t(b)][size_t(r)];
      if (count[size_t(b)]) std::printf(" %7.1f%%", 100.0 * right[size_t(b)][size_t(r)] / count[size_t(b)]);
      else std::printf(" %8s", "-");
    }
    std::printf("  ");
    for (int k = 0; k < kKinds; ++k) std::printf(" %3d", per_kind[size_t(k)][size_t(b)]);
    std::printf("\n");
  }
  std::printf("  %-10s %6d", "all", clips);
  for (int r = 0; r < kRows; ++r) std::printf(" %7.1f%%", 100.0 * all[size_t(r)] / std::max(1, clips));
  std::printf("\n");
}

// ---- The impact detector ----

// A large (sometimes small) ball or box bouncing or falling (sometimes rolling: no impacts),
// static camera, in a random ground setting; `eval_like`: as `opsis eval` checks it (large,
// ball bounces or box falls, day, clear).
studio::SceneSpec impact_scene(std::mt19937_64& rng, bool eval_like) {
  using namespace studio;
  auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); };
  SceneSpec spec;
  spec.setting = Setting(pick(7));
  const bool ball = pick(2);
  ObjectSpec o{ball ? ObjectKind::Ball : ObjectKind::Box, Color(pick(8)), Size::Large, ball ? Motion::Bounces : Motion::Falls};
  if (!eval_like) {
    spec.time_of_day = pick(3) == 0 ? TimeOfDay::GoldenHour : TimeOfDay::Day;
    spec.weather = pick(6) == 0 ? Weather::Rain : Weather::Clear;
    if (pick(4) == 0) o.size = Size::Small;
    const int m = pick(10);
    o.motion = m < 4 ? Motion::Bounces : m < 8 ? Motion::Falls : m == 8 ? Motion::RollsLeft : Motion::RollsRight;
  }
  spec.objects = {o};
  spec.shots[0].seconds = 4;
  return spec;
}

struct ImpactExample {
  std::vector<float> profile;  // [2][bands][frames]
  std::vector<float> target, weight;
  std::vector<double> truth;
};

ImpactExample impact_example(std::mt19937_64& rng, bool eval_like) {
  const auto spec = impact_scene(rng, eval_like);
  auto r = options(rng());
  r.fps = 24;
  const auto clip = studio::render_clip(spec, r);
  ImpactExample e;
  e.profile = impact_profile(clip.video);
  e.truth = truth_impacts(clip, 24);
  const int frames = clip.video.frame_count();
  e.target.assign(size_t(frames), 0.0f);
  e.weight.assign(size_t(frames), 1.0f);
  for (double t : e.truth)
    for (int f = 0; f < frames; ++f) {
      const double d = std::abs(t * 24 - f);
      if (d <= 0.5) e.target[size_t(f)] = 1, e.weight[size_t(f)] = 1;
      else if (d < 1.0 && e.target[size_t(f)] == 0) e.weight[size_t(f)] = 0;
    }
  return e;
}

void train_impact(ImpactNet& net, int clips, int test_clips, int epochs, std::mt19937_64& rng,
                  std::map<std::string, std::string>& meta) {
  const auto start = std::chrono::steady_clock::now();
  std::vector<ImpactExample> train, test;
  for (int i = 0; i < clips; ++i) train.push_back(impact_example(rng, i % 2 == 0));
  for (int i = 0; i < test_clips; ++i) test.push_back(impact_example(rng, true));
  std::printf("impact: rendered %d + %d clips in %.0f s\n", clips, test_clips, seconds_since(start));
  const int frames = int(train[0].target.size());
  auto stack = [&](const std::vector<ImpactExample>& set, const std::vector<size_t>& idx, bool with_targets) {
    auto x = torch::empty({int64_t(idx.size()), 2, kImpactBands, frames});
    auto y = torch::empty({int64_t(idx.size()), frames}), w = torch::empty({int64_t(idx.size()), frames});
    for (size_t i = 0; i < idx.size(); ++i) {
      const auto& e = set[idx[i]];
      std::memcpy(x[int64_t(i)].data_ptr<float>(), e.profile.data(), e.profile.size() * sizeof(float));
      if (with_targets) {
        std::memcpy(y[int64_t(i)].data_ptr<float>(), e.target.data(), e.target.size() * sizeof(float));
        std::memcpy(w[int64_t(i)].data_ptr<float>(), e.weight.data(), e.weight.size() * sizeof(float));
      }
    }
    return std::make_tuple(x, y, w);
  };
  auto score = [&](const std::vector<ImpactExample>& set) {
    net->eval();
    torch::NoGradGuard no_grad;
    int truth_n = 0, seen = 0, found_n = 0, found_true = 0;
    for (size_t i = 0; i < set.size(); ++i) {
      auto [x, y, w] = stack(set, {i}, false);
      auto l = net->forward(x).contiguous();
      std::vector<float> logits(l.data_ptr<float>(), l.data_ptr<float>() + frames);
      const auto found = impact_peaks(logits, 24);
      truth_n += int(set[i].truth.size()), found_n += int(found.size());
      seen += int(std::lround(share_matched(set[i].truth, found, 0.042) * double(set[i].truth.size())));
      found_true += int(std::lround(share_matched(found, set[i].truth, 0.042) * double(found.size())));
    }
    net->train();
    return std::make_tuple(double(seen) / std::max(1, truth_n), double(found_true) / std::max(1, found_n), truth_n, found_n);
  };
  torch::optim::AdamW optimizer(net->parameters(), torch::optim::AdamWOptions(3e-3).weight_decay(1e-4));
  std::vector<size_t> order(train.size());
  std::iota(order.begin(), order.end(), 0);
  net->train();
  for (int epoch = 0; epoch < epochs; ++epoch) {
    std::shuffle(order.begin(), order.end(), rng);
    double loss_sum = 0;
    int batches = 0;
    for (size_t b = 0; b < order.size(); b += 16) {
      std::vector<size_t> idx(order.begin() + long(b), order.begin() + long(std::min(order.size(), b + 16)));
      auto [x, y, w] = stack(train, idx, true);
      auto logits = net->forward(x);
      auto loss = torch::binary_cross_entropy_with_logits(logits, y, w, torch::full({1}, 6.0f));
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
      loss_sum += loss.item<double>();
      ++batches;
    }
    if ((epoch + 1) % 5 == 0 || epoch + 1 == epochs) {
      auto [recall, precision, t, f] = score(test);
      std::printf("impact epoch %d/%d: loss %.4f; test recall %.1f%% of %d, precision %.1f%% of %d; %.0f s\n", epoch + 1,
                  epochs, loss_sum / batches, 100 * recall, t, 100 * precision, f, seconds_since(start));
      std::fflush(stdout);
    }
  }
  auto [recall, precision, t, f] = score(test);
  meta["impact test recall"] = std::to_string(recall);
  meta["impact test precision"] = std::to_string(precision);
  meta["impact_clips"] = std::to_string(clips);
  net->eval();
}

// The signal-level detectors against the studio truth: the visual impact detector on large
// balls bouncing and large boxes falling (static camera, 24 fps), and the mouth reader on
// talking close-ups. Prints per-clip times when verbose.
void check_detectors(int clips, uint64_t seed, bool verbose, const Probes* probes_for_check) {
  using namespace studio;
  std::mt19937_64 rng(seed);
  auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); };
  int truth_n = 0, seen = 0, found_n = 0, found_true = 0;
  for (int i = 0; i < clips; ++i) {
    const bool ball = pick(2);
    SceneSpec spec;
    spec.setting = Setting(pick(7));
    spec.objects = {ObjectSpec{ball ? ObjectKind::Ball : ObjectKind::Box, Color(pick(8)), Size::Large, ball ? Motion::Bounces : Motion::Falls}};
    spec.shots[0].seconds = 4;
    RenderOptions r = options(rng());
    r.fps = 24;
    const Clip clip = render_clip(spec, r);
    std::vector<double> truth;
    for (const auto& e : clip.truth.events) {
      if (e.kind != EventKind::Impact || e.other != -1 || e.speed < 1.0f) continue;
      const int t = std::clamp(int(std::lround(e.time * 24)), 0, int(clip.truth.frames.size()) - 1);
      const auto& entities = clip.truth.frames[size_t(t)].entities;
      if (e.entity < 0 || e.entity >= int(entities.size()) || !entities[size_t(e.entity)].visible) continue;
      truth.push_back(e.time);
    }
    const auto found = probes_for_check ? probes_for_check->impacts(clip.video) : visual_impacts(clip.video);
    const double tol = 0.042;
    const int s = int(std::lround(share_matched(truth, found, tol) * truth.size()));
    const int f = int(std::lround(share_matched(found, truth, tol) * found.size()));
    truth_n += int(truth.size()), seen += s, found_n += int(found.size()), found_true += f;
    if (verbose) {
      std::printf("clip %d %s %s: truth", i, ball ? "ball" : "box", std::string(name(spec.setting)).c_str());
      for (double t : truth) std::printf(" %.1f", t * 24);
      std::printf(" | found");
      for (double t : found) std::printf(" %.1f", t * 24);
      std::printf("\n");
    }
  }
  std::printf("impact detector: %d clips, recall %.1f%% of %d truth impacts, precision %.1f%% of %d found\n", clips,
              100.0 * seen / std::max(1, truth_n), truth_n, 100.0 * found_true / std::max(1, found_n), found_n);
  double corr = 0;
  const int mouths = std::max(1, clips / 4);
  for (int i = 0; i < mouths; ++i) {
    SceneSpec spec;
    spec.setting = Setting(pick(7));
    CharacterSpec c;
    c.identity.skin = SkinTone(pick(5));
    c.identity.hair_color = HairColor(pick(6));
    c.identity.shirt = Color(pick(8));
    c.identity.accessory = Accessory(pick(3));
    c.action = Action::Talks;
    c.line = "Wow, what a big bright moon tonight, said the man with the map.";
    spec.characters = {c};
    spec.shots[0].framing = Framing::CloseUp;
    spec.shots[0].seconds = 4;
    RenderOptions r = options(rng());
    r.fps = 24;
    const Clip clip = render_clip(spec, r);
    const auto mouth = mouth_openness(clip.video, boxes_of(clip, 0));
    std::vector<double> drawn;
    for (const auto& frame : clip.truth.frames) drawn.push_back(frame.entities.at(0).mouth_open);
    const double r0 = correlation_at_lag(mouth, drawn, 0);
    corr += r0 / mouths;
    if (verbose) std::printf("mouth clip %d: r = %.3f\n", i, r0);
  }
  std::printf("mouth reader: %d clips, mean r = %.3f\n", mouths, corr);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"train the opsis eval probes on studio clips"};
  int object_clips = 2400, character_clips = 1500, object_test = 300, character_test = 300;
  int scene_epochs = 8, character_epochs = 10, threads = 2;
  uint64_t seed = 1;
  std::string out = "models/opsis-probes.safetensors";
  app.add_option("--object-clips", object_clips, "one-object studio clips that train the scene probe")->capture_default_str();
  app.add_option("--character-clips", character_clips, "character studio clips that train both probes")->capture_default_str();
  app.add_option("--object-test", object_test, "held-out-combination clips that test the scene probe")->capture_default_str();
  app.add_option("--character-test", character_test, "fresh character clips that test the probes")->capture_default_str();
  app.add_option("--scene-epochs", scene_epochs)->capture_default_str();
  app.add_option("--character-epochs", character_epochs)->capture_default_str();
  app.add_option("--threads", threads)->capture_default_str();
  app.add_option("--seed", seed)->capture_default_str();
  app.add_option("-o,--out", out)->capture_default_str();
  int check = 0, impact_clips = 800, impact_test = 200, impact_epochs = 30;
  int reader_clips = 1500, reader_test = 300, reader_map_steps = 2000, reader_motion_epochs = 300;
  app.add_option("--reader-clips", reader_clips, "studio clips that train the object reader")->capture_default_str();
  app.add_option("--reader-test", reader_test, "held-out-combination clips that test it")->capture_default_str();
  app.add_option("--reader-map-steps", reader_map_steps, "optimiser steps of its object map (24 frames each)")->capture_default_str();
  app.add_option("--reader-motion-epochs", reader_motion_epochs, "epochs of its motion/camera/size MLP")->capture_default_str();
  bool verbose = false;
  std::string parts = "scene,character,impact,object", init;
  app.add_option("--parts", parts, "which parts to train: scene, character, impact, object (the others come from --init; none: merge only)")
      ->capture_default_str();
  app.add_option("--init", init, "probes files to start from: FILE[:PART+PART],... (e.g. a.safetensors:scene,b.safetensors:character+impact)");
  app.add_option("--impact-clips", impact_clips)->capture_default_str();
  app.add_option("--impact-test", impact_test)->capture_default_str();
  app.add_option("--impact-epochs", impact_epochs)->capture_default_str();
  int legible = 0;
  app.add_option("--legibility", legible, "only read this many held-out studio clips with the probes of --init (default: the shipped file) and print the accuracy by the object's size on screen");
  app.add_option("--check-detectors", check, "only check the impact detector and mouth reader on this many studio clips");
  app.add_flag("-v,--verbose", verbose);
  std::string dump;
  app.add_option("--dump", dump, "write a few character crops (PPM) here and stop");
  CLI11_PARSE(app, argc, argv);
  const bool train_scene = parts.find("scene") != std::string::npos;
  const bool train_character = parts.find("character") != std::string::npos;
  const bool train_impacts = parts.find("impact") != std::string::npos;
  const bool train_reader = parts.find("object") != std::string::npos;
  torch::set_num_threads(threads);
  torch::manual_seed(int64_t(seed));
  std::mt19937_64 rng(seed * 1000003 + 7);
  const auto start = std::chrono::steady_clock::now();

  if (!dump.empty()) {  // a look at what the character probe sees: crops of a few clips as PPM
    for (int i = 0; i < 12; ++i) {
      const auto spec = probe_character_scene(rng);
      const auto clip = studio::render_clip(spec, options(rng()));
      const auto crops = character_crops(clip.video, boxes_of(clip, 0));
      const auto& id = spec.characters[0].identity;
      const std::string file = dump + "/" + std::to_string(i) + "_" + std::string(studio::name(id.skin)) + "_" +
                               std::string(studio::name(id.hair_color)) + "_" + std::string(studio::name(id.hair_style)) + "_" +
                               std::string(studio::name(id.accessory)) + "_" + std::string(studio::name(spec.time_of_day)) + "_" +
                               std::string(studio::name(spec.shots[0].framing)) + ".ppm";
      FILE* f = std::fopen(file.c_str(), "wb");
      std::fprintf(f, "P6 %d %d 255\n", kCropWidth * kCharacterMoments + kNetWidth, std::max(kCropHeight, kNetHeight));
      for (int y = 0; y < std::max(kCropHeight, kNetHeight); ++y) {
        for (int k = 0; k < kCharacterMoments; ++k)
          for (int x = 0; x < kCropWidth; ++x)
            for (int c = 0; c < 3; ++c)
              std::fputc(y < kCropHeight ? crops[((size_t(k) * kCropHeight + size_t(y)) * kCropWidth + size_t(x)) * 3 + size_t(c)] : 0, f);
        for (int x = 0; x < kNetWidth; ++x)
          for (int c = 0; c < 3; ++c) std::fputc(y < kNetHeight ? clip.video.frame(0)[(size_t(y) * kNetWidth + size_t(x)) * 3 + size_t(c)] : 0, f);
      }
      std::fclose(f);
    }
    return 0;
  }
  if (legible > 0) {
    legibility(Probes::load(init.empty() ? "models/opsis-probes.safetensors" : init, true), legible, rng);
    return 0;
  }
  if (check > 0) {
    std::unique_ptr<Probes> loaded;
    if (!init.empty()) loaded = std::make_unique<Probes>(Probes::load(init, true));
    check_detectors(check, seed, verbose, loaded.get());
    return 0;
  }
  Probes probes;
  for (size_t from = 0; from < init.size();) {  // --init a:scene,b:character+impact (later files win)
    const size_t comma = std::min(init.find(',', from), init.size());
    const std::string item = init.substr(from, comma - from);
    const size_t colon = item.find(':');
    if (colon == std::string::npos) probes.merge(item);
    else probes.merge(item.substr(0, colon), item.substr(colon + 1));
    from = comma + 1;
  }
  std::map<std::string, std::string> meta = probes.metadata;
  const auto checkpoint = [&] { probes.save(out, meta); };
  std::vector<Example> scene_train, scene_test, character_train, character_test_set;
  auto add_object = [&](bool held_out, std::vector<Example>& set) {
    const auto spec = probe_object_scene(rng, held_out);
    const auto clip = studio::render_clip(spec, options(rng()));
    const auto y = scene_labels(spec);
    set.push_back({scene_frames(clip.video), std::vector<int>(y.begin(), y.end())});
  };
  auto add_character = [&](std::vector<Example>* scene_set, std::vector<Example>& set) {
    const auto spec = probe_character_scene(rng);
    const auto clip = studio::render_clip(spec, options(rng()));
    const auto y = character_labels(spec);
    set.push_back({character_crops(clip.video, boxes_of(clip, 0)), std::vector<int>(y.begin(), y.end())});
    if (scene_set) {
      const auto s = scene_labels(spec);
      scene_set->push_back({scene_frames(clip.video), std::vector<int>(s.begin(), s.end())});
    }
  };
  if (!train_scene) object_clips = object_test = 0;
  if (!train_scene && !train_character) character_clips = character_test = 0;
  for (int i = 0; i < object_clips; ++i) add_object(false, scene_train);
  for (int i = 0; i < object_test; ++i) add_object(true, scene_test);
  std::vector<Example> character_scene_test;
  for (int i = 0; i < character_clips; ++i) add_character(train_scene ? &scene_train : nullptr, character_train);
  for (int i = 0; i < character_test; ++i) add_character(train_scene ? &character_scene_test : nullptr, character_test_set);
  std::printf("rendered %zu scene / %zu character training clips, %zu + %zu test clips in %.0f s\n", scene_train.size(),
              character_train.size(), scene_test.size(), character_test_set.size(), seconds_since(start));
  std::fflush(stdout);

  meta["format"] = "opsis-probes 1";
  if (train_scene) meta["object_clips"] = std::to_string(object_clips);
  if (train_scene || train_character) meta["character_clips"] = std::to_string(character_clips);
  meta["seed"] = std::to_string(seed);
  if (train_character)
  train_net(probes.character, character_train, character_test_set, character_epochs, 32, 2e-3, character_tensor, 3, 3,
            kCharacterHeadSpecs, rng, "character", meta, checkpoint);
  if (train_scene)
  train_net(probes.scene, scene_train, scene_test, scene_epochs, 32, 2e-3, scene_tensor, 4, 3, kSceneHeadSpecs, rng, "scene",
            meta, checkpoint);
  if (train_scene) {
    // The scene probe on character clips (setting, time of day, weather).
    std::map<std::string, std::string> unused;
    std::mt19937_64 r2(1);
    (void)r2;
    probes.scene->eval();
    torch::NoGradGuard no_grad;
    std::array<int, 3> right{}, count{};
    for (size_t s = 0; s < character_scene_test.size(); s += 64) {
      std::vector<const std::vector<uint8_t>*> inputs;
      for (size_t i = s; i < std::min(character_scene_test.size(), s + 64); ++i) inputs.push_back(&character_scene_test[i].input);
      const auto rows = probes.read_scenes(inputs);
      for (size_t i = 0; i < rows.size(); ++i)
        for (int h = 0; h < 3; ++h) count[size_t(h)] += 1, right[size_t(h)] += rows[i][size_t(h)] == character_scene_test[s + i].labels[size_t(h)];
    }
    std::printf("scene probe on character clips: setting %.1f%%, time of day %.1f%%, weather %.1f%% (%d)\n",
                100.0 * right[0] / count[0], 100.0 * right[1] / count[1], 100.0 * right[2] / count[2], count[0]);
    meta["scene test on character clips setting"] = std::to_string(double(right[0]) / count[0]);
    meta["scene test on character clips time_of_day"] = std::to_string(double(right[1]) / count[1]);
    meta["scene test on character clips weather"] = std::to_string(double(right[2]) / count[2]);
  }
  if (train_impacts) train_impact(probes.impact, impact_clips, impact_test, impact_epochs, rng, meta);
  if (train_reader) train_object_reader(probes, reader_clips, reader_test, reader_map_steps, reader_motion_epochs, rng, meta, checkpoint);
  meta["train_seconds"] = std::to_string(int(seconds_since(start)));
  probes.save(out, meta);
  std::printf("wrote %s in %.0f s\n", out.c_str(), seconds_since(start));
  return 0;
}
