#include "core/safetensors.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "core/error.hpp"

using namespace opsis::safetensors;

TEST(Safetensors, RoundTripKeepsNamesShapesValuesAndMetadata) {
  File file;
  file.metadata["config"] = R"({"d_model":64})";
  file.tensors["blocks.0.attn.weight"] = Tensor::from_float({1.5f, -2.0f, 0.25f, 3.0f, 0.0f, -0.125f}, {2, 3});
  file.tensors["scale"] = Tensor::from_float({42.0f}, {});
  const auto path = (std::filesystem::temp_directory_path() / "opsis_safetensors_roundtrip.safetensors").string();
  write(path, file);
  const File back = read(path);
  std::filesystem::remove(path);
  EXPECT_EQ(back.metadata.at("config"), R"({"d_model":64})");
  ASSERT_EQ(back.tensors.size(), 2u);
  const Tensor& w = back.tensors.at("blocks.0.attn.weight");
  EXPECT_EQ(w.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(w.to_float(), (std::vector<float>{1.5f, -2.0f, 0.25f, 3.0f, 0.0f, -0.125f}));
  EXPECT_EQ(back.tensors.at("scale").shape.size(), 0u);
  EXPECT_EQ(back.tensors.at("scale").to_float(), std::vector<float>{42.0f});
}

TEST(Safetensors, HeaderFollowsTheFormat) {
  File file;
  file.tensors["x"] = Tensor::from_float({1.0f, 2.0f}, {2});
  const auto bytes = serialize(file);
  uint64_t header_size = 0;
  std::memcpy(&header_size, bytes.data(), 8);
  EXPECT_EQ((8 + header_size) % 8, 0u);
  const std::string header(bytes.begin() + 8, bytes.begin() + 8 + std::ptrdiff_t(header_size));
  EXPECT_NE(header.find(R"("x":{"data_offsets":[0,8],"dtype":"F32","shape":[2]})"), std::string::npos) << header;
  float second = 0;
  std::memcpy(&second, bytes.data() + 8 + header_size + 4, 4);
  EXPECT_EQ(second, 2.0f);
}

TEST(Safetensors, HalfPrecisionRoundsToNearest) {
  const std::vector<float> values{0.0f, 1.0f, -0.5f, 65504.0f, 1e-7f, 3.14159f};
  const Tensor h = Tensor::from_float(values, {6}, DType::F16);
  EXPECT_EQ(h.data.size(), 12u);
  const auto back = h.to_float();
  EXPECT_EQ(back[0], 0.0f);
  EXPECT_EQ(back[1], 1.0f);
  EXPECT_EQ(back[2], -0.5f);
  EXPECT_EQ(back[3], 65504.0f);
  EXPECT_NEAR(back[4], 1e-7f, 3e-8f);
  EXPECT_NEAR(back[5], 3.14159f, 2e-3f);
  const Tensor b = Tensor::from_float(values, {6}, DType::BF16);
  EXPECT_NEAR(b.to_float()[5], 3.14159f, 2e-2f);
}

TEST(Safetensors, MalformedFilesAreRejectedWithTheField) {
  EXPECT_THROW(parse({1, 2, 3}), opsis::InvalidArgument);
  File file;
  file.tensors["x"] = Tensor::from_float({1.0f, 2.0f}, {2});
  auto bytes = serialize(file);
  bytes.resize(bytes.size() - 4);  // data cut short
  try {
    parse(bytes);
    FAIL() << "truncated data accepted";
  } catch (const opsis::InvalidArgument& e) {
    EXPECT_EQ(e.field(), "weights");
  }
  EXPECT_THROW(read("/nonexistent/dir/w.safetensors"), opsis::IoError);
}
