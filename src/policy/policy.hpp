#pragma once
// The policy: one function that decides, before any compute is spent, whether a request may
// run — and, when not, says why in an OpenAI-style error (code, param, a sentence a person
// can act on). The rules are data (rules.json, reviewed like code; a deployment may give its
// own file); cameo permissions and owners' restrictions come from the registry at the moment
// of the decision, so the worker's re-check sees a revocation made while a job was queued.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cameo/registry.hpp"

namespace opsis::policy {

struct PolicyRequest {
  std::string requester;               // the user asking
  std::string prompt;
  std::vector<std::string> cameo_ids;  // from `characters: [{"id"}]`; @handles in the prompt are added
  bool input_image_shows_face = false; // set by whoever inspected input_reference
  std::string stage = "admission";     // "admission" or "worker": written to the decision log
};

struct PolicyDecision {
  bool allowed = true;
  std::string rule;     // the rule that refused ("" when allowed)
  std::string code;     // OpenAI-style error code
  std::string param;    // the request field at fault: "prompt", "characters", "input_reference"
  std::string message;  // what happened and what to do instead
  std::vector<std::string> matched;       // the words or names that triggered the rule
  std::vector<cameo::Cameo> cameos;       // the cameos the request uses (when allowed)
  std::string rules_version;
};

// The HTTP status a refusal maps to: 403 for a cameo the requester may not use (now), 400 for
// everything else (the request as written cannot run); 200 when allowed. The body is OpenAI's
// {"error": {"message", "type": "invalid_request_error", "param", "code"}}.
int http_status(const PolicyDecision& decision);
nlohmann::json openai_error(const PolicyDecision& decision);

// Where decisions go: one JSON line each (time, stage, requester, decision, rule, matched
// words, the prompt's SHA-256 — never the prompt itself).
class DecisionLog {
 public:
  virtual ~DecisionLog() = default;
  virtual void record(const PolicyRequest& request, const PolicyDecision& decision) = 0;
};

class JsonLinesDecisionLog : public DecisionLog {
 public:
  explicit JsonLinesDecisionLog(std::filesystem::path path);
  void record(const PolicyRequest& request, const PolicyDecision& decision) override;
  static nlohmann::json entry(const PolicyRequest& request, const PolicyDecision& decision, int64_t now);

 private:
  std::filesystem::path path_;
  std::mutex mutex_;
};

class Policy {
 public:
  // The rules shipped in the binary (a copy of src/policy/rules.json made at build time).
  static Policy built_in();
  // A deployment's own rules file. Throws opsis::InvalidArgument("policy_rules", ...) naming
  // what is wrong in it.
  static Policy load(const std::filesystem::path& rules_path);
  static Policy from_json(const nlohmann::json& rules);

  // The decision. `registry` may be null where no cameos exist (then any @handle or cameo id
  // is refused as unknown). Logged to `log` when one is given.
  PolicyDecision decide(const PolicyRequest& request, const cameo::CameoRegistry* registry,
                        DecisionLog* log = nullptr) const;

  // The public figure a text names ("" when none). Enrollment should refuse such a display
  // name or handle unless an operator has verified the person: a cameo named "Taylor Swift"
  // is what lets prompts name Taylor Swift.
  std::string public_figure_named(const std::string& text) const;

  const std::string& version() const;
  std::vector<std::string> rule_ids() const;

  struct Rules;  // the parsed rules file (policy.cpp)

 private:
  std::shared_ptr<const Rules> rules_;
};

}  // namespace opsis::policy
