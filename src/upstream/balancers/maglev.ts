import type { Endpoint, PickContext, RandomSource, Rng, Selector } from '../types.ts';
import { toRng } from '../types.ts';
import { UpstreamError } from '../errors.ts';
import { hash32, rehash32 } from '../hash.ts';
import { checkEndpoints, WeightedPicker } from './common.ts';

export interface MaglevOptions {
  /** Lookup table size, a prime (Envoy table_size, default 65537). */
  tableSize?: number;
}

const OFFSET_SEED = 0x4d61676c; // "Magl"
const SKIP_SEED = 0x65764c42; // "evLB"
/** Extra probes with derived hashes before the deterministic weighted fallback. */
const PROBES = 8;

export function isPrime(n: number): boolean {
  if (!Number.isInteger(n) || n < 2) return false;
  if (n % 2 === 0) return n === 2;
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false;
  return true;
}

/**
 * Maglev consistent hashing (Eisenbud et al., NSDI 2016; Envoy MAGLEV with its weighted table
 * build). Each endpoint walks its own permutation of the table (offset = h1(id) mod M,
 * skip = h2(id) mod (M-1) + 1) and claims free slots in turn; an endpoint whose weight is w/max
 * claims a slot only every max/w rounds, so slot counts are proportional to weight.
 * pick() is one table read: table[hash32(key) mod M]. If that endpoint is ineligible, up to 8
 * derived hashes are probed, then a deterministic weighted choice among eligible endpoints is
 * made from the key's hash; keys of eligible endpoints never move. Allocation-free.
 * Without a hash key the pick is weighted random.
 */
export class MaglevSelector implements Selector {
  readonly endpoints: readonly Endpoint[];
  readonly tableSize: number;
  private readonly table: Int32Array;
  private readonly picker: WeightedPicker;
  private readonly rng: Rng;
  private readonly empty: boolean;

  constructor(endpoints: readonly Endpoint[], options: MaglevOptions = {}, random?: RandomSource) {
    this.endpoints = checkEndpoints(endpoints);
    const m = options.tableSize ?? 65537;
    if (!isPrime(m) || m > 5000011) {
      throw new UpstreamError('PCS_ERR_UPSTREAM_INVALID_OPTION', `maglev tableSize must be a prime <= 5000011, got ${m}`);
    }
    this.tableSize = m;
    this.picker = new WeightedPicker(this.endpoints);
    this.rng = toRng(random);
    this.table = new Int32Array(m).fill(-1);

    const entries: { index: number; offset: number; skip: number; weight: number; target: number; next: number }[] = [];
    let maxWeight = 0;
    for (let i = 0; i < this.endpoints.length; i++) {
      const e = this.endpoints[i];
      if (e.weight <= 0) continue;
      maxWeight = Math.max(maxWeight, e.weight);
      entries.push({ index: i, offset: hash32(e.id, OFFSET_SEED) % m, skip: (hash32(e.id, SKIP_SEED) % (m - 1)) + 1, weight: e.weight, target: 0, next: 0 });
    }
    this.empty = entries.length === 0;
    if (this.empty) return;
    if (entries.length > m) {
      throw new UpstreamError('PCS_ERR_UPSTREAM_INVALID_OPTION', `maglev tableSize ${m} is smaller than the number of endpoints ${entries.length}`);
    }
    const table = this.table;
    let filled = 0;
    for (let iteration = 1; filled < m; iteration++) {
      for (let k = 0; k < entries.length && filled < m; k++) {
        const en = entries[k];
        // An endpoint of weight max claims a slot every round; of weight max/3, every third round.
        if (iteration * en.weight < en.target) continue;
        en.target += maxWeight;
        let c = (en.offset + en.next * en.skip) % m;
        while (table[c] >= 0) {
          en.next++;
          c = (en.offset + en.next * en.skip) % m;
        }
        table[c] = en.index;
        en.next++;
        filled++;
      }
    }
  }

  pick(ctx: PickContext, eligible: (e: Endpoint) => boolean): Endpoint | undefined {
    if (this.empty) return undefined;
    if (ctx.hashKey === undefined) {
      const i = this.picker.pick(this.rng, eligible);
      return i < 0 ? undefined : this.endpoints[i];
    }
    const h = hash32(ctx.hashKey);
    const eps = this.endpoints;
    const m = this.tableSize;
    let e = eps[this.table[h % m]];
    if (eligible(e)) return e;
    for (let p = 0; p < PROBES; p++) {
      e = eps[this.table[rehash32(h, p) % m]];
      if (eligible(e)) return e;
    }
    const i = this.picker.pickEligible(rehash32(h, PROBES) / 4294967296, eligible);
    return i < 0 ? undefined : eps[i];
  }

  /** Number of table slots owned by each endpoint (for tests and diagnostics). */
  slotCounts(): Map<string, number> {
    const counts = new Map<string, number>();
    for (let c = 0; c < this.table.length; c++) {
      const id = this.endpoints[this.table[c]].id;
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    return counts;
  }
}
