// A Backend as the request path sees it: its endpoints and how to pick one. The balancer comes
// from src/upstream (round robin, smooth-weighted like nginx, until a BackendTrafficPolicy picks
// another); endpoint health plugs in through `eligible`.
import { createSelector } from '../upstream/balancers/index.ts';
import type { BackendRuntime, EndpointRuntime } from '../runtime/runtime.ts';

const NO_HASH = {};
const always = () => true;

export function createBackendRuntime(id: string, endpoints: readonly EndpointRuntime[], eligible: (e: EndpointRuntime) => boolean = always): BackendRuntime {
  const selector = createSelector('round-robin', endpoints);
  return {
    id,
    endpoints,
    pick: () => selector.pick(NO_HASH, eligible as (e: unknown) => boolean) as EndpointRuntime | undefined,
  };
}
