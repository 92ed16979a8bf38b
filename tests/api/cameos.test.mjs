// /v1/cameos (issue #12) against the real `opsis serve`: liveness challenges, enrollment with a
// recording (multipart), every refusal path (expired, reused or another user's challenge, bad
// multipart, wrong kind or handle, too short, too large) leaving no row and no blob, ownership
// (another user's cameo is 404 on every route), permission changes between two users, the
// videos that used a cameo (another user's draft included) and their deletion by the cameo's
// owner, revocation and lowered permission cancelling queued and running jobs at once, and the
// consent ledger's proofs checked offline by `opsis ledger verify`. The openai SDK has no
// cameo calls: those are plain fetch; videos go through the SDK.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import OpenAI from 'openai';

import { createKey, makeDataDir, opsisBinary, removeDataDir, startServer, waitFor } from './server.mjs';

const small = { model: 'opsis-studio', seconds: '1', size: '160x90' };
let dataDir, clipDir, server, cara, otto, caraKey, ottoKey, recording, shortClip;

function render(name, seconds) {
  const out = path.join(clipDir, name);
  execFileSync(opsisBinary(), ['studio', 'render', '--prompt', 'A fox turns its head to the left in a meadow', '--seconds', String(seconds),
    '--size', '160x90', '-o', out], { stdio: 'ignore' });
  return readFileSync(out);
}

before(async () => {
  dataDir = makeDataDir();
  clipDir = mkdtempSync(path.join(tmpdir(), 'opsis-cameo-clips-'));
  caraKey = createKey(dataDir, 'cara');
  ottoKey = createKey(dataDir, 'otto');
  server = await startServer(dataDir, ['--workers', '1', '--poll-after-ms', '100']);
  cara = new OpenAI({ apiKey: caraKey, baseURL: server.baseURL, maxRetries: 0 });
  otto = new OpenAI({ apiKey: ottoKey, baseURL: server.baseURL, maxRetries: 0 });
  recording = render('answer.mp4', 4);
  shortClip = render('short.mp4', 1);
});

after(async () => {
  await server?.stop();
  removeDataDir(dataDir);
  if (clipDir) rmSync(clipDir, { recursive: true, force: true });
});

// ---- helpers -----------------------------------------------------------------------------

async function call(key, method, route, body) {
  const headers = { authorization: `Bearer ${key}` };
  let payload;
  if (body instanceof FormData) payload = body;
  else if (body !== undefined) {
    headers['content-type'] = 'application/json';
    payload = typeof body === 'string' ? body : JSON.stringify(body);
  }
  const res = await fetch(`${server.baseURL}${route}`, { method, headers, body: payload });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = text; }
  return { status: res.status, body: json };
}

const challenge = async (key = caraKey) => {
  const r = await call(key, 'POST', '/cameos/challenges');
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
};

function form(fields, video = recording, filename = 'answer.mp4') {
  const f = new FormData();
  for (const [k, v] of Object.entries(fields)) f.append(k, v);
  if (video) f.append('video', new Blob([video], { type: 'video/mp4' }), filename);
  return f;
}

async function enroll(key, handle, kind = 'person', video = recording) {
  const c = await challenge(key);
  const r = await call(key, 'POST', '/cameos', form({ handle, kind, challenge_id: c.id, name: `The ${handle}` }, video));
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}

function expectError(r, status, { code, param } = {}) {
  assert.equal(r.status, status, JSON.stringify(r.body));
  assert.equal(typeof r.body.error?.message, 'string', JSON.stringify(r.body));
  assert.equal(r.body.error.type, 'invalid_request_error');
  if (code !== undefined) assert.equal(r.body.error.code, code, JSON.stringify(r.body));
  if (param !== undefined) assert.equal(r.body.error.param, param, JSON.stringify(r.body));
}

function blobFiles(dir = path.join(dataDir, 'blobs')) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true }).filter((f) => statSync(path.join(dir, f)).isFile()).sort();
}

// Registry rows as the CLI lists them (every cameo, any state).
const rows = (user) => JSON.parse(execFileSync(opsisBinary(), ['cameo', 'list', '--json', '--user', user, '--data-dir', dataDir], { encoding: 'utf8' }));

// The job's status once it leaves queued/in_progress, polled quickly (no wait for a worker).
async function settle(client, id, ms = 15000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await client.videos.retrieve(id);
    if (v.status === 'failed' || v.status === 'completed' || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}

const longJob = (client, prompt = 'A black box spins slowly') =>
  client.videos.create({ prompt, model: 'opsis-studio', seconds: '12', size: '640x360' });

// ---- tests -------------------------------------------------------------------------------

test('a challenge is a one-time phrase and head turn with a short expiry', async () => {
  const before = Math.floor(Date.now() / 1000);
  const c = await challenge();
  assert.match(c.id, /^chal_[0-9a-f]+$/);
  assert.equal(c.object, 'cameo.challenge');
  assert.match(c.phrase, /^[a-z]+( [a-z]+){2,}$/);
  assert.ok(['left', 'right', 'up', 'down'].includes(c.head_turn));
  assert.ok(c.instructions.includes(c.phrase));
  assert.ok(c.expires_at > before && c.expires_at - before <= 600, `expires in ${c.expires_at - before} s`);
  assert.notEqual((await challenge()).phrase + (await challenge()).id, c.phrase + c.id);
  // Without a key: the same 401 as every /v1 route.
  const anon = await fetch(`${server.baseURL}/cameos/challenges`, { method: 'POST' });
  assert.equal(anon.status, 401);
});

test('enrollment end to end: challenge, recording, active cameo, listed and read by its owner only', async () => {
  const blobsBefore = blobFiles().length;
  const c = await challenge();
  const r = await call(caraKey, 'POST', '/cameos', form({ handle: '@Cara_Cam', kind: 'person', challenge_id: c.id, name: 'Cara' }));
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const cameo = r.body;
  assert.match(cameo.id, /^cameo_[0-9a-f]+$/);
  assert.equal(cameo.object, 'cameo');
  assert.equal(cameo.handle, '@cara_cam');
  assert.equal(cameo.name, 'Cara');
  assert.equal(cameo.kind, 'person');
  assert.equal(cameo.state, 'active');
  assert.equal(cameo.permission, 'only_me');
  assert.equal(cameo.owner, 'cara');
  assert.equal(cameo.reference_media.length, 1);
  assert.equal(blobFiles().length, blobsBefore + 1);

  const list = await call(caraKey, 'GET', '/cameos');
  assert.equal(list.body.object, 'list');
  assert.deepEqual(list.body.data.map((x) => x.id), [cameo.id]);
  assert.deepEqual((await call(caraKey, 'GET', `/cameos/${cameo.id}`)).body, cameo);
  assert.deepEqual((await call(ottoKey, 'GET', '/cameos')).body.data, []);

  // A character (a pet) enrolls the same way.
  const pet = await enroll(caraKey, 'rex_the_dog', 'character');
  assert.equal(pet.kind, 'character');
  await call(caraKey, 'DELETE', `/cameos/${pet.id}`);
});

test('every refusal names its param and code, and leaves no row and no blob', async () => {
  const blobsBefore = blobFiles();
  const rowsBefore = rows('cara');
  const good = await challenge();
  const post = (fields, video, name) => call(caraKey, 'POST', '/cameos', form(fields, video, name));

  expectError(await call(caraKey, 'POST', '/cameos', { handle: 'x', challenge_id: good.id }), 400, { param: 'video' });
  expectError(await post({ handle: 'nobody_1', challenge_id: good.id }, null), 400, { param: 'video' });
  expectError(await post({ challenge_id: good.id }), 400, { param: 'handle' });
  expectError(await post({ handle: 'nobody_1' }), 400, { param: 'challenge_id' });
  expectError(await post({ handle: 'no body!', challenge_id: good.id }), 400, { param: 'handle' });
  expectError(await post({ handle: 'nobody_1', kind: 'robot', challenge_id: good.id }), 400, { param: 'kind' });
  expectError(await post({ handle: 'nobody_1', challenge_id: good.id }, Buffer.from('not a video at all'), 'x.mp4'), 400, { param: 'video' });
  expectError(await post({ handle: 'nobody_1', challenge_id: good.id }, shortClip), 400, { param: 'video', code: 'recording_duration' });
  const huge = Buffer.concat([recording, Buffer.alloc(25 << 20)]);
  expectError(await post({ handle: 'nobody_1', challenge_id: good.id }, huge), 413, { param: 'video', code: 'recording_too_large' });
  // A taken handle is refused before the challenge is spent.
  expectError(await post({ handle: 'cara_cam', challenge_id: good.id }), 400, { param: 'handle' });
  // Challenges: unknown, another user's, expired, reused.
  expectError(await post({ handle: 'nobody_1', challenge_id: 'chal_000000000000000000000000' }), 404, { param: 'challenge_id', code: 'challenge_not_found' });
  const ottos = await challenge(ottoKey);
  expectError(await post({ handle: 'nobody_1', challenge_id: ottos.id }), 404, { param: 'challenge_id', code: 'challenge_not_owner' });
  const stale = await challenge();
  execFileSync('sqlite3', [path.join(dataDir, 'opsis.db'), `UPDATE cameo_challenges SET expires_at = 1 WHERE id = '${stale.id}'`]);
  expectError(await post({ handle: 'nobody_1', challenge_id: stale.id }), 400, { param: 'challenge_id', code: 'challenge_expired' });

  assert.deepEqual(blobFiles(), blobsBefore, 'no blob left by a refusal');
  assert.deepEqual(rows('cara'), rowsBefore, 'no cameo row left by a refusal');

  // The good challenge is still unspent: it answers once, then never again (a replay).
  const first = await post({ handle: 'cara_two', challenge_id: good.id });
  assert.equal(first.status, 200, JSON.stringify(first.body));
  const blobsAfter = blobFiles();
  expectError(await post({ handle: 'cara_three', challenge_id: good.id }), 400, { param: 'challenge_id', code: 'challenge_used' });
  assert.deepEqual(blobFiles(), blobsAfter);
  assert.equal(rows('cara').length, rowsBefore.length + 1);
  assert.equal((await call(caraKey, 'DELETE', `/cameos/${first.body.id}`)).status, 200);
});

test('another user\'s cameo is 404 on every route; bad bodies are 400 naming the param', async () => {
  const mine = (await call(caraKey, 'GET', '/cameos')).body.data.find((c) => c.handle === '@cara_cam');
  const id = mine.id;
  for (const [method, route, body] of [
    ['GET', `/cameos/${id}`], ['POST', `/cameos/${id}/permission`, { permission: 'everyone' }],
    ['POST', `/cameos/${id}/restrictions`, { restrictions: ['no hats'] }], ['POST', `/cameos/${id}/revoke`],
    ['DELETE', `/cameos/${id}`], ['GET', `/cameos/${id}/videos`], ['GET', `/cameos/${id}/ledger`],
    ['DELETE', `/cameos/${id}/videos/video_0123456789abcdef`],
  ]) {
    expectError(await call(ottoKey, method, route, body), 404, { code: 'not_found' });
  }
  expectError(await call(caraKey, 'GET', '/cameos/cameo_000000000000000000000000'), 404, { code: 'not_found' });
  expectError(await call(caraKey, 'POST', `/cameos/${id}/permission`, { permission: 'friends' }), 400, { param: 'permission' });
  expectError(await call(caraKey, 'POST', `/cameos/${id}/permission`, { permission: 'approved', approved: 'otto' }), 400, { param: 'approved' });
  expectError(await call(caraKey, 'POST', `/cameos/${id}/restrictions`, { restrictions: [3] }), 400, { param: 'restrictions' });
  expectError(await call(caraKey, 'POST', `/cameos/${id}/permission`, '{not json'), 400, { code: 'invalid_json' });
  // Nothing changed.
  assert.deepEqual((await call(caraKey, 'GET', `/cameos/${id}`)).body, mine);
});

test('permission changes between two users; the owner sees and deletes every video using the cameo', async () => {
  const cameo = (await call(caraKey, 'GET', '/cameos')).body.data.find((c) => c.handle === '@cara_cam');
  const prompt = 'A meadow at noon, @cara_cam waves';
  // only_me: otto is refused before anything is queued.
  await assert.rejects(otto.videos.create({ prompt, ...small }), (e) => e.status === 403);
  // approved, with otto on the list.
  let r = await call(caraKey, 'POST', `/cameos/${cameo.id}/permission`, { permission: 'approved', approved: ['@otto'] });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.permission, 'approved');
  assert.deepEqual(r.body.approved, ['otto']);
  const ottos = await waitFor(otto, (await otto.videos.create({ prompt, ...small })).id);
  assert.equal(ottos.status, 'completed', JSON.stringify(ottos.error));
  const carasOwn = await waitFor(cara, (await cara.videos.create({ prompt, ...small })).id);
  assert.equal(carasOwn.status, 'completed');
  // The approved list emptied: otto is refused again.
  r = await call(caraKey, 'POST', `/cameos/${cameo.id}/permission`, { permission: 'approved', approved: [] });
  assert.deepEqual(r.body.approved, []);
  await assert.rejects(otto.videos.create({ prompt, ...small }), (e) => e.status === 403);
  // mutuals: refused while only otto follows cara, allowed once they follow each other.
  await call(caraKey, 'POST', `/cameos/${cameo.id}/permission`, { permission: 'mutuals' });
  const follow = (user, who) => execFileSync(opsisBinary(), ['cameo', 'follow', '--user', user, '--who', who, '--data-dir', dataDir], { stdio: 'ignore' });
  follow('otto', 'cara');
  await assert.rejects(otto.videos.create({ prompt, ...small }), (e) => e.status === 403);
  follow('cara', 'otto');
  const mutual = await waitFor(otto, (await otto.videos.create({ prompt, ...small })).id);
  assert.equal(mutual.status, 'completed', JSON.stringify(mutual.error));
  execFileSync(opsisBinary(), ['cameo', 'unfollow', '--user', 'cara', '--who', 'otto', '--data-dir', dataDir], { stdio: 'ignore' });
  await assert.rejects(otto.videos.create({ prompt, ...small }), (e) => e.status === 403);
  // everyone: allowed without any follow.
  r = await call(caraKey, 'POST', `/cameos/${cameo.id}/permission`, { permission: 'everyone' });
  assert.equal(r.body.permission, 'everyone');
  const open = await waitFor(otto, (await otto.videos.create({ prompt, ...small })).id);
  assert.equal(open.status, 'completed', JSON.stringify(open.error));

  // Restrictions are the owner's words, kept.
  r = await call(caraKey, 'POST', `/cameos/${cameo.id}/restrictions`, { restrictions: ['no political videos'] });
  assert.deepEqual(r.body.restrictions, ['no political videos']);

  // Videos with the cameo: otto's draft and cara's own; cara deletes otto's.
  const videos = (await call(caraKey, 'GET', `/cameos/${cameo.id}/videos`)).body;
  assert.equal(videos.object, 'list');
  assert.deepEqual(videos.data.map((v) => v.id).sort(), [ottos.id, carasOwn.id, mutual.id, open.id].sort());
  assert.equal(videos.data.find((v) => v.id === ottos.id).creator, 'otto');
  // Not a video of this cameo: 404, nothing deleted.
  const unrelated = await waitFor(otto, (await otto.videos.create({ prompt: 'A red ball bounces', ...small })).id);
  expectError(await call(caraKey, 'DELETE', `/cameos/${cameo.id}/videos/${unrelated.id}`), 404);
  assert.equal((await otto.videos.retrieve(unrelated.id)).id, unrelated.id);
  const del = await call(caraKey, 'DELETE', `/cameos/${cameo.id}/videos/${ottos.id}`);
  assert.deepEqual(del.body, { id: ottos.id, object: 'video.deleted', deleted: true });
  await assert.rejects(otto.videos.retrieve(ottos.id), OpenAI.NotFoundError);
  assert.deepEqual((await call(caraKey, 'GET', `/cameos/${cameo.id}/videos`)).body.data.map((v) => v.id).sort(),
    [carasOwn.id, mutual.id, open.id].sort());
});

test('lowering permission cancels a running job at once; revoking cancels a queued one', async () => {
  const cameo = await enroll(caraKey, 'cara_live');
  await call(caraKey, 'POST', `/cameos/${cameo.id}/permission`, { permission: 'everyone' });
  // Otto's long job using the cameo runs; cara lowers the permission to only_me.
  const running = await longJob(otto, 'A black box spins slowly while @cara_live waves');
  for (let v = running; ; v = await otto.videos.retrieve(running.id)) {
    if (v.status === 'in_progress' && v.progress > 0) break;
    assert.ok(v.status === 'queued' || v.status === 'in_progress', JSON.stringify(v));
    await new Promise((r) => setTimeout(r, 20));
  }
  await call(caraKey, 'POST', `/cameos/${cameo.id}/permission`, { permission: 'only_me' });
  const stopped = await settle(otto, running.id);
  assert.equal(stopped.status, 'failed');
  assert.equal(stopped.error.code, 'cameo_permission_denied', JSON.stringify(stopped.error));
  assert.match(stopped.error.message, /^cancelled: /);

  // Cara's queued job behind a blocker; revoking fails it at once, before any worker sees it.
  const blocker = await longJob(cara);
  const queued = await cara.videos.create({ prompt: 'A meadow, @cara_live smiles', ...small });
  assert.equal(queued.status, 'queued');
  const revoked = await call(caraKey, 'POST', `/cameos/${cameo.id}/revoke`);
  assert.equal(revoked.body.state, 'revoked');
  const failed = await cara.videos.retrieve(queued.id);
  assert.equal(failed.status, 'failed');
  assert.equal(failed.error.code, 'cameo_revoked', JSON.stringify(failed.error));
  assert.match(failed.error.message, /revoked/);
  await cara.videos.delete(blocker.id);
  // The revoked cameo stays listed for its owner; new requests are refused.
  assert.equal((await call(caraKey, 'GET', `/cameos/${cameo.id}`)).body.state, 'revoked');
  await assert.rejects(cara.videos.create({ prompt: 'A meadow, @cara_live smiles', ...small }), (e) => e.status === 403);
});

test('the ledger returns the owner\'s events with proofs that opsis ledger verify accepts, and catches tampering', async () => {
  const cameo = (await call(caraKey, 'GET', '/cameos')).body.data.find((c) => c.handle === '@cara_cam');
  const r = await call(caraKey, 'GET', `/cameos/${cameo.id}/ledger`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const bundle = r.body;
  const text = JSON.stringify(bundle);
  const events = bundle.entries.map((e) => JSON.parse(e.record).event ?? JSON.parse(e.record).type);
  for (const event of ['enrolled', 'permission_changed', 'approval_granted', 'approval_removed', 'restrictions_edited', 'used_in_video'])
    assert.ok(text.includes(event), `the bundle has a ${event} event: ${events}`);
  for (const e of bundle.entries) assert.ok(e.record.includes(cameo.id), 'only this cameo\'s events');
  const root = path.join(dataDir, 'c2pa', 'c2pa-root.pem');
  assert.ok(existsSync(root), root);
  const file = path.join(clipDir, 'bundle.json');
  writeFileSync(file, text);
  const args = ['ledger', 'verify', file, '--trust', root];
  const ok = spawnSync(opsisBinary(), args, { encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stdout + ok.stderr);
  // An edited event (the approval given to someone else) fails verification.
  const edited = structuredClone(bundle);
  const granted = edited.entries.find((e) => e.record.includes('approval_granted'));
  granted.record = granted.record.replace('otto', 'mallory');
  writeFileSync(file, JSON.stringify(edited));
  const bad = spawnSync(opsisBinary(), args, { encoding: 'utf8' });
  assert.notEqual(bad.status, 0, bad.stdout);
  assert.match(bad.stdout, /PROBLEM/);
});

test('deleting a cameo frees its handle; it is gone from the list', async () => {
  const cameo = (await call(caraKey, 'GET', '/cameos')).body.data.find((c) => c.handle === '@cara_cam');
  const del = await call(caraKey, 'DELETE', `/cameos/${cameo.id}`);
  assert.deepEqual(del.body, { id: cameo.id, object: 'cameo.deleted', deleted: true });
  expectError(await call(caraKey, 'GET', `/cameos/${cameo.id}`), 404);
  assert.ok(!(await call(caraKey, 'GET', '/cameos')).body.data.some((c) => c.id === cameo.id));
  const again = await enroll(ottoKey, 'cara_cam');
  assert.equal(again.owner, 'otto');
});

test('the OpenAPI document lists the cameo routes', async () => {
  const openapi = await (await fetch(`${server.baseURL}/openapi.json`)).json();
  for (const [p, method] of [['/v1/cameos/challenges', 'post'], ['/v1/cameos', 'post'], ['/v1/cameos', 'get'],
    ['/v1/cameos/{cameo_id}', 'get'], ['/v1/cameos/{cameo_id}', 'delete'], ['/v1/cameos/{cameo_id}/permission', 'post'],
    ['/v1/cameos/{cameo_id}/restrictions', 'post'], ['/v1/cameos/{cameo_id}/revoke', 'post'], ['/v1/cameos/{cameo_id}/videos', 'get'],
    ['/v1/cameos/{cameo_id}/videos/{video_id}', 'delete'], ['/v1/cameos/{cameo_id}/ledger', 'get']])
    assert.ok(openapi.paths[p]?.[method], `${method} ${p}`);
});
