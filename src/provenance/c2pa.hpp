#pragma once
// C2PA content credentials for MP4 files: opsis writes a signed manifest store (claim v2,
// ES256 COSE signature, c2pa.hash.bmff.v3 hard binding) into a top-level uuid box at the end
// of the file, and reads and validates stores (its own and other tools') for `opsis verify`.
// What a manifest says: which software and model generated the file, when, by whose
// request, from which parent video (remix) or input image, which cameos appear (by handle:
// the likeness itself is never embedded), and whether AI training and data mining are allowed.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "provenance/x509.hpp"

namespace opsis::provenance {

// Where opsis keeps its C2PA signing credentials inside a data directory (DATA/c2pa): pass
// it to SigningCredentials::load_or_create when signing, and trust
// SigningCredentials::own_root_path() of it when verifying.
inline std::filesystem::path credentials_directory(const std::filesystem::path& data_dir) {
  return data_dir / "c2pa";
}

// The source video of a remix. Its active manifest (when it has one) is copied into the new
// store with every manifest it depends on, and referenced by hash from the ingredient.
struct ParentVideo {
  std::filesystem::path path;
  std::string title;  // shown by validators; defaults to the file name
};

// An image the generation started from (first frame). Recorded by title, format and
// SHA-256; the image itself is not embedded.
struct InputImage {
  std::filesystem::path path;
  std::string title;   // defaults to the file name
  std::string format;  // media type; defaults from the extension (image/png, image/jpeg, ...)
};

struct ManifestInfo {
  std::string title;                 // dc:title, e.g. the video id or a name for it
  std::string generator_name = "opsis";
  std::string generator_version = "0.1.0";
  std::string model_name;            // the model that generated the pictures and sound
  std::string model_version;
  std::string creator;               // the requesting user's handle; empty: not recorded
  std::string when;                  // ISO 8601 UTC time of generation; empty: now
  std::optional<ParentVideo> remix_of;
  std::optional<InputImage> input_image;
  std::vector<std::string> cameo_handles;  // cameos used, recorded without their images
  std::vector<std::string> cameo_ids;      // their registry ids, in the same order (missing or empty: not recorded)
  bool allow_ai_training = false;    // cawg.training-mining: all four uses follow this flag
};

// Signs `path` (an MP4 without a manifest store) in place: the store is appended as the last
// top-level box, after an mdat that ran "to end of file" is given its explicit size. The file
// is rewritten through a temporary beside it and renamed, so it is either signed or untouched.
// Throws opsis::InvalidArgument ("file": not an MP4 or already signed; "remix_of",
// "input_image": unreadable ingredient) or opsis::IoError.
void sign_mp4_in_place(const std::filesystem::path& path, const ManifestInfo& info,
                       const SigningCredentials& credentials);

// The same on bytes in memory; returns the signed file.
Bytes sign_mp4(const Bytes& file, const ManifestInfo& info, const SigningCredentials& credentials);

// One validation result, named with the C2PA status codes (claimSignature.validated,
// assertion.bmffHash.mismatch, signingCredential.untrusted, ...).
struct Status {
  std::string code;
  std::string url;          // the JUMBF URI of what it is about, when there is one
  std::string explanation;
};

struct ActionInfo {
  std::string action;               // c2pa.created, c2pa.opened, c2pa.edited, ...
  std::string when;
  std::string software_agent;       // name [version]
  std::string digital_source_type;  // IPTC URI
  std::string description;
  std::vector<std::string> ingredient_titles;  // of the ingredients its parameters name
};

struct IngredientInfo {
  std::string title;
  std::string format;
  std::string relationship;         // parentOf, componentOf, inputTo
  std::string manifest_label;       // the ingredient's active manifest, when it had one
  bool manifest_hash_matches = false;  // that manifest is in this store, unchanged
  std::string instance_id;
};

struct ManifestReport {
  bool has_manifest = false;
  std::string active_label;          // urn:c2pa:...
  std::string title;
  std::string claim_generator;       // name version
  std::string claim_version;         // c2pa.claim.v2 / c2pa.claim
  std::string creator;
  std::string model;
  std::vector<std::string> cameo_handles;
  std::vector<std::string> cameo_ids;  // beside cameo_handles; "" where an entry names no id
  std::string training_mining;       // "notAllowed", "allowed", "constrained", "mixed" or empty
  std::vector<ActionInfo> actions;
  std::vector<IngredientInfo> ingredients;
  size_t manifest_count = 0;         // in the store, ingredients' manifests included

  std::optional<CertificateSummary> signer;  // the end-entity certificate
  std::vector<CertificateSummary> chain;     // as carried in the signature, end-entity first

  bool signature_valid = false;      // COSE signature over the claim verifies
  bool certificate_profile_ok = false;
  bool assertions_intact = false;    // every hashed URI of the claim matches
  bool hash_matches = false;         // hard binding matches the file's bytes
  bool ingredients_intact = false;   // ingredient manifests match their references
  bool trusted = false;              // the chain reaches one of the trust anchors
  std::string trust_anchor;          // subject of the anchor reached
  std::vector<std::string> anchors;  // subjects of the anchors given

  std::vector<Status> success;
  std::vector<Status> failure;
  std::string state;                 // "Trusted", "Valid", "Invalid" (or "" without a manifest)

  nlohmann::json to_json() const;
};

// Reads and validates the active manifest of an MP4 file, with the certificates in
// `trust_anchors_der` as the only trust anchors. A file without a manifest store gives
// has_manifest == false; a malformed one gives state "Invalid" with the reason.
ManifestReport read_manifest(const std::filesystem::path& path,
                             const std::vector<Bytes>& trust_anchors_der = {});
ManifestReport read_manifest(const Bytes& file, const std::vector<Bytes>& trust_anchors_der = {});

}  // namespace opsis::provenance
