#include "policy/normalize.hpp"

#include <gtest/gtest.h>

namespace opsis::policy {
namespace {

std::vector<std::string> words(const std::string& text) {
  std::vector<std::string> out;
  for (const auto& t : tokenize(text)) out.push_back(t.text);
  return out;
}

TEST(Normalize, FoldsCaseAndAccents) {
  EXPECT_EQ(fold_text("Beyoncé ÉCOLE Straße Ærø Łódź"), "beyonce ecole strasse aero lodz");
  EXPECT_EQ(fold_text("ПУТИН Путин"), "путин путин");
  EXPECT_EQ(fold_text("bad \xff byte"), "bad  byte");
  EXPECT_EQ(fold_text("泰勒"), "泰勒");
}

TEST(Normalize, UndoesLeetspeakAndSpacing) {
  EXPECT_EQ(words("S3X p0rn n4k3d $exy"), (std::vector<std::string>{"sex", "porn", "naked", "sexy"}));
  EXPECT_EQ(words("s e x and p.o.r.n"), (std::vector<std::string>{"sex", "and", "porn"}));
  EXPECT_EQ(words("a 12 year old, 12yo"), (std::vector<std::string>{"a", "12", "year", "old", "12yo"}));
  EXPECT_EQ(words("s!ut"), (std::vector<std::string>{"siut"}));
  EXPECT_EQ(words("--- !!"), (std::vector<std::string>{}));
}

TEST(Normalize, MatchesSpellingsOfARuleWord) {
  EXPECT_TRUE(word_matches("nuuude", "nude"));
  EXPECT_TRUE(word_matches("nudes", "nude"));
  EXPECT_TRUE(word_matches("p*rn", "porn"));
  EXPECT_TRUE(word_matches("decapitaded", "decapitated"));
  EXPECT_TRUE(word_matches("behaeding", "beheading"));
  EXPECT_TRUE(word_matches("dismembred", "dismembered"));
  EXPECT_FALSE(word_matches("bobs", "boobs"));
  EXPECT_FALSE(word_matches("named", "naked")) << "no typo tolerance under six letters";
  EXPECT_FALSE(word_matches("baked", "naked"));
  EXPECT_FALSE(word_matches("****", "porn"));
  EXPECT_FALSE(word_matches("gory", "gore"));
  EXPECT_EQ(edit_distance("kitten", "sitting", 5), 3);
  EXPECT_EQ(edit_distance("abcd", "abdc", 3), 1);
  EXPECT_EQ(edit_distance("a", "abcdefgh", 2), 3);
}

}  // namespace
}  // namespace opsis::policy
