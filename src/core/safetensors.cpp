#include "core/safetensors.hpp"

#include <bit>
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.hpp"

namespace opsis::safetensors {

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}
namespace {

static_assert(std::endian::native == std::endian::little, "safetensors I/O assumes a little-endian host");

struct DTypeInfo {
  DType dtype;
  const char* name;
  size_t size;
};
constexpr DTypeInfo kDTypes[] = {{DType::F32, "F32", 4}, {DType::F16, "F16", 2}, {DType::BF16, "BF16", 2},
                                 {DType::I64, "I64", 8}, {DType::I32, "I32", 4}, {DType::U8, "U8", 1}};

DType dtype_from_name(const std::string& name) {
  for (const auto& info : kDTypes)
    if (name == info.name) return info.dtype;
  throw InvalidArgument("weights", "unsupported safetensors dtype '" + name + "'");
}

float half_to_float(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000) << 16;
  const int exponent = (h >> 10) & 0x1f;
  const uint32_t mantissa = h & 0x3ff;
  if (exponent == 0) {
    const float value = std::ldexp(float(mantissa), -24);
    return sign ? -value : value;
  }
  if (exponent == 31) return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));
  return std::bit_cast<float>(sign | (uint32_t(exponent + 112) << 23) | (mantissa << 13));
}

uint16_t float_to_half(float f) {
  const uint32_t bits = std::bit_cast<uint32_t>(f);
  const uint16_t sign = uint16_t((bits >> 16) & 0x8000);
  if (std::isnan(f)) return uint16_t(sign | 0x7e00);
  const float magnitude = std::fabs(f);
  if (magnitude >= 65520.0f) return uint16_t(sign | 0x7c00);
  if (magnitude < 6.103515625e-05f) {  // subnormal half: multiples of 2^-24, round to nearest
    return uint16_t(sign | uint16_t(std::nearbyint(magnitude * 16777216.0f)));
  }
  // Round to nearest even on the 13 dropped mantissa bits.
  uint32_t rebased = (bits & 0x7fffffffu) - (112u << 23);
  rebased += 0xfffu + ((rebased >> 13) & 1u);
  return uint16_t(sign | uint16_t(rebased >> 13));
}

float bf16_to_float(uint16_t b) { return std::bit_cast<float>(uint32_t(b) << 16); }
uint16_t float_to_bf16(float f) {
  uint32_t bits = std::bit_cast<uint32_t>(f);
  if (std::isnan(f)) return uint16_t((bits >> 16) | 0x40);
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return uint16_t(bits >> 16);
}

}  // namespace

const char* dtype_name(DType dtype) {
  for (const auto& info : kDTypes)
    if (info.dtype == dtype) return info.name;
  return "?";
}
size_t dtype_size(DType dtype) {
  for (const auto& info : kDTypes)
    if (info.dtype == dtype) return info.size;
  return 0;
}

int64_t Tensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::vector<float> Tensor::to_float() const {
  const size_t n = size_t(numel());
  std::vector<float> out(n);
  switch (dtype) {
    case DType::F32: std::memcpy(out.data(), data.data(), n * 4); break;
    case DType::F16:
    case DType::BF16:
      for (size_t i = 0; i < n; ++i) {
        uint16_t v;
        std::memcpy(&v, data.data() + 2 * i, 2);
        out[i] = dtype == DType::F16 ? half_to_float(v) : bf16_to_float(v);
      }
      break;
    default: throw InvalidArgument("weights", std::string("tensor of dtype ") + dtype_name(dtype) + " is not floating point");
  }
  return out;
}

Tensor Tensor::from_float(const std::vector<float>& values, std::vector<int64_t> shape, DType dtype) {
  Tensor t;
  t.dtype = dtype;
  t.shape = std::move(shape);
  if (size_t(t.numel()) != values.size())
    throw InvalidArgument("shape", "shape does not match the number of values");
  t.data.resize(values.size() * dtype_size(dtype));
  switch (dtype) {
    case DType::F32: std::memcpy(t.data.data(), values.data(), values.size() * 4); break;
    case DType::F16:
    case DType::BF16:
      for (size_t i = 0; i < values.size(); ++i) {
        const uint16_t v = dtype == DType::F16 ? float_to_half(values[i]) : float_to_bf16(values[i]);
        std::memcpy(t.data.data() + 2 * i, &v, 2);
      }
      break;
    default: throw InvalidArgument("dtype", "from_float needs a floating point dtype");
  }
  return t;
}

File parse(const std::vector<uint8_t>& bytes) {
  if (bytes.size() < 8) throw InvalidArgument("weights", "not a safetensors file: shorter than its 8-byte header length");
  uint64_t header_size = 0;
  std::memcpy(&header_size, bytes.data(), 8);
  if (header_size > bytes.size() - 8)
    throw InvalidArgument("weights", "not a safetensors file: header length runs past the end of the file");
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes.begin() + 8, bytes.begin() + 8 + std::ptrdiff_t(header_size));
  } catch (const nlohmann::json::exception& e) {
    throw InvalidArgument("weights", std::string("safetensors header is not valid JSON: ") + e.what());
  }
  if (!header.is_object()) throw InvalidArgument("weights", "safetensors header is not a JSON object");
  const size_t data_start = 8 + size_t(header_size);
  const size_t data_size = bytes.size() - data_start;
  File file;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it.value().is_object()) throw InvalidArgument("weights", "__metadata__ is not an object");
      for (auto m = it.value().begin(); m != it.value().end(); ++m) {
        if (!m.value().is_string()) throw InvalidArgument("weights", "metadata value '" + m.key() + "' is not a string");
        file.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const auto& entry = it.value();
    // Shapes and offsets must be arrays of whole numbers >= 0: nlohmann converts any other
    // number with a C++ cast (1e64 or 1.5 to uint64_t: undefined behaviour; fuzz_safetensors).
    const auto whole_numbers = [&](const char* field) {
      const auto& value = entry.at(field);
      if (!value.is_array()) throw InvalidArgument("weights", "tensor '" + it.key() + "' " + field + " is not an array");
      std::vector<uint64_t> out;
      for (const auto& n : value) {
        if (!n.is_number_unsigned())
          throw InvalidArgument("weights", "tensor '" + it.key() + "' " + field + " holds something other than whole numbers >= 0");
        out.push_back(n.get<uint64_t>());
      }
      return out;
    };
    try {
      Tensor t;
      t.dtype = dtype_from_name(entry.at("dtype").get<std::string>());
      const auto dims = whole_numbers("shape");
      const auto offsets = whole_numbers("data_offsets");
      if (offsets.size() != 2 || offsets[0] > offsets[1] || offsets[1] > data_size)
        throw InvalidArgument("weights", "tensor '" + it.key() + "' has data offsets outside the file");
      // The byte size, every partial product checked, so numel() cannot overflow either.
      uint64_t byte_size = dtype_size(t.dtype);
      for (uint64_t d : dims) {
        if (__builtin_mul_overflow(byte_size, d, &byte_size) || byte_size > uint64_t(INT64_MAX))
          throw InvalidArgument("weights", "tensor '" + it.key() + "' has a shape too large for any file");
        t.shape.push_back(int64_t(d));
      }
      if (byte_size != offsets[1] - offsets[0])
        throw InvalidArgument("weights", "tensor '" + it.key() + "' byte size does not match its shape and dtype");
      t.data.assign(bytes.begin() + std::ptrdiff_t(data_start + offsets[0]),
                    bytes.begin() + std::ptrdiff_t(data_start + offsets[1]));
      file.tensors.emplace(it.key(), std::move(t));
    } catch (const nlohmann::json::exception& e) {
      throw InvalidArgument("weights", "tensor '" + it.key() + "' has a malformed header entry: " + e.what());
    }
  }
  return file;
}

File read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError("cannot open weights file '" + path + "'");
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw IoError("cannot read weights file '" + path + "'");
  return parse(bytes);
}

std::vector<uint8_t> serialize(const File& file) {
  nlohmann::json header = nlohmann::json::object();
  if (!file.metadata.empty()) header["__metadata__"] = file.metadata;
  uint64_t offset = 0;
  for (const auto& [name, t] : file.tensors) {
    if (uint64_t(t.numel()) * dtype_size(t.dtype) != t.data.size())
      throw InvalidArgument("weights", "tensor '" + name + "' data size does not match its shape");
    header[name] = {{"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.data.size()}}};
    offset += t.data.size();
  }
  std::string text = header.dump();
  while ((text.size() + 8) % 8) text.push_back(' ');  // data starts 8-byte aligned
  std::vector<uint8_t> out(8 + text.size() + offset);
  const uint64_t header_size = text.size();
  std::memcpy(out.data(), &header_size, 8);
  std::memcpy(out.data() + 8, text.data(), text.size());
  size_t position = 8 + text.size();
  for (const auto& [name, t] : file.tensors) {
    if (!t.data.empty()) std::memcpy(out.data() + position, t.data.data(), t.data.size());
    position += t.data.size();
  }
  return out;
}

void write(const std::string& path, const File& file) {
  const std::vector<uint8_t> bytes = serialize(file);
  const std::string temporary = path + ".tmp-" + std::to_string(std::hash<std::string>{}(path) ^ uint64_t(bytes.size()));
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (!out) throw IoError("cannot create '" + temporary + "'");
    out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    out.flush();
    if (!out) {
      std::remove(temporary.c_str());
      throw IoError("cannot write weights to '" + temporary + "'");
    }
  }
  std::error_code ec;
  std::filesystem::rename(temporary, path, ec);
  if (ec) {
    std::remove(temporary.c_str());
    throw IoError("cannot move weights into place at '" + path + "': " + ec.message());
  }
}

}  // namespace opsis::safetensors
