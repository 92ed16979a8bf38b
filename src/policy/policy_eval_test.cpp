// Measures the policy on the prompt table (testdata/prompts.tsv): precision and recall per
// rule and for refusal as a whole, the prompts it gets wrong, and floors it must keep. The
// table it prints is the one docs/policy.md shows; it is also written to
// <build>/policy_eval.md.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "policy/policy.hpp"

namespace opsis::policy {
namespace {

namespace fs = std::filesystem;

struct Case {
  std::string expected, requester, prompt;
  int line = 0;
};

std::vector<Case> read_cases(const std::string& file) {
  std::ifstream in(fs::path(OPSIS_SOURCE_DIR) / "src/policy/testdata" / file);
  std::vector<Case> out;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty() || line[0] == '#') continue;
    std::stringstream fields(line);
    Case c;
    std::getline(fields, c.expected, '\t');
    std::getline(fields, c.requester, '\t');
    std::getline(fields, c.prompt);
    if (c.requester == "-") c.requester = "dave";
    c.line = number;
    out.push_back(c);
  }
  return out;
}

// The decision's label in the table's terms.
std::string label(const PolicyDecision& d) { return d.allowed ? "allow" : d.rule; }

struct Counts {
  int true_positive = 0, false_positive = 0, false_negative = 0, support = 0;
  double precision() const { return true_positive + false_positive ? double(true_positive) / (true_positive + false_positive) : 1.0; }
  double recall() const { return true_positive + false_negative ? double(true_positive) / (true_positive + false_negative) : 1.0; }
};

// Floors for the held-out table: what it reached when first measured, rounded down.
constexpr double kHeldOutPrecisionFloor = 0.95;  // measured 0.97
constexpr double kHeldOutRecallFloor = 0.70;  // measured 0.74

struct Measure {
  std::map<std::string, Counts> per_rule;
  Counts refusal;
  size_t cases = 0;
};

Measure measure(const Policy& policy, const cameo::CameoRegistry& registry, const std::vector<Case>& cases,
                std::ostringstream& table) {
  Measure m;
  m.cases = cases.size();
  auto& per_rule = m.per_rule;
  auto& refusal = m.refusal;
  std::vector<std::string> wrong;
  for (const auto& c : cases) {
    const PolicyDecision d = policy.decide({c.requester, c.prompt, {}}, &registry);
    const std::string got = label(d);
    if (c.expected != "allow") per_rule[c.expected].support++;
    if (got == c.expected) {
      if (got != "allow") per_rule[got].true_positive++;
    } else {
      if (got != "allow") per_rule[got].false_positive++;
      if (c.expected != "allow") per_rule[c.expected].false_negative++;
      wrong.push_back("| " + std::to_string(c.line) + " | " + c.expected + " | " + got + " | " + c.prompt + " |");
    }
    const bool refused = !d.allowed, should = c.expected != "allow";
    if (should) refusal.support++;
    if (refused && should) refusal.true_positive++;
    if (refused && !should) refusal.false_positive++;
    if (!refused && should) refusal.false_negative++;
  }

  char row[256];
  table << "Rules version " << policy.version() << ", " << cases.size() << " prompts ("
        << cases.size() - size_t(refusal.support) << " to allow, " << refusal.support << " to refuse).\n\n";
  table << "| rule | prompts | precision | recall |\n|---|---:|---:|---:|\n";
  for (const auto& [rule, counts] : per_rule) {
    std::snprintf(row, sizeof row, "| %s | %d | %.2f | %.2f |\n", rule.c_str(), counts.support, counts.precision(),
                  counts.recall());
    table << row;
  }
  std::snprintf(row, sizeof row, "| **any refusal** | %d | %.2f | %.2f |\n", refusal.support, refusal.precision(),
                refusal.recall());
  table << row;
  table << "\nPrompts decided otherwise than the table expects:\n\n| line | expected | got | prompt |\n|---|---|---|---|\n";
  for (const auto& w : wrong) table << w << "\n";

  return m;
}

TEST(PolicyEval, PrecisionAndRecallPerRuleOnThePromptTable) {
  cameo::Database db(":memory:");
  cameo::ConsentLedger ledger(db);
  cameo::CameoRegistry registry(db, ledger);
  auto make = [&](const std::string& owner, const std::string& handle, const std::string& name, cameo::Permission p,
                  std::vector<std::string> restrictions, cameo::CameoKind kind = cameo::CameoKind::person) {
    auto c = registry.create({owner, handle, name, kind, p, restrictions});
    return registry.activate(c.id, owner, {"blob_" + handle});
  };
  make("alice", "alice", "Alice Example", cameo::Permission::everyone, {"no political videos"});
  make("bob", "bob", "Bob Example", cameo::Permission::only_me, {});
  make("carol", "rex", "Rex the dog", cameo::Permission::everyone, {"never make me say a word I did not write"},
       cameo::CameoKind::character);
  auto taylor = make("taylor", "taylorswift", "Taylor Swift", cameo::Permission::approved, {});
  registry.approve(taylor.id, "taylor", "dave");
  make("mia", "mia", "Mia Example", cameo::Permission::mutuals, {});
  registry.follow("dave", "mia");
  registry.follow("mia", "dave");
  registry.follow("erin", "mia");
  auto old = make("olga", "oldcam", "Olga Example", cameo::Permission::everyone, {});
  registry.revoke(old.id, "olga");
  make("kim", "kim", "Kim Example", cameo::Permission::everyone, {"no alcohol"});

  const Policy policy = Policy::built_in();
  std::ostringstream table;
  const Measure tuned = measure(policy, registry, read_cases("prompts.tsv"), table);
  table << "\n### Held-out prompts (never used to tune the rules)\n\n";
  const Measure held_out = measure(policy, registry, read_cases("prompts_holdout.tsv"), table);
  std::printf("%s", table.str().c_str());
  std::ofstream(fs::path(OPSIS_BINARY_DIR) / "policy_eval.md") << table.str();
  EXPECT_GE(tuned.cases, 200u);
  EXPECT_GE(held_out.cases, 60u);

  // Floors reached on this table (see docs/policy.md); raise them as the rules improve.
  EXPECT_GE(tuned.refusal.precision(), 0.95);
  EXPECT_GE(tuned.refusal.recall(), 0.90);
  for (const auto& [rule, counts] : tuned.per_rule) {
    EXPECT_GE(counts.precision(), 0.85) << rule;
    EXPECT_GE(counts.recall(), 0.80) << rule;
  }
  EXPECT_GE(held_out.refusal.precision(), kHeldOutPrecisionFloor);
  EXPECT_GE(held_out.refusal.recall(), kHeldOutRecallFloor);
}

}  // namespace
}  // namespace opsis::policy
