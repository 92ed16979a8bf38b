#include "server/api_keys.hpp"

#include <openssl/crypto.h>

#include <chrono>

#include "core/error.hpp"
#include "server/encoding.hpp"
#include "store/blob_store.hpp"

namespace opsis::server {

std::string hash_secret(const std::string& secret) {
  return store::sha256_hex(reinterpret_cast<const uint8_t*>(secret.data()), secret.size());
}

CreatedKey create_api_key(store::MetadataStore& store, const std::string& user) {
  if (user.empty() || user.size() > 128) throw InvalidArgument("user", "the user name must be 1 to 128 characters");
  for (unsigned char c : user)
    if (c < 0x21 || c == 0x7f) throw InvalidArgument("user", "the user name may not contain spaces or control characters");
  CreatedKey key;
  key.secret = "sk-opsis-" + random_hex(24);
  key.record.id = "key_" + random_hex(8);
  key.record.user = user;
  key.record.hash = hash_secret(key.secret);
  key.record.prefix = key.secret.substr(0, 16);
  key.record.created_at =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  store.insert_key(key.record);
  return key;
}

std::optional<store::ApiKeyRecord> authenticate(store::MetadataStore& store, const std::string& secret) {
  if (secret.empty()) return std::nullopt;
  const std::string hash = hash_secret(secret);
  std::optional<store::ApiKeyRecord> found = store.key_by_hash(hash);
  if (!found || found->revoked_at != 0 || found->hash.size() != hash.size()) return std::nullopt;
  if (CRYPTO_memcmp(found->hash.data(), hash.data(), hash.size()) != 0) return std::nullopt;
  return found;
}

bool any_active_key(store::MetadataStore& store) {
  for (const auto& key : store.keys())
    if (key.revoked_at == 0) return true;
  return false;
}

}  // namespace opsis::server
