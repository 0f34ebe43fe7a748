import type { Endpoint, RandomSource, Selector } from '../types.ts';
import { UpstreamError } from '../errors.ts';
import { RoundRobinSelector } from './round-robin.ts';
import { RandomSelector } from './random.ts';
import { LeastRequestSelector } from './least-request.ts';
import { RingHashSelector } from './ring-hash.ts';
import { MaglevSelector } from './maglev.ts';

export { RoundRobinSelector, RandomSelector, LeastRequestSelector, RingHashSelector, MaglevSelector };
export { WeightedPicker, checkEndpoints } from './common.ts';
export { isPrime } from './maglev.ts';
export type { RingHashOptions } from './ring-hash.ts';
export type { MaglevOptions } from './maglev.ts';

export const SELECTOR_KINDS = ['round-robin', 'random', 'least-request', 'ring-hash', 'maglev'] as const;
export type SelectorKind = (typeof SELECTOR_KINDS)[number];

export interface SelectorOptions {
  /** Random source; inject a seeded one in tests. Default: a FastRandom seeded from the OS. */
  random?: RandomSource;
  /** least-request: candidates drawn per pick (Envoy choice_count). Default 2. */
  choiceCount?: number;
  /** ring-hash: virtual nodes of the lightest endpoint (others proportional). Default 256. */
  pointsPerEndpoint?: number;
  /** ring-hash: Envoy maximum_ring_size. Default 8388608. */
  maxRingSize?: number;
  /** maglev: table size, a prime. Default 65537. */
  tableSize?: number;
}

/** Builds a Selector of the given kind over a fixed endpoint list (validated; throws UpstreamError). */
export function createSelector(kind: SelectorKind, endpoints: readonly Endpoint[], options: SelectorOptions = {}): Selector {
  const random = options.random;
  switch (kind) {
    case 'round-robin':
      return new RoundRobinSelector(endpoints, random);
    case 'random':
      return new RandomSelector(endpoints, random);
    case 'least-request':
      return new LeastRequestSelector(endpoints, random, options.choiceCount ?? 2);
    case 'ring-hash':
      return new RingHashSelector(endpoints, { pointsPerEndpoint: options.pointsPerEndpoint, maxRingSize: options.maxRingSize }, random);
    case 'maglev':
      return new MaglevSelector(endpoints, { tableSize: options.tableSize }, random);
    default:
      throw new UpstreamError('PCS_ERR_UPSTREAM_UNKNOWN_BALANCER', `unknown load balancer kind: ${String(kind)}`);
  }
}
