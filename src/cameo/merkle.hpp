#pragma once
// RFC 6962 / RFC 9162 Merkle tree hashing: leaf hash SHA-256(0x00 || data), node hash
// SHA-256(0x01 || left || right), trees split at the largest power of two smaller than their
// size; inclusion and consistency proofs (RFC 9162 2.1.3 and 2.1.4) made from any store of
// perfect-subtree hashes, and verified from untrusted input.
#include <array>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace opsis::cameo::merkle {

using Hash = std::array<uint8_t, 32>;
using Bytes = std::vector<uint8_t>;

// A proof, a root or a leaf hash that does not verify; the message says which check failed.
class ProofError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

Hash sha256(std::span<const uint8_t> data);
Hash leaf_hash(std::span<const uint8_t> leaf_data);
Hash node_hash(const Hash& left, const Hash& right);
// MTH({}) = SHA-256 of the empty string.
Hash empty_root();

// k with k < n <= 2k, k a power of two (n >= 2).
uint64_t split_point(uint64_t n);

std::string to_hex(std::span<const uint8_t> bytes);
std::string to_base64(std::span<const uint8_t> bytes);
// Throws std::invalid_argument for text that is not canonical padded base64.
Bytes from_base64(const std::string& text);
Bytes to_bytes(const Hash& hash);
// Throws ProofError unless `bytes` is exactly 32 bytes; `what` names it in the message.
Hash to_hash(std::span<const uint8_t> bytes, const std::string& what);

// Hashes of perfect subtrees: perfect_node(level, index) is MTH of leaves
// [index * 2^level, (index + 1) * 2^level); level 0 gives the leaf hashes.
class NodeSource {
 public:
  virtual ~NodeSource() = default;
  virtual Hash perfect_node(unsigned level, uint64_t index) const = 0;
};

// MTH(D[begin:end]) for a range that the RFC's recursion produces (begin a multiple of the
// largest power of two not above end - begin). O(log n) perfect_node calls.
Hash subtree_root(const NodeSource& nodes, uint64_t begin, uint64_t end);
Hash tree_root(const NodeSource& nodes, uint64_t size);

// PATH(index, D[size]) (RFC 9162 2.1.3.1). Throws std::out_of_range unless index < size.
std::vector<Hash> inclusion_proof(const NodeSource& nodes, uint64_t index, uint64_t size);
// PROOF(size1, D[size2]) (RFC 9162 2.1.4.1); empty when size1 == size2. Throws
// std::out_of_range unless 0 < size1 <= size2.
std::vector<Hash> consistency_proof(const NodeSource& nodes, uint64_t size1, uint64_t size2);

// RFC 9162 2.1.3.2. Proof elements and roots arrive as bytes of any length (hostile input).
// Throws ProofError saying what failed.
void verify_inclusion(uint64_t index, uint64_t size, std::span<const uint8_t> leaf_hash,
                      const std::vector<Bytes>& proof, std::span<const uint8_t> root);
// RFC 9162 2.1.4.2, with the same edge rules as the transparency-dev verifier: a proof from
// an empty tree is refused, equal sizes need an empty proof and equal roots.
void verify_consistency(uint64_t size1, uint64_t size2, const std::vector<Bytes>& proof,
                        std::span<const uint8_t> root1, std::span<const uint8_t> root2);

// A whole tree in memory, every perfect node kept as leaves arrive (2n hashes).
class MemoryTree : public NodeSource {
 public:
  void append_data(std::span<const uint8_t> leaf_data) { append_leaf_hash(leaf_hash(leaf_data)); }
  void append_leaf_hash(const Hash& leaf);
  uint64_t size() const { return levels_.empty() ? 0 : levels_[0].size(); }
  Hash root() const { return tree_root(*this, size()); }
  Hash perfect_node(unsigned level, uint64_t index) const override;

 private:
  std::vector<std::vector<Hash>> levels_;
};

}  // namespace opsis::cameo::merkle
