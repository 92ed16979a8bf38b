// The structured variant's learned layered renderer: camera rays that agree with the studio's
// pinhole projection, sprites placed on the box their pose projects to, the condition's
// layout, and a tiny overfit of both halves.
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.hpp"
#include "models/mini2/identity_reader.hpp"
#include "models/mini2/layered_renderer.hpp"
#include "models/mini2/weights.hpp"

namespace opsis::mini2 {
namespace {

using torch::indexing::Slice;

torch::Tensor pose_tensor(const studio::CameraPose& c) {
  return torch::tensor(std::vector<float>{c.x, c.y, c.z, c.yaw, c.pitch, c.focal}).view({1, 6});
}

TEST(LayeredRenderer, GroundBelowTheHorizonAndSkyAbove) {
  BackgroundField field;
  torch::NoGradGuard no_grad;
  studio::CameraPose level;  // at 1.6 m, looking along +z
  const auto picture = field->forward(pose_tensor(level), torch::tensor(std::vector<int64_t>{7}), 72, 128);
  ASSERT_EQ(picture.sizes(), (std::vector<int64_t>{1, 3, 72, 128}));
  // Untrained: every plane transparent, sky 0.6, ground 0.4 hazing toward 0.7 with distance.
  EXPECT_NEAR(picture[0][0][0][64].item<float>(), 0.6f, 0.01f);
  EXPECT_NEAR(picture[0][1][71][64].item<float>(), 0.4f, 0.02f);
  EXPECT_GT(picture[0][1][37][64].item<float>(), picture[0][1][71][64].item<float>()) << "far ground is hazier";
}

TEST(LayeredRenderer, PlaneTexelAppearsWhereTheStudioProjectsIt) {
  BackgroundField field;
  torch::NoGradGuard no_grad;
  // Make the texels around the world point (2, 1, 24) on the z = 24 plane (index 8) opaque red.
  const float x = 2, y = 1, z = 24;
  const float col = ((x / z) / 3.0f + 1) / 2 * 192 - 0.5f;
  const float row = ((1 - 2 * (y / z + 0.1f) / 1.0f) + 1) / 2 * 40 - 0.5f;
  const int r0 = int(std::lround(row)), c0 = int(std::lround(col));
  auto texels = field->planes.index({0, 8, Slice(), Slice(r0 - 1, r0 + 2), Slice(c0 - 1, c0 + 2)});
  texels.index_put_({0}, 1.0f), texels.index_put_({1}, 0.0f), texels.index_put_({2}, 0.0f), texels.index_put_({3}, 20.0f);
  studio::CameraPose camera;
  camera.x = 0.5f, camera.y = 1.4f, camera.z = 1.0f, camera.yaw = 0.08f, camera.pitch = 0.04f, camera.focal = 1.6f;
  const auto picture = field->forward(pose_tensor(camera), torch::tensor(std::vector<int64_t>{0}), 72, 128)[0];
  // The centroid of the red block (its inside is uniformly red).
  const auto red = ((picture[0] - picture[1]) > 0.5f).to(torch::kFloat32);
  ASSERT_GT(red.sum().item<float>(), 4);
  const auto columns = torch::arange(128, torch::kFloat32).view({1, 128}) + 0.5f;
  const auto rows = torch::arange(72, torch::kFloat32).view({72, 1}) + 0.5f;
  const float cu = ((red * columns).sum() / red.sum()).item<float>(), cv = ((red * rows).sum() / red.sum()).item<float>();
  // Where the block's centre texel is in the world, seen through the studio's projection.
  const float u = ((float(c0) + 0.5f) / 192 * 2 - 1) * 3.0f;
  const float v = (1 - ((float(r0) + 0.5f) / 40 * 2 - 1)) / 2 * 1.0f - 0.1f;
  const studio::Projected p = studio::project(camera, u * z, v * z, z, 128, 72);
  ASSERT_TRUE(p.in_front);
  EXPECT_NEAR(cu, p.u, 1.0f);
  EXPECT_NEAR(cv, p.v, 1.0f);
}

TEST(LayeredRenderer, SpriteCoversTheBoxItsPoseProjectsTo) {
  LayeredRenderer renderer;
  {
    torch::NoGradGuard no_grad;
    renderer->sprites->out->weight.zero_();
    renderer->sprites->out->bias.fill_(30.0f);  // opaque white everywhere in the patch
  }
  studio::SceneSpec spec;
  spec.objects.push_back({studio::ObjectKind::Box, studio::Color::Blue, studio::Size::Large, studio::Motion::StaysStill});
  studio::FrameState st;
  st.camera.z = 0, st.camera.focal = 1.2f;
  st.entities.resize(1);
  st.entities[0].x = 0.7f, st.entities[0].y = 0, st.entities[0].z = 8;
  studio::FrameState empty = st;
  empty.entities[0].present = false;
  const auto with = render_clip(renderer, spec, {st}, 128, 72)[0].to(torch::kInt32);
  const auto without = render_clip(renderer, spec, {empty}, 128, 72)[0].to(torch::kInt32);
  const auto changed = (with - without).abs().sum(-1) > 30;  // [H, W]
  const auto ys = std::get<0>(torch::max(changed, 1)).nonzero(), xs = std::get<0>(torch::max(changed, 0)).nonzero();
  ASSERT_GT(ys.size(0), 0);
  const SpriteBox box = sprite_box(spec, 0);
  const studio::Projected p = studio::project(st.camera, 0.7f, 0, 8, 128, 72);
  const float s = p.pixels_per_metre;
  EXPECT_NEAR(float(xs.min().item<int64_t>()), p.u + box.x0 * s, 1.5f);
  EXPECT_NEAR(float(xs.max().item<int64_t>()) + 1, p.u + box.x1 * s, 1.5f);
  EXPECT_NEAR(float(ys.min().item<int64_t>()), p.v - box.y1 * s, 1.5f);
  EXPECT_NEAR(float(ys.max().item<int64_t>()) + 1, p.v - box.y0 * s, 1.5f);
  EXPECT_THROW(sprite_box(spec, 1), InvalidArgument);
}

TEST(LayeredRenderer, ConditionSaysKindColourIdentityAndPose) {
  studio::SceneSpec spec;
  spec.objects.push_back({studio::ObjectKind::Car, studio::Color::Green, studio::Size::Small, studio::Motion::RollsLeft});
  studio::CharacterSpec person;
  person.identity.hair_color = studio::HairColor::Red;
  spec.characters.push_back(person);
  studio::EntityPose pose;
  pose.mouth_open = 0.75f;
  const auto car = sprite_condition(spec, 0, pose, 0, 24), character = sprite_condition(spec, 1, pose, 0, 24);
  EXPECT_EQ(car[size_t(studio::ObjectKind::Car)], 1);
  EXPECT_EQ(car[6 + size_t(studio::Color::Green)], 1);
  EXPECT_EQ(character[5], 1);
  EXPECT_EQ(character[6 + 8 + 2 + 5 + size_t(studio::HairColor::Red)], 1);
  EXPECT_NE(car, character);
  pose.mouth_open = 0.1f;
  EXPECT_NE(sprite_condition(spec, 1, pose, 0, 24), character) << "the mouth is part of the pose";
  // The on-screen size is the last input: 8 px and below read alike, as do 96 px and above.
  const auto tiny = sprite_condition(spec, 0, pose, 0, 8), large = sprite_condition(spec, 0, pose, 0, 96);
  EXPECT_LT(tiny.back(), car.back());
  EXPECT_LT(car.back(), large.back());
  EXPECT_EQ(sprite_condition(spec, 0, pose, 0, 3).back(), tiny.back());
  EXPECT_EQ(sprite_condition(spec, 0, pose, 0, 400).back(), large.back());
  EXPECT_EQ(look_index(spec), 0);
  spec.setting = studio::Setting::NightSky, spec.time_of_day = studio::TimeOfDay::Night, spec.weather = studio::Weather::Rain;
  EXPECT_EQ(look_index(spec), kLooks - 1);
}

// A renderer file written before the size input (76 condition values) loads into today's
// network with a zero column for it and draws the same sprites, at any size.
TEST(LayeredRenderer, OlderSpriteWeightsGainTheSizeInputAndDrawAsBefore) {
  torch::manual_seed(5);
  LayeredRenderer before;
  {
    torch::NoGradGuard no_grad;
    before->sprites->in1->weight.select(1, kSpriteConditionDims - 1).zero_();
  }
  safetensors::File file;
  add_tensors(file, *before, "renderer.");
  // As an older file holds it: the last input column is not there.
  auto& weight = file.tensors.at("renderer.sprites.in1.weight");
  const auto values = weight.to_float();
  std::vector<float> older;
  for (int64_t r = 0; r < weight.shape[0]; ++r)
    older.insert(older.end(), values.begin() + r * kSpriteConditionDims, values.begin() + (r + 1) * kSpriteConditionDims - 1);
  weight = safetensors::Tensor::from_float(older, {weight.shape[0], kSpriteConditionDims - 1});
  LayeredRenderer after;
  EXPECT_THROW(load_tensors(*after, file, "renderer."), InvalidArgument) << "the old shape does not load as it is";
  upgrade_renderer_tensors(file);
  EXPECT_EQ(file.tensors.at("renderer.sprites.in1.weight").shape, (std::vector<int64_t>{256, kSpriteConditionDims}));
  load_tensors(*after, file, "renderer.");
  before->eval(), after->eval();
  torch::NoGradGuard no_grad;
  const auto condition = torch::rand({3, kSpriteConditionDims});
  EXPECT_TRUE(torch::allclose(before->sprites->forward(condition), after->sprites->forward(condition)));
  upgrade_renderer_tensors(file);  // a second time changes nothing
  EXPECT_EQ(file.tensors.at("renderer.sprites.in1.weight").shape, (std::vector<int64_t>{256, kSpriteConditionDims}));
}

TEST(LayeredRenderer, BothHalvesLearn) {
  torch::manual_seed(3);
  LayeredRenderer renderer;
  torch::optim::Adam optimizer(
      {torch::optim::OptimizerParamGroup(renderer->background->parameters(), std::make_unique<torch::optim::AdamOptions>(0.02)),
       torch::optim::OptimizerParamGroup(renderer->sprites->parameters(), std::make_unique<torch::optim::AdamOptions>(1e-3))});
  studio::CameraPose camera;
  const auto poses = pose_tensor(camera), looks = torch::tensor(std::vector<int64_t>{12});
  const auto target = torch::tensor(std::vector<float>{0.2f, 0.5f, 0.8f}).view({1, 3, 1, 1}).expand({1, 3, 36, 64});
  const auto condition = torch::rand({4, kSpriteConditionDims});
  auto sprite_target = torch::zeros({4, 4, kSpritePixels, kSpritePixels});
  sprite_target.index_put_({Slice(), Slice(0, 3), Slice(12, 36), Slice(12, 36)}, 0.3f);
  sprite_target.index_put_({Slice(), 3, Slice(12, 36), Slice(12, 36)}, 0.6f);
  double first = 0, last = 0;
  for (int step = 0; step < 40; ++step) {
    const auto loss = (renderer->background->forward(poses, looks, 36, 64) - target).abs().mean() +
                      (renderer->sprites->forward(condition) - sprite_target).abs().mean();
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    (step == 0 ? first : last) = loss.item<double>();
  }
  EXPECT_LT(last, 0.7 * first);
}

TEST(IdentityReader, LearnsTwoPortraitsApart) {
  torch::manual_seed(2);
  IdentityReader reader;
  torch::optim::Adam optimizer(reader->parameters(), torch::optim::AdamOptions(2e-3));
  Image a(64, 64), b(80, 80);
  std::fill(a.pixels.begin(), a.pixels.end(), 40);
  for (size_t k = 0; k < b.pixels.size(); k += 3) b.pixels[k] = 230;
  studio::Identity ia, ib;
  ia.skin = studio::SkinTone::Dark, ia.hair_color = studio::HairColor::Blue, ia.accessory = studio::Accessory::Hat;
  ib.hair_style = studio::HairStyle::Bald, ib.shirt = studio::Color::Purple;
  const auto portraits = torch::stack({portrait_tensor(a), portrait_tensor(b)});
  ASSERT_EQ(portraits.sizes(), (std::vector<int64_t>{2, 3, kIdentityPixels, kIdentityPixels}));
  const auto targets = torch::stack({identity_targets(ia), identity_targets(ib)});
  for (int step = 0; step < 60; ++step) {
    const auto loss = identity_loss(reader->forward(portraits), targets);
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
  }
  const studio::Identity ra = read_identity(reader, a), rb = read_identity(reader, b);
  EXPECT_EQ(ra.skin, ia.skin);
  EXPECT_EQ(ra.hair_color, ia.hair_color);
  EXPECT_EQ(ra.accessory, ia.accessory);
  EXPECT_EQ(rb.hair_style, ib.hair_style);
  EXPECT_EQ(rb.shirt, ib.shirt);
}

}  // namespace
}  // namespace opsis::mini2
