// Range decisions (RFC 9110 §14) for a representation of known length. The HTTP side is
// tested against the real server in tests/api/ranges.test.mjs.
#include "server/byte_ranges.hpp"

#include <gtest/gtest.h>

#include <string>

namespace opsis::server {
namespace {

using Kind = RangeDecision::Kind;

std::string describe(const RangeDecision& d) {
  if (d.kind == Kind::Whole) return "whole";
  if (d.kind == Kind::Unsatisfiable) return "416";
  std::string out;
  for (const auto& r : d.ranges) {
    if (!out.empty()) out += ',';
    out.append(std::to_string(r.first)).append("-").append(std::to_string(r.last));
  }
  return out;
}

std::string decide(const std::string& header, uint64_t length = 1000) { return describe(decide_ranges(header, length)); }

TEST(ByteRanges, SingleRangesAreClampedToTheLength) {
  EXPECT_EQ(decide("bytes=0-99"), "0-99");
  EXPECT_EQ(decide("bytes=100-299"), "100-299");
  EXPECT_EQ(decide("bytes=0-65535", 9700), "0-9699");      // runs past the end: clamped
  EXPECT_EQ(decide("bytes=999-"), "999-999");
  EXPECT_EQ(decide("bytes=0-"), "0-999");
  EXPECT_EQ(decide("bytes=500-999999999999999999999999"), "500-999");  // past 2^64: saturates, clamped
  EXPECT_EQ(decide("bytes=7-7"), "7-7");
  EXPECT_EQ(decide("  bytes=1-2  "), "1-2");
  EXPECT_EQ(decide("BYTES=1-2"), "1-2");  // the unit is case-insensitive
}

TEST(ByteRanges, SuffixRangesCountFromTheEnd) {
  EXPECT_EQ(decide("bytes=-100"), "900-999");
  EXPECT_EQ(decide("bytes=-1"), "999-999");
  EXPECT_EQ(decide("bytes=-5000"), "0-999");  // longer than the file: all of it
  EXPECT_EQ(decide("bytes=-99999999999999999999999"), "0-999");
  EXPECT_EQ(decide("bytes=-0"), "416");       // nothing: unsatisfiable
}

TEST(ByteRanges, StartsPastTheEndAreUnsatisfiable) {
  EXPECT_EQ(decide("bytes=1000-"), "416");
  EXPECT_EQ(decide("bytes=1000-2000"), "416");
  EXPECT_EQ(decide("bytes=18446744073709551615-"), "416");
  EXPECT_EQ(decide("bytes=99999999999999999999999-"), "416");
  EXPECT_EQ(decide("bytes=0-0", 0), "416");
  EXPECT_EQ(decide("bytes=-5", 0), "416");
}

TEST(ByteRanges, MalformedRangesAreUnsatisfiable) {
  for (const char* header : {"bytes=abc", "bytes=5-2", "bytes=-", "bytes=", "bytes=,", "bytes=1-2-3", "bytes=--5", "bytes=-5-",
                             "bytes=1 -2", "bytes=0x10-20", "bytes=+1-2", "bytes=1-2,abc", "bytes=0-1,5-2", "bytes", "=0-5",
                             "bytes =0-5", "bytes=-1.5", "bytes=\xff-1"})
    EXPECT_EQ(decide(header), "416") << header;
}

TEST(ByteRanges, OtherUnitsAreIgnored) {
  EXPECT_EQ(decide("items=0-5"), "whole");
  EXPECT_EQ(decide("pages=abc"), "whole");
}

TEST(ByteRanges, SeveralRangesStayInTheOrderAskedUnlessTheyOverlap) {
  EXPECT_EQ(decide("bytes=0-9,20-29"), "0-9,20-29");
  EXPECT_EQ(decide("bytes=500-599, 0-9 ,-10"), "500-599,0-9,990-999");
  EXPECT_EQ(decide("bytes=0-9,10-19"), "0-9,10-19");  // adjacent is not overlapping
  EXPECT_EQ(decide("bytes=0-9,,20-29,"), "0-9,20-29");  // empty list elements are allowed
  EXPECT_EQ(decide("bytes=0-9,5000-6000"), "0-9");      // the unsatisfiable one is dropped
  EXPECT_EQ(decide("bytes=5000-,6000-7000"), "416");
  EXPECT_EQ(decide("bytes=0-9,5-20"), "whole");          // overlapping: answered whole
  EXPECT_EQ(decide("bytes=0-,-10"), "whole");
  EXPECT_EQ(decide("bytes=0-9,0-9"), "whole");
  std::string many = "bytes=0-0";
  for (int i = 1; i <= 32; ++i) many.append(",").append(std::to_string(2 * i)).append("-").append(std::to_string(2 * i));
  EXPECT_EQ(decide(many), "whole");  // more than 32 ranges
}

TEST(ByteRanges, ContentRangeAndMultipartLayout) {
  EXPECT_EQ(content_range({0, 99}, 1234), "bytes 0-99/1234");
  const MultipartBody body = multipart_byteranges({{0, 1}, {5, 7}}, 10, "image/webp", "B");
  EXPECT_EQ(body.content_type, "multipart/byteranges; boundary=B");
  std::string text;
  const std::string data = "0123456789";
  for (const auto& piece : body.pieces)
    text += piece.from_representation ? data.substr(piece.range.first, piece.range.length()) : piece.text;
  EXPECT_EQ(text,
            "--B\r\nContent-Type: image/webp\r\nContent-Range: bytes 0-1/10\r\n\r\n01"
            "\r\n--B\r\nContent-Type: image/webp\r\nContent-Range: bytes 5-7/10\r\n\r\n567"
            "\r\n--B--\r\n");
  EXPECT_EQ(body.length, text.size());
}

}  // namespace
}  // namespace opsis::server
