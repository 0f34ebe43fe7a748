import type { Endpoint, PickContext, RandomSource, Selector } from '../types.ts';
import { checkEndpoints } from './common.ts';

/**
 * Round robin. Equal weights: a plain rotating cursor (starting at a random offset so that workers
 * do not move in lockstep, as Envoy does). Different weights: nginx's smooth weighted round robin
 * (ngx_http_upstream_get_peer), which interleaves picks (weights 5,1,1 give a a b a c a a, not
 * a a a a a b c). Ineligible endpoints are skipped and keep their smooth-WRR credit, as in nginx.
 * pick() is O(n) in the worst case and allocation-free.
 */
export class RoundRobinSelector implements Selector {
  readonly endpoints: readonly Endpoint[];
  private cursor: number;
  private readonly uniform: boolean;
  private readonly current: Float64Array;

  constructor(endpoints: readonly Endpoint[], random: RandomSource = Math.random) {
    this.endpoints = checkEndpoints(endpoints);
    const n = this.endpoints.length;
    this.uniform = n > 0 && this.endpoints.every((e) => e.weight === this.endpoints[0].weight && e.weight > 0);
    this.cursor = n > 0 ? Math.floor(random() * n) % n : 0;
    this.current = new Float64Array(n);
  }

  pick(_ctx: PickContext, eligible: (e: Endpoint) => boolean): Endpoint | undefined {
    const eps = this.endpoints;
    const n = eps.length;
    if (this.uniform) {
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
    const cur = this.current;
    let total = 0;
    let best = -1;
    for (let i = 0; i < n; i++) {
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
}
