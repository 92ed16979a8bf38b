// `opsis policy check`: what the policy decides for a prompt, and why — for operators trying
// a rules file before a deployment uses it.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cameo/registry.hpp"
#include "cli/commands.hpp"
#include "core/error.hpp"
#include "policy/policy.hpp"

namespace opsis::cli {

namespace {

struct PolicyOptions {
  std::string prompt;
  std::string user = "cli";
  std::string data_dir;
  std::string rules;
  std::vector<std::string> characters;
  bool face = false;
};

}  // namespace

void add_policy_command(CLI::App& app) {
  CLI::App* policy_app = app.add_subcommand("policy", "The content policy: check a prompt against the rules");
  policy_app->require_subcommand(1);
  auto o = std::make_shared<PolicyOptions>();
  CLI::App* check = policy_app->add_subcommand("check", "Print the decision for a prompt; exit 1 when it is refused");
  check->add_option("prompt", o->prompt, "The prompt")->required();
  check->add_option("--user", o->user, "Who asks (cameo permissions depend on it)")->capture_default_str();
  check->add_option("--data-dir", o->data_dir, "A server data directory, for its cameos");
  check->add_option("--rules", o->rules, "A rules file (default: the rules built in)");
  check->add_option("--character", o->characters, "A cameo id the request lists in `characters` (repeatable)");
  check->add_flag("--face", o->face, "The input image shows a real face");
  check->callback([o] {
    const policy::Policy policy = o->rules.empty() ? policy::Policy::built_in() : policy::Policy::load(o->rules);
    std::unique_ptr<cameo::Database> db;
    std::unique_ptr<cameo::ConsentLedger> ledger;
    std::unique_ptr<cameo::CameoRegistry> registry;
    if (!o->data_dir.empty()) {
      const auto path = cameo::database_path(o->data_dir);
      if (!std::filesystem::exists(path)) throw InvalidArgument("data-dir", "no opsis database at " + path.string());
      db = std::make_unique<cameo::Database>(path);
      ledger = std::make_unique<cameo::ConsentLedger>(*db);
      registry = std::make_unique<cameo::CameoRegistry>(*db, *ledger);
    }
    const auto d = policy.decide({o->user, o->prompt, o->characters, o->face}, registry.get());
    nlohmann::json cameos = nlohmann::json::array();
    for (const auto& c : d.cameos) cameos.push_back("@" + c.handle);
    std::printf("%s\n", nlohmann::json{{"allowed", d.allowed},
                                       {"rule", d.rule},
                                       {"code", d.code},
                                       {"param", d.param},
                                       {"message", d.message},
                                       {"matched", d.matched},
                                       {"cameos", cameos},
                                       {"rules_version", d.rules_version}}
                            .dump(2)
                            .c_str());
    if (!d.allowed) throw std::runtime_error("refused by rule " + d.rule + ": " + d.message);
  });
}

}  // namespace opsis::cli
