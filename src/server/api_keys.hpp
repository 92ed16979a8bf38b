#pragma once
// API keys: the secret is shown once at creation; only its SHA-256 is stored, and a
// presented key is checked by hashing it and comparing hashes in constant time.
#include <optional>
#include <string>

#include "store/metadata_store.hpp"

namespace opsis::server {

struct CreatedKey {
  store::ApiKeyRecord record;
  std::string secret;  // "sk-opsis-" + 48 hex digits; not stored anywhere
};

// Throws opsis::InvalidArgument("user") for an empty or unprintable user name.
CreatedKey create_api_key(store::MetadataStore& store, const std::string& user);

std::string hash_secret(const std::string& secret);

// The active key whose secret this is, if any (revoked keys never match).
std::optional<store::ApiKeyRecord> authenticate(store::MetadataStore& store, const std::string& secret);

// Whether any key is active: the server then requires one on every /v1 request.
bool any_active_key(store::MetadataStore& store);

}  // namespace opsis::server
