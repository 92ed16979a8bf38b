#include "cameo/merkle.hpp"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <bit>
#include <cctype>
#include <cstring>

namespace opsis::cameo::merkle {

Hash sha256(std::span<const uint8_t> data) {
  Hash out;
  SHA256(data.data(), data.size(), out.data());
  return out;
}

Hash leaf_hash(std::span<const uint8_t> leaf_data) {
  Bytes buffer;
  buffer.reserve(leaf_data.size() + 1);
  buffer.push_back(0x00);
  buffer.insert(buffer.end(), leaf_data.begin(), leaf_data.end());
  return sha256(buffer);
}

Hash node_hash(const Hash& left, const Hash& right) {
  uint8_t buffer[1 + 64];
  buffer[0] = 0x01;
  std::memcpy(buffer + 1, left.data(), 32);
  std::memcpy(buffer + 33, right.data(), 32);
  return sha256(buffer);
}

Hash empty_root() { return sha256({}); }

uint64_t split_point(uint64_t n) {
  if (n < 2) throw std::out_of_range("merkle: split of a tree smaller than 2");
  return std::bit_floor(n - 1);
}

std::string to_hex(std::span<const uint8_t> bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

std::string to_base64(std::span<const uint8_t> bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes.data(), int(bytes.size()));
  out.resize(size_t(n));
  return out;
}

Bytes from_base64(const std::string& text) {
  if (text.size() % 4 != 0) throw std::invalid_argument("base64 length is not a multiple of 4");
  for (char c : text)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' || c == '='))
      throw std::invalid_argument("not base64");
  Bytes out(text.size() / 4 * 3);
  const int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()), int(text.size()));
  if (n < 0) throw std::invalid_argument("not base64");
  size_t padding = 0;
  if (!text.empty() && text.back() == '=') ++padding;
  if (text.size() > 1 && text[text.size() - 2] == '=') ++padding;
  out.resize(size_t(n) - padding);
  if (to_base64(out) != text) throw std::invalid_argument("not canonical base64");
  return out;
}

Bytes to_bytes(const Hash& hash) { return Bytes(hash.begin(), hash.end()); }

Hash to_hash(std::span<const uint8_t> bytes, const std::string& what) {
  if (bytes.size() != 32)
    throw ProofError(what + " is " + std::to_string(bytes.size()) + " bytes long; a SHA-256 hash is 32");
  Hash out;
  std::memcpy(out.data(), bytes.data(), 32);
  return out;
}

Hash subtree_root(const NodeSource& nodes, uint64_t begin, uint64_t end) {
  if (end < begin) throw std::out_of_range("merkle: subtree with end before begin");
  const uint64_t n = end - begin;
  if (n == 0) return empty_root();
  if (std::has_single_bit(n) && begin % n == 0) return nodes.perfect_node(unsigned(std::countr_zero(n)), begin / n);
  const uint64_t k = split_point(n);
  return node_hash(subtree_root(nodes, begin, begin + k), subtree_root(nodes, begin + k, end));
}

Hash tree_root(const NodeSource& nodes, uint64_t size) { return subtree_root(nodes, 0, size); }

namespace {

// PATH(m, D[begin:end]), appended deepest first.
void path(const NodeSource& nodes, uint64_t m, uint64_t begin, uint64_t end, std::vector<Hash>& out) {
  const uint64_t n = end - begin;
  if (n <= 1) return;
  const uint64_t k = split_point(n);
  if (m < k) {
    path(nodes, m, begin, begin + k, out);
    out.push_back(subtree_root(nodes, begin + k, end));
  } else {
    path(nodes, m - k, begin + k, end, out);
    out.push_back(subtree_root(nodes, begin, begin + k));
  }
}

// SUBPROOF(m, D[begin:end], b).
void subproof(const NodeSource& nodes, uint64_t m, uint64_t begin, uint64_t end, bool whole, std::vector<Hash>& out) {
  const uint64_t n = end - begin;
  if (m == n) {
    if (!whole) out.push_back(subtree_root(nodes, begin, end));
    return;
  }
  const uint64_t k = split_point(n);
  if (m <= k) {
    subproof(nodes, m, begin, begin + k, whole, out);
    out.push_back(subtree_root(nodes, begin + k, end));
  } else {
    subproof(nodes, m - k, begin + k, end, false, out);
    out.push_back(subtree_root(nodes, begin, begin + k));
  }
}

}  // namespace

std::vector<Hash> inclusion_proof(const NodeSource& nodes, uint64_t index, uint64_t size) {
  if (index >= size)
    throw std::out_of_range("merkle: no entry " + std::to_string(index) + " in a tree of " + std::to_string(size));
  std::vector<Hash> out;
  path(nodes, index, 0, size, out);
  return out;
}

std::vector<Hash> consistency_proof(const NodeSource& nodes, uint64_t size1, uint64_t size2) {
  if (size1 == 0 || size1 > size2)
    throw std::out_of_range("merkle: no consistency proof from size " + std::to_string(size1) + " to " +
                            std::to_string(size2));
  std::vector<Hash> out;
  if (size1 < size2) subproof(nodes, size1, 0, size2, true, out);
  return out;
}

namespace {

std::vector<Hash> proof_hashes(const std::vector<Bytes>& proof) {
  std::vector<Hash> out;
  out.reserve(proof.size());
  for (size_t i = 0; i < proof.size(); ++i) out.push_back(to_hash(proof[i], "proof element " + std::to_string(i)));
  return out;
}

bool equal(const Hash& a, std::span<const uint8_t> b) {
  return b.size() == a.size() && std::memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

void verify_inclusion(uint64_t index, uint64_t size, std::span<const uint8_t> leaf, const std::vector<Bytes>& proof,
                      std::span<const uint8_t> root) {
  if (index >= size)
    throw ProofError("entry index " + std::to_string(index) + " is not below the tree size " + std::to_string(size));
  const Hash leaf_value = to_hash(leaf, "the leaf hash");
  const std::vector<Hash> path = proof_hashes(proof);
  uint64_t fn = index;
  uint64_t sn = size - 1;
  Hash r = leaf_value;
  for (const Hash& p : path) {
    if (sn == 0) throw ProofError("the inclusion proof is longer than a tree of this size needs");
    if ((fn & 1) || fn == sn) {
      r = node_hash(p, r);
      if (!(fn & 1))
        while (fn != 0 && !(fn & 1)) {
          fn >>= 1;
          sn >>= 1;
        }
    } else {
      r = node_hash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) throw ProofError("the inclusion proof is shorter than a tree of this size needs");
  if (!equal(r, root))
    throw ProofError("the inclusion proof leads to root " + to_hex(r) + ", not the expected root " + to_hex(root));
}

void verify_consistency(uint64_t size1, uint64_t size2, const std::vector<Bytes>& proof, std::span<const uint8_t> root1,
                        std::span<const uint8_t> root2) {
  if (size2 < size1)
    throw ProofError("the second tree (" + std::to_string(size2) + ") is smaller than the first (" +
                     std::to_string(size1) + "): a log never shrinks");
  if (size1 == 0) throw ProofError("a consistency proof from an empty tree proves nothing");
  if (size1 == size2) {
    if (!proof.empty()) throw ProofError("trees of equal size need an empty consistency proof");
    if (root1.size() != root2.size() || std::memcmp(root1.data(), root2.data(), root1.size()) != 0)
      throw ProofError("two trees of the same size " + std::to_string(size1) + " have different roots");
    return;
  }
  if (proof.empty()) throw ProofError("the consistency proof is empty");
  std::vector<Hash> path = proof_hashes(proof);
  if (std::has_single_bit(size1)) path.insert(path.begin(), to_hash(root1, "the first root"));
  uint64_t fn = size1 - 1;
  uint64_t sn = size2 - 1;
  while (fn & 1) {
    fn >>= 1;
    sn >>= 1;
  }
  Hash fr = path[0];
  Hash sr = path[0];
  for (size_t i = 1; i < path.size(); ++i) {
    const Hash& c = path[i];
    if (sn == 0) throw ProofError("the consistency proof is longer than these sizes need");
    if ((fn & 1) || fn == sn) {
      fr = node_hash(c, fr);
      sr = node_hash(c, sr);
      if (!(fn & 1))
        while (fn != 0 && !(fn & 1)) {
          fn >>= 1;
          sn >>= 1;
        }
    } else {
      sr = node_hash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) throw ProofError("the consistency proof is shorter than these sizes need");
  if (!equal(fr, root1))
    throw ProofError("the consistency proof does not reproduce the first root: the log of size " +
                     std::to_string(size1) + " is not a prefix of the log of size " + std::to_string(size2));
  if (!equal(sr, root2))
    throw ProofError("the consistency proof does not reproduce the second root: the log of size " +
                     std::to_string(size2) + " does not extend the log of size " + std::to_string(size1));
}

void MemoryTree::append_leaf_hash(const Hash& leaf) {
  if (levels_.empty()) levels_.emplace_back();
  levels_[0].push_back(leaf);
  for (size_t level = 0; levels_[level].size() % 2 == 0; ++level) {
    if (level + 1 == levels_.size()) levels_.emplace_back();
    const auto& row = levels_[level];
    levels_[level + 1].push_back(node_hash(row[row.size() - 2], row[row.size() - 1]));
  }
}

Hash MemoryTree::perfect_node(unsigned level, uint64_t index) const {
  if (level >= levels_.size() || index >= levels_[level].size())
    throw std::out_of_range("merkle: no perfect node at level " + std::to_string(level) + " index " +
                            std::to_string(index));
  return levels_[level][index];
}

}  // namespace opsis::cameo::merkle
