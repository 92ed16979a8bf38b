#include "server/files.hpp"

#include <chrono>

#include "core/error.hpp"
#include "server/api_error.hpp"
#include "server/encoding.hpp"
#include "server/image_header.hpp"

namespace opsis::server {

namespace {

constexpr size_t kMaxFilenameBytes = 255;

int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

FileService::FileService(store::MetadataStore& store, store::BlobStore& blobs, Limits limits)
    : store_(store), blobs_(blobs), limits_(limits) {}

store::FileRecord FileService::upload(const Caller& caller, const FileUpload& in) {
  if (in.purpose != "vision")
    throw InvalidArgument("purpose", "purpose '" + in.purpose.substr(0, 64) +
                                         "' is not stored here; this server keeps only 'vision' files (images for input_reference)");
  if (in.filename.empty() || in.filename.size() > kMaxFilenameBytes || !valid_utf8(in.filename))
    throw InvalidArgument("file", "the file needs a name of 1 to 255 bytes of UTF-8");
  if (in.bytes.size() > limits_.max_image_bytes)
    throw ApiError(413, "invalid_request_error", "file_too_large",
                   "the file is " + std::to_string(in.bytes.size()) + " bytes; a vision file may have at most " +
                       std::to_string(limits_.max_image_bytes),
                   "file");
  const std::vector<uint8_t> bytes(in.bytes.begin(), in.bytes.end());
  const auto dimensions = image_dimensions(bytes);
  if (!dimensions) throw InvalidArgument("file", "a vision file must be a PNG, JPEG or WebP image");
  if (dimensions->first * dimensions->second > limits_.max_image_pixels)
    throw InvalidArgument("file", "the image is " + std::to_string(dimensions->first) + "x" + std::to_string(dimensions->second) +
                                      " pixels; at most " + std::to_string(limits_.max_image_pixels) + " pixels in all");
  store::FileRecord file;
  file.id = "file-" + random_hex(12);
  file.user = caller.user;
  file.purpose = in.purpose;
  file.filename = in.filename;
  file.blob = blobs_.put(bytes);  // stored before the record that names it (orphans are collected)
  file.bytes = int64_t(bytes.size());
  file.created_at = now_seconds();
  store_.insert_file(file);
  return file;
}

store::FileRecord FileService::owned(const Caller& caller, const std::string& id) {
  auto file = store_.file(id);
  if (!file || file->user != caller.user) throw not_found("no file with id '" + id + "'");
  return *file;
}

store::FileRecord FileService::retrieve(const Caller& caller, const std::string& id) { return owned(caller, id); }

std::vector<store::FileRecord> FileService::list(const Caller& caller, int limit, const std::optional<std::string>& purpose) {
  if (limit < 1 || limit > 10000) throw InvalidArgument("limit", "limit must be 1 to 10000");
  std::vector<store::FileRecord> files = store_.files_of(caller.user, limit);
  if (purpose) std::erase_if(files, [&](const store::FileRecord& f) { return f.purpose != *purpose; });
  return files;
}

void FileService::remove(const Caller& caller, const std::string& id) {
  const store::FileRecord file = owned(caller, id);
  store_.delete_file(file.id);
  if (store_.blob_references(file.blob) == 0) blobs_.remove(file.blob);
}

std::vector<uint8_t> FileService::content(const Caller& caller, const std::string& id) {
  const store::FileRecord file = owned(caller, id);
  if (!blobs_.contains(file.blob)) throw not_found("the file's bytes are gone");
  return blobs_.get(file.blob);
}

std::vector<uint8_t> FileService::image_for_reference(const Caller& caller, const std::string& id) {
  auto file = store_.file(id);
  if (!file || file->user != caller.user)
    throw InvalidArgument("input_reference", "input_reference.file_id: no file '" + id.substr(0, 80) +
                                                 "' of yours; upload the image to /v1/files with purpose 'vision' first");
  if (file->purpose != "vision")
    throw InvalidArgument("input_reference", "input_reference.file_id: file " + id + " has purpose '" + file->purpose + "', not 'vision'");
  if (!blobs_.contains(file->blob)) throw InvalidArgument("input_reference", "input_reference.file_id: the file's bytes are gone");
  return blobs_.get(file->blob);
}

}  // namespace opsis::server
