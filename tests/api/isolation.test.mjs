// Two keys, two users: neither can read, list, download, remix, extend or delete the
// other's videos (a 404, never a 403 that confirms the video exists). Per-key limits and
// revocation.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import OpenAI, { toFile } from 'openai';

import { execFileSync } from 'node:child_process';

import { createKey, makeDataDir, opsisBinary, removeDataDir, revokeKey, startServer, waitFor } from './server.mjs';

let dataDir, server, alice, bob, aliceKey;
const small = { model: 'opsis-studio', seconds: '1', size: '160x90' };

before(async () => {
  dataDir = makeDataDir();
  aliceKey = createKey(dataDir, 'alice');
  const bobKey = createKey(dataDir, 'bob');
  server = await startServer(dataDir, ['--jobs-per-minute', '4', '--max-body-mib', '1', '--max-image-pixels', '10000']);
  alice = new OpenAI({ apiKey: aliceKey, baseURL: server.baseURL, maxRetries: 0 });
  bob = new OpenAI({ apiKey: bobKey, baseURL: server.baseURL, maxRetries: 0 });
});

after(async () => {
  await server.stop();
  removeDataDir(dataDir);
});

test('neither user can touch the other\'s videos', async () => {
  const mine = await alice.videos.create({ prompt: 'A red ball bounces in a meadow', ...small });
  const done = await waitFor(alice, mine.id);
  assert.equal(done.status, 'completed');
  const theirs = await bob.videos.create({ prompt: 'A blue box on a beach', ...small });
  await waitFor(bob, theirs.id);

  const notFound = (e) => {
    assert.ok(e instanceof OpenAI.NotFoundError, String(e));
    assert.equal(e.status, 404);
    return true;
  };
  await assert.rejects(bob.videos.retrieve(mine.id), notFound);
  await assert.rejects(bob.videos.downloadContent(mine.id), notFound);
  await assert.rejects(bob.videos.downloadContent(mine.id, { variant: 'thumbnail' }), notFound);
  await assert.rejects(bob.videos.remix(mine.id, { prompt: 'at night' }), notFound);
  await assert.rejects(bob.videos.extend({ video: { id: mine.id }, prompt: 'pan left', seconds: '1' }), notFound);
  await assert.rejects(bob.videos.delete(mine.id), notFound);
  const bobSees = [];
  for await (const v of bob.videos.list({ limit: 100 })) bobSees.push(v.id);
  assert.deepEqual(bobSees, [theirs.id]);
  // A foreign id as the pagination cursor is not a way to probe either.
  await assert.rejects(bob.videos.list({ after: mine.id }), notFound);
  // The same answer as for an id that never existed.
  await assert.rejects(bob.videos.retrieve('video_ffffffffffffffffffffffffffffffff'), notFound);

  await assert.rejects(alice.videos.retrieve(theirs.id), notFound);
  const aliceSees = [];
  for await (const v of alice.videos.list()) aliceSees.push(v.id);
  assert.deepEqual(aliceSees, [mine.id]);
  assert.equal((await alice.videos.retrieve(mine.id)).status, 'completed', 'alice still has hers');
});

test('jobs per minute: a 429 with Retry-After, raised as RateLimitError', async () => {
  // Two of bob's four starts this minute are spent above.
  let error;
  for (let i = 0; i < 4 && !error; ++i) {
    try {
      await bob.videos.create({ prompt: `A green bird flies left, ${i}`, ...small });
    } catch (e) {
      error = e;
    }
  }
  assert.ok(error instanceof OpenAI.RateLimitError, String(error));
  assert.equal(error.status, 429);
  assert.ok(Number(error.headers.get('retry-after')) >= 1);
  assert.equal(error.type, 'rate_limit_error');
  // Limits are per key: alice is not slowed by bob.
  const ok = await alice.videos.create({ prompt: 'A white balloon floats up', ...small });
  await waitFor(alice, ok.id);
});

test('request body and image limits: 413 and 400', async () => {
  const big = Buffer.alloc(2 * 1024 * 1024, 7);
  await assert.rejects(
    alice.videos.create({ prompt: 'A red ball', ...small, input_reference: await toFile(big, 'big.png', { type: 'image/png' }) }),
    (e) => e instanceof OpenAI.APIError && e.status === 413);
  // An image over the pixel limit (10000 here): a thumbnail of 160x90 = 14400 pixels.
  const list = await alice.videos.list();
  const thumbnail = new Uint8Array(await (await alice.videos.downloadContent(list.data.at(-1).id, { variant: 'thumbnail' })).arrayBuffer());
  await assert.rejects(
    alice.videos.create({ prompt: 'A red ball', ...small, input_reference: await toFile(thumbnail, 't.webp', { type: 'image/webp' }) }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === 'input_reference' && /pixels/.test(e.message));
});

test('a revoked key stops working at once', async () => {
  const key = createKey(dataDir, 'mallory');
  const mallory = new OpenAI({ apiKey: key, baseURL: server.baseURL, maxRetries: 0 });
  await mallory.videos.list();
  revokeKey(dataDir, key.slice(0, 16));
  await assert.rejects(mallory.videos.list(), OpenAI.AuthenticationError);
  // The listing names keys by id and prefix, shows the revocation, and never holds a secret.
  const listing = execFileSync(opsisBinary(), ['keys', 'list', '--data-dir', dataDir], { encoding: 'utf8' });
  const row = listing.split('\n').find((line) => line.includes('mallory'));
  assert.ok(row && row.includes(key.slice(0, 16)) && !row.trimEnd().endsWith('-'), row);
  for (const secret of [key, aliceKey]) assert.ok(!listing.includes(secret));
});
