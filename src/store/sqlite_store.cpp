// MetadataStore on SQLite (WAL): a writer connection owned by one group-commit thread, and a
// small pool of reader connections, one lent per read. Every write is a short statement or a
// small transaction, so callers never hold a lock across slow work.
#include <sqlite3.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "core/error.hpp"
#include "store/metadata_store.hpp"

namespace opsis::store {

const char* name(VideoStatus status) { return kVideoStatusNames[int(status)]; }

VideoStatus video_status_from_name(const std::string& text) {
  for (int i = 0; i < 4; ++i)
    if (text == kVideoStatusNames[i]) return VideoStatus(i);
  throw std::invalid_argument("unknown video status: " + text);
}

namespace {

constexpr const char* kSchema = R"SQL(
CREATE TABLE IF NOT EXISTS videos (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  user TEXT NOT NULL,
  model TEXT NOT NULL,
  status TEXT NOT NULL,
  progress INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  completed_at INTEGER NOT NULL DEFAULT 0,
  expires_at INTEGER NOT NULL DEFAULT 0,
  prompt TEXT NOT NULL,
  size TEXT NOT NULL,
  seconds TEXT NOT NULL,
  remixed_from TEXT NOT NULL DEFAULT '',
  error_code TEXT NOT NULL DEFAULT '',
  error_message TEXT NOT NULL DEFAULT '',
  request_json TEXT NOT NULL DEFAULT '{}',
  video_blob TEXT NOT NULL DEFAULT '',
  thumbnail_blob TEXT NOT NULL DEFAULT '',
  spritesheet_blob TEXT NOT NULL DEFAULT '',
  attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS videos_user_seq ON videos(user, seq);
CREATE INDEX IF NOT EXISTS videos_status_seq ON videos(status, seq);
-- The per-user active-job count on every create reads only the user's unfinished videos.
CREATE INDEX IF NOT EXISTS videos_user_status ON videos(user, status);
CREATE TABLE IF NOT EXISTS files (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  user TEXT NOT NULL,
  purpose TEXT NOT NULL,
  filename TEXT NOT NULL,
  blob TEXT NOT NULL,
  bytes INTEGER NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS files_user_seq ON files(user, seq);
CREATE TABLE IF NOT EXISTS api_keys (
  id TEXT PRIMARY KEY,
  user TEXT NOT NULL,
  hash TEXT NOT NULL UNIQUE,
  prefix TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  revoked_at INTEGER NOT NULL DEFAULT 0
);
)SQL";

constexpr const char* kVideoColumns =
    "id, user, model, status, progress, created_at, completed_at, expires_at, prompt, size, seconds, remixed_from, "
    "error_code, error_message, request_json, video_blob, thumbnail_blob, spritesheet_blob, attempts";

// A prepared statement that finalizes itself.
class Statement {
 public:
  Statement(sqlite3* db, const std::string& sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt_, nullptr) != SQLITE_OK)
      throw IoError(std::string("metadata store: ") + sqlite3_errmsg(db) + " in: " + sql);
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int index, const std::string& v) {
    check(sqlite3_bind_text(stmt_, index, v.c_str(), int(v.size()), SQLITE_TRANSIENT));
    return *this;
  }
  Statement& bind(int index, int64_t v) {
    check(sqlite3_bind_int64(stmt_, index, v));
    return *this;
  }
  // true while a row is available.
  bool step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw IoError(std::string("metadata store: ") + sqlite3_errmsg(db_));
  }
  std::string text(int column) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
    return p ? std::string(p, size_t(sqlite3_column_bytes(stmt_, column))) : std::string();
  }
  int64_t integer(int column) const { return sqlite3_column_int64(stmt_, column); }

 private:
  void check(int rc) {
    if (rc != SQLITE_OK) throw IoError(std::string("metadata store: ") + sqlite3_errmsg(db_));
  }
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

VideoRecord read_video(const Statement& s) {
  VideoRecord v;
  v.id = s.text(0);
  v.user = s.text(1);
  v.model = s.text(2);
  v.status = video_status_from_name(s.text(3));
  v.progress = int(s.integer(4));
  v.created_at = s.integer(5);
  v.completed_at = s.integer(6);
  v.expires_at = s.integer(7);
  v.prompt = s.text(8);
  v.size = s.text(9);
  v.seconds = s.text(10);
  v.remixed_from = s.text(11);
  v.error_code = s.text(12);
  v.error_message = s.text(13);
  v.request_json = s.text(14);
  v.video_blob = s.text(15);
  v.thumbnail_blob = s.text(16);
  v.spritesheet_blob = s.text(17);
  v.attempts = int(s.integer(18));
  return v;
}

// Every run of exactly 64 lowercase hex digits in `text` (a blob key, wherever a request keeps
// one): conservative, so a key in a field added later is still seen as referenced.
void add_hex_keys(const std::string& text, std::set<std::string>& keys) {
  auto is_hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); };
  size_t i = 0;
  while (i < text.size()) {
    if (!is_hex(text[i])) {
      ++i;
      continue;
    }
    size_t end = i;
    while (end < text.size() && is_hex(text[end])) ++end;
    if (end - i == 64) keys.insert(text.substr(i, 64));
    i = end;
  }
}

constexpr const char* kFileColumns = "id, user, purpose, filename, blob, bytes, created_at";

FileRecord read_file(const Statement& s) {
  return {s.text(0), s.text(1), s.text(2), s.text(3), s.text(4), s.integer(5), s.integer(6)};
}

ApiKeyRecord read_key(const Statement& s) {
  return {s.text(0), s.text(1), s.text(2), s.text(3), s.integer(4), s.integer(5)};
}

// Group commit: every write is a task handed to one writer thread, which runs all the tasks
// waiting at that moment in one transaction and commits once, so durability
// (synchronous=FULL) costs one fsync per batch instead of one per write. Each task runs in its
// own savepoint, so one that fails is rolled back alone and the rest of its batch commits. A
// caller returns only after its batch's COMMIT has returned: an acknowledged write is on disk.
// While one batch syncs, the next gathers; no timer delays a write that arrives alone.
class GroupCommitWriter {
 public:
  static constexpr size_t kMaxBatch = 512;

  explicit GroupCommitWriter(sqlite3* db) : db_(db), thread_([this] { run(); }) {}
  ~GroupCommitWriter() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    work_ready_.notify_all();
    thread_.join();
  }
  GroupCommitWriter(const GroupCommitWriter&) = delete;
  GroupCommitWriter& operator=(const GroupCommitWriter&) = delete;

  // Runs `write` on the writer connection inside a batch and waits for the batch to commit.
  // Rethrows what `write` threw (its changes then rolled back), or the commit's failure.
  void write(const std::function<void()>& write) {
    Task task(write);
    std::unique_lock lock(mutex_);
    if (stopping_) throw IoError("metadata store: closed");
    pending_.push_back(&task);
    work_ready_.notify_one();
    task.committed.wait(lock, [&] { return task.done; });
    lock.unlock();
    if (task.error) std::rethrow_exception(task.error);
  }

  // Batches committed and tasks run (for tests and metrics).
  struct Counts {
    uint64_t batches = 0;
    uint64_t writes = 0;
  };
  Counts counts() const {
    std::lock_guard lock(mutex_);
    return counts_;
  }

 private:
  struct Task {
    explicit Task(const std::function<void()>& write) : work(write) {}
    const std::function<void()>& work;
    std::exception_ptr error = nullptr;
    bool done = false;
    // Each caller waits on its own: one condition for all woke every waiting caller at every
    // commit (with 100 creates in flight, ~100 wake-ups per batch fighting the writer for
    // mutex_), where only the batch's own callers can go on.
    std::condition_variable committed;
  };

  void exec(const char* sql) {
    char* message = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &message) != SQLITE_OK) {
      const std::string text = message ? message : sqlite3_errmsg(db_);
      sqlite3_free(message);
      throw IoError("metadata store: " + text);
    }
  }

  void run() {
    std::vector<Task*> batch;
    while (true) {
      {
        std::unique_lock lock(mutex_);
        work_ready_.wait(lock, [this] { return stopping_ || !pending_.empty(); });
        if (pending_.empty()) return;  // stopping, and nothing left to write
        while (!pending_.empty() && batch.size() < kMaxBatch) {
          batch.push_back(pending_.front());
          pending_.pop_front();
        }
      }
      commit(batch);
      {
        // Notified with mutex_ held: a caller cannot see done, return and destroy its Task
        // (and condition) before its notify_one has run.
        std::lock_guard lock(mutex_);
        for (Task* task : batch) {
          task->done = true;
          task->committed.notify_one();
        }
        counts_.batches += 1;
        counts_.writes += batch.size();
      }
      batch.clear();
    }
  }

  void commit(const std::vector<Task*>& batch) {
    try {
      exec("BEGIN IMMEDIATE");
    } catch (...) {
      for (Task* task : batch) task->error = std::current_exception();
      return;
    }
    for (Task* task : batch) {
      if (sqlite3_get_autocommit(db_)) break;  // an error (disk full, I/O) rolled the whole batch back
      try {
        exec("SAVEPOINT task");
        try {
          task->work();
          exec("RELEASE task");
        } catch (...) {
          task->error = std::current_exception();
          exec("ROLLBACK TO task");
          exec("RELEASE task");
        }
      } catch (...) {
        if (!task->error) task->error = std::current_exception();
      }
    }
    if (sqlite3_get_autocommit(db_)) {
      const auto lost = std::make_exception_ptr(IoError("metadata store: the write's transaction was rolled back by an error"));
      for (Task* task : batch)
        if (!task->error) task->error = lost;
      return;
    }
    try {
      exec("COMMIT");
    } catch (...) {
      const std::exception_ptr failure = std::current_exception();
      try {
        exec("ROLLBACK");
      } catch (...) {
      }
      for (Task* task : batch)
        if (!task->error) task->error = failure;
    }
  }

  sqlite3* db_;
  mutable std::mutex mutex_;
  std::condition_variable work_ready_;
  std::deque<Task*> pending_;
  Counts counts_;
  bool stopping_ = false;
  std::thread thread_;  // last: starts once the rest is constructed
};

// Read connections, one lent per read (WAL: each sees the last commit, and readers block neither
// each other nor the writer). One shared connection behind a mutex made every request (the
// keyless check, the per-user job count, polls) queue behind whichever read held it, and on a
// loaded machine a holder preempted mid-query stalled them all (issue 14). Opened as needed, at
// most kMaxConnections; a read waits for one only when that many are busy.
class ReaderPool {
 public:
  static constexpr size_t kMaxConnections = 8;

  explicit ReaderPool(std::string path) : path_(std::move(path)) {
    idle_.push_back(open());  // fails here, not at the first read
    opened_ = 1;
  }
  ~ReaderPool() {
    for (sqlite3* db : idle_) sqlite3_close(db);
  }
  ReaderPool(const ReaderPool&) = delete;
  ReaderPool& operator=(const ReaderPool&) = delete;

  class Lease {
   public:
    Lease(ReaderPool& pool, sqlite3* db) : pool_(pool), db_(db) {}
    ~Lease() { pool_.give_back(db_); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    sqlite3* get() const { return db_; }

   private:
    ReaderPool& pool_;
    sqlite3* db_;
  };

  Lease lease() {
    std::unique_lock lock(mutex_);
    available_.wait(lock, [this] { return !idle_.empty() || opened_ < kMaxConnections; });
    if (!idle_.empty()) {
      sqlite3* db = idle_.back();
      idle_.pop_back();
      return Lease(*this, db);
    }
    ++opened_;
    lock.unlock();
    try {
      return Lease(*this, open());
    } catch (...) {
      lock.lock();
      --opened_;
      available_.notify_one();
      throw;
    }
  }

 private:
  sqlite3* open() const {
    sqlite3* db = nullptr;
    // NOMUTEX: a lease gives a connection to one thread at a time.
    if (sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
      const std::string message = db ? sqlite3_errmsg(db) : "out of memory";
      sqlite3_close(db);
      throw IoError("cannot open metadata store " + path_ + " for reading: " + message);
    }
    sqlite3_busy_timeout(db, 5000);
    return db;
  }
  void give_back(sqlite3* db) {
    {
      std::lock_guard lock(mutex_);
      idle_.push_back(db);
    }
    available_.notify_one();
  }

  const std::string path_;
  std::mutex mutex_;
  std::condition_variable available_;
  std::vector<sqlite3*> idle_;
  size_t opened_ = 0;
};

class SqliteStore final : public MetadataStore {
 public:
  explicit SqliteStore(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr) !=
        SQLITE_OK) {
      const std::string message = db_ ? sqlite3_errmsg(db_) : "out of memory";
      sqlite3_close(db_);
      throw IoError("cannot open metadata store " + path + ": " + message);
    }
    sqlite3_busy_timeout(db_, 5000);
    // WAL: readers never block the writer; synchronous=FULL: a job acknowledged to a client
    // survives a power cut, not only a killed process.
    exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;");
    exec(kSchema);
    // Reads go through other connections: in WAL mode they see the last commit without
    // queueing behind a writer's fsync (a poll must not wait for a progress update to sync).
    try {
      readers_ = std::make_unique<ReaderPool>(path);
    } catch (...) {
      sqlite3_close(db_);
      throw;
    }
    writer_ = std::make_unique<GroupCommitWriter>(db_);
  }
  ~SqliteStore() override {
    writer_.reset();  // writes still waiting are committed first
    readers_.reset();
    sqlite3_close(db_);
  }

  void insert_video(const VideoRecord& v) override {
    writer_->write([&] {
      Statement s(db_, std::string("INSERT INTO videos (") + kVideoColumns +
                           ") VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19)");
      bind_video(s, v);
      s.step();
    });
  }

  std::optional<VideoRecord> video(const std::string& id) override {
    const ReaderPool::Lease reader = readers_->lease();
    Statement s(reader.get(), std::string("SELECT ") + kVideoColumns + " FROM videos WHERE id = ?1");
    s.bind(1, id);
    if (!s.step()) return std::nullopt;
    return read_video(s);
  }

  ListPage list_videos(const ListQuery& q) override {
    const ReaderPool::Lease reader = readers_->lease();
    const char* cmp = q.ascending ? ">" : "<";
    const char* order = q.ascending ? "ASC" : "DESC";
    std::string sql = std::string("SELECT ") + kVideoColumns + " FROM videos WHERE user = ?1";
    if (!q.after.empty())
      sql += std::string(" AND seq ") + cmp + " (SELECT seq FROM videos WHERE id = ?2 AND user = ?1)";
    sql += std::string(" ORDER BY seq ") + order + " LIMIT ?3";
    Statement s(reader.get(), sql);
    s.bind(1, q.user);
    if (!q.after.empty()) s.bind(2, q.after);
    s.bind(3, int64_t(q.limit) + 1);  // one more than asked tells whether there are more
    ListPage page;
    while (s.step()) page.videos.push_back(read_video(s));
    if (int(page.videos.size()) > q.limit) {
      page.has_more = true;
      page.videos.pop_back();
    }
    return page;
  }

  bool update_video(const VideoRecord& v) override {
    bool changed = false;
    writer_->write([&] {
      Statement s(db_,
                  "UPDATE videos SET user=?2, model=?3, status=?4, progress=?5, created_at=?6, completed_at=?7, expires_at=?8, "
                  "prompt=?9, size=?10, seconds=?11, remixed_from=?12, error_code=?13, error_message=?14, request_json=?15, "
                  "video_blob=?16, thumbnail_blob=?17, spritesheet_blob=?18, attempts=?19 WHERE id=?1");
      bind_video(s, v);
      s.step();
      changed = sqlite3_changes(db_) > 0;
    });
    return changed;
  }

  bool set_progress(const std::string& id, int progress) override {
    bool changed = false;
    writer_->write([&] {
      Statement s(db_, "UPDATE videos SET progress = ?2 WHERE id = ?1 AND status = 'in_progress'");
      s.bind(1, id).bind(2, int64_t(progress));
      s.step();
      changed = sqlite3_changes(db_) > 0;
    });
    return changed;
  }

  // One task of a batch: the batch's transaction makes the pick and the claim one step.
  std::optional<VideoRecord> claim_next_queued() override {
    std::optional<VideoRecord> claimed;
    writer_->write([&] {
      claimed.reset();
      Statement pick(db_, std::string("SELECT ") + kVideoColumns + " FROM videos WHERE status = 'queued' ORDER BY seq LIMIT 1");
      if (!pick.step()) return;
      VideoRecord v = read_video(pick);
      Statement claim(db_, "UPDATE videos SET status = 'in_progress', attempts = attempts + 1 WHERE id = ?1");
      claim.bind(1, v.id);
      claim.step();
      v.status = VideoStatus::InProgress;
      v.attempts += 1;
      claimed = std::move(v);
    });
    return claimed;
  }

  std::vector<VideoRecord> videos_with_status(VideoStatus status) override {
    const ReaderPool::Lease reader = readers_->lease();
    Statement s(reader.get(), std::string("SELECT ") + kVideoColumns + " FROM videos WHERE status = ?1 ORDER BY seq");
    s.bind(1, std::string(name(status)));
    std::vector<VideoRecord> out;
    while (s.step()) out.push_back(read_video(s));
    return out;
  }

  bool delete_video(const std::string& id) override {
    bool deleted = false;
    writer_->write([&] {
      Statement s(db_, "DELETE FROM videos WHERE id = ?1");
      s.bind(1, id);
      s.step();
      deleted = sqlite3_changes(db_) > 0;
    });
    return deleted;
  }

  std::vector<VideoRecord> expired_videos(int64_t now) override {
    const ReaderPool::Lease reader = readers_->lease();
    Statement s(reader.get(), std::string("SELECT ") + kVideoColumns +
                         " FROM videos WHERE status IN ('completed','failed') AND expires_at > 0 AND expires_at <= ?1 ORDER BY seq");
    s.bind(1, now);
    std::vector<VideoRecord> out;
    while (s.step()) out.push_back(read_video(s));
    return out;
  }

  int blob_references(const std::string& key) override {
    const ReaderPool::Lease reader = readers_->lease();
    Statement s(reader.get(), "SELECT (SELECT COUNT(*) FROM videos WHERE video_blob = ?1 OR thumbnail_blob = ?1 OR spritesheet_blob = ?1 "
                         "OR instr(request_json, ?1) > 0) + (SELECT COUNT(*) FROM files WHERE blob = ?1)");
    s.bind(1, key);
    s.step();
    return int(s.integer(0));
  }

  std::set<std::string> referenced_blobs() override {
    const ReaderPool::Lease reader = readers_->lease();
    Statement s(reader.get(), "SELECT video_blob, thumbnail_blob, spritesheet_blob, request_json FROM videos");
    std::set<std::string> keys;
    while (s.step()) {
      for (int column = 0; column < 3; ++column)
        if (std::string key = s.text(column); !key.empty()) keys.insert(std::move(key));
      add_hex_keys(s.text(3), keys);
    }
    Statement uploads(reader.get(), "SELECT blob FROM files");
    while (uploads.step()) keys.insert(uploads.text(0));
    return keys;
  }

  int count_with_status(VideoStatus status) override {
    const ReaderPool::Lease reader = readers_->lease();
    Statement s(reader.get(), "SELECT COUNT(*) FROM videos WHERE status = ?1");
    s.bind(1, std::string(name(status)));
    s.step();
    return int(s.integer(0));
  }

  int count_active_for_user(const std::string& user) override {
    const ReaderPool::Lease reader = readers_->lease();
    Statement s(reader.get(), "SELECT COUNT(*) FROM videos WHERE user = ?1 AND status IN ('queued','in_progress')");
    s.bind(1, user);
    s.step();
    return int(s.integer(0));
  }

  void insert_key(const ApiKeyRecord& k) override {
    writer_->write([&] {
      Statement s(db_, "INSERT INTO api_keys (id, user, hash, prefix, created_at, revoked_at) VALUES (?1,?2,?3,?4,?5,?6)");
      s.bind(1, k.id).bind(2, k.user).bind(3, k.hash).bind(4, k.prefix).bind(5, k.created_at).bind(6, k.revoked_at);
      s.step();
    });
  }

  std::optional<ApiKeyRecord> key_by_hash(const std::string& hash) override {
    const ReaderPool::Lease reader = readers_->lease();
    Statement s(reader.get(), "SELECT id, user, hash, prefix, created_at, revoked_at FROM api_keys WHERE hash = ?1");
    s.bind(1, hash);
    if (!s.step()) return std::nullopt;
    return read_key(s);
  }

  bool revoke_key(const std::string& id_or_prefix, int64_t now) override {
    bool revoked = false;
    writer_->write([&] {
      Statement s(db_, "UPDATE api_keys SET revoked_at = ?2 WHERE (id = ?1 OR prefix = ?1) AND revoked_at = 0");
      s.bind(1, id_or_prefix).bind(2, now);
      s.step();
      revoked = sqlite3_changes(db_) > 0;
    });
    return revoked;
  }

  void insert_file(const FileRecord& f) override {
    writer_->write([&] {
      Statement s(db_, "INSERT INTO files (id, user, purpose, filename, blob, bytes, created_at) VALUES (?1,?2,?3,?4,?5,?6,?7)");
      s.bind(1, f.id).bind(2, f.user).bind(3, f.purpose).bind(4, f.filename).bind(5, f.blob).bind(6, f.bytes).bind(7, f.created_at);
      s.step();
    });
  }

  std::optional<FileRecord> file(const std::string& id) override {
    const ReaderPool::Lease reader = readers_->lease();
    Statement s(reader.get(), std::string("SELECT ") + kFileColumns + " FROM files WHERE id = ?1");
    s.bind(1, id);
    if (!s.step()) return std::nullopt;
    return read_file(s);
  }

  std::vector<FileRecord> files_of(const std::string& user, int limit) override {
    const ReaderPool::Lease reader = readers_->lease();
    Statement s(reader.get(), std::string("SELECT ") + kFileColumns + " FROM files WHERE user = ?1 ORDER BY seq DESC LIMIT ?2");
    s.bind(1, user).bind(2, int64_t(limit));
    std::vector<FileRecord> out;
    while (s.step()) out.push_back(read_file(s));
    return out;
  }

  bool delete_file(const std::string& id) override {
    bool deleted = false;
    writer_->write([&] {
      Statement s(db_, "DELETE FROM files WHERE id = ?1");
      s.bind(1, id);
      s.step();
      deleted = sqlite3_changes(db_) > 0;
    });
    return deleted;
  }

  WriteBatches write_batches() const override {
    const auto counts = writer_->counts();
    return {counts.batches, counts.writes};
  }

  std::vector<ApiKeyRecord> keys() override {
    const ReaderPool::Lease reader = readers_->lease();
    Statement s(reader.get(), "SELECT id, user, hash, prefix, created_at, revoked_at FROM api_keys ORDER BY created_at, id");
    std::vector<ApiKeyRecord> out;
    while (s.step()) out.push_back(read_key(s));
    return out;
  }

 private:
  void exec(const char* sql) {
    char* error = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &error) != SQLITE_OK) {
      const std::string message = error ? error : "unknown error";
      sqlite3_free(error);
      throw IoError("metadata store: " + message);
    }
  }

  static void bind_video(Statement& s, const VideoRecord& v) {
    s.bind(1, v.id).bind(2, v.user).bind(3, v.model).bind(4, std::string(name(v.status))).bind(5, int64_t(v.progress));
    s.bind(6, v.created_at).bind(7, v.completed_at).bind(8, v.expires_at).bind(9, v.prompt).bind(10, v.size);
    s.bind(11, v.seconds).bind(12, v.remixed_from).bind(13, v.error_code).bind(14, v.error_message);
    s.bind(15, v.request_json).bind(16, v.video_blob).bind(17, v.thumbnail_blob).bind(18, v.spritesheet_blob);
    s.bind(19, int64_t(v.attempts));
  }

  sqlite3* db_ = nullptr;  // the one writer, used only on writer_'s thread once it runs
  std::unique_ptr<ReaderPool> readers_;  // reads only
  std::unique_ptr<GroupCommitWriter> writer_;
};

}  // namespace

std::unique_ptr<MetadataStore> open_sqlite_store(const std::string& path) { return std::make_unique<SqliteStore>(path); }

}  // namespace opsis::store
