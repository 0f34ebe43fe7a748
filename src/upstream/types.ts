import { getRandomValues } from 'node:crypto';

/**
 * Shared upstream types. An Endpoint is one address:port of a Backend; its `id` is its identity
 * everywhere (health state, outlier state, connection pools) and is always `${address}:${port}`.
 */
export interface Endpoint {
  readonly id: string;
  readonly address: string;
  readonly port: number;
  /** Relative weight; 0 means "configured but never picked". */
  readonly weight: number;
}

/** Per-request input to a Selector. */
export interface PickContext {
  /** Header/cookie/source-ip value for consistent hashing. Absent: hash selectors pick at random. */
  hashKey?: string;
}

/** A load balancer over a fixed endpoint list. `pick` is on the hot path. */
export interface Selector {
  pick(ctx: PickContext, eligible: (e: Endpoint) => boolean): Endpoint | undefined;
  /** Called when a request to `e` starts / ends (used by least-request to track in-flight). */
  onStart?(e: Endpoint): void;
  onEnd?(e: Endpoint): void;
}

/** Builds an Endpoint with the canonical id. */
export function makeEndpoint(address: string, port: number, weight = 1): Endpoint {
  return Object.freeze({ id: `${address}:${port}`, address, port, weight });
}

/** A source of uniformly distributed numbers in [0, 1); injectable for seeded tests. */
export type RandomSource = () => number;

/** The generator the balancers call on the hot path. */
export interface Rng {
  next(): number;
}

/**
 * mulberry32 with its state in a typed array, as a class so V8 inlines next(): no allocation per
 * draw. (Math.random() returns a freshly boxed double on every call in Node 24: measured one minor
 * GC per ~65k calls.) Seeded from the OS CSPRNG unless a seed is given. Not for secrets.
 */
export class FastRandom implements Rng {
  private readonly state = new Uint32Array(1);

  constructor(seed?: number) {
    if (seed === undefined) getRandomValues(this.state);
    else this.state[0] = seed >>> 0;
  }

  next(): number {
    const st = this.state;
    st[0] = (st[0] + 0x6d2b79f5) | 0;
    let t = st[0];
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}

/** The Rng for an optional injected RandomSource: a FastRandom when none is given. */
export function toRng(random: RandomSource | undefined): Rng {
  return random === undefined ? new FastRandom() : { next: random };
}

/** Small, fast, seedable PRNG (mulberry32). Good enough for load balancing and tests. */
export function seededRandom(seed: number): RandomSource {
  const state = new Uint32Array([seed >>> 0]); // typed-array state: no number boxing per call
  return () => {
    state[0] = (state[0] + 0x6d2b79f5) >>> 0;
    let t = state[0];
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
