import type { Endpoint, PickContext, RandomSource, Selector } from '../types.ts';
import { toRng } from '../types.ts';
import { checkEndpoints } from './common.ts';

/** Up to this many endpoints, weighted round robin is nginx's O(n) smooth WRR; above, an O(log n) EDF heap. */
export const SMOOTH_WRR_MAX_ENDPOINTS = 32;

/**
 * Round robin.
 * - Equal weights: a rotating cursor, starting at a random offset so that workers do not move in
 *   lockstep (as Envoy does). O(1), skipping ineligible endpoints.
 * - Different weights, up to 32 endpoints: nginx's smooth weighted round robin
 *   (ngx_http_upstream_get_peer), which interleaves picks (weights 5,1,1 give a a b a c a a, not
 *   a a a a a b c); ineligible endpoints are left out of the round, exactly as nginx does with
 *   down peers. O(n) per pick.
 * - Different weights, more endpoints: earliest-deadline-first scheduling (Envoy's weighted round
 *   robin): each endpoint's next deadline advances by 1/weight when picked; a binary heap gives
 *   the earliest. An ineligible endpoint at the top loses its turn. O(log n) per pick.
 * All paths are allocation-free.
 */
export class RoundRobinSelector implements Selector {
  readonly endpoints: readonly Endpoint[];
  private cursor: number;
  private readonly mode: 0 | 1 | 2; // 0 rotate, 1 smooth WRR, 2 EDF
  private readonly current: Float64Array;
  private readonly heap: Int32Array;
  private readonly deadline: Float64Array;
  private readonly step: Float64Array;

  constructor(endpoints: readonly Endpoint[], random?: RandomSource) {
    this.endpoints = checkEndpoints(endpoints);
    const eps = this.endpoints;
    const n = eps.length;
    const uniform = n > 0 && eps.every((e) => e.weight === eps[0].weight && e.weight > 0);
    this.mode = uniform ? 0 : n <= SMOOTH_WRR_MAX_ENDPOINTS ? 1 : 2;
    this.cursor = n > 0 ? Math.floor(toRng(random).next() * n) % n : 0;
    this.current = new Float64Array(this.mode === 1 ? n : 0);
    const weighted = this.mode === 2 ? eps.map((_e, i) => i).filter((i) => eps[i].weight > 0) : [];
    this.heap = Int32Array.from(weighted);
    this.deadline = new Float64Array(this.mode === 2 ? n : 0);
    this.step = new Float64Array(this.mode === 2 ? n : 0);
    // Spread the first deadlines over each endpoint's period (golden-ratio phases): with equal
    // phases every light endpoint would fall due at once and be served in one long burst.
    for (let k = 0; k < weighted.length; k++) {
      const i = weighted[k];
      this.step[i] = 1 / eps[i].weight;
      const phase = ((k + 1) * 0.6180339887498949) % 1;
      this.deadline[i] = this.step[i] * (phase === 0 ? 1 : phase);
    }
    for (let k = (this.heap.length >> 1) - 1; k >= 0; k--) this.siftDown(k);
  }

  pick(_ctx: PickContext, eligible: (e: Endpoint) => boolean): Endpoint | undefined {
    if (this.mode === 0) return this.rotate(eligible);
    if (this.mode === 1) return this.smooth(eligible);
    return this.edf(eligible);
  }

  private rotate(eligible: (e: Endpoint) => boolean): Endpoint | undefined {
    const eps = this.endpoints;
    const n = eps.length;
    for (let k = 0; k < n; k++) {
      let i = this.cursor + k;
      if (i >= n) i -= n;
      if (eligible(eps[i])) {
        this.cursor = i + 1 === n ? 0 : i + 1;
        return eps[i];
      }
    }
    return undefined;
  }

  private smooth(eligible: (e: Endpoint) => boolean): Endpoint | undefined {
    const eps = this.endpoints;
    const cur = this.current;
    let total = 0;
    let best = -1;
    for (let i = 0; i < eps.length; i++) {
      const w = eps[i].weight;
      if (w <= 0 || !eligible(eps[i])) continue;
      cur[i] += w;
      total += w;
      if (best < 0 || cur[i] > cur[best]) best = i;
    }
    if (best < 0) return undefined;
    cur[best] -= total;
    return eps[best];
  }

  private edf(eligible: (e: Endpoint) => boolean): Endpoint | undefined {
    const h = this.heap;
    const m = h.length;
    for (let tries = 0; tries < m; tries++) {
      const i = h[0];
      this.deadline[i] += this.step[i];
      this.siftDown(0);
      if (eligible(this.endpoints[i])) return this.endpoints[i];
    }
    return undefined;
  }

  /** Heap order: earlier deadline first, ties by index (deterministic). */
  private before(a: number, b: number): boolean {
    const da = this.deadline[a];
    const db = this.deadline[b];
    return da < db || (da === db && a < b);
  }

  private siftDown(k: number): void {
    const h = this.heap;
    const m = h.length;
    const x = h[k];
    for (;;) {
      const l = 2 * k + 1;
      if (l >= m) break;
      const r = l + 1;
      const c = r < m && this.before(h[r], h[l]) ? r : l;
      if (!this.before(h[c], x)) break;
      h[k] = h[c];
      k = c;
    }
    h[k] = x;
  }
}
