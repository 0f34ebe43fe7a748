// WebSocket through the gateway, and the issue's reload check: 100 reloads under HTTP load with
// open WebSockets: no failed request, no dropped WebSocket, every message answered.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import { Agent, request } from 'undici';
import WebSocket, { WebSocketServer } from 'ws';
import { freePort, startGateway, tmpDir } from './helpers/cli.ts';
import { backendYaml, gatewayYaml, routeYaml, tlsSecretYaml, gatewayWith } from './helpers/config.ts';
import { testCa } from './helpers/tls.ts';

const cleanup: (() => Promise<unknown> | void)[] = [];
after(async () => { for (const c of cleanup.reverse()) await c(); });

function config(port: number, upstreamPort: number, version: number): string {
  return `${gatewayYaml(port)}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: r, namespace: default }
spec:
  parentRefs: [{ name: gw }]
  rules:
    - filters: [{ type: ResponseHeaderModifier, responseHeaderModifier: { set: [{ name: X-Config, value: "v${version}" }] } }]
      backendRefs: [{ group: portcullis.dev, kind: Backend, name: svc }]
---
${backendYaml('svc', [upstreamPort])}
`;
}

async function setup() {
  // One upstream for both: plain HTTP answers, and a WebSocket echo that names the upgrade path.
  const server = http.createServer((req, res) => { res.writeHead(200, { 'content-type': 'text/plain' }); res.end(`ok ${req.url}`); });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws, req) => {
    ws.send(JSON.stringify({ hello: req.url, forwardedFor: req.headers['x-forwarded-for'], requestId: req.headers['x-request-id'] }));
    ws.on('message', (m) => ws.send(`echo:${m}`));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanup.push(() => new Promise((r) => { for (const c of wss.clients) c.terminate(); wss.close(); server.closeAllConnections(); server.close(() => r(undefined)); }));
  const upstreamPort = (server.address() as { port: number }).port;
  const port = await freePort();
  const dir = tmpDir();
  fs.writeFileSync(path.join(dir, 'c.yaml'), config(port, upstreamPort, 0));
  const gw = await startGateway(dir, ['--no-access-log']);
  cleanup.push(() => gw.stop());
  return { gw, port, dir, upstreamPort };
}

function open(port: number, p: string, wsOpts: WebSocket.ClientOptions = {}, scheme = 'ws'): Promise<{ ws: WebSocket; hello: { hello: string; forwardedFor: string; requestId: string }; next: () => Promise<string> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${scheme}://127.0.0.1:${port}${p}`, wsOpts);
    const queue: string[] = [];
    const waiters: ((s: string) => void)[] = [];
    ws.on('message', (m) => { const s = m.toString(); const w = waiters.shift(); if (w) w(s); else queue.push(s); });
    const next = () => new Promise<string>((r) => { const s = queue.shift(); if (s !== undefined) r(s); else waiters.push(r); });
    ws.once('open', async () => resolve({ ws, hello: JSON.parse(await next()), next }));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`status ${res.statusCode}`)));
  });
}

let env: Awaited<ReturnType<typeof setup>>;

test('a WebSocket is proxied: 101, forwarding headers, messages both ways', async () => {
  env = await setup();
  const c = await open(env.port, '/chat?room=1');
  assert.equal(c.hello.hello, '/chat?room=1');
  assert.equal(c.hello.forwardedFor, '127.0.0.1');
  assert.ok(c.hello.requestId);
  c.ws.send('hi');
  assert.equal(await c.next(), 'echo:hi');
  c.ws.close();
});

test('100 reloads under load: no failed request and no dropped WebSocket', async () => {
  const { gw, port, dir, upstreamPort } = env;
  const sockets = await Promise.all(Array.from({ length: 5 }, (_, i) => open(port, `/ws/${i}`)));
  let dropped = 0;
  for (const s of sockets) s.ws.on('close', () => dropped++);
  const agent = new Agent({ connections: 16 });
  cleanup.push(() => agent.close());
  const results: number[] = [];
  const errors: string[] = [];
  const inflight = new Set<Promise<void>>();
  const t0 = performance.now();
  let sent = 0;
  const timer = setInterval(() => {
    const due = Math.floor(((performance.now() - t0) / 1000) * 150);
    while (sent < due) {
      sent++;
      const p: Promise<void> = request(`http://127.0.0.1:${port}/x`, { dispatcher: agent })
        .then(async (r) => { await r.body.text(); results.push(r.statusCode); }, (err: Error & { code?: string }) => { results.push(0); errors.push(`${err.code ?? ''} ${err.message}`); })
        .finally(() => inflight.delete(p));
      inflight.add(p);
    }
  }, 5);
  timer.unref(); // a failed assertion must not leave the load running and the test file hanging
  let applied = 0;
  for (let v = 1; v <= 100; v++) {
    fs.writeFileSync(path.join(dir, 'c.yaml'), config(port, upstreamPort, v));
    gw.proc.kill('SIGHUP');
    // Applied means served: wait until a response carries this version's header.
    const deadline = Date.now() + 5000;
    for (;;) {
      const r = await request(`http://127.0.0.1:${port}/v`, { dispatcher: agent });
      await r.body.text();
      if (r.headers['x-config'] === `v${v}`) { applied++; break; }
      assert.ok(Date.now() < deadline, `config v${v} was not applied within 5 s`);
      await new Promise((res) => setTimeout(res, 5));
    }
    // Keep talking on every socket while the config changes under them.
    if (v % 10 === 0) for (const s of sockets) { s.ws.send(`m${v}`); assert.equal(await s.next(), `echo:m${v}`); }
  }
  // Keep the load on for at least 2 s in all, however fast the reloads went.
  while (performance.now() - t0 < 2000) await new Promise((res) => setTimeout(res, 20));
  clearInterval(timer);
  await Promise.all([...inflight]);
  assert.equal(applied, 100);
  assert.ok(results.length > 100, `sent ${results.length}`);
  assert.deepEqual(results.filter((s) => s !== 200), [], `no HTTP request failed (${errors.join('; ')})`);
  assert.equal(dropped, 0, 'no WebSocket was dropped');
  const last = await request(`http://127.0.0.1:${port}/x`);
  await last.body.text();
  assert.equal(last.headers['x-config'], 'v100', 'the last config is the one serving');
  for (const s of sockets) s.ws.close();
});

test('an upgrade to an upstream that is down gets 502 problem+json', async () => {
  const { gw, port, dir } = env;
  const from = gw.logs.length;
  fs.writeFileSync(path.join(dir, 'c.yaml'), config(port, await freePort(), 999));
  await gw.waitForLog(/"msg":"config applied"/, 5000, from);
  await assert.rejects(open(port, '/down'), /status 502/);
});

test('a WebSocket over TLS (wss) through an HTTPS listener: the upgrade reaches the upstream, messages both ways', async () => {
  const { caPem, issue } = await testCa();
  const cert = await issue(['ws.example.test']);
  const port = await freePort();
  const dir = tmpDir();
  fs.writeFileSync(path.join(dir, 'c.yaml'), `${gatewayWith([`{ name: https, protocol: HTTPS, port: ${port}, hostname: ws.example.test, tls: { certificateRefs: [{ name: ws-cert }] } }`])}
---
${routeYaml('svc')}
---
${backendYaml('svc', [env.upstreamPort])}
---
${tlsSecretYaml('ws-cert', cert)}
`);
  const gw = await startGateway(dir, ['--no-access-log']);
  cleanup.push(() => gw.stop());
  // ws hands TLS options (servername) to tls.connect; its ClientOptions type does not list them
  const tlsOpts: WebSocket.ClientOptions & ConnectionOptions = { ca: caPem, servername: 'ws.example.test', headers: { host: 'ws.example.test' } };
  const c = await open(port, '/secure?x=1', tlsOpts, 'wss');
  assert.equal(c.hello.hello, '/secure?x=1');
  c.ws.send('over tls');
  assert.equal(await c.next(), 'echo:over tls');
  c.ws.close();
});
