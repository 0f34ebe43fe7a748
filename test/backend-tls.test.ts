// BackendTLSPolicy: the gateway speaks TLS to upstreams with the policy's SNI, trust anchors and
// name checks (hostname or subjectAltNames), presents the Gateway's backend client certificate
// (upstream mTLS), checks health over the same TLS, tunnels WebSockets over it, and fails closed:
// a wrong CA, a wrong name or a missing client certificate is a 502, an invalid policy a 500,
// and no byte of HTTP ever reaches the upstream in cleartext.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { randomBytes } from 'node:crypto';
import { KeyStore } from '../src/pki/keystore.ts';
import { Secret } from '../src/pki/secret.ts';
import { InternalCA } from '../src/pki/ca.ts';
import { freePort, runCli, startGateway, tmpDir, type GatewayProc } from './helpers/cli.ts';

const SPIFFE = 'spiffe://example.test/ns/prod/sa/api';

interface Seen { path: string; sni: string | false | null; host: string; clientCN?: string | string[]; ua?: string }
interface TlsUpstream { port: number; seen: Seen[]; handshakeErrors: number; close(): Promise<void> }

/** An HTTPS server that records what each request arrived with; `clientCa` makes it require a client certificate. */
async function startTlsUpstream(chain: string, key: string, clientCa?: string): Promise<TlsUpstream> {
  const u: TlsUpstream = { port: 0, seen: [], handshakeErrors: 0, close: async () => {} };
  const server = https.createServer({ cert: chain, key, ...(clientCa ? { ca: clientCa, requestCert: true, rejectUnauthorized: true } : {}) }, (req, res) => {
    const s = req.socket as TLSSocket;
    const peer = clientCa ? s.getPeerCertificate() : undefined;
    const seen: Seen = { path: req.url ?? '', sni: s.servername, host: req.headers.host ?? '', clientCN: peer?.subject?.CN, ua: req.headers['user-agent'] };
    u.seen.push(seen);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(seen));
  });
  // WebSocket-style upgrade: 101, then echo.
  server.on('upgrade', (req, socket) => {
    u.seen.push({ path: req.url ?? '', sni: (socket as TLSSocket).servername, host: req.headers.host ?? '' });
    socket.write('HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\r\n');
    socket.pipe(socket);
  });
  server.on('tlsClientError', () => { u.handshakeErrors++; });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  u.port = (server.address() as net.AddressInfo).port;
  u.close = () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); });
  return u;
}

/** An HTTPS server offering h2 and http/1.1 by ALPN; answers with the HTTP version it got. */
async function startH2Upstream(chain: string, key: string): Promise<{ port: number; close(): Promise<void> }> {
  const server = http2.createSecureServer({ cert: chain, key, allowHTTP1: true }, (req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ httpVersion: req.httpVersion, alpn: (req.socket as TLSSocket).alpnProtocol }));
  });
  const socks = new Set<net.Socket>();
  server.on('secureConnection', (s: net.Socket) => { socks.add(s); s.on('close', () => socks.delete(s)); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as net.AddressInfo).port, close: () => new Promise((r) => { for (const s of socks) s.destroy(); server.close(() => r()); }) };
}

/** A TCP relay in front of an upstream that keeps the first byte of every connection (0x16 = a TLS handshake). */
async function startSniffer(target: number): Promise<{ port: number; firstBytes: number[]; close(): Promise<void> }> {
  const firstBytes: number[] = [];
  const socks = new Set<net.Socket>();
  const server = net.createServer((c) => {
    socks.add(c);
    c.once('data', (d: Buffer) => firstBytes.push(d[0]));
    const up = net.connect(target, '127.0.0.1');
    socks.add(up);
    c.pipe(up).pipe(c);
    c.on('error', () => up.destroy()); up.on('error', () => c.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as net.AddressInfo).port, firstBytes, close: () => new Promise((r) => { for (const s of socks) s.destroy(); server.close(() => r()); }) };
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

let work: string, caPem: string, otherCaPem: string;
let server: { chain: string; key: string }, client: { chain: string; key: string };
let up: TlsUpstream, mtlsUp: TlsUpstream, h2Up: Awaited<ReturnType<typeof startH2Upstream>>, sniff: Awaited<ReturnType<typeof startSniffer>>;
let gw: GatewayProc, port: number, port2: number, cfgFile: string;

function backend(name: string, p: number): string {
  return `---
apiVersion: portcullis.dev/v1alpha1
kind: Backend
metadata: { name: ${name}, namespace: default }
spec: { endpoints: [{ address: 127.0.0.1, port: ${p} }] }
`;
}

function policy(name: string, target: string, validation: string, extra = ''): string {
  return `---
apiVersion: gateway.networking.k8s.io/v1
kind: BackendTLSPolicy
metadata: { name: ${name}, namespace: default }
spec:
  targetRefs: [{ group: portcullis.dev, kind: Backend, name: ${target} }]
  validation: ${validation}
${extra}`;
}

function route(name: string, gateway: string, rules: [string, string][]): string {
  return `---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: ${name}, namespace: default }
spec:
  parentRefs: [{ name: ${gateway} }]
  rules:
${rules.map(([p, b]) => `    - matches: [{ path: { type: PathPrefix, value: ${p} } }]
      backendRefs: [{ group: portcullis.dev, kind: Backend, name: ${b} }]`).join('\n')}
`;
}

function gatewayYaml(name: string, p: number, clientCert: boolean): string {
  return `---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: ${name}, namespace: default }
spec:
  gatewayClassName: portcullis
  addresses: [{ type: IPAddress, value: 127.0.0.1 }]
  listeners: [{ name: http, protocol: HTTP, port: ${p} }]
${clientCert ? '  tls: { backend: { clientCertificateRef: { name: gateway-client } } }\n' : ''}`;
}

function commonYaml(): string {
  return `---
apiVersion: v1
kind: ConfigMap
metadata: { name: private-ca, namespace: default }
data:
  ca.crt: |
${caPem.trim().split('\n').map((l) => `    ${l}`).join('\n')}
---
apiVersion: v1
kind: ConfigMap
metadata: { name: other-ca, namespace: default }
data:
  ca.crt: |
${otherCaPem.trim().split('\n').map((l) => `    ${l}`).join('\n')}
---
apiVersion: v1
kind: Secret
metadata: { name: gateway-client, namespace: default }
type: kubernetes.io/tls
data: { tls.crt: ${b64(client.chain)}, tls.key: ${b64(client.key)} }
`;
}

const CA = '{ caCertificateRefs: [{ group: "", kind: ConfigMap, name: private-ca }], hostname: api.internal.test }';

before(async () => {
  work = tmpDir('pcs-btls-');
  const keystore = await KeyStore.open({ dir: path.join(work, 'keys'), encryptionKey: new Secret(randomBytes(32)) });
  const ca = await InternalCA.open({ keystore, certDir: path.join(work, 'ca'), name: 'upstream-ca' });
  const other = await InternalCA.open({ keystore, certDir: path.join(work, 'ca'), name: 'other-ca', commonName: 'Someone Else' });
  const s = await ca.issue({ dnsNames: ['api.internal.test'], uris: [SPIFFE] });
  caPem = s.caPem!;
  otherCaPem = (await other.issue({ dnsNames: ['x.test'] })).caPem!;
  server = { chain: s.chainPem, key: s.keyPem.reveal() };
  const c = await ca.issue({ commonName: 'portcullis-gateway', dnsNames: ['gateway.internal.test'], usages: ['client'] });
  client = { chain: c.chainPem, key: c.keyPem.reveal() };
  up = await startTlsUpstream(server.chain, server.key);
  mtlsUp = await startTlsUpstream(server.chain, server.key, caPem);
  sniff = await startSniffer(up.port);
  h2Up = await startH2Upstream(server.chain, server.key);
  port = await freePort();
  port2 = await freePort();
  const dir = path.join(work, 'cfg');
  fs.mkdirSync(dir);
  cfgFile = path.join(dir, 'c.yaml');
  fs.writeFileSync(cfgFile, [
    gatewayYaml('gw', port, true),
    gatewayYaml('gw2', port2, false),
    commonYaml(),
    route('main', 'gw', [['/ok', 'good'], ['/wrong-ca', 'wrong-ca'], ['/mismatch', 'mismatch'], ['/san-ok', 'san-ok'], ['/san-wrong', 'san-wrong'], ['/mtls', 'mtls'], ['/plain', 'plain'], ['/h1', 'alpn-default'], ['/h2', 'alpn-h2']]),
    route('no-client-cert', 'gw2', [['/mtls', 'mtls-nocert']]),
    backend('good', up.port), policy('good', 'good', CA),
    backend('wrong-ca', sniff.port), policy('wrong-ca', 'wrong-ca', '{ caCertificateRefs: [{ group: "", kind: ConfigMap, name: other-ca }], hostname: api.internal.test }'),
    backend('mismatch', up.port), policy('mismatch', 'mismatch', '{ caCertificateRefs: [{ group: "", kind: ConfigMap, name: private-ca }], hostname: db.internal.test }'),
    // SNI db.internal.test, but the identity checked is the SPIFFE ID the certificate carries.
    backend('san-ok', up.port), policy('san-ok', 'san-ok', `{ caCertificateRefs: [{ group: "", kind: ConfigMap, name: private-ca }], hostname: db.internal.test, subjectAltNames: [{ type: URI, uri: "${SPIFFE}" }] }`),
    backend('san-wrong', up.port), policy('san-wrong', 'san-wrong', '{ caCertificateRefs: [{ group: "", kind: ConfigMap, name: private-ca }], hostname: api.internal.test, subjectAltNames: [{ type: URI, uri: "spiffe://example.test/ns/prod/sa/other" }] }'),
    backend('mtls', mtlsUp.port), policy('mtls', 'mtls', CA),
    backend('mtls-nocert', mtlsUp.port), policy('mtls-nocert', 'mtls-nocert', CA),
    backend('plain', up.port),
    backend('alpn-default', h2Up.port), policy('alpn-default', 'alpn-default', CA),
    backend('alpn-h2', h2Up.port).replace('spec: {', 'spec: { appProtocol: h2c,'), policy('alpn-h2', 'alpn-h2', CA),
    `---
apiVersion: portcullis.dev/v1alpha1
kind: BackendTrafficPolicy
metadata: { name: mtls-health, namespace: default }
spec:
  targetRefs: [{ group: portcullis.dev, kind: Backend, name: mtls }]
  healthCheck: { active: { type: HTTP, interval: 200ms, http: { path: /healthz } } }
`,
  ].join(''));
  gw = await startGateway(dir);
});
after(async () => { await gw?.stop(); await up?.close(); await mtlsUp?.close(); await sniff?.close(); await h2Up?.close(); });

async function get(p: number, pathname: string, host = 'shop.example.test'): Promise<{ status: number; type: string; body: any }> {
  // node:http, not fetch: fetch does not let a caller set Host.
  const r = await new Promise<{ status: number; type: string; text: string }>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: p, path: pathname, headers: { host }, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), text }));
    }).on('error', reject);
  });
  let body: unknown = r.text;
  try { body = JSON.parse(r.text); } catch { /* not JSON */ }
  return { status: r.status, type: r.type, body };
}

test('a private CA: 200 through the gateway, SNI is validation.hostname, the client Host is kept', async () => {
  const r = await get(port, '/ok/a');
  assert.equal(r.status, 200);
  assert.equal(r.body.sni, 'api.internal.test', 'SNI is the policy hostname, not the client Host');
  assert.equal(r.body.host, 'shop.example.test');
  // A second Host on the same Backend still uses the policy's name (undici would take the Host).
  const r2 = await get(port, '/ok/b', 'other.example.test');
  assert.equal(r2.status, 200);
  assert.equal(r2.body.sni, 'api.internal.test');
});

test('a CA that did not sign the upstream certificate: 502 problem+json, and only TLS handshakes on the wire', async () => {
  const before = up.seen.length;
  const r = await get(port, '/wrong-ca');
  assert.equal(r.status, 502);
  assert.match(r.type, /application\/problem\+json/);
  assert.equal(r.body.code, 'PCS_ERR_UPSTREAM_CONNECT');
  assert.ok(sniff.firstBytes.length >= 1, 'the gateway did try to connect');
  assert.ok(sniff.firstBytes.every((b) => b === 0x16), `every connection started with a TLS handshake record, got ${sniff.firstBytes.map((b) => b.toString(16))}`);
  assert.equal(up.seen.filter((s) => s.path === '/wrong-ca').length, 0, 'no request reached the upstream');
  assert.equal(up.seen.length, before);
});

test('a certificate for another name is refused (hostname verification)', async () => {
  const r = await get(port, '/mismatch');
  assert.equal(r.status, 502);
  assert.equal(up.seen.filter((s) => s.path === '/mismatch').length, 0);
});

test('subjectAltNames: a SPIFFE URI SAN is the identity checked; a URI the certificate lacks is refused', async () => {
  const ok = await get(port, '/san-ok');
  assert.equal(ok.status, 200);
  assert.equal(ok.body.sni, 'db.internal.test', 'SNI still comes from hostname');
  const bad = await get(port, '/san-wrong');
  assert.equal(bad.status, 502);
  assert.equal(up.seen.filter((s) => s.path === '/san-wrong').length, 0);
});

test('upstream mTLS: the Gateway backend client certificate is presented; without one the upstream refuses', async () => {
  const ok = await get(port, '/mtls/x');
  assert.equal(ok.status, 200);
  assert.equal(ok.body.clientCN, 'portcullis-gateway');
  const errorsBefore = mtlsUp.handshakeErrors;
  const refused = await get(port2, '/mtls/x');
  assert.equal(refused.status, 502, 'Gateway gw2 has no backend client certificate');
  assert.ok(mtlsUp.handshakeErrors > errorsBefore, 'the upstream refused the handshake');
});

test('active HTTP health checks use the same TLS (CA, SNI, client certificate)', async () => {
  const deadline = Date.now() + 5000;
  while (!mtlsUp.seen.some((s) => s.path === '/healthz') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const hc = mtlsUp.seen.find((s) => s.path === '/healthz');
  assert.ok(hc, 'a health check reached the upstream');
  assert.equal(hc.ua, 'portcullis-health-check');
  assert.equal(hc.sni, 'api.internal.test');
  assert.equal(hc.host, 'api.internal.test', 'Host defaults to the policy hostname');
  assert.equal(hc.clientCN, 'portcullis-gateway');
});

test('ALPN: http/1.1 by default, so upgrades work; h2 when the Backend says appProtocol h2c', async () => {
  const h1 = await get(port, '/h1');
  assert.equal(h1.status, 200);
  assert.deepEqual(h1.body, { httpVersion: '1.1', alpn: 'http/1.1' });
  const h2 = await get(port, '/h2');
  assert.equal(h2.status, 200);
  assert.deepEqual(h2.body, { httpVersion: '2.0', alpn: 'h2' });
});

test('a Backend without a policy stays cleartext (a TLS upstream answers it with a handshake error)', async () => {
  const r = await get(port, '/plain');
  assert.equal(r.status, 502);
});

test('a WebSocket upgrade to a TLS Backend is tunnelled over TLS', async () => {
  const sock = net.connect(port, '127.0.0.1');
  let buf = '';
  sock.setEncoding('latin1');
  sock.write(`GET /ok/ws HTTP/1.1\r\nhost: shop.example.test\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-version: 13\r\nsec-websocket-key: ${randomBytes(16).toString('base64')}\r\n\r\n`);
  const waitFor = (re: RegExp) => new Promise<void>((resolve, reject) => {
    const check = () => { if (re.test(buf)) { sock.off('data', onData); resolve(); } };
    const onData = (d: string) => { buf += d; check(); };
    sock.on('data', onData);
    sock.once('error', reject);
    check();
  });
  await waitFor(/\r\n\r\n/);
  assert.match(buf, /^HTTP\/1\.1 101 /);
  sock.write('ping-over-tls');
  await waitFor(/ping-over-tls/);
  sock.destroy();
  const seen = up.seen.find((s) => s.path === '/ok/ws');
  assert.equal(seen?.sni, 'api.internal.test');
});

test('a reload that changes the trusted CA takes effect: new connections, verified against the new CA', async () => {
  const original = fs.readFileSync(cfgFile, 'utf8');
  const needle = 'name: good }]\n  validation: { caCertificateRefs: [{ group: "", kind: ConfigMap, name: private-ca }]';
  assert.ok(original.includes(needle));
  assert.equal((await get(port, '/ok/before')).status, 200, 'a pooled connection exists');
  try {
    let from = gw.logs.length;
    fs.writeFileSync(cfgFile, original.replace(needle, needle.replace('private-ca', 'other-ca')));
    await gw.waitForLog(/"msg":"config applied"/, 10_000, from);
    assert.equal((await get(port, '/ok/after')).status, 502, 'the open connection verified by the old CA is not reused');
    from = gw.logs.length;
    fs.writeFileSync(cfgFile, original);
    await gw.waitForLog(/"msg":"config applied"/, 10_000, from);
    assert.equal((await get(port, '/ok/restored')).status, 200);
  } finally { fs.writeFileSync(cfgFile, original); }
});

test('an invalid policy: validate names file:line:col; served with --allow-partial, its Backend fails closed with 500 and is never contacted', async () => {
  const dir = path.join(work, 'bad');
  fs.mkdirSync(dir);
  const p = await freePort();
  const sniff2 = await startSniffer(up.port);
  fs.writeFileSync(path.join(dir, 'c.yaml'), [
    gatewayYaml('gw', p, false),
    `---
apiVersion: v1
kind: ConfigMap
metadata: { name: no-ca-key, namespace: default }
data: { tls.crt: "not here" }
`,
    route('r', 'gw', [['/', 'locked']]),
    backend('locked', sniff2.port),
    policy('locked', 'locked', '{ caCertificateRefs: [{ group: "", kind: ConfigMap, name: no-ca-key }], hostname: api.internal.test }'),
  ].join(''));
  const v = runCli(['validate', '--json', '--status', dir]);
  assert.equal(v.code, 1);
  const json = JSON.parse(v.stdout);
  const d = json.diagnostics.find((x: { message: string }) => /ConfigMap default\/no-ca-key has no ca\.crt/.test(x.message));
  assert.ok(d, 'the missing ca.crt is reported');
  assert.deepEqual([path.basename(d.file), d.line, d.path, d.severity], ['c.yaml', fs.readFileSync(path.join(dir, 'c.yaml'), 'utf8').split('\n').findIndex((l) => l.includes('name: no-ca-key }]')) + 1, 'spec.validation.caCertificateRefs[0].name', 'error']);
  assert.ok(d.col > 1 && d.hint);
  const st = json.status['BackendTLSPolicy/default/locked'];
  const conds = st.ancestors[0].conditions;
  assert.deepEqual(st.ancestors[0].ancestorRef, { group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'default', name: 'gw' });
  assert.deepEqual(conds.map((c: { type: string; status: string; reason: string }) => `${c.type}=${c.status}/${c.reason}`), ['Accepted=False/NoValidCACertificate', 'ResolvedRefs=False/InvalidCACertificateRef']);

  const g = await startGateway(dir, ['--allow-partial']);
  try {
    const r = await get(p, '/anything');
    assert.equal(r.status, 500);
    assert.match(r.type, /application\/problem\+json/);
    assert.equal(r.body.code, 'PCS_ERR_BACKEND_INVALID');
    assert.equal(sniff2.firstBytes.length, 0, 'not one connection to the upstream');
  } finally { await g.stop(); await sniff2.close(); }
});
