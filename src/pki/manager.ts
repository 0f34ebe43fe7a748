/**
 * CertificateManager: the piece the config layer wires to `Certificate` resources. For each
 * managed certificate it loads the stored one (or issues a new one when there is none, when it no
 * longer matches the request, or when it is past its renewal point), persists it, schedules its
 * renewal, and tells listeners about every new certificate through `swap` hooks.
 *
 * Events: the scheduler's (`scheduled`, `renewed`, `renewal_failed`, `expiring`) are re-emitted.
 */
import { EventEmitter } from 'node:events';
import { X509Certificate } from 'node:crypto';
import type { CertificateIssuer, CertificateRequest, IssuedCertificate } from './ca.ts';
import { normalizeKeySpec } from './keys.ts';
import { computeRenewalTime, RenewalScheduler, type BackoffPolicy, type Clock, type RenewalPolicy } from './renewal.ts';
import type { CertificateStore } from './store.ts';
import { validateIssued } from './validate.ts';

export interface ManagedCertificateSpec {
  name: string;
  issuer: CertificateIssuer;
  request: CertificateRequest;
}

export interface CertificateManagerOptions extends RenewalPolicy {
  store: CertificateStore;
  backoff?: BackoffPolicy;
  attemptTimeoutMs?: number;
  expiringFraction?: number;
  clock?: Clock;
  random?: () => number;
}

export type CertificateListener = (name: string, cert: IssuedCertificate) => void | Promise<void>;

export interface ManagedStatus {
  name: string;
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
  /** Days until notAfter (fractional), for a days-left gauge. */
  daysLeft: number;
  nextAttemptAt?: Date;
  failedAttempts: number;
}

const sorted = (a: string[] = []) => [...new Set(a.map((s) => s.toLowerCase()))].sort().join(',');

/** Whether a stored certificate still satisfies the request (same names and key type). */
export function matchesRequest(cert: IssuedCertificate, req: CertificateRequest): boolean {
  const x = new X509Certificate(cert.certPem);
  const sans = (x.subjectAltName ?? '').split(', ').filter(Boolean);
  const dns = sans.filter((s) => s.startsWith('DNS:')).map((s) => s.slice(4));
  const ips = sans.filter((s) => s.startsWith('IP Address:')).map((s) => s.slice(11));
  const uris = sans.filter((s) => s.startsWith('URI:')).map((s) => s.slice(4));
  if (sorted(dns) !== sorted(req.dnsNames) || sorted(uris) !== sorted(req.uris)) return false;
  const normIp = (ip: string) => (ip.includes(':') ? ip.toLowerCase() : ip);
  if (sorted(ips.map(normIp)) !== sorted((req.ipAddresses ?? []).map(normIp))) return false;
  const spec = normalizeKeySpec(req.key);
  const d = x.publicKey.asymmetricKeyDetails ?? {};
  if (spec.type === 'ecdsa') return x.publicKey.asymmetricKeyType === 'ec' && d.namedCurve === (spec.curve === 'P-256' ? 'prime256v1' : 'secp384r1');
  return x.publicKey.asymmetricKeyType === 'rsa' && d.modulusLength === spec.bits;
}

export class CertificateManager extends EventEmitter {
  readonly #store: CertificateStore;
  readonly #scheduler: RenewalScheduler;
  readonly #specs = new Map<string, ManagedCertificateSpec>();
  readonly #current = new Map<string, IssuedCertificate>();
  readonly #listeners = new Set<CertificateListener>();
  readonly #opts: CertificateManagerOptions;
  readonly #clock: () => number;

  constructor(opts: CertificateManagerOptions) {
    super();
    this.#opts = opts;
    this.#store = opts.store;
    this.#clock = () => (opts.clock ? opts.clock.now() : Date.now());
    this.#scheduler = new RenewalScheduler({
      ...opts,
      renew: async (name) => {
        const spec = this.#specs.get(name);
        if (!spec) throw new Error(`certificate ${name} is no longer managed`);
        const cert = await spec.issuer.issue(spec.request);
        validateIssued(cert, spec.request, new Date(this.#clock()));
        return cert;
      },
      // persist first, then hand to listeners: what is served is always what is on disk
      onSwap: async (name, cert) => {
        await this.#store.save(name, cert);
        this.#current.set(name, cert);
        await this.#notify(name, cert);
      },
    });
    for (const ev of ['scheduled', 'renewed', 'renewal_failed', 'expiring']) this.#scheduler.on(ev, (p) => this.emit(ev, p));
  }

  /** Called with every certificate that becomes current (first load/issue and each renewal). */
  onCertificate(listener: CertificateListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async #notify(name: string, cert: IssuedCertificate): Promise<void> {
    for (const l of this.#listeners) await l(name, cert);
  }

  /**
   * Start managing `spec`: reuse the stored certificate if it matches the request and is before
   * its renewal point, otherwise issue now. Resolves with the current certificate.
   */
  async ensure(spec: ManagedCertificateSpec): Promise<IssuedCertificate> {
    this.#specs.set(spec.name, spec);
    let cert = await this.#store.load(spec.name);
    const now = this.#clock();
    const usable = cert && matchesRequest(cert, spec.request) && computeRenewalTime(cert, this.#opts, () => 0).getTime() > now && cert.notBefore.getTime() <= now;
    if (!cert || !usable) {
      const stored = cert;
      try {
        cert = await spec.issuer.issue(spec.request);
        validateIssued(cert, spec.request, new Date(now));
        await this.#store.save(spec.name, cert);
      } catch (e) {
        // keep serving a stored certificate that is still valid, and keep retrying in the background
        if (!stored || stored.notAfter.getTime() <= now) throw e;
        this.#current.set(spec.name, stored);
        await this.#notify(spec.name, stored);
        this.#scheduler.add(spec.name, stored);
        void this.#scheduler.renewNow(spec.name).catch(() => {});
        return stored;
      }
    }
    this.#current.set(spec.name, cert);
    await this.#notify(spec.name, cert);
    this.#scheduler.add(spec.name, cert);
    return cert;
  }

  get(name: string): IssuedCertificate | undefined {
    return this.#current.get(name);
  }

  /** Renew now (e.g. `portcullis certs renew NAME`). */
  renewNow(name: string): Promise<void> {
    return this.#scheduler.renewNow(name);
  }

  /** Stop managing `name` (the stored files stay). */
  remove(name: string): void {
    this.#scheduler.remove(name);
    this.#specs.delete(name);
    this.#current.delete(name);
  }

  stop(): void {
    this.#scheduler.stop();
  }

  status(): ManagedStatus[] {
    const sched = new Map(this.#scheduler.status().map((s) => [s.id, s]));
    const now = this.#clock();
    return [...this.#current.entries()].map(([name, c]) => ({
      name,
      serialNumber: c.serialNumber,
      notBefore: c.notBefore,
      notAfter: c.notAfter,
      daysLeft: (c.notAfter.getTime() - now) / 86_400_000,
      nextAttemptAt: sched.get(name)?.nextAttemptAt,
      failedAttempts: sched.get(name)?.failedAttempts ?? 0,
    }));
  }
}
