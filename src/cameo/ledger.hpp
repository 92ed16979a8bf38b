#pragma once
// The consent ledger: an append-only RFC 6962 Merkle log of consent records (JSON text
// naming cameos, users, permissions and hashes — never images), kept in SQLite beside the
// registry so a change and its ledger entry commit together. The server signs tree heads
// with its provenance key (ES256, the C2PA signer certificate); anyone holding a bundle
// (entries + inclusion proofs + signed head + consistency proofs) can check it offline.
//
// Leaf data of entry i is SHA-256(record_i) (a commitment: the log proves the record without
// carrying it), so its leaf hash is SHA-256(0x00 || SHA-256(record_i)).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "cameo/merkle.hpp"
#include "cameo/sqlite_database.hpp"

namespace opsis::provenance {
class SigningCredentials;
}

namespace opsis::cameo {

inline constexpr const char* kLedgerBundleFormat = "opsis-consent-ledger-bundle/v1";
inline constexpr const char* kDefaultLedgerOrigin = "opsis/consent-ledger";

merkle::Hash record_leaf_hash(const std::string& record);

struct TreeHead {
  std::string origin;
  uint64_t size = 0;
  merkle::Hash root{};
  int64_t timestamp_ms = 0;
};

// The signed text, in the C2SP checkpoint shape: origin, size, base64 root, then a
// "timestamp <unix ms>" line. Each line ends in '\n'.
std::string checkpoint_text(const TreeHead& head);

struct SignedTreeHead {
  TreeHead head;
  merkle::Bytes signature;                       // ES256 r||s over checkpoint_text(head)
  std::vector<merkle::Bytes> certificate_chain;  // DER, signer first
};

SignedTreeHead sign_tree_head(const TreeHead& head, const provenance::SigningCredentials& credentials);
nlohmann::json to_json(const SignedTreeHead& head);
// Throws opsis::InvalidArgument("tree_head", ...) for anything malformed.
SignedTreeHead signed_tree_head_from_json(const nlohmann::json& value);

// Checks the signature with the bundled signer certificate, and, when anchors are given,
// that the certificate chains to one of them. Returns the problems (empty = good).
std::vector<std::string> check_tree_head_signature(const SignedTreeHead& head,
                                                   const std::vector<merkle::Bytes>& trust_anchors);

struct LedgerEntry {
  uint64_t index = 0;
  std::string record;
  std::string subject;  // the cameo the event is about
  int64_t appended_at = 0;
};

// What a verification found: every problem in words a person can act on, and the checks
// that passed.
struct LedgerReport {
  std::vector<std::string> problems;
  std::vector<std::string> passed;
  std::vector<std::string> notes;
  bool ok() const { return problems.empty(); }
};

class ConsentLedger {
 public:
  // Creates the ledger tables in `db` if missing. The ledger keeps a reference to `db`.
  explicit ConsentLedger(Database& db, std::string origin = kDefaultLedgerOrigin);

  // Appends one record inside the caller's transaction (or its own); returns its index.
  uint64_t append(const std::string& record, const std::string& subject, int64_t now);

  uint64_t size() const;
  TreeHead head_at(uint64_t size, int64_t timestamp_ms) const;
  LedgerEntry entry(uint64_t index) const;
  // Entries about `subject` (all when empty), oldest first.
  std::vector<LedgerEntry> entries(const std::string& subject = "") const;

  std::vector<merkle::Hash> inclusion_proof(uint64_t index, uint64_t size) const;
  std::vector<merkle::Hash> consistency_proof(uint64_t size1, uint64_t size2) const;

  // Signs the current head and keeps it (a head the server has published).
  SignedTreeHead sign_head(const provenance::SigningCredentials& credentials, int64_t now_ms);
  // The head to publish: the latest signed one when it covers the whole log, else a new one.
  SignedTreeHead current_signed_head(const provenance::SigningCredentials& credentials, int64_t now_ms);
  // The heads signed so far, oldest first; only the latest `latest` of them when not 0.
  std::vector<SignedTreeHead> signed_heads(size_t latest = 0) const;
  std::optional<SignedTreeHead> latest_signed_head() const;

  // A bundle for offline verification against `head`: the entries about `subject` (every
  // entry when empty, marked complete) with inclusion proofs, and consistency proofs from
  // earlier signed heads — those of the sizes in `from_sizes` (a client's saved heads), or,
  // when none are named, the latest kRecentHeadsInBundle earlier sizes.
  nlohmann::json export_bundle(const SignedTreeHead& head, const std::string& subject = "",
                               const std::vector<uint64_t>& from_sizes = {}) const;
  static constexpr size_t kRecentHeadsInBundle = 8;

  // Re-derives the whole log from the stored records and checks it against every stored
  // signed head: catches edited, removed, inserted and reordered entries.
  LedgerReport audit(const std::vector<merkle::Bytes>& trust_anchors) const;

 private:
  Database& db_;
  std::string origin_;
};

struct BundleCheckOptions {
  std::vector<merkle::Bytes> trust_anchors;  // DER roots; empty: signatures checked against the bundled key only
  std::vector<SignedTreeHead> previous_heads;  // heads the checker saved earlier: the log must extend them
};

// Checks a bundle made by export_bundle (or sent by the server) without any database.
LedgerReport verify_bundle(const nlohmann::json& bundle, const BundleCheckOptions& options);

}  // namespace opsis::cameo
