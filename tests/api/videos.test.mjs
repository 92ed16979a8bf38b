// The OpenAI Videos API as the real `openai` SDK sees it, against a running `opsis serve`.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, test } from 'node:test';
import OpenAI, { toFile } from 'openai';

import { assertValidMp4, createKey, isJpeg, isWebp, makeDataDir, mp4Duration, removeDataDir, startServer, waitFor } from './server.mjs';

const webhookSecret = 'whsec_' + Buffer.from('opsis webhook test secret').toString('base64');
let dataDir, server, client, hookServer;
const hooks = [];  // {headers, body} as received

before(async () => {
  hookServer = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      hooks.push({ headers: req.headers, body });
      res.writeHead(200).end();
    });
  });
  await new Promise((r) => hookServer.listen(0, '127.0.0.1', r));
  dataDir = makeDataDir();
  const key = createKey(dataDir, 'alice');
  server = await startServer(dataDir, [
    '--workers', '2', '--poll-after-ms', '100',
    '--webhook-url', `http://127.0.0.1:${hookServer.address().port}/hooks`, '--webhook-secret', webhookSecret,
  ]);
  client = new OpenAI({ apiKey: key, baseURL: server.baseURL, maxRetries: 0, webhookSecret });
});

after(async () => {
  const { code } = await server.stop('SIGTERM');
  hookServer.close();
  removeDataDir(dataDir);
  assert.equal(code, 0, 'opsis serve exits 0 on SIGTERM');
});

const small = { model: 'sora-2', seconds: '1', size: '160x90' };
let first;  // a completed video the later tests build on

async function download(id, variant) {
  const response = await client.videos.downloadContent(id, { variant });
  return { type: response.headers.get('content-type'), bytes: new Uint8Array(await response.arrayBuffer()) };
}

test('create (multipart) returns a queued video, then progresses to completed', async () => {
  const { data: created, request_id, response } =
    await client.videos.create({ prompt: 'A red ball bounces in a meadow, the camera dollies in', ...small }).withResponse();
  assert.match(request_id, /^req_[0-9a-f]{32}$/, 'x-request-id, as the SDK exposes it');
  assert.equal(created._request_id, request_id);
  assert.equal(response.headers.get('x-request-id'), request_id);
  assert.match(created.id, /^video_[0-9a-f]{32}$/);
  assert.equal(created.object, 'video');
  assert.equal(created.status, 'queued');
  assert.equal(created.model, 'sora-2', 'the model name is echoed as asked');
  assert.equal(created.resolved_model, 'opsis-studio', 'sora-2 is an alias of the default model');
  assert.equal(created.seconds, '1');
  assert.equal(created.size, '160x90');
  assert.equal(created.progress, 0);
  assert.equal(created.completed_at, null);
  assert.equal(created.remixed_from_video_id, null);
  assert.equal(created.error, null);
  const pollHeaders = [];
  first = await waitFor(client, created.id, { onPoll: (v, r) => v.status !== 'completed' && pollHeaders.push(r.headers.get('openai-poll-after-ms')) });
  assert.equal(first.status, 'completed');
  assert.equal(first.model, 'sora-2');
  assert.equal(first.resolved_model, 'opsis-studio');
  assert.equal(first.progress, 100);
  assert.ok(first.completed_at >= first.created_at);
  assert.ok(first.expires_at > first.completed_at);
  for (const h of pollHeaders) assert.equal(h, '100', 'unfinished videos carry openai-poll-after-ms');
});

test('create also takes a JSON body, input_reference as {image_url}', async () => {
  const image = (await download(first.id, 'thumbnail')).bytes;
  const response = await fetch(`${server.baseURL}/videos`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${client.apiKey}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ prompt: 'A white box in a forest', ...small,
                           input_reference: { image_url: 'data:image/webp;base64,' + Buffer.from(image).toString('base64') } }),
  });
  assert.equal(response.status, 200);
  const created = await response.json();
  assert.equal(created.status, 'queued');
  assert.equal((await waitFor(client, created.id)).status, 'completed');
  const broken = await fetch(`${server.baseURL}/videos`, {
    method: 'POST', headers: { Authorization: `Bearer ${client.apiKey}`, 'Content-Type': 'application/json' }, body: '{"prompt": ',
  });
  assert.equal(broken.status, 400);
  assert.equal((await broken.json()).error.type, 'invalid_request_error');
});

test('all three variants download as valid files of their type', async () => {
  const video = await download(first.id, 'video');
  assert.equal(video.type, 'video/mp4');
  assertValidMp4(video.bytes);
  assert.ok(Math.abs(mp4Duration(video.bytes) - 1) < 0.1, `1 s clip, got ${mp4Duration(video.bytes)}`);
  const thumbnail = await download(first.id, 'thumbnail');
  assert.equal(thumbnail.type, 'image/webp');
  assert.ok(isWebp(thumbnail.bytes));
  const sprites = await download(first.id, 'spritesheet');
  assert.equal(sprites.type, 'image/jpeg');
  assert.ok(isJpeg(sprites.bytes));
});

test('the MP4 honours HTTP Range requests', async () => {
  const whole = (await download(first.id, 'video')).bytes;
  const response = await fetch(`${server.baseURL}/videos/${first.id}/content`, {
    headers: { Authorization: `Bearer ${client.apiKey}`, Range: 'bytes=100-299' },
  });
  assert.equal(response.status, 206);
  assert.equal(response.headers.get('content-range'), `bytes 100-299/${whole.length}`);
  const part = new Uint8Array(await response.arrayBuffer());
  assert.deepEqual(part, whole.subarray(100, 300));
});

test('create with input_reference: an uploaded image file and a data: URL', async () => {
  const image = (await download(first.id, 'thumbnail')).bytes;  // a real WebP
  const withFile = await client.videos.create({
    prompt: 'A blue box on a beach', ...small,
    input_reference: await toFile(image, 'first.webp', { type: 'image/webp' }),
  });
  const dataUrl = 'data:image/webp;base64,' + encodeURIComponent(Buffer.from(image).toString('base64'));
  const withUrl = await client.videos.create({ prompt: 'A blue box on a beach', ...small, input_reference: { image_url: dataUrl } });
  for (const id of [withFile.id, withUrl.id]) {
    const done = await waitFor(client, id);
    assert.equal(done.status, 'completed', JSON.stringify(done.error));
    assertValidMp4((await download(id, 'video')).bytes);
  }
  // Not an image: a 400 naming the field.
  await assert.rejects(
    client.videos.create({ prompt: 'x', ...small, input_reference: await toFile(Buffer.from('not an image'), 'a.png', { type: 'image/png' }) }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === 'input_reference');
});

test('list walks every page with the SDK auto-pagination', async () => {
  const mine = [];
  for (let i = 0; i < 3; ++i) mine.push((await client.videos.create({ prompt: `A green balloon floats up, take ${i}`, ...small })).id);
  const seen = [];
  for await (const video of client.videos.list({ limit: 2 })) seen.push(video.id);
  const page = await client.videos.list({ limit: 2 });
  assert.equal(page.data.length, 2);
  assert.equal(page.has_more, true);
  assert.equal(new Set(seen).size, seen.length, 'no video twice');
  assert.ok(seen.length >= 6, `expected at least 6 videos across pages, saw ${seen.length}`);
  assert.deepEqual(seen.slice(0, 3), [...mine].reverse(), 'newest first by default');
  const ascending = [];
  for await (const video of client.videos.list({ limit: 3, order: 'asc' })) ascending.push(video.id);
  assert.deepEqual(ascending, [...seen].reverse());
  for (const id of mine) await waitFor(client, id);
});

test('remix keeps size and length and records its source', async () => {
  const remix = await client.videos.remix(first.id, { prompt: 'on a snowfield at night' });
  assert.equal(remix.remixed_from_video_id, first.id);
  assert.equal(remix.model, 'sora-2', 'a remix keeps its source\'s model as asked');
  assert.equal(remix.resolved_model, 'opsis-studio');
  assert.equal(remix.size, first.size);
  assert.equal(remix.seconds, first.seconds);
  const done = await waitFor(client, remix.id);
  assert.equal(done.status, 'completed', JSON.stringify(done.error));
  const a = (await download(first.id, 'thumbnail')).bytes, b = (await download(remix.id, 'thumbnail')).bytes;
  assert.notDeepEqual(a, b, 'the remix shows a changed scene');
});

test('extension holds the whole stitched clip', async () => {
  const extended = await client.videos.extend({ video: { id: first.id }, prompt: 'the camera pans left', seconds: '2' });
  assert.equal(extended.seconds, '3', 'seconds is the stitched total');
  assert.equal(extended.model, 'sora-2');
  assert.equal(extended.resolved_model, 'opsis-studio');
  const done = await waitFor(client, extended.id);
  assert.equal(done.status, 'completed', JSON.stringify(done.error));
  const bytes = (await download(extended.id, 'video')).bytes;
  assertValidMp4(bytes);
  assert.ok(Math.abs(mp4Duration(bytes) - 3) < 0.15, `3 s stitched clip, got ${mp4Duration(bytes)}`);
});

test('delete removes a finished video; deleting a running one cancels it', async () => {
  const deleted = await client.videos.delete(first.id);
  assert.deepEqual(deleted, { id: first.id, object: 'video.deleted', deleted: true });
  await assert.rejects(client.videos.retrieve(first.id), OpenAI.NotFoundError);
  await assert.rejects(client.videos.downloadContent(first.id), OpenAI.NotFoundError);

  const long = await client.videos.create({ prompt: 'A car rolls right on a city street', model: 'opsis-studio', seconds: '12', size: '640x360' });
  let video;
  for (;;) {
    video = await client.videos.retrieve(long.id);
    if (!(video.status === 'queued' || (video.status === 'in_progress' && video.progress === 0))) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(video.status, 'in_progress', 'the long job is running when deleted');
  await client.videos.delete(long.id);
  await assert.rejects(client.videos.retrieve(long.id), OpenAI.NotFoundError);
  // The worker notices at its next progress step.
  const deadline = Date.now() + 10000;
  let metrics = '';
  while (Date.now() < deadline && !/outcome="cancelled"} [1-9]/.test(metrics)) {
    metrics = await (await fetch(`${server.root}/metrics`)).text();
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.match(metrics, /opsis_jobs_finished_total\{outcome="cancelled"\} 1/);
});

test('errors raise the SDK error classes, with OpenAI\'s envelope', async () => {
  const bad = (fields) => client.videos.create({ prompt: 'A red ball', ...small, ...fields });
  for (const [fields, param] of [[{ size: '999x999' }, 'size'], [{ seconds: '26' }, 'seconds'], [{ seconds: 'four' }, 'seconds'],
                                 [{ model: 'no-such-model' }, 'model'], [{ prompt: '   ' }, 'prompt'], [{ prompt: 'x'.repeat(32001) }, 'prompt']]) {
    await assert.rejects(bad(fields), (e) => {
      assert.ok(e instanceof OpenAI.BadRequestError, `${JSON.stringify(fields).slice(0, 60)}: ${e}`);
      assert.equal(e.status, 400);
      assert.equal(e.param, param);
      assert.equal(e.type, 'invalid_request_error');
      assert.ok(e.error.message.length > 0);
      return true;
    });
  }
  await assert.rejects(client.videos.list({ limit: 101 }), (e) => e instanceof OpenAI.BadRequestError && e.param === 'limit');
  await assert.rejects(client.videos.list({ limit: -1 }), (e) => e instanceof OpenAI.BadRequestError && e.param === 'limit');
  // Error bodies carry the response's request id, which the SDK exposes as requestID.
  await assert.rejects(bad({ size: '999x999' }), (e) => {
    assert.match(e.requestID, /^req_[0-9a-f]{32}$/);
    assert.equal(e.error.request_id, e.requestID);
    return true;
  });
  await assert.rejects(client.videos.retrieve('video_00000000000000000000000000000000'), OpenAI.NotFoundError);
  const stranger = new OpenAI({ apiKey: 'sk-opsis-wrong', baseURL: server.baseURL, maxRetries: 0 });
  await assert.rejects(stranger.videos.list(), OpenAI.AuthenticationError);
  const anonymous = await fetch(`${server.baseURL}/videos`);
  assert.equal(anonymous.status, 401);
  assert.equal((await anonymous.json()).error.code, 'missing_api_key');
  // Remixing or extending a video that is not finished is refused.
  const pending = await client.videos.create({ prompt: 'A bird flies left', model: 'opsis-studio', seconds: '8', size: '320x180' });
  await assert.rejects(client.videos.remix(pending.id, { prompt: 'at night' }),
    (e) => e instanceof OpenAI.BadRequestError && e.code === 'video_not_ready');
  await assert.rejects(client.videos.extend({ video: { id: pending.id }, prompt: 'on', seconds: '1' }),
    (e) => e instanceof OpenAI.BadRequestError && e.code === 'video_not_ready');
  await assert.rejects(client.videos.downloadContent(pending.id), (e) => e instanceof OpenAI.NotFoundError && e.code === 'video_not_ready');
  await client.videos.delete(pending.id);
});

test('the spec\'s types: wrong ones are a 400 naming the param, nothing is converted', async () => {
  const post = async (path, body) => {
    const r = await fetch(`${server.baseURL}${path}`, {
      method: 'POST', headers: { Authorization: `Bearer ${client.apiKey}`, 'Content-Type': 'application/json' }, body: JSON.stringify(body),
    });
    return { status: r.status, requestId: r.headers.get('x-request-id'), body: await r.json() };
  };
  const base = { prompt: 'A red ball', ...small };
  for (const [fields, param] of [[{ prompt: 42 }, 'prompt'], [{ seconds: 4 }, 'seconds'], [{ seconds: 1 }, 'seconds'],
                                 [{ size: 160 }, 'size'], [{ model: 2 }, 'model'], [{ prompt: ['A red ball'] }, 'prompt'],
                                 [{ prompt: true }, 'prompt'], [{ seconds: { value: '1' } }, 'seconds'], [{ input_reference: 5 }, 'input_reference'],
                                 [{ input_reference: {} }, 'input_reference'], [{ input_reference: { image_url: 5 } }, 'input_reference.image_url']]) {
    const r = await post('/videos', { ...base, ...fields });
    assert.equal(r.status, 400, JSON.stringify(fields));
    assert.equal(r.body.error.type, 'invalid_request_error');
    assert.equal(r.body.error.param, param, JSON.stringify(fields));
    assert.equal(r.body.error.request_id, r.requestId);
  }
  const remixed = await post('/videos/video_00000000000000000000000000000000/remix', { prompt: 42 });
  assert.equal(remixed.status, 400);
  assert.equal(remixed.body.error.param, 'prompt');
  const extended = await post('/videos/extensions', { video: { id: 'video_00000000000000000000000000000000' }, prompt: 'on', seconds: 2 });
  assert.equal(extended.status, 400);
  assert.equal(extended.body.error.param, 'seconds');
  // The spec's minimum for limit is 0: an empty page that says whether there is more.
  const empty = await client.videos.list({ limit: 0 });
  assert.deepEqual(empty.data, []);
  assert.equal(empty.has_more, true);
  const raw = await (await fetch(`${server.baseURL}/videos?limit=0`, { headers: { Authorization: `Bearer ${client.apiKey}` } })).json();
  assert.deepEqual(raw, { object: 'list', data: [], first_id: null, last_id: null, has_more: true });
});

test('webhooks arrive signed the way the SDK verifies them', async () => {
  const deadline = Date.now() + 10000;
  while (Date.now() < deadline && !hooks.some((h) => JSON.parse(h.body).data.id === first.id))
    await new Promise((r) => setTimeout(r, 100));
  const hook = hooks.find((h) => JSON.parse(h.body).data.id === first.id);
  assert.ok(hook, 'a webhook for the first video');
  const event = await client.webhooks.unwrap(hook.body, hook.headers, webhookSecret);
  assert.equal(event.type, 'video.completed');
  assert.equal(event.object, 'event');
  await assert.rejects(client.webhooks.unwrap(hook.body.replace('video.completed', 'video.failed'), hook.headers, webhookSecret));
});

test('health, metrics and the OpenAPI document', async () => {
  const health = await (await fetch(`${server.root}/healthz`)).json();
  assert.equal(health.status, 'ok');
  const metrics = await (await fetch(`${server.root}/metrics`)).text();
  assert.match(metrics, /^opsis_jobs_queued \d+$/m);
  assert.match(metrics, /^opsis_jobs_finished_total\{outcome="completed"\} \d+$/m);
  assert.match(metrics, /^opsis_job_duration_seconds_count \d+$/m);
  const openapi = await (await fetch(`${server.baseURL}/openapi.json`)).json();
  assert.equal(openapi.openapi, '3.1.0');
  for (const p of ['/v1/videos', '/v1/videos/{video_id}', '/v1/videos/{video_id}/content', '/v1/videos/{video_id}/remix', '/v1/videos/extensions'])
    assert.ok(openapi.paths[p], p);
  const models = await (await fetch(`${server.baseURL}/models`, { headers: { Authorization: `Bearer ${client.apiKey}` } })).json();
  assert.ok(models.data.some((m) => m.id === 'opsis-studio' && m.sizes.includes('1280x720')));
});
