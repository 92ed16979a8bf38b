// The LTX-2 transformer against the reference's goldens (tests/parity/ltx2/): tiny random
// 2.0 and 2.3 checkpoints under the real key names, the recorded inputs, and the reference's
// preprocessing tensors, per-block states, velocities and perturbed (STG, modality) passes.
#include "models/ltx2/transformer.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <unistd.h>

#include "core/error.hpp"
#include "core/safetensors.hpp"
#include "models/ltx2/modules.hpp"
#include "models/ltx2/config.hpp"

namespace opsis::ltx2 {
namespace {

const std::string kGolden = std::string(OPSIS_SOURCE_DIR) + "/tests/parity/ltx2/golden/";
constexpr double kTolerance = 1e-5;  // fp32 on CPU, max abs error

torch::Tensor to_torch(const safetensors::Tensor& t) {
  if (t.dtype == safetensors::DType::I64)
    return torch::from_blob(const_cast<uint8_t*>(t.data.data()), t.shape, torch::kInt64).clone();
  std::vector<float> values = t.to_float();
  return torch::from_blob(values.data(), t.shape, torch::kFloat32).clone();
}

struct Golden {
  safetensors::File file;
  explicit Golden(const std::string& name) : file(safetensors::read(kGolden + name)) {}
  torch::Tensor operator[](const std::string& key) const {
    auto found = file.tensors.find(key);
    if (found == file.tensors.end()) throw std::runtime_error("golden tensor missing: " + key);
    return to_torch(found->second);
  }
};

// Max abs error, printed; fails above the tolerance or on a shape mismatch.
void expect_close(const std::string& label, const torch::Tensor& mine, const torch::Tensor& golden) {
  ASSERT_TRUE(mine.defined()) << label << ": not produced";
  ASSERT_EQ(mine.sizes().vec(), golden.sizes().vec()) << label;
  const double err = (mine.to(torch::kFloat32) - golden).abs().max().item<double>();
  std::printf("%-45s max abs %.2e\n", label.c_str(), err);
  EXPECT_LE(err, kTolerance) << label;
}

StreamInput stream(const Golden& io, const std::string& s) {
  return {io["dit." + s + ".latent"], io["dit." + s + ".sigma"], io["dit." + s + ".timesteps"],
          io["dit." + s + ".positions"], io["dit." + s + ".context"]};
}

void check_version(const std::string& name) {
  const std::string path = kGolden + "ltx2_tiny_" + name + ".safetensors";
  safetensors::File weights = safetensors::read(path);
  Transformer dit(parse_config(weights.metadata).transformer, weights, path);
  Golden io(name + "_dit.safetensors");
  StreamInput video = stream(io, "video"), audio = stream(io, "audio");

  std::map<std::string, torch::Tensor> trace;
  TransformerOutput out = dit.forward(video, audio, {}, &trace);
  int compared = 0;
  for (const auto& [key, tensor] : io.file.tensors) {
    if (key.rfind("dit.pre.", 0) != 0 && key.rfind("dit.block", 0) != 0) continue;
    const std::string mine = key.substr(4);
    ASSERT_TRUE(trace.count(mine)) << "no trace for " << key;
    expect_close(name + " " + key, trace[mine], to_torch(tensor));
    ++compared;
  }
  EXPECT_GE(compared, 20);
  expect_close(name + " dit.out.video", out.video, io["dit.out.video"]);
  expect_close(name + " dit.out.audio", out.audio, io["dit.out.audio"]);

  // The perturbed passes, every batch row perturbed alike.
  // (The goldens differ from the plain pass, so these compare something.)
  for (const char* s : {"video", "audio"})
    for (const char* pass : {"stg", "modality"})
      EXPECT_GT((io[std::string("dit.") + pass + "." + s] - io[std::string("dit.out.") + s]).abs().max().item<double>(),
                1e-3)
          << pass << " " << s;
  const int64_t rows = video.latent.size(0);
  const int last = dit.config().num_layers - 1;
  PerturbationSet stg = {{Skip::VideoSelfAttention, {last}}, {Skip::AudioSelfAttention, {last}}};
  TransformerOutput p = dit.forward(video, audio, std::vector<PerturbationSet>(rows, stg));
  expect_close(name + " dit.stg.video", p.video, io["dit.stg.video"]);
  expect_close(name + " dit.stg.audio", p.audio, io["dit.stg.audio"]);
  PerturbationSet modality = {{Skip::AudioToVideo, {}}, {Skip::VideoToAudio, {}}};
  p = dit.forward(video, audio, std::vector<PerturbationSet>(rows, modality));
  expect_close(name + " dit.modality.video", p.video, io["dit.modality.video"]);
  expect_close(name + " dit.modality.audio", p.audio, io["dit.modality.audio"]);

  // Mixed rows in one batch: row 0 plain, row 1 STG; each row equals its own pass.
  p = dit.forward(video, audio, {PerturbationSet{}, stg});
  expect_close(name + " mixed rows, row 0 (plain)", p.video[0], io["dit.out.video"][0]);
  expect_close(name + " mixed rows, row 1 (stg)", p.video[1], io["dit.stg.video"][1]);
}

TEST(Ltx2Transformer, Version2_0MatchesReference) { check_version("v2_0"); }
TEST(Ltx2Transformer, Version2_3MatchesReference) { check_version("v2_3"); }


// The nearest float8_e4m3fn code of each value (by search over the 255 finite codes: a test
// helper, not a converter the product needs; it only reads fp8).
safetensors::Tensor to_e4m3(const safetensors::Tensor& t) {
  std::vector<std::pair<float, uint8_t>> codes;
  for (int c = 0; c < 256; ++c) {
    safetensors::Tensor one;
    one.dtype = safetensors::DType::F8_E4M3, one.shape = {1}, one.data = {uint8_t(c)};
    const float v = one.to_float()[0];
    if (std::isfinite(v)) codes.emplace_back(v, uint8_t(c));
  }
  safetensors::Tensor out;
  out.dtype = safetensors::DType::F8_E4M3;
  out.shape = t.shape;
  for (float v : t.to_float()) {
    size_t best = 0;
    for (size_t i = 1; i < codes.size(); ++i)
      if (std::abs(codes[i].first - v) < std::abs(codes[best].first - v)) best = i;
    out.data.push_back(codes[best].second);
  }
  return out;
}

// The checkpoint memory-mapped loads through the same code as one read whole and gives the
// same velocities; stored in bf16 or fp8 (as real checkpoints ship), it is widened at load and
// gives velocities near the fp32 ones.
TEST(Ltx2Transformer, MappedAndLowPrecisionCheckpointsLoadThroughTheSamePath) {
  const std::string path = kGolden + "ltx2_tiny_v2_3.safetensors";
  const safetensors::File weights = safetensors::read(path);
  const TransformerConfig config = parse_config(weights.metadata).transformer;
  Golden io("v2_3_dit.safetensors");
  const StreamInput video = stream(io, "video"), audio = stream(io, "audio");
  const TransformerOutput whole = Transformer(config, weights, path).forward(video, audio);
  {
    const safetensors::MappedFile mapped(path);
    const TransformerOutput out = Transformer(config, mapped, path).forward(video, audio);
    EXPECT_TRUE(torch::equal(out.video, whole.video));
    EXPECT_TRUE(torch::equal(out.audio, whole.audio));
    expect_close("v2_3 mapped dit.out.video", out.video, io["dit.out.video"]);
  }
  const auto relative = [](const torch::Tensor& a, const torch::Tensor& b) {
    return ((a - b).norm() / b.norm()).item<double>();
  };
  for (const auto dtype : {safetensors::DType::BF16, safetensors::DType::F8_E4M3}) {
    safetensors::File low = weights;
    for (auto& [name, t] : low.tensors) {
      if (t.dtype != safetensors::DType::F32) continue;
      t = dtype == safetensors::DType::BF16 ? safetensors::Tensor::from_float(t.to_float(), t.shape, dtype) : to_e4m3(t);
    }
    const auto file = (std::filesystem::temp_directory_path() / ("opsis-ltx2-low-" + std::to_string(::getpid()) + ".safetensors")).string();
    safetensors::write(file, low);
    {
      const safetensors::MappedFile mapped(file);
      const TransformerOutput out = Transformer(config, mapped, file).forward(video, audio);
      const double v = relative(out.video, whole.video), a = relative(out.audio, whole.audio);
      std::printf("%-8s checkpoint: relative error of the velocities video %.4f, audio %.4f\n", safetensors::dtype_name(dtype), v, a);
      // bf16 keeps 8 bits of mantissa, e4m3 3: errors of about 2^-9 and 2^-4 per weight.
      const double bound = dtype == safetensors::DType::BF16 ? 0.02 : 0.3;
      EXPECT_LT(v, bound);
      EXPECT_LT(a, bound);
      EXPECT_GT(v, 0.0) << "the weights were rounded, so the velocities differ a little";
      // Kept in the file's precision (bf16 as bf16, fp8 as its codes) and widened at use: the same
      // numbers as widened at load.
      const TensorSource source(mapped, file, torch::kCPU, WeightPrecision::AsStored);
      const Linear proj_out = Linear::load(source, "model.diffusion_model.proj_out", config.video_dim(), config.out_channels);
      EXPECT_EQ(proj_out.weight.values.scalar_type(), dtype == safetensors::DType::BF16 ? torch::kBFloat16 : torch::kUInt8);
      const TransformerOutput stored = Transformer(config, mapped, file, torch::kCPU, WeightPrecision::AsStored).forward(video, audio);
      EXPECT_TRUE(torch::equal(stored.video, out.video)) << safetensors::dtype_name(dtype);
      EXPECT_TRUE(torch::equal(stored.audio, out.audio)) << safetensors::dtype_name(dtype);
    }
    std::filesystem::remove(file);
  }
}

TEST(Ltx2Transformer, MissingOrMisshapedTensorIsNamed) {
  const std::string path = kGolden + "ltx2_tiny_v2_3.safetensors";
  safetensors::File weights = safetensors::read(path);
  TransformerConfig config = parse_config(weights.metadata).transformer;
  const std::string gone = "model.diffusion_model.transformer_blocks.1.audio_to_video_attn.to_gate_logits.weight";
  safetensors::File missing = weights;
  missing.tensors.erase(gone);
  try {
    Transformer dit(config, missing, path);
    FAIL() << "loaded without " << gone;
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find(gone), std::string::npos) << e.what();
  }
  safetensors::File misshaped = weights;
  auto& t = misshaped.tensors["model.diffusion_model.proj_out.weight"];
  t.shape = {t.shape[1], t.shape[0]};
  EXPECT_THROW(Transformer(config, misshaped, path), InvalidArgument);
}

}  // namespace
}  // namespace opsis::ltx2
