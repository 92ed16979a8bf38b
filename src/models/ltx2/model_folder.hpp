#pragma once
// An installed LTX-2 model is a folder: the single-file checkpoint (transformer, text
// projection and connectors, video VAE, audio VAE, vocoder; its metadata says which version)
// and the Gemma 3 text encoder in Hugging Face's layout (config.json, tokenizer.model, one or
// more *.safetensors shards). An optional opsis-model.json names them:
//   {"family": "ltx-2", "name": "ltx-2.3", "checkpoint": "ltx-2.3-22b-dev.safetensors",
//    "text_encoder": "gemma-3-12b-it"}
// Without it the folder is searched: the one *.safetensors whose metadata holds an LTX-2
// config, and the one sub-folder with a config.json and a tokenizer.model. No libtorch.
#include <string>
#include <vector>

namespace opsis::ltx2 {

inline constexpr const char* kModelManifest = "opsis-model.json";

struct ModelFolder {
  std::string folder;
  std::string name;                       // the manifest's, else "ltx-" + the checkpoint's major.minor version
  std::string checkpoint;                 // path of the single-file checkpoint
  std::string text_encoder;               // path of the Gemma folder
  std::vector<std::string> text_shards;   // its weight files (the index's, else every *.safetensors), sorted
  std::string gemma_config;               // its config.json
  std::string tokenizer;                  // its tokenizer.model
};

// Throws opsis::InvalidArgument("model", ...) saying what is missing or ambiguous, or
// opsis::IoError for an unreadable file.
ModelFolder find_model_folder(const std::string& folder);

// The text of a small file of a model folder (a config, a manifest, an index). Throws
// opsis::IoError when it cannot be read.
std::string read_folder_file(const std::string& path);

// True when `path` is a directory that holds an opsis-model.json naming the LTX-2 family, or a
// *.safetensors with an LTX-2 config (what find_model_folder would try to open).
bool looks_like_model_folder(const std::string& path);

// Installed models: a registry file, `models.json` in the data directory, says where their
// folders are (no network at run time):
//   {"models": [{"path": "/srv/models/ltx-2.3"}, {"path": "ltx-2-19b"}]}
// (a relative path is taken from the data directory). Returns the folders in file order; none
// when the file does not exist. Throws opsis::InvalidArgument("models.json", ...) for a
// malformed file.
std::vector<std::string> registered_model_folders(const std::string& data_dir);

// Writes a tiny LTX-2 model folder, laid out as a real one, from the parity goldens: the tiny
// checkpoint of `version` ("2.0" or "2.3", copied from golden_dir/ltx2_tiny_v2_{0,3}.safetensors),
// a Gemma 3 text encoder of the width its text projection expects (24 wide, 2 layers, random
// weights from a fixed seed, split into two shards with an index, as Hugging Face stores large
// ones) and the tiny SentencePiece model (tokenizer_model) as its tokenizer, and a manifest
// naming it `name`. For tests and the CPU benchmark: what it makes is noise, through the same
// code path real weights take.
void write_tiny_model_folder(const std::string& folder, const std::string& version, const std::string& golden_dir,
                             const std::string& tokenizer_model, const std::string& name);

}  // namespace opsis::ltx2
