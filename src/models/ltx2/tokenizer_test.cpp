// The Gemma tokenizer of the LTX-2 text path against its golden (tests/parity/ltx2/tokenizer/,
// made by make_tokenizer_golden.py): a SentencePiece model laid out like Gemma's, and the ids and
// masks the reference's rules give for prompts with spaces, tabs, digits, accents, CJK, emoji
// (byte fallback), nothing at all, and more than max_length tokens.
#include "models/ltx2/tokenizer.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.hpp"

namespace opsis::ltx2 {
namespace {

const std::string kDir = std::string(OPSIS_SOURCE_DIR) + "/tests/parity/ltx2/tokenizer/";

nlohmann::json golden() {
  std::ifstream in(kDir + "golden.json");
  return nlohmann::json::parse(in);
}

TEST(Ltx2Tokenizer, MatchesTheReferenceRulesOnEveryGoldenPrompt) {
  const auto g = golden();
  const GemmaTokenizer tokenizer(kDir + g["model"].get<std::string>());
  EXPECT_EQ(tokenizer.bos_id(), g["bos"].get<int>());
  EXPECT_EQ(tokenizer.eos_id(), g["eos"].get<int>());
  EXPECT_EQ(tokenizer.pad_id(), g["pad"].get<int>());
  EXPECT_EQ(tokenizer.vocab_size(), g["vocab_size"].get<int>());
  int truncated = 0, empty = 0;
  for (const auto& c : g["cases"]) {
    const std::string prompt = c["prompt"];
    const int max_length = c["max_length"];
    SCOPED_TRACE(prompt + " @" + std::to_string(max_length));
    const TokenizedPrompt t = tokenizer.encode(prompt, max_length);
    EXPECT_EQ(t.ids, c["ids"].get<std::vector<int64_t>>());
    EXPECT_EQ(t.mask, c["mask"].get<std::vector<int64_t>>());
    const size_t pieces = c["pieces"].size();
    truncated += pieces + 1 > size_t(max_length);
    empty += pieces == 0;
    // What fits decodes back to the stripped prompt.
    if (pieces + 1 <= size_t(max_length)) {
      EXPECT_EQ(tokenizer.decode(t.ids), std::string(strip_like_python(prompt)));
    }
  }
  EXPECT_GT(truncated, 0) << "the goldens cut some prompt";
  EXPECT_GT(empty, 0) << "the goldens hold an empty prompt";
}

TEST(Ltx2Tokenizer, PadsOnTheLeftToTheReferenceLength) {
  const GemmaTokenizer tokenizer(kDir + "tiny_gemma_like.model");
  const TokenizedPrompt t = tokenizer.encode("A red ball bounces.");
  ASSERT_EQ(t.ids.size(), size_t(kTokenizerMaxLength));
  ASSERT_EQ(t.mask.size(), size_t(kTokenizerMaxLength));
  EXPECT_EQ(t.ids[size_t(kTokenizerMaxLength - t.tokens)], tokenizer.bos_id());
  EXPECT_EQ(t.ids.front(), tokenizer.pad_id());
  EXPECT_EQ(t.mask.front(), 0);
  EXPECT_EQ(t.mask.back(), 1);
}

TEST(Ltx2Tokenizer, StripsWhatPythonStrips) {
  EXPECT_EQ(strip_like_python(" \t\n\r\v\f x y \x1c\x1f"), "x y");
  EXPECT_EQ(strip_like_python("\xc2\xa0\xe3\x80\x80x\xe2\x80\xaf\xc2\x85"), "x");  // NBSP, ideographic space, NNBSP, NEL
  EXPECT_EQ(strip_like_python("\xe2\x80\x8bx"), "\xe2\x80\x8bx");  // a zero-width space is not whitespace to Python
  EXPECT_EQ(strip_like_python("caf\xc3\xa9 "), "caf\xc3\xa9");    // a letter's last byte is not a space
  EXPECT_EQ(strip_like_python("   "), "");
}

TEST(Ltx2Tokenizer, RefusalsNameWhatIsWrong) {
  EXPECT_THROW(GemmaTokenizer(kDir + "no_such.model"), IoError);
  EXPECT_THROW(GemmaTokenizer(kDir + "golden.json"), InvalidArgument);  // not a model
  const GemmaTokenizer tokenizer(kDir + "tiny_gemma_like.model");
  EXPECT_THROW(tokenizer.encode("x", 0), InvalidArgument);
}

}  // namespace
}  // namespace opsis::ltx2
