#include "models/mini/inputs.hpp"

#include <algorithm>

namespace opsis::mini {
namespace F = torch::nn::functional;

namespace {
torch::Tensor to_unit(const uint8_t* pixels, int64_t h, int64_t w) {
  auto bytes = torch::from_blob(const_cast<uint8_t*>(pixels), {h, w, 3}, torch::kUInt8);
  return bytes.to(torch::kFloat32) / 127.5 - 1.0;
}
}  // namespace

torch::Tensor image_tensor(const Image& image, const MiniConfig& config) {
  auto unit = to_unit(image.pixels.data(), image.height, image.width);
  const int64_t ph = config.padded(image.height) - image.height, pw = config.padded(image.width) - image.width;
  return F::pad(unit.permute({2, 0, 1}), F::PadFuncOptions({0, pw, 0, ph})).permute({1, 2, 0}).contiguous();
}

torch::Tensor identity_tensor(const Image& image, const MiniConfig& config) {
  auto unit = to_unit(image.pixels.data(), image.height, image.width).permute({2, 0, 1}).unsqueeze(0);
  const int64_t s = config.identity_size;
  const bool shrinking = image.width >= s && image.height >= s;
  auto options = F::InterpolateFuncOptions().size(std::vector<int64_t>{s, s});
  if (shrinking)
    options.mode(torch::kArea);
  else
    options.mode(torch::kBilinear).align_corners(false);
  auto resized = F::interpolate(unit, options);
  return resized.squeeze(0).permute({1, 2, 0}).contiguous();
}

torch::Tensor video_tensor(const Video& video, int frames, const MiniConfig& config) {
  const int available = video.frame_count();
  std::vector<torch::Tensor> out;
  out.reserve(size_t(frames));
  for (int f = 0; f < frames; ++f) {
    const int source = std::min(f, available - 1);
    auto unit = to_unit(video.frame(source), video.height, video.width);
    const int64_t ph = config.padded(video.height) - video.height, pw = config.padded(video.width) - video.width;
    out.push_back(F::pad(unit.permute({2, 0, 1}), F::PadFuncOptions({0, pw, 0, ph})).permute({1, 2, 0}));
  }
  return torch::stack(out).contiguous();
}

torch::Tensor audio_tensor(const Audio& audio, int64_t samples, const MiniConfig& config) {
  auto out = torch::zeros({samples});
  const int64_t channels = std::max(1, audio.channels);
  const int64_t available = std::min<int64_t>(int64_t(audio.frame_count()), samples);
  auto acc = out.accessor<float, 1>();
  for (int64_t i = 0; i < available; ++i) acc[i] = audio.samples[size_t(i * channels)] * config.audio_scale;
  return out;
}

ConditionInputs condition_inputs(const std::vector<ConditionRow>& rows, int pad_h, int pad_w, const MiniConfig& c) {
  const int64_t B = int64_t(rows.size());
  ConditionInputs in;
  std::vector<std::string> texts;
  for (const auto& r : rows) texts.push_back(r.text);
  in.text = text_tokens(texts, c.max_text_bytes);
  in.text_words = text_word_tokens(texts, c.max_text_bytes, c.word_buckets);
  in.first_frame = torch::zeros({B, pad_h, pad_w, 3});
  in.has_first_frame = torch::zeros({B});
  in.identity = torch::zeros({B, c.identity_size, c.identity_size, 3});
  in.has_identity = torch::zeros({B});
  size_t longest = 1;
  for (const auto& r : rows) longest = std::max(longest, r.phonemes.size());
  const int64_t P = int64_t(longest);
  in.phoneme_ids = torch::zeros({B, P}, torch::kInt64);
  in.phoneme_visemes = torch::zeros({B, P}, torch::kInt64);
  in.phoneme_openness = torch::zeros({B, P});
  in.phoneme_times = torch::zeros({B, P});
  in.time_offset = torch::zeros({B});
  for (int64_t b = 0; b < B; ++b) {
    const ConditionRow& r = rows[size_t(b)];
    in.time_offset[b] = r.time_offset;
    if (r.first_frame) {
      in.first_frame[b].copy_(image_tensor(*r.first_frame, c));
      in.has_first_frame[b] = 1.0;
    }
    if (r.identity) {
      in.identity[b].copy_(identity_tensor(*r.identity, c));
      in.has_identity[b] = 1.0;
    }
    for (size_t p = 0; p < r.phonemes.size(); ++p) {
      const auto& cue = r.phonemes[p];
      in.phoneme_ids[b][int64_t(p)] = phoneme_bucket(cue.phoneme, c.phoneme_buckets);
      in.phoneme_visemes[b][int64_t(p)] = cue.viseme;
      in.phoneme_openness[b][int64_t(p)] = cue.openness;
      in.phoneme_times[b][int64_t(p)] = cue.start + 0.5 * cue.duration;
    }
  }
  return in;
}

ConditionInputs to_device(const ConditionInputs& in, const torch::Device& device) {
  ConditionInputs out;
  out.text = in.text.to(device);
  out.text_words = in.text_words.defined() ? in.text_words.to(device) : in.text_words;
  out.first_frame = in.first_frame.to(device);
  out.has_first_frame = in.has_first_frame.to(device);
  out.identity = in.identity.to(device);
  out.has_identity = in.has_identity.to(device);
  out.phoneme_ids = in.phoneme_ids.to(device);
  out.phoneme_visemes = in.phoneme_visemes.to(device);
  out.phoneme_openness = in.phoneme_openness.to(device);
  out.phoneme_times = in.phoneme_times.to(device);
  out.time_offset = in.time_offset.to(device);
  return out;
}

}  // namespace opsis::mini
