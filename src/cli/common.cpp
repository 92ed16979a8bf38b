#include "cli/common.hpp"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <regex>

#include "core/error.hpp"

namespace opsis::cli {

FrameSize parse_size(const std::string& text) {
  static const std::regex pattern(R"(^\s*(\d{1,5})\s*[xX]\s*(\d{1,5})\s*$)");
  std::smatch m;
  if (!std::regex_match(text, m, pattern))
    throw InvalidArgument("size", "size must look like WIDTHxHEIGHT (for example 1280x720), not \"" + text + "\"");
  return {std::stoi(m[1].str()), std::stoi(m[2].str())};
}

void check_output_path(const std::string& path, const std::string& field) {
  namespace fs = std::filesystem;
  if (path.empty()) throw InvalidArgument(field, "an output path is required");
  const fs::path p(path);
  std::error_code ec;
  if (fs::is_directory(p, ec)) throw InvalidArgument(field, "\"" + path + "\" is a folder; give a file name");
  fs::path dir = p.parent_path();
  if (dir.empty()) dir = ".";
  if (!fs::is_directory(dir, ec)) throw InvalidArgument(field, "folder \"" + dir.string() + "\" does not exist");
  if (::access(dir.c_str(), W_OK) != 0) throw InvalidArgument(field, "folder \"" + dir.string() + "\" is not writable");
}

ProgressBar::ProgressBar(std::string label) : label_(std::move(label)), enabled_(::isatty(STDERR_FILENO) == 1) {
  progress_.report = [this](double f) { draw(f); };
}

ProgressBar::~ProgressBar() {
  if (enabled_ && last_permille_ >= 0) std::fputc('\n', stderr);
}

void ProgressBar::draw(double fraction) {
  if (!enabled_) return;
  const int permille = int(fraction * 1000 + 0.5);
  if (permille == last_permille_) return;
  last_permille_ = permille;
  constexpr int kWidth = 30;
  const int filled = int(fraction * kWidth + 0.5);
  std::fprintf(stderr, "\r%s [%.*s%*s] %5.1f%%", label_.c_str(), filled, "##############################",
               kWidth - filled, "", fraction * 100.0);
  std::fflush(stderr);
}

}  // namespace opsis::cli
