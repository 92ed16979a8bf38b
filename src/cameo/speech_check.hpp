#pragma once
// Was the challenge phrase spoken? An offline recogniser (CMU PocketSphinx 0.8 with Debian's
// pocketsphinx-en-us acoustic model; free decoding with its language model was unreliable),
// constrained to a grammar where the challenge's phrase competes with any sequence of digit
// words: the phrase wins unless the sound is clearly other digits, fewer digits, or none.
// The recording passes when the words recognised are exactly the phrase. Measured on espeak-ng
// speech (10 voices and variants, 120-190 words/min) on a set held out from the tuning: 39/40
// right phrases accepted; 2/40 wrong ones accepted (both the phrase with one digit changed;
// none of another phrase, a digit left out or other words); 0/10 silence, noise or tones. The
// studio world's formant-shifted voices: 57/60 right. Digit substitutions and a mumbled digit
// are its weak point; a replayed recording of another challenge's phrase was never accepted.
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace opsis::cameo {

struct SpeechReading {
  std::vector<std::string> words;  // the digit words recognised, in order ("oh" read as "zero")
  double speech_seconds = 0;       // how long they last (fillers and silence excluded)
};

class SpeechChecker {
 public:
  // model_dir: the directory holding en-us/ (acoustic model) and cmudict-en-us.dict; empty:
  // $OPSIS_POCKETSPHINX_MODEL, else /usr/share/pocketsphinx/model/en-us. Throws opsis::IoError
  // when the model is missing or cannot be loaded.
  explicit SpeechChecker(std::string model_dir = "");
  ~SpeechChecker();
  SpeechChecker(const SpeechChecker&) = delete;
  SpeechChecker& operator=(const SpeechChecker&) = delete;

  // mono16k: 16 kHz mono PCM in [-1, 1]; phrase: the challenge's digit words ("zero".."nine"),
  // else opsis::InvalidArgument. True when the words recognised are exactly the phrase.
  // Thread-safe: one decoder, one recording at a time.
  bool heard(const std::vector<float>& mono16k, const std::vector<std::string>& phrase, SpeechReading* reading = nullptr);

 private:
  struct Decoder;
  std::unique_ptr<Decoder> decoder_;
  std::mutex mutex_;
};

// Averages the channels of interleaved PCM: [frames, channels] -> [frames].
std::vector<float> mono(const std::vector<float>& interleaved, int channels);

}  // namespace opsis::cameo
