// `opsis eval` end to end on a small prompt set (the CI setting): the JSON carries every
// metric, and the probes and detectors read studio clips (whose truth is known) well above
// chance. The numbers on generated clips are reported and range-checked, not asserted (the
// shipped weights are undertrained).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>

#include <unistd.h>

namespace {

std::string run(const std::string& command) {
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return "popen failed";
  std::string output;
  char buffer[512];
  while (fgets(buffer, sizeof buffer, pipe)) output += buffer;
  const int status = pclose(pipe);
  return (status == 0 ? "exit 0\n" : "exit nonzero\n") + output;
}

bool in_unit(const nlohmann::json& v) { return v.is_number() && v.get<double>() >= 0.0 && v.get<double>() <= 1.0; }

TEST(Eval, SmallPromptSetWritesEveryMetricAndProbesBeatChance) {
  const std::filesystem::path json_path =
      std::filesystem::temp_directory_path() / ("opsis_eval_test_" + std::to_string(getpid()) + ".json");
  std::filesystem::remove(json_path);
  const std::string output =
      run(std::string(OPSIS_BINARY) +
          " eval --prompts 3 --steps 4 --train-clips 240 --test-clips 72 --image-clips 1 --impact-clips 3 --lip-clips 1"
          " --cameo-clips 2 --negative-clips 1 --long-seconds 6 --character-train-clips 160 --character-test-clips 48"
          " --json " +
          json_path.string() + " 2>&1");
  ASSERT_EQ(output.rfind("exit 0", 0), 0u) << output;
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

  // Character probes (setting, weather, identity) on studio clips with a character.
  for (const char* attribute : {"setting", "weather", "skin", "hair", "shirt"}) {
    SCOPED_TRACE(attribute);
    ASSERT_TRUE(j["character_probes"].contains(attribute)) << output;
    const auto& p = j["character_probes"][attribute];
    ASSERT_TRUE(in_unit(p["studio_probe_accuracy"]) && in_unit(p["chance"]));
    EXPECT_GE(p["studio_probe_accuracy"].get<double>(), 2 * p["chance"].get<double>() - (attribute == std::string("weather") ? 0.25 : 0.0))
        << output;  // weather (2 classes): at least 75%
  }

  // Impact sync: every number present and in range; on the studio clips the visual-impact
  // and sound-onset detectors find the truth's impacts and agree with each other far more
  // often than onsets at random times would.
  const auto& impact = j["impact_sync"];
  ASSERT_TRUE(impact.is_object()) << output;
  for (const char* side : {"generated", "studio"}) {
    SCOPED_TRACE(side);
    ASSERT_EQ(impact[side]["clips"].get<int>(), 3);
    ASSERT_TRUE(impact[side]["share"].is_null() || in_unit(impact[side]["share"]));
    ASSERT_TRUE(in_unit(impact[side]["chance_share"]));
    ASSERT_GE(impact[side]["onsets_per_second"].get<double>(), 0.0);
  }
  ASSERT_TRUE(impact["met"].is_boolean());
  const auto& studio_impacts = impact["studio"];
  ASSERT_GE(studio_impacts["truth_impacts"].get<int>(), 3) << output;
  EXPECT_GE(studio_impacts["audio_recall"].get<double>(), 0.7) << output;
  EXPECT_GE(studio_impacts["visual_recall"].get<double>(), 0.25) << output;  // about 4% by chance
  EXPECT_GE(studio_impacts["visual_precision"].get<double>(), 0.5) << output;
  ASSERT_TRUE(studio_impacts["share"].is_number()) << output;
  EXPECT_GE(studio_impacts["share"].get<double>(), studio_impacts["chance_share"].get<double>() + 0.3) << output;

  // Lip sync: the pixel measure follows the studio's drawn mouth and its speech.
  const auto& lips = j["lip_sync"];
  ASSERT_TRUE(lips.is_object()) << output;
  ASSERT_EQ(lips["clips"].size(), 1u);
  const double generated_lips = lips["generated"]["mean_correlation"].get<double>();
  EXPECT_GE(generated_lips, -1.0);
  EXPECT_LE(generated_lips, 1.0);
  EXPECT_GE(lips["studio"]["measure_vs_truth_correlation"].get<double>(), 0.7) << output;
  EXPECT_GE(lips["studio"]["mean_correlation"].get<double>(), 0.5) << output;
  EXPECT_EQ(lips["studio"]["clips_met"].get<int>(), 1) << output;
  ASSERT_TRUE(lips["met"].is_boolean());

  // Cameo: rates per identity attribute and all held.
  const auto& cameo = j["cameo"];
  ASSERT_TRUE(cameo.is_object()) << output;
  ASSERT_EQ(cameo["clips"].size(), 2u);
  for (const char* attribute : {"skin", "hair", "shirt"}) {
    SCOPED_TRACE(attribute);
    ASSERT_TRUE(in_unit(cameo["attributes"][attribute]["held_rate"]));
    EXPECT_LE(cameo["all_held_rate"].get<double>(), cameo["attributes"][attribute]["held_rate"].get<double>());
  }
  ASSERT_TRUE(in_unit(cameo["all_held_rate"]));
  ASSERT_TRUE(cameo["met"].is_boolean());

  // Negative prompt: both rates, the ratio where measurable, and the thing chosen.
  const auto& negative = j["negative_prompt"];
  ASSERT_TRUE(negative.is_object()) << output;
  EXPECT_EQ(negative["thing"], "rain");
  EXPECT_FALSE(negative["choice"].get<std::string>().empty());
  ASSERT_TRUE(in_unit(negative["rate_without"]) && in_unit(negative["rate_with"]));
  if (negative["rate_without"].get<double>() > 0) {
    ASSERT_TRUE(negative["ratio"].is_number());
    EXPECT_GE(negative["ratio"].get<double>(), 0.0);
    ASSERT_TRUE(negative["met"].is_boolean());
  } else {
    EXPECT_TRUE(negative["ratio"].is_null());
    EXPECT_TRUE(negative["met"].is_null());
  }
  EXPECT_GE(negative["probe_studio_accuracy"].get<double>(), 0.75);
  ASSERT_TRUE(in_unit(negative["rate_in_clips_not_asking"]));

  // Long clip: first and last windows read; on the studio render of the same scene the
  // strong probes read what was asked in both.
  const auto& long_clip = j["long_clip"];
  ASSERT_TRUE(long_clip.is_object()) << output;
  EXPECT_NEAR(long_clip["seconds"].get<double>(), 6.0, 0.1);
  for (const char* attribute : {"setting", "skin", "hair", "shirt"}) {
    SCOPED_TRACE(attribute);
    const auto& a = long_clip["attributes"][attribute];
    for (const char* field : {"asked", "first", "last", "studio_first", "studio_last"})
      ASSERT_TRUE(a[field].is_string() && !a[field].get<std::string>().empty()) << field;
  }
  for (const char* attribute : {"setting", "shirt"}) {
    const auto& a = long_clip["attributes"][attribute];
    EXPECT_EQ(a["studio_first"], a["asked"]) << attribute;
    EXPECT_EQ(a["studio_last"], a["asked"]) << attribute;
  }
  ASSERT_TRUE(long_clip["kept"].is_boolean() && long_clip["met"].is_boolean());
  for (const char* section : {"impact sync", "lip sync", "cameo", "negative prompt", "long clip"})
    EXPECT_NE(output.find(section), std::string::npos) << section;
  std::filesystem::remove(json_path);
}

TEST(Eval, OutOfRangeCountsAreRefusedByName) {
  const std::filesystem::path json_path =
      std::filesystem::temp_directory_path() / ("opsis_eval_refused_" + std::to_string(getpid()) + ".json");
  std::filesystem::remove(json_path);
  const std::pair<const char*, const char*> cases[] = {{"--impact-clips 25", "impact-clips"},
                                                       {"--lip-clips -1", "lip-clips"},
                                                       {"--cameo-clips 37", "cameo-clips"},
                                                       {"--negative-clips 25", "negative-clips"},
                                                       {"--long-seconds 3", "long-seconds"},
                                                       {"--character-train-clips 5", "character-train-clips"}};
  for (const auto& [flags, field] : cases) {
    SCOPED_TRACE(flags);
    const std::string output = run(std::string(OPSIS_BINARY) + " eval " + flags + " --json " + json_path.string() + " 2>&1");
    EXPECT_EQ(output.rfind("exit nonzero", 0), 0u) << output;
    EXPECT_NE(output.find(field), std::string::npos) << output;
    EXPECT_FALSE(std::filesystem::exists(json_path));
  }
}

}  // namespace
