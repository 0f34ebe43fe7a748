/**
 * Resilience: when to retry (RetryPolicy), how many retries may run at once (RetryBudget), and how
 * much load one Backend may carry (CircuitBreaker). Defaults mirror Envoy's route retry policy and
 * cluster circuit breakers.
 */
import type { RandomSource } from './types.ts';
import { UpstreamError, checkNumber } from './errors.ts';

/** Methods that may be retried after the request reached the upstream (RFC 9110 §9.2.2, plus TRACE). */
export const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

/** Conditions that may trigger a retry (names after Envoy's retry_on). */
export type RetryCondition =
  /** Connecting failed or timed out: the request never reached the upstream. */
  | 'connect-failure'
  /** The connection was reset/closed before any response byte arrived. */
  | 'reset'
  /** 502, 503 or 504 from the upstream. */
  | 'gateway-error'
  /** A status listed in `retriableStatuses`. */
  | 'retriable-status-codes'
  /** The per-try timeout fired before response headers. */
  | 'per-try-timeout';

export const RETRY_CONDITIONS: readonly RetryCondition[] = ['connect-failure', 'reset', 'gateway-error', 'retriable-status-codes', 'per-try-timeout'];

export interface RetryPolicyOptions {
  /** Total attempts including the first. Default 3 (Gateway API `attempts` + 1). 1 disables retries. */
  maxAttempts?: number;
  /** Default connect-failure, reset, gateway-error (plus retriable-status-codes when statuses are given). */
  retryOn?: readonly RetryCondition[];
  /** Extra statuses to retry on (Envoy retriable_status_codes; Gateway API retry.codes). */
  retriableStatuses?: readonly number[];
  /** Backoff base interval (Envoy base_interval). Default 25 ms. */
  backoffBaseMs?: number;
  /** Backoff cap (Envoy max_interval). Default 10 × base. */
  backoffMaxMs?: number;
  /** Random source for jitter. Default Math.random. */
  random?: RandomSource;
}

/** What happened to one attempt. */
export type AttemptOutcome =
  | { readonly kind: 'connect-failure' }
  | { readonly kind: 'reset'; readonly responseStarted: boolean; readonly requestSent?: boolean }
  | { readonly kind: 'status'; readonly status: number }
  | { readonly kind: 'per-try-timeout'; readonly responseStarted?: boolean };

export interface RetryInput {
  readonly method: string;
  /** 1-based number of the attempt that just ended. */
  readonly attempt: number;
  readonly outcome: AttemptOutcome;
  /** False when the request body was streamed and cannot be sent again. Default true. */
  readonly bodyReplayable?: boolean;
}

export type RetryRefusal = 'max-attempts' | 'not-retryable' | 'not-idempotent' | 'response-started' | 'body-not-replayable';
export type RetryDecision = { readonly retry: true; readonly delayMs: number } | { readonly retry: false; readonly reason: RetryRefusal };

export class RetryPolicy {
  readonly maxAttempts: number;
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  private readonly on: ReadonlySet<RetryCondition>;
  /** Index = status; 1 = retry on it. */
  private readonly statusTable = new Uint8Array(600);
  private readonly random: RandomSource;

  constructor(options: RetryPolicyOptions = {}) {
    this.maxAttempts = checkNumber('maxAttempts', options.maxAttempts ?? 3, 1, 100);
    if (!Number.isInteger(this.maxAttempts)) throw new UpstreamError('PCS_ERR_UPSTREAM_INVALID_OPTION', 'maxAttempts must be an integer');
    this.backoffBaseMs = checkNumber('backoffBaseMs', options.backoffBaseMs ?? 25, 0);
    this.backoffMaxMs = checkNumber('backoffMaxMs', options.backoffMaxMs ?? this.backoffBaseMs * 10, this.backoffBaseMs);
    const statuses = options.retriableStatuses ?? [];
    const on = new Set<RetryCondition>(options.retryOn ?? ['connect-failure', 'reset', 'gateway-error', ...(statuses.length > 0 ? ['retriable-status-codes' as const] : [])]);
    for (const c of on) {
      if (!RETRY_CONDITIONS.includes(c)) throw new UpstreamError('PCS_ERR_UPSTREAM_INVALID_OPTION', `unknown retry condition "${String(c)}"`);
    }
    this.on = on;
    if (on.has('gateway-error')) for (const s of [502, 503, 504]) this.statusTable[s] = 1;
    for (const s of statuses) {
      if (!Number.isInteger(s) || s < 100 || s > 599) throw new UpstreamError('PCS_ERR_UPSTREAM_INVALID_OPTION', `retriable status ${s} is not within 100-599`);
      if (on.has('retriable-status-codes')) this.statusTable[s] = 1;
    }
    this.random = options.random ?? Math.random;
  }

  /** Cheap check for the response path: would this status be retried (method/attempt aside)? */
  retryableStatus(status: number): boolean {
    return status >= 0 && status < 600 && this.statusTable[status] === 1;
  }

  /** Decides whether to retry after an attempt, and after how long. */
  decide(input: RetryInput): RetryDecision {
    const o = input.outcome;
    let reachedUpstream = true;
    switch (o.kind) {
      case 'connect-failure':
        if (!this.on.has('connect-failure')) return { retry: false, reason: 'not-retryable' };
        reachedUpstream = false;
        break;
      case 'reset':
        if (!this.on.has('reset')) return { retry: false, reason: 'not-retryable' };
        if (o.responseStarted) return { retry: false, reason: 'response-started' };
        if (o.requestSent === false) reachedUpstream = false;
        break;
      case 'per-try-timeout':
        if (!this.on.has('per-try-timeout')) return { retry: false, reason: 'not-retryable' };
        if (o.responseStarted) return { retry: false, reason: 'response-started' };
        break;
      case 'status':
        if (!this.retryableStatus(o.status)) return { retry: false, reason: 'not-retryable' };
        break;
      default:
        return { retry: false, reason: 'not-retryable' };
    }
    if (reachedUpstream && !IDEMPOTENT_METHODS.has(input.method.toUpperCase())) return { retry: false, reason: 'not-idempotent' };
    if (reachedUpstream && input.bodyReplayable === false) return { retry: false, reason: 'body-not-replayable' };
    if (input.attempt >= this.maxAttempts) return { retry: false, reason: 'max-attempts' };
    return { retry: true, delayMs: this.backoff(input.attempt) };
  }

  /**
   * Exponential backoff with full jitter (AWS architecture blog; Envoy does the same):
   * uniform in [0, min(max, base · 2^(retry-1))] for the retry that follows attempt `attempt`.
   */
  backoff(attempt: number): number {
    const ceiling = Math.min(this.backoffMaxMs, this.backoffBaseMs * 2 ** Math.max(0, attempt - 1));
    return Math.floor(this.random() * (ceiling + 1));
  }
}

/** Socket-level codes meaning "no connection was made", so the request never reached the upstream. */
const CONNECT_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_CLOSED',
]);

/**
 * Maps an error from undici (pool.request / stream / dispatch) to an AttemptOutcome for
 * RetryPolicy.decide and outlier reporting. `responseStarted`: whether response headers had
 * arrived before the error. Returns undefined when the attempt was aborted on purpose (client
 * gone, request timeout): not an upstream failure, never retried.
 * Connect errors and TLS handshake failures (certificate errors) → connect-failure; headers
 * timeout → per-try-timeout; resets, "other side closed", parser errors and anything unknown →
 * reset (the request may have reached the upstream).
 */
export function classifyError(err: unknown, responseStarted = false): AttemptOutcome | undefined {
  const e = err as { code?: unknown; name?: unknown; cause?: unknown } | null | undefined;
  const code = typeof e?.code === 'string' ? e.code : '';
  const name = typeof e?.name === 'string' ? e.name : '';
  if (code === 'UND_ERR_ABORTED' || code === 'UND_ERR_ABORT' || code === 'ABORT_ERR' || name === 'AbortError') return undefined;
  if (CONNECT_CODES.has(code) || code.startsWith('ERR_TLS_') || /^(CERT_|UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED|ERR_SSL_)/.test(code)) {
    return responseStarted ? { kind: 'reset', responseStarted } : CONNECT_FAILURE;
  }
  if (code === 'UND_ERR_HEADERS_TIMEOUT') return { kind: 'per-try-timeout', responseStarted: false };
  if (code === 'UND_ERR_BODY_TIMEOUT') return { kind: 'per-try-timeout', responseStarted: true };
  if (code === '' && e?.cause !== undefined && e.cause !== err) return classifyError(e.cause, responseStarted);
  return { kind: 'reset', responseStarted };
}

const CONNECT_FAILURE: AttemptOutcome = Object.freeze({ kind: 'connect-failure' });

export interface RetryBudgetOptions {
  /** Retries in flight may be at most this percent of active requests (Envoy budget_percent). Default 20. */
  budgetPercent?: number;
  /** Retries always allowed in flight regardless of the percent (Envoy min_retry_concurrency). Default 3. */
  minRetryConcurrency?: number;
}

/** Envoy-style retry budget: retries in flight ≤ max(minRetryConcurrency, budgetPercent% of active requests). */
export class RetryBudget {
  readonly budgetPercent: number;
  readonly minRetryConcurrency: number;

  constructor(options: RetryBudgetOptions = {}) {
    this.budgetPercent = checkNumber('budgetPercent', options.budgetPercent ?? 20, 0, 100);
    this.minRetryConcurrency = checkNumber('minRetryConcurrency', options.minRetryConcurrency ?? 3, 0);
  }

  /** Max retries in flight for this many active requests. */
  limit(activeRequests: number): number {
    return Math.max(this.minRetryConcurrency, Math.floor((activeRequests * this.budgetPercent) / 100));
  }

  /** Whether one more retry may start. */
  allows(activeRequests: number, retriesInFlight: number): boolean {
    return retriesInFlight < this.limit(activeRequests);
  }
}

export type BreakerResource = 'connection' | 'pending' | 'request' | 'retry';
export type BreakerRejectReason = 'max-connections' | 'max-pending-requests' | 'max-requests' | 'max-retries' | 'retry-budget';

export interface BreakerRejection {
  readonly code: 'PCS_ERR_UPSTREAM_OVERFLOW';
  readonly reason: BreakerRejectReason;
}

/** Returned by a successful tryAcquire; call once when the resource is no longer used (extra calls do nothing). */
export type Release = () => void;

export interface CircuitBreakerLimits {
  /** Connections to all endpoints of the backend (Envoy max_connections). Default 1024. */
  maxConnections?: number;
  /** Requests waiting for a connection (Envoy max_pending_requests). Default 1024. */
  maxPendingRequests?: number;
  /** Requests in flight (Envoy max_requests). Default 1024. */
  maxRequests?: number;
  /** Retries in flight (Envoy max_retries). Default 3. Ignored when `retryBudget` is set, as in Envoy. */
  maxRetries?: number;
  /** Retry budget, replaces maxRetries. */
  retryBudget?: RetryBudgetOptions;
}

export interface CircuitBreakerStats {
  readonly active: { connections: number; pending: number; requests: number; retries: number };
  /** Rejections per resource (Envoy upstream_cx_overflow, upstream_rq_pending_overflow, ...). */
  readonly overflow: { connections: number; pending: number; requests: number; retries: number };
  /** Whether a resource is at its limit right now (Envoy circuit_breakers.*.open gauges). */
  readonly open: { connections: boolean; pending: boolean; requests: boolean; retries: boolean };
}

const RESOURCES: readonly BreakerResource[] = ['connection', 'pending', 'request', 'retry'];
const IDX: Record<BreakerResource, number> = { connection: 0, pending: 1, request: 2, retry: 3 };

/**
 * Per-backend circuit breaker (Envoy's, not Hystrix's: it limits concurrency, it does not trip on
 * error rates; outlier detection does that per endpoint). tryAcquire is O(1); counters survive
 * configure() so in-flight requests of the old config are still counted after a swap.
 */
export class CircuitBreaker {
  private readonly active = new Float64Array(4);
  private readonly overflow = new Float64Array(4);
  private readonly limits = new Float64Array(4);
  private budget: RetryBudget | undefined;

  constructor(limits: CircuitBreakerLimits = {}) {
    this.configure(limits);
  }

  configure(limits: CircuitBreakerLimits): void {
    this.limits[0] = checkNumber('maxConnections', limits.maxConnections ?? 1024, 0);
    this.limits[1] = checkNumber('maxPendingRequests', limits.maxPendingRequests ?? 1024, 0);
    this.limits[2] = checkNumber('maxRequests', limits.maxRequests ?? 1024, 0);
    this.limits[3] = checkNumber('maxRetries', limits.maxRetries ?? 3, 0);
    this.budget = limits.retryBudget ? new RetryBudget(limits.retryBudget) : undefined;
  }

  /** Takes one unit of a resource, or says why not. */
  tryAcquire(resource: BreakerResource = 'request'): Release | BreakerRejection {
    const i = IDX[resource];
    if (i === undefined) throw new UpstreamError('PCS_ERR_UPSTREAM_INVALID_OPTION', `unknown circuit breaker resource "${String(resource)}"`);
    if (!this.has(i)) {
      this.overflow[i]++;
      return REJECTIONS[i === 3 && this.budget ? 4 : i];
    }
    this.active[i]++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active[i]--;
    };
  }

  /** Whether tryAcquire(resource) would succeed now. */
  canAcquire(resource: BreakerResource): boolean {
    return this.has(IDX[resource]);
  }

  private has(i: number): boolean {
    if (i === 3 && this.budget) return this.budget.allows(this.active[2] + this.active[1], this.active[3]);
    return this.active[i] < this.limits[i];
  }

  stats(): CircuitBreakerStats {
    const a = this.active;
    const o = this.overflow;
    return {
      active: { connections: a[0], pending: a[1], requests: a[2], retries: a[3] },
      overflow: { connections: o[0], pending: o[1], requests: o[2], retries: o[3] },
      open: { connections: !this.has(0), pending: !this.has(1), requests: !this.has(2), retries: !this.has(3) },
    };
  }
}

const REJECTIONS: readonly BreakerRejection[] = Object.freeze(
  (['max-connections', 'max-pending-requests', 'max-requests', 'max-retries', 'retry-budget'] as const).map((reason) => Object.freeze({ code: 'PCS_ERR_UPSTREAM_OVERFLOW' as const, reason })),
);

/** Narrowing helper: `const r = cb.tryAcquire(); if (isRejection(r)) ... else r()`. */
export function isRejection(r: Release | BreakerRejection): r is BreakerRejection {
  return typeof r !== 'function';
}

/** Circuit breakers by backend name; long-lived across config swaps. */
export class CircuitBreakerRegistry {
  private readonly breakers = new Map<string, CircuitBreaker>();

  /** Get-or-create; limits, if given, are applied (counters carry over). */
  get(backend: string, limits?: CircuitBreakerLimits): CircuitBreaker {
    let b = this.breakers.get(backend);
    if (!b) {
      b = new CircuitBreaker(limits);
      this.breakers.set(backend, b);
    } else if (limits) {
      b.configure(limits);
    }
    return b;
  }

  /** Drops breakers of backends not listed (in-flight releases on a dropped breaker are harmless). */
  retain(backends: Iterable<string>): void {
    const keep = new Set(backends);
    for (const name of this.breakers.keys()) if (!keep.has(name)) this.breakers.delete(name);
  }

  /** Stats of every backend, for metrics. */
  stats(): Map<string, CircuitBreakerStats> {
    return new Map([...this.breakers].map(([n, b]) => [n, b.stats()]));
  }

  names(): string[] {
    return [...this.breakers.keys()];
  }
}

export { RESOURCES as BREAKER_RESOURCES };
