#pragma once
// The files resource (/v1/files), as far as videos need it: images uploaded with purpose
// "vision", owned by the uploading user (another user's file is "not found"), usable as
// input_reference: {file_id}. The bytes are a blob; deleting a file deletes its blob unless a
// video's request still names it.
#include <optional>
#include <string>
#include <vector>

#include "server/videos.hpp"
#include "store/blob_store.hpp"
#include "store/metadata_store.hpp"

namespace opsis::server {

struct FileUpload {
  std::string filename;
  std::string purpose;
  std::string bytes;
};

class FileService {
 public:
  FileService(store::MetadataStore& store, store::BlobStore& blobs, Limits limits);

  store::FileRecord upload(const Caller& caller, const FileUpload& upload);
  store::FileRecord retrieve(const Caller& caller, const std::string& id);
  std::vector<store::FileRecord> list(const Caller& caller, int limit, const std::optional<std::string>& purpose);
  void remove(const Caller& caller, const std::string& id);
  std::vector<uint8_t> content(const Caller& caller, const std::string& id);
  // The bytes of the caller's vision file for input_reference: {file_id}; any failure is a
  // 400 on input_reference.
  std::vector<uint8_t> image_for_reference(const Caller& caller, const std::string& id);

 private:
  store::FileRecord owned(const Caller& caller, const std::string& id);

  store::MetadataStore& store_;
  store::BlobStore& blobs_;
  Limits limits_;
};

}  // namespace opsis::server
