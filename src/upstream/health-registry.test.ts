import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { HealthRegistry, healthKey } from './health-registry.ts';
import type { EndpointHealthEvent } from './health-registry.ts';
import { ALL_ELIGIBLE, isPanic, withPanicThreshold } from './panic.ts';
import { createSelector } from './balancers/index.ts';
import { makeEndpoint, seededRandom } from './types.ts';
import { UpstreamError } from './errors.ts';

const eps = (n: number) => Array.from({ length: n }, (_, i) => makeEndpoint(`10.0.0.${i + 1}`, 80));
function clock() {
  let t = 0;
  return { now: () => t, advance: (ms: number) => { t += ms; } };
}

describe('panic threshold', () => {
  test('isPanic compares the healthy share with the threshold', () => {
    assert.equal(isPanic(5, 10), false, '50% healthy is not below 50%');
    assert.equal(isPanic(4, 10), true);
    assert.equal(isPanic(0, 10, 0), false, 'threshold 0 disables panic');
    assert.equal(isPanic(0, 0), false, 'an empty set is not in panic');
    assert.equal(isPanic(99, 100, 100), true);
  });

  test('withPanicThreshold returns isHealthy normally and ALL_ELIGIBLE in panic', () => {
    const list = eps(4);
    const down = new Set([list[0].id]);
    const isHealthy = (e: { id: string }) => !down.has(e.id);
    assert.equal(withPanicThreshold(list, isHealthy), isHealthy);
    down.add(list[1].id).add(list[2].id);
    assert.equal(withPanicThreshold(list, isHealthy), ALL_ELIGIBLE);
    assert.equal(withPanicThreshold(list, isHealthy, 20), isHealthy);
  });
});

describe('BackendHealth', () => {
  test('merges active and passive state into eligibility; the selector never picks an ejected or failed endpoint', () => {
    const c = clock();
    const reg = new HealthRegistry({ now: c.now });
    const list = eps(6);
    const bh = reg.backend('default/api', { outlier: { consecutive5xx: 2, maxEjectionPercent: 50, baseEjectionTimeMs: 1000 } });
    bh.setEndpoints(list);
    bh.setActive(list[0].id, false, 'status 503');
    bh.onResponse(list[1].id, 500);
    bh.onResponse(list[1].id, 502);
    assert.deepEqual(list.map(bh.isHealthy), [false, false, true, true, true, true]);
    assert.equal(bh.inPanic(), false);
    const sel = createSelector('round-robin', list, { random: seededRandom(1) });
    const eligible = bh.eligibility();
    for (let i = 0; i < 60; i++) {
      const e = sel.pick({}, eligible)!;
      assert.ok(e !== list[0] && e !== list[1], `picked unhealthy ${e.id}`);
    }
    const st = bh.status();
    assert.deepEqual(st[0], { id: list[0].id, healthy: false, activeHealthy: false, activeReason: 'status 503', ejected: false, ejectionRemainingMs: 0 });
    assert.deepEqual(st[1], { id: list[1].id, healthy: false, activeHealthy: true, activeReason: 'no active check', ejected: true, ejectionRemainingMs: 1000 });
    c.advance(1000);
    assert.equal(bh.isHealthy(list[1]), true, 'ejection ended');
  });

  test('outlier detection is off unless configured', () => {
    const bh = new HealthRegistry().backend('b');
    bh.setEndpoints(eps(2));
    for (let i = 0; i < 50; i++) bh.onResponse(eps(1)[0].id, 503);
    assert.equal(bh.isHealthy(eps(1)[0]), true);
  });

  test('panic mode admits every endpoint and ends when an ejection expires', () => {
    const c = clock();
    const reg = new HealthRegistry({ now: c.now });
    const list = eps(4);
    const bh = reg.backend('b', { outlier: { consecutive5xx: 1, maxEjectionPercent: 100, baseEjectionTimeMs: 500 } });
    bh.setEndpoints(list);
    bh.setActive(list[0].id, false, 'down');
    bh.onResponse(list[1].id, 500);
    assert.equal(bh.inPanic(), false, '2 of 4 healthy = 50%, not below');
    bh.onResponse(list[2].id, 500);
    assert.equal(bh.inPanic(), true, '1 of 4 healthy');
    assert.equal(bh.eligibility(), ALL_ELIGIBLE);
    assert.ok(list.every(bh.isEligible));
    c.advance(500);
    assert.equal(bh.inPanic(), false, 'ejections expired: 3 of 4 healthy');
    assert.equal(bh.isEligible(list[0]), false);
    reg.backend('b', { panicThresholdPercent: 0 });
    bh.setActive(list[1].id, false, 'x');
    bh.setActive(list[2].id, false, 'x');
    bh.setActive(list[3].id, false, 'x');
    assert.equal(bh.inPanic(), false, 'threshold 0 disables panic');
    assert.equal(createSelector('random', list).pick({}, bh.eligibility()), undefined);
  });

  test('bad options are rejected', () => {
    assert.throws(() => new HealthRegistry().backend('b', { panicThresholdPercent: 120 }), UpstreamError);
  });
});

describe('HealthRegistry', () => {
  test('get-or-create returns the same state; it survives a config swap; retain drops what is gone', async () => {
    const c = clock();
    const reg = new HealthRegistry({ now: c.now });
    const [a, b, d] = eps(3);
    const events: EndpointHealthEvent[] = [];
    reg.onChange((ev) => events.push(ev));
    const v1 = reg.backend('ns/api', { outlier: { consecutive5xx: 1, maxEjectionPercent: 100 } });
    v1.setEndpoints([a, b]);
    v1.onResponse(a.id, 500);
    v1.setActive(b.id, false, 'status 500');
    assert.equal(events.length, 2);
    assert.deepEqual(events[0], { backend: 'ns/api', endpointId: a.id, source: 'outlier', healthy: false, reason: '1 consecutive 5xx (last 500)' });

    // Config swap: same backend, endpoint b removed, d added, new outlier settings.
    const v2 = reg.backend('ns/api', { outlier: { consecutive5xx: 3, maxEjectionPercent: 100 } });
    assert.equal(v2, v1);
    v2.setEndpoints([a, d]);
    await reg.retain([healthKey('ns/api', a.id), healthKey('ns/api', d.id)]);
    assert.equal(v2.isHealthy(a), false, 'a is still ejected after the swap');
    assert.equal(v2.isHealthy(d), true);
    assert.deepEqual(reg.keys().sort(), [healthKey('ns/api', a.id), healthKey('ns/api', d.id)].sort());

    // b comes back later: fresh state.
    v2.setEndpoints([a, b, d]);
    assert.equal(v2.isHealthy(b), true);

    // retain without a's key drops a's ejection; without any key of the backend drops the backend.
    await reg.retain([healthKey('ns/api', b.id), healthKey('ns/api', d.id)]);
    assert.deepEqual(v2.endpointList.map((e) => e.id), [b.id, d.id]);
    await reg.retain([]);
    assert.equal(reg.peek('ns/api'), undefined);
    assert.notEqual(reg.backend('ns/api'), v1);
    assert.equal(reg.isEligible('unknown', a), true);
  });

  test('with initiallyHealthy false, endpoints (also ones added later) wait for their first check', async () => {
    const up = http.createServer((_q, r) => r.end('ok'));
    up.listen(0, '127.0.0.1');
    await once(up, 'listening');
    const live = makeEndpoint('127.0.0.1', (up.address() as AddressInfo).port);
    const later = makeEndpoint('127.0.0.1', 1); // port 1: nothing listens
    const reg = new HealthRegistry();
    try {
      const bh = reg.backend('ns/x', { panicThresholdPercent: 0 });
      bh.setEndpoints([live]);
      bh.configureActive({ kind: 'tcp', intervalMs: 10_000, initiallyHealthy: false });
      assert.equal(bh.isHealthy(live), false, 'not checked yet');
      const deadline = Date.now() + 3000;
      while (!bh.isHealthy(live) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      assert.equal(bh.isHealthy(live), true, 'first check passed');
      bh.setEndpoints([live, later]);
      assert.equal(bh.isHealthy(later), false, 'an endpoint added later also waits');
      assert.equal(bh.isHealthy(live), true, 'a kept endpoint keeps its state');
    } finally {
      await reg.close();
      up.close();
    }
  });

  test('configureActive runs a real checker; the same spec keeps it; retain stops it', async () => {
    let hits = 0;
    const good = http.createServer((_q, r) => { hits++; r.end('ok'); });
    const bad = http.createServer((_q, r) => { r.statusCode = 500; r.end(); });
    for (const s of [good, bad]) { s.listen(0, '127.0.0.1'); await once(s, 'listening'); }
    const eg = makeEndpoint('127.0.0.1', (good.address() as AddressInfo).port);
    const eb = makeEndpoint('127.0.0.1', (bad.address() as AddressInfo).port);
    const reg = new HealthRegistry();
    const events: EndpointHealthEvent[] = [];
    reg.onChange((ev) => events.push(ev));
    try {
      const bh = reg.backend('ns/web', { panicThresholdPercent: 0 });
      bh.setEndpoints([eg, eb]);
      const spec = { kind: 'http' as const, path: '/health', intervalMs: 20, timeoutMs: 500 };
      bh.configureActive(spec);
      const deadline = Date.now() + 3000;
      while (events.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      assert.deepEqual(events, [{ backend: 'ns/web', endpointId: eb.id, source: 'active', healthy: false, reason: 'status 500' }]);
      assert.equal(bh.isEligible(eb), false);
      assert.equal(bh.isEligible(eg), true);
      bh.configureActive({ ...spec });
      assert.equal(bh.isEligible(eb), false, 'same spec: checker and state kept');
      await reg.retain([]);
      const after = hits;
      await new Promise((r) => setTimeout(r, 80));
      assert.equal(hits, after, 'checker stopped with the backend');
    } finally {
      await reg.close();
      good.close();
      bad.close();
    }
  });
});
