#pragma once
// safetensors files: an 8-byte little-endian header length, a JSON header (tensor name ->
// dtype, shape, byte range; "__metadata__" -> string map), then the raw little-endian data.
// No tensor library needed: tensors are held as bytes plus dtype and shape.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace opsis::safetensors {

enum class DType { F32, F16, BF16, I64, I32, U8 };
const char* dtype_name(DType dtype);
size_t dtype_size(DType dtype);

struct Tensor {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> data;  // element count * dtype_size bytes, little-endian

  int64_t numel() const;
  // Values widened to float (F32, F16, BF16 only; otherwise opsis::InvalidArgument).
  std::vector<float> to_float() const;
  static Tensor from_float(const std::vector<float>& values, std::vector<int64_t> shape,
                           DType dtype = DType::F32);
};

// "[2, 3, 4]": a shape as error messages show it.
std::string shape_text(const std::vector<int64_t>& shape);

struct File {
  std::map<std::string, std::string> metadata;
  std::map<std::string, Tensor> tensors;
};

// Throws opsis::IoError for an unreadable file, opsis::InvalidArgument("weights", ...) for a
// malformed one (bad header, offsets out of range, unknown dtype, size mismatch).
File read(const std::string& path);
File parse(const std::vector<uint8_t>& bytes);

std::vector<uint8_t> serialize(const File& file);
// Atomic: written beside `path` under a temporary name, then renamed. Throws opsis::IoError.
void write(const std::string& path, const File& file);

}  // namespace opsis::safetensors
