import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFile, readdir, stat, rm } from 'node:fs/promises';
import { join } from 'node:path';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import * as acme from 'acme-client';
import { InternalCA, type IssuedCertificate } from './ca.ts';
import { KeyStore } from './keystore.ts';
import { Secret } from './secret.ts';
import { tempKeyStore } from './testutil.ts';
import { randomBytes } from 'node:crypto';

interface Served {
  port: number;
  peers: Array<{ authorized: boolean; uri?: string; subject?: string }>;
  close: () => Promise<void>;
}

async function serve(cert: IssuedCertificate, extra: tls.TlsOptions = {}): Promise<Served> {
  const peers: Served['peers'] = [];
  const server = tls.createServer({ key: cert.keyPem.reveal(), cert: cert.chainPem, ...extra }, (sock) => {
    const pc = sock.getPeerCertificate();
    peers.push({ authorized: sock.authorized, uri: pc && 'subjectaltname' in pc ? pc.subjectaltname : undefined, subject: String(pc?.subject?.CN) });
    sock.end('hello');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    peers,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

function connect(port: number, opts: tls.ConnectionOptions): Promise<{ data: string; peer: tls.DetailedPeerCertificate; protocol: string | null }> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ...opts }, () => {
      let data = '';
      s.setEncoding('utf8');
      s.on('data', (d) => (data += d));
      s.on('end', () => resolve({ data, peer: s.getPeerCertificate(true), protocol: s.getProtocol() }));
    });
    s.on('error', reject);
  });
}

/** 'ok' when the application answered; 'refused' when the handshake failed or the server closed without answering (TLS 1.3 rejects a client certificate after the client's handshake completed). */
async function attempt(port: number, opts: tls.ConnectionOptions): Promise<'ok' | 'refused'> {
  try {
    return (await connect(port, opts)).data === 'hello' ? 'ok' : 'refused';
  } catch {
    return 'refused';
  }
}

test('CA is created once, persisted (certs plain, keys encrypted) and reloaded', async (t) => {
  const { dir, keystore } = await tempKeyStore(t);
  const certDir = join(dir, 'ca');
  const ca = await InternalCA.open({ keystore, certDir });
  const root = new X509Certificate(ca.rootCertPem);
  const int = new X509Certificate(ca.intermediateCertPem);
  assert.equal(root.ca, true);
  assert.equal(int.ca, true);
  assert.ok(int.checkIssued(root) && int.verify(root.publicKey));
  assert.equal(root.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  assert.deepEqual((await readdir(certDir)).sort(), ['portcullis-ca-intermediate.pem', 'portcullis-ca-root.pem']);
  assert.deepEqual(await keystore.list(), ['portcullis-ca-intermediate', 'portcullis-ca-root']);
  for (const f of await readdir(keystore.dir)) {
    assert.ok(!(await readFile(join(keystore.dir, f), 'utf8')).includes('PRIVATE KEY'));
  }
  const again = await InternalCA.open({ keystore, certDir });
  assert.equal(again.rootCertPem, ca.rootCertPem);
  assert.equal(again.intermediateCertPem, ca.intermediateCertPem);
  // a leaf from the reloaded CA chains to the original root
  const leaf = await again.issue({ dnsNames: ['a.example'] });
  assert.ok(new X509Certificate(leaf.certPem).verify(int.publicKey));

  // wrong master key: fail closed
  const other = await KeyStore.open({ dir: keystore.dir, encryptionKey: new Secret(randomBytes(32)) });
  await assert.rejects(InternalCA.open({ keystore: other, certDir }), { code: 'PCS_ERR_KEYSTORE_WRONG_KEY' });
  // half a CA on disk: refuse rather than silently creating a new root
  await rm(join(certDir, 'portcullis-ca-root.pem'));
  await assert.rejects(InternalCA.open({ keystore, certDir }), { code: 'PCS_ERR_CA_STATE' });
});

test('server certificate verifies with node:tls against the root, with hostname verification', async (t) => {
  const { dir, keystore } = await tempKeyStore(t);
  const ca = await InternalCA.open({ keystore, certDir: join(dir, 'ca') });
  const leaf = await ca.issue({ dnsNames: ['api.portcullis.test'], ipAddresses: ['127.0.0.1'] });
  const x = new X509Certificate(leaf.certPem);
  const life = x.validToDate.getTime() - x.validFromDate.getTime();
  assert.ok(Math.abs(life - (24 * 3600_000 + 5 * 60_000)) < 2000, `24h from now, notBefore backdated 5 min, got ${life}`);
  assert.equal(x.ca, false);
  assert.match(x.subjectAltName ?? '', /DNS:api\.portcullis\.test/);
  assert.match(x.subjectAltName ?? '', /IP Address:127\.0\.0\.1/);
  assert.equal(x.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  assert.ok(x.checkPrivateKey(createPrivateKey(leaf.keyPem.reveal())));
  assert.equal(String(leaf.keyPem), '[redacted]');

  const srv = await serve(leaf);
  t.after(srv.close);
  const ok = await connect(srv.port, { ca: ca.rootCertPem, servername: 'api.portcullis.test' });
  assert.equal(ok.data, 'hello');
  assert.equal(ok.peer.issuerCertificate.subject.CN, 'Portcullis Internal Intermediate CA');
  // IP SAN, hostname verification by IP
  assert.equal((await connect(srv.port, { ca: ca.rootCertPem })).data, 'hello');
  await assert.rejects(connect(srv.port, { ca: ca.rootCertPem, servername: 'evil.example' }), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
  // not trusted without our root
  await assert.rejects(connect(srv.port, { servername: 'api.portcullis.test' }), { code: 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY' });
  // a root from another CA does not verify it
  const otherKs = await tempKeyStore(t);
  const otherCa = await InternalCA.open({ keystore: otherKs.keystore, certDir: join(otherKs.dir, 'ca') });
  await assert.rejects(connect(srv.port, { ca: otherCa.rootCertPem, servername: 'api.portcullis.test' }), (e: NodeJS.ErrnoException) => /UNABLE_TO_GET_ISSUER_CERT|CERT_SIGNATURE_FAILURE/.test(String(e.code)));
});

test('mTLS: client cert with SPIFFE ID accepted; other CA and server-only EKU refused', async (t) => {
  const { dir, keystore } = await tempKeyStore(t);
  const ca = await InternalCA.open({ keystore, certDir: join(dir, 'ca') });
  const serverCert = await ca.issue({ dnsNames: ['localhost'] });
  const srv = await serve(serverCert, { requestCert: true, rejectUnauthorized: true, ca: ca.rootCertPem });
  t.after(srv.close);
  const spiffe = 'spiffe://portcullis.test/ns/prod/sa/billing';
  const client = await ca.issue({ uris: [spiffe], usages: ['client'], lifetimeMs: 3600_000 });
  assert.match(new X509Certificate(client.certPem).subjectAltName ?? '', /URI:spiffe:\/\/portcullis\.test\/ns\/prod\/sa\/billing/);
  const res = await connect(srv.port, { ca: ca.rootCertPem, servername: 'localhost', key: client.keyPem.reveal(), cert: client.chainPem });
  assert.equal(res.data, 'hello');
  assert.equal(srv.peers.at(-1)?.authorized, true);
  assert.match(srv.peers.at(-1)?.uri ?? '', /URI:spiffe:\/\/portcullis\.test\/ns\/prod\/sa\/billing/);

  // client certificate from another CA: the handshake fails
  const otherKs = await tempKeyStore(t);
  const otherCa = await InternalCA.open({ keystore: otherKs.keystore, certDir: join(otherKs.dir, 'ca') });
  const foreign = await otherCa.issue({ uris: [spiffe], usages: ['client'] });
  const n = srv.peers.length;
  assert.equal(await attempt(srv.port, { ca: ca.rootCertPem, servername: 'localhost', key: foreign.keyPem.reveal(), cert: foreign.chainPem }), 'refused');
  // a certificate without clientAuth EKU is not a client certificate
  const serverOnly = await ca.issue({ dnsNames: ['x.portcullis.test'], usages: ['server'] });
  assert.equal(await attempt(srv.port, { ca: ca.rootCertPem, servername: 'localhost', key: serverOnly.keyPem.reveal(), cert: serverOnly.chainPem }), 'refused');
  // no certificate at all
  assert.equal(await attempt(srv.port, { ca: ca.rootCertPem, servername: 'localhost' }), 'refused');
  // and the same over TLS 1.2, where the handshake itself fails
  assert.equal(await attempt(srv.port, { ca: ca.rootCertPem, servername: 'localhost', key: foreign.keyPem.reveal(), cert: foreign.chainPem, maxVersion: 'TLSv1.2' }), 'refused');
  // the legitimate client still works afterwards
  assert.equal(await attempt(srv.port, { ca: ca.rootCertPem, servername: 'localhost', key: client.keyPem.reveal(), cert: client.chainPem }), 'ok');
  assert.equal(srv.peers.length, n + 1, 'no refused client reached the application');
  assert.ok(srv.peers.every((p) => p.authorized));
});

test('key types: ECDSA P-384 CA, RSA leaves 2048/3072, all serve over TLS', async (t) => {
  const { dir, keystore } = await tempKeyStore(t);
  const ca = await InternalCA.open({ keystore, certDir: join(dir, 'ca'), key: { type: 'ecdsa', curve: 'P-384' } });
  assert.equal(new X509Certificate(ca.rootCertPem).signatureAlgorithm, 'ecdsa-with-SHA384');
  for (const [key, check] of [
    [{ type: 'ecdsa', curve: 'P-384' }, (x: X509Certificate) => x.publicKey.asymmetricKeyDetails?.namedCurve === 'secp384r1'],
    [{ type: 'rsa', bits: 2048 }, (x: X509Certificate) => x.publicKey.asymmetricKeyDetails?.modulusLength === 2048],
    [{ type: 'rsa', bits: 3072 }, (x: X509Certificate) => x.publicKey.asymmetricKeyDetails?.modulusLength === 3072],
  ] as const) {
    const leaf = await ca.issue({ dnsNames: ['k.portcullis.test'], key });
    const x = new X509Certificate(leaf.certPem);
    assert.ok(check(x), JSON.stringify(key));
    const srv = await serve(leaf);
    try {
      assert.equal((await connect(srv.port, { ca: ca.rootCertPem, servername: 'k.portcullis.test' })).data, 'hello');
    } finally {
      await srv.close();
    }
  }
  // an RSA CA
  const rs = await tempKeyStore(t);
  const rsaCa = await InternalCA.open({ keystore: rs.keystore, certDir: join(rs.dir, 'ca'), key: { type: 'rsa', bits: 2048 } });
  assert.equal(new X509Certificate(rsaCa.rootCertPem).signatureAlgorithm, 'sha256WithRSAEncryption');
  const leaf = await rsaCa.issue({ dnsNames: ['r.portcullis.test'] });
  const srv = await serve(leaf);
  t.after(srv.close);
  assert.equal((await connect(srv.port, { ca: rsaCa.rootCertPem, servername: 'r.portcullis.test' })).data, 'hello');
});

test('bad requests get clear errors', async (t) => {
  const { dir, keystore } = await tempKeyStore(t);
  const ca = await InternalCA.open({ keystore, certDir: join(dir, 'ca') });
  const bad = async (req: Parameters<InternalCA['issue']>[0], re: RegExp) =>
    assert.rejects(ca.issue(req), (e: { code: string; message: string }) => e.code === 'PCS_ERR_CA_BAD_REQUEST' && re.test(e.message));
  await bad({}, /at least one/);
  await bad({ dnsNames: ['bad_name.example'] }, /invalid DNS name/);
  await bad({ dnsNames: ['a.*.example'] }, /invalid DNS name/);
  await bad({ ipAddresses: ['300.1.1.1'] }, /invalid IP/);
  await bad({ uris: ['spiffe://Bad.Domain/x'] }, /SPIFFE/);
  await bad({ uris: ['spiffe://td/ns//x'] }, /SPIFFE/);
  await bad({ uris: ['spiffe://td/x?y=1'] }, /SPIFFE/);
  await bad({ dnsNames: ['a.example'], lifetimeMs: 400 * 86_400_000 }, /lifetime/);
  await bad({ dnsNames: ['a.example'], key: { type: 'rsa', bits: 1024 as 2048 } }, /RSA size/);
  await bad({ dnsNames: ['a.example'], usages: [] }, /usages/);
  // wildcard is fine
  const w = await ca.issue({ dnsNames: ['*.apps.portcullis.test'] });
  assert.ok(new X509Certificate(w.certPem).checkHost('x.apps.portcullis.test'));
});

test('issueForCsr: signs a CSR made elsewhere (acme-client), names taken from the CSR', async (t) => {
  const { dir, keystore } = await tempKeyStore(t);
  const ca = await InternalCA.open({ keystore, certDir: join(dir, 'ca') });
  const [key, csr] = await acme.crypto.createCsr({ commonName: 'csr.portcullis.test', altNames: ['csr.portcullis.test', 'alt.portcullis.test'] }, await acme.crypto.createPrivateEcdsaKey());
  const issued = await ca.issueForCsr(csr.toString());
  const x = new X509Certificate(issued.certPem);
  assert.ok(x.checkPrivateKey(createPrivateKey(key)));
  assert.ok(x.checkHost('alt.portcullis.test'));
  await assert.rejects(ca.issueForCsr('not a csr'), { code: 'PCS_ERR_CA_BAD_REQUEST' });
  // certificate files are 0644, keys in the store 0600
  assert.equal((await stat(join(dir, 'ca', 'portcullis-ca-root.pem'))).mode & 0o777, 0o644);
});

test('intermediate rotation: explicit, automatic near expiry, and repaired after a crash mid-rotation', async (t) => {
  const { dir, keystore } = await tempKeyStore(t);
  const certDir = join(dir, 'ca');
  const ca = await InternalCA.open({ keystore, certDir });
  const oldInt = ca.intermediateCertPem;
  const oldLeaf = await ca.issue({ dnsNames: ['old.portcullis.test'] });
  await ca.rotateIntermediate();
  assert.notEqual(ca.intermediateCertPem, oldInt);
  const root = new X509Certificate(ca.rootCertPem);
  assert.ok(new X509Certificate(ca.intermediateCertPem).verify(root.publicKey));
  const newLeaf = await ca.issue({ dnsNames: ['new.portcullis.test'] });
  for (const [leaf, name] of [[newLeaf, 'new.portcullis.test'], [oldLeaf, 'old.portcullis.test']] as const) {
    const srv = await serve(leaf);
    try {
      assert.equal(await attempt(srv.port, { ca: ca.rootCertPem, servername: name }), 'ok', name);
    } finally {
      await srv.close();
    }
  }
  const reopened = await InternalCA.open({ keystore, certDir });
  assert.equal(reopened.intermediateCertPem, ca.intermediateCertPem);
  assert.equal(await keystore.has('portcullis-ca-intermediate.next'), false);

  // crash between the certificate write and the key write: the old key is still in the main slot
  const oldKey = await keystore.getString('portcullis-ca-intermediate');
  await reopened.rotateIntermediate();
  const newKey = await keystore.getString('portcullis-ca-intermediate');
  await keystore.put('portcullis-ca-intermediate.next', newKey);
  await keystore.put('portcullis-ca-intermediate', oldKey);
  const repaired = await InternalCA.open({ keystore, certDir });
  assert.equal(repaired.intermediateCertPem, reopened.intermediateCertPem);
  assert.equal((await keystore.getString('portcullis-ca-intermediate')).reveal(), newKey.reveal());
  assert.equal(await keystore.has('portcullis-ca-intermediate.next'), false);
  assert.ok(new X509Certificate((await repaired.issue({ dnsNames: ['r.portcullis.test'] })).certPem).verify(new X509Certificate(repaired.intermediateCertPem).publicKey));

  // open() 300 days later: under 90 days left on a 365-day intermediate -> rotated automatically
  const later = await InternalCA.open({ keystore, certDir, now: () => new Date(Date.now() + 300 * 86_400_000) });
  assert.notEqual(later.intermediateCertPem, repaired.intermediateCertPem);
  assert.ok(new X509Certificate(later.intermediateCertPem).validToDate.getTime() > Date.now() + 600 * 86_400_000);
});
