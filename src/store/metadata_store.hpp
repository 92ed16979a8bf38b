#pragma once
// Metadata: videos (jobs) and API keys. One interface, so a PostgreSQL implementation can
// stand where SQLite does; the server never sees SQL.
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace opsis::store {

enum class VideoStatus { Queued, InProgress, Completed, Failed };
inline constexpr const char* kVideoStatusNames[] = {"queued", "in_progress", "completed", "failed"};
const char* name(VideoStatus status);
VideoStatus video_status_from_name(const std::string& name);  // throws std::invalid_argument

struct VideoRecord {
  std::string id;      // "video_" + random hex
  std::string user;    // owner
  std::string model;
  VideoStatus status = VideoStatus::Queued;
  int progress = 0;            // 0..100
  int64_t created_at = 0;      // unix seconds
  int64_t completed_at = 0;    // 0 = not yet
  int64_t expires_at = 0;      // 0 = not yet
  std::string prompt;
  std::string size;            // "1280x720"
  std::string seconds;         // "4"
  std::string remixed_from;    // video id, or empty
  std::string error_code;      // empty = no error
  std::string error_message;
  std::string request_json;    // what the worker needs to (re)run the job
  std::string video_blob;      // blob keys, empty until completed
  std::string thumbnail_blob;
  std::string spritesheet_blob;
  int attempts = 0;            // times a worker started it (recovery counts here)
};

struct ListQuery {
  std::string user;
  int limit = 20;
  bool ascending = false;  // by creation order
  std::string after;       // id: list the ones after it in this order
};

struct ListPage {
  std::vector<VideoRecord> videos;
  bool has_more = false;
};

// An uploaded file (POST /v1/files), owned by one user; its bytes are a blob.
struct FileRecord {
  std::string id;        // "file-" + random hex
  std::string user;
  std::string purpose;   // "vision"
  std::string filename;
  std::string blob;
  int64_t bytes = 0;
  int64_t created_at = 0;
};

// Group commit's effect: how many writes were committed, in how many transactions (fsyncs).
struct WriteBatches {
  uint64_t batches = 0;
  uint64_t writes = 0;
};

struct ApiKeyRecord {
  std::string id;       // "key_" + random hex; how a key is named when revoked
  std::string user;
  std::string hash;     // SHA-256 of the secret, hex
  std::string prefix;   // first characters of the secret, to recognise it in listings
  int64_t created_at = 0;
  int64_t revoked_at = 0;  // 0 = active
};

class MetadataStore {
 public:
  virtual ~MetadataStore() = default;

  virtual void insert_video(const VideoRecord& video) = 0;
  virtual std::optional<VideoRecord> video(const std::string& id) = 0;
  virtual ListPage list_videos(const ListQuery& query) = 0;
  // Writes every mutable field of the record with this id; false if it no longer exists.
  virtual bool update_video(const VideoRecord& video) = 0;
  virtual bool set_progress(const std::string& id, int progress) = 0;
  // Atomically moves the oldest queued video to in_progress (attempts + 1) and returns it.
  virtual std::optional<VideoRecord> claim_next_queued() = 0;
  virtual std::vector<VideoRecord> videos_with_status(VideoStatus status) = 0;
  virtual bool delete_video(const std::string& id) = 0;
  // Completed or failed videos whose expires_at is at or before `now`.
  virtual std::vector<VideoRecord> expired_videos(int64_t now) = 0;
  // How many records still point at this blob (before deleting the blob itself): as one of
  // their files, inside their request (an input image, an upload), or as an uploaded file.
  virtual int blob_references(const std::string& blob_key) = 0;
  virtual void insert_file(const FileRecord& file) = 0;
  virtual std::optional<FileRecord> file(const std::string& id) = 0;
  virtual std::vector<FileRecord> files_of(const std::string& user, int limit) = 0;  // newest first
  virtual bool delete_file(const std::string& id) = 0;

  // Every blob key some record refers to (a video's files, a key inside its request, an
  // uploaded file): what the orphan collector must keep.
  virtual std::set<std::string> referenced_blobs() = 0;
  virtual int count_with_status(VideoStatus status) = 0;
  virtual int count_active_for_user(const std::string& user) = 0;  // queued + in_progress

  virtual void insert_key(const ApiKeyRecord& key) = 0;
  virtual std::optional<ApiKeyRecord> key_by_hash(const std::string& hash) = 0;
  virtual bool revoke_key(const std::string& id_or_prefix, int64_t now) = 0;
  virtual std::vector<ApiKeyRecord> keys() = 0;

  virtual WriteBatches write_batches() const = 0;
};

// SQLite in WAL mode, synchronous=FULL, at `path` (created with its schema if missing).
// Writes from every thread are group-committed: concurrent writes share one transaction and
// one fsync, and each call returns once its write is durable. Throws opsis::IoError.
std::unique_ptr<MetadataStore> open_sqlite_store(const std::string& path);

}  // namespace opsis::store
