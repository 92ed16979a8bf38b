#pragma once
// Enrollment liveness challenges: a one-time, short-lived request to say a random phrase and
// turn the head a given way while recording. Issued to a cameo's owner, kept in SQLite beside
// the registry, and redeemed at most once, before it expires — a replayed or stale recording
// has no challenge left to answer.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "cameo/sqlite_database.hpp"

namespace opsis::cameo {

enum class HeadTurn { left, right, up, down };
const char* name(HeadTurn turn);

struct LivenessChallenge {
  std::string id;        // "chal_" + 24 hex
  std::string owner;
  std::vector<std::string> words;  // the phrase to say, e.g. {"seven", "two", "nine", "four"}
  HeadTurn head_turn = HeadTurn::left;
  int64_t issued_at = 0;
  int64_t expires_at = 0;
  int64_t used_at = 0;   // 0 until redeemed

  std::string phrase() const;  // the words joined by spaces
  // What to show the person: "Say \"seven two nine four\", then turn your head to the left."
  std::string instructions() const;
};

// A challenge that cannot be redeemed. code(): "challenge_not_found", "challenge_expired",
// "challenge_used", "challenge_not_owner".
class ChallengeError : public std::runtime_error {
 public:
  ChallengeError(std::string code, const std::string& message) : std::runtime_error(message), code_(std::move(code)) {}
  const std::string& code() const noexcept { return code_; }

 private:
  std::string code_;
};

// The owner already holds as many open challenges as allowed: a rate limit (HTTP 429), not a
// bad request. retry_after_seconds: until the oldest open one expires.
class TooManyChallenges : public ChallengeError {
 public:
  TooManyChallenges(const std::string& message, int64_t retry_after_seconds)
      : ChallengeError("too_many_challenges", message), retry_after_seconds_(retry_after_seconds) {}
  int64_t retry_after_seconds() const noexcept { return retry_after_seconds_; }

 private:
  int64_t retry_after_seconds_;
};

struct ChallengeOptions {
  int64_t lifetime_seconds = 300;
  int digits = 4;              // words in the phrase: digits said as words, easy for a recogniser
  int max_open_per_owner = 5;  // unexpired, unused challenges an owner may hold at once
};

class ChallengeStore {
 public:
  explicit ChallengeStore(Database& db, ChallengeOptions options = {});

  // Throws opsis::InvalidArgument("owner", ...) for a bad owner id, or ("challenge", ...) when
  // the owner already holds max_open_per_owner open challenges.
  LivenessChallenge issue(const std::string& owner, int64_t now);
  // The challenge, if it could be redeemed now (nothing changes); throws ChallengeError as
  // redeem does. For checks that run before the challenge is spent.
  LivenessChallenge check(const std::string& challenge_id, const std::string& owner, int64_t now);
  // Marks the challenge used and returns it; throws ChallengeError saying why not. Atomic: of
  // two redemptions of one challenge, exactly one succeeds.
  LivenessChallenge redeem(const std::string& challenge_id, const std::string& owner, int64_t now);
  // Deletes challenges expired before `now`; returns how many.
  int64_t prune(int64_t now);

 private:
  Database& db_;
  ChallengeOptions options_;
};

}  // namespace opsis::cameo
