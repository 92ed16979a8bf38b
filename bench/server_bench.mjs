// Load on `opsis serve` over loopback: N concurrent clients each create a video and poll it
// until it finishes, pacing by openai-poll-after-ms. Reports request latency percentiles by
// kind, whether every job finished, how many durable commits the writes shared (group
// commit), and the machine. Bounded in time (--deadline-s). A benchmark, never a test.
//   node bench/server_bench.mjs --opsis build/opsis [--clients 100] [--workers 2] [--deadline-s 240]
//        [--create-client native|http]
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import os from 'node:os';
import { parseArgs } from 'node:util';

import { makeDataDir, removeDataDir, startServer } from '../tests/api/server.mjs';

const { values: args } = parseArgs({
  options: {
    opsis: { type: 'string' },
    clients: { type: 'string', default: '100' },
    workers: { type: 'string', default: '2' },
    'deadline-s': { type: 'string', default: '240' },
    size: { type: 'string', default: '160x90' },
    seconds: { type: 'string', default: '1' },
    'http-threads': { type: 'string', default: '256' },
    // node:http with keep-alive (default), or fetch (undici): fetch costs this 2-core machine
    // 2-3 ms of client CPU per request, which then dominates what is measured.
    client: { type: 'string', default: 'http' },
    // Who sends the burst of creates: the native client (create_burst.cpp, microseconds per
    // request) when it is built, else node (about 0.2 ms of client CPU per request here, which
    // on 2 cores is itself most of a 25 ms target: bench/client_floor.mjs). Polling is node's.
    'create-client': { type: 'string', default: '' },
  },
});
if (args.opsis) process.env.OPSIS_BINARY = args.opsis;
const nativeClient = path.join(path.dirname(args.opsis ?? 'build/opsis'), 'bench', 'opsis_bench_create_burst');
const createClient = args['create-client'] || (existsSync(nativeClient) ? 'native' : 'http');
if (!['native', 'http'].includes(createClient)) throw new Error('--create-client is native or http');
const clients = Number(args.clients);
const deadline = Date.now() + Number(args['deadline-s']) * 1000;

const latencies = { create: [], retrieve: [], content: [] };
const statuses = {};
// One connection per client, kept alive, like an SDK's pool.
const agent = new http.Agent({ keepAlive: true, maxSockets: clients + 8 });
// A GET is retried once on a connection the server closed as it was reused (the agent shares
// idle sockets between clients, and one can sit idle past the server's 2 s keep-alive timeout;
// the openai SDK retries these too). A POST is not: the bench never repeats a create.
async function request(url, init = {}) {
  try {
    return await requestOnce(url, init);
  } catch (error) {
    if ((init.method ?? 'GET') !== 'GET' || error.code !== 'ECONNRESET') throw error;
    retries += 1;
    return requestOnce(url, init);
  }
}
let retries = 0;
function requestOnce(url, { method = 'GET', headers = {}, body } = {}) {
  if (args.client === 'fetch') return fetch(url, { method, headers, body }).then(async (r) => ({ status: r.status, headers: r.headers, bytes: new Uint8Array(await r.arrayBuffer()) }));
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent, headers: body ? { ...headers, 'content-length': Buffer.byteLength(body) } : headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: new Headers(res.headers), bytes: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
async function timed(kind, url, init) {
  const started = performance.now();
  const response = await request(url, init);
  const body = kind === 'content' ? response.bytes : JSON.parse(Buffer.from(response.bytes).toString('utf8'));
  latencies[kind].push(performance.now() - started);
  statuses[response.status] = (statuses[response.status] ?? 0) + 1;
  return { response, body };
}

const createBody = (index) => JSON.stringify({ prompt: `A red ball bounces in a meadow, take ${index}`, model: 'opsis-studio', seconds: args.seconds, size: args.size });
async function client(base, index, createdId) {
  const created = createdId ? { id: createdId } : (await timed('create', `${base}/videos`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: createBody(index),
  })).body;
  if (!created.id) throw new Error(`create failed: ${JSON.stringify(created)}`);
  for (;;) {
    if (Date.now() > deadline) return { id: created.id, status: 'timed out' };
    const { response, body } = await timed('retrieve', `${base}/videos/${created.id}`);
    if (body.status === 'completed') {
      const { body: bytes } = await timed('content', `${base}/videos/${created.id}/content`);
      return { id: created.id, status: bytes.length > 0 ? 'completed' : 'empty content' };
    }
    if (body.status === 'failed') return { id: created.id, status: 'failed' };
    await new Promise((r) => setTimeout(r, Number(response.headers.get('openai-poll-after-ms') ?? 500)));
  }
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const summary = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const round = (v) => Math.round(v * 10) / 10;
  return { count: sorted.length, p50_ms: round(percentile(sorted, 50)), p90_ms: round(percentile(sorted, 90)),
           p99_ms: round(percentile(sorted, 99)), max_ms: round(sorted.at(-1)) };
};

// Group commit's effect: durable writes, and the commits (fsyncs) they shared.
function storeCounters(metrics) {
  const read = (name) => Number(metrics.match(new RegExp(`^${name} (\\d+)$`, 'm'))?.[1] ?? NaN);
  const writes = read('opsis_store_writes_total');
  const commits = read('opsis_store_commits_total');
  return { writes, commits, writes_per_commit: Math.round((writes / commits) * 10) / 10 };
}

const loadBefore = os.loadavg();
const dataDir = makeDataDir();
const server = await startServer(dataDir, ['--workers', args.workers, '--poll-after-ms', '250', '--http-threads', args['http-threads'],
                                           '--max-active-jobs', '100000', '--jobs-per-minute', '100000']);
try {
  // Every client connects first (GET /healthz), then all create at once.
  await Promise.all(Array.from({ length: clients }, () => request(`${server.root}/healthz`)));
  const started = performance.now();
  let createdIds = [];
  let nativeCreate = null;
  if (createClient === 'native') {
    // One burst of `clients` creates on as many warmed connections; then node polls each.
    const out = JSON.parse(execFileSync(nativeClient, ['--port', String(server.port), '--clients', String(clients), '--bursts', '1',
                                                       '--ids', '1', '--body', createBody(0)], { encoding: 'utf8' }));
    nativeCreate = { count: out.ids.length, ...out.all };
    createdIds = out.ids;
    statuses[200] = (statuses[200] ?? 0) + (out.statuses['200'] ?? 0);
  }
  const results = await Promise.all(Array.from({ length: clients }, (_, i) => client(server.baseURL, i, createdIds[i])));
  const wall = (performance.now() - started) / 1000;
  const finished = results.filter((r) => r.status === 'completed').length;
  const report = {
    clients, workers: Number(args.workers), client: args.client, clip: `${args.size}, ${args.seconds} s`, wall_s: Math.round(wall * 10) / 10,
    jobs_completed: finished, jobs_per_s: Math.round((finished / wall) * 100) / 100, http_statuses: statuses,
    create_client: createClient, create: nativeCreate ?? summary(latencies.create), retrieve: summary(latencies.retrieve),
    content: summary(latencies.content),
    get_retries_after_reset: retries,
    store: storeCounters(await (await fetch(`${server.root}/metrics`)).text()),
    machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, load_average_before: loadBefore, load_average_after: os.loadavg() },
  };
  console.log(JSON.stringify(report, null, 2));
  if (finished !== clients) {
    console.error(`only ${finished} of ${clients} jobs finished: ${JSON.stringify(results.filter((r) => r.status !== 'completed').slice(0, 5))}`);
    process.exitCode = 1;
  }
} finally {
  await server.stop();
  removeDataDir(dataDir);
}
