/**
 * Certificate inventory: parse PEM bundles, files, directories or a remote TLS endpoint into
 * entries (subject, SANs, issuer, serial, validity, days left, key, signature, fingerprint) with
 * findings: EXPIRED, NOT_YET_VALID, EXPIRES_SOON, SHA1_SIGNATURE, WEAK_SIGNATURE, WEAK_KEY,
 * SELF_SIGNED_LEAF, NAME_MISMATCH, CHAIN_INCOMPLETE.
 *
 * Backs `portcullis certs list [--json]` (inventoryPath + formatTable/toJson) and
 * `portcullis certs scan HOST:PORT...` (scanRemote/scanMany).
 */
import { X509Certificate } from 'node:crypto';
import { lstat, readdir, readFile, stat } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import tls from 'node:tls';
import { PkiError } from './errors.ts';
import { x509 } from './x509.ts';

export type FindingCode =
  | 'EXPIRED'
  | 'NOT_YET_VALID'
  | 'EXPIRES_SOON'
  | 'SHA1_SIGNATURE'
  | 'WEAK_SIGNATURE'
  | 'WEAK_KEY'
  | 'SELF_SIGNED_LEAF'
  | 'NAME_MISMATCH'
  | 'CHAIN_INCOMPLETE';

export type Severity = 'critical' | 'high' | 'medium' | 'low';

export interface Finding {
  code: FindingCode;
  severity: Severity;
  message: string;
}

export interface CertEntry {
  /** File path, `host:port`, or the label given for a PEM string. */
  source: string;
  /** Position of the certificate in its file or presented chain (0 = first). */
  position: number;
  role: 'leaf' | 'intermediate' | 'root';
  subject: string;
  commonName?: string;
  /** 'DNS:x', 'IP:1.2.3.4', 'URI:spiffe://...', 'email:...'. */
  sans: string[];
  issuer: string;
  serialNumber: string;
  notBefore: string;
  notAfter: string;
  /** Whole days until notAfter (negative once expired). */
  daysLeft: number;
  keyType: string;
  /** RSA modulus bits, EC field size, ... */
  keySize?: number;
  /** EC curve name (P-256, P-384, ...). */
  curve?: string;
  signatureAlgorithm: string;
  fingerprintSha256: string;
  isCA: boolean;
  selfSigned: boolean;
  findings: Finding[];
}

export interface InspectOptions {
  now?: Date;
  /**
   * EXPIRES_SOON threshold in days (default 30). For a certificate whose lifetime is under three
   * times that, a third of its lifetime is used instead (it is past its 2/3 renewal point).
   */
  expiresSoonDays?: number;
  /** When set, leaf certificates are checked against this host name or IP (NAME_MISMATCH). */
  expectedHostname?: string;
  /** Extra trust anchors / intermediates (PEM text or parsed certificates) used to complete chains. */
  trustStore?: string | string[] | X509Certificate[];
  /** Also trust Node's bundled Mozilla roots (default true). */
  useSystemTrust?: boolean;
  /** Label for entries created from PEM text (default '<pem>'). */
  source?: string;
}

const DAY = 86_400_000;
const PEM_RE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Extract the certificates of a PEM bundle (text outside the blocks, e.g. keys, is ignored). */
export function parsePemBundle(pem: string, source = '<pem>'): X509Certificate[] {
  const blocks = pem.match(PEM_RE) ?? [];
  return blocks.map((b, i) => {
    try {
      return new X509Certificate(b);
    } catch (e) {
      throw new PkiError('PCS_ERR_CERT_PARSE', `${source}: certificate #${i + 1} cannot be parsed`, { cause: e });
    }
  });
}

let systemRoots: X509Certificate[] | undefined;
function getSystemRoots(): X509Certificate[] {
  systemRoots ??= tls.rootCertificates.flatMap((p) => {
    try {
      return [new X509Certificate(p)];
    } catch {
      return [];
    }
  });
  return systemRoots;
}

function toCerts(t: InspectOptions['trustStore']): X509Certificate[] {
  if (!t) return [];
  if (typeof t === 'string') return parsePemBundle(t, 'trust store');
  return (t as Array<string | X509Certificate>).flatMap((c) => (typeof c === 'string' ? parsePemBundle(c, 'trust store') : [c]));
}

function oneLine(dn: string): string {
  return dn.split('\n').filter(Boolean).join(', ');
}

function cnOf(dn: string): string | undefined {
  const m = /(?:^|\n)CN=([^\n]*)/.exec(dn);
  return m?.[1];
}

const CURVES: Record<string, [string, number]> = {
  prime256v1: ['P-256', 256],
  secp384r1: ['P-384', 384],
  secp521r1: ['P-521', 521],
  prime192v1: ['P-192', 192],
  secp224r1: ['P-224', 224],
  secp256k1: ['secp256k1', 256],
};

function keyInfo(c: X509Certificate): { keyType: string; keySize?: number; curve?: string } {
  const k = c.publicKey;
  const d = k.asymmetricKeyDetails ?? {};
  switch (k.asymmetricKeyType) {
    case 'rsa':
    case 'rsa-pss':
      return { keyType: k.asymmetricKeyType === 'rsa' ? 'RSA' : 'RSA-PSS', keySize: d.modulusLength };
    case 'ec': {
      const known = d.namedCurve ? CURVES[d.namedCurve] : undefined;
      const bits = known?.[1] ?? (Number(/(\d{3})/.exec(d.namedCurve ?? '')?.[1]) || undefined);
      return { keyType: 'EC', keySize: bits, curve: known?.[0] ?? d.namedCurve };
    }
    case 'dsa':
      return { keyType: 'DSA', keySize: d.modulusLength };
    case 'ed25519':
      return { keyType: 'Ed25519', keySize: 256 };
    case 'ed448':
      return { keyType: 'Ed448', keySize: 456 };
    default:
      return { keyType: String(k.asymmetricKeyType ?? 'unknown') };
  }
}

function sansOf(c: X509Certificate): string[] {
  try {
    const pc = new x509.X509Certificate(c.raw);
    const ext = pc.getExtension(x509.SubjectAlternativeNameExtension);
    if (!ext) return [];
    const prefix: Record<string, string> = { dns: 'DNS', ip: 'IP', url: 'URI', email: 'email', dn: 'DirName', guid: 'GUID', upn: 'UPN', id: 'RID' };
    return ext.names.items.map((n) => `${prefix[n.type] ?? n.type}:${n.value}`);
  } catch {
    // fall back on Node's rendering (e.g. otherName entries @peculiar/x509 does not decode)
    return (c.subjectAltName ?? '').split(', ').filter(Boolean).map((s) => s.replace(/^IP Address:/, 'IP:'));
  }
}

function isSelfSigned(c: X509Certificate): boolean {
  if (c.subject !== c.issuer) return false;
  try {
    return c.verify(c.publicKey);
  } catch {
    return false;
  }
}

function issuedBy(child: X509Certificate, parent: X509Certificate): boolean {
  try {
    return child.checkIssued(parent) && child.verify(parent.publicKey);
  } catch {
    return false;
  }
}

/** Missing link description, or undefined when the chain reaches a trust anchor or a self-signed root. */
function chainGap(leaf: X509Certificate, pool: X509Certificate[], trust: X509Certificate[]): string | undefined {
  let cur = leaf;
  const seen = new Set<string>([cur.fingerprint256]);
  for (let depth = 0; depth < 10; depth++) {
    if (trust.some((t) => t.fingerprint256 === cur.fingerprint256)) return undefined;
    const inTrust = trust.find((t) => issuedBy(cur, t));
    if (inTrust) return undefined;
    const parent = pool.find((p) => !seen.has(p.fingerprint256) && issuedBy(cur, p));
    if (!parent) return `issuer "${oneLine(cur.issuer)}" of "${oneLine(cur.subject)}" is not in the chain or the trust store`;
    if (isSelfSigned(parent)) return undefined;
    seen.add(parent.fingerprint256);
    cur = parent;
  }
  return 'chain longer than 10 certificates';
}

const WEAK_SIG = /md2|md4|md5/i;
const SHA1_SIG = /sha1|sha-1/i;

/** Inspect the certificates of one chain/bundle: entries in input order, each with findings. */
export function inspectCertificates(certs: X509Certificate[], opts: InspectOptions = {}): CertEntry[] {
  const now = opts.now ?? new Date();
  const soonDays = opts.expiresSoonDays ?? 30;
  const trust = [...toCerts(opts.trustStore), ...((opts.useSystemTrust ?? true) ? getSystemRoots() : [])];
  const source = opts.source ?? '<pem>';
  return certs.map((c, position) => {
    const selfSigned = isSelfSigned(c);
    const isCA = c.ca;
    const role: CertEntry['role'] = isCA ? (selfSigned ? 'root' : 'intermediate') : 'leaf';
    const notBefore = c.validFromDate;
    const notAfter = c.validToDate;
    const msLeft = notAfter.getTime() - now.getTime();
    const daysLeft = Math.trunc(msLeft / DAY) || 0; // toward zero: 'expired 2 days ago' is -2; no -0
    const k = keyInfo(c);
    const sig = c.signatureAlgorithm ?? c.signatureAlgorithmOid ?? 'unknown';
    const findings: Finding[] = [];
    const f = (code: FindingCode, severity: Severity, message: string) => findings.push({ code, severity, message });
    // short-lived certificates: "soon" is relative to the lifetime (past the 2/3 renewal point)
    const lifetime = notAfter.getTime() - notBefore.getTime();
    const soonMs = Math.min(soonDays * DAY, lifetime / 3);
    if (msLeft <= 0) f('EXPIRED', 'critical', `expired on ${notAfter.toISOString()} (${-daysLeft} days ago)`);
    else if (msLeft < soonMs) f('EXPIRES_SOON', msLeft < 7 * DAY ? 'high' : 'medium', `expires on ${notAfter.toISOString()}, in ${(msLeft / DAY).toFixed(1)} days (threshold ${(soonMs / DAY).toFixed(1)} days)`);
    if (notBefore > now) f('NOT_YET_VALID', 'high', `not valid before ${notBefore.toISOString()}`);
    // a self-signed root's own signature is never checked by relying parties, so it is not flagged
    if (role !== 'root') {
      if (SHA1_SIG.test(sig)) f('SHA1_SIGNATURE', 'high', `signed with ${sig}`);
      else if (WEAK_SIG.test(sig)) f('WEAK_SIGNATURE', 'critical', `signed with ${sig}`);
    }
    if ((k.keyType.startsWith('RSA') || k.keyType === 'DSA') && (k.keySize ?? 0) < 2048) f('WEAK_KEY', 'high', `${k.keyType} key of ${k.keySize} bits (< 2048)`);
    if (k.keyType === 'EC' && (k.keySize ?? 0) < 256) f('WEAK_KEY', 'high', `EC key on ${k.curve} (< 256 bits)`);
    if (role === 'leaf') {
      if (selfSigned) f('SELF_SIGNED_LEAF', 'medium', 'self-signed end-entity certificate: clients cannot verify it against a CA');
      if (opts.expectedHostname) {
        const h = opts.expectedHostname;
        const ok = isIP(h) ? c.checkIP(h) !== undefined : c.checkHost(h) !== undefined;
        if (!ok) f('NAME_MISMATCH', 'high', `not valid for ${h}`);
      }
      if (!selfSigned) {
        const gap = chainGap(c, certs, trust);
        if (gap) f('CHAIN_INCOMPLETE', 'high', gap);
      }
    }
    const sans = sansOf(c);
    return {
      source,
      position,
      role,
      subject: oneLine(c.subject),
      commonName: cnOf(c.subject),
      sans,
      issuer: oneLine(c.issuer),
      serialNumber: c.serialNumber,
      notBefore: notBefore.toISOString(),
      notAfter: notAfter.toISOString(),
      daysLeft,
      ...k,
      signatureAlgorithm: sig,
      fingerprintSha256: c.fingerprint256,
      isCA,
      selfSigned,
      findings,
    };
  });
}

/** Parse and inspect a PEM bundle. */
export function inspectPem(pem: string, opts: InspectOptions = {}): CertEntry[] {
  return inspectCertificates(parsePemBundle(pem, opts.source), opts);
}

export interface InventoryError {
  source: string;
  code: string;
  message: string;
}

export interface InventoryResult {
  entries: CertEntry[];
  /** Files that looked like certificates but could not be read or parsed; the scan goes on. */
  errors: InventoryError[];
}

const MAX_FILE = 2 * 1024 * 1024;
const DER_EXT = /\.(der|cer|crt)$/i;

/**
 * Inventory a certificate file or a directory (recursively; symlinked directories are not
 * followed). Each file is one chain context; certificates are found in PEM files of any name,
 * and in DER files named *.der/*.cer/*.crt. Files without certificates are skipped.
 */
export async function inventoryPath(path: string, opts: Omit<InspectOptions, 'source'> = {}): Promise<InventoryResult> {
  const result: InventoryResult = { entries: [], errors: [] };
  const st = await stat(path).catch((e: NodeJS.ErrnoException) => {
    throw new PkiError('PCS_ERR_CERT_PARSE', `cannot read ${path}: ${e.code ?? 'error'}`, { cause: e });
  });
  const files: string[] = [];
  if (st.isDirectory()) await walk(path, files, 0);
  else files.push(path);
  // trust store parsed once, not per file
  const trustCerts = toCerts(opts.trustStore);
  for (const file of files.sort()) {
    try {
      const fst = await stat(file);
      if (!fst.isFile() || fst.size > MAX_FILE) continue;
      const buf = await readFile(file);
      const text = buf.toString('latin1');
      let certs: X509Certificate[];
      if (text.includes('-----BEGIN CERTIFICATE-----')) certs = parsePemBundle(text, file);
      else if (DER_EXT.test(file) && buf[0] === 0x30) {
        try {
          certs = [new X509Certificate(buf)];
        } catch (e) {
          throw new PkiError('PCS_ERR_CERT_PARSE', `${file}: not a DER certificate`, { cause: e });
        }
      } else continue;
      result.entries.push(...inspectCertificates(certs, { ...opts, trustStore: trustCerts, source: file }));
    } catch (e) {
      result.errors.push({ source: file, code: (e as PkiError).code ?? 'PCS_ERR_CERT_PARSE', message: (e as Error).message });
    }
  }
  return result;
}

async function walk(dir: string, out: string[], depth: number): Promise<void> {
  if (depth > 16) return;
  for (const name of await readdir(dir)) {
    const p = join(dir, name);
    const l = await lstat(p).catch(() => undefined);
    if (!l) continue;
    if (l.isDirectory()) await walk(p, out, depth + 1);
    else if (l.isFile() || l.isSymbolicLink()) out.push(p);
  }
}

/** JSON for `certs list --json` / `certs scan --json`. */
export function toJson(entries: CertEntry[], extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ ...extra, certificates: entries }, null, 2);
}

function trunc(s: string, n: number): string {
  return s.length <= n ? s : s.slice(0, n - 1) + '…';
}

/** A fixed-width text table, one row per certificate, for `certs list` and `certs scan`. */
export function formatTable(entries: CertEntry[]): string {
  const head = ['SUBJECT', 'SANS', 'ISSUER', 'SERIAL', 'NOT AFTER', 'DAYS', 'KEY', 'SIGNATURE', 'FINDINGS', 'SOURCE'];
  const rows = entries.map((e) => [
    trunc(e.commonName ?? e.subject ?? '', 40),
    trunc(e.sans.length > 2 ? `${e.sans.slice(0, 2).join(',')},+${e.sans.length - 2}` : e.sans.join(','), 48),
    trunc(cnOf(e.issuer.split(', ').join('\n')) ?? e.issuer, 32),
    trunc(e.serialNumber, 18),
    e.notAfter.slice(0, 10),
    String(e.daysLeft),
    e.curve ? `EC ${e.curve}` : `${e.keyType}${e.keySize ? ' ' + e.keySize : ''}`,
    e.signatureAlgorithm,
    e.findings.length ? e.findings.map((f) => f.code).join(',') : '-',
    e.position ? `${e.source}#${e.position}` : e.source,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ');
  return [line(head), ...rows.map(line)].join('\n') + '\n';
}

export interface ScanOptions extends Omit<InspectOptions, 'source' | 'expectedHostname'> {
  /** SNI name and the name checked for NAME_MISMATCH; default the host (no SNI for an IP). */
  servername?: string;
  /** Whole-operation timeout (default 10 s). */
  timeoutMs?: number;
  /** ALPN protocols to offer (default none). */
  alpnProtocols?: string[];
}

export interface ScanResult {
  target: string;
  host: string;
  port: number;
  servername?: string;
  /**
   * Certificates as Node reports them: the chain the peer sent, or, when verification succeeded,
   * the verified chain (which then ends with the trust anchor).
   */
  entries: CertEntry[];
  /** Whether Node's own verification (with the trust store given, or the system roots) passed. */
  authorized: boolean;
  authorizationError?: string;
  protocol?: string;
  cipher?: string;
  alpnProtocol?: string;
}

/** Split `host:port`, `[v6]:port` or `host` (port 443). */
export function parseTarget(target: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(target) ?? /^([^:]+)(?::(\d+))?$/.exec(target);
  const host = m?.[1];
  const port = m?.[2] === undefined ? 443 : Number(m[2]);
  if (!host || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new PkiError('PCS_ERR_CERT_SCAN', `invalid target ${JSON.stringify(target)}: expected HOST:PORT`);
  }
  return { host, port };
}

/**
 * Connect to a TLS endpoint (verification off, so that broken endpoints can be inspected), take
 * the chain it presents and inspect it like a file. Throws PCS_ERR_CERT_SCAN(_TIMEOUT).
 */
export function scanRemote(target: string, opts: ScanOptions = {}): Promise<ScanResult> {
  const { host, port } = parseTarget(target);
  const servername = opts.servername ?? (isIP(host) ? undefined : host);
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const trust = toCerts(opts.trustStore);
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (err: Error | undefined, res?: ScanResult) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(res!);
    };
    const sock = tls.connect({
      host,
      port,
      servername,
      rejectUnauthorized: false,
      ALPNProtocols: opts.alpnProtocols,
      // verify against the given trust store (plus the system roots unless disabled), so `authorized` is meaningful
      ca: trust.length || opts.useSystemTrust === false ? [...(opts.useSystemTrust === false ? [] : tls.rootCertificates), ...trust.map((c) => c.toString())] : undefined,
    });
    const timer = setTimeout(() => finish(new PkiError('PCS_ERR_CERT_SCAN_TIMEOUT', `${target}: no TLS handshake within ${timeoutMs} ms`)), timeoutMs);
    sock.once('secureConnect', () => {
      try {
        const chain: X509Certificate[] = [];
        let pc = sock.getPeerCertificate(true);
        const seen = new Set<string>();
        while (pc && pc.raw && !seen.has(pc.fingerprint256)) {
          seen.add(pc.fingerprint256);
          chain.push(new X509Certificate(pc.raw));
          pc = pc.issuerCertificate;
        }
        if (chain.length === 0) throw new PkiError('PCS_ERR_CERT_SCAN', `${target}: the server presented no certificate`);
        const entries = inspectCertificates(chain, { ...opts, trustStore: trust, expectedHostname: servername ?? host, source: target });
        finish(undefined, {
          target,
          host,
          port,
          servername,
          authorized: sock.authorized,
          authorizationError: sock.authorizationError ? String(sock.authorizationError) : undefined,
          protocol: sock.getProtocol() ?? undefined,
          cipher: sock.getCipher()?.name,
          alpnProtocol: sock.alpnProtocol || undefined,
          entries,
        });
      } catch (e) {
        finish(e instanceof PkiError ? e : new PkiError('PCS_ERR_CERT_SCAN', `${target}: ${(e as Error).message}`, { cause: e }));
      }
    });
    sock.once('error', (e: NodeJS.ErrnoException) => finish(new PkiError('PCS_ERR_CERT_SCAN', `${target}: ${e.code ?? e.message}`, { cause: e })));
    sock.once('close', () => finish(new PkiError('PCS_ERR_CERT_SCAN', `${target}: connection closed before the TLS handshake completed`)));
  });
}

/** Scan several targets concurrently; a failing target yields `{ target, error }` instead of throwing. */
export async function scanMany(targets: string[], opts: ScanOptions = {}): Promise<Array<ScanResult | { target: string; error: { code: string; message: string } }>> {
  return Promise.all(
    targets.map((t) =>
      scanRemote(t, opts).catch((e: PkiError) => ({ target: t, error: { code: e.code ?? 'PCS_ERR_CERT_SCAN', message: e.message } })),
    ),
  );
}
