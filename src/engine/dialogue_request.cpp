#include "engine/dialogue_request.hpp"

#include "studio/caption.hpp"
#include "studio/dialogue.hpp"

namespace opsis::engine {

std::vector<DialogueLine> add_dialogue(GenerateRequest& r, int sample_rate) {
  const studio::ParseResult parsed = studio::parse_prompt(r.prompt, r.seconds);
  std::vector<DialogueLine> placed;
  double at = 0.5;
  r.speech.sample_rate = sample_rate;
  r.speech.channels = 1;
  for (const auto& character : parsed.spec.characters) {
    if (character.line.empty()) continue;
    const studio::Speech speech = studio::speak(character.line, character.identity, sample_rate);
    const size_t offset = size_t(at * sample_rate);
    if (r.speech.samples.size() < offset + speech.pcm.samples.size())
      r.speech.samples.resize(offset + speech.pcm.samples.size(), 0.0f);
    for (size_t i = 0; i < speech.pcm.samples.size(); ++i) r.speech.samples[offset + i] += speech.pcm.samples[i];
    for (const auto& p : speech.phonemes) r.phonemes.push_back({p.phoneme, at + p.start, p.duration, p.viseme, p.openness});
    placed.push_back({character.identity.name, character.line, at, speech.pcm.seconds(), speech.phonemes.size()});
    at += speech.pcm.seconds() + 0.3;
  }
  return placed;
}

}  // namespace opsis::engine
