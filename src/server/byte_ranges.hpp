#pragma once
// Range requests (RFC 9110 §14) against a representation of known length, decided here and
// not by cpp-httplib: Debian's 0.11 applies ranges to every response without checking them
// against its length (a truncated body, or a Content-Length of 2^64 - 10).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace opsis::server {

struct ByteRange {
  uint64_t first = 0;
  uint64_t last = 0;  // inclusive; first <= last < the representation's length
  uint64_t length() const { return last - first + 1; }
};

struct RangeDecision {
  enum class Kind {
    Whole,          // 200 and the whole representation: no Range, another unit, or ranges we may ignore
    Partial,        // 206: `ranges` (one, or several answered as multipart/byteranges)
    Unsatisfiable,  // 416 with Content-Range: bytes */length: malformed, or nothing within the length
  };
  Kind kind = Kind::Whole;
  std::vector<ByteRange> ranges;  // Partial only, clamped to the length, in the order asked
};

// The answer to a Range header field value for `length` bytes. More than `max_ranges`
// ranges, or overlapping ones, are answered whole (RFC 9110 §14.2 allows ignoring them).
RangeDecision decide_ranges(std::string_view header, uint64_t length, size_t max_ranges = 32);

// "bytes 0-99/1234"
std::string content_range(const ByteRange& range, uint64_t length);

// A multipart/byteranges body (RFC 9110 §14.6) as pieces: literal text (part headers and
// delimiters) and slices of the representation, so the bytes can be streamed from a file.
struct BodyPiece {
  std::string text;        // used when !from_representation
  bool from_representation = false;
  ByteRange range;         // used when from_representation
  uint64_t size() const { return from_representation ? range.length() : text.size(); }
};

struct MultipartBody {
  std::string content_type;  // "multipart/byteranges; boundary=..."
  std::vector<BodyPiece> pieces;
  uint64_t length = 0;
};

MultipartBody multipart_byteranges(const std::vector<ByteRange>& ranges, uint64_t length, const std::string& part_type,
                                   const std::string& boundary);

}  // namespace opsis::server
