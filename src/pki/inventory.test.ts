import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, type webcrypto } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import tls from 'node:tls';
import { x509 } from './x509.ts';
import { InternalCA } from './ca.ts';
import { formatTable, inspectPem, inventoryPath, parseTarget, scanMany, scanRemote, toJson, type CertEntry } from './inventory.ts';
import { tempDir, tempKeyStore } from './testutil.ts';

const DAY = 86_400_000;

// Fixtures are generated here, with WebCrypto (Node can sign with SHA-1 and make RSA-1024 keys).
type Alg = { name: string; hash: string; modulusLength?: number; publicExponent?: Uint8Array; namedCurve?: string };
const rsa = (bits: number, hash = 'SHA-256'): Alg => ({ name: 'RSASSA-PKCS1-v1_5', hash, modulusLength: bits, publicExponent: new Uint8Array([1, 0, 1]) });
const ec = (curve = 'P-256'): Alg => ({ name: 'ECDSA', namedCurve: curve, hash: curve === 'P-384' ? 'SHA-384' : 'SHA-256' });
const gen = async (a: Alg) => (await crypto.subtle.generateKey(a as webcrypto.RsaHashedKeyGenParams, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;

interface Made {
  pem: string;
  cert: x509.X509Certificate;
  keys: webcrypto.CryptoKeyPair;
  alg: Alg;
}

async function makeCa(cn: string, alg: Alg = ec()): Promise<Made> {
  const keys = await gen(alg);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: `CN=${cn}`,
    keys,
    signingAlgorithm: alg,
    notBefore: new Date(Date.now() - DAY),
    notAfter: new Date(Date.now() + 3650 * DAY),
    extensions: [new x509.BasicConstraintsExtension(true, 1, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true)],
  });
  return { pem: cert.toString('pem') + '\n', cert, keys, alg };
}

async function makeLeaf(opts: { cn: string; issuer?: Made; alg?: Alg; signHash?: string; notBefore?: Date; notAfter?: Date; dns?: string[]; ca?: boolean }): Promise<Made> {
  const alg = opts.alg ?? ec();
  const keys = await gen(alg);
  const notBefore = opts.notBefore ?? new Date(Date.now() - DAY);
  const notAfter = opts.notAfter ?? new Date(Date.now() + 90 * DAY);
  const extensions = [
    new x509.BasicConstraintsExtension(opts.ca ?? false, opts.ca ? 0 : undefined, true),
    new x509.SubjectAlternativeNameExtension((opts.dns ?? [opts.cn]).map((value) => ({ type: 'dns' as const, value }))),
  ];
  let cert: x509.X509Certificate;
  if (!opts.issuer) {
    cert = await x509.X509CertificateGenerator.createSelfSigned({ name: `CN=${opts.cn}`, keys, signingAlgorithm: alg, notBefore, notAfter, extensions });
  } else {
    let signingKey = opts.issuer.keys.privateKey;
    let signingAlgorithm: Alg = opts.issuer.alg;
    if (opts.signHash) {
      // WebCrypto RSA keys carry their hash: re-import the issuer key bound to the requested hash
      const pkcs8 = await crypto.subtle.exportKey('pkcs8', opts.issuer.keys.privateKey);
      signingAlgorithm = { ...opts.issuer.alg, hash: opts.signHash };
      signingKey = await crypto.subtle.importKey('pkcs8', pkcs8, signingAlgorithm as webcrypto.RsaHashedImportParams, false, ['sign']);
    }
    cert = await x509.X509CertificateGenerator.create({
      subject: `CN=${opts.cn}`,
      issuer: opts.issuer.cert.subject,
      publicKey: keys.publicKey,
      signingKey,
      signingAlgorithm,
      notBefore,
      notAfter,
      extensions,
    });
  }
  return { pem: cert.toString('pem') + '\n', cert, keys, alg };
}

const codes = (e: CertEntry) => e.findings.map((f) => f.code).sort();

test('findings: SHA-1, RSA-1024, expired, self-signed leaf, incomplete chain, expiring soon, name mismatch', async () => {
  const root = await makeCa('Fixture Root', rsa(2048));
  const inter = await makeLeaf({ cn: 'Fixture Intermediate', issuer: root, alg: rsa(2048), ca: true });
  const good = await makeLeaf({ cn: 'good.example', issuer: inter });
  const sha1 = await makeLeaf({ cn: 'sha1.example', issuer: root, alg: rsa(2048), signHash: 'SHA-1' });
  const weak = await makeLeaf({ cn: 'weak.example', issuer: root, alg: rsa(1024) });
  const expired = await makeLeaf({ cn: 'expired.example', issuer: root, notBefore: new Date(Date.now() - 30 * DAY), notAfter: new Date(Date.now() - 2 * DAY) });
  const soon = await makeLeaf({ cn: 'soon.example', issuer: root, notBefore: new Date(Date.now() - 80 * DAY), notAfter: new Date(Date.now() + 10 * DAY + 3600_000) });
  // short-lived: 24 h, 20 h left is healthy; 6 h left is past its renewal point
  const short = await makeLeaf({ cn: 'short.example', issuer: root, notBefore: new Date(Date.now() - 4 * 3600_000), notAfter: new Date(Date.now() + 20 * 3600_000) });
  const selfSigned = await makeLeaf({ cn: 'self.example' });
  const trust = { trustStore: root.pem, useSystemTrust: false };

  // sanity: the fixtures are what they claim, as seen by Node
  assert.equal(new X509Certificate(sha1.pem).signatureAlgorithm, 'sha1WithRSAEncryption');
  assert.equal(new X509Certificate(weak.pem).publicKey.asymmetricKeyDetails?.modulusLength, 1024);

  const [g, i] = inspectPem(good.pem + inter.pem, { ...trust, expectedHostname: 'good.example' });
  assert.deepEqual(codes(g), []);
  assert.equal(g.role, 'leaf');
  assert.equal(i.role, 'intermediate');
  assert.equal(g.keyType, 'EC');
  assert.equal(g.curve, 'P-256');
  assert.equal(g.keySize, 256);
  assert.equal(g.signatureAlgorithm, 'sha256WithRSAEncryption');
  assert.deepEqual(g.sans, ['DNS:good.example']);
  assert.equal(g.commonName, 'good.example');
  assert.equal(g.issuer, 'CN=Fixture Intermediate');
  assert.equal(g.serialNumber, new X509Certificate(good.pem).serialNumber);
  assert.match(g.fingerprintSha256, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  assert.ok(g.daysLeft === 89 || g.daysLeft === 90, String(g.daysLeft));

  assert.deepEqual(codes(inspectPem(sha1.pem, trust)[0]), ['SHA1_SIGNATURE']);
  const w = inspectPem(weak.pem, trust)[0];
  assert.deepEqual(codes(w), ['WEAK_KEY']);
  assert.equal(w.keyType, 'RSA');
  assert.equal(w.keySize, 1024);
  const ex = inspectPem(expired.pem, trust)[0];
  assert.deepEqual(codes(ex), ['EXPIRED']);
  assert.equal(ex.daysLeft, -2);
  assert.equal(ex.findings[0].severity, 'critical');
  assert.deepEqual(codes(inspectPem(soon.pem, trust)[0]), ['EXPIRES_SOON']);
  assert.deepEqual(codes(inspectPem(soon.pem, { ...trust, expiresSoonDays: 5 })[0]), [], 'threshold is configurable');
  assert.deepEqual(codes(inspectPem(short.pem, trust)[0]), [], 'a fresh 24 h certificate is not "expiring soon"');
  const late = inspectPem(short.pem, { ...trust, now: new Date(Date.now() + 14 * 3600_000) })[0];
  assert.deepEqual(codes(late), ['EXPIRES_SOON']);
  assert.equal(late.findings[0].severity, 'high');
  assert.deepEqual(codes(inspectPem(selfSigned.pem, trust)[0]), ['SELF_SIGNED_LEAF']);
  // leaf without its intermediate: incomplete even though the root is trusted
  const inc = inspectPem(good.pem, trust)[0];
  assert.deepEqual(codes(inc), ['CHAIN_INCOMPLETE']);
  assert.match(inc.findings[0].message, /Fixture Intermediate/);
  // the intermediate given as trust material completes it
  assert.deepEqual(codes(inspectPem(good.pem, { trustStore: [root.pem, inter.pem], useSystemTrust: false })[0]), []);
  // a chain whose top is not trusted and not given is incomplete too
  assert.deepEqual(codes(inspectPem(good.pem + inter.pem, { useSystemTrust: false })[0]), ['CHAIN_INCOMPLETE']);
  assert.deepEqual(codes(inspectPem(good.pem + inter.pem, { ...trust, expectedHostname: 'other.example' })[0]), ['NAME_MISMATCH']);
  // a root in the bundle: not flagged, even if its self-signature is SHA-1
  const sha1Root = await makeCa('Old Root', rsa(2048, 'SHA-1'));
  const r = inspectPem(sha1Root.pem, { useSystemTrust: false })[0];
  assert.equal(r.role, 'root');
  assert.deepEqual(codes(r), []);
  // the "now" is injectable: in 100 days the good cert is expired
  assert.deepEqual(codes(inspectPem(good.pem + inter.pem, { ...trust, now: new Date(Date.now() + 100 * DAY) })[0]), ['EXPIRED']);
});

test('inventoryPath: a directory of files (PEM, DER, bundles), unreadable files reported, not fatal', async (t) => {
  const dir = await tempDir(t);
  const root = await makeCa('Dir Root');
  const leaf = await makeLeaf({ cn: 'dir.example', issuer: root });
  const weak = await makeLeaf({ cn: 'weak.example', issuer: root, alg: rsa(1024) });
  await mkdir(join(dir, 'sub'));
  await writeFile(join(dir, 'root.pem'), root.pem);
  await writeFile(join(dir, 'sub', 'leaf-with-key.pem'), '-----BEGIN PRIVATE KEY-----\nnot-parsed\n-----END PRIVATE KEY-----\n' + leaf.pem);
  await writeFile(join(dir, 'weak.der'), Buffer.from(weak.cert.rawData));
  await writeFile(join(dir, 'notes.txt'), 'nothing here');
  await writeFile(join(dir, 'broken.pem'), '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
  const res = await inventoryPath(dir, { trustStore: root.pem, useSystemTrust: false });
  assert.deepEqual(res.entries.map((e) => [e.source.slice(dir.length + 1), e.commonName, codes(e).join()]), [
    ['root.pem', 'Dir Root', ''],
    ['sub/leaf-with-key.pem', 'dir.example', ''],
    ['weak.der', 'weak.example', 'WEAK_KEY'],
  ]);
  assert.equal(res.errors.length, 1);
  assert.match(res.errors[0].source, /broken\.pem$/);
  assert.equal(res.errors[0].code, 'PCS_ERR_CERT_PARSE');
  // one file
  const one = await inventoryPath(join(dir, 'weak.der'), { useSystemTrust: false });
  assert.equal(one.entries.length, 1);
  await assert.rejects(inventoryPath(join(dir, 'missing')), { code: 'PCS_ERR_CERT_PARSE' });

  // table and JSON
  const table = formatTable(res.entries);
  const lines = table.trimEnd().split('\n');
  assert.equal(lines.length, 4);
  assert.match(lines[0], /^SUBJECT\s+SANS\s+ISSUER\s+SERIAL\s+NOT AFTER\s+DAYS\s+KEY\s+SIGNATURE\s+FINDINGS\s+SOURCE$/);
  assert.match(lines[3], /weak\.example\s+DNS:weak\.example\s+Dir Root .* RSA 1024 .*WEAK_KEY/);
  const json = JSON.parse(toJson(res.entries, { errors: res.errors }));
  assert.equal(json.certificates.length, 3);
  assert.equal(json.certificates[2].keySize, 1024);
  assert.equal(json.errors.length, 1);
});

test('scanRemote: real TLS endpoint, chain collected, findings; timeouts and refusals are typed errors', async (t) => {
  const { dir, keystore } = await tempKeyStore(t);
  const ca = await InternalCA.open({ keystore, certDir: join(dir, 'ca') });
  const issued = await ca.issue({ dnsNames: ['scan.portcullis.test'], ipAddresses: ['127.0.0.1'], lifetimeMs: 3 * DAY });
  const server = tls.createServer({ key: issued.keyPem.reveal(), cert: issued.chainPem }, (s) => s.end());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const port = (server.address() as AddressInfo).port;

  const r = await scanRemote(`127.0.0.1:${port}`, { servername: 'scan.portcullis.test', trustStore: ca.rootCertPem });
  assert.equal(r.authorized, true);
  assert.equal(r.protocol, 'TLSv1.3');
  // verified: Node reports the verified chain, up to our root
  assert.deepEqual(r.entries.map((e) => e.role), ['leaf', 'intermediate', 'root']);
  assert.equal(r.entries[0].commonName, 'scan.portcullis.test');
  assert.deepEqual(codes(r.entries[0]), [], 'a fresh 3-day certificate is healthy');
  const later = await scanRemote(`127.0.0.1:${port}`, { servername: 'scan.portcullis.test', trustStore: ca.rootCertPem, now: new Date(Date.now() + 2.5 * DAY) });
  assert.deepEqual(codes(later.entries[0]), ['EXPIRES_SOON']);
  assert.equal(r.entries[0].fingerprintSha256, new X509Certificate(issued.certPem).fingerprint256);

  // without our root: not authorized, and the chain is incomplete; wrong name: mismatch
  const u = await scanRemote(`127.0.0.1:${port}`, { servername: 'wrong.example' });
  assert.equal(u.authorized, false);
  assert.deepEqual(u.entries.map((e) => e.role), ['leaf', 'intermediate'], 'unverified: the chain as sent');
  assert.deepEqual(codes(u.entries[0]), ['CHAIN_INCOMPLETE', 'NAME_MISMATCH']);
  // by IP, no SNI: the IP SAN matches
  assert.deepEqual(codes((await scanRemote(`127.0.0.1:${port}`, { trustStore: ca.rootCertPem })).entries[0]), []);

  // a TCP server that never speaks TLS: timeout
  const silent = createTcpServer((s) => s.resume()); // reads (and drops) the ClientHello, never answers
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => silent.close(() => r())));
  const sp = (silent.address() as AddressInfo).port;
  const t0 = Date.now();
  await assert.rejects(scanRemote(`127.0.0.1:${sp}`, { timeoutMs: 300 }), { code: 'PCS_ERR_CERT_SCAN_TIMEOUT' });
  assert.ok(Date.now() - t0 < 3000);
  // nothing listening
  const closed = createTcpServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const cp = (closed.address() as AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  await assert.rejects(scanRemote(`127.0.0.1:${cp}`), { code: 'PCS_ERR_CERT_SCAN' });
  const many = await scanMany([`127.0.0.1:${port}`, `127.0.0.1:${cp}`], { trustStore: ca.rootCertPem });
  assert.ok('entries' in many[0]);
  assert.ok('error' in many[1] && many[1].error.code === 'PCS_ERR_CERT_SCAN');

  assert.deepEqual(parseTarget('[::1]:8443'), { host: '::1', port: 8443 });
  assert.deepEqual(parseTarget('example.com'), { host: 'example.com', port: 443 });
  assert.throws(() => parseTarget('example.com:99999'), { code: 'PCS_ERR_CERT_SCAN' });
});
