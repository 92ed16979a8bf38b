#pragma once
// Tensor names and shapes of an LTX-2 single-file checkpoint as functions of its config, and
// a check of a file against them that names the missing or mis-shaped tensor. Reads only the
// safetensors header, so a 40 GB checkpoint is checked without loading it.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "models/ltx2/config.hpp"

namespace opsis::ltx2 {

using Shape = std::vector<int64_t>;
using Layout = std::map<std::string, Shape>;  // tensor name -> shape

// The Gemma text encoder's sizes enter the text projection: hidden width and the number of
// hidden states the feature extractor stacks (layers + 1). Gemma 3 12B: 3840 and 49.
struct TextEncoderSizes {
  int hidden = 3840;
  int hidden_states = 49;
};

// Which parts of the file to expect (a checkpoint may carry fewer, e.g. a transformer-only
// file or a ComfyUI split).
struct Parts {
  bool transformer = true;  // model.diffusion_model.* except the connectors
  bool text = true;         // connectors + text_embedding_projection.*
  bool video_encoder = true, video_decoder = true;
  bool audio_decoder = true;
  bool vocoder = true;
};

// Throws opsis::InvalidArgument("weights", ...) for a config this port cannot lay out yet
// (VAE attention blocks, group norm in the audio VAE).
Layout expected_layout(const Config& config, const TextEncoderSizes& text = {}, const Parts& parts = {});

struct TensorInfo {
  std::string dtype;  // safetensors name: F32, BF16, F8_E4M3, ...
  Shape shape;
};

struct Header {
  std::map<std::string, std::string> metadata;
  std::map<std::string, TensorInfo> tensors;
};

// Throws opsis::IoError (unreadable) or opsis::InvalidArgument("weights", ...) (malformed).
Header read_header(const std::string& path);

struct LayoutReport {
  std::vector<std::string> missing;                  // expected, not in the file
  std::vector<std::string> misshaped;                // "name: file [a, b], expected [c, d]"
  std::vector<std::string> unexpected;               // in the file, not expected (not an error)
  bool ok() const { return missing.empty() && misshaped.empty(); }
};

LayoutReport compare(const Header& header, const Layout& expected);

// compare(), then throw opsis::InvalidArgument("weights", ...) naming the first missing or
// mis-shaped tensor (and how many more there are).
void require_layout(const Header& header, const Layout& expected, const std::string& path);

}  // namespace opsis::ltx2
