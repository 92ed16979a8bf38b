// Drives the real `opsis cameo` and `opsis policy check` binaries on a data directory.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>

#include "cameo/registry.hpp"
#include "tests/support/command.hpp"

namespace opsis::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing_support::CommandResult;
using testing_support::shell_quote;

class CameoCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    folder_ = fs::temp_directory_path() / ("opsis-cameo-cli-" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(folder_);
    cameo::Database db(cameo::database_path(folder_));
    cameo::ConsentLedger ledger(db);
    cameo::CameoRegistry registry(db, ledger);
    auto c = registry.create({"alice", "alice", "Alice", cameo::CameoKind::person, cameo::Permission::only_me, {}});
    alice_id_ = registry.activate(c.id, "alice", {"blob_alice"}).id;
    registry.record_video_use("video_9", "alice", {alice_id_});
  }
  void TearDown() override { fs::remove_all(folder_); }

  CommandResult opsis(const std::string& arguments) const {
    return testing_support::run_command(std::string(OPSIS_BINARY) + " " + arguments + " --data-dir " +
                                        shell_quote(folder_.string()));
  }

  fs::path folder_;
  std::string alice_id_;
};

TEST_F(CameoCommandTest, TheOwnerManagesACameoAndEveryChangeIsLedgered) {
  auto run = opsis("cameo list --user alice");
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("@alice"), std::string::npos) << run.output;

  run = opsis("policy check '@alice waves' --user bob");
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.output.find("\"code\": \"cameo_permission_denied\""), std::string::npos) << run.output;

  run = opsis("cameo permit @alice mutuals --user alice");
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(json::parse(run.output)["permission"], "mutuals");
  ASSERT_EQ(opsis("cameo follow --user bob --who alice").exit_code, 0);
  ASSERT_EQ(opsis("cameo follow --user alice --who bob").exit_code, 0);
  run = opsis("policy check '@alice waves' --user bob");
  EXPECT_EQ(run.exit_code, 0) << run.output;

  run = opsis("cameo restrict " + alice_id_ + " --user alice --restriction 'no political videos'");
  EXPECT_EQ(run.exit_code, 0) << run.output;
  run = opsis("policy check '@alice at an election rally' --user bob");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.output.find("cameo_restriction"), std::string::npos) << run.output;

  run = opsis("cameo show @alice --user bob");
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(json::parse(run.output)["restrictions"].size(), 0u) << "only the owner sees the restrictions";

  run = opsis("cameo videos @alice --user alice");
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(run.output, "video_9\n");
  EXPECT_EQ(opsis("cameo videos @alice --user bob").exit_code, 2);

  run = opsis("cameo revoke @alice --user bob");
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_NE(run.output.find("only the owner of @alice may change it"), std::string::npos) << run.output;
  run = opsis("cameo revoke @alice --user alice");
  EXPECT_EQ(run.exit_code, 0) << run.output;
  run = opsis("policy check '@alice waves' --user bob");
  EXPECT_NE(run.output.find("cameo_revoked"), std::string::npos) << run.output;

  run = opsis("cameo permit @alice everyone --user alice");
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.output.find("revoked"), std::string::npos) << run.output;
  run = opsis("cameo permit @alice friends --user alice");
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.output.find("only_me, approved, mutuals, everyone"), std::string::npos) << run.output;
  EXPECT_EQ(opsis("cameo show @nobody --user alice").exit_code, 2);

  run = opsis("ledger verify");  // no bundle, but --data-dir appended: audits the log
  EXPECT_EQ(run.exit_code, 0) << run.output;
  cameo::Database db(cameo::database_path(folder_));
  cameo::ConsentLedger ledger(db);
  std::vector<std::string> events;
  for (const auto& e : ledger.entries(alice_id_)) events.push_back(json::parse(e.record)["event"]);
  EXPECT_EQ(events, (std::vector<std::string>{"enrolled", "used_in_video", "permission_changed", "restrictions_edited",
                                              "revoked"}));

  ASSERT_EQ(opsis("cameo delete @alice --user alice").exit_code, 0);
  EXPECT_EQ(opsis("cameo show @alice --user alice").exit_code, 2);
}

TEST_F(CameoCommandTest, ChallengesAndPolicyChecksFromTheCommandLine) {
  auto run = opsis("cameo challenge --user alice");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const auto challenge = json::parse(run.output);
  EXPECT_EQ(challenge["id"].get<std::string>().rfind("chal_", 0), 0u);
  EXPECT_NE(challenge["instructions"].get<std::string>().find(challenge["phrase"].get<std::string>()), std::string::npos);

  run = opsis("policy check 'A cat naps in the sun'");
  EXPECT_EQ(run.exit_code, 0) << run.output;
  run = opsis("policy check 'Taylor Swift on a stage'");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.output.find("opsis: error: refused by rule public_figure"), std::string::npos) << run.output;
  run = opsis("policy check 'x' --rules /nonexistent.json");
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.output.find("policy_rules"), std::string::npos) << run.output;
}

}  // namespace
}  // namespace opsis::cli
