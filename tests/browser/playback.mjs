// Plays an MP4 in Debian's Chromium (through playwright-core) the way a person's browser
// would, and checks what the <video> element reports.
//
//   node tests/browser/playback.mjs FILE.mp4 --duration S --width W --height H
//        [--fps 24] [--flash-frame N] [--click-seconds T] [--expect-audio]
//
// --flash-frame N: frame N is white and its neighbours dark; checked by seeking and drawing
//                  the presented frame onto a canvas.
// --click-seconds T: the sound is silent but for a click at T s; Chromium's own decoder
//                  (decodeAudioData) must put its onset within 2 ms of T.
// Exits 0 when every check passes, 1 with a message naming the failed check otherwise.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const CHROMIUM = process.env.OPSIS_CHROMIUM || '/usr/bin/chromium';
const TIMEOUT_MS = 60_000;

class CheckFailed extends Error {}

function fail(message) {
  throw new CheckFailed(message);
}

function parseArguments(argv) {
  const options = { fps: 24, expectAudio: false };
  const positional = [];
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i];
    const number = () => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v)) fail(`${a} needs a number`);
      return v;
    };
    if (a === '--duration') options.duration = number();
    else if (a === '--width') options.width = number();
    else if (a === '--height') options.height = number();
    else if (a === '--fps') options.fps = number();
    else if (a === '--flash-frame') options.flashFrame = number();
    else if (a === '--click-seconds') options.clickSeconds = number();
    else if (a === '--expect-audio') options.expectAudio = true;
    else if (a.startsWith('--')) fail(`unknown option ${a}`);
    else positional.push(a);
  }
  if (positional.length !== 1 || options.duration === undefined || options.width === undefined ||
      options.height === undefined) {
    fail('usage: playback.mjs FILE.mp4 --duration S --width W --height H [--fps F] ' +
         '[--flash-frame N] [--click-seconds T] [--expect-audio]');
  }
  options.file = positional[0];
  return options;
}

async function loadPlaywright() {
  try {
    return await import('playwright-core');
  } catch (error) {
    fail(`playwright-core is not installed in ${here}/node_modules (${error.code || error.message}); ` +
         'run: npm ci --prefix tests/browser');
  }
}

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>opsis playback</title></head>
<body><video id="v" src="/video.mp4" muted playsinline preload="auto"></video></body></html>`;

// Serves the page and the file, honouring single byte ranges (the video element seeks with them).
function serve(file, requests) {
  const size = fs.statSync(file).size;
  const server = http.createServer((request, response) => {
    if (request.url === '/video.mp4') requests.push(request.headers.range || 'whole');
    if (request.url === '/') {
      response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      response.end(PAGE);
      return;
    }
    if (request.url !== '/video.mp4') {
      response.writeHead(404).end();
      return;
    }
    const headers = { 'Content-Type': 'video/mp4', 'Accept-Ranges': 'bytes' };
    const range = /^bytes=(\d*)-(\d*)$/.exec(request.headers.range || '');
    if (!range) {
      response.writeHead(200, { ...headers, 'Content-Length': size });
      fs.createReadStream(file).pipe(response);
      return;
    }
    let start = range[1] === '' ? size - Number(range[2]) : Number(range[1]);
    let end = range[1] === '' || range[2] === '' ? size - 1 : Math.min(Number(range[2]), size - 1);
    start = Math.max(0, start);
    if (start > end || start >= size) {
      response.writeHead(416, { 'Content-Range': `bytes */${size}` }).end();
      return;
    }
    response.writeHead(206, { ...headers, 'Content-Range': `bytes ${start}-${end}/${size}`,
                              'Content-Length': end - start + 1 });
    fs.createReadStream(file, { start, end }).pipe(response);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

async function main() {
  const options = parseArguments(process.argv.slice(2));
  if (!fs.existsSync(options.file)) fail(`${options.file} does not exist`);
  if (!fs.existsSync(CHROMIUM)) fail(`no Chromium at ${CHROMIUM} (apt-get install chromium)`);
  const { chromium } = await loadPlaywright();

  const videoRequests = [];  // the Range header of each request for the file
  const server = await serve(options.file, videoRequests);
  const url = `http://127.0.0.1:${server.address().port}/`;
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'opsis-chromium-'));
  let context;
  const watchdog = setTimeout(async () => {
    console.error(`browser playback: FAILED: no result within ${TIMEOUT_MS / 1000} s`);
    if (context) await context.close().catch(() => {});
    fs.rmSync(profile, { recursive: true, force: true });
    process.exit(1);
  }, TIMEOUT_MS);
  try {
    // A persistent context is how playwright takes a --user-data-dir: a fresh one per run.
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
             '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const page = context.pages()[0] || await context.newPage();
    const browserErrors = [];
    page.on('pageerror', (e) => browserErrors.push(String(e)));
    await page.goto(url);
    const frameSeconds = 1 / options.fps;

    const metadata = await page.evaluate(() => new Promise((resolve) => {
      const v = document.getElementById('v');
      const report = () => resolve({
        duration: v.duration, width: v.videoWidth, height: v.videoHeight,
        error: v.error ? `${v.error.code} ${v.error.message}` : null,
      });
      if (v.readyState >= 1) report();
      v.addEventListener('loadedmetadata', report, { once: true });
      v.addEventListener('error', report, { once: true });
    }));
    if (metadata.error) fail(`Chromium cannot load the file: MediaError ${metadata.error}`);
    if (Math.abs(metadata.duration - options.duration) > frameSeconds) {
      fail(`duration is ${metadata.duration} s, expected ${options.duration} s (within one frame)`);
    }
    if (metadata.width !== options.width || metadata.height !== options.height) {
      fail(`size is ${metadata.width}x${metadata.height}, expected ${options.width}x${options.height}`);
    }

    const target = Math.min(0.5, options.duration / 2);
    const playback = await page.evaluate((target) => new Promise((resolve) => {
      const v = document.getElementById('v');
      const started = performance.now();
      const finish = (ok, why) => resolve({
        ok, why, currentTime: v.currentTime, waitedMs: performance.now() - started,
        videoBytes: v.webkitVideoDecodedByteCount, audioBytes: v.webkitAudioDecodedByteCount,
        decodedFrames: v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality().totalVideoFrames : -1,
        error: v.error ? `${v.error.code} ${v.error.message}` : null,
      });
      const poll = setInterval(() => {
        if (v.error) { clearInterval(poll); finish(false, 'media error'); }
        else if (v.currentTime > target) { clearInterval(poll); v.pause(); finish(true, ''); }
        else if (performance.now() - started > 20000) { clearInterval(poll); finish(false, 'stalled'); }
      }, 20);
      v.play().catch((e) => { clearInterval(poll); finish(false, `play() rejected: ${e}`); });
    }), target);
    if (!playback.ok) {
      fail(`did not play past ${target} s (${playback.why}; currentTime ${playback.currentTime}` +
           `${playback.error ? `, MediaError ${playback.error}` : ''})`);
    }
    if (!(playback.videoBytes > 0)) fail('Chromium decoded no video bytes');
    if (options.expectAudio && !(playback.audioBytes > 0)) fail('Chromium decoded no audio bytes');

    let flash = null;
    if (options.flashFrame !== undefined) {
      // Mean luma of the frame presented after seeking to the middle of frame n.
      const brightnessAt = (n) => page.evaluate(async (seconds) => {
        const v = document.getElementById('v');
        await new Promise((resolve) => {
          v.addEventListener('seeked', resolve, { once: true });
          v.currentTime = seconds;
        });
        await new Promise((resolve) => v.requestVideoFrameCallback
          ? (v.requestVideoFrameCallback(() => resolve()), setTimeout(resolve, 500))
          : resolve());
        const canvas = document.createElement('canvas');
        canvas.width = v.videoWidth;
        canvas.height = v.videoHeight;
        const g = canvas.getContext('2d', { willReadFrequently: true });
        g.drawImage(v, 0, 0);
        const data = g.getImageData(0, 0, canvas.width, canvas.height).data;
        let sum = 0;
        for (let i = 0; i < data.length; i += 4) sum += (data[i] + data[i + 1] + data[i + 2]) / 3;
        return sum / (data.length / 4);
      }, (n + 0.5) * frameSeconds);
      const n = options.flashFrame;
      flash = { before: await brightnessAt(n - 1), at: await brightnessAt(n), after: await brightnessAt(n + 1) };
      if (!(flash.at > 200 && flash.before < 50 && flash.after < 50)) {
        fail(`frame ${n} should be the only white one: mean brightness of frames ${n - 1}, ${n}, ` +
             `${n + 1} is ${flash.before.toFixed(1)}, ${flash.at.toFixed(1)}, ${flash.after.toFixed(1)}`);
      }
    }

    let click = null;
    if (options.clickSeconds !== undefined) {
      click = await page.evaluate(async () => {
        const bytes = await (await fetch('/video.mp4')).arrayBuffer();
        const context = new OfflineAudioContext(1, 48000, 48000);
        const buffer = await context.decodeAudioData(bytes);
        const samples = buffer.getChannelData(0);
        let onset = -1;
        for (let i = 0; i < samples.length; ++i) {
          if (Math.abs(samples[i]) >= 0.3) { onset = i; break; }
        }
        return { onsetSeconds: onset / buffer.sampleRate, decodedSeconds: buffer.duration,
                 rate: buffer.sampleRate };
      });
      const error = click.onsetSeconds - options.clickSeconds;
      if (!(Math.abs(error) <= 0.002)) {
        fail(`Chromium hears the click at ${click.onsetSeconds.toFixed(4)} s, ` +
             `expected ${options.clickSeconds} s (off by ${(error * 1000).toFixed(1)} ms)`);
      }
    }
    if (browserErrors.length) fail(`page errors: ${browserErrors.join('; ')}`);

    console.log(JSON.stringify({ file: options.file, chromium: context.browser()?.version(),
                                 metadata, playback, flash, click, videoRequests }));
    console.log('browser playback: ok');
  } finally {
    clearTimeout(watchdog);
    if (context) await context.close().catch(() => {});
    server.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

try {
  await main();
} catch (error) {
  console.error(`browser playback: FAILED: ${error instanceof CheckFailed ? error.message : error.stack}`);
  process.exitCode = 1;
}
