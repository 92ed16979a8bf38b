// Conformance: the real `openai` SDK drives every video endpoint, and every response is
// checked against the spec's schemas (Video, VideoList, DeletedVideo, VideoCharacter, and the
// error envelope), written here from the facts of OpenAI's openapi.yaml: all 13 Video fields
// are required, the nullable ones present as null.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import OpenAI, { toFile } from 'openai';

import { createKey, makeDataDir, removeDataDir, startServer, waitFor } from './server.mjs';

// ---- schemas ------------------------------------------------------------------------------
const isInt = (v) => Number.isInteger(v);
const str = (v) => typeof v === 'string';
const nullOr = (check) => (v) => v === null || check(v);
const oneOf = (...values) => (v) => values.includes(v);

const VideoSchema = {
  id: (v) => str(v) && /^video_/.test(v),
  object: oneOf('video'),
  model: str,
  status: oneOf('queued', 'in_progress', 'completed', 'failed'),
  progress: (v) => isInt(v) && v >= 0 && v <= 100,
  created_at: isInt,
  completed_at: nullOr(isInt),
  expires_at: nullOr(isInt),
  prompt: nullOr(str),
  size: str,
  seconds: str,
  remixed_from_video_id: nullOr(str),
  error: nullOr((e) => typeof e === 'object' && str(e.code) && str(e.message)),
};
const DeletedVideoSchema = { id: str, object: oneOf('video.deleted'), deleted: (v) => v === true };
const VideoCharacterSchema = { id: nullOr(str), name: nullOr(str), created_at: isInt };
const ErrorSchema = {
  message: str, type: str, param: nullOr(str), code: nullOr(str), request_id: (v) => str(v) && /^req_[0-9a-f]{32}$/.test(v),
};

function conforms(value, schema, name) {
  assert.equal(typeof value, 'object', `${name} is an object`);
  assert.notEqual(value, null, `${name} is not null`);
  for (const [field, check] of Object.entries(schema)) {
    assert.ok(Object.hasOwn(value, field), `${name}.${field} is present (required by the spec)`);
    assert.ok(check(value[field]), `${name}.${field} has the spec's type: ${JSON.stringify(value[field])}`);
  }
}
const isVideo = (v) => conforms(v, VideoSchema, 'Video');
function isVideoList(page) {
  conforms(page, { object: oneOf('list'), data: Array.isArray, first_id: nullOr(str), last_id: nullOr(str), has_more: (v) => typeof v === 'boolean' }, 'VideoList');
  page.data.forEach(isVideo);
  assert.equal(page.first_id, page.data.length ? page.data[0].id : null);
  assert.equal(page.last_id, page.data.length ? page.data.at(-1).id : null);
}
// An SDK error: its class, status, and the body's envelope.
const apiError = (Class, status, param, code) => (e) => {
  assert.ok(e instanceof Class, `${e?.constructor?.name}: ${e?.message}`);
  assert.equal(e.status, status);
  conforms(e.error, ErrorSchema, 'error');
  if (param !== undefined) assert.equal(e.param, param);
  if (code !== undefined) assert.equal(e.code, code);
  assert.equal(e.requestID, e.error.request_id, 'x-request-id header matches the body');
  return true;
};

// ---- fixture --------------------------------------------------------------------------------
let dataDir, server, client, limited, key;
const small = { model: 'sora-2', seconds: '1', size: '160x90' };
let completed;  // a completed video

before(async () => {
  dataDir = makeDataDir();
  key = createKey(dataDir, 'lena');
  const limitedKey = createKey(dataDir, 'max');
  server = await startServer(dataDir, ['--workers', '2', '--poll-after-ms', '100', '--max-active-jobs', '6', '--max-body-mib', '1']);
  client = new OpenAI({ apiKey: key, baseURL: server.baseURL, maxRetries: 0 });
  limited = new OpenAI({ apiKey: limitedKey, baseURL: server.baseURL, maxRetries: 0 });
  const created = await client.videos.create({ prompt: 'A red ball bounces in a meadow', ...small });
  isVideo(created);
  completed = await waitFor(client, created.id);
  assert.equal(completed.status, 'completed');
});

after(async () => {
  await server.stop();
  removeDataDir(dataDir);
});

const raw = (method, path, { body, headers = {} } = {}) =>
  fetch(`${server.root}${path}`, { method, body, headers: { authorization: `Bearer ${key}`, ...headers } });

// ---- every endpoint, every response checked ------------------------------------------------
test('create, retrieve, list, content, remix, edit, extend and delete conform', async () => {
  isVideo(completed);
  assert.equal(completed.progress, 100);
  assert.ok(completed.completed_at >= completed.created_at && completed.expires_at > completed.completed_at);
  assert.equal(completed.error, null);

  // create: multipart (the SDK) and JSON
  const viaJson = await raw('POST', '/v1/videos', { body: JSON.stringify({ prompt: 'A blue car rolls left', ...small }), headers: { 'content-type': 'application/json' } });
  assert.equal(viaJson.status, 200);
  isVideo(await viaJson.json());

  isVideo(await client.videos.retrieve(completed.id));

  // The SDK's page, and the body it was made from.
  const page = await client.videos.list({ limit: 1, order: 'asc' });
  isVideoList(await (await client.videos.list({ limit: 1, order: 'asc' }).asResponse()).json());
  page.data.forEach(isVideo);
  assert.equal(page.data.length, 1);
  assert.equal(page.has_more, true);
  const empty = await (await client.videos.list({ limit: 0 }).asResponse()).json();
  isVideoList(empty);
  assert.deepEqual(empty.data, []);
  const nextResponse = await client.videos.list({ limit: 100, after: page.data[0].id, order: 'asc' }).asResponse();
  const next = await nextResponse.json();
  isVideoList(next);
  assert.ok(next.data.length > 0 && !next.data.some((v) => v.id === page.data[0].id));

  for (const [variant, type] of [['video', 'video/mp4'], ['thumbnail', 'image/webp'], ['spritesheet', 'image/jpeg']]) {
    const response = await client.videos.downloadContent(completed.id, { variant });
    assert.equal(response.headers.get('content-type'), type);
    assert.ok((await response.arrayBuffer()).byteLength > 0);
  }

  const derived = [
    await client.videos.remix(completed.id, { prompt: 'at night' }),
    await client.videos.edit({ video: { id: completed.id }, prompt: 'in the rain' }),
    await client.videos.extend({ video: { id: completed.id }, prompt: 'the camera pans left', seconds: '1' }),
  ];
  const mp4 = new Uint8Array(await (await client.videos.downloadContent(completed.id)).arrayBuffer());
  derived.push(await client.videos.edit({ video: await toFile(Buffer.from(mp4), 'clip.mp4', { type: 'video/mp4' }), prompt: 'A green box on a beach' }));
  for (const video of derived) {
    isVideo(video);
    assert.equal(video.status, 'queued');
  }
  assert.equal(derived[0].remixed_from_video_id, completed.id);
  assert.equal(derived[1].remixed_from_video_id, completed.id);
  assert.equal(derived[2].seconds, '2');
  for (const video of derived) {
    const done = await waitFor(client, video.id);
    isVideo(done);
    assert.equal(done.status, 'completed', JSON.stringify(done.error));
  }

  const deleted = await client.videos.delete(derived[0].id);
  conforms(deleted, DeletedVideoSchema, 'DeletedVideo');
  assert.equal(deleted.id, derived[0].id);
  await assert.rejects(client.videos.retrieve(derived[0].id), apiError(OpenAI.NotFoundError, 404));
});

test('characters conform where the server has them', async (t) => {
  const probe = await raw('GET', '/v1/videos/characters/char_none');
  if (probe.status === 404 && (await probe.json()).error.code !== 'not_found') return t.skip('this server has no /v1/videos/characters');
  // Not an MP4: the envelope, naming the param.
  await assert.rejects(client.videos.createCharacter({ name: 'Ball', video: await toFile(Buffer.from('x'), 'c.mp4') }),
                       apiError(OpenAI.BadRequestError, 400, 'video'));
  // A real MP4 (a completed video's content) makes a character.
  const mp4 = Buffer.from(await (await client.videos.downloadContent(completed.id)).arrayBuffer());
  const character = await client.videos.createCharacter({ name: 'Ball', video: await toFile(mp4, 'c.mp4', { type: 'video/mp4' }) });
  conforms(character, VideoCharacterSchema, 'VideoCharacter');
  conforms(await client.videos.getCharacter(character.id), VideoCharacterSchema, 'VideoCharacter');
});

// ---- error paths -------------------------------------------------------------------------
test('every error path answers the envelope with the SDK\'s error class', async () => {
  const missing = 'video_00000000000000000000000000000000';
  const nobody = new OpenAI({ apiKey: 'sk-opsis-wrong', baseURL: server.baseURL, maxRetries: 0 });
  await assert.rejects(nobody.videos.list(), apiError(OpenAI.AuthenticationError, 401, null, 'invalid_api_key'));

  for (const call of [
    () => client.videos.retrieve(missing),
    () => client.videos.delete(missing),
    () => client.videos.downloadContent(missing),
    () => client.videos.remix(missing, { prompt: 'p' }),
    () => client.videos.edit({ video: { id: missing }, prompt: 'p' }),
    () => client.videos.extend({ video: { id: missing }, prompt: 'p', seconds: '1' }),
    () => client.videos.list({ after: missing }),
  ])
    await assert.rejects(call(), apiError(OpenAI.NotFoundError, 404));

  for (const [call, param] of [
    [() => client.videos.create({ ...small }), 'prompt'],
    [() => client.videos.create({ prompt: ' ', ...small }), 'prompt'],
    [() => client.videos.create({ prompt: 'p', ...small, size: '1x1' }), 'size'],
    [() => client.videos.create({ prompt: 'p', ...small, seconds: '99' }), 'seconds'],
    [() => client.videos.create({ prompt: 'p', ...small, model: 'no-such-model' }), 'model'],
    [() => client.videos.list({ limit: 101 }), 'limit'],
    [() => client.videos.list({ limit: -1 }), 'limit'],
    [() => client.videos.list({ order: 'sideways' }), 'order'],
    [() => client.videos.downloadContent(completed.id, { variant: 'poster' }), 'variant'],
    [() => client.videos.remix(completed.id, { prompt: '' }), 'prompt'],
    [() => client.videos.edit({ video: { id: completed.id } }), 'prompt'],
    [() => client.videos.extend({ video: { id: completed.id }, prompt: 'p' }), 'seconds'],
    [() => client.videos.extend({ video: { id: completed.id }, prompt: 'p', seconds: '25' }), 'seconds'],
  ])
    await assert.rejects(call(), apiError(OpenAI.BadRequestError, 400, param));

  // Body too large (--max-body-mib 1): 413.
  await assert.rejects(client.videos.create({ prompt: 'p', ...small, input_reference: await toFile(Buffer.alloc(2 << 20), 'big.png') }),
                       apiError(OpenAI.APIError, 413));
  // Too many at once for one user (--max-active-jobs 6): 429 with Retry-After.
  const accepted = [];
  const refused = await (async () => {
    for (let i = 0; i < 10; ++i) {
      try {
        accepted.push(await limited.videos.create({ prompt: 'A black box spins in a desert', model: 'opsis-studio', seconds: '4', size: '640x360' }));
      } catch (e) {
        return e;
      }
    }
  })();
  assert.ok(refused, 'the seventh active job is refused');
  apiError(OpenAI.RateLimitError, 429, null, 'rate_limit_exceeded')(refused);
  assert.ok(Number(refused.headers.get('retry-after')) > 0);
  for (const video of accepted) conforms(await limited.videos.delete(video.id), DeletedVideoSchema, 'DeletedVideo');

  // Unknown routes are 404s with the envelope, never 400s.
  const unknown = await raw('GET', '/v1/no-such-thing');
  assert.equal(unknown.status, 404);
  conforms((await unknown.json()).error, ErrorSchema, 'error');
  // An unsatisfiable range on content: 416 with the envelope and Content-Range.
  const range = await raw('GET', `/v1/videos/${completed.id}/content`, { headers: { range: 'bytes=99999999-' } });
  assert.equal(range.status, 416);
  assert.match(range.headers.get('content-range'), /^bytes \*\/\d+$/);
  conforms((await range.json()).error, ErrorSchema, 'error');
});

// ---- hardening (issue 14, small things) ---------------------------------------------------
test('a multipart prompt that is not UTF-8 is a 400 on prompt, and nothing is queued', async () => {
  const before = (await client.videos.list({ limit: 100 })).data.length;
  for (const bytes of [[0xff, 0xfe, 0x41], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0x41, 0xe2, 0x82]]) {
    const form = new FormData();
    form.append('prompt', new Blob([Uint8Array.from(bytes)]));
    form.append('model', 'opsis-studio');
    form.append('seconds', '1');
    form.append('size', '160x90');
    const response = await raw('POST', '/v1/videos', { body: form });
    assert.equal(response.status, 400, `prompt bytes ${bytes}`);
    const { error } = await response.json();
    conforms(error, ErrorSchema, 'error');
    assert.equal(error.param, 'prompt');
    assert.match(error.message, /UTF-8/);
  }
  // Valid multi-byte text is fine.
  const ok = await client.videos.create({ prompt: 'Ein roter Ball hüpft — 🎈', model: 'opsis-studio', seconds: '1', size: '160x90' });
  assert.equal(ok.prompt, 'Ein roter Ball hüpft — 🎈');
  await client.videos.delete(ok.id);
  assert.equal((await client.videos.list({ limit: 100 })).data.length, before);
});

test('a Range header httplib cannot parse is harmless on routes other than /content', async () => {
  for (const path of ['/v1/videos', `/v1/videos/${completed.id}`, '/v1/models', '/healthz'])
    for (const range of ['items=0-1', 'bytes = 0-1', 'bytes=99999999999999999999-']) {
      const response = await raw('GET', path, { headers: { range } });
      assert.equal(response.status, 200, `${path} with Range: ${range}`);
      assert.ok(response.headers.get('x-request-id'));
      const body = await response.json();
      if (path === '/v1/videos') isVideoList(body);
      if (path.startsWith('/v1/videos/')) isVideo(body);
    }
  // Still routed as usual: an unknown id is a 404, an unknown route a 404.
  assert.equal((await raw('GET', '/v1/videos/video_missing', { headers: { range: 'items=0-1' } })).status, 404);
  assert.equal((await raw('GET', '/v1/nothing', { headers: { range: 'items=0-1' } })).status, 404);
});

test('the OpenAPI document lists what is served, edits and files included', async () => {
  const openapi = await (await fetch(`${server.baseURL}/openapi.json`)).json();
  for (const p of ['/v1/videos/edits', '/v1/videos/extensions', '/v1/files', '/v1/files/{file_id}', '/v1/files/{file_id}/content'])
    assert.ok(openapi.paths[p], p);
  assert.deepEqual(openapi.paths['/v1/videos/extensions'].post.requestBody.content['application/json'].schema.required.sort(),
                   ['prompt', 'seconds', 'video']);
  assert.ok(openapi.components.schemas.File);
});
