#include "models/mini/backend.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "core/error.hpp"
#include "models/mini/inputs.hpp"
#include "models/mini/speed.hpp"
#include "models/mini/weights.hpp"

namespace opsis::mini {
namespace {

struct MiniConditions : engine::Conditions {
  Context context;
};

class MiniBackend : public engine::Backend {
 public:
  explicit MiniBackend(MiniModel model) : model_(std::move(model)) { model_->eval(); }

  engine::Capabilities capabilities() const override {
    const MiniConfig& c = model_->config;
    engine::Capabilities caps;
    caps.name = "opsis-mini";
    caps.min_seconds = 1;
    caps.max_seconds = 25;
    caps.window_seconds = c.window_seconds;
    caps.sizes = c.sizes();
    caps.fps = c.fps;
    caps.sample_rate = c.sample_rate;
    caps.image_conditioning = true;
    caps.identity_conditioning = true;
    caps.dialogue_conditioning = true;
    caps.default_steps = 16;
    caps.default_guidance_video = 3.0;
    caps.default_guidance_audio = 2.0;
    caps.timestep_shift = c.timestep_shift;
    return caps;
  }

  engine::Encoded encode(const engine::WindowRequest& r) override {
    const MiniConfig& c = model_->config;
    const auto sizes = c.sizes();
    if (std::find(sizes.begin(), sizes.end(), std::pair{r.width, r.height}) == sizes.end())
      throw InvalidArgument("size", "opsis-mini cannot make " + std::to_string(r.width) + "x" + std::to_string(r.height));
    if (!(r.seconds > 0 && r.seconds <= c.window_seconds + 1e-9))
      throw InvalidArgument("seconds", "one opsis-mini window lasts at most " + std::to_string(c.window_seconds) + " s");
    if (r.first_frame && (r.first_frame->width != r.width || r.first_frame->height != r.height))
      throw InvalidArgument("image", "the first frame must be " + std::to_string(r.width) + "x" + std::to_string(r.height));
    const int frames = c.frames_for(r.seconds);
    const int tokens = c.audio_tokens_for(frames);
    ConditionRow positive{r.prompt, r.first_frame, r.identity, r.phonemes, r.time_offset};
    ConditionRow negative{r.negative, r.first_frame, r.identity, r.phonemes, r.time_offset};
    torch::NoGradGuard no_grad;
    const ConditionInputs inputs = condition_inputs({positive, negative}, c.padded(r.height), c.padded(r.width), c);
    const Context both = model_->encode(inputs);
    auto row = [&](int64_t b) {
      auto out = std::make_shared<MiniConditions>();
      out->context.tokens = both.tokens.slice(0, b, b + 1);
      out->context.mask = both.mask.slice(0, b, b + 1);
      out->context.pooled = both.pooled.slice(0, b, b + 1);
      out->context.first_frame = both.first_frame.slice(0, b, b + 1);
      out->context.time_offset = both.time_offset.slice(0, b, b + 1);
      return out;
    };
    engine::Encoded e;
    e.positive = row(0);
    e.negative = row(1);
    e.video_shape = {frames, c.padded(r.height), c.padded(r.width), 3};
    e.audio_shape = {int64_t(tokens) * c.audio_patch};
    return e;
  }

  engine::Latents denoise(const engine::Latents& x, double t, const engine::Conditions& conditions) override {
    return std::move(denoise_each(x, t, {&conditions}).front());
  }

  // One forward pass over a batch of the same x under each condition.
  std::vector<engine::Latents> denoise_each(const engine::Latents& x, double t,
                                            const std::vector<const engine::Conditions*>& conditions) override {
    torch::NoGradGuard no_grad;
    const int64_t B = int64_t(conditions.size());
    std::vector<torch::Tensor> tokens, masks, pooled, first, offsets;
    for (const auto* c : conditions) {
      const Context& ctx = dynamic_cast<const MiniConditions&>(*c).context;
      tokens.push_back(ctx.tokens);
      masks.push_back(ctx.mask);
      pooled.push_back(ctx.pooled);
      first.push_back(ctx.first_frame);
      offsets.push_back(ctx.time_offset);
    }
    Context context;
    const bool same_length = std::all_of(tokens.begin(), tokens.end(), [&](const auto& t) { return t.size(1) == tokens[0].size(1); });
    if (!same_length) {
      std::vector<engine::Latents> out;
      for (const auto* c : conditions) out.push_back(std::move(denoise_each(x, t, {c}).front()));
      return out;
    }
    context.tokens = torch::cat(tokens);
    context.mask = torch::cat(masks);
    context.pooled = torch::cat(pooled);
    context.first_frame = torch::cat(first);
    context.time_offset = torch::cat(offsets);
    std::vector<int64_t> video_shape{1};
    video_shape.insert(video_shape.end(), x.video_shape.begin(), x.video_shape.end());
    auto video = torch::from_blob(const_cast<float*>(x.video.data()), video_shape, torch::kFloat32);
    auto audio = torch::from_blob(const_cast<float*>(x.audio.data()), {1, int64_t(x.audio.size())}, torch::kFloat32);
    std::vector<int64_t> video_batch(video_shape);
    video_batch[0] = B;
    auto [v_video, v_audio] = model_->forward(video.expand(video_batch), audio.expand({B, audio.size(1)}),
                                              torch::full({B}, t), context);
    v_video = v_video.contiguous();
    v_audio = v_audio.contiguous();
    std::vector<engine::Latents> out(static_cast<size_t>(B));
    for (int64_t b = 0; b < B; ++b) {
      engine::Latents& v = out[size_t(b)];
      v.video_shape = x.video_shape;
      v.audio_shape = x.audio_shape;
      const float* pv = v_video[b].data_ptr<float>();
      const float* pa = v_audio[b].data_ptr<float>();
      v.video.assign(pv, pv + x.video.size());
      v.audio.assign(pa, pa + x.audio.size());
    }
    return out;
  }

  double forward_flops(const engine::WindowRequest& r) const override {
    const MiniConfig& c = model_->config;
    const int frames = c.frames_for(r.seconds);
    const double nv = double(frames / c.frames_per_token) * (c.padded(r.height) / c.patch) * (c.padded(r.width) / c.patch);
    const double na = c.audio_tokens_for(frames);
    const double lc = 1 + std::min<double>(double(r.prompt.size()), c.max_text_bytes) + 16;
    return mini::forward_flops(c, nv, na, lc);
  }

  engine::Decoded decode(const engine::Latents& x, const engine::WindowRequest& r) override {
    const MiniConfig& c = model_->config;
    const int frames = int(x.video_shape.at(0)), ph = int(x.video_shape.at(1)), pw = int(x.video_shape.at(2));
    engine::Decoded out;
    out.video.width = r.width;
    out.video.height = r.height;
    out.video.fps_num = c.fps;
    out.video.fps_den = 1;
    out.video.rgb.resize(size_t(frames) * size_t(r.width) * size_t(r.height) * 3);
    for (int f = 0; f < frames; ++f)
      for (int y = 0; y < r.height; ++y)
        for (int xx = 0; xx < r.width; ++xx)
          for (int ch = 0; ch < 3; ++ch) {
            const float value = x.video[((size_t(f) * ph + y) * pw + xx) * 3 + ch];
            const float byte = std::clamp((value + 1.0f) * 127.5f, 0.0f, 255.0f);
            out.video.rgb[((size_t(f) * r.height + y) * r.width + xx) * 3 + ch] = uint8_t(std::lround(byte));
          }
    // The clip starts from the given picture exactly; later frames were generated from it.
    if (r.first_frame) std::copy(r.first_frame->pixels.begin(), r.first_frame->pixels.end(), out.video.rgb.begin());
    out.audio.sample_rate = c.sample_rate;
    out.audio.channels = 1;
    const size_t samples = std::min(x.audio.size(), size_t(std::llround(double(frames) / c.fps * c.sample_rate)));
    out.audio.samples.resize(samples);
    for (size_t i = 0; i < samples; ++i) out.audio.samples[i] = std::clamp(x.audio[i] / c.audio_scale, -1.0f, 1.0f);
    return out;
  }

 private:
  MiniModel model_;
};

}  // namespace

std::unique_ptr<engine::Backend> open_backend(const std::string& weights_path, int threads) {
  if (threads > 0) torch::set_num_threads(threads);
  return std::make_unique<MiniBackend>(load_model(weights_path));
}

std::string find_weights(const std::string& file_name) {
  namespace fs = std::filesystem;
  std::vector<fs::path> places;
  if (const char* dir = std::getenv("OPSIS_MODELS_DIR")) places.emplace_back(dir);
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    places.push_back(exe.parent_path() / ".." / "models");
    places.push_back(exe.parent_path() / ".." / ".." / "models");
    places.push_back(exe.parent_path() / ".." / ".." / ".." / "models");
    places.push_back(exe.parent_path() / ".." / "share" / "opsis" / "models");
  }
#ifdef OPSIS_SOURCE_MODELS_DIR
  places.emplace_back(OPSIS_SOURCE_MODELS_DIR);
#endif
  std::string looked;
  for (const auto& dir : places) {
    const fs::path candidate = dir / file_name;
    if (fs::is_regular_file(candidate, ec)) return fs::weakly_canonical(candidate, ec).string();
    looked += "\n  " + candidate.lexically_normal().string();
  }
  throw IoError("cannot find the model weights " + file_name + "; looked in:" + looked +
                "\n(set OPSIS_MODELS_DIR or pass --model)");
}

}  // namespace opsis::mini
