#pragma once
// JUMBF (ISO/IEC 19566-5) boxes as C2PA uses them: superboxes (`jumb`) made of a
// description box (`jumd`: content-type UUID, toggles, label) and child boxes, which are
// either superboxes again or content boxes (`cbor`, `json`, `bidb`, ...). Box headers are
// 32-bit sizes when written; parsing accepts 64-bit sizes (size == 1) and size == 0 (the box
// runs to the end of its parent).
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace opsis::provenance::jumbf {

using Bytes = std::vector<uint8_t>;
using Uuid = std::array<uint8_t, 16>;

// The C2PA/JUMBF content-type UUIDs: four ASCII bytes followed by 0011-0010-8000-00AA00389B71.
Uuid type_uuid(const char (&fourcc)[5]);
std::string uuid_hex(const Uuid& uuid);  // 32 uppercase hex digits

inline const Uuid kStoreType = type_uuid("c2pa");        // manifest store
inline const Uuid kManifestType = type_uuid("c2ma");     // standard manifest
inline const Uuid kAssertionStoreType = type_uuid("c2as");
inline const Uuid kClaimType = type_uuid("c2cl");
inline const Uuid kSignatureType = type_uuid("c2cs");
inline const Uuid kCborType = type_uuid("cbor");         // CBOR assertion / content
inline const Uuid kJsonType = type_uuid("json");

struct Box {
  std::string type;  // four characters: "jumb" for a superbox, else the content box type

  // Superbox fields (type == "jumb").
  Uuid content_type{};
  uint8_t toggles = 0x03;  // requestable + label present
  std::string label;
  Bytes description_tail;  // jumd bytes after the label (ID, signature, private box), verbatim
  std::vector<Box> children;

  // Content box field (type != "jumb").
  Bytes payload;

  // For parsed boxes: the box exactly as it was read, header included. serialize() writes
  // it verbatim when set (copied manifests keep their bytes); clear it after editing.
  Bytes raw;

  bool is_superbox() const { return type == "jumb"; }
  // First child superbox with this label, or nullptr.
  const Box* child(const std::string& child_label) const;
  // First content box child of this type, or nullptr.
  const Box* content(const std::string& content_type) const;

  static Box superbox(const Uuid& content_type, std::string label);
  static Box content_box(std::string type, Bytes payload);
};

// The whole box (header included).
Bytes serialize(const Box& box);
// The box without its 8-byte header: what C2PA hashes for assertions and manifests.
Bytes serialize_payload(const Box& box);

// Parses exactly one box spanning all of `data`. Throws opsis::InvalidArgument("jumbf", ...).
Box parse(std::span<const uint8_t> data);

// The bytes hashed for a parsed box: `raw` minus its header (8 or 16 bytes).
std::span<const uint8_t> raw_payload(const Box& box);

}  // namespace opsis::provenance::jumbf
