#pragma once
// Orphan blobs: bytes stored but referenced by no record, left by a process killed between
// storing a finished job's files and recording them (or an upload whose record was never
// written). Collected at start-up and periodically; only blobs older than a grace period are
// touched, since a blob is always stored a moment before the record that names it.
#include <cstdint>

#include "store/blob_store.hpp"
#include "store/metadata_store.hpp"

namespace opsis::store {

struct OrphanCollection {
  int blobs_seen = 0;
  int removed = 0;
};

// Removes every blob last written at or before `now - grace_seconds` that no record refers to.
// The blobs are listed before the references are read, and each removal checks the blob's
// age again, so a blob stored (or stored again) while this runs is never taken.
OrphanCollection collect_orphan_blobs(MetadataStore& metadata, BlobStore& blobs, int64_t grace_seconds, int64_t now);

}  // namespace opsis::store
