// Create latency as the server answers it: starts `opsis serve` as server_bench.mjs does and
// drives bursts of concurrent creates with the lean native client (create_burst.cpp), whose
// own cost per request is microseconds, not node's 0.3 ms (bench/client_floor.mjs).
//   node bench/create_burst.mjs --opsis build/opsis --client build/bench/opsis_bench_create_burst
//        [--clients 100] [--bursts 5] [--workers 1]
// A benchmark, never a test.
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { parseArgs } from 'node:util';

import { makeDataDir, removeDataDir, startServer } from '../tests/api/server.mjs';

const { values: args } = parseArgs({
  options: {
    opsis: { type: 'string' },
    client: { type: 'string', default: 'build/bench/opsis_bench_create_burst' },
    clients: { type: 'string', default: '100' },
    bursts: { type: 'string', default: '5' },
    workers: { type: 'string', default: '1' },
    'http-threads': { type: 'string', default: '256' },
  },
});
if (args.opsis) process.env.OPSIS_BINARY = args.opsis;

const loadBefore = os.loadavg();
const dataDir = makeDataDir();
const server = await startServer(dataDir, ['--workers', args.workers, '--http-threads', args['http-threads'],
                                           '--max-active-jobs', '100000', '--jobs-per-minute', '100000']);
try {
  const output = execFileSync(args.client, ['--port', String(server.port), '--clients', args.clients, '--bursts', args.bursts],
                              { encoding: 'utf8' });
  const metrics = await (await fetch(`${server.root}/metrics`)).text();
  const read = (name) => Number(metrics.match(new RegExp(`^${name} (\\d+)$`, 'm'))?.[1] ?? NaN);
  console.log(JSON.stringify({
    ...JSON.parse(output), workers: Number(args.workers),
    store: { writes: read('opsis_store_writes_total'), commits: read('opsis_store_commits_total') },
    machine: { cpus: os.cpus().length, load_average_before: loadBefore, load_average_after: os.loadavg() },
  }, null, 2));
} finally {
  await server.stop();
  removeDataDir(dataDir);
}
