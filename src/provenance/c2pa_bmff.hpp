#pragma once
// ISO BMFF (MP4) top-level boxes as C2PA sees them: where the manifest store lives (a
// top-level `uuid` box with the C2PA UUID, purpose "manifest") and the c2pa.hash.bmff v2/v3
// hard binding (SHA-256 over every top-level box not excluded, each preceded by its file
// offset as 8 bytes big-endian).
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace opsis::provenance::bmff {

using Bytes = std::vector<uint8_t>;

inline constexpr std::array<uint8_t, 16> kC2paUuid = {0xd8, 0xfe, 0xc3, 0xd6, 0x1b, 0x0e, 0x48, 0x3c,
                                                      0x92, 0x97, 0x58, 0x28, 0x87, 0x7e, 0xc4, 0x81};

struct TopLevelBox {
  uint64_t offset = 0;
  uint64_t size = 0;          // whole box, header included (size == 0 resolved to end of file)
  uint32_t header_size = 8;   // 8, 16 with a 64-bit size, +16 for a uuid box's user type
  std::string type;           // four characters
  bool extends_to_end = false;  // the header said size 0
  std::optional<std::array<uint8_t, 16>> user_type;  // for `uuid` boxes
};

// The top-level boxes of an MP4 file, in order. Throws opsis::InvalidArgument("file", ...)
// when the data is not a well-formed sequence of boxes starting with `ftyp`.
std::vector<TopLevelBox> list_top_level_boxes(std::span<const uint8_t> file);

bool is_c2pa_box(const TopLevelBox& box);

// One exclusion of a c2pa.hash.bmff assertion, top-level only: `xpath` "/ftyp", optionally
// narrowed by byte values at offsets inside the box (how the C2PA uuid box is recognised)
// and by the box's total length.
struct Exclusion {
  std::string xpath;
  std::vector<std::pair<uint64_t, Bytes>> data;
  std::optional<uint64_t> length;
};

// The default exclusions opsis writes (and c2pa-rs writes): the C2PA uuid box, ftyp, mfra,
// free, skip.
std::vector<Exclusion> default_exclusions();

// SHA-256 of the v2/v3 BMFF hash: for each top-level box not matched by `exclusions`, its
// 8-byte big-endian offset then its bytes.
Bytes hash_boxes(std::span<const uint8_t> file, const std::vector<TopLevelBox>& boxes,
                 const std::vector<Exclusion>& exclusions);

// A complete top-level uuid box holding `store` (a JUMBF manifest store).
Bytes make_manifest_box(std::span<const uint8_t> store);

struct ManifestBox {
  size_t box_index = 0;          // in list_top_level_boxes()
  std::span<const uint8_t> store;  // the JUMBF manifest store inside it
};

// The C2PA box with purpose "manifest", if there is one. Throws when there are several.
std::optional<ManifestBox> find_manifest_box(std::span<const uint8_t> file,
                                             const std::vector<TopLevelBox>& boxes);

}  // namespace opsis::provenance::bmff
