// Checks opsis's manifests with the reference implementation, c2pa-rs, through the npm
// package @contentauth/c2pa-node run by node (tests/c2pa/validate.mjs). Needs
// `npm ci --ignore-scripts --prefix tests/c2pa` once; fails with that instruction otherwise.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/support/command.hpp"
#include "provenance/c2pa.hpp"
#include "provenance/c2pa_test_support.hpp"

namespace opsis::provenance {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kValidatorDir = fs::path(OPSIS_SOURCE_DIR) / "tests" / "c2pa";

using testing_support::shell_quote;

std::string run_node(const std::string& command_line) {
  const testing_support::CommandResult run = testing_support::run_command(command_line);
  if (run.exit_code != 0)
    throw std::runtime_error("`" + command_line + "` failed (" + std::to_string(run.exit_code) + "): " + run.output);
  return run.output;
}

// Signs `input` into `output` with c2pa-rs, using opsis's signer certificate and key.
void sign_with_c2pa_rs(const fs::path& input, const fs::path& output, const fs::path& keys,
                       const fs::path& parent = {}) {
  std::string command = "node " + shell_quote((kValidatorDir / "sign_with_c2pa_rs.mjs").string()) + " " +
                        shell_quote(input.string()) + " " + shell_quote(output.string()) + " " +
                        shell_quote((keys / "c2pa-signer.pem").string()) + " " +
                        shell_quote((keys / "c2pa-signer.key").string());
  if (!parent.empty()) command += " " + shell_quote(parent.string());
  run_node(command);
}

// Runs the c2pa-rs validator on `file` and returns its JSON report.
json c2pa_rs_report(const fs::path& file, const fs::path& anchors = {}) {
  std::string command = "node " + shell_quote((kValidatorDir / "validate.mjs").string()) + " " +
                        shell_quote(file.string());
  if (!anchors.empty()) command += " --anchors " + shell_quote(anchors.string());
  const std::string output = run_node(command);
  const size_t start = output.find("{\"file\"");
  if (start == std::string::npos) throw std::runtime_error("validator printed no report: " + output);
  return json::parse(output.substr(start));
}

bool contains(const json& list, const std::string& code) {
  return std::any_of(list.begin(), list.end(), [&](const json& c) { return c == code; });
}

class C2paRsValidatorTest : public testing::ScratchFolderTest {
 protected:
  void SetUp() override {
    ScratchFolderTest::SetUp();
    ASSERT_TRUE(fs::exists(kValidatorDir / "node_modules" / "@contentauth" / "c2pa-node"))
        << "the c2pa-rs validator is not installed: run  npm ci --ignore-scripts --prefix tests/c2pa";
    keys_ = folder_ / "keys";
    credentials_ = SigningCredentials::load_or_create(keys_);
  }
  ManifestInfo info(const std::string& title) const {
    ManifestInfo i;
    i.title = title;
    i.model_name = "opsis-mini";
    i.model_version = "1";
    i.creator = "@ada";
    i.cameo_handles = {"@ada"};
    return i;
  }
  fs::path root() const { return SigningCredentials::own_root_path(keys_); }
  fs::path keys_;
  SigningCredentials credentials_;
};

TEST_F(C2paRsValidatorTest, SignedVideoIsValidAndTrustedWithOurRoot) {
  const fs::path video = file("video.mp4");
  testing::write_test_mp4(video);
  sign_mp4_in_place(video, info("video_1"), credentials_);

  const json untrusted = c2pa_rs_report(video);
  ASSERT_EQ(untrusted["has_manifest"], true) << untrusted.dump(2);
  EXPECT_EQ(untrusted["validation_state"], "Valid") << untrusted.dump(2);
  EXPECT_EQ(untrusted["failures"], json::array({"signingCredential.untrusted"})) << untrusted.dump(2);
  EXPECT_TRUE(contains(untrusted["successes"], "assertion.bmffHash.match")) << untrusted.dump(2);
  EXPECT_TRUE(contains(untrusted["successes"], "claimSignature.validated")) << untrusted.dump(2);
  EXPECT_EQ(untrusted["active_manifest"]["title"], "video_1");

  const json trusted = c2pa_rs_report(video, root());
  EXPECT_EQ(trusted["validation_state"], "Trusted") << trusted.dump(2);
  EXPECT_EQ(trusted["failures"], json::array()) << trusted.dump(2);
  EXPECT_TRUE(contains(trusted["successes"], "signingCredential.trusted")) << trusted.dump(2);

  const json& actions = trusted["active_manifest"]["assertions"];
  bool created = false;
  for (const json& a : actions) {
    if (a["label"] != "c2pa.actions.v2") continue;
    const json& first = a["data"]["actions"][0];
    created = first["action"] == "c2pa.created" &&
              first["digitalSourceType"] == "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia";
  }
  EXPECT_TRUE(created) << actions.dump(2);
}

TEST_F(C2paRsValidatorTest, ChangedMdatByteFailsWithHashMismatch) {
  const fs::path video = file("video.mp4");
  testing::write_test_mp4(video);
  sign_mp4_in_place(video, info("video_2"), credentials_);
  testing::flip_mdat_byte(video);
  const json report = c2pa_rs_report(video, root());
  EXPECT_EQ(report["validation_state"], "Invalid") << report.dump(2);
  EXPECT_TRUE(contains(report["failures"], "assertion.bmffHash.mismatch")) << report.dump(2);
}

TEST_F(C2paRsValidatorTest, StrippedVideoHasNoManifest) {
  const fs::path video = file("video.mp4");
  testing::write_test_mp4(video);
  sign_mp4_in_place(video, info("video_3"), credentials_);
  testing::strip_manifest(video);
  const json report = c2pa_rs_report(video, root());
  EXPECT_EQ(report["has_manifest"], false) << report.dump(2);
}

TEST_F(C2paRsValidatorTest, RemixShowsTheParentIngredient) {
  const fs::path parent = file("parent.mp4");
  const fs::path remix = file("remix.mp4");
  const fs::path image = file("input.png");
  testing::write_test_mp4(parent);
  sign_mp4_in_place(parent, info("video_parent"), credentials_);
  testing::write_test_mp4(remix, 80);
  testing::write_bytes(image, Bytes{0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a});
  ManifestInfo remix_info = info("video_remix");
  remix_info.remix_of = ParentVideo{parent, "video_parent"};
  remix_info.input_image = InputImage{image, "input.png", "image/png"};
  sign_mp4_in_place(remix, remix_info, credentials_);

  const json report = c2pa_rs_report(remix, root());
  EXPECT_EQ(report["validation_state"], "Trusted") << report.dump(2);
  const std::string parent_label = read_manifest(parent).active_label;
  bool found_parent = false;
  bool found_image = false;
  for (const json& ingredient : report["ingredients"]) {
    if (ingredient["relationship"] == "parentOf") {
      found_parent = ingredient["title"] == "video_parent" && ingredient["active_manifest"] == parent_label;
    }
    if (ingredient["relationship"] == "inputTo") found_image = ingredient["title"] == "input.png";
  }
  EXPECT_TRUE(found_parent) << report.dump(2);
  EXPECT_TRUE(found_image) << report.dump(2);
}

TEST_F(C2paRsValidatorTest, LargeSizeAndOpenEndedBoxesValidate) {
  const fs::path large = file("large.mp4");
  testing::write_test_mp4(large);
  testing::append_large_size_box(large);
  sign_mp4_in_place(large, info("video_large"), credentials_);
  const json large_report = c2pa_rs_report(large, root());
  EXPECT_EQ(large_report["validation_state"], "Trusted") << large_report.dump(2);

  const fs::path open_ended = file("open.mp4");
  testing::write_test_mp4(open_ended);
  testing::make_last_box_open_ended(open_ended);
  sign_mp4_in_place(open_ended, info("video_open"), credentials_);
  const json open_report = c2pa_rs_report(open_ended, root());
  EXPECT_EQ(open_report["validation_state"], "Trusted") << open_report.dump(2);
}

// A chain from "a real CA", made with the openssl command: root -> intermediate -> signer.
// The user hands opsis the signer certificate + intermediate and the key.
TEST_F(C2paRsValidatorTest, UserSuppliedChainWithAnIntermediate) {
  const fs::path ca = folder_ / "ca";
  fs::create_directories(ca);
  {
    std::ofstream ext(ca / "ext.cnf");
    ext << "[root]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n"
           "subjectKeyIdentifier=hash\n"
           "[intermediate]\nbasicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n"
           "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n"
           "[signer]\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
           "extendedKeyUsage=1.3.6.1.4.1.62558.2.1\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n";
  }
  const std::vector<std::string> commands = {
      "openssl ecparam -name prime256v1 -genkey -noout -out root.key",
      "openssl ecparam -name prime256v1 -genkey -noout -out intermediate.key",
      "openssl ecparam -name prime256v1 -genkey -noout -out signer.key",
      "openssl pkcs8 -topk8 -nocrypt -in signer.key -out signer.p8",
      "openssl req -new -key root.key -subj '/CN=Example Root CA/O=Example' -out root.csr",
      "openssl x509 -req -in root.csr -signkey root.key -days 30 -sha256 -extfile ext.cnf -extensions root "
      "-out root.pem",
      "openssl req -new -key intermediate.key -subj '/CN=Example Intermediate CA/O=Example' -out intermediate.csr",
      "openssl x509 -req -in intermediate.csr -CA root.pem -CAkey root.key -CAcreateserial -days 30 -sha256 "
      "-extfile ext.cnf -extensions intermediate -out intermediate.pem",
      "openssl req -new -key signer.key -subj '/CN=Example Newsroom Signer/O=Example' -out signer.csr",
      "openssl x509 -req -in signer.csr -CA intermediate.pem -CAkey intermediate.key -CAcreateserial -days 30 "
      "-sha256 -extfile ext.cnf -extensions signer -out signer.pem",
      "cat signer.pem intermediate.pem > chain.pem",
  };
  for (const std::string& command : commands) {
    const std::string line = "cd " + shell_quote(ca.string()) + " && { " + command + "; } >>log.txt 2>&1";
    ASSERT_EQ(std::system(line.c_str()), 0) << command << " failed (is the openssl package installed?); see "
                                            << (ca / "log.txt");
  }

  const auto credentials = SigningCredentials::load(ca / "chain.pem", ca / "signer.p8");
  ASSERT_EQ(credentials.chain_der().size(), 2u);
  const fs::path video = file("video.mp4");
  testing::write_test_mp4(video);
  sign_mp4_in_place(video, info("video_external_ca"), credentials);

  const json theirs = c2pa_rs_report(video, ca / "root.pem");
  EXPECT_EQ(theirs["validation_state"], "Trusted") << theirs.dump(2);
  EXPECT_EQ(c2pa_rs_report(video, root())["validation_state"], "Valid");  // opsis's own root is no anchor here
  const ManifestReport ours = read_manifest(video, read_pem_certificates(ca / "root.pem"));
  EXPECT_EQ(ours.state, "Trusted") << ours.to_json().dump(2);
  EXPECT_EQ(ours.trust_anchor, "O=Example,CN=Example Root CA");
  ASSERT_EQ(ours.chain.size(), 2u);
  EXPECT_EQ(ours.chain[1].common_name, "Example Intermediate CA");
}

// The other direction: c2pa-rs writes, opsis reads (what `opsis verify` meets in the wild).
TEST_F(C2paRsValidatorTest, OpsisReadsWhatC2paRsWrites) {
  const fs::path plain = file("plain.mp4");
  const fs::path by_c2pa_rs = file("by-c2pa-rs.mp4");
  testing::write_test_mp4(plain);
  sign_with_c2pa_rs(plain, by_c2pa_rs, keys_);
  const auto anchors = read_pem_certificates(root());
  const ManifestReport report = read_manifest(by_c2pa_rs, anchors);
  EXPECT_EQ(report.state, "Trusted") << report.to_json().dump(2);
  EXPECT_TRUE(report.hash_matches);
  EXPECT_EQ(report.claim_generator, "c2pa-rs test signer 1");
  ASSERT_FALSE(report.actions.empty());
  EXPECT_EQ(report.actions[0].action, "c2pa.created");

  testing::flip_mdat_byte(by_c2pa_rs);
  const ManifestReport tampered = read_manifest(by_c2pa_rs, anchors);
  EXPECT_EQ(tampered.state, "Invalid");
  EXPECT_FALSE(tampered.hash_matches);
}

// Lineage across implementations: c2pa-rs remixes an opsis video, opsis remixes that, and
// both validators follow the chain of manifests.
TEST_F(C2paRsValidatorTest, RemixChainAcrossImplementations) {
  const fs::path first = file("first.mp4");
  const fs::path second_plain = file("second-plain.mp4");
  const fs::path second = file("second.mp4");
  const fs::path third = file("third.mp4");
  testing::write_test_mp4(first);
  sign_mp4_in_place(first, info("video_first"), credentials_);
  testing::write_test_mp4(second_plain, 30);
  sign_with_c2pa_rs(second_plain, second, keys_, first);
  testing::write_test_mp4(third, 90);
  ManifestInfo remix = info("video_third");
  remix.remix_of = ParentVideo{second, "second.mp4"};
  sign_mp4_in_place(third, remix, credentials_);

  const ManifestReport ours = read_manifest(third, read_pem_certificates(root()));
  EXPECT_EQ(ours.state, "Trusted") << ours.to_json().dump(2);
  EXPECT_EQ(ours.manifest_count, 3u);
  ASSERT_EQ(ours.ingredients.size(), 1u);
  EXPECT_TRUE(ours.ingredients[0].manifest_hash_matches);

  const json theirs = c2pa_rs_report(third, root());
  EXPECT_EQ(theirs["validation_state"], "Trusted") << theirs.dump(2);
  ASSERT_EQ(theirs["ingredients"].size(), 1u) << theirs.dump(2);
  EXPECT_EQ(theirs["ingredients"][0]["relationship"], "parentOf");
  EXPECT_EQ(theirs["ingredients"][0]["active_manifest"], read_manifest(second).active_label);
}

}  // namespace
}  // namespace opsis::provenance
