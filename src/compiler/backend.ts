// A Backend as the request path sees it: its endpoints, its balancer, and the long-lived state it
// shares with earlier configs (health, circuit breaker, connection pools) — looked up here, but
// only (re)configured after the new Runtime is swapped in (see Gateway.apply), so a refused config
// changes nothing. Policy fields are translated to the src/upstream option objects here, once.
import {
  CircuitBreaker, RetryPolicy, compileHashKey, createSelector,
  type ActiveCheckSpec, type BackendHealth, type BackendHealthOptions, type CircuitBreakerLimits, type CircuitBreakerRegistry,
  type HashKeyExtractor, type HealthRegistry, type PoolOptions, type UpstreamTlsOptions, type RetryPolicyOptions, type Selector, type SelectorKind,
} from '../upstream/index.ts';
import type { BackendIR } from '../config/semantic.ts';
import type { WafCache } from './waf.ts';
import { durationMs } from '../config/semantic.ts';
import type { BackendRuntime, EndpointRuntime } from '../runtime/runtime.ts';

/** Long-lived registries the compiler may look state up in (absent for `validate`/golden tests). */
export interface CompileContext {
  readonly health?: HealthRegistry;
  readonly breakers?: CircuitBreakerRegistry;
  /** HMAC key for session-persistence tokens; shared by workers, kept across restarts. */
  readonly sessionKey?: Uint8Array;
  /** Compiled WAF rule sets, reused across reloads. */
  readonly wafCache?: WafCache;
}

const ALWAYS = () => true;

/**
 * Defaults when no BackendTrafficPolicy says otherwise:
 * - retries: up to 3 attempts on connect failures and resets, idempotent methods only once the
 *   request reached the upstream (nginx's `proxy_next_upstream error timeout`, Envoy's retry
 *   policy shape); never on a 5xx unless configured.
 * - passive health: 5 consecutive connect failures eject an endpoint for 10 s (growing), at most
 *   half the endpoints (nginx's max_fails/fail_timeout idea with Envoy's mechanics). 5xx
 *   responses do not eject unless configured.
 */
export const DEFAULT_RETRY: RetryPolicyOptions = { maxAttempts: 3, retryOn: ['connect-failure', 'reset'] };
export const DEFAULT_OUTLIER = { consecutive5xx: 0, consecutiveConnectFailures: 5, baseEjectionTimeMs: 10_000, maxEjectionTimeMs: 300_000, maxEjectionPercent: 50 };

export function compileBackend(b: BackendIR, endpoints: readonly EndpointRuntime[], ctx: CompileContext): BackendRuntime {
  const spec = b.policy?.spec;
  const lb = spec?.loadBalancer;
  let kind: SelectorKind = 'round-robin';
  let hashKey: HashKeyExtractor | undefined;
  if (lb?.type === 'Random') kind = 'random';
  else if (lb?.type === 'LeastRequest') kind = 'least-request';
  else if (lb?.type === 'ConsistentHash' && lb.consistentHash) {
    const ch = lb.consistentHash;
    kind = ch.algorithm === 'RingHash' ? 'ring-hash' : 'maglev';
    hashKey = compileHashKey(ch.type === 'SourceIP' ? { type: 'source-ip' } : ch.type === 'Header' ? { type: 'header', name: ch.header!.name } : { type: 'cookie', name: ch.cookie!.name });
  }
  const selector: Selector = createSelector(kind, endpoints);

  const hc = spec?.healthCheck;
  const p = hc?.passive;
  const healthOptions: BackendHealthOptions = {
    panicThresholdPercent: hc?.panicThreshold ?? 50,
    outlier: {
      ...DEFAULT_OUTLIER,
      ...(p?.consecutive5XxErrors !== undefined ? { consecutive5xx: p.consecutive5XxErrors } : {}),
      ...(p?.consecutiveLocalOriginFailures !== undefined ? { consecutiveConnectFailures: p.consecutiveLocalOriginFailures } : {}),
      ...(p?.baseEjectionTime ? { baseEjectionTimeMs: durationMs(p.baseEjectionTime) } : {}),
      ...(p?.maxEjectionTime ? { maxEjectionTimeMs: durationMs(p.maxEjectionTime) } : {}),
      ...(p?.maxEjectionPercent !== undefined ? { maxEjectionPercent: p.maxEjectionPercent } : {}),
      ...(p?.interval ? { intervalMs: durationMs(p.interval) } : {}),
    },
  };
  const tls = upstreamTls(b);
  const a = hc?.active;
  const common = a && {
    ...(a.interval ? { intervalMs: durationMs(a.interval) } : {}),
    ...(a.timeout ? { timeoutMs: durationMs(a.timeout) } : {}),
    ...(a.healthyThreshold ? { healthyThreshold: a.healthyThreshold } : {}),
    ...(a.unhealthyThreshold ? { unhealthyThreshold: a.unhealthyThreshold } : {}),
  };
  // Behind a BackendTLSPolicy an HTTP check speaks TLS with the traffic's settings (same CA, name
  // checks and client certificate) and sends the policy hostname as Host unless told otherwise; a
  // TCP check only opens a connection, which sends nothing. A policy that failed runs no check at
  // all: a cleartext probe is exactly what it forbids.
  const activeCheck: ActiveCheckSpec | undefined = !a || tls === null ? undefined : a.type === 'TCP' ? { kind: 'tcp', ...common } : {
    kind: 'http', ...common, path: a.http!.path, ...(a.http!.method ? { method: a.http!.method } : {}),
    ...(a.http!.hostname ? { host: a.http!.hostname } : tls?.servername ? { host: tls.servername } : {}),
    ...(a.http!.expectedStatuses ? { expectedStatuses: a.http!.expectedStatuses } : {}),
    ...(tls ? { tls } : {}),
  };

  const r = spec?.retry;
  const retry = new RetryPolicy(r ? {
    maxAttempts: (r.numRetries ?? 2) + 1,
    retryOn: (r.retryOn?.triggers ?? (r.retryOn?.httpStatusCodes?.length ? ['connect-failure', 'reset', 'retriable-status-codes'] : DEFAULT_RETRY.retryOn)) as RetryPolicyOptions['retryOn'],
    retriableStatuses: r.retryOn?.httpStatusCodes ?? [],
    ...(r.perRetry?.backOff?.baseInterval ? { backoffBaseMs: durationMs(r.perRetry.backOff.baseInterval) } : {}),
    ...(r.perRetry?.backOff?.maxInterval ? { backoffMaxMs: durationMs(r.perRetry.backOff.maxInterval) } : {}),
  } : DEFAULT_RETRY);

  const cb = spec?.circuitBreaker;
  const breakerLimits: CircuitBreakerLimits = {
    ...(cb?.maxConnections ? { maxConnections: cb.maxConnections } : {}),
    ...(cb?.maxPendingRequests ? { maxPendingRequests: cb.maxPendingRequests } : {}),
    ...(cb?.maxParallelRequests ? { maxRequests: cb.maxParallelRequests } : {}),
    ...(cb?.maxParallelRetries ? { maxRetries: cb.maxParallelRetries } : {}),
    // Retries in flight are capped by a budget (Envoy's retry_budget) rather than Envoy's fixed 3:
    // the common cause of a burst of retries is one endpoint dying with requests in flight, and
    // every one of those retries succeeds elsewhere. Half the active requests (at least 10) may
    // be retries; that still stops a retry storm from doubling the load.
    retryBudget: { budgetPercent: r?.budgetPercent ?? 50, minRetryConcurrency: 10 },
  };
  const base: PoolOptions = {
    connections: cb?.maxConnections ? Math.max(1, Math.ceil(cb.maxConnections / Math.max(1, endpoints.length))) : 256,
    keepAliveTimeoutMs: spec?.timeout?.idle ? durationMs(spec.timeout.idle) : 30_000,
    connectTimeoutMs: spec?.timeout?.connect ? durationMs(spec.timeout.connect) : 5_000,
    headersTimeoutMs: 0, // the route's timeouts govern; 0 leaves it to them (and to the 60 s default below)
    bodyTimeoutMs: 0,
  };
  // HTTP/2 to the upstream: over cleartext appProtocol h2c means prior knowledge; behind TLS it
  // means offering h2 by ALPN (the server may still pick http/1.1). Otherwise TLS offers only
  // http/1.1, so WebSocket upgrades keep working. gRPC always needs HTTP/2.
  const h2: PoolOptions = tls ? { allowH2: true } : { h2c: true };
  if (tls) base.tls = tls;
  const poolOptions: PoolOptions = Object.freeze({ ...base, ...(b.appProtocol === 'h2c' ? h2 : {}) });
  // gRPC needs HTTP/2 to the upstream whatever the Backend says (trailers, streaming).
  const grpcPoolOptions: PoolOptions = b.appProtocol === 'h2c' ? poolOptions : Object.freeze({ ...base, ...h2 });

  const health: BackendHealth | undefined = ctx.health?.backend(b.id);
  const breaker: CircuitBreaker = ctx.breakers?.get(b.id) ?? new CircuitBreaker(breakerLimits);
  const noKey = {};
  return {
    id: b.id,
    endpoints,
    selector,
    hashKey,
    health,
    healthOptions,
    activeCheck,
    retry,
    breaker,
    breakerLimits,
    poolOptions,
    grpcPoolOptions,
    pick: tls === null ? () => undefined : (key?: string, exclude?: ReadonlySet<string>) => {
      const base = health ? health.eligibility() : ALWAYS;
      const eligible = exclude ? (e: EndpointRuntime) => !exclude.has(e.id) && base(e) : base;
      return selector.pick(key === undefined ? noKey : { hashKey: key }, eligible as (e: unknown) => boolean) as EndpointRuntime | undefined;
    },
  };
}

/**
 * The BackendTLSPolicy of a Backend as pool options: undefined for cleartext, null when the policy
 * is invalid (the Backend fails closed: no endpoint is ever picked, no check is run).
 */
function upstreamTls(b: BackendIR): UpstreamTlsOptions | undefined | null {
  const t = b.tls;
  if (!t) return undefined;
  if ('error' in t) return null;
  return Object.freeze({
    servername: t.servername,
    ...(t.ca !== undefined ? { ca: t.ca } : {}),
    ...(t.clientCertificate ? { cert: t.clientCertificate.cert, key: t.clientCertificate.key } : {}),
    ...(t.subjectAltNames.length ? { subjectAltNames: t.subjectAltNames } : {}),
    minVersion: t.minVersion,
    rejectUnauthorized: true,
  });
}
