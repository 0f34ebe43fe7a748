/**
 * Static-file issuer: certificates someone else provides as files (cert/chain PEM + key PEM).
 * `issue()` re-reads the files, so an externally replaced certificate is picked up by the renewal
 * scheduler. When the files still hold a certificate past its renewal point, `issue()` fails with
 * PCS_ERR_RENEWAL, which the scheduler reports as a `renewal_failed` alert: nobody replaced it.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { CertificateIssuer, CertificateRequest, IssuedCertificate } from './ca.ts';
import { PkiError } from './errors.ts';
import { parsePemBundle } from './inventory.ts';
import { computeRenewalTime, type RenewalPolicy } from './renewal.ts';
import { Secret } from './secret.ts';

export interface StaticFileIssuerOptions extends RenewalPolicy {
  /** Leaf first, then intermediates. */
  certFile: string;
  keyFile: string;
  now?: () => Date;
}

export class StaticFileIssuer implements CertificateIssuer {
  readonly #o: StaticFileIssuerOptions;
  #lastSerial?: string;

  constructor(opts: StaticFileIssuerOptions) {
    this.#o = opts;
  }

  /** Load the files; the request's names, when given, must all be covered by the certificate. */
  async issue(req: CertificateRequest = {}): Promise<IssuedCertificate> {
    const o = this.#o;
    let chainPem: string;
    let keyText: string;
    try {
      [chainPem, keyText] = await Promise.all([readFile(o.certFile, 'utf8'), readFile(o.keyFile, 'utf8')]);
    } catch (e) {
      throw new PkiError('PCS_ERR_CERT_PARSE', `cannot read ${(e as NodeJS.ErrnoException).path ?? 'certificate files'}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`, { cause: e });
    }
    const certs = parsePemBundle(chainPem, o.certFile);
    if (certs.length === 0) throw new PkiError('PCS_ERR_CERT_PARSE', `${o.certFile} holds no certificate`);
    const leaf: X509Certificate = certs[0];
    let matches: boolean;
    try {
      matches = leaf.checkPrivateKey(createPrivateKey(keyText));
    } catch (e) {
      throw new PkiError('PCS_ERR_CERT_PARSE', `${o.keyFile} is not a readable private key`, { cause: e });
    }
    if (!matches) throw new PkiError('PCS_ERR_CA_STATE', `${o.keyFile} does not belong to the certificate in ${o.certFile}`);
    for (const d of req.dnsNames ?? []) if (leaf.checkHost(d) === undefined) throw new PkiError('PCS_ERR_CA_BAD_REQUEST', `${o.certFile} does not cover ${d}`);
    for (const ip of req.ipAddresses ?? []) if (leaf.checkIP(ip) === undefined) throw new PkiError('PCS_ERR_CA_BAD_REQUEST', `${o.certFile} does not cover ${ip}`);
    const serialNumber = leaf.serialNumber.toLowerCase();
    const now = (o.now ?? (() => new Date()))();
    const validity = { notBefore: leaf.validFromDate, notAfter: leaf.validToDate };
    // the same certificate again, past its renewal point: report it, do not pretend it was renewed
    if (this.#lastSerial === serialNumber && computeRenewalTime(validity, o, () => 0) <= now) {
      throw new PkiError('PCS_ERR_RENEWAL', `${o.certFile} still holds certificate ${serialNumber}, which expires ${validity.notAfter.toISOString()}; replace the file`);
    }
    this.#lastSerial = serialNumber;
    return { certPem: leaf.toString(), chainPem, keyPem: new Secret(keyText), serialNumber, ...validity };
  }
}
