import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import { join } from 'node:path';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import * as acme from 'acme-client';
import { AcmeIssuer, ACME_TLS_ALPN_PROTOCOL, dns01RecordName, Http01Store, runDns01Hook, TlsAlpn01Store } from './acme.ts';
import { InternalCA } from './ca.ts';
import { Secret } from './secret.ts';
import { tempDir, tempKeyStore } from './testutil.ts';

test('Http01Store answers only pending tokens under the well-known prefix', () => {
  const s = new Http01Store();
  s.set('tok_EN-1', 'tok_EN-1.thumb');
  assert.equal(s.handleHttp01('/.well-known/acme-challenge/tok_EN-1'), 'tok_EN-1.thumb');
  assert.equal(s.handleHttp01('/.well-known/acme-challenge/tok_EN-1?x=1'), 'tok_EN-1.thumb');
  assert.equal(s.handleHttp01('/.well-known/acme-challenge/other'), undefined);
  assert.equal(s.handleHttp01('/.well-known/acme-challenge/../tok_EN-1'), undefined);
  assert.equal(s.handleHttp01('/x/.well-known/acme-challenge/tok_EN-1'), undefined);
  assert.equal(s.handleHttp01('/'), undefined);
  assert.throws(() => s.set('bad/token', 'x'), { code: 'PCS_ERR_ACME_ORDER' });
  s.delete('tok_EN-1');
  assert.equal(s.handleHttp01('/.well-known/acme-challenge/tok_EN-1'), undefined);
  assert.equal(s.size, 0);
});

test('TlsAlpn01Store: RFC 8737 challenge certificate served over acme-tls/1 via SNICallback; other names fall back', async (t) => {
  const { dir, keystore } = await tempKeyStore(t);
  const ca = await InternalCA.open({ keystore, certDir: join(dir, 'ca') });
  const normal = await ca.issue({ dnsNames: ['normal.portcullis.test'] });
  const store = new TlsAlpn01Store();
  const keyAuth = 'token123.thumbprint456';
  await store.set('Alpn.Portcullis.test', keyAuth);
  const pem = store.certificateFor('alpn.portcullis.test')!;
  assert.ok(acme.crypto.isAlpnCertificateAuthorizationValid(pem, keyAuth));
  assert.ok(!acme.crypto.isAlpnCertificateAuthorizationValid(pem, 'other.auth'));
  // the id-pe-acmeIdentifier extension (1.3.6.1.5.5.7.1.31) carries SHA-256(keyAuthorization), critical
  const der = new X509Certificate(pem).raw;
  assert.ok(der.includes(Buffer.from('2b0601050507011f', 'hex')), 'acmeIdentifier OID present');
  assert.ok(der.includes(createHash('sha256').update(keyAuth).digest()), 'digest of the key authorization present');

  const server = tls.createServer({ key: normal.keyPem.reveal(), cert: normal.chainPem, SNICallback: store.sniCallback(), ALPNProtocols: [ACME_TLS_ALPN_PROTOCOL, 'http/1.1'] }, (s) => s.end());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const port = (server.address() as AddressInfo).port;
  const hello = (servername: string) =>
    new Promise<{ cert: tls.PeerCertificate; alpn: string | false | null }>((resolve, reject) => {
      const c = tls.connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false, ALPNProtocols: [ACME_TLS_ALPN_PROTOCOL] }, () => {
        resolve({ cert: c.getPeerCertificate(), alpn: c.alpnProtocol });
        c.destroy();
      });
      c.on('error', reject);
    });
  const a = await hello('alpn.portcullis.test');
  assert.equal(a.alpn, ACME_TLS_ALPN_PROTOCOL);
  assert.equal(a.cert.fingerprint256, new X509Certificate(pem).fingerprint256);
  const b = await hello('normal.portcullis.test');
  assert.equal(b.cert.fingerprint256, new X509Certificate(normal.certPem).fingerprint256);
  store.delete('alpn.portcullis.test');
  assert.equal((await hello('alpn.portcullis.test')).cert.fingerprint256, new X509Certificate(normal.certPem).fingerprint256);
});

test('TlsAlpn01Store ALPN-aware: only clients offering acme-tls/1 (TLS 1.3) get the challenge certificate', async (t) => {
  const { dir, keystore } = await tempKeyStore(t);
  const ca = await InternalCA.open({ keystore, certDir: join(dir, 'ca') });
  const normal = await ca.issue({ dnsNames: ['shared.portcullis.test'] });
  const store = new TlsAlpn01Store();
  await store.set('shared.portcullis.test', 'tok.thumb');
  const challengeFp = new X509Certificate(store.certificateFor('shared.portcullis.test')!).fingerprint256;
  const normalFp = new X509Certificate(normal.certPem).fingerprint256;
  const server = tls.createServer({
    key: normal.keyPem.reveal(),
    cert: normal.chainPem,
    SNICallback: store.sniCallback(undefined, { alpnAware: true }),
    ALPNCallback: store.alpnCallback(['h2', 'http/1.1']),
  } as tls.TlsOptions, (s) => s.end());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const port = (server.address() as AddressInfo).port;
  const hello = (alpn: string[], maxVersion: tls.SecureVersion = 'TLSv1.3') =>
    new Promise<{ fp: string; alpn: string | false | null }>((resolve, reject) => {
      const c = tls.connect({ host: '127.0.0.1', port, servername: 'shared.portcullis.test', rejectUnauthorized: false, ALPNProtocols: alpn, maxVersion }, () => {
        resolve({ fp: c.getPeerCertificate().fingerprint256, alpn: c.alpnProtocol });
        c.destroy();
      });
      c.on('error', reject);
    });
  assert.deepEqual(await hello([ACME_TLS_ALPN_PROTOCOL]), { fp: challengeFp, alpn: ACME_TLS_ALPN_PROTOCOL });
  // an ordinary client of the same name, during the pending challenge: its normal certificate
  assert.deepEqual(await hello(['h2', 'http/1.1']), { fp: normalFp, alpn: 'h2' });
  assert.deepEqual(await hello(['http/1.1'], 'TLSv1.2'), { fp: normalFp, alpn: 'http/1.1' });
  await assert.rejects(hello(['spdy/1']), 'no common protocol: refused');
  store.delete('shared.portcullis.test');
  assert.deepEqual(await hello([ACME_TLS_ALPN_PROTOCOL, 'http/1.1']), { fp: normalFp, alpn: 'http/1.1' });
});

test('DNS-01 exec hook: runs the command with the record in env vars; failures are typed', async (t) => {
  const dir = await tempDir(t);
  const out = join(dir, 'hook.json');
  const script = `require('fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify({a: process.env.PORTCULLIS_ACME_ACTION, d: process.env.PORTCULLIS_ACME_DOMAIN, n: process.env.PORTCULLIS_ACME_RECORD_NAME, v: process.env.PORTCULLIS_ACME_RECORD_VALUE, x: process.env.EXTRA, k: process.env.PORTCULLIS_KEY_ENCRYPTION_KEY ?? null, p: process.env.PATH ? 'set' : 'unset'}))`;
  // the master key in the gateway's environment must not reach the hook
  const saved = process.env.PORTCULLIS_KEY_ENCRYPTION_KEY;
  process.env.PORTCULLIS_KEY_ENCRYPTION_KEY = 'a'.repeat(64);
  t.after(() => {
    if (saved === undefined) delete process.env.PORTCULLIS_KEY_ENCRYPTION_KEY;
    else process.env.PORTCULLIS_KEY_ENCRYPTION_KEY = saved;
  });
  assert.equal(dns01RecordName('*.apps.example.com'), '_acme-challenge.apps.example.com');
  await runDns01Hook({ type: 'exec', command: process.execPath, args: ['-e', script], env: { EXTRA: 'yes' } }, { action: 'present', domain: 'apps.example.com', recordName: '_acme-challenge.apps.example.com', value: 'abc' });
  assert.deepEqual(JSON.parse(await readFile(out, 'utf8')), { a: 'present', d: 'apps.example.com', n: '_acme-challenge.apps.example.com', v: 'abc', x: 'yes', k: null, p: 'set' });
  await assert.rejects(
    runDns01Hook({ type: 'exec', command: process.execPath, args: ['-e', 'console.error("no api token"); process.exit(3)'] }, { action: 'present', domain: 'a', recordName: '_acme-challenge.a', value: 'v' }),
    (e: { code: string; message: string }) => e.code === 'PCS_ERR_ACME_DNS_HOOK' && /no api token/.test(e.message),
  );
  await assert.rejects(
    runDns01Hook({ type: 'exec', command: process.execPath, args: ['-e', 'setTimeout(() => {}, 10000)'], timeoutMs: 200 }, { action: 'cleanup', domain: 'a', recordName: '_acme-challenge.a', value: 'v' }),
    (e: { code: string; message: string }) => e.code === 'PCS_ERR_ACME_DNS_HOOK' && /timed out/.test(e.message),
  );
  await assert.rejects(runDns01Hook({ type: 'exec', command: join(dir, 'missing') }, { action: 'present', domain: 'a', recordName: '_acme-challenge.a', value: 'v' }), { code: 'PCS_ERR_ACME_DNS_HOOK' });
});

test('DNS-01 webhook: POSTs JSON with the record and secret headers; non-2xx fails', async (t) => {
  const got: Array<{ body: unknown; auth?: string }> = [];
  let status = 204;
  const server = http.createServer(async (req, res) => {
    let body = '';
    for await (const c of req) body += c;
    got.push({ body: JSON.parse(body), auth: req.headers.authorization });
    res.writeHead(status).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/dns`;
  const hook = { type: 'webhook' as const, url, headers: { authorization: new Secret('Bearer s3cret') } };
  const rec = { action: 'present' as const, domain: 'x.example', recordName: '_acme-challenge.x.example', value: 'val' };
  await runDns01Hook(hook, rec);
  assert.deepEqual(got[0], { body: rec, auth: 'Bearer s3cret' });
  status = 500;
  await assert.rejects(runDns01Hook(hook, rec), (e: { code: string; message: string }) => e.code === 'PCS_ERR_ACME_DNS_HOOK' && /HTTP 500/.test(e.message) && !e.message.includes('s3cret'));
});

test('AcmeIssuer.create: account key generated once into the key store and reused; bad config refused', async (t) => {
  const { keystore } = await tempKeyStore(t);
  const http01 = new Http01Store();
  const a = await AcmeIssuer.create({ directoryUrl: 'https://acme.example/dir', keystore, http01 });
  assert.equal(a.accountKeyName, 'acme-account-acme.example_dir');
  const key1 = (await keystore.getString(a.accountKeyName)).reveal();
  assert.match(key1, /BEGIN PRIVATE KEY/);
  await AcmeIssuer.create({ directoryUrl: 'https://acme.example/dir', keystore, http01 });
  assert.equal((await keystore.getString(a.accountKeyName)).reveal(), key1, 'reused, not regenerated');
  await assert.rejects(AcmeIssuer.create({ directoryUrl: 'http://acme.example/dir', keystore, http01 }), { code: 'PCS_ERR_ACME_CONFIG' });
  await assert.rejects(AcmeIssuer.create({ directoryUrl: 'not a url', keystore, http01 }), { code: 'PCS_ERR_ACME_CONFIG' });
  await assert.rejects(AcmeIssuer.create({ directoryUrl: 'https://acme.example/dir', keystore }), { code: 'PCS_ERR_ACME_CONFIG' });
  await assert.rejects(a.issue({ dnsNames: [] }), { code: 'PCS_ERR_CA_BAD_REQUEST' });
  await assert.rejects(a.issue({ dnsNames: ['x.example'], ipAddresses: ['1.2.3.4'] }), { code: 'PCS_ERR_CA_BAD_REQUEST' });
});
