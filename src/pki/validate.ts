/**
 * The contract every CertificateIssuer result must meet, checked before a certificate is stored
 * or served: a broken issuer then produces a failed renewal (and its alert), never a bad context.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import type { CertificateRequest, IssuedCertificate } from './ca.ts';
import { PkiError } from './errors.ts';
import { parsePemBundle } from './inventory.ts';

export function validateIssued(issued: IssuedCertificate, req: CertificateRequest = {}, now: Date = new Date()): void {
  const bad = (msg: string): never => {
    throw new PkiError('PCS_ERR_RENEWAL', `issuer returned an unusable certificate: ${msg}`);
  };
  let leaf: X509Certificate;
  let chain: X509Certificate[];
  try {
    leaf = new X509Certificate(issued.certPem);
    chain = parsePemBundle(issued.chainPem);
  } catch {
    return bad('certificate does not parse');
  }
  if (chain.length === 0 || chain[0].fingerprint256 !== leaf.fingerprint256) bad('chainPem does not start with certPem');
  for (let i = 0; i + 1 < chain.length; i++) {
    if (!chain[i].checkIssued(chain[i + 1]) || !chain[i].verify(chain[i + 1].publicKey)) bad(`chain element ${i} is not issued by element ${i + 1}`);
  }
  let keyOk: boolean;
  try {
    keyOk = leaf.checkPrivateKey(createPrivateKey(issued.keyPem.reveal()));
  } catch {
    keyOk = false;
  }
  if (!keyOk) bad('private key does not match the certificate');
  if (issued.serialNumber !== leaf.serialNumber.toLowerCase()) bad('serialNumber does not match the certificate');
  if (issued.notBefore.getTime() !== leaf.validFromDate.getTime() || issued.notAfter.getTime() !== leaf.validToDate.getTime()) bad('validity does not match the certificate');
  if (leaf.validToDate <= now) bad('already expired');
  for (const d of req.dnsNames ?? []) if (leaf.checkHost(d) === undefined) bad(`not valid for ${d}`);
  for (const ip of req.ipAddresses ?? []) if (leaf.checkIP(ip) === undefined) bad(`not valid for ${ip}`);
  for (const u of req.uris ?? []) if (!(leaf.subjectAltName ?? '').split(', ').includes(`URI:${u}`)) bad(`does not carry URI ${u}`);
}
