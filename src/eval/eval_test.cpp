// `opsis eval` end to end on a small prompt set (the CI setting): the JSON carries every
// metric, and the shipped probes and detectors meet their targets on held-out studio clips
// (whose truth is known): every attribute probe >= 95%, the impact detector finds >= 90% of
// the truth's impacts within one frame, the mouth reader follows the drawn mouth (r >= 0.9).
// The numbers on generated clips are reported and range-checked, not asserted (the shipped
// weights are undertrained).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
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

// The instruments themselves: each probe on 400 studio clips of held-out combinations (the
// scene probe) and 400 fresh character clips (setting, weather, time of day, identity), the
// impact detector on 80 clips of bounces and falls, the mouth reader on 10 talking close-ups.
// One generated clip only (the probes are loaded, not trained, so this is mostly rendering).
TEST(Eval, ProbesAndDetectorsMeetTheirStudioTargets) {
  const std::filesystem::path json_path =
      std::filesystem::temp_directory_path() / ("opsis_eval_probes_" + std::to_string(getpid()) + ".json");
  std::filesystem::remove(json_path);
  const std::string output =
      run(std::string(OPSIS_BINARY) +
          " eval --prompts 1 --steps 2 --image-clips 0 --impact-clips 0 --lip-clips 0 --cameo-clips 0 --negative-clips 0"
          " --long-seconds 0 --test-clips 400 --character-test-clips 400 --detector-clips 80 --mouth-clips 10 --json " +
          json_path.string() + " 2>&1");
  ASSERT_EQ(output.rfind("exit 0", 0), 0u) << output;
  std::ifstream in(json_path);
  ASSERT_TRUE(in) << "no JSON written\n" << output;
  const auto j = nlohmann::json::parse(in);
  // The readings that meet the 95% on held-out studio clips with the shipped probes.
  // Object, colour, size, motion and camera (the object reader) and skin, hair colour, hair
  // style and accessory do not yet (models/opsis-probes.md); they are measured and reported,
  // and the object reader's rows must at least stay where the shipped reader measured them
  // (62 / 82 / 81 / 65 / 89% on 300 held-out clips; the whole-clip CNN it replaced read
  // 29 / 8 / 49 / 10 / 0%), less a margin for 400 different clips.
  const std::set<std::string> met{"setting", "time_of_day", "weather", "shirt"};
  const std::map<std::string, double> reader_floor{{"object", 0.52}, {"color", 0.72}, {"size", 0.70}, {"motion", 0.55}, {"camera", 0.78}};
  for (const char* attribute : {"setting", "time_of_day", "weather", "object", "color", "size", "motion", "camera"}) {
    SCOPED_TRACE(attribute);
    ASSERT_TRUE(j["attributes"].contains(attribute)) << output;
    EXPECT_GE(j["attributes"][attribute]["studio_clips"].get<int>(), 400);
    ASSERT_TRUE(in_unit(j["attributes"][attribute]["studio_probe_accuracy"]));
    if (met.count(attribute)) {
      EXPECT_GE(j["attributes"][attribute]["studio_probe_accuracy"].get<double>(), 0.95) << output;
    }
    if (reader_floor.count(attribute)) {
      EXPECT_GE(j["attributes"][attribute]["studio_probe_accuracy"].get<double>(), reader_floor.at(attribute)) << output;
    }
  }
  for (const char* attribute : {"setting", "weather", "time_of_day", "skin", "hair", "hair_style", "shirt", "accessory"}) {
    SCOPED_TRACE(attribute);
    ASSERT_TRUE(j["character_probes"].contains(attribute)) << output;
    EXPECT_GE(j["character_probes"][attribute]["studio_clips"].get<int>(), 150);  // no identity at night; no hair colour on the bald
    ASSERT_TRUE(in_unit(j["character_probes"][attribute]["studio_probe_accuracy"]));
    if (met.count(attribute)) {
      EXPECT_GE(j["character_probes"][attribute]["studio_probe_accuracy"].get<double>(), 0.95) << output;
    }
  }
  const auto& detector = j["impact_detector"];
  ASSERT_TRUE(detector.is_object()) << output;
  EXPECT_GE(detector["truth_impacts"].get<int>(), 150);
  EXPECT_GE(detector["recall"].get<double>(), 0.9) << output;
  EXPECT_GE(detector["precision"].get<double>(), 0.85) << output;
  const auto& mouth = j["mouth_reader"];
  ASSERT_TRUE(mouth.is_object()) << output;
  EXPECT_EQ(mouth["clips"].get<int>(), 10);
  EXPECT_GE(mouth["truth_correlation"].get<double>(), 0.9) << output;
  std::filesystem::remove(json_path);
}

TEST(Eval, SmallPromptSetWritesEveryMetricAndProbesBeatChance) {
  const std::filesystem::path json_path =
      std::filesystem::temp_directory_path() / ("opsis_eval_test_" + std::to_string(getpid()) + ".json");
  std::filesystem::remove(json_path);
  const std::string output =
      run(std::string(OPSIS_BINARY) +
          // The latent variant: the default (structured) model takes no first frame, and this
          // test wants every metric written, image-to-video's included.
          " eval --model opsis-mini-2 --prompts 3 --steps 4 --test-clips 40 --image-clips 1 --impact-clips 3 --lip-clips 1"
          " --cameo-clips 2 --negative-clips 1 --long-seconds 6 --character-test-clips 40 --detector-clips 8 --mouth-clips 2"
          " --json " +
          json_path.string() + " 2>&1");
  ASSERT_EQ(output.rfind("exit 0", 0), 0u) << output;
  EXPECT_NE(output.find("studio (probe)"), std::string::npos) << output;

  std::ifstream in(json_path);
  ASSERT_TRUE(in) << "no JSON written\n" << output;
  const auto j = nlohmann::json::parse(in);
  for (const char* attribute : {"setting", "time_of_day", "weather", "object", "color", "size", "motion", "camera"}) {
    SCOPED_TRACE(attribute);
    ASSERT_TRUE(j["attributes"].contains(attribute));
    const auto& a = j["attributes"][attribute];
    for (const char* field : {"classes", "chance", "studio_probe_accuracy", "studio_clips", "generated_accuracy", "same_prompts_studio_accuracy"})
      ASSERT_TRUE(a.contains(field) && a[field].is_number()) << field;
    EXPECT_GE(a["generated_accuracy"].get<double>(), 0.0);
    EXPECT_LE(a["generated_accuracy"].get<double>(), 1.0);
  }
  // The studio's render of the generated prompts' own scenes: the setting probe meets its
  // target, so it reads them (a column wired to the wrong clips or labels would not).
  EXPECT_GE(j["attributes"]["setting"]["same_prompts_studio_accuracy"].get<double>(), 0.6);
  ASSERT_TRUE(j["image_to_video_psnr_db"].is_number());
  EXPECT_GT(j["image_to_video_psnr_db"].get<double>(), 0.0);
  ASSERT_EQ(j["prompts"].size(), 3u);
  for (const auto& p : j["prompts"]) EXPECT_FALSE(p["prompt"].get<std::string>().empty());

  // The probes that meet their targets (asserted on a larger set above) read well even on
  // this small studio set; the others are only checked to be reported.
  auto studio = [&](const char* attribute) { return j["attributes"][attribute]["studio_probe_accuracy"].get<double>(); };
  EXPECT_GE(studio("setting"), 0.8);
  for (const char* attribute : {"object", "color", "motion", "camera"}) EXPECT_TRUE(in_unit(j["attributes"][attribute]["studio_probe_accuracy"]));
  for (const char* attribute : {"setting", "weather", "time_of_day", "skin", "hair", "hair_style", "shirt", "accessory"}) {
    SCOPED_TRACE(attribute);
    ASSERT_TRUE(j["character_probes"].contains(attribute)) << output;
    const auto& p = j["character_probes"][attribute];
    ASSERT_TRUE(in_unit(p["studio_probe_accuracy"]) && in_unit(p["chance"]));
    if (std::string(attribute) == "setting" || std::string(attribute) == "shirt") {
      EXPECT_GE(p["studio_probe_accuracy"].get<double>(), 0.8) << output;
    }
  }
  ASSERT_TRUE(j["impact_detector"].is_object() && j["mouth_reader"].is_object()) << output;

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
  EXPECT_GE(studio_impacts["visual_recall"].get<double>(), 0.7) << output;  // about 4% by chance
  EXPECT_GE(studio_impacts["visual_precision"].get<double>(), 0.7) << output;
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
  for (const char* attribute : {"skin", "hair", "hair_style", "shirt", "accessory"}) {
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
  EXPECT_GE(negative["probe_studio_accuracy"].get<double>(), 0.8);
  ASSERT_TRUE(in_unit(negative["rate_in_clips_not_asking"]));

  // Long clip: first and last windows read; on the studio render of the same scene the
  // strong probes read what was asked in both.
  const auto& long_clip = j["long_clip"];
  ASSERT_TRUE(long_clip.is_object()) << output;
  EXPECT_NEAR(long_clip["seconds"].get<double>(), 6.0, 0.1);
  for (const char* attribute : {"setting", "skin", "hair", "hair_style", "shirt"}) {
    SCOPED_TRACE(attribute);
    const auto& a = long_clip["attributes"][attribute];
    for (const char* field : {"asked", "first", "last", "studio_first", "studio_last"})
      ASSERT_TRUE(a[field].is_string() && !a[field].get<std::string>().empty()) << field;
  }
  for (const char* attribute : {"setting", "shirt"}) {  // the reliable readings (see above)
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
                                                       {"--character-train-clips 5", "character-train-clips"},
                                                       {"--detector-clips -1", "detector-clips"},
                                                       {"--mouth-clips 101", "mouth-clips"}};
  for (const auto& [flags, field] : cases) {
    SCOPED_TRACE(flags);
    const std::string output = run(std::string(OPSIS_BINARY) + " eval " + flags + " --json " + json_path.string() + " 2>&1");
    EXPECT_EQ(output.rfind("exit nonzero", 0), 0u) << output;
    EXPECT_NE(output.find(field), std::string::npos) << output;
    EXPECT_FALSE(std::filesystem::exists(json_path));
  }
}

}  // namespace
