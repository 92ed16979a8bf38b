#pragma once
// input_reference.image_url over HTTPS, SSRF-safe: the host is resolved once, every address
// it resolves to must be a public unicast one (no loopback, private, link-local, CGNAT,
// multicast, documentation or reserved ranges, IPv4-mapped and NAT64 forms included), and
// the connection goes to that vetted address (so a second DNS answer cannot redirect it),
// with the certificate checked against the host name. Redirects are followed a few times,
// each hop vetted again; size and time are bounded. Any refusal is an InvalidArgument on
// input_reference saying exactly why.
#include <netdb.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace opsis::server {

struct ImageFetchOptions {
  bool enabled = true;            // false: image_url must be a data: URL
  size_t max_bytes = 16u << 20;   // the body; more is refused while reading
  int timeout_ms = 10000;         // the whole fetch, redirects and name lookups included
  int max_redirects = 3;
  // Name resolution, getaddrinfo's signature (tests replace it); ::getaddrinfo when empty.
  std::function<int(const char* host, const char* service, const addrinfo* hints, addrinfo** found)> resolve;
};

struct FetchUrl {
  std::string host;  // without brackets for IPv6
  int port = 443;
  std::string target;  // "/path?query"
};

// Parses an https:// URL; throws InvalidArgument("input_reference") for any other scheme,
// user info, a bad port or host.
FetchUrl parse_fetch_url(const std::string& url);

// Whether an address (text form, IPv4 or IPv6) is a public unicast one a server may fetch from.
bool is_public_address(const std::string& address);

std::vector<uint8_t> fetch_image_url(const std::string& url, const ImageFetchOptions& options);

}  // namespace opsis::server
