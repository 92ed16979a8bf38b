#include "models/mini2/weights.hpp"


#include "core/error.hpp"

namespace opsis::mini2 {

Mini2Config read_config(const safetensors::File& file) {
  const auto config = file.metadata.find("opsis.config");
  const auto model = file.metadata.find("opsis.model");
  if (config == file.metadata.end())
    throw InvalidArgument("weights", "not opsis-mini 2 weights: the metadata has no 'opsis.config'");
  if (model != file.metadata.end() && model->second == "opsis-mini")
    throw InvalidArgument("weights",
                          "these are opsis-mini 1 weights (pixel-patch model); opsis-mini 2 needs weights made by "
                          "opsis-train-mini2 (format 'opsis-mini-2'): use --model opsis-mini for this file");
  return Mini2Config::from_json(config->second);
}

void add_tensors(safetensors::File& file, torch::nn::Module& module, const std::string& prefix, safetensors::DType dtype) {
  for (const auto& item : module.named_parameters(true)) {
    auto cpu = item.value().detach().to(torch::kCPU, torch::kFloat32).contiguous();
    std::vector<float> values(cpu.data_ptr<float>(), cpu.data_ptr<float>() + cpu.numel());
    file.tensors[prefix + item.key()] = safetensors::Tensor::from_float(values, cpu.sizes().vec(), dtype);
  }
}

void load_tensors(torch::nn::Module& module, const safetensors::File& file, const std::string& prefix) {
  torch::NoGradGuard no_grad;
  for (auto& item : module.named_parameters(true)) {
    const std::string name = prefix + item.key();
    const auto found = file.tensors.find(name);
    if (found == file.tensors.end()) throw InvalidArgument("weights", "tensor '" + name + "' is missing");
    if (found->second.shape != item.value().sizes().vec())
      throw InvalidArgument("weights", "tensor '" + name + "' has shape " + safetensors::shape_text(found->second.shape) +
                                           ", the config gives " + safetensors::shape_text(item.value().sizes().vec()));
    std::vector<float> values = found->second.to_float();
    item.value().copy_(torch::from_blob(values.data(), item.value().sizes(), torch::kFloat32));
  }
}

bool has_part(const safetensors::File& file, const std::string& prefix) {
  const auto it = file.tensors.lower_bound(prefix);
  return it != file.tensors.end() && it->first.compare(0, prefix.size(), prefix) == 0;
}

}  // namespace opsis::mini2
