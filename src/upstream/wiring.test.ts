/**
 * The pieces together, wired the way the data plane is expected to use them (see README):
 * selector + health registry (outlier) + circuit breaker + retry policy + pools, against two real
 * loopback upstreams, one of which is killed in the middle of the load. No idempotent request may
 * fail, and the dead endpoint must be ejected.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { createSelector } from './balancers/index.ts';
import { HealthRegistry } from './health-registry.ts';
import { CircuitBreakerRegistry, RetryPolicy, classifyError, isRejection } from './resilience.ts';
import type { AttemptOutcome } from './resilience.ts';
import { PoolRegistry } from './pool.ts';
import type { PoolOptions } from './pool.ts';
import { makeEndpoint } from './types.ts';
import type { Endpoint } from './types.ts';

test('an upstream killed under load: every GET still succeeds, the endpoint gets ejected', async () => {
  const servers = await Promise.all(['a', 'b'].map(async (name) => {
    const s = http.createServer((_q, r) => setTimeout(() => r.end(name), 2));
    s.listen(0, '127.0.0.1');
    await once(s, 'listening');
    return s;
  }));
  const eps = servers.map((s) => makeEndpoint('127.0.0.1', (s.address() as AddressInfo).port));
  const selector = createSelector('least-request', eps);
  const health = new HealthRegistry();
  const bh = health.backend('ns/app', { outlier: { consecutive5xx: 3, consecutiveConnectFailures: 3, maxEjectionPercent: 50, baseEjectionTimeMs: 60_000 } });
  bh.setEndpoints(eps);
  const cb = new CircuitBreakerRegistry().get('ns/app', { maxRetries: 50 });
  const retry = new RetryPolicy({ maxAttempts: 3, backoffBaseMs: 1 });
  const pools = new PoolRegistry();
  const poolOpts: PoolOptions = { connectTimeoutMs: 1000 };

  async function proxyGet(): Promise<string> {
    const releaseReq = cb.tryAcquire('request');
    if (isRejection(releaseReq)) throw new Error(releaseReq.reason);
    let previous: Endpoint | undefined;
    try {
      for (let attempt = 1; ; attempt++) {
        const base = bh.eligibility();
        const prev = previous;
        const e = selector.pick({}, prev === undefined ? base : (x) => x !== prev && base(x)) ?? selector.pick({}, base);
        if (!e) throw new Error('no endpoint');
        selector.onStart?.(e);
        let outcome: AttemptOutcome;
        try {
          const res = await pools.getPool(e, poolOpts).request({ method: 'GET', path: '/' });
          const body = await res.body.text();
          bh.onResponse(e.id, res.statusCode);
          if (res.statusCode < 500) return body;
          outcome = { kind: 'status', status: res.statusCode };
        } catch (err) {
          const o = classifyError(err);
          if (!o) throw err;
          outcome = o;
          bh.onOutcome(e.id, o);
        } finally {
          selector.onEnd?.(e);
        }
        const d = retry.decide({ method: 'GET', attempt, outcome });
        if (!d.retry) throw new Error(`gave up: ${d.reason} after ${JSON.stringify(outcome)}`);
        const releaseRetry = cb.tryAcquire('retry');
        if (isRejection(releaseRetry)) throw new Error(releaseRetry.reason);
        await new Promise((r) => setTimeout(r, d.delayMs));
        releaseRetry();
        previous = e;
      }
    } finally {
      releaseReq();
    }
  }

  const results: string[] = [];
  const failures: string[] = [];
  let sent = 0;
  const total = 600;
  async function worker() {
    while (sent < total) {
      sent++;
      if (sent === 200) {
        servers[0].close();
        servers[0].closeAllConnections();
      }
      try {
        results.push(await proxyGet());
      } catch (err) {
        failures.push(String((err as Error).message));
      }
    }
  }
  try {
    await Promise.all(Array.from({ length: 16 }, worker));
    assert.deepEqual(failures, [], 'no idempotent request failed');
    assert.equal(results.length, total);
    assert.ok(results.filter((r) => r === 'a').length > 50, 'a served traffic before it died');
    assert.equal(bh.isHealthy(eps[0]), false, 'the dead endpoint is ejected');
    assert.equal(bh.isHealthy(eps[1]), true);
    const tail = results.slice(-200);
    assert.ok(tail.every((r) => r === 'b'), 'after ejection only b answers');
    assert.equal(cb.stats().active.requests, 0, 'every request slot released');
  } finally {
    await pools.close();
    servers[1].closeAllConnections();
    servers[1].close();
  }
});
