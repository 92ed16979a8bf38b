// opsis-mini (the built-in learned model, through src/engine) served by `opsis serve`:
// registered only where opsis was built with libtorch, and so is this test.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import OpenAI, { toFile } from 'openai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { assertValidMp4, makeDataDir, mp4Duration, removeDataDir, startServer, waitFor } from './server.mjs';

let dataDir, server, client;
before(async () => {
  dataDir = makeDataDir();
  server = await startServer(dataDir, ['--poll-after-ms', '100']);  // keyless loopback: user "local"
  client = new OpenAI({ apiKey: 'unused-on-a-keyless-loopback-server', baseURL: server.baseURL, maxRetries: 0 });
});
after(async () => {
  await server.stop();
  removeDataDir(dataDir);
});

const bytesOf = async (id, variant = 'video') =>
  new Uint8Array(await (await client.videos.downloadContent(id, { variant })).arrayBuffer());

test('opsis-mini: create, extend (stitched) and an image as the first frame', async () => {
  const models = await (await fetch(`${server.baseURL}/models`)).json();
  const mini = models.data.find((m) => m.id === 'opsis-mini');
  assert.ok(mini, 'opsis-mini is served');
  assert.deepEqual(mini.sizes, ['128x72', '72x128', '128x128']);
  await assert.rejects(client.videos.create({ prompt: 'A red ball', model: 'opsis-mini', seconds: '1', size: '160x90' }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === 'size');

  const created = await client.videos.create({ prompt: 'A red ball bounces in a meadow', model: 'opsis-mini', seconds: '1', size: '128x72' });
  const done = await waitFor(client, created.id);
  assert.equal(done.status, 'completed', JSON.stringify(done.error));
  assert.equal(done.model, 'opsis-mini');
  const clip = await bytesOf(created.id);
  assertValidMp4(clip);
  assert.ok(Math.abs(mp4Duration(clip) - 1) < 0.1);

  const extended = await client.videos.extend({ video: { id: created.id }, prompt: 'the ball rolls left', seconds: '1' });
  assert.equal(extended.seconds, '2');
  assert.equal((await waitFor(client, extended.id)).status, 'completed');
  assert.ok(Math.abs(mp4Duration(await bytesOf(extended.id)) - 2) < 0.1);

  const image = await bytesOf(created.id, 'thumbnail');
  const fromImage = await client.videos.create({ prompt: 'A red ball bounces in a meadow', model: 'opsis-mini', seconds: '1', size: '128x72',
                                                 input_reference: await toFile(image, 'first.webp', { type: 'image/webp' }) });
  const imageDone = await waitFor(client, fromImage.id);
  assert.equal(imageDone.status, 'completed', JSON.stringify(imageDone.error));
});

test('opsis-mini-2-structured: served, echoed, and a first frame refused with the reason', async () => {
  const models = await (await fetch(`${server.baseURL}/models`)).json();
  const structured = models.data.find((m) => m.id === 'opsis-mini-2-structured');
  assert.ok(structured, 'opsis-mini-2-structured is served');
  const created = await client.videos.create({ prompt: 'A red ball bounces on a sunny beach. Slow pan left.', model: 'opsis-mini-2-structured',
                                               seconds: '2', size: '128x72' });
  const done = await waitFor(client, created.id);
  assert.equal(done.status, 'completed', JSON.stringify(done.error));
  assert.equal(done.model, 'opsis-mini-2-structured');
  const clip = await bytesOf(created.id);
  assertValidMp4(clip);
  assert.ok(Math.abs(mp4Duration(clip) - 2) < 0.1);
  const image = await bytesOf(created.id, 'thumbnail');
  await assert.rejects(client.videos.create({ prompt: 'A red ball', model: 'opsis-mini-2-structured', seconds: '1', size: '128x72',
                                              input_reference: await toFile(image, 'first.webp', { type: 'image/webp' }) }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === 'input_reference' && /cannot start from an image/.test(e.message));
});

// Mean loudness (dBFS) of the sound between `from` and `to` seconds, read by FFmpeg.
function meanVolume(bytes, from, to) {
  const dir = mkdtempSync(path.join(tmpdir(), 'opsis-mini-audio-'));
  try {
    const file = path.join(dir, 'clip.mp4');
    writeFileSync(file, bytes);
    const run = spawnSync('ffmpeg', ['-hide_banner', '-ss', String(from), '-t', String(to - from), '-i', file,
                                     '-af', 'volumedetect', '-f', 'null', '-'], { encoding: 'utf8' });
    const match = String(run.stderr).match(/mean_volume: (-?[\d.]+) dB/);
    assert.ok(match, `ffmpeg gave no loudness: ${run.stderr}`);
    return Number(match[1]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('opsis-mini: a line in the prompt is spoken in the served clip', async () => {
  const plain = await client.videos.create({ prompt: 'Sam waves in a meadow', model: 'opsis-mini', seconds: '2', size: '128x72' });
  const spoken = await client.videos.create({ prompt: 'Sam waves in a meadow and says "hello there"', model: 'opsis-mini',
                                              seconds: '2', size: '128x72' });
  for (const job of [plain, spoken]) assert.equal((await waitFor(client, job.id)).status, 'completed');
  const quiet = meanVolume(await bytesOf(plain.id), 0.6, 1.3);
  const speech = meanVolume(await bytesOf(spoken.id), 0.6, 1.3);
  assert.ok(speech > quiet + 6, `speech at ${speech} dB should be well above the clip without a line (${quiet} dB)`);
});
