#pragma once
// What several subcommands share: size parsing, output-path checks, the progress bar.
#include <string>

#include "core/progress.hpp"

namespace opsis::cli {

struct FrameSize {
  int width = 0;
  int height = 0;
};

// "1280x720" -> {1280, 720}. Throws opsis::InvalidArgument("size", ...) for anything else.
FrameSize parse_size(const std::string& text);

// Throws opsis::InvalidArgument(field, ...) unless a file could be created at `path` (its
// folder exists and is writable, and the path is not a folder), so that work is refused
// before any compute is spent rather than failing at the end.
void check_output_path(const std::string& path, const std::string& field);

// A one-line progress bar on stderr, drawn only when stderr is a terminal.
class ProgressBar {
 public:
  explicit ProgressBar(std::string label);
  ~ProgressBar();
  const Progress* progress() const { return &progress_; }

 private:
  void draw(double fraction);
  std::string label_;
  bool enabled_ = false;
  int last_permille_ = -1;
  Progress progress_;
};

}  // namespace opsis::cli
