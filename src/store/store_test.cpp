// The metadata store on a real SQLite file and the blob store on a real folder.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <atomic>
#include <ctime>
#include <set>
#include <thread>

#include "core/error.hpp"
#include "store/blob_store.hpp"
#include "store/metadata_store.hpp"
#include "store/orphan_blobs.hpp"

using namespace opsis::store;
namespace fs = std::filesystem;

namespace {

fs::path fresh_dir(const std::string& name) {
  const fs::path dir = fs::path(OPSIS_BINARY_DIR) / "store-test" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

VideoRecord make_video(const std::string& id, const std::string& user, int64_t created) {
  VideoRecord v;
  v.id = id;
  v.user = user;
  v.model = "opsis-studio";
  v.created_at = created;
  v.prompt = "a ball";
  v.size = "1280x720";
  v.seconds = "4";
  return v;
}

}  // namespace

TEST(SqliteStore, InsertRetrieveUpdateDelete) {
  auto store = open_sqlite_store((fresh_dir("crud") / "meta.db").string());
  VideoRecord v = make_video("video_a", "ann", 100);
  store->insert_video(v);
  auto got = store->video("video_a");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->prompt, "a ball");
  EXPECT_EQ(got->status, VideoStatus::Queued);
  EXPECT_FALSE(store->video("video_b"));

  v.status = VideoStatus::Completed;
  v.progress = 100;
  v.video_blob = std::string(64, 'a');
  EXPECT_TRUE(store->update_video(v));
  EXPECT_EQ(store->video("video_a")->status, VideoStatus::Completed);
  EXPECT_EQ(store->blob_references(std::string(64, 'a')), 1);
  EXPECT_TRUE(store->delete_video("video_a"));
  EXPECT_FALSE(store->delete_video("video_a"));
  EXPECT_FALSE(store->update_video(v));
}

TEST(SqliteStore, DuplicateIdIsRefused) {
  auto store = open_sqlite_store((fresh_dir("dup") / "meta.db").string());
  store->insert_video(make_video("video_a", "ann", 1));
  EXPECT_THROW(store->insert_video(make_video("video_a", "bob", 2)), opsis::IoError);
}

TEST(SqliteStore, ListsPageByPageForOneUserOnly) {
  auto store = open_sqlite_store((fresh_dir("list") / "meta.db").string());
  for (int i = 0; i < 7; ++i) store->insert_video(make_video("video_" + std::to_string(i), "ann", 100 + i));
  store->insert_video(make_video("video_bob", "bob", 50));

  ListQuery q;
  q.user = "ann";
  q.limit = 3;
  std::vector<std::string> seen;
  for (;;) {
    ListPage page = store->list_videos(q);
    for (const auto& v : page.videos) seen.push_back(v.id);
    if (!page.has_more) break;
    q.after = page.videos.back().id;
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"video_6", "video_5", "video_4", "video_3", "video_2", "video_1", "video_0"}));

  q = ListQuery{"ann", 4, true, "video_2"};
  ListPage page = store->list_videos(q);
  ASSERT_EQ(page.videos.size(), 4u);
  EXPECT_EQ(page.videos.front().id, "video_3");
  EXPECT_FALSE(page.has_more);

  // Another user's id as the cursor reveals nothing.
  q = ListQuery{"ann", 10, true, "video_bob"};
  EXPECT_TRUE(store->list_videos(q).videos.empty());
}

TEST(SqliteStore, ClaimsInOrderOnceEach) {
  const fs::path path = fresh_dir("claim") / "meta.db";
  auto store = open_sqlite_store(path.string());
  for (int i = 0; i < 20; ++i) store->insert_video(make_video("video_" + std::to_string(i), "ann", i));
  std::vector<std::string> claimed[4];
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w)
    workers.emplace_back([&, w] {
      while (auto v = store->claim_next_queued()) claimed[w].push_back(v->id);
    });
  for (auto& t : workers) t.join();
  std::set<std::string> all;
  for (auto& c : claimed) all.insert(c.begin(), c.end());
  EXPECT_EQ(all.size(), 20u);
  EXPECT_EQ(store->count_with_status(VideoStatus::InProgress), 20);
  EXPECT_EQ(store->video("video_0")->attempts, 1);
}

TEST(SqliteStore, ConcurrentWritesShareCommitsAndAllLand) {
  const fs::path path = fresh_dir("group") / "meta.db";
  constexpr int kThreads = 32, kEach = 8;
  {
    auto store = open_sqlite_store(path.string());
    std::vector<std::thread> writers;
    for (int t = 0; t < kThreads; ++t)
      writers.emplace_back([&, t] {
        for (int i = 0; i < kEach; ++i)
          store->insert_video(make_video("video_" + std::to_string(t) + "_" + std::to_string(i), "ann", t * kEach + i));
      });
    for (auto& w : writers) w.join();
    const WriteBatches batches = store->write_batches();
    EXPECT_EQ(batches.writes, uint64_t(kThreads * kEach));
    // 32 writers waiting on each other's fsyncs: far fewer commits than writes.
    EXPECT_LT(batches.batches, batches.writes / 2) << batches.batches << " commits for " << batches.writes << " writes";
  }
  auto reopened = open_sqlite_store(path.string());
  EXPECT_EQ(reopened->count_active_for_user("ann"), kThreads * kEach);
}

// Issue 14: reads lease pooled connections (at most 8) instead of queueing on one. With more
// threads than connections, each reads its own write back as soon as the write returns (a
// commit is visible to every reader connection) and counts never go backwards.
TEST(SqliteStore, PooledReadersSeeEveryAcknowledgedWrite) {
  const fs::path path = fresh_dir("readers") / "meta.db";
  auto store = open_sqlite_store(path.string());
  constexpr int kThreads = 24, kEach = 10;
  std::atomic<int> missing{0}, went_backwards{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      int last_count = 0;
      for (int i = 0; i < kEach; ++i) {
        const std::string id = "video_" + std::to_string(t) + "_" + std::to_string(i);
        store->insert_video(make_video(id, "user" + std::to_string(t), t * kEach + i));
        if (!store->video(id)) ++missing;
        const int count = store->count_active_for_user("user" + std::to_string(t));
        if (count < last_count || count != i + 1) ++went_backwards;
        last_count = count;
      }
    });
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(missing.load(), 0);
  EXPECT_EQ(went_backwards.load(), 0);
  EXPECT_EQ(store->count_with_status(VideoStatus::Queued), kThreads * kEach);
}

TEST(SqliteStore, AFailedWriteFailsAloneInItsBatch) {
  auto store = open_sqlite_store((fresh_dir("group-fail") / "meta.db").string());
  store->insert_video(make_video("video_taken", "ann", 1));
  std::vector<std::thread> writers;
  std::atomic<int> refused = 0;
  for (int t = 0; t < 16; ++t)
    writers.emplace_back([&, t] {
      try {
        store->insert_video(make_video(t % 2 ? "video_taken" : "video_new_" + std::to_string(t), "ann", 10 + t));
      } catch (const opsis::IoError&) {
        ++refused;
      }
    });
  for (auto& w : writers) w.join();
  EXPECT_EQ(refused.load(), 8);
  EXPECT_EQ(store->count_active_for_user("ann"), 1 + 8);
}

TEST(SqliteStore, SurvivesReopenAndFindsUnfinishedWork) {
  const fs::path path = fresh_dir("reopen") / "meta.db";
  {
    auto store = open_sqlite_store(path.string());
    store->insert_video(make_video("video_a", "ann", 1));
    store->insert_video(make_video("video_b", "ann", 2));
    ASSERT_TRUE(store->claim_next_queued());
    EXPECT_TRUE(store->set_progress("video_a", 40));
  }
  auto store = open_sqlite_store(path.string());
  auto running = store->videos_with_status(VideoStatus::InProgress);
  ASSERT_EQ(running.size(), 1u);
  EXPECT_EQ(running[0].id, "video_a");
  EXPECT_EQ(running[0].progress, 40);
  EXPECT_EQ(store->count_active_for_user("ann"), 2);
}

TEST(SqliteStore, ExpiryAndKeys) {
  auto store = open_sqlite_store((fresh_dir("keys") / "meta.db").string());
  VideoRecord done = make_video("video_done", "ann", 1);
  done.status = VideoStatus::Completed;
  done.expires_at = 500;
  store->insert_video(done);
  store->insert_video(make_video("video_queued", "ann", 2));
  EXPECT_TRUE(store->expired_videos(499).empty());
  ASSERT_EQ(store->expired_videos(500).size(), 1u);

  store->insert_key({"key_1", "ann", std::string(64, 'f'), "sk-opsis-abcd", 10, 0});
  auto key = store->key_by_hash(std::string(64, 'f'));
  ASSERT_TRUE(key);
  EXPECT_EQ(key->user, "ann");
  EXPECT_TRUE(store->revoke_key("key_1", 20));
  EXPECT_FALSE(store->revoke_key("key_1", 30));
  EXPECT_EQ(store->key_by_hash(std::string(64, 'f'))->revoked_at, 20);
}

TEST(FolderBlobStore, ContentAddressedAndWhole) {
  const fs::path dir = fresh_dir("blobs");
  auto blobs = open_folder_blob_store(dir.string());
  const std::vector<uint8_t> bytes = {'a', 'b', 'c'};
  const std::string key = blobs->put(bytes);
  EXPECT_EQ(key, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");  // SHA-256("abc")
  EXPECT_EQ(blobs->put(bytes), key);
  EXPECT_TRUE(blobs->contains(key));
  EXPECT_EQ(blobs->get(key), bytes);
  EXPECT_EQ(blobs->size(key), 3u);
  ASSERT_TRUE(blobs->local_path(key));
  EXPECT_TRUE(fs::exists(*blobs->local_path(key)));
  EXPECT_TRUE(fs::is_empty(dir / "tmp"));
  blobs->remove(key);
  EXPECT_FALSE(blobs->contains(key));
  EXPECT_THROW(blobs->get(key), opsis::IoError);
  EXPECT_FALSE(blobs->contains("../../etc/passwd"));
}

TEST(OrphanBlobs, CollectsOnlyOldUnreferencedBlobs) {
  const fs::path dir = fresh_dir("orphans");
  auto store = open_sqlite_store((dir / "meta.db").string());
  auto blobs = open_folder_blob_store((dir / "blobs").string());
  const std::string video = blobs->put({'v'});
  const std::string input = blobs->put({'i'});
  const std::string orphan = blobs->put({'o'});
  VideoRecord v = make_video("video_a", "ann", 1);
  v.video_blob = video;
  v.request_json = R"({"input_reference_blob":")" + input + R"("})";
  store->insert_video(v);
  const int64_t now = ::time(nullptr);

  // Within the grace period nothing is touched, referenced or not.
  EXPECT_EQ(collect_orphan_blobs(*store, *blobs, 3600, now).removed, 0);
  EXPECT_TRUE(blobs->contains(orphan));
  // Past it, only the blob nothing names goes.
  const OrphanCollection swept = collect_orphan_blobs(*store, *blobs, 0, now + 10);
  EXPECT_EQ(swept.blobs_seen, 3);
  EXPECT_EQ(swept.removed, 1);
  EXPECT_FALSE(blobs->contains(orphan));
  EXPECT_TRUE(blobs->contains(video));
  EXPECT_TRUE(blobs->contains(input));
  // Stored again after it was listed: kept.
  const std::string again = blobs->put({'o'});
  EXPECT_FALSE(blobs->remove_if_written_before(again, now - 10));
  EXPECT_TRUE(blobs->contains(again));
}

TEST(SqliteStore, FilesAreOwnedAndTheirBlobsReferenced) {
  const fs::path dir = fresh_dir("files");
  auto store = open_sqlite_store((dir / "meta.db").string());
  auto blobs = open_folder_blob_store((dir / "blobs").string());
  const std::string blob = blobs->put({'p', 'n', 'g'});
  store->insert_file({"file-1", "ann", "vision", "a.png", blob, 3, 10});
  store->insert_file({"file-2", "bob", "vision", "b.png", blob, 3, 11});
  ASSERT_TRUE(store->file("file-1"));
  EXPECT_EQ(store->file("file-1")->user, "ann");
  EXPECT_EQ(store->files_of("ann", 10).size(), 1u);
  EXPECT_EQ(store->blob_references(blob), 2);
  EXPECT_TRUE(store->referenced_blobs().count(blob));
  EXPECT_EQ(collect_orphan_blobs(*store, *blobs, 0, ::time(nullptr) + 10).removed, 0);
  EXPECT_TRUE(store->delete_file("file-1"));
  EXPECT_TRUE(store->delete_file("file-2"));
  EXPECT_EQ(store->blob_references(blob), 0);
  EXPECT_EQ(collect_orphan_blobs(*store, *blobs, 0, ::time(nullptr) + 10).removed, 1);
}

TEST(FolderBlobStore, ClearsStrayTemporariesOnOpen) {
  const fs::path dir = fresh_dir("stray");
  { auto blobs = open_folder_blob_store(dir.string()); }
  std::ofstream(dir / "tmp" / "dead.part") << "half";
  auto blobs = open_folder_blob_store(dir.string());
  EXPECT_TRUE(fs::is_empty(dir / "tmp"));
}
