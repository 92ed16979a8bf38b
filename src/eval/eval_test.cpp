// `opsis eval` end to end on a small prompt set (the CI setting): the JSON carries every
// metric, and the probes read the studio's held-out clips well above chance. The numbers on
// generated clips are reported, not asserted (the shipped weights are undertrained).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

namespace {

TEST(Eval, SmallPromptSetWritesEveryMetricAndProbesBeatChance) {
  const std::filesystem::path json_path = std::filesystem::temp_directory_path() / "opsis_eval_test.json";
  std::filesystem::remove(json_path);
  const std::string command = std::string(OPSIS_BINARY) +
                              " eval --prompts 3 --steps 4 --train-clips 240 --test-clips 72 --image-clips 1 --json " +
                              json_path.string() + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buffer[512];
  while (fgets(buffer, sizeof buffer, pipe)) output += buffer;
  ASSERT_EQ(pclose(pipe), 0) << output;
  EXPECT_NE(output.find("studio (probe)"), std::string::npos) << output;

  std::ifstream in(json_path);
  ASSERT_TRUE(in) << "no JSON written\n" << output;
  const auto j = nlohmann::json::parse(in);
  for (const char* attribute : {"setting", "object", "color", "motion", "camera"}) {
    SCOPED_TRACE(attribute);
    ASSERT_TRUE(j["attributes"].contains(attribute));
    const auto& a = j["attributes"][attribute];
    for (const char* field : {"classes", "chance", "studio_probe_accuracy", "generated_accuracy"})
      ASSERT_TRUE(a.contains(field) && a[field].is_number()) << field;
    EXPECT_GE(a["generated_accuracy"].get<double>(), 0.0);
    EXPECT_LE(a["generated_accuracy"].get<double>(), 1.0);
  }
  ASSERT_TRUE(j["image_to_video_psnr_db"].is_number());
  EXPECT_GT(j["image_to_video_psnr_db"].get<double>(), 0.0);
  ASSERT_EQ(j["prompts"].size(), 3u);
  for (const auto& p : j["prompts"]) EXPECT_FALSE(p["prompt"].get<std::string>().empty());

  // Probes that work: setting and colour far above chance, camera clearly above. (The object
  // and motion probes are reported but are weak: 20-50% and near chance on held-out
  // combinations at this training-set size.)
  auto studio = [&](const char* attribute) { return j["attributes"][attribute]["studio_probe_accuracy"].get<double>(); };
  auto chance = [&](const char* attribute) { return j["attributes"][attribute]["chance"].get<double>(); };
  EXPECT_GE(studio("setting"), 0.8);
  EXPECT_GE(studio("color"), 0.6);
  EXPECT_GE(studio("camera"), 2.5 * chance("camera")) << output;
  std::filesystem::remove(json_path);
}

}  // namespace
