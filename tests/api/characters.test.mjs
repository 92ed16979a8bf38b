// Characters (/v1/videos/characters, backed by the cameo registry) and the policy gate
// (issue #12), through the real `openai` SDK against the real `opsis serve`: a character is the
// caller's own (another user's is "not found"), bad input is a 400 naming the param with nothing
// stored, a prompt the rules refuse is a 4xx with code and param that leaves no job, no blob and
// no row, and the worker checks again just before generation (here: rules changed while queued).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import OpenAI, { toFile } from 'openai';

import { createKey, makeDataDir, opsisBinary, removeDataDir, startServer, waitFor } from './server.mjs';

const small = { model: 'opsis-studio', seconds: '1', size: '160x90' };
let dataDir, server, client, other, key, otherKey, mp4, source, rex;

before(async () => {
  dataDir = makeDataDir();
  key = createKey(dataDir, 'cara');
  otherKey = createKey(dataDir, 'otto');
  server = await startServer(dataDir, ['--workers', '1', '--poll-after-ms', '100']);
  client = new OpenAI({ apiKey: key, baseURL: server.baseURL, maxRetries: 0 });
  other = new OpenAI({ apiKey: otherKey, baseURL: server.baseURL, maxRetries: 0 });
  source = await waitFor(client, (await client.videos.create({ prompt: 'A red ball bounces in a meadow', ...small })).id);
  assert.equal(source.status, 'completed', JSON.stringify(source.error));
  mp4 = Buffer.from(await (await client.videos.downloadContent(source.id)).arrayBuffer());
});

after(async () => {
  await server?.stop();
  removeDataDir(dataDir);
});

// Every blob file in the data directory.
function blobFiles(dir = path.join(dataDir, 'blobs')) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true }).filter((f) => statSync(path.join(dir, f)).isFile()).sort();
}

// The cameos a user owns, as the CLI lists them (the registry's rows).
function cameosOf(user) {
  return execFileSync(opsisBinary(), ['cameo', 'list', '--json', '--user', user, '--data-dir', dataDir], { encoding: 'utf8' });
}

async function allVideoIds(c) {
  const ids = [];
  for await (const v of c.videos.list({ limit: 100 })) ids.push(v.id);
  return ids.sort();
}

const rejectsWith = (status, param, code) => (e) => {
  assert.ok(e instanceof OpenAI.APIError, `${e?.constructor?.name}: ${e?.message}`);
  assert.equal(e.status, status, e.message);
  if (param !== undefined) assert.equal(e.param, param, e.message);
  if (code !== undefined) assert.equal(e.code, code, e.message);
  assert.equal(typeof e.error.message, 'string');
  assert.equal(e.error.type, 'invalid_request_error');
  return true;
};

const upload = (bytes = mp4, name = 'character.mp4') => toFile(bytes, name, { type: 'video/mp4' });

test('a character is created from an MP4 and read back by its owner only', async () => {
  const before = Math.floor(Date.now() / 1000);
  const character = await client.videos.createCharacter({ name: 'Rex the Dog', video: await upload() });
  assert.deepEqual(Object.keys(character).sort(), ['created_at', 'id', 'name']);
  assert.match(character.id, /^cameo_[0-9a-f]+$/);
  assert.equal(character.name, 'Rex the Dog');
  assert.ok(Number.isInteger(character.created_at) && character.created_at >= before - 1);

  assert.deepEqual(await client.videos.getCharacter(character.id), character);
  rex = character;
  // Another user's character is indistinguishable from none.
  await assert.rejects(other.videos.getCharacter(character.id), rejectsWith(404, undefined, 'not_found'));
  await assert.rejects(client.videos.getCharacter('cameo_000000000000000000000000'), rejectsWith(404, undefined, 'not_found'));

  // In the registry: a character, only_me, active, the upload kept as its reference media.
  const shown = JSON.parse(cameosOf('cara')).find((c) => c.id === character.id);
  assert.equal(shown.kind, 'character');
  assert.equal(shown.permission, 'only_me');
  assert.equal(shown.state, 'active');
  assert.equal(shown.owner, 'cara');
  assert.equal(shown.reference_media.length, 1);
  assert.ok(blobFiles().some((f) => f.includes(shown.reference_media[0])), 'the reference video is a stored blob');
});

test('bad character input is a 400 naming the param, with nothing stored', async () => {
  const blobsBefore = blobFiles();
  const cameosBefore = cameosOf('cara');
  const long = 'x'.repeat(81);
  for (const [body, param] of [
    [{ name: '', video: await upload() }, 'name'],
    [{ name: '   ', video: await upload() }, 'name'],
    [{ name: long, video: await upload() }, 'name'],
    [{ name: 'Taylor Swift', video: await upload() }, 'name'],  // a real person is not a character
    [{ name: 'Not a video', video: await upload(Buffer.from('this is not an mp4 at all')) }, 'video'],
    [{ name: 'Empty', video: await upload(Buffer.alloc(0)) }, 'video'],
  ])
    await assert.rejects(client.videos.createCharacter(body), rejectsWith(400, param), `${JSON.stringify(body.name)} -> ${param}`);

  // No video part at all; and not multipart.
  const form = new FormData();
  form.append('name', 'No video');
  const missing = await fetch(`${server.baseURL}/videos/characters`, { method: 'POST', body: form, headers: { authorization: `Bearer ${key}` } });
  assert.equal(missing.status, 400);
  assert.equal((await missing.json()).error.param, 'video');
  const json = await fetch(`${server.baseURL}/videos/characters`, {
    method: 'POST', body: JSON.stringify({ name: 'Json' }), headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
  });
  assert.equal(json.status, 400);

  // 80 characters (not bytes) is allowed.
  const eighty = 'é'.repeat(80);
  assert.equal((await client.videos.createCharacter({ name: eighty, video: await upload() })).name, eighty);

  // Apart from that last one (whose upload is the same bytes, already stored): nothing new.
  assert.deepEqual(blobFiles(), blobsBefore);
  assert.equal(JSON.parse(cameosOf('cara')).length, JSON.parse(cameosBefore).length + 1);
});

test('a prompt the policy refuses answers 4xx with code and param, and leaves nothing behind', async () => {
  const videosBefore = await allVideoIds(client);
  const blobsBefore = blobFiles();
  for (const [prompt, code] of [
    ['A gruesome bloodbath in a castle courtyard', 'graphic_violence'],
    ['Taylor Swift dancing on a stage', 'public_figure'],
    ['@nobody_here waves at the camera', 'cameo_not_found'],
  ]) {
    await assert.rejects(client.videos.create({ prompt, ...small }), rejectsWith(400, 'prompt', code), prompt);
    // The same check guards remix, edit and extension.
    await assert.rejects(client.videos.remix(source.id, { prompt }), rejectsWith(400, 'prompt', code), `remix: ${prompt}`);
    await assert.rejects(client.videos.edit({ prompt, video: await upload() }), rejectsWith(400, 'prompt', code), `edit: ${prompt}`);
    await assert.rejects(client.videos.extend({ prompt, seconds: '1', video: { id: source.id } }), rejectsWith(400, 'prompt', code), `extend: ${prompt}`);
  }
  // A refused input_reference upload is not stored either.
  await assert.rejects(client.videos.create({ prompt: 'A gory scene', ...small, input_reference: await toFile(mp4, 'i.png', { type: 'image/png' }) }),
                       rejectsWith(400, 'prompt', 'graphic_violence'));
  assert.deepEqual(await allVideoIds(client), videosBefore, 'no job was stored');
  assert.deepEqual(blobFiles(), blobsBefore, 'no blob was stored');

  // Every decision is logged with its rule, without the prompt.
  const log = readFileSync(path.join(dataDir, 'policy-decisions.jsonl'), 'utf8');
  assert.match(log, /graphic_violence/);
  assert.doesNotMatch(log, /bloodbath in a castle/);

  // An allowed prompt still runs.
  const fine = await waitFor(client, (await client.videos.create({ prompt: 'A green cube slides to the right', ...small })).id);
  assert.equal(fine.status, 'completed', JSON.stringify(fine.error));
});

test('the worker checks again just before generation', async () => {
  // Jobs queued under the built-in rules; the server is killed and restarted with rules that
  // now refuse a word in one queued prompt: that job fails with the policy's code.
  const dir = makeDataDir();
  let first, second;
  try {
    const k = createKey(dir, 'wren');
    first = await startServer(dir, ['--workers', '1', '--poll-after-ms', '100']);
    const c1 = new OpenAI({ apiKey: k, baseURL: first.baseURL, maxRetries: 0 });
    const blocker = await c1.videos.create({ prompt: 'A black box spins slowly', model: 'opsis-studio', seconds: '4', size: '640x360' });
    const queued = await c1.videos.create({ prompt: 'A purple giraffe walks through a meadow', ...small });
    await first.stop('SIGKILL');

    const rules = JSON.parse(readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), '../../src/policy/rules.json'), 'utf8'));
    rules.content_rules.find((r) => r.id === 'graphic_violence').any_of.push('giraffe');
    const rulesPath = path.join(dir, 'stricter-rules.json');
    writeFileSync(rulesPath, JSON.stringify(rules));
    second = await startServer(dir, ['--workers', '1', '--poll-after-ms', '100', '--policy-rules', rulesPath]);
    const c2 = new OpenAI({ apiKey: k, baseURL: second.baseURL, maxRetries: 0 });
    const failed = await waitFor(c2, queued.id, { timeoutMs: 120000 });
    assert.equal(failed.status, 'failed');
    assert.equal(failed.error.code, 'graphic_violence');
    assert.match(failed.error.message, /giraffe/);
    assert.match(failed.error.message, /policy/);
    // Admission refuses the same prompt now.
    await assert.rejects(c2.videos.create({ prompt: 'A purple giraffe walks through a meadow', ...small }), rejectsWith(400, 'prompt', 'graphic_violence'));
    const done = await waitFor(c2, blocker.id, { timeoutMs: 120000 });
    assert.equal(done.status, 'completed', JSON.stringify(done.error));
    const log = readFileSync(path.join(dir, 'policy-decisions.jsonl'), 'utf8');
    assert.match(log, /"worker"/);
  } finally {
    await first?.stop('SIGKILL');
    await second?.stop();
    removeDataDir(dir);
  }
});

test('create accepts characters: [{id}] the requester may use, and records the use', async () => {
  assert.ok(rex, 'the first test made a character');
  const post = (apiKey, body) => fetch(`${server.baseURL}/videos`, {
    method: 'POST', body: JSON.stringify({ ...small, ...body }), headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
  });
  const made = await post(key, { prompt: 'A dog runs along a beach', characters: [{ id: rex.id }] });
  assert.equal(made.status, 200, await made.clone().text());
  const video = await waitFor(client, (await made.json()).id);
  assert.equal(video.status, 'completed', JSON.stringify(video.error));
  // The owner sees the video among those that used the character (the consent ledger).
  const uses = execFileSync(opsisBinary(), ['cameo', 'videos', rex.id, '--user', 'cara', '--data-dir', dataDir], { encoding: 'utf8' });
  assert.match(uses, new RegExp(video.id));

  const videosBefore = await allVideoIds(other);
  // Another user may not use an only_me character: 403 on characters, nothing queued.
  const denied = await post(otherKey, { prompt: 'A dog runs along a beach', characters: [{ id: rex.id }] });
  assert.equal(denied.status, 403);
  const deniedError = (await denied.json()).error;
  assert.equal(deniedError.param, 'characters');
  assert.equal(typeof deniedError.code, 'string');
  // Unknown, malformed, repeated.
  for (const characters of [[{ id: 'cameo_000000000000000000000000' }], ['cameo_x'], { id: rex.id }, [{ id: rex.id }, { id: rex.id }]]) {
    const refused = await post(key, { prompt: 'A dog runs along a beach', characters });
    assert.equal(refused.status, 400, JSON.stringify(characters));
    assert.equal((await refused.json()).error.param, 'characters', JSON.stringify(characters));
  }
  // The openai SDK sends create as a form, a list as characters[][id]: read the same way, so
  // the SDK's characters are checked (not dropped), and a field about characters that is
  // neither form is a 400, not ignored.
  await assert.rejects(other.videos.create({ prompt: 'A dog runs along a beach', characters: [{ id: rex.id }], ...small }),
    rejectsWith(403, 'characters'));
  const odd = new FormData();
  odd.append('prompt', 'A dog runs along a beach');
  odd.append('characters[id]', rex.id);
  const oddRefused = await fetch(`${server.baseURL}/videos`, { method: 'POST', body: odd, headers: { authorization: `Bearer ${key}` } });
  assert.equal(oddRefused.status, 400, await oddRefused.clone().text());
  assert.equal((await oddRefused.json()).error.param, 'characters');
  assert.deepEqual(await allVideoIds(other), videosBefore);
});

test('remix, edit and extend honour characters: [{id}] and @handles with create\'s checks', async () => {
  assert.ok(rex, 'the first test made a character');
  const handle = JSON.parse(cameosOf('cara')).find((c) => c.id === rex.id).handle;
  const mine = await waitFor(other, (await other.videos.create({ prompt: 'A green cube spins', ...small })).id);
  assert.equal(mine.status, 'completed', JSON.stringify(mine.error));
  const videosBefore = await allVideoIds(other);
  const blobsBefore = blobFiles();
  // otto may not use cara's only_me character: 403 on characters, before anything is stored.
  await assert.rejects(other.videos.remix(mine.id, { prompt: 'The cube turns blue', characters: [{ id: rex.id }] }),
    rejectsWith(403, 'characters'));
  // ... nor name it by @handle in a remix's prompt.
  await assert.rejects(other.videos.remix(mine.id, { prompt: `The cube turns blue as @${handle.replace(/^@/, '')} watches` }),
    (e) => e instanceof OpenAI.APIError && e.status === 403 && typeof e.code === 'string');
  // A malformed list is a 400 on characters, as on create.
  await assert.rejects(other.videos.remix(mine.id, { prompt: 'The cube turns blue', characters: { id: rex.id } }),
    rejectsWith(400, 'characters'));
  // Edit and extend (by id and with an upload) refuse it the same way.
  const send = (route, body) => fetch(`${server.baseURL}${route}`, {
    method: 'POST', body: JSON.stringify(body), headers: { authorization: `Bearer ${otherKey}`, 'content-type': 'application/json' },
  });
  for (const [route, body] of [['/videos/edits', { video: { id: mine.id }, prompt: 'The cube turns blue' }],
    ['/videos/extensions', { video: { id: mine.id }, prompt: 'The cube keeps spinning', seconds: '1' }]]) {
    const refused = await send(route, { ...body, characters: [{ id: rex.id }] });
    assert.equal(refused.status, 403, `${route}: ${await refused.clone().text()}`);
    assert.equal((await refused.json()).error.param, 'characters', route);
  }
  const uploadForm = new FormData();
  uploadForm.append('prompt', 'The ball turns blue');
  uploadForm.append('characters[0][id]', rex.id);
  uploadForm.append('video', new Blob([mp4], { type: 'video/mp4' }), 'clip.mp4');
  const uploaded = await fetch(`${server.baseURL}/videos/edits`, { method: 'POST', body: uploadForm, headers: { authorization: `Bearer ${otherKey}` } });
  assert.equal(uploaded.status, 403, await uploaded.clone().text());
  // Nothing refused left a job, a row or a file.
  assert.deepEqual(await allVideoIds(other), videosBefore);
  assert.deepEqual(blobFiles(), blobsBefore);

  // The owner's remix with the character is made, and recorded as a use of it.
  const remix = await waitFor(client, (await client.videos.remix(source.id, { prompt: 'The ball turns blue', characters: [{ id: rex.id }] })).id);
  assert.equal(remix.status, 'completed', JSON.stringify(remix.error));
  assert.equal(remix.remixed_from_video_id, source.id);
  const uses = execFileSync(opsisBinary(), ['cameo', 'videos', rex.id, '--user', 'cara', '--data-dir', dataDir], { encoding: 'utf8' });
  assert.match(uses, new RegExp(remix.id));
});

test('revoking a character while a job that uses it is queued fails that job at the worker', async () => {
  const character = await client.videos.createCharacter({ name: 'Momo the Cat', video: await upload() });
  const blocker = await client.videos.create({ prompt: 'A black box spins slowly', model: 'opsis-studio', seconds: '4', size: '640x360' });
  const made = await fetch(`${server.baseURL}/videos`, {
    method: 'POST',
    body: JSON.stringify({ ...small, prompt: 'A cat naps on a sofa', characters: [{ id: character.id }] }),
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
  });
  assert.equal(made.status, 200, await made.clone().text());
  const queued = await made.json();
  execFileSync(opsisBinary(), ['cameo', 'revoke', character.id, '--user', 'cara', '--data-dir', dataDir], { stdio: 'ignore' });
  const failed = await waitFor(client, queued.id, { timeoutMs: 120000 });
  assert.equal(failed.status, 'failed');
  assert.equal(failed.error.code, 'cameo_revoked', JSON.stringify(failed.error));
  assert.match(failed.error.message, /revoked/);
  assert.equal((await waitFor(client, blocker.id, { timeoutMs: 120000 })).status, 'completed');
  // And admission refuses it now.
  const again = await fetch(`${server.baseURL}/videos`, {
    method: 'POST', body: JSON.stringify({ ...small, prompt: 'A cat naps', characters: [{ id: character.id }] }),
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
  });
  assert.equal(again.status, 403);
  const error = (await again.json()).error;
  assert.equal(error.code, 'cameo_revoked');
  assert.equal(error.param, 'characters');
});

test('the OpenAPI document lists the characters routes and create\'s characters field', async () => {
  const openapi = await (await fetch(`${server.baseURL}/openapi.json`)).json();
  assert.ok(openapi.paths['/v1/videos/characters'].post);
  assert.ok(openapi.paths['/v1/videos/characters/{character_id}'].get);
  assert.deepEqual(openapi.components.schemas.VideoCharacter.required.sort(), ['created_at', 'id', 'name']);
  assert.ok(openapi.paths['/v1/videos'].post.requestBody.content['application/json'].schema.properties.characters);
  for (const route of ['/v1/videos/{video_id}/remix', '/v1/videos/edits', '/v1/videos/extensions'])
    assert.equal(openapi.paths[route].post.requestBody.content['application/json'].schema.properties.characters.type, 'array', route);
});

test('deleting a video with the same bytes as a character keeps the character\'s reference media', async () => {
  // Blobs are content-addressed: the character made from a downloaded video shares its blob.
  const video = await waitFor(client, (await client.videos.create({ prompt: 'A yellow star turns', ...small })).id);
  const bytes = Buffer.from(await (await client.videos.downloadContent(video.id)).arrayBuffer());
  const character = await client.videos.createCharacter({ name: 'Star', video: await upload(bytes) });
  const media = JSON.parse(cameosOf('cara')).find((c) => c.id === character.id).reference_media[0];
  assert.ok(blobFiles().some((f) => f.includes(media)));
  await client.videos.delete(video.id);
  assert.ok(blobFiles().some((f) => f.includes(media)), 'the reference video outlives the deleted video');
});
