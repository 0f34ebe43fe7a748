// Filters are plain objects made by factories: `{ name, handle(ctx, next) }`. Their order is fixed
// by one table, with the reason for each place, so that a policy can never run before the thing
// it depends on. A filter that answers the request does not call `next`. Security filters fail
// closed: an exception inside one ends the request with a 500 problem, never with a pass.
import type { RequestContext } from './context.ts';

export interface Filter {
  readonly name: FilterName;
  handle(ctx: RequestContext, next: () => Promise<void>): Promise<void> | void;
}

export const FILTER_ORDER = [
  { name: 'client-ip', reason: 'resolve the real client address (trusted proxies) before anything keys on it' },
  { name: 'limits', reason: 'cheap size and shape limits before any expensive inspection' },
  { name: 'ip-list', reason: 'drop denied addresses before spending CPU on them' },
  { name: 'waf', reason: 'inspect the request as the client sent it, before any rewrite' },
  { name: 'cors', reason: 'answer preflights before authentication, which browsers do not send on them' },
  { name: 'authn', reason: 'establish identity (API key, JWT, mTLS) before authorization' },
  { name: 'authz', reason: 'RBAC/ABAC on the identity and the matched route' },
  { name: 'rate-limit', reason: 'after authn so limits can key on identity; before upstream cost' },
  { name: 'header-mutation', reason: 'rewrite headers last, so earlier filters see what the client sent' },
] as const;

export type FilterName = (typeof FILTER_ORDER)[number]['name'];
const RANK = new Map<string, number>(FILTER_ORDER.map((f, i) => [f.name, i]));

/**
 * Compose filters (in table order, whatever order they are given in) around a terminal handler.
 * Flattened once per route at compile time, so a route with no filters costs nothing.
 */
export function composeChain(filters: readonly Filter[], terminal: (ctx: RequestContext) => Promise<void> | void): (ctx: RequestContext) => Promise<void> | void {
  if (filters.length === 0) return terminal;
  const sorted = [...filters].sort((a, b) => rank(a) - rank(b));
  for (let i = 1; i < sorted.length; i++) if (sorted[i].name === sorted[i - 1].name) throw new Error(`filter ${sorted[i].name} appears twice in one chain`);
  return (ctx) => {
    const run = async (i: number): Promise<void> => {
      if (i === sorted.length) return terminal(ctx);
      await sorted[i].handle(ctx, () => run(i + 1));
    };
    return run(0);
  };
}

function rank(f: Filter): number {
  const r = RANK.get(f.name);
  if (r === undefined) throw new Error(`filter ${f.name} has no place in FILTER_ORDER`);
  return r;
}
