/**
 * Persistence of issued certificates: the chain as a plain PEM file (0644) in `certDir`, the
 * private key encrypted in the KeyStore under the same name. Loading checks that key and
 * certificate belong together, so a half-written pair is refused rather than served.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { IssuedCertificate } from './ca.ts';
import { PkiError } from './errors.ts';
import { ensurePrivateDir, writeFileAtomic } from './fsutil.ts';
import type { KeyStore } from './keystore.ts';
import { parsePemBundle } from './inventory.ts';

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,100}$/;

export interface CertificateStoreOptions {
  certDir: string;
  keystore: KeyStore;
  /** Prefix of key names in the KeyStore (default 'cert-'). */
  keyPrefix?: string;
}

export class CertificateStore {
  readonly certDir: string;
  readonly #ks: KeyStore;
  readonly #prefix: string;

  constructor(opts: CertificateStoreOptions) {
    this.certDir = opts.certDir;
    this.#ks = opts.keystore;
    this.#prefix = opts.keyPrefix ?? 'cert-';
  }

  #check(name: string): void {
    if (!NAME_RE.test(name)) throw new PkiError('PCS_ERR_KEYSTORE_BAD_NAME', `invalid certificate name ${JSON.stringify(name)}`);
  }

  /** Save key first, then chain: a crash in between leaves the old chain with a new key, which load() refuses. */
  async save(name: string, cert: IssuedCertificate): Promise<void> {
    this.#check(name);
    await ensurePrivateDir(this.certDir);
    await this.#ks.put(this.#prefix + name, cert.keyPem);
    await writeFileAtomic(join(this.certDir, `${name}.pem`), cert.chainPem, 0o644);
    if (cert.caPem) await writeFileAtomic(join(this.certDir, `${name}.ca.pem`), cert.caPem, 0o644);
  }

  /** The stored certificate, or undefined when none is stored under `name`. */
  async load(name: string): Promise<IssuedCertificate | undefined> {
    this.#check(name);
    let chainPem: string;
    try {
      chainPem = await readFile(join(this.certDir, `${name}.pem`), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
    if (!(await this.#ks.has(this.#prefix + name))) return undefined;
    const keyPem = await this.#ks.getString(this.#prefix + name);
    const certs = parsePemBundle(chainPem, join(this.certDir, `${name}.pem`));
    if (certs.length === 0) throw new PkiError('PCS_ERR_CERT_PARSE', `${name}.pem holds no certificate`);
    const leaf: X509Certificate = certs[0];
    if (!leaf.checkPrivateKey(createPrivateKey(keyPem.reveal()))) {
      throw new PkiError('PCS_ERR_CA_STATE', `stored key and certificate for ${JSON.stringify(name)} do not match`);
    }
    const caPem = await readFile(join(this.certDir, `${name}.ca.pem`), 'utf8').catch(() => undefined);
    return {
      certPem: leaf.toString(),
      chainPem,
      caPem,
      keyPem,
      serialNumber: leaf.serialNumber.toLowerCase(),
      notBefore: leaf.validFromDate,
      notAfter: leaf.validToDate,
    };
  }

  async delete(name: string): Promise<void> {
    this.#check(name);
    await rm(join(this.certDir, `${name}.pem`), { force: true });
    await rm(join(this.certDir, `${name}.ca.pem`), { force: true });
    await this.#ks.delete(this.#prefix + name);
  }

  async list(): Promise<string[]> {
    const files = await readdir(this.certDir).catch(() => [] as string[]);
    return files.filter((f) => f.endsWith('.pem') && !f.endsWith('.ca.pem')).map((f) => f.slice(0, -4)).filter((n) => NAME_RE.test(n)).sort();
  }
}
