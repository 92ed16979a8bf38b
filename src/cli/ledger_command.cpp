// `opsis ledger verify|export|head`: the consent ledger from the command line. `verify` checks
// a bundle (what `export` or the server's /v1/cameos/{id}/ledger gives) offline, or audits the
// live log in a data directory, and says what is wrong in words.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cameo/ledger.hpp"
#include "cameo/registry.hpp"
#include "cli/commands.hpp"
#include "core/error.hpp"
#include "provenance/c2pa.hpp"
#include "provenance/x509.hpp"

namespace opsis::cli {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

json read_json_file(const std::string& path, const std::string& field) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InvalidArgument(field, "cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  json value = json::parse(text.str(), nullptr, false);
  if (value.is_discarded()) throw InvalidArgument(field, path + " is not JSON");
  return value;
}

struct LedgerOptions {
  std::string data_dir;
  std::string bundle;
  std::string trust;
  std::vector<std::string> previous;
  std::string cameo;
  std::string output;
  std::vector<uint64_t> from_sizes;
  bool quiet = false;
};

std::unique_ptr<cameo::Database> open_ledger_database(const std::string& data_dir) {
  const fs::path path = cameo::database_path(data_dir);
  if (!fs::exists(path)) throw InvalidArgument("data-dir", "no opsis database at " + path.string());
  return std::make_unique<cameo::Database>(path);
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The head to publish: the latest signed one if it covers the whole log, else a new one.
cameo::SignedTreeHead current_head(cameo::ConsentLedger& ledger, const std::string& data_dir) {
  const auto latest = ledger.latest_signed_head();
  if (latest && latest->head.size == ledger.size()) return *latest;
  const auto credentials =
      provenance::SigningCredentials::load_or_create(provenance::credentials_directory(data_dir));
  return ledger.current_signed_head(credentials, now_ms());
}

void print_report(const cameo::LedgerReport& report, bool quiet) {
  if (!quiet)
    for (const auto& line : report.passed) std::printf("ok:      %s\n", line.c_str());
  for (const auto& line : report.notes) std::printf("note:    %s\n", line.c_str());
  for (const auto& line : report.problems) std::printf("PROBLEM: %s\n", line.c_str());
  std::fflush(stdout);
}

void run_verify(const LedgerOptions& options) {
  if (options.bundle.empty() == options.data_dir.empty())
    throw InvalidArgument("bundle", "give a bundle file to check offline, or --data-dir to audit a server's log");
  std::vector<cameo::merkle::Bytes> anchors;
  if (!options.trust.empty()) anchors = provenance::read_pem_certificates(options.trust);
  cameo::LedgerReport report;
  if (!options.bundle.empty()) {
    cameo::BundleCheckOptions check;
    check.trust_anchors = anchors;
    for (const auto& path : options.previous) {
      const json saved = read_json_file(path, "previous");
      check.previous_heads.push_back(
          cameo::signed_tree_head_from_json(saved.contains("tree_head") ? saved["tree_head"] : saved));
    }
    report = cameo::verify_bundle(read_json_file(options.bundle, "bundle"), check);
  } else {
    if (anchors.empty()) {
      const fs::path own = provenance::SigningCredentials::own_root_path(provenance::credentials_directory(options.data_dir));
      if (fs::exists(own)) anchors = provenance::read_pem_certificates(own);
    }
    auto db = open_ledger_database(options.data_dir);
    cameo::ConsentLedger ledger(*db);
    report = ledger.audit(anchors);
  }
  print_report(report, options.quiet);
  if (!report.ok())
    throw std::runtime_error("the consent ledger did not verify: " + std::to_string(report.problems.size()) +
                             " problem(s), listed above");
  std::printf("verified: the consent ledger is intact\n");
}

void write_output(const std::string& text, const std::string& path) {
  if (path.empty() || path == "-") {
    std::printf("%s\n", text.c_str());
    return;
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw InvalidArgument("output", "cannot write " + path);
  out << text << "\n";
  if (!out.flush()) throw IoError("cannot write " + path);
}

}  // namespace

void add_ledger_command(CLI::App& app) {
  CLI::App* ledger = app.add_subcommand("ledger", "The consent ledger: verify a log and its proofs offline, export, head");
  ledger->require_subcommand(1);
  auto options = std::make_shared<LedgerOptions>();

  CLI::App* verify = ledger->add_subcommand(
      "verify", "Check a ledger bundle offline (signature, inclusion and consistency proofs), or audit --data-dir");
  verify->add_option("bundle", options->bundle, "A bundle from `opsis ledger export` or GET /v1/cameos/{id}/ledger");
  verify->add_option("--data-dir", options->data_dir, "Audit the live log of this server data directory instead");
  verify->add_option("--trust", options->trust, "PEM root certificate(s) the signer must chain to (the server's root)");
  verify->add_option("--previous", options->previous,
                     "A tree head (or bundle) you saved earlier: the log must prove it only grew since")
      ->expected(1, 64);
  verify->add_flag("--quiet", options->quiet, "Print only problems and notes");
  verify->callback([options] { run_verify(*options); });

  CLI::App* export_command = ledger->add_subcommand("export", "Write a bundle for offline verification");
  export_command->add_option("--data-dir", options->data_dir, "The server's data directory")->required();
  export_command->add_option("--cameo", options->cameo, "Only this cameo's events (by id), with inclusion proofs");
  export_command->add_option("-o,--output", options->output, "Where to write the bundle (default: stdout)");
  export_command->add_option("--from-size", options->from_sizes,
                             "Prove growth from the signed head of this size (one you saved; repeatable; "
                             "default: the latest 8)");
  export_command->callback([options] {
    auto db = open_ledger_database(options->data_dir);
    cameo::ConsentLedger ledger(*db);
    if (ledger.size() == 0) throw InvalidArgument("data-dir", "the consent ledger is empty");
    const auto head = current_head(ledger, options->data_dir);
    write_output(ledger.export_bundle(head, options->cameo, options->from_sizes).dump(2), options->output);
  });

  CLI::App* head = ledger->add_subcommand("head", "Print the current signed tree head (signing one if the log grew)");
  head->add_option("--data-dir", options->data_dir, "The server's data directory")->required();
  head->callback([options] {
    auto db = open_ledger_database(options->data_dir);
    cameo::ConsentLedger ledger(*db);
    if (ledger.size() == 0) throw InvalidArgument("data-dir", "the consent ledger is empty");
    std::printf("%s\n", cameo::to_json(current_head(ledger, options->data_dir)).dump(2).c_str());
  });
}

}  // namespace opsis::cli
