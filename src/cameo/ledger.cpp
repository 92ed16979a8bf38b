#include "cameo/ledger.hpp"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "provenance/x509.hpp"

namespace opsis::cameo {

using merkle::Bytes;
using merkle::Hash;
using nlohmann::json;

namespace {

constexpr const char* kSchema = R"SQL(
CREATE TABLE IF NOT EXISTS ledger_entries (
  idx INTEGER PRIMARY KEY,
  record TEXT NOT NULL,
  subject TEXT NOT NULL,
  appended_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_entries_subject ON ledger_entries(subject, idx);
CREATE TABLE IF NOT EXISTS ledger_nodes (
  level INTEGER NOT NULL,
  idx INTEGER NOT NULL,
  hash BLOB NOT NULL,
  PRIMARY KEY (level, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ledger_tree_heads (
  size INTEGER NOT NULL,
  timestamp_ms INTEGER NOT NULL,
  origin TEXT NOT NULL,
  root BLOB NOT NULL,
  signature BLOB NOT NULL,
  chain TEXT NOT NULL,
  PRIMARY KEY (size, timestamp_ms)
);
)SQL";

std::string short_hex(const Hash& h) { return merkle::to_hex(std::span(h).first(8)); }

std::string describe_record(const std::string& record) {
  const json j = json::parse(record, nullptr, false);
  if (j.is_object() && j.contains("event") && j["event"].is_string()) {
    std::string text = j["event"].get<std::string>();
    if (j.contains("cameo_id") && j["cameo_id"].is_string()) text += " of " + j["cameo_id"].get<std::string>();
    return " (" + text + ")";
  }
  return "";
}

// Perfect-subtree hashes kept in ledger_nodes.
class StoredNodes : public merkle::NodeSource {
 public:
  explicit StoredNodes(const Database& db) : statement_(db, "SELECT hash FROM ledger_nodes WHERE level = ?1 AND idx = ?2") {}
  Hash perfect_node(unsigned level, uint64_t index) const override {
    statement_.reset();
    statement_.bind(1, int64_t(level)).bind(2, int64_t(index));
    if (!statement_.step())
      throw IoError("consent ledger: node " + std::to_string(level) + "/" + std::to_string(index) +
                    " is missing from the database (run `opsis ledger verify --data-dir`)");
    const Bytes bytes = statement_.blob(0);
    if (bytes.size() != 32) throw IoError("consent ledger: node hash of the wrong length in the database");
    Hash out;
    std::copy(bytes.begin(), bytes.end(), out.begin());
    return out;
  }

 private:
  mutable Statement statement_;
};

Bytes b64_field(const json& value, const std::string& field) {
  if (!value.is_string()) throw InvalidArgument(field, field + " must be a base64 string");
  try {
    return merkle::from_base64(value.get<std::string>());
  } catch (const std::invalid_argument& e) {
    throw InvalidArgument(field, field + " is not base64: " + e.what());
  }
}

uint64_t unsigned_field(const json& object, const std::string& key, const std::string& where) {
  if (!object.is_object() || !object.contains(key) || !object[key].is_number_integer() ||
      (!object[key].is_number_unsigned() && object[key].get<int64_t>() < 0))
    throw InvalidArgument(where, where + "." + key + " must be a non-negative integer");
  return object[key].get<uint64_t>();
}

std::vector<Bytes> proof_field(const json& object, const std::string& where) {
  if (!object.contains("proof") && !object.contains("inclusion_proof")) return {};
  const json& value = object.contains("proof") ? object["proof"] : object["inclusion_proof"];
  if (!value.is_array()) throw InvalidArgument(where, where + " proof must be an array of base64 hashes");
  std::vector<Bytes> out;
  for (const auto& item : value) out.push_back(b64_field(item, where + " proof"));
  return out;
}

std::string head_name(const TreeHead& head) {
  return "the signed tree head of size " + std::to_string(head.size) + " (timestamp " +
         std::to_string(head.timestamp_ms) + ")";
}

}  // namespace

Hash record_leaf_hash(const std::string& record) {
  const Hash digest = merkle::sha256(std::span(reinterpret_cast<const uint8_t*>(record.data()), record.size()));
  return merkle::leaf_hash(digest);
}

std::string checkpoint_text(const TreeHead& head) {
  return head.origin + "\n" + std::to_string(head.size) + "\n" + merkle::to_base64(head.root) + "\ntimestamp " +
         std::to_string(head.timestamp_ms) + "\n";
}

SignedTreeHead sign_tree_head(const TreeHead& head, const provenance::SigningCredentials& credentials) {
  if (head.origin.empty() || head.origin.find('\n') != std::string::npos)
    throw InvalidArgument("origin", "a ledger origin must be one non-empty line");
  const std::string text = checkpoint_text(head);
  SignedTreeHead out;
  out.head = head;
  out.signature = credentials.sign_es256(std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
  out.certificate_chain = credentials.chain_der();
  return out;
}

json to_json(const SignedTreeHead& head) {
  json chain = json::array();
  for (const auto& der : head.certificate_chain) chain.push_back(merkle::to_base64(der));
  return {{"origin", head.head.origin},
          {"size", head.head.size},
          {"root_hash", merkle::to_base64(head.head.root)},
          {"timestamp_ms", head.head.timestamp_ms},
          {"signature", merkle::to_base64(head.signature)},
          {"certificate_chain", chain}};
}

SignedTreeHead signed_tree_head_from_json(const json& value) {
  const std::string where = "tree_head";
  if (!value.is_object()) throw InvalidArgument(where, "a tree head must be a JSON object");
  SignedTreeHead out;
  if (!value.contains("origin") || !value["origin"].is_string())
    throw InvalidArgument(where, "tree_head.origin must be a string");
  out.head.origin = value["origin"].get<std::string>();
  if (out.head.origin.empty() || out.head.origin.find('\n') != std::string::npos)
    throw InvalidArgument(where, "tree_head.origin must be one non-empty line");
  out.head.size = unsigned_field(value, "size", where);
  if (!value.contains("timestamp_ms") || !value["timestamp_ms"].is_number_integer())
    throw InvalidArgument(where, "tree_head.timestamp_ms must be an integer");
  out.head.timestamp_ms = value["timestamp_ms"].get<int64_t>();
  const Bytes root = b64_field(value.value("root_hash", json()), "tree_head.root_hash");
  if (root.size() != 32) throw InvalidArgument(where, "tree_head.root_hash must be 32 bytes (SHA-256)");
  std::copy(root.begin(), root.end(), out.head.root.begin());
  out.signature = b64_field(value.value("signature", json()), "tree_head.signature");
  const json chain = value.value("certificate_chain", json());
  if (!chain.is_array() || chain.empty())
    throw InvalidArgument(where, "tree_head.certificate_chain must list the signer's certificate");
  for (const auto& der : chain) out.certificate_chain.push_back(b64_field(der, "tree_head.certificate_chain"));
  return out;
}

std::vector<std::string> check_tree_head_signature(const SignedTreeHead& head, const std::vector<Bytes>& trust_anchors) {
  std::vector<std::string> problems;
  const std::string text = checkpoint_text(head.head);
  bool signature_ok = false;
  try {
    signature_ok = !head.certificate_chain.empty() &&
                   provenance::verify_es256(head.certificate_chain[0],
                                            std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()),
                                            head.signature);
  } catch (const std::exception& e) {
    problems.push_back(head_name(head.head) + ": its certificate cannot be read: " + e.what());
    return problems;
  }
  if (!signature_ok)
    problems.push_back(head_name(head.head) +
                       ": the signature does not match its size, root and time: the head was altered after signing");
  if (!trust_anchors.empty()) {
    const auto chain = provenance::check_chain(head.certificate_chain, trust_anchors);
    if (!chain.chains_to_anchor)
      problems.push_back(head_name(head.head) + ": its signer is not issued by the trusted root you gave (" +
                         chain.error + ")");
  }
  return problems;
}

ConsentLedger::ConsentLedger(Database& db, std::string origin) : db_(db), origin_(std::move(origin)) {
  if (origin_.empty() || origin_.find('\n') != std::string::npos)
    throw InvalidArgument("origin", "a ledger origin must be one non-empty line");
  db_.exec(kSchema);
}

uint64_t ConsentLedger::append(const std::string& record, const std::string& subject, int64_t now) {
  Transaction transaction(db_);
  const uint64_t index = size();
  Statement(db_, "INSERT INTO ledger_entries (idx, record, subject, appended_at) VALUES (?1, ?2, ?3, ?4)")
      .bind(1, int64_t(index))
      .bind(2, record)
      .bind(3, subject)
      .bind(4, now)
      .run();
  Statement insert_node(db_, "INSERT INTO ledger_nodes (level, idx, hash) VALUES (?1, ?2, ?3)");
  Hash node = record_leaf_hash(record);
  insert_node.bind(1, int64_t(0)).bind(2, int64_t(index)).bind_blob(3, node).run();
  // Each level at which this leaf completes a perfect subtree gets that subtree's root.
  const StoredNodes stored(db_);
  uint64_t position = index;
  for (unsigned level = 0; position % 2 == 1; ++level) {
    node = merkle::node_hash(stored.perfect_node(level, position - 1), node);
    position /= 2;
    insert_node.reset();
    insert_node.bind(1, int64_t(level + 1)).bind(2, int64_t(position)).bind_blob(3, node).run();
  }
  transaction.commit();
  return index;
}

uint64_t ConsentLedger::size() const {
  Statement count(db_, "SELECT COALESCE(MAX(idx) + 1, 0) FROM ledger_entries");
  count.step();
  return uint64_t(count.integer(0));
}

TreeHead ConsentLedger::head_at(uint64_t size, int64_t timestamp_ms) const {
  if (size > this->size())
    throw InvalidArgument("size", "the ledger holds " + std::to_string(this->size()) + " entries, not " +
                                      std::to_string(size));
  return {origin_, size, merkle::tree_root(StoredNodes(db_), size), timestamp_ms};
}

LedgerEntry ConsentLedger::entry(uint64_t index) const {
  Statement select(db_, "SELECT idx, record, subject, appended_at FROM ledger_entries WHERE idx = ?1");
  select.bind(1, int64_t(index));
  if (!select.step()) throw InvalidArgument("index", "no ledger entry " + std::to_string(index));
  return {uint64_t(select.integer(0)), select.text(1), select.text(2), select.integer(3)};
}

std::vector<LedgerEntry> ConsentLedger::entries(const std::string& subject) const {
  Statement select(db_, subject.empty()
                            ? "SELECT idx, record, subject, appended_at FROM ledger_entries ORDER BY idx"
                            : "SELECT idx, record, subject, appended_at FROM ledger_entries WHERE subject = ?1 ORDER BY idx");
  if (!subject.empty()) select.bind(1, subject);
  std::vector<LedgerEntry> out;
  while (select.step()) out.push_back({uint64_t(select.integer(0)), select.text(1), select.text(2), select.integer(3)});
  return out;
}

std::vector<Hash> ConsentLedger::inclusion_proof(uint64_t index, uint64_t size) const {
  if (size > this->size() || index >= size)
    throw InvalidArgument("index", "no entry " + std::to_string(index) + " in a ledger of size " + std::to_string(size));
  return merkle::inclusion_proof(StoredNodes(db_), index, size);
}

std::vector<Hash> ConsentLedger::consistency_proof(uint64_t size1, uint64_t size2) const {
  if (size2 > size() || size1 == 0 || size1 > size2)
    throw InvalidArgument("size", "no consistency proof from size " + std::to_string(size1) + " to " +
                                      std::to_string(size2));
  return merkle::consistency_proof(StoredNodes(db_), size1, size2);
}

SignedTreeHead ConsentLedger::sign_head(const provenance::SigningCredentials& credentials, int64_t now_ms) {
  Transaction transaction(db_);
  const SignedTreeHead signed_head = sign_tree_head(head_at(size(), now_ms), credentials);
  Statement(db_,
            "INSERT OR REPLACE INTO ledger_tree_heads (size, timestamp_ms, origin, root, signature, chain) "
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
      .bind(1, int64_t(signed_head.head.size))
      .bind(2, signed_head.head.timestamp_ms)
      .bind(3, signed_head.head.origin)
      .bind_blob(4, signed_head.head.root)
      .bind_blob(5, signed_head.signature)
      .bind(6, to_json(signed_head)["certificate_chain"].dump())
      .run();
  transaction.commit();
  return signed_head;
}

SignedTreeHead ConsentLedger::current_signed_head(const provenance::SigningCredentials& credentials, int64_t now_ms) {
  Transaction transaction(db_);
  const auto latest = latest_signed_head();
  if (latest && latest->head.size == size()) return *latest;
  SignedTreeHead head = sign_head(credentials, now_ms);
  transaction.commit();
  return head;
}

std::vector<SignedTreeHead> ConsentLedger::signed_heads(size_t latest) const {
  // The latest `latest` heads (all when 0), returned oldest first.
  Statement select(db_,
                   "SELECT * FROM (SELECT size, timestamp_ms, origin, root, signature, chain FROM ledger_tree_heads "
                   "ORDER BY timestamp_ms DESC, size DESC LIMIT ?1) ORDER BY timestamp_ms, size");
  select.bind(1, latest == 0 ? int64_t(-1) : int64_t(latest));
  std::vector<SignedTreeHead> out;
  while (select.step()) {
    SignedTreeHead head;
    head.head.size = uint64_t(select.integer(0));
    head.head.timestamp_ms = select.integer(1);
    head.head.origin = select.text(2);
    const Bytes root = select.blob(3);
    if (root.size() == 32) std::copy(root.begin(), root.end(), head.head.root.begin());
    head.signature = select.blob(4);
    const json chain = json::parse(select.text(5), nullptr, false);
    if (chain.is_array())
      for (const auto& der : chain)
        if (der.is_string()) head.certificate_chain.push_back(merkle::from_base64(der.get<std::string>()));
    out.push_back(std::move(head));
  }
  return out;
}

std::optional<SignedTreeHead> ConsentLedger::latest_signed_head() const {
  auto heads = signed_heads(1);
  if (heads.empty()) return std::nullopt;
  return heads.back();
}

json ConsentLedger::export_bundle(const SignedTreeHead& head, const std::string& subject,
                                  const std::vector<uint64_t>& from_sizes) const {
  if (head.head.size > size())
    throw InvalidArgument("size", "the tree head covers more entries than this ledger holds");
  json entries = json::array();
  for (const auto& entry : this->entries(subject)) {
    if (entry.index >= head.head.size) break;
    json proof = json::array();
    for (const auto& h : inclusion_proof(entry.index, head.head.size)) proof.push_back(merkle::to_base64(h));
    entries.push_back({{"index", entry.index}, {"record", entry.record}, {"inclusion_proof", proof}});
  }
  // One consistency proof per earlier size that was signed (the latest head of each size).
  std::map<uint64_t, SignedTreeHead> earlier;
  for (auto& previous : signed_heads())
    if (previous.head.size > 0 && previous.head.size <= head.head.size &&
        previous.head.timestamp_ms < head.head.timestamp_ms &&
        (from_sizes.empty() || std::find(from_sizes.begin(), from_sizes.end(), previous.head.size) != from_sizes.end()))
      earlier[previous.head.size] = previous;
  while (from_sizes.empty() && earlier.size() > kRecentHeadsInBundle) earlier.erase(earlier.begin());
  json consistency = json::array();
  for (const auto& [earlier_size, previous] : earlier) {
    json proof = json::array();
    for (const auto& h : consistency_proof(earlier_size, head.head.size)) proof.push_back(merkle::to_base64(h));
    consistency.push_back({{"tree_head", to_json(previous)}, {"proof", proof}});
  }
  return {{"format", kLedgerBundleFormat},
          {"tree_head", to_json(head)},
          {"complete", subject.empty()},
          {"subject", subject},
          {"entries", entries},
          {"consistency", consistency}};
}

LedgerReport ConsentLedger::audit(const std::vector<Bytes>& trust_anchors) const {
  LedgerReport report;
  merkle::MemoryTree rebuilt;
  uint64_t expected_index = 0;
  for (const auto& entry : entries()) {
    if (entry.index != expected_index) {
      report.problems.push_back("entries " + std::to_string(expected_index) + " to " + std::to_string(entry.index - 1) +
                                " are missing: entries were removed from the log");
      expected_index = entry.index;
    }
    rebuilt.append_leaf_hash(record_leaf_hash(entry.record));
    ++expected_index;
  }
  // rebuilt holds the records in stored order; compare each with its stored leaf hash.
  const uint64_t stored_size = expected_index;
  const StoredNodes stored(db_);
  uint64_t position = 0;
  for (const auto& entry : entries()) {
    const Hash from_record = rebuilt.perfect_node(0, position++);
    try {
      if (stored.perfect_node(0, entry.index) != from_record)
        report.problems.push_back("entry " + std::to_string(entry.index) + describe_record(entry.record) +
                                  ": its record no longer matches the leaf hash it was appended with: it was edited "
                                  "(or moved) after it was written");
    } catch (const IoError&) {
      report.problems.push_back("entry " + std::to_string(entry.index) + ": its leaf hash is missing");
    }
  }
  if (report.problems.empty()) report.passed.push_back(std::to_string(stored_size) + " entries match their leaf hashes");

  const auto heads = signed_heads();
  if (heads.empty()) report.notes.push_back("no signed tree head has been issued yet; nothing ties the log to a signature");
  for (const auto& head : heads) {
    for (auto& problem : check_tree_head_signature(head, trust_anchors)) report.problems.push_back(problem);
    if (head.head.size > rebuilt.size()) {
      report.problems.push_back(head_name(head.head) + " covers " + std::to_string(head.head.size) +
                                " entries but the log now holds " + std::to_string(rebuilt.size()) +
                                ": entries were removed");
      continue;
    }
    const Hash root = merkle::tree_root(rebuilt, head.head.size);
    if (root != head.head.root)
      report.problems.push_back(head_name(head.head) + " signed root " + short_hex(head.head.root) +
                                "..., but entries 0.." + std::to_string(head.head.size - 1) + " now give " +
                                short_hex(root) + "...: entries before " + std::to_string(head.head.size) +
                                " were edited, removed, inserted or reordered since it was signed");
    else
      report.passed.push_back(head_name(head.head) + " matches the entries");
  }
  return report;
}

namespace {
LedgerReport verify_bundle_unguarded(const json& bundle, const BundleCheckOptions& options);
}  // namespace

LedgerReport verify_bundle(const json& bundle, const BundleCheckOptions& options) {
  try {
    return verify_bundle_unguarded(bundle, options);
  } catch (const json::exception& e) {
    LedgerReport report;
    report.problems.push_back(std::string("the bundle is malformed (a field has the wrong type): ") + e.what());
    return report;
  } catch (const InvalidArgument& e) {
    LedgerReport report;
    report.problems.push_back(std::string("the bundle is malformed: ") + e.what());
    return report;
  }
}

namespace {

LedgerReport verify_bundle_unguarded(const json& bundle, const BundleCheckOptions& options) {
  LedgerReport report;
  if (!bundle.is_object() || bundle.value("format", "") != std::string(kLedgerBundleFormat)) {
    report.problems.push_back(std::string("not a consent ledger bundle (format must be \"") + kLedgerBundleFormat + "\")");
    return report;
  }
  SignedTreeHead head;
  try {
    head = signed_tree_head_from_json(bundle.value("tree_head", json()));
  } catch (const InvalidArgument& e) {
    report.problems.push_back(std::string("the tree head is malformed: ") + e.what());
    return report;
  }
  const auto signature_problems = check_tree_head_signature(head, options.trust_anchors);
  report.problems.insert(report.problems.end(), signature_problems.begin(), signature_problems.end());
  if (signature_problems.empty())
    report.passed.push_back(head_name(head.head) + " is signed" +
                            (options.trust_anchors.empty() ? "" : " by a key the trusted root issued"));
  if (options.trust_anchors.empty())
    report.notes.push_back("the signature was checked against the certificate inside the bundle only; pass the "
                           "server's root certificate (--trust) to tie it to that server");

  // Entries and their inclusion proofs.
  const json entries = bundle.value("entries", json::array());
  if (!entries.is_array()) {
    report.problems.push_back("entries must be an array");
    return report;
  }
  merkle::MemoryTree rebuilt;
  std::vector<uint64_t> indexes;
  bool entries_readable = true;
  size_t verified = 0;
  for (size_t position = 0; position < entries.size(); ++position) {
    const json& item = entries[position];
    const std::string where = "entry at position " + std::to_string(position);
    try {
      const uint64_t index = unsigned_field(item, "index", where);
      if (!item.contains("record") || !item["record"].is_string())
        throw InvalidArgument(where, where + " has no record text");
      const std::string record = item["record"].get<std::string>();
      const Hash leaf = record_leaf_hash(record);
      rebuilt.append_leaf_hash(leaf);
      indexes.push_back(index);
      try {
        merkle::verify_inclusion(index, head.head.size, leaf, proof_field(item, where), head.head.root);
        ++verified;
      } catch (const merkle::ProofError& e) {
        report.problems.push_back("entry " + std::to_string(index) + describe_record(record) +
                                  " is not in the signed log at that position: " + e.what() +
                                  ". Its record was edited, or it was moved from another position");
      }
    } catch (const InvalidArgument& e) {
      entries_readable = false;
      report.problems.push_back(e.what());
    }
  }
  if (verified == entries.size())
    report.passed.push_back(std::to_string(verified) + " entries proven included in " + head_name(head.head));
  for (size_t i = 0; i < indexes.size(); ++i) {
    if (i > 0 && indexes[i] <= indexes[i - 1])
      report.problems.push_back("entry " + std::to_string(indexes[i]) + " follows entry " + std::to_string(indexes[i - 1]) +
                                ": entries are out of order or repeated (reordered or duplicated)");
  }
  if (bundle.value("complete", false) && entries_readable) {
    if (entries.size() != head.head.size)
      report.problems.push_back("the bundle claims the whole log, but holds " + std::to_string(entries.size()) +
                                " entries where the signed head counts " + std::to_string(head.head.size) +
                                ": entries were " + (entries.size() < head.head.size ? "removed" : "added"));
    for (size_t i = 0; i < indexes.size(); ++i)
      if (indexes[i] != i) {
        report.problems.push_back("the complete log's entry at position " + std::to_string(i) + " claims index " +
                                  std::to_string(indexes[i]) + ": entries are missing or reordered");
        break;
      }
    const Hash root = rebuilt.root();
    if (root != head.head.root)
      report.problems.push_back("the entries, in the order given, rebuild root " + short_hex(root) +
                                "..., not the signed root " + short_hex(head.head.root) +
                                "...: an entry was edited, removed, added or reordered");
    else
      report.passed.push_back("the complete log rebuilds the signed root");
  }

  // Consistency with earlier signed heads: the log only grew.
  const json consistency = bundle.value("consistency", json::array());
  std::vector<SignedTreeHead> proven_earlier;
  if (!consistency.is_array()) report.problems.push_back("consistency must be an array");
  else
    for (const auto& item : consistency) {
      try {
        const SignedTreeHead earlier = signed_tree_head_from_json(item.value("tree_head", json()));
        for (auto& problem : check_tree_head_signature(earlier, options.trust_anchors)) report.problems.push_back(problem);
        merkle::verify_consistency(earlier.head.size, head.head.size, proof_field(item, "consistency"),
                                   earlier.head.root, head.head.root);
        report.passed.push_back("the log at size " + std::to_string(head.head.size) + " extends " + head_name(earlier.head));
        proven_earlier.push_back(earlier);
      } catch (const merkle::ProofError& e) {
        report.problems.push_back("history was rewritten: the log at size " + std::to_string(head.head.size) +
                                  " does not extend an earlier signed head: " + e.what());
      } catch (const InvalidArgument& e) {
        report.problems.push_back(std::string("a consistency item is malformed: ") + e.what());
      }
    }

  // Heads the checker saved earlier: each must be the same head, or proven to be extended.
  for (const auto& previous : options.previous_heads) {
    const std::string name = "your saved head of size " + std::to_string(previous.head.size);
    if (previous.head.size > head.head.size) {
      report.problems.push_back(name + " is larger than the bundle's head (" + std::to_string(head.head.size) +
                                "): the log shrank, or this bundle is stale");
      continue;
    }
    if (previous.head.size == head.head.size) {
      if (previous.head.root == head.head.root) report.passed.push_back(name + " is the bundle's head");
      else
        report.problems.push_back(name + " has a different root than the bundle's head of the same size: two "
                                         "different histories were signed (a fork)");
      continue;
    }
    const auto proven = std::find_if(proven_earlier.begin(), proven_earlier.end(), [&](const SignedTreeHead& h) {
      return h.head.size == previous.head.size && h.head.root == previous.head.root;
    });
    if (proven == proven_earlier.end()) {
      const bool same_size_other_root = std::any_of(proven_earlier.begin(), proven_earlier.end(), [&](const SignedTreeHead& h) {
        return h.head.size == previous.head.size;
      });
      report.problems.push_back(name + (same_size_other_root
                                            ? " differs from the head of that size the log now proves: history was rewritten"
                                            : " has no consistency proof in the bundle: it cannot show the log only grew"));
    } else {
      report.passed.push_back(name + " is extended by the bundle's head");
    }
  }
  return report;
}

}  // namespace

}  // namespace opsis::cameo
