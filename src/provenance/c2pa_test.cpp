#include "provenance/c2pa.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <new>
#include <thread>

#include "core/error.hpp"
#include "provenance/c2pa_bmff.hpp"
#include "provenance/c2pa_test_support.hpp"
#include "provenance/cbor.hpp"
#include "provenance/cose.hpp"
#include "provenance/jumbf.hpp"

// The largest single allocation made while g_track_allocations is set (the CBOR reserve test).
namespace {
std::atomic<bool> g_track_allocations{false};
std::atomic<size_t> g_largest_allocation{0};
}  // namespace

void* operator new(size_t size) {
  if (g_track_allocations.load(std::memory_order_relaxed)) {
    size_t seen = g_largest_allocation.load(std::memory_order_relaxed);
    while (size > seen && !g_largest_allocation.compare_exchange_weak(seen, size)) {
    }
  }
  if (void* p = std::malloc(size ? size : 1)) return p;
  throw std::bad_alloc();
}
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"  // GCC pairs the inlined malloc with free
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace opsis::provenance {
namespace {

namespace fs = std::filesystem;
using testing::ScratchFolderTest;

Bytes hex_bytes(const std::string& hex) {
  Bytes out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(uint8_t(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

// Encodings from RFC 8949 Appendix A.
TEST(C2paCbor, EncodesTheRfcExamples) {
  EXPECT_EQ(cbor::encode(cbor::Value(0)), hex_bytes("00"));
  EXPECT_EQ(cbor::encode(cbor::Value(23)), hex_bytes("17"));
  EXPECT_EQ(cbor::encode(cbor::Value(24)), hex_bytes("1818"));
  EXPECT_EQ(cbor::encode(cbor::Value(1000)), hex_bytes("1903e8"));
  EXPECT_EQ(cbor::encode(cbor::Value(int64_t(1000000))), hex_bytes("1a000f4240"));
  EXPECT_EQ(cbor::encode(cbor::Value(uint64_t(18446744073709551615ULL))), hex_bytes("1bffffffffffffffff"));
  EXPECT_EQ(cbor::encode(cbor::Value(-1)), hex_bytes("20"));
  EXPECT_EQ(cbor::encode(cbor::Value(-1000)), hex_bytes("3903e7"));
  EXPECT_EQ(cbor::encode(cbor::Value("IETF")), hex_bytes("6449455446"));
  EXPECT_EQ(cbor::encode(cbor::Value(Bytes{1, 2, 3, 4})), hex_bytes("4401020304"));
  EXPECT_EQ(cbor::encode(cbor::Value(nullptr)), hex_bytes("f6"));
  EXPECT_EQ(cbor::encode(cbor::Value(true)), hex_bytes("f5"));
  EXPECT_EQ(cbor::encode(cbor::Value(1.1)), hex_bytes("fb3ff199999999999a"));
  cbor::Value map = cbor::Value::map();
  map.set("a", 1);
  cbor::Value inner = cbor::Value::array();
  inner.push(2);
  inner.push(3);
  map.set("b", inner);
  EXPECT_EQ(cbor::encode(map), hex_bytes("a26161016162820203"));
  EXPECT_EQ(cbor::encode(cbor::Value::tagged(1, cbor::Value(int64_t(1363896240)))), hex_bytes("c11a514b67b0"));
}

TEST(C2paCbor, DecodesWhatItEncodesAndHalfFloats) {
  cbor::Value v = cbor::Value::map();
  v.set("bytes", Bytes(300, 7));
  v.set("text", std::string(70000, 'x'));
  v.set("negative", int64_t(-123456789012));
  v.set_any(cbor::Value(33), cbor::Value::tagged(18, cbor::Value::array()));
  EXPECT_EQ(cbor::decode(cbor::encode(v)), v);
  EXPECT_EQ(cbor::decode(hex_bytes("f93c00")).storage(), cbor::Value(1.0).storage());
  EXPECT_EQ(cbor::decode(hex_bytes("f9c400")).storage(), cbor::Value(-4.0).storage());
}

TEST(C2paCbor, RejectsTruncatedAndTrailingData) {
  EXPECT_THROW(cbor::decode(hex_bytes("6449455")), InvalidArgument);  // 3 of 4 text bytes
  EXPECT_THROW(cbor::decode(hex_bytes("0000")), InvalidArgument);
  EXPECT_THROW(cbor::decode(hex_bytes("9f01ff")), InvalidArgument);  // indefinite array
  EXPECT_THROW(cbor::decode(hex_bytes("bb7fffffffffffffff")), InvalidArgument);  // absurd map length
}

// Issue 14: an array or map head's claimed length was reserved up front, bounded only by the
// bytes left, so nested heads each reserved that much again (100 nested 1M-element heads in
// 1 MB: ~100M values of address space). The reserve is now capped and grows as items are read.
TEST(C2paCbor, NestedHugeLengthClaimsReserveLittleAndLongArraysStillDecode) {
  for (uint8_t head : {uint8_t(0x9a), uint8_t(0xba)}) {  // array / map, 4-byte length
    Bytes nested;
    for (int i = 0; i < 100; ++i) {
      nested.push_back(head);
      for (int shift = 24; shift >= 0; shift -= 8) nested.push_back(uint8_t(0x00040000u >> shift));  // 262,144
    }
    nested.resize(1 << 20, 0xff);  // 1 MB: every claim passes the bytes-left bound; 0xff fails
    g_largest_allocation = 0;
    g_track_allocations = true;
    EXPECT_THROW(cbor::decode(nested), InvalidArgument);  // the innermost item is not CBOR
    g_track_allocations = false;
    EXPECT_LE(g_largest_allocation.load(), 1024 * sizeof(cbor::Value) * 2) << "head 0x" << std::hex << int(head);
  }
  // Longer than the cap: grows as elements are really read.
  cbor::Array items;
  cbor::Map entries;
  for (int i = 0; i < 5000; ++i) {
    items.emplace_back(i);
    entries.emplace_back(i, "v");
  }
  const cbor::Value long_array(std::move(items));
  const cbor::Value long_map(std::move(entries));
  EXPECT_EQ(cbor::decode(cbor::encode(long_array)), long_array);
  EXPECT_EQ(cbor::decode(cbor::encode(long_map)), long_map);
}

// Found by fuzz_cbor_jumbf_cose in session 10: map keys that are maps, nested 48 deep, were
// dumped to JSON text at every level, each level escaping the last one's quotes again, so the
// key string doubled per level. Container keys are now named, not dumped.
TEST(C2paCbor, NestedMapKeysBecomeShortJsonKeys) {
  Bytes nested(48, 0xa1);  // {{{...: ...}: ...}: ...}
  nested.push_back(0x00);  // the innermost key
  for (int i = 0; i < 48; ++i) nested.push_back(0x00);  // every level's value
  const cbor::Value value = cbor::decode(nested);
  const std::string json = cbor::to_json(value).dump();
  EXPECT_LT(json.size(), 200u) << json.substr(0, 200);
  EXPECT_EQ(cbor::to_json(cbor::decode(hex_bytes("a201022003"))).dump(), R"({"-1":3,"1":2})");  // COSE-style integer keys
  EXPECT_EQ(cbor::to_json(cbor::decode(hex_bytes("a142abcd01"))).dump(), R"({"h'abcd'":1})");
}

TEST(C2paJumbf, SerializesAndParsesSuperboxes) {
  jumbf::Box store = jumbf::Box::superbox(jumbf::kStoreType, "c2pa");
  jumbf::Box manifest = jumbf::Box::superbox(jumbf::kManifestType, "urn:c2pa:1234");
  manifest.children.push_back(jumbf::Box::content_box("cbor", Bytes{0xa0}));
  store.children.push_back(manifest);
  const Bytes bytes = jumbf::serialize(store);
  // jumb header (8) + jumd (8 + 16 + 1 + "c2pa\0") + child superbox.
  EXPECT_EQ(std::string(bytes.begin() + 4, bytes.begin() + 8), "jumb");
  EXPECT_EQ(std::string(bytes.begin() + 12, bytes.begin() + 16), "jumd");
  EXPECT_EQ(bytes[32], 0x03);  // toggles: requestable, label
  const jumbf::Box parsed = jumbf::parse(bytes);
  EXPECT_EQ(parsed.label, "c2pa");
  EXPECT_EQ(parsed.content_type, jumbf::kStoreType);
  ASSERT_EQ(parsed.children.size(), 1u);
  EXPECT_EQ(parsed.children[0].label, "urn:c2pa:1234");
  EXPECT_EQ(parsed.children[0].content("cbor")->payload, Bytes{0xa0});
  EXPECT_EQ(jumbf::serialize(parsed), bytes);
  const Bytes payload = jumbf::serialize_payload(parsed.children[0]);
  const auto raw = jumbf::raw_payload(parsed.children[0]);
  EXPECT_TRUE(std::equal(payload.begin(), payload.end(), raw.begin(), raw.end()));
  EXPECT_EQ(jumbf::uuid_hex(jumbf::kClaimType), "6332636C00110010800000AA00389B71");
  Bytes truncated = bytes;
  truncated.pop_back();
  EXPECT_THROW(jumbf::parse(truncated), InvalidArgument);
}

class C2paCredentialsTest : public ScratchFolderTest {};

TEST_F(C2paCredentialsTest, MakesItsOwnCaOnceWithPrivateKeys) {
  const auto credentials = SigningCredentials::load_or_create(folder_, "opsis test");
  ASSERT_EQ(credentials.chain_der().size(), 1u);
  for (const char* key : {"c2pa-root.key", "c2pa-signer.key"}) {
    struct stat st {};
    ASSERT_EQ(::stat(file(key).c_str(), &st), 0) << key;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << key;
  }
  EXPECT_TRUE(check_signer_profile(credentials.chain_der()[0]).empty());
  const auto summary = summarize_certificate(credentials.chain_der()[0]);
  EXPECT_EQ(summary.common_name, "opsis test C2PA signer");
  EXPECT_NE(summary.issuer, summary.subject);
  // A second call loads the same certificate instead of making a new CA.
  const auto again = SigningCredentials::load_or_create(folder_, "opsis test");
  EXPECT_EQ(again.chain_der(), credentials.chain_der());
  const auto root = read_pem_certificates(SigningCredentials::own_root_path(folder_));
  const ChainCheck chain = check_chain(credentials.chain_der(), root);
  EXPECT_TRUE(chain.chains_to_anchor) << chain.error;
  EXPECT_TRUE(chain.valid_now);
  // The root is a CA and self-signed: it cannot sign manifests itself.
  EXPECT_FALSE(check_signer_profile(root[0]).empty());
  EXPECT_THROW(SigningCredentials::load(SigningCredentials::own_root_path(folder_), file("c2pa-root.key")),
               InvalidArgument);
  // A key that does not belong to the certificate is refused.
  EXPECT_THROW(SigningCredentials::load(file("c2pa-signer.pem"), file("c2pa-root.key")), InvalidArgument);
}

TEST_F(C2paCredentialsTest, ConcurrentFirstUseMakesOneCa) {
  std::vector<std::vector<Bytes>> chains(4);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < chains.size(); ++i)
    threads.emplace_back([&, i] { chains[i] = SigningCredentials::load_or_create(folder_).chain_der(); });
  for (auto& t : threads) t.join();
  for (const auto& chain : chains) EXPECT_EQ(chain, chains[0]);
  const auto root = read_pem_certificates(SigningCredentials::own_root_path(folder_));
  EXPECT_TRUE(check_chain(chains[0], root).chains_to_anchor);
}

TEST_F(C2paCredentialsTest, CoseSign1VerifiesAndDetectsChanges) {
  const auto credentials = SigningCredentials::load_or_create(folder_);
  const Bytes payload = {1, 2, 3, 4, 5};
  const Bytes message = cose::sign1_es256(payload, credentials);
  EXPECT_EQ(message[0], 0xd2);  // tag 18
  const cose::Sign1 sign1 = cose::parse_sign1(message);
  EXPECT_EQ(sign1.algorithm, cose::kEs256);
  EXPECT_EQ(sign1.signature.size(), 64u);
  EXPECT_EQ(sign1.x5chain, credentials.chain_der());
  EXPECT_TRUE(cose::verify_sign1(sign1, payload));
  EXPECT_FALSE(cose::verify_sign1(sign1, Bytes{1, 2, 3, 4, 6}));
  // Same size every time: the placeholder-free layout relies on it.
  EXPECT_EQ(cose::sign1_es256(Bytes(100, 9), credentials).size(), message.size());
}

class C2paSigningTest : public ScratchFolderTest {
 protected:
  void SetUp() override {
    ScratchFolderTest::SetUp();
    credentials_ = SigningCredentials::load_or_create(folder_ / "keys");
    anchors_ = read_pem_certificates(SigningCredentials::own_root_path(folder_ / "keys"));
  }
  ManifestInfo info() const {
    ManifestInfo i;
    i.title = "video_test";
    i.model_name = "opsis-mini";
    i.model_version = "1";
    i.creator = "@ada";
    i.when = "2026-11-22T05:00:00Z";
    i.cameo_handles = {"@ada", "@bob"};
    i.cameo_ids = {"cameo_0123456789abcdef01234567", ""};
    return i;
  }
  static bool has_failure(const ManifestReport& r, const std::string& code) {
    return std::any_of(r.failure.begin(), r.failure.end(), [&](const Status& s) { return s.code == code; });
  }
  SigningCredentials credentials_;
  std::vector<Bytes> anchors_;
};

TEST_F(C2paSigningTest, SignsAnMp4AndReadsItBack) {
  const fs::path video = file("video.mp4");
  testing::write_test_mp4(video);
  const Bytes original = testing::read_bytes(video);
  sign_mp4_in_place(video, info(), credentials_);
  const Bytes signed_bytes = testing::read_bytes(video);
  ASSERT_GT(signed_bytes.size(), original.size());
  EXPECT_TRUE(std::equal(original.begin(), original.end(), signed_bytes.begin()));  // appended only
  const auto boxes = bmff::list_top_level_boxes(signed_bytes);
  EXPECT_TRUE(bmff::is_c2pa_box(boxes.back()));

  const ManifestReport untrusted = read_manifest(video);
  ASSERT_TRUE(untrusted.has_manifest);
  EXPECT_EQ(untrusted.state, "Valid");
  EXPECT_TRUE(untrusted.signature_valid);
  EXPECT_TRUE(untrusted.hash_matches);
  EXPECT_TRUE(untrusted.assertions_intact);
  EXPECT_TRUE(untrusted.certificate_profile_ok);
  EXPECT_FALSE(untrusted.trusted);
  ASSERT_EQ(untrusted.failure.size(), 1u);
  EXPECT_EQ(untrusted.failure[0].code, "signingCredential.untrusted");
  EXPECT_EQ(untrusted.claim_version, "c2pa.claim.v2");
  EXPECT_EQ(untrusted.title, "video_test");
  EXPECT_EQ(untrusted.claim_generator, "opsis 0.1.0");
  EXPECT_EQ(untrusted.creator, "@ada");
  EXPECT_EQ(untrusted.model, "opsis-mini 1");
  EXPECT_EQ(untrusted.cameo_handles, (std::vector<std::string>{"@ada", "@bob"}));
  EXPECT_EQ(untrusted.cameo_ids, (std::vector<std::string>{"cameo_0123456789abcdef01234567", ""}));
  EXPECT_EQ(untrusted.training_mining, "notAllowed");
  ASSERT_EQ(untrusted.actions.size(), 1u);
  EXPECT_EQ(untrusted.actions[0].action, "c2pa.created");
  EXPECT_EQ(untrusted.actions[0].when, "2026-11-22T05:00:00Z");
  EXPECT_EQ(untrusted.actions[0].digital_source_type,
            "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia");
  EXPECT_TRUE(untrusted.ingredients.empty());
  ASSERT_TRUE(untrusted.signer.has_value());
  EXPECT_EQ(untrusted.signer->common_name, "opsis C2PA signer");

  const ManifestReport trusted = read_manifest(video, anchors_);
  EXPECT_EQ(trusted.state, "Trusted");
  EXPECT_TRUE(trusted.failure.empty());
  EXPECT_EQ(trusted.trust_anchor, "O=opsis,CN=opsis C2PA root CA");

  // A different CA is not an anchor for this file.
  const auto other = SigningCredentials::load_or_create(folder_ / "other-keys", "someone else");
  const ManifestReport foreign = read_manifest(video, read_pem_certificates(SigningCredentials::own_root_path(folder_ / "other-keys")));
  EXPECT_EQ(foreign.state, "Valid");
  EXPECT_FALSE(foreign.trusted);
}

TEST_F(C2paSigningTest, ChangedMdatByteIsAHashMismatch) {
  const fs::path video = file("video.mp4");
  testing::write_test_mp4(video);
  sign_mp4_in_place(video, info(), credentials_);
  testing::flip_mdat_byte(video);
  const ManifestReport report = read_manifest(video, anchors_);
  EXPECT_EQ(report.state, "Invalid");
  EXPECT_FALSE(report.hash_matches);
  EXPECT_TRUE(report.signature_valid);  // the claim is intact; the pictures are not
  EXPECT_TRUE(has_failure(report, "assertion.bmffHash.mismatch"));
}

TEST_F(C2paSigningTest, ChangedClaimByteBreaksTheSignature) {
  const fs::path video = file("video.mp4");
  testing::write_test_mp4(video);
  sign_mp4_in_place(video, info(), credentials_);
  Bytes bytes = testing::read_bytes(video);
  const std::string needle = "video_test";  // dc:title inside the claim
  auto it = std::search(bytes.begin(), bytes.end(), needle.begin(), needle.end());
  ASSERT_NE(it, bytes.end());
  *it = 'V';
  testing::write_bytes(video, bytes);
  const ManifestReport report = read_manifest(video, anchors_);
  EXPECT_EQ(report.state, "Invalid");
  EXPECT_FALSE(report.signature_valid);
  EXPECT_TRUE(has_failure(report, "claimSignature.mismatch"));
}

TEST_F(C2paSigningTest, StrippedFileHasNoManifest) {
  const fs::path video = file("video.mp4");
  testing::write_test_mp4(video);
  const Bytes original = testing::read_bytes(video);
  sign_mp4_in_place(video, info(), credentials_);
  testing::strip_manifest(video);
  EXPECT_EQ(testing::read_bytes(video), original);
  const ManifestReport report = read_manifest(video, anchors_);
  EXPECT_FALSE(report.has_manifest);
  EXPECT_EQ(report.to_json()["has_manifest"], false);
}

TEST_F(C2paSigningTest, RemixRecordsTheParentWithItsManifest) {
  const fs::path parent = file("parent.mp4");
  const fs::path remix = file("remix.mp4");
  const fs::path image = file("first-frame.png");
  testing::write_test_mp4(parent);
  sign_mp4_in_place(parent, info(), credentials_);
  testing::write_test_mp4(remix, 60);
  testing::write_bytes(image, Bytes{0x89, 'P', 'N', 'G', 1, 2, 3});
  ManifestInfo remix_info = info();
  remix_info.title = "remix_test";
  remix_info.remix_of = ParentVideo{parent, "video_test"};
  remix_info.input_image = InputImage{image, "", ""};
  sign_mp4_in_place(remix, remix_info, credentials_);

  const ManifestReport report = read_manifest(remix, anchors_);
  EXPECT_EQ(report.state, "Trusted") << report.to_json().dump(2);
  EXPECT_EQ(report.manifest_count, 2u);
  ASSERT_EQ(report.ingredients.size(), 2u);
  EXPECT_EQ(report.ingredients[0].relationship, "parentOf");
  EXPECT_EQ(report.ingredients[0].title, "video_test");
  EXPECT_EQ(report.ingredients[0].format, "video/mp4");
  EXPECT_EQ(report.ingredients[0].manifest_label, read_manifest(parent).active_label);
  EXPECT_TRUE(report.ingredients[0].manifest_hash_matches);
  EXPECT_EQ(report.ingredients[1].relationship, "inputTo");
  EXPECT_EQ(report.ingredients[1].title, "first-frame.png");
  EXPECT_EQ(report.ingredients[1].format, "image/png");
  EXPECT_EQ(report.ingredients[1].instance_id.rfind("sha256:", 0), 0u);
  ASSERT_EQ(report.actions.size(), 2u);
  EXPECT_EQ(report.actions[0].action, "c2pa.opened");
  EXPECT_EQ(report.actions[0].ingredient_titles, std::vector<std::string>{"video_test"});
  EXPECT_EQ(report.actions[1].action, "c2pa.edited");
  EXPECT_EQ(report.actions[1].ingredient_titles, std::vector<std::string>{"first-frame.png"});
}

TEST_F(C2paSigningTest, HandlesLargeSizeAndOpenEndedBoxes) {
  const fs::path large = file("large.mp4");
  testing::write_test_mp4(large);
  testing::append_large_size_box(large);
  const auto boxes = bmff::list_top_level_boxes(testing::read_bytes(large));
  EXPECT_EQ(boxes.back().type, "opsx");
  EXPECT_EQ(boxes.back().header_size, 16u);
  sign_mp4_in_place(large, info(), credentials_);
  EXPECT_EQ(read_manifest(large, anchors_).state, "Trusted");

  const fs::path open_ended = file("open-ended.mp4");
  testing::write_test_mp4(open_ended);
  testing::make_last_box_open_ended(open_ended);
  EXPECT_TRUE(bmff::list_top_level_boxes(testing::read_bytes(open_ended)).back().extends_to_end);
  sign_mp4_in_place(open_ended, info(), credentials_);
  const auto signed_boxes = bmff::list_top_level_boxes(testing::read_bytes(open_ended));
  EXPECT_TRUE(bmff::is_c2pa_box(signed_boxes.back()));
  EXPECT_EQ(read_manifest(open_ended, anchors_).state, "Trusted");
}

TEST_F(C2paSigningTest, BadInputChangesNothing) {
  const fs::path video = file("video.mp4");
  testing::write_test_mp4(video);
  sign_mp4_in_place(video, info(), credentials_);
  const Bytes signed_once = testing::read_bytes(video);
  EXPECT_THROW(sign_mp4_in_place(video, info(), credentials_), InvalidArgument);
  EXPECT_EQ(testing::read_bytes(video), signed_once);

  const fs::path text = file("notes.mp4");
  testing::write_bytes(text, Bytes{'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd', '\n'});
  EXPECT_THROW(sign_mp4_in_place(text, info(), credentials_), InvalidArgument);
  EXPECT_EQ(testing::read_bytes(text).size(), 12u);

  const fs::path fresh = file("fresh.mp4");
  testing::write_test_mp4(fresh);
  const Bytes unsigned_bytes = testing::read_bytes(fresh);
  ManifestInfo missing_parent = info();
  missing_parent.remix_of = ParentVideo{file("absent.mp4"), ""};
  EXPECT_THROW(sign_mp4_in_place(fresh, missing_parent, credentials_), InvalidArgument);
  ManifestInfo no_model = info();
  no_model.model_name.clear();
  EXPECT_THROW(sign_mp4_in_place(fresh, no_model, credentials_), InvalidArgument);
  EXPECT_EQ(testing::read_bytes(fresh), unsigned_bytes);
  for (const auto& entry : fs::directory_iterator(folder_))
    EXPECT_EQ(entry.path().filename().string().find("tmp"), std::string::npos) << entry.path();
}

}  // namespace
}  // namespace opsis::provenance
