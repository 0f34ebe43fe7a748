import type { Endpoint, PickContext, RandomSource, Rng, Selector } from '../types.ts';
import { toRng } from '../types.ts';
import { checkEndpoints, WeightedPicker } from './common.ts';

/** Weighted random (Envoy RANDOM). O(log n) per pick, allocation-free. */
export class RandomSelector implements Selector {
  readonly endpoints: readonly Endpoint[];
  private readonly picker: WeightedPicker;
  private readonly rng: Rng;

  constructor(endpoints: readonly Endpoint[], random?: RandomSource) {
    this.endpoints = checkEndpoints(endpoints);
    this.picker = new WeightedPicker(this.endpoints);
    this.rng = toRng(random);
  }

  pick(_ctx: PickContext, eligible: (e: Endpoint) => boolean): Endpoint | undefined {
    const i = this.picker.pick(this.rng, eligible);
    return i < 0 ? undefined : this.endpoints[i];
  }
}
