#include "models/ltx2/schedule.hpp"

#include <gtest/gtest.h>

#include <string>

#include "core/error.hpp"
#include "core/safetensors.hpp"

namespace opsis::ltx2 {
namespace {

safetensors::File golden() {
  return safetensors::read(std::string(OPSIS_SOURCE_DIR) + "/tests/parity/ltx2/golden/scheduler.safetensors");
}

void expect_equal(const std::vector<float>& got, const safetensors::Tensor& want, const std::string& what) {
  std::vector<float> w = want.to_float();
  ASSERT_EQ(got.size(), w.size()) << what;
  for (size_t i = 0; i < w.size(); ++i) EXPECT_EQ(got[i], w[i]) << what << " [" << i << "]";  // bit for bit
}

TEST(Ltx2Schedule, MatchesTheReferenceBitForBit) {
  safetensors::File f = golden();
  struct Case {
    const char* key;
    int steps;
    int64_t tokens;
    bool stretch;
  };
  for (const Case& c : {Case{"sched.ltx2.steps40.tokens6144", 40, 16 * 16 * 24, true},
                        Case{"sched.ltx2.steps30.tokens6144", 30, 16 * 16 * 24, true},
                        Case{"sched.ltx2.steps8.tokens256", 8, 4 * 8 * 8, true},
                        Case{"sched.ltx2.steps4.tokens18", 4, 3 * 2 * 3, true},
                        Case{"sched.ltx2.steps40.default", 40, 4096, true},
                        Case{"sched.ltx2.steps20.nostretch", 20, 4096, false}}) {
    ScheduleOptions o;
    o.stretch = c.stretch;
    expect_equal(ltx2_sigmas(c.steps, c.tokens, o), f.tensors.at(c.key), c.key);
  }
  expect_equal(distilled_sigmas(), f.tensors.at("sched.distilled"), "distilled");
  expect_equal(distilled_stage2_sigmas(), f.tensors.at("sched.distilled_stage2"), "distilled stage 2");
}

TEST(Ltx2Schedule, EndsAtTheTerminalThenZero) {
  std::vector<float> s = ltx2_sigmas(30, 6144);
  ASSERT_EQ(s.size(), 31u);
  EXPECT_EQ(s.front(), 1.0f);
  EXPECT_EQ(s.back(), 0.0f);
  EXPECT_NEAR(s[29], 0.1f, 1e-6f);
  for (size_t i = 1; i < s.size(); ++i) EXPECT_LT(s[i], s[i - 1]);
  EXPECT_THROW(ltx2_sigmas(0, 6144), InvalidArgument);
}

}  // namespace
}  // namespace opsis::ltx2
