#include "cli/commands.hpp"
#include <CLI/CLI.hpp>
namespace opsis::cli { void add_studio_command(CLI::App& app) { app.add_subcommand("studio", "the studio world"); } }
