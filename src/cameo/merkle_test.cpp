// The Merkle log against the RFC 6962 test tree (the eight leaves Certificate Transparency
// and transparency-dev/merkle use) and its published proofs, with every tampering those
// vectors apply re-made here; plus exhaustive small-tree properties. When
// OPSIS_MERKLE_TESTDATA names a checkout's testdata/ folder of transparency-dev/merkle, its
// inclusion/ and consistency/ JSON cases are run as they are, too.
#include "cameo/merkle.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

namespace opsis::cameo::merkle {
namespace {

using Proof = std::vector<Bytes>;

Bytes b64(const std::string& text) { return from_base64(text); }

Proof b64_proof(std::initializer_list<const char*> items) {
  Proof out;
  for (const char* item : items) out.push_back(b64(item));
  return out;
}

Bytes hex(const std::string& text) {
  Bytes out;
  for (size_t i = 0; i + 1 < text.size(); i += 2) out.push_back(uint8_t(std::stoi(text.substr(i, 2), nullptr, 16)));
  return out;
}

// RFC 6962 test leaves.
std::vector<Bytes> test_leaves() {
  return {hex(""),         hex("00"),       hex("10"),       hex("2021"),
          hex("3031"),     hex("40414243"), hex("5051525354555657"),
          hex("606162636465666768696a6b6c6d6e6f")};
}

MemoryTree tree_of(size_t size) {
  MemoryTree tree;
  auto leaves = test_leaves();
  for (size_t i = 0; i < size; ++i) tree.append_data(leaves[i]);
  return tree;
}

// Published roots of the test tree at sizes 1..8.
const char* kRoots[] = {
    "bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0=", "+sVCA+fMaWzw38tCySodnbr3CtnmIfS9jZhmLwDjwSU=",
    "rra8/idLcKFPsGel5VeCZNsPqbUa9eC6FZFY8yngbnc=", "037kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc=",
    "Tju7H3tHjc/nH7YxYxUZo7yhLJrvyhYSv85ME6hiZNQ=", "duZ9rbzfHhDht03cYIq9L5jfsW+851J3tSMqEn8gh+8=",
    "3bib5AOAnjJXUNPSY814kpwpQreUKjS3fhIslZSnTIw=", "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=",
};
const char* kEmptyRoot = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
const char* kRandomHash = "q6yroAAAAAAAAAAAAAAAAAAAAAAAAAAAAGAGHgASNFY=";

struct InclusionCase {
  uint64_t index, size;
  Proof proof;
};
struct ConsistencyCase {
  uint64_t size1, size2;
  Proof proof;
};

std::vector<InclusionCase> published_inclusion_cases() {
  return {
      {0, 1, {}},
      {0, 8,
       b64_proof({"lqKW0iTyhcZ77pPDD4owkVfw2qNdxbh+QQt4YwoJz8c=", "Xwg/ChozygdqlSeYMlgNs+DvRYS9/x9UyKNg9Q3jAx4=",
                  "a0eq8p7jwq+a+Im8H7klTavTEXfxYjLdaqsDXKOb9uQ="})},
      {5, 8,
       b64_proof({"vBoGQ7EuTS18d5GPROD095qDi2z57FtcKD4fTYhZnms=", "yoVOoSjtBQtBs1/8G4e46yveRh6eO1WW7Oa51ZdaCuA=",
                  "037kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc="})},
      {2, 3, b64_proof({"+sVCA+fMaWzw38tCySodnbr3CtnmIfS9jZhmLwDjwSU="})},
      {1, 5,
       b64_proof({"bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0=", "Xwg/ChozygdqlSeYMlgNs+DvRYS9/x9UyKNg9Q3jAx4=",
                  "vBoGQ7EuTS18d5GPROD095qDi2z57FtcKD4fTYhZnms="})},
  };
}

std::vector<ConsistencyCase> published_consistency_cases() {
  return {
      {1, 1, {}},
      {1, 8,
       b64_proof({"lqKW0iTyhcZ77pPDD4owkVfw2qNdxbh+QQt4YwoJz8c=", "Xwg/ChozygdqlSeYMlgNs+DvRYS9/x9UyKNg9Q3jAx4=",
                  "a0eq8p7jwq+a+Im8H7klTavTEXfxYjLdaqsDXKOb9uQ="})},
      {6, 8,
       b64_proof({"DrxdNDf74tsVi58Sah0RjjCBgQMdCpSfje3t68VY72o=", "yoVOoSjtBQtBs1/8G4e46yveRh6eO1WW7Oa51ZdaCuA=",
                  "037kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc="})},
      {2, 5,
       b64_proof({"Xwg/ChozygdqlSeYMlgNs+DvRYS9/x9UyKNg9Q3jAx4=", "vBoGQ7EuTS18d5GPROD095qDi2z57FtcKD4fTYhZnms="})},
      {6, 7,
       b64_proof({"DrxdNDf74tsVi58Sah0RjjCBgQMdCpSfje3t68VY72o=", "sIaT7C5yFZcTBkHoIR5+7cy0wmQTlj7ubB4u0W/7Gl8=",
                  "037kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc="})},
  };
}

Bytes root_of(uint64_t size) { return b64(kRoots[size - 1]); }
Bytes leaf_at(uint64_t index) { return to_bytes(leaf_hash(test_leaves()[index])); }

bool inclusion_ok(uint64_t index, uint64_t size, const Bytes& leaf, const Proof& proof, const Bytes& root) {
  try {
    verify_inclusion(index, size, leaf, proof, root);
    return true;
  } catch (const ProofError&) {
    return false;
  }
}

bool consistency_ok(uint64_t size1, uint64_t size2, const Proof& proof, const Bytes& root1, const Bytes& root2) {
  try {
    verify_consistency(size1, size2, proof, root1, root2);
    return true;
  } catch (const ProofError&) {
    return false;
  }
}

Bytes flip_bit(Bytes bytes, size_t bit) {
  bytes[bit / 8] ^= uint8_t(1u << (bit % 8));
  return bytes;
}

TEST(Merkle, HashesFollowRfc6962) {
  EXPECT_EQ(to_base64(to_bytes(empty_root())), kEmptyRoot);
  // SHA-256(0x00): the leaf hash of the empty leaf.
  EXPECT_EQ(to_base64(to_bytes(leaf_hash({}))), kRoots[0]);
  // The node hash puts 0x01 before the children, so a leaf can never pose as a node.
  const Hash a = leaf_hash(hex("00")), b = leaf_hash(hex("10"));
  Bytes concatenated{0x01};
  concatenated.insert(concatenated.end(), a.begin(), a.end());
  concatenated.insert(concatenated.end(), b.begin(), b.end());
  EXPECT_EQ(node_hash(a, b), sha256(concatenated));
  EXPECT_NE(node_hash(a, b), leaf_hash(std::span<const uint8_t>(concatenated).subspan(1)));
}

TEST(Merkle, SplitIsLargestPowerOfTwoBelowSize) {
  EXPECT_EQ(split_point(2), 1u);
  EXPECT_EQ(split_point(3), 2u);
  EXPECT_EQ(split_point(4), 2u);
  EXPECT_EQ(split_point(5), 4u);
  EXPECT_EQ(split_point(8), 4u);
  EXPECT_EQ(split_point(9), 8u);
  EXPECT_EQ(split_point(uint64_t(1) << 40), uint64_t(1) << 39);
  EXPECT_THROW(split_point(1), std::out_of_range);
}

TEST(Merkle, RootsOfTheTestTreeMatchThePublishedRoots) {
  MemoryTree tree;
  EXPECT_EQ(to_base64(to_bytes(tree.root())), kEmptyRoot);
  auto leaves = test_leaves();
  for (size_t size = 1; size <= 8; ++size) {
    tree.append_data(leaves[size - 1]);
    EXPECT_EQ(to_base64(to_bytes(tree.root())), kRoots[size - 1]) << "size " << size;
  }
}

TEST(Merkle, GeneratedProofsEqualThePublishedProofs) {
  for (const auto& c : published_inclusion_cases()) {
    const auto proof = inclusion_proof(tree_of(c.size), c.index, c.size);
    Proof bytes;
    for (const auto& h : proof) bytes.push_back(to_bytes(h));
    EXPECT_EQ(bytes, c.proof) << "inclusion " << c.index << " in " << c.size;
  }
  for (const auto& c : published_consistency_cases()) {
    const auto proof = consistency_proof(tree_of(c.size2), c.size1, c.size2);
    Proof bytes;
    for (const auto& h : proof) bytes.push_back(to_bytes(h));
    EXPECT_EQ(bytes, c.proof) << "consistency " << c.size1 << " to " << c.size2;
  }
}

// The tampered inclusion cases of the public vectors, made from each published case.
TEST(Merkle, InclusionVectorsAndTheirTamperedForms) {
  for (const auto& c : published_inclusion_cases()) {
    SCOPED_TRACE("inclusion of " + std::to_string(c.index) + " in " + std::to_string(c.size));
    const Bytes leaf = leaf_at(c.index), root = root_of(c.size);
    EXPECT_TRUE(inclusion_ok(c.index, c.size, leaf, c.proof, root)) << "happy path";

    EXPECT_FALSE(inclusion_ok(c.index, c.size, to_bytes(sha256(hex("ff"))), c.proof, root)) << "wrong leaf";
    EXPECT_FALSE(inclusion_ok(c.index, c.size, leaf, c.proof, {})) << "empty root";
    EXPECT_FALSE(inclusion_ok(c.index, c.size, leaf, c.proof, b64(kEmptyRoot))) << "root of the empty tree";
    EXPECT_FALSE(inclusion_ok(c.index, c.size, leaf, c.proof, b64(kRandomHash))) << "random root";
    EXPECT_FALSE(inclusion_ok(c.index + 1, c.size, leaf, c.proof, root)) << "leafIdx plus 1";
    if (c.index > 0) {
      EXPECT_FALSE(inclusion_ok(c.index - 1, c.size, leaf, c.proof, root)) << "leafIdx sub 1";
    }
    EXPECT_FALSE(inclusion_ok(c.index ^ 2, c.size, leaf, c.proof, root)) << "leafIdx XOR 2";
    EXPECT_FALSE(inclusion_ok(c.index, c.size * 2, leaf, c.proof, root)) << "treeSize times 2";
    EXPECT_FALSE(inclusion_ok(c.index, c.size / 2, leaf, c.proof, root)) << "treeSize div 2";

    auto with = [&](std::function<void(Proof&)> edit) {
      Proof p = c.proof;
      edit(p);
      return p;
    };
    EXPECT_FALSE(inclusion_ok(c.index, c.size, leaf, with([](Proof& p) { p.insert(p.begin(), Bytes{}); }), root))
        << "preceding garbage";
    EXPECT_FALSE(inclusion_ok(c.index, c.size, leaf, with([](Proof& p) { p.push_back(Bytes{}); }), root))
        << "trailing garbage";
    EXPECT_FALSE(inclusion_ok(c.index, c.size, leaf, with([&](Proof& p) { p.insert(p.begin(), root); }), root))
        << "preceding root";
    EXPECT_FALSE(inclusion_ok(c.index, c.size, leaf, with([&](Proof& p) { p.push_back(root); }), root))
        << "trailing root";
    for (size_t i = 0; i < c.proof.size(); ++i) {
      EXPECT_FALSE(inclusion_ok(c.index, c.size, leaf, with([&](Proof& p) { p[i] = flip_bit(p[i], 3); }), root))
          << "modified proof[" << i << "] bit 3";
    }
    if (!c.proof.empty()) {
      EXPECT_FALSE(inclusion_ok(c.index, c.size, leaf, with([](Proof& p) { p.pop_back(); }), root))
          << "removed component";
      EXPECT_FALSE(
          inclusion_ok(c.index, c.size, leaf, with([](Proof& p) { p.insert(p.begin() + 1, b64(kRandomHash)); }), root))
          << "inserted component";
    }
  }
}

TEST(Merkle, InclusionEdgeCases) {
  const Bytes random = b64(kRandomHash), empty = b64(kEmptyRoot);
  // Trees of size 0 have no entries; an index beyond the size never verifies.
  for (auto [index, size] : {std::pair<uint64_t, uint64_t>{0, 0}, {0, 1}, {1, 0}, {2, 1}}) {
    EXPECT_FALSE(inclusion_ok(index, size, random, {}, empty)) << "empty root and random leaf";
    EXPECT_FALSE(inclusion_ok(index, size, {}, {}, empty)) << "empty root";
    EXPECT_FALSE(inclusion_ok(index, size, random, {}, {})) << "random leaf";
  }
  // A single-entry tree: the root is the leaf hash and the proof is empty.
  const Bytes leaf = to_bytes(leaf_hash(hex("0102")));
  EXPECT_TRUE(inclusion_ok(0, 1, leaf, {}, leaf));
  EXPECT_FALSE(inclusion_ok(0, 1, {}, {}, leaf)) << "empty leaf";
  EXPECT_FALSE(inclusion_ok(0, 1, {}, {}, {})) << "empty root and leaf";
  EXPECT_FALSE(inclusion_ok(0, 1, leaf, {}, {})) << "empty root";
}

TEST(Merkle, ConsistencyVectorsAndTheirTamperedForms) {
  for (const auto& c : published_consistency_cases()) {
    SCOPED_TRACE("consistency " + std::to_string(c.size1) + " to " + std::to_string(c.size2));
    const Bytes root1 = root_of(c.size1), root2 = root_of(c.size2);
    EXPECT_TRUE(consistency_ok(c.size1, c.size2, c.proof, root1, root2)) << "happy path";
    if (c.size1 == c.size2) {
      EXPECT_FALSE(consistency_ok(c.size1, c.size2, {root1}, root1, root2)) << "equal sizes, proof not empty";
      EXPECT_FALSE(consistency_ok(c.size1, c.size2, {}, root1, b64(kRandomHash))) << "equal sizes, roots differ";
      continue;
    }
    EXPECT_FALSE(consistency_ok(c.size1, c.size2, {}, root1, root2)) << "empty proof";
    EXPECT_FALSE(consistency_ok(c.size1 + 1, c.size2, c.proof, root1, root2)) << "size1 plus 1";
    EXPECT_FALSE(consistency_ok(c.size1 - 1, c.size2, c.proof, root1, root2)) << "size1 sub 1";
    EXPECT_FALSE(consistency_ok(c.size1 ^ 2, c.size2, c.proof, root1, root2)) << "size1 XOR 2";
    EXPECT_FALSE(consistency_ok(c.size1, c.size2 * 2, c.proof, root1, root2)) << "size2 times 2";
    EXPECT_FALSE(consistency_ok(c.size1, c.size2 / 2, c.proof, root1, root2)) << "size2 div 2";
    EXPECT_FALSE(consistency_ok(c.size1, c.size2, c.proof, root2, root1)) << "swapped roots";
    EXPECT_FALSE(consistency_ok(c.size1, c.size2, c.proof, b64(kRandomHash), root2)) << "wrong root1";
    EXPECT_FALSE(consistency_ok(c.size1, c.size2, c.proof, root1, b64(kRandomHash))) << "wrong root2";

    auto with = [&](std::function<void(Proof&)> edit) {
      Proof p = c.proof;
      edit(p);
      return p;
    };
    auto rejects = [&](const Proof& p) { return !consistency_ok(c.size1, c.size2, p, root1, root2); };
    EXPECT_TRUE(rejects(with([](Proof& p) { p.insert(p.begin(), Bytes{}); }))) << "preceding garbage";
    EXPECT_TRUE(rejects(with([](Proof& p) { p.push_back(Bytes{}); }))) << "trailing garbage";
    EXPECT_TRUE(rejects(with([&](Proof& p) { p.insert(p.begin(), root1); }))) << "preceding root1";
    EXPECT_TRUE(rejects(with([&](Proof& p) { p.insert(p.begin(), root2); }))) << "preceding root2";
    EXPECT_TRUE(rejects(with([&](Proof& p) { p.push_back(root1); }))) << "trailing root1";
    EXPECT_TRUE(rejects(with([&](Proof& p) { p.push_back(root2); }))) << "trailing root2";
    EXPECT_TRUE(rejects(with([](Proof& p) { p.insert(p.begin(), p[0]); }))) << "preceding proof[0]";
    EXPECT_TRUE(rejects(with([](Proof& p) { p.pop_back(); }))) << "truncated proof";
    for (size_t i = 0; i < c.proof.size(); ++i)
      EXPECT_TRUE(rejects(with([&](Proof& p) { p[i] = flip_bit(p[i], 4); }))) << "modified proof[" << i << "] bit 4";
  }
}

TEST(Merkle, ConsistencyEdgeCases) {
  const Bytes empty = b64(kEmptyRoot), one = b64("ZG9uJ3QgY2FyZSAx"), two = b64("ZG9uJ3QgY2FyZSAy");
  EXPECT_FALSE(consistency_ok(0, 1, {empty}, empty, empty)) << "from the empty tree is useless";
  EXPECT_FALSE(consistency_ok(0, 0, {}, empty, two)) << "roots differ, sizes zero";
  EXPECT_FALSE(consistency_ok(1, 1, {}, empty, two)) << "roots differ, sizes one";
  EXPECT_FALSE(consistency_ok(2, 1, {}, one, two)) << "size1 above size2";
  EXPECT_FALSE(consistency_ok(1, 0, {}, one, two)) << "size1 above size2 again";
  EXPECT_FALSE(consistency_ok(0, 1, {}, one, two)) << "size1 zero";
  EXPECT_FALSE(consistency_ok(0, 1, {}, empty, two)) << "size1 zero, size2 not";
  EXPECT_TRUE(consistency_ok(1, 1, {}, two, two)) << "equal sizes, equal roots, empty proof";
  EXPECT_FALSE(consistency_ok(1, 1, {}, one, two)) << "equal sizes, roots differ";
  EXPECT_FALSE(consistency_ok(0, 0, {}, one, one)) << "sizes zero";
  EXPECT_FALSE(consistency_ok(0, 0, {}, one, two)) << "sizes zero, roots differ";
  EXPECT_FALSE(consistency_ok(1, 2, {}, one, two)) << "sizes differ, proof empty";
  EXPECT_FALSE(consistency_ok(1, 1, {empty}, empty, empty)) << "sizes one, proof not empty";
  EXPECT_FALSE(consistency_ok(0, 0, {empty}, empty, empty)) << "sizes zero, proof not empty";
}

// Every proof of every tree up to 40 leaves verifies, and any single flipped bit in a proof
// element is caught.
TEST(Merkle, EveryProofOfSmallTreesVerifiesAndEveryBitFlipIsCaught) {
  MemoryTree tree;
  std::vector<Hash> roots;
  for (uint32_t n = 1; n <= 40; ++n) {
    tree.append_data(Bytes{uint8_t(n), uint8_t(n >> 8), 0x5a});
    roots.push_back(tree.root());
  }
  for (uint64_t size = 1; size <= 40; ++size) {
    const Bytes root = to_bytes(roots[size - 1]);
    for (uint64_t index = 0; index < size; ++index) {
      Proof proof;
      for (const auto& h : inclusion_proof(tree, index, size)) proof.push_back(to_bytes(h));
      const Bytes leaf = to_bytes(tree.perfect_node(0, index));
      ASSERT_TRUE(inclusion_ok(index, size, leaf, proof, root)) << index << " in " << size;
      for (size_t i = 0; i < proof.size(); ++i) {
        Proof bad = proof;
        bad[i] = flip_bit(bad[i], (index * 7 + i * 13) % 256);
        EXPECT_FALSE(inclusion_ok(index, size, leaf, bad, root));
      }
      for (uint64_t other = 0; other < size; ++other) {
        if (other != index) {
          EXPECT_FALSE(inclusion_ok(other, size, leaf, proof, root));
        }
      }
    }
    for (uint64_t size1 = 1; size1 <= size; ++size1) {
      Proof proof;
      for (const auto& h : consistency_proof(tree, size1, size)) proof.push_back(to_bytes(h));
      const Bytes root1 = to_bytes(roots[size1 - 1]);
      ASSERT_TRUE(consistency_ok(size1, size, proof, root1, root)) << size1 << " to " << size;
      for (size_t i = 0; i < proof.size(); ++i) {
        Proof bad = proof;
        bad[i] = flip_bit(bad[i], (size1 * 11 + i * 5) % 256);
        EXPECT_FALSE(consistency_ok(size1, size, bad, root1, root));
      }
      if (size1 < size) {
        // A log that rewrote any earlier entry has a different root at size1.
        MemoryTree forged;
        for (uint64_t i = 0; i < size; ++i)
          forged.append_leaf_hash(i == size1 - 1 ? leaf_hash(hex("66")) : tree.perfect_node(0, i));
        Proof forged_proof;
        for (const auto& h : consistency_proof(forged, size1, size)) forged_proof.push_back(to_bytes(h));
        EXPECT_FALSE(consistency_ok(size1, size, forged_proof, root1, to_bytes(forged.root())));
      }
    }
  }
}

TEST(Merkle, RejectsHostileInputWithReasons) {
  try {
    verify_inclusion(3, 2, leaf_at(0), {}, root_of(2));
    FAIL();
  } catch (const ProofError& e) {
    EXPECT_NE(std::string(e.what()).find("not below the tree size"), std::string::npos);
  }
  try {
    verify_inclusion(0, 2, leaf_at(0), {Bytes(31, 0)}, root_of(2));
    FAIL();
  } catch (const ProofError& e) {
    EXPECT_NE(std::string(e.what()).find("31 bytes"), std::string::npos);
  }
  EXPECT_THROW(from_base64("abc"), std::invalid_argument);
  EXPECT_THROW(from_base64("ab!="), std::invalid_argument);
  EXPECT_THROW(inclusion_proof(tree_of(3), 3, 3), std::out_of_range);
  EXPECT_THROW(consistency_proof(tree_of(3), 0, 3), std::out_of_range);
  EXPECT_THROW(consistency_proof(tree_of(3), 4, 3), std::out_of_range);
}

// transparency-dev/merkle's own files, when a checkout is named (see the file comment).
TEST(Merkle, UpstreamTestdataFilesWhenAvailable) {
  const char* dir = std::getenv("OPSIS_MERKLE_TESTDATA");
  if (!dir || !*dir) GTEST_SKIP() << "set OPSIS_MERKLE_TESTDATA to transparency-dev/merkle's testdata/ to run its files";
  namespace fs = std::filesystem;
  auto decode = [](const nlohmann::json& value) { return value.is_null() ? Bytes{} : from_base64(value.get<std::string>()); };
  auto proof_of = [&](const nlohmann::json& value) {
    Proof p;
    if (value.is_array())
      for (const auto& item : value) p.push_back(decode(item));
    return p;
  };
  int files = 0;
  for (const char* kind : {"inclusion", "consistency"}) {
    const fs::path root = fs::path(dir) / kind;
    ASSERT_TRUE(fs::is_directory(root)) << root;
    for (const auto& entry : fs::recursive_directory_iterator(root)) {
      if (entry.path().extension() != ".json") continue;
      std::ifstream in(entry.path());
      const auto j = nlohmann::json::parse(in);
      const bool want_error = j.at("wantErr").get<bool>();
      bool ok;
      if (std::string(kind) == "inclusion")
        ok = inclusion_ok(j.at("leafIdx").get<uint64_t>(), j.at("treeSize").get<uint64_t>(), decode(j.at("leafHash")),
                          proof_of(j.at("proof")), decode(j.at("root")));
      else
        ok = consistency_ok(j.at("size1").get<uint64_t>(), j.at("size2").get<uint64_t>(), proof_of(j.at("proof")),
                            decode(j.at("root1")), decode(j.at("root2")));
      EXPECT_EQ(ok, !want_error) << entry.path();
      ++files;
    }
  }
  EXPECT_GE(files, 190);  // 196 inclusion and consistency cases at the time of writing
}

}  // namespace
}  // namespace opsis::cameo::merkle
