import type { Endpoint, Rng } from '../types.ts';
import { UpstreamError } from '../errors.ts';

/** Copies and validates an endpoint list: unique ids, finite non-negative weights. */
export function checkEndpoints(endpoints: readonly Endpoint[]): readonly Endpoint[] {
  const seen = new Set<string>();
  for (const e of endpoints) {
    if (!e || typeof e.id !== 'string' || e.id === '') {
      throw new UpstreamError('PCS_ERR_UPSTREAM_INVALID_ENDPOINT', 'endpoint without an id');
    }
    if (typeof e.weight !== 'number' || !Number.isFinite(e.weight) || e.weight < 0) {
      throw new UpstreamError('PCS_ERR_UPSTREAM_INVALID_ENDPOINT', `endpoint ${e.id}: weight must be a finite number >= 0`);
    }
    if (seen.has(e.id)) throw new UpstreamError('PCS_ERR_UPSTREAM_INVALID_ENDPOINT', `duplicate endpoint ${e.id}`);
    seen.add(e.id);
  }
  return Object.freeze(endpoints.slice());
}

/** Draws over all endpoints before falling back to a pass over the eligible ones. */
const REJECTION_DRAWS = 8;

/**
 * Weighted random choice over a fixed list, with an eligibility predicate, allocation-free.
 * Rejection sampling: up to 8 draws over all endpoints (binary search on cumulative weights,
 * O(log n)) until one is eligible; if all 8 miss, one draw over the eligible ones only (a linear
 * pass). Both stages are exactly proportional to weight among eligible endpoints, so the mixture
 * is too; the linear pass runs with probability (ineligible weight share)^8.
 */
export class WeightedPicker {
  readonly endpoints: readonly Endpoint[];
  private readonly cumulative: Float64Array;
  private readonly total: number;
  private readonly uniform: boolean;

  constructor(endpoints: readonly Endpoint[]) {
    this.endpoints = endpoints;
    this.cumulative = new Float64Array(endpoints.length);
    let sum = 0;
    let uniform = endpoints.length > 0;
    for (let i = 0; i < endpoints.length; i++) {
      const w = endpoints[i].weight;
      if (w !== endpoints[0].weight || w <= 0) uniform = false;
      sum += w;
      this.cumulative[i] = sum;
    }
    this.total = sum;
    this.uniform = uniform;
  }

  /** Index of a weighted-random eligible endpoint, or -1. */
  pick(rng: Rng, eligible: (e: Endpoint) => boolean): number {
    if (this.total <= 0) return -1;
    const eps = this.endpoints;
    for (let d = 0; d < REJECTION_DRAWS; d++) {
      const u = rng.next();
      let i: number;
      if (this.uniform) {
        i = Math.floor(u * eps.length);
        if (i >= eps.length) i = eps.length - 1;
      } else {
        i = this.search(u * this.total);
      }
      if (eligible(eps[i])) return i;
    }
    return this.pickEligible(rng.next(), eligible);
  }

  /** Deterministic weighted choice among eligible endpoints for a point u in [0, 1); -1 if none. */
  pickEligible(u: number, eligible: (e: Endpoint) => boolean): number {
    const eps = this.endpoints;
    let sum = 0;
    for (let j = 0; j < eps.length; j++) if (eps[j].weight > 0 && eligible(eps[j])) sum += eps[j].weight;
    if (sum <= 0) return -1;
    let x = u * sum;
    let last = -1;
    for (let j = 0; j < eps.length; j++) {
      const w = eps[j].weight;
      if (w <= 0 || !eligible(eps[j])) continue;
      last = j;
      if (x < w) return j;
      x -= w;
    }
    return last; // floating-point rounding at the top end
  }

  /** First index whose cumulative weight exceeds x (skips zero-weight entries). */
  private search(x: number): number {
    const c = this.cumulative;
    let lo = 0;
    let hi = c.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (c[mid] > x) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}
