#pragma once
// What `opsis verify --data DIR` and GET /v1/provenance say about a file: its C2PA manifest
// (checked against the given anchors), its invisible watermark read with the data
// directory's key, and which stored video the watermark names.
#include <filesystem>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "provenance/c2pa.hpp"
#include "provenance/finish.hpp"
#include "store/metadata_store.hpp"

namespace opsis::server {

struct ProvenanceCheck {
  provenance::ManifestReport manifest;
  std::optional<provenance::WatermarkReport> watermark;  // read when a key was given
  bool from_this_server = false;                         // the payload's server id is the key's
  std::optional<store::VideoRecord> stored_video;        // the video the payload names

  // The manifest report's JSON with "watermark": {..., "from_this_server", "video": {...}}.
  nlohmann::json to_json() const;
};

// The stored video whose id gives `video_id` (provenance::watermark_video_id). Videos of
// completed videos are searched (a linear scan); the newest match wins (32 bits: collisions are
// rare, not impossible).
std::optional<store::VideoRecord> find_video_by_watermark(store::MetadataStore& store, uint32_t video_id);

// Throws opsis::InvalidArgument (not a video file) or opsis::IoError.
ProvenanceCheck check_provenance(const std::filesystem::path& file, const std::vector<provenance::Bytes>& anchors,
                                 const std::optional<provenance::WatermarkIdentity>& identity,
                                 store::MetadataStore* store);

}  // namespace opsis::server
