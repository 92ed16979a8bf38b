#pragma once
// Shared by the LTX-2 parity tests: the golden files of tests/parity/ltx2/golden and the
// max-abs comparison every test prints and holds to a tolerance (fp32 on CPU).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdio>
#include <string>
#include <vector>

#include "core/safetensors.hpp"

namespace opsis::ltx2::parity {

inline const std::string kGolden = std::string(OPSIS_SOURCE_DIR) + "/tests/parity/ltx2/golden/";

// A golden tensor: int64 kept as int64, everything else widened to float32.
inline torch::Tensor golden(const safetensors::File& file, const std::string& key) {
  const safetensors::Tensor& t = file.tensors.at(key);
  if (t.dtype == safetensors::DType::I64)
    return torch::from_blob(const_cast<uint8_t*>(t.data.data()), t.shape, torch::kInt64).clone();
  std::vector<float> values = t.to_float();
  return torch::from_blob(values.data(), t.shape, torch::kFloat32).clone();
}

// Prints the max abs error (and the reference's peak); fails above `tolerance` or on a shape mismatch.
inline void expect_close(const std::string& label, const torch::Tensor& mine, const torch::Tensor& reference,
                         double tolerance = 1e-5) {
  ASSERT_EQ(mine.sizes().vec(), reference.sizes().vec()) << label;
  const double err = (mine - reference).abs().max().item<double>();
  std::printf("%-45s max abs %.2e (reference peak %.2e)\n", label.c_str(), err, reference.abs().max().item<double>());
  EXPECT_LE(err, tolerance) << label;
}

}  // namespace opsis::ltx2::parity
