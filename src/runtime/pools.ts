// Upstream connection pools (undici), keyed by origin, that outlive config swaps: a reload that
// keeps an endpoint keeps its warm keep-alive connections. Pools no longer referenced are closed
// gracefully (in-flight requests finish first).
import { Pool, type Dispatcher } from 'undici';
import type { EndpointRuntime } from './runtime.ts';

export interface PoolOptions { connections?: number; keepAliveTimeoutMs?: number; connectTimeoutMs?: number }

export class OriginPools {
  private readonly pools = new Map<string, Pool>();
  private readonly opts: PoolOptions;
  constructor(opts: PoolOptions = {}) { this.opts = opts; }

  get(endpoint: EndpointRuntime): Dispatcher {
    let p = this.pools.get(endpoint.origin);
    if (!p) {
      p = new Pool(endpoint.origin, {
        connections: this.opts.connections ?? 128,
        keepAliveTimeout: this.opts.keepAliveTimeoutMs ?? 30_000,
        connect: { timeout: this.opts.connectTimeoutMs ?? 5_000 },
        pipelining: 1,
      });
      this.pools.set(endpoint.origin, p);
    }
    return p;
  }

  retain(origins: ReadonlySet<string>): void {
    for (const [origin, p] of this.pools) {
      if (origins.has(origin)) continue;
      this.pools.delete(origin);
      void p.close().catch(() => {});
    }
  }

  async close(): Promise<void> {
    const all = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(all.map((p) => p.close().catch(() => {})));
  }
}
