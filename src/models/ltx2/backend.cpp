#include "models/ltx2/backend.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <optional>

#include "core/error.hpp"
#include "core/progress.hpp"
#include "core/safetensors.hpp"
#include "engine/sampler.hpp"
#include "models/ltx2/audio_vae.hpp"
#include "models/ltx2/config.hpp"
#include "models/ltx2/gemma3.hpp"
#include "models/ltx2/latents.hpp"
#include "models/ltx2/layout.hpp"
#include "models/ltx2/model_folder.hpp"
#include "models/ltx2/sampling.hpp"
#include "models/ltx2/schedule.hpp"
#include "models/ltx2/text_projection.hpp"
#include "models/ltx2/tokenizer.hpp"
#include "models/ltx2/transformer.hpp"
#include "models/ltx2/video_vae.hpp"
#include "models/ltx2/vocoder.hpp"

namespace opsis::ltx2 {
namespace {

constexpr int kFps = 24;
constexpr int kTimeFactor = 8, kSpaceFactor = 32;  // the video VAE's compression (checked at load)


// Where a Gemma checkpoint keeps its text model: Gemma3ForConditionalGeneration as published
// ("language_model.model."), as newer transformers save it ("model.language_model."), or a
// text-only Gemma3ForCausalLM ("model.").
std::string gemma_prefix(const safetensors::TensorStore& store, const std::string& folder) {
  for (const char* prefix : {"language_model.model.", "model.language_model.", "model."})
    if (store.find(std::string(prefix) + "embed_tokens.weight")) return prefix;
  throw InvalidArgument("weights", "the text encoder in " + folder + " has no embed_tokens.weight (under language_model.model., model.language_model. or model.)");
}

// One window's latent grid: F pixel frames asked, F' latent frames (F' = ceil((F - 1) / 8) + 1,
// decoding to 8 (F' - 1) + 1 >= F frames), H' x W' latent cells, and the audio latent's frames
// for the decoded length.
struct Grid {
  int frames = 0, latent_frames = 0, latent_height = 0, latent_width = 0;
  int64_t audio_frames = 0;
  int64_t video_tokens() const { return int64_t(latent_frames) * latent_height * latent_width; }
};

// The encoded window: text contexts (positive and negative), the first frame's latent tokens
// when the window starts from a picture, the grid.
struct Ltx2Conditions final : engine::Conditions {
  torch::Tensor video_context, audio_context;  // [1, S, Dc]
  torch::Tensor image_tokens;                  // [1, H' W', C] or undefined
  Grid grid;
};

class Ltx2Backend final : public engine::Backend {
 public:
  explicit Ltx2Backend(const ModelFolder& folder)
      : folder_(folder),
        device_(torch::cuda::is_available() ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU)),
        tokenizer_(folder.tokenizer) {
    const safetensors::MappedFile checkpoint(folder.checkpoint);
    config_ = parse_config(checkpoint.metadata_map());
    gemma_config_ = parse_gemma3_config(read_folder_file(folder.gemma_config));
    if (tokenizer_.vocab_size() > gemma_config_.vocab_size)
      throw InvalidArgument("model", "the tokenizer in " + folder.text_encoder + " has " + std::to_string(tokenizer_.vocab_size()) +
                                         " pieces, more than the text encoder's vocabulary (" + std::to_string(gemma_config_.vocab_size) + ")");
    const TextEncoderSizes text{gemma_config_.hidden_size, gemma_config_.num_hidden_layers + 1};
    require_layout(read_header(folder.checkpoint), expected_layout(config_, text), folder.checkpoint);
    // Linear layers keep the file's precision (bf16 / fp8 checkpoints: half or a quarter of fp32's
    // memory), widened where used: the same numbers as widening at load.
    transformer_.emplace(config_.transformer, checkpoint, folder.checkpoint, device_, WeightPrecision::AsStored);
    text_projection_.emplace(config_.transformer, text, checkpoint, folder.checkpoint, device_, WeightPrecision::AsStored);
    video_encoder_.emplace(config_.vae, checkpoint, folder.checkpoint, device_);
    video_decoder_.emplace(config_.vae, checkpoint, folder.checkpoint, device_);
    audio_decoder_.emplace(config_.audio_vae, checkpoint, folder.checkpoint, device_);
    vocoder_.emplace(config_.vocoder, checkpoint, folder.checkpoint, device_);
    const safetensors::ShardedStore gemma_weights(folder.text_shards);
    gemma_.emplace(gemma_config_, gemma_weights, folder.text_encoder, device_, gemma_prefix(gemma_weights, folder.text_encoder),
                   WeightPrecision::AsStored);
    check_compression();
  }

  engine::Capabilities capabilities() const override {
    engine::Capabilities c;
    c.name = folder_.name;
    c.min_seconds = 1;
    c.max_seconds = 20;
    c.window_seconds = 10;
    // The reference's default size first; every size is a multiple of the VAE's 32 pixels.
    c.sizes = {{768, 512}, {512, 768}, {1280, 704}, {704, 1280}, {1024, 576}, {576, 1024}, {512, 512}, {256, 160}, {160, 256}};
    c.fps = kFps;
    c.sample_rate = vocoder_->sample_rate();
    c.image_conditioning = true;
    c.identity_conditioning = false;
    c.dialogue_conditioning = false;
    c.default_steps = config_.at_least(2, 3) ? 30 : 40;  // ltx_pipelines' defaults (docs/ltx2/reference-map.md, "Pipeline defaults")
    c.default_guidance_video = 3.0;
    c.default_guidance_audio = 7.0;
    return c;
  }

  engine::Encoded encode(const engine::WindowRequest& r) override {
    torch::NoGradGuard no_grad;
    if (r.width % kSpaceFactor || r.height % kSpaceFactor || r.width <= 0 || r.height <= 0)
      throw InvalidArgument("size", folder_.name + " makes sizes in multiples of 32 pixels, not " + std::to_string(r.width) + "x" + std::to_string(r.height));
    if (!(r.seconds > 0 && r.seconds <= capabilities().window_seconds + 1e-9)) throw InvalidArgument("seconds", "one window lasts at most 10 s");
    if (r.identity) throw InvalidArgument("cameo", folder_.name + " takes no identity portrait");
    if (!r.phonemes.empty()) throw InvalidArgument("dialogue", folder_.name + " takes dialogue in the prompt's words, not as a phoneme track");
    const Grid grid = grid_for(r);
    auto positive = std::make_shared<Ltx2Conditions>();
    auto negative = std::make_shared<Ltx2Conditions>();
    std::tie(positive->video_context, positive->audio_context) = encode_text(r.prompt);
    std::tie(negative->video_context, negative->audio_context) = encode_text(r.negative);
    positive->grid = negative->grid = grid;
    if (r.first_frame) {
      const Image& image = *r.first_frame;
      if (image.width != r.width || image.height != r.height) throw InvalidArgument("image", "the first frame must be the output size");
      // [H, W, 3] bytes -> [1, 3, 1, H, W] in [-1, 1]
      torch::Tensor pixels = torch::from_blob(const_cast<uint8_t*>(image.pixels.data()), {image.height, image.width, 3}, torch::kUInt8)
                                 .to(torch::kFloat32)
                                 .permute({2, 0, 1})
                                 .unsqueeze(0)
                                 .unsqueeze(2)
                                 .div(127.5)
                                 .sub(1.0)
                                 .to(device_);
      positive->image_tokens = negative->image_tokens = patchify_video(video_encoder_->forward(pixels));  // [1, H' W', C]
    }
    engine::Encoded e;
    e.positive = positive;
    e.negative = negative;
    e.video_shape = {1, grid.video_tokens(), config_.transformer.in_channels};
    e.audio_shape = {1, grid.audio_frames, config_.transformer.audio_in_channels};
    return e;
  }

  // The conditional velocity of both streams at noise level t (what the engine's own sampler
  // integrates, with CFG from the negative conditions). Tokens held by a first frame move
  // straight to their clean values.
  engine::Latents denoise(const engine::Latents& x, double t, const engine::Conditions& conditions) override {
    torch::NoGradGuard no_grad;
    const auto& c = dynamic_cast<const Ltx2Conditions&>(conditions);
    LatentState video = state_for(c, false), audio = state_for(c, true);
    video.latent = from_floats(x.video, x.video_shape);
    audio.latent = from_floats(x.audio, x.audio_shape);
    StreamInput v_in = stream(video, c.video_context, float(t)), a_in = stream(audio, c.audio_context, float(t));
    TransformerOutput out = transformer_->forward(v_in, a_in);
    torch::Tensor video_velocity = out.video;
    if (c.image_tokens.defined()) {
      const int64_t n = c.image_tokens.size(1);
      video_velocity.narrow(1, 0, n).copy_((video.latent.narrow(1, 0, n) - c.image_tokens) / std::max(t, 1e-4));
    }
    engine::Latents result = x;
    result.video = to_floats(video_velocity);
    result.audio = to_floats(out.audio);
    return result;
  }

  // The reference pipelines' sampling: noise from a generator seeded with the request's seed
  // (video, then audio, as the reference's GaussianNoiser draws them), the token-count shifted
  // sigma schedule, and the multi-modal guider per stream (CFG at the request's scales, STG on
  // the reference's block, modality guidance 3, rescale 0.7), Euler steps in x0 space.
  std::optional<engine::Latents> sample_window(const engine::Encoded& encoded, const engine::SamplerOptions& options,
                                               const Progress* progress) override {
    torch::NoGradGuard no_grad;
    const auto& c = dynamic_cast<const Ltx2Conditions&>(*encoded.positive);
    const auto& n = dynamic_cast<const Ltx2Conditions&>(*encoded.negative);
    LatentState video = state_for(c, false), audio = state_for(c, true);
    at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(options.seed);
    video = to_device(add_noise(to_cpu(video), generator));
    audio = to_device(add_noise(to_cpu(audio), generator));
    const std::vector<float> sigmas = ltx2_sigmas(options.steps, c.grid.video_tokens());
    GuidedDenoiser guided;
    guided.transformer = &*transformer_;
    guided.video_context = c.video_context, guided.audio_context = c.audio_context;
    guided.video_negative_context = n.video_context, guided.audio_negative_context = n.audio_context;
    const int stg_block = std::min(config_.at_least(2, 3) ? 28 : 29, config_.transformer.num_layers - 1);
    guided.video = {options.guidance_video, 1.0, 3.0, 0.7, {stg_block}};
    guided.audio = {options.guidance_audio, 1.0, 3.0, 0.7, {stg_block}};
    int step = 0;
    const int steps = int(sigmas.size()) - 1;
    DenoiseFn denoise = [&](const LatentState& v, const LatentState& a, float sigma) {
      Progress::step(progress, double(step++) / steps);
      return guided(v, a, sigma);
    };
    auto [video_out, audio_out] = euler_loop(sigmas, video, audio, denoise);
    Progress::step(progress, 1.0);
    decode_seed_ = options.seed;
    engine::Latents x;
    x.video = to_floats(video_out.latent);
    x.audio = to_floats(audio_out.latent);
    x.video_shape = encoded.video_shape;
    x.audio_shape = encoded.audio_shape;
    return x;
  }

  engine::Decoded decode(const engine::Latents& x, const engine::WindowRequest& r) override {
    torch::NoGradGuard no_grad;
    const Grid grid = grid_for(r);
    engine::Decoded out;
    // Video: tokens -> [1, C, F', H', W'] -> the VAE decoder (timestep-conditioned ones take the
    // pipelines' decode noise, drawn from the sampling seed) -> [1, 3, frames, H, W].
    torch::Tensor latent = unpatchify_video(from_floats(x.video, x.video_shape), grid.latent_frames, grid.latent_height, grid.latent_width);
    torch::Tensor noise;
    if (config_.vae.timestep_conditioning) {
      at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(decode_seed_ + 1);
      noise = torch::randn(latent.sizes(), generator, torch::TensorOptions().dtype(torch::kFloat32)).to(device_);
    }
    torch::Tensor pixels = video_decoder_->forward(latent, {}, noise);
    pixels = pixels.narrow(2, 0, grid.frames).clamp(-1, 1).add(1).mul(127.5).round().to(torch::kUInt8);  // [1, 3, F, H, W]
    pixels = pixels[0].permute({1, 2, 3, 0}).contiguous().to(torch::kCPU);                             // [F, H, W, 3]
    out.video.width = r.width, out.video.height = r.height, out.video.fps_num = kFps, out.video.fps_den = 1;
    out.video.rgb.assign(pixels.data_ptr<uint8_t>(), pixels.data_ptr<uint8_t>() + pixels.numel());
    // Sound: tokens -> [1, z, T, M] -> the audio VAE decoder (stereo log-mel) -> the vocoder
    // (stereo waveform), mixed down to the pipeline's one channel.
    const int64_t mel_bins = config_.transformer.audio_in_channels / config_.audio_vae.z_channels;
    torch::Tensor audio_latent = unpatchify_audio(from_floats(x.audio, x.audio_shape), config_.audio_vae.z_channels, mel_bins);
    torch::Tensor wave = vocoder_->forward(audio_decoder_->forward(audio_latent)).mean(1)[0].contiguous().to(torch::kCPU);  // [samples]
    out.audio.sample_rate = vocoder_->sample_rate();
    out.audio.channels = 1;
    const size_t samples = size_t(std::lround(r.seconds * out.audio.sample_rate));
    out.audio.samples.assign(wave.data_ptr<float>(), wave.data_ptr<float>() + std::min<int64_t>(wave.numel(), int64_t(samples)));
    out.audio.samples.resize(samples, 0.0f);
    return out;
  }

 private:
  // The decoder's compression, checked once on a small latent (2 frames of 2x2 cells: reflect
  // padding needs more than one cell): 1 + 8 frames per two latent frames and 32 pixels per
  // latent cell, which the grid and the sizes assume.
  void check_compression() {
    torch::NoGradGuard no_grad;
    torch::Tensor latent = torch::zeros({1, config_.vae.latent_channels, 2, 2, 2}, torch::TensorOptions().device(device_));
    const torch::Tensor out = video_decoder_->forward(latent);
    if (out.size(2) != 1 + kTimeFactor || out.size(3) != 2 * kSpaceFactor || out.size(4) != 2 * kSpaceFactor)
      throw InvalidArgument("weights", folder_.checkpoint + ": the video VAE decodes 2x2x2 latent cells to " + std::to_string(out.size(2)) + "x" +
                                           std::to_string(out.size(3)) + "x" + std::to_string(out.size(4)) + " pixels; LTX-2's makes 9x64x64");
  }

  Grid grid_for(const engine::WindowRequest& r) const {
    Grid g;
    g.frames = std::max(1, int(std::lround(r.seconds * kFps)));
    g.latent_frames = (g.frames - 1 + kTimeFactor - 1) / kTimeFactor + 1;
    g.latent_height = r.height / kSpaceFactor, g.latent_width = r.width / kSpaceFactor;
    const double decoded_seconds = double(kTimeFactor * (g.latent_frames - 1) + 1) / kFps;
    g.audio_frames = audio_latent_frames(decoded_seconds, config_.audio_vae.sample_rate, config_.audio_vae.hop_length);
    return g;
  }

  // Gemma 3 over the tokenized prompt (left-padded to 1024), then the feature extractor and the
  // connectors: [1, 1024, Dc] contexts for the video and audio streams.
  std::pair<torch::Tensor, torch::Tensor> encode_text(const std::string& prompt) const {
    const TokenizedPrompt tokens = tokenizer_.encode(prompt);
    const int64_t S = int64_t(tokens.ids.size());
    torch::Tensor ids = torch::tensor(tokens.ids, torch::kLong).view({1, S}).to(device_);
    torch::Tensor mask = torch::tensor(tokens.mask, torch::kLong).view({1, S}).to(device_);
    TextEncoding encoding = text_projection_->forward(gemma_->hidden_states(ids, mask), mask);
    return {encoding.video, encoding.audio};
  }

  LatentState state_for(const Ltx2Conditions& c, bool audio) const {
    const auto options = torch::TensorOptions().dtype(torch::kFloat32).device(device_);
    LatentState s;
    if (audio) {
      s.latent = torch::zeros({1, c.grid.audio_frames, config_.transformer.audio_in_channels}, options);
      s.positions = audio_positions(1, c.grid.audio_frames, config_.audio_vae.sample_rate, config_.audio_vae.hop_length).to(device_);
    } else {
      s.latent = torch::zeros({1, c.grid.video_tokens(), config_.transformer.in_channels}, options);
      s.positions = video_positions(1, c.grid.latent_frames, c.grid.latent_height, c.grid.latent_width, kFps).to(device_);
    }
    s.clean = torch::zeros_like(s.latent);
    s.denoise_mask = torch::ones({1, s.latent.size(1), 1}, options);
    if (!audio && c.image_tokens.defined()) {
      // The first latent frame is the picture's (strength 1: kept clean, timestep 0).
      const int64_t n = c.image_tokens.size(1);
      s.clean.narrow(1, 0, n).copy_(c.image_tokens);
      s.latent.narrow(1, 0, n).copy_(c.image_tokens);
      s.denoise_mask.narrow(1, 0, n).zero_();
    }
    return s;
  }

  StreamInput stream(const LatentState& s, const torch::Tensor& context, float sigma) const {
    StreamInput in;
    in.latent = s.latent;
    in.positions = s.positions;
    in.sigma = torch::full({1}, sigma, s.latent.options());
    in.timesteps = s.denoise_mask * sigma;
    in.context = context;
    return in;
  }

  static LatentState to_cpu(LatentState s) {
    for (torch::Tensor* t : {&s.latent, &s.clean, &s.denoise_mask, &s.positions}) *t = t->to(torch::kCPU);
    return s;
  }
  LatentState to_device(LatentState s) const {
    for (torch::Tensor* t : {&s.latent, &s.clean, &s.denoise_mask, &s.positions}) *t = t->to(device_);
    return s;
  }

  torch::Tensor from_floats(const std::vector<float>& values, const std::vector<int64_t>& shape) const {
    return torch::from_blob(const_cast<float*>(values.data()), shape, torch::kFloat32).clone().to(device_);
  }
  static std::vector<float> to_floats(const torch::Tensor& t) {
    const torch::Tensor c = t.to(torch::kCPU, torch::kFloat32).contiguous();
    return {c.data_ptr<float>(), c.data_ptr<float>() + c.numel()};
  }

  ModelFolder folder_;
  torch::Device device_;
  Config config_;
  Gemma3Config gemma_config_;
  GemmaTokenizer tokenizer_;
  std::optional<Transformer> transformer_;
  std::optional<TextProjection> text_projection_;
  std::optional<VideoEncoder> video_encoder_;
  std::optional<VideoDecoder> video_decoder_;
  std::optional<AudioDecoder> audio_decoder_;
  std::optional<Vocoder> vocoder_;
  std::optional<Gemma3> gemma_;
  uint64_t decode_seed_ = 0;  // the last sampled window's seed: the decoder's noise is drawn from it
};

}  // namespace

std::unique_ptr<engine::Backend> open_model_folder(const std::string& folder, int threads) {
  if (threads > 0) torch::set_num_threads(threads);
  return std::make_unique<Ltx2Backend>(find_model_folder(folder));
}

}  // namespace opsis::ltx2
