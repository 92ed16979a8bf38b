// The consent ledger: durable appends, proofs that verify, signed heads, offline bundles, and
// tampering — in a bundle and in the database itself — that must be caught.
#include "cameo/ledger.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "core/error.hpp"
#include "provenance/x509.hpp"

namespace opsis::cameo {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = fs::temp_directory_path() / ("opsis-ledger-test-" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string record(int i, const std::string& cameo) {
  return json{{"event", i == 0 ? "enrolled" : "permission_changed"}, {"cameo_id", cameo}, {"sequence", i}}.dump();
}

bool mentions(const LedgerReport& report, const std::string& text) {
  for (const auto& p : report.problems)
    if (p.find(text) != std::string::npos) return true;
  return false;
}

std::string all_problems(const LedgerReport& report) {
  std::string out;
  for (const auto& p : report.problems) out += "  - " + p + "\n";
  return out;
}

class LedgerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db = std::make_unique<Database>(dir.path() / "opsis.db");
    ledger = std::make_unique<ConsentLedger>(*db);
    credentials = std::make_unique<provenance::SigningCredentials>(
        provenance::SigningCredentials::load_or_create(dir.path() / "keys"));
    anchors = provenance::read_pem_certificates(provenance::SigningCredentials::own_root_path(dir.path() / "keys"));
  }

  void fill(int count, int64_t time = 1000) {
    for (int i = 0; i < count; ++i) ledger->append(record(i, i % 3 == 0 ? "cameo_a" : "cameo_b"), i % 3 == 0 ? "cameo_a" : "cameo_b", time + i);
  }

  // Rebuilds ledger_nodes from the records as they now are (what a careful forger does).
  void rebuild_nodes() {
    db->exec("DELETE FROM ledger_nodes");
    std::vector<LedgerEntry> all = ledger->entries();
    db->exec("DELETE FROM ledger_entries");
    // Re-append through the ledger so the nodes agree with the edited records.
    for (const auto& entry : all) ledger->append(entry.record, entry.subject, entry.appended_at);
  }

  TempDir dir;
  std::unique_ptr<Database> db;
  std::unique_ptr<ConsentLedger> ledger;
  std::unique_ptr<provenance::SigningCredentials> credentials;
  std::vector<merkle::Bytes> anchors;
};

TEST_F(LedgerTest, EveryEntryAndEveryGrowthIsProvable) {
  merkle::MemoryTree reference;
  std::vector<merkle::Hash> roots;
  for (int i = 0; i < 21; ++i) {
    const std::string r = record(i, "cameo_a");
    EXPECT_EQ(ledger->append(r, "cameo_a", i), uint64_t(i));
    reference.append_leaf_hash(record_leaf_hash(r));
    roots.push_back(reference.root());
    EXPECT_EQ(ledger->head_at(uint64_t(i + 1), 0).root, reference.root());
  }
  EXPECT_EQ(ledger->size(), 21u);
  for (uint64_t size = 1; size <= 21; ++size) {
    for (uint64_t index = 0; index < size; ++index) {
      std::vector<merkle::Bytes> proof;
      for (const auto& h : ledger->inclusion_proof(index, size)) proof.push_back(merkle::to_bytes(h));
      EXPECT_NO_THROW(merkle::verify_inclusion(index, size, record_leaf_hash(ledger->entry(index).record), proof,
                                               roots[size - 1]));
    }
    for (uint64_t size1 = 1; size1 <= size; ++size1) {
      std::vector<merkle::Bytes> proof;
      for (const auto& h : ledger->consistency_proof(size1, size)) proof.push_back(merkle::to_bytes(h));
      EXPECT_NO_THROW(merkle::verify_consistency(size1, size, proof, roots[size1 - 1], roots[size - 1]));
    }
  }
  EXPECT_THROW(ledger->inclusion_proof(21, 21), InvalidArgument);
  EXPECT_THROW(ledger->consistency_proof(3, 22), InvalidArgument);
}

TEST_F(LedgerTest, SurvivesReopeningTheDatabase) {
  fill(9);
  const auto head = ledger->sign_head(*credentials, 5000);
  ledger.reset();
  db.reset();
  Database reopened(dir.path() / "opsis.db");
  ConsentLedger again(reopened);
  EXPECT_EQ(again.size(), 9u);
  EXPECT_EQ(again.head_at(9, 0).root, head.head.root);
  ASSERT_TRUE(again.latest_signed_head());
  EXPECT_EQ(again.latest_signed_head()->head.root, head.head.root);
  EXPECT_TRUE(again.audit(anchors).ok());
}

TEST_F(LedgerTest, AnAppendInAFailedTransactionLeavesNothing) {
  fill(3);
  {
    Transaction transaction(*db);
    ledger->append(record(9, "cameo_x"), "cameo_x", 1);
    // no commit: rolled back
  }
  EXPECT_EQ(ledger->size(), 3u);
  ledger->append(record(3, "cameo_x"), "cameo_x", 1);
  EXPECT_EQ(ledger->size(), 4u);
  ledger->sign_head(*credentials, 10);
  EXPECT_TRUE(ledger->audit(anchors).ok()) << all_problems(ledger->audit(anchors));
}

TEST_F(LedgerTest, ThreadsSharingTheDatabaseAppendWithoutLosingEntries) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([this, t] {
      for (int i = 0; i < 40; ++i) ledger->append(record(i, "cameo_t" + std::to_string(t)), "cameo_t" + std::to_string(t), i);
    });
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(ledger->size(), 160u);
  ledger->sign_head(*credentials, 1);
  EXPECT_TRUE(ledger->audit(anchors).ok()) << all_problems(ledger->audit(anchors));
}

TEST_F(LedgerTest, SignedHeadsVerifyAndRoundTripThroughJson) {
  fill(5);
  const auto head = ledger->sign_head(*credentials, 123456);
  EXPECT_TRUE(check_tree_head_signature(head, anchors).empty());
  const auto parsed = signed_tree_head_from_json(json::parse(to_json(head).dump()));
  EXPECT_EQ(checkpoint_text(parsed.head), checkpoint_text(head.head));
  EXPECT_TRUE(check_tree_head_signature(parsed, anchors).empty());
  EXPECT_EQ(checkpoint_text(head.head).substr(0, 23), "opsis/consent-ledger\n5\n");

  auto altered = head;
  altered.head.size = 4;
  EXPECT_FALSE(check_tree_head_signature(altered, anchors).empty());
  altered = head;
  altered.head.timestamp_ms += 1;
  EXPECT_FALSE(check_tree_head_signature(altered, anchors).empty());
  // Signed by another server's key: fine alone, refused against this server's root.
  TempDir other;
  const auto stranger = provenance::SigningCredentials::load_or_create(other.path());
  const auto foreign = sign_tree_head(head.head, stranger);
  EXPECT_TRUE(check_tree_head_signature(foreign, {}).empty());
  EXPECT_FALSE(check_tree_head_signature(foreign, anchors).empty());

  for (const char* bad : {R"({"origin":"x","size":-1})", R"({"origin":"a\nb","size":1,"timestamp_ms":1})", R"([])",
                          R"({"origin":"x","size":1,"timestamp_ms":1,"root_hash":"AAAA","signature":"","certificate_chain":["AA=="]})"})
    EXPECT_THROW(signed_tree_head_from_json(json::parse(bad)), InvalidArgument) << bad;
}

TEST_F(LedgerTest, BundlesVerifyOffline) {
  fill(4);
  ledger->sign_head(*credentials, 2000);
  fill(7, 3000);
  ledger->sign_head(*credentials, 4000);
  const auto head = ledger->sign_head(*credentials, 5000);  // same size again: no new proof needed
  const json complete = ledger->export_bundle(head);
  EXPECT_EQ(complete["entries"].size(), 11u);
  const auto report = verify_bundle(json::parse(complete.dump()), {anchors, {}});
  EXPECT_TRUE(report.ok()) << all_problems(report);
  EXPECT_FALSE(report.passed.empty());

  const json owner_view = ledger->export_bundle(head, "cameo_a");
  EXPECT_EQ(owner_view["complete"], false);
  EXPECT_EQ(owner_view["entries"].size(), 5u);  // 0, 3 of the first fill; 0, 3, 6 of the second
  EXPECT_TRUE(verify_bundle(owner_view, {anchors, {}}).ok());

  // A client that saved the head of size 4 sees that the log only grew.
  const auto saved = ledger->signed_heads().front();
  EXPECT_EQ(saved.head.size, 4u);
  EXPECT_TRUE(verify_bundle(owner_view, {anchors, {saved}}).ok());
  // Not tied to this server's root: refused with a reason.
  TempDir other;
  provenance::SigningCredentials::load_or_create(other.path());
  const auto other_root = provenance::read_pem_certificates(provenance::SigningCredentials::own_root_path(other.path()));
  const auto foreign = verify_bundle(complete, {other_root, {}});
  EXPECT_TRUE(mentions(foreign, "not issued by the trusted root")) << all_problems(foreign);
}

TEST_F(LedgerTest, BundlesCarryRecentOrRequestedConsistencyProofsOnly) {
  std::vector<SignedTreeHead> heads;
  for (int round = 1; round <= 12; ++round) {
    ledger->append(record(round, "cameo_a"), "cameo_a", round);
    heads.push_back(ledger->sign_head(*credentials, 1000 * round));
  }
  const auto head = heads.back();
  const json recent = ledger->export_bundle(head);
  ASSERT_EQ(recent["consistency"].size(), ConsentLedger::kRecentHeadsInBundle);
  EXPECT_EQ(recent["consistency"][0]["tree_head"]["size"], 12 - ConsentLedger::kRecentHeadsInBundle);
  // A client that saved the head of size 2 asks for a proof from it.
  const json asked = ledger->export_bundle(head, "", {2});
  ASSERT_EQ(asked["consistency"].size(), 1u);
  EXPECT_TRUE(verify_bundle(asked, {anchors, {heads[1]}}).ok());
  const auto without = verify_bundle(recent, {anchors, {heads[1]}});
  EXPECT_TRUE(mentions(without, "has no consistency proof in the bundle")) << all_problems(without);
  EXPECT_EQ(ledger->signed_heads(3).size(), 3u);
  EXPECT_EQ(ledger->signed_heads(3).back().head.size, 12u);
  EXPECT_EQ(ledger->latest_signed_head()->head.size, 12u);
}

// Tampering with an exported bundle, the way someone handing it on might.
TEST_F(LedgerTest, TamperedBundlesAreCaught) {
  fill(4);
  const auto first = ledger->sign_head(*credentials, 2000);
  fill(6, 3000);
  const auto head = ledger->sign_head(*credentials, 4000);
  const json good = ledger->export_bundle(head);
  ASSERT_TRUE(verify_bundle(good, {anchors, {}}).ok());

  auto expect_caught = [&](const json& bundle, const std::string& what, const std::string& says,
                           std::vector<SignedTreeHead> previous = {}) {
    const auto report = verify_bundle(bundle, {anchors, previous});
    EXPECT_FALSE(report.ok()) << what;
    EXPECT_TRUE(mentions(report, says)) << what << " should say '" << says << "'; it said:\n" << all_problems(report);
  };

  json edited = good;
  edited["entries"][2]["record"] = R"({"cameo_id":"cameo_b","event":"permission_changed","sequence":99})";
  expect_caught(edited, "edited record", "entry 2 (permission_changed of cameo_b) is not in the signed log");

  json removed = good;
  removed["entries"].erase(removed["entries"].begin() + 5);
  expect_caught(removed, "removed entry", "entries were removed");

  json reordered = good;
  std::swap(reordered["entries"][3], reordered["entries"][4]);
  expect_caught(reordered, "reordered entries", "out of order");

  json swapped_records = good;
  std::swap(swapped_records["entries"][3]["record"], swapped_records["entries"][4]["record"]);
  expect_caught(swapped_records, "records swapped, indexes kept", "is not in the signed log");

  json added = good;
  added["entries"].push_back({{"index", 10}, {"record", "{}"}, {"inclusion_proof", json::array()}});
  expect_caught(added, "added entry", "not below the tree size");

  json new_root = good;
  new_root["tree_head"]["root_hash"] = merkle::to_base64(merkle::sha256({}));
  expect_caught(new_root, "root replaced", "the signature does not match");

  json shrunk = good;
  shrunk["tree_head"]["size"] = 9;
  expect_caught(shrunk, "size changed", "the signature does not match");

  json bad_signature = good;
  auto sig = merkle::from_base64(bad_signature["tree_head"]["signature"]);
  sig[5] ^= 1;
  bad_signature["tree_head"]["signature"] = merkle::to_base64(sig);
  expect_caught(bad_signature, "signature flipped", "the signature does not match");

  json bad_proof = good;
  auto element = merkle::from_base64(bad_proof["entries"][7]["inclusion_proof"][1]);
  element[0] ^= 0x80;
  bad_proof["entries"][7]["inclusion_proof"][1] = merkle::to_base64(element);
  expect_caught(bad_proof, "inclusion proof altered", "entry 7");

  json bad_consistency = good;
  ASSERT_EQ(bad_consistency["consistency"].size(), 1u);
  bad_consistency["consistency"][0]["proof"].erase(0);
  expect_caught(bad_consistency, "consistency proof truncated", "history was rewritten");

  json garbage = good;
  garbage["entries"][1]["inclusion_proof"] = "nope";
  expect_caught(garbage, "proof not an array", "must be an array");
  expect_caught(json{{"format", "something-else"}}, "wrong format", "not a consent ledger bundle");

  // The client's own saved head of size 4, but from a different history.
  auto forged_first = first;
  forged_first.head.root = merkle::sha256({});
  expect_caught(good, "saved head from another history", "history was rewritten", {forged_first});
  auto future = head;
  future.head.size = 20;
  expect_caught(good, "saved head larger than the bundle", "the log shrank", {future});
}

// Hostile bundles: any field replaced by any JSON type gives a report, never a crash.
TEST_F(LedgerTest, RandomlyMangledBundlesAreReportedNotThrown) {
  fill(6);
  ledger->sign_head(*credentials, 100);
  fill(3, 200);
  const json good = ledger->export_bundle(ledger->sign_head(*credentials, 300));
  const std::vector<json> values = {json(), json(-1), json(1.5), json("x"), json::array(), json::object(), json(true),
                                    json(uint64_t(1) << 63), json::array({json::object()}), json("AAAA")};
  std::mt19937 random(7);
  int caught = 0;
  for (int round = 0; round < 400; ++round) {
    json bundle = good;
    // Pick a random place: the top, the head, an entry or a consistency item.
    json* target = &bundle;
    switch (random() % 4) {
      case 0: target = &bundle; break;
      case 1: target = &bundle["tree_head"]; break;
      case 2: target = &bundle["entries"][random() % bundle["entries"].size()]; break;
      case 3: target = &bundle["consistency"][0]; break;
    }
    std::vector<std::string> keys;
    for (auto it = target->begin(); it != target->end(); ++it) keys.push_back(it.key());
    (*target)[keys[random() % keys.size()]] = values[random() % values.size()];
    LedgerReport report;
    ASSERT_NO_THROW(report = verify_bundle(bundle, {anchors, {}})) << bundle.dump();
    if (!report.ok()) ++caught;
  }
  EXPECT_GT(caught, 350);
  EXPECT_FALSE(verify_bundle(json("just text"), {}).ok());
  EXPECT_FALSE(verify_bundle(json::array(), {}).ok());
}

// Tampering with the database behind the server's back: `opsis ledger verify --data-dir`.
TEST_F(LedgerTest, EditedEntryInTheDatabaseIsCaught) {
  fill(8);
  ledger->sign_head(*credentials, 9000);
  ASSERT_TRUE(ledger->audit(anchors).ok());
  db->exec(R"(UPDATE ledger_entries SET record = '{"cameo_id":"cameo_b","event":"permission_changed","sequence":77}' WHERE idx = 5)");
  const auto report = ledger->audit(anchors);
  EXPECT_TRUE(mentions(report, "entry 5 (permission_changed of cameo_b): its record no longer matches")) << all_problems(report);
  EXPECT_TRUE(mentions(report, "entries before 8 were edited")) << all_problems(report);
}

TEST_F(LedgerTest, RemovedEntryInTheDatabaseIsCaught) {
  fill(8);
  ledger->sign_head(*credentials, 9000);
  db->exec("DELETE FROM ledger_entries WHERE idx = 3");
  auto report = ledger->audit(anchors);
  EXPECT_TRUE(mentions(report, "entries 3 to 3 are missing")) << all_problems(report);
  // The last entry removed too: the signed head still counts it.
  db->exec("DELETE FROM ledger_entries WHERE idx = 7");
  report = ledger->audit(anchors);
  EXPECT_TRUE(mentions(report, "covers 8 entries but the log now holds")) << all_problems(report);
}

TEST_F(LedgerTest, ReorderedEntriesInTheDatabaseAreCaught) {
  fill(8);
  ledger->sign_head(*credentials, 9000);
  db->exec("UPDATE ledger_entries SET idx = -1 WHERE idx = 2; UPDATE ledger_entries SET idx = 2 WHERE idx = 6; "
           "UPDATE ledger_entries SET idx = 6 WHERE idx = -1;");
  const auto report = ledger->audit(anchors);
  EXPECT_TRUE(mentions(report, "entry 2")) << all_problems(report);
  EXPECT_TRUE(mentions(report, "entry 6")) << all_problems(report);
}

TEST_F(LedgerTest, AForgerWhoRebuildsTheTreeIsCaughtByTheSignedHead) {
  fill(8);
  ledger->sign_head(*credentials, 9000);
  db->exec(R"(UPDATE ledger_entries SET record = '{"event":"enrolled","cameo_id":"cameo_z"}' WHERE idx = 1)");
  rebuild_nodes();
  const auto report = ledger->audit(anchors);
  EXPECT_FALSE(mentions(report, "no longer matches the leaf hash"));  // the forger made the leaves agree
  EXPECT_TRUE(mentions(report, "signed root")) << all_problems(report);
}

TEST_F(LedgerTest, AForgerWithTheServerKeyIsCaughtByAClientsSavedHead) {
  fill(8);
  const auto saved = ledger->sign_head(*credentials, 9000);  // a client kept this one
  db->exec(R"(UPDATE ledger_entries SET record = '{"event":"enrolled","cameo_id":"cameo_z"}' WHERE idx = 1)");
  rebuild_nodes();
  db->exec("DELETE FROM ledger_tree_heads");
  ledger->sign_head(*credentials, 9500);  // re-signs the rewritten history at size 8
  fill(2, 10000);
  const auto head = ledger->sign_head(*credentials, 11000);
  const json bundle = ledger->export_bundle(head);
  const auto alone = verify_bundle(bundle, {anchors, {}});
  EXPECT_TRUE(alone.ok()) << "a rewritten log is self-consistent; only history can tell";
  const auto report = verify_bundle(bundle, {anchors, {saved}});
  EXPECT_TRUE(mentions(report, "history was rewritten")) << all_problems(report);
}

}  // namespace
}  // namespace opsis::cameo
