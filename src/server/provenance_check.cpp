#include "server/provenance_check.hpp"

namespace opsis::server {

nlohmann::json ProvenanceCheck::to_json() const {
  nlohmann::json j = manifest.to_json();
  if (!watermark) {
    j["watermark"] = nullptr;
    return j;
  }
  nlohmann::json mark = watermark->to_json();
  mark["from_this_server"] = from_this_server;
  if (stored_video) {
    mark["video"] = {{"id", stored_video->id},           {"user", stored_video->user},
                     {"model", stored_video->model},     {"prompt", stored_video->prompt},
                     {"created_at", stored_video->created_at}, {"remixed_from", stored_video->remixed_from}};
  } else {
    mark["video"] = nullptr;
  }
  j["watermark"] = mark;
  return j;
}

std::optional<store::VideoRecord> find_video_by_watermark(store::MetadataStore& store, uint32_t video_id) {
  std::optional<store::VideoRecord> newest;
  for (auto& video : store.videos_with_status(store::VideoStatus::Completed))
    if (provenance::watermark_video_id(video.id) == video_id && (!newest || video.created_at >= newest->created_at))
      newest = std::move(video);
  return newest;
}

ProvenanceCheck check_provenance(const std::filesystem::path& file, const std::vector<provenance::Bytes>& anchors,
                                 const std::optional<provenance::WatermarkIdentity>& identity,
                                 store::MetadataStore* store) {
  ProvenanceCheck check;
  check.manifest = provenance::read_manifest(file, anchors);
  if (!identity) return check;
  check.watermark = provenance::read_watermarks(file, identity->watermark_key);
  if (check.watermark->found) {
    check.from_this_server = check.watermark->payload.server_id == identity->server_id;
    if (check.from_this_server && store) check.stored_video = find_video_by_watermark(*store, check.watermark->payload.video_id);
  }
  return check;
}

}  // namespace opsis::server
