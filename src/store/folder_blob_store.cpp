// BlobStore in a local folder: <folder>/<first two hex digits>/<sha256>. Blobs are written
// to a temporary name, flushed, then renamed, so a reader never sees half a blob, and a
// crash leaves at most a stray temporary (removed when the store opens).
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include "core/error.hpp"
#include "store/blob_store.hpp"

namespace opsis::store {

namespace fs = std::filesystem;

std::string sha256_hex(const uint8_t* data, size_t size) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(data, size, digest, &length, EVP_sha256(), nullptr) != 1) throw IoError("SHA-256 failed");
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < length; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 15];
  }
  return out;
}

namespace {

bool is_key(const std::string& key) {
  if (key.size() != 64) return false;
  for (char c : key)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

void write_all_and_sync(const fs::path& path, const uint8_t* data, size_t size) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) throw IoError("cannot create " + path.string());
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::write(fd, data + done, size - done);
    if (n <= 0) {
      ::close(fd);
      fs::remove(path);
      throw IoError("cannot write " + path.string());
    }
    done += size_t(n);
  }
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced) {
    fs::remove(path);
    throw IoError("cannot flush " + path.string());
  }
}

class FolderBlobStore final : public BlobStore {
 public:
  explicit FolderBlobStore(const std::string& folder) : root_(folder) {
    std::error_code ec;
    fs::create_directories(root_ / "tmp", ec);
    if (ec) throw IoError("cannot create blob folder " + root_.string() + ": " + ec.message());
    for (const auto& entry : fs::directory_iterator(root_ / "tmp")) fs::remove(entry.path(), ec);
  }

  std::string put(const std::vector<uint8_t>& bytes) override {
    const std::string key = sha256_hex(bytes.data(), bytes.size());
    if (contains(key)) {
      ::utimensat(AT_FDCWD, blob_path(key).c_str(), nullptr, 0);  // written again: a fresh grace period
      return key;
    }
    const fs::path temp = temp_path();
    write_all_and_sync(temp, bytes.data(), bytes.size());
    publish(temp, key);
    return key;
  }

  std::string put_file(const std::string& path) override {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw IoError("cannot read " + path);
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return put(bytes);
  }

  bool contains(const std::string& key) override { return is_key(key) && fs::exists(blob_path(key)); }

  std::vector<uint8_t> get(const std::string& key) override {
    if (!contains(key)) throw IoError("no blob " + key);
    std::ifstream in(blob_path(key), std::ios::binary);
    return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }

  std::optional<std::string> local_path(const std::string& key) override {
    if (!contains(key)) return std::nullopt;
    return blob_path(key).string();
  }

  uint64_t size(const std::string& key) override {
    if (!contains(key)) throw IoError("no blob " + key);
    return fs::file_size(blob_path(key));
  }

  void remove(const std::string& key) override {
    if (!is_key(key)) return;
    std::error_code ec;
    fs::remove(blob_path(key), ec);
  }

  std::vector<StoredBlob> list() override {
    std::vector<StoredBlob> blobs;
    std::error_code ec;
    for (const auto& shard : fs::directory_iterator(root_, ec)) {
      const std::string shard_name = shard.path().filename().string();
      if (!shard.is_directory() || shard_name.size() != 2) continue;  // tmp/ and anything else
      for (const auto& entry : fs::directory_iterator(shard.path(), ec)) {
        const std::string key = entry.path().filename().string();
        if (!is_key(key) || key.compare(0, 2, shard_name) != 0) continue;
        if (const auto written = written_at(entry.path())) blobs.push_back({key, *written});
      }
    }
    return blobs;
  }

  bool remove_if_written_before(const std::string& key, int64_t cutoff) override {
    if (!is_key(key)) return false;
    const auto written = written_at(blob_path(key));
    if (!written || *written > cutoff) return false;
    std::error_code ec;
    return fs::remove(blob_path(key), ec);
  }

 private:
  fs::path blob_path(const std::string& key) const { return root_ / key.substr(0, 2) / key; }

  static std::optional<int64_t> written_at(const fs::path& path) {
    struct stat info {};
    if (::stat(path.c_str(), &info) != 0 || !S_ISREG(info.st_mode)) return std::nullopt;
    return int64_t(info.st_mtim.tv_sec);
  }

  fs::path temp_path() {
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    char name[40];
    std::snprintf(name, sizeof name, "%016llx.part", static_cast<unsigned long long>(rng()));
    return root_ / "tmp" / name;
  }

  void publish(const fs::path& temp, const std::string& key) {
    const fs::path target = blob_path(key);
    std::error_code ec;
    fs::create_directories(target.parent_path(), ec);
    fs::rename(temp, target, ec);
    if (ec) {
      fs::remove(temp);
      throw IoError("cannot store blob " + key + ": " + ec.message());
    }
  }

  fs::path root_;
};

}  // namespace

std::unique_ptr<BlobStore> open_folder_blob_store(const std::string& folder) {
  return std::make_unique<FolderBlobStore>(folder);
}

}  // namespace opsis::store
