// TLS Terminate end to end: TLSRoutes on `protocol: TLS` listeners with `tls.mode: Terminate`.
// Real TCP echo backends behind a Portcullis Gateway; clients verify the gateway's certificate
// (issued in the test), their bytes reach the plain-TCP backend decrypted and come back. Two
// routes by SNI, unknown SNI refused, HTTPS beside it on the same port, TLS to a backend with a
// BackendTLSPolicy, client certificates (frontend validation), a reload that keeps an open
// connection, and a bad config reported with file:line:col.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { randomBytes } from 'node:crypto';
import { KeyStore } from '../src/pki/keystore.ts';
import { Secret } from '../src/pki/secret.ts';
import { InternalCA } from '../src/pki/ca.ts';
import { freePort, runCli, startGateway, tmpDir, type GatewayProc } from './helpers/cli.ts';
import { backendYaml, tlsSecretYaml, gatewayWith } from './helpers/config.ts';
import { tlsEcho, tlsGreeting } from './helpers/tls.ts';
import { startUpstream, type Upstream } from './helpers/upstream.ts';

interface EchoBackend { port: number; received: Buffer[]; close(): Promise<void> }
let gw: GatewayProc, port: number, mport: number, fport: number, dir: string, caPem: string;
const certs: Record<string, { chain: string; key: string }> = {};
const backends: Record<string, EchoBackend> = {};
let httpUp: Upstream;

/** Reads until the client's FIN, then answers with the byte count and closes: half-close must pass through. */
async function halfCloseBackend(): Promise<EchoBackend> {
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    let n = 0;
    s.on('data', (d: Buffer) => { n += d.length; });
    s.on('end', () => s.end(`got ${n} bytes`));
    s.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as net.AddressInfo).port, received: [], close: () => new Promise((r) => server.close(() => r())) };
}

/** Greets with its name, then echoes; keeps what it received (plaintext, if the gateway decrypted it). */
async function echoBackend(name: string, opts?: { chain: string; key: string }): Promise<EchoBackend> {
  const received: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  const onConn = (s: net.Socket) => {
    sockets.add(s); s.on('close', () => sockets.delete(s)); s.on('error', () => {});
    s.write(`hello from ${name}\n`);
    s.on('data', (d: Buffer) => { received.push(d); s.write(d); });
  };
  const server = opts ? tls.createServer({ cert: opts.chain, key: opts.key }, onConn) : net.createServer(onConn);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as net.AddressInfo).port, received, close: () => new Promise((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }) };
}

function pemBlock(pem: string, indent: string): string { return pem.trim().split('\n').map((l) => `${indent}${l}`).join('\n'); }
function secret(name: string, c: { chain: string; key: string }): string {
  return `${tlsSecretYaml(name, c, 'block')}\n`;
}

/** `aBackend`: where the a.example route goes (changed by the reload test). */
function config(aBackend = 'a'): string {
  return `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: gw, namespace: default }
spec:
  gatewayClassName: portcullis
  addresses: [{ type: IPAddress, value: 127.0.0.1 }]
  listeners:
    - name: a
      protocol: TLS
      port: ${port}
      hostname: a.example
      tls: { mode: Terminate, certificateRefs: [{ name: a-cert }] }
    - name: b
      protocol: TLS
      port: ${port}
      hostname: b.example
      tls: { certificateRefs: [{ name: b-cert }] }   # Terminate is the default mode
    - name: secure
      protocol: TLS
      port: ${port}
      hostname: secure.example
      tls: { mode: Terminate, certificateRefs: [{ name: secure-cert }] }
    - name: issued
      protocol: TLS
      port: ${port}
      hostname: issued.example
      tls: { mode: Terminate, certificateRefs: [{ name: issued-tls }] }
    - name: pt
      protocol: TLS
      port: ${port}
      hostname: pt.example
      tls: { mode: Passthrough }
    - name: web
      protocol: HTTPS
      port: ${port}
      hostname: web.example
      tls: { certificateRefs: [{ name: web-cert }] }
    - name: mtls
      protocol: TLS
      port: ${mport}
      tls: { mode: Terminate, certificateRefs: [{ name: a-cert }] }
  tls:
    frontend:
      perPort:
        - port: ${mport}
          tls: { validation: { caCertificateRefs: [{ kind: ConfigMap, name: clients-ca }], mode: AllowValidOnly } }
---
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata: { name: a, namespace: default }
spec:
  parentRefs: [{ name: gw, sectionName: a }, { name: gw, sectionName: mtls }]
  hostnames: [a.example]
  rules: [{ backendRefs: [{ group: portcullis.dev, kind: Backend, name: ${aBackend} }] }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata: { name: b, namespace: default }
spec:
  parentRefs: [{ name: gw, sectionName: b }]
  hostnames: [b.example]
  rules: [{ backendRefs: [{ group: portcullis.dev, kind: Backend, name: b }] }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata: { name: secure, namespace: default }
spec:
  parentRefs: [{ name: gw, sectionName: secure }]
  hostnames: [secure.example]
  rules: [{ backendRefs: [{ group: portcullis.dev, kind: Backend, name: secure }] }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: BackendTLSPolicy
metadata: { name: secure, namespace: default }
spec:
  targetRefs: [{ group: portcullis.dev, kind: Backend, name: secure }]
  validation: { caCertificateRefs: [{ group: "", kind: ConfigMap, name: clients-ca }], hostname: up.internal.test }
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: web, namespace: default }
spec:
  parentRefs: [{ name: gw, sectionName: web }]
  rules: [{ backendRefs: [{ group: portcullis.dev, kind: Backend, name: web }] }]
---
apiVersion: v1
kind: ConfigMap
metadata: { name: clients-ca, namespace: default }
data:
  ca.crt: |
${pemBlock(caPem, '    ')}
---
${backendYaml('a', [backends.a.port])}
---
${backendYaml('b', [backends.b.port])}
---
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata: { name: half, namespace: default }
spec:
  parentRefs: [{ name: gw, sectionName: mtls }]
  hostnames: [half.example]
  rules: [{ backendRefs: [{ group: portcullis.dev, kind: Backend, name: half }] }]
---
${backendYaml('half', [backends.half.port])}
---
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata: { name: mismatch, namespace: default }
spec:
  parentRefs: [{ name: gw, sectionName: mtls }]
  hostnames: [mismatch.example]
  rules: [{ backendRefs: [{ group: portcullis.dev, kind: Backend, name: mismatch }] }]
---
${backendYaml('mismatch', [backends.secure.port])}
---
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata: { name: pt, namespace: default }
spec:
  parentRefs: [{ name: gw, sectionName: pt }]
  hostnames: [pt.example]
  rules: [{ backendRefs: [{ group: portcullis.dev, kind: Backend, name: secure }] }]
---
# Client certificates asked for but not required (AllowInsecureFallback), on a port of its own.
${gatewayWith([`{ name: fallback, protocol: TLS, port: ${fport}, tls: { mode: Terminate, certificateRefs: [{ name: a-cert }] } }`], 'gw2')}
  tls:
    frontend:
      default: { validation: { caCertificateRefs: [{ kind: ConfigMap, name: clients-ca }], mode: AllowInsecureFallback } }
---
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata: { name: fallback, namespace: default }
spec:
  parentRefs: [{ name: gw2 }]
  hostnames: [a.example]
  rules: [{ backendRefs: [{ group: portcullis.dev, kind: Backend, name: a }] }]
---
# The TLS backend's certificate is for up.internal.test: this policy must refuse it.
apiVersion: gateway.networking.k8s.io/v1
kind: BackendTLSPolicy
metadata: { name: mismatch, namespace: default }
spec:
  targetRefs: [{ group: portcullis.dev, kind: Backend, name: mismatch }]
  validation: { caCertificateRefs: [{ group: "", kind: ConfigMap, name: clients-ca }], hostname: wrong.internal.test }
---
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata: { name: issued, namespace: default }
spec:
  parentRefs: [{ name: gw, sectionName: issued }]
  hostnames: [issued.example]
  rules: [{ backendRefs: [{ group: portcullis.dev, kind: Backend, name: b }] }]
---
# A certificate the gateway issues itself (src/certs): the listener waits for it, then serves it.
apiVersion: portcullis.dev/v1alpha1
kind: Issuer
metadata: { name: internal, namespace: default }
spec:
  ca: { commonName: Terminate Test CA }
---
apiVersion: portcullis.dev/v1alpha1
kind: Certificate
metadata: { name: issued, namespace: default }
spec:
  secretName: issued-tls
  issuerRef: { name: internal }
  dnsNames: [issued.example]
---
${backendYaml('secure', [backends.secure.port])}
---
${backendYaml('web', [httpUp.port])}
---
${secret('a-cert', certs.a)}---
${secret('b-cert', certs.b)}---
${secret('secure-cert', certs.secure)}---
${secret('web-cert', certs.web)}`;
}

before(async () => {
  const work = tmpDir();
  const keystore = await KeyStore.open({ dir: path.join(work, 'keys'), encryptionKey: new Secret(randomBytes(32)) });
  const ca = await InternalCA.open({ keystore, certDir: path.join(work, 'ca') });
  const issue = async (opts: Parameters<InternalCA['issue']>[0]) => {
    const c = await ca.issue(opts);
    caPem = c.caPem!;
    return { chain: c.chainPem, key: c.keyPem.reveal() };
  };
  certs.a = await issue({ dnsNames: ['a.example'] });
  certs.secure = await issue({ dnsNames: ['secure.example'] });
  certs.b = await issue({ dnsNames: ['b.example'] });
  certs.web = await issue({ dnsNames: ['web.example'] });
  certs.up = await issue({ dnsNames: ['up.internal.test'] });
  certs.client = await issue({ commonName: 'client', uris: ['spiffe://example.test/client'], usages: ['client'] });
  const otherCa = await InternalCA.open({ keystore, certDir: path.join(work, 'ca'), name: 'other-ca', commonName: 'Someone Else' });
  const o = await otherCa.issue({ commonName: 'stranger', uris: ['spiffe://example.test/stranger'], usages: ['client'] });
  certs.stranger = { chain: o.chainPem, key: o.keyPem.reveal() };
  backends.half = await halfCloseBackend();
  backends.a = await echoBackend('a');
  backends.b = await echoBackend('b');
  backends.secure = await echoBackend('secure', certs.up);
  httpUp = await startUpstream('web');
  port = await freePort();
  mport = await freePort();
  fport = await freePort();
  dir = tmpDir();
  fs.writeFileSync(path.join(dir, 'c.yaml'), config());
  process.env.PORTCULLIS_KEY_ENCRYPTION_KEY ??= randomBytes(32).toString('base64'); // for the built-in CA Issuer's keys
  gw = await startGateway(dir);
});
after(async () => { await gw?.stop(); for (const b of Object.values(backends)) await b.close(); await httpUp?.close(); });

/** Connect through the gateway, verify the gateway's certificate for `servername`, read the greeting. */
const connect = (servername: string, opts: tls.ConnectionOptions = {}, p = port) => tlsGreeting(p, servername, caPem, opts);
const echo = tlsEcho;

test('a.example: the gateway presents its certificate, the backend gets the bytes decrypted and echoes them', async () => {
  const { s, greeting } = await connect('a.example', { ALPNProtocols: ['h2', 'http/1.1'] });
  assert.equal(greeting, 'hello from a');
  assert.equal(s.authorized, true, 'the client verified the gateway certificate');
  assert.match(s.getPeerCertificate().subjectaltname ?? '', /DNS:a\.example/);
  assert.equal(s.alpnProtocol, false, 'no ALPN protocol is negotiated on a TLS Terminate listener');
  const msg = `plaintext ${randomBytes(8).toString('hex')}`;
  assert.equal(await echo(s, msg), msg);
  assert.ok(Buffer.concat(backends.a.received).toString().includes(msg), 'the plain-TCP backend received the decrypted bytes');
  const from = gw.logs.length;
  s.destroy();
  const line = await gw.waitForLog(/"msg":"tls terminate connection"/, 5000, from);
  assert.match(line, /"listener":"default\/gw\/a","route":"default\/a","sni":"a\.example".*"client":"127\.0\.0\.1","mode":"Terminate".*"endpoint":"127\.0\.0\.1:\d+","result":"forwarded"/);
  const metrics = await (await gw.admin('/metrics')).text();
  assert.match(metrics, /portcullis_tcp_connections_total\{listener="default\/gw\/a",route="default\/a",result="forwarded"\} [1-9]/);
});

test('two TLSRoutes by SNI go to two backends, each with its listener certificate', async () => {
  const b = await connect('b.example');
  assert.equal(b.greeting, 'hello from b');
  assert.equal(b.s.getPeerCertificate().subjectaltname, 'DNS:b.example');
  assert.equal(await echo(b.s, 'to b'), 'to b');
  const a = await connect('a.example');
  assert.equal(a.greeting, 'hello from a');
  a.s.destroy(); b.s.destroy();
});

test('an unknown SNI is refused (unrecognized_name) on a TLS-only port; on a port shared with HTTPS it is the HTTPS side\'s', async () => {
  await assert.rejects(connect('c.example', { checkServerIdentity: () => undefined, cert: certs.client.chain, key: certs.client.key }, mport), /unrecognized name|alert number 112/i);
  // As with passthrough: names no TLS listener owns go to the HTTPS listeners of the port.
  const san = await new Promise<string>((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername: 'c.example', ca: caPem, checkServerIdentity: () => undefined }, () => { resolve(s.getPeerCertificate().subjectaltname ?? ''); s.destroy(); });
    s.once('error', reject);
  });
  assert.equal(san, 'DNS:web.example');
});

test('an HTTPS listener on the same port still serves HTTP for its name', async () => {
  const body = await new Promise<string>((resolve, reject) => {
    https.get({ host: '127.0.0.1', port, servername: 'web.example', headers: { host: 'web.example' }, ca: caPem, path: '/x' }, (res) => {
      let b = ''; res.on('data', (d) => { b += d; }); res.on('end', () => resolve(`${res.statusCode} ${b}`));
    }).on('error', reject);
  });
  assert.match(body, /^200 /);
});

test('BackendTLSPolicy: the decrypted stream is re-encrypted to the backend, which the gateway verifies', async () => {
  const { s, greeting } = await connect('secure.example');
  assert.equal(greeting, 'hello from secure');
  assert.equal(await echo(s, 'over tls twice'), 'over tls twice');
  s.destroy();
});

test('BackendTLSPolicy: a backend certificate that does not match is refused (no plaintext fallback)', async () => {
  const from = gw.logs.length;
  await assert.rejects(connect('mismatch.example', { checkServerIdentity: () => undefined, cert: certs.client.chain, key: certs.client.key }, mport), /closed before|ECONNRESET|socket hang up/i);
  const line = await gw.waitForLog(/"msg":"tls terminate connection refused"/, 5000, from);
  assert.match(line, /"result":"connect_failed".*"lastError":"ERR_TLS_CERT_ALTNAME_INVALID"/);
});

test('client certificates (frontend validation) on a TLS Terminate port: required and verified', async () => {
  await assert.rejects(connect('a.example', {}, mport), /certificate|closed before|ECONNRESET|alert/i, 'no client certificate: refused');
  const from = gw.logs.length;
  await assert.rejects(connect('a.example', { cert: certs.stranger.chain, key: certs.stranger.key }, mport), /closed before|ECONNRESET|socket hang up/i, 'a certificate from another CA: refused');
  await gw.waitForLog(/"result":"handshake_failed".*client certificate refused/, 5000, from);
  const { s, greeting } = await connect('a.example', { cert: certs.client.chain, key: certs.client.key }, mport);
  assert.equal(greeting, 'hello from a');
  assert.equal(await echo(s, 'with a client cert'), 'with a client cert');
  s.destroy();
});

test('TLS sessions resume on a TLS Terminate listener (the gateway\'s ticket keys)', async () => {
  const session = await new Promise<Buffer>((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername: 'b.example', ca: caPem });
    s.once('session', (t: Buffer) => { resolve(t); s.destroy(); });
    s.once('error', reject);
  });
  const { s } = await connect('b.example', { session });
  assert.equal(s.isSessionReused(), true);
  s.destroy();
});

test('a certificate issued by a Certificate resource (src/certs) is served once issued', async () => {
  const line = await gw.waitForLog(/"built-in CA ready"/, 15_000, 0);
  const root = fs.readFileSync(JSON.parse(line).root as string, 'utf8');
  const t0 = Date.now();
  for (;;) {
    try {
      const { s, greeting } = await connect('issued.example', { ca: root });
      assert.equal(greeting, 'hello from b');
      assert.equal(s.getPeerCertificate().subjectaltname, 'DNS:issued.example');
      s.destroy();
      return;
    } catch (err) {
      if (Date.now() - t0 > 15_000) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
});

test('GET /certificates lists the certificates of TLS Terminate listeners (expiry gauges and findings as for HTTPS)', async () => {
  const inv = await (await gw.admin('/certificates')).json() as { certificates: { listener: string; ref: string; role: string; hostname: string | null; findings: { code: string }[] }[] };
  const leaves = inv.certificates.filter((c) => c.role === 'leaf').map((c) => `${c.listener} ${c.ref}`);
  for (const want of ['default/gw/a default/a-cert', 'default/gw/b default/b-cert', 'default/gw/mtls default/a-cert', 'default/gw/web default/web-cert']) assert.ok(leaves.includes(want), `${want} in ${leaves.join(', ')}`);
  const metrics = await (await gw.admin('/metrics')).text();
  assert.match(metrics, /portcullis_certificate_days_left\{[^}]*listener="default\/gw\/b"[^}]*ref="default\/b-cert"|portcullis_certificate_days_left\{[^}]*ref="default\/b-cert"[^}]*listener="default\/gw\/b"/);
});

test('8 MiB each way through a terminated connection arrive intact (backpressure through decryption, no loss)', async () => {
  const { s } = await connect('b.example');
  const payload = randomBytes(8 * 1024 * 1024);
  const received: Buffer[] = [];
  let n = 0;
  const done = new Promise<void>((resolve) => s.on('data', (c: Buffer) => { received.push(c); n += c.length; if (n >= payload.length) resolve(); }));
  s.write(payload);
  await done;
  assert.ok(Buffer.concat(received).equals(payload));
  s.destroy();
});

test('Terminate, Passthrough and HTTPS listeners share a port: SNI decides', async () => {
  const pt = await connect('pt.example', { checkServerIdentity: () => undefined });
  assert.equal(pt.greeting, 'hello from secure');
  assert.equal(pt.s.getPeerCertificate().subjectaltname, 'DNS:up.internal.test', 'passed through: the backend\'s own certificate');
  const a = await connect('a.example');
  assert.equal(a.s.getPeerCertificate().subjectaltname, 'DNS:a.example', 'terminated by the gateway');
  pt.s.destroy(); a.s.destroy();
});

test('AllowInsecureFallback: client certificates are asked for, not required', async () => {
  const none = await connect('a.example', {}, fport);
  assert.equal(none.greeting, 'hello from a');
  const stranger = await connect('a.example', { cert: certs.stranger.chain, key: certs.stranger.key }, fport);
  assert.equal(stranger.greeting, 'hello from a');
  none.s.destroy(); stranger.s.destroy();
});

test('SIGTERM: an open terminated connection keeps working during the drain and is closed at its deadline', async () => {
  const d = tmpDir();
  const prev = process.env.PORTCULLIS_DRAIN_MS;
  process.env.PORTCULLIS_DRAIN_MS = '1500';
  const saved = [port, mport, fport];
  [port, mport, fport] = [await freePort(), await freePort(), await freePort()]; // the main gateway holds the others
  fs.writeFileSync(path.join(d, 'c.yaml'), config());
  const p2 = port;
  [port, mport, fport] = saved;
  let g2: GatewayProc;
  try { g2 = await startGateway(d); } finally { if (prev === undefined) delete process.env.PORTCULLIS_DRAIN_MS; else process.env.PORTCULLIS_DRAIN_MS = prev; }
  const open = await connect('b.example', {}, p2);
  const closed = new Promise<void>((r) => open.s.once('close', () => r()));
  const exited = g2.stop();
  await g2.waitForLog(/draining in-flight requests/, 5000, 0);
  assert.equal(await echo(open.s, 'during drain'), 'during drain', 'the connection still works while draining');
  await closed;
  assert.equal(await exited, 0);
});

test('half-close: the client ends its side, the backend still answers through the gateway', async () => {
  const s = tls.connect({ host: '127.0.0.1', port: mport, servername: 'half.example', ca: caPem, checkServerIdentity: () => undefined, cert: certs.client.chain, key: certs.client.key, allowHalfOpen: true } as tls.ConnectionOptions);
  await new Promise<void>((resolve, reject) => { s.once('secureConnect', () => resolve()); s.once('error', reject); });
  let answer = '';
  s.on('data', (d: Buffer) => { answer += d; });
  const ended = new Promise<void>((r) => s.once('end', () => r()));
  s.end(Buffer.alloc(100_000, 7));
  await ended;
  assert.equal(answer, 'got 100000 bytes');
  s.destroy();
});

test('a reload keeps an open terminated connection; new connections follow the new config', async () => {
  const open = await connect('a.example');
  assert.equal(open.greeting, 'hello from a');
  const from = gw.logs.length;
  fs.writeFileSync(path.join(dir, 'c.yaml'), config('b')); // a.example now goes to backend b
  await gw.waitForLog(/"msg":"config applied"/, 5000, from);
  assert.equal(await echo(open.s, 'still there'), 'still there', 'the connection opened before the reload still works');
  const fresh = await connect('a.example');
  assert.equal(fresh.greeting, 'hello from b', 'the new route');
  open.s.destroy(); fresh.s.destroy();
  const back = gw.logs.length;
  fs.writeFileSync(path.join(dir, 'c.yaml'), config());
  await gw.waitForLog(/"msg":"config applied"/, 5000, back);
});

test('validate: a Terminate listener without certificateRefs is an error with file:line:col', () => {
  const bad = tmpDir();
  fs.writeFileSync(path.join(bad, 'c.yaml'), `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: gw, namespace: default }
spec:
  gatewayClassName: portcullis
  listeners:
    - { name: term, protocol: TLS, port: 9443, tls: { mode: Terminate } }
`);
  const r = runCli(['validate', bad]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /c\.yaml:7:\d+: Gateway\/default\/gw: spec\.listeners\[0\]\.tls: a TLS listener in Terminate mode needs tls\.certificateRefs/);
});
