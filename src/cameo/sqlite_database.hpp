#pragma once
// A small SQLite connection for the cameo registry and the consent ledger: prepared
// statements that finalize themselves, and IMMEDIATE transactions that roll back unless
// committed, so a failed change leaves nothing half-written.
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <span>
#include <string>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace opsis::cameo {

class Database {
 public:
  // Opens (creating) the file in WAL mode with synchronous=FULL: a committed write is on disk.
  // ":memory:" gives a private in-memory database (tests). Throws opsis::IoError.
  explicit Database(const std::filesystem::path& path);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  void exec(const std::string& sql);
  int64_t changes() const;
  sqlite3* handle() const { return db_; }

  // Held by every Transaction, so threads sharing one Database never mix their changes in one
  // SQLite transaction. (A read outside a transaction can see another thread's uncommitted
  // change on the same connection; give each thread its own Database where that matters.)
  std::recursive_mutex& write_lock() { return write_lock_; }

 private:
  sqlite3* db_ = nullptr;
  std::recursive_mutex write_lock_;
};

class Statement {
 public:
  Statement(const Database& db, const std::string& sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int index, const std::string& value);
  Statement& bind(int index, int64_t value);
  Statement& bind_blob(int index, std::span<const uint8_t> value);
  // true while a row is available.
  bool step();
  // Runs a statement that returns no rows.
  void run();
  void reset();
  std::string text(int column) const;
  int64_t integer(int column) const;
  std::vector<uint8_t> blob(int column) const;
  bool is_null(int column) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

// BEGIN IMMEDIATE on construction (takes the write lock at once, so a read-then-append cannot
// race another writer); ROLLBACK on destruction unless commit() was called. Nested use of the
// same connection is allowed: an inner Transaction becomes a no-op.
class Transaction {
 public:
  explicit Transaction(Database& db);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit();

 private:
  Database& db_;
  std::unique_lock<std::recursive_mutex> lock_;
  bool owner_ = false;
  bool done_ = false;
};

}  // namespace opsis::cameo
