// Semantic checks of Issuer and Certificate resources and their IR. Called by
// src/config/semantic.ts (which reports the diagnostics and writes the status); the runtime side
// (issuing, renewing, persisting) is src/certs/service.ts.
//
// A Certificate's output behaves like the kubernetes.io/tls Secret cert-manager would write: a
// Gateway listener references it with certificateRefs { kind: Secret, name: <secretName> } even
// though no Secret document exists. Until the certificate is issued the reference is "pending".
import { createHash } from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import type { KeySpec } from '../pki/keys.ts';
import { Secret } from '../pki/secret.ts';
import type { Usage } from '../pki/ca.ts';
import type { CertificateT, IssuerT, SecretT } from '../config/schema.ts';
import type { Resource } from '../config/validate-schema.ts';
import { cond } from '../config/attach.ts';

export type ChallengeType = 'http-01' | 'tls-alpn-01' | 'dns-01';

export interface IssuerIR {
  readonly id: string;
  readonly namespace: string;
  readonly name: string;
  readonly type: 'ca' | 'acme' | 'static';
  readonly ca?: { readonly commonName?: string; readonly rootValidityDays?: number; readonly intermediateValidityDays?: number; readonly key?: KeySpec };
  readonly acme?: {
    readonly server: string;
    readonly email?: string;
    readonly caBundle?: string;
    readonly eab?: { readonly keyID: string; readonly hmacKey: Secret<string> };
    readonly challenges: readonly ChallengeType[];
    readonly dns01?: { readonly hook: { type: 'exec'; command: string; args: string[]; timeoutMs?: number } | { type: 'webhook'; url: string; timeoutMs?: number }; readonly propagationDelayMs?: number };
  };
  readonly static?: { readonly certFile: string; readonly keyFile: string };
  /** Changes when anything about the issuer changes (the EAB key included, hashed). */
  readonly hash: string;
}

export interface CertificateIR {
  readonly id: string;
  readonly namespace: string;
  readonly name: string;
  readonly secretName: string;
  readonly issuer: IssuerIR;
  readonly request: {
    readonly commonName?: string;
    readonly dnsNames: readonly string[];
    readonly ipAddresses: readonly string[];
    readonly uris: readonly string[];
    readonly key: KeySpec;
    readonly usages: readonly Usage[];
    readonly lifetimeMs?: number;
  };
  readonly renewFraction: number;
  /** Name in the state directory's certificate store: changes with the issuer, so switching issuers issues anew. */
  readonly storeName: string;
  /** Changes when anything that needs a new certificate changes. */
  readonly hash: string;
}

export interface CertificatesIR {
  readonly certificates: readonly CertificateIR[];
  /** `namespace/secretName` -> the Certificate that produces it. */
  readonly bySecret: ReadonlyMap<string, CertificateIR>;
}

/** What the running certificate service knows; semantic analysis reads it (never writes). */
export interface IssuedLookup {
  /** The issued chain and key for a Certificate, when there is one. */
  get(storeName: string): { readonly chainPem: string; readonly keyPem: string; readonly serialNumber: string; readonly notAfter: Date } | undefined;
  /** Why there is none yet (or the last renewal error), for the status. */
  state(storeName: string): { readonly reason: string; readonly message: string } | undefined;
}

type Report = (r: Resource, p: (string | number)[], message: string, hint?: string, severity?: 'error' | 'warning') => void;

const DAY = 86_400_000;
export const DEFAULT_CA_DURATION_MS = DAY;
const MAX_CA_DURATION_MS = 90 * DAY;
/** The built-in CA backdates leaf certificates by this much (clock skew), at most a tenth of the lifetime. */
const MAX_BACKDATE_MS = 5 * 60_000;

export function goDurationMs(d: string): number {
  let ms = 0;
  for (const m of d.matchAll(/([0-9]+)(h|m|s)/g)) ms += Number(m[1]) * (m[2] === 'h' ? 3600_000 : m[2] === 'm' ? 60_000 : 1000);
  return ms;
}

export function backdateMs(lifetimeMs: number): number {
  return Math.min(MAX_BACKDATE_MS, Math.floor(lifetimeMs / 10));
}

export function analyzeCertificates(resources: readonly Resource[], report: Report, status: Record<string, Record<string, unknown>>, issued: IssuedLookup | undefined): CertificatesIR {
  const byKind = <T>(k: string) => resources.filter((r) => r.kind === k) as Resource<T>[];
  const secrets = new Map(byKind<SecretT>('Secret').map((r) => [r.id, r]));
  const issuers = new Map<string, IssuerIR | null>();
  const gen = (r: Resource) => (r.doc.metadata?.generation as number | undefined) ?? 1;

  for (const r of byKind<IssuerT>('Issuer')) {
    const ir = analyzeIssuer(r, report, secrets);
    issuers.set(r.id, ir);
    status[r.id] = { conditions: [cond('Ready', ir !== null, ir ? 'Ready' : 'Invalid', ir ? `${ir.type} issuer` : 'the issuer is not valid', gen(r))] };
  }

  const certificates: CertificateIR[] = [];
  const bySecret = new Map<string, CertificateIR>();
  for (const r of byKind<CertificateT>('Certificate')) {
    const spec = r.doc.spec;
    const issuerId = `Issuer/${r.namespace}/${spec.issuerRef.name}`;
    const issuer = issuers.get(issuerId);
    let ok = true;
    const bad = (p: (string | number)[], m: string, h: string) => { report(r, ['spec', ...p], m, h); ok = false; };
    if (issuer === undefined) bad(['issuerRef', 'name'], `Issuer ${r.namespace}/${spec.issuerRef.name} not found`, 'define an Issuer (portcullis.dev/v1alpha1) in the same namespace');
    const dnsNames = (spec.dnsNames ?? []).map((d) => d.toLowerCase());
    const ipAddresses = spec.ipAddresses ?? [];
    const uris = spec.uris ?? [];
    dnsNames.forEach((d, i) => { if (!/^(\*\.)?([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)*[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(d)) bad(['dnsNames', i], `"${d}" is not a DNS name`, 'write a host name such as api.example.com or *.example.com'); });
    ipAddresses.forEach((ip, i) => { if (net.isIP(ip) === 0) bad(['ipAddresses', i], `"${ip}" is not an IP address`, 'write an IPv4 or IPv6 address'); });
    uris.forEach((u, i) => { if (!/^[a-z][a-z0-9+.-]*:\/\/[^\s]+$/i.test(u)) bad(['uris', i], `"${u}" is not a URI`, 'write an absolute URI such as spiffe://example.org/ns/prod/sa/api'); });
    if (!dnsNames.length && !ipAddresses.length && !uris.length && issuer?.type !== 'static') bad([], 'a Certificate needs dnsNames, ipAddresses or uris', 'add dnsNames: [api.example.com]');
    if (issuer?.type === 'acme' && (ipAddresses.length || uris.length)) bad([ipAddresses.length ? 'ipAddresses' : 'uris'], 'an ACME issuer issues DNS names only', 'remove ipAddresses and uris, or use a ca issuer');
    if (issuer?.type === 'acme' && !dnsNames.length) bad(['dnsNames'], 'an ACME certificate needs dnsNames', 'add dnsNames: [www.example.com]');
    if (issuer?.type === 'acme' && dnsNames.some((d) => d.startsWith('*.')) && !issuer.acme!.challenges.includes('dns-01')) bad(['dnsNames'], 'a wildcard name can only be validated with DNS-01', 'add a dns01 solver to the Issuer, or list the names');
    // key
    const alg = spec.privateKey?.algorithm ?? 'ECDSA';
    const size = spec.privateKey?.size;
    let key: KeySpec = { type: 'ecdsa', curve: 'P-256' };
    if (alg === 'ECDSA') {
      if (size !== undefined && size !== 256 && size !== 384) bad(['privateKey', 'size'], `ECDSA size ${size} is not supported`, 'use 256 or 384');
      else key = { type: 'ecdsa', curve: size === 384 ? 'P-384' : 'P-256' };
    } else {
      if (size !== undefined && size !== 2048 && size !== 3072 && size !== 4096) bad(['privateKey', 'size'], `RSA size ${size} is not supported`, 'use 2048, 3072 or 4096');
      else key = { type: 'rsa', bits: (size ?? 2048) as 2048 | 3072 | 4096 };
    }
    // lifetime and renewal point
    let lifetimeMs: number | undefined;
    if (spec.duration !== undefined) {
      lifetimeMs = goDurationMs(spec.duration);
      if (issuer && issuer.type !== 'ca') report(r, ['spec', 'duration'], `duration is ignored by a ${issuer.type} issuer (the lifetime is the CA's choice)`, 'remove duration', 'warning');
      else if (lifetimeMs < 10_000 || lifetimeMs > MAX_CA_DURATION_MS) bad(['duration'], `duration ${spec.duration} is out of range`, 'use 10s to 2160h (90 days)');
    }
    let renewFraction = spec.renewAtFraction ?? 2 / 3;
    if (spec.renewBefore !== undefined) {
      if (spec.renewAtFraction !== undefined) bad(['renewBefore'], 'set renewBefore or renewAtFraction, not both', 'keep one');
      else if (lifetimeMs === undefined || issuer?.type !== 'ca') bad(['renewBefore'], 'renewBefore needs a duration (built-in CA issuers)', 'use renewAtFraction for ACME and static certificates');
      else if (goDurationMs(spec.renewBefore) >= lifetimeMs || goDurationMs(spec.renewBefore) <= 0) bad(['renewBefore'], `renewBefore ${spec.renewBefore} must be shorter than duration ${spec.duration}`, 'renew before expiry, e.g. a third of the duration');
      else renewFraction = 1 - goDurationMs(spec.renewBefore) / lifetimeMs;
    }
    const secretKey = `${r.namespace}/${spec.secretName}`;
    if (bySecret.has(secretKey)) bad(['secretName'], `secretName ${spec.secretName} is also written by ${bySecret.get(secretKey)!.id}`, 'give each Certificate its own secretName');
    if (secrets.has(`Secret/${r.namespace}/${spec.secretName}`)) report(r, ['spec', 'secretName'], `a Secret named ${spec.secretName} exists too; listeners get this Certificate's output`, 'remove the Secret document or rename secretName', 'warning');
    if (!ok || !issuer) {
      status[r.id] = { conditions: [cond('Ready', false, 'Invalid', 'the Certificate is not valid', gen(r))] };
      continue;
    }
    const usages: Usage[] = (spec.usages ?? ['server auth']).map((u) => (u === 'client auth' ? 'client' : 'server'));
    const request = { ...(spec.commonName ? { commonName: spec.commonName } : {}), dnsNames, ipAddresses, uris, key, usages, ...(issuer.type === 'ca' ? { lifetimeMs: lifetimeMs ?? DEFAULT_CA_DURATION_MS } : {}) };
    const hash = sha(JSON.stringify([issuer.hash, request, renewFraction]));
    const c: CertificateIR = { id: r.id, namespace: r.namespace, name: r.name, secretName: spec.secretName, issuer, request, renewFraction, storeName: `${r.namespace}_${r.name}.${issuer.hash.slice(0, 8)}`, hash };
    certificates.push(c);
    bySecret.set(secretKey, c);
    const have = issued?.get(c.storeName);
    const st = issued?.state(c.storeName);
    status[r.id] = {
      // cert-manager's conditions: Ready (a valid certificate is served), Issuing (False with the
      // reason after a failed issuance or renewal attempt).
      conditions: [
        have ? cond('Ready', true, 'Ready', `serving serial ${have.serialNumber}, valid until ${have.notAfter.toISOString()}`, gen(r))
          : cond('Ready', false, st?.reason ?? 'Pending', st?.message ?? 'not issued yet', gen(r)),
        ...(st ? [cond('Issuing', false, st.reason, st.message, gen(r))] : []),
      ],
    };
  }
  return { certificates, bySecret };
}

function analyzeIssuer(r: Resource<IssuerT>, report: Report, secrets: ReadonlyMap<string, Resource<SecretT>>): IssuerIR | null {
  const spec = r.doc.spec;
  const kinds = (['ca', 'acme', 'static'] as const).filter((k) => spec[k] !== undefined);
  if (kinds.length !== 1) {
    report(r, ['spec'], kinds.length ? `an Issuer is one of ca, acme or static, not ${kinds.join(' and ')}` : 'an Issuer needs ca, acme or static', 'keep exactly one');
    return null;
  }
  const type = kinds[0];
  const base = { id: r.id, namespace: r.namespace, name: r.name, type };
  let ok = true;
  const bad = (p: (string | number)[], m: string, h: string) => { report(r, ['spec', ...p], m, h); ok = false; };
  if (type === 'ca') {
    const c = spec.ca!;
    const days = (d: string | undefined, p: string) => {
      if (d === undefined) return undefined;
      const n = goDurationMs(d) / DAY;
      if (n < 1) bad(['ca', p], `${p} ${d} is shorter than a day`, 'use hours, e.g. 87600h for ten years');
      return n;
    };
    const rootValidityDays = days(c.rootValidity, 'rootValidity');
    const intermediateValidityDays = days(c.intermediateValidity, 'intermediateValidity');
    if (rootValidityDays && intermediateValidityDays && intermediateValidityDays >= rootValidityDays) bad(['ca', 'intermediateValidity'], 'the intermediate would outlive the root', 'make intermediateValidity shorter than rootValidity');
    if (intermediateValidityDays !== undefined && intermediateValidityDays < 91) bad(['ca', 'intermediateValidity'], 'the intermediate must outlive the longest leaf (90 days) by a margin', 'use at least 2184h (91 days)');
    let key: KeySpec | undefined;
    const pk = c.privateKey;
    if (pk) {
      if ((pk.algorithm ?? 'ECDSA') === 'ECDSA') {
        if (pk.size !== undefined && pk.size !== 256 && pk.size !== 384) bad(['ca', 'privateKey', 'size'], `ECDSA size ${pk.size} is not supported`, 'use 256 or 384');
        key = { type: 'ecdsa', curve: pk.size === 384 ? 'P-384' : 'P-256' };
      } else {
        if (pk.size !== undefined && ![2048, 3072, 4096].includes(pk.size)) bad(['ca', 'privateKey', 'size'], `RSA size ${pk.size} is not supported`, 'use 2048, 3072 or 4096');
        key = { type: 'rsa', bits: (pk.size ?? 3072) as 2048 | 3072 | 4096 };
      }
    }
    if (!ok) return null;
    const ca = { ...(c.commonName ? { commonName: c.commonName } : {}), ...(rootValidityDays ? { rootValidityDays } : {}), ...(intermediateValidityDays ? { intermediateValidityDays } : {}), ...(key ? { key } : {}) };
    return { ...base, ca, hash: sha(JSON.stringify(['ca', r.id, ca])) };
  }
  if (type === 'static') {
    const dir = path.dirname(path.resolve(r.src.file));
    const s = { certFile: path.resolve(dir, spec.static!.certFile), keyFile: path.resolve(dir, spec.static!.keyFile) };
    return { ...base, static: s, hash: sha(JSON.stringify(['static', r.id, s])) };
  }
  const a = spec.acme!;
  let url: URL | undefined;
  try { url = new URL(a.server); } catch { /* reported below */ }
  if (!url || url.protocol !== 'https:') bad(['acme', 'server'], `"${a.server}" is not an https URL`, 'use the ACME directory URL, e.g. https://acme-v02.api.letsencrypt.org/directory');
  let caBundle: string | undefined;
  if (a.caBundle) {
    caBundle = a.caBundle.includes('-----BEGIN') ? a.caBundle : Buffer.from(a.caBundle, 'base64').toString('utf8');
    if (!caBundle.includes('-----BEGIN CERTIFICATE-----')) bad(['acme', 'caBundle'], 'caBundle holds no PEM certificate', 'paste the PEM CA certificates (or their base64)');
  }
  const challenges: ChallengeType[] = [];
  let dns01: NonNullable<IssuerIR['acme']>['dns01'];
  a.solvers.forEach((s, i) => {
    const set = (['http01', 'tlsAlpn01', 'dns01'] as const).filter((k) => s[k] !== undefined);
    if (set.length !== 1) { bad(['acme', 'solvers', i], set.length ? `a solver is one of http01, tlsAlpn01 or dns01, not ${set.join(' and ')}` : 'an empty solver', 'write one solver per list entry, e.g. - http01: {}'); return; }
    const t: ChallengeType = set[0] === 'http01' ? 'http-01' : set[0] === 'tlsAlpn01' ? 'tls-alpn-01' : 'dns-01';
    if (challenges.includes(t)) { bad(['acme', 'solvers', i], `${set[0]} is listed twice`, 'list each solver once'); return; }
    challenges.push(t);
    if (t === 'dns-01') {
      const d = s.dns01!;
      if ((d.exec ? 1 : 0) + (d.webhook ? 1 : 0) !== 1) { bad(['acme', 'solvers', i, 'dns01'], 'dns01 needs exactly one of exec or webhook', 'add exec: { command: [/usr/local/bin/dns-hook] } or webhook: { url: https://... }'); return; }
      if (d.webhook) {
        let u: URL | undefined;
        try { u = new URL(d.webhook.url); } catch { /* below */ }
        if (!u || (u.protocol !== 'https:' && u.protocol !== 'http:')) { bad(['acme', 'solvers', i, 'dns01', 'webhook', 'url'], `"${d.webhook.url}" is not an http(s) URL`, 'write the URL of the DNS hook service'); return; }
      }
      if (d.exec && !path.isAbsolute(d.exec.command[0])) { bad(['acme', 'solvers', i, 'dns01', 'exec', 'command', 0], 'the hook program must be an absolute path (no PATH lookup, no shell)', 'write e.g. /usr/local/bin/dns-hook'); return; }
      const hook = d.exec
        ? { type: 'exec' as const, command: d.exec.command[0], args: d.exec.command.slice(1), ...(d.exec.timeout ? { timeoutMs: goDurationMs(d.exec.timeout) } : {}) }
        : { type: 'webhook' as const, url: d.webhook!.url, ...(d.webhook!.timeout ? { timeoutMs: goDurationMs(d.webhook!.timeout) } : {}) };
      dns01 = { hook, ...(d.propagationDelay ? { propagationDelayMs: goDurationMs(d.propagationDelay) } : {}) };
    }
  });
  let eab: { keyID: string; hmacKey: Secret<string> } | undefined;
  if (a.externalAccountBinding) {
    const ref = a.externalAccountBinding.keySecretRef;
    const sec = secrets.get(`Secret/${r.namespace}/${ref.name}`);
    const k = ref.key ?? 'secret';
    const v = sec?.doc.stringData?.[k] ?? (sec?.doc.data?.[k] !== undefined ? Buffer.from(sec.doc.data[k], 'base64').toString('utf8') : undefined);
    if (!sec) bad(['acme', 'externalAccountBinding', 'keySecretRef', 'name'], `Secret ${r.namespace}/${ref.name} not found`, 'define a Secret holding the HMAC key your CA gave you');
    else if (!v) bad(['acme', 'externalAccountBinding', 'keySecretRef', 'key'], `Secret ${r.namespace}/${ref.name} has no entry "${k}"`, 'put the HMAC key (base64url, as the CA gives it) under that entry');
    else eab = { keyID: a.externalAccountBinding.keyID, hmacKey: new Secret(v.trim()) };
  }
  if (!ok) return null;
  const acme = { server: a.server, ...(a.email ? { email: a.email } : {}), ...(caBundle ? { caBundle } : {}), ...(eab ? { eab } : {}), challenges, ...(dns01 ? { dns01 } : {}) };
  return { ...base, acme, hash: sha(JSON.stringify(['acme', r.id, { ...acme, eab: eab ? { keyID: eab.keyID, hmac: sha(eab.hmacKey.reveal()) } : undefined }])) };
}

/**
 * A listener certificateRef that names a Certificate's secretName: the issued chain and key, or
 * why there is none yet. undefined when no Certificate writes that name (a plain Secret then).
 */
export function resolveManagedRef(certs: CertificatesIR, issued: IssuedLookup | undefined, namespace: string, secretName: string): { cert: string; key: string; ref: string } | { pending: string } | undefined {
  const c = certs.bySecret.get(`${namespace}/${secretName}`);
  if (!c) return undefined;
  const have = issued?.get(c.storeName);
  if (have) return { cert: have.chainPem, key: have.keyPem, ref: `${namespace}/${secretName}` };
  const st = issued?.state(c.storeName);
  return { pending: `Certificate ${c.namespace}/${c.name} is not issued yet${st ? `: ${st.message}` : ''}` };
}

/** Serials of the issued certificates in use: part of the Runtime version, so a renewal is a new version. */
export function issuedFingerprint(certs: CertificatesIR | undefined, issued: IssuedLookup | undefined): string | undefined {
  if (!certs?.certificates.length) return undefined;
  return certs.certificates.map((c) => `${c.storeName}=${issued?.get(c.storeName)?.serialNumber ?? '-'}`).join(',');
}

function sha(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}
