#include "models/mini/weights.hpp"


#include "core/error.hpp"

namespace opsis::mini {

namespace {
// parameter <- the file's values (same shape, checked by the caller)
void copy_values(torch::Tensor& parameter, const safetensors::Tensor& stored) {
  std::vector<float> values = stored.to_float();
  parameter.copy_(torch::from_blob(values.data(), parameter.sizes(), torch::kFloat32));
}
}  // namespace

safetensors::File to_safetensors(MiniModel& model, safetensors::DType dtype,
                                 const std::map<std::string, std::string>& extra_metadata) {
  safetensors::File file;
  file.metadata = extra_metadata;
  file.metadata["opsis.config"] = model->config.to_json();
  file.metadata["opsis.model"] = "opsis-mini";
  for (const auto& item : model->named_parameters(true)) {
    auto cpu = item.value().detach().to(torch::kCPU, torch::kFloat32).contiguous();
    std::vector<float> values(cpu.data_ptr<float>(), cpu.data_ptr<float>() + cpu.numel());
    file.tensors[item.key()] = safetensors::Tensor::from_float(values, cpu.sizes().vec(), dtype);
  }
  return file;
}

MiniModel from_safetensors(const safetensors::File& file) {
  const auto config_entry = file.metadata.find("opsis.config");
  if (config_entry == file.metadata.end())
    throw InvalidArgument("weights", "not opsis-mini weights: the metadata has no 'opsis.config'");
  MiniModel model(MiniConfig::from_json(config_entry->second));
  torch::NoGradGuard no_grad;
  size_t used = 0;
  for (auto& item : model->named_parameters(true)) {
    const auto found = file.tensors.find(item.key());
    if (found == file.tensors.end()) throw InvalidArgument("weights", "tensor '" + item.key() + "' is missing");
    if (found->second.shape != item.value().sizes().vec())
      throw InvalidArgument("weights", "tensor '" + item.key() + "' has shape " + safetensors::shape_text(found->second.shape) +
                                           ", the config gives " + safetensors::shape_text(item.value().sizes().vec()));
    copy_values(item.value(), found->second);
    ++used;
  }
  if (used != file.tensors.size())
    for (const auto& [name, tensor] : file.tensors)
      if (!model->named_parameters(true).contains(name))
        throw InvalidArgument("weights", "tensor '" + name + "' is not part of opsis-mini");
  return model;
}

int load_matching(MiniModel& model, const safetensors::File& file) {
  torch::NoGradGuard no_grad;
  int copied = 0;
  for (auto& item : model->named_parameters(true)) {
    const auto found = file.tensors.find(item.key());
    if (found == file.tensors.end() || found->second.shape != item.value().sizes().vec()) continue;
    copy_values(item.value(), found->second);
    ++copied;
  }
  return copied;
}

void save_model(MiniModel& model, const std::string& path, safetensors::DType dtype,
                const std::map<std::string, std::string>& extra_metadata) {
  safetensors::write(path, to_safetensors(model, dtype, extra_metadata));
}

MiniModel load_model(const std::string& path) { return from_safetensors(safetensors::read(path)); }

}  // namespace opsis::mini
