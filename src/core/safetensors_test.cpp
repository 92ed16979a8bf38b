#include "core/safetensors.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

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

// The two fp8 formats of checkpoints, decoded bit pattern by bit pattern against values worked
// out from their definitions (float8_e4m3fn: bias 7, no infinities; float8_e5m2: bias 15).
TEST(Safetensors, Fp8WidensToTheValuesItsBitsMean) {
  Tensor e4m3;
  e4m3.dtype = DType::F8_E4M3;
  e4m3.shape = {8};
  e4m3.data = {0x38, 0xB8, 0x7E, 0x01, 0x08, 0x3C, 0x00, 0x7F};
  const auto a = e4m3.to_float();
  EXPECT_EQ(a[0], 1.0f);
  EXPECT_EQ(a[1], -1.0f);
  EXPECT_EQ(a[2], 448.0f);               // 0 1111 110: the largest, 2^8 x 1.75
  EXPECT_EQ(a[3], std::ldexp(1.0f, -9));  // the smallest subnormal, 1/8 x 2^-6
  EXPECT_EQ(a[4], std::ldexp(1.0f, -6));  // the smallest normal
  EXPECT_EQ(a[5], 1.5f);
  EXPECT_EQ(a[6], 0.0f);
  EXPECT_TRUE(std::isnan(a[7]));  // S.1111.111, the only NaN
  Tensor e5m2;
  e5m2.dtype = DType::F8_E5M2;
  e5m2.shape = {6};
  e5m2.data = {0x3C, 0xC0, 0x7B, 0x01, 0x7C, 0x7D};
  const auto b = e5m2.to_float();
  EXPECT_EQ(b[0], 1.0f);
  EXPECT_EQ(b[1], -2.0f);
  EXPECT_EQ(b[2], 57344.0f);               // 0 11110 11
  EXPECT_EQ(b[3], std::ldexp(1.0f, -16));  // the smallest subnormal, 1/4 x 2^-14
  EXPECT_TRUE(std::isinf(b[4]));
  EXPECT_TRUE(std::isnan(b[5]));
  // Their names in a header, as checkpoints write them.
  File file;
  file.tensors["w"] = e4m3;
  file.tensors["v"] = e5m2;
  const File back = parse(serialize(file));
  EXPECT_EQ(back.tensors.at("w").dtype, DType::F8_E4M3);
  EXPECT_EQ(back.tensors.at("v").dtype, DType::F8_E5M2);
  EXPECT_STREQ(dtype_name(DType::F8_E4M3), "F8_E4M3");
  EXPECT_EQ(dtype_size(DType::F8_E5M2), 1u);
}

// A mapped file gives the same tensors as one read whole, with its bytes still in the file.
TEST(Safetensors, MappedFileFindsWhatReadFinds) {
  File file;
  file.metadata["opsis.config"] = R"({"layers":2})";
  file.tensors["a.weight"] = Tensor::from_float({1, 2, 3, 4, 5, 6}, {2, 3});
  file.tensors["a.bias"] = Tensor::from_float({0.5f, -0.5f}, {2}, DType::BF16);
  file.tensors["empty"] = Tensor::from_float({}, {0, 4});
  Tensor ids;
  ids.dtype = DType::I64, ids.shape = {2}, ids.data.assign(16, 0);
  ids.data[0] = 7;
  file.tensors["ids"] = ids;
  const auto path = (std::filesystem::temp_directory_path() / "opsis_safetensors_mapped.safetensors").string();
  write(path, file);
  {
    const MappedFile mapped(path);
    const File whole = read(path);
    EXPECT_EQ(mapped.metadata_map(), whole.metadata);
    EXPECT_EQ(mapped.names(), (std::vector<std::string>{"a.bias", "a.weight", "empty", "ids"}));
    EXPECT_EQ(mapped.file_size(), std::filesystem::file_size(path));
    for (const auto& [name, tensor] : whole.tensors) {
      SCOPED_TRACE(name);
      const auto ref = mapped.find(name);
      ASSERT_TRUE(ref);
      EXPECT_EQ(ref->dtype, tensor.dtype);
      EXPECT_EQ(ref->shape, tensor.shape);
      ASSERT_EQ(ref->bytes, tensor.data.size());
      EXPECT_EQ(std::memcmp(ref->data, tensor.data.data(), ref->bytes), 0);
      // The bytes lie inside the mapping, not in a copy.
      const TensorStore& store = mapped;
      EXPECT_EQ(store.find(name)->data, ref->data);
    }
    EXPECT_EQ(mapped.find("a.bias")->to_float(), (std::vector<float>{0.5f, -0.5f}));
    EXPECT_FALSE(mapped.find("a.missing"));
    // A File answers through the same interface.
    const TensorStore& whole_store = whole;
    EXPECT_EQ(whole_store.find("a.weight")->to_float(), (std::vector<float>{1, 2, 3, 4, 5, 6}));
    EXPECT_FALSE(whole_store.find("nothing"));
  }
  std::filesystem::remove(path);
}

TEST(Safetensors, ShardedStoreReadsEveryShardAndRefusesATensorInTwo) {
  const auto dir = std::filesystem::temp_directory_path() / "opsis_safetensors_shards";
  std::filesystem::create_directories(dir);
  File first, second, clash;
  first.metadata["format"] = "pt";
  first.tensors["layers.0.weight"] = Tensor::from_float({1, 2}, {2});
  second.tensors["layers.1.weight"] = Tensor::from_float({3, 4, 5}, {3});
  second.tensors["norm.weight"] = Tensor::from_float({6}, {1});
  clash.tensors["layers.0.weight"] = Tensor::from_float({9, 9}, {2});
  const std::string a = (dir / "a.safetensors").string(), b = (dir / "b.safetensors").string(), c = (dir / "c.safetensors").string();
  write(a, first), write(b, second), write(c, clash);
  {
    const ShardedStore store({a, b});
    EXPECT_EQ(store.names(), (std::vector<std::string>{"layers.0.weight", "layers.1.weight", "norm.weight"}));
    EXPECT_EQ(store.find("layers.1.weight")->to_float(), (std::vector<float>{3, 4, 5}));
    EXPECT_EQ(store.find("layers.0.weight")->to_float(), (std::vector<float>{1, 2}));
    EXPECT_FALSE(store.find("missing"));
    EXPECT_EQ(store.metadata_map().at("format"), "pt");
  }
  try {
    ShardedStore store({a, c});
    ADD_FAILURE() << "a tensor in two shards was accepted";
  } catch (const opsis::InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("layers.0.weight"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ShardedStore({}), opsis::InvalidArgument);
  EXPECT_THROW(ShardedStore({(dir / "absent.safetensors").string()}), opsis::IoError);
  std::filesystem::remove_all(dir);
}

TEST(Safetensors, MappedFileRefusesWhatReadRefuses) {
  const auto dir = std::filesystem::temp_directory_path();
  EXPECT_THROW(MappedFile((dir / "opsis_no_such_file.safetensors").string()), opsis::IoError);
  EXPECT_THROW(MappedFile(dir.string()), opsis::IoError);  // a folder
  const auto path = (dir / "opsis_safetensors_broken.safetensors").string();
  for (const std::string& bytes : {std::string(), std::string("\x05\0\0\0\0\0\0\0{}", 10),
                                   std::string("\x40\0\0\0\0\0\0\0", 8) + R"({"t":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})" +
                                       std::string(9, ' ')}) {
    {
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      out.write(bytes.data(), std::streamsize(bytes.size()));
    }
    EXPECT_THROW(MappedFile{path}, opsis::InvalidArgument) << bytes.size() << " bytes";
    EXPECT_THROW(read(path), opsis::InvalidArgument);
  }
  std::filesystem::remove(path);
}
