#include "cameo/speech_check.hpp"

#include <fsg_model.h>
#include <pocketsphinx.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>

#include "core/error.hpp"

namespace opsis::cameo {

namespace {

constexpr const char* kDefaultModel = "/usr/share/pocketsphinx/model/en-us";
constexpr const char* kDigits[] = {"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"};
constexpr const char* kLoopWords[] = {"zero", "oh", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"};

// The prior of the phrase branch against the free digit loop, and the decoder's word insertion
// penalty: tuned on one espeak-ng set (40 right, 40 wrong, 10 non-speech) and checked on a
// second (the numbers in speech_check.hpp). A higher prior accepts more right phrases and more
// one-digit substitutions; 0.5 gave 37/40 and 1/40 on the held-out set.
constexpr double kPhrasePrior = 0.9;
constexpr const char* kWordInsertionPenalty = "1e-3";
constexpr float kNoiseFloor = 0.003f;

// The grammar as a finite-state grammar (PocketSphinx's FSG text format; its JSGF reader
// ignores weights). States: 0 start, 1 final, 2 the digit loop, 3.. inside the phrase. Every
// word costs the same on both branches; silence and fillers ([NOISE], [SPEECH]) are inserted by
// the decoder between words.
std::string phrase_grammar(const std::vector<std::string>& phrase) {
  const double word_p = 1.0 / double(std::size(kLoopWords) + 1);
  std::string fsg = "FSG_BEGIN answer\nNUM_STATES " + std::to_string(3 + phrase.size()) + "\nSTART_STATE 0\nFINAL_STATE 1\n";
  char line[128];
  for (size_t i = 0; i < phrase.size(); ++i) {
    const int from = i == 0 ? 0 : int(2 + i);
    const int to = i + 1 == phrase.size() ? 1 : int(3 + i);
    std::snprintf(line, sizeof line, "TRANSITION %d %d %.9g %s\n", from, to, i == 0 ? kPhrasePrior * word_p : word_p,
                  phrase[i].c_str());
    fsg += line;
  }
  std::snprintf(line, sizeof line, "TRANSITION 0 2 %.9g\nTRANSITION 2 1 %.9g\n", 1.0 - kPhrasePrior, word_p);
  fsg += line;
  for (const char* word : kLoopWords) {
    std::snprintf(line, sizeof line, "TRANSITION 2 2 %.9g %s\n", word_p, word);
    fsg += line;
  }
  return fsg + "FSG_END\n";
}

}  // namespace

struct SpeechChecker::Decoder {
  ps_decoder_t* ps = nullptr;
  ~Decoder() {
    if (ps) ps_free(ps);
  }
};

SpeechChecker::SpeechChecker(std::string model_dir) : decoder_(std::make_unique<Decoder>()) {
  if (model_dir.empty()) {
    const char* env = std::getenv("OPSIS_POCKETSPHINX_MODEL");
    model_dir = env && *env ? env : kDefaultModel;
  }
  const std::filesystem::path root(model_dir);
  const std::string hmm = (root / "en-us").string();
  const std::string dict = (root / "cmudict-en-us.dict").string();
  if (!std::filesystem::exists(root / "en-us" / "mdef") || !std::filesystem::exists(dict))
    throw IoError("the speech recogniser's model is missing in " + model_dir +
                  " (install Debian's pocketsphinx-en-us, or set OPSIS_POCKETSPHINX_MODEL)");
  // Whole recordings at once: cepstral mean over the recording, no voice-activity cut (the
  // grammar's silence and fillers take what is not speech).
  cmd_ln_t* config = cmd_ln_init(nullptr, ps_args(), TRUE, "-hmm", hmm.c_str(), "-dict", dict.c_str(), "-logfn", "/dev/null",
                                 "-samprate", "16000", "-wip", kWordInsertionPenalty, "-remove_silence", "no", "-cmn",
                                 "current", nullptr);
  if (!config) throw IoError("cannot configure the speech recogniser");
  decoder_->ps = ps_init(config);
  cmd_ln_free_r(config);  // the decoder holds its own reference
  if (!decoder_->ps) throw IoError("cannot start the speech recogniser with the model in " + model_dir);
}

SpeechChecker::~SpeechChecker() = default;

bool SpeechChecker::heard(const std::vector<float>& mono16k, const std::vector<std::string>& phrase, SpeechReading* out) {
  if (phrase.empty()) throw InvalidArgument("phrase", "the phrase to check is empty");
  for (const auto& w : phrase)
    if (std::find(std::begin(kDigits), std::end(kDigits), w) == std::end(kDigits))
      throw InvalidArgument("phrase", "the phrase to check has a word that is not a digit: " + w.substr(0, 20));
  // A floor of quiet noise (about -50 dBFS, seeded: the same recording reads the same): the
  // acoustic model knows rooms, not digital silence, which made it lose the first word of
  // synthetic or noise-suppressed recordings (24 of 30 right without it, 30 of 30 with it).
  std::mt19937 rng(12345);
  std::normal_distribution<float> floor_noise(0.0f, kNoiseFloor);
  std::vector<int16_t> pcm(mono16k.size());
  for (size_t i = 0; i < pcm.size(); ++i)
    pcm[i] = int16_t(std::lround(std::clamp(mono16k[i] + floor_noise(rng), -1.0f, 1.0f) * 32767.0f));

  std::string grammar = phrase_grammar(phrase);
  SpeechReading reading;
  std::lock_guard lock(mutex_);
  ps_decoder_t* ps = decoder_->ps;
  FILE* stream = fmemopen(grammar.data(), grammar.size(), "r");
  if (!stream) throw IoError("cannot read the phrase grammar");
  fsg_model_t* model = fsg_model_read(stream, ps_get_logmath(ps), float(cmd_ln_float32_r(ps_get_config(ps), "-lw")));
  std::fclose(stream);
  if (!model) throw IoError("cannot build the phrase grammar");
  ps_unset_search(ps, "answer");
  const int set = ps_set_fsg(ps, "answer", model);
  fsg_model_free(model);  // the search holds its own reference
  if (set != 0 || ps_set_search(ps, "answer") != 0) throw IoError("cannot load the phrase grammar");

  if (ps_start_utt(ps) < 0) throw IoError("the speech recogniser cannot start");
  const int processed = pcm.empty() ? 0 : ps_process_raw(ps, pcm.data(), pcm.size(), FALSE, TRUE);
  ps_end_utt(ps);
  if (processed < 0) throw IoError("the speech recogniser failed on the recording");
  constexpr double kFramesPerSecond = 100;
  for (ps_seg_t* seg = ps_seg_iter(ps); seg; seg = ps_seg_next(seg)) {
    const char* word = ps_seg_word(seg);
    // <s>, </s>, <sil>, [NOISE], [SPEECH], and (NULL): the grammar's empty transitions.
    if (!word || word[0] == '<' || word[0] == '[' || word[0] == '(') continue;
    std::string w(word);
    if (const size_t cut = w.find('('); cut != std::string::npos) w.resize(cut);  // zero(2): another pronunciation
    if (w == "oh") w = "zero";
    int start = 0, end = 0;
    ps_seg_frames(seg, &start, &end);
    reading.speech_seconds += double(end - start + 1) / kFramesPerSecond;
    reading.words.push_back(std::move(w));
  }
  const bool match = reading.words == phrase;
  if (out) *out = std::move(reading);
  return match;
}

std::vector<float> mono(const std::vector<float>& interleaved, int channels) {
  if (channels <= 1) return interleaved;
  const size_t frames = interleaved.size() / size_t(channels);
  std::vector<float> out(frames);
  for (size_t i = 0; i < frames; ++i) {
    float sum = 0;
    for (int c = 0; c < channels; ++c) sum += interleaved[i * size_t(channels) + size_t(c)];
    out[i] = sum / float(channels);
  }
  return out;
}

}  // namespace opsis::cameo
