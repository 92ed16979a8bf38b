// The policy's decisions, one path at a time: cameo checks, real people, owners'
// restrictions, content rules, the rules file, and the decision log.
#include "policy/policy.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>

#include "core/error.hpp"

namespace opsis::policy {
namespace {

namespace fs = std::filesystem;

class PolicyTest : public ::testing::Test {
 protected:
  PolicyTest() : db(":memory:"), ledger(db), registry(db, ledger), policy(Policy::built_in()) {
    alice = make("alice", "alice", "Alice Example", cameo::Permission::everyone, {"no political videos"});
    bob = make("bob", "bob", "Bob Example", cameo::Permission::only_me, {});
    rex = make("carol", "rex", "Rex the dog", cameo::Permission::everyone, {"never make me say a word I did not write"},
               cameo::CameoKind::character);
    taylor = make("taylor", "taylorswift", "Taylor Swift", cameo::Permission::approved, {});
    registry.approve(taylor.id, "taylor", "dave");
  }

  cameo::Cameo make(const std::string& owner, const std::string& handle, const std::string& name,
                    cameo::Permission permission, std::vector<std::string> restrictions,
                    cameo::CameoKind kind = cameo::CameoKind::person) {
    auto c = registry.create({owner, handle, name, kind, permission, restrictions});
    return registry.activate(c.id, owner, {"blob_" + handle});
  }

  PolicyDecision decide(const std::string& prompt, const std::string& requester = "dave",
                        std::vector<std::string> ids = {}) {
    return policy.decide({requester, prompt, ids}, &registry);
  }

  cameo::Database db;
  cameo::ConsentLedger ledger;
  cameo::CameoRegistry registry;
  Policy policy;
  cameo::Cameo alice, bob, rex, taylor;
};

TEST_F(PolicyTest, AllowsOrdinaryPromptsAndReportsTheCameosUsed) {
  auto d = decide("A red ball bounces down a staircase, dolly shot, 85mm");
  EXPECT_TRUE(d.allowed) << d.message;
  d = decide("@alice and @rex walk through a sunny park");
  EXPECT_TRUE(d.allowed) << d.message;
  ASSERT_EQ(d.cameos.size(), 2u);
  EXPECT_EQ(d.cameos[0].id, alice.id);
  EXPECT_EQ(d.rules_version, policy.version());
}

TEST_F(PolicyTest, RefusesCameosThatCannotBeUsed) {
  auto d = decide("@nobody dances");
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.code, "cameo_not_found");
  EXPECT_EQ(d.param, "prompt");
  EXPECT_NE(d.message.find("@nobody"), std::string::npos);

  d = decide("@bob juggles");
  EXPECT_EQ(d.code, "cameo_permission_denied");
  EXPECT_EQ(d.rule, "cameo_not_allowed");
  EXPECT_NE(d.message.find("only the owner of @bob"), std::string::npos) << d.message;
  EXPECT_TRUE(decide("@bob juggles", "bob").allowed);

  EXPECT_EQ(http_status(d), 403);
  EXPECT_EQ(openai_error(d)["error"]["code"], "cameo_permission_denied");
  EXPECT_EQ(openai_error(d)["error"]["type"], "invalid_request_error");
  EXPECT_EQ(openai_error(d)["error"]["param"], "prompt");
  d = decide("a dance", "dave", {bob.id});
  EXPECT_EQ(d.param, "characters");
  d = decide("a dance", "dave", {"cameo_missing"});
  EXPECT_EQ(d.code, "cameo_not_found");
  EXPECT_EQ(d.param, "characters");

  auto extra = make("erin", "erin", "Erin", cameo::Permission::everyone, {});
  d = decide("@alice, @rex and @erin have a picnic");
  EXPECT_EQ(d.code, "too_many_cameos");
  EXPECT_NE(d.message.find("at most two"), std::string::npos);
  EXPECT_TRUE(decide("@alice and @alice again with @rex", "dave").allowed) << "a repeated mention is one cameo";
  EXPECT_TRUE(decide("@alice waves", "dave", {alice.id}).allowed) << "the same cameo by handle and id is one";
}

TEST_F(PolicyTest, TheWorkerReCheckSeesARevocationMadeWhileQueued) {
  EXPECT_TRUE(decide("@alice waves").allowed);
  registry.revoke(alice.id, "alice");
  PolicyRequest at_worker{"dave", "@alice waves", {}, false, "worker"};
  const auto d = policy.decide(at_worker, &registry);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.code, "cameo_revoked");
}

TEST_F(PolicyTest, RealPeopleOnlyThroughTheirOwnCameo) {
  auto d = decide("Taylor Swift sings on a rooftop");
  EXPECT_EQ(d.code, "public_figure");
  EXPECT_NE(d.message.find("Taylor Swift"), std::string::npos);
  EXPECT_EQ(decide("taylor swiift sings").code, "public_figure");
  EXPECT_EQ(decide("Тейлор Свифт поёт").code, "public_figure");
  EXPECT_EQ(decide("VLADIMIR PUTIN rides a horse").code, "public_figure");
  // dave was approved by Taylor's own cameo.
  d = decide("@taylorswift, Taylor Swift herself, sings on a rooftop");
  EXPECT_TRUE(d.allowed) << d.message;
  // erin was not.
  EXPECT_EQ(decide("@taylorswift sings with Taylor Swift", "erin").code, "cameo_permission_denied");
  // A cameo of someone else does not make a real person usable.
  EXPECT_EQ(decide("@alice meets Barack Obama").code, "public_figure");
  EXPECT_TRUE(decide("He played his trump card at the poker table").allowed);
  EXPECT_EQ(policy.public_figure_named("Taylor  SWIFT"), "Taylor Swift");
  EXPECT_EQ(policy.public_figure_named("Путин"), "Vladimir Putin");
  EXPECT_EQ(policy.public_figure_named("Rex the dog"), "");
}

TEST_F(PolicyTest, OwnersRestrictionsBindOthersButNotTheOwner) {
  auto d = decide("@alice gives a speech at an election rally");
  EXPECT_EQ(d.code, "cameo_restriction");
  EXPECT_NE(d.message.find("no political videos"), std::string::npos) << d.message;
  EXPECT_NE(d.message.find("@alice"), std::string::npos);
  EXPECT_TRUE(decide("@alice gives a speech at an election rally", "alice").allowed);
  EXPECT_EQ(decide("@rex says hello to the mailman").code, "cameo_restriction");
  EXPECT_TRUE(decide("@rex chases a ball").allowed);
  registry.set_restrictions(alice.id, "alice", {"don't put me near horses"});
  EXPECT_EQ(decide("@alice rides horses at dawn").code, "cameo_restriction") << "content words without a topic";
  registry.set_restrictions(alice.id, "alice", {"never make me say 'banana'"});
  EXPECT_EQ(decide("@alice holds a BANANA").code, "cameo_restriction");
  EXPECT_TRUE(decide("@alice holds an apple").allowed);
}

TEST_F(PolicyTest, ContentRulesNameWhatTheyFound) {
  auto d = decide("a n4k3d woman on the beach");
  EXPECT_EQ(d.code, "sexual_content");
  EXPECT_EQ(http_status(d), 400);
  EXPECT_EQ(http_status(decide("a calm sea")), 200);
  EXPECT_EQ(d.param, "prompt");
  EXPECT_NE(d.message.find("naked"), std::string::npos);
  EXPECT_EQ(decide("close up of a decapitated soldier").code, "graphic_violence");
  d = decide("a 12-year-old holding a gun");
  EXPECT_EQ(d.code, "minors_unsafe");
  EXPECT_EQ(d.matched, (std::vector<std::string>{"12-year-old", "gun"}));
  EXPECT_EQ(decide("a teenager with a beer").code, "minors_unsafe");
  EXPECT_TRUE(decide("a 40 year old man drinks a beer").allowed);
  EXPECT_TRUE(decide("she worked there for 12 years and was old friends with the boss").allowed);
  EXPECT_TRUE(decide("look at the stars with the naked eye").allowed);
  EXPECT_TRUE(decide("a killer whale jumps").allowed);
}

TEST_F(PolicyTest, AFaceInTheInputImageNeedsAPersonsCameo) {
  PolicyRequest request{"dave", "she smiles", {}, true};
  auto d = policy.decide(request, &registry);
  EXPECT_EQ(d.code, "input_reference_face");
  EXPECT_EQ(d.param, "input_reference");
  request.prompt = "@alice smiles";
  EXPECT_TRUE(policy.decide(request, &registry).allowed);
  request.prompt = "@rex smiles";
  EXPECT_FALSE(policy.decide(request, &registry).allowed) << "a character cameo is not a person's consent";
}

TEST_F(PolicyTest, WithoutARegistryEveryCameoIsUnknown) {
  EXPECT_EQ(policy.decide({"dave", "@alice waves", {}}, nullptr).code, "cameo_not_found");
  EXPECT_TRUE(policy.decide({"dave", "a cat waves", {}}, nullptr).allowed);
  EXPECT_TRUE(policy.decide({"dave", "write to me at dave@example.com", {}}, nullptr).allowed);
}

TEST_F(PolicyTest, EveryDecisionIsLoggedWithItsRuleAndNeverThePrompt) {
  std::random_device rd;
  const fs::path path = fs::temp_directory_path() / ("opsis-policy-log-" + std::to_string(rd()) + ".jsonl");
  {
    JsonLinesDecisionLog log(path);
    policy.decide({"dave", "a secret naked plan", {}}, &registry, &log);
    policy.decide({"dave", "a secret calm plan", {}, false, "worker"}, &registry, &log);
  }
  std::ifstream in(path);
  std::string first, second;
  std::getline(in, first);
  std::getline(in, second);
  fs::remove(path);
  const auto a = nlohmann::json::parse(first), b = nlohmann::json::parse(second);
  EXPECT_EQ(a["rule"], "sexual_content");
  EXPECT_EQ(a["allowed"], false);
  EXPECT_EQ(a["stage"], "admission");
  EXPECT_EQ(a["prompt_sha256"].get<std::string>().size(), 64u);
  EXPECT_EQ(b["allowed"], true);
  EXPECT_EQ(b["stage"], "worker");
  EXPECT_EQ(first.find("secret"), std::string::npos);
}

TEST_F(PolicyTest, HostileTextIsDecidedQuicklyWithoutCrashing) {
  std::string huge;
  while (huge.size() < 32000) huge += "a calm lake \xff\xfe @ @@ \xe2\x80 s e x? no. p.o.r.n ";
  const auto start = std::chrono::steady_clock::now();
  const auto d = decide(huge);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.rule, "sexual_content");
  EXPECT_LT(seconds, 2.0);
  EXPECT_TRUE(decide("").allowed);
  EXPECT_TRUE(decide(std::string(5000, '@')).allowed);
  EXPECT_EQ(decide(std::string("\0@alice", 7)).cameos.size(), 1u);
}

TEST(PolicyRules, ABadRulesFileIsRefusedWithTheReason) {
  auto field_and_message = [](const nlohmann::json& rules) -> std::string {
    try {
      Policy::from_json(rules);
    } catch (const InvalidArgument& e) {
      return e.field() + ": " + e.what();
    }
    return "accepted";
  };
  EXPECT_NE(field_and_message(nlohmann::json::array()).find("policy_rules: policy rules: the file must hold a JSON object"),
            std::string::npos);
  auto rules = nlohmann::json::parse(R"({"version":"t","messages":{"cameo_not_found":"a","too_many_cameos":"b",
      "cameo_not_allowed":"c","input_reference_face":"d","cameo_restriction":"e"},
      "public_figures":{"message":"m","people":[]},
      "content_rules":[{"id":"x","code":"x","message":"m","any_of":["ok"]}]})");
  EXPECT_EQ(field_and_message(rules), "accepted");
  auto broken = rules;
  broken["content_rules"][0]["any_of"] = nlohmann::json::array({"fine", 3});
  EXPECT_NE(field_and_message(broken).find("content rule x.any_of must hold only strings"), std::string::npos);
  broken = rules;
  broken["content_rules"][0].erase("message");
  EXPECT_NE(field_and_message(broken).find("needs \"message\""), std::string::npos);
  broken = rules;
  broken["precedence"] = {"nope"};
  EXPECT_NE(field_and_message(broken).find("unknown rule"), std::string::npos);
  EXPECT_THROW(Policy::load("/nonexistent/rules.json"), InvalidArgument);
  // The shipped file parses and is the built-in one.
  const auto shipped = Policy::load(fs::path(OPSIS_SOURCE_DIR) / "src/policy/rules.json");
  EXPECT_EQ(shipped.version(), Policy::built_in().version());
}

}  // namespace
}  // namespace opsis::policy
