#pragma once
// Media bytes, addressed by content (SHA-256): a local folder today, an S3-compatible bucket
// behind the same interface for several hosts. A blob is written whole or not at all.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace opsis::store {

class BlobStore {
 public:
  virtual ~BlobStore() = default;
  // Stores the bytes and returns their key (lowercase hex SHA-256).
  virtual std::string put(const std::vector<uint8_t>& bytes) = 0;
  // Stores a file's bytes (moved in when on the same filesystem, else copied).
  virtual std::string put_file(const std::string& path) = 0;
  virtual bool contains(const std::string& key) = 0;
  virtual std::vector<uint8_t> get(const std::string& key) = 0;  // throws opsis::IoError if absent
  // A local path to read the blob from (for streaming and Range requests), if any.
  virtual std::optional<std::string> local_path(const std::string& key) = 0;
  virtual uint64_t size(const std::string& key) = 0;
  virtual void remove(const std::string& key) = 0;
};

std::unique_ptr<BlobStore> open_folder_blob_store(const std::string& folder);

// Lowercase hex SHA-256 of bytes.
std::string sha256_hex(const uint8_t* data, size_t size);

}  // namespace opsis::store
