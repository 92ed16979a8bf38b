#include "server/request_body.hpp"

#include <cctype>

#include "server/encoding.hpp"

namespace opsis::server {

namespace {

std::string percent_decode(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && std::isxdigit(static_cast<unsigned char>(text[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
      out += char(std::stoi(text.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

}  // namespace

std::vector<uint8_t> data_url_bytes(const std::string& url) {
  if (url.rfind("data:", 0) != 0)
    throw InvalidArgument("input_reference", "input_reference.image_url is not a data: URL");
  const size_t comma = url.find(',');
  if (comma == std::string::npos) throw InvalidArgument("input_reference", "the data: URL has no ',' before its data");
  const std::string meta = url.substr(5, comma - 5);
  const std::string payload = percent_decode(url.substr(comma + 1));
  if (meta.size() >= 7 && meta.compare(meta.size() - 7, 7, ";base64") == 0) {
    auto bytes = base64_decode(payload);
    if (!bytes) throw InvalidArgument("input_reference", "the data: URL's base64 data is malformed");
    return *bytes;
  }
  return std::vector<uint8_t>(payload.begin(), payload.end());
}

}  // namespace opsis::server
