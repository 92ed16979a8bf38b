// `opsis verify FILE`: reads the file's C2PA manifest and says what it claims (who, when,
// which model, actions, ingredients) and whether it holds (signature, hash binding, trust).
// Exit status: 0 valid, 1 manifest present but invalid (tampered), 3 no manifest.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "core/error.hpp"
#include "provenance/c2pa.hpp"
#include "provenance/finish.hpp"
#include "server/provenance_check.hpp"
#include "store/metadata_store.hpp"

namespace opsis::cli {
namespace {

namespace fs = std::filesystem;

struct VerifyOptions {
  std::string file;
  std::vector<std::string> anchor_files;
  std::string data_dir;
  bool json = false;
};

std::string yes_no(bool ok, const char* yes, const char* no) { return ok ? yes : no; }

std::string short_source_type(const std::string& uri) {
  const size_t slash = uri.rfind('/');
  return slash == std::string::npos ? uri : uri.substr(slash + 1);
}

void print_report(const std::string& file, const provenance::ManifestReport& r) {
  std::printf("file: %s\n", file.c_str());
  if (!r.has_manifest) {
    std::printf("C2PA manifest: none (the file carries no content credentials, or they were stripped)\n");
    return;
  }
  std::printf("C2PA manifest: %s (%s; %zu manifest%s in the store)\n", r.active_label.c_str(),
              r.claim_version.c_str(), r.manifest_count, r.manifest_count == 1 ? "" : "s");
  std::printf("  state:       %s\n", r.state.c_str());
  if (!r.title.empty()) std::printf("  title:       %s\n", r.title.c_str());
  if (r.signer) {
    std::printf("  signed by:   %s\n", r.signer->subject.c_str());
    std::printf("               issued by %s, valid %s to %s\n", r.signer->issuer.c_str(),
                r.signer->not_before.c_str(), r.signer->not_after.c_str());
  }
  if (!r.creator.empty()) std::printf("  requested by: %s\n", r.creator.c_str());
  if (!r.claim_generator.empty()) std::printf("  generator:   %s\n", r.claim_generator.c_str());
  if (!r.model.empty()) std::printf("  model:       %s\n", r.model.c_str());
  if (!r.actions.empty() && !r.actions.front().when.empty())
    std::printf("  when:        %s\n", r.actions.front().when.c_str());
  if (!r.actions.empty()) std::printf("  actions:\n");
  for (const auto& a : r.actions) {
    std::printf("    %s", a.action.c_str());
    if (!a.when.empty()) std::printf(" at %s", a.when.c_str());
    if (!a.software_agent.empty()) std::printf(" by %s", a.software_agent.c_str());
    if (!a.digital_source_type.empty()) std::printf(" [%s]", short_source_type(a.digital_source_type).c_str());
    if (!a.description.empty()) std::printf(": %s", a.description.c_str());
    for (const auto& i : a.ingredient_titles) std::printf(" <- \"%s\"", i.c_str());
    std::printf("\n");
  }
  if (!r.ingredients.empty()) std::printf("  ingredients:\n");
  for (const auto& i : r.ingredients) {
    std::printf("    %s \"%s\" (%s)", i.relationship.c_str(), i.title.c_str(), i.format.c_str());
    if (!i.manifest_label.empty())
      std::printf(", its manifest %s %s", i.manifest_label.c_str(),
                  i.manifest_hash_matches ? "is included and intact" : "is missing or changed");
    else
      std::printf(", no manifest of its own");
    std::printf("\n");
  }
  if (!r.cameo_handles.empty()) {
    std::printf("  cameos:     ");
    for (const auto& h : r.cameo_handles) std::printf(" %s", h.c_str());
    std::printf(" (recorded by handle; no likeness embedded)\n");
  }
  if (!r.training_mining.empty()) std::printf("  AI training and data mining: %s\n", r.training_mining.c_str());
  std::printf("  signature:   %s\n", yes_no(r.signature_valid, "valid", "INVALID").c_str());
  std::printf("  certificate: %s\n", yes_no(r.certificate_profile_ok, "meets the C2PA signer profile",
                                             "does NOT meet the C2PA signer profile").c_str());
  std::printf("  assertions:  %s\n", yes_no(r.assertions_intact, "intact", "CHANGED or missing").c_str());
  std::printf("  hash:        %s\n", yes_no(r.hash_matches, "matches the file's bytes",
                                             "DOES NOT MATCH: the file was changed after signing").c_str());
  if (!r.ingredients.empty())
    std::printf("  ingredients: %s\n", yes_no(r.ingredients_intact, "intact", "CHANGED or missing").c_str());
  if (r.anchors.empty()) {
    std::printf("  trust:       not checked: no trust anchors given (use --anchors PEM or --data DIR)\n");
  } else {
    std::printf("  trust:       %s\n", r.trusted ? ("trusted: chains to " + r.trust_anchor).c_str()
                                                 : "NOT trusted by the anchors given");
    for (const auto& a : r.anchors) std::printf("               anchor: %s\n", a.c_str());
  }
  if (!r.failure.empty()) std::printf("  findings:\n");
  for (const auto& f : r.failure) std::printf("    %s: %s\n", f.code.c_str(), f.explanation.c_str());
}

void print_watermark(const server::ProvenanceCheck& check, uint32_t own_server_id) {
  if (!check.watermark) return;
  const auto& w = *check.watermark;
  if (!w.found) {
    std::printf("watermark: none found with this data directory's key (pilot peak %.1f sd)\n", w.sync_score);
    return;
  }
  std::printf("watermark: server %08x, video %08x, in the %s (confidence %.10f: p = %.2g that an unmarked file reads so)\n",
              w.payload.server_id, w.payload.video_id, w.carrier.c_str(), 1.0 - w.p_value, w.p_value);
  if (!check.from_this_server) {
    std::printf("  made by another opsis server (this data directory is server %08x)\n", own_server_id);
  } else if (check.stored_video) {
    const auto& v = *check.stored_video;
    std::printf("  stored video: %s by %s, model %s, prompt \"%s\"%s\n", v.id.c_str(), v.user.c_str(), v.model.c_str(),
                v.prompt.c_str(), v.remixed_from.empty() ? "" : (", remixed from " + v.remixed_from).c_str());
  } else {
    std::printf("  made by this server; no stored video has that id (deleted, or made by `opsis generate`)\n");
  }
}

void run_verify(const VerifyOptions& options) {
  if (!fs::is_regular_file(options.file)) throw InvalidArgument("file", "no such file: " + options.file);
  std::vector<provenance::Bytes> anchors;
  for (const auto& path : options.anchor_files) {
    const auto certs = provenance::read_pem_certificates(path);
    anchors.insert(anchors.end(), certs.begin(), certs.end());
  }
  if (!options.data_dir.empty()) {
    const fs::path root = provenance::SigningCredentials::own_root_path(provenance::credentials_directory(options.data_dir));
    if (!fs::exists(root))
      throw InvalidArgument("data", options.data_dir + " holds no opsis C2PA root (" + root.string() + ")");
    const auto certs = provenance::read_pem_certificates(root);
    anchors.insert(anchors.end(), certs.begin(), certs.end());
  }
  std::optional<provenance::WatermarkIdentity> identity;
  std::unique_ptr<store::MetadataStore> store;
  if (!options.data_dir.empty()) {
    identity = provenance::load_watermark_identity(options.data_dir);
    const fs::path database = fs::path(options.data_dir) / "opsis.db";
    if (fs::exists(database)) store = store::open_sqlite_store(database.string());
  }
  const auto check = server::check_provenance(fs::path(options.file), anchors, identity, store.get());
  const auto& report = check.manifest;
  if (options.json) {
    auto j = check.to_json();
    j["file"] = options.file;
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    print_report(options.file, report);
    print_watermark(check, identity ? identity->server_id : 0);
  }
  std::fflush(stdout);
  if (!report.has_manifest) throw CLI::RuntimeError(3);
  if (report.state == "Invalid") throw CLI::RuntimeError(1);
}

}  // namespace

void add_verify_command(CLI::App& app) {
  auto options = std::make_shared<VerifyOptions>();
  CLI::App* verify = app.add_subcommand(
      "verify", "show and check a file's content credentials (C2PA): who made it, when, with which model, "
                "from what; exit 0 valid, 1 invalid, 3 none (the watermark may still be read with --data)");
  verify->add_option("file", options->file, "the MP4 file to check")->required();
  verify->add_option("--anchors", options->anchor_files, "PEM file of trust anchor certificates (repeatable)");
  verify->add_option("--data", options->data_dir,
                     "an opsis data directory: trust the root certificate it made (DIR/c2pa/c2pa-root.pem), read the "
                     "invisible watermark with its key and find the stored video it names");
  verify->add_flag("--json", options->json, "print the report as JSON");
  verify->callback([options] { run_verify(*options); });
}

}  // namespace opsis::cli
