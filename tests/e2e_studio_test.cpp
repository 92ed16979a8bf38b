// `opsis studio render` end to end: the real binary writes an MP4; the tests decode it and
// measure sync from pixels and samples as a viewer would.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>

#include "media/mp4.hpp"
#include "tests/e2e_support.hpp"

namespace fs = std::filesystem;
using namespace opsis;
using namespace opsis::e2e;

namespace {

nlohmann::json read_json(const fs::path& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Per frame: the mean row of the pixels whose colour is close to `target` (NaN if none).
std::vector<double> colour_centroid_rows(const Video& video, int r, int g, int b, int tolerance) {
  std::vector<double> rows;
  for (int t = 0; t < video.frame_count(); ++t) {
    const uint8_t* px = video.frame(t);
    double sum = 0;
    long count = 0;
    for (int y = 0; y < video.height; ++y)
      for (int x = 0; x < video.width; ++x) {
        const uint8_t* p = px + (size_t(y) * video.width + x) * 3;
        if (std::abs(p[0] - r) < tolerance && std::abs(p[1] - g) < tolerance && std::abs(p[2] - b) < tolerance) {
          sum += y;
          ++count;
        }
      }
    rows.push_back(count > 20 ? sum / count : std::nan(""));
  }
  return rows;
}

}  // namespace

TEST(StudioRender, ImpactSoundsLandOnTheirFrames) {
  const fs::path dir = scratch_dir("impact");
  const fs::path clip = dir / "bounce.mp4", truth = dir / "truth.json";
  const RunResult run = run_opsis({"studio", "render", "--prompt",
                                   "A large blue ball bounces in a living room. Static wide shot.", "--seconds", "4",
                                   "--size", "320x240", "--seed", "3", "-o", clip.string(), "--truth", truth.string()});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const media::Mp4Contents mp4 = media::read_mp4(clip.string());
  ASSERT_EQ(mp4.video.frame_count(), 96);
  ASSERT_GT(mp4.audio.frame_count(), 0u);

  // Visual impacts: frames where the ball stops going down and starts going up, found from
  // the pixels of the ball's colour (the truth names the colour, the pixels give the motion).
  const nlohmann::json t = read_json(truth);
  ASSERT_EQ(t["entities"][0]["color"], "blue");
  const std::vector<double> rows = colour_centroid_rows(mp4.video, 40, 80, 220, 70);
  std::vector<int> impact_frames;
  for (int f = 2; f + 2 < int(rows.size()); ++f) {
    if (std::isnan(rows[f - 2]) || std::isnan(rows[f]) || std::isnan(rows[f + 1])) continue;
    const bool was_falling = rows[f] > rows[f - 2] + 1.5;  // rows grow downwards
    const bool turns_up = rows[f + 1] < rows[f] - 0.5;
    if (was_falling && turns_up) impact_frames.push_back(f);
  }
  ASSERT_GE(impact_frames.size(), 2u) << "the ball should bounce at least twice in 4 s";

  const std::vector<double> onsets = audio_onsets(mp4.audio);
  std::printf("impacts seen at frames:");
  for (int f : impact_frames) std::printf(" %d", f);
  std::printf("\nsound onsets at frames:");
  for (double o : onsets) std::printf(" %.2f", o * 24);
  std::printf("\n");
  const double frame = 1.0 / 24.0;
  for (int f : impact_frames) {
    // The contact happens between the lowest frame and its neighbour: the sound's onset must
    // land within one frame of the frame where the ball is seen to hit.
    double best = 1e9;
    for (double onset : onsets) best = std::min(best, std::abs(onset - f * frame));
    EXPECT_LE(best, frame + 0.002) << "impact seen at frame " << f << " has no sound onset within one frame";
  }
}

TEST(StudioRender, SameSeedSameFileDifferentSeedDifferentClip) {
  const fs::path dir = scratch_dir("determinism");
  auto render = [&](const std::string& name, const std::string& seed) {
    const RunResult run = run_opsis({"studio", "render", "--prompt", "A small red ball rolls right on a beach at golden hour",
                                     "--seconds", "1", "--size", "128x128", "--seed", seed, "-o", (dir / name).string()});
    EXPECT_EQ(run.exit_code, 0) << run.output;
    return read_bytes(dir / name);
  };
  const std::string a = render("a.mp4", "7"), b = render("b.mp4", "7"), c = render("c.mp4", "8");
  EXPECT_FALSE(a.empty());
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

TEST(StudioRender, WritesPlayableFileAndTruth) {
  const fs::path dir = scratch_dir("truth");
  const RunResult run = run_opsis({"studio", "render", "--prompt",
                                   "Mia, a woman with long red hair and a yellow shirt, walks right in a forest while a "
                                   "small green box falls. Slow pan right, medium shot, anamorphic lens. 2 seconds.",
                                   "--size", "426x240", "-o", (dir / "c.mp4").string(), "--truth", (dir / "t.json").string()});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const media::Mp4Contents mp4 = media::read_mp4((dir / "c.mp4").string());
  EXPECT_EQ(mp4.video.width, 426);
  EXPECT_EQ(mp4.video.height, 240);
  EXPECT_EQ(mp4.video.frame_count(), 48);
  EXPECT_EQ(mp4.video_codec, "h264");
  EXPECT_EQ(mp4.audio_codec, "aac");
  EXPECT_NEAR(mp4.duration, 2.0, 1e-3);
  const nlohmann::json t = read_json(dir / "t.json");
  EXPECT_EQ(t["frames"].size(), 48u);
  EXPECT_EQ(t["spec"]["setting"], "forest");
  EXPECT_EQ(t["spec"]["characters"][0]["name"], "Mia");
  EXPECT_EQ(t["spec"]["shots"][0]["lens"], "anamorphic");
  bool footstep = false, impact = false;
  for (const auto& e : t["events"]) {
    footstep |= e["kind"] == "footstep";
    impact |= e["kind"] == "impact";
  }
  EXPECT_TRUE(footstep);
  EXPECT_TRUE(impact);
}

// Bad input: a clear error naming the problem, a non-zero exit, and no file left behind.
struct BadInput {
  std::vector<std::string> args;
  std::string expected_words;
  std::string name;
};

void PrintTo(const BadInput& input, std::ostream* os) { *os << input.name; }

class StudioRenderRefuses : public ::testing::TestWithParam<BadInput> {};

TEST_P(StudioRenderRefuses, WithAClearErrorAndNoFile) {
  const fs::path dir = scratch_dir("refuse-" + GetParam().name);
  std::vector<std::string> args = {"studio", "render"};
  for (std::string a : GetParam().args) {
    if (a == "OUT") a = (dir / "out.mp4").string();
    args.push_back(a);
  }
  const RunResult run = run_opsis(args);
  EXPECT_NE(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find(GetParam().expected_words), std::string::npos) << run.output;
  EXPECT_TRUE(fs::is_empty(dir)) << "a refused render left a file behind";
}

INSTANTIATE_TEST_SUITE_P(
    BadInputs, StudioRenderRefuses,
    ::testing::Values(BadInput{{"--prompt", "", "-o", "OUT"}, "prompt is empty", "EmptyPrompt"},
                      BadInput{{"--prompt", "   ", "-o", "OUT"}, "prompt is empty", "BlankPrompt"},
                      BadInput{{"--prompt", "a ball", "--seconds=-2", "-o", "OUT"}, "seconds", "NegativeSeconds"},
                      BadInput{{"--prompt", "a ball", "--seconds", "30", "-o", "OUT"}, "at most 25 seconds", "TooManySeconds"},
                      BadInput{{"--prompt", "a ball", "--size", "333x333", "-o", "OUT"}, "even number", "OddSize"},
                      BadInput{{"--prompt", "a ball", "--size", "4096x2160", "-o", "OUT"}, "16 to 1920", "OversizedSize"},
                      BadInput{{"--prompt", "a ball", "--size", "large", "-o", "OUT"}, "WIDTHxHEIGHT", "SizeNotWxH"},
                      BadInput{{"--prompt", "a ball", "-o", "/nonexistent-folder/out.mp4"}, "does not exist", "MissingFolder"}),
    [](const ::testing::TestParamInfo<BadInput>& info) { return info.param.name; });

namespace {

// Pixels that look like the inside of an open mouth (near black, or deep red) inside a
// screen box, per frame: the mouth's opening as a viewer sees it. The character has blond
// hair and a green shirt so nothing else in the box takes those colours while it talks.
std::vector<double> mouth_pixels(const Video& video, const nlohmann::json& truth, int entity) {
  std::vector<double> out;
  for (int t = 0; t < video.frame_count(); ++t) {
    const auto& box = truth["frames"][t]["entities"][entity]["box"];
    const int x0 = std::max(0, int(box[0].get<double>())), y0 = std::max(0, int(box[1].get<double>()));
    const int x1 = std::min(video.width, int(box[2].get<double>())), y1 = std::min(video.height, int(box[3].get<double>()));
    long count = 0;
    for (int y = y0; y < y1; ++y)
      for (int x = x0; x < x1; ++x) {
        const uint8_t* p = video.frame(t) + (size_t(y) * video.width + x) * 3;
        const int luma = (2 * p[0] + 5 * p[1] + p[2]) / 8;
        const bool dark = luma < 45;
        const bool deep_red = p[0] > 80 && p[1] < 60 && p[2] < 75 && p[0] > 2 * p[1];
        count += dark || deep_red;
      }
    out.push_back(double(count));
  }
  return out;
}

// RMS of the decoded sound over each frame's span.
std::vector<double> frame_energy(const Audio& audio, int frames, double fps) {
  std::vector<double> out;
  for (int t = 0; t < frames; ++t) {
    const size_t a = size_t(t / fps * audio.sample_rate), b = std::min(audio.frame_count(), size_t((t + 1) / fps * audio.sample_rate));
    double sum = 0;
    for (size_t i = a; i < b; ++i) sum += double(audio.samples[i * audio.channels]) * audio.samples[i * audio.channels];
    out.push_back(b > a ? std::sqrt(sum / double(b - a)) : 0.0);
  }
  return out;
}

// Pearson correlation of x[t] with y[t + lag].
double correlation_at_lag(const std::vector<double>& x, const std::vector<double>& y, int lag) {
  std::vector<double> a, b;
  for (int t = 0; t < int(x.size()); ++t)
    if (t + lag >= 0 && t + lag < int(y.size())) a.push_back(x[t]), b.push_back(y[t + lag]);
  const double ma = std::accumulate(a.begin(), a.end(), 0.0) / a.size(), mb = std::accumulate(b.begin(), b.end(), 0.0) / b.size();
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < a.size(); ++i) sab += (a[i] - ma) * (b[i] - mb), saa += (a[i] - ma) * (a[i] - ma), sbb += (b[i] - mb) * (b[i] - mb);
  return saa > 0 && sbb > 0 ? sab / std::sqrt(saa * sbb) : 0.0;
}

}  // namespace

TEST(StudioRender, MouthMovesWithTheWordsHeard) {
  const fs::path dir = scratch_dir("lipsync");
  const RunResult run = run_opsis(
      {"studio", "render", "--prompt",
       "Close-up of Ben, a man with short blond hair and a green shirt, in a living room. Static shot. "
       "Ben says: \"Mama made a big pot of warm soup, and I ate all of it.\"",
       "--seconds", "5", "--size", "320x180", "-o", (dir / "talk.mp4").string(), "--truth", (dir / "t.json").string()});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const media::Mp4Contents mp4 = media::read_mp4((dir / "talk.mp4").string());
  const nlohmann::json truth = read_json(dir / "t.json");
  const int frames = mp4.video.frame_count();
  ASSERT_EQ(frames, 120);

  const std::vector<double> mouth = mouth_pixels(mp4.video, truth, 0);
  const std::vector<double> energy = frame_energy(mp4.audio, frames, 24.0);

  // Signal level: mouth opening and speech energy move together, best at a lag of at most
  // one frame.
  int best_lag = 0;
  double best = -2;
  for (int lag = -6; lag <= 6; ++lag) {
    const double c = correlation_at_lag(mouth, energy, lag);
    if (c > best) best = c, best_lag = lag;
  }
  std::printf("lip sync: mouth/speech correlation %.3f at a lag of %d frames (lag 0: %.3f)\n", best, best_lag,
              correlation_at_lag(mouth, energy, 0));
  EXPECT_GE(best, 0.5) << "mouth and speech energy should correlate";
  EXPECT_LE(std::abs(best_lag), 1) << "best correlation at a lag of " << best_lag << " frames";

  // Phoneme level: at each open vowel the mouth is seen open, and at each m/b/p it is seen
  // closed, within one frame of the phoneme's time on the clip's clock.
  const auto [lo_it, hi_it] = std::minmax_element(mouth.begin(), mouth.end());
  const double lo = *lo_it, span = *hi_it - *lo_it;
  ASSERT_GT(span, 10) << "the mouth never visibly opens";
  auto openness = [&](int t) { return (mouth[std::clamp(t, 0, frames - 1)] - lo) / span; };
  int open_checked = 0, closed_checked = 0;
  for (const auto& e : truth["events"]) {
    if (e["kind"] != "phoneme") continue;
    const std::string ph = e["phoneme"];
    const double start = e["time"], end = start + e["duration"].get<double>();
    const int f0 = int(std::floor(start * 24)) - 1, f1 = int(std::ceil(end * 24)) + 1;
    const bool open_vowel = ph == "a" || ph == "aI" || ph == "aU" || ph == "A:" || ph == "0" || ph == "O:" || ph == "a#";
    const bool lips_closed = ph == "m" || ph == "b" || ph == "p";
    if (!open_vowel && !lips_closed) continue;
    double most = 0, least = 1;
    for (int f = f0; f <= f1; ++f) most = std::max(most, openness(f)), least = std::min(least, openness(f));
    if (open_vowel) {
      ++open_checked;
      EXPECT_GT(most, 0.4) << "open vowel " << ph << " at " << start << " s: mouth not seen open";
    } else {
      ++closed_checked;
      EXPECT_LT(least, 0.25) << "'" << ph << "' at " << start << " s: lips not seen closed";
    }
  }
  std::printf("lip sync: %d open vowels and %d closed-lip phonemes checked\n", open_checked, closed_checked);
  EXPECT_GE(open_checked, 3);
  EXPECT_GE(closed_checked, 3);
}
