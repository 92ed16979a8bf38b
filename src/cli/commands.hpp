#pragma once
// Each subcommand registers itself on the app; its callback does the work.
namespace CLI { class App; }

namespace opsis::cli {
void add_studio_command(CLI::App& app);
void add_verify_command(CLI::App& app);
void add_generate_command(CLI::App& app);
void add_serve_command(CLI::App& app);
void add_keys_command(CLI::App& app);
void add_bench_command(CLI::App& app);
void add_eval_command(CLI::App& app);
void add_ledger_command(CLI::App& app);
void add_cameo_command(CLI::App& app);
void add_policy_command(CLI::App& app);
void add_app_command(CLI::App& app);
}  // namespace opsis::cli
