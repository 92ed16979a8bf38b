// Nothing accepted is lost: SIGKILL in the middle of a generation, restart, and every
// accepted job still finishes; SIGTERM re-queues running work. No response is ever a
// partial file.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { test } from 'node:test';
import OpenAI from 'openai';

import { assertValidMp4, createKey, makeDataDir, mp4Duration, removeDataDir, startServer, waitFor } from './server.mjs';

const clientFor = (server, key) => new OpenAI({ apiKey: key, baseURL: server.baseURL, maxRetries: 0 });

async function downloadWhole(client, id) {
  const response = await client.videos.downloadContent(id);
  const bytes = new Uint8Array(await response.arrayBuffer());
  assert.equal(Number(response.headers.get('content-length')), bytes.length);
  assertValidMp4(bytes);  // every box whole: never a half-written file
  return bytes;
}

async function waitUntilRunning(client, id) {
  for (;;) {
    const v = await client.videos.retrieve(id);
    if (v.status === 'in_progress' && v.progress > 0) return v;
    assert.ok(v.status === 'queued' || v.status === 'in_progress', `unexpected ${v.status}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('SIGKILL during a generation: after a restart every accepted job completes', async () => {
  const dataDir = makeDataDir();
  try {
    const key = createKey(dataDir, 'carol');
    let server = await startServer(dataDir, ['--workers', '1']);
    let client = clientFor(server, key);
    // Long enough (3 s at 640x360) that the kill lands mid-render.
    const ids = [];
    for (const prompt of ['A red ball bounces in a meadow', 'A blue car rolls left on a city street', 'A yellow balloon floats up at night'])
      ids.push((await client.videos.create({ prompt, model: 'opsis-studio', seconds: '3', size: '640x360' })).id);
    const running = await waitUntilRunning(client, ids[0]);
    assert.ok(running.progress < 100);
    const { signal } = await server.stop('SIGKILL');
    assert.equal(signal, 'SIGKILL');

    server = await startServer(dataDir, ['--workers', '1']);
    client = clientFor(server, key);
    try {
      // Answers during recovery are whole too: content of unfinished videos is a 404, never bytes.
      for (const id of ids) {
        const done = await waitFor(client, id, {
          onPoll: async (v) => {
            if (v.status !== 'completed') await assert.rejects(client.videos.downloadContent(id), OpenAI.NotFoundError);
          },
        });
        assert.equal(done.status, 'completed', `${id}: ${JSON.stringify(done.error)}`);
        const bytes = await downloadWhole(client, id);
        assert.ok(Math.abs(mp4Duration(bytes) - 3) < 0.1);
      }
      const metrics = await (await fetch(`${server.root}/metrics`)).text();
      assert.match(metrics, /^opsis_jobs_requeued_total 1$/m, 'the interrupted job was re-queued on start');
    } finally {
      await server.stop();
    }
  } finally {
    removeDataDir(dataDir);
  }
});

test('a job killed on every attempt ends failed with a reason', async () => {
  const dataDir = makeDataDir();
  try {
    const key = createKey(dataDir, 'dave');
    let id;
    for (let attempt = 1; attempt <= 2; ++attempt) {
      const server = await startServer(dataDir, ['--workers', '1', '--max-attempts', '2']);
      const client = clientFor(server, key);
      if (!id) id = (await client.videos.create({ prompt: 'A black box spins in a desert', model: 'opsis-studio', seconds: '4', size: '640x360' })).id;
      await waitUntilRunning(client, id);
      await server.stop('SIGKILL');
    }
    // The restart that gives up announces it: a signed video.failed webhook.
    const hooks = [];
    const receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        hooks.push({ headers: req.headers, body });
        res.writeHead(204).end();
      });
    });
    await new Promise((r) => receiver.listen(0, '127.0.0.1', r));
    const secret = 'whsec_' + Buffer.from('durability').toString('base64');
    const server = await startServer(dataDir, ['--workers', '1', '--max-attempts', '2', '--webhook-secret', secret,
                                               '--webhook-url', `http://127.0.0.1:${receiver.address().port}/`]);
    try {
      const client = clientFor(server, key);
      const video = await client.videos.retrieve(id);
      assert.equal(video.status, 'failed');
      assert.equal(video.error.code, 'worker_lost');
      assert.match(video.error.message, /2 times/);
      const deadline = Date.now() + 10000;
      while (hooks.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.equal(hooks.length, 1);
      const event = await client.webhooks.unwrap(hooks[0].body, hooks[0].headers, secret);
      assert.equal(event.type, 'video.failed');
      assert.equal(event.data.id, id);
    } finally {
      await server.stop();
      receiver.close();
    }
  } finally {
    removeDataDir(dataDir);
  }
});

test('SIGTERM re-queues running work, which completes after the restart', async () => {
  const dataDir = makeDataDir();
  try {
    const key = createKey(dataDir, 'erin');
    let server = await startServer(dataDir, ['--workers', '1', '--shutdown-grace-ms', '0']);
    let client = clientFor(server, key);
    const { id } = await client.videos.create({ prompt: 'A purple ball rolls right on a beach', model: 'opsis-studio', seconds: '4', size: '640x360' });
    await waitUntilRunning(client, id);
    const { code } = await server.stop('SIGTERM');
    assert.equal(code, 0);

    server = await startServer(dataDir, ['--workers', '1']);
    client = clientFor(server, key);
    try {
      // Stopped part-way (grace 0) and put back: not finished before the restart.
      const queued = await client.videos.retrieve(id);
      assert.ok(queued.status === 'queued' || queued.status === 'in_progress', queued.status);
      assert.equal(queued.completed_at, null);
      const done = await waitFor(client, id);
      assert.equal(done.status, 'completed');
      await downloadWhole(client, id);
    } finally {
      await server.stop();
    }
  } finally {
    removeDataDir(dataDir);
  }
});
