// The opsis app in Debian's Chromium (playwright-core), against the real `opsis serve`:
// two people sign up; one creates and publishes, the other likes, comments and remixes; the
// remix chain shows on both clip pages; they follow each other, which lets the second use the
// first's mutuals-only cameo until it is revoked; the feed is swiped with keys and the wheel
// with at most three videos loaded; the published clip carries the visible mark; XSS payloads
// stay text; CSRF, ownership and the login rate limit hold; axe-core finds no serious or
// critical violation on any page.
//
//   OPSIS_BINARY=build/opsis node tests/browser/app.test.mjs
//   OPSIS_APP_SCREENSHOTS=docs/app  (optional) writes each page at 390x844 and 1280x800.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { startServer, makeDataDir, removeDataDir, opsisBinary } from '../api/server.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const CHROMIUM = process.env.OPSIS_CHROMIUM || '/usr/bin/chromium';
const SHOTS = process.env.OPSIS_APP_SCREENSHOTS || '';
const AXE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

const XSS_CAPTION = '<img src=x onerror="window.__xss=1">caption';
const XSS_COMMENT = '<script>window.__xss=2</script>nice one';
const XSS_PROMPT = 'A red ball rolls across a white table. "><svg onload="window.__xss=3">';
const XSS_NAME = '<b onmouseover="window.__xss=4">Ada</b>';
const PASSWORD_A = 'ada-secret-password-1';
const PASSWORD_B = 'bob-secret-password-2';

const step = (name) => console.log(`app test: ${name}`);

const { chromium } = await import('playwright-core');
const dataDir = makeDataDir();
// The cameo recordings here are generated clips and Chromium's synthetic camera (a test
// pattern and a beep): no phrase to hear, no face to see, so the content checks are off.
const server = await startServer(dataDir, ['--workers', '2', '--cameo-checks', 'off'], { accessLog: true });
const root = `http://127.0.0.1:${server.port}`;
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
         '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required',
         // A synthetic camera and microphone, for the cameo page's recording.
         '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream'],
});
const watchdog = setTimeout(() => {
  console.error('app test: FAILED: not finished in 9 minutes');
  process.exit(1);
}, 540_000);

const pageErrors = [];
async function newUser() {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('dialog', (d) => d.accept());
  return { context, page };
}

async function noXss(page) {
  assert.equal(await page.evaluate(() => window.__xss), undefined, `an XSS payload ran on ${page.url()}`);
}

async function axe(page, label) {
  await page.evaluate(AXE);  // through the devtools protocol: the page's CSP does not apply
  const result = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
  });
  const bad = result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad, [], `axe on ${label}: ${JSON.stringify(bad)}`);
  return result;
}

async function shoot(page, name, { fullPage = false } = {}) {
  if (!SHOTS) return;
  fs.mkdirSync(SHOTS, { recursive: true });
  for (const [w, h] of [[390, 844], [1280, 800]]) {
    await page.setViewportSize({ width: w, height: h });
    await page.waitForTimeout(300);
    await page.screenshot({ path: path.join(SHOTS, `${name}-${w}x${h}.png`), fullPage });
  }
  await page.setViewportSize({ width: 1280, height: 800 });
}

async function signup(page, handle, password, name) {
  await page.goto(`${root}/app/signup`);
  await page.getByLabel('Handle').fill(handle);
  await page.getByLabel('Display name').fill(name);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.waitForURL(`${root}/`);
}

// The composer, to the end: returns the new video's id (a draft), published when caption given.
async function compose(page, { prompt, dialogue, size = '90x160', seconds = '1', cameo, remixOf, caption, shot }) {
  await page.goto(`${root}/app/create${remixOf ? `?remix=${remixOf}` : ''}`);
  await page.getByLabel('Prompt', { exact: true }).fill(prompt);
  if (dialogue) {
    await page.getByText('Prompt guide (optional)').click();
    await page.getByLabel('Dialogue').fill(dialogue);
  }
  if (!remixOf) {
    await page.getByLabel('Size').selectOption(size);
    await page.getByLabel('Length').selectOption(seconds);
  }
  if (cameo) await page.locator(`input[name=cameo][value="${cameo}"]`).check();
  if (shot) await shoot(page, shot);
  await page.getByRole('button', { name: remixOf ? 'Remix' : 'Create', exact: true }).click();
  await page.getByText('Done: saved to your drafts.').waitFor({ timeout: 180_000 });
  const id = await page.locator('.result article').getAttribute('data-id');
  assert.match(id, /^video_[0-9a-f]+$/);
  if (caption !== undefined) {
    await page.locator('.result').getByLabel('Caption').fill(caption);
    await page.locator('.result').getByRole('button', { name: 'Publish' }).click();
    await page.locator('.result .badge', { hasText: 'Published' }).waitFor();
  }
  return id;
}

async function csrfOf(page) {
  return page.evaluate(async () => (await (await fetch('/app/api/session')).json()).csrf);
}

// Brightness structure (sum of horizontal luminance steps) in the bottom-left and bottom-right
// corners of the frame at `t` seconds: the visible mark is text, so it adds much of it where
// it sits.
async function cornerDetail(page, url, times) {
  return page.evaluate(async ([src, times]) => {
    const v = document.createElement('video');
    v.muted = true;
    v.src = src;
    document.body.append(v);
    await new Promise((r, j) => { v.onloadeddata = r; v.onerror = () => j(new Error('video error')); });
    const c = document.createElement('canvas');
    c.width = v.videoWidth;
    c.height = v.videoHeight;
    const g = c.getContext('2d');
    const detail = (x0, x1, y0, y1) => {
      const { data } = g.getImageData(x0, y0, x1 - x0, y1 - y0);
      const w = x1 - x0;
      let sum = 0;
      for (let y = 0; y < y1 - y0; ++y)
        for (let x = 1; x < w; ++x) {
          const i = 4 * (y * w + x);
          const l = (p) => 0.299 * data[p] + 0.587 * data[p + 1] + 0.114 * data[p + 2];
          sum += Math.abs(l(i) - l(i - 4));
        }
      return sum;
    };
    const out = [];
    for (const t of times) {
      v.currentTime = t;
      await new Promise((r) => { v.onseeked = r; });
      g.drawImage(v, 0, 0);
      const W = c.width, H = c.height;
      out.push({ left: detail(0, Math.floor(W * 0.6), Math.floor(H * 0.85), H), right: detail(Math.floor(W * 0.4), W, Math.floor(H * 0.85), H) });
    }
    v.remove();
    return out;
  }, [url, times]);
}

let failed = false;
try {
  const A = await newUser();
  const B = await newUser();

  step('sign-up refuses a hostile handle, then two people sign up');
  {
    const csrf = await (async () => { await A.page.goto(`${root}/app/signup`); return csrfOf(A.page); })();
    const r = await A.page.evaluate(async ([csrf]) => (await fetch('/app/api/signup', {
      method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
      body: JSON.stringify({ handle: '<script>', password: 'whatever-long' }) })).status, [csrf]);
    assert.equal(r, 400);
  }
  await signup(A.page, 'ada', PASSWORD_A, XSS_NAME);
  await signup(B.page, 'bob', PASSWORD_B, 'Bob');
  const cookies = await A.context.cookies();
  const session = cookies.find((c) => c.name === 'opsis_session');
  assert.ok(session && session.httpOnly && session.sameSite === 'Lax', 'session cookie is HttpOnly, SameSite=Lax');

  step('ada creates (structured fields, XSS prompt) and publishes with an XSS caption');
  const clip1 = await compose(A.page, { prompt: XSS_PROMPT, dialogue: 'Hello there, ball.', caption: XSS_CAPTION, shot: 'composer' });
  await noXss(A.page);
  await axe(A.page, 'composer');
  await A.page.goto(`${root}/app/drafts`);
  await A.page.locator(`article[data-id="${clip1}"]`).waitFor();
  await axe(A.page, 'drafts');
  await shoot(A.page, 'drafts');
  const draft = await compose(A.page, { prompt: 'A blue cube spins slowly on grass.' });  // stays a draft

  step('ownership: another user\'s draft is a 404, in the API and its media');
  for (const url of [`/app/api/videos/${draft}`, `/app/media/${draft}/video`, `/app/api/videos/${draft}/comments`]) {
    const status = await B.page.evaluate(async (u) => (await fetch(u)).status, url);
    assert.equal(status, 404, url);
  }
  assert.equal(await A.page.evaluate(async (u) => (await fetch(u)).status, `/app/api/videos/${draft}`), 200);
  const publishOthers = await B.page.evaluate(async ([id, csrf]) => (await fetch(`/app/api/videos/${id}/publish`, {
    method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf }, body: '{}' })).status, [draft, await csrfOf(B.page)]);
  assert.equal(publishOthers, 404);
  const remixOthersDraft = await B.page.evaluate(async ([id, csrf]) => (await fetch('/app/api/videos', {
    method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
    body: JSON.stringify({ prompt: 'mine now', remix_of: id }) })).status, [draft, await csrfOf(B.page)]);
  assert.equal(remixOthersDraft, 404, 'another user\'s draft cannot be remixed');

  step('CSRF: a state change without the token, with a wrong one, or from another origin is refused');
  {
    const statuses = await B.page.evaluate(async ([id, csrf]) => {
      const like = (headers) => fetch(`/app/api/videos/${id}/like`, { method: 'POST', headers }).then((r) => r.status);
      return [await like({}), await like({ 'X-CSRF-Token': '0'.repeat(64) }), await like({ 'X-CSRF-Token': csrf })];
    }, [clip1, await csrfOf(B.page)]);
    assert.deepEqual(statuses.slice(0, 2), [403, 403]);
    assert.equal(statuses[2], 200);
    await B.page.evaluate(async ([id, csrf]) => fetch(`/app/api/videos/${id}/like`, { method: 'DELETE', headers: { 'X-CSRF-Token': csrf } }), [clip1, await csrfOf(B.page)]);
    const cross = await fetch(`${root}/app/api/logout`, { method: 'POST', headers: { Origin: 'http://evil.example', 'X-CSRF-Token': 'x' } });
    assert.equal(cross.status, 403);
  }

  step('bob likes and comments (XSS) on ada\'s clip from its page');
  await B.page.goto(`${root}/app/v/${clip1}`);
  await B.page.getByText('caption', { exact: false }).first().waitFor();
  assert.ok(await B.page.getByText(XSS_CAPTION).count() > 0, 'the caption shows as text');
  await B.page.getByRole('button', { name: /^Like 0 likes/ }).click();
  await B.page.locator('button.like[aria-pressed="true"]', { hasText: '1' }).waitFor();
  await B.page.getByLabel('Add a comment').fill(XSS_COMMENT);
  await B.page.getByRole('button', { name: 'Post' }).click();
  await B.page.locator('.comments li .text', { hasText: XSS_COMMENT }).waitFor();
  await noXss(B.page);
  assert.equal(await B.page.locator('track[kind=captions]').count(), 1, 'dialogue as a caption track');
  const vtt = await B.page.evaluate(async (id) => (await fetch(`/app/media/${id}/captions.vtt`)).text(), clip1);
  assert.match(vtt, /^WEBVTT[\s\S]*Hello there, ball\./);

  step('bob remixes it; the chain shows on both pages');
  await B.page.getByRole('link', { name: 'Remix' }).click();
  await B.page.getByText('Remixing').waitFor();
  const remix = await compose(B.page, { prompt: 'The same ball, now green.', remixOf: clip1, caption: 'green remix' });
  await B.page.goto(`${root}/app/v/${remix}`);
  await B.page.locator('.chain').getByRole('link', { name: /@ada/ }).waitFor();
  await B.page.locator('.provenance .c2pa', { hasNotText: 'checking' }).waitFor();
  const c2pa = await B.page.locator('.provenance .c2pa').textContent();
  assert.match(c2pa, /C2PA manifest/);
  assert.match(c2pa, /1 ingredient/);
  await A.page.goto(`${root}/app/v/${clip1}`);
  await A.page.locator('.chain').getByRole('link', { name: /@bob — green remix/ }).waitFor();
  await axe(A.page, 'clip page');
  await noXss(A.page);
  await shoot(A.page, 'clip-chain', { fullPage: true });
  const lineage = await A.page.evaluate(async (id) => (await (await fetch(`/app/api/videos/${id}`)).json()).remixed_from_video_id, remix);
  assert.equal(lineage, clip1, 'remixed_from_video_id as in the API');

  step('they follow each other');
  await B.page.goto(`${root}/app/u/ada`);
  await B.page.getByRole('button', { name: 'Follow', exact: true }).click();
  await B.page.getByRole('button', { name: 'Following' }).waitFor();
  await A.page.goto(`${root}/app/u/bob`);
  await A.page.getByText('Follows you').waitFor();
  await A.page.getByRole('button', { name: 'Follow', exact: true }).click();
  await A.page.getByRole('button', { name: 'Following' }).waitFor();
  await A.page.goto(`${root}/app/u/bob`);
  await A.page.getByText('Mutuals').waitFor();
  await axe(A.page, 'profile');
  await shoot(A.page, 'profile');

  step('ada makes an API key on her account page and a character with it through the API');
  await A.page.goto(`${root}/app/account`);
  await axe(A.page, 'account');
  await A.page.getByRole('button', { name: 'Create an API key' }).click();
  const key = (await A.page.locator('.secret code').textContent()).trim();
  assert.match(key, /^sk-opsis-/);
  await shoot(A.page, 'account');
  const mp4 = await (await fetch(`${root}/v1/videos/${clip1}/content`, { headers: { Authorization: `Bearer ${key}` } })).arrayBuffer();
  const form = new FormData();
  form.append('name', 'Ada Cat');
  form.append('video', new Blob([mp4], { type: 'video/mp4' }), 'ada.mp4');
  const characterResponse = await fetch(`${root}/v1/videos/characters`, { method: 'POST', headers: { Authorization: `Bearer ${key}` }, body: form });
  const character = await characterResponse.json();
  assert.equal(characterResponse.status, 200, JSON.stringify(character));

  step('ada enrolls a cameo on her cameo page (challenge, uploaded recording) and lets mutuals use it');
  const recordingFile = path.join(os.tmpdir(), `opsis-app-recording-${process.pid}.mp4`);
  fs.writeFileSync(recordingFile, Buffer.from(mp4));
  await A.page.goto(`${root}/app/cameo`);
  await A.page.locator(`.cameo[data-id="${character.id}"]`).waitFor();  // the API's character, same registry
  await A.page.getByRole('button', { name: 'Get a challenge' }).click();
  await A.page.getByText(/say "[a-z ]+"/).waitFor();
  await A.page.getByLabel('Or upload a recording (MP4 or WebM)').setInputFiles(recordingFile);
  await A.page.getByLabel('Cameo handle').fill('ada_cam');
  await A.page.getByRole('button', { name: 'Enroll' }).click();
  const card = A.page.locator('.cameo', { hasText: '@ada_cam' });
  await card.waitFor();
  fs.rmSync(recordingFile, { force: true });
  await card.getByLabel('Who may use it').selectOption('mutuals');
  await A.page.locator('#toast', { hasText: 'Saved' }).waitFor();
  // Her avatar is now a frame of her cameo recording.
  await A.page.goto(`${root}/app/u/ada`);
  await A.page.waitForFunction(() => { const img = document.querySelector('img.avatar'); return img && img.complete && img.naturalWidth > 0; });
  await shoot(A.page, 'profile-with-cameo-avatar');
  const cameoHandle = '@ada_cam';

  step('bob (a mutual) is offered the cameo and uses it in a draft; ada sees the draft and revokes');
  const withCameo = await compose(B.page, { prompt: `${cameoHandle} waves at the camera.`, cameo: cameoHandle, shot: 'composer-cameo' });
  // A remix of her published clip may bring the cameo in too (the composer offers it there).
  const remixWithCameo = await compose(B.page, { prompt: `The ball bounces by ${cameoHandle}.`, remixOf: clip1, cameo: cameoHandle,
    shot: 'composer-remix-cameo' });
  await A.page.goto(`${root}/app/cameo`);
  await A.page.locator(`.with-me li[data-id="${withCameo}"]`).waitFor();
  await A.page.locator(`.with-me li[data-id="${remixWithCameo}"]`).waitFor();
  assert.equal(await A.page.evaluate(async (id) => (await fetch(`/app/media/${id}/thumbnail`)).status, withCameo), 200, 'the person in a draft sees it');
  await axe(A.page, 'cameo page');
  await shoot(A.page, 'cameo', { fullPage: true });
  await A.page.locator('.cameo', { hasText: '@ada_cam' }).getByRole('button', { name: 'Revoke' }).click();
  await A.page.locator('.cameo', { hasText: '@ada_cam' }).locator('.badge', { hasText: 'revoked' }).waitFor();
  await B.page.goto(`${root}/app/create`);
  await B.page.getByLabel('Prompt', { exact: true }).waitFor();
  assert.equal(await B.page.locator(`input[name=cameo][value="${cameoHandle}"]`).count(), 0, 'a revoked cameo is not offered');
  const refused = await B.page.evaluate(async ([h, csrf]) => (await fetch('/app/api/videos', { method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
    body: JSON.stringify({ prompt: `${h} again`, size: '90x160', seconds: '1', cameos: [h] }) })).status, [cameoHandle, await csrfOf(B.page)]);
  assert.equal(refused, 403);
  step('bob enrolls a cameo with the (synthetic) camera: getUserMedia, MediaRecorder, WebM');
  await B.context.grantPermissions(['camera', 'microphone'], { origin: root });
  await B.page.goto(`${root}/app/cameo`);
  await B.page.getByRole('button', { name: 'Get a challenge' }).click();
  await B.page.getByText(/say "[a-z ]+"/).waitFor();
  await B.page.getByRole('button', { name: 'Record 4 seconds with the camera' }).click();
  await B.page.getByRole('button', { name: 'Record again' }).waitFor({ timeout: 20_000 });
  await B.page.getByLabel('Cameo handle').fill('bob_cam');
  await B.page.getByRole('button', { name: 'Enroll' }).click();
  await B.page.locator('.cameo', { hasText: '@bob_cam' }).waitFor();
  await B.page.goto(`${root}/app/u/bob`);
  await B.page.waitForFunction(() => { const img = document.querySelector('img.avatar'); return img && img.complete && img.naturalWidth > 0; });

  step('ada deletes bob\'s draft with her cameo from "videos with me"');
  await A.page.locator(`.with-me li[data-id="${withCameo}"]`).getByRole('button', { name: 'Delete the video by @bob' }).click();
  await A.page.locator('#toast', { hasText: 'Video deleted' }).waitFor();
  assert.equal(await B.page.evaluate(async (id) => (await fetch(`/app/api/videos/${id}`)).status, withCameo), 404);

  step('the visible mark: on the published clip, bottom-right first, then bottom-left (it moves)');
  const marked = await compose(A.page, { prompt: 'A calm blue sky over a flat green field. Static camera.', size: '360x640', seconds: '4', caption: 'sky' });
  await A.page.goto(`${root}/app/v/${marked}`);
  const [early, late] = await cornerDetail(A.page, `/app/media/${marked}/video`, [0.5, 3.6]);
  console.log(`app test: corner detail at 0.5 s ${JSON.stringify(early)}, at 3.6 s ${JSON.stringify(late)}`);
  assert.ok(early.right > 1.3 * late.right + 100, 'the mark sits bottom-right at first');
  assert.ok(late.left > 1.3 * early.left + 100, 'then bottom-left');

  step('the feed: scroll-snap clips, keys and wheel, at most three loaded');
  for (let i = 0; i < 3; ++i) await compose(A.page, { prompt: `Clip ${i}: a yellow balloon over a beach.`, caption: `balloon ${i}` });
  await B.page.goto(`${root}/`);
  await B.page.locator('.clip.active').waitFor();
  await axe(B.page, 'feed');
  const activeId = () => B.page.locator('.clip.active').getAttribute('data-id');
  const loaded = () => B.page.evaluate(() => document.querySelectorAll('.feed video[src]').length);
  const clips = await B.page.locator('.clip').count();
  assert.ok(clips >= 6, `the feed lists the published clips (${clips})`);
  const first = await activeId();
  assert.ok(await B.page.evaluate(() => { const v = document.querySelector('.clip.active video'); return v.muted && v.loop; }), 'muted, looping');
  await B.page.locator('.feed').focus();
  await B.page.keyboard.press('ArrowDown');
  await B.page.waitForFunction((id) => document.querySelector('.clip.active')?.dataset.id !== id, first);
  const second = await activeId();
  assert.ok((await loaded()) <= 3, 'at most three videos with a source');
  await B.page.mouse.move(640, 400);
  await B.page.mouse.wheel(0, 300);
  await B.page.waitForFunction((id) => document.querySelector('.clip.active')?.dataset.id !== id, second);
  await B.page.waitForTimeout(400);
  await B.page.mouse.wheel(0, 300);
  await B.page.waitForTimeout(400);
  assert.ok((await loaded()) <= 3, 'at most three videos with a source after wheeling');
  await B.page.keyboard.press('ArrowUp');
  await B.page.waitForTimeout(200);
  await B.page.evaluate(() => document.querySelector('.clip.active video').play().catch(() => {}));
  await B.page.waitForFunction(() => { const v = document.querySelector('.clip.active video'); return v && !v.paused && v.readyState >= 2; }, null, { timeout: 15_000 });
  await noXss(B.page);
  await B.page.locator('.clip').first().scrollIntoViewIfNeeded();
  await shoot(B.page, 'feed');
  // Following tab: ada follows bob, so bob's clips only.
  await A.page.goto(`${root}/app/following`);
  await A.page.locator('.clip').first().waitFor();
  const creators = await A.page.locator('.clip .meta a.handle').allTextContents();
  assert.ok(creators.length > 0 && creators.every((c) => c === '@bob'), `following tab: ${creators}`);

  step('reports and moderation: a moderator (set from the CLI) hides a reported clip');
  await B.page.goto(`${root}/app/v/${clip1}`);
  await B.page.getByRole('button', { name: 'Report this video' }).click();
  await B.page.getByRole('button', { name: 'Send report' }).click();
  await B.page.getByText('Thanks, a moderator will look at it.').waitFor();
  assert.equal(await B.page.evaluate(async () => (await fetch('/app/api/mod/queue')).status), 404, 'not a moderator');
  execFileSync(opsisBinary(), ['app', 'moderator', 'bob', '--data-dir', dataDir]);
  await B.page.goto(`${root}/app/mod`);
  await B.page.locator('.reports li').first().waitFor();
  await axe(B.page, 'moderation');
  await B.page.getByRole('button', { name: 'hide' }).first().click();
  await B.page.getByText('hide: done').waitFor();
  assert.equal(await A.page.evaluate(async (id) => (await fetch(`/app/api/videos/${id}/comments`)).status, clip1), 404, 'hidden clip gone');

  step('blocking: bob blocks ada, and her clips leave his feed; follows end');
  await B.page.goto(`${root}/app/u/ada`);
  await B.page.getByRole('button', { name: 'Block' }).click();
  await B.page.getByRole('button', { name: 'Unblock' }).waitFor();
  await B.page.goto(`${root}/`);
  await B.page.locator('.clip').first().waitFor();
  const seen = await B.page.locator('.clip .meta a.handle').allTextContents();
  assert.ok(seen.length > 0 && !seen.includes('@ada'), `blocked creator in the feed: ${seen}`);
  assert.equal(await B.page.evaluate(async () => (await (await fetch('/app/api/users/ada')).json()).you_follow), false, 'follows end');
  assert.equal(await A.page.evaluate(async () => (await fetch('/app/api/users/bob')).status), 404, 'a blocker\'s profile is gone for the blocked');
  await B.page.goto(`${root}/app/u/ada`);
  await B.page.getByRole('button', { name: 'Unblock' }).click();
  await B.page.getByRole('button', { name: 'Block' }).waitFor();

  step('keyboard only: the skip link comes first; login, logout and the rate limit');
  const C = await newUser();
  await C.page.goto(`${root}/app/login`);
  await C.page.keyboard.press('Tab');
  assert.equal(await C.page.evaluate(() => document.activeElement.textContent), 'Skip to content');
  await axe(C.page, 'login');
  await shoot(C.page, 'login');
  await C.page.getByLabel('Handle').focus();
  await C.page.keyboard.type('ada');
  await C.page.keyboard.press('Tab');
  await C.page.keyboard.type(PASSWORD_A);
  await C.page.keyboard.press('Enter');
  await C.page.waitForURL(`${root}/`);
  await C.page.goto(`${root}/app/account`);
  await C.page.getByRole('button', { name: 'Sign out' }).click();
  await C.page.waitForURL(`${root}/`);
  assert.equal(await C.page.evaluate(async () => (await (await fetch('/app/api/session')).json()).user), null);
  const csrf = await csrfOf(C.page);
  const tries = await C.page.evaluate(async ([csrf]) => {
    const out = [];
    for (let i = 0; i < 6; ++i)
      out.push((await fetch('/app/api/login', { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
        body: JSON.stringify({ handle: 'bob', password: `wrong-password-${i}` }) })).status);
    return out;
  }, [csrf]);
  assert.deepEqual(tries, [401, 401, 401, 401, 401, 429]);
  await C.context.close();

  step('pages: security headers; passwords never in the log');
  const pageResponse = await fetch(`${root}/app/feed`);
  assert.match(pageResponse.headers.get('content-security-policy'), /script-src 'self'/);
  assert.equal((await fetch(`${root}/app/static/../../etc/passwd`)).status, 404);
  assert.equal((await fetch(`${root}/app/api/nothing`)).status, 404);
  assert.equal((await fetch(`${root}/app/nothing`)).status, 404, 'an unknown page is a 404');
  assert.equal((await fetch(`${root}/app/u/ada`)).status, 200);
  for (const secret of [PASSWORD_A, PASSWORD_B]) assert.ok(!server.stderr().includes(secret), 'a password is in the server log');
  assert.match(server.stderr(), /"path":"\/app\/api\/feed"[^\n]*"user":"bob"/, 'the access log names the signed-in user');
  assert.deepEqual(pageErrors, [], 'no script errors in the pages');
  console.log('app test: PASSED');
} catch (error) {
  failed = true;
  console.error(`app test: FAILED: ${error.stack || error}`);
  console.error(server.stderr().split('\n').filter((l) => !l.startsWith('{')).slice(-30).join('\n'));
} finally {
  clearTimeout(watchdog);
  await browser.close().catch(() => {});
  await server.stop();
  removeDataDir(dataDir);
}
process.exit(failed ? 1 : 0);
