#pragma once
// The LTX-2 text path between Gemma and the transformer (the reference's EmbeddingsProcessor):
// the feature extractor over Gemma's stacked hidden states (2.0 "V1": per-sample masked
// mean/range normalisation and one shared projection; 2.3 "V2": per-token RMS normalisation and
// separate video/audio projections), then the video and audio embeddings connectors (small
// RoPE transformers whose 128 learnable registers replace the padding).
// docs/ltx2/reference-map.md, section "Text path", is the specification.
#include <torch/types.h>

#include <map>
#include <memory>
#include <string>

#include "core/safetensors.hpp"
#include "models/ltx2/precision.hpp"
#include "models/ltx2/config.hpp"
#include "models/ltx2/layout.hpp"

namespace opsis::ltx2 {

struct TextEncoding {
  torch::Tensor video;  // [B, S, Dc] video context (2.0: caption_channels wide; 2.3: video width)
  torch::Tensor audio;  // [B, S, Dc] audio context
  torch::Tensor mask;   // [B, S] int64, all ones once the registers fill the padding
};

class TextProjection {
 public:
  // Reads text_embedding_projection.* and the two model.diffusion_model.*_embeddings_connector.*
  // parts of a loaded checkpoint (float32, on `device`). `text` gives Gemma's width and the
  // number of stacked hidden states. Throws opsis::InvalidArgument("weights", ...) naming a
  // missing or mis-shaped tensor.
  TextProjection(const TransformerConfig& config, const TextEncoderSizes& text, const safetensors::TensorStore& file,
                 const std::string& path, torch::Device device = torch::kCPU,
                 WeightPrecision precision = WeightPrecision::Float32);
  ~TextProjection();
  TextProjection(TextProjection&&) noexcept;
  TextProjection& operator=(TextProjection&&) noexcept;

  // hidden_states [B, S, Dg, L] (Gemma's embeddings and every layer, stacked on the last
  // axis), attention_mask [B, S] (1 = token, 0 = left padding); S a multiple of 128. trace,
  // when given, receives "features_video" and "features_audio" (the extractor's outputs).
  TextEncoding forward(const torch::Tensor& hidden_states, const torch::Tensor& attention_mask,
                       std::map<std::string, torch::Tensor>* trace = nullptr) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace opsis::ltx2
