import type { Endpoint, PickContext, RandomSource, Rng, Selector } from '../types.ts';
import { toRng } from '../types.ts';
import { UpstreamError } from '../errors.ts';
import { checkEndpoints, WeightedPicker } from './common.ts';

/**
 * Least request with the power of N choices (Envoy LEAST_REQUEST, choice_count default 2):
 * draw `choiceCount` candidates weighted-randomly among eligible endpoints and keep the one with
 * the fewest in-flight requests per unit of weight (ties: the first draw). In-flight counts come
 * from onStart/onEnd, which the caller must pair. O(choiceCount · log n), allocation-free.
 */
export class LeastRequestSelector implements Selector {
  readonly endpoints: readonly Endpoint[];
  private readonly picker: WeightedPicker;
  private readonly rng: Rng;
  private readonly active: Float64Array;
  private readonly index: Map<string, number>;
  private readonly choices: number;

  constructor(endpoints: readonly Endpoint[], random?: RandomSource, choiceCount = 2) {
    if (!Number.isInteger(choiceCount) || choiceCount < 1 || choiceCount > 100) {
      throw new UpstreamError('PCS_ERR_UPSTREAM_INVALID_OPTION', `choiceCount must be an integer in [1, 100], got ${choiceCount}`);
    }
    this.endpoints = checkEndpoints(endpoints);
    this.picker = new WeightedPicker(this.endpoints);
    this.rng = toRng(random);
    this.active = new Float64Array(this.endpoints.length);
    this.index = new Map(this.endpoints.map((e, i) => [e.id, i]));
    this.choices = choiceCount;
  }

  pick(_ctx: PickContext, eligible: (e: Endpoint) => boolean): Endpoint | undefined {
    let best = this.picker.pick(this.rng, eligible);
    if (best < 0) return undefined;
    const eps = this.endpoints;
    let bestLoad = this.active[best] / eps[best].weight;
    for (let c = 1; c < this.choices; c++) {
      const j = this.picker.pick(this.rng, eligible);
      const load = this.active[j] / eps[j].weight;
      if (load < bestLoad) {
        best = j;
        bestLoad = load;
      }
    }
    return eps[best];
  }

  onStart(e: Endpoint): void {
    const i = this.index.get(e.id);
    if (i !== undefined) this.active[i]++;
  }

  onEnd(e: Endpoint): void {
    const i = this.index.get(e.id);
    if (i !== undefined && this.active[i] > 0) this.active[i]--;
  }

  /** In-flight requests counted for an endpoint (for metrics and tests). */
  inFlight(e: Endpoint): number {
    const i = this.index.get(e.id);
    return i === undefined ? 0 : this.active[i];
  }
}
