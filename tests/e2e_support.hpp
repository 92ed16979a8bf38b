#pragma once
// Helpers for end-to-end tests: run the real `opsis` binary, and measure what a viewer
// sees and hears in the MP4 it wrote (pixels and decoded samples, never internal state).
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "core/av.hpp"
#include "tests/support/command.hpp"

namespace opsis::e2e {

using RunResult = testing_support::CommandResult;
using testing_support::shell_quote;

// Runs `opsis ARGS...` and returns its exit code and output.
inline RunResult run_opsis(const std::vector<std::string>& args) {
  std::string command = shell_quote(OPSIS_BINARY);
  for (const auto& a : args) command += " " + shell_quote(a);
  return testing_support::run_command(command);
}

// A fresh empty folder under the build tree for one test's files.
inline std::filesystem::path scratch_dir(const std::string& name) {
  const auto dir = std::filesystem::path(OPSIS_BINARY_DIR) / "e2e-scratch" / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// Times (seconds) where the sound's short-time energy jumps well above what preceded it.
// envelope: RMS over 1 ms hops; an onset is a hop whose energy exceeds `ratio` times the
// median energy of the preceding 80 ms and an absolute floor; onsets closer than
// `min_gap` seconds to the previous one are merged into it.
inline std::vector<double> audio_onsets(const Audio& audio, double ratio = 6.0, double floor_rms = 0.01,
                                        double min_gap = 0.06) {
  const int hop = std::max(1, audio.sample_rate / 1000);
  const size_t frames = audio.frame_count();
  std::vector<double> rms;
  for (size_t start = 0; start + size_t(hop) <= frames; start += size_t(hop)) {
    double sum = 0;
    for (int i = 0; i < hop; ++i) {
      double mono = 0;
      for (int c = 0; c < audio.channels; ++c) mono += audio.samples[(start + size_t(i)) * size_t(audio.channels) + size_t(c)];
      mono /= audio.channels;
      sum += mono * mono;
    }
    rms.push_back(std::sqrt(sum / hop));
  }
  std::vector<double> onsets;
  const int window = 80;
  std::vector<double> history;
  for (size_t k = 0; k < rms.size(); ++k) {
    const size_t lo = k > size_t(window) ? k - size_t(window) : 0;
    history.assign(rms.begin() + long(lo), rms.begin() + long(k));
    double median = 0;
    if (!history.empty()) {
      std::nth_element(history.begin(), history.begin() + long(history.size() / 2), history.end());
      median = history[history.size() / 2];
    }
    if (rms[k] > floor_rms && rms[k] > ratio * median) {
      const double t = double(k) * hop / audio.sample_rate;
      if (onsets.empty() || t - onsets.back() > min_gap) onsets.push_back(t);
    }
  }
  return onsets;
}

}  // namespace opsis::e2e
