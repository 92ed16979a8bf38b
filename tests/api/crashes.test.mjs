// Crashes at the worst moments lose nothing acknowledged and leave nothing behind:
// SIGKILL in the middle of a burst of creates (group commit), and SIGKILL between storing a
// finished job's files and recording them (orphan blob collection).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import OpenAI from 'openai';

import { createKey, makeDataDir, removeDataDir, startServer, waitFor } from './server.mjs';

const clientFor = (server, key) => new OpenAI({ apiKey: key, baseURL: server.baseURL, maxRetries: 0, timeout: 20000 });
const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');
const noLimits = ['--max-active-jobs', '100000', '--jobs-per-minute', '100000'];

// The blob files in a data directory: <blobs>/<2 hex>/<64 hex>.
function blobFiles(dataDir) {
  const root = path.join(dataDir, 'blobs');
  const keys = [];
  for (const shard of readdirSync(root)) {
    if (!/^[0-9a-f]{2}$/.test(shard)) continue;
    for (const name of readdirSync(path.join(root, shard))) if (/^[0-9a-f]{64}$/.test(name)) keys.push(name);
  }
  return keys.sort();
}

test('SIGKILL during a burst of creates: every create that got a 200 is there after a restart', async () => {
  const dataDir = makeDataDir();
  try {
    const key = createKey(dataDir, 'gina');
    let server = await startServer(dataDir, ['--workers', '1', '--http-threads', '256', ...noLimits]);
    let client = clientFor(server, key);
    // 64 clients create back to back, so creates are always in flight when the kill lands.
    const clients = 64;
    const killAfter = 300;
    const acknowledged = [];
    let killed = false;
    let cutOff = 0;
    const loop = async (c) => {
      for (let i = 0; ; ++i) {
        try {
          const video = await client.videos.create({ prompt: `A red ball bounces in a meadow, take ${c}.${i}`, model: 'opsis-studio', seconds: '1', size: '160x90' });
          acknowledged.push({ id: video.id, prompt: video.prompt, killedYet: killed });
          if (acknowledged.length >= killAfter && !killed) {
            killed = true;
            server.child.kill('SIGKILL');
          }
        } catch {
          ++cutOff;  // cut off by the kill: no promise was made
          return;
        }
      }
    };
    await Promise.all(Array.from({ length: clients }, (_, c) => loop(c)));
    const { signal } = await server.exited;
    assert.equal(signal, 'SIGKILL');
    assert.ok(acknowledged.length >= killAfter, `${acknowledged.length} creates answered`);
    assert.equal(cutOff, clients, 'every client had a create in flight when the kill landed');
    const total = acknowledged.length + cutOff;

    server = await startServer(dataDir, ['--workers', '1', ...noLimits]);
    client = clientFor(server, key);
    try {
      // Every 200 (including any that reached the client as the process died) is stored whole.
      for (const { id, prompt } of acknowledged) {
        const video = await client.videos.retrieve(id);
        assert.equal(video.id, id);
        assert.equal(video.prompt, prompt);
        assert.ok(['queued', 'in_progress', 'completed'].includes(video.status), `${id} is ${video.status}`);
      }
      // Nothing half-made: every stored video is one of the creates sent, whole.
      const listed = [];
      for await (const video of client.videos.list({ limit: 100 })) listed.push(video);
      assert.ok(listed.length >= acknowledged.length && listed.length <= total, `${listed.length} stored`);
      for (const video of listed) assert.match(video.prompt, /^A red ball bounces in a meadow, take \d+\.\d+$/);
    } finally {
      await server.stop('SIGKILL');  // hundreds of queued jobs: no need to wait for them
    }
  } finally {
    removeDataDir(dataDir);
  }
});

test('SIGKILL between storing a finished job\'s blobs and recording them: the orphans are collected', async () => {
  const dataDir = makeDataDir();
  try {
    const key = createKey(dataDir, 'hugo');
    // The process kills itself at that exact point.
    let server = await startServer(dataDir, ['--workers', '1'], { env: { OPSIS_CRASH_AT: 'job_blobs_stored' } });
    let client = clientFor(server, key);
    const { id } = await client.videos.create({ prompt: 'A green box slides right on a beach', model: 'opsis-studio', seconds: '1', size: '160x90' });
    const { signal } = await server.exited;
    assert.equal(signal, 'SIGKILL');
    const orphans = blobFiles(dataDir);
    assert.equal(orphans.length, 3, 'video, thumbnail and spritesheet were stored before the kill');

    // Within the grace period (default 1 h) start-up keeps them; the job is re-run and completes.
    server = await startServer(dataDir, ['--workers', '1']);
    client = clientFor(server, key);
    try {
      for (const orphan of orphans) assert.ok(blobFiles(dataDir).includes(orphan), `${orphan} kept within the grace period`);
      const done = await waitFor(client, id);
      assert.equal(done.status, 'completed');
    } finally {
      await server.stop();
    }

    // Past the grace period, start-up removes every blob nothing names: exactly the finished
    // video's three files remain.
    server = await startServer(dataDir, ['--workers', '1', '--orphan-grace-seconds', '0']);
    client = clientFor(server, key);
    try {
      const remaining = blobFiles(dataDir);
      const recorded = [];
      for (const variant of ['video', 'thumbnail', 'spritesheet']) {
        const response = await client.videos.downloadContent(id, { variant });
        recorded.push(sha256(new Uint8Array(await response.arrayBuffer())));
      }
      assert.deepEqual(remaining, [...recorded].sort());
      // The killed run's MP4 was signed with its own manifest id, so it was a true orphan.
      assert.ok(orphans.some((o) => !recorded.includes(o)), 'an orphan from the killed run was collected');
    } finally {
      await server.stop();
    }
  } finally {
    removeDataDir(dataDir);
  }
});

test('orphans are also collected periodically, only once past the grace period', async () => {
  const dataDir = makeDataDir();
  try {
    const key = createKey(dataDir, 'iris');
    const server = await startServer(dataDir, ['--workers', '1', '--sweep-seconds', '1', '--orphan-grace-seconds', '600']);
    const client = clientFor(server, key);
    try {
      const { id } = await client.videos.create({ prompt: 'A blue ball rolls left in a park', model: 'opsis-studio', seconds: '1', size: '160x90' });
      await waitFor(client, id);
      const kept = blobFiles(dataDir);
      assert.equal(kept.length, 3);
      // Two stray blobs appear while the server runs: one old, one new.
      const plant = (text, ageSeconds) => {
        const bytes = Buffer.from(text);
        const name = sha256(bytes);
        const dir = path.join(dataDir, 'blobs', name.slice(0, 2));
        if (!existsSync(dir)) mkdirSync(dir);
        writeFileSync(path.join(dir, name), bytes);
        const when = new Date(Date.now() - ageSeconds * 1000);
        utimesSync(path.join(dir, name), when, when);
        return name;
      };
      const old = plant('left behind an hour ago', 3600);
      const fresh = plant('stored a moment ago', 0);
      const deadline = Date.now() + 10000;
      while (blobFiles(dataDir).includes(old) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(blobFiles(dataDir), [...kept, fresh].sort(), 'the old orphan went; the fresh one and the video\'s files stay');
      // The video still plays, from one of the files kept.
      const response = await client.videos.downloadContent(id);
      assert.ok(kept.includes(sha256(new Uint8Array(await response.arrayBuffer()))));
    } finally {
      await server.stop();
    }
  } finally {
    removeDataDir(dataDir);
  }
});
