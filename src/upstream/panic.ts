/**
 * Panic threshold (Envoy healthy_panic_threshold, default 50%): when fewer than that share of a
 * backend's endpoints are healthy, health is ignored and traffic goes to all endpoints, because
 * overloading the few healthy ones would take them down too. 0 disables panic mode.
 */
import type { Endpoint } from './types.ts';

export const DEFAULT_PANIC_THRESHOLD_PERCENT = 50;

/** Predicate that admits every endpoint (used in panic mode). */
export const ALL_ELIGIBLE = (_e: Endpoint): boolean => true;

/** True when healthy/total is below the threshold. An empty set is never in panic. */
export function isPanic(healthy: number, total: number, thresholdPercent = DEFAULT_PANIC_THRESHOLD_PERCENT): boolean {
  if (total <= 0 || thresholdPercent <= 0) return false;
  return healthy * 100 < thresholdPercent * total;
}

/**
 * Counts healthy endpoints once and returns the predicate to pick with: `isHealthy` normally,
 * ALL_ELIGIBLE in panic. O(n); BackendHealth caches the same decision across requests.
 */
export function withPanicThreshold(endpoints: readonly Endpoint[], isHealthy: (e: Endpoint) => boolean, thresholdPercent = DEFAULT_PANIC_THRESHOLD_PERCENT): (e: Endpoint) => boolean {
  let healthy = 0;
  for (const e of endpoints) if (isHealthy(e)) healthy++;
  return isPanic(healthy, endpoints.length, thresholdPercent) ? ALL_ELIGIBLE : isHealthy;
}
