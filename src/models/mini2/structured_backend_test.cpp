// The structured variant through the engine's pipeline: a weights file assembled from the
// trainers' run files opens by its metadata, makes a clip of the asked length, size and sound
// (the same for the same seed), long clips in windows, and bad files are refused with a reason.
#include <gtest/gtest.h>

#include <filesystem>
#include <unistd.h>

#include "core/error.hpp"
#include "core/safetensors.hpp"
#include "engine/pipeline.hpp"
#include "engine/sampler.hpp"
#include "models/builtin.hpp"
#include "models/mini2/identity_reader.hpp"
#include "models/mini2/layered_renderer.hpp"
#include "models/mini2/state_flow.hpp"
#include "models/mini2/state_sound.hpp"
#include "models/mini2/structured_backend.hpp"
#include "models/mini2/weights.hpp"

namespace opsis::mini2 {
namespace {

TEST(StructuredBackend, AssembledWeightsGenerateThroughThePipeline) {
  const auto dir = std::filesystem::temp_directory_path() / ("opsis-structured-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  // Run files as the trainers write them (untrained networks).
  LayeredRenderer renderer;
  IdentityReader identity;
  StateFlow flow, ema;
  SoundNet sound;
  safetensors::File renderer_file, states_file;
  add_tensors(renderer_file, *renderer, "renderer.");
  add_tensors(renderer_file, *identity, "identity.");
  add_tensors(states_file, *flow, "flow.");
  add_tensors(states_file, *ema, "ema.");
  safetensors::write((dir / "renderer.safetensors").string(), renderer_file);
  states_file.metadata["opsis.state_layout"] = kStateLayoutVersion;
  safetensors::write((dir / "states-no-sound.safetensors").string(), states_file);
  add_tensors(states_file, *sound, "sound.");
  states_file.metadata["opsis.step"] = "7";
  safetensors::write((dir / "states.safetensors").string(), states_file);
  // A flow trained on the first state layout (no "opsis.state_layout") is refused by name.
  states_file.metadata.erase("opsis.state_layout");
  safetensors::write((dir / "states-layout-1.safetensors").string(), states_file);
  try {
    assemble_structured_weights((dir / "renderer.safetensors").string(), (dir / "states-layout-1.safetensors").string(),
                                (dir / "old.safetensors").string());
    ADD_FAILURE() << "a layout-1 flow was assembled";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("state layout 1"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "old.safetensors"));
  const auto weights = (dir / "structured.safetensors").string();
  assemble_structured_weights((dir / "renderer.safetensors").string(), (dir / "states.safetensors").string(), weights);
  EXPECT_EQ(safetensors::read(weights).metadata.at("opsis.states_step"), "7");
  {
    // An assembled file can stand in for the renderer's (a lost run folder): its step is kept.
    safetensors::File shipped = safetensors::read(weights);
    shipped.metadata["opsis.renderer_step"] = "4330";
    safetensors::write((dir / "shipped.safetensors").string(), shipped);
    assemble_structured_weights((dir / "shipped.safetensors").string(), (dir / "states.safetensors").string(),
                                (dir / "reassembled.safetensors").string());
    EXPECT_EQ(safetensors::read((dir / "reassembled.safetensors").string()).metadata.at("opsis.renderer_step"), "4330");
  }
  {
    // The shipped file of session 6 (layout 1) opens with the same clear refusal.
    safetensors::File old = safetensors::read(weights);
    old.metadata.erase("opsis.state_layout");
    safetensors::write((dir / "structured-layout-1.safetensors").string(), old);
    EXPECT_THROW(models::open_builtin((dir / "structured-layout-1.safetensors").string(), 1), InvalidArgument);
  }

  auto backend = models::open_builtin(weights, 1);
  EXPECT_EQ(backend->capabilities().name, kStructuredFormat);
  EXPECT_TRUE(backend->capabilities().identity_conditioning);
  engine::Pipeline pipeline(*backend);
  engine::GenerateRequest r;
  r.prompt = "A red ball bounces on a sunny beach while Sam says \"what a day\". Slow pan left.";
  r.negative = "rain, birds";
  r.seconds = 2;
  r.width = 128;
  r.height = 72;
  r.seed = 4;
  r.steps = 2;
  const auto clip = pipeline.run(r);
  EXPECT_EQ(clip.video.width, 128);
  EXPECT_EQ(clip.video.frame_count(), 48);
  EXPECT_NEAR(clip.audio.seconds(), 2.0, 0.01);
  const auto again = pipeline.run(r);
  EXPECT_EQ(again.video.rgb, clip.video.rgb);
  EXPECT_EQ(again.audio.samples, clip.audio.samples);
  r.seed = 5;
  EXPECT_NE(pipeline.run(r).video.rgb, clip.video.rgb) << "another seed, other states";
  r.identity = Image(64, 64);  // a cameo portrait: read into Sam's identity
  EXPECT_EQ(pipeline.run(r).video.frame_count(), 48);
  r.identity.reset();
  // Vertical, and longer than a window (windows of at most 4 s).
  r.width = 72, r.height = 128, r.seconds = 5;
  const auto vertical = pipeline.run(r);
  EXPECT_EQ(vertical.video.frame_count(), 120);
  EXPECT_NEAR(vertical.audio.seconds(), 5.0, 0.01);
  {
    // A window after the first starts from the state the last window's decode left (carry):
    // whatever the noise, its first state frame lands on it.
    engine::WindowRequest first;
    first.prompt = r.prompt;
    first.width = 128, first.height = 72, first.seconds = 2;
    engine::SamplerOptions options;
    options.steps = 3, options.seed = 9;
    const engine::Latents made = engine::sample(*backend, backend->encode(first), options);
    const engine::Decoded decoded = backend->decode(made, first);
    ASSERT_EQ(decoded.carry.size(), size_t(kStateDims));
    engine::WindowRequest next = first;
    next.time_offset = 2 - 1.0 / 24;
    next.carry = decoded.carry;
    options.seed = 10;
    const engine::Latents continued = engine::sample(*backend, backend->encode(next), options);
    for (int k = 0; k < kStateDims; ++k) EXPECT_NEAR(continued.video[size_t(k)], decoded.carry[size_t(k)], 1e-3) << k;
    next.carry.resize(3);
    EXPECT_THROW(backend->encode(next), std::logic_error);
  }
  // A size it cannot make, a first-frame image it does not take.
  r.width = 100, r.height = 60, r.seconds = 2;
  EXPECT_THROW(pipeline.run(r), InvalidArgument);
  r.width = 128, r.height = 72;
  r.first_frame = Image(128, 72);
  EXPECT_THROW(pipeline.run(r), InvalidArgument);
  // Files that are not whole structured weights.
  EXPECT_THROW(open_structured_backend((dir / "renderer.safetensors").string()), InvalidArgument);
  EXPECT_THROW(assemble_structured_weights((dir / "renderer.safetensors").string(), (dir / "states-no-sound.safetensors").string(),
                                           (dir / "bad.safetensors").string()),
               InvalidArgument);
  EXPECT_FALSE(std::filesystem::exists(dir / "bad.safetensors"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace opsis::mini2
