#pragma once
// The last step of every MP4 opsis makes: invisible watermark (picture and sound) with a
// payload naming the server and the video, the visible mark when asked, the MP4 written
// atomically, and a signed C2PA manifest. `opsis generate` and `opsis serve` both end here.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/av.hpp"
#include "core/progress.hpp"
#include "provenance/c2pa.hpp"
#include "provenance/watermark.hpp"

namespace opsis::provenance {

// What a data directory signs and marks with: its C2PA credentials (DATA/c2pa), its
// watermark key (DATA/watermark.key, random, mode 0600) and its server id (the first 32 bits
// of the SHA-256 of its root certificate, or of the end-entity certificate of a supplied chain).
struct ProvenanceIdentity {
  std::filesystem::path data_dir;
  SigningCredentials credentials;
  uint64_t watermark_key = 0;
  uint32_t server_id = 0;

  // Creates what is missing (credentials, key). Throws opsis::IoError.
  static ProvenanceIdentity load_or_create(const std::filesystem::path& data_dir);
};

// Reads only the watermark key and server id of an existing data directory (for verifying);
// std::nullopt when it has no key.
struct WatermarkIdentity {
  uint64_t watermark_key = 0;
  uint32_t server_id = 0;
};
std::optional<WatermarkIdentity> load_watermark_identity(const std::filesystem::path& data_dir);

// The 32 bits of a video id carried by the mark: the first 4 bytes of SHA-256(id), so a
// stored video is found again by recomputing it.
uint32_t watermark_video_id(const std::string& video_id);

struct FinishRequest {
  std::string video_id;      // the stored id (server) or a name for the file (generate)
  std::string creator;       // the requesting user's handle; shown by the visible mark
  std::string model_name;
  std::string model_version;
  std::optional<ParentVideo> remix_of;     // remix or extension source
  std::optional<InputImage> input_image;   // image-to-video first frame
  std::vector<std::string> cameo_handles;
  std::vector<std::string> cameo_ids;      // beside cameo_handles (the registry's ids), or empty
  bool visible_watermark = false;
  bool audio_watermark = true;             // when the track is non-empty
  bool allow_ai_training = false;
};

struct FinishResult {
  Payload payload;
};

// Marks `video` (and `audio`) in place, writes `output` with media::write_mp4 through a
// temporary beside it, signs it and renames it into place: `output` is either the finished,
// signed file or untouched. Throws opsis::InvalidArgument / opsis::IoError / opsis::Cancelled.
FinishResult finish_video(Video& video, Audio& audio, const std::filesystem::path& output,
                          const FinishRequest& request, const ProvenanceIdentity& identity,
                          const Progress* progress = nullptr);

// The data directory a command-line tool signs and marks with: $OPSIS_DATA_DIR, else
// ./opsis-data (the default of `opsis serve --data-dir`).
std::filesystem::path default_data_dir();

// For `opsis generate`: what finish_video needs, in the CLI's own terms.
struct GeneratedFile {
  std::string model_name;        // e.g. "opsis-mini"
  std::string input_image_path;  // --image, or empty
  std::string cameo_path;        // --cameo, or empty: recorded by file name, the image is not embedded
  std::string data_dir;          // empty: default_data_dir()
  // What was asked (model, prompt, seed, settings, inputs). When given, the file's id is
  // derived from it, so the same request gives the same marked frames and sound (opsis
  // generate is deterministic for a seed); when empty, the id is random.
  std::string request_fingerprint;
};
// Marks, writes and signs `output` with the data directory's identity. The video id is
// "file_" + 16 hex digits (of the request fingerprint's SHA-256, else random) (no stored record: verify says "made by this server"); the
// creator is $USER. Replaces media::write_mp4 in the command. Throws like finish_video.
FinishResult finish_generated_file(Video& video, Audio& audio, const std::filesystem::path& output,
                                   const GeneratedFile& file, const Progress* progress = nullptr);

// What the invisible marks of an MP4 say, read with a data directory's key: the picture
// mark, else the sound mark (decoded at 48 kHz, the rate opsis writes).
struct WatermarkReport {
  bool found = false;
  Payload payload;            // valid when found
  std::string carrier;        // "picture", "sound" or "picture+sound" (both read, same payload)
  double p_value = 1.0;       // chance an unmarked file gives this reading (the smaller of the two)
  int corrected_bits = 0;     // of the carrier reported first
  double sync_score = 0.0;    // picture pilot peak, standard deviations
  bool picture_found = false;
  bool sound_found = false;

  nlohmann::json to_json() const;  // payload as hex, confidence = 1 - p_value
};
// Throws opsis::InvalidArgument (not a video file) or opsis::IoError.
WatermarkReport read_watermarks(const std::filesystem::path& mp4, uint64_t key);

}  // namespace opsis::provenance
