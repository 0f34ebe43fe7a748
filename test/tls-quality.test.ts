// TLS quality of HTTPS listeners, checked directly (what scripts/testssl.ts checks with testssl.sh,
// which takes a minute and is not in CI): protocol versions, suites, renegotiation, key exchange
// groups, ALPN; HSTS from a ClientTrafficPolicy (HTTPS only, RFC 6797); and the served-certificate
// inventory on the admin API (GET /certificates) and in /metrics, following a reload.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import path from 'node:path';
import tls from 'node:tls';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { KeyStore } from '../src/pki/keystore.ts';
import { Secret } from '../src/pki/secret.ts';
import { InternalCA } from '../src/pki/ca.ts';
import { freePort, runCli, startGateway, tmpDir, type GatewayProc } from './helpers/cli.ts';
import { tlsSecretYaml } from './helpers/config.ts';

let gw: GatewayProc, upstream: http.Server, upPort: number, port: number, httpPort: number, dir: string, caPem: string;
const issued: Record<string, { chain: string; key: string; serial: string }> = {};

function secret(name: string, c: { chain: string; key: string }): string {
  return `---\n${tlsSecretYaml(name, c, 'quoted')}\n`;
}

const HSTS = '{ maxAge: 31536000, includeSubDomains: true, preload: true }';

function config(o: { rsa?: boolean; hsts?: string } = {}): string {
  const rsa = o.rsa ?? true;
  return `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: gw, namespace: default }
spec:
  gatewayClassName: portcullis
  addresses: [{ type: IPAddress, value: 127.0.0.1 }]
  listeners:
    - name: https
      protocol: HTTPS
      port: ${port}
      tls: { certificateRefs: [{ name: web-ec }${rsa ? ', { name: web-rsa }' : ''}] }
    - name: api
      protocol: HTTPS
      port: ${port}
      hostname: api.example.test
      tls: { certificateRefs: [{ name: wrong-name }] }
    - { name: http, protocol: HTTP, port: ${httpPort} }
---
apiVersion: portcullis.dev/v1alpha1
kind: ClientTrafficPolicy
metadata: { name: tls, namespace: default }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: Gateway, name: gw }]
  hsts: ${o.hsts ?? HSTS}
---
apiVersion: portcullis.dev/v1alpha1
kind: ClientTrafficPolicy
metadata: { name: api-tls, namespace: default }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: Gateway, name: gw, sectionName: api }]
  hsts: { maxAge: 600 }
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: r, namespace: default }
spec:
  parentRefs: [{ name: gw }]
  rules:
    - matches: [{ path: { type: PathPrefix, value: /moved } }]
      filters: [{ type: RequestRedirect, requestRedirect: { path: { type: ReplaceFullPath, replaceFullPath: /here } } }]
    - backendRefs: [{ group: portcullis.dev, kind: Backend, name: up }]
---
apiVersion: portcullis.dev/v1alpha1
kind: Backend
metadata: { name: up, namespace: default }
spec: { endpoints: [{ address: 127.0.0.1, port: ${upPort} }] }
${secret('web-ec', issued.webEc)}${rsa ? secret('web-rsa', issued.webRsa) : ''}${secret('wrong-name', issued.wrongName)}`;
}

before(async () => {
  const work = tmpDir();
  const keystore = await KeyStore.open({ dir: path.join(work, 'keys'), encryptionKey: new Secret(randomBytes(32)) });
  const ca = await InternalCA.open({ keystore, certDir: path.join(work, 'ca') });
  const issue = async (dns: string, key?: { type: 'rsa'; bits: 2048 }) => {
    const c = await ca.issue({ dnsNames: [dns], ...(key ? { key } : {}) });
    caPem = c.caPem!;
    return { chain: c.chainPem, key: c.keyPem.reveal(), serial: c.serialNumber };
  };
  issued.webEc = await issue('www.example.test');
  issued.webRsa = await issue('www.example.test', { type: 'rsa', bits: 2048 });
  issued.wrongName = await issue('other.example.test'); // served for api.example.test: NAME_MISMATCH
  // The upstream sends its own Strict-Transport-Security on /upstream-sts: the Gateway's policy replaces it.
  upstream = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', ...(req.url === '/upstream-sts' ? { 'strict-transport-security': 'max-age=5' } : {}) });
    res.end('ok');
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  upPort = (upstream.address() as AddressInfo).port;
  port = await freePort();
  httpPort = await freePort();
  dir = tmpDir();
  fs.writeFileSync(path.join(dir, 'c.yaml'), config());
  gw = await startGateway(dir);
});
after(async () => { await gw?.stop(); upstream?.closeAllConnections(); upstream?.close(); });

function handshake(opts: tls.ConnectionOptions = {}): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername: 'www.example.test', ca: caPem, ALPNProtocols: ['h2', 'http/1.1'], ...opts }, () => resolve(s));
    s.once('error', reject);
  });
}

function httpsGet(p: string, opts: https.RequestOptions = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    https.get({ host: '127.0.0.1', port, servername: 'www.example.test', ca: caPem, path: p, agent: false, headers: { host: 'www.example.test' }, ...opts }, (res) => {
      res.resume(); res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers }));
    }).on('error', reject);
  });
}

test('HSTS: the precompiled header on HTTPS responses (HTTP/1.1, HTTP/2, redirects), replacing the upstream\'s; never on plain HTTP', async () => {
  const want = 'max-age=31536000; includeSubDomains; preload';
  const h1 = await httpsGet('/');
  assert.equal(h1.status, 200);
  assert.equal(h1.headers['strict-transport-security'], want);
  assert.equal((await httpsGet('/upstream-sts')).headers['strict-transport-security'], want, 'the Gateway policy wins over the upstream');
  const moved = await httpsGet('/moved');
  assert.equal(moved.status, 302);
  assert.equal(moved.headers['strict-transport-security'], want, 'redirects carry it too');
  const session = http2.connect(`https://www.example.test:${port}`, { ca: caPem, host: '127.0.0.1', servername: 'www.example.test' } as http2.SecureClientSessionOptions);
  try {
    const h2 = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
      const s = session.request({ ':path': '/' });
      s.on('response', (h) => { s.resume(); s.on('end', () => resolve(h)); });
      s.on('error', reject);
    });
    assert.equal(h2[':status'], 200);
    assert.equal(h2['strict-transport-security'], want);
  } finally { session.close(); }
  const plain = await new Promise<http.IncomingHttpHeaders>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: httpPort, path: '/', agent: false }, (res) => { res.resume(); res.on('end', () => resolve(res.headers)); }).on('error', reject);
  });
  assert.equal(plain['strict-transport-security'], undefined, 'RFC 6797 §7.2: not over plain HTTP');
  // a policy on one listener (sectionName) replaces the Gateway's there
  const api = await httpsGet('/', { servername: 'api.example.test', headers: { host: 'api.example.test' }, checkServerIdentity: () => undefined });
  assert.equal(api.status, 200);
  assert.equal(api.headers['strict-transport-security'], 'max-age=600');
});

test('ClientTrafficPolicy sectionName must name a listener; hsts on a plain HTTP listener is a warning', () => {
  const bad = tmpDir();
  fs.writeFileSync(path.join(bad, 'c.yaml'), config().replace('name: gw, sectionName: api }', 'name: gw, sectionName: nope }'));
  const r = runCli(['validate', bad]);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /spec\.targetRefs\[0\]\.sectionName: Gateway gw has no listener named "nope"/);
  const warn = tmpDir();
  fs.writeFileSync(path.join(warn, 'c.yaml'), config().replace('name: gw, sectionName: api }', 'name: gw, sectionName: http }'));
  const w = runCli(['validate', warn]);
  assert.equal(w.code, 0, w.stdout + w.stderr);
  assert.match(w.stdout + w.stderr, /Listener gw\/http is not an HTTPS listener, so hsts has no effect on it/);
});

test('HSTS preload without a 1-year maxAge and includeSubDomains is refused by validate, with the fix', () => {
  const bad = tmpDir();
  fs.writeFileSync(path.join(bad, 'c.yaml'), config({ hsts: '{ maxAge: 86400, preload: true }' }));
  const r = runCli(['validate', bad]);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /c\.yaml:\d+:\d+.*spec\.hsts\.maxAge: preload needs maxAge of at least 31536000 \(1 year\), got 86400/);
  assert.match(r.stderr, /spec\.hsts(\.includeSubDomains)?: preload needs includeSubDomains: true/);
  assert.match(r.stderr, /set maxAge: 31536000/);
  const ok = tmpDir();
  fs.writeFileSync(path.join(ok, 'c.yaml'), config({ hsts: '{ maxAge: 0 }' }));
  assert.equal(runCli(['validate', ok]).code, 0, 'maxAge 0 (forget) without preload is valid');
});

test('TLS 1.0 and 1.1 are refused; TLS 1.3 is preferred', async () => {
  for (const v of ['TLSv1', 'TLSv1.1'] as const) {
    await assert.rejects(handshake({ minVersion: v, maxVersion: v, ciphers: 'DEFAULT:@SECLEVEL=0' }), `${v} is refused`);
  }
  const s = await handshake();
  assert.equal(s.getProtocol(), 'TLSv1.3');
  // Node's client offers AES-256 first; the server's order (AES-128 first, as Mozilla's) wins
  assert.equal(s.getCipher().name, 'TLS_AES_128_GCM_SHA256');
  s.destroy();
  for (const suite of ['TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256']) {
    const t = await handshake({ ciphers: suite });
    assert.equal(t.getCipher().name, suite, `${suite} is accepted`);
    t.destroy();
  }
});

test('TLS 1.2: only forward-secret AEAD suites are accepted', async () => {
  // CBC (with and without ECDHE), static-RSA key exchange (no forward secrecy), 3DES
  for (const c of ['ECDHE-RSA-AES128-SHA', 'ECDHE-ECDSA-AES256-SHA384', 'ECDHE-RSA-AES256-SHA384', 'AES128-GCM-SHA256', 'AES256-SHA256', 'DES-CBC3-SHA']) {
    await assert.rejects(handshake({ maxVersion: 'TLSv1.2', ciphers: `${c}:@SECLEVEL=0` }), `${c} is refused`);
  }
  for (const c of ['ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-RSA-CHACHA20-POLY1305']) {
    const s = await handshake({ maxVersion: 'TLSv1.2', ciphers: c });
    assert.equal(s.getCipher().standardName !== undefined && s.getCipher().name, c);
    s.destroy();
  }
});

test('X25519 and P-256 are offered for key exchange; ECDSA and RSA certificates by client support', async () => {
  for (const [curve, name] of [['X25519', 'X25519'], ['P-256', 'prime256v1']] as const) {
    for (const v of ['TLSv1.2', 'TLSv1.3'] as const) {
      const s = await handshake({ ecdhCurve: curve, minVersion: v, maxVersion: v });
      assert.equal((s.getEphemeralKeyInfo() as tls.EphemeralKeyInfo | null)?.name, name, `${curve} over ${v}`);
      s.destroy();
    }
  }
  await assert.rejects(handshake({ ecdhCurve: 'secp521r1' }), 'P-521 is not offered');
  const ec = await handshake({ sigalgs: 'ecdsa_secp256r1_sha256' });
  assert.equal(ec.getPeerCertificate().serialNumber.toUpperCase(), issued.webEc.serial.toUpperCase());
  ec.destroy();
  const rsa = await handshake({ sigalgs: 'rsa_pss_rsae_sha256:rsa_pkcs1_sha256' });
  assert.equal(rsa.getPeerCertificate().serialNumber.toUpperCase(), issued.webRsa.serial.toUpperCase());
  rsa.destroy();
});

test('ALPN: h2 and http/1.1', async () => {
  for (const p of ['h2', 'http/1.1']) {
    const s = await handshake({ ALPNProtocols: [p] });
    assert.equal(s.alpnProtocol, p);
    s.destroy();
  }
});

test('renegotiation is refused (TLS 1.2)', async () => {
  const s = await handshake({ maxVersion: 'TLSv1.2', ALPNProtocols: ['http/1.1'] });
  try {
    const outcome = await new Promise<string>((resolve) => {
      s.once('error', (e) => resolve(`error: ${e.message}`));
      s.once('close', () => resolve('closed'));
      const ok = s.renegotiate({ rejectUnauthorized: false }, (err) => resolve(err ? `error: ${err.message}` : 'renegotiated'));
      if (!ok) resolve('refused locally');
      // the server answers a renegotiation request with a no_renegotiation alert, or ends the connection
      s.write('GET / HTTP/1.1\r\nhost: www.example.test\r\n\r\n');
    });
    assert.match(outcome, /^(error: .*no renegotiation|closed)/, 'the server must not renegotiate');
  } finally { s.destroy(); }
});

interface Inventory { version: string; certificates: { listener: string; ref: string; role: string; serialNumber: string; daysLeft: number; notAfter: string; subject: string; findings: { code: string }[] }[]; summary: { findings: Record<string, number> } }

test('GET /certificates and the certificate gauges show the served certificates, and follow a reload', async () => {
  const inv = await (await gw.admin('/certificates')).json() as Inventory;
  const leaves = inv.certificates.filter((c) => c.role === 'leaf');
  const byRef = (ref: string) => leaves.find((c) => c.ref === ref)!;
  assert.deepEqual(leaves.map((c) => `${c.listener} ${c.ref}`).sort(), ['default/gw/api default/wrong-name', 'default/gw/https default/web-ec', 'default/gw/https default/web-rsa']);
  assert.equal(byRef('default/web-ec').serialNumber.toUpperCase(), issued.webEc.serial.toUpperCase());
  assert.ok(Date.parse(byRef('default/web-ec').notAfter) > Date.now() && byRef('default/web-ec').daysLeft >= 0);
  assert.ok(byRef('default/wrong-name').findings.some((f) => f.code === 'NAME_MISMATCH'), 'a certificate that does not cover its listener hostname is flagged');
  assert.ok(!byRef('default/web-ec').findings.some((f) => f.code === 'NAME_MISMATCH'), 'a catch-all listener has no name to check');
  assert.equal(inv.summary.findings.NAME_MISMATCH, 1);

  const metrics = async () => (await gw.admin('/metrics')).text();
  const series = (text: string, ref: string) => text.split('\n').filter((l) => l.startsWith('portcullis_certificate_expiry_timestamp_seconds{') && l.includes(`ref="${ref}"`));
  let m = await metrics();
  const rsa = series(m, 'default/web-rsa').find((l) => l.includes(`serial="${byRef('default/web-rsa').serialNumber}"`));
  assert.ok(rsa, m);
  assert.match(rsa, /listener="default\/gw\/https"/);
  assert.equal(Number(rsa.split(' ').pop()), Date.parse(byRef('default/web-rsa').notAfter) / 1000);
  assert.match(m, /portcullis_certificate_days_left\{[^}]*ref="default\/web-ec"[^}]*\} \d+(\.\d+)?/);

  // Reload without the RSA certificate: its series and inventory entries go away.
  const from = gw.logs.length;
  fs.writeFileSync(path.join(dir, 'c.yaml'), config({ rsa: false }));
  await gw.waitForLog(/"msg":"config applied"/, 10_000, from);
  m = await metrics();
  assert.deepEqual(series(m, 'default/web-rsa'), [], 'the RSA certificate is no longer served');
  assert.ok(series(m, 'default/web-ec').length > 0);
  const after = await (await gw.admin('/certificates')).json() as Inventory;
  assert.ok(!after.certificates.some((c) => c.ref === 'default/web-rsa'));
  const noToken = await fetch(`http://127.0.0.1:${gw.adminPort}/certificates`);
  assert.equal(noToken.status, 401, 'the inventory needs the admin token');
});

test('with --workers 2 the primary exports the certificate gauges once (the workers\' empty copies are left out)', async () => {
  const wport = await freePort();
  const wdir = tmpDir();
  fs.writeFileSync(path.join(wdir, 'c.yaml'), `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: w, namespace: default }
spec:
  gatewayClassName: portcullis
  addresses: [{ type: IPAddress, value: 127.0.0.1 }]
  listeners: [{ name: https, protocol: HTTPS, port: ${wport}, tls: { certificateRefs: [{ name: web-ec }] } }]
${secret('web-ec', issued.webEc)}`);
  const wgw = await startGateway(wdir, ['--workers', '2']);
  try {
    const m = await (await wgw.admin('/metrics')).text();
    assert.equal(m.split('\n').filter((l) => l === '# TYPE portcullis_certificate_expiry_timestamp_seconds gauge').length, 1, m);
    const series = m.split('\n').filter((l) => l.startsWith('portcullis_certificate_expiry_timestamp_seconds{'));
    assert.ok(series.length >= 1 && series.every((l) => l.includes('listener="default/w/https"') && l.includes('ref="default/web-ec"')), series.join('\n'));
    const inv = await (await wgw.admin('/certificates')).json() as Inventory;
    assert.ok(inv.certificates.some((c) => c.role === 'leaf' && c.serialNumber.toUpperCase() === issued.webEc.serial.toUpperCase()));
  } finally { await wgw.stop(); }
});
