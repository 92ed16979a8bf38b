#pragma once
// What every trainer's learning curve needs: the process's CPU time (the budget the issues
// count in CPU-hours, all threads together, data threads included) carried across restarts,
// and a loss.tsv that gets its header whenever it is new, also when a run starts from shipped
// weights at a step above zero.
#include <time.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

namespace opsis::train {

// CPU seconds this process has used, all threads together.
inline double process_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

// CPU seconds of a run: what earlier processes of it used (from a checkpoint's metadata) plus
// this process's.
class RunClock {
 public:
  explicit RunClock(double earlier_cpu_seconds = 0) : earlier_(earlier_cpu_seconds), at_start_(process_cpu_seconds()) {}
  double cpu_seconds() const { return earlier_ + process_cpu_seconds() - at_start_; }

  // The earlier CPU seconds stored under `key` in a weights file's metadata (0 when absent).
  static double from_metadata(const std::map<std::string, std::string>& metadata, const std::string& key) {
    const auto it = metadata.find(key);
    return it == metadata.end() ? 0.0 : std::stod(it->second);
  }

 private:
  double earlier_, at_start_;
};

// Opens `path` for appending and writes `header` (one line, no newline) when the file is new or empty.
inline std::ofstream open_learning_curve(const std::string& path, const std::string& header) {
  const bool fresh = !std::filesystem::exists(path) || std::filesystem::file_size(path) == 0;
  std::ofstream curve(path, std::ios::app);
  if (fresh) curve << header << '\n';
  return curve;
}

}  // namespace opsis::train
