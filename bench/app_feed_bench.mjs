// How fast the app's feed shows its first clip playing, on loopback, with 1,000 published
// clips (issue #13's target: within 1 s). Not a test: prints the numbers.
//
//   OPSIS_BINARY=build/opsis node bench/app_feed_bench.mjs [--clips 1000] [--real 8] [--loads 7]
//
// `--real` clips are made through the app (the composer's API: real jobs, 90x160, 1 s) and
// published; the rest of the 1,000 are copies of their rows under new ids (same files), written
// with sqlite3 into the server's opsis.db while it is stopped, each with its own likes and
// publication time, so the ranking sorts 1,000 posts. The timed part is a fresh browser page:
// navigation start -> the first clip's <video> playing (currentTime advancing), signed in.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import path from 'node:path';
import { startServer, makeDataDir, removeDataDir } from '../tests/api/server.mjs';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const CLIPS = option('--clips', 1000);
const REAL = option('--real', 8);
const LOADS = option('--loads', 7);
const CHROMIUM = process.env.OPSIS_CHROMIUM || '/usr/bin/chromium';

// A tiny cookie jar for fetch.
function client(root) {
  const jar = new Map();
  let csrf = '';
  const call = async (url, { method = 'GET', body } = {}) => {
    const headers = { Cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') };
    if (method !== 'GET') headers['X-CSRF-Token'] = csrf;
    if (body) headers['Content-Type'] = 'application/json';
    const r = await fetch(root + url, { method, headers, body: body ? JSON.stringify(body) : undefined });
    for (const c of r.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const eq = pair.indexOf('=');
      jar.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    const data = await r.json();
    if (!r.ok) throw new Error(`${method} ${url}: ${r.status} ${JSON.stringify(data)}`);
    if (data.csrf) csrf = data.csrf;
    return data;
  };
  return { call, jar };
}

const dataDir = makeDataDir();
let server = await startServer(dataDir, ['--workers', '2']);
try {
  const root = `http://127.0.0.1:${server.port}`;
  const user = client(root);
  await user.call('/app/api/session');
  await user.call('/app/api/signup', { method: 'POST', body: { handle: 'bench', password: 'bench-password-1' } });
  const made = [];
  for (let i = 0; i < REAL; ++i)
    made.push(await user.call('/app/api/videos', { method: 'POST', body: { prompt: `A ${['red', 'blue', 'green', 'yellow'][i % 4]} ball bounces on a beach, clip ${i}.`, size: '90x160', seconds: '1' } }));
  for (const v of made) {
    for (;;) {
      const now = await user.call(`/app/api/videos/${v.id}`);
      if (now.status === 'completed') break;
      if (now.status === 'failed') throw new Error(`clip failed: ${JSON.stringify(now.error)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    await user.call(`/app/api/videos/${v.id}/publish`, { method: 'POST', body: { caption: `clip ${v.id.slice(-6)}` } });
  }
  await server.stop();

  // Copies: new ids, same files; spread over 30 days, a few likes each.
  const now = Math.floor(Date.now() / 1000);
  const sql = ['BEGIN;'];
  for (let i = made.length; i < CLIPS; ++i) {
    const source = made[i % made.length].id;
    const id = `video_${crypto.randomBytes(16).toString('hex')}`;
    const at = now - Math.floor(Math.random() * 30 * 86400);
    sql.push(`INSERT INTO videos (id, user, model, status, progress, created_at, completed_at, expires_at, prompt, size, seconds, request_json, video_blob, thumbnail_blob, spritesheet_blob)
      SELECT '${id}', user, model, status, progress, ${at}, ${at}, expires_at, prompt, size, seconds, request_json, video_blob, thumbnail_blob, spritesheet_blob FROM videos WHERE id = '${source}';`);
    sql.push(`INSERT INTO app_posts (video_id, user, caption, published_at) VALUES ('${id}', 'bench', 'copy ${i}', ${at});`);
    for (let l = 0; l < i % 7; ++l) sql.push(`INSERT INTO app_likes (video_id, user, created_at) VALUES ('${id}', 'fan${l}', ${at});`);
  }
  sql.push('COMMIT;');
  execFileSync('sqlite3', [path.join(dataDir, 'opsis.db')], { input: sql.join('\n') });

  server = await startServer(dataDir, ['--workers', '1']);
  const base = `http://127.0.0.1:${server.port}`;
  const viewer = client(base);
  await viewer.call('/app/api/session');
  await viewer.call('/app/api/signup', { method: 'POST', body: { handle: 'viewer', password: 'viewer-password-1' } });

  const { chromium } = await import('../tests/browser/node_modules/playwright-core/index.mjs');
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--autoplay-policy=no-user-gesture-required'] });
  const times = [];
  const apiTimes = [];
  for (let i = 0; i < LOADS; ++i) {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
    await context.addCookies([...viewer.jar].map(([name, value]) => ({ name, value, url: base })));
    const page = await context.newPage();
    const t0 = Date.now();
    await page.goto(`${base}/`, { waitUntil: 'commit' });
    const playingAt = await page.evaluate(() => new Promise((resolve) => {
      const check = () => {
        const v = document.querySelector('.clip.active video');
        if (v && !v.paused && v.currentTime > 0) return resolve(performance.now());
        requestAnimationFrame(check);
      };
      check();
    }));
    times.push(playingAt);  // ms since this page's navigation started
    const a = Date.now();
    await viewer.call('/app/api/feed?tab=for_you');
    apiTimes.push(Date.now() - a);
    await context.close();
    void t0;
  }
  await browser.close();
  const sorted = (xs) => [...xs].sort((a, b) => a - b);
  const median = (xs) => sorted(xs)[Math.floor(xs.length / 2)];
  console.log(JSON.stringify({
    published_clips: CLIPS,
    loads: LOADS,
    first_clip_playing_ms: { median: Math.round(median(times)), max: Math.round(Math.max(...times)), all: times.map(Math.round) },
    feed_api_ms: { median: median(apiTimes), max: Math.max(...apiTimes) },
    target_ms: 1000,
  }, null, 2));
} finally {
  await server.stop();
  removeDataDir(dataDir);
}
