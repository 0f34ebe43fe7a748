// TLS session ticket keys: in memory only, rotated on a period, the same in every worker.
// A session resumes on any worker; after a rotation an old ticket no longer resumes (a full
// handshake instead) and new tickets do; nothing is written to the state directory.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import net from 'node:net';
import tls from 'node:tls';
import { randomBytes } from 'node:crypto';
import { testCa } from './helpers/tls.ts';
import { freePort, runCli, startGateway, tmpDir, type GatewayProc } from './helpers/cli.ts';
import { backendYaml, routeYaml, tlsSecretYaml, gatewayWith } from './helpers/config.ts';
import { startUpstream, type Upstream } from './helpers/upstream.ts';

let up: Upstream, caPem: string, cert: { chain: string; key: string }, echo: { port: number; server: net.Server };
const gateways: GatewayProc[] = [];

function config(port: number, tport: number): string {
  return `${gatewayWith([`{ name: https, protocol: HTTPS, port: ${port}, hostname: shop.example.test, tls: { certificateRefs: [{ name: shop }] } }`, `{ name: tcp, protocol: TLS, port: ${tport}, hostname: shop.example.test, tls: { mode: Terminate, certificateRefs: [{ name: shop }] } }`])}
---
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata: { name: t, namespace: default }
spec:
  parentRefs: [{ name: gw, sectionName: tcp }]
  hostnames: [shop.example.test]
  rules: [{ backendRefs: [{ group: portcullis.dev, kind: Backend, name: echo }] }]
---
${backendYaml('echo', [echo.port])}
---
${routeYaml('up')}
---
${backendYaml('up', [up.port])}
---
${tlsSecretYaml('shop', cert)}
`;
}

before(async () => {
  const ca = await testCa();
  caPem = ca.caPem;
  cert = await ca.issue(['shop.example.test']);
  up = await startUpstream('up');
  // a TCP echo server behind the TLS Terminate listener
  const server = net.createServer((s) => s.pipe(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  echo = { server, port: (server.address() as net.AddressInfo).port };
});
after(async () => { for (const g of gateways) await g.stop(); await up?.close(); echo?.server.close(); });

async function start(extra: string[]): Promise<{ gw: GatewayProc; port: number; tport: number; stateDir: string }> {
  const port = await freePort();
  const tport = await freePort();
  const dir = tmpDir();
  fs.writeFileSync(path.join(dir, 'c.yaml'), config(port, tport));
  const stateDir = tmpDir('pcs-state-');
  // an earlier version's key file: removed at start, as nothing reads it any more
  fs.writeFileSync(path.join(stateDir, 'tls-ticket-keys'), randomBytes(48), { mode: 0o600 });
  const gw = await startGateway(dir, ['--state-dir', stateDir, ...extra]);
  gateways.push(gw);
  return { gw, port, tport, stateDir };
}

/** One TLS 1.3 connection; resolves with whether it resumed `session` and the ticket it got. */
function connect(port: number, session?: Buffer): Promise<{ reused: boolean; ticket?: Buffer }> {
  return new Promise((resolve, reject) => {
    let ticket: Buffer | undefined;
    const s = tls.connect({ host: '127.0.0.1', port, servername: 'shop.example.test', ca: caPem, ...(session ? { session } : {}) }, () => {
      const reused = s.isSessionReused();
      // TLS 1.3 tickets arrive after the handshake; a short read window collects them.
      setTimeout(() => { s.end(); resolve({ reused, ticket }); }, 80);
    });
    s.on('session', (t: Buffer) => { ticket = t; });
    s.once('error', reject);
  });
}

test('single process: tickets resume until the keys rotate; then old tickets are refused and new ones resume', async () => {
  const { gw, port, tport, stateDir } = await start(['--tls-ticket-key-rotation', '3s']);
  assert.ok(!fs.existsSync(path.join(stateDir, 'tls-ticket-keys')), 'no ticket key on disk');
  // Align to just after a rotation, so that the next steps all fall in one period.
  const from = gw.logs.length;
  await gw.waitForLog(/TLS session ticket keys rotated/, 5000, from);
  const first = await connect(port);
  assert.equal(first.reused, false);
  assert.ok(first.ticket, 'a session ticket was issued');
  const again = await connect(port, first.ticket);
  assert.equal(again.reused, true, 'the ticket resumes within the period');
  const mark = gw.logs.length;
  await gw.waitForLog(/TLS session ticket keys rotated/, 5000, mark);
  const stale = await connect(port, first.ticket);
  assert.equal(stale.reused, false, 'a ticket sealed with the previous keys does not resume');
  assert.ok(stale.ticket);
  const fresh = await connect(port, stale.ticket);
  assert.equal(fresh.reused, true, 'a ticket from the new keys resumes');
  // The same on a TLS Terminate listener (its TLS sockets are made outside the HTTPS server).
  const t1 = await connect(tport);
  assert.ok(t1.ticket);
  assert.equal((await connect(tport, t1.ticket)).reused, true, 'TLS Terminate: resumes within the period');
  const mark2 = gw.logs.length;
  await gw.waitForLog(/TLS session ticket keys rotated/, 5000, mark2);
  const t2 = await connect(tport, t1.ticket);
  assert.equal(t2.reused, false, 'TLS Terminate: a ticket from the previous keys does not resume');
  assert.equal((await connect(tport, t2.ticket)).reused, true, 'TLS Terminate: a ticket from the new keys resumes');
});

test('--workers 2: a ticket from one worker resumes on the other, also after a rotation', async () => {
  const { gw, port } = await start(['--workers', '2', '--tls-ticket-key-rotation', '4s']);
  const check = async (what: string) => {
    const first = await connect(port);
    assert.ok(first.ticket, 'a session ticket was issued');
    // SO_REUSEPORT spreads connections over both workers: with 8 tries, one key per worker would
    // fail at least one of them (unless all 8 landed on one worker: 1 in 128).
    for (let i = 0; i < 8; i++) assert.equal((await connect(port, first.ticket)).reused, true, `${what}: resumption ${i + 1} of 8`);
  };
  await check('before a rotation');
  const mark = gw.logs.length;
  await gw.waitForLog(/TLS session ticket keys rotated/, 6000, mark);
  await new Promise((r) => setTimeout(r, 200)); // the workers got the new keys over IPC
  await check('after a rotation');
});

test('--tls-ticket-key-rotation refuses a bad duration', () => {
  const r = runCli(['start', '--config', tmpDir(), '--tls-ticket-key-rotation', 'soon']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--tls-ticket-key-rotation takes a duration/);
  const tooShort = runCli(['start', '--config', tmpDir(), '--tls-ticket-key-rotation', '10ms']);
  assert.equal(tooShort.code, 2);
  assert.match(tooShort.stderr, /between 1s and 168h/);
});
