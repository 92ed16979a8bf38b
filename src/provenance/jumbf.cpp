#include "provenance/jumbf.hpp"

#include <cstring>

#include "core/error.hpp"

namespace opsis::provenance::jumbf {
namespace {

[[noreturn]] void fail(const std::string& message) { throw InvalidArgument("jumbf", message); }

void put_u32(Bytes& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(uint8_t(v >> shift));
}

uint64_t get_be(std::span<const uint8_t> data, size_t pos, int count) {
  uint64_t v = 0;
  for (int i = 0; i < count; ++i) v = (v << 8) | data[pos + size_t(i)];
  return v;
}

Bytes description_payload(const Box& box) {
  Bytes out(box.content_type.begin(), box.content_type.end());
  out.push_back(box.toggles);
  if (!box.label.empty()) {
    out.insert(out.end(), box.label.begin(), box.label.end());
    out.push_back(0);
  }
  out.insert(out.end(), box.description_tail.begin(), box.description_tail.end());
  return out;
}

void append_box(Bytes& out, const std::string& type, const Bytes& payload) {
  const uint64_t size = 8 + uint64_t(payload.size());
  if (size > 0xffffffffULL) fail("JUMBF box of " + std::to_string(size) + " bytes is too large");
  put_u32(out, uint32_t(size));
  out.insert(out.end(), type.begin(), type.end());
  out.insert(out.end(), payload.begin(), payload.end());
}

struct Header {
  std::string type;
  size_t header_size = 8;
  size_t total_size = 0;
};

Header read_header(std::span<const uint8_t> data, size_t pos) {
  if (data.size() - pos < 8) fail("truncated box header");
  Header h;
  uint64_t size = get_be(data, pos, 4);
  h.type.assign(reinterpret_cast<const char*>(data.data() + pos + 4), 4);
  if (size == 1) {
    if (data.size() - pos < 16) fail("truncated 64-bit box header");
    size = get_be(data, pos + 8, 8);
    h.header_size = 16;
  } else if (size == 0) {
    size = data.size() - pos;
  }
  if (size < h.header_size || size > data.size() - pos) {
    fail("box '" + h.type + "' claims " + std::to_string(size) + " bytes but " +
         std::to_string(data.size() - pos) + " remain");
  }
  h.total_size = size_t(size);
  return h;
}

Box parse_box(std::span<const uint8_t> data, int depth) {
  if (depth > 32) fail("JUMBF nesting deeper than 32");
  const Header h = read_header(data, 0);
  if (h.total_size != data.size()) fail("box '" + h.type + "' does not span its data");
  Box box;
  box.type = h.type;
  box.raw.assign(data.begin(), data.end());
  auto payload = data.subspan(h.header_size);
  if (!box.is_superbox()) {
    box.payload.assign(payload.begin(), payload.end());
    return box;
  }
  // The description box comes first.
  if (payload.size() < 8) fail("superbox without a description box");
  const Header dh = read_header(payload, 0);
  if (dh.type != "jumd") fail("superbox starts with '" + dh.type + "' instead of 'jumd'");
  auto desc = payload.subspan(dh.header_size, dh.total_size - dh.header_size);
  if (desc.size() < 17) fail("description box shorter than its UUID and toggles");
  std::memcpy(box.content_type.data(), desc.data(), 16);
  box.toggles = desc[16];
  size_t pos = 17;
  if (box.toggles & 0x02) {
    size_t end = pos;
    while (end < desc.size() && desc[end] != 0) ++end;
    if (end == desc.size()) fail("description box label is not null-terminated");
    box.label.assign(reinterpret_cast<const char*>(desc.data() + pos), end - pos);
    pos = end + 1;
  }
  box.description_tail.assign(desc.begin() + long(pos), desc.end());
  size_t child_pos = dh.total_size;
  while (child_pos < payload.size()) {
    const Header ch = read_header(payload, child_pos);
    box.children.push_back(parse_box(payload.subspan(child_pos, ch.total_size), depth + 1));
    child_pos += ch.total_size;
  }
  return box;
}

}  // namespace

Uuid type_uuid(const char (&fourcc)[5]) {
  Uuid u = {0, 0, 0, 0, 0x00, 0x11, 0x00, 0x10, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71};
  for (int i = 0; i < 4; ++i) u[size_t(i)] = uint8_t(fourcc[i]);
  return u;
}

std::string uuid_hex(const Uuid& uuid) {
  static const char* digits = "0123456789ABCDEF";
  std::string s;
  for (uint8_t b : uuid) {
    s.push_back(digits[b >> 4]);
    s.push_back(digits[b & 15]);
  }
  return s;
}

const Box* Box::child(const std::string& child_label) const {
  for (const Box& c : children) {
    if (c.is_superbox() && c.label == child_label) return &c;
  }
  return nullptr;
}

const Box* Box::content(const std::string& content_type_name) const {
  for (const Box& c : children) {
    if (!c.is_superbox() && c.type == content_type_name) return &c;
  }
  return nullptr;
}

Box Box::superbox(const Uuid& content_type, std::string label) {
  Box b;
  b.type = "jumb";
  b.content_type = content_type;
  b.label = std::move(label);
  b.toggles = b.label.empty() ? 0x01 : 0x03;
  return b;
}

Box Box::content_box(std::string type, Bytes payload) {
  if (type.size() != 4) fail("box type must be four characters: '" + type + "'");
  Box b;
  b.type = std::move(type);
  b.payload = std::move(payload);
  return b;
}

Bytes serialize_payload(const Box& box) {
  if (!box.raw.empty()) {
    auto p = raw_payload(box);
    return Bytes(p.begin(), p.end());
  }
  if (!box.is_superbox()) return box.payload;
  Bytes out;
  append_box(out, "jumd", description_payload(box));
  for (const Box& child : box.children) {
    if (!child.raw.empty()) {
      out.insert(out.end(), child.raw.begin(), child.raw.end());
    } else {
      append_box(out, child.type, serialize_payload(child));
    }
  }
  return out;
}

Bytes serialize(const Box& box) {
  if (!box.raw.empty()) return box.raw;
  Bytes out;
  append_box(out, box.type, serialize_payload(box));
  return out;
}

Box parse(std::span<const uint8_t> data) { return parse_box(data, 0); }

std::span<const uint8_t> raw_payload(const Box& box) {
  if (box.raw.size() < 8) fail("box was not parsed from bytes");
  const size_t header = (box.raw[0] == 0 && box.raw[1] == 0 && box.raw[2] == 0 && box.raw[3] == 1) ? 16 : 8;
  return std::span<const uint8_t>(box.raw).subspan(header);
}

}  // namespace opsis::provenance::jumbf
