#include "models/ltx2/sampling.hpp"

#include <stdexcept>
#include <string>

#include "core/error.hpp"

namespace opsis::ltx2 {

torch::Tensor guide(const GuiderParams& p, const torch::Tensor& cond_in, const torch::Tensor& uncond,
                    const torch::Tensor& perturbed, const torch::Tensor& isolated) {
  torch::Tensor cond = cond_in.to(torch::kFloat32);
  torch::Tensor pred = cond;
  auto term = [&](double scale, const torch::Tensor& other, bool neutral, const char* what) {
    if (!other.defined()) {
      if (!neutral) throw std::logic_error(std::string("LTX-2 guidance: the ") + what + " pass is missing");
      return;
    }
    pred = pred + scale * (cond - other.to(torch::kFloat32));
  };
  term(p.cfg - 1, uncond, p.cfg == 1.0, "negative-prompt");
  term(p.stg, perturbed, p.stg == 0.0, "perturbed");
  term(p.modality - 1, isolated, p.modality == 1.0, "isolated-modality");
  if (p.rescale != 0) {
    torch::Tensor factor = cond.std() / pred.std();
    factor = p.rescale * factor + (1 - p.rescale);
    pred = pred * factor;
  }
  return pred.to(cond_in.scalar_type());
}

torch::Tensor euler_step(const torch::Tensor& sample, const torch::Tensor& denoised, float sigma, float sigma_next) {
  if (sigma == 0) throw InvalidArgument("sigmas", "an Euler step cannot start at sigma 0");
  torch::Tensor x = sample.to(torch::kFloat32);
  torch::Tensor velocity = (x - denoised.to(torch::kFloat32)) / double(sigma);
  const float dt = sigma_next - sigma;
  return (x + velocity * torch::tensor(dt)).to(sample.scalar_type());
}

LatentState add_noise(LatentState s, at::Generator& generator, double noise_scale) {
  torch::Tensor noise = torch::randn(s.latent.sizes(), generator, s.latent.options());
  torch::Tensor noised = torch::lerp(s.latent.to(torch::kFloat32), noise.to(torch::kFloat32), noise_scale);
  s.latent = torch::lerp(s.clean.to(torch::kFloat32), noised, s.denoise_mask).to(s.latent.scalar_type());
  return s;
}

std::pair<torch::Tensor, torch::Tensor> GuidedDenoiser::operator()(const LatentState& vs, const LatentState& as,
                                                                   float sigma) const {
  if (!transformer) throw std::logic_error("GuidedDenoiser: no transformer");
  struct Pass {
    torch::Tensor video_context, audio_context;
    PerturbationSet perturbations;
  };
  std::vector<Pass> passes = {{video_context, audio_context, {}}};
  int uncond = -1, perturbed = -1, isolated = -1;
  if (video.cfg != 1.0 || audio.cfg != 1.0) {
    if (!video_negative_context.defined() || !audio_negative_context.defined())
      throw InvalidArgument("negative", "LTX-2 guidance with cfg != 1 needs negative contexts");
    uncond = int(passes.size());
    passes.push_back({video_negative_context, audio_negative_context, {}});
  }
  PerturbationSet stg;
  if (video.stg != 0.0) stg.push_back({Skip::VideoSelfAttention, video.stg_blocks});
  if (audio.stg != 0.0) stg.push_back({Skip::AudioSelfAttention, audio.stg_blocks});
  if (!stg.empty()) {
    perturbed = int(passes.size());
    passes.push_back({video_context, audio_context, stg});
  }
  if (video.modality != 1.0 || audio.modality != 1.0) {
    isolated = int(passes.size());
    passes.push_back({video_context, audio_context, {{Skip::AudioToVideo, {}}, {Skip::VideoToAudio, {}}}});
  }

  const int64_t n = int64_t(passes.size()), B = vs.latent.size(0);
  auto batched = [&](const LatentState& s, bool is_video) {
    StreamInput in;
    in.latent = s.latent.repeat({n, 1, 1});
    in.positions = s.positions.repeat({n, 1, 1, 1});
    in.sigma = torch::full({n * B}, sigma, s.latent.options().dtype(torch::kFloat32));
    in.timesteps = s.denoise_mask.repeat({n, 1, 1}) * sigma;  // [nB, T, 1]
    std::vector<torch::Tensor> contexts;
    for (const Pass& p : passes) contexts.push_back(is_video ? p.video_context : p.audio_context);
    in.context = torch::cat(contexts, 0);
    return in;
  };
  StreamInput video_in = batched(vs, true), audio_in = batched(as, false);
  std::vector<PerturbationSet> rows;
  for (const Pass& p : passes)
    for (int64_t b = 0; b < B; ++b) rows.push_back(p.perturbations);
  TransformerOutput velocity = transformer->forward(video_in, audio_in, rows);
  // x0 = latent - velocity * per-token sigma
  std::vector<torch::Tensor> video_x0 = (video_in.latent - velocity.video * video_in.timesteps).chunk(n, 0);
  std::vector<torch::Tensor> audio_x0 = (audio_in.latent - velocity.audio * audio_in.timesteps).chunk(n, 0);
  auto pick = [](const std::vector<torch::Tensor>& parts, int i) { return i < 0 ? torch::Tensor() : parts[size_t(i)]; };
  return {guide(video, pick(video_x0, 0), pick(video_x0, uncond), pick(video_x0, perturbed), pick(video_x0, isolated)),
          guide(audio, pick(audio_x0, 0), pick(audio_x0, uncond), pick(audio_x0, perturbed), pick(audio_x0, isolated))};
}

std::pair<LatentState, LatentState> euler_loop(const std::vector<float>& sigmas, LatentState video, LatentState audio,
                                               const DenoiseFn& denoise) {
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i + 1 < sigmas.size(); ++i) {
    auto [video_x0, audio_x0] = denoise(video, audio, sigmas[i]);
    auto step = [&](LatentState& s, const torch::Tensor& x0) {
      torch::Tensor blended = x0 * s.denoise_mask + s.clean.to(torch::kFloat32) * (1 - s.denoise_mask);
      s.latent = euler_step(s.latent, blended, sigmas[i], sigmas[i + 1]);
    };
    step(video, video_x0);
    step(audio, audio_x0);
  }
  return {video, audio};
}

}  // namespace opsis::ltx2
