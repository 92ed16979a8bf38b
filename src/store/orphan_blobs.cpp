#include "store/orphan_blobs.hpp"

namespace opsis::store {

OrphanCollection collect_orphan_blobs(MetadataStore& metadata, BlobStore& blobs, int64_t grace_seconds, int64_t now) {
  const int64_t cutoff = now - grace_seconds;
  OrphanCollection result;
  // Listed before the references are read: every blob considered was stored more than the
  // grace period before that read, and every writer stores (or stores again, which renews
  // the blob) before it records the key.
  const std::vector<StoredBlob> stored = blobs.list();
  result.blobs_seen = int(stored.size());
  const std::set<std::string> referenced = metadata.referenced_blobs();
  for (const StoredBlob& blob : stored) {
    if (blob.written_at > cutoff || referenced.count(blob.key)) continue;
    if (blobs.remove_if_written_before(blob.key, cutoff)) ++result.removed;
  }
  return result;
}

}  // namespace opsis::store
