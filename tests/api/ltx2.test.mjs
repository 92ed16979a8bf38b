// An installed LTX-2 model served by `opsis serve`: tiny model folders laid out as real ones
// (build/opsis-ltx2-tiny-folder: the parity goldens' checkpoints, a sharded Gemma 3, the tiny
// tokenizer), one given with --model (so sora-2 means it) and one found through the data
// directory's models.json; created through the real openai SDK. What they draw is noise: this
// proves the path real weights take, not the picture. Registered where opsis has libtorch.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import OpenAI, { toFile } from 'openai';

import { assertValidMp4, makeDataDir, mp4Duration, opsisBinary, removeDataDir, startServer, waitFor } from './server.mjs';

let dataDir, server, client;
before(async () => {
  dataDir = makeDataDir();
  const tool = path.join(path.dirname(opsisBinary()), 'opsis-ltx2-tiny-folder');
  const models = path.join(dataDir, 'installed');
  mkdirSync(models);
  execFileSync(tool, [path.join(models, 'tiny-23'), '2.3', 'ltx-tiny-2.3'], { stdio: 'ignore' });
  execFileSync(tool, [path.join(models, 'tiny-20'), '2.0', 'ltx-tiny-2.0'], { stdio: 'ignore' });
  // The registry: one installed folder (a relative path, from the data directory) and one that
  // is not there, which the server reports and skips.
  writeFileSync(path.join(dataDir, 'models.json'), JSON.stringify({ models: [{ path: 'installed/tiny-20' }, { path: 'installed/gone' }] }));
  server = await startServer(dataDir, ['--poll-after-ms', '100', '--model', path.join(models, 'tiny-23')]);
  client = new OpenAI({ apiKey: 'unused-on-a-keyless-loopback-server', baseURL: server.baseURL, maxRetries: 0 });
});
after(async () => {
  await server?.stop();
  removeDataDir(dataDir);
});

const bytesOf = async (id, variant = 'video') =>
  new Uint8Array(await (await client.videos.downloadContent(id, { variant })).arrayBuffer());
const hasSoundTrack = (bytes) => Buffer.from(bytes).includes(Buffer.from('soun'));

test('installed LTX-2 folders are listed, the broken one reported and skipped', async () => {
  const models = await (await fetch(`${server.baseURL}/models`)).json();
  const ids = models.data.map((m) => m.id);
  for (const name of ['ltx-tiny-2.3', 'ltx-tiny-2.0']) assert.ok(ids.includes(name), `${name} is served: ${ids}`);
  const tiny = models.data.find((m) => m.id === 'ltx-tiny-2.3');
  assert.ok(tiny.sizes.includes('768x512') && tiny.sizes.includes('256x160'), JSON.stringify(tiny.sizes));
  assert.match(server.stderr(), /installed\/gone is not served/);
});

test('sora-2 means the --model folder: a clip with sound, the alias echoed', async () => {
  await assert.rejects(client.videos.create({ prompt: 'A red ball', model: 'sora-2', seconds: '1', size: '1280x720' }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === 'size');
  const created = await client.videos.create({ prompt: 'A red ball bounces on a sunny beach.', model: 'sora-2', seconds: '1', size: '256x160' });
  assert.equal(created.model, 'sora-2');
  const done = await waitFor(client, created.id);
  assert.equal(done.status, 'completed', JSON.stringify(done.error));
  const clip = await bytesOf(created.id);
  assertValidMp4(clip);
  assert.ok(Math.abs(mp4Duration(clip) - 1) < 0.1, `duration ${mp4Duration(clip)}`);
  assert.ok(hasSoundTrack(clip), 'the MP4 has a sound track');

  // Image-to-video: its own thumbnail as the first frame.
  const image = await bytesOf(created.id, 'thumbnail');
  const fromImage = await client.videos.create({ prompt: 'A red ball bounces on a sunny beach.', model: 'ltx-tiny-2.3', seconds: '1', size: '256x160',
                                                 input_reference: await toFile(image, 'first.webp', { type: 'image/webp' }) });
  assert.equal((await waitFor(client, fromImage.id)).status, 'completed');
});

test('the registered 2.0 folder makes its clip by name', async () => {
  const created = await client.videos.create({ prompt: 'Rain on a tin roof.', model: 'ltx-tiny-2.0', seconds: '1', size: '160x256' });
  const done = await waitFor(client, created.id);
  assert.equal(done.status, 'completed', JSON.stringify(done.error));
  assert.equal(done.model, 'ltx-tiny-2.0');
  assert.equal(done.size, '160x256');
  assertValidMp4(await bytesOf(created.id));
});
