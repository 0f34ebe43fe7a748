// The gateway's certificate service: long-lived (like the pool and health registries, it outlives
// config reloads). For the current set of Certificate resources it runs src/pki's
// CertificateManager (stored certificate reused, else issued; renewal at a fraction of the
// lifetime with jitter; retries with backoff), keeps the issued chains and keys in memory for the
// compiler (IssuedLookup), and asks the gateway to rebuild its Runtime when one changes: the new
// Runtime's TLS contexts serve the new certificate to new handshakes, open connections keep
// theirs, and the TLS ticket keys are unchanged, so sessions still resume.
//
// State directory (--state-dir): keys/ (private keys, AES-256-GCM, 0600, master key from
// PORTCULLIS_KEY_ENCRYPTION_KEY or PORTCULLIS_KEY_ENCRYPTION_KEY_FILE), certs/ (issued chains),
// ca/ (the built-in CAs' root and intermediate certificates). A restart reuses what is stored.
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { Counter } from 'prom-client';
import type { Logger } from 'pino';
import type { Metrics } from '../observability/metrics.ts';
import { AcmeIssuer, Http01Store, TlsAlpn01Store, HTTP01_PATH_PREFIX } from '../pki/acme.ts';
import { InternalCA, type CertificateIssuer, type CertificateRequest, type IssuedCertificate } from '../pki/ca.ts';
import { KeyStore, loadEncryptionKey } from '../pki/keystore.ts';
import { CertificateManager, matchesRequest } from '../pki/manager.ts';
import { backoffDelay, type BackoffPolicy, type RenewalFailedEvent } from '../pki/renewal.ts';
import { StaticFileIssuer } from '../pki/static.ts';
import { PkiError } from '../pki/errors.ts';
import { CertificateStore } from '../pki/store.ts';
import { backdateMs, type CertificateIR, type CertificatesIR, type IssuedLookup, type IssuerIR } from './config.ts';

export interface CertificateServiceOptions {
  /** Where keys and certificates are kept; without it Certificates stay pending (reported in their status). */
  readonly stateDir?: string;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** An issued certificate (or a Certificate's state) changed: rebuild the Runtime. */
  readonly onChange: () => void;
  /**
   * 'manage' (default): issue, renew, persist. 'load': only read what another process (the
   * primary of a multi-worker gateway) stored, at every reload; never talk to a CA.
   */
  readonly mode?: 'manage' | 'load';
  /** Retry policy of failed issuance and renewals (default 30 s doubling up to 1 h). */
  readonly backoff?: BackoffPolicy;
  /**
   * Multi-worker gateways: the primary ('manage', no listeners) also writes pending HTTP-01
   * tokens to <stateDir>/acme-http01/, and workers ('load') answer from there.
   */
  readonly shareChallenges?: boolean;
  /** Hold issuance until resume() (a primary waits for the workers that answer challenges). */
  readonly paused?: boolean;
}

const TOKEN_RE = /^[A-Za-z0-9_-]{1,256}$/;

/** An Http01Store that also writes each pending token to a directory other processes read. */
class SharedHttp01Store extends Http01Store {
  readonly #dir: string;
  constructor(dir: string) { super(); this.#dir = dir; }
  override set(token: string, keyAuthorization: string): void {
    super.set(token, keyAuthorization); // validates the token
    fs.mkdirSync(this.#dir, { recursive: true, mode: 0o700 });
    const tmp = path.join(this.#dir, `.${token}.${process.pid}.tmp`);
    fs.writeFileSync(tmp, keyAuthorization, { mode: 0o644 });
    fs.renameSync(tmp, path.join(this.#dir, token));
  }
  override delete(token: string): void {
    super.delete(token);
    if (TOKEN_RE.test(token)) fs.rmSync(path.join(this.#dir, token), { force: true });
  }
}

interface Held { readonly chainPem: string; readonly keyPem: string; readonly serialNumber: string; readonly notAfter: Date }
interface Managed { readonly ir: CertificateIR; readonly mgr: CertificateManager; timer?: NodeJS.Timeout; stopped: boolean; attempt: number }
interface Stores { readonly keystore: KeyStore; readonly store: CertificateStore }

const FAILURES_METRIC = 'portcullis_certificate_renewal_failures_total';
/** An issuance that takes longer counts as failed (and is retried), as a renewal attempt does in src/pki. */
const ATTEMPT_TIMEOUT_MS = 10 * 60_000;
/** The built-in CA's default longest leaf (90 days): the intermediate must outlive it. */
const INTERMEDIATE_MIN_LEFT_MS = 90 * 86_400_000;

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    t = setTimeout(() => reject(new PkiError('PCS_ERR_RENEWAL', `${what} took longer than ${Math.round(ms / 1000)} s`)), ms);
    t.unref();
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(t));
}

export class CertificateService implements IssuedLookup {
  /** Pending HTTP-01 challenges, answered by the gateway's HTTP listeners (see answerHttp01). */
  readonly http01: Http01Store;
  /** 'load' mode with shared challenges: where the primary writes HTTP-01 tokens. */
  readonly sharedChallengeDir?: string;
  /** Pending TLS-ALPN-01 challenges (library-level; see docs/certificates.md). */
  readonly tlsAlpn01 = new TlsAlpn01Store();
  readonly #o: CertificateServiceOptions;
  readonly #issued = new Map<string, Held>();
  readonly #states = new Map<string, { reason: string; message: string }>();
  readonly #managed = new Map<string, Managed>();
  readonly #issuers = new Map<string, Promise<CertificateIssuer>>();
  #stores: Promise<Stores> | null = null;
  #changeTimer: NodeJS.Timeout | null = null;
  #stopped = false;
  #paused: boolean;
  #lastIr: CertificatesIR | undefined;
  /** Bumped by every change of a Certificate's state (what the status shows). */
  #stateVersion = 0;
  readonly #failures: Counter<'certificate' | 'issuer'>;

  constructor(o: CertificateServiceOptions) {
    this.#o = o;
    this.#paused = o.paused === true;
    const dir = o.stateDir ? path.join(o.stateDir, 'acme-http01') : undefined;
    this.http01 = dir && o.shareChallenges && o.mode !== 'load' ? new SharedHttp01Store(dir) : new Http01Store();
    if (dir && o.mode === 'load') this.sharedChallengeDir = dir;
    this.#failures = (o.metrics.registry.getSingleMetric(FAILURES_METRIC) as Counter<'certificate' | 'issuer'> | undefined)
      ?? new Counter({ name: FAILURES_METRIC, help: 'Failed certificate issuance and renewal attempts, by Certificate and Issuer (each also logs an alert).', labelNames: ['certificate', 'issuer'] as const, registers: [o.metrics.registry] });
  }

  // ---- IssuedLookup (read by semantic analysis on every build)
  get(storeName: string): Held | undefined { return this.#issued.get(storeName); }
  state(storeName: string): { reason: string; message: string } | undefined { return this.#states.get(storeName); }

  /**
   * Before a build: load stored certificates that are not in memory yet (a restart serves them at
   * once instead of issuing again). In 'load' mode every stored certificate is read again, since
   * the primary may have renewed it. Resolves true when something new was loaded or a
   * Certificate's state changed (build again, so the status shows it).
   */
  async prepare(ir: CertificatesIR | undefined): Promise<boolean> {
    if (!ir?.certificates.length) return false;
    const states = this.#stateVersion;
    const stores = await this.#openStores(ir.certificates);
    if (!stores) return this.#stateVersion !== states;
    let changed = false;
    const now = Date.now();
    for (const c of ir.certificates) {
      const held = this.#issued.get(c.storeName);
      if (held && this.#o.mode !== 'load') continue;
      try {
        const cert = await stores.store.load(c.storeName);
        if (!cert || cert.notAfter.getTime() <= now || cert.notBefore.getTime() > now || !matchesRequest(cert, toRequest(c))) continue;
        if (held?.serialNumber === cert.serialNumber) continue;
        this.#hold(c, cert);
        changed = true;
      } catch (err) {
        this.#setState(c, 'StoreError', `the stored certificate cannot be used: ${(err as Error).message}`);
        this.#o.logger.error({ certificate: c.id, code: (err as { code?: string }).code, error: (err as Error).message }, 'stored certificate refused');
      }
    }
    return changed || this.#stateVersion !== states;
  }

  /** After a build is applied: manage exactly the Certificates of the config. Never blocks. */
  sync(ir: CertificatesIR | undefined): void {
    if (this.#stopped) return;
    this.#lastIr = ir;
    const want = new Map((ir?.certificates ?? []).map((c) => [c.storeName, c]));
    for (const [name, m] of this.#managed) {
      if (want.get(name)?.hash === m.ir.hash) continue;
      this.#stopManaged(m);
      this.#managed.delete(name);
      if (!want.has(name)) { this.#issued.delete(name); this.#states.delete(name); }
    }
    for (const name of [...this.#issued.keys()]) if (!want.has(name)) { this.#issued.delete(name); this.#states.delete(name); }
    if (this.#o.mode === 'load' || this.#paused) return;
    for (const c of want.values()) {
      if (this.#managed.has(c.storeName)) continue;
      void this.#start(c);
    }
  }

  /** Start issuing (after `paused`). */
  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.sync(this.#lastIr);
  }

  /** The body of a pending HTTP-01 challenge for `url`, or undefined (route the request as usual). */
  answerHttp01(url: string): string | undefined {
    if (!url.startsWith(HTTP01_PATH_PREFIX)) return undefined;
    const own = this.http01.handleHttp01(url);
    if (own !== undefined || !this.sharedChallengeDir) return own;
    const token = url.split('?')[0].slice(HTTP01_PATH_PREFIX.length);
    if (!TOKEN_RE.test(token)) return undefined;
    try { return fs.readFileSync(path.join(this.sharedChallengeDir, token), 'utf8'); } catch { return undefined; }
  }

  /** Managed certificates, for the admin API and `certs list`. */
  status(): { certificate: string; issuer: string; serialNumber?: string; notAfter?: string; state?: string }[] {
    return [...this.#managed.values()].map((m) => {
      const h = this.#issued.get(m.ir.storeName);
      const st = this.#states.get(m.ir.storeName);
      return { certificate: m.ir.id, issuer: m.ir.issuer.id, ...(h ? { serialNumber: h.serialNumber, notAfter: h.notAfter.toISOString() } : {}), ...(st ? { state: `${st.reason}: ${st.message}` } : {}) };
    });
  }

  stop(): void {
    this.#stopped = true;
    for (const m of this.#managed.values()) this.#stopManaged(m);
    this.#managed.clear();
    if (this.#changeTimer) clearTimeout(this.#changeTimer);
  }

  // ---- internals

  async #openStores(certs: readonly CertificateIR[]): Promise<Stores | null> {
    const dir = this.#o.stateDir;
    if (!dir) {
      for (const c of certs) this.#setState(c, 'NoStateDirectory', 'the gateway runs without a state directory (--state-dir), so it cannot keep keys');
      return null;
    }
    this.#stores ??= (async () => {
      const keystore = await KeyStore.open({ dir: path.join(dir, 'keys'), encryptionKey: await loadEncryptionKey() });
      return { keystore, store: new CertificateStore({ certDir: path.join(dir, 'certs'), keystore }) };
    })();
    try {
      return await this.#stores;
    } catch (err) {
      this.#stores = null; // try again at the next reload (a key file may have been fixed)
      const e = err as Error & { code?: string };
      let changed = false;
      for (const c of certs) changed = this.#setState(c, 'KeyStoreUnavailable', `${e.message} (private keys are only stored encrypted)`) || changed;
      if (changed) this.#o.logger.error({ code: e.code, error: e.message }, 'certificate key store unavailable: Certificates cannot be issued; set PORTCULLIS_KEY_ENCRYPTION_KEY or PORTCULLIS_KEY_ENCRYPTION_KEY_FILE');
      return null;
    }
  }

  async #start(c: CertificateIR): Promise<void> {
    const stores = await this.#openStores([c]);
    if (!stores || this.#stopped || this.#managed.has(c.storeName)) return;
    // Jitter (spreads renewals of many certificates) only moves a renewal earlier: at most 5% of
    // the lifetime and at most a tenth of the time to the renewal point, so a small
    // renewAtFraction is not swallowed by it.
    const mgr = new CertificateManager({ store: stores.store, renewFraction: c.renewFraction, jitterFraction: Math.min(0.05, c.renewFraction / 10), backoff: this.#o.backoff });
    const m: Managed = { ir: c, mgr, stopped: false, attempt: 0 };
    this.#managed.set(c.storeName, m);
    mgr.onCertificate((_name, cert) => { if (!m.stopped) this.#hold(c, cert, true); });
    mgr.on('renewal_failed', (ev: RenewalFailedEvent) => { if (!m.stopped) this.#alert(c, ev.error, ev.attempt, ev.nextRetryAt, ev.notAfter); });
    mgr.on('scheduled', (ev: { at: Date }) => this.#o.logger.info({ certificate: c.id, at: ev.at.toISOString() }, 'certificate renewal scheduled'));
    mgr.on('renewed', (ev: { serialNumber: string; notAfter: Date }) => this.#o.logger.info({ certificate: c.id, issuer: c.issuer.id, serialNumber: ev.serialNumber, notAfter: ev.notAfter.toISOString() }, 'certificate renewed'));
    mgr.on('expiring', (ev: { notAfter: Date; expired: boolean }) => this.#o.logger.warn({ certificate: c.id, issuer: c.issuer.id, notAfter: ev.notAfter.toISOString(), expired: ev.expired }, ev.expired ? 'certificate expired' : 'certificate expiring and not renewed yet'));
    await this.#ensure(m, stores);
  }

  /** First issuance (or load); on failure retried with backoff, each failure an alert. */
  async #ensure(m: Managed, stores: Stores): Promise<void> {
    const c = m.ir;
    try {
      const issuer = await this.#issuerFor(c, stores);
      if (m.stopped) return;
      await m.mgr.ensure({ name: c.storeName, issuer, request: toRequest(c) });
      m.attempt = 0;
    } catch (err) {
      if (m.stopped) return;
      m.attempt++;
      const delay = backoffDelay(m.attempt, this.#o.backoff);
      this.#alert(c, err as Error, m.attempt, new Date(Date.now() + delay));
      m.timer = setTimeout(() => { void this.#ensure(m, stores); }, delay);
      m.timer.unref();
    }
  }

  #issuerFor(c: CertificateIR, stores: Stores): Promise<CertificateIssuer> {
    const i = c.issuer;
    // A static issuer remembers the last file it served (to notice one nobody replaced), and the
    // renewal point it checks against is the Certificate's: one per Certificate.
    const key = i.type === 'static' ? `${i.hash}:${c.storeName}:${c.renewFraction}` : i.hash;
    let p = this.#issuers.get(key);
    if (!p) {
      p = this.#createIssuer(i, c, stores).then((inner) => ({ issue: (req: CertificateRequest) => withTimeout(inner.issue(req), ATTEMPT_TIMEOUT_MS, `issuing from ${i.id}`) }));
      p.catch(() => this.#issuers.delete(key));
      this.#issuers.set(key, p);
    }
    return p;
  }

  async #createIssuer(i: IssuerIR, c: CertificateIR, { keystore }: Stores): Promise<CertificateIssuer> {
    const dir = this.#o.stateDir!;
    if (i.type === 'ca') {
      const ca = await InternalCA.open({ keystore, certDir: path.join(dir, 'ca'), name: `ca-${i.namespace}_${i.name}`, ...i.ca });
      this.#o.logger.info({ issuer: i.id, root: path.join(dir, 'ca', `ca-${i.namespace}_${i.name}-root.pem`) }, 'built-in CA ready');
      // A gateway that runs for months: replace the intermediate before it gets shorter than the
      // longest leaf (open() does the same at start).
      let rotating: Promise<void> | null = null;
      const fresh = async () => {
        if (ca.intermediate.cert.notAfter.getTime() - Date.now() >= INTERMEDIATE_MIN_LEFT_MS) return;
        rotating ??= ca.rotateIntermediate().then(() => this.#o.logger.info({ issuer: i.id }, 'built-in CA intermediate replaced')).finally(() => { rotating = null; });
        await rotating;
      };
      // Backdate each leaf a little for clock skew (at most a tenth of its lifetime, so 30 s
      // test certificates work), keeping notAfter = now + duration.
      return {
        issue: async (req: CertificateRequest) => {
          await fresh();
          const life = req.lifetimeMs ?? 86_400_000;
          const back = backdateMs(life);
          return ca.issue({ ...req, notBefore: new Date(Date.now() - back), lifetimeMs: life + back });
        },
      };
    }
    if (i.type === 'static') return new StaticFileIssuer({ ...i.static!, renewFraction: c.renewFraction });
    const a = i.acme!;
    return AcmeIssuer.create({
      directoryUrl: a.server,
      keystore,
      // One ACME account per Issuer (and server and binding), as cert-manager keeps one per
      // Issuer: two Issuers never share (and re-register) one account key.
      accountKeyName: `acme-account-${createHash('sha256').update(`${i.id}\0${a.server}\0${a.eab?.keyID ?? ''}`).digest('hex').slice(0, 24)}`,
      ...(a.email ? { email: a.email } : {}),
      // Like Caddy and cert-manager: configuring an ACME issuer is agreeing to its terms.
      termsOfServiceAgreed: true,
      ...(a.challenges.includes('http-01') ? { http01: this.http01 } : {}),
      ...(a.challenges.includes('tls-alpn-01') ? { tlsAlpn01: this.tlsAlpn01 } : {}),
      ...(a.dns01 ? { dns01: a.dns01 } : {}),
      ...(a.eab ? { externalAccountBinding: { kid: a.eab.keyID, hmacKey: a.eab.hmacKey } } : {}),
      challengePriority: [...a.challenges],
      ...(a.caBundle ? { caCertificates: a.caBundle } : {}),
      polling: { attempts: 12, minMs: 500, maxMs: 8_000 },
    });
  }

  #hold(c: CertificateIR, cert: IssuedCertificate, fresh = false): void {
    const prev = this.#issued.get(c.storeName);
    if (prev?.serialNumber === cert.serialNumber) return;
    this.#issued.set(c.storeName, { chainPem: cert.chainPem, keyPem: cert.keyPem.reveal(), serialNumber: cert.serialNumber, notAfter: cert.notAfter });
    this.#states.delete(c.storeName);
    this.#o.logger.info({ certificate: c.id, issuer: c.issuer.id, serialNumber: cert.serialNumber, notBefore: cert.notBefore.toISOString(), notAfter: cert.notAfter.toISOString(), source: fresh ? 'issuer' : 'state directory' }, prev ? 'certificate replaced' : fresh ? 'certificate issued' : 'certificate loaded');
    this.#changed();
  }

  /** A failed issuance or renewal: an alert (security event log line + counter), and the status says why. */
  #alert(c: CertificateIR, err: Error, attempt: number, nextRetryAt: Date, notAfter?: Date): void {
    const e = err as Error & { code?: string };
    this.#failures.inc({ certificate: c.id, issuer: c.issuer.id });
    this.#o.metrics.securityEvents.inc({ kind: 'certificate-renewal-failed' });
    const held = this.#issued.get(c.storeName);
    this.#o.logger.error({
      msg: 'security event',
      type: 'certificate-renewal-failed',
      severity: 'alert',
      certificate: c.id,
      issuer: c.issuer.id,
      issuerType: c.issuer.type,
      code: e.code ?? 'PCS_ERR_RENEWAL',
      error: e.message,
      attempt,
      nextRetryAt: nextRetryAt.toISOString(),
      ...(notAfter ?? held?.notAfter ? { notAfter: (notAfter ?? held!.notAfter).toISOString() } : {}),
      serving: held ? held.serialNumber : null,
    });
    this.#setState(c, held ? 'RenewalFailed' : 'IssuanceFailed', `attempt ${attempt} failed (${e.code ?? 'error'}: ${e.message}); next try ${nextRetryAt.toISOString()}`);
    this.#changed();
  }

  #setState(c: CertificateIR, reason: string, message: string): boolean {
    const prev = this.#states.get(c.storeName);
    if (prev?.reason === reason && prev.message === message) return false;
    this.#states.set(c.storeName, { reason, message });
    this.#stateVersion++;
    return true;
  }

  #stopManaged(m: Managed): void {
    m.stopped = true;
    m.mgr.stop();
    if (m.timer) clearTimeout(m.timer);
  }

  /** Coalesce changes (several certificates issued at once) into one rebuild. */
  #changed(): void {
    if (this.#stopped || this.#changeTimer) return;
    this.#changeTimer = setTimeout(() => { this.#changeTimer = null; this.#o.onChange(); }, 50);
    this.#changeTimer.unref();
  }
}

function toRequest(c: CertificateIR): CertificateRequest {
  const r = c.request;
  return {
    ...(r.commonName ? { commonName: r.commonName } : {}),
    dnsNames: [...r.dnsNames], ipAddresses: [...r.ipAddresses], uris: [...r.uris],
    key: r.key, usages: [...r.usages],
    ...(r.lifetimeMs !== undefined ? { lifetimeMs: r.lifetimeMs } : {}),
  };
}
