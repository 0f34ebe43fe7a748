/**
 * Renewal scheduler: renews each managed certificate at two thirds of its lifetime (minus a
 * bounded jitter so that a fleet does not renew in lock step), retries failures with exponential
 * backoff, and reports through events:
 *
 * - `scheduled`      { id, at }                              next attempt armed
 * - `renewed`        { id, serialNumber, notBefore, notAfter, attempts }
 * - `renewal_failed` { id, error, attempt, nextRetryAt, notAfter, severity: 'alert' }  (every failure)
 * - `expiring`       { id, notAfter, msLeft, expired }       when a certificate is inside its
 *                                                            expiring window and not yet renewed
 *
 * After a successful renewal the `onSwap` hook receives the new certificate and key, e.g. to call
 * `tlsServer.setSecureContext()` (see createSecureContextSwap): open connections keep the context
 * they were accepted with, new handshakes get the new certificate. Time, timers and randomness are
 * injectable (Clock, random) so that tests run instantly and deterministically.
 */
import { EventEmitter } from 'node:events';
import type tls from 'node:tls';
import type { IssuedCertificate } from './ca.ts';
import { PkiError } from './errors.ts';

export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  now(): number;
  setTimer(fn: () => void, ms: number): TimerHandle;
}

/** Wall clock; timers are unref'd so a scheduler never keeps a process alive by itself. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return { cancel: () => clearTimeout(t) };
  },
};

/** A clock for tests: time moves only when `advance` is called; due timers fire in order. */
export class ManualClock implements Clock {
  #now: number;
  #timers: Array<{ at: number; seq: number; fn: () => void }> = [];
  #seq = 0;
  constructor(start: number | Date = Date.now()) {
    this.#now = typeof start === 'number' ? start : start.getTime();
  }
  now(): number {
    return this.#now;
  }
  setTimer(fn: () => void, ms: number): TimerHandle {
    const t = { at: this.#now + Math.max(0, ms), seq: this.#seq++, fn };
    this.#timers.push(t);
    return { cancel: () => (this.#timers = this.#timers.filter((x) => x !== t)) };
  }
  /** Number of armed timers and the time of the earliest. */
  get pending(): { count: number; next?: number } {
    const next = this.#timers.reduce<number | undefined>((m, t) => (m === undefined || t.at < m ? t.at : m), undefined);
    return { count: this.#timers.length, next };
  }
  /** Move time forward by `ms`, firing every timer that falls due (including ones armed meanwhile). */
  async advance(ms: number): Promise<void> {
    const target = this.#now + Math.max(0, ms); // time never goes backwards
    for (;;) {
      const due = this.#timers.filter((t) => t.at <= target).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.#timers = this.#timers.filter((t) => t !== due);
      this.#now = Math.max(this.#now, due.at);
      due.fn();
      await new Promise((r) => setImmediate(r));
    }
    this.#now = target;
  }
  /** Jump to an absolute time. */
  advanceTo(t: number | Date): Promise<void> {
    return this.advance((typeof t === 'number' ? t : t.getTime()) - this.#now);
  }
}

export interface Validity {
  notBefore: Date;
  notAfter: Date;
}

export interface RenewalPolicy {
  /** Fraction of the lifetime after which to renew (default 2/3). */
  renewFraction?: number;
  /** Maximum jitter as a fraction of the lifetime; the renewal moves earlier by up to this (default 0.05). */
  jitterFraction?: number;
  /** Absolute cap of the jitter (default 6 h). */
  maxJitterMs?: number;
}

/**
 * When to renew: notBefore + lifetime * renewFraction - jitter, where
 * jitter = random() * min(lifetime * jitterFraction, maxJitterMs). Jitter only moves the time
 * earlier, so renewal never happens later than the policy point.
 */
export function computeRenewalTime(v: Validity, policy: RenewalPolicy = {}, random: () => number = Math.random): Date {
  const fraction = policy.renewFraction ?? 2 / 3;
  if (!(fraction > 0 && fraction < 1)) throw new PkiError('PCS_ERR_RENEWAL', `renewFraction must be between 0 and 1, got ${fraction}`);
  const nb = v.notBefore.getTime();
  const lifetime = v.notAfter.getTime() - nb;
  if (!(lifetime > 0)) throw new PkiError('PCS_ERR_RENEWAL', 'certificate lifetime must be positive (notAfter after notBefore)');
  const maxJitter = Math.min(lifetime * (policy.jitterFraction ?? 0.05), policy.maxJitterMs ?? 6 * 3600_000);
  const r = Math.min(Math.max(random(), 0), 1);
  return new Date(Math.round(nb + lifetime * fraction - r * maxJitter));
}

export interface BackoffPolicy {
  /** First retry delay (default 30 s). */
  initialMs?: number;
  /** Cap (default 1 h). */
  maxMs?: number;
  /** Growth factor (default 2). */
  factor?: number;
}

/** Delay before retry number `attempt` (1-based): initial * factor^(attempt-1), capped, minus up to 10% jitter. */
export function backoffDelay(attempt: number, b: BackoffPolicy = {}, random: () => number = Math.random): number {
  const initial = b.initialMs ?? 30_000;
  const max = b.maxMs ?? 3600_000;
  const factor = b.factor ?? 2;
  const d = Math.min(max, initial * factor ** Math.max(0, attempt - 1));
  return Math.round(d * (1 - 0.1 * Math.min(Math.max(random(), 0), 1)));
}

export type RenewFn = (id: string, current: Validity) => Promise<IssuedCertificate>;
export type SwapFn = (id: string, issued: IssuedCertificate) => void | Promise<void>;

export interface RenewalSchedulerOptions extends RenewalPolicy {
  /** Obtains a new certificate (e.g. `(id) => issuer.issue(requests[id])`). */
  renew: RenewFn;
  /** Hot-swap hook, called with each renewed certificate before `renewed` is emitted. */
  onSwap?: SwapFn;
  backoff?: BackoffPolicy;
  /** A renewal attempt that takes longer counts as failed (default 10 min). */
  attemptTimeoutMs?: number;
  /** `expiring` fires when less than this fraction of the lifetime is left (default 1/6, halfway from the renewal point to expiry). */
  expiringFraction?: number;
  clock?: Clock;
  random?: () => number;
}

export interface RenewedEvent {
  id: string;
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
  attempts: number;
}

export interface RenewalFailedEvent {
  id: string;
  severity: 'alert';
  error: Error;
  attempt: number;
  nextRetryAt: Date;
  notAfter: Date;
}

export interface ExpiringEvent {
  id: string;
  notAfter: Date;
  msLeft: number;
  expired: boolean;
}

interface Entry {
  id: string;
  validity: Validity;
  timer?: TimerHandle;
  nextAt?: number;
  attempt: number;
  generation: number;
  inFlight?: Promise<void>;
}

// setTimeout holds at most 2^31-1 ms (~24.8 days); longer waits are re-armed in steps
const MAX_TIMER_MS = 2_147_483_647;

export class RenewalScheduler extends EventEmitter {
  readonly #opts: RenewalSchedulerOptions;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #entries = new Map<string, Entry>();
  #stopped = false;

  constructor(opts: RenewalSchedulerOptions) {
    super();
    this.#opts = opts;
    this.#clock = opts.clock ?? systemClock;
    this.#random = opts.random ?? Math.random;
  }

  /** Manage a certificate (replaces an entry with the same id). Renews at once if already due. */
  add(id: string, validity: Validity): Date {
    this.remove(id);
    const e: Entry = { id, validity: { notBefore: new Date(validity.notBefore), notAfter: new Date(validity.notAfter) }, attempt: 0, generation: 0 };
    this.#entries.set(id, e);
    const at = computeRenewalTime(e.validity, this.#opts, this.#random);
    this.#checkExpiring(e);
    this.#arm(e, at.getTime());
    return at;
  }

  remove(id: string): void {
    const e = this.#entries.get(id);
    if (!e) return;
    e.timer?.cancel();
    e.generation++;
    this.#entries.delete(id);
  }

  /** Stop all timers; in-flight renewals complete but their results are discarded. */
  stop(): void {
    this.#stopped = true;
    for (const id of [...this.#entries.keys()]) this.remove(id);
  }

  /** Time of the next attempt for `id`. */
  nextAttemptAt(id: string): Date | undefined {
    const at = this.#entries.get(id)?.nextAt;
    return at === undefined ? undefined : new Date(at);
  }

  /** Current validity known for every managed certificate, with the next attempt. */
  status(): Array<{ id: string; notBefore: Date; notAfter: Date; nextAttemptAt?: Date; failedAttempts: number }> {
    return [...this.#entries.values()].map((e) => ({
      id: e.id,
      notBefore: e.validity.notBefore,
      notAfter: e.validity.notAfter,
      nextAttemptAt: e.nextAt === undefined ? undefined : new Date(e.nextAt),
      failedAttempts: e.attempt,
    }));
  }

  /** Renew `id` now (e.g. `portcullis certs renew`); resolves when the attempt finished. */
  async renewNow(id: string): Promise<void> {
    const e = this.#entries.get(id);
    if (!e) throw new PkiError('PCS_ERR_RENEWAL', `unknown certificate ${JSON.stringify(id)}`);
    if (e.inFlight) return e.inFlight;
    e.timer?.cancel();
    return this.#run(e);
  }

  #arm(e: Entry, at: number): void {
    e.timer?.cancel();
    e.nextAt = at;
    const gen = e.generation;
    const step = () => {
      if (this.#stopped || e.generation !== gen) return;
      const left = at - this.#clock.now();
      if (left > 0) {
        e.timer = this.#clock.setTimer(step, Math.min(left, MAX_TIMER_MS));
        return;
      }
      void this.#run(e);
    };
    this.emit('scheduled', { id: e.id, at: new Date(at) });
    const delay = at - this.#clock.now();
    e.timer = this.#clock.setTimer(step, Math.min(Math.max(0, delay), MAX_TIMER_MS));
  }

  #checkExpiring(e: Entry): void {
    const nb = e.validity.notBefore.getTime();
    const na = e.validity.notAfter.getTime();
    const msLeft = na - this.#clock.now();
    const threshold = (na - nb) * (this.#opts.expiringFraction ?? 1 / 6);
    if (msLeft < threshold) {
      const ev: ExpiringEvent = { id: e.id, notAfter: e.validity.notAfter, msLeft, expired: msLeft <= 0 };
      this.emit('expiring', ev);
    }
  }

  #run(e: Entry): Promise<void> {
    const gen = e.generation;
    const p = (async () => {
      const attemptNo = e.attempt + 1;
      let issued: IssuedCertificate;
      try {
        issued = await this.#withTimeout(this.#opts.renew(e.id, e.validity));
        if (!(issued.notAfter > issued.notBefore)) throw new PkiError('PCS_ERR_RENEWAL', 'the issuer returned a certificate with an invalid validity');
        if (e.generation !== gen || this.#stopped) return;
        await this.#opts.onSwap?.(e.id, issued);
      } catch (err) {
        if (e.generation !== gen || this.#stopped) return;
        e.attempt = attemptNo;
        const delay = backoffDelay(attemptNo, this.#opts.backoff, this.#random);
        const next = this.#clock.now() + delay;
        const error = err instanceof Error ? err : new Error(String(err));
        const ev: RenewalFailedEvent = { id: e.id, severity: 'alert', error, attempt: attemptNo, nextRetryAt: new Date(next), notAfter: e.validity.notAfter };
        this.#emitSafe('renewal_failed', ev);
        this.#checkExpiring(e);
        this.#arm(e, next);
        return;
      }
      if (e.generation !== gen || this.#stopped) return;
      e.validity = { notBefore: issued.notBefore, notAfter: issued.notAfter };
      e.attempt = 0;
      const ev: RenewedEvent = { id: e.id, serialNumber: issued.serialNumber, notBefore: issued.notBefore, notAfter: issued.notAfter, attempts: attemptNo };
      this.#emitSafe('renewed', ev);
      this.#arm(e, computeRenewalTime(e.validity, this.#opts, this.#random).getTime());
    })().finally(() => {
      if (e.inFlight === p) e.inFlight = undefined;
    });
    e.inFlight = p;
    return p;
  }

  #emitSafe(event: string, payload: unknown): void {
    try {
      this.emit(event, payload);
    } catch {
      // a throwing listener must not stop the scheduler
    }
  }

  #withTimeout<T>(p: Promise<T>): Promise<T> {
    const ms = this.#opts.attemptTimeoutMs ?? 600_000;
    return new Promise<T>((resolve, reject) => {
      const t = this.#clock.setTimer(() => reject(new PkiError('PCS_ERR_RENEWAL', `renewal attempt timed out after ${ms} ms`)), ms);
      p.then(
        (v) => {
          t.cancel();
          resolve(v);
        },
        (err) => {
          t.cancel();
          reject(err);
        },
      );
    });
  }
}

/**
 * A hot-swap hook for one TLS server: replaces its default secure context with the renewed
 * certificate chain and key. Existing connections are untouched; new handshakes use the new
 * certificate; the session ticket keys are carried over, so clients resume their sessions across
 * the swap. `base` carries the other context options (ciphers, minVersion, ca, ...).
 */
export function createSecureContextSwap(server: tls.Server, base: tls.SecureContextOptions = {}): SwapFn {
  return (_id, issued) => {
    const ticketKeys = server.getTicketKeys();
    server.setSecureContext({ ...base, cert: issued.chainPem, key: issued.keyPem.reveal() });
    server.setTicketKeys(ticketKeys);
  };
}
