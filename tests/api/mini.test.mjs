// opsis-mini (the built-in learned model, through src/engine) served by `opsis serve`:
// registered only where opsis was built with libtorch, and so is this test.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import OpenAI, { toFile } from 'openai';

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
