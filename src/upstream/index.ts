/**
 * Portcullis upstream toolkit: load balancers (Selector), active health checks, passive outlier
 * detection, panic threshold, a health registry that survives config swaps, retry policy and
 * budget, circuit breakers, and undici connection pools. See README.md in this folder.
 */
export type { Endpoint, PickContext, Selector, RandomSource, Rng } from './types.ts';
export { makeEndpoint, seededRandom, FastRandom, toRng } from './types.ts';
export { UpstreamError, type UpstreamErrorCode } from './errors.ts';
export { hash32, fmix32, rehash32 } from './hash.ts';

export {
  createSelector, SELECTOR_KINDS, RoundRobinSelector, RandomSelector, LeastRequestSelector, RingHashSelector, MaglevSelector,
  WeightedPicker, checkEndpoints, isPrime,
} from './balancers/index.ts';
export type { SelectorKind, SelectorOptions, RingHashOptions, MaglevOptions } from './balancers/index.ts';

export { ActiveHealthChecker, HttpProbe, TcpProbe, parseStatusRanges } from './health.ts';
export type { Probe, ProbeResult, StatusMatcher, HttpProbeOptions, ActiveHealthCheckOptions, HealthChangeEvent } from './health.ts';

export { OutlierDetector } from './outlier.ts';
export type { OutlierOptions, OutlierChangeEvent, OutlierStats } from './outlier.ts';

export { ALL_ELIGIBLE, DEFAULT_PANIC_THRESHOLD_PERCENT, isPanic, withPanicThreshold } from './panic.ts';

export { HealthRegistry, BackendHealth, healthKey } from './health-registry.ts';
export type { BackendHealthOptions, ActiveCheckSpec, EndpointHealthStatus, EndpointHealthEvent } from './health-registry.ts';

export {
  RetryPolicy, RetryBudget, CircuitBreaker, classifyError, CircuitBreakerRegistry, isRejection, IDEMPOTENT_METHODS, RETRY_CONDITIONS, BREAKER_RESOURCES,
} from './resilience.ts';
export type {
  RetryCondition, RetryPolicyOptions, AttemptOutcome, RetryInput, RetryDecision, RetryRefusal, RetryBudgetOptions,
  BreakerResource, BreakerRejectReason, BreakerRejection, Release, CircuitBreakerLimits, CircuitBreakerStats,
} from './resilience.ts';

export { PoolRegistry } from './pool.ts';
export type { PoolOptions, UpstreamTlsOptions } from './pool.ts';

export { SessionPersistence, isSessionHit } from './session.ts';
export type { SessionPersistenceOptions, ResolvedSession, SessionMiss } from './session.ts';

export { compileHashKey, cookieValue } from './hash-key.ts';
export type { HashKeySource, HashKeyExtractor, HeaderBag } from './hash-key.ts';
