#include "eval/probe.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/error.hpp"

namespace opsis::eval {

void Probe::fit(const std::vector<std::vector<float>>& features, const std::vector<int>& labels, int classes,
                int iterations, double learning_rate, double l2) {
  if (features.empty() || features.size() != labels.size() || classes < 2)
    throw InvalidArgument("probe", "fitting needs as many labels as feature rows (at least one) and 2+ classes");
  const size_t n = features.size(), d = features[0].size();
  for (size_t i = 0; i < n; ++i) {
    if (features[i].size() != d) throw InvalidArgument("probe", "feature rows differ in length");
    if (labels[i] < 0 || labels[i] >= classes)
      throw InvalidArgument("probe", "label " + std::to_string(labels[i]) + " is outside 0.." + std::to_string(classes - 1));
  }
  classes_ = classes;
  mean_.assign(d, 0);
  scale_.assign(d, 0);
  for (const auto& row : features)
    for (size_t j = 0; j < d; ++j) mean_[j] += row[j] / double(n);
  for (const auto& row : features)
    for (size_t j = 0; j < d; ++j) scale_[j] += (row[j] - mean_[j]) * (row[j] - mean_[j]) / double(n);
  for (auto& s : scale_) s = s > 1e-12 ? 1 / std::sqrt(s) : 0;

  std::vector<std::vector<double>> x(n, std::vector<double>(d + 1, 1.0));  // [n][d + 1]
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < d; ++j) x[i][j] = (features[i][j] - mean_[j]) * scale_[j];
  w_.assign(size_t(classes), std::vector<double>(d + 1, 0));
  std::vector<std::vector<double>> gradient(size_t(classes), std::vector<double>(d + 1));
  std::vector<double> p(static_cast<size_t>(classes));
  for (int it = 0; it < iterations; ++it) {
    for (auto& g : gradient) std::fill(g.begin(), g.end(), 0);
    for (size_t i = 0; i < n; ++i) {
      double top = -1e300;
      for (size_t k = 0; k < size_t(classes); ++k) {
        double s = 0;
        for (size_t j = 0; j <= d; ++j) s += w_[k][j] * x[i][j];
        p[k] = s;
        top = std::max(top, s);
      }
      double total = 0;
      for (auto& v : p) total += (v = std::exp(v - top));
      for (size_t k = 0; k < size_t(classes); ++k) {
        const double error = p[k] / total - (int(k) == labels[i] ? 1 : 0);
        for (size_t j = 0; j <= d; ++j) gradient[k][j] += error * x[i][j] / double(n);
      }
    }
    for (size_t k = 0; k < size_t(classes); ++k)
      for (size_t j = 0; j <= d; ++j) w_[k][j] -= learning_rate * (gradient[k][j] + (j < d ? l2 * w_[k][j] : 0));
  }
}

std::vector<double> Probe::scores(const std::vector<float>& features) const {
  if (w_.empty()) throw InvalidArgument("probe", "the probe is not fitted");
  if (features.size() != mean_.size()) throw InvalidArgument("probe", "feature row has the wrong length");
  std::vector<double> s(size_t(classes_), 0);
  for (size_t k = 0; k < s.size(); ++k) {
    s[k] = w_[k].back();
    for (size_t j = 0; j < mean_.size(); ++j) s[k] += w_[k][j] * (features[j] - mean_[j]) * scale_[j];
  }
  return s;
}

int Probe::predict(const std::vector<float>& features) const {
  const auto s = scores(features);
  return int(std::max_element(s.begin(), s.end()) - s.begin());
}

double accuracy(const Probe& probe, const std::vector<std::vector<float>>& features, const std::vector<int>& labels) {
  if (features.empty()) return 0;
  size_t right = 0;
  for (size_t i = 0; i < features.size(); ++i) right += probe.predict(features[i]) == labels[i];
  return double(right) / double(features.size());
}

}  // namespace opsis::eval
