import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { OutlierDetector } from './outlier.ts';
import type { OutlierChangeEvent } from './outlier.ts';
import { UpstreamError } from './errors.ts';

function clock() {
  let t = 1000;
  return { now: () => t, advance: (ms: number) => { t += ms; } };
}
const ids = (n: number) => Array.from({ length: n }, (_, i) => `10.0.0.${i + 1}:80`);

describe('OutlierDetector', () => {
  test('consecutive 5xx eject; a success in between resets the count', () => {
    const c = clock();
    const d = new OutlierDetector(ids(10), { consecutive5xx: 3, maxEjectionPercent: 50, now: c.now });
    const [a] = ids(1);
    d.onResponse(a, 500);
    d.onResponse(a, 502);
    d.onResponse(a, 404); // not a 5xx: resets
    d.onResponse(a, 503);
    d.onResponse(a, 503);
    assert.equal(d.isEjected(a), false);
    d.onResponse(a, 503);
    assert.equal(d.isEjected(a), true);
  });

  test('consecutive connect failures eject; a 5xx response resets the connect count', () => {
    const c = clock();
    const d = new OutlierDetector(ids(10), { consecutiveConnectFailures: 2, consecutive5xx: 100, now: c.now });
    const [a] = ids(1);
    d.onConnectFailure(a);
    d.onResponse(a, 500);
    d.onConnectFailure(a);
    assert.equal(d.isEjected(a), false);
    d.onConnectFailure(a);
    assert.equal(d.isEjected(a), true);
  });

  test('ejection lasts base × times ejected, capped by maxEjectionTime, and emits events', () => {
    const c = clock();
    const events: OutlierChangeEvent[] = [];
    const d = new OutlierDetector(ids(10), { consecutive5xx: 1, baseEjectionTimeMs: 100, maxEjectionTimeMs: 250, intervalMs: 1e9, now: c.now });
    d.onChange((ev) => events.push(ev));
    const [a] = ids(1);
    const durations: number[] = [];
    for (let round = 0; round < 4; round++) {
      d.onResponse(a, 500);
      assert.equal(d.isEjected(a), true);
      const ms = d.ejectionRemainingMs(a);
      durations.push(ms);
      c.advance(ms - 1);
      assert.equal(d.isEjected(a), true, 'still ejected 1ms before the end');
      c.advance(1);
      assert.equal(d.isEjected(a), false, 'released when the time is up');
    }
    assert.deepEqual(durations, [100, 200, 250, 250]);
    assert.deepEqual(events.filter((e) => e.ejected).map((e) => e.durationMs), [100, 200, 250, 250]);
    assert.equal(events.filter((e) => !e.ejected).length, 4);
    assert.match(events[0].reason, /1 consecutive 5xx \(last 500\)/);
  });

  test('the ejection multiplier decays by one per interval spent un-ejected', () => {
    const c = clock();
    const d = new OutlierDetector(ids(10), { consecutive5xx: 1, baseEjectionTimeMs: 100, intervalMs: 1000, now: c.now });
    const [a] = ids(1);
    d.onResponse(a, 500); // x1
    c.advance(100);
    d.onResponse(a, 500); // x2
    c.advance(200);
    d.onResponse(a, 500); // x3
    assert.equal(d.ejectionRemainingMs(a), 300);
    c.advance(300 + 2000); // two intervals healthy: x3 -> x1, next ejection x2
    d.onResponse(a, 500);
    assert.equal(d.ejectionRemainingMs(a), 200);
  });

  test('never ejects more than maxEjectionPercent, but always allows one', () => {
    const c = clock();
    const all = ids(10);
    const d = new OutlierDetector(all, { consecutive5xx: 1, maxEjectionPercent: 20, now: c.now });
    for (const id of all) d.onResponse(id, 500);
    assert.equal(all.filter((id) => d.isEjected(id)).length, 2);
    assert.deepEqual(d.stats(), { ejectionsTotal: 2, ejectionsOverflow: 8, ejectedNow: 2 });

    const small = new OutlierDetector(ids(3), { consecutive5xx: 1, maxEjectionPercent: 10, now: c.now });
    for (const id of ids(3)) small.onResponse(id, 503);
    assert.equal(ids(3).filter((id) => small.isEjected(id)).length, 1, 'one endpoint may always be ejected');
  });

  test('after release, another endpoint may take the freed ejection slot', () => {
    const c = clock();
    const all = ids(4);
    const d = new OutlierDetector(all, { consecutive5xx: 1, maxEjectionPercent: 25, baseEjectionTimeMs: 50, now: c.now });
    d.onResponse(all[0], 500);
    d.onResponse(all[1], 500);
    assert.deepEqual(all.map((id) => d.isEjected(id)), [true, false, false, false]);
    c.advance(50);
    d.onResponse(all[1], 500);
    assert.deepEqual(all.map((id) => d.isEjected(id)), [false, true, false, false]);
  });

  test('setEndpoints drops state of removed endpoints and keeps the rest; unknown ids are ignored', () => {
    const c = clock();
    const d = new OutlierDetector(ids(3), { consecutive5xx: 1, maxEjectionPercent: 100, now: c.now });
    const [a, b] = ids(2);
    d.onResponse(a, 500);
    d.onResponse(b, 500);
    d.setEndpoints([a, 'new:1']);
    assert.equal(d.isEjected(a), true);
    assert.equal(d.isEjected(b), false);
    assert.equal(d.stats().ejectedNow, 1);
    d.onResponse('unknown:1', 500);
    assert.equal(d.isEjected('unknown:1'), false);
  });

  test('configure() changes thresholds without losing counters', () => {
    const c = clock();
    const d = new OutlierDetector(ids(10), { consecutive5xx: 5, now: c.now });
    const [a] = ids(1);
    d.onResponse(a, 500);
    d.onResponse(a, 500);
    d.configure({ consecutive5xx: 3, now: c.now });
    d.onResponse(a, 500);
    assert.equal(d.isEjected(a), true);
  });

  test('bad options are rejected', () => {
    assert.throws(() => new OutlierDetector([], { maxEjectionPercent: 101 }), (e: unknown) => e instanceof UpstreamError && e.code === 'PCS_ERR_UPSTREAM_INVALID_OPTION');
    assert.throws(() => new OutlierDetector([], { baseEjectionTimeMs: 1000, maxEjectionTimeMs: 10 }), UpstreamError);
    assert.throws(() => new OutlierDetector([], { consecutive5xx: -1 }), UpstreamError);
  });
});
