import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InternalCA, type CertificateIssuer, type CertificateRequest } from './ca.ts';
import { StaticFileIssuer } from './static.ts';
import { validateIssued } from './validate.ts';
import { tempKeyStore } from './testutil.ts';
import { Secret } from './secret.ts';

const req: CertificateRequest = { dnsNames: ['contract.portcullis.test'], ipAddresses: ['127.0.0.1'] };

// one contract, every issuer implementation (ACME: test/pki/acme.test.ts applies it to Pebble's results)
test('issuer contract: InternalCA and StaticFileIssuer results pass validateIssued', async (t) => {
  const { dir, keystore } = await tempKeyStore(t);
  const ca = await InternalCA.open({ keystore, certDir: join(dir, 'ca') });
  const seed = await ca.issue(req);
  await writeFile(join(dir, 'c.pem'), seed.chainPem);
  await writeFile(join(dir, 'k.pem'), seed.keyPem.reveal());
  const issuers: Array<[string, CertificateIssuer]> = [
    ['InternalCA', ca],
    ['InternalCA rsa', { issue: (r) => ca.issue({ ...r, key: { type: 'rsa', bits: 2048 } }) }],
    ['StaticFileIssuer', new StaticFileIssuer({ certFile: join(dir, 'c.pem'), keyFile: join(dir, 'k.pem') })],
  ];
  for (const [name, issuer] of issuers) {
    const issued = await issuer.issue(req);
    assert.doesNotThrow(() => validateIssued(issued, req), name);
  }
});

test('validateIssued refuses what must never be served', async (t) => {
  const { dir, keystore } = await tempKeyStore(t);
  const ca = await InternalCA.open({ keystore, certDir: join(dir, 'ca') });
  const a = await ca.issue(req);
  const b = await ca.issue({ dnsNames: ['other.portcullis.test'] });
  const refuse = (x: Parameters<typeof validateIssued>[0], re: RegExp, r = req) =>
    assert.throws(() => validateIssued(x, r), (e: { code: string; message: string }) => e.code === 'PCS_ERR_RENEWAL' && re.test(e.message));
  refuse({ ...a, keyPem: b.keyPem }, /private key/);
  refuse({ ...a, keyPem: new Secret('garbage') }, /private key/);
  refuse({ ...a, chainPem: b.chainPem }, /does not start/);
  refuse({ ...a, chainPem: a.certPem + ca.rootCertPem }, /not issued by/);
  refuse({ ...a, serialNumber: 'ff' }, /serialNumber/);
  refuse({ ...a, notAfter: new Date(0) }, /validity/);
  refuse(b, /not valid for contract/);
  refuse(a, /URI/, { ...req, uris: ['spiffe://td/x'] });
  assert.throws(() => validateIssued(a, req, new Date(Date.now() + 2 * 86_400_000)), /already expired/);
});
