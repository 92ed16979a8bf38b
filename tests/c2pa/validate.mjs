// Validates one file with c2pa-rs (through @contentauth/c2pa-node) and prints one JSON object:
//   { "file", "has_manifest", "validation_state", "validation_status": [codes...],
//     "failures": [codes...], "active_manifest": {...}, "ingredients": [...] }
// Usage: node validate.mjs FILE [--anchors ROOT.pem]
// Without --anchors no trust anchor is configured (a valid file then reports
// signingCredential.untrusted); with it the PEM's certificates are the only anchors.
import { readFileSync } from "node:fs";
import { Reader } from "@contentauth/c2pa-node";

function usage(message) {
  process.stderr.write(`validate.mjs: ${message}\nusage: node validate.mjs FILE [--anchors ROOT.pem]\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
let file = null;
let anchorsPath = null;
for (let i = 0; i < args.length; ++i) {
  if (args[i] === "--anchors") {
    if (i + 1 >= args.length) usage("--anchors needs a PEM file");
    anchorsPath = args[++i];
  } else if (file === null) {
    file = args[i];
  } else {
    usage(`unexpected argument ${args[i]}`);
  }
}
if (file === null) usage("no file given");

const settings = {
  verify: { verify_after_reading: true, verify_trust: true, ocsp_fetch: false, remote_manifest_fetch: false },
  trust: anchorsPath ? { trust_anchors: readFileSync(anchorsPath, "utf8") } : {},
};

let reader;
try {
  reader = await Reader.fromAsset({ path: file, mimeType: "video/mp4" }, settings);
} catch (error) {
  // c2pa-rs raises instead of returning a store when the manifest cannot be parsed at all.
  process.stdout.write(JSON.stringify({ file, has_manifest: null, error: String(error?.message ?? error) }) + "\n");
  process.exit(0);
}
if (reader === null) {
  process.stdout.write(JSON.stringify({ file, has_manifest: false }) + "\n");
  process.exit(0);
}

const store = reader.json();
const active = store.active_manifest ? store.manifests?.[store.active_manifest] : undefined;
const statusCodes = (store.validation_status ?? []).map((s) => s.code);
const results = store.validation_results?.activeManifest;
const report = {
  file,
  has_manifest: true,
  validation_state: store.validation_state ?? null,
  validation_status: statusCodes,
  failures: (results?.failure ?? []).map((s) => s.code),
  successes: (results?.success ?? []).map((s) => s.code),
  active_manifest: active ?? null,
  ingredients: (active?.ingredients ?? []).map((ing) => ({
    title: ing.title ?? null,
    relationship: ing.relationship ?? null,
    format: ing.format ?? null,
    active_manifest: ing.active_manifest ?? null,
  })),
};
process.stdout.write(JSON.stringify(report) + "\n");
