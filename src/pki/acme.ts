/**
 * ACME issuer on acme-client: account key kept in the encrypted KeyStore; HTTP-01 answered from an
 * in-memory token store that the gateway's HTTP listener consults; TLS-ALPN-01 answered with
 * acme-tls/1 challenge certificates through an SNICallback; DNS-01 through an exec hook or a
 * webhook; external account binding passed through.
 */
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import https from 'node:https';
import tls from 'node:tls';
import * as acme from 'acme-client';
import type { CertificateIssuer, CertificateRequest, IssuedCertificate } from './ca.ts';
import { validateDnsName } from './ca.ts';
import { PkiError } from './errors.ts';
import { generatePrivateKeyPem } from './keys.ts';
import { KEY_ENV_VAR, KEY_FILE_ENV_VAR, type KeyStore } from './keystore.ts';
import { Secret } from './secret.ts';

export const ACME_TLS_ALPN_PROTOCOL = 'acme-tls/1';
export const HTTP01_PATH_PREFIX = '/.well-known/acme-challenge/';
const TOKEN_RE = /^[A-Za-z0-9_-]{1,256}$/;

/** Pending HTTP-01 challenges. The gateway's HTTP listener calls handleHttp01(req.url). */
export class Http01Store {
  readonly #tokens = new Map<string, string>();

  set(token: string, keyAuthorization: string): void {
    if (!TOKEN_RE.test(token)) throw new PkiError('PCS_ERR_ACME_ORDER', 'invalid HTTP-01 token from the ACME server');
    this.#tokens.set(token, keyAuthorization);
  }
  delete(token: string): void {
    this.#tokens.delete(token);
  }
  get size(): number {
    return this.#tokens.size;
  }
  /**
   * The body to answer (as text/plain, status 200) for a request path such as
   * `/.well-known/acme-challenge/<token>`, or undefined when it is not a pending challenge (answer 404).
   */
  handleHttp01(path: string): string | undefined {
    const p = path.split('?')[0];
    if (!p.startsWith(HTTP01_PATH_PREFIX)) return undefined;
    const token = p.slice(HTTP01_PATH_PREFIX.length);
    if (!TOKEN_RE.test(token)) return undefined;
    return this.#tokens.get(token);
  }
}

type SniCallback = (servername: string, cb: (err: Error | null, ctx?: tls.SecureContext) => void) => void;

/**
 * Pending TLS-ALPN-01 challenges (RFC 8737): a self-signed certificate for the name with the
 * critical id-pe-acmeIdentifier extension, served to connections that negotiate `acme-tls/1`.
 *
 * Two ways to serve them:
 * - ALPN-aware (recommended on a shared listener): use `alpnCallback()` as the server's
 *   ALPNCallback and `sniCallback(fallback, { alpnAware: true })`. With TLS 1.3 OpenSSL asks for
 *   the ALPN protocol before the certificate, so only connections that offered `acme-tls/1` for a
 *   pending name get the challenge certificate; ordinary clients are never affected. (A TLS 1.2
 *   validator is not served; ACME CAs validate with TLS 1.3.)
 * - Simple (`sniCallback()`): while a challenge for a name is pending (seconds), every client of
 *   that name gets the challenge certificate. Fine on a listener dedicated to validation or for a
 *   name not yet in service.
 * Close connections whose `alpnProtocol` is `acme-tls/1` once the handshake is done.
 */
export class TlsAlpn01Store {
  readonly #contexts = new Map<string, tls.SecureContext>();
  readonly #certs = new Map<string, string>();
  /** Sockets whose ALPN callback chose acme-tls/1 (TLS 1.3 runs it before the certificate callback). */
  readonly #acmeSockets = new WeakSet<object>();

  async set(domain: string, keyAuthorization: string): Promise<void> {
    const key = await acme.crypto.createPrivateEcdsaKey();
    const authz = { identifier: { type: 'dns', value: domain } } as unknown as acme.Authorization;
    const [, cert] = await acme.crypto.createAlpnCertificate(authz, keyAuthorization, key);
    this.#contexts.set(domain.toLowerCase(), tls.createSecureContext({ key, cert }));
    this.#certs.set(domain.toLowerCase(), cert.toString());
  }
  delete(domain: string): void {
    this.#contexts.delete(domain.toLowerCase());
    this.#certs.delete(domain.toLowerCase());
  }
  get size(): number {
    return this.#contexts.size;
  }
  /** The challenge certificate PEM for a pending name (for inspection and tests). */
  certificateFor(servername: string): string | undefined {
    return this.#certs.get(servername.toLowerCase());
  }
  secureContextFor(servername: string): tls.SecureContext | undefined {
    return this.#contexts.get(servername.toLowerCase());
  }
  /**
   * An SNICallback: the challenge context for a pending name (with `alpnAware`, only on
   * connections whose ALPN callback selected acme-tls/1), otherwise `fallback` (or the server's
   * default context when there is no fallback).
   */
  sniCallback(fallback?: SniCallback, opts: { alpnAware?: boolean } = {}): SniCallback {
    const contexts = this.#contexts;
    const marked = this.#acmeSockets;
    return function (this: unknown, servername, cb) {
      const ctx = contexts.get(servername.toLowerCase());
      if (ctx && (!opts.alpnAware || (typeof this === 'object' && this !== null && marked.has(this)))) cb(null, ctx);
      else if (fallback) fallback.call(this, servername, cb);
      else cb(null, undefined);
    };
  }

  /**
   * An ALPNCallback (tls.createServer option; it replaces ALPNProtocols): selects acme-tls/1 for
   * a pending name when the client offers it, otherwise the first of `protocols` (server
   * preference) the client offers. With no common protocol the handshake is refused
   * (no_application_protocol), as RFC 7301 allows.
   */
  alpnCallback(protocols: string[] = ['h2', 'http/1.1']): (this: unknown, info: { servername: string; protocols: string[] }) => string | undefined {
    const contexts = this.#contexts;
    const marked = this.#acmeSockets;
    return function (this: unknown, info) {
      if (info.protocols.includes(ACME_TLS_ALPN_PROTOCOL) && info.servername && contexts.has(info.servername.toLowerCase())) {
        if (typeof this === 'object' && this !== null) marked.add(this);
        return ACME_TLS_ALPN_PROTOCOL;
      }
      return protocols.find((p) => info.protocols.includes(p));
    };
  }
}

export type Dns01Hook =
  | {
      type: 'exec';
      /** Program to run (no shell). Receives PORTCULLIS_ACME_ACTION (present|cleanup), PORTCULLIS_ACME_DOMAIN, PORTCULLIS_ACME_RECORD_NAME, PORTCULLIS_ACME_RECORD_VALUE. */
      command: string;
      args?: string[];
      env?: Record<string, string>;
      timeoutMs?: number;
    }
  | {
      type: 'webhook';
      /** Receives POST application/json {action, domain, recordName, value}; any 2xx is success. */
      url: string;
      headers?: Record<string, string | Secret<string>>;
      timeoutMs?: number;
    };

export interface Dns01Options {
  hook: Dns01Hook;
  /** Wait after `present` before asking the CA to validate (default 0). */
  propagationDelayMs?: number;
}

export interface Dns01Record {
  action: 'present' | 'cleanup';
  domain: string;
  recordName: string;
  value: string;
}

/** `_acme-challenge.<name>` (a wildcard's `*.` removed). */
export function dns01RecordName(domain: string): string {
  return `_acme-challenge.${domain.replace(/^\*\./, '')}`;
}

/** The gateway's environment minus the key encryption key settings: a hook never sees the master key. */
function hookBaseEnv(): Record<string, string | undefined> {
  const env = { ...process.env };
  delete env[KEY_ENV_VAR];
  delete env[KEY_FILE_ENV_VAR];
  return env;
}

/** Run the configured DNS-01 hook once; throws PCS_ERR_ACME_DNS_HOOK on failure. */
export async function runDns01Hook(hook: Dns01Hook, rec: Dns01Record): Promise<void> {
  const timeout = hook.timeoutMs ?? 60_000;
  if (hook.type === 'exec') {
    await new Promise<void>((resolve, reject) => {
      execFile(
        hook.command,
        hook.args ?? [],
        {
          timeout,
          maxBuffer: 1 << 20,
          env: {
            ...hookBaseEnv(),
            ...hook.env,
            PORTCULLIS_ACME_ACTION: rec.action,
            PORTCULLIS_ACME_DOMAIN: rec.domain,
            PORTCULLIS_ACME_RECORD_NAME: rec.recordName,
            PORTCULLIS_ACME_RECORD_VALUE: rec.value,
          },
        },
        (err, _stdout, stderr) => {
          if (!err) return resolve();
          const why = (err as NodeJS.ErrnoException & { killed?: boolean }).killed ? `timed out after ${timeout} ms` : `failed (${(err as { code?: unknown }).code ?? err.message})`;
          reject(new PkiError('PCS_ERR_ACME_DNS_HOOK', `DNS-01 exec hook ${hook.command} ${rec.action} ${why}: ${String(stderr).trim().slice(-500)}`, { cause: err }));
        },
      );
    });
    return;
  }
  if (hook.type === 'webhook') {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    for (const [k, v] of Object.entries(hook.headers ?? {})) headers[k] = v instanceof Secret ? v.reveal() : v;
    let res: Response;
    try {
      res = await fetch(hook.url, { method: 'POST', headers, body: JSON.stringify(rec), signal: AbortSignal.timeout(timeout) });
    } catch (e) {
      throw new PkiError('PCS_ERR_ACME_DNS_HOOK', `DNS-01 webhook ${rec.action} failed: ${(e as Error).name === 'TimeoutError' ? `timed out after ${timeout} ms` : (e as Error).message}`, { cause: e });
    }
    await res.arrayBuffer().catch(() => undefined);
    if (!res.ok) throw new PkiError('PCS_ERR_ACME_DNS_HOOK', `DNS-01 webhook ${rec.action} answered HTTP ${res.status}`);
    return;
  }
  throw new PkiError('PCS_ERR_ACME_CONFIG', `unknown DNS-01 hook type ${JSON.stringify((hook as { type: unknown }).type)}`);
}

/*
 * DNS-01 authorizations that share a record name (a wildcard and its base name) are serialized:
 * acme-client validates authorizations concurrently, and most DNS hooks replace the TXT record
 * (and clean it up entirely), which would break the other validation. The lock is taken before
 * `present` and released after `cleanup`; acme-client always calls cleanup after present.
 */
const dnsLocks = new Map<string, Promise<void>>();
const dnsReleases = new Map<string, () => void>();

async function lockRecord(recordName: string, id: string): Promise<void> {
  const prev = dnsLocks.get(recordName) ?? Promise.resolve();
  let release!: () => void;
  const mine = new Promise<void>((r) => (release = r));
  const chained = prev.then(() => mine);
  dnsLocks.set(recordName, chained);
  dnsReleases.set(`${recordName} ${id}`, () => {
    release();
    if (dnsLocks.get(recordName) === chained) dnsLocks.delete(recordName);
  });
  await prev;
}

function unlockRecord(recordName: string, id: string): void {
  const key = `${recordName} ${id}`;
  const r = dnsReleases.get(key);
  dnsReleases.delete(key);
  r?.();
}

export type ChallengeType = 'http-01' | 'tls-alpn-01' | 'dns-01';

export interface AcmeIssuerOptions {
  /** ACME directory, e.g. acme-client's `directory.letsencrypt.production`. */
  directoryUrl: string;
  keystore: KeyStore;
  /** KeyStore entry of the account key (default derived from the directory URL). Created (ECDSA P-256) if missing. */
  accountKeyName?: string;
  email?: string;
  termsOfServiceAgreed?: boolean;
  externalAccountBinding?: { kid: string; hmacKey: string | Secret<string> };
  http01?: Http01Store;
  tlsAlpn01?: TlsAlpn01Store;
  dns01?: Dns01Options;
  /** Order of preference among the configured solvers (default http-01, tls-alpn-01, dns-01). */
  challengePriority?: ChallengeType[];
  /** Extra CA certificates (PEM) to trust for the ACME server's HTTPS (private ACME CAs, Pebble). */
  caCertificates?: string | string[];
  /** Preferred chain by issuer common name. */
  preferredChain?: string;
  /** Status polling of orders and authorizations (acme-client backoff; default 10 attempts, 5 s..30 s). */
  polling?: { attempts?: number; minMs?: number; maxMs?: number };
  /** Let acme-client fetch the challenge itself before asking the CA (default false: the gateway may not reach its own public name). */
  verifyChallengesLocally?: boolean;
}

// acme-client uses one shared axios instance; HTTPS trust is attached per ACME server origin.
const agentsByOrigin = new Map<string, https.Agent>();
let interceptorInstalled = false;
function trustForOrigin(directoryUrl: string, ca: string[]): void {
  agentsByOrigin.set(new URL(directoryUrl).origin, new https.Agent({ ca: [...tls.rootCertificates, ...ca], keepAlive: true }));
  if (interceptorInstalled) return;
  interceptorInstalled = true;
  acme.axios.interceptors.request.use((config) => {
    try {
      const agent = config.url ? agentsByOrigin.get(new URL(config.url).origin) : undefined;
      if (agent) config.httpsAgent = agent;
    } catch {
      // relative or malformed URL: leave the default agent
    }
    return config;
  });
}

function keyNameFor(directoryUrl: string): string {
  const u = new URL(directoryUrl);
  return `acme-account-${(u.host + u.pathname).replace(/[^A-Za-z0-9.-]+/g, '_').replace(/^[^A-Za-z0-9]+/, '').slice(0, 100)}`;
}

export class AcmeIssuer implements CertificateIssuer {
  readonly #opts: AcmeIssuerOptions;
  readonly #client: acme.Client;
  readonly accountKeyName: string;

  private constructor(opts: AcmeIssuerOptions, client: acme.Client, accountKeyName: string) {
    this.#opts = opts;
    this.#client = client;
    this.accountKeyName = accountKeyName;
  }

  /** Load (or create and store) the account key and prepare the client. No network yet. */
  static async create(opts: AcmeIssuerOptions): Promise<AcmeIssuer> {
    let url: URL;
    try {
      url = new URL(opts.directoryUrl);
    } catch {
      throw new PkiError('PCS_ERR_ACME_CONFIG', `invalid ACME directory URL ${JSON.stringify(opts.directoryUrl)}`);
    }
    if (url.protocol !== 'https:') throw new PkiError('PCS_ERR_ACME_CONFIG', 'the ACME directory URL must use https');
    if (!opts.http01 && !opts.tlsAlpn01 && !opts.dns01) throw new PkiError('PCS_ERR_ACME_CONFIG', 'configure at least one challenge solver (http01, tlsAlpn01, dns01)');
    const name = opts.accountKeyName ?? keyNameFor(opts.directoryUrl);
    let accountKey: Secret<string>;
    if (await opts.keystore.has(name)) accountKey = await opts.keystore.getString(name);
    else {
      accountKey = await generatePrivateKeyPem({ type: 'ecdsa', curve: 'P-256' });
      await opts.keystore.put(name, accountKey);
    }
    if (opts.caCertificates) trustForOrigin(opts.directoryUrl, Array.isArray(opts.caCertificates) ? opts.caCertificates : [opts.caCertificates]);
    const eab = opts.externalAccountBinding;
    const client = new acme.Client({
      directoryUrl: opts.directoryUrl,
      accountKey: accountKey.reveal(),
      ...(eab ? { externalAccountBinding: { kid: eab.kid, hmacKey: eab.hmacKey instanceof Secret ? eab.hmacKey.reveal() : eab.hmacKey } } : {}),
      // only defined values: acme-client spreads options over its defaults
      ...(opts.polling?.attempts !== undefined ? { backoffAttempts: opts.polling.attempts } : {}),
      ...(opts.polling?.minMs !== undefined ? { backoffMin: opts.polling.minMs } : {}),
      ...(opts.polling?.maxMs !== undefined ? { backoffMax: opts.polling.maxMs } : {}),
    });
    return new AcmeIssuer(opts, client, name);
  }

  /** The account URL, once an order has registered the account. */
  get accountUrl(): string | undefined {
    try {
      return this.#client.getAccountUrl();
    } catch {
      return undefined;
    }
  }

  /**
   * A stored account key may already have an account (a restart): look it up first. Otherwise
   * acme-client registers again with `{termsOfServiceAgreed}` only, gets "account exists" and
   * turns that into an empty account update, which Pebble (RFC 8555 §7.3.2) refuses when no
   * email is configured. When there is no account, auto() registers one.
   */
  async #findExistingAccount(): Promise<void> {
    if (this.accountUrl) return;
    try {
      await this.#client.createAccount({ onlyReturnExisting: true });
    } catch {
      // accountDoesNotExist (or a transient error): auto() registers (and reports errors)
    }
  }

  /**
   * Order a certificate for `req.dnsNames` (IP and URI SANs are not supported over ACME here).
   * The lifetime is the CA's choice. Throws PCS_ERR_ACME_ORDER with the CA's reason on failure.
   */
  async issue(req: CertificateRequest): Promise<IssuedCertificate> {
    const names = (req.dnsNames ?? []).map((d) => d.trim().toLowerCase());
    if (names.length === 0) throw new PkiError('PCS_ERR_CA_BAD_REQUEST', 'an ACME certificate needs at least one DNS name');
    if (req.ipAddresses?.length || req.uris?.length) throw new PkiError('PCS_ERR_CA_BAD_REQUEST', 'IP and URI SANs are not supported by the ACME issuer');
    names.forEach(validateDnsName);
    const o = this.#opts;
    const available: ChallengeType[] = [...(o.http01 ? ['http-01' as const] : []), ...(o.tlsAlpn01 ? ['tls-alpn-01' as const] : []), ...(o.dns01 ? ['dns-01' as const] : [])];
    const priority = (o.challengePriority ?? ['http-01', 'tls-alpn-01', 'dns-01']).filter((c) => available.includes(c));
    if (priority.length === 0) throw new PkiError('PCS_ERR_ACME_CONFIG', 'challengePriority names no configured solver');
    const keyPem = await generatePrivateKeyPem(req.key);
    const [, csr] = await acme.crypto.createCsr({ commonName: names[0], altNames: names }, keyPem.reveal());
    let chain: string;
    try {
      await this.#findExistingAccount();
      chain = await this.#client.auto({
        csr,
        email: o.email,
        termsOfServiceAgreed: o.termsOfServiceAgreed ?? false,
        challengePriority: priority,
        skipChallengeVerification: !(o.verifyChallengesLocally ?? false),
        preferredChain: o.preferredChain,
        challengeCreateFn: async (authz, challenge, keyAuthorization) => {
          const domain = authz.identifier.value;
          const type = challenge.type as string;
          if (type === 'http-01' && 'token' in challenge) o.http01!.set(challenge.token, keyAuthorization);
          else if (type === 'tls-alpn-01') await o.tlsAlpn01!.set(domain, keyAuthorization);
          else if (type === 'dns-01') {
            await lockRecord(dns01RecordName(domain), keyAuthorization);
            await runDns01Hook(o.dns01!.hook, { action: 'present', domain, recordName: dns01RecordName(domain), value: keyAuthorization });
            if (o.dns01!.propagationDelayMs) await new Promise((r) => setTimeout(r, o.dns01!.propagationDelayMs));
          } else throw new PkiError('PCS_ERR_ACME_ORDER', `unsupported challenge type ${type}`);
        },
        challengeRemoveFn: async (authz, challenge, keyAuthorization) => {
          const domain = authz.identifier.value;
          const type = challenge.type as string;
          if (type === 'http-01' && 'token' in challenge) o.http01?.delete(challenge.token);
          else if (type === 'tls-alpn-01') o.tlsAlpn01?.delete(domain);
          else if (type === 'dns-01' && o.dns01) {
            try {
              await runDns01Hook(o.dns01.hook, { action: 'cleanup', domain, recordName: dns01RecordName(domain), value: keyAuthorization });
            } finally {
              unlockRecord(dns01RecordName(domain), keyAuthorization);
            }
          }
        },
      });
    } catch (e) {
      if (e instanceof PkiError) throw e;
      throw new PkiError('PCS_ERR_ACME_ORDER', `ACME order for ${names.join(', ')} failed: ${(e as Error).message}`, { cause: e });
    }
    const pems = acme.crypto.splitPemChain(chain);
    if (pems.length === 0) throw new PkiError('PCS_ERR_ACME_ORDER', 'the ACME server returned no certificate');
    const leaf = new X509Certificate(pems[0]);
    return {
      certPem: pems[0].trim() + '\n',
      chainPem: pems.map((p) => p.trim() + '\n').join(''),
      keyPem,
      serialNumber: leaf.serialNumber.toLowerCase(),
      notBefore: leaf.validFromDate,
      notAfter: leaf.validToDate,
    };
  }
}
