#include "models/mini2/conditioning.hpp"

#include <cctype>

#include "studio/caption.hpp"

namespace opsis::mini2 {

namespace {

// Token types, then each attribute's values, laid out one after another from id 1.
enum TokenType : int64_t {
  kSettingType, kTimeType, kWeatherType, kObjectType, kCharacterType = kObjectType + studio::kMaxObjects,
  kShotType = kCharacterType + studio::kMaxCharacters, kNegativeType = kShotType + 3, kWordType, kPhonemeType, kNullType,
  kTypeCount
};
inline constexpr int kNegativeBuckets = 64;

struct Layout {
  int64_t type, setting, time, weather, kind, color, size, motion, skin, hair, style, shirt, accessory, action, move, speed,
      framing, lens, negative, word, word_position, phoneme, viseme, end;
  explicit Layout(const GeneratorConfig& c) {
    int64_t at = 1;
    auto take = [&](int64_t n) { const int64_t first = at; at += n; return first; };
    type = take(kTypeCount);
    setting = take(8), time = take(3), weather = take(2);
    kind = take(5), color = take(8), size = take(2), motion = take(9);
    skin = take(5), hair = take(6), style = take(3), shirt = take(8), accessory = take(3), action = take(6);
    move = take(10), speed = take(2), framing = take(3), lens = take(4);
    negative = take(kNegativeBuckets);
    word = take(c.word_buckets), word_position = take(c.max_words);
    phoneme = take(c.phoneme_buckets), viseme = take(8);
    end = at;
  }
};

uint64_t fnv1a(const std::string& text) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char ch : text) h = (h ^ ch) * 1099511628211ull;
  return h;
}

SlotToken token(std::initializer_list<int64_t> ids) {
  SlotToken t;
  size_t i = 0;
  for (int64_t id : ids) t.ids[i++] = id;
  return t;
}

}  // namespace

int64_t slot_vocabulary_size(const GeneratorConfig& config) { return Layout(config).end; }

std::vector<SlotToken> slot_tokens(const studio::SceneSpec& spec, SlotScope scope, const GeneratorConfig& config) {
  const Layout L(config);
  static const studio::SceneSpec defaults = studio::parse_prompt("").spec;
  const bool all = scope == SlotScope::Everything;
  std::vector<SlotToken> out;
  if (all || spec.setting != defaults.setting) out.push_back(token({L.type + kSettingType, L.setting + int64_t(spec.setting)}));
  if (all || spec.time_of_day != defaults.time_of_day) out.push_back(token({L.type + kTimeType, L.time + int64_t(spec.time_of_day)}));
  if (all || spec.weather != defaults.weather) out.push_back(token({L.type + kWeatherType, L.weather + int64_t(spec.weather)}));
  for (size_t i = 0; i < spec.objects.size() && i < size_t(studio::kMaxObjects); ++i) {
    const auto& o = spec.objects[i];
    out.push_back(token({L.type + kObjectType + int64_t(i), L.kind + int64_t(o.kind), L.color + int64_t(o.color),
                         L.size + int64_t(o.size), L.motion + int64_t(o.motion)}));
  }
  for (size_t i = 0; i < spec.characters.size() && i < size_t(studio::kMaxCharacters); ++i) {
    const auto& c = spec.characters[i];
    const auto& id = c.identity;
    out.push_back(token({L.type + kCharacterType + int64_t(i), L.skin + int64_t(id.skin), L.hair + int64_t(id.hair_color),
                         L.style + int64_t(id.hair_style), L.shirt + int64_t(id.shirt), L.accessory + int64_t(id.accessory),
                         L.action + int64_t(c.action)}));
  }
  double start = 0;
  for (size_t i = 0; i < spec.shots.size() && i < 3; ++i) {
    const auto& s = spec.shots[i];
    const auto& d = defaults.shots[0];
    const bool named = s.camera != d.camera || s.speed != d.speed || s.framing != d.framing || s.lens != d.lens;
    if (all || named) {
      SlotToken t = token({L.type + kShotType + int64_t(i), L.move + int64_t(s.camera), L.speed + int64_t(s.speed),
                           L.framing + int64_t(s.framing), L.lens + int64_t(s.lens)});
      t.start = float(start), t.end = float(start + s.seconds), t.has_time = spec.shots.size() > 1;
      out.push_back(t);
    }
    start += s.seconds;
  }
  for (const auto& negative : spec.negatives)
    out.push_back(token({L.type + kNegativeType, L.negative + int64_t(fnv1a(negative) % kNegativeBuckets)}));
  return out;
}

std::vector<SlotToken> word_tokens(const std::string& text, const GeneratorConfig& config) {
  const Layout L(config);
  std::vector<SlotToken> out;
  std::string word;
  auto flush = [&] {
    if (word.empty() || int(out.size()) >= config.max_words) return word.clear();
    out.push_back(token({L.type + kWordType, L.word + int64_t(fnv1a(word) % uint64_t(config.word_buckets)),
                         L.word_position + int64_t(out.size())}));
    word.clear();
  };
  for (unsigned char ch : text) {
    if (std::isalnum(ch) || ch >= 0x80) word.push_back(char(std::tolower(ch)));
    else flush();
  }
  flush();
  return out;
}

std::vector<SlotToken> phoneme_tokens(const std::vector<engine::PhonemeCue>& phonemes, double time_offset,
                                      const GeneratorConfig& config) {
  const Layout L(config);
  std::vector<SlotToken> out;
  for (const auto& p : phonemes) {
    SlotToken t = token({L.type + kPhonemeType, L.phoneme + int64_t(fnv1a(p.phoneme) % uint64_t(config.phoneme_buckets)),
                         L.viseme + int64_t(std::clamp(p.viseme, 0, 7))});
    t.start = float(time_offset + p.start);
    t.end = float(time_offset + p.start + p.duration);
    t.has_time = true;
    t.value = p.openness;
    out.push_back(t);
  }
  return out;
}

ContextRow prompt_row(const std::string& prompt, SlotScope scope, const std::vector<engine::PhonemeCue>& phonemes,
                      double time_offset, const GeneratorConfig& config) {
  ContextRow row;
  if (prompt.find_first_not_of(" \t\r\n") != std::string::npos) {
    row.tokens = slot_tokens(studio::parse_prompt(prompt).spec, scope, config);
    for (auto& t : word_tokens(prompt, config)) row.tokens.push_back(t);
  }
  for (auto& t : phoneme_tokens(phonemes, time_offset, config)) row.tokens.push_back(t);
  return row;
}

torch::Tensor identity_tensor(const Image& image, int size) {
  auto bytes = torch::from_blob(const_cast<uint8_t*>(image.pixels.data()), {1, image.height, image.width, 3}, torch::kUInt8);
  auto unit = bytes.to(torch::kFloat32).div(127.5).sub(1.0).permute({0, 3, 1, 2});
  unit = torch::adaptive_avg_pool2d(unit, {size, size});
  return unit.squeeze(0).permute({1, 2, 0}).contiguous();
}

ContextInputs context_inputs(const std::vector<ContextRow>& rows, const GeneratorConfig& config) {
  const Layout L(config);
  const int64_t B = int64_t(rows.size());
  int64_t length = 1;
  for (const auto& r : rows) length = std::max<int64_t>(length, int64_t(r.tokens.size()) + 1);
  ContextInputs in;
  in.ids = torch::zeros({B, length, kSlotFields}, torch::kInt64);
  in.times = torch::zeros({B, length, 2});
  in.values = torch::zeros({B, length, 1});
  in.has_time = torch::zeros({B, length});
  in.mask = torch::zeros({B, length}, torch::kBool);
  in.identity = torch::zeros({B, config.identity_size, config.identity_size, 3});
  in.has_identity = torch::zeros({B});
  auto ids = in.ids.accessor<int64_t, 3>();
  auto times = in.times.accessor<float, 3>();
  auto values = in.values.accessor<float, 3>();
  auto has_time = in.has_time.accessor<float, 2>();
  auto mask = in.mask.accessor<bool, 2>();
  for (int64_t b = 0; b < B; ++b) {
    // Token 0: the null token, always there, so every row has a key to attend to.
    ids[b][0][0] = L.type + kNullType;
    mask[b][0] = true;
    const auto& tokens = rows[size_t(b)].tokens;
    for (size_t i = 0; i < tokens.size(); ++i) {
      const auto& t = tokens[i];
      for (int k = 0; k < kSlotFields; ++k) ids[b][int64_t(i) + 1][k] = t.ids[size_t(k)];
      times[b][int64_t(i) + 1][0] = t.start;
      times[b][int64_t(i) + 1][1] = t.end;
      values[b][int64_t(i) + 1][0] = t.value;
      has_time[b][int64_t(i) + 1] = t.has_time ? 1.f : 0.f;
      mask[b][int64_t(i) + 1] = true;
    }
    if (rows[size_t(b)].identity) {
      in.identity[b] = identity_tensor(*rows[size_t(b)].identity, config.identity_size);
      in.has_identity[b] = 1;
    }
  }
  return in;
}

ContextInputs to_device(const ContextInputs& in, const torch::Device& device) {
  return {in.ids.to(device),  in.times.to(device),    in.values.to(device),      in.has_time.to(device),
          in.mask.to(device), in.identity.to(device), in.has_identity.to(device)};
}

}  // namespace opsis::mini2
