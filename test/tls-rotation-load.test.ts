// A certificate rotated under 200 req/s (issue 4's check): no request fails, new handshakes get the
// new certificate at once, and connections opened before the rotation (HTTP/1.1 keep-alive and an
// HTTP/2 session) stay open and keep working on the same socket.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http2 from 'node:http2';
import https from 'node:https';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { testCa } from './helpers/tls.ts';
import { freePort, startGateway, tmpDir, type GatewayProc } from './helpers/cli.ts';
import { backendYaml, routeYaml, tlsSecretYaml, gatewayWith } from './helpers/config.ts';
import { startUpstream, type Upstream } from './helpers/upstream.ts';

const HOST = 'shop.example.test';
let gw: GatewayProc, up: Upstream, port: number, dir: string, caPem: string;
const certs: { chain: string; key: string }[] = [];

function config(c: { chain: string; key: string }): string {
  return `${gatewayWith([`{ name: https, protocol: HTTPS, port: ${port}, hostname: ${HOST}, tls: { certificateRefs: [{ name: shop }] } }`])}
---
${routeYaml('up')}
---
${backendYaml('up', [up.port])}
---
${tlsSecretYaml('shop', c)}
`;
}

function save(text: string) {
  const f = path.join(dir, 'c.yaml');
  fs.writeFileSync(f + '.tmp', text);
  fs.renameSync(f + '.tmp', f);
}

before(async () => {
  const ca = await testCa();
  caPem = ca.caPem;
  for (let i = 0; i < 2; i++) certs.push(await ca.issue([HOST]));
  up = await startUpstream('up');
  port = await freePort();
  dir = tmpDir();
  save(config(certs[0]));
  gw = await startGateway(dir, ['--no-access-log']);
});
after(async () => { await gw?.stop(); await up?.close(); });

const fp = (pem: string) => new X509Certificate(pem).fingerprint256;

test('certificate rotated under 200 req/s: no failed request, open connections kept', async () => {
  // Three kinds of client: a new TLS connection per request (these see the rotation), a
  // keep-alive HTTP/1.1 agent with 4 sockets, and one HTTP/2 session.
  const fresh = new https.Agent({ keepAlive: false, ca: caPem, servername: HOST, maxCachedSessions: 0 });
  // fifo: every free socket takes turns, so the ones opened before the rotation keep being used (with
  // the default lifo, one socket opened in a burst after it could take all the requests)
  const kept = new https.Agent({ keepAlive: true, maxSockets: 4, scheduling: 'fifo', ca: caPem, servername: HOST });
  const h2 = http2.connect(`https://127.0.0.1:${port}`, { ca: caPem, servername: HOST });
  await new Promise<void>((resolve, reject) => { h2.once('connect', () => resolve()); h2.once('error', reject); });
  const h2Socket = h2.socket;
  // Every keep-alive socket: its certificate, when it closed, how many requests it carried after the rotation.
  const keptSockets = new Map<TLSSocket, { cert: string; closedAt?: number; after: number }>();
  let tRotate = Infinity;

  type Result = { t: number; kind: string; status: number; cert?: string; error?: string };
  const results: Result[] = [];
  const h1 = (agent: https.Agent, kind: string): Promise<Result> => new Promise((resolve) => {
    const t = performance.now();
    const req = https.get({ host: '127.0.0.1', port, path: '/x', agent, headers: { host: HOST } }, (res) => {
      const s = res.socket as TLSSocket;
      const cert = s.getPeerCertificate().fingerprint256;
      if (kind === 'kept') {
        let k = keptSockets.get(s);
        if (!k) { k = { cert, after: 0 }; keptSockets.set(s, k); s.once('close', () => { k!.closedAt = performance.now(); }); }
        if (t > tRotate) k.after++;
      }
      res.resume();
      res.on('end', () => resolve({ t, kind, status: res.statusCode ?? 0, cert }));
    });
    req.on('error', (err) => resolve({ t, kind, status: 0, error: String(err) }));
  });
  const viaH2 = (): Promise<Result> => new Promise((resolve) => {
    const t = performance.now();
    const s = h2.request({ ':path': '/x', ':authority': HOST });
    let status = 0;
    s.on('response', (h) => { status = Number(h[':status']); });
    s.resume();
    s.on('end', () => resolve({ t, kind: 'h2', status }));
    s.on('error', (err) => resolve({ t, kind: 'h2', status: 0, error: String(err) }));
  });

  // Open loop: 200 requests a second on a schedule, spread over the three kinds.
  const inflight = new Set<Promise<void>>();
  const t0 = performance.now();
  let sent = 0;
  const timer = setInterval(() => {
    const due = Math.floor(((performance.now() - t0) / 1000) * 200);
    while (sent < due) {
      const kind = sent++ % 3;
      const p = (kind === 0 ? h1(fresh, 'fresh') : kind === 1 ? h1(kept, 'kept') : viaH2()).then((r) => { results.push(r); }).finally(() => inflight.delete(p));
      inflight.add(p);
    }
  }, 5);
  timer.unref(); // a failed assertion must not leave the load running and the test file hanging

  await new Promise((r) => setTimeout(r, 1000));
  tRotate = performance.now();
  const from = gw.logs.length;
  save(config(certs[1]));
  await gw.waitForLog(/"msg":"config applied"/, 10_000, from);
  // keep the load on until new connections have seen the new certificate, then one more second
  const deadline = Date.now() + 10_000;
  while (!results.some((r) => r.kind === 'fresh' && r.cert === fp(certs[1].chain)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 1000));
  clearInterval(timer);
  await Promise.all([...inflight]);

  assert.deepEqual(results.filter((r) => r.status !== 200), [], 'no request failed');
  const freshAfter = results.filter((r) => r.kind === 'fresh' && r.t > tRotate);
  assert.ok(freshAfter.some((r) => r.cert === fp(certs[1].chain)), 'new connections get the new certificate');
  assert.ok(results.filter((r) => r.kind === 'fresh' && r.t < tRotate).every((r) => r.cert === fp(certs[0].chain)), 'the old certificate before');
  // The connections opened before the rotation are the ones still serving after it.
  assert.ok(!h2.closed && !h2.destroyed && h2.socket === h2Socket, 'the HTTP/2 session survived');
  assert.ok(results.filter((r) => r.kind === 'h2' && r.t > tRotate).length > 50, 'and carried requests after the rotation');
  // Keep-alive sockets opened before the rotation are still open and carried requests after it
  // (the agent may open another socket in a burst: that one has the new certificate).
  // A socket's certificate tells when its handshake was: before the rotation for the old one.
  const opened = [...keptSockets.values()].filter((k) => k.cert === fp(certs[0].chain));
  assert.ok(opened.length >= 1, 'keep-alive sockets were open before the rotation');
  assert.deepEqual(opened.filter((k) => k.closedAt !== undefined), [], 'none of them was closed');
  const carried = opened.reduce((n, k) => n + k.after, 0);
  assert.ok(carried >= 10, `they carried requests after the rotation (${carried})`);
  const rate = results.length / ((Math.max(...results.map((r) => r.t)) - Math.min(...results.map((r) => r.t))) / 1000);
  assert.ok(rate > 150, `load was ${rate.toFixed(0)} req/s`);
  h2.close(); fresh.destroy(); kept.destroy();
});
