// The `opsis` command: subcommands registered from their own files; every opsis error
// becomes one clear line on stderr and a non-zero exit here, in one place.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>

#include "cli/commands.hpp"
#include "core/error.hpp"

int main(int argc, char** argv) {
  CLI::App app{"opsis: prompt to video with synchronized sound, self-hosted"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "opsis 0.1.0");
  opsis::cli::add_studio_command(app);
  opsis::cli::add_verify_command(app);
  opsis::cli::add_generate_command(app);
  opsis::cli::add_serve_command(app);
  opsis::cli::add_keys_command(app);
  opsis::cli::add_bench_command(app);
  opsis::cli::add_eval_command(app);
  opsis::cli::add_ledger_command(app);
  opsis::cli::add_cameo_command(app);
  opsis::cli::add_policy_command(app);
  opsis::cli::add_app_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const opsis::InvalidArgument& e) {
    std::fprintf(stderr, "opsis: error: %s%s%s\n", e.field().empty() ? "" : e.field().c_str(),
                 e.field().empty() ? "" : ": ", e.what());
    return 2;
  } catch (const opsis::Cancelled&) {
    std::fprintf(stderr, "opsis: cancelled\n");
    return 130;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "opsis: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
