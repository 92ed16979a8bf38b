#include "cameo/liveness.hpp"

#include <openssl/rand.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "cameo/merkle.hpp"
#include "cameo/registry.hpp"
#include "core/error.hpp"

namespace opsis::cameo {

namespace {

constexpr const char* kSchema = R"SQL(
CREATE TABLE IF NOT EXISTS cameo_challenges (
  id TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  words TEXT NOT NULL,
  head_turn TEXT NOT NULL,
  issued_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS cameo_challenges_owner ON cameo_challenges(owner, expires_at);
)SQL";

constexpr const char* kTurnNames[] = {"left", "right", "up", "down"};
constexpr const char* kDigitWords[] = {"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"};

// Uniform in [0, bound) from the system's CSPRNG (rejection sampling, no modulo bias).
uint32_t random_below(uint32_t bound) {
  const uint32_t limit = UINT32_MAX - UINT32_MAX % bound;
  while (true) {
    uint32_t value;
    if (RAND_bytes(reinterpret_cast<unsigned char*>(&value), sizeof value) != 1)
      throw IoError("cannot draw random bytes for a challenge");
    if (value < limit) return value % bound;
  }
}

LivenessChallenge read_challenge(const Statement& s) {
  LivenessChallenge c;
  c.id = s.text(0);
  c.owner = s.text(1);
  const auto words = nlohmann::json::parse(s.text(2), nullptr, false);
  if (words.is_array())
    for (const auto& w : words)
      if (w.is_string()) c.words.push_back(w.get<std::string>());
  const std::string turn = s.text(3);
  for (int i = 0; i < 4; ++i)
    if (turn == kTurnNames[i]) c.head_turn = HeadTurn(i);
  c.issued_at = s.integer(4);
  c.expires_at = s.integer(5);
  c.used_at = s.integer(6);
  return c;
}

}  // namespace

const char* name(HeadTurn turn) { return kTurnNames[int(turn)]; }

std::string LivenessChallenge::phrase() const {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : " ") + w;
  return out;
}

std::string LivenessChallenge::instructions() const {
  const std::string direction = head_turn == HeadTurn::left    ? "to the left"
                                : head_turn == HeadTurn::right ? "to the right"
                                : head_turn == HeadTurn::up    ? "up"
                                                               : "down";
  return "Look at the camera, say \"" + phrase() + "\", then slowly turn your head " + direction + ".";
}

ChallengeStore::ChallengeStore(Database& db, ChallengeOptions options) : db_(db), options_(options) {
  if (options_.lifetime_seconds <= 0 || options_.digits < 3 || options_.digits > 12 || options_.max_open_per_owner < 1)
    throw InvalidArgument("challenge", "challenge options out of range");
  db_.exec(kSchema);
}

LivenessChallenge ChallengeStore::issue(const std::string& owner, int64_t now) {
  check_user_id(owner, "owner");
  Transaction transaction(db_);
  Statement open(db_,
                 "SELECT COUNT(*), MIN(expires_at) FROM cameo_challenges WHERE owner = ?1 AND used_at = 0 AND expires_at > ?2");
  open.bind(1, owner).bind(2, now);
  open.step();
  if (open.integer(0) >= options_.max_open_per_owner)
    throw TooManyChallenges("you already have " + std::to_string(open.integer(0)) +
                                " open challenges, the most allowed at once; answer one or wait for one to expire",
                            std::max<int64_t>(1, open.integer(1) - now));
  LivenessChallenge c;
  uint8_t bytes[12];
  if (RAND_bytes(bytes, sizeof bytes) != 1) throw IoError("cannot draw random bytes for a challenge");
  c.id = "chal_" + merkle::to_hex(bytes);
  c.owner = owner;
  // No digit twice in a row: "seven seven" is easy to miss when heard.
  int previous = -1;
  for (int i = 0; i < options_.digits; ++i) {
    int digit;
    do digit = int(random_below(10));
    while (digit == previous);
    c.words.push_back(kDigitWords[digit]);
    previous = digit;
  }
  c.head_turn = HeadTurn(random_below(2));  // left or right: what a frontal/profile detector can tell apart
  c.issued_at = now;
  c.expires_at = now + options_.lifetime_seconds;
  Statement(db_,
            "INSERT INTO cameo_challenges (id, owner, words, head_turn, issued_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
      .bind(1, c.id)
      .bind(2, c.owner)
      .bind(3, nlohmann::json(c.words).dump())
      .bind(4, std::string(name(c.head_turn)))
      .bind(5, c.issued_at)
      .bind(6, c.expires_at)
      .run();
  transaction.commit();
  return c;
}

namespace {
// The challenge, if `owner` may answer it at `now`; else ChallengeError saying why not.
LivenessChallenge answerable(Database& db, const std::string& challenge_id, const std::string& owner, int64_t now) {
  Statement select(db, "SELECT id, owner, words, head_turn, issued_at, expires_at, used_at FROM cameo_challenges WHERE id = ?1");
  select.bind(1, challenge_id);
  if (!select.step())
    throw ChallengeError("challenge_not_found", "no challenge '" + challenge_id.substr(0, 64) + "'; ask for a new one");
  LivenessChallenge c = read_challenge(select);
  if (c.owner != owner) throw ChallengeError("challenge_not_owner", "this challenge was issued to another user");
  if (c.used_at != 0)
    throw ChallengeError("challenge_used", "this challenge was already answered; a recording answers one challenge only, "
                                           "so ask for a new one and record again");
  if (now >= c.expires_at)
    throw ChallengeError("challenge_expired", "this challenge expired; ask for a new one and record within " +
                                                  std::to_string((c.expires_at - c.issued_at) / 60) + " minutes");
  return c;
}
}  // namespace

LivenessChallenge ChallengeStore::check(const std::string& challenge_id, const std::string& owner, int64_t now) {
  return answerable(db_, challenge_id, owner, now);
}

LivenessChallenge ChallengeStore::redeem(const std::string& challenge_id, const std::string& owner, int64_t now) {
  Transaction transaction(db_);
  LivenessChallenge c = answerable(db_, challenge_id, owner, now);
  Statement(db_, "UPDATE cameo_challenges SET used_at = ?2 WHERE id = ?1 AND used_at = 0").bind(1, c.id).bind(2, now).run();
  if (db_.changes() != 1) throw ChallengeError("challenge_used", "this challenge was already answered");
  c.used_at = now;
  transaction.commit();
  return c;
}

int64_t ChallengeStore::prune(int64_t now) {
  Transaction transaction(db_);
  Statement(db_, "DELETE FROM cameo_challenges WHERE expires_at <= ?1").bind(1, now).run();
  const int64_t removed = db_.changes();
  transaction.commit();
  return removed;
}

}  // namespace opsis::cameo
