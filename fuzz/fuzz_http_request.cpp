// A whole HTTP request, as bytes from a socket, through cpp-httplib's request parser (request
// line, headers, Range, multipart/form-data, body limits) into handlers built the way the
// server's are: the create route's field reading (Body) and the content route's byte ranges.
#include <httplib.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "core/error.hpp"
#include "server/byte_ranges.hpp"
#include "server/request_body.hpp"

namespace {

using namespace opsis::server;

// The request's bytes in; what the server writes is dropped.
class MemoryStream final : public httplib::Stream {
 public:
  MemoryStream(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool is_readable() const override { return true; }
  bool is_writable() const override { return true; }
  ssize_t read(char* ptr, size_t size) override {
    const size_t n = std::min(size, size_ - offset_);
    std::memcpy(ptr, data_ + offset_, n);
    offset_ += n;
    return ssize_t(n);
  }
  ssize_t write(const char*, size_t size) override { return ssize_t(size); }
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip = "127.0.0.1";
    port = 40000;
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    ip = "127.0.0.1";
    port = 8000;
  }
  socket_t socket() const override { return -1; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t offset_ = 0;
};

class FuzzedServer final : public httplib::Server {
 public:
  FuzzedServer() {
    set_payload_max_length(1 << 20);
    set_pre_routing_handler([](const httplib::Request& req, httplib::Response&) {
      const_cast<httplib::Request&>(req).ranges.clear();
      return HandlerResponse::Unhandled;
    });
    set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) { res.status = 500; });
    Post("/v1/videos", [](const httplib::Request& req, httplib::Response& res) {
      try {
        const Body body(req);
        std::string seen = body.required({"prompt"}, "prompt");
        for (const char* field : {"model", "seconds", "size"})
          if (auto value = body.text({field})) seen += *value;
        if (auto file = body.file("input_reference")) seen += file->substr(0, 8);
        if (auto url = body.text({"input_reference", "image_url"}); url && url->rfind("data:", 0) == 0) data_url_bytes(*url);
        body.text({"video", "id"});
        body.present({"input_reference"});
        res.set_content(seen.substr(0, 64), "text/plain");
      } catch (const opsis::InvalidArgument&) {
        res.status = 400;
      } catch (const nlohmann::json::exception&) {
        res.status = 400;
      }
    });
    Get(R"(/v1/videos/([^/]+)/content)", [](const httplib::Request& req, httplib::Response& res) {
      constexpr uint64_t kLength = 10000;
      const RangeDecision ranges = decide_ranges(req.get_header_value("Range"), kLength);
      for (const ByteRange& range : ranges.ranges)
        if (range.first > range.last || range.last >= kLength) __builtin_trap();  // within the file, always
      if (ranges.kind == RangeDecision::Kind::Partial && ranges.ranges.size() > 1) {
        const MultipartBody body = multipart_byteranges(ranges.ranges, kLength, "video/mp4", "fuzz");
        uint64_t total = 0;
        for (const BodyPiece& piece : body.pieces) total += piece.size();
        if (total != body.length) __builtin_trap();  // the advertised length must be what is sent
      } else if (ranges.kind == RangeDecision::Kind::Partial) {
        content_range(ranges.ranges.front(), kLength);
      }
      res.set_content("ok", "text/plain");
    });
  }
  void serve(const uint8_t* data, size_t size) {
    MemoryStream stream(data, size);
    bool closed = false;
    process_request(stream, true, closed, [](httplib::Request&) {});
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static FuzzedServer server;
  server.serve(data, size);
  return 0;
}
