// Drives the real `opsis ledger` binary: export a bundle, verify it offline against the
// server's root, and see tampering reported in words with a failing exit code.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "cameo/registry.hpp"
#include "provenance/c2pa.hpp"
#include "provenance/x509.hpp"
#include "tests/support/command.hpp"

namespace opsis::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing_support::CommandResult;
using testing_support::shell_quote;

CommandResult run_opsis(const std::string& arguments) {
  return testing_support::run_command(std::string(OPSIS_BINARY) + " " + arguments);
}

class LedgerCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    folder_ = fs::temp_directory_path() / ("opsis-ledger-cli-" + std::to_string(rd()) + std::to_string(rd()));
    data_ = folder_ / "data";
    fs::create_directories(data_);
    cameo::Database db(cameo::database_path(data_));
    cameo::ConsentLedger ledger(db);
    cameo::CameoRegistry registry(db, ledger);
    auto a = registry.create({"alice", "alice", "Alice", cameo::CameoKind::person, cameo::Permission::only_me, {}});
    alice_id_ = a.id;
    registry.activate(a.id, "alice", {"blob_a"});
    registry.set_permission(a.id, "alice", cameo::Permission::everyone);
    auto r = registry.create({"bob", "rex", "Rex", cameo::CameoKind::character, cameo::Permission::only_me, {}});
    registry.activate(r.id, "bob", {"blob_r"});
    registry.record_video_use("video_1", "carol", {a.id});
  }
  void TearDown() override { fs::remove_all(folder_); }

  std::string root() const {
    return shell_quote(provenance::SigningCredentials::own_root_path(provenance::credentials_directory(data_)).string());
  }
  json read(const fs::path& path) const {
    std::ifstream in(path);
    return json::parse(in);
  }
  void write(const fs::path& path, const json& value) const { std::ofstream(path) << value.dump(2); }

  fs::path folder_, data_;
  std::string alice_id_;
};

TEST_F(LedgerCommandTest, ExportedBundlesVerifyOffline) {
  const fs::path bundle = folder_ / "all.json";
  auto run = run_opsis("ledger export --data-dir " + shell_quote(data_.string()) + " -o " + shell_quote(bundle.string()));
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(read(bundle)["entries"].size(), 4u);

  run = run_opsis("ledger verify " + shell_quote(bundle.string()) + " --trust " + root());
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("verified: the consent ledger is intact"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("the complete log rebuilds the signed root"), std::string::npos) << run.output;

  const fs::path mine = folder_ / "alice.json";
  run = run_opsis("ledger export --data-dir " + shell_quote(data_.string()) + " --cameo " + alice_id_ + " -o " +
                  shell_quote(mine.string()));
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(read(mine)["entries"].size(), 3u);  // enrolled, permission_changed, used_in_video
  run = run_opsis("ledger verify " + shell_quote(mine.string()) + " --trust " + root() + " --previous " +
                  shell_quote(bundle.string()));
  EXPECT_EQ(run.exit_code, 0) << run.output;

  run = run_opsis("ledger verify --data-dir " + shell_quote(data_.string()));
  EXPECT_EQ(run.exit_code, 0) << run.output;
  run = run_opsis("ledger head --data-dir " + shell_quote(data_.string()));
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(json::parse(run.output)["size"], 4);
}

TEST_F(LedgerCommandTest, TamperingIsReportedInWordsWithAFailingExit) {
  const fs::path bundle = folder_ / "all.json";
  ASSERT_EQ(run_opsis("ledger export --data-dir " + shell_quote(data_.string()) + " -o " + shell_quote(bundle.string()))
                .exit_code,
            0);
  json edited = read(bundle);
  std::string record = edited["entries"][1]["record"];
  record.replace(record.find("everyone"), 8, "only_me_");
  edited["entries"][1]["record"] = record;
  write(folder_ / "edited.json", edited);
  auto run = run_opsis("ledger verify " + shell_quote((folder_ / "edited.json").string()) + " --trust " + root());
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.output.find("PROBLEM: entry 1 (permission_changed of " + alice_id_ + ") is not in the signed log"),
            std::string::npos)
      << run.output;
  EXPECT_NE(run.output.find("the consent ledger did not verify"), std::string::npos) << run.output;

  json reordered = read(bundle);
  std::swap(reordered["entries"][0], reordered["entries"][2]);
  write(folder_ / "reordered.json", reordered);
  run = run_opsis("ledger verify " + shell_quote((folder_ / "reordered.json").string()) + " --trust " + root());
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.output.find("out of order"), std::string::npos) << run.output;

  json removed = read(bundle);
  removed["entries"].erase(removed["entries"].begin() + 3);
  write(folder_ / "removed.json", removed);
  run = run_opsis("ledger verify " + shell_quote((folder_ / "removed.json").string()) + " --trust " + root());
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.output.find("entries were removed"), std::string::npos) << run.output;

  // The database itself, edited behind the server's back.
  {
    cameo::Database db(cameo::database_path(data_));
    db.exec("UPDATE ledger_entries SET record = replace(record, 'carol', 'mallo') WHERE idx = 3");
  }
  run = run_opsis("ledger verify --data-dir " + shell_quote(data_.string()));
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.output.find("entry 3 (used_in_video of " + alice_id_ + "): its record no longer matches"),
            std::string::npos)
      << run.output;

  run = run_opsis("ledger verify");
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_NE(run.output.find("give a bundle file"), std::string::npos) << run.output;
  write(folder_ / "junk.json", json{{"hello", 1}});
  run = run_opsis("ledger verify " + shell_quote((folder_ / "junk.json").string()));
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.output.find("not a consent ledger bundle"), std::string::npos) << run.output;
}

}  // namespace
}  // namespace opsis::cli
