#pragma once
// Temporary names for atomic writes: a hidden file beside the destination (same folder, so
// the final rename cannot cross file systems), unique per process and call.
#include <atomic>
#include <filesystem>
#include <string>

#include <unistd.h>

namespace opsis::media::detail {

inline std::string temporary_path_beside(const std::filesystem::path& destination) {
  static std::atomic<unsigned> counter{0};
  std::string name(1, '.');
  name += destination.filename().string();
  name += ".partial-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  return (destination.parent_path() / name).string();
}

}  // namespace opsis::media::detail
