#include "provenance/c2pa.hpp"

#include <openssl/rand.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iterator>

#include "core/error.hpp"
#include "provenance/c2pa_bmff.hpp"
#include "provenance/cbor.hpp"
#include "provenance/cose.hpp"
#include "provenance/jumbf.hpp"

namespace opsis::provenance {
namespace {

namespace fs = std::filesystem;
using cbor::Value;

constexpr const char* kAssertionStoreLabel = "c2pa.assertions";
constexpr const char* kClaimV2Label = "c2pa.claim.v2";
constexpr const char* kClaimV1Label = "c2pa.claim";
constexpr const char* kSignatureLabel = "c2pa.signature";
constexpr const char* kActionsLabel = "c2pa.actions.v2";
constexpr const char* kIngredientLabel = "c2pa.ingredient.v3";
constexpr const char* kBmffHashLabel = "c2pa.hash.bmff.v3";
constexpr const char* kTrainingMiningLabel = "cawg.training-mining";
constexpr const char* kGenerationLabel = "org.opsis.generation";
constexpr const char* kTrainedAlgorithmicMedia =
    "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia";
constexpr const char* kCompositeWithTrainedAlgorithmicMedia =
    "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia";

Bytes read_file(const fs::path& path, const std::string& field) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InvalidArgument(field, "cannot read " + path.string());
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string hex(std::span<const uint8_t> bytes) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (uint8_t b : bytes) {
    s.push_back(digits[b >> 4]);
    s.push_back(digits[b & 15]);
  }
  return s;
}

std::string random_uuid() {
  uint8_t b[16];
  if (RAND_bytes(b, sizeof b) != 1) throw IoError("no randomness for a manifest id");
  b[6] = uint8_t((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = uint8_t((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  const std::string h = hex(b);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" +
         h.substr(20, 12);
}

std::string now_iso8601() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

std::string media_type_for(const fs::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  if (ext == ".png") return "image/png";
  if (ext == ".jpg" || ext == ".jpeg") return "image/jpeg";
  if (ext == ".webp") return "image/webp";
  if (ext == ".mp4" || ext == ".m4v") return "video/mp4";
  if (ext == ".mov") return "video/quicktime";
  return "application/octet-stream";
}

std::string manifest_uri(const std::string& manifest_label) { return "self#jumbf=/c2pa/" + manifest_label; }

std::string assertion_uri(const std::string& manifest_label, const std::string& assertion_label) {
  return manifest_uri(manifest_label) + "/" + kAssertionStoreLabel + "/" + assertion_label;
}

Value hashed_uri(const std::string& url, const Bytes& hash) {
  Value v = Value::map();
  v.set("url", url);
  v.set("hash", hash);
  return v;
}

jumbf::Box cbor_assertion_box(const std::string& label, const Value& data) {
  jumbf::Box box = jumbf::Box::superbox(jumbf::kCborType, label);
  box.children.push_back(jumbf::Box::content_box("cbor", cbor::encode(data)));
  return box;
}

// An assertion as it goes into the store, with the hash its claim reference carries:
// SHA-256 of the assertion's superbox without its 8-byte header.
struct BuiltAssertion {
  std::string label;
  jumbf::Box box;
  Bytes hash;
};

BuiltAssertion build_assertion(const std::string& label, const Value& data) {
  BuiltAssertion a{label, cbor_assertion_box(label, data), {}};
  a.hash = sha256(jumbf::serialize_payload(a.box));
  return a;
}

Value status_list(const std::vector<Status>& statuses) {
  Value list = Value::array();
  for (const Status& s : statuses) {
    Value m = Value::map();
    m.set("code", s.code);
    if (!s.url.empty()) m.set("url", s.url);
    if (!s.explanation.empty()) m.set("explanation", s.explanation);
    list.push(std::move(m));
  }
  return list;
}

// ---- reading ----

std::string text_or_empty(const Value* v) { return v && v->is_text() ? v->as_text() : std::string(); }

// "self#jumbf=/c2pa/<manifest>/c2pa.assertions/<label>" or "self#jumbf=c2pa.assertions/<label>"
// -> (manifest or "", label).
std::pair<std::string, std::string> split_assertion_uri(const std::string& url) {
  std::string path = url;
  const std::string prefix = "self#jumbf=";
  if (path.rfind(prefix, 0) == 0) path = path.substr(prefix.size());
  std::string manifest;
  if (path.rfind("/c2pa/", 0) == 0) {
    path = path.substr(6);
    const size_t slash = path.find('/');
    manifest = path.substr(0, slash);
    path = slash == std::string::npos ? "" : path.substr(slash + 1);
  }
  const std::string store = std::string(kAssertionStoreLabel) + "/";
  if (path.rfind(store, 0) == 0) return {manifest, path.substr(store.size())};
  return {manifest, ""};
}

std::string manifest_label_from_uri(const std::string& url) {
  std::string path = url;
  const std::string prefix = "self#jumbf=";
  if (path.rfind(prefix, 0) == 0) path = path.substr(prefix.size());
  if (path.rfind("/", 0) == 0) path = path.substr(1);
  if (path.rfind("c2pa/", 0) == 0) path = path.substr(5);
  return path.substr(0, path.find('/'));
}

const jumbf::Box* find_manifest(const jumbf::Box& store, const std::string& label) {
  for (const jumbf::Box& m : store.children) {
    if (m.is_superbox() && m.label == label) return &m;
  }
  return nullptr;
}

std::string agent_text(const Value* agent) {
  if (!agent) return "";
  if (agent->is_text()) return agent->as_text();
  std::string name = text_or_empty(agent->find("name"));
  const std::string version = text_or_empty(agent->find("version"));
  if (!version.empty()) name += " " + version;
  const std::string model = text_or_empty(agent->find("org.opsis.model"));
  if (!model.empty()) name += " (model " + model + ")";
  return name;
}

struct ClaimCheck {
  std::string claim_version;
  Value claim;
  const jumbf::Box* assertion_store = nullptr;
  bool signature_valid = false;
  bool assertions_intact = false;
  std::vector<Bytes> chain;
};

// Verifies a manifest's claim signature and the hashes of its assertion references,
// appending C2PA status codes to `success` and `failure`.
ClaimCheck check_claim(const jumbf::Box& manifest, std::vector<Status>& success,
                       std::vector<Status>& failure) {
  ClaimCheck check;
  const std::string label = manifest.label;
  const jumbf::Box* claim_box = manifest.child(kClaimV2Label);
  check.claim_version = kClaimV2Label;
  if (!claim_box) {
    claim_box = manifest.child(kClaimV1Label);
    check.claim_version = kClaimV1Label;
  }
  const jumbf::Box* claim_content = claim_box ? claim_box->content("cbor") : nullptr;
  if (!claim_content) {
    failure.push_back({"claim.missing", manifest_uri(label), "the manifest has no claim"});
    return check;
  }
  check.claim = cbor::decode(claim_content->payload);
  check.assertion_store = manifest.child(kAssertionStoreLabel);

  const jumbf::Box* signature_box = manifest.child(kSignatureLabel);
  const jumbf::Box* signature_content = signature_box ? signature_box->content("cbor") : nullptr;
  const std::string signature_uri = manifest_uri(label) + "/" + kSignatureLabel;
  if (!signature_content) {
    failure.push_back({"claimSignature.missing", signature_uri, "the claim is not signed"});
  } else {
    try {
      const cose::Sign1 sign1 = cose::parse_sign1(signature_content->payload);
      check.chain = sign1.x5chain;
      check.signature_valid = cose::verify_sign1(sign1, claim_content->payload);
      if (check.signature_valid) {
        success.push_back({"claimSignature.validated", signature_uri, "claim signature valid"});
      } else {
        failure.push_back({"claimSignature.mismatch", signature_uri,
                           sign1.algorithm == cose::kEs256 ? "the signature does not match the claim"
                                                           : "opsis verifies ES256 signatures only"});
      }
    } catch (const InvalidArgument& e) {
      failure.push_back({"claimSignature.mismatch", signature_uri, std::string("unreadable signature: ") + e.what()});
    }
  }

  std::vector<const Value*> references;
  for (const char* key : {"created_assertions", "gathered_assertions", "assertions"}) {
    if (const Value* list = check.claim.find(key); list && list->is_array()) {
      for (const Value& r : list->as_array()) references.push_back(&r);
    }
  }
  check.assertions_intact = !references.empty();
  for (const Value* reference : references) {
    const std::string url = text_or_empty(reference->find("url"));
    const Value* hash = reference->find("hash");
    const auto [uri_manifest, assertion_label] = split_assertion_uri(url);
    const std::string absolute = assertion_uri(label, assertion_label);
    const jumbf::Box* assertion = check.assertion_store && !assertion_label.empty()
                                      ? check.assertion_store->child(assertion_label)
                                      : nullptr;
    if (!uri_manifest.empty() && uri_manifest != label) {
      failure.push_back({"assertion.outsideManifest", url, "the claim points into another manifest"});
      check.assertions_intact = false;
    } else if (!assertion) {
      failure.push_back({"assertion.missing", absolute, "no assertion at " + url});
      check.assertions_intact = false;
    } else if (!hash || !hash->is_bytes() || sha256(jumbf::raw_payload(*assertion)) != hash->as_bytes()) {
      failure.push_back({"assertion.hashedURI.mismatch", absolute, "hash does not match assertion data: " + url});
      check.assertions_intact = false;
    } else {
      success.push_back({"assertion.hashedURI.match", absolute, "hashed uri matched: " + url});
    }
  }
  return check;
}

std::vector<bmff::Exclusion> exclusions_from(const Value& assertion, std::string& unsupported) {
  std::vector<bmff::Exclusion> exclusions;
  const Value* list = assertion.find("exclusions");
  if (!list || !list->is_array()) return exclusions;
  for (const Value& e : list->as_array()) {
    bmff::Exclusion exclusion;
    exclusion.xpath = text_or_empty(e.find("xpath"));
    if (std::count(exclusion.xpath.begin(), exclusion.xpath.end(), '/') != 1)
      unsupported = "nested exclusion " + exclusion.xpath;
    if (const Value* data = e.find("data"); data && data->is_array()) {
      for (const Value& d : data->as_array())
        exclusion.data.emplace_back(uint64_t(d.at("offset").as_int()), d.at("value").as_bytes());
    }
    if (const Value* length = e.find("length"); length && length->is_int())
      exclusion.length = uint64_t(length->as_int());
    for (const char* key : {"subset", "version", "flags"}) {
      if (e.find(key)) unsupported = std::string("exclusion with ") + key + " on " + exclusion.xpath;
    }
    exclusions.push_back(std::move(exclusion));
  }
  return exclusions;
}

void read_assertions(const ClaimCheck& check, const std::string& label, std::span<const uint8_t> file,
                     const std::vector<bmff::TopLevelBox>& boxes, const jumbf::Box& store,
                     ManifestReport& report) {
  bool found_binding = false;
  std::vector<std::pair<std::string, std::string>> ingredient_titles;  // assertion label -> title
  report.ingredients_intact = true;
  if (!check.assertion_store) return;
  for (const jumbf::Box& assertion : check.assertion_store->children) {
    if (!assertion.is_superbox()) continue;
    const jumbf::Box* content = assertion.content("cbor");
    if (!content) continue;  // JSON and binary assertions are not read
    const std::string& name = assertion.label;
    const std::string base = name.substr(0, name.find("__"));
    const std::string uri = assertion_uri(label, name);
    Value data;
    try {
      data = cbor::decode(content->payload);
    } catch (const InvalidArgument& e) {
      report.failure.push_back({"assertion.cbor.invalid", uri, e.what()});
      continue;
    }
    if (base.rfind("c2pa.hash.bmff", 0) == 0) {
      found_binding = true;
      std::string unsupported;
      const auto exclusions = exclusions_from(data, unsupported);
      const Value* expected = data.find("hash");
      if (data.find("merkle")) unsupported = "merkle trees (fragmented MP4)";
      const std::string alg = data.find("alg") ? text_or_empty(data.find("alg"))
                                               : text_or_empty(check.claim.find("alg"));
      if (!alg.empty() && alg != "sha256") unsupported = "hash algorithm " + alg;
      if (!unsupported.empty()) {
        report.failure.push_back({"assertion.bmffHash.mismatch", uri, "opsis cannot check " + unsupported});
      } else if (!expected || !expected->is_bytes()) {
        report.failure.push_back({"assertion.bmffHash.malformed", uri, "no hash value"});
      } else if (bmff::hash_boxes(file, boxes, exclusions) == expected->as_bytes()) {
        report.hash_matches = true;
        report.success.push_back({"assertion.bmffHash.match", uri, "BMFF hash valid"});
      } else {
        report.failure.push_back({"assertion.bmffHash.mismatch", uri,
                                  "the file's bytes do not match the signed hash: it was changed after signing"});
      }
    } else if (base.rfind("c2pa.hash.", 0) == 0) {
      found_binding = true;
      report.failure.push_back({"assertion.dataHash.mismatch", uri, "opsis checks BMFF hashes only (" + base + ")"});
    } else if (base.rfind("c2pa.ingredient", 0) == 0) {
      IngredientInfo ingredient;
      ingredient.title = text_or_empty(data.find("dc:title"));
      ingredient.format = text_or_empty(data.find("dc:format"));
      ingredient.relationship = text_or_empty(data.find("relationship"));
      ingredient.instance_id = text_or_empty(data.find("instanceID"));
      const Value* reference = data.find("activeManifest");
      if (!reference) reference = data.find("c2pa_manifest");
      if (reference && reference->is_map()) {
        const std::string url = text_or_empty(reference->find("url"));
        ingredient.manifest_label = manifest_label_from_uri(url);
        const jumbf::Box* manifest = find_manifest(store, ingredient.manifest_label);
        const Value* hash = reference->find("hash");
        if (!manifest) {
          report.failure.push_back({"ingredient.manifest.missing", url, "the ingredient's manifest is not in the store"});
          report.ingredients_intact = false;
        } else if (!hash || !hash->is_bytes() || sha256(jumbf::raw_payload(*manifest)) != hash->as_bytes()) {
          report.failure.push_back({"ingredient.manifest.mismatch", url, "the ingredient's manifest was changed"});
          report.ingredients_intact = false;
        } else {
          std::vector<Status> ingredient_success;
          std::vector<Status> ingredient_failure;
          const ClaimCheck inner = check_claim(*manifest, ingredient_success, ingredient_failure);
          if (inner.signature_valid && inner.assertions_intact) {
            ingredient.manifest_hash_matches = true;
            report.success.push_back({"ingredient.manifest.validated", url, "ingredient hash matched"});
          } else {
            for (Status s : ingredient_failure) report.failure.push_back(std::move(s));
            report.ingredients_intact = false;
          }
        }
      }
      ingredient_titles.emplace_back(name, ingredient.title);
      report.ingredients.push_back(std::move(ingredient));
    } else if (base.rfind("c2pa.actions", 0) == 0) {
      const Value* actions = data.find("actions");
      if (!actions || !actions->is_array()) continue;
      for (const Value& a : actions->as_array()) {
        ActionInfo action;
        action.action = text_or_empty(a.find("action"));
        action.when = text_or_empty(a.find("when"));
        action.software_agent = agent_text(a.find("softwareAgent"));
        action.digital_source_type = text_or_empty(a.find("digitalSourceType"));
        action.description = text_or_empty(a.find("description"));
        if (const Value* params = a.find("parameters"); params && params->is_map()) {
          std::vector<const Value*> refs;
          if (const Value* one = params->find("ingredient")) refs.push_back(one);
          if (const Value* many = params->find("ingredients"); many && many->is_array())
            for (const Value& r : many->as_array()) refs.push_back(&r);
          for (const Value* r : refs) action.ingredient_titles.push_back(split_assertion_uri(text_or_empty(r->find("url"))).second);
          if (action.description.empty()) action.description = text_or_empty(params->find("description"));
        }
        report.actions.push_back(std::move(action));
      }
    } else if (base == kTrainingMiningLabel || base == "c2pa.training-mining") {
      std::string summary;
      if (const Value* entries = data.find("entries"); entries && entries->is_map()) {
        for (const auto& [key, entry] : entries->as_map()) {
          const std::string use = text_or_empty(entry.find("use"));
          summary = summary.empty() || summary == use ? use : "mixed";
        }
      }
      report.training_mining = summary;
    } else if (base == kGenerationLabel) {
      report.creator = text_or_empty(data.find("creator"));
      report.model = text_or_empty(data.find("model"));
      if (const Value* version = data.find("modelVersion"); version && !text_or_empty(version).empty())
        report.model += " " + version->as_text();
      if (const Value* cameos = data.find("cameos"); cameos && cameos->is_array())
        for (const Value& c : cameos->as_array()) {
          report.cameo_handles.push_back(text_or_empty(c.find("handle")));
          report.cameo_ids.push_back(text_or_empty(c.find("id")));
        }
    }
  }
  // Name the ingredients an action refers to by their titles.
  for (ActionInfo& action : report.actions) {
    for (std::string& ref : action.ingredient_titles) {
      for (const auto& [assertion_label, title] : ingredient_titles)
        if (assertion_label == ref && !title.empty()) ref = title;
    }
  }
  if (!found_binding)
    report.failure.push_back({"claim.hardBindings.missing", manifest_uri(label), "no hard binding to the file's bytes"});
}

ManifestReport validate(std::span<const uint8_t> file, const std::vector<Bytes>& anchors) {
  ManifestReport report;
  const auto boxes = bmff::list_top_level_boxes(file);
  const auto manifest_box = bmff::find_manifest_box(file, boxes);
  if (!manifest_box) return report;
  report.has_manifest = true;
  for (const Bytes& a : anchors) report.anchors.push_back(summarize_certificate(a).subject);

  jumbf::Box store;
  try {
    store = jumbf::parse(manifest_box->store);
  } catch (const InvalidArgument& e) {
    report.failure.push_back({"manifest.malformed", "", std::string("unreadable manifest store: ") + e.what()});
    report.state = "Invalid";
    return report;
  }
  const jumbf::Box* active = nullptr;
  for (const jumbf::Box& m : store.children) {
    if (m.is_superbox()) {
      ++report.manifest_count;
      active = &m;  // the active manifest is the last one
    }
  }
  if (store.content_type != jumbf::kStoreType || !active) {
    report.failure.push_back({"manifest.malformed", "", "the C2PA box holds no manifest store"});
    report.state = "Invalid";
    return report;
  }
  report.active_label = active->label;
  try {
    const ClaimCheck check = check_claim(*active, report.success, report.failure);
    report.signature_valid = check.signature_valid;
    report.assertions_intact = check.assertions_intact;
    report.claim_version = check.claim_version;
    report.title = text_or_empty(check.claim.find("dc:title"));
    if (const Value* info = check.claim.find("claim_generator_info")) {
      report.claim_generator = agent_text(info->is_array() && !info->as_array().empty() ? &info->as_array()[0] : info);
    }
    if (report.claim_generator.empty()) report.claim_generator = text_or_empty(check.claim.find("claim_generator"));

    const std::string signature_uri = manifest_uri(active->label) + "/" + kSignatureLabel;
    if (!check.chain.empty()) {
      for (const Bytes& der : check.chain) report.chain.push_back(summarize_certificate(der));
      report.signer = report.chain.front();
      const auto problems = check_signer_profile(check.chain.front());
      report.certificate_profile_ok = problems.empty();
      for (const std::string& p : problems)
        report.failure.push_back({"signingCredential.invalid", signature_uri, "the signing certificate " + p});
      const ChainCheck chain = check_chain(check.chain, anchors);
      if (!chain.valid_now) {
        report.failure.push_back({"signingCredential.expired", signature_uri, chain.error});
      }
      if (chain.chains_to_anchor) {
        report.trusted = true;
        report.trust_anchor = chain.anchor_subject;
        report.success.push_back({"signingCredential.trusted", signature_uri, "chains to " + chain.anchor_subject});
      } else {
        report.failure.push_back({"signingCredential.untrusted", signature_uri,
                                  anchors.empty() ? "no trust anchors given"
                                                  : "does not chain to a given anchor: " + chain.error});
      }
    }
    read_assertions(check, active->label, file, boxes, store, report);
  } catch (const InvalidArgument& e) {
    report.failure.push_back({"claim.malformed", manifest_uri(active->label), e.what()});
  }
  const bool only_untrusted = std::all_of(report.failure.begin(), report.failure.end(),
                                          [](const Status& s) { return s.code == "signingCredential.untrusted"; });
  report.state = !only_untrusted ? "Invalid" : report.trusted ? "Trusted" : "Valid";
  return report;
}

// ---- signing ----

struct ParentRecord {
  std::vector<jumbf::Box> manifests;  // the parent's store, verbatim, active last
  std::string active_label;
  Bytes manifest_hash;
  Bytes signature_hash;
  ManifestReport validation;
  Bytes file_sha256;
};

ParentRecord read_parent(const Bytes& parent_file) {
  ParentRecord record;
  record.file_sha256 = sha256(parent_file);
  const auto boxes = bmff::list_top_level_boxes(parent_file);
  const auto manifest_box = bmff::find_manifest_box(parent_file, boxes);
  if (!manifest_box) return record;
  record.validation = validate(parent_file, {});
  const jumbf::Box store = jumbf::parse(manifest_box->store);
  for (const jumbf::Box& m : store.children)
    if (m.is_superbox()) record.manifests.push_back(m);
  if (record.manifests.empty()) return record;
  const jumbf::Box& active = record.manifests.back();
  record.active_label = active.label;
  record.manifest_hash = sha256(jumbf::raw_payload(active));
  if (const jumbf::Box* signature = active.child(kSignatureLabel))
    record.signature_hash = sha256(jumbf::raw_payload(*signature));
  return record;
}

Value ingredient_for_parent(const ParentVideo& parent, const ParentRecord& record) {
  Value ingredient = Value::map();
  ingredient.set("relationship", "parentOf");
  ingredient.set("dc:title", parent.title.empty() ? parent.path.filename().string() : parent.title);
  ingredient.set("dc:format", media_type_for(parent.path));
  ingredient.set("instanceID", "sha256:" + hex(record.file_sha256));
  if (!record.active_label.empty()) {
    Value results = Value::map();
    Value active = Value::map();
    active.set("success", status_list(record.validation.success));
    active.set("informational", Value::array());
    active.set("failure", status_list(record.validation.failure));
    results.set("activeManifest", std::move(active));
    ingredient.set("validationResults", std::move(results));
    ingredient.set("activeManifest", hashed_uri(manifest_uri(record.active_label), record.manifest_hash));
    if (!record.signature_hash.empty())
      ingredient.set("claimSignature",
                     hashed_uri(manifest_uri(record.active_label) + "/" + kSignatureLabel, record.signature_hash));
  }
  return ingredient;
}

Value ingredient_for_image(const InputImage& image, const Bytes& image_bytes) {
  Value ingredient = Value::map();
  ingredient.set("relationship", "inputTo");
  ingredient.set("dc:title", image.title.empty() ? image.path.filename().string() : image.title);
  ingredient.set("dc:format", image.format.empty() ? media_type_for(image.path) : image.format);
  ingredient.set("instanceID", "sha256:" + hex(sha256(image_bytes)));
  return ingredient;
}

Value software_agent(const ManifestInfo& info) {
  Value agent = Value::map();
  agent.set("name", info.generator_name);
  if (!info.generator_version.empty()) agent.set("version", info.generator_version);
  if (!info.model_name.empty()) {
    agent.set("org.opsis.model", info.model_name + (info.model_version.empty() ? "" : " " + info.model_version));
  }
  return agent;
}

Value training_mining(bool allowed) {
  Value entries = Value::map();
  for (const char* use : {"cawg.ai_inference", "cawg.ai_generative_training", "cawg.ai_training", "cawg.data_mining"}) {
    Value entry = Value::map();
    entry.set("use", allowed ? "allowed" : "notAllowed");
    entries.set(use, std::move(entry));
  }
  Value data = Value::map();
  data.set("entries", std::move(entries));
  return data;
}

void require_text(const std::string& value, const std::string& field) {
  if (value.empty()) throw InvalidArgument(field, field + " must not be empty");
}

}  // namespace

Bytes sign_mp4(const Bytes& original, const ManifestInfo& info, const SigningCredentials& credentials) {
  require_text(info.generator_name, "generator_name");
  require_text(info.model_name, "model_name");
  Bytes file = original;
  auto boxes = bmff::list_top_level_boxes(file);
  if (bmff::find_manifest_box(file, boxes))
    throw InvalidArgument("file", "the file already carries a C2PA manifest; sign the unsigned original, or "
                                  "name this file as the remix parent of a new one");
  bmff::TopLevelBox& last = boxes.back();
  if (last.extends_to_end) {
    // A box "to the end of the file" would swallow the manifest box: give it its size.
    if (last.header_size != 8 || last.size > 0xffffffffULL)
      throw InvalidArgument("file", "the last box runs to the end of the file with a size opsis cannot write in place");
    for (int i = 0; i < 4; ++i) file[size_t(last.offset) + size_t(i)] = uint8_t(last.size >> (24 - 8 * i));
    last.extends_to_end = false;
  }

  const std::string label = "urn:c2pa:" + random_uuid();
  const std::string when = info.when.empty() ? now_iso8601() : info.when;
  std::vector<BuiltAssertion> assertions;

  ParentRecord parent;
  std::optional<Value> parent_reference;
  if (info.remix_of) {
    const Bytes parent_bytes = read_file(info.remix_of->path, "remix_of");
    try {
      parent = read_parent(parent_bytes);
    } catch (const InvalidArgument& e) {
      throw InvalidArgument("remix_of", info.remix_of->path.string() + ": " + e.what());
    }
    const std::string ingredient_label = kIngredientLabel;
    assertions.push_back(build_assertion(ingredient_label, ingredient_for_parent(*info.remix_of, parent)));
    parent_reference = hashed_uri(assertion_uri(label, ingredient_label), assertions.back().hash);
  }
  std::optional<Value> image_reference;
  if (info.input_image) {
    const Bytes image_bytes = read_file(info.input_image->path, "input_image");
    const std::string ingredient_label =
        info.remix_of ? std::string(kIngredientLabel) + "__1" : std::string(kIngredientLabel);
    assertions.push_back(build_assertion(ingredient_label, ingredient_for_image(*info.input_image, image_bytes)));
    image_reference = hashed_uri(assertion_uri(label, ingredient_label), assertions.back().hash);
  }

  // c2pa.actions.v2: a new video is c2pa.created from trained algorithmic media; a remix
  // opens its parent and edits it with the model.
  Value actions = Value::array();
  const std::string model_text = info.model_name + (info.model_version.empty() ? "" : " " + info.model_version);
  if (parent_reference) {
    Value opened = Value::map();
    opened.set("action", "c2pa.opened");
    opened.set("when", when);
    opened.set("softwareAgent", software_agent(info));
    Value params = Value::map();
    params.set("ingredients", Value(cbor::Array{*parent_reference}));
    opened.set("parameters", std::move(params));
    actions.push(std::move(opened));
    Value edited = Value::map();
    edited.set("action", "c2pa.edited");
    edited.set("when", when);
    edited.set("softwareAgent", software_agent(info));
    edited.set("digitalSourceType", kCompositeWithTrainedAlgorithmicMedia);
    edited.set("description", "remixed with a new prompt by the generative model " + model_text);
    if (image_reference) {
      Value edit_params = Value::map();
      edit_params.set("ingredients", Value(cbor::Array{*image_reference}));
      edited.set("parameters", std::move(edit_params));
    }
    actions.push(std::move(edited));
  } else {
    Value created = Value::map();
    created.set("action", "c2pa.created");
    created.set("when", when);
    created.set("softwareAgent", software_agent(info));
    created.set("digitalSourceType", kTrainedAlgorithmicMedia);
    created.set("description", "generated by the generative model " + model_text +
                                   (image_reference ? " from an input image and a prompt" : " from a prompt"));
    if (image_reference) {
      Value params = Value::map();
      params.set("ingredients", Value(cbor::Array{*image_reference}));
      created.set("parameters", std::move(params));
    }
    actions.push(std::move(created));
  }
  Value actions_data = Value::map();
  actions_data.set("actions", std::move(actions));
  assertions.push_back(build_assertion(kActionsLabel, actions_data));

  assertions.push_back(build_assertion(kTrainingMiningLabel, training_mining(info.allow_ai_training)));

  Value generation = Value::map();
  generation.set("model", info.model_name);
  if (!info.model_version.empty()) generation.set("modelVersion", info.model_version);
  if (!info.creator.empty()) generation.set("creator", info.creator);
  Value cameos = Value::array();
  // Each cameo used: its @handle and registry id, never its reference media.
  for (size_t i = 0; i < info.cameo_handles.size(); ++i) {
    Value cameo = Value::map();
    cameo.set("handle", info.cameo_handles[i]);
    if (i < info.cameo_ids.size() && !info.cameo_ids[i].empty()) cameo.set("id", info.cameo_ids[i]);
    cameo.set("likenessEmbedded", false);
    cameos.push(std::move(cameo));
  }
  generation.set("cameos", std::move(cameos));
  assertions.push_back(build_assertion(kGenerationLabel, generation));

  // Hard binding. The manifest box goes after every existing box and is excluded, so the
  // hash does not depend on the manifest and needs no placeholder.
  Value exclusions = Value::array();
  for (const bmff::Exclusion& e : bmff::default_exclusions()) {
    Value exclusion = Value::map();
    exclusion.set("xpath", e.xpath);
    if (!e.data.empty()) {
      Value data = Value::array();
      for (const auto& [offset, bytes] : e.data) {
        Value d = Value::map();
        d.set("offset", uint64_t(offset));
        d.set("value", bytes);
        data.push(std::move(d));
      }
      exclusion.set("data", std::move(data));
    }
    exclusions.push(std::move(exclusion));
  }
  Value binding = Value::map();
  binding.set("exclusions", std::move(exclusions));
  binding.set("alg", "sha256");
  binding.set("hash", bmff::hash_boxes(file, boxes, bmff::default_exclusions()));
  binding.set("name", "jumbf manifest");
  assertions.push_back(build_assertion(kBmffHashLabel, binding));

  // Claim v2: only the keys the specification allows, in its order.
  Value generator = Value::map();
  generator.set("name", info.generator_name);
  if (!info.generator_version.empty()) generator.set("version", info.generator_version);
  Value created_assertions = Value::array();
  for (const BuiltAssertion& a : assertions) created_assertions.push(hashed_uri(assertion_uri(label, a.label), a.hash));
  Value claim = Value::map();
  claim.set("instanceID", "xmp:iid:" + random_uuid());
  claim.set("claim_generator_info", std::move(generator));
  claim.set("signature", manifest_uri(label) + "/" + kSignatureLabel);
  claim.set("created_assertions", std::move(created_assertions));
  if (!info.title.empty()) claim.set("dc:title", info.title);
  claim.set("alg", "sha256");
  const Bytes claim_bytes = cbor::encode(claim);

  jumbf::Box assertion_store = jumbf::Box::superbox(jumbf::kAssertionStoreType, kAssertionStoreLabel);
  for (BuiltAssertion& a : assertions) assertion_store.children.push_back(std::move(a.box));
  jumbf::Box claim_box = jumbf::Box::superbox(jumbf::kClaimType, kClaimV2Label);
  claim_box.children.push_back(jumbf::Box::content_box("cbor", claim_bytes));
  jumbf::Box signature_box = jumbf::Box::superbox(jumbf::kSignatureType, kSignatureLabel);
  signature_box.children.push_back(jumbf::Box::content_box("cbor", cose::sign1_es256(claim_bytes, credentials)));

  jumbf::Box manifest = jumbf::Box::superbox(jumbf::kManifestType, label);
  manifest.children.push_back(std::move(assertion_store));
  manifest.children.push_back(std::move(claim_box));
  manifest.children.push_back(std::move(signature_box));

  jumbf::Box store = jumbf::Box::superbox(jumbf::kStoreType, "c2pa");
  for (jumbf::Box& m : parent.manifests) store.children.push_back(std::move(m));  // verbatim
  store.children.push_back(std::move(manifest));  // active manifest last

  const Bytes manifest_box = bmff::make_manifest_box(jumbf::serialize(store));
  file.insert(file.end(), manifest_box.begin(), manifest_box.end());
  return file;
}

void sign_mp4_in_place(const fs::path& path, const ManifestInfo& info, const SigningCredentials& credentials) {
  const Bytes signed_file = sign_mp4(read_file(path, "file"), info, credentials);
  const fs::path temporary = path.string() + ".c2pa-tmp" + std::to_string(::getpid());
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(signed_file.data()), std::streamsize(signed_file.size()));
    out.flush();
    if (!out) {
      std::error_code ignored;
      fs::remove(temporary, ignored);
      throw IoError("cannot write " + temporary.string());
    }
  }
  std::error_code ec;
  fs::permissions(temporary, fs::status(path).permissions(), ec);
  fs::rename(temporary, path, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(temporary, ignored);
    throw IoError("cannot replace " + path.string() + ": " + ec.message());
  }
}

ManifestReport read_manifest(const Bytes& file, const std::vector<Bytes>& trust_anchors_der) {
  return validate(file, trust_anchors_der);
}

ManifestReport read_manifest(const fs::path& path, const std::vector<Bytes>& trust_anchors_der) {
  return validate(read_file(path, "file"), trust_anchors_der);
}

nlohmann::json ManifestReport::to_json() const {
  using nlohmann::json;
  auto statuses = [](const std::vector<Status>& list) {
    json out = json::array();
    for (const Status& s : list) out.push_back({{"code", s.code}, {"url", s.url}, {"explanation", s.explanation}});
    return out;
  };
  auto certificate = [](const CertificateSummary& c) {
    return json{{"subject", c.subject}, {"issuer", c.issuer}, {"not_before", c.not_before},
                {"not_after", c.not_after}, {"serial", c.serial_hex}, {"sha256", c.sha256_hex}};
  };
  json j;
  j["has_manifest"] = has_manifest;
  if (!has_manifest) return j;
  j["state"] = state;
  j["active_manifest"] = active_label;
  j["claim_version"] = claim_version;
  j["title"] = title;
  j["claim_generator"] = claim_generator;
  j["creator"] = creator;
  j["model"] = model;
  j["cameos"] = cameo_handles;
  j["cameo_ids"] = cameo_ids;
  j["training_mining"] = training_mining;
  j["manifest_count"] = manifest_count;
  json action_list = json::array();
  for (const ActionInfo& a : actions) {
    action_list.push_back({{"action", a.action}, {"when", a.when}, {"software_agent", a.software_agent},
                           {"digital_source_type", a.digital_source_type}, {"description", a.description},
                           {"ingredients", a.ingredient_titles}});
  }
  j["actions"] = action_list;
  json ingredient_list = json::array();
  for (const IngredientInfo& i : ingredients) {
    ingredient_list.push_back({{"title", i.title}, {"format", i.format}, {"relationship", i.relationship},
                               {"manifest", i.manifest_label}, {"manifest_intact", i.manifest_hash_matches},
                               {"instance_id", i.instance_id}});
  }
  j["ingredients"] = ingredient_list;
  j["signer"] = signer ? certificate(*signer) : json(nullptr);
  json chain_list = json::array();
  for (const auto& c : chain) chain_list.push_back(certificate(c));
  j["chain"] = chain_list;
  j["signature_valid"] = signature_valid;
  j["certificate_profile_ok"] = certificate_profile_ok;
  j["assertions_intact"] = assertions_intact;
  j["hash_matches"] = hash_matches;
  j["ingredients_intact"] = ingredients_intact;
  j["trusted"] = trusted;
  j["trust_anchor"] = trust_anchor;
  j["anchors"] = anchors;
  j["success"] = statuses(success);
  j["failure"] = statuses(failure);
  return j;
}

}  // namespace opsis::provenance
