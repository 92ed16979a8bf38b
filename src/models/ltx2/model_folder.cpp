#include "models/ltx2/model_folder.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/safetensors.hpp"
#include "models/ltx2/config.hpp"
#include "models/ltx2/layout.hpp"

namespace opsis::ltx2 {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// The checkpoint's LTX-2 config, when its header has one (else nullopt; a file that is not
// safetensors at all is not a candidate either). A config the port refuses is an error.
std::optional<Config> ltx2_config(const fs::path& path) {
  Header header;
  try {
    header = read_header(path.string());
  } catch (const InvalidArgument&) {
    return std::nullopt;
  }
  const auto config = header.metadata.find("config");
  if (config == header.metadata.end() || config->second.find("\"transformer\"") == std::string::npos) return std::nullopt;
  return parse_config(header.metadata);
}

std::vector<fs::path> files_with_extension(const fs::path& folder, const std::string& extension) {
  std::vector<fs::path> out;
  for (const auto& entry : fs::directory_iterator(folder))
    if (entry.is_regular_file() && entry.path().extension() == extension) out.push_back(entry.path());
  std::sort(out.begin(), out.end());
  return out;
}

std::string names_of(const std::vector<fs::path>& paths) {
  std::string out;
  for (const auto& p : paths) out += (out.empty() ? "" : ", ") + p.filename().string();
  return out;
}

// "2.3.0" -> "ltx-2.3"; "" -> the folder's name.
std::string default_name(const Config& config, const fs::path& folder) {
  if (config.version.size() >= 2) return "ltx-" + std::to_string(config.version[0]) + "." + std::to_string(config.version[1]);
  if (config.version.size() == 1) return "ltx-" + std::to_string(config.version[0]);
  return folder.filename().string();
}

}  // namespace

std::string read_folder_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError("cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

ModelFolder find_model_folder(const std::string& folder_text) {
  const fs::path folder = fs::path(folder_text).lexically_normal();
  if (!fs::is_directory(folder)) throw InvalidArgument("model", folder_text + " is not a model folder");
  ModelFolder out;
  out.folder = folder.string();
  json manifest = json::object();
  if (fs::exists(folder / kModelManifest)) {
    try {
      manifest = json::parse(read_folder_file((folder / kModelManifest).string()));
    } catch (const json::exception& e) {
      throw InvalidArgument("model", (folder / kModelManifest).string() + " is not valid JSON: " + e.what());
    }
    if (!manifest.is_object()) throw InvalidArgument("model", (folder / kModelManifest).string() + " is not a JSON object");
    const std::string family = manifest.value("family", std::string("ltx-2"));
    if (family != "ltx-2") throw InvalidArgument("model", (folder / kModelManifest).string() + ": unknown family '" + family + "' (known: ltx-2)");
  }
  auto text_field = [&](const char* key) -> std::optional<std::string> {
    if (!manifest.contains(key)) return std::nullopt;
    if (!manifest[key].is_string()) throw InvalidArgument("model", std::string(kModelManifest) + ": '" + key + "' must be a string");
    return manifest[key].get<std::string>();
  };

  // The checkpoint.
  std::optional<Config> config;
  if (auto named = text_field("checkpoint")) {
    const fs::path path = folder / *named;
    if (!fs::is_regular_file(path)) throw InvalidArgument("model", std::string(kModelManifest) + " names checkpoint " + *named + ", which is not in " + out.folder);
    config = ltx2_config(path);
    if (!config) throw InvalidArgument("model", path.string() + " has no LTX-2 config in its metadata");
    out.checkpoint = path.string();
  } else {
    std::vector<fs::path> found;
    for (const fs::path& p : files_with_extension(folder, ".safetensors"))
      if (auto c = ltx2_config(p)) found.push_back(p), config = c;
    if (found.empty()) throw InvalidArgument("model", "no LTX-2 checkpoint (*.safetensors with an LTX-2 config in its metadata) in " + out.folder);
    if (found.size() > 1)
      throw InvalidArgument("model", "several LTX-2 checkpoints in " + out.folder + " (" + names_of(found) + "); name one in " + kModelManifest);
    out.checkpoint = found.front().string();
  }
  out.name = text_field("name").value_or(default_name(*config, folder));
  if (out.name.empty() || out.name.size() > 64 ||
      !std::all_of(out.name.begin(), out.name.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_'; }))
    throw InvalidArgument("model", "model name '" + out.name + "' must be 1-64 letters, digits, '-', '.' or '_'");

  // The text encoder.
  fs::path text;
  if (auto named = text_field("text_encoder")) {
    text = folder / *named;
    if (!fs::is_directory(text)) throw InvalidArgument("model", std::string(kModelManifest) + " names text encoder " + *named + ", which is not a folder in " + out.folder);
  } else {
    std::vector<fs::path> found;
    for (const auto& entry : fs::directory_iterator(folder))
      if (entry.is_directory() && fs::exists(entry.path() / "config.json") && fs::exists(entry.path() / "tokenizer.model"))
        found.push_back(entry.path());
    std::sort(found.begin(), found.end());
    if (found.empty())
      throw InvalidArgument("model", "no Gemma 3 text encoder in " + out.folder + " (a sub-folder with config.json, tokenizer.model and its *.safetensors)");
    if (found.size() > 1)
      throw InvalidArgument("model", "several text encoder folders in " + out.folder + " (" + names_of(found) + "); name one in " + kModelManifest);
    text = found.front();
  }
  out.text_encoder = text.string();
  for (const char* needed : {"config.json", "tokenizer.model"})
    if (!fs::is_regular_file(text / needed)) throw InvalidArgument("model", "the text encoder folder " + out.text_encoder + " has no " + needed);
  out.gemma_config = (text / "config.json").string();
  out.tokenizer = (text / "tokenizer.model").string();
  if (fs::exists(text / "model.safetensors.index.json")) {
    json index;
    try {
      index = json::parse(read_folder_file((text / "model.safetensors.index.json").string()));
    } catch (const json::exception& e) {
      throw InvalidArgument("model", (text / "model.safetensors.index.json").string() + " is not valid JSON: " + e.what());
    }
    if (!index.contains("weight_map") || !index["weight_map"].is_object())
      throw InvalidArgument("model", (text / "model.safetensors.index.json").string() + " has no weight_map");
    std::set<std::string> shards;
    for (const auto& [tensor, file] : index["weight_map"].items()) {
      if (!file.is_string() || file.get<std::string>().find('/') != std::string::npos)
        throw InvalidArgument("model", "model.safetensors.index.json: tensor " + tensor + " names a file outside its folder");
      shards.insert(file.get<std::string>());
    }
    for (const std::string& shard : shards) {
      if (!fs::is_regular_file(text / shard)) throw InvalidArgument("model", "the text encoder's index names " + shard + ", which is missing from " + out.text_encoder);
      out.text_shards.push_back((text / shard).string());
    }
  } else {
    for (const fs::path& p : files_with_extension(text, ".safetensors")) out.text_shards.push_back(p.string());
  }
  if (out.text_shards.empty()) throw InvalidArgument("model", "the text encoder folder " + out.text_encoder + " has no *.safetensors weights");
  return out;
}

std::vector<std::string> registered_model_folders(const std::string& data_dir) {
    const fs::path file = fs::path(data_dir) / "models.json";
  std::error_code error;
  if (!fs::exists(file, error)) return {};
  std::ifstream in(file);
  if (!in) throw IoError("cannot read " + file.string());
  nlohmann::json j;
  try {
    in >> j;
  } catch (const nlohmann::json::exception& e) {
    throw InvalidArgument("models.json", file.string() + " is not valid JSON: " + e.what());
  }
  if (!j.is_object() || !j.contains("models") || !j["models"].is_array())
    throw InvalidArgument("models.json", file.string() + " must be {\"models\": [{\"path\": FOLDER}, ...]}");
  std::vector<std::string> out;
  for (const auto& entry : j["models"]) {
    if (!entry.is_object() || !entry.contains("path") || !entry["path"].is_string())
      throw InvalidArgument("models.json", file.string() + ": every model is {\"path\": FOLDER}");
    const fs::path path = entry["path"].get<std::string>();
    out.push_back((path.is_absolute() ? path : fs::path(data_dir) / path).lexically_normal().string());
  }
  return out;
}

bool looks_like_model_folder(const std::string& path) {
  std::error_code error;
  if (!fs::is_directory(path, error)) return false;
  if (fs::exists(fs::path(path) / kModelManifest)) return true;
  for (const fs::path& p : files_with_extension(path, ".safetensors"))
    if (ltx2_config(p)) return true;
  return false;
}

namespace {

// Standard normal values from a seed, the same on every platform (Box-Muller over mt19937_64's
// raw output, whose sequence the standard fixes).
class Normal {
 public:
  explicit Normal(uint64_t seed) : rng_(seed) {}
  float next() {
    const double u1 = (double(rng_() >> 11) + 1.0) / 9007199254740993.0, u2 = double(rng_() >> 11) / 9007199254740992.0;
    return float(std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2));
  }

 private:
  std::mt19937_64 rng_;
};

safetensors::Tensor random_tensor(Normal& normal, std::vector<int64_t> shape, float scale) {
  safetensors::Tensor t;
  t.dtype = safetensors::DType::F32;
  t.shape = shape;
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  t.data.resize(size_t(n) * sizeof(float));
  for (int64_t i = 0; i < n; ++i) {
    const float v = normal.next() * scale;
    std::memcpy(t.data.data() + size_t(i) * sizeof(float), &v, sizeof(float));
  }
  return t;
}

}  // namespace

void write_tiny_model_folder(const std::string& folder_text, const std::string& version, const std::string& golden_dir,
                             const std::string& tokenizer_model, const std::string& name) {
  if (version != "2.0" && version != "2.3") throw InvalidArgument("version", "a tiny LTX-2 folder is version 2.0 or 2.3");
  const fs::path folder(folder_text);
  fs::create_directories(folder / "gemma-3-tiny");
  const std::string tag = version == "2.0" ? "v2_0" : "v2_3";
  const std::string checkpoint = "ltx-2-tiny-" + tag + ".safetensors";
  fs::copy_file(fs::path(golden_dir) / ("ltx2_tiny_" + tag + ".safetensors"), folder / checkpoint, fs::copy_options::overwrite_existing);
  fs::copy_file(tokenizer_model, folder / "gemma-3-tiny" / "tokenizer.model", fs::copy_options::overwrite_existing);

  // Gemma 3, as wide as the tiny text projection expects: 24 wide, 2 layers (3 hidden states),
  // one local and one global; its vocabulary the tokenizer's (600 pieces).
  const int vocab = 600, hidden = 24, layers = 2, heads = 4, kv_heads = 2, head_dim = 8, ff = 48;
  const json text_config = {{"model_type", "gemma3_text"},
                            {"vocab_size", vocab},
                            {"hidden_size", hidden},
                            {"intermediate_size", ff},
                            {"num_hidden_layers", layers},
                            {"num_attention_heads", heads},
                            {"num_key_value_heads", kv_heads},
                            {"head_dim", head_dim},
                            {"query_pre_attn_scalar", head_dim},
                            {"rms_norm_eps", 1e-6},
                            {"sliding_window", 4},
                            {"layer_types", {"sliding_attention", "full_attention"}},
                            {"rope_local_base_freq", 10000.0},
                            {"rope_theta", 1000000.0},
                            {"rope_scaling", {{"rope_type", "linear"}, {"factor", 8.0}}},
                            {"hidden_activation", "gelu_pytorch_tanh"}};
  const json config = {{"architectures", {"Gemma3ForConditionalGeneration"}}, {"model_type", "gemma3"}, {"text_config", text_config}};
  std::ofstream(folder / "gemma-3-tiny" / "config.json") << config.dump(2) << "\n";

  Normal normal(20261207);
  safetensors::File first, second;  // the embeddings and layer 0 | layer 1 and the final norm
  const std::string p = "language_model.model.";
  first.tensors[p + "embed_tokens.weight"] = random_tensor(normal, {vocab, hidden}, 1.0f);
  for (int i = 0; i < layers; ++i) {
    safetensors::File& shard = i == 0 ? first : second;
    const std::string l = p + "layers." + std::to_string(i) + ".";
    const float scale = 1.0f / std::sqrt(float(hidden));
    shard.tensors[l + "self_attn.q_proj.weight"] = random_tensor(normal, {heads * head_dim, hidden}, scale);
    shard.tensors[l + "self_attn.k_proj.weight"] = random_tensor(normal, {kv_heads * head_dim, hidden}, scale);
    shard.tensors[l + "self_attn.v_proj.weight"] = random_tensor(normal, {kv_heads * head_dim, hidden}, scale);
    shard.tensors[l + "self_attn.o_proj.weight"] = random_tensor(normal, {hidden, heads * head_dim}, scale);
    shard.tensors[l + "self_attn.q_norm.weight"] = random_tensor(normal, {head_dim}, 0.1f);
    shard.tensors[l + "self_attn.k_norm.weight"] = random_tensor(normal, {head_dim}, 0.1f);
    shard.tensors[l + "mlp.gate_proj.weight"] = random_tensor(normal, {ff, hidden}, scale);
    shard.tensors[l + "mlp.up_proj.weight"] = random_tensor(normal, {ff, hidden}, scale);
    shard.tensors[l + "mlp.down_proj.weight"] = random_tensor(normal, {hidden, ff}, 1.0f / std::sqrt(float(ff)));
    for (const char* norm : {"input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm", "post_feedforward_layernorm"})
      shard.tensors[l + norm + ".weight"] = random_tensor(normal, {hidden}, 0.1f);
  }
  second.tensors[p + "norm.weight"] = random_tensor(normal, {hidden}, 0.1f);
  json weight_map = json::object();
  const char* shard_names[2] = {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"};
  for (int s = 0; s < 2; ++s) {
    safetensors::File& shard = s == 0 ? first : second;
    shard.metadata["format"] = "pt";
    safetensors::write((folder / "gemma-3-tiny" / shard_names[s]).string(), shard);
    for (const auto& [tensor_name, tensor] : shard.tensors) weight_map[tensor_name] = shard_names[s];
  }
  std::ofstream(folder / "gemma-3-tiny" / "model.safetensors.index.json") << json{{"metadata", json::object()}, {"weight_map", weight_map}}.dump(2) << "\n";
  const json manifest = {{"family", "ltx-2"}, {"name", name}, {"checkpoint", checkpoint}, {"text_encoder", "gemma-3-tiny"}};
  std::ofstream(folder / kModelManifest) << manifest.dump(2) << "\n";
}

}  // namespace opsis::ltx2
