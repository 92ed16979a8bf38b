#pragma once
// Base64 and HMAC for data: URLs and webhook signatures; UTF-8 checks for client text.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace opsis::server {

std::string base64_encode(const uint8_t* data, size_t size);
// nullopt for text that is not base64.
std::optional<std::vector<uint8_t>> base64_decode(const std::string& text);
std::vector<uint8_t> hmac_sha256(const std::vector<uint8_t>& key, const std::string& message);
std::string random_hex(size_t bytes);  // from the system's CSPRNG
// Well-formed UTF-8 (RFC 3629): no stray continuation bytes, overlong forms, surrogates or
// code points past U+10FFFF.
bool valid_utf8(const std::string& text);

}  // namespace opsis::server
