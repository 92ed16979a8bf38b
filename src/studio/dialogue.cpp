#include "studio/dialogue.hpp"

#include <espeak-ng/speak_lib.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <numbers>
#include <numeric>
#include <string>
#include <utility>

#include "core/error.hpp"
#include "studio/world.hpp"

namespace opsis::studio {
namespace {

// espeak-ng keeps its voice, parameters and synthesis buffers in globals: one caller at a time.
std::mutex& espeak_mutex() {
  static std::mutex m;
  return m;
}

struct RawEvent {
  std::string phoneme;
  int64_t sample = 0;  // position in espeak's own output, at espeak's sample rate
};

// Filled by the synth callback while espeak_mutex is held.
struct Collector {
  std::vector<int16_t> pcm;
  std::vector<RawEvent> events;
  int sample_rate = 22050;
};

int collect(short* wav, int count, espeak_EVENT* events) {
  if (!events) return 0;
  auto* collector = static_cast<Collector*>(events->user_data);
  if (!collector) return 0;
  if (wav && count > 0) collector->pcm.insert(collector->pcm.end(), wav, wav + count);
  for (espeak_EVENT* e = events; e->type != espeakEVENT_LIST_TERMINATED; ++e) {
    if (e->type != espeakEVENT_PHONEME) continue;
    RawEvent raw;
    raw.phoneme.assign(e->id.string, strnlen(e->id.string, sizeof(e->id.string)));
    // `sample` is espeak's exact sample counter; audio_position is the same instant truncated
    // to whole milliseconds. Prefer the sample when both agree, else trust the documented one.
    const int64_t from_ms = int64_t(e->audio_position) * collector->sample_rate / 1000;
    const int64_t tolerance = collector->sample_rate / 1000 + 1;
    raw.sample = (e->sample >= 0 && std::llabs(int64_t(e->sample) - from_ms) <= tolerance) ? int64_t(e->sample) : from_ms;
    collector->events.push_back(std::move(raw));
  }
  return 0;
}

// Sample rate of espeak's output; initialises espeak-ng once. Caller holds espeak_mutex.
int espeak_rate_locked() {
  static int rate = 0;
  if (rate > 0) return rate;
  const int result = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, nullptr,
                                       espeakINITIALIZE_PHONEME_EVENTS | espeakINITIALIZE_DONT_EXIT);
  if (result <= 0)
    throw IoError("espeak-ng could not be initialised (is the espeak-ng-data package installed, or ESPEAK_DATA_PATH set?)");
  espeak_SetSynthCallback(collect);
  rate = result;
  return rate;
}

uint64_t fnv1a(uint64_t h, std::string_view bytes) {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

// A voice is an espeak-ng voice file written for the identity. Flutter (a pitch wobble read
// from a table whose position carries over from the previous utterance) and roughness (an
// amplitude modulation on a global cycle counter) are off: with them on, the same line spoken
// twice comes out different.
struct VoiceChoice {
  std::string file_text;  // espeak-ng voice file
  int rate = 175;         // words per minute
};

// One voice per identity: every field of the Identity feeds the hash, so two characters that
// look different also sound different, and the same character always sounds the same.
VoiceChoice voice_for(const Identity& identity) {
  uint64_t h = 1469598103934665603ull;
  h = fnv1a(h, identity.name);
  const std::array<int, 5> traits{int(identity.skin), int(identity.hair_color), int(identity.hair_style),
                                  int(identity.shirt), int(identity.accessory)};
  for (int t : traits) h = fnv1a(h, std::string(1, char('A' + t)));
  // splitmix finaliser: spreads the FNV state over all bits before slicing it.
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 31;
  auto pick = [&h](int lo, int hi) {  // uniform in [lo, hi], consuming bits of h
    const int v = lo + int(h % uint64_t(hi - lo + 1));
    h = h / uint64_t(hi - lo + 1) ^ (h * 0x9e3779b97f4a7c15ull);
    return v;
  };
  const bool female = pick(0, 1) == 1;
  // Pitch range in Hz (base, top) and formant frequency scale in percent: a longer or
  // shorter vocal tract makes one voice differ from another beyond its pitch.
  const int base = female ? pick(150, 195) : pick(72, 110);
  const int top = base + (female ? pick(80, 120) : pick(35, 60));
  const int tract = female ? pick(104, 116) : pick(90, 102);
  std::string text = "name opsis\nlanguage en-us\ngender ";
  text += female ? "female\n" : "male\n";
  text += "pitch " + std::to_string(base) + " " + std::to_string(top) + "\n";
  for (int formant = 0; formant <= 5; ++formant) {
    const int freq = tract + pick(-3, 3);
    const int height = formant == 0 ? 100 : pick(85, 110);
    const int width = pick(90, 130);
    text += "formant " + std::to_string(formant) + " " + std::to_string(freq) + " " + std::to_string(height) + " " +
            std::to_string(width) + "\n";
  }
  text += "flutter 0\nroughness 0\n";
  VoiceChoice v;
  v.file_text = std::move(text);
  v.rate = pick(150, 185);
  return v;
}

// Loads the voice through a file that exists only while espeak-ng reads it. espeak-ng lowercases
// the path and keeps at most 59 characters of it, hence the short lowercase name under /tmp.
void load_voice_locked(const VoiceChoice& voice) {
  static uint64_t counter = 0;
  char path[64];
  std::snprintf(path, sizeof(path), "/tmp/opsis-voice-%x-%llx", unsigned(getpid()), (unsigned long long)(++counter));
  const int fd = ::open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) throw IoError(std::string("cannot write an espeak-ng voice file at ") + path + ": " + std::strerror(errno));
  const ssize_t written = ::write(fd, voice.file_text.data(), voice.file_text.size());
  ::close(fd);
  espeak_ERROR status = EE_INTERNAL_ERROR;
  if (written == ssize_t(voice.file_text.size())) status = espeak_SetVoiceByFile(path);
  ::unlink(path);
  if (written != ssize_t(voice.file_text.size())) throw IoError(std::string("cannot write an espeak-ng voice file at ") + path);
  if (status != EE_OK) throw IoError("espeak-ng could not load a voice for English (is espeak-ng-data installed?)");
}

// espeak-ng reads a few entries past the end of a clause's phoneme list, where the previous
// clause left its phonemes: the length of a clause's last vowel depends on what was said before.
// Saying one fixed clause longer than any clause of `text` first makes that history the same
// every time.
std::string priming_clause(std::string_view text) {
  size_t longest = 0, run = 0;
  for (char c : text) {
    run = std::string_view(".,;:!?\n").find(c) != std::string_view::npos ? 0 : run + 1;
    longest = std::max(longest, run);
  }
  static constexpr std::string_view kWords =
      "the quick brown fox jumps over the lazy dog and then the small red ball rolls slowly across the green "
      "meadow while the wind blows gently through the tall trees and the birds sing their morning songs ";
  std::string clause;
  while (clause.size() < longest + 40) clause += kWords;
  const size_t cut = clause.find(' ', longest + 40);  // whole words only
  if (cut != std::string::npos) clause.resize(cut);
  return clause;
}

double bessel_i0(double x) {
  double sum = 1, term = 1;
  for (int k = 1; k < 40; ++k) {
    term *= (x / (2 * k)) * (x / (2 * k));
    sum += term;
    if (term < 1e-12 * sum) break;
  }
  return sum;
}

// Band-limited resampling by a Kaiser-windowed sinc. The kernel is symmetric about each output
// instant (linear phase), so nothing moves in time: output sample n sits at n / out_rate seconds,
// exactly where input sample n * in_rate / out_rate sat. Output length: round(n_in * out / in).
std::vector<float> resample(const std::vector<float>& in, int in_rate, int out_rate) {
  if (in_rate == out_rate) return in;
  const int64_t g = std::gcd(int64_t(in_rate), int64_t(out_rate));
  const int64_t up = out_rate / g, down = in_rate / g;  // out = in * up / down
  const int64_t n_out = (int64_t(in.size()) * up + down / 2) / down;
  const double cutoff = 0.97 * std::min(1.0, double(out_rate) / in_rate);  // of the input's Nyquist
  constexpr int kHalfTaps = 24;  // at the input rate, scaled by 1/cutoff
  const int half = int(std::ceil(kHalfTaps / cutoff));
  constexpr double kBeta = 8.0;
  const double i0_beta = bessel_i0(kBeta);
  // One kernel per output phase (n * down mod up): [phases, 2*half]. Rates with a large `up`
  // (near-coprime rates) share 1024 phases: an output instant moves by under 1/1000 of a sample.
  const int64_t phases = std::min<int64_t>(up, 1024);
  std::vector<float> kernels(static_cast<size_t>(phases * 2 * half));
  for (int64_t phase = 0; phase < phases; ++phase) {
    const double frac = double(phase) / double(phases);  // output instant minus floor, input samples
    double sum = 0;
    float* k = &kernels[size_t(phase) * size_t(2 * half)];
    for (int j = 0; j < 2 * half; ++j) {
      const double d = double(j - half + 1) - frac;  // tap position relative to the output instant
      const double x = d * cutoff;
      const double sinc = std::abs(x) < 1e-12 ? 1.0 : std::sin(std::numbers::pi * x) / (std::numbers::pi * x);
      const double r = d / half;
      const double window = std::abs(r) >= 1 ? 0.0 : bessel_i0(kBeta * std::sqrt(1 - r * r)) / i0_beta;
      k[j] = float(sinc * window);
      sum += sinc * window;
    }
    for (int j = 0; j < 2 * half; ++j) k[j] = float(k[j] / sum);  // unity gain at DC
  }
  std::vector<float> out(static_cast<size_t>(n_out));
  const int64_t n_in = int64_t(in.size());
  for (int64_t n = 0; n < n_out; ++n) {
    const int64_t pos = n * down;
    const int64_t base = pos / up;
    const int64_t phase = phases == up ? pos % up : std::min(phases - 1, ((pos % up) * phases + up / 2) / up);
    const float* k = &kernels[size_t(phase) * size_t(2 * half)];
    double acc = 0;
    for (int j = 0; j < 2 * half; ++j) {
      const int64_t i = base + j - half + 1;
      if (i >= 0 && i < n_in) acc += double(k[j]) * in[size_t(i)];
    }
    out[size_t(n)] = float(acc);
  }
  return out;
}

bool is_pause(std::string_view phoneme) { return phoneme.empty() || phoneme[0] == '_'; }

// espeak-ng English mnemonics (phsource/ph_english): vowels begin with one of these.
bool starts_vowel(std::string_view p) {
  return !p.empty() && std::string_view("aAeEiIoOuUV@03").find(p[0]) != std::string_view::npos;
}

struct MouthShape {
  int viseme;
  float openness;
};

MouthShape mouth_of(std::string_view raw) {
  // Stress and length marks are not part of the shape.
  std::string p;
  for (char c : raw)
    if (c != '\'' && c != ',' && c != '%' && c != '=') p.push_back(c);
  if (is_pause(p)) return {kRest, 0.0f};
  if (starts_vowel(p)) {
    const char c = p[0];
    const char next = p.size() > 1 ? p[1] : '\0';
    // Diphthongs take the shape of their first, longer part; "oU"/"aU" end rounded but open first.
    if (c == 'o' || c == 'O' || c == 'u' || c == 'U') return {kRound, (c == 'o' || c == 'O') ? 0.6f : 0.4f};
    if (c == 'a' || c == 'A') return {kOpen, 1.0f};
    if (c == 'V' || c == '0') return {kOpen, 0.8f};
    if (c == '@' || c == '3') return {kOpen, next == 'L' ? 0.5f : 0.55f};
    if (c == 'e' || c == 'E') return {kWide, 0.6f};
    return {kWide, 0.4f};  // i, I, I#, i@ ...
  }
  const char c = p[0];
  if (c == 'm' || c == 'b' || c == 'p') return {kLipsClosed, 0.0f};
  if (c == 'f' || c == 'v') return {kTeethLip, 0.15f};
  if (c == 'w' || c == 'W') return {kRound, 0.3f};
  if (c == 'r') return {kRound, 0.3f};
  if (c == 'j') return {kWide, 0.3f};
  if (c == 'S' || c == 'Z' || (c == 't' && p.size() > 1 && p[1] == 'S') || (c == 'd' && p.size() > 1 && p[1] == 'Z'))
    return {kRound, 0.3f};  // sh, zh, ch, j are said with pushed-out lips
  if (c == 'h') return {kOpen, 0.5f};
  // t d n s z l k g N T D and the rest: teeth nearly together, lips relaxed.
  return {kWide, 0.25f};
}

}  // namespace

int viseme_of(std::string_view phoneme) { return mouth_of(phoneme).viseme; }

float openness_of(int viseme) {
  switch (viseme) {
    case kOpen: return 1.0f;
    case kRound: return 0.5f;
    case kWide: return 0.45f;
    case kTeethLip: return 0.15f;
    case kLipsClosed:
    case kRest:
    default: return 0.0f;
  }
}

Speech speak(std::string_view text, const Identity& identity, int sample_rate) {
  if (sample_rate < 8000 || sample_rate > 192000)
    throw InvalidArgument("sample_rate", "speech sample rate must be between 8000 and 192000 Hz, got " + std::to_string(sample_rate));
  Speech speech;
  speech.pcm.sample_rate = sample_rate;
  speech.pcm.channels = 1;
  if (std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isspace(c) != 0; })) return speech;

  const VoiceChoice voice = voice_for(identity);
  const std::string utf8(text);
  Collector collector;
  {
    std::lock_guard<std::mutex> lock(espeak_mutex());
    collector.sample_rate = espeak_rate_locked();
    load_voice_locked(voice);
    espeak_SetParameter(espeakRATE, voice.rate, 0);
    espeak_SetParameter(espeakPITCH, 50, 0);
    espeak_SetParameter(espeakRANGE, 50, 0);
    espeak_SetParameter(espeakVOLUME, 100, 0);
    espeak_SetParameter(espeakPUNCTUATION, espeakPUNCT_NONE, 0);
    const std::string priming = priming_clause(utf8);
    // user_data null: the callback drops this audio.
    espeak_Synth(priming.c_str(), priming.size() + 1, 0, POS_CHARACTER, 0, espeakCHARS_UTF8, nullptr, nullptr);
    const espeak_ERROR err = espeak_Synth(utf8.c_str(), utf8.size() + 1, 0, POS_CHARACTER, 0, espeakCHARS_UTF8,
                                          nullptr, &collector);
    if (err != EE_OK) throw IoError("espeak-ng failed to synthesise speech (error " + std::to_string(int(err)) + ")");
  }

  const int in_rate = collector.sample_rate;
  const auto has_voice = std::any_of(collector.events.begin(), collector.events.end(),
                                     [](const RawEvent& e) { return !is_pause(e.phoneme); });
  if (!has_voice || collector.pcm.empty()) return speech;

  std::vector<float> pcm(collector.pcm.size());
  // espeak-ng at volume 100 reaches full scale; 0.7 leaves headroom for the resampler's ripple
  // and for the mix the line goes into.
  constexpr float kGain = 0.7f / 32768.0f;
  for (size_t i = 0; i < pcm.size(); ++i) pcm[i] = float(collector.pcm[i]) * kGain;

  // End of voiced audio: the last sample above -50 dBFS.
  int64_t voiced_end = int64_t(pcm.size());
  while (voiced_end > 0 && std::abs(pcm[size_t(voiced_end - 1)]) < 0.002f) --voiced_end;

  speech.pcm.samples = resample(pcm, in_rate, sample_rate);
  for (float& v : speech.pcm.samples) v = std::clamp(v, -1.0f, 1.0f);
  const double pcm_seconds = double(speech.pcm.samples.size()) / sample_rate;
  const double voiced_end_s = std::min(double(voiced_end) / in_rate, pcm_seconds);

  for (size_t i = 0; i < collector.events.size(); ++i) {
    const RawEvent& e = collector.events[i];
    PhonemeTiming t;
    t.phoneme = e.phoneme;
    t.start = std::clamp(double(e.sample) / in_rate, 0.0, pcm_seconds);
    if (!speech.phonemes.empty()) t.start = std::max(t.start, speech.phonemes.back().start);  // monotonic
    const double end = i + 1 < collector.events.size() ? double(collector.events[i + 1].sample) / in_rate
                                                       : std::max(voiced_end_s, t.start);
    t.duration = std::max(0.0, std::min(end, pcm_seconds) - t.start);
    const MouthShape shape = mouth_of(e.phoneme);
    t.viseme = shape.viseme;
    t.openness = shape.openness;
    speech.phonemes.push_back(std::move(t));
  }
  return speech;
}

}  // namespace opsis::studio
