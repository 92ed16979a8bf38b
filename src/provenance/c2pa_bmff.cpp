#include "provenance/c2pa_bmff.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "core/error.hpp"

namespace opsis::provenance::bmff {
namespace {

[[noreturn]] void fail(const std::string& message) { throw InvalidArgument("file", message); }

uint64_t get_be(std::span<const uint8_t> data, uint64_t pos, int count) {
  uint64_t v = 0;
  for (int i = 0; i < count; ++i) v = (v << 8) | data[size_t(pos) + size_t(i)];
  return v;
}

void put_be(Bytes& out, uint64_t v, int count) {
  for (int shift = (count - 1) * 8; shift >= 0; shift -= 8) out.push_back(uint8_t(v >> shift));
}

bool matches(std::span<const uint8_t> file, const TopLevelBox& box, const Exclusion& exclusion) {
  if (exclusion.xpath != "/" + box.type) return false;
  if (exclusion.length && *exclusion.length != box.size) return false;
  for (const auto& [offset, value] : exclusion.data) {
    if (offset + value.size() > box.size) return false;
    if (!std::equal(value.begin(), value.end(), file.begin() + long(box.offset + offset))) return false;
  }
  return true;
}

const std::string kPurpose = "manifest";

}  // namespace

std::vector<TopLevelBox> list_top_level_boxes(std::span<const uint8_t> file) {
  std::vector<TopLevelBox> boxes;
  uint64_t pos = 0;
  while (pos < file.size()) {
    const uint64_t remaining = file.size() - pos;
    if (remaining < 8) fail("truncated box header at offset " + std::to_string(pos));
    TopLevelBox box;
    box.offset = pos;
    box.size = get_be(file, pos, 4);
    box.type.assign(reinterpret_cast<const char*>(file.data() + pos + 4), 4);
    for (char c : box.type) {
      if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e)
        fail("not an MP4 file: unreadable box type at offset " + std::to_string(pos));
    }
    if (box.size == 1) {
      if (remaining < 16) fail("truncated 64-bit box header at offset " + std::to_string(pos));
      box.size = get_be(file, pos + 8, 8);
      box.header_size = 16;
    } else if (box.size == 0) {
      box.size = remaining;
      box.extends_to_end = true;
    }
    if (box.size < box.header_size || box.size > remaining)
      fail("box '" + box.type + "' at offset " + std::to_string(pos) + " claims " +
           std::to_string(box.size) + " bytes but " + std::to_string(remaining) + " remain");
    if (box.type == "uuid") {
      if (box.size < box.header_size + 16) fail("uuid box too small at offset " + std::to_string(pos));
      std::array<uint8_t, 16> user_type;
      std::memcpy(user_type.data(), file.data() + pos + box.header_size, 16);
      box.user_type = user_type;
      box.header_size += 16;
    }
    if (boxes.empty() && box.type != "ftyp") fail("not an MP4 file: it does not start with an ftyp box");
    boxes.push_back(box);
    pos += box.size;
  }
  if (boxes.empty()) fail("empty file");
  return boxes;
}

bool is_c2pa_box(const TopLevelBox& box) {
  return box.type == "uuid" && box.user_type && *box.user_type == kC2paUuid;
}

std::vector<Exclusion> default_exclusions() {
  Exclusion uuid{"/uuid", {{8, Bytes(kC2paUuid.begin(), kC2paUuid.end())}}, std::nullopt};
  return {uuid, {"/ftyp", {}, std::nullopt}, {"/mfra", {}, std::nullopt},
          {"/free", {}, std::nullopt}, {"/skip", {}, std::nullopt}};
}

Bytes hash_boxes(std::span<const uint8_t> file, const std::vector<TopLevelBox>& boxes,
                 const std::vector<Exclusion>& exclusions) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> md(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!md || EVP_DigestInit_ex(md.get(), EVP_sha256(), nullptr) != 1) throw IoError("SHA-256 unavailable");
  for (const TopLevelBox& box : boxes) {
    const bool excluded = std::any_of(exclusions.begin(), exclusions.end(),
                                      [&](const Exclusion& e) { return matches(file, box, e); });
    if (excluded) continue;
    Bytes offset;
    put_be(offset, box.offset, 8);
    EVP_DigestUpdate(md.get(), offset.data(), offset.size());
    EVP_DigestUpdate(md.get(), file.data() + box.offset, size_t(box.size));
  }
  Bytes digest(32, 0);
  unsigned int length = 0;
  EVP_DigestFinal_ex(md.get(), digest.data(), &length);
  return digest;
}

Bytes make_manifest_box(std::span<const uint8_t> store) {
  // header, user type, version + flags, purpose "manifest\0", u64 offset of the first
  // auxiliary (merkle) uuid box: 0 = none.
  const uint64_t size = 8 + 16 + 4 + kPurpose.size() + 1 + 8 + store.size();
  Bytes box;
  box.reserve(size_t(size));
  if (size > 0xffffffffULL) {
    put_be(box, 1, 4);
    box.insert(box.end(), {'u', 'u', 'i', 'd'});
    put_be(box, size + 8, 8);
  } else {
    put_be(box, size, 4);
    box.insert(box.end(), {'u', 'u', 'i', 'd'});
  }
  box.insert(box.end(), kC2paUuid.begin(), kC2paUuid.end());
  put_be(box, 0, 4);
  box.insert(box.end(), kPurpose.begin(), kPurpose.end());
  box.push_back(0);
  put_be(box, 0, 8);
  box.insert(box.end(), store.begin(), store.end());
  return box;
}

std::optional<ManifestBox> find_manifest_box(std::span<const uint8_t> file,
                                             const std::vector<TopLevelBox>& boxes) {
  std::optional<ManifestBox> found;
  for (size_t i = 0; i < boxes.size(); ++i) {
    const TopLevelBox& box = boxes[i];
    if (!is_c2pa_box(box)) continue;
    // After the user type: version/flags (4), a null-terminated purpose, then for
    // "manifest" a u64 offset before the JUMBF.
    uint64_t pos = box.offset + box.header_size + 4;
    const uint64_t end = box.offset + box.size;
    if (pos > end) fail("C2PA box too small");
    std::string purpose;
    while (pos < end && file[size_t(pos)] != 0) purpose.push_back(char(file[size_t(pos++)]));
    if (pos >= end) fail("C2PA box purpose is not null-terminated");
    ++pos;
    if (purpose != kPurpose) continue;  // "merkle" and other auxiliary boxes
    if (end - pos < 8) fail("C2PA box too small for its merkle offset");
    pos += 8;
    if (found) fail("the file holds more than one C2PA manifest store");
    found = ManifestBox{i, file.subspan(size_t(pos), size_t(end - pos))};
  }
  return found;
}

}  // namespace opsis::provenance::bmff
