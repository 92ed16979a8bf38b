#pragma once
// safetensors files: an 8-byte little-endian header length, a JSON header (tensor name ->
// dtype, shape, byte range; "__metadata__" -> string map), then the raw little-endian data.
// No tensor library needed: tensors are held as bytes plus dtype and shape.
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace opsis::safetensors {

// F8_E4M3 is the "fn" variant of PyTorch's float8_e4m3fn (no infinities, max 448); F8_E5M2 is
// IEEE-like (infinities, max 57344): the two fp8 formats checkpoints ship in.
enum class DType { F32, F16, BF16, I64, I32, U8, F8_E4M3, F8_E5M2 };
const char* dtype_name(DType dtype);
size_t dtype_size(DType dtype);

struct Tensor {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> data;  // element count * dtype_size bytes, little-endian

  int64_t numel() const;
  // Values widened to float (F32, F16, BF16, F8_E4M3, F8_E5M2; otherwise opsis::InvalidArgument).
  std::vector<float> to_float() const;
  static Tensor from_float(const std::vector<float>& values, std::vector<int64_t> shape,
                           DType dtype = DType::F32);
};

// "[2, 3, 4]": a shape as error messages show it.
std::string shape_text(const std::vector<int64_t>& shape);

// A tensor's bytes where they lie (inside a File, or a memory-mapped file): no copy. Valid
// while what it points into lives.
struct TensorRef {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const uint8_t* data = nullptr;
  size_t bytes = 0;

  int64_t numel() const;
  // Values widened to float (the floating point dtypes; otherwise opsis::InvalidArgument).
  std::vector<float> to_float() const;
};

// Tensors looked up by name, wherever their bytes are: model loaders take this, so that a
// checkpoint is read whole (File) or mapped (MappedFile) by the same code.
class TensorStore {
 public:
  virtual ~TensorStore() = default;
  virtual std::optional<TensorRef> find(const std::string& name) const = 0;
  virtual const std::map<std::string, std::string>& metadata_map() const = 0;
  virtual std::vector<std::string> names() const = 0;  // sorted
};

struct File : TensorStore {
  std::map<std::string, std::string> metadata;
  std::map<std::string, Tensor> tensors;

  std::optional<TensorRef> find(const std::string& name) const override;
  const std::map<std::string, std::string>& metadata_map() const override { return metadata; }
  std::vector<std::string> names() const override;
};

// A safetensors file mapped into memory read-only: the header is parsed and checked as by
// read(), the tensors' bytes stay in the file and pages are read when a tensor is used, so a
// checkpoint of tens of GB costs no memory until its tensors are taken (and then only theirs).
// Throws opsis::IoError for an unreadable file, opsis::InvalidArgument("weights", ...) for a
// malformed one.
class MappedFile : public TensorStore {
 public:
  explicit MappedFile(const std::string& path);
  ~MappedFile() override;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  std::optional<TensorRef> find(const std::string& name) const override;
  const std::map<std::string, std::string>& metadata_map() const override { return metadata_; }
  std::vector<std::string> names() const override;
  size_t file_size() const { return size_; }

 private:
  struct Entry {
    DType dtype;
    std::vector<int64_t> shape;
    size_t offset, bytes;  // from the start of the file
  };
  void* base_ = nullptr;
  size_t size_ = 0;
  std::map<std::string, std::string> metadata_;
  std::map<std::string, Entry> entries_;
};

// Several mapped files read as one store: a checkpoint split into shards (Hugging Face's
// model-00001-of-00005.safetensors ...). A name found in two shards is an error; the metadata
// is the first shard's. Throws as MappedFile does for each file.
class ShardedStore : public TensorStore {
 public:
  explicit ShardedStore(const std::vector<std::string>& paths);
  std::optional<TensorRef> find(const std::string& name) const override;
  const std::map<std::string, std::string>& metadata_map() const override;
  std::vector<std::string> names() const override;

 private:
  std::vector<std::unique_ptr<MappedFile>> shards_;
  std::map<std::string, size_t> shard_of_;  // tensor name -> index in shards_
};

// Throws opsis::IoError for an unreadable file, opsis::InvalidArgument("weights", ...) for a
// malformed one (bad header, offsets out of range, unknown dtype, size mismatch).
File read(const std::string& path);
File parse(const std::vector<uint8_t>& bytes);

std::vector<uint8_t> serialize(const File& file);
// Atomic: written beside `path` under a temporary name, then renamed. Throws opsis::IoError.
void write(const std::string& path, const File& file);

}  // namespace opsis::safetensors
