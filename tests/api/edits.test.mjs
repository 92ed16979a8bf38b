// POST /v1/videos/edits and /v1/videos/extensions with `video` as {id} or an uploaded MP4,
// through the real `openai` SDK (which sends both as multipart).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import OpenAI, { toFile } from 'openai';

import { assertValidMp4, createKey, makeDataDir, mp4Duration, removeDataDir, startServer, waitFor } from './server.mjs';

let dataDir, server, client, other;
let source;       // a completed 1 s 160x90 video
let sourceBytes;  // its MP4

before(async () => {
  dataDir = makeDataDir();
  const key = createKey(dataDir, 'jane');
  const otherKey = createKey(dataDir, 'kurt');
  server = await startServer(dataDir, ['--workers', '2', '--poll-after-ms', '100']);
  client = new OpenAI({ apiKey: key, baseURL: server.baseURL, maxRetries: 0 });
  other = new OpenAI({ apiKey: otherKey, baseURL: server.baseURL, maxRetries: 0 });
  source = await waitFor(client, (await client.videos.create({ prompt: 'A red ball bounces in a meadow', model: 'opsis-studio', seconds: '1', size: '160x90' })).id);
  assert.equal(source.status, 'completed');
  sourceBytes = await bytesOf(source.id);
});

after(async () => {
  await server.stop();
  removeDataDir(dataDir);
});

async function bytesOf(id, variant = 'video') {
  return new Uint8Array(await (await client.videos.downloadContent(id, { variant })).arrayBuffer());
}
const upload = (bytes, name = 'clip.mp4') => toFile(Buffer.from(bytes), name, { type: 'video/mp4' });
// Frame `index` as raw RGB, decoded by FFmpeg.
function frameAt(bytes, index) {
  const dir = mkdtempSync(path.join(tmpdir(), 'opsis-edit-'));
  try {
    const file = path.join(dir, 'clip.mp4');
    writeFileSync(file, bytes);
    const run = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', file, '-vf', `select=eq(n\\,${index})`, '-frames:v', '1',
                                     '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], { maxBuffer: 1 << 24 });
    assert.equal(run.status, 0, String(run.stderr));
    return run.stdout;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
const meanAbsDiff = (a, b) => {
  assert.equal(a.length, b.length);
  let sum = 0;
  for (let i = 0; i < a.length; ++i) sum += Math.abs(a[i] - b[i]);
  return sum / a.length;
};
const count = async (c = client) => {
  let n = 0;
  for await (const _ of c.videos.list({ limit: 100 })) ++n;
  return n;
};
const blobCount = () => {
  let n = 0;
  for (const shard of readdirSync(path.join(dataDir, 'blobs'))) if (/^[0-9a-f]{2}$/.test(shard)) n += readdirSync(path.join(dataDir, 'blobs', shard)).length;
  return n;
};

test('edit of {id}: the source\'s model, size and length, the new prompt, lineage kept', async () => {
  const edited = await client.videos.edit({ video: { id: source.id }, prompt: 'the ball is blue, at night' });
  assert.equal(edited.object, 'video');
  assert.equal(edited.status, 'queued');
  assert.equal(edited.model, source.model);
  assert.equal(edited.resolved_model, 'opsis-studio');
  assert.equal(edited.size, '160x90');
  assert.equal(edited.seconds, '1');
  assert.equal(edited.prompt, 'the ball is blue, at night');
  assert.equal(edited.remixed_from_video_id, source.id);
  const done = await waitFor(client, edited.id);
  assert.equal(done.status, 'completed', JSON.stringify(done.error));
  const bytes = await bytesOf(edited.id);
  assertValidMp4(bytes);
  assert.ok(Math.abs(mp4Duration(bytes) - 1) < 0.1);
  // Also as JSON, the other body the spec allows.
  const response = await fetch(`${server.baseURL}/videos/edits`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${client.apiKey}` },
    body: JSON.stringify({ video: { id: source.id }, prompt: 'the ball is green' }),
  });
  assert.equal(response.status, 200);
  assert.equal((await response.json()).remixed_from_video_id, source.id);
});

test('edit of an uploaded MP4: its size and length, the default model, a new clip', async () => {
  const edited = await client.videos.edit({ video: await upload(sourceBytes), prompt: 'A yellow box slides left on a beach' });
  assert.equal(edited.size, '160x90');
  assert.equal(edited.seconds, '1');
  assert.equal(edited.model, 'sora-2');
  assert.equal(edited.resolved_model, 'opsis-studio');
  assert.equal(edited.remixed_from_video_id, null, 'an upload is no stored video');
  const done = await waitFor(client, edited.id);
  assert.equal(done.status, 'completed', JSON.stringify(done.error));
  const bytes = await bytesOf(edited.id);
  assertValidMp4(bytes);
  assert.ok(Math.abs(mp4Duration(bytes) - 1) < 0.1);
  // It starts from the upload's first frame, and moves into the new prompt's scene.
  const start = meanAbsDiff(frameAt(bytes, 0), frameAt(sourceBytes, 0));
  const end = meanAbsDiff(frameAt(bytes, 23), frameAt(sourceBytes, 23));
  assert.ok(start < 4 && end > 4 * start, `frame 0 differs from the upload's by ${start}, frame 23 by ${end}`);

  // The upload is the source's own bytes (one blob): deleting the edit keeps what the source
  // still uses; the source plays on.
  await client.videos.delete(edited.id);
  assert.deepEqual(await bytesOf(source.id), sourceBytes);
});

test('extension of an uploaded MP4: requires seconds; stitched total; the upload comes first', async () => {
  const before = await count();
  await assert.rejects(client.videos.extend({ video: await upload(sourceBytes), prompt: 'the camera pans left' }),
                       (e) => e instanceof OpenAI.BadRequestError && e.param === 'seconds');
  assert.equal(await count(), before, 'nothing queued');
  const extended = await client.videos.extend({ video: await upload(sourceBytes), prompt: 'the camera pans left', seconds: '1' });
  assert.equal(extended.seconds, '2', 'the stitched total');
  assert.equal(extended.size, '160x90');
  const done = await waitFor(client, extended.id);
  assert.equal(done.status, 'completed', JSON.stringify(done.error));
  const bytes = await bytesOf(extended.id);
  assert.ok(Math.abs(mp4Duration(bytes) - 2) < 0.1);
  // The upload's own picture comes first: frame 12 matches the upload's frame 12 (up to
  // re-encoding and the invisible mark), and differs from a clip rendered from the prompt alone.
  const alone = await waitFor(client, (await client.videos.create({ prompt: 'the camera pans left', model: 'opsis-studio', seconds: '1', size: '160x90' })).id);
  const target = frameAt(sourceBytes, 12);
  const kept = meanAbsDiff(frameAt(bytes, 12), target);
  const rendered = meanAbsDiff(frameAt(await bytesOf(alone.id), 12), target);
  assert.ok(kept < 4 && rendered > 4 * kept, `frame 12 differs from the upload's by ${kept} (a fresh render: ${rendered})`);
});

test('extension of {id} requires seconds too', async () => {
  await assert.rejects(client.videos.extend({ video: { id: source.id }, prompt: 'on' }),
                       (e) => e instanceof OpenAI.BadRequestError && e.param === 'seconds');
});

test('bad sources are a 400 naming video, and queue nothing', async () => {
  const before = await count();
  const blobsBefore = blobCount();
  const refusals = [
    () => client.videos.edit({ video: toFile(Buffer.from('not a video at all'), 'x.mp4', { type: 'video/mp4' }), prompt: 'p' }),
    () => client.videos.edit({ video: toFile(Buffer.from(sourceBytes.subarray(0, 200)), 'cut.mp4', { type: 'video/mp4' }), prompt: 'p' }),
    () => client.videos.extend({ video: toFile(Buffer.from(sourceBytes.subarray(0, sourceBytes.length / 2)), 'half.mp4'), prompt: 'p', seconds: '1' }),
    () => client.videos.edit({ video: { id: '' }, prompt: 'p' }),
    () => client.videos.edit({ prompt: 'p' }),
  ];
  for (const refuse of refusals)
    await assert.rejects(refuse(), (e) => e instanceof OpenAI.BadRequestError && e.param === 'video' && /video/.test(e.message));
  // JSON: video must be {id}.
  const response = await fetch(`${server.baseURL}/videos/edits`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${client.apiKey}` },
    body: JSON.stringify({ video: source.id, prompt: 'p' }),
  });
  assert.equal(response.status, 400);
  assert.equal((await response.json()).error.param, 'video');
  // Another user's video does not exist for them; an unfinished one cannot be edited.
  await assert.rejects(other.videos.edit({ video: { id: source.id }, prompt: 'p' }), OpenAI.NotFoundError);
  const pending = await client.videos.create({ prompt: 'A black box spins', model: 'opsis-studio', seconds: '4', size: '640x360' });
  await assert.rejects(client.videos.edit({ video: { id: pending.id }, prompt: 'p' }),
                       (e) => e instanceof OpenAI.BadRequestError && e.code === 'video_not_ready');
  await client.videos.delete(pending.id);
  assert.equal(await count(), before);
  assert.equal(blobCount(), blobsBefore, 'no upload stored for a refused request');
});
