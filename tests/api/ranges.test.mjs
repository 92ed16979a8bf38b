// Range requests on /v1/videos/{id}/content (RFC 9110 §14), on every variant, checked on the
// wire with node:http (Content-Length against the bytes that arrive) since the SDK only
// downloads whole files; and x-request-id with the access log.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, test } from 'node:test';
import OpenAI from 'openai';

import { createKey, makeDataDir, removeDataDir, startServer, waitFor } from './server.mjs';

let dataDir, server, client, key, video;
const wholes = {};  // variant -> Buffer
const types = { video: 'video/mp4', thumbnail: 'image/webp', spritesheet: 'image/jpeg' };

before(async () => {
  dataDir = makeDataDir();
  key = createKey(dataDir, 'alice');
  server = await startServer(dataDir, ['--poll-after-ms', '100'], { accessLog: true });
  client = new OpenAI({ apiKey: key, baseURL: server.baseURL, maxRetries: 0 });
  const created = await client.videos.create({ prompt: 'A red ball bounces in a meadow', model: 'sora-2', seconds: '1', size: '160x90' });
  video = await waitFor(client, created.id);
  assert.equal(video.status, 'completed');
  for (const variant of Object.keys(types))
    wholes[variant] = Buffer.from(await (await client.videos.downloadContent(video.id, { variant })).arrayBuffer());
});

after(async () => {
  const { code } = await server.stop('SIGTERM');
  removeDataDir(dataDir);
  assert.equal(code, 0);
});

// One request on a fresh connection: status, headers, and every byte that arrived before the
// server closed or finished (a body shorter or longer than Content-Length shows here).
function raw(path, headers = {}, method = 'GET') {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: server.port, path, method, agent: false,
                               headers: { Authorization: `Bearer ${key}`, Connection: 'close', ...headers } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.setTimeout(10000, () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

const content = (variant, range, extra = {}) =>
  raw(`/v1/videos/${video.id}/content?variant=${variant}`, range === undefined ? extra : { Range: range, ...extra });

function assertWhole(r, variant, what) {
  const whole = wholes[variant];
  assert.equal(r.status, 200, `${variant} ${what}: ${r.body.subarray(0, 200)}`);
  assert.equal(r.headers['content-range'], undefined, what);
  assert.equal(r.headers['content-type'], types[variant]);
  assert.equal(Number(r.headers['content-length']), whole.length, what);
  assert.ok(r.body.equals(whole), `${variant} ${what}: the whole file`);
}

function assertPart(r, variant, first, last, what) {
  const whole = wholes[variant];
  assert.equal(r.status, 206, `${variant} ${what}: ${r.body.subarray(0, 200)}`);
  assert.equal(r.headers['content-range'], `bytes ${first}-${last}/${whole.length}`, what);
  assert.equal(r.headers['content-type'], types[variant]);
  assert.equal(Number(r.headers['content-length']), last - first + 1, what);
  assert.ok(r.body.equals(whole.subarray(first, last + 1)), `${variant} ${what}: bytes ${first}-${last}`);
}

function assert416(r, variant, what) {
  assert.equal(r.status, 416, `${variant} ${what}: got ${r.status}`);
  assert.equal(r.headers['content-range'], `bytes */${wholes[variant].length}`, what);
  assert.equal(Number(r.headers['content-length']), r.body.length, what);
  const body = JSON.parse(r.body);
  assert.equal(body.error.type, 'invalid_request_error');
  assert.equal(body.error.code, 'range_not_satisfiable');
  assert.equal(body.error.request_id, r.headers['x-request-id']);
}

// Splits a multipart/byteranges body into its parts' headers and bytes.
function parseByteranges(r) {
  const match = /^multipart\/byteranges; boundary=(.+)$/.exec(r.headers['content-type']);
  assert.ok(match, `multipart content type, got ${r.headers['content-type']}`);
  const delimiter = Buffer.from(`--${match[1]}`);
  const parts = [];
  let at = r.body.indexOf(delimiter);
  assert.equal(at, 0, 'the body starts with the first delimiter');
  for (;;) {
    at += delimiter.length;
    if (r.body.subarray(at, at + 4).toString() === '--\r\n') {
      assert.equal(at + 4, r.body.length, 'nothing after the close delimiter');
      return parts;
    }
    const headerEnd = r.body.indexOf('\r\n\r\n', at);
    const headers = Object.fromEntries(r.body.subarray(at + 2, headerEnd).toString().split('\r\n').map((l) => {
      const colon = l.indexOf(':');
      return [l.slice(0, colon).toLowerCase(), l.slice(colon + 1).trim()];
    }));
    const next = r.body.indexOf(Buffer.concat([Buffer.from('\r\n'), delimiter]), headerEnd + 4);
    assert.ok(next > 0, 'each part ends at a delimiter');
    parts.push({ headers, bytes: r.body.subarray(headerEnd + 4, next) });
    at = next + 2;
  }
}

for (const variant of Object.keys(types)) {
  test(`${variant}: ranges within, past and beyond the end`, async () => {
    const n = wholes[variant].length;
    assert.ok(n > 300, `${variant} is ${n} bytes`);
    assertWhole(await content(variant), variant, 'no Range');
    assert.equal((await content(variant)).headers['accept-ranges'], 'bytes');
    assertPart(await content(variant, 'bytes=100-299'), variant, 100, 299, 'inside');
    assertPart(await content(variant, `bytes=0-${n - 1}`), variant, 0, n - 1, 'exactly all');
    assertPart(await content(variant, `bytes=0-${n + 65535}`), variant, 0, n - 1, 'last past the end: clamped');
    assertPart(await content(variant, 'bytes=0-65535'), variant, 0, Math.min(65535, n - 1), 'the issue\'s 0-65535');
    assertPart(await content(variant, `bytes=10-${n * 4}`), variant, 10, n - 1, 'clamped from 10');
    assertPart(await content(variant, `bytes=${n - 1}-`), variant, n - 1, n - 1, 'the last byte');
    assertPart(await content(variant, 'bytes=50-'), variant, 50, n - 1, 'open-ended');
    assertPart(await content(variant, 'bytes=-100'), variant, n - 100, n - 1, 'suffix');
    assertPart(await content(variant, `bytes=-${n * 3}`), variant, 0, n - 1, 'suffix longer than the file');
    assertPart(await content(variant, 'bytes=0-99999999999999999999999'), variant, 0, n - 1, 'last past 2^64');
    assertPart(await content(variant, 'bytes=-99999999999999999999999'), variant, 0, n - 1, 'suffix past 2^64');
    assertPart(await content(variant, 'Bytes=0-9'), variant, 0, 9, 'the unit in another case');
    assert416(await content(variant, `bytes=${n}-`), variant, 'start at the end');
    assert416(await content(variant, `bytes=${n + 10}-${n + 20}`), variant, 'start past the end');
    assert416(await content(variant, 'bytes=18446744073709551615-'), variant, 'start at 2^64 - 1');
    assert416(await content(variant, 'bytes=99999999999999999999999-'), variant, 'start past 2^64');
    assert416(await content(variant, 'bytes=-0'), variant, 'empty suffix');
  });

  test(`${variant}: malformed and hostile Range headers are 416, never a corrupt body`, async () => {
    for (const range of ['bytes=abc', 'bytes=5-2', 'bytes=-', 'bytes=', 'bytes=1-2-3', 'bytes=--5', 'bytes=-5-', 'bytes=-1-2',
                         'bytes=0x10-20', 'bytes=+1-2', 'bytes=1-2,abc', 'bytes=0-1,5-2', 'bytes=0-1,18446744073709551616-1',
                         'bytes', 'bytes =0-5', '=0-5', 'bytes=1.5-2', 'bytes=\xff-1', 'bytes=0-1,\xfe\xff'])
      assert416(await content(variant, range), variant, range);
  });

  test(`${variant}: several ranges as multipart/byteranges; overlapping or too many answered whole`, async () => {
    const whole = wholes[variant], n = whole.length;
    const r = await content(variant, `bytes=0-9, 20-29,,-5,${n + 100}-`);
    assert.equal(r.status, 206);
    assert.equal(r.headers['content-range'], undefined, 'a multipart answer has Content-Range in its parts');
    assert.equal(Number(r.headers['content-length']), r.body.length);
    const parts = parseByteranges(r);
    assert.deepEqual(parts.map((p) => p.headers['content-range']), [`bytes 0-9/${n}`, `bytes 20-29/${n}`, `bytes ${n - 5}-${n - 1}/${n}`]);
    for (const p of parts) assert.equal(p.headers['content-type'], types[variant]);
    assert.ok(parts[0].bytes.equals(whole.subarray(0, 10)));
    assert.ok(parts[1].bytes.equals(whole.subarray(20, 30)));
    assert.ok(parts[2].bytes.equals(whole.subarray(n - 5)));
    // One satisfiable range left: a plain 206.
    assertPart(await content(variant, `bytes=${n + 5}-,3-4`), variant, 3, 4, 'one of two satisfiable');
    assertWhole(await content(variant, 'bytes=0-99,50-149'), variant, 'overlapping');
    assertWhole(await content(variant, 'bytes=0-,-10'), variant, 'overlapping open and suffix');
    const many = Array.from({ length: 40 }, (_, i) => `${i * 3}-${i * 3 + 1}`).join(',');
    assertWhole(await content(variant, `bytes=${many}`), variant, '40 ranges');
  });

  test(`${variant}: other units, If-Range and HEAD ignore Range`, async () => {
    assertWhole(await content(variant, 'items=0-5'), variant, 'another unit');
    assertWhole(await content(variant, 'bytes=0-9', { 'If-Range': '"some-etag"' }), variant, 'If-Range never matches');
    const h = await raw(`/v1/videos/${video.id}/content?variant=${variant}`, { Range: 'bytes=0-9' }, 'HEAD');
    assert.equal(h.status, 200);
    assert.equal(Number(h.headers['content-length']), wholes[variant].length);
    assert.equal(h.body.length, 0);
  });
}

test('the SDK passes a Range header through and gets the part', async () => {
  const response = await client.videos.downloadContent(video.id, { variant: 'thumbnail' }, { headers: { Range: 'bytes=0-11' } });
  assert.equal(response.status, 206);
  const bytes = Buffer.from(await response.arrayBuffer());
  assert.ok(bytes.equals(wholes.thumbnail.subarray(0, 12)));
  assert.equal(bytes.subarray(0, 4).toString(), 'RIFF');
});

test('Range never slices JSON answers or errors', async () => {
  const json = await raw(`/v1/videos/${video.id}`, { Range: 'bytes=0-5' });
  assert.equal(json.status, 200);
  assert.equal(JSON.parse(json.body).id, video.id);
  for (const range of ['bytes=0-5', 'bytes=5000-', 'bytes=0-1,3-4']) {
    const missing = await raw('/v1/videos/video_00000000000000000000000000000000/content', { Range: range });
    assert.equal(missing.status, 404, range);
    assert.equal(JSON.parse(missing.body).error.code, 'not_found', range);
    const wrong = await raw(`/v1/videos/${video.id}/content?variant=poster`, { Range: range });
    assert.equal(wrong.status, 400, range);
    assert.equal(JSON.parse(wrong.body).error.param, 'variant', range);
  }
  // Authentication comes first, whatever the Range says.
  const stranger = await raw(`/v1/videos/${video.id}/content`, { Range: 'bytes=abc', Authorization: 'Bearer sk-opsis-wrong' });
  assert.equal(stranger.status, 401);
});

test('every response carries an x-request-id, in the access log and in error bodies', async () => {
  const ids = new Set();
  for (const [path, headers] of [[`/v1/videos/${video.id}`, {}], [`/v1/videos/${video.id}/content`, { Range: 'bytes=0-1' }],
                                 [`/v1/videos/${video.id}/content`, { Range: 'bytes=abc' }], ['/healthz', {}], ['/no/such/route', {}],
                                 ['/v1/videos?limit=abc', {}]]) {
    const r = await raw(path, headers);
    assert.match(r.headers['x-request-id'] ?? '', /^req_[0-9a-f]{32}$/, path);
    if (r.status >= 400) assert.equal(JSON.parse(r.body).error.request_id, r.headers['x-request-id'], path);
    ids.add(r.headers['x-request-id']);
  }
  assert.equal(ids.size, 6, 'a new id for each request');
  // Paths and Range headers that are not UTF-8 once decoded are logged and quoted safely.
  assert.equal((await raw('/%ff%fe')).status, 404);
  assert.equal((await raw(`/v1/videos/${video.id}/content?variant=%ff`)).status, 400);
  assert.equal((await raw(`/v1/videos/${video.id}/content`, { Range: 'bytes=\xff' })).status, 416);
  assert.equal((await raw('/healthz')).status, 200, 'the server is still up');
  const { request_id } = await client.videos.retrieve(video.id).withResponse();
  await new Promise((r) => setTimeout(r, 100));
  const line = server.stderr().split('\n').find((l) => l.includes(request_id));
  assert.ok(line, 'the access log names the request id');
  assert.equal(JSON.parse(line).request_id, request_id);
  assert.equal(JSON.parse(line).path, `/v1/videos/${video.id}`);
});
