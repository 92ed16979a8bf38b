#pragma once
// A small classifier that reads one attribute from clip features: multinomial logistic
// regression on standardised features, fitted by full-batch gradient descent with L2.
#include <vector>

namespace opsis::eval {

class Probe {
 public:
  // features: [n][d]; labels: n values in [0, classes). Throws opsis::InvalidArgument for
  // empty or ragged input or a label out of range.
  void fit(const std::vector<std::vector<float>>& features, const std::vector<int>& labels, int classes,
           int iterations = 400, double learning_rate = 0.5, double l2 = 1e-2);
  int predict(const std::vector<float>& features) const;
  int classes() const { return classes_; }

 private:
  std::vector<double> scores(const std::vector<float>& features) const;
  int classes_ = 0;
  std::vector<double> mean_, scale_;    // [d]
  std::vector<std::vector<double>> w_;  // [classes][d + 1], last column the bias
};

// Share of rows the probe labels correctly.
double accuracy(const Probe& probe, const std::vector<std::vector<float>>& features, const std::vector<int>& labels);

}  // namespace opsis::eval
