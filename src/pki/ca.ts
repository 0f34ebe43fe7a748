/**
 * Internal CA: a root and an intermediate that Portcullis creates, persists and uses to issue
 * short-lived leaf certificates (server and/or client, DNS/IP/URI SANs including SPIFFE IDs).
 *
 * Private keys live in the encrypted KeyStore; certificates are plain PEM files in `certDir`.
 */
import { X509Certificate as NodeX509, createPrivateKey, randomBytes, type webcrypto } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { x509 } from './x509.ts';
import { PkiError } from './errors.ts';
import { ensurePrivateDir, writeFileAtomic } from './fsutil.ts';
import { generatePrivateKeyPem, importKeyPair, normalizeKeySpec, type KeySpec } from './keys.ts';
import type { KeyStore } from './keystore.ts';
import type { Secret } from './secret.ts';

export type { KeySpec } from './keys.ts';

export type Usage = 'server' | 'client';

/** What a caller asks for; shared by every issuer (internal CA, ACME). */
export interface CertificateRequest {
  commonName?: string;
  dnsNames?: string[];
  ipAddresses?: string[];
  /** URI SANs, e.g. a SPIFFE ID `spiffe://example.org/ns/prod/sa/api`. */
  uris?: string[];
  /** Extended key usages; default ['server']. */
  usages?: Usage[];
  /** Leaf key; default ECDSA P-256. */
  key?: KeySpec;
  /** Lifetime in milliseconds; default 24 h. Clamped to the intermediate's notAfter. */
  lifetimeMs?: number;
  /** Start of validity; default now minus 5 minutes (clock skew). */
  notBefore?: Date;
}

/** What every issuer returns. */
export interface IssuedCertificate {
  /** The leaf certificate alone. */
  certPem: string;
  /** Leaf followed by the intermediates: what a server or client presents. */
  chainPem: string;
  /** The trust anchor (root), when the issuer knows it. */
  caPem?: string;
  keyPem: Secret<string>;
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
}

/** The interface the renewal scheduler and the config layer program against. */
export interface CertificateIssuer {
  issue(req: CertificateRequest): Promise<IssuedCertificate>;
}

export interface InternalCAOptions {
  keystore: KeyStore;
  /** Where root.pem / intermediate.pem are written (created 0700 if missing). */
  certDir: string;
  /** Prefix of file and key names (default 'portcullis-ca'); lets one store hold several CAs. */
  name?: string;
  /** Key type of root and intermediate; default ECDSA P-256. */
  key?: KeySpec;
  /** Subject common name prefix, default 'Portcullis Internal'. */
  commonName?: string;
  rootValidityDays?: number;
  intermediateValidityDays?: number;
  /**
   * open() rotates the intermediate when it has less than this many days left, or less than the
   * maximum leaf lifetime (default 30).
   */
  intermediateRenewBeforeDays?: number;
  /** Upper bound for leaf lifetimes (default 90 days). */
  maxLeafLifetimeMs?: number;
  now?: () => Date;
}

const DAY = 86_400_000;
export const DEFAULT_LEAF_LIFETIME_MS = DAY;
const SKEW_MS = 5 * 60_000;

const DNS_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

export function validateDnsName(name: string): void {
  const n = name.toLowerCase();
  const labels = n.split('.');
  const ok = n.length <= 253 && labels.length >= 1 && labels.every((l, i) => (i === 0 && l === '*' && labels.length > 2) || DNS_LABEL.test(l));
  if (!ok) throw new PkiError('PCS_ERR_CA_BAD_REQUEST', `invalid DNS name ${JSON.stringify(name)}`);
}

export function validateUri(uri: string): void {
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    throw new PkiError('PCS_ERR_CA_BAD_REQUEST', `invalid URI SAN ${JSON.stringify(uri)}`);
  }
  if (u.protocol === 'spiffe:') {
    // SPIFFE ID rules: lowercase trust domain, no port/userinfo/query/fragment, a non-empty path without empty or dot segments
    const td = u.host;
    const path = u.pathname;
    const bad = !td || !/^[a-z0-9._-]+$/.test(td) || u.port || u.username || u.password || u.search || u.hash || uri.includes('#') || uri.includes('?')
      || (path !== '' && (!path.startsWith('/') || path.split('/').slice(1).some((s) => s === '' || s === '.' || s === '..' || !/^[A-Za-z0-9._-]+$/.test(s))));
    if (bad) throw new PkiError('PCS_ERR_CA_BAD_REQUEST', `invalid SPIFFE ID ${JSON.stringify(uri)}`);
  }
}

function randomSerial(): string {
  const b = randomBytes(16);
  b[0] = (b[0] & 0x7f) | 0x01; // positive, and no leading zero byte
  return b.toString('hex');
}

function name(cn: string, o = 'Portcullis'): x509.JsonName {
  return [{ CN: [cn] }, { O: [o] }];
}

interface LoadedCa {
  cert: x509.X509Certificate;
  pem: string;
  keys: Awaited<ReturnType<typeof importKeyPair>>;
}

interface CaSettings {
  keystore: KeyStore;
  base: string;
  intPath: string;
  cn: string;
  key?: KeySpec;
  intermediateValidityDays: number;
  maxLeafMs: number;
  now: () => Date;
}

export class InternalCA implements CertificateIssuer {
  readonly root: LoadedCa;
  #intermediate: LoadedCa;
  readonly #s: CaSettings;
  readonly #maxLeafMs: number;
  readonly #now: () => Date;

  private constructor(root: LoadedCa, intermediate: LoadedCa, settings: CaSettings) {
    this.root = root;
    this.#intermediate = intermediate;
    this.#s = settings;
    this.#maxLeafMs = settings.maxLeafMs;
    this.#now = settings.now;
  }

  get intermediate(): LoadedCa {
    return this.#intermediate;
  }

  /**
   * Replace the intermediate with a new one signed by the root (same key type) and persist it.
   * Leaves issued earlier keep chaining through the old intermediate they were served with.
   * Crash-safe: the new key is stored as `<name>-intermediate.next` first; open() repairs a
   * crash between the certificate and key writes.
   */
  async rotateIntermediate(): Promise<void> {
    const s = this.#s;
    const { intermediate, keyPem } = await makeIntermediate(this.root, s.cn, s.key, s.now(), s.intermediateValidityDays);
    await s.keystore.put(`${s.base}-intermediate.next`, keyPem);
    await writeFileAtomic(s.intPath, intermediate.pem, 0o644);
    await s.keystore.put(`${s.base}-intermediate`, keyPem);
    await s.keystore.delete(`${s.base}-intermediate.next`);
    this.#intermediate = intermediate;
  }

  get rootCertPem(): string {
    return this.root.pem;
  }
  get intermediateCertPem(): string {
    return this.intermediate.pem;
  }

  /** Load the CA persisted under `name`, or create and persist it on first use. */
  static async open(opts: InternalCAOptions): Promise<InternalCA> {
    const base = opts.name ?? 'portcullis-ca';
    const now = opts.now ?? (() => new Date());
    const rootPath = join(opts.certDir, `${base}-root.pem`);
    const intPath = join(opts.certDir, `${base}-intermediate.pem`);
    const maxLeaf = opts.maxLeafLifetimeMs ?? 90 * DAY;
    const cn = opts.commonName ?? 'Portcullis Internal';
    const settings: CaSettings = { keystore: opts.keystore, base, intPath, cn, key: opts.key, intermediateValidityDays: opts.intermediateValidityDays ?? 365, maxLeafMs: maxLeaf, now };
    const [rootPem, intPem] = await Promise.all([readFile(rootPath, 'utf8').catch(() => undefined), readFile(intPath, 'utf8').catch(() => undefined)]);
    if (rootPem && intPem) {
      const root = await loadCa(opts.keystore, `${base}-root`, rootPem);
      let intermediate: LoadedCa;
      try {
        intermediate = await loadCa(opts.keystore, `${base}-intermediate`, intPem);
      } catch (e) {
        // a rotation interrupted between the certificate and the key write: the new key waits in .next
        if (!(e instanceof PkiError && e.code === 'PCS_ERR_CA_STATE') || !(await opts.keystore.has(`${base}-intermediate.next`))) throw e;
        intermediate = await loadCa(opts.keystore, `${base}-intermediate.next`, intPem);
        await opts.keystore.put(`${base}-intermediate`, await opts.keystore.getString(`${base}-intermediate.next`));
        await opts.keystore.delete(`${base}-intermediate.next`);
      }
      const ni = new NodeX509(intPem);
      if (!ni.checkIssued(new NodeX509(rootPem)) || !ni.verify(new NodeX509(rootPem).publicKey)) {
        throw new PkiError('PCS_ERR_CA_STATE', `${intPath} is not issued by ${rootPath}`);
      }
      const ca = new InternalCA(root, intermediate, settings);
      const renewBefore = (opts.intermediateRenewBeforeDays ?? 30) * DAY;
      if (intermediate.cert.notAfter.getTime() - now().getTime() < Math.max(renewBefore, maxLeaf)) await ca.rotateIntermediate();
      return ca;
    }
    if (rootPem || intPem) {
      throw new PkiError('PCS_ERR_CA_STATE', `incomplete CA state: found only one of ${rootPath} and ${intPath}; restore the missing file or remove both to create a new CA`);
    }
    const t = now();
    const rootKeyPem = await generatePrivateKeyPem(opts.key);
    const rootKeys = await importKeyPair(rootKeyPem);
    const rootCert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: randomSerial(),
      name: name(`${cn} Root CA`),
      notBefore: new Date(t.getTime() - SKEW_MS),
      notAfter: new Date(t.getTime() + (opts.rootValidityDays ?? 3650) * DAY),
      keys: { privateKey: rootKeys.privateKey, publicKey: rootKeys.publicKey },
      signingAlgorithm: rootKeys.signingAlgorithm,
      extensions: [
        new x509.BasicConstraintsExtension(true, 1, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
        await x509.SubjectKeyIdentifierExtension.create(rootKeys.publicKey),
      ],
    });
    const root: LoadedCa = { cert: rootCert, pem: rootCert.toString('pem') + '\n', keys: rootKeys };
    const { intermediate, keyPem: intKeyPem } = await makeIntermediate(root, cn, opts.key, t, opts.intermediateValidityDays ?? 365);
    await ensurePrivateDir(opts.certDir);
    // keys first, the root certificate last: a crash before it leaves at most orphan keys (overwritten
    // on the next attempt) or an intermediate file alone, which open() reports as incomplete state
    await opts.keystore.put(`${base}-root`, rootKeyPem);
    await opts.keystore.put(`${base}-intermediate`, intKeyPem);
    await writeFileAtomic(intPath, intermediate.pem, 0o644);
    await writeFileAtomic(rootPath, root.pem, 0o644);
    return new InternalCA(root, intermediate, settings);
  }

  /** Issue a leaf certificate with a freshly generated key. */
  async issue(req: CertificateRequest): Promise<IssuedCertificate> {
    this.#validate(req); // before spending time on a key
    const keyPem = await generatePrivateKeyPem(req.key);
    const keys = await importKeyPair(keyPem);
    const cert = await this.#sign(req, keys.publicKey, keys.description.startsWith('RSA'));
    return { ...this.#result(cert), keyPem };
  }

  /**
   * Issue for a PKCS#10 CSR whose key the caller keeps. Names come from `req` if given, otherwise
   * from the CSR's subjectAltName extension. The CSR signature is verified.
   */
  async issueForCsr(csrPem: string, req: Omit<CertificateRequest, 'key'> = {}): Promise<Omit<IssuedCertificate, 'keyPem'>> {
    let csr: x509.Pkcs10CertificateRequest;
    try {
      csr = new x509.Pkcs10CertificateRequest(csrPem);
    } catch (e) {
      throw new PkiError('PCS_ERR_CA_BAD_REQUEST', 'cannot parse CSR', { cause: e });
    }
    if (!(await csr.verify())) throw new PkiError('PCS_ERR_CA_BAD_REQUEST', 'CSR signature does not verify');
    const r: CertificateRequest = { ...req };
    if (!r.dnsNames && !r.ipAddresses && !r.uris) {
      const san = csr.getExtension('2.5.29.17') as x509.SubjectAlternativeNameExtension | null;
      for (const n of san?.names.items ?? []) {
        if (n.type === 'dns') (r.dnsNames ??= []).push(n.value);
        else if (n.type === 'ip') (r.ipAddresses ??= []).push(n.value);
        else if (n.type === 'url') (r.uris ??= []).push(n.value);
      }
    }
    const isRsa = csr.publicKey.algorithm.name.startsWith('RSA');
    const cert = await this.#sign(r, csr.publicKey, isRsa);
    return this.#result(cert);
  }

  #result(cert: x509.X509Certificate): Omit<IssuedCertificate, 'keyPem'> {
    const certPem = cert.toString('pem') + '\n';
    return {
      certPem,
      chainPem: certPem + this.intermediate.pem,
      caPem: this.root.pem,
      serialNumber: cert.serialNumber.toLowerCase(),
      notBefore: cert.notBefore,
      notAfter: cert.notAfter,
    };
  }

  #validate(req: CertificateRequest): void {
    normalizeKeySpec(req.key);
    (req.dnsNames ?? []).map((d) => d.trim().toLowerCase()).forEach(validateDnsName);
    for (const ip of req.ipAddresses ?? []) if (!isIP(ip)) throw new PkiError('PCS_ERR_CA_BAD_REQUEST', `invalid IP address ${JSON.stringify(ip)}`);
    (req.uris ?? []).forEach(validateUri);
  }

  async #sign(req: CertificateRequest, publicKey: webcrypto.CryptoKey | x509.PublicKey, rsa: boolean): Promise<x509.X509Certificate> {
    const dns = (req.dnsNames ?? []).map((d) => d.trim().toLowerCase());
    const ips = req.ipAddresses ?? [];
    const uris = req.uris ?? [];
    dns.forEach(validateDnsName);
    for (const ip of ips) if (!isIP(ip)) throw new PkiError('PCS_ERR_CA_BAD_REQUEST', `invalid IP address ${JSON.stringify(ip)}`);
    uris.forEach(validateUri);
    if (dns.length + ips.length + uris.length === 0) throw new PkiError('PCS_ERR_CA_BAD_REQUEST', 'a certificate needs at least one DNS name, IP address or URI');
    const usages = req.usages ?? ['server'];
    if (usages.length === 0 || usages.some((u) => u !== 'server' && u !== 'client')) throw new PkiError('PCS_ERR_CA_BAD_REQUEST', `usages must be 'server' and/or 'client'`);
    const lifetime = req.lifetimeMs ?? DEFAULT_LEAF_LIFETIME_MS;
    if (!(lifetime > 0) || lifetime > this.#maxLeafMs) throw new PkiError('PCS_ERR_CA_BAD_REQUEST', `lifetime must be > 0 and at most ${this.#maxLeafMs} ms`);
    const now = this.#now();
    const notBefore = req.notBefore ?? new Date(now.getTime() - SKEW_MS);
    let notAfter = new Date(notBefore.getTime() + lifetime + (req.notBefore ? 0 : SKEW_MS));
    if (notAfter > this.intermediate.cert.notAfter) notAfter = this.intermediate.cert.notAfter;
    if (notAfter <= now) throw new PkiError('PCS_ERR_CA_STATE', 'the intermediate CA has expired; rotate it');
    const cn = req.commonName ?? dns[0] ?? uris[0] ?? ips[0];
    const sans: x509.JsonGeneralNames = [
      ...dns.map((value) => ({ type: 'dns' as const, value })),
      ...ips.map((value) => ({ type: 'ip' as const, value })),
      ...uris.map((value) => ({ type: 'url' as const, value })),
    ];
    const eku = usages.map((u) => (u === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth));
    const ku = x509.KeyUsageFlags.digitalSignature | (rsa ? x509.KeyUsageFlags.keyEncipherment : 0);
    return x509.X509CertificateGenerator.create({
      serialNumber: randomSerial(),
      subject: cn.length <= 64 ? [{ CN: [cn] }] : [],
      issuer: this.intermediate.cert.subjectName,
      notBefore,
      notAfter,
      publicKey,
      signingKey: this.intermediate.keys.privateKey,
      signingAlgorithm: this.intermediate.keys.signingAlgorithm,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(ku, true),
        new x509.ExtendedKeyUsageExtension(eku, false),
        // critical when the subject is empty (RFC 5280 4.2.1.6)
        new x509.SubjectAlternativeNameExtension(sans, cn.length > 64),
        await x509.SubjectKeyIdentifierExtension.create(publicKey),
        await x509.AuthorityKeyIdentifierExtension.create(this.intermediate.keys.publicKey),
      ],
    });
  }
}

async function makeIntermediate(root: LoadedCa, cn: string, key: KeySpec | undefined, t: Date, days: number): Promise<{ intermediate: LoadedCa; keyPem: Secret<string> }> {
  const keyPem = await generatePrivateKeyPem(key);
  const keys = await importKeyPair(keyPem);
  let notAfter = new Date(t.getTime() + days * DAY);
  if (notAfter > root.cert.notAfter) notAfter = root.cert.notAfter;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: name(`${cn} Intermediate CA`),
    issuer: root.cert.subjectName,
    notBefore: new Date(t.getTime() - SKEW_MS),
    notAfter,
    publicKey: keys.publicKey,
    signingKey: root.keys.privateKey,
    signingAlgorithm: root.keys.signingAlgorithm,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(root.keys.publicKey),
    ],
  });
  return { intermediate: { cert, pem: cert.toString('pem') + '\n', keys }, keyPem };
}

async function loadCa(ks: KeyStore, keyName: string, pem: string): Promise<LoadedCa> {
  const keyPem = await ks.getString(keyName);
  const node = new NodeX509(pem);
  const keys = await importKeyPair(keyPem);
  if (!node.checkPrivateKey(createPrivateKey(keyPem.reveal()))) {
    throw new PkiError('PCS_ERR_CA_STATE', `the key ${keyName} in the key store does not match its certificate`);
  }
  return { cert: new x509.X509Certificate(pem), pem, keys };
}
