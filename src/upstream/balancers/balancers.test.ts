/**
 * One shared suite run against every Selector implementation, then the behaviour specific to
 * each kind (consistent hashing stability, P2C load preference, smooth WRR order).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSelector, SELECTOR_KINDS, MaglevSelector, RingHashSelector, LeastRequestSelector } from './index.ts';
import type { SelectorKind } from './index.ts';
import { makeEndpoint, seededRandom } from '../types.ts';
import type { Endpoint, RandomSource, Selector } from '../types.ts';
import { UpstreamError } from '../errors.ts';

const all = () => true;
const isHash = (k: SelectorKind) => k === 'ring-hash' || k === 'maglev';
/** Max relative error of each endpoint's share against its weight share. */
const tolerance: Record<SelectorKind, number> = {
  'round-robin': 0.001,
  random: 0.05,
  'least-request': 0.05,
  'ring-hash': 0.15,
  maglev: 0.05,
};

function endpoints(weights: number[]): Endpoint[] {
  return weights.map((w, i) => makeEndpoint(`10.0.0.${i + 1}`, 8080, w));
}

function randomKey(r: RandomSource): string {
  return `user-${Math.floor(r() * 1e12).toString(36)}`;
}

function countPicks(kind: SelectorKind, s: Selector, n: number, eligible: (e: Endpoint) => boolean, seed: number): Map<string, number> {
  const r = seededRandom(seed);
  const counts = new Map<string, number>();
  const ctx: { hashKey?: string } = {};
  for (let i = 0; i < n; i++) {
    if (isHash(kind)) ctx.hashKey = randomKey(r);
    const e = s.pick(ctx, eligible);
    assert.ok(e, 'an eligible endpoint exists, so pick must return one');
    counts.set(e.id, (counts.get(e.id) ?? 0) + 1);
  }
  return counts;
}

function assertProportional(kind: SelectorKind, counts: Map<string, number>, eps: Endpoint[], n: number): void {
  const total = eps.reduce((s, e) => s + e.weight, 0);
  for (const e of eps) {
    const expected = (n * e.weight) / total;
    const got = counts.get(e.id) ?? 0;
    assert.ok(Math.abs(got - expected) <= expected * tolerance[kind] + 1, `${kind}: ${e.id} (weight ${e.weight}) got ${got}, expected ~${expected.toFixed(0)}`);
  }
}

for (const kind of SELECTOR_KINDS) {
  describe(`Selector contract: ${kind}`, () => {
    const N = 40000;

    test('no endpoints: pick returns undefined', () => {
      const s = createSelector(kind, [], { random: seededRandom(1) });
      assert.equal(s.pick({ hashKey: 'k' }, all), undefined);
      assert.equal(s.pick({}, all), undefined);
    });

    test('no eligible endpoint: pick returns undefined', () => {
      const s = createSelector(kind, endpoints([1, 2, 3]), { random: seededRandom(2) });
      assert.equal(s.pick({ hashKey: 'k' }, () => false), undefined);
      assert.equal(s.pick({}, () => false), undefined);
    });

    test('equal weights: even distribution', () => {
      const eps = endpoints([1, 1, 1, 1, 1]);
      const s = createSelector(kind, eps, { random: seededRandom(3) });
      assertProportional(kind, countPicks(kind, s, N, all, 30), eps, N);
    });

    test('distribution proportional to weight', () => {
      const eps = endpoints([1, 2, 3, 4]);
      const s = createSelector(kind, eps, { random: seededRandom(4) });
      assertProportional(kind, countPicks(kind, s, N, all, 40), eps, N);
    });

    test('ineligible endpoints are never picked; the rest stay proportional', () => {
      const eps = endpoints([1, 2, 3, 4, 5]);
      const down = new Set([eps[1].id, eps[4].id]);
      const eligible = (e: Endpoint) => !down.has(e.id);
      const s = createSelector(kind, eps, { random: seededRandom(5) });
      const counts = countPicks(kind, s, N, eligible, 50);
      for (const id of down) assert.equal(counts.get(id), undefined, `${id} is ineligible but was picked`);
      assertProportional(kind, counts, eps.filter(eligible), N);
    });

    test('many endpoints (40, weights 1-5, a quarter ineligible): proportional among eligible', () => {
      const eps = endpoints(Array.from({ length: 40 }, (_, i) => 1 + (i % 5)));
      const eligible = (e: Endpoint) => Number(e.address.split('.')[3]) % 4 !== 0;
      const s = createSelector(kind, eps, { random: seededRandom(8) });
      const n = 100_000;
      const counts = countPicks(kind, s, n, eligible, 80);
      for (const e of eps) if (!eligible(e)) assert.equal(counts.get(e.id), undefined);
      // Per-endpoint expectations are small here (~1000-4000), so allow 3x the usual tolerance for sampling noise.
      const live = eps.filter(eligible);
      const total = live.reduce((a, e) => a + e.weight, 0);
      for (const e of live) {
        const expected = (n * e.weight) / total;
        const got = counts.get(e.id) ?? 0;
        assert.ok(Math.abs(got - expected) <= expected * Math.max(0.01, tolerance[kind] * 3), `${kind}: ${e.id} w${e.weight} got ${got}, expected ~${expected.toFixed(0)}`);
      }
    });

    test('a single eligible endpoint takes everything', () => {
      const eps = endpoints([3, 1, 2]);
      const s = createSelector(kind, eps, { random: seededRandom(6) });
      const counts = countPicks(kind, s, 2000, (e) => e.id === eps[1].id, 60);
      assert.deepEqual([...counts], [[eps[1].id, 2000]]);
    });

    test('zero-weight endpoints are never picked', () => {
      const eps = endpoints([2, 0, 1]);
      const s = createSelector(kind, eps, { random: seededRandom(7) });
      const counts = countPicks(kind, s, 6000, all, 70);
      assert.equal(counts.get(eps[1].id), undefined);
      assert.equal(createSelector(kind, endpoints([0, 0]), { random: seededRandom(7) }).pick({ hashKey: 'k' }, all), undefined);
    });

    test('bad endpoint lists are rejected with a typed error', () => {
      const dup = [makeEndpoint('10.0.0.1', 80), makeEndpoint('10.0.0.1', 80)];
      assert.throws(() => createSelector(kind, dup), (e: unknown) => e instanceof UpstreamError && e.code === 'PCS_ERR_UPSTREAM_INVALID_ENDPOINT');
      for (const w of [-1, Number.NaN, Infinity]) {
        assert.throws(() => createSelector(kind, [makeEndpoint('10.0.0.1', 80, w)]), (e: unknown) => e instanceof UpstreamError && e.code === 'PCS_ERR_UPSTREAM_INVALID_ENDPOINT');
      }
    });
  });
}

test('createSelector rejects an unknown kind', () => {
  assert.throws(() => createSelector('fastest' as SelectorKind, []), (e: unknown) => e instanceof UpstreamError && e.code === 'PCS_ERR_UPSTREAM_UNKNOWN_BALANCER');
});

describe('round robin', () => {
  test('smooth weighted round robin interleaves like nginx (5,1,1 -> a a b a c a a)', () => {
    const [a, b, c] = [makeEndpoint('a', 1, 5), makeEndpoint('b', 1, 1), makeEndpoint('c', 1, 1)];
    const s = createSelector('round-robin', [a, b, c]);
    const order = Array.from({ length: 14 }, () => s.pick({}, all)!.address).join(' ');
    assert.equal(order, 'a a b a c a a a a b a c a a');
  });

  test('above 32 endpoints, weighted round robin (EDF) is proportional within one pick and interleaves', () => {
    const eps = endpoints(Array.from({ length: 40 }, (_, i) => (i === 0 ? 10 : 1)));
    const s = createSelector('round-robin', eps);
    const picks = Array.from({ length: 49 * 3 }, () => s.pick({}, all)!);
    const heavy = picks.filter((e) => e === eps[0]).length;
    assert.ok(Math.abs(heavy - 30) <= 1, `weight 10 of 49 over 147 picks: ${heavy}, expected 30`);
    for (const e of eps.slice(1)) assert.ok(Math.abs(picks.filter((p) => p === e).length - 3) <= 1);
    // The heavy endpoint is spread out: never more than 2 of its picks in a row.
    let run = 0;
    let maxRun = 0;
    for (const p of picks) { run = p === eps[0] ? run + 1 : 0; maxRun = Math.max(maxRun, run); }
    assert.ok(maxRun <= 2, `longest run of the heavy endpoint: ${maxRun}`);
  });

  test('equal weights rotate strictly and skip an ineligible endpoint', () => {
    const eps = endpoints([1, 1, 1]);
    const s = createSelector('round-robin', eps, { random: () => 0 });
    assert.deepEqual(Array.from({ length: 6 }, () => s.pick({}, all)!.id), [0, 1, 2, 0, 1, 2].map((i) => eps[i].id));
    const seq = Array.from({ length: 4 }, () => s.pick({}, (e) => e !== eps[1])!.id);
    assert.deepEqual(seq, [0, 2, 0, 2].map((i) => eps[i].id));
  });
});

describe('consistent hashing', () => {
  for (const kind of ['ring-hash', 'maglev'] as const) {
    test(`${kind}: the same key maps to the same endpoint in independently built selectors`, () => {
      const eps = endpoints([1, 1, 2, 1]);
      const s1 = createSelector(kind, eps, { random: seededRandom(1) });
      const s2 = createSelector(kind, eps.slice(), { random: seededRandom(2) });
      for (let i = 0; i < 1000; i++) assert.equal(s1.pick({ hashKey: `k${i}` }, all), s2.pick({ hashKey: `k${i}` }, all));
    });

    test(`${kind}: removing one of N endpoints moves only ~1/N of the keys`, () => {
      const n = 10;
      const eps = endpoints(new Array(n).fill(1));
      const before = createSelector(kind, eps);
      const after = createSelector(kind, eps.filter((_e, i) => i !== 3));
      const removed = eps[3].id;
      const keys = 20000;
      let moved = 0;
      let movedFromSurvivors = 0;
      for (let i = 0; i < keys; i++) {
        const a = before.pick({ hashKey: `key-${i}` }, all)!;
        const b = after.pick({ hashKey: `key-${i}` }, all)!;
        if (a.id !== b.id) {
          moved++;
          if (a.id !== removed) movedFromSurvivors++;
        }
      }
      const frac = moved / keys;
      assert.ok(frac > 0.07 && frac < (kind === 'maglev' ? 0.16 : 0.13), `${kind}: ${(frac * 100).toFixed(1)}% of keys moved, expected ~10%`);
      // The ring moves no key of a surviving endpoint; Maglev's table rebuild moves a few.
      assert.ok(kind === 'maglev' ? movedFromSurvivors / keys < 0.05 : movedFromSurvivors === 0, `${kind}: ${movedFromSurvivors} keys of surviving endpoints moved`);
    });

    test(`${kind}: an ineligible endpoint's keys move, no other key does`, () => {
      const eps = endpoints([1, 1, 1, 1, 1, 1]);
      const s = createSelector(kind, eps);
      const down = eps[2];
      for (let i = 0; i < 5000; i++) {
        const a = s.pick({ hashKey: `key-${i}` }, all)!;
        const b = s.pick({ hashKey: `key-${i}` }, (e) => e !== down)!;
        assert.notEqual(b, down);
        if (a !== down) assert.equal(b, a);
      }
    });
  }

  test('maglev: table slots are proportional to weight and the table is full', () => {
    const eps = endpoints([1, 2, 3, 4]);
    const s = new MaglevSelector(eps, { tableSize: 65537 });
    const counts = s.slotCounts();
    const sum = [...counts.values()].reduce((a, b) => a + b, 0);
    assert.equal(sum, 65537);
    for (const e of eps) assert.ok(Math.abs(counts.get(e.id)! - (65537 * e.weight) / 10) < 65537 * 0.002, `${e.id}: ${counts.get(e.id)}`);
  });

  test('maglev: table size must be a prime at least the endpoint count', () => {
    assert.throws(() => new MaglevSelector(endpoints([1]), { tableSize: 65536 }), (e: unknown) => e instanceof UpstreamError && e.code === 'PCS_ERR_UPSTREAM_INVALID_OPTION');
    assert.throws(() => new MaglevSelector(endpoints([1, 1, 1, 1]), { tableSize: 3 }), (e: unknown) => e instanceof UpstreamError && e.code === 'PCS_ERR_UPSTREAM_INVALID_OPTION');
  });

  test('ring hash: points proportional to weight, lightest endpoint gets pointsPerEndpoint', () => {
    assert.equal(new RingHashSelector(endpoints([1, 1, 1, 1])).size, 1024);
    assert.equal(new RingHashSelector(endpoints([1, 2, 3, 4])).size, 2560);
    assert.equal(new RingHashSelector(endpoints([2, 0, 4]), { pointsPerEndpoint: 10 }).size, 30);
    assert.equal(new RingHashSelector(endpoints([1, 1000]), { maxRingSize: 1001 }).size, 1001);
    assert.throws(() => new RingHashSelector(endpoints([1]), { pointsPerEndpoint: 0 }), (e: unknown) => e instanceof UpstreamError);
  });
});

describe('least request (power of two choices)', () => {
  test('prefers the less loaded endpoint', () => {
    const eps = endpoints([1, 1, 1, 1]);
    const s = new LeastRequestSelector(eps, seededRandom(9));
    for (let i = 0; i < 50; i++) s.onStart(eps[0]);
    for (let i = 0; i < 10; i++) s.onStart(eps[1]);
    const counts = new Map<string, number>();
    const n = 8000;
    for (let i = 0; i < n; i++) {
      const e = s.pick({}, all)!;
      counts.set(e.id, (counts.get(e.id) ?? 0) + 1);
    }
    // eps[0] is only picked when both draws hit it: ~1/16 of picks. eps[1] when both draws are in {0,1}: ~3/16.
    assert.ok((counts.get(eps[0].id) ?? 0) < n * 0.09, `loaded endpoint got ${counts.get(eps[0].id)}`);
    assert.ok((counts.get(eps[2].id) ?? 0) > n * 0.3 && (counts.get(eps[3].id) ?? 0) > n * 0.3);
  });

  test('tracks in-flight requests and never goes negative', () => {
    const eps = endpoints([1, 1]);
    const s = new LeastRequestSelector(eps, seededRandom(1));
    s.onStart(eps[0]);
    s.onStart(eps[0]);
    s.onEnd(eps[0]);
    assert.equal(s.inFlight(eps[0]), 1);
    s.onEnd(eps[1]);
    assert.equal(s.inFlight(eps[1]), 0);
    s.onStart(makeEndpoint('unknown', 1)); // not part of this selector: ignored
    // With eps[0] busy and eps[1] idle, every pick where the two draws differ goes to eps[1].
    let idle = 0;
    for (let i = 0; i < 1000; i++) if (s.pick({}, all) === eps[1]) idle++;
    assert.ok(idle > 700, `idle endpoint got ${idle}/1000`);
  });

  test('load is compared per unit of weight', () => {
    const a = makeEndpoint('a', 1, 4);
    const b = makeEndpoint('b', 1, 1);
    const s = new LeastRequestSelector([a, b], seededRandom(3));
    for (let i = 0; i < 3; i++) s.onStart(a); // 3/4 per weight
    s.onStart(b); // 1/1 per weight
    let toA = 0;
    for (let i = 0; i < 1000; i++) if (s.pick({}, all) === a) toA++;
    assert.ok(toA > 900, `a (less loaded per weight) got ${toA}/1000`);
  });
});
