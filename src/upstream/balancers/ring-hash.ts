import type { Endpoint, PickContext, RandomSource, Rng, Selector } from '../types.ts';
import { toRng } from '../types.ts';
import { UpstreamError } from '../errors.ts';
import { hash32 } from '../hash.ts';
import { checkEndpoints, WeightedPicker } from './common.ts';

export interface RingHashOptions {
  /** Virtual nodes of the lightest endpoint; others get proportionally more. Default 256. */
  pointsPerEndpoint?: number;
  /** Maximum number of points on the ring (Envoy maximum_ring_size, default 8M). */
  maxRingSize?: number;
}

const MAX_ENDPOINTS = 1 << 21; // owner index packed beside a 32-bit hash in a float64 (< 2^53)

/**
 * Ketama-style consistent hashing ring (Envoy RING_HASH). Each endpoint gets virtual nodes in
 * proportion to its weight: the lightest gets `pointsPerEndpoint` (256), an endpoint of k times
 * that weight gets k times as many, and the whole ring is scaled down if it would exceed
 * maxRingSize. Unlike Envoy (which sizes the ring from minimum_ring_size / endpoint count, so
 * removing one endpoint re-draws every other endpoint's points), an endpoint's points depend only
 * on its weight relative to the lightest one: removing an endpoint moves only its own keys, as
 * long as the lightest weight is unchanged. Point j of endpoint `id` sits at hash32(`${id}_${j}`). A key maps to the first point clockwise of hash32(key);
 * if that endpoint is ineligible the walk continues clockwise, so keys of other endpoints never
 * move. pick() is O(log ring) plus the walk past ineligible points; allocation-free.
 * Without a hash key the pick is weighted random (Envoy does the same).
 */
export class RingHashSelector implements Selector {
  readonly endpoints: readonly Endpoint[];
  private readonly hashes: Uint32Array;
  private readonly owners: Uint32Array;
  private readonly picker: WeightedPicker;
  private readonly rng: Rng;

  constructor(endpoints: readonly Endpoint[], options: RingHashOptions = {}, random?: RandomSource) {
    this.endpoints = checkEndpoints(endpoints);
    if (this.endpoints.length > MAX_ENDPOINTS) {
      throw new UpstreamError('PCS_ERR_UPSTREAM_INVALID_OPTION', `ring hash supports at most ${MAX_ENDPOINTS} endpoints`);
    }
    const perEndpoint = options.pointsPerEndpoint ?? 256;
    const maxRing = options.maxRingSize ?? 8 * 1024 * 1024;
    if (!Number.isInteger(perEndpoint) || !Number.isInteger(maxRing) || perEndpoint < 1 || maxRing < 1 || maxRing > 8 * 1024 * 1024) {
      throw new UpstreamError('PCS_ERR_UPSTREAM_INVALID_OPTION', `ring hash needs integers pointsPerEndpoint >= 1 and 1 <= maxRingSize <= 8388608, got ${perEndpoint}, ${maxRing}`);
    }
    this.picker = new WeightedPicker(this.endpoints);
    this.rng = toRng(random);

    let total = 0;
    let minWeight = Infinity;
    for (const e of this.endpoints) {
      if (e.weight <= 0) continue;
      total += e.weight;
      minWeight = Math.min(minWeight, e.weight);
    }
    // Points per unit of weight: the lightest endpoint gets perEndpoint, unless the ring gets too big.
    const perWeight = total > 0 ? Math.min(perEndpoint / minWeight, maxRing / total) : 0;
    const packed: number[] = [];
    for (let i = 0; i < this.endpoints.length; i++) {
      const e = this.endpoints[i];
      if (e.weight <= 0) continue;
      const points = Math.max(1, Math.round(e.weight * perWeight));
      for (let j = 0; j < points; j++) packed.push(hash32(`${e.id}_${j}`) * MAX_ENDPOINTS + i);
    }
    const sorted = Float64Array.from(packed).sort();
    this.hashes = new Uint32Array(sorted.length);
    this.owners = new Uint32Array(sorted.length);
    for (let k = 0; k < sorted.length; k++) {
      const v = sorted[k];
      const owner = v % MAX_ENDPOINTS;
      this.owners[k] = owner;
      this.hashes[k] = (v - owner) / MAX_ENDPOINTS;
    }
  }

  /** Number of points on the ring. */
  get size(): number {
    return this.hashes.length;
  }

  pick(ctx: PickContext, eligible: (e: Endpoint) => boolean): Endpoint | undefined {
    const n = this.hashes.length;
    if (n === 0) return undefined;
    if (ctx.hashKey === undefined) {
      const i = this.picker.pick(this.rng, eligible);
      return i < 0 ? undefined : this.endpoints[i];
    }
    const h = hash32(ctx.hashKey);
    const hs = this.hashes;
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (hs[mid] < h) lo = mid + 1;
      else hi = mid;
    }
    let k = lo === n ? 0 : lo;
    const eps = this.endpoints;
    for (let step = 0; step < n; step++) {
      const e = eps[this.owners[k]];
      if (eligible(e)) return e;
      k = k + 1 === n ? 0 : k + 1;
    }
    return undefined;
  }
}
