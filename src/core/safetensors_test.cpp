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

// fuzz_safetensors (issue 14): a header number that is not a whole number >= 0 (1e64, 1.5, -1)
// was converted with a C++ cast (undefined behaviour), and a shape's element count could
// overflow int64. Both are refused, naming the tensor.
TEST(Safetensors, HeaderNumbersMustBeWholeAndShapesMustNotOverflow) {
  const auto with_header = [](const std::string& header) {
    std::vector<uint8_t> bytes(8 + header.size() + 16, 0);  // 16 data bytes
    const uint64_t size = header.size();
    std::memcpy(bytes.data(), &size, 8);
    std::memcpy(bytes.data() + 8, header.data(), header.size());
    return bytes;
  };
  EXPECT_EQ(parse(with_header(R"({"w":{"dtype":"F16","shape":[4,2],"data_offsets":[0,16]}})")).tensors.at("w").numel(), 8);
  for (const char* header : {
           R"({"w":{"dtype":"F16","shape":[4,2],"data_offsets":[111111111111111111111111111111111118888888888888111111111,16]}})",
           R"({"w":{"dtype":"F16","shape":[4,2],"data_offsets":[0.5,16]}})",
           R"({"w":{"dtype":"F16","shape":[4,-2],"data_offsets":[0,16]}})",
           R"({"w":{"dtype":"F16","shape":[1e30],"data_offsets":[0,16]}})",
           R"({"w":{"dtype":"F16","shape":4,"data_offsets":[0,16]}})",
           R"({"w":{"dtype":"U8","shape":[4294967296,4294967296,0],"data_offsets":[0,0]}})",
           R"({"w":{"dtype":"U8","shape":[4294967296,2147483648],"data_offsets":[0,0]}})",
       }) {
    try {
      parse(with_header(header));
      ADD_FAILURE() << "accepted " << header;
    } catch (const opsis::InvalidArgument& e) {
      EXPECT_EQ(e.field(), "weights");
      EXPECT_NE(std::string(e.what()).find("tensor 'w'"), std::string::npos) << e.what();
    }
  }
}
