#include "models/ltx2/tokenizer.hpp"

#include <sentencepiece_processor.h>

#include <filesystem>

#include "core/error.hpp"

namespace opsis::ltx2 {
namespace {

// The length in bytes of a whitespace code point (as Python's str.isspace) at the start
// (`from_end` false) or end of `s`, else 0.
size_t whitespace_at(std::string_view s, bool from_end) {
  static constexpr char32_t kWide[] = {0x85,   0xA0,   0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006,
                                       0x2007, 0x2008, 0x2009, 0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000};
  if (s.empty()) return 0;
  const unsigned char edge = static_cast<unsigned char>(from_end ? s.back() : s.front());
  if (edge == ' ' || (edge >= 0x09 && edge <= 0x0D) || (edge >= 0x1C && edge <= 0x1F)) return 1;
  // A multi-byte code point: find its first byte and length, decode, compare.
  for (size_t length = 2; length <= 3 && length <= s.size(); ++length) {
    const std::string_view cp = from_end ? s.substr(s.size() - length) : s.substr(0, length);
    const auto lead = static_cast<unsigned char>(cp[0]);
    const size_t expected = (lead & 0xE0) == 0xC0 ? 2 : (lead & 0xF0) == 0xE0 ? 3 : 0;
    if (expected != length) continue;
    char32_t value = length == 2 ? lead & 0x1F : lead & 0x0F;
    bool valid = true;
    for (size_t i = 1; i < length; ++i) {
      const auto c = static_cast<unsigned char>(cp[i]);
      if ((c & 0xC0) != 0x80) valid = false;
      value = (value << 6) | (c & 0x3F);
    }
    if (!valid) continue;
    for (const char32_t w : kWide)
      if (value == w) return length;
    return 0;
  }
  return 0;
}

}  // namespace

std::string_view strip_like_python(std::string_view text) {
  while (const size_t n = whitespace_at(text, false)) text.remove_prefix(n);
  while (const size_t n = whitespace_at(text, true)) text.remove_suffix(n);
  return text;
}

struct GemmaTokenizer::Impl {
  sentencepiece::SentencePieceProcessor processor;
};

GemmaTokenizer::GemmaTokenizer(const std::string& model_path) : impl_(std::make_unique<Impl>()) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(model_path, ec)) throw IoError("cannot read tokenizer model '" + model_path + "'");
  const auto status = impl_->processor.Load(model_path);
  if (!status.ok())
    throw InvalidArgument("tokenizer", "'" + model_path + "' is not a SentencePiece model: " + status.ToString());
  bos_ = impl_->processor.bos_id();
  eos_ = impl_->processor.eos_id();
  pad_ = impl_->processor.pad_id() >= 0 ? impl_->processor.pad_id() : eos_;
  if (bos_ < 0) throw InvalidArgument("tokenizer", "'" + model_path + "' has no BOS token, which the LTX-2 text path puts first");
  if (pad_ < 0) throw InvalidArgument("tokenizer", "'" + model_path + "' has neither a pad nor an EOS token to pad with");
}

GemmaTokenizer::~GemmaTokenizer() = default;

int GemmaTokenizer::vocab_size() const { return impl_->processor.GetPieceSize(); }

TokenizedPrompt GemmaTokenizer::encode(std::string_view prompt, int max_length) const {
  if (max_length < 1) throw InvalidArgument("max_length", "the tokenizer's max_length must be at least 1");
  std::vector<int> pieces;
  const auto status = impl_->processor.Encode(std::string(strip_like_python(prompt)), &pieces);
  if (!status.ok()) throw InvalidArgument("prompt", "the tokenizer cannot encode the prompt: " + status.ToString());
  // BOS, then the text, cut to max_length (Gemma 3's tokenizer emits the BOS itself, so the
  // reference's "prepend when missing" never adds a second one).
  std::vector<int64_t> tokens;
  tokens.reserve(size_t(max_length));
  tokens.push_back(bos_);
  for (const int id : pieces) {
    if (int(tokens.size()) == max_length) break;
    tokens.push_back(id);
  }
  TokenizedPrompt out;
  out.tokens = int(tokens.size());
  out.ids.assign(size_t(max_length - out.tokens), pad_);
  out.mask.assign(size_t(max_length - out.tokens), 0);
  out.ids.insert(out.ids.end(), tokens.begin(), tokens.end());
  out.mask.insert(out.mask.end(), size_t(out.tokens), 1);
  return out;
}

std::string GemmaTokenizer::decode(const std::vector<int64_t>& ids) const {
  std::vector<int> kept;
  for (const int64_t id : ids)
    if (id != bos_ && id != eos_ && id != pad_ && id >= 0 && id < vocab_size()) kept.push_back(int(id));
  std::string text;
  const auto status = impl_->processor.Decode(kept, &text);
  if (!status.ok()) throw InvalidArgument("ids", "the tokenizer cannot decode the ids: " + status.ToString());
  return text;
}

}  // namespace opsis::ltx2
