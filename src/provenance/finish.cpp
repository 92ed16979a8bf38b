#include "provenance/finish.hpp"

#include <fcntl.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <system_error>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "media/mp4.hpp"
#include "provenance/watermark_audio.hpp"
#include "provenance/watermark_visible.hpp"

namespace opsis::provenance {
namespace {

namespace fs = std::filesystem;

fs::path watermark_key_path(const fs::path& data_dir) { return data_dir / "watermark.key"; }

uint32_t first_32_bits_of_sha256(const uint8_t* data, size_t size) {
  uint8_t digest[SHA256_DIGEST_LENGTH];
  SHA256(data, size, digest);
  return (uint32_t(digest[0]) << 24) | (uint32_t(digest[1]) << 16) | (uint32_t(digest[2]) << 8) | digest[3];
}

std::string hex(uint64_t value, int digits) {
  char text[17];
  std::snprintf(text, sizeof text, "%0*llx", digits, static_cast<unsigned long long>(value));
  return text;
}

std::optional<WatermarkIdentity> read_key_file(const fs::path& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  try {
    const auto j = nlohmann::json::parse(text.str());
    WatermarkIdentity identity;
    identity.watermark_key = std::stoull(j.at("key").get<std::string>(), nullptr, 16);
    identity.server_id = uint32_t(std::stoul(j.at("server_id").get<std::string>(), nullptr, 16));
    return identity;
  } catch (const std::exception& e) {
    throw IoError("the watermark key file " + path.string() + " is unreadable (" + e.what() +
                  "); restore it from a backup: videos marked with it can only be read with it");
  }
}

// Written once with O_EXCL and mode 0600; a concurrent creator's file wins.
void write_key_file(const fs::path& path, const WatermarkIdentity& identity) {
  const std::string text = nlohmann::json{{"key", hex(identity.watermark_key, 16)},
                                          {"server_id", hex(identity.server_id, 8)}}.dump() + "\n";
  const fs::path temporary = path.string() + ".tmp-" + std::to_string(::getpid());
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) throw IoError("cannot write " + temporary.string() + ": " + std::generic_category().message(errno));
  const bool written = ::write(fd, text.data(), text.size()) == ssize_t(text.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!written || ::link(temporary.c_str(), path.c_str()) != 0) {
    const int error = errno;
    ::unlink(temporary.c_str());
    if (error == EEXIST) return;
    throw IoError("cannot write " + path.string() + ": " + std::generic_category().message(error));
  }
  ::unlink(temporary.c_str());
}

}  // namespace

uint32_t watermark_video_id(const std::string& video_id) {
  return first_32_bits_of_sha256(reinterpret_cast<const uint8_t*>(video_id.data()), video_id.size());
}

std::optional<WatermarkIdentity> load_watermark_identity(const fs::path& data_dir) {
  return read_key_file(watermark_key_path(data_dir));
}

ProvenanceIdentity ProvenanceIdentity::load_or_create(const fs::path& data_dir) {
  std::error_code ec;
  fs::create_directories(data_dir, ec);
  if (ec) throw IoError("cannot create the data directory " + data_dir.string() + ": " + ec.message());
  ProvenanceIdentity identity;
  identity.data_dir = data_dir;
  identity.credentials = SigningCredentials::load_or_create(credentials_directory(data_dir));
  auto stored = load_watermark_identity(data_dir);
  if (!stored) {
    WatermarkIdentity created;
    if (RAND_bytes(reinterpret_cast<unsigned char*>(&created.watermark_key), sizeof created.watermark_key) != 1)
      throw IoError("the system's random number generator failed");
    // The certificate closest to the root: the same for every signer the data dir's CA issues.
    const Bytes& certificate = identity.credentials.chain_der().back();
    created.server_id = first_32_bits_of_sha256(certificate.data(), certificate.size());
    write_key_file(watermark_key_path(data_dir), created);
    stored = load_watermark_identity(data_dir);
    if (!stored) throw IoError("cannot read back " + watermark_key_path(data_dir).string());
  }
  identity.watermark_key = stored->watermark_key;
  identity.server_id = stored->server_id;
  return identity;
}

FinishResult finish_video(Video& video, Audio& audio, const fs::path& output, const FinishRequest& request,
                          const ProvenanceIdentity& identity, const Progress* progress) {
  if (request.video_id.empty()) throw InvalidArgument("video_id", "a finished video needs an id for its watermark");
  if (request.model_name.empty()) throw InvalidArgument("model_name", "the manifest must name the model that made the video");
  FinishResult result;
  result.payload = Payload{identity.server_id, watermark_video_id(request.video_id)};

  // Visible mark first, so the invisible one is measured against (and survives) it.
  if (request.visible_watermark) apply_visible_watermark(video, request.creator);
  embed_watermark(video, result.payload, identity.watermark_key);
  Progress::step(progress, 0.2);
  if (request.audio_watermark && !audio.samples.empty()) embed_audio_watermark(audio, result.payload, identity.watermark_key);

  ManifestInfo info;
  info.title = request.video_id;
  info.model_name = request.model_name;
  info.model_version = request.model_version;
  info.creator = request.creator;
  info.remix_of = request.remix_of;
  info.input_image = request.input_image;
  info.cameo_handles = request.cameo_handles;
  info.cameo_ids = request.cameo_ids;
  info.allow_ai_training = request.allow_ai_training;

  const fs::path temporary = output.string() + ".unsigned-" + std::to_string(::getpid()) + ".mp4";
  try {
    Progress encoding{[&](double f) { Progress::step(progress, 0.2 + 0.7 * f); },
                      progress ? progress->cancelled : std::function<bool()>{}};
    media::write_mp4(temporary.string(), video, audio, {}, &encoding);
    sign_mp4_in_place(temporary, info, identity.credentials);
    fs::rename(temporary, output);
  } catch (...) {
    std::error_code ignored;
    fs::remove(temporary, ignored);
    throw;
  }
  Progress::step(progress, 1.0);
  return result;
}

fs::path default_data_dir() {
  if (const char* dir = std::getenv("OPSIS_DATA_DIR"); dir && *dir) return dir;
  return "opsis-data";
}

FinishResult finish_generated_file(Video& video, Audio& audio, const fs::path& output, const GeneratedFile& file,
                                   const Progress* progress) {
  const ProvenanceIdentity identity =
      ProvenanceIdentity::load_or_create(file.data_dir.empty() ? default_data_dir() : fs::path(file.data_dir));
  uint64_t id_bits = 0;
  if (!file.request_fingerprint.empty()) {
    uint8_t digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const uint8_t*>(file.request_fingerprint.data()), file.request_fingerprint.size(), digest);
    for (int i = 0; i < 8; ++i) id_bits = (id_bits << 8) | digest[i];
  } else if (RAND_bytes(reinterpret_cast<unsigned char*>(&id_bits), sizeof id_bits) != 1) {
    throw IoError("the system's random number generator failed");
  }
  FinishRequest request;
  request.video_id = "file_" + hex(id_bits, 16);
  if (const char* user = std::getenv("USER")) request.creator = user;
  request.model_name = file.model_name;
  if (!file.input_image_path.empty()) request.input_image = InputImage{file.input_image_path, "", ""};
  if (!file.cameo_path.empty()) request.cameo_handles.push_back(fs::path(file.cameo_path).stem().string());
  return finish_video(video, audio, output, request, identity, progress);
}

nlohmann::json WatermarkReport::to_json() const {
  nlohmann::json j{{"found", found}, {"p_value", p_value}, {"confidence", found ? 1.0 - p_value : 0.0},
                   {"picture_found", picture_found}, {"sound_found", sound_found},
                   {"sync_score", sync_score}, {"corrected_bits", corrected_bits}};
  if (found) {
    j["carrier"] = carrier;
    j["server_id"] = hex(payload.server_id, 8);
    j["video_id"] = hex(payload.video_id, 8);
  }
  return j;
}

WatermarkReport read_watermarks(const fs::path& mp4, uint64_t key) {
  const media::Mp4Contents contents = media::read_mp4(mp4.string(), 48000);
  WatermarkReport report;
  const WatermarkDetection picture = detect_watermark(contents.video, key);
  report.sync_score = picture.sync_score;
  if (picture.found) {
    report.picture_found = report.found = true;
    report.payload = picture.payload;
    report.carrier = "picture";
    report.p_value = picture.p_value;
    report.corrected_bits = picture.corrected_bits;
  }
  if (!contents.audio.samples.empty()) {
    const AudioWatermarkDetection sound = detect_audio_watermark(contents.audio, key);
    if (sound.found && (!report.found || sound.payload == report.payload)) {
      report.sound_found = true;
      if (report.found) {
        report.carrier = "picture+sound";
        report.p_value = std::min(report.p_value, sound.p_value);
      } else {
        report.found = true;
        report.payload = sound.payload;
        report.carrier = "sound";
        report.p_value = sound.p_value;
        report.corrected_bits = sound.corrected_bits;
      }
    }
  }
  return report;
}

}  // namespace opsis::provenance
