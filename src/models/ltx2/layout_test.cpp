#include "models/ltx2/layout.hpp"

#include <gtest/gtest.h>

#include <string>

#include "core/error.hpp"

namespace opsis::ltx2 {
namespace {

const std::string kGolden = std::string(OPSIS_SOURCE_DIR) + "/tests/parity/ltx2/golden/";
// tests/parity/ltx2/make_goldens.py: a fake Gemma 24 wide with 2 layers (3 hidden states).
const TextEncoderSizes kTinyText{24, 3};

TEST(Ltx2Layout, TinyCheckpointsMatchTheirConfigExactly) {
  for (const char* name : {"ltx2_tiny_v2_0.safetensors", "ltx2_tiny_v2_3.safetensors"}) {
    SCOPED_TRACE(name);
    Header header = read_header(kGolden + name);
    Config config = parse_config(header.metadata);
    LayoutReport report = compare(header, expected_layout(config, kTinyText));
    EXPECT_TRUE(report.missing.empty()) << report.missing.size() << " missing, first " << report.missing.front();
    EXPECT_TRUE(report.misshaped.empty()) << report.misshaped.front();
    EXPECT_TRUE(report.unexpected.empty()) << report.unexpected.size() << " unexpected, first "
                                           << report.unexpected.front();
    EXPECT_NO_THROW(require_layout(header, expected_layout(config, kTinyText), name));
  }
}

TEST(Ltx2Layout, ConfigOptionsAreReadFromMetadata) {
  Config v20 = parse_config(read_header(kGolden + "ltx2_tiny_v2_0.safetensors").metadata);
  EXPECT_FALSE(v20.transformer.split_rope);
  EXPECT_FALSE(v20.transformer.gated_attention);
  EXPECT_FALSE(v20.transformer.cross_attention_adaln);
  EXPECT_FALSE(v20.transformer.caption_proj_before_connector);
  EXPECT_FALSE(v20.vocoder.bandwidth_extension);
  EXPECT_EQ(v20.version, (std::vector<int>{2, 0, 0}));

  Config v23 = parse_config(read_header(kGolden + "ltx2_tiny_v2_3.safetensors").metadata);
  EXPECT_TRUE(v23.transformer.split_rope);
  EXPECT_TRUE(v23.transformer.float64_rope);
  EXPECT_TRUE(v23.transformer.gated_attention);
  EXPECT_TRUE(v23.transformer.cross_attention_adaln);
  EXPECT_TRUE(v23.transformer.caption_proj_before_connector);
  EXPECT_TRUE(v23.vocoder.bandwidth_extension);
  EXPECT_EQ(v23.vocoder.bwe_output_rate, 48000);
  EXPECT_EQ(v23.transformer.ada_rows(), 9);
  // "spatial_padding_mode" present: the encoder pads with it too, not with encoder_spatial_padding_mode.
  EXPECT_TRUE(v20.vae.has_spatial_padding_mode);
  EXPECT_EQ(v20.vae.encoder_padding_mode(), "reflect");
}

TEST(Ltx2Layout, MissingOrMisshapedTensorIsNamed) {
  Header header = read_header(kGolden + "ltx2_tiny_v2_0.safetensors");
  Layout expected = expected_layout(parse_config(header.metadata), kTinyText);
  header.tensors.erase("model.diffusion_model.transformer_blocks.1.attn2.to_k.weight");
  header.tensors["vae.decoder.conv_out.conv.bias"].shape = {47};
  LayoutReport report = compare(header, expected);
  ASSERT_EQ(report.missing.size(), 1u);
  EXPECT_EQ(report.missing[0], "model.diffusion_model.transformer_blocks.1.attn2.to_k.weight");
  ASSERT_EQ(report.misshaped.size(), 1u);
  EXPECT_EQ(report.misshaped[0], "vae.decoder.conv_out.conv.bias: file [47], expected [48]");
  try {
    require_layout(header, expected, "tiny.safetensors");
    FAIL() << "no error";
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(e.field(), "weights");
    EXPECT_NE(std::string(e.what()).find("missing tensor model.diffusion_model.transformer_blocks.1.attn2.to_k.weight (and 1 more)"),
              std::string::npos)
        << e.what();
  }
}

TEST(Ltx2Layout, ReferenceDefaultsGiveThe19BShapes) {
  // A config that names only what the reference requires: every size is its default.
  std::map<std::string, std::string> metadata{
      {"config", R"({"transformer": {"dropout": 0.0, "attention_bias": true, "num_vector_embeds": null,
        "activation_fn": "gelu-approximate", "num_embeds_ada_norm": 1000, "use_linear_projection": false,
        "only_cross_attention": false, "cross_attention_norm": true, "double_self_attention": false,
        "upcast_attention": false, "standardization_norm": "rms_norm", "norm_elementwise_affine": false,
        "qk_norm": "rms_norm", "positional_embedding_type": "rope", "use_audio_video_cross_attention": true,
        "share_ff": false, "av_cross_ada_norm": true, "use_middle_indices_grid": true,
        "num_attention_heads": 32, "audio_num_attention_heads": 32, "caption_channels": 3840}})"}};
  Config config = parse_config(metadata);
  Parts parts;
  parts.video_encoder = parts.video_decoder = false;  // no default block lists
  Layout layout = expected_layout(config, TextEncoderSizes{}, parts);
  const std::string p = "model.diffusion_model.";
  EXPECT_EQ(layout.at(p + "transformer_blocks.47.attn1.to_q.weight"), (Shape{4096, 4096}));
  EXPECT_EQ(layout.at(p + "transformer_blocks.0.audio_to_video_attn.to_q.weight"), (Shape{2048, 4096}));
  EXPECT_EQ(layout.at(p + "transformer_blocks.0.video_to_audio_attn.to_k.weight"), (Shape{2048, 4096}));
  EXPECT_EQ(layout.at(p + "transformer_blocks.0.scale_shift_table"), (Shape{6, 4096}));
  EXPECT_EQ(layout.at(p + "adaln_single.linear.weight"), (Shape{6 * 4096, 4096}));
  EXPECT_EQ(layout.at(p + "caption_projection.linear_1.weight"), (Shape{4096, 3840}));
  EXPECT_EQ(layout.at(p + "video_embeddings_connector.learnable_registers"), (Shape{128, 3840}));
  EXPECT_EQ(layout.at("text_embedding_projection.aggregate_embed.weight"), (Shape{3840, 3840 * 49}));
  EXPECT_EQ(layout.at("vocoder.conv_pre.weight"), (Shape{1024, 128, 7}));
  EXPECT_EQ(layout.at("audio_vae.decoder.conv_in.conv.weight"), (Shape{512, 8, 3, 3}));
  EXPECT_FALSE(layout.count(p + "transformer_blocks.48.attn1.to_q.weight"));
}

TEST(Ltx2Layout, RefusesWhatTheReferenceRefuses) {
  EXPECT_THROW(parse_config({}), InvalidArgument);
  EXPECT_THROW(parse_config({{"config", "not json"}}), InvalidArgument);
  EXPECT_THROW(parse_config({{"config", R"({"transformer": {"dropout": 0.1}})"}}), InvalidArgument);
}

}  // namespace
}  // namespace opsis::ltx2
