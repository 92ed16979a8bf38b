// Drives the real `opsis verify` binary on MP4s written by write_mp4 and signed by opsis.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "tests/support/command.hpp"
#include "provenance/c2pa.hpp"
#include "provenance/c2pa_test_support.hpp"

namespace opsis::cli {
namespace {

namespace fs = std::filesystem;
using provenance::testing::ScratchFolderTest;

using testing_support::CommandResult;

CommandResult run_opsis(const std::string& arguments) {
  return testing_support::run_command(std::string(OPSIS_BINARY) + " " + arguments);
}

class VerifyCommandTest : public ScratchFolderTest {
 protected:
  void SetUp() override {
    ScratchFolderTest::SetUp();
    credentials_ = provenance::SigningCredentials::load_or_create(provenance::credentials_directory(folder_ / "data"));
    video_ = file("clip.mp4");
    provenance::testing::write_test_mp4(video_);
    provenance::ManifestInfo info;
    info.title = "video_42";
    info.model_name = "opsis-mini";
    info.model_version = "1";
    info.creator = "@ada";
    info.when = "2026-11-22T05:00:00Z";
    info.cameo_handles = {"@bob"};
    provenance::sign_mp4_in_place(video_, info, credentials_);
  }
  std::string quoted(const fs::path& p) const { return "'" + p.string() + "'"; }
  provenance::SigningCredentials credentials_;
  fs::path video_;
};

TEST_F(VerifyCommandTest, PrintsWhoWhenModelAndTrust) {
  const CommandResult run = run_opsis("verify " + quoted(video_) + " --data " + quoted(folder_ / "data"));
  EXPECT_EQ(run.exit_code, 0) << run.output;
  for (const char* expected :
       {"state:       Trusted", "title:       video_42", "signed by:   O=opsis,CN=opsis C2PA signer",
        "requested by: @ada", "model:       opsis-mini 1", "when:        2026-11-22T05:00:00Z",
        "c2pa.created at 2026-11-22T05:00:00Z by opsis 0.1.0 (model opsis-mini 1) [trainedAlgorithmicMedia]", "@bob",
        "AI training and data mining: notAllowed", "signature:   valid", "hash:        matches",
        "trusted: chains to O=opsis,CN=opsis C2PA root CA"}) {
    EXPECT_NE(run.output.find(expected), std::string::npos) << "missing \"" << expected << "\" in\n" << run.output;
  }
}

TEST_F(VerifyCommandTest, WithoutAnchorsItIsValidButUntrusted) {
  const CommandResult run = run_opsis("verify " + quoted(video_) + " --json");
  EXPECT_EQ(run.exit_code, 0) << run.output;
  const auto report = nlohmann::json::parse(run.output);
  EXPECT_EQ(report["state"], "Valid");
  EXPECT_EQ(report["trusted"], false);
  EXPECT_EQ(report["failure"][0]["code"], "signingCredential.untrusted");
}

TEST_F(VerifyCommandTest, TamperedFileExitsNonZero) {
  provenance::testing::flip_mdat_byte(video_);
  const CommandResult run = run_opsis("verify " + quoted(video_) + " --data " + quoted(folder_ / "data"));
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.output.find("state:       Invalid"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("assertion.bmffHash.mismatch"), std::string::npos) << run.output;
}

TEST_F(VerifyCommandTest, StrippedFileSaysSo) {
  provenance::testing::strip_manifest(video_);
  const CommandResult run = run_opsis("verify " + quoted(video_));
  EXPECT_EQ(run.exit_code, 3) << run.output;
  EXPECT_NE(run.output.find("C2PA manifest: none"), std::string::npos) << run.output;
}

TEST_F(VerifyCommandTest, MissingFileIsAnError) {
  const CommandResult run = run_opsis("verify " + quoted(file("absent.mp4")));
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_NE(run.output.find("no such file"), std::string::npos) << run.output;
}

}  // namespace
}  // namespace opsis::cli
