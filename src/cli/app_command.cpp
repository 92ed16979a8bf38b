// `opsis app moderator HANDLE [--remove]`: the app's moderator role (issue #13) is given from
// the command line only, by whoever runs the server.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "cameo/registry.hpp"
#include "cli/commands.hpp"
#include "social/social.hpp"

namespace opsis::cli {

void add_app_command(CLI::App& app) {
  CLI::App* app_command = app.add_subcommand("app", "The opsis app (served by `opsis serve`): moderators");
  app_command->require_subcommand(1);
  auto data_dir = std::make_shared<std::string>("opsis-data");
  auto handle = std::make_shared<std::string>();
  auto remove = std::make_shared<bool>(false);
  CLI::App* moderator = app_command->add_subcommand("moderator", "Make an account a moderator (or --remove the role)");
  moderator->add_option("handle", *handle, "The account's handle")->required();
  moderator->add_flag("--remove", *remove, "Take the role away");
  moderator->add_option("--data-dir", *data_dir, "The server's data directory")->capture_default_str();
  moderator->callback([data_dir, handle, remove] {
    social::SocialStore store(cameo::database_path(*data_dir));
    const std::string h = social::normalize_account_handle(*handle);
    store.set_role(h, *remove ? social::Role::user : social::Role::moderator);
    std::printf("@%s is %s\n", h.c_str(), *remove ? "no longer a moderator" : "a moderator");
  });
}

}  // namespace opsis::cli
