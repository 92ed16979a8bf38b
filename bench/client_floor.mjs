// The client floor for bench/server_bench.mjs: the same node:http client (100 kept-alive
// connections, bursts of 100 POSTs at once) against a trivial server in another process
// (node:http answering a fixed JSON body). What it reports is what the client and the machine
// cost before any server does work; a benchmark, never a test.
//   node bench/client_floor.mjs
import http from 'node:http';
import { spawn } from 'node:child_process';
const clients = 100;
const child = spawn(process.execPath, ['-e', `
  const http = require('node:http');
  const s = http.createServer((req, res) => { req.resume(); req.on('end', () => { res.setHeader('content-type','application/json'); res.end('{"status":"ok"}'); }); });
  s.keepAliveTimeout = 60000; s.listen(0, '127.0.0.1', () => console.log(s.address().port));`], { stdio: ['ignore', 'pipe', 'inherit'] });
const port = await new Promise((r) => child.stdout.once('data', (d) => r(Number(String(d).trim()))));
const agent = new http.Agent({ keepAlive: true, maxSockets: clients + 8 });
function request(url, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent, headers: body ? { ...headers, 'content-length': Buffer.byteLength(body) } : headers }, (res) => {
      const chunks = []; res.on('data', (c) => chunks.push(c)); res.on('end', () => resolve({ status: res.statusCode, bytes: Buffer.concat(chunks) }));
    });
    req.on('error', reject); req.end(body);
  });
}
const pct = (a, p) => { const s = [...a].sort((x, y) => x - y); return Math.round(s[Math.min(s.length - 1, Math.floor(p / 100 * s.length))] * 10) / 10; };
const root = `http://127.0.0.1:${port}`;
await Promise.all(Array.from({ length: clients }, () => request(`${root}/healthz`)));
for (let r = 0; r < 5; ++r) {
  const lat = []; const cpu0 = process.cpuUsage(); const t0 = performance.now();
  await Promise.all(Array.from({ length: clients }, async (_, i) => { const s = performance.now();
    const { bytes } = await request(`${root}/v1/videos`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: `A red ball bounces in a meadow, take ${i}`, model: 'opsis-studio', seconds: '1', size: '160x90' }) });
    JSON.parse(bytes.toString()); lat.push(performance.now() - s); }));
  const cpu = process.cpuUsage(cpu0);
  console.log(`trivial POST burst p50 ${pct(lat, 50)} p90 ${pct(lat, 90)} p99 ${pct(lat, 99)} wall ${Math.round(performance.now() - t0)} ms, client cpu ${Math.round((cpu.user + cpu.system) / 1000)} ms`);
}
child.kill();
