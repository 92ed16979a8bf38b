#include "server/byte_ranges.hpp"

#include <algorithm>
#include <limits>
#include <optional>

namespace opsis::server {

namespace {

constexpr uint64_t kHuge = std::numeric_limits<uint64_t>::max();

std::string_view trim_ows(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// 1*DIGIT; a value past 2^64 - 1 saturates (it is past any length either way).
std::optional<uint64_t> digits(std::string_view text) {
  if (text.empty()) return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    const uint64_t d = uint64_t(c - '0');
    value = value > (kHuge - d) / 10 ? kHuge : value * 10 + d;
  }
  return value;
}

bool is_token(std::string_view text) {
  if (text.empty()) return false;
  for (unsigned char c : text) {
    const bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (!alnum && std::string_view("!#$%&'*+-.^_`|~").find(char(c)) == std::string_view::npos) return false;
  }
  return true;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x >= 'A' && x <= 'Z' ? char(x + 32) : x) == (y >= 'A' && y <= 'Z' ? char(y + 32) : y);
         });
}

// One range-spec: int-range (first "-" [last]) or suffix-range ("-" length). nullopt = invalid.
struct Spec {
  bool suffix = false;
  uint64_t first = 0, last = kHuge;  // int-range
  uint64_t suffix_length = 0;
};

std::optional<Spec> parse_spec(std::string_view text) {
  const size_t dash = text.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  const std::string_view first = text.substr(0, dash), last = text.substr(dash + 1);
  Spec spec;
  if (first.empty()) {
    const auto length = digits(last);
    if (!length) return std::nullopt;
    spec.suffix = true;
    spec.suffix_length = *length;
    return spec;
  }
  const auto a = digits(first);
  if (!a) return std::nullopt;
  spec.first = *a;
  if (!last.empty()) {
    const auto b = digits(last);
    if (!b || *b < *a) return std::nullopt;  // "5-2" is invalid, not empty
    spec.last = *b;
  }
  return spec;
}

}  // namespace

RangeDecision decide_ranges(std::string_view header, uint64_t length, size_t max_ranges) {
  RangeDecision unsatisfiable;
  unsatisfiable.kind = RangeDecision::Kind::Unsatisfiable;
  header = trim_ows(header);
  const size_t equals = header.find('=');
  if (equals == std::string_view::npos || !is_token(header.substr(0, equals))) return unsatisfiable;
  // A unit this server does not know is ignored (RFC 9110 §14.2: MUST).
  if (!equals_ignoring_case(header.substr(0, equals), "bytes")) return {};

  std::vector<Spec> specs;
  std::string_view rest = header.substr(equals + 1);
  while (true) {
    const size_t comma = rest.find(',');
    const std::string_view element = trim_ows(rest.substr(0, comma));
    if (!element.empty()) {  // a list may hold empty elements (RFC 9110 §5.6.1)
      const auto spec = parse_spec(element);
      if (!spec) return unsatisfiable;
      specs.push_back(*spec);
    }
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  if (specs.empty()) return unsatisfiable;
  if (specs.size() > max_ranges) return {};

  RangeDecision decision;
  for (const Spec& spec : specs) {
    if (spec.suffix) {
      if (spec.suffix_length == 0 || length == 0) continue;
      decision.ranges.push_back({length - std::min(spec.suffix_length, length), length - 1});
    } else if (spec.first < length) {
      decision.ranges.push_back({spec.first, std::min(spec.last, length - 1)});
    }
  }
  if (decision.ranges.empty()) return unsatisfiable;
  if (decision.ranges.size() > 1) {
    std::vector<ByteRange> sorted = decision.ranges;
    std::sort(sorted.begin(), sorted.end(), [](const ByteRange& a, const ByteRange& b) { return a.first < b.first; });
    for (size_t i = 1; i < sorted.size(); ++i)
      if (sorted[i].first <= sorted[i - 1].last) return {};  // overlapping: the whole representation instead
  }
  decision.kind = RangeDecision::Kind::Partial;
  return decision;
}

std::string content_range(const ByteRange& range, uint64_t length) {
  return "bytes " + std::to_string(range.first) + "-" + std::to_string(range.last) + "/" + std::to_string(length);
}

MultipartBody multipart_byteranges(const std::vector<ByteRange>& ranges, uint64_t length, const std::string& part_type,
                                   const std::string& boundary) {
  MultipartBody body;
  body.content_type = "multipart/byteranges; boundary=" + boundary;
  auto add_text = [&body](std::string text) {
    BodyPiece piece;
    piece.text = std::move(text);
    body.length += piece.size();
    body.pieces.push_back(std::move(piece));
  };
  for (size_t i = 0; i < ranges.size(); ++i) {
    // The CRLF before a delimiter belongs to the delimiter (RFC 2046 §5.1.1).
    add_text(std::string(i == 0 ? "" : "\r\n") + "--" + boundary + "\r\nContent-Type: " + part_type +
             "\r\nContent-Range: " + content_range(ranges[i], length) + "\r\n\r\n");
    BodyPiece slice;
    slice.from_representation = true;
    slice.range = ranges[i];
    body.length += slice.size();
    body.pieces.push_back(std::move(slice));
  }
  add_text("\r\n--" + boundary + "--\r\n");
  return body;
}

}  // namespace opsis::server
