// Signs an MP4 with c2pa-rs (through @contentauth/c2pa-node), so that opsis's reader can be
// checked against manifests it did not write. The builder's defaults apply (claim v2,
// c2pa.hash.bmff.v3, no thumbnail, no timestamp authority).
// Usage: node sign_with_c2pa_rs.mjs INPUT.mp4 OUTPUT.mp4 CHAIN.pem KEY.pem [PARENT.mp4]
// With PARENT, the parent is added as a parentOf ingredient (with its manifest) and opened.
import { readFileSync } from "node:fs";
import { Builder, LocalSigner } from "@contentauth/c2pa-node";

const [input, output, chainPath, keyPath, parent] = process.argv.slice(2);
if (!keyPath) {
  process.stderr.write("usage: node sign_with_c2pa_rs.mjs INPUT.mp4 OUTPUT.mp4 CHAIN.pem KEY.pem [PARENT.mp4]\n");
  process.exit(2);
}
const created = {
  action: "c2pa.created",
  digitalSourceType: "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia",
};
const manifest = {
  claim_generator_info: [{ name: "c2pa-rs test signer", version: "1" }],
  title: "signed by c2pa-rs",
  format: "video/mp4",
  assertions: [{ label: "c2pa.actions", data: { actions: parent ? [] : [created] } }],
};
const settings = { builder: { thumbnail: { enabled: false } } };
const builder = Builder.withJson(manifest, settings);
if (parent) {
  await builder.addIngredient(
    JSON.stringify({ title: "parent.mp4", relationship: "parentOf", label: "parent" }),
    { path: parent, mimeType: "video/mp4" },
  );
  builder.addAction(JSON.stringify({ action: "c2pa.opened", parameters: { ingredientIds: ["parent"] } }));
}
const signer = LocalSigner.newSigner(readFileSync(chainPath), readFileSync(keyPath), "es256");
builder.sign(signer, { path: input, mimeType: "video/mp4" }, { path: output });
process.stdout.write(JSON.stringify({ signed: output }) + "\n");
