#include "cameo/liveness.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <set>

#include "core/error.hpp"

namespace opsis::cameo {
namespace {

std::string code_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const ChallengeError& e) {
    return e.code();
  }
  return "(redeemed)";
}

TEST(Liveness, IssuesRandomShortLivedChallenges) {
  Database db(":memory:");
  ChallengeStore store(db, {300, 4, 1000});
  std::set<std::string> ids, phrases;
  std::set<std::string> turns;
  for (int i = 0; i < 200; ++i) {
    const auto c = store.issue("alice", 1000);
    EXPECT_EQ(c.id.rfind("chal_", 0), 0u);
    EXPECT_EQ(c.words.size(), 4u);
    for (size_t k = 1; k < c.words.size(); ++k) EXPECT_NE(c.words[k], c.words[k - 1]);
    EXPECT_EQ(c.expires_at, 1300);
    ids.insert(c.id);
    phrases.insert(c.phrase());
    turns.insert(name(c.head_turn));
  }
  EXPECT_EQ(ids.size(), 200u);
  EXPECT_GT(phrases.size(), 150u) << "7290 possible phrases";
  EXPECT_EQ(turns, (std::set<std::string>{"left", "right"}));
  const auto c = store.issue("alice", 1000);
  EXPECT_NE(c.instructions().find("say \"" + c.phrase() + "\""), std::string::npos);
  EXPECT_NE(c.instructions().find("turn your head to the"), std::string::npos);
}

TEST(Liveness, CheckingAChallengeDoesNotSpendIt) {
  Database db(":memory:");
  ChallengeStore store(db);
  const auto c = store.issue("alice", 1000);
  EXPECT_EQ(store.check(c.id, "alice", 1001).phrase(), c.phrase());
  EXPECT_EQ(store.check(c.id, "alice", 1002).used_at, 0);
  EXPECT_EQ(code_of([&] { store.check(c.id, "mallory", 1001); }), "challenge_not_owner");
  EXPECT_EQ(code_of([&] { store.check("chal_nope", "alice", 1001); }), "challenge_not_found");
  EXPECT_EQ(code_of([&] { store.check(c.id, "alice", 1300); }), "challenge_expired");
  store.redeem(c.id, "alice", 1003);
  EXPECT_EQ(code_of([&] { store.check(c.id, "alice", 1004); }), "challenge_used");
}

TEST(Liveness, AChallengeIsRedeemedOnceByItsOwnerBeforeItExpires) {
  Database db(":memory:");
  ChallengeStore store(db);
  const auto c = store.issue("alice", 1000);
  EXPECT_EQ(code_of([&] { store.redeem(c.id, "mallory", 1001); }), "challenge_not_owner");
  EXPECT_EQ(code_of([&] { store.redeem("chal_nope", "alice", 1001); }), "challenge_not_found");
  const auto redeemed = store.redeem(c.id, "alice", 1100);
  EXPECT_EQ(redeemed.phrase(), c.phrase());
  EXPECT_EQ(redeemed.used_at, 1100);
  EXPECT_EQ(code_of([&] { store.redeem(c.id, "alice", 1101); }), "challenge_used") << "a replayed recording";

  const auto late = store.issue("alice", 2000);
  EXPECT_EQ(code_of([&] { store.redeem(late.id, "alice", 2300); }), "challenge_expired");
  EXPECT_EQ(code_of([&] { store.redeem(late.id, "alice", 2299); }), "(redeemed)");
}

TEST(Liveness, LimitsOpenChallengesAndPrunesExpiredOnes) {
  Database db(":memory:");
  ChallengeStore store(db, {60, 4, 3});
  for (int i = 0; i < 3; ++i) store.issue("alice", 100);
  try {
    store.issue("alice", 100);
    FAIL();
  } catch (const TooManyChallenges& e) {
    // A rate limit, not a bad request: the server answers 429 with Retry-After.
    EXPECT_EQ(e.code(), "too_many_challenges");
    EXPECT_EQ(e.retry_after_seconds(), 60) << "until the oldest open one expires";
  }
  EXPECT_EQ(code_of([&] { store.issue("alice", 130); }), "too_many_challenges");
  EXPECT_NO_THROW(store.issue("bob", 100));
  EXPECT_NO_THROW(store.issue("alice", 161)) << "expired ones do not count";
  EXPECT_EQ(store.prune(161), 4);
  EXPECT_THROW(store.issue("", 100), InvalidArgument);
  EXPECT_THROW(ChallengeStore(db, {0, 4, 3}), InvalidArgument);
}

TEST(Liveness, ChallengesSurviveARestart) {
  std::random_device rd;
  const auto path = std::filesystem::temp_directory_path() / ("opsis-liveness-" + std::to_string(rd()) + ".db");
  std::string id;
  {
    Database db(path);
    id = ChallengeStore(db).issue("alice", 1000).id;
  }
  {
    Database db(path);
    ChallengeStore store(db);
    EXPECT_EQ(store.redeem(id, "alice", 1010).id, id);
    EXPECT_EQ(code_of([&] { store.redeem(id, "alice", 1011); }), "challenge_used");
  }
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + suffix);
}

}  // namespace
}  // namespace opsis::cameo
