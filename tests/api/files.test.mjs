// /v1/files (purpose "vision", scoped to the user) and input_reference as {file_id} or a
// remote image_url fetched SSRF-safely, through the real `openai` SDK. This machine has no
// internet: the refusals and the off switch are what can be tested here.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { deflateSync } from 'node:zlib';
import OpenAI, { toFile } from 'openai';

import { createKey, makeDataDir, removeDataDir, startServer, waitFor } from './server.mjs';

let dataDir, server, client, other;

before(async () => {
  dataDir = makeDataDir();
  const key = createKey(dataDir, 'nina');
  const otherKey = createKey(dataDir, 'omar');
  server = await startServer(dataDir, ['--workers', '1', '--poll-after-ms', '100']);
  client = new OpenAI({ apiKey: key, baseURL: server.baseURL, maxRetries: 0 });
  other = new OpenAI({ apiKey: otherKey, baseURL: server.baseURL, maxRetries: 0 });
});

after(async () => {
  await server.stop();
  removeDataDir(dataDir);
});

// A PNG of one colour, made here (zlib + CRC-32), so the first frame can be checked against it.
function solidPng(width, height, [r, g, b]) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; ++k) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (bytes) => {
    let c = 0xffffffff;
    for (const byte of bytes) c = crcTable[(c ^ byte) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    out.write(type, 4, 'ascii');
    data.copy(out, 8);
    out.writeUInt32BE(crc(out.subarray(4, 8 + data.length)), 8 + data.length);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8;  // bit depth
  header[9] = 2;  // RGB
  const rows = Buffer.alloc(height * (1 + width * 3));
  for (let y = 0; y < height; ++y)
    for (let x = 0; x < width; ++x) rows.set([r, g, b], y * (1 + width * 3) + 1 + x * 3);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', header),
                        chunk('IDAT', deflateSync(rows)), chunk('IEND', Buffer.alloc(0))]);
}

// The mean colour of frame 0, decoded by FFmpeg.
function firstFrameMean(bytes) {
  const dir = mkdtempSync(path.join(tmpdir(), 'opsis-files-'));
  try {
    writeFileSync(path.join(dir, 'clip.mp4'), bytes);
    const run = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', path.join(dir, 'clip.mp4'), '-frames:v', '1',
                                     '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], { maxBuffer: 1 << 24 });
    assert.equal(run.status, 0, String(run.stderr));
    const sum = [0, 0, 0];
    for (let i = 0; i < run.stdout.length; ++i) sum[i % 3] += run.stdout[i];
    return sum.map((s) => s / (run.stdout.length / 3));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const isFile = (f) => {
  assert.match(f.id, /^file-[0-9a-f]{24}$/);
  assert.equal(f.object, 'file');
  assert.ok(Number.isInteger(f.bytes) && f.bytes > 0);
  assert.ok(Number.isInteger(f.created_at));
  assert.equal(typeof f.filename, 'string');
  assert.equal(f.purpose, 'vision');
};
const small = { model: 'opsis-studio', seconds: '1', size: '160x90' };
const videoCount = async (c = client) => (await c.videos.list({ limit: 100 })).data.length;

test('a vision file is the first frame of a video made with input_reference: {file_id}', async () => {
  const png = solidPng(64, 36, [250, 30, 40]);
  const file = await client.files.create({ file: await toFile(png, 'red.png', { type: 'image/png' }), purpose: 'vision' });
  isFile(file);
  assert.equal(file.bytes, png.length);
  assert.equal(file.filename, 'red.png');
  isFile(await client.files.retrieve(file.id));
  assert.ok((await client.files.list()).data.some((f) => f.id === file.id));
  assert.deepEqual(Buffer.from(await (await client.files.content(file.id)).arrayBuffer()), png);

  const video = await client.videos.create({ prompt: 'A ball in a meadow', ...small, input_reference: { file_id: file.id } });
  const done = await waitFor(client, video.id);
  assert.equal(done.status, 'completed', JSON.stringify(done.error));
  const [r, g, b] = firstFrameMean(new Uint8Array(await (await client.videos.downloadContent(video.id)).arrayBuffer()));
  assert.ok(r > 180 && g < 90 && b < 90, `frame 0 is the red image: ${[r, g, b]}`);

  // Another user sees no such file, and cannot use it.
  await assert.rejects(other.files.retrieve(file.id), OpenAI.NotFoundError);
  await assert.rejects(other.files.delete(file.id), OpenAI.NotFoundError);
  assert.ok(!(await other.files.list()).data.some((f) => f.id === file.id));
  await assert.rejects(other.videos.create({ prompt: 'A ball', ...small, input_reference: { file_id: file.id } }),
                       (e) => e instanceof OpenAI.BadRequestError && e.param === 'input_reference');

  // Deleting the file keeps what the video still names; the video plays on.
  const deleted = await client.files.delete(file.id);
  assert.deepEqual({ id: deleted.id, object: deleted.object, deleted: deleted.deleted }, { id: file.id, object: 'file', deleted: true });
  await assert.rejects(client.files.retrieve(file.id), OpenAI.NotFoundError);
  await assert.rejects(client.videos.create({ prompt: 'A ball', ...small, input_reference: { file_id: file.id } }),
                       (e) => e instanceof OpenAI.BadRequestError && e.param === 'input_reference');
  assert.ok((await (await client.videos.downloadContent(video.id)).arrayBuffer()).byteLength > 0);
});

test('bad uploads are refused and store nothing', async () => {
  const before = (await client.files.list()).data.length;
  await assert.rejects(client.files.create({ file: await toFile(solidPng(8, 8, [0, 0, 0]), 'a.png'), purpose: 'assistants' }),
                       (e) => e instanceof OpenAI.BadRequestError && e.param === 'purpose');
  await assert.rejects(client.files.create({ file: await toFile(Buffer.from('plain text'), 'a.txt'), purpose: 'vision' }),
                       (e) => e instanceof OpenAI.BadRequestError && e.param === 'file');
  await assert.rejects(client.files.create({ purpose: 'vision' }), (e) => e instanceof OpenAI.BadRequestError && e.param === 'file');
  assert.equal((await client.files.list()).data.length, before);
});

test('remote image_url: only https, only public addresses after resolution, a precise error otherwise', async () => {
  const before = await videoCount();
  for (const [url, reason] of [
    ['http://example.com/a.png', /only https:\/\//],
    ['ftp://example.com/a.png', /https:\/\/ or data: URL/],
    ['https://127.0.0.1/a.png', /127\.0\.0\.1.*only public addresses/],
    ['https://localhost:8443/a.png', /resolves to .*only public addresses/],
    ['https://[::1]/a.png', /only public addresses/],
    ['https://169.254.169.254/latest/meta-data/', /only public addresses/],
    ['https://10.1.2.3/a.png', /only public addresses/],
    ['https://[::ffff:192.168.0.1]/a.png', /only public addresses/],
    ['https://user:secret@example.com/a.png', /user names and passwords/],
    ['https://no-such-host.invalid/a.png', /cannot resolve no-such-host\.invalid/],
  ])
    await assert.rejects(client.videos.create({ prompt: 'A ball', ...small, input_reference: { image_url: url } }), (e) => {
      assert.ok(e instanceof OpenAI.BadRequestError, `${url}: ${e}`);
      assert.equal(e.param, 'input_reference');
      assert.match(e.message, reason, url);
      return true;
    });
  await assert.rejects(client.videos.create({ prompt: 'A ball', ...small, input_reference: { image_url: 'data:,x', file_id: 'file-1' } }),
                       (e) => e instanceof OpenAI.BadRequestError && e.param === 'input_reference');
  assert.equal(await videoCount(), before, 'nothing queued');
});

test('remote image_url can be switched off (--no-remote-images); data: URLs still work', async () => {
  const offDir = makeDataDir();
  const off = await startServer(offDir, ['--workers', '1', '--no-remote-images']);
  try {
    const c = new OpenAI({ apiKey: 'local', baseURL: off.baseURL, maxRetries: 0 });
    await assert.rejects(c.videos.create({ prompt: 'A ball', ...small, input_reference: { image_url: 'https://example.com/a.png' } }),
                         (e) => e instanceof OpenAI.BadRequestError && e.param === 'input_reference' && /does not fetch remote URLs/.test(e.message));
    const dataUrl = `data:image/png;base64,${solidPng(16, 9, [20, 200, 30]).toString('base64')}`;
    const video = await c.videos.create({ prompt: 'A ball', ...small, input_reference: { image_url: dataUrl } });
    assert.equal(video.status, 'queued');
  } finally {
    await off.stop();
    removeDataDir(offDir);
  }
});
