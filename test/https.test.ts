// HTTPS listeners: certificates from Secrets chosen by SNI (ECDSA and RSA), TLS 1.2 minimum,
// ALPN h2 + http/1.1, X-Forwarded-Proto https, 421 for a coalesced request of another listener,
// and certificate rotation by reload without dropping an open connection.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http2 from 'node:http2';
import https from 'node:https';
import path from 'node:path';
import tls from 'node:tls';
import { X509Certificate, randomBytes } from 'node:crypto';
import { KeyStore } from '../src/pki/keystore.ts';
import { Secret } from '../src/pki/secret.ts';
import { InternalCA } from '../src/pki/ca.ts';
import { freePort, runCli, startGateway, tmpDir, type GatewayProc } from './helpers/cli.ts';
import { backendYaml, routeYaml, tlsSecretYaml, gatewayWith } from './helpers/config.ts';
import { startUpstream, type Upstream } from './helpers/upstream.ts';

let gw: GatewayProc, up: Upstream, port: number, dir: string, ca: InternalCA, caPem: string;
const issued: Record<string, { chain: string; key: string; serial: string }> = {};

function secret(name: string, c: { chain: string; key: string }): string {
  return `---\n${tlsSecretYaml(name, c)}\n`;
}

function config(shopCert = 'shop-ec'): string {
  return `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: gw, namespace: default }
spec:
  gatewayClassName: portcullis
  addresses: [{ type: IPAddress, value: 127.0.0.1 }]
  listeners:
    - name: shop
      protocol: HTTPS
      port: ${port}
      hostname: shop.example.test
      tls: { certificateRefs: [{ name: ${shopCert} }, { name: shop-rsa }] }
    - name: api
      protocol: HTTPS
      port: ${port}
      hostname: api.example.test
      tls: { certificateRefs: [{ name: api-ec }] }
---
${routeYaml('up')}
---
${backendYaml('up', [up.port])}
${secret('shop-ec', issued.shopEc)}${secret('shop-ec-2', issued.shopEc2)}${secret('shop-rsa', issued.shopRsa)}${secret('api-ec', issued.apiEc)}`;
}

before(async () => {
  const work = tmpDir();
  const keystore = await KeyStore.open({ dir: path.join(work, 'keys'), encryptionKey: new Secret(randomBytes(32)) });
  ca = await InternalCA.open({ keystore, certDir: path.join(work, 'ca') });
  const issue = async (dns: string, key?: { type: 'rsa'; bits: 2048 }) => {
    const c = await ca.issue({ dnsNames: [dns], ...(key ? { key } : {}) });
    caPem = c.caPem!;
    return { chain: c.chainPem, key: c.keyPem.reveal(), serial: c.serialNumber };
  };
  issued.shopEc = await issue('shop.example.test');
  issued.shopEc2 = await issue('shop.example.test');
  issued.shopRsa = await issue('shop.example.test', { type: 'rsa', bits: 2048 });
  issued.apiEc = await issue('api.example.test');
  up = await startUpstream('up');
  port = await freePort();
  dir = tmpDir();
  fs.writeFileSync(path.join(dir, 'c.yaml'), config());
  gw = await startGateway(dir);
});
after(async () => { await gw?.stop(); await up?.close(); });

function fp(chainPem: string): string {
  return new X509Certificate(chainPem).fingerprint256;
}

function handshake(servername: string, opts: tls.ConnectionOptions = {}): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername, ca: caPem, ALPNProtocols: ['h2', 'http/1.1'], ...opts }, () => resolve(s));
    s.once('error', reject);
  });
}

test('SNI picks the listener certificate; ECDSA and RSA side by side; TLS 1.2+ with AEAD only', async () => {
  // TLS 1.2 cipher suites name the certificate type, so they select one of the two certificates.
  const ec = await handshake('shop.example.test', { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' });
  assert.equal(ec.getPeerCertificate().fingerprint256, fp(issued.shopEc.chain), 'an ECDSA client gets the ECDSA certificate');
  assert.equal(ec.alpnProtocol, 'h2');
  ec.destroy();
  const modern = await handshake('shop.example.test');
  assert.equal(modern.getProtocol(), 'TLSv1.3', 'TLS 1.3 when the client has it');
  modern.destroy();
  const rsa = await handshake('shop.example.test', { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-GCM-SHA256' });
  assert.equal(rsa.getPeerCertificate().fingerprint256, fp(issued.shopRsa.chain), 'an RSA-only client gets the RSA certificate');
  rsa.destroy();
  const api = await handshake('api.example.test');
  assert.equal(api.getPeerCertificate().subjectaltname, 'DNS:api.example.test');
  api.destroy();
  await assert.rejects(handshake('shop.example.test', { maxVersion: 'TLSv1.1', minVersion: 'TLSv1' }), 'TLS 1.1 is refused');
  await assert.rejects(handshake('shop.example.test', { maxVersion: 'TLSv1.2', ciphers: 'AES128-SHA' }), 'non-AEAD, non-forward-secret suites are refused');
  await gw.waitForLog(/TLS handshake failed/, 2000, 0);
});

test('HTTP/1.1 and HTTP/2 over TLS reach the upstream with X-Forwarded-Proto https', async () => {
  const body = await new Promise<string>((resolve, reject) => {
    https.get({ host: '127.0.0.1', port, servername: 'shop.example.test', headers: { host: 'shop.example.test' }, ca: caPem, path: '/h1' }, (res) => {
      let b = ''; res.on('data', (c) => (b += c)); res.on('end', () => resolve(b));
    }).on('error', reject);
  });
  assert.equal(JSON.parse(body).headers['x-forwarded-proto'], 'https');
  const session = http2.connect(`https://shop.example.test:${port}`, { ca: caPem, host: '127.0.0.1', servername: 'shop.example.test' } as http2.SecureClientSessionOptions);
  try {
    const get = (authority: string) => new Promise<{ status: number; body: string }>((resolve, reject) => {
      const s = session.request({ ':path': '/h2', ':authority': authority });
      let b = '', st = 0;
      s.on('response', (h) => { st = Number(h[':status']); });
      s.on('data', (c) => (b += c));
      s.on('end', () => resolve({ status: st, body: b }));
      s.on('error', reject);
    });
    const ok = await get('shop.example.test');
    assert.equal(ok.status, 200);
    assert.equal(JSON.parse(ok.body).path, '/h2');
    const coalesced = await get('api.example.test');
    assert.equal(coalesced.status, 421, 'a request for another listener on this connection is misdirected');
  } finally { session.close(); }
});

test('HTTP/1.1 over TLS is the fast HTTP/1.1 server of cleartext listeners: the same keep-alive and the same problem+json for a request it refuses', async () => {
  const exchange = (payload: string) => new Promise<string>((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername: 'shop.example.test', ca: caPem, ALPNProtocols: ['http/1.1'] }, () => s.write(payload));
    let out = '';
    s.setEncoding('utf8');
    s.on('data', (d) => { out += d; if (/\r\n\r\n/.test(out) && /content-length: (\d+)/i.test(out)) { const n = Number(/content-length: (\d+)/i.exec(out)![1]); if (Buffer.byteLength(out.slice(out.indexOf('\r\n\r\n') + 4)) >= n) { s.destroy(); resolve(out); } } });
    s.on('end', () => resolve(out));
    s.on('error', reject);
  });
  const ok = await exchange('GET /h1 HTTP/1.1\r\nHost: shop.example.test\r\n\r\n');
  assert.match(ok, /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(ok, /\r\nKeep-Alive: timeout=65\r\n/i, 'the cleartext listeners\' keep-alive (node:http2\'s HTTP/1.1 fallback said timeout=5)');
  const from = gw.logs.length;
  const bad = await exchange('GET /h1 HTTP/1.1\r\nHost: shop.example.test\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n');
  assert.match(bad, /^HTTP\/1\.1 400 Bad Request\r\n/);
  assert.match(bad, /Content-Type: application\/problem\+json/i);
  assert.equal(JSON.parse(bad.slice(bad.indexOf('\r\n\r\n') + 4)).code, 'PCS_ERR_BAD_REQUEST');
  await gw.waitForLog(/"msg":"bad request refused"/, 3000, from);
});

test('certificate rotation by reload: new handshakes get the new certificate, open connections stay', async () => {
  const ecdsaOnly = { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' } as const;
  const open = await handshake('shop.example.test', ecdsaOnly);
  assert.equal(open.getPeerCertificate().fingerprint256, fp(issued.shopEc.chain));
  const from = gw.logs.length;
  fs.writeFileSync(path.join(dir, 'c.yaml'), config('shop-ec-2'));
  await gw.waitForLog(/"msg":"config applied"/, 5000, from);
  const fresh = await handshake('shop.example.test', ecdsaOnly);
  assert.equal(fresh.getPeerCertificate().fingerprint256, fp(issued.shopEc2.chain), 'the rotated certificate');
  assert.ok(!open.destroyed, 'the connection opened before the rotation is still open');
  open.destroy(); fresh.destroy();
});

test('a certificateRef to a missing Secret, or a key that does not match, is refused by validate', () => {
  const bad = tmpDir();
  fs.writeFileSync(path.join(bad, 'c.yaml'), config().replace('{ name: api-ec }', '{ name: nope }').replace(`tls.key: ${Buffer.from(issued.shopRsa.key).toString('base64')}`, `tls.key: ${Buffer.from(issued.apiEc.key).toString('base64')}`));
  const r = runCli(['validate', bad]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /spec\.listeners\[1\]\.tls\.certificateRefs\[0\]\.name: Secret default\/nope not found/);
  assert.match(r.stderr, /Secret default\/shop-rsa: tls\.key does not belong to the certificate/);
});

test('portcullis certs list --config and certs scan show the served certificates and their findings', () => {
  const list = runCli(['certs', 'list', '--config', dir, '--json']);
  assert.equal(list.code, 0, list.stderr);
  const listed = JSON.parse(list.stdout);
  const leaves = listed.certificates.filter((e: { role: string }) => e.role === 'leaf');
  assert.deepEqual([...new Set(leaves.map((e: { sans: string[] }) => e.sans.join(',')))].sort(), ['DNS:api.example.test', 'DNS:shop.example.test']);
  assert.ok(!list.stdout.includes('PRIVATE KEY'), 'keys never appear');
  const scan = runCli(['certs', 'scan', `127.0.0.1:${port}`, '--servername', 'api.example.test', '--json']);
  assert.equal(scan.code, 0, scan.stderr);
  const r = JSON.parse(scan.stdout).results[0];
  assert.ok(r.entries.some((e: { sans: string[] }) => e.sans.includes('DNS:api.example.test')));
  assert.match(r.protocol, /TLSv1\.[23]/);
});

test('client mTLS (AllowValidOnly): a certificate from the configured CA passes with its identity forwarded; another CA, or none, is refused', async () => {
  const work = tmpDir();
  const keystore = await KeyStore.open({ dir: path.join(work, 'keys'), encryptionKey: new Secret(randomBytes(32)) });
  const otherCa = await InternalCA.open({ keystore, certDir: path.join(work, 'other'), name: 'other' });
  const good = await ca.issue({ commonName: 'billing', uris: ['spiffe://example.test/ns/prod/sa/billing'], usages: ['client'] });
  const bad = await otherCa.issue({ commonName: 'intruder', uris: ['spiffe://evil.test/intruder'], usages: ['client'] });
  const mport = await freePort();
  const mdir = tmpDir();
  fs.writeFileSync(path.join(mdir, 'c.yaml'), `${gatewayWith([`{ name: https, protocol: HTTPS, port: ${mport}, tls: { certificateRefs: [{ name: api-ec }] } }`], 'mtls')}
  tls:
    frontend:
      default:
        validation: { caCertificateRefs: [{ kind: ConfigMap, name: clients-ca }], mode: AllowValidOnly }
---
apiVersion: v1
kind: ConfigMap
metadata: { name: clients-ca, namespace: default }
data:
  ca.crt: ${JSON.stringify(caPem)}
---
apiVersion: portcullis.dev/v1alpha1
kind: ClientTrafficPolicy
metadata: { name: xfcc, namespace: default }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: Gateway, name: mtls }]
  headers: { xForwardedClientCert: { mode: SanitizeSet } }
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: r, namespace: default }
spec:
  parentRefs: [{ name: mtls }]
  rules: [{ backendRefs: [{ group: portcullis.dev, kind: Backend, name: up }] }]
---
${backendYaml('up', [up.port])}
${secret('api-ec', issued.apiEc)}`);
  const mgw = await startGateway(mdir);
  try {
    const get = (cert?: { chainPem: string; keyPem: { reveal(): string } }) => new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = https.get({ host: '127.0.0.1', port: mport, servername: 'api.example.test', ca: caPem, path: '/id', headers: { host: 'api.example.test', 'x-forwarded-client-cert': 'Hash=forged' }, ...(cert ? { cert: cert.chainPem, key: cert.keyPem.reveal() } : {}) }, (res) => {
        let b = ''; res.on('data', (c) => (b += c)); res.on('end', () => resolve({ status: res.statusCode!, body: b }));
      });
      req.on('error', reject);
    });
    const ok = await get(good);
    assert.equal(ok.status, 200);
    const xfcc = JSON.parse(ok.body).headers['x-forwarded-client-cert'];
    assert.match(xfcc, /^Hash=[0-9a-f]{64};Subject="[^"]*CN=billing[^"]*";URI=spiffe:\/\/example\.test\/ns\/prod\/sa\/billing$/);
    await assert.rejects(get(bad), 'a certificate from another CA fails the handshake');
    await assert.rejects(get(), 'no certificate fails the handshake');
    await mgw.waitForLog(/TLS handshake failed/, 3000, 0);
    const metrics = await (await mgw.admin('/metrics')).text();
    assert.match(metrics, /portcullis_tls_handshake_errors_total [1-9]/);
  } finally {
    await mgw.stop();
  }
});
