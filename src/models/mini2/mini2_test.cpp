// opsis-mini 2's autoencoders: shapes, determinism, a tiny overfit, the sound latent's
// round trip keeping an impact on its frame, weights files (and a clear error for old ones).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "engine/pipeline.hpp"
#include "models/builtin.hpp"
#include "models/mini2/backend.hpp"
#include "models/mini2/conditioning.hpp"
#include "models/mini2/frames.hpp"
#include "models/mini2/generator.hpp"
#include "models/mini2/sound_latent.hpp"
#include "models/mini2/video_autoencoder.hpp"
#include "models/mini2/weights.hpp"
#include "studio/caption.hpp"
#include "studio/studio.hpp"

namespace opsis::mini2 {
namespace {

AutoencoderConfig tiny_autoencoder() {
  AutoencoderConfig c;
  c.channels = 8;
  c.width_fine = 16;
  c.width_mid = 16;
  c.width_coarse = 24;
  return c;
}

studio::Clip studio_clip(int width, int height, double seconds, bool audio) {
  studio::SceneSpec spec;
  spec.setting = studio::Setting::Beach;
  spec.objects.push_back({studio::ObjectKind::Ball, studio::Color::Red, studio::Size::Large, studio::Motion::Bounces});
  spec.shots[0].seconds = seconds;
  return studio::render_clip(spec, {width, height, 24, 16000, 3, audio});
}

TEST(VideoAutoencoder, ShapesAtEveryNativeSize) {
  torch::manual_seed(0);
  VideoAutoencoder model(tiny_autoencoder());
  for (auto [w, h] : model->config.sizes()) {
    const int ph = model->config.padded(h), pw = model->config.padded(w);
    auto video = torch::rand({2, 4, ph, pw, 3}) * 2 - 1;
    auto z = model->encode(video);
    EXPECT_EQ(z.sizes().vec(), (std::vector<int64_t>{2, 2, 8, ph / 16, pw / 16}));
    EXPECT_EQ(model->decode(z).sizes().vec(), video.sizes().vec());
    EXPECT_EQ(model->cell_logits(z).sizes().vec(), (std::vector<int64_t>{2, 2, ph / 16, pw / 16, kCellClasses}));
  }
  EXPECT_EQ(model->config.padded(72), 80);
}

TEST(VideoAutoencoder, DeterministicAndNormalisationInverts) {
  torch::manual_seed(0);
  VideoAutoencoder model(tiny_autoencoder());
  model->eval();
  auto video = torch::rand({1, 2, 80, 128, 3}) * 2 - 1;
  torch::NoGradGuard no_grad;
  auto a = model->decode(model->encode(video)), b = model->decode(model->encode(video));
  EXPECT_TRUE(torch::equal(a, b));
  model->latent_mean.fill_(0.5);
  model->latent_std.fill_(2.0);
  auto z = model->encode(video);
  EXPECT_TRUE(torch::allclose(model->denormalize(model->normalize(z)), z, 1e-5, 1e-5));
}

// The autoencoder can learn a studio frame pair: a few hundred steps on one pair must take its
// reconstruction far above what it starts at.
TEST(VideoAutoencoder, OverfitsOneStudioPair) {
  torch::manual_seed(1);
  const studio::Clip clip = studio_clip(128, 72, 0.5, false);
  auto x = frames_tensor(clip.video, 4, 2, 80, 128).unsqueeze(0);
  VideoAutoencoder model(tiny_autoencoder());
  torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(3e-3));
  auto psnr = [&] {
    torch::NoGradGuard no_grad;
    return 10 * std::log10(4.0 / (model->decode(model->encode(x)) - x).pow(2).mean().item<double>());
  };
  const double before = psnr();
  for (int i = 0; i < 300; ++i) {
    auto loss = (model->decode(model->encode(x)) - x).pow(2).mean();
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
  }
  const double after = psnr();
  EXPECT_GT(after, before + 10) << "before " << before << " dB";
  EXPECT_GT(after, 24.0);
}

// A refined decoder grown from a plain one starts as it (its correction starts at zero), at
// every native size, and then learns: gradients reach the refinement and it lowers the error
// of a pair that the plain decoder, frozen, cannot fit further.
TEST(VideoAutoencoder, RefinedDecoderStartsAsThePlainOneAndLearns) {
  torch::manual_seed(2);
  VideoAutoencoder plain(tiny_autoencoder());
  AutoencoderConfig refined_config = tiny_autoencoder();
  refined_config.refine_width = 16;
  refined_config.refine_blocks = 1;
  VideoAutoencoder refined(refined_config);
  {
    torch::NoGradGuard no_grad;
    auto from = plain->named_parameters(true);
    for (auto& item : refined->named_parameters(true))
      if (from.contains(item.key())) item.value().copy_(from[item.key()]);
  }
  for (const auto& [width, height] : refined_config.sizes()) {
    torch::NoGradGuard no_grad;
    auto video = torch::rand({1, 2, refined_config.padded(height), refined_config.padded(width), 3}) * 2 - 1;
    auto z = plain->encode(video);
    EXPECT_TRUE(torch::equal(refined->encode(video), z));
    EXPECT_TRUE(torch::allclose(refined->decode(z), plain->decode(z), 1e-5, 1e-5)) << width << "x" << height;
  }
  const studio::Clip clip = studio_clip(128, 72, 0.5, false);
  auto x = frames_tensor(clip.video, 4, 2, 80, 128).unsqueeze(0);
  std::vector<torch::Tensor> decoder;
  for (auto& item : refined->named_parameters(true)) {
    if (VideoAutoencoderImpl::is_decoder_parameter(item.key()) && item.key().rfind("dec_refine", 0) == 0)
      decoder.push_back(item.value());
    else
      item.value().set_requires_grad(false);
  }
  ASSERT_FALSE(decoder.empty());
  torch::optim::Adam optimizer(decoder, torch::optim::AdamOptions(3e-3));
  auto error = [&] {
    torch::NoGradGuard no_grad;
    return (refined->decode(refined->encode(x)) - x).pow(2).mean().item<double>();
  };
  const double before = error();
  for (int i = 0; i < 60; ++i) {
    auto loss = (refined->decode(refined->encode(x)) - x).pow(2).mean();
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
  }
  EXPECT_LT(error(), 0.7 * before);
  EXPECT_FALSE(VideoAutoencoderImpl::is_decoder_parameter("enc_in.weight"));
  EXPECT_FALSE(VideoAutoencoderImpl::is_decoder_parameter("cell_head.weight"));
  EXPECT_TRUE(VideoAutoencoderImpl::is_decoder_parameter("dec_refine.0.conv1.weight"));
}

// Files written before the refinement existed have no refine_* keys: they are plain decoders.
TEST(Mini2Weights, ConfigWithoutRefinementKeysIsAPlainDecoder) {
  Mini2Config config;
  config.autoencoder.refine_width = 32;
  auto j = nlohmann::json::parse(config.to_json());
  EXPECT_EQ(j["autoencoder"]["refine_width"], 32);
  j["autoencoder"].erase("refine_width");
  j["autoencoder"].erase("refine_blocks");
  const Mini2Config back = Mini2Config::from_json(j.dump());
  EXPECT_EQ(back.autoencoder.refine_width, 0);
  j["autoencoder"]["refine_width"] = 12;  // not a multiple of 8 (group norm)
  EXPECT_THROW(Mini2Config::from_json(j.dump()), InvalidArgument);
}

TEST(Frames, PaddingRepeatsTheEdgeAndVideoRoundTrips) {
  const studio::Clip clip = studio_clip(128, 72, 0.25, false);
  auto t = frames_tensor(clip.video, 0, 3, 80, 128);
  EXPECT_EQ(t.sizes().vec(), (std::vector<int64_t>{3, 80, 128, 3}));
  EXPECT_TRUE(torch::equal(t[0][79], t[0][71]));
  const Video back = tensor_video(t, 128, 72, 24);
  ASSERT_EQ(back.frame_count(), 3);
  EXPECT_TRUE(std::equal(back.frame(0), back.frame(0) + back.frame_bytes(), clip.video.frame(0)));
}

TEST(SoundLatent, ShapesAndTheSameClockAsTheVideo) {
  SoundLatent sound{SoundConfig{}};
  auto pcm = torch::zeros({2, 16000});
  auto mel = sound.analyze(pcm);
  EXPECT_EQ(mel.sizes().vec(), (std::vector<int64_t>{2, 100, 64}));  // 100 frames per second
  EXPECT_EQ(sound.synthesize(mel, 4).sizes().vec(), (std::vector<int64_t>{2, 16000}));
  // Silence decodes to (near) silence, not hiss.
  EXPECT_LT(sound.synthesize(mel, 4).abs().max().item<float>(), 1e-3);
}

// An impact's onset survives analysis and phase reconstruction within one video frame.
TEST(SoundLatent, ImpactOnsetStaysOnItsFrame) {
  SoundLatent sound{SoundConfig{}};
  const studio::Clip clip = studio_clip(128, 72, 2.0, true);
  double impact = -1;
  for (const auto& e : clip.truth.events)
    if (e.kind == studio::EventKind::Impact) {
      impact = e.time;
      break;
    }
  ASSERT_GT(impact, 0) << "the bouncing ball should hit the ground within 2 s";
  auto pcm = pcm_tensor(clip.audio, 0, 32000).unsqueeze(0);
  auto rebuilt = sound.synthesize(sound.analyze(pcm), 32, 5)[0];
  // Onset: the first 5 ms block after the impact's neighbourhood whose energy jumps x4 over the
  // 50 ms before it, searched within +-100 ms of the truth.
  auto onset_near = [&](const torch::Tensor& signal) {
    const int block = 80;
    auto energy = signal.narrow(0, 0, signal.size(0) / block * block).view({-1, block}).pow(2).mean(1);
    auto e = energy.accessor<float, 1>();
    const int centre = int(impact * 16000 / block);
    double best = -1, best_ratio = 0;
    for (int i = std::max(10, centre - 20); i <= std::min(int(energy.size(0)) - 1, centre + 20); ++i) {
      double before = 1e-12;
      for (int k = i - 10; k < i; ++k) before += e[k] / 10;
      const double ratio = e[i] / before;
      if (ratio > best_ratio) best_ratio = ratio, best = double(i * block) / 16000;
    }
    return best;
  };
  const double original = onset_near(pcm[0]), decoded = onset_near(rebuilt);
  EXPECT_NEAR(original, impact, 0.042);
  EXPECT_NEAR(decoded, impact, 0.042);
  // Deterministic for a seed.
  EXPECT_TRUE(torch::equal(rebuilt, sound.synthesize(sound.analyze(pcm), 32, 5)[0]));
}

TEST(Mini2Weights, RoundTripAndClearErrors) {
  torch::manual_seed(0);
  VideoAutoencoder model(tiny_autoencoder());
  safetensors::File file;
  Mini2Config config;
  config.autoencoder = model->config;
  file.metadata["opsis.config"] = config.to_json();
  add_tensors(file, *model, "autoencoder.");
  EXPECT_TRUE(has_part(file, "autoencoder."));
  EXPECT_FALSE(has_part(file, "generator."));
  const auto back = safetensors::parse(safetensors::serialize(file));
  EXPECT_EQ(read_config(back).autoencoder.channels, 8);
  VideoAutoencoder loaded(read_config(back).autoencoder);
  load_tensors(*loaded, back, "autoencoder.");
  EXPECT_TRUE(torch::equal(loaded->enc_in->weight, model->enc_in->weight));

  auto broken = file;
  broken.tensors.erase("autoencoder.dec_out.weight");
  try {
    load_tensors(*loaded, broken, "autoencoder.");
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("autoencoder.dec_out.weight"), std::string::npos);
  }
}

TEST(Mini2Weights, OldOpsisMiniWeightsGiveAClearError) {
  const std::string path = std::string(OPSIS_SOURCE_DIR) + "/models/opsis-mini.safetensors";
  ASSERT_TRUE(std::filesystem::exists(path));
  try {
    read_config(safetensors::read(path));
    FAIL() << "opsis-mini 1 weights were accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("opsis-mini 1"), std::string::npos) << e.what();
  }
  safetensors::File no_config;
  EXPECT_THROW(read_config(no_config), InvalidArgument);
}

GeneratorConfig tiny_generator() {
  GeneratorConfig g;
  g.d_model = 32;
  g.heads = 2;
  g.layers = 2;
  g.aux_layer = 1;
  g.word_buckets = 64;
  g.max_words = 16;
  g.phoneme_buckets = 16;
  g.identity_size = 16;
  g.identity_patch = 8;
  g.window_seconds = 2;
  g.default_steps = 3;
  return g;
}

TEST(Mini2Conditioning, SlotsWordsAndPhonemes) {
  const GeneratorConfig g = tiny_generator();
  const auto parsed = studio::parse_prompt("A large purple ball rolls left on a beach at night. Slow pan right.").spec;
  const auto all = slot_tokens(parsed, SlotScope::Everything, g);
  // setting, time of day, weather, one object, one shot
  ASSERT_EQ(all.size(), 5u);
  const int64_t vocabulary = slot_vocabulary_size(g);
  for (const auto& t : all)
    for (int64_t id : t.ids) EXPECT_TRUE(id >= 0 && id < vocabulary);
  // The object token carries kind, colour, size and motion: four attribute ids after its type.
  EXPECT_GT(all[3].ids[4], 0);
  // A negative prompt keeps only what it names: "rain" is the weather token alone.
  const auto rain = slot_tokens(studio::parse_prompt("rain").spec, SlotScope::NamedOnly, g);
  ASSERT_EQ(rain.size(), 1u);
  EXPECT_EQ(rain[0].ids, slot_tokens(studio::parse_prompt("rain").spec, SlotScope::Everything, g)[2].ids);
  // Any text encodes: unknown words and non-ASCII become word tokens, at most max_words.
  EXPECT_EQ(word_tokens("a zeppelin über Köln", g).size(), 4u);
  std::string many;
  for (int i = 0; i < 40; ++i) many += "word" + std::to_string(i) + " ";
  EXPECT_EQ(word_tokens(many, g).size(), size_t(g.max_words));
  // Phonemes are placed on the clip's clock.
  const auto phonemes = phoneme_tokens({{"a", 0.5, 0.1, 1, 0.8f}}, 2.0, g);
  ASSERT_EQ(phonemes.size(), 1u);
  EXPECT_FLOAT_EQ(phonemes[0].start, 2.5f);
  EXPECT_FLOAT_EQ(phonemes[0].value, 0.8f);
  // A batch: null token first, padding masked.
  const auto inputs = context_inputs({prompt_row("a red ball", SlotScope::Everything, {}, 0, g), ContextRow{}}, g);
  EXPECT_TRUE(inputs.mask[1][0].item<bool>());
  EXPECT_FALSE(inputs.mask[1][1].item<bool>());
}

GeneratorInputs tiny_inputs(int64_t B, int64_t T, int64_t A) {
  GeneratorInputs in;
  in.video = torch::randn({B, T, 8, 5, 8});
  in.audio = torch::randn({B, A, 256});
  in.t = torch::full({B}, 0.7);
  in.first_latent = torch::zeros({B, 8, 5, 8});
  in.has_first = torch::zeros({B});
  in.time_offset = torch::zeros({B});
  return in;
}

// Every conditioning path reaches the output: prompt slots, identity, first frame, phonemes.
TEST(Mini2Generator, ShapesAndEveryConditioningPathReachesTheOutput) {
  torch::manual_seed(0);
  const GeneratorConfig g = tiny_generator();
  Generator model(g, 8);
  torch::NoGradGuard no_grad;
  auto in = tiny_inputs(1, 12, 25);
  auto run = [&](const ContextRow& row, const GeneratorInputs& inputs) {
    return model->forward(inputs, model->encode(context_inputs({row}, g)));
  };
  const auto beach = prompt_row("a red ball on a beach", SlotScope::Everything, {}, 0, g);
  const auto out = run(beach, in);
  EXPECT_EQ(out.video.sizes(), in.video.sizes());
  EXPECT_EQ(out.audio.sizes(), in.audio.sizes());
  EXPECT_EQ(out.cell_logits.sizes().vec(), (std::vector<int64_t>{1, 12, 5, 8, kCellClasses}));
  EXPECT_EQ(out.camera.sizes().vec(), (std::vector<int64_t>{1, 12, 5}));
  EXPECT_EQ(out.impact_logits.sizes().vec(), (std::vector<int64_t>{1, 25}));
  auto differs = [&](const GeneratorOutputs& a) {
    return !torch::allclose(a.video, out.video) && !torch::allclose(a.audio, out.audio);
  };
  EXPECT_TRUE(differs(run(prompt_row("a red ball on a snowfield", SlotScope::Everything, {}, 0, g), in)));
  ContextRow with_identity = beach;
  Image portrait(16, 16);
  std::fill(portrait.pixels.begin(), portrait.pixels.end(), 200);
  with_identity.identity = portrait;
  EXPECT_TRUE(differs(run(with_identity, in)));
  auto with_first = in;
  with_first.first_latent = torch::randn({1, 8, 5, 8});
  with_first.has_first = torch::ones({1});
  EXPECT_TRUE(differs(run(beach, with_first)));
  const auto talking = prompt_row("a red ball on a beach", SlotScope::Everything, {{"a", 0.2, 0.1, 1, 0.9f}}, 0, g);
  EXPECT_TRUE(differs(run(talking, in)));
  // Windows of other lengths and the other native sizes run too.
  auto longer = tiny_inputs(2, 24, 50);
  longer.video = torch::randn({2, 24, 8, 8, 5});
  longer.first_latent = torch::zeros({2, 8, 8, 5});
  EXPECT_EQ(model->forward(longer, model->encode(context_inputs({beach, ContextRow{}}, g))).video.sizes(), longer.video.sizes());
}

// A few dozen steps teach the tiny generator two prompts' different clean latents at pure
// noise: the prompt path carries information, not just noise.
TEST(Mini2Generator, LearnsWhichPromptMeansWhichLatent) {
  torch::manual_seed(2);
  const GeneratorConfig g = tiny_generator();
  Generator model(g, 8);
  torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(3e-3));
  const auto rows = std::vector<ContextRow>{prompt_row("a beach", SlotScope::Everything, {}, 0, g),
                                            prompt_row("a snowfield at night", SlotScope::Everything, {}, 0, g)};
  const auto context_batch = context_inputs(rows, g);
  auto target = torch::stack({torch::full({2, 8, 5, 8}, 1.0), torch::full({2, 8, 5, 8}, -1.0)});
  for (int i = 0; i < 60; ++i) {
    auto in = tiny_inputs(2, 2, 2);
    in.t = torch::ones({2});
    in.video = torch::randn({2, 2, 8, 5, 8});
    auto out = model->forward(in, model->encode(context_batch));
    auto loss = (out.video - target).pow(2).mean();
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
  }
  torch::NoGradGuard no_grad;
  auto in = tiny_inputs(2, 2, 2);
  in.t = torch::ones({2});
  auto out = model->forward(in, model->encode(context_batch)).video;
  EXPECT_GT(out[0].mean().item<float>(), 0.5);
  EXPECT_LT(out[1].mean().item<float>(), -0.5);
}

std::string write_tiny_weights(const std::filesystem::path& dir, bool with_generator) {
  torch::manual_seed(3);
  Mini2Config config;
  config.autoencoder = tiny_autoencoder();
  config.generator = tiny_generator();
  config.has_generator = with_generator;
  VideoAutoencoder autoencoder(config.autoencoder);
  Generator generator(config.generator, config.autoencoder.channels);
  safetensors::File file;
  file.metadata["opsis.config"] = config.to_json();
  file.metadata["opsis.model"] = kFormat;
  add_tensors(file, *autoencoder, "autoencoder.");
  if (with_generator) add_tensors(file, *generator, "generator.");
  std::filesystem::create_directories(dir);
  const auto path = (dir / (with_generator ? "tiny2.safetensors" : "tiny2-ae.safetensors")).string();
  safetensors::write(path, file);
  return path;
}

// The backend through the engine's pipeline, with every sampler mode and condition: a clip of
// the asked length, size and sound, the same for the same seed, the first frame kept exactly.
TEST(Mini2Backend, GeneratesThroughThePipeline) {
  const auto dir = std::filesystem::temp_directory_path() / ("opsis-mini2-test-" + std::to_string(::getpid()));
  auto backend = open_backend(write_tiny_weights(dir, true), 1);
  EXPECT_EQ(backend->capabilities().name, "opsis-mini-2");
  engine::Pipeline pipeline(*backend);
  engine::GenerateRequest r;
  r.prompt = "A red ball bounces on a sunny beach";
  r.negative = "rain";
  r.seconds = 1.5;
  r.width = 128;
  r.height = 72;
  r.seed = 4;
  r.steps = 2;
  const auto clip = pipeline.run(r);
  EXPECT_EQ(clip.video.width, 128);
  EXPECT_EQ(clip.video.height, 72);
  EXPECT_EQ(clip.video.frame_count(), 36);
  EXPECT_NEAR(clip.audio.seconds(), 1.5, 0.01);
  const auto again = pipeline.run(r);
  EXPECT_EQ(again.video.rgb, clip.video.rgb);
  EXPECT_EQ(again.audio.samples, clip.audio.samples);
  r.solver = engine::Solver::Heun;
  r.width = 72;
  r.height = 128;
  r.seconds = 3;  // two windows of at most 2 s, chained through the last frame
  Image first(72, 128);
  std::fill(first.pixels.begin(), first.pixels.end(), 90);
  r.first_frame = first;
  r.identity = first;
  const auto vertical = pipeline.run(r);
  EXPECT_EQ(vertical.video.frame_count(), 72);
  EXPECT_TRUE(std::equal(first.pixels.begin(), first.pixels.end(), vertical.video.rgb.begin()));
  // Old and half-made weights are refused with a reason.
  try {
    open_backend(write_tiny_weights(dir, false));
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("generator has not been trained"), std::string::npos) << e.what();
  }
  EXPECT_THROW(open_backend(std::string(OPSIS_SOURCE_DIR) + "/models/opsis-mini.safetensors"), InvalidArgument);
  // The built-in registry tells the two families apart by the file's metadata.
  EXPECT_EQ(models::open_builtin((dir / "tiny2.safetensors").string(), 1)->capabilities().name, "opsis-mini-2");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace opsis::mini2
