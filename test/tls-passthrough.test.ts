// TLS Passthrough end to end: real TLS upstreams (node:tls with certificates issued in the test)
// behind a Portcullis Gateway with a TLS Passthrough listener and TLSRoutes. A client verifies
// the upstream's own certificate through the gateway (nothing is terminated), unknown or missing
// SNI is refused with an alert, a ClientHello written one byte at a time is still routed, a reload
// keeps open connections, and HTTPS + passthrough listeners share one port by SNI.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { Duplex } from 'node:stream';
import { createHash, randomBytes } from 'node:crypto';
import { KeyStore } from '../src/pki/keystore.ts';
import { Secret } from '../src/pki/secret.ts';
import { InternalCA } from '../src/pki/ca.ts';
import { ClientHelloReader } from '../src/tls/client-hello.ts';
import { freePort, runCli, startGateway, tmpDir, type GatewayProc } from './helpers/cli.ts';
import { backendYaml, tlsSecretYaml } from './helpers/config.ts';
import { tlsEcho, tlsGreeting } from './helpers/tls.ts';
import { startUpstream, type Upstream } from './helpers/upstream.ts';

interface TlsUpstream { name: string; port: number; fingerprint: string; close(): Promise<void> }
let gw: GatewayProc, port: number, mixedPort: number, dir: string, caPem: string;
const ups: Record<string, TlsUpstream> = {};
const certs: Record<string, { chain: string; key: string }> = {};
let httpUp: Upstream;
let deadPort: number;
let rawUp: { port: number; close(): void };

/** A TLS server that greets with its name, then echoes: a stand-in for a database or any TLS service. */
async function tlsUpstream(name: string, c: { chain: string; key: string }): Promise<TlsUpstream> {
  const sockets = new Set<net.Socket>();
  const server = tls.createServer({ cert: c.chain, key: c.key }, (s) => {
    sockets.add(s); s.on('close', () => sockets.delete(s)); s.on('error', () => {});
    s.write(`hello from ${name}\n`);
    s.pipe(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const fingerprint = new (await import('node:crypto')).X509Certificate(c.chain).fingerprint256;
  return { name, port: (server.address() as net.AddressInfo).port, fingerprint, close: () => new Promise((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }) };
}

function secret(name: string, c: { chain: string; key: string }): string {
  return `${tlsSecretYaml(name, c, 'block')}\n`;
}

/** `dbBackend`: which upstream the db route goes to (changed by the reload test). */
function config(dbBackend = 'db', httpsOnTlsPort = false): string {
  return `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: gw, namespace: default }
spec:
  gatewayClassName: portcullis
  addresses: [{ type: IPAddress, value: 127.0.0.1 }]
  listeners:
    - name: tls
      protocol: TLS
      port: ${port}
      tls: { mode: Passthrough }
    - name: web
      protocol: HTTPS
      port: ${mixedPort}
      hostname: web.example.test
      tls: { certificateRefs: [{ name: web-cert }] }
    - name: db-on-web-port
      protocol: TLS
      port: ${mixedPort}
      hostname: db.example.test
      tls: { mode: Passthrough }
${httpsOnTlsPort ? `    - name: web-on-tls-port
      protocol: HTTPS
      port: ${port}
      hostname: web.example.test
      tls: { certificateRefs: [{ name: web-cert }] }
` : ''}---
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata: { name: db, namespace: default }
spec:
  parentRefs: [{ name: gw, sectionName: tls }, { name: gw, sectionName: db-on-web-port }]
  hostnames: [db.example.test]
  rules: [{ backendRefs: [{ group: portcullis.dev, kind: Backend, name: ${dbBackend} }] }]
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TLSRoute
metadata: { name: apps, namespace: default }
spec:
  parentRefs: [{ name: gw, sectionName: tls }]
  hostnames: [app.example.test, "*.wild.example.test"]
  rules: [{ backendRefs: [{ group: portcullis.dev, kind: Backend, name: app }] }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata: { name: flaky, namespace: default }
spec:
  parentRefs: [{ name: gw, sectionName: tls }]
  hostnames: [flaky.example.test]
  rules: [{ backendRefs: [{ group: portcullis.dev, kind: Backend, name: flaky }] }]
---
apiVersion: portcullis.dev/v1alpha1
kind: Backend
metadata: { name: flaky, namespace: default }
spec: { endpoints: [{ address: 127.0.0.1, port: ${deadPort} }, { address: 127.0.0.1, port: ${ups.db.port} }] }
---
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata: { name: idle, namespace: default }
spec:
  parentRefs: [{ name: gw, sectionName: tls }]
  hostnames: [idle.example.test]
  rules: [{ backendRefs: [{ group: portcullis.dev, kind: Backend, name: idle }] }]
---
${backendYaml('idle', [ups.db.port])}
---
apiVersion: portcullis.dev/v1alpha1
kind: BackendTrafficPolicy
metadata: { name: idle, namespace: default }
spec:
  targetRefs: [{ group: portcullis.dev, kind: Backend, name: idle }]
  timeout: { idle: 1s }
---
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata: { name: raw, namespace: default }
spec:
  parentRefs: [{ name: gw, sectionName: tls }]
  hostnames: [raw.example.test]
  rules: [{ backendRefs: [{ group: portcullis.dev, kind: Backend, name: raw }] }]
---
${backendYaml('raw', [rawUp.port])}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: web, namespace: default }
spec:
  parentRefs: [{ name: gw, sectionName: web }${httpsOnTlsPort ? ', { name: gw, sectionName: web-on-tls-port }' : ''}]
  rules: [{ backendRefs: [{ group: portcullis.dev, kind: Backend, name: web }] }]
---
${backendYaml('db', [ups.db.port])}
---
${backendYaml('app', [ups.app.port])}
---
${backendYaml('web', [httpUp.port])}
---
${secret('web-cert', certs.web)}`;
}

before(async () => {
  const work = tmpDir();
  const keystore = await KeyStore.open({ dir: path.join(work, 'keys'), encryptionKey: new Secret(randomBytes(32)) });
  const ca = await InternalCA.open({ keystore, certDir: path.join(work, 'ca') });
  const issue = async (...dnsNames: string[]) => {
    const c = await ca.issue({ dnsNames });
    caPem = c.caPem!;
    return { chain: c.chainPem, key: c.keyPem.reveal() };
  };
  certs.db = await issue('db.example.test');
  certs.app = await issue('app.example.test', '*.wild.example.test');
  certs.web = await issue('web.example.test');
  ups.db = await tlsUpstream('db', certs.db);
  ups.app = await tlsUpstream('app', certs.app);
  httpUp = await startUpstream('web');
  port = await freePort();
  mixedPort = await freePort();
  deadPort = await freePort(); // nothing listens there
  // A plain TCP upstream that reads everything until the client's FIN, then answers with the
  // SHA-256 of what it got: proves the bytes are untouched and that half-close is passed on.
  const raw = net.createServer({ allowHalfOpen: true }, (s) => {
    const h = createHash('sha256');
    s.on('data', (d) => h.update(d));
    s.on('end', () => s.end(h.digest('hex')));
    s.on('error', () => {});
  });
  await new Promise<void>((r) => raw.listen(0, '127.0.0.1', r));
  rawUp = { port: (raw.address() as net.AddressInfo).port, close: () => raw.close() };
  dir = tmpDir();
  fs.writeFileSync(path.join(dir, 'c.yaml'), config());
  gw = await startGateway(dir);
});
after(async () => { rawUp?.close(); await gw?.stop(); for (const u of Object.values(ups)) await u.close(); await httpUp?.close(); });

/** Connect through the gateway, verify the upstream certificate for `servername`, read the greeting. */
const connect = (servername: string | undefined, opts: tls.ConnectionOptions = {}, p = port) => tlsGreeting(p, servername, caPem, opts);
const echo = tlsEcho;

test('SNI picks the TLSRoute; the client verifies the upstream\'s own certificate end to end', async () => {
  const db = await connect('db.example.test');
  assert.equal(db.greeting, 'hello from db');
  assert.equal(db.s.getPeerCertificate().fingerprint256, ups.db.fingerprint, 'the db upstream\'s certificate, not one of the gateway');
  assert.ok(db.s.authorized, 'verified for db.example.test');
  assert.equal(await echo(db.s, 'ping db'), 'ping db');
  const app = await connect('app.example.test');
  assert.equal(app.greeting, 'hello from app');
  assert.equal(app.s.getPeerCertificate().fingerprint256, ups.app.fingerprint);
  const wild = await connect('x.wild.example.test');
  assert.equal(wild.greeting, 'hello from app', 'a wildcard hostname');
  // Gateway API wildcards match any depth (a certificate's only one label: skip that check here).
  const deep = await connect('a.b.wild.example.test', { checkServerIdentity: () => undefined });
  assert.equal(deep.greeting, 'hello from app', 'a wildcard hostname matches deeper names');
  deep.s.destroy();
  const from = gw.logs.length;
  db.s.end(); app.s.destroy(); wild.s.destroy();
  const line = await gw.waitForLog(/"sni":"db\.example\.test".*"msg":"tls passthrough connection"/, 5000, from);
  const rec = JSON.parse(line);
  assert.equal(rec.route, 'default/db');
  assert.equal(rec.listener, 'default/gw/tls');
  assert.equal(rec.endpoint, `127.0.0.1:${ups.db.port}`);
  assert.ok(rec.bytesIn > 7 && rec.bytesOut > 7, 'bytes both ways counted');
});

test('an unknown SNI, or none, is refused with a TLS alert; not-TLS input is closed', async () => {
  await assert.rejects(connect('other.example.test'), (e: NodeJS.ErrnoException) => /unrecognized name/i.test(e.message) || e.code === 'ERR_SSL_TLSV1_UNRECOGNIZED_NAME');
  await assert.rejects(connect('wild.example.test'), /unrecognized name/i, 'the wildcard does not match its own base name');
  await assert.rejects(connect(undefined), /unrecognized name/i, 'no SNI (a connection to an IP literal)');
  await gw.waitForLog(/"result":"no_sni"/, 5000, 0);
  const raw = net.connect(port, '127.0.0.1');
  raw.write('GET / HTTP/1.1\r\nHost: db.example.test\r\n\r\n');
  const got = await new Promise<string>((resolve) => { let b = ''; raw.on('data', (d) => { b += d; }); raw.on('close', () => resolve(b)); raw.on('error', () => {}); });
  assert.equal(got, '', 'nothing is sent back to a non-TLS client');
  await gw.waitForLog(/"result":"not_tls"/, 5000, 0);
  const res = await gw.admin('/metrics');
  assert.equal(res.status, 200);
  const metrics = await res.text();
  assert.match(metrics, /portcullis_tcp_connections_total\{[^}]*result="no_route"[^}]*\} [1-9]/);
  assert.match(metrics, /portcullis_tcp_connections_total\{[^}]*result="not_tls"[^}]*\} [1-9]/);
});

test('a ClientHello written one byte per TCP segment is still routed', async () => {
  const sock = net.connect({ port, host: '127.0.0.1', noDelay: true });
  await new Promise((r) => sock.once('connect', r));
  let slow = true;
  let writes = 0;
  // A duplex for the TLS client: its first flight goes out one byte at a time, with a pause.
  const d = new Duplex({
    read() { sock.resume(); },
    async write(chunk: Buffer, _enc, cb) {
      if (!slow) { sock.write(chunk, cb); return; }
      for (const b of chunk) { sock.write(Buffer.from([b])); writes++; await new Promise((r) => setTimeout(r, 1)); }
      cb();
    },
    final(cb) { sock.end(); cb(); },
  });
  sock.on('data', (c) => { if (!d.push(c)) sock.pause(); });
  sock.on('end', () => d.push(null));
  const s = tls.connect({ socket: d, servername: 'db.example.test', ca: caPem });
  const greeting = await new Promise<string>((resolve, reject) => {
    s.once('error', reject);
    s.once('secureConnect', () => { slow = false; });
    s.on('data', (x) => resolve(String(x).trim()));
  });
  assert.equal(greeting, 'hello from db');
  assert.ok(writes > 100, `the hello went out in ${writes} one-byte writes`);
  assert.equal(s.getPeerCertificate().fingerprint256, ups.db.fingerprint);
  s.destroy(); sock.destroy();
});

test('a reload keeps open passthrough connections; new connections follow the new config', async () => {
  const open = await connect('db.example.test');
  assert.equal(open.greeting, 'hello from db');
  const from = gw.logs.length;
  fs.writeFileSync(path.join(dir, 'c.yaml'), config('app')); // db.example.test now goes to the app upstream
  await gw.waitForLog(/"msg":"config applied"/, 5000, from);
  assert.equal(await echo(open.s, 'still there'), 'still there', 'the connection opened before the reload still works');
  assert.ok(!open.s.destroyed);
  // The app upstream's certificate does not cover db.example.test: verification fails, which is
  // what a client of a misrouted passthrough must see.
  await assert.rejects(connect('db.example.test'), /altnames|does not match/i);
  const fresh = await connect('db.example.test', { checkServerIdentity: () => undefined });
  assert.equal(fresh.greeting, 'hello from app', 'the new route');
  open.s.destroy(); fresh.s.destroy();
  const back = gw.logs.length;
  fs.writeFileSync(path.join(dir, 'c.yaml'), config());
  await gw.waitForLog(/"msg":"config applied"/, 5000, back);
});

test('adding an HTTPS listener to a passthrough port by reload keeps the socket and its open connections', async () => {
  const open = await connect('db.example.test');
  const from = gw.logs.length;
  fs.writeFileSync(path.join(dir, 'c.yaml'), config('db', true));
  await gw.waitForLog(/"msg":"config applied"/, 5000, from);
  assert.equal(await echo(open.s, 'after adding https'), 'after adding https');
  // The HTTPS listener answers HTTP, not a greeting: check the certificate only.
  const cert = await new Promise<string>((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername: 'web.example.test', ca: caPem }, () => { resolve(s.getPeerCertificate().subjectaltname ?? ''); s.destroy(); });
    s.once('error', reject);
  });
  assert.equal(cert, 'DNS:web.example.test', 'terminated by the new HTTPS listener on the same port');
  const app = await connect('app.example.test');
  assert.equal(app.greeting, 'hello from app', 'other names still pass through');
  app.s.destroy();
  const back = gw.logs.length;
  fs.writeFileSync(path.join(dir, 'c.yaml'), config());
  await gw.waitForLog(/"msg":"config applied"/, 5000, back);
  assert.equal(await echo(open.s, 'after removing it'), 'after removing it');
  open.s.destroy();
});

test('8 MiB each way through a passthrough connection arrive intact (backpressure, no loss)', async () => {
  const { s } = await connect('db.example.test');
  const payload = randomBytes(8 * 1024 * 1024);
  const received: Buffer[] = [];
  let n = 0;
  const done = new Promise<void>((resolve) => s.on('data', (c: Buffer) => { received.push(c); n += c.length; if (n >= payload.length) resolve(); }));
  s.write(payload);
  await done;
  assert.ok(Buffer.concat(received).equals(payload));
  s.destroy();
});

test('the bytes reach the backend unchanged, and a half-close (client FIN) still lets the backend answer', async () => {
  // A real ClientHello for raw.example.test, captured from node:tls.
  const cap = net.createServer();
  await new Promise<void>((r) => cap.listen(0, '127.0.0.1', r));
  const hello = await new Promise<Buffer>((resolve) => {
    cap.once('connection', (s) => {
      const rd = new ClientHelloReader();
      s.on('data', (d: Buffer) => { if (rd.push(d)) { resolve(rd.buffered); s.destroy(); } });
    });
    const t = tls.connect({ host: '127.0.0.1', port: (cap.address() as net.AddressInfo).port, servername: 'raw.example.test' });
    t.on('error', () => {});
  });
  cap.close();
  const payload = Buffer.concat([hello, randomBytes(300_000)]);
  const c = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  let answer = '';
  c.on('data', (d) => { answer += d; });
  const ended = new Promise<void>((r) => c.on('end', () => r()));
  c.end(payload); // FIN after the payload: the backend answers only after it sees it
  await ended;
  assert.equal(answer, createHash('sha256').update(payload).digest('hex'));
  c.destroy();
});

test('the idle timeout (BackendTrafficPolicy timeout.idle) closes a connection with no traffic', async () => {
  const { s } = await connect('idle.example.test', { checkServerIdentity: () => undefined });
  const from = gw.logs.length;
  await new Promise<void>((r) => s.once('close', () => r()));
  const line = await gw.waitForLog(/"sni":"idle\.example\.test".*"msg":"tls passthrough connection"/, 5000, from);
  assert.equal(JSON.parse(line).closedBy, 'idle timeout');
});

test('HTTPS and TLS Passthrough listeners share a port: SNI decides between terminating and passing through', async () => {
  const db = await connect('db.example.test', {}, mixedPort);
  assert.equal(db.greeting, 'hello from db');
  assert.equal(db.s.getPeerCertificate().fingerprint256, ups.db.fingerprint);
  db.s.destroy();
  const res = await new Promise<{ status: number; body: string; cert: string }>((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port: mixedPort, servername: 'web.example.test', headers: { host: 'web.example.test' }, path: '/x', ca: caPem, agent: false }, (r) => {
      let body = '';
      r.on('data', (c) => { body += c; });
      r.on('end', () => resolve({ status: r.statusCode!, body, cert: (r.socket as tls.TLSSocket).getPeerCertificate().subjectaltname ?? '' }));
    });
    req.on('error', reject);
  });
  assert.equal(res.status, 200, res.body);
  assert.equal(res.cert, 'DNS:web.example.test', 'terminated by the gateway with the listener certificate');
});

test('config errors: Terminate on a TLS listener, TLSRoute on an HTTP listener, a v1 TLSRoute without hostnames', () => {
  const bad = tmpDir();
  fs.writeFileSync(path.join(bad, 'c.yaml'), `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: gw, namespace: default }
spec:
  gatewayClassName: portcullis
  listeners:
    - { name: term, protocol: TLS, port: 9443, tls: { mode: Terminate, certificateRefs: [{ name: x }] } }
    - { name: http, protocol: HTTP, port: 9080 }
---
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata: { name: r, namespace: default }
spec:
  parentRefs: [{ name: gw, sectionName: http }]
  rules: [{ backendRefs: [{ group: portcullis.dev, kind: Backend, name: nope }] }]
`);
  const r = runCli(['validate', bad]);
  assert.equal(r.code, 1, r.stderr);
  // Terminate is supported (test/tls-terminate.test.ts): its certificateRef must resolve.
  assert.match(r.stderr, /c\.yaml:7:\d+: Gateway\/default\/gw: spec\.listeners\[0\]\.tls\.certificateRefs\[0\]\.name: Secret default\/x not found/);
  assert.match(r.stderr, /c\.yaml:\d+:\d+: TLSRoute\/default\/r: spec: a TLSRoute \(v1\) needs hostnames/);
  assert.match(r.stderr, /TLSRoute\/default\/r: spec\.parentRefs\[0\]: no listener of Gateway default\/gw named "http" accepts TLSRoutes/);
  assert.match(r.stderr, /TLSRoute\/default\/r: spec\.rules\[0\]\.backendRefs\[0\]\.name: Backend default\/nope not found/);
});

test('a connect failure is retried on another endpoint of the backend (no byte was sent yet)', async () => {
  for (let i = 0; i < 4; i++) {
    const c = await connect('flaky.example.test', { checkServerIdentity: () => undefined });
    assert.equal(c.greeting, 'hello from db', `connection ${i}`);
    c.s.destroy();
  }
  const metrics = await (await gw.admin('/metrics')).text();
  assert.match(metrics, /portcullis_upstream_errors_total\{backend="Backend\/default\/flaky",kind="connect"\} [1-9]/, 'the dead endpoint was tried and counted');
});

test('SIGTERM: an open passthrough connection keeps working during the drain and is closed at its deadline', async () => {
  const d = tmpDir();
  const prev = process.env.PORTCULLIS_DRAIN_MS;
  process.env.PORTCULLIS_DRAIN_MS = '1500';
  // Other ports: the main gateway holds these.
  const savedPort = port, savedMixed = mixedPort;
  port = await freePort(); mixedPort = await freePort();
  fs.writeFileSync(path.join(d, 'c.yaml'), config());
  let g2: GatewayProc;
  try { g2 = await startGateway(d); } finally { if (prev === undefined) delete process.env.PORTCULLIS_DRAIN_MS; else process.env.PORTCULLIS_DRAIN_MS = prev; }
  const p2 = port;
  port = savedPort; mixedPort = savedMixed;
  const open = await connect('db.example.test', {}, p2);
  const closed = new Promise<void>((r) => open.s.once('close', () => r()));
  const exited = g2.stop();
  await g2.waitForLog(/draining in-flight requests/, 5000, 0);
  assert.equal(await echo(open.s, 'during drain'), 'during drain', 'the connection still works while draining');
  await closed;
  assert.equal(await exited, 0);
});
