// `opsis cameo list|show|permit|approve|unapprove|restrict|revoke|delete|videos|follow|unfollow|challenge`:
// the owner's side of the likeness registry from the command line. Every change is written to
// the consent ledger with it. (Enrollment itself arrives with the recording verifier.)
#include <CLI/CLI.hpp>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cameo/liveness.hpp"
#include "cameo/registry.hpp"
#include "cli/commands.hpp"
#include "core/error.hpp"

namespace opsis::cli {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct CameoOptions {
  std::string data_dir = "opsis-data";
  std::string user;
  std::string cameo;  // id or @handle
  std::string level;
  std::string who;
  std::vector<std::string> restrictions;
  bool json_output = false;
};

struct OpenRegistry {
  explicit OpenRegistry(const std::string& data_dir)
      : db(open(data_dir)), ledger(*db), registry(*db, ledger) {}
  static std::unique_ptr<cameo::Database> open(const std::string& data_dir) {
    std::error_code ec;
    fs::create_directories(data_dir, ec);
    if (ec) throw IoError("cannot create the data directory " + data_dir + ": " + ec.message());
    return std::make_unique<cameo::Database>(cameo::database_path(data_dir));
  }
  cameo::Cameo find(const std::string& which) const {
    return which.starts_with("cameo_") ? registry.get(which) : registry.get_by_handle(which);
  }
  std::unique_ptr<cameo::Database> db;
  cameo::ConsentLedger ledger;
  cameo::CameoRegistry registry;
};

void print(const cameo::Cameo& c, bool owner_view = true) {
  std::printf("%s\n", cameo::to_json(c, owner_view).dump(2).c_str());
}

// Turns the registry's refusals into the CLI's one-line errors.
template <typename F>
void guarded(F&& action) {
  try {
    action();
  } catch (const cameo::CameoNotFound& e) {
    throw InvalidArgument("cameo", e.what());
  } catch (const cameo::CameoForbidden& e) {
    throw InvalidArgument("user", std::string(e.what()) + " (" + e.code() + ")");
  } catch (const cameo::ChallengeError& e) {
    throw InvalidArgument("challenge", std::string(e.what()) + " (" + e.code() + ")");
  }
}

CLI::App* with_common(CLI::App* command, CameoOptions& options, bool needs_cameo) {
  command->add_option("--data-dir", options.data_dir, "The server's data directory")->capture_default_str();
  command->add_option("--user", options.user, "Who is acting (the cameo's owner for changes)")->required();
  if (needs_cameo) command->add_option("cameo", options.cameo, "The cameo: its id (cameo_...) or @handle")->required();
  return command;
}

}  // namespace

void add_cameo_command(CLI::App& app) {
  CLI::App* cameo_app = app.add_subcommand("cameo", "Cameos: list, show, permit, approve, restrict, revoke, delete, follow");
  cameo_app->require_subcommand(1);
  auto o = std::make_shared<CameoOptions>();

  CLI::App* list = with_common(cameo_app->add_subcommand("list", "The cameos a user owns"), *o, false);
  list->add_flag("--json", o->json_output, "Print JSON");
  list->callback([o] {
    OpenRegistry r(o->data_dir);
    const auto cameos = r.registry.owned_by(o->user);
    if (o->json_output) {
      json out = json::array();
      for (const auto& c : cameos) out.push_back(cameo::to_json(c, true));
      std::printf("%s\n", out.dump(2).c_str());
      return;
    }
    std::printf("%-31s %-24s %-10s %-9s %-8s\n", "ID", "HANDLE", "KIND", "PERMISSION", "STATE");
    for (const auto& c : cameos)
      std::printf("%-31s %-24s %-10s %-9s %-8s\n", c.id.c_str(), ("@" + c.handle).c_str(), cameo::name(c.kind),
                  cameo::name(c.permission), cameo::name(c.state));
  });

  CLI::App* show = with_common(cameo_app->add_subcommand("show", "A cameo's settings (its owner sees everything)"), *o, true);
  show->callback([o] {
    guarded([&] {
      OpenRegistry r(o->data_dir);
      const cameo::Cameo c = r.find(o->cameo);
      print(c, c.owner == o->user);
    });
  });

  CLI::App* permit = with_common(cameo_app->add_subcommand("permit", "Who may use the cameo: only_me, approved, mutuals, everyone"), *o, true);
  permit->add_option("level", o->level, "only_me | approved | mutuals | everyone")->required();
  permit->callback([o] {
    guarded([&] {
      OpenRegistry r(o->data_dir);
      print(r.registry.set_permission(r.find(o->cameo).id, o->user, cameo::permission_from_name(o->level)));
    });
  });

  CLI::App* approve = with_common(cameo_app->add_subcommand("approve", "Add a user to the approved list"), *o, true);
  approve->add_option("--who", o->who, "The user to approve")->required();
  approve->callback([o] {
    guarded([&] {
      OpenRegistry r(o->data_dir);
      print(r.registry.approve(r.find(o->cameo).id, o->user, o->who));
    });
  });

  CLI::App* unapprove = with_common(cameo_app->add_subcommand("unapprove", "Remove a user from the approved list"), *o, true);
  unapprove->add_option("--who", o->who, "The user to remove")->required();
  unapprove->callback([o] {
    guarded([&] {
      OpenRegistry r(o->data_dir);
      print(r.registry.unapprove(r.find(o->cameo).id, o->user, o->who));
    });
  });

  CLI::App* restrict_command =
      with_common(cameo_app->add_subcommand("restrict", "Set the cameo's restrictions, in your words (none: clear them)"), *o, true);
  restrict_command->add_option("--restriction", o->restrictions, "One rule, e.g. \"no political videos\" (repeatable)");
  restrict_command->callback([o] {
    guarded([&] {
      OpenRegistry r(o->data_dir);
      print(r.registry.set_restrictions(r.find(o->cameo).id, o->user, o->restrictions));
    });
  });

  CLI::App* revoke = with_common(cameo_app->add_subcommand("revoke", "Stop every use of the cameo, at once"), *o, true);
  revoke->callback([o] {
    guarded([&] {
      OpenRegistry r(o->data_dir);
      print(r.registry.revoke(r.find(o->cameo).id, o->user));
    });
  });

  CLI::App* remove = with_common(cameo_app->add_subcommand("delete", "Delete the cameo (the ledger keeps its history)"), *o, true);
  remove->callback([o] {
    guarded([&] {
      OpenRegistry r(o->data_dir);
      const cameo::Cameo c = r.find(o->cameo);
      r.registry.remove(c.id, o->user);
      std::fprintf(stderr, "opsis: deleted %s (@%s)\n", c.id.c_str(), c.handle.c_str());
    });
  });

  CLI::App* videos = with_common(cameo_app->add_subcommand("videos", "Every video that used the cameo (owner only)"), *o, true);
  videos->callback([o] {
    guarded([&] {
      OpenRegistry r(o->data_dir);
      for (const auto& video : r.registry.videos_using(r.find(o->cameo).id, o->user)) std::printf("%s\n", video.c_str());
    });
  });

  CLI::App* follow = with_common(cameo_app->add_subcommand("follow", "Follow a user (mutual follows allow 'mutuals' cameos)"), *o, false);
  follow->add_option("--who", o->who, "The user to follow")->required();
  follow->callback([o] {
    OpenRegistry r(o->data_dir);
    r.registry.follow(o->user, o->who);
  });
  CLI::App* unfollow = with_common(cameo_app->add_subcommand("unfollow", "Stop following a user"), *o, false);
  unfollow->add_option("--who", o->who, "The user to unfollow")->required();
  unfollow->callback([o] {
    OpenRegistry r(o->data_dir);
    r.registry.unfollow(o->user, o->who);
  });

  CLI::App* challenge = with_common(cameo_app->add_subcommand("challenge", "A one-time liveness challenge for enrollment"), *o, false);
  challenge->callback([o] {
    guarded([&] {
      auto db = OpenRegistry::open(o->data_dir);
      cameo::ChallengeStore store(*db);
      const auto c = store.issue(o->user, int64_t(std::time(nullptr)));
      std::printf("%s\n", json{{"id", c.id},
                               {"phrase", c.phrase()},
                               {"head_turn", cameo::name(c.head_turn)},
                               {"instructions", c.instructions()},
                               {"expires_at", c.expires_at}}
                              .dump(2)
                              .c_str());
    });
  });
}

}  // namespace opsis::cli
