#pragma once
// Media bytes, addressed by content (SHA-256): a local folder today, an S3-compatible bucket
// behind the same interface for several hosts. A blob is written whole or not at all.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace opsis::store {

struct StoredBlob {
  std::string key;
  int64_t written_at = 0;  // unix seconds of the last put of these bytes
};

class BlobStore {
 public:
  virtual ~BlobStore() = default;
  // Stores the bytes and returns their key (lowercase hex SHA-256). Putting bytes already
  // stored renews their written_at, so the orphan collector's grace period starts again.
  virtual std::string put(const std::vector<uint8_t>& bytes) = 0;
  // Stores a file's bytes (moved in when on the same filesystem, else copied).
  virtual std::string put_file(const std::string& path) = 0;
  virtual bool contains(const std::string& key) = 0;
  virtual std::vector<uint8_t> get(const std::string& key) = 0;  // throws opsis::IoError if absent
  // A local path to read the blob from (for streaming and Range requests), if any.
  virtual std::optional<std::string> local_path(const std::string& key) = 0;
  virtual uint64_t size(const std::string& key) = 0;
  virtual void remove(const std::string& key) = 0;
  // Every stored blob (not temporaries being written).
  virtual std::vector<StoredBlob> list() = 0;
  // Removes the blob only if it was last put at or before `cutoff` (unix seconds); true if
  // removed. A blob put again since it was listed is kept.
  virtual bool remove_if_written_before(const std::string& key, int64_t cutoff) = 0;
};

std::unique_ptr<BlobStore> open_folder_blob_store(const std::string& folder);

// Lowercase hex SHA-256 of bytes.
std::string sha256_hex(const uint8_t* data, size_t size);

}  // namespace opsis::store
