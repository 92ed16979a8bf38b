#include "core/safetensors.hpp"

#include <bit>
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

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
constexpr DTypeInfo kDTypes[] = {{DType::F32, "F32", 4},        {DType::F16, "F16", 2},         {DType::BF16, "BF16", 2},
                                 {DType::I64, "I64", 8},        {DType::I32, "I32", 4},         {DType::U8, "U8", 1},
                                 {DType::F8_E4M3, "F8_E4M3", 1}, {DType::F8_E5M2, "F8_E5M2", 1}};

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

// float8_e4m3fn: sign, 4 exponent bits (bias 7), 3 mantissa bits; exponent 0 is subnormal
// (m/8 * 2^-6); S.1111.111 is NaN and there is no infinity (so 1111 with m < 7 is a number, up to 448).
float e4m3_to_float(uint8_t v) {
  const float sign = (v & 0x80) ? -1.0f : 1.0f;
  const int exponent = (v >> 3) & 0xf, mantissa = v & 0x7;
  if (exponent == 0xf && mantissa == 0x7) return std::numeric_limits<float>::quiet_NaN();
  if (exponent == 0) return sign * std::ldexp(float(mantissa) / 8.0f, -6);
  return sign * std::ldexp(1.0f + float(mantissa) / 8.0f, exponent - 7);
}

// float8_e5m2: sign, 5 exponent bits (bias 15), 2 mantissa bits, IEEE-like: the upper half of a
// float16 (exponent 31 is infinity or NaN).
float e5m2_to_float(uint8_t v) { return half_to_float(uint16_t(uint16_t(v) << 8)); }

std::vector<float> widen(DType dtype, const uint8_t* data, size_t n) {
  std::vector<float> out(n);
  switch (dtype) {
    case DType::F32: if (n) std::memcpy(out.data(), data, n * 4); break;
    case DType::F16:
    case DType::BF16:
      for (size_t i = 0; i < n; ++i) {
        uint16_t v;
        std::memcpy(&v, data + 2 * i, 2);
        out[i] = dtype == DType::F16 ? half_to_float(v) : bf16_to_float(v);
      }
      break;
    case DType::F8_E4M3: for (size_t i = 0; i < n; ++i) out[i] = e4m3_to_float(data[i]); break;
    case DType::F8_E5M2: for (size_t i = 0; i < n; ++i) out[i] = e5m2_to_float(data[i]); break;
    default: throw InvalidArgument("weights", std::string("tensor of dtype ") + dtype_name(dtype) + " is not floating point");
  }
  return out;
}
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

std::vector<float> Tensor::to_float() const { return widen(dtype, data.data(), size_t(numel())); }

int64_t TensorRef::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::vector<float> TensorRef::to_float() const { return widen(dtype, data, size_t(numel())); }

std::vector<std::string> File::names() const {
  std::vector<std::string> out;
  for (const auto& [name, tensor] : tensors) out.push_back(name);
  return out;
}

std::optional<TensorRef> File::find(const std::string& name) const {
  const auto found = tensors.find(name);
  if (found == tensors.end()) return std::nullopt;
  const Tensor& t = found->second;
  return TensorRef{t.dtype, t.shape, t.data.data(), t.data.size()};
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

namespace {

struct HeaderEntry {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  size_t begin, end;  // from the start of the data (after the header)
};
struct ParsedHeader {
  std::map<std::string, std::string> metadata;
  std::vector<HeaderEntry> entries;
  size_t data_start = 0;
};

// The header of a safetensors file of `size` bytes starting at `bytes`, every entry checked
// against the file's size.
ParsedHeader parse_header(const uint8_t* bytes, size_t size) {
  if (size < 8) throw InvalidArgument("weights", "not a safetensors file: shorter than its 8-byte header length");
  uint64_t header_size = 0;
  std::memcpy(&header_size, bytes, 8);
  if (header_size > size - 8)
    throw InvalidArgument("weights", "not a safetensors file: header length runs past the end of the file");
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes + 8, bytes + 8 + header_size);
  } catch (const nlohmann::json::exception& e) {
    throw InvalidArgument("weights", std::string("safetensors header is not valid JSON: ") + e.what());
  }
  if (!header.is_object()) throw InvalidArgument("weights", "safetensors header is not a JSON object");
  const size_t data_start = 8 + size_t(header_size);
  const size_t data_size = size - data_start;
  ParsedHeader file;
  file.data_start = data_start;
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
      HeaderEntry t;
      t.name = it.key();
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
      t.begin = size_t(offsets[0]), t.end = size_t(offsets[1]);
      file.entries.push_back(std::move(t));
    } catch (const nlohmann::json::exception& e) {
      throw InvalidArgument("weights", "tensor '" + it.key() + "' has a malformed header entry: " + e.what());
    }
  }
  return file;
}

}  // namespace

File parse(const std::vector<uint8_t>& bytes) {
  ParsedHeader header = parse_header(bytes.data(), bytes.size());
  File file;
  file.metadata = std::move(header.metadata);
  for (auto& e : header.entries) {
    Tensor t;
    t.dtype = e.dtype;
    t.shape = std::move(e.shape);
    t.data.assign(bytes.begin() + std::ptrdiff_t(header.data_start + e.begin), bytes.begin() + std::ptrdiff_t(header.data_start + e.end));
    file.tensors.emplace(e.name, std::move(t));
  }
  return file;
}

MappedFile::MappedFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw IoError("cannot open weights file '" + path + "'");
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw IoError("cannot read weights file '" + path + "': not a regular file");
  }
  size_ = size_t(st.st_size);
  if (size_ > 0) {
    base_ = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (base_ == MAP_FAILED) {
      base_ = nullptr;
      ::close(fd);
      throw IoError("cannot map weights file '" + path + "' into memory");
    }
  }
  ::close(fd);  // the mapping keeps the file
  try {
    ParsedHeader header = parse_header(static_cast<const uint8_t*>(base_), size_);
    metadata_ = std::move(header.metadata);
    for (auto& e : header.entries)
      entries_.emplace(e.name, Entry{e.dtype, std::move(e.shape), header.data_start + e.begin, e.end - e.begin});
  } catch (...) {
    if (base_) ::munmap(base_, size_);
    base_ = nullptr;
    throw;
  }
}

MappedFile::~MappedFile() {
  if (base_) ::munmap(base_, size_);
}

std::optional<TensorRef> MappedFile::find(const std::string& name) const {
  const auto found = entries_.find(name);
  if (found == entries_.end()) return std::nullopt;
  const Entry& e = found->second;
  return TensorRef{e.dtype, e.shape, static_cast<const uint8_t*>(base_) + e.offset, e.bytes};
}

std::vector<std::string> MappedFile::names() const {
  std::vector<std::string> out;
  for (const auto& [name, entry] : entries_) out.push_back(name);
  return out;
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

ShardedStore::ShardedStore(const std::vector<std::string>& paths) {
  if (paths.empty()) throw InvalidArgument("weights", "a sharded checkpoint needs at least one file");
  for (const std::string& path : paths) {
    shards_.push_back(std::make_unique<MappedFile>(path));
    for (const std::string& name : shards_.back()->names()) {
      const auto [it, added] = shard_of_.emplace(name, shards_.size() - 1);
      if (!added) throw InvalidArgument("weights", "tensor " + name + " is in both " + paths[it->second] + " and " + path);
    }
  }
}

std::optional<TensorRef> ShardedStore::find(const std::string& name) const {
  const auto it = shard_of_.find(name);
  if (it == shard_of_.end()) return std::nullopt;
  return shards_[it->second]->find(name);
}

const std::map<std::string, std::string>& ShardedStore::metadata_map() const { return shards_.front()->metadata_map(); }

std::vector<std::string> ShardedStore::names() const {
  std::vector<std::string> out;
  out.reserve(shard_of_.size());
  for (const auto& [name, shard] : shard_of_) out.push_back(name);
  return out;
}

}  // namespace opsis::safetensors
