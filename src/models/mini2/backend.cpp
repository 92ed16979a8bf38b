#include "models/mini2/backend.hpp"

#include <algorithm>
#include <cmath>

#include "core/error.hpp"
#include "models/mini2/conditioning.hpp"
#include "models/mini2/frames.hpp"
#include "models/mini2/generator.hpp"
#include "models/mini2/sound_latent.hpp"
#include "models/mini2/video_autoencoder.hpp"
#include "models/mini2/weights.hpp"

namespace opsis::mini2 {
namespace {

struct Mini2Conditions : engine::Conditions {
  GeneratorContext context;
  torch::Tensor first_latent;  // [1, C, h, w]
  torch::Tensor has_first;     // [1]
  torch::Tensor time_offset;   // [1]
};

class Mini2Backend : public engine::Backend {
 public:
  Mini2Backend(const Mini2Config& config, VideoAutoencoder autoencoder, Generator generator)
      : config_(config), autoencoder_(std::move(autoencoder)), generator_(std::move(generator)), sound_(config.sound) {
    autoencoder_->eval();
    generator_->eval();
  }

  engine::Capabilities capabilities() const override {
    engine::Capabilities caps;
    caps.name = "opsis-mini-2";
    caps.min_seconds = 1;
    caps.max_seconds = 25;
    caps.window_seconds = config_.generator.window_seconds;
    caps.sizes = config_.autoencoder.sizes();
    caps.fps = config_.autoencoder.fps;
    caps.sample_rate = config_.sound.sample_rate;
    caps.image_conditioning = true;
    caps.identity_conditioning = true;
    caps.dialogue_conditioning = true;
    caps.default_steps = config_.generator.default_steps;
    caps.default_guidance_video = 3.0;
    caps.default_guidance_audio = 2.0;
    caps.timestep_shift = config_.generator.timestep_shift;
    return caps;
  }

  engine::Encoded encode(const engine::WindowRequest& r) override {
    const auto& a = config_.autoencoder;
    const auto sizes = a.sizes();
    if (std::find(sizes.begin(), sizes.end(), std::pair{r.width, r.height}) == sizes.end())
      throw InvalidArgument("size", "opsis-mini 2 cannot make " + std::to_string(r.width) + "x" + std::to_string(r.height));
    if (!(r.seconds > 0 && r.seconds <= config_.generator.window_seconds + 1e-9))
      throw InvalidArgument("seconds", "one opsis-mini 2 window lasts at most " +
                                           std::to_string(config_.generator.window_seconds) + " s");
    if (r.first_frame && (r.first_frame->width != r.width || r.first_frame->height != r.height))
      throw InvalidArgument("image", "the first frame must be " + std::to_string(r.width) + "x" + std::to_string(r.height));
    const int whole_seconds = int(std::ceil(r.seconds - 1e-9));
    const int64_t T = int64_t(whole_seconds) * a.fps / a.frames_per_latent;
    const int64_t A = int64_t(whole_seconds) * config_.sound.frames_per_second() / config_.sound.frames_per_token;
    const int pad_h = a.padded(r.height), pad_w = a.padded(r.width);

    torch::NoGradGuard no_grad;
    ContextRow positive = prompt_row(r.prompt, SlotScope::Everything, r.phonemes, r.time_offset, config_.generator);
    ContextRow negative = prompt_row(r.negative, SlotScope::NamedOnly, r.phonemes, r.time_offset, config_.generator);
    positive.identity = negative.identity = r.identity;
    const auto inputs = context_inputs({positive, negative}, config_.generator);
    const GeneratorContext both = generator_->encode(inputs);
    torch::Tensor first_latent = torch::zeros({1, a.channels, pad_h / 16, pad_w / 16});
    if (r.first_frame) {
      Video still;
      still.width = r.width, still.height = r.height;
      still.rgb = r.first_frame->pixels;
      auto pair = frames_tensor(still, 0, 2, pad_h, pad_w).unsqueeze(0);  // the picture twice
      first_latent = autoencoder_->normalize(autoencoder_->encode(pair)).select(1, 0);
    }
    auto row = [&](int64_t b) {
      auto out = std::make_shared<Mini2Conditions>();
      out->context.tokens = both.tokens.slice(0, b, b + 1);
      out->context.mask = both.mask.slice(0, b, b + 1);
      out->context.pooled = both.pooled.slice(0, b, b + 1);
      out->first_latent = first_latent;
      out->has_first = torch::full({1}, r.first_frame ? 1.0f : 0.0f);
      out->time_offset = torch::full({1}, float(r.time_offset));
      return out;
    };
    engine::Encoded e;
    e.positive = row(0);
    e.negative = row(1);
    e.video_shape = {T, a.channels, pad_h / 16, pad_w / 16};
    e.audio_shape = {A, generator_->audio_mean.size(0)};
    return e;
  }

  engine::Latents denoise(const engine::Latents& x, double t, const engine::Conditions& conditions) override {
    return std::move(denoise_each(x, t, {&conditions}).front());
  }

  std::vector<engine::Latents> denoise_each(const engine::Latents& x, double t,
                                            const std::vector<const engine::Conditions*>& conditions) override {
    torch::NoGradGuard no_grad;
    const int64_t B = int64_t(conditions.size());
    std::vector<const Mini2Conditions*> rows;
    for (const auto* c : conditions) rows.push_back(&dynamic_cast<const Mini2Conditions&>(*c));
    const int64_t length = rows[0]->context.tokens.size(1);
    if (!std::all_of(rows.begin(), rows.end(), [&](const auto* r) { return r->context.tokens.size(1) == length; })) {
      // Contexts of different lengths: pad with masked-out tokens so one pass serves all.
      int64_t longest = 0;
      for (const auto* r : rows) longest = std::max(longest, r->context.tokens.size(1));
      std::vector<Mini2Conditions> padded;
      padded.reserve(rows.size());
      for (const auto* r : rows) {
        Mini2Conditions p = *r;
        const int64_t extra = longest - r->context.tokens.size(1);
        p.context.tokens = torch::cat({r->context.tokens, torch::zeros({1, extra, r->context.tokens.size(2)})}, 1);
        p.context.mask = torch::cat({r->context.mask, torch::zeros({1, extra}, torch::kBool)}, 1);
        padded.push_back(std::move(p));
      }
      std::vector<const engine::Conditions*> same;
      for (const auto& p : padded) same.push_back(&p);
      return denoise_each(x, t, same);
    }
    GeneratorContext context;
    std::vector<torch::Tensor> tokens, masks, pooled, first, has_first, offsets;
    for (const auto* r : rows) {
      tokens.push_back(r->context.tokens);
      masks.push_back(r->context.mask);
      pooled.push_back(r->context.pooled);
      first.push_back(r->first_latent);
      has_first.push_back(r->has_first);
      offsets.push_back(r->time_offset);
    }
    context.tokens = torch::cat(tokens);
    context.mask = torch::cat(masks);
    context.pooled = torch::cat(pooled);
    std::vector<int64_t> video_shape{1};
    video_shape.insert(video_shape.end(), x.video_shape.begin(), x.video_shape.end());
    std::vector<int64_t> audio_shape{1};
    audio_shape.insert(audio_shape.end(), x.audio_shape.begin(), x.audio_shape.end());
    auto video = torch::from_blob(const_cast<float*>(x.video.data()), video_shape, torch::kFloat32);
    auto audio = torch::from_blob(const_cast<float*>(x.audio.data()), audio_shape, torch::kFloat32);
    video_shape[0] = audio_shape[0] = B;
    GeneratorInputs in;
    in.video = video.expand(video_shape);
    in.audio = audio.expand(audio_shape);
    in.t = torch::full({B}, t);
    in.first_latent = torch::cat(first);
    in.has_first = torch::cat(has_first);
    in.time_offset = torch::cat(offsets);
    const auto out = generator_->forward(in, context);
    // The network predicts the clean latents; the flow's velocity is (x_t - x0) / t.
    const double divisor = std::max(t, 0.05);
    auto v_video = ((in.video - out.video) / divisor).contiguous();
    auto v_audio = ((in.audio - out.audio) / divisor).contiguous();
    std::vector<engine::Latents> result(static_cast<size_t>(B));
    for (int64_t b = 0; b < B; ++b) {
      engine::Latents& v = result[size_t(b)];
      v.video_shape = x.video_shape;
      v.audio_shape = x.audio_shape;
      const float* pv = v_video[b].data_ptr<float>();
      const float* pa = v_audio[b].data_ptr<float>();
      v.video.assign(pv, pv + x.video.size());
      v.audio.assign(pa, pa + x.audio.size());
    }
    return result;
  }

  // Linear layers and attention of every block (the autoencoder and the embeddings are small
  // beside them).
  double forward_flops(const engine::WindowRequest& r) const override {
    const auto& a = config_.autoencoder;
    const auto& g = config_.generator;
    const double seconds = std::ceil(r.seconds - 1e-9);
    const double T = seconds * a.fps / a.frames_per_latent;
    const double S = double(a.padded(r.height) / 16) * (a.padded(r.width) / 16);
    const double A = seconds * config_.sound.frames_per_second() / config_.sound.frames_per_token;
    const double Lc = 24 + double(word_tokens(r.prompt, g).size()) + 16;
    return generator_forward_flops(g, a.channels, int(generator_->audio_mean.size(0)), T, S, A, Lc);
  }

  engine::Decoded decode(const engine::Latents& x, const engine::WindowRequest& r) override {
    torch::NoGradGuard no_grad;
    const auto& a = config_.autoencoder;
    std::vector<int64_t> video_shape{1};
    video_shape.insert(video_shape.end(), x.video_shape.begin(), x.video_shape.end());
    auto latent = torch::from_blob(const_cast<float*>(x.video.data()), video_shape, torch::kFloat32);
    auto frames = autoencoder_->decode(autoencoder_->denormalize(latent))[0];  // [2T, Hp, Wp, 3]
    const int wanted = std::clamp(int(std::lround(r.seconds * a.fps)), 1, int(frames.size(0)));
    engine::Decoded out;
    out.video = tensor_video(frames.narrow(0, 0, wanted).clamp(-1, 1), r.width, r.height, a.fps);
    // The clip starts from the given picture exactly; later frames were generated from it.
    if (r.first_frame) std::copy(r.first_frame->pixels.begin(), r.first_frame->pixels.end(), out.video.rgb.begin());

    const int64_t A = x.audio_shape.at(0), values = x.audio_shape.at(1);
    auto tokens = torch::from_blob(const_cast<float*>(x.audio.data()), {A, values}, torch::kFloat32);
    tokens = tokens * generator_->audio_std + generator_->audio_mean;
    auto mel = tokens.reshape({1, A * config_.sound.frames_per_token, config_.sound.mels});
    auto pcm = sound_.synthesize(mel, -1, 0)[0].clamp(-1, 1).contiguous();
    const int64_t samples = std::min<int64_t>(pcm.size(0), std::llround(double(wanted) / a.fps * config_.sound.sample_rate));
    out.audio.sample_rate = config_.sound.sample_rate;
    out.audio.channels = 1;
    out.audio.samples.assign(pcm.data_ptr<float>(), pcm.data_ptr<float>() + samples);
    return out;
  }

 private:
  Mini2Config config_;
  VideoAutoencoder autoencoder_;
  Generator generator_;
  SoundLatent sound_;
};

}  // namespace

std::unique_ptr<engine::Backend> open_backend(const std::string& weights_path, int threads) {
  if (threads > 0) torch::set_num_threads(threads);
  const auto file = safetensors::read(weights_path);
  const Mini2Config config = read_config(file);
  if (!config.has_generator || !has_part(file, "generator."))
    throw InvalidArgument("weights", weights_path + " holds only opsis-mini 2's autoencoder; its generator has not been "
                                                    "trained into it yet (opsis-train-mini2 --export writes both)");
  VideoAutoencoder autoencoder(config.autoencoder);
  load_tensors(*autoencoder, file, "autoencoder.");
  Generator generator(config.generator, config.autoencoder.channels);
  load_tensors(*generator, file, "generator.");
  return std::make_unique<Mini2Backend>(config, std::move(autoencoder), std::move(generator));
}

}  // namespace opsis::mini2
