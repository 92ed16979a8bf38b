#pragma once
// The LTX-2 text path's tokenizer: Gemma's SentencePiece model (tokenizer.model beside the
// text encoder's weights; its protobuf read and its BPE run here, as libsentencepiece does them,
// checked against that library's ids in the golden), with the reference's rules for the
// encoder's input (docs/ltx2/reference-map.md, "Gemma 3"; ltx_core's LTXGemmaTokenizer): the
// prompt stripped of whitespace as Python's str.strip does, BOS in front, cut to max_length
// tokens, padded on the left to max_length (pad id, or EOS when the model has no pad), and a
// mask that is 1 on tokens and 0 on pads. No libtorch: ids are plain integers.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace opsis::ltx2 {

inline constexpr int kTokenizerMaxLength = 1024;  // TOKENIZER_MAX_LENGTH of the reference

struct TokenizedPrompt {
  std::vector<int64_t> ids;   // [max_length], left-padded
  std::vector<int64_t> mask;  // [max_length], 1 on tokens, 0 on pads
  int tokens = 0;             // mask's count of ones (BOS included)
};

// What Python's str.strip() takes off both ends: ASCII whitespace, the separators \x1c-\x1f,
// U+0085, U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029, U+202F, U+205F and U+3000.
std::string_view strip_like_python(std::string_view text);

class GemmaTokenizer {
 public:
  // Throws opsis::IoError when the file cannot be read, opsis::InvalidArgument("tokenizer", ...)
  // when it is not a SentencePiece model or has no BOS.
  explicit GemmaTokenizer(const std::string& model_path);
  ~GemmaTokenizer();
  GemmaTokenizer(const GemmaTokenizer&) = delete;
  GemmaTokenizer& operator=(const GemmaTokenizer&) = delete;

  // Throws opsis::InvalidArgument("max_length", ...) for max_length < 1.
  TokenizedPrompt encode(std::string_view prompt, int max_length = kTokenizerMaxLength) const;
  // The text of ids, pads, BOS and EOS left out.
  std::string decode(const std::vector<int64_t>& ids) const;

  int bos_id() const { return bos_; }
  int eos_id() const { return eos_; }
  int pad_id() const { return pad_; }
  int vocab_size() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int bos_ = -1, eos_ = -1, pad_ = -1;
};

}  // namespace opsis::ltx2
