// Starts and stops a real `opsis serve` for the tests: a free port, a temporary data
// directory, API keys made with `opsis keys create`. The binary comes from $OPSIS_BINARY.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const opsisBinary = () => {
  const binary = process.env.OPSIS_BINARY;
  if (!binary) throw new Error('set OPSIS_BINARY to the opsis executable');
  return binary;
};

export const makeDataDir = () => mkdtempSync(path.join(tmpdir(), 'opsis-api-'));
export const removeDataDir = (dir) => rmSync(dir, { recursive: true, force: true });

export function createKey(dataDir, user) {
  return execFileSync(opsisBinary(), ['keys', 'create', '--user', user, '--data-dir', dataDir], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  }).trim();
}

export function revokeKey(dataDir, idOrPrefix) {
  execFileSync(opsisBinary(), ['keys', 'revoke', idOrPrefix, '--data-dir', dataDir], { stdio: 'ignore' });
}

// Resolves once the server prints the address it listens on. accessLog: keep the JSON access
// log on stderr (read with stderr()). env: variables added to the server's environment.
export function startServer(dataDir, extraArgs = [], { accessLog = false, env = {} } = {}) {
  const child = spawn(opsisBinary(), ['serve', '--port', '0', '--data-dir', dataDir, ...(accessLog ? [] : ['--no-access-log']), ...extraArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return new Promise((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => reject(new Error(`opsis serve did not start in 20 s:\n${stderr}`)), 20000);
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      const match = stdout.match(/listening on http:\/\/([\d.]+):(\d+)/);
      if (match) {
        clearTimeout(timer);
        const port = Number(match[2]);
        resolve({
          child,
          port,
          baseURL: `http://127.0.0.1:${port}/v1`,
          root: `http://127.0.0.1:${port}`,
          exited,
          stderr: () => stderr,
          async stop(signal = 'SIGTERM') {
            if (child.exitCode === null && child.signalCode === null) child.kill(signal);
            return exited;
          },
        });
      }
    });
    exited.then(({ code, signal }) => reject(new Error(`opsis serve exited (${code ?? signal}) before listening:\n${stderr}`)));
  });
}

// Polls until the video is completed or failed.
export async function waitFor(client, id, { timeoutMs = 180000, onPoll } = {}) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const { data: video, response } = await client.videos.retrieve(id).withResponse();
    if (onPoll) onPoll(video, response);
    if (video.status === 'completed' || video.status === 'failed') return video;
    const pause = Number(response.headers.get('openai-poll-after-ms') ?? 200);
    await new Promise((r) => setTimeout(r, Math.min(pause, 250)));
  }
  throw new Error(`video ${id} did not finish in ${timeoutMs} ms`);
}

// ---- file checks -------------------------------------------------------------------------

// Top-level ISO BMFF boxes; throws if they do not exactly cover the file (a partial file).
export function mp4Boxes(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const boxes = [];
  let offset = 0;
  while (offset < bytes.length) {
    if (offset + 8 > bytes.length) throw new Error(`truncated box header at ${offset}`);
    let size = view.getUint32(offset);
    const type = String.fromCharCode(...bytes.subarray(offset + 4, offset + 8));
    if (size === 1) size = Number(view.getBigUint64(offset + 8));
    if (size < 8 || offset + size > bytes.length) throw new Error(`box ${type} at ${offset} runs past the end (${size} bytes)`);
    boxes.push({ type, offset, size });
    offset += size;
  }
  return boxes;
}

// Duration in seconds from the movie header (mvhd).
export function mp4Duration(bytes) {
  const moov = mp4Boxes(bytes).find((b) => b.type === 'moov');
  if (!moov) throw new Error('no moov box');
  const inner = bytes.subarray(moov.offset + 8, moov.offset + moov.size);
  const mvhd = mp4Boxes(inner).find((b) => b.type === 'mvhd');
  const view = new DataView(inner.buffer, inner.byteOffset + mvhd.offset, mvhd.size);
  const version = view.getUint8(8);
  if (version === 1) return Number(view.getBigUint64(32)) / view.getUint32(28);
  return view.getUint32(24) / view.getUint32(20);
}

export function assertValidMp4(bytes) {
  const types = mp4Boxes(bytes).map((b) => b.type);
  if (types[0] !== 'ftyp' || !types.includes('moov') || !types.includes('mdat'))
    throw new Error(`not a whole MP4: boxes ${types.join(',')}`);
}

export const isWebp = (b) =>
  b.length > 12 && String.fromCharCode(...b.subarray(0, 4)) === 'RIFF' && String.fromCharCode(...b.subarray(8, 12)) === 'WEBP' &&
  new DataView(b.buffer, b.byteOffset).getUint32(4, true) + 8 === b.length;
export const isJpeg = (b) => b.length > 4 && b[0] === 0xff && b[1] === 0xd8 && b[b.length - 2] === 0xff && b[b.length - 1] === 0xd9;
