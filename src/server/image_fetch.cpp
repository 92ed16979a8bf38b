#include "server/image_fetch.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>

#include "core/error.hpp"

namespace opsis::server {

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void refuse(const std::string& why) { throw InvalidArgument("input_reference", "input_reference.image_url: " + why); }

bool in_v4(uint32_t address, uint32_t network, int prefix) {
  const uint32_t mask = prefix == 0 ? 0 : ~uint32_t(0) << (32 - prefix);
  return (address & mask) == (network & mask);
}

bool public_v4(uint32_t a) {  // host byte order
  static constexpr std::array<std::pair<uint32_t, int>, 16> kNotPublic = {{
      {0x00000000, 8},   // "this network"
      {0x0A000000, 8},   // private
      {0x64400000, 10},  // carrier-grade NAT
      {0x7F000000, 8},   // loopback
      {0xA9FE0000, 16},  // link-local (cloud metadata lives here)
      {0xAC100000, 12},  // private
      {0xC0000000, 24},  // IETF protocol assignments
      {0xC0000200, 24},  // documentation
      {0xC0586300, 24},  // 6to4 relay anycast
      {0xC0A80000, 16},  // private
      {0xC6120000, 15},  // benchmarking
      {0xC6336400, 24},  // documentation
      {0xCB007100, 24},  // documentation
      {0xE0000000, 4},   // multicast
      {0xF0000000, 4},   // reserved, broadcast
      {0xFFFFFFFF, 32},
  }};
  for (const auto& [network, prefix] : kNotPublic)
    if (in_v4(a, network, prefix)) return false;
  return true;
}

uint32_t v4_at(const uint8_t* b) { return uint32_t(b[0]) << 24 | uint32_t(b[1]) << 16 | uint32_t(b[2]) << 8 | b[3]; }

bool public_v6(const in6_addr& address) {
  const uint8_t* b = address.s6_addr;
  static const uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
  static const uint8_t kNat64[12] = {0, 0x64, 0xFF, 0x9B, 0, 0, 0, 0, 0, 0, 0, 0};
  static const uint8_t kZero[12] = {};
  if (std::memcmp(b, kMapped, 12) == 0 || std::memcmp(b, kNat64, 12) == 0) return public_v4(v4_at(b + 12));
  if (std::memcmp(b, kZero, 12) == 0) return false;               // ::, ::1, IPv4-compatible
  if (b[0] == 0x20 && b[1] == 0x02) return public_v4(v4_at(b + 2));  // 6to4 carries an IPv4 address
  if ((b[0] & 0xFE) == 0xFC) return false;                        // unique local fc00::/7
  if (b[0] == 0xFE && (b[1] & 0xC0) == 0x80) return false;        // link-local fe80::/10
  if (b[0] == 0xFE && (b[1] & 0xC0) == 0xC0) return false;        // site-local fec0::/10 (deprecated)
  if (b[0] == 0xFF) return false;                                 // multicast
  if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0D && b[3] == 0xB8) return false;  // documentation
  if (b[0] == 0x01 && b[1] == 0x00 && std::memcmp(b + 2, kZero, 6) == 0) return false;  // discard 100::/64
  return (b[0] & 0xE0) == 0x20;  // only global unicast 2000::/3 is public
}

bool public_sockaddr(const sockaddr* address) {
  if (address->sa_family == AF_INET) return public_v4(ntohl(reinterpret_cast<const sockaddr_in*>(address)->sin_addr.s_addr));
  if (address->sa_family == AF_INET6) return public_v6(reinterpret_cast<const sockaddr_in6*>(address)->sin6_addr);
  return false;
}

std::string address_text(const sockaddr* address) {
  char text[INET6_ADDRSTRLEN] = "?";
  if (address->sa_family == AF_INET) inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(address)->sin_addr, text, sizeof text);
  if (address->sa_family == AF_INET6) inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(address)->sin6_addr, text, sizeof text);
  return text;
}

int remaining_ms(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  if (left <= 0) refuse("the server did not answer in time");
  return int(left);
}

// getaddrinfo has no timeout of its own (resolv.conf's: 5 s a try, two tries, each server),
// so it runs on a thread of its own and the fetch waits for it only until the fetch's deadline.
// A lookup given up on finishes (or fails) by itself and frees what it found. At most
// kMaxPendingLookups run at once, so names that never answer cannot pile up threads.
constexpr int kMaxPendingLookups = 16;
std::atomic<int> g_pending_lookups{0};

struct Lookup {
  std::mutex mutex;
  std::condition_variable finished;
  bool done = false;
  int rc = 0;
  addrinfo* found = nullptr;
  ~Lookup() {
    if (found) freeaddrinfo(found);
  }
};

using Addresses = std::unique_ptr<addrinfo, decltype(&freeaddrinfo)>;

Addresses resolve_within(const FetchUrl& url, const ImageFetchOptions& options, Clock::time_point deadline) {
  if (g_pending_lookups.fetch_add(1) >= kMaxPendingLookups) {
    g_pending_lookups.fetch_sub(1);
    refuse("too many name lookups in progress; try again shortly");
  }
  auto lookup = std::make_shared<Lookup>();
  try {
    std::thread([lookup, host = url.host, service = std::to_string(url.port), resolve = options.resolve] {
      addrinfo hints{};
      hints.ai_family = AF_UNSPEC;
      hints.ai_socktype = SOCK_STREAM;
      addrinfo* found = nullptr;
      const int rc = resolve ? resolve(host.c_str(), service.c_str(), &hints, &found)
                             : ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found);
      {
        std::lock_guard lock(lookup->mutex);
        lookup->rc = rc;
        lookup->found = rc == 0 ? found : nullptr;
        lookup->done = true;
        lookup->finished.notify_one();  // under the lock: the waiter may go as soon as it is released
      }
      g_pending_lookups.fetch_sub(1);
    }).detach();
  } catch (const std::system_error&) {
    g_pending_lookups.fetch_sub(1);
    refuse("cannot start a name lookup");
  }
  std::unique_lock lock(lookup->mutex);
  if (!lookup->finished.wait_until(lock, deadline, [&] { return lookup->done; }))
    refuse("looking up " + url.host + " took longer than the " + std::to_string(options.timeout_ms) + " ms allowed");
  if (lookup->rc != 0) refuse("cannot resolve " + url.host + ": " + gai_strerror(lookup->rc));
  if (!lookup->found) refuse("cannot resolve " + url.host + ": no addresses");
  Addresses addresses(lookup->found, freeaddrinfo);
  lookup->found = nullptr;
  return addresses;
}

struct Socket {
  int fd = -1;
  ~Socket() {
    if (fd >= 0) ::close(fd);
  }
};

// Connects to the one vetted address, within the deadline.
void connect_to(Socket& socket, const sockaddr* address, socklen_t length, Clock::time_point deadline) {
  socket.fd = ::socket(address->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (socket.fd < 0) refuse("no socket for the connection");
  if (::connect(socket.fd, address, length) != 0) {
    if (errno != EINPROGRESS) refuse("cannot connect to " + address_text(address) + ": " + std::strerror(errno));
    pollfd wait{socket.fd, POLLOUT, 0};
    if (::poll(&wait, 1, remaining_ms(deadline)) != 1) refuse("connecting to " + address_text(address) + " timed out");
    int error = 0;
    socklen_t size = sizeof error;
    ::getsockopt(socket.fd, SOL_SOCKET, SO_ERROR, &error, &size);
    if (error) refuse("cannot connect to " + address_text(address) + ": " + std::strerror(error));
  }
  // Blocking from here, with every read and write bounded by the time left.
  ::fcntl(socket.fd, F_SETFL, ::fcntl(socket.fd, F_GETFL) & ~O_NONBLOCK);
  const int left = remaining_ms(deadline);
  timeval tv{left / 1000, (left % 1000) * 1000};
  ::setsockopt(socket.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(socket.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

std::string lower(std::string text) {
  for (char& c : text) c = char(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

struct Response {
  int status = 0;
  std::string location;
  std::vector<uint8_t> body;
};

// One GET over TLS to an address already vetted; the body is capped at max_bytes.
Response get_once(const FetchUrl& url, const sockaddr* address, socklen_t length, const ImageFetchOptions& options,
                  Clock::time_point deadline) {
  Socket socket;
  connect_to(socket, address, length, deadline);
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> context(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
  if (!context) refuse("TLS is not available");
  SSL_CTX_set_min_proto_version(context.get(), TLS1_2_VERSION);
  SSL_CTX_set_default_verify_paths(context.get());
  SSL_CTX_set_verify(context.get(), SSL_VERIFY_PEER, nullptr);
  std::unique_ptr<SSL, decltype(&SSL_free)> tls(SSL_new(context.get()), SSL_free);
  SSL_set_fd(tls.get(), socket.fd);
  in6_addr ignored{};
  const bool literal = inet_pton(AF_INET, url.host.c_str(), &ignored) == 1 || inet_pton(AF_INET6, url.host.c_str(), &ignored) == 1;
  X509_VERIFY_PARAM* verify = SSL_get0_param(tls.get());
  if (literal) {
    X509_VERIFY_PARAM_set1_ip_asc(verify, url.host.c_str());
  } else {
    SSL_set_tlsext_host_name(tls.get(), url.host.c_str());
    X509_VERIFY_PARAM_set1_host(verify, url.host.c_str(), 0);
  }
  if (SSL_connect(tls.get()) != 1) {
    const long result = SSL_get_verify_result(tls.get());
    refuse("TLS with " + url.host + " failed" +
           (result != X509_V_OK ? std::string(": ") + X509_verify_cert_error_string(result) : std::string()));
  }
  const std::string request = "GET " + url.target + " HTTP/1.0\r\nHost: " + url.host +
                              "\r\nUser-Agent: opsis\r\nAccept: image/png, image/jpeg, image/webp\r\nConnection: close\r\n\r\n";
  if (SSL_write(tls.get(), request.data(), int(request.size())) != int(request.size())) refuse("cannot send the request to " + url.host);

  std::string head;
  std::vector<uint8_t> body;
  bool in_body = false;
  std::array<char, 16384> buffer{};
  while (true) {
    remaining_ms(deadline);
    const int n = SSL_read(tls.get(), buffer.data(), int(buffer.size()));
    if (n <= 0) break;  // closed (HTTP/1.0 ends the body so) or timed out; checked below
    if (in_body) {
      body.insert(body.end(), buffer.data(), buffer.data() + n);
    } else {
      head.append(buffer.data(), size_t(n));
      const size_t end = head.find("\r\n\r\n");
      if (end == std::string::npos) {
        if (head.size() > 32768) refuse("the response's headers are too long");
        continue;
      }
      body.assign(head.begin() + std::ptrdiff_t(end + 4), head.end());
      head.resize(end + 2);
      in_body = true;
    }
    if (body.size() > options.max_bytes) refuse("the image is larger than " + std::to_string(options.max_bytes) + " bytes");
  }
  remaining_ms(deadline);
  if (!in_body) refuse("no complete HTTP response from " + url.host);
  Response response;
  if (head.size() < 12 || head.compare(0, 5, "HTTP/") != 0) refuse("not an HTTP response from " + url.host);
  response.status = std::atoi(head.c_str() + head.find(' ') + 1);
  size_t line = head.find("\r\n") + 2;
  int64_t content_length = -1;
  while (line < head.size()) {
    const size_t end = head.find("\r\n", line);
    const std::string field = head.substr(line, end - line);
    line = end + 2;
    const size_t colon = field.find(':');
    if (colon == std::string::npos) continue;
    const std::string name = lower(field.substr(0, colon));
    std::string value = field.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    if (name == "location") response.location = value;
    if (name == "content-length") content_length = std::atoll(value.c_str());
  }
  if (response.status == 200 && content_length >= 0 && uint64_t(content_length) != body.size())
    refuse("the image was cut off (" + std::to_string(body.size()) + " of " + std::to_string(content_length) + " bytes)");
  response.body = std::move(body);
  return response;
}

std::string resolve_location(const FetchUrl& from, const std::string& location) {
  if (location.rfind("https://", 0) == 0 || location.rfind("http://", 0) == 0 || location.find("://") != std::string::npos) return location;
  const std::string authority = "https://" + (from.host.find(':') != std::string::npos ? "[" + from.host + "]" : from.host) + ":" +
                                std::to_string(from.port);
  if (location.rfind("//", 0) == 0) return "https:" + location;
  if (!location.empty() && location[0] == '/') return authority + location;
  const std::string base = from.target.substr(0, from.target.rfind('/') + 1);
  return authority + base + location;
}

}  // namespace

FetchUrl parse_fetch_url(const std::string& url) {
  if (url.size() > 4096) refuse("the URL is longer than 4096 characters");
  if (lower(url.substr(0, 8)) != "https://") {
    if (lower(url.substr(0, 7)) == "http://") refuse("only https:// URLs are fetched (or a data: URL)");
    refuse("must be an https:// or data: URL");
  }
  for (unsigned char c : url)
    if (c <= 0x20 || c >= 0x7F) refuse("the URL has spaces or characters outside ASCII; percent-encode them");
  std::string rest = url.substr(8);
  rest = rest.substr(0, rest.find('#'));
  const size_t slash = rest.find_first_of("/?");
  const std::string authority = rest.substr(0, slash);
  FetchUrl parsed;
  parsed.target = slash == std::string::npos ? "/" : rest.substr(slash);
  if (parsed.target[0] == '?') parsed.target = "/" + parsed.target;
  if (authority.find('@') != std::string::npos) refuse("user names and passwords in URLs are not allowed");
  std::string host = authority, port;
  if (!host.empty() && host[0] == '[') {
    const size_t close = host.find(']');
    if (close == std::string::npos) refuse("an IPv6 host must end with ']'");
    port = host.substr(close + 1);
    host = host.substr(1, close - 1);
    if (!port.empty() && port[0] != ':') refuse("unexpected characters after the IPv6 host");
    if (!port.empty()) port.erase(0, 1);
  } else if (const size_t colon = host.rfind(':'); colon != std::string::npos) {
    port = host.substr(colon + 1);
    host = host.substr(0, colon);
  }
  if (host.empty() || host.size() > 253) refuse("the URL has no host");
  if (!port.empty()) {
    if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) refuse("the port must be a number");
    parsed.port = std::stoi(port);
    if (parsed.port < 1 || parsed.port > 65535) refuse("the port must be 1 to 65535");
  }
  parsed.host = lower(host);
  return parsed;
}

bool is_public_address(const std::string& address) {
  in_addr v4{};
  if (inet_pton(AF_INET, address.c_str(), &v4) == 1) return public_v4(ntohl(v4.s_addr));
  in6_addr v6{};
  if (inet_pton(AF_INET6, address.c_str(), &v6) == 1) return public_v6(v6);
  return false;
}

std::vector<uint8_t> fetch_image_url(const std::string& url, const ImageFetchOptions& options) {
  if (!options.enabled)
    refuse("this server does not fetch remote URLs (started with --no-remote-images); send a data: URL, upload the image, or use {file_id}");
  const auto deadline = Clock::now() + std::chrono::milliseconds(options.timeout_ms);
  std::string current = url;
  for (int hop = 0; hop <= options.max_redirects; ++hop) {
    const FetchUrl parsed = parse_fetch_url(current);
    const Addresses addresses = resolve_within(parsed, options, deadline);
    const addrinfo* found = addresses.get();
    // Every answer must be public: a name resolving to one public and one private address
    // could otherwise be steered to the private one.
    for (const addrinfo* a = found; a; a = a->ai_next)
      if (!public_sockaddr(a->ai_addr))
        refuse(parsed.host + " resolves to " + address_text(a->ai_addr) +
               ", a loopback, private, link-local or reserved address; only public addresses are fetched");
    const Response response = get_once(parsed, found->ai_addr, found->ai_addrlen, options, deadline);
    if (response.status >= 300 && response.status < 400 && !response.location.empty()) {
      current = resolve_location(parsed, response.location);
      continue;
    }
    if (response.status != 200) refuse(parsed.host + " answered HTTP " + std::to_string(response.status));
    if (response.body.empty()) refuse(parsed.host + " sent an empty body");
    return response.body;
  }
  refuse("more than " + std::to_string(options.max_redirects) + " redirects");
}

}  // namespace opsis::server
