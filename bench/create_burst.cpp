// A lean HTTP client for one question: how long does a burst of concurrent creates take, as
// the server answers it? On the 2-core development machine node's own client costs 27-34 ms of
// CPU per 100 requests (docs/benchmarks.md, "the client floor"), more than the create target
// itself; this client costs a few microseconds per request, so what it measures is the server.
//
//   opsis_bench_create_burst --port P [--host 127.0.0.1] [--clients 100] [--bursts 5]
//                            [--pause-ms 1500] [--path /v1/videos] [--body JSON] [--key KEY] [--ids 1]
//
// Each client is one kept-alive TCP connection (as an SDK's pool), warmed with GET /healthz.
// A burst writes one POST on every connection back to back, then reads the answers as they
// come; a request's latency runs from just before its write to the last byte of its answer.
// Prints one JSON object: per-burst and overall p50/p90/p99/max in ms, the statuses, and with
// --ids 1 the "id" of every answer (what bench/server_bench.mjs then polls).
// A benchmark, never a test.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  int clients = 100;
  int bursts = 5;
  int pause_ms = 1500;
  std::string path = "/v1/videos";
  std::string body = R"({"prompt":"A red ball bounces in a meadow","model":"opsis-studio","seconds":"1","size":"160x90"})";
  std::string key;
  bool ids = false;
};

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "create_burst: %s\n", what.c_str());
  std::exit(2);
}

int connect_to(const Options& o) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) fail(std::string("socket: ") + std::strerror(errno));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(uint16_t(o.port));
  if (::inet_pton(AF_INET, o.host.c_str(), &address.sin_addr) != 1) fail("not an IPv4 address: " + o.host);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0)
    fail("connect to " + o.host + ":" + std::to_string(o.port) + ": " + std::strerror(errno));
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

void send_all(int fd, const std::string& bytes) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail(std::string("send: ") + std::strerror(errno));
    sent += size_t(n);
  }
}

// One connection's answer in progress: complete once the headers and Content-Length bytes are in.
struct Answer {
  std::string bytes;
  size_t header_end = std::string::npos;
  size_t content_length = 0;
  int status = 0;
  bool closes = false;

  bool complete() {
    if (header_end == std::string::npos) {
      header_end = bytes.find("\r\n\r\n");
      if (header_end == std::string::npos) return false;
      header_end += 4;
      std::string head = bytes.substr(0, header_end);
      std::transform(head.begin(), head.end(), head.begin(), [](unsigned char c) { return char(std::tolower(c)); });
      if (head.rfind("http/1.1 ", 0) != 0) fail("not an HTTP/1.1 answer: " + bytes.substr(0, 40));
      status = std::atoi(head.c_str() + 9);
      const size_t length = head.find("\r\ncontent-length:");
      if (length == std::string::npos) fail("an answer without Content-Length");
      content_length = size_t(std::strtoull(head.c_str() + length + 17, nullptr, 10));
      closes = head.find("\r\nconnection: close") != std::string::npos;
    }
    return bytes.size() >= header_end + content_length;
  }
};

std::string request_text(const Options& o, const std::string& method, const std::string& path, const std::string& body) {
  std::string r = method + " " + path + " HTTP/1.1\r\nHost: " + o.host + ":" + std::to_string(o.port) + "\r\n";
  if (!o.key.empty()) r += "Authorization: Bearer " + o.key + "\r\n";
  if (!body.empty()) r += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  return r + "\r\n" + body;
}

// Sends one request on every connection, then reads every answer; returns each latency in ms.
std::vector<double> round_trip(const Options& o, std::vector<int>& fds, const std::string& method, const std::string& path,
                               const std::string& body, std::map<int, int>& statuses, std::vector<std::string>* ids = nullptr) {
  const size_t n = fds.size();
  std::vector<Answer> answers(n);
  std::vector<Clock::time_point> started(n);
  std::vector<double> latency(n, -1);
  for (size_t i = 0; i < n; ++i) {
    started[i] = Clock::now();
    send_all(fds[i], request_text(o, method, path, body));
  }
  size_t done = 0;
  std::vector<pollfd> polled(n);
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (done < n) {
    if (Clock::now() > deadline) fail(std::to_string(n - done) + " answers did not come in 60 s");
    for (size_t i = 0; i < n; ++i) polled[i] = {latency[i] < 0 ? fds[i] : -1, POLLIN, 0};
    if (::poll(polled.data(), nfds_t(n), 1000) < 0 && errno != EINTR) fail(std::string("poll: ") + std::strerror(errno));
    for (size_t i = 0; i < n; ++i) {
      if (latency[i] >= 0 || !(polled[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buffer[16384];
      const ssize_t got = ::recv(fds[i], buffer, sizeof buffer, 0);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) fail("the server closed a connection before answering");
      answers[i].bytes.append(buffer, size_t(got));
      if (!answers[i].complete()) continue;
      latency[i] = std::chrono::duration<double, std::milli>(Clock::now() - started[i]).count();
      statuses[answers[i].status] += 1;
      if (ids) {  // the answer's top-level "id" (a video object's first field)
        const std::string& a = answers[i].bytes;
        const size_t at = a.find("\"id\":", answers[i].header_end);
        const size_t open = at == std::string::npos ? at : a.find('"', at + 5);
        const size_t close = open == std::string::npos ? open : a.find('"', open + 1);
        if (close != std::string::npos) ids->push_back(a.substr(open + 1, close - open - 1));
      }
      ++done;
      if (answers[i].closes) {  // the next burst needs a fresh connection
        ::close(fds[i]);
        fds[i] = connect_to(o);
      }
    }
  }
  return latency;
}

struct Summary {
  double p50, p90, p99, max;
};
Summary summarize(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  auto at = [&](double p) { return v[std::min(v.size() - 1, size_t(p * double(v.size())))]; };
  return {at(0.5), at(0.9), at(0.99), v.back()};
}

std::string json_of(const Summary& s) {
  char text[160];
  std::snprintf(text, sizeof text, R"({"p50_ms": %.2f, "p90_ms": %.2f, "p99_ms": %.2f, "max_ms": %.2f})", s.p50, s.p90, s.p99, s.max);
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) fail("missing a value after " + flag);
    const std::string value = argv[++i];
    if (flag == "--host") o.host = value;
    else if (flag == "--port") o.port = std::atoi(value.c_str());
    else if (flag == "--clients") o.clients = std::atoi(value.c_str());
    else if (flag == "--bursts") o.bursts = std::atoi(value.c_str());
    else if (flag == "--pause-ms") o.pause_ms = std::atoi(value.c_str());
    else if (flag == "--path") o.path = value;
    else if (flag == "--body") o.body = value;
    else if (flag == "--key") o.key = value;
    else if (flag == "--ids") o.ids = value == "1";
    else fail("unknown option " + flag);
  }
  if (o.port <= 0 || o.port > 65535) fail("--port is required (1-65535)");
  if (o.clients < 1 || o.clients > 1000) fail("--clients is 1 to 1000");
  if (o.bursts < 1 || o.bursts > 100) fail("--bursts is 1 to 100");

  std::vector<int> fds;
  for (int i = 0; i < o.clients; ++i) fds.push_back(connect_to(o));
  std::map<int, int> statuses;
  round_trip(o, fds, "GET", "/healthz", "", statuses);  // every connection open and answered once
  statuses.clear();

  std::vector<double> all;
  std::vector<std::string> ids;
  std::string bursts = "[";
  for (int b = 0; b < o.bursts; ++b) {
    if (b > 0) std::this_thread::sleep_for(std::chrono::milliseconds(o.pause_ms));
    const auto latency = round_trip(o, fds, "POST", o.path, o.body, statuses, o.ids ? &ids : nullptr);
    all.insert(all.end(), latency.begin(), latency.end());
    bursts += (b ? ", " : "") + json_of(summarize(latency));
  }
  std::string codes = "{";
  for (const auto& [code, count] : statuses) codes += (codes.size() > 1 ? ", \"" : "\"") + std::to_string(code) + "\": " + std::to_string(count);
  std::string id_list = "[";
  for (size_t i = 0; i < ids.size(); ++i) id_list += (i ? ", \"" : "\"") + ids[i] + "\"";  // ids are [a-z0-9_]
  std::printf("{\"clients\": %d, \"bursts\": %s], \"all\": %s, \"statuses\": %s}, \"ids\": %s]}\n", o.clients, bursts.c_str(),
              json_of(summarize(all)).c_str(), codes.c_str(), id_list.c_str());
  for (const int fd : fds) ::close(fd);
  return statuses.size() == 1 && statuses.count(200) ? 0 : 1;
}
