// `opsis keys create|revoke|list`: API keys for `opsis serve`. The secret is printed once,
// at creation; only its SHA-256 is kept.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <memory>
#include <string>

#include "cli/commands.hpp"
#include "core/error.hpp"
#include "server/api_keys.hpp"
#include "store/metadata_store.hpp"

namespace opsis::cli {

namespace {

std::unique_ptr<store::MetadataStore> open_keys_store(const std::string& data_dir) {
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) throw IoError("cannot create the data directory " + data_dir + ": " + ec.message());
  return store::open_sqlite_store((std::filesystem::path(data_dir) / "opsis.db").string());
}

std::string date_text(int64_t seconds) {
  if (!seconds) return "-";
  const std::time_t t = std::time_t(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

}  // namespace

void add_keys_command(CLI::App& app) {
  CLI::App* keys = app.add_subcommand("keys", "API keys for `opsis serve`: create, revoke, list");
  keys->require_subcommand(1);
  auto data_dir = std::make_shared<std::string>("opsis-data");

  auto user = std::make_shared<std::string>();
  CLI::App* create = keys->add_subcommand("create", "Create a key for a user; prints the secret once");
  create->add_option("--user", *user, "Who the key belongs to (their videos are theirs alone)")->required();
  create->add_option("--data-dir", *data_dir, "The server's data directory")->capture_default_str();
  create->callback([data_dir, user] {
    auto store = open_keys_store(*data_dir);
    const server::CreatedKey key = server::create_api_key(*store, *user);
    std::printf("%s\n", key.secret.c_str());
    std::fprintf(stderr, "opsis: created %s for user %s; the secret above is shown only now\n", key.record.id.c_str(),
                 key.record.user.c_str());
  });

  auto which = std::make_shared<std::string>();
  CLI::App* revoke = keys->add_subcommand("revoke", "Revoke a key at once, by id (key_...) or the prefix `keys list` shows");
  revoke->add_option("key", *which, "Key id or prefix")->required();
  revoke->add_option("--data-dir", *data_dir, "The server's data directory")->capture_default_str();
  revoke->callback([data_dir, which] {
    auto store = open_keys_store(*data_dir);
    const int64_t now = int64_t(std::time(nullptr));
    if (!store->revoke_key(*which, now))
      throw InvalidArgument("key", "no active key with id or prefix '" + *which + "' (see `opsis keys list`)");
    std::fprintf(stderr, "opsis: revoked %s\n", which->c_str());
  });

  CLI::App* list = keys->add_subcommand("list", "List keys (id, user, prefix, created, revoked); never the secrets");
  list->add_option("--data-dir", *data_dir, "The server's data directory")->capture_default_str();
  list->callback([data_dir] {
    auto store = open_keys_store(*data_dir);
    std::printf("%-21s %-20s %-17s %-21s %s\n", "ID", "USER", "PREFIX", "CREATED", "REVOKED");
    for (const auto& key : store->keys())
      std::printf("%-21s %-20s %-17s %-21s %s\n", key.id.c_str(), key.user.c_str(), key.prefix.c_str(),
                  date_text(key.created_at).c_str(), date_text(key.revoked_at).c_str());
  });
}

}  // namespace opsis::cli
