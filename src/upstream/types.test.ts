import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FastRandom, makeEndpoint, seededRandom, toRng } from './types.ts';

test('FastRandom: uniform in [0, 1), reproducible with a seed, OS-seeded otherwise', () => {
  const r = new FastRandom(123);
  const buckets = new Array(10).fill(0);
  const n = 100_000;
  for (let i = 0; i < n; i++) {
    const u = r.next();
    assert.ok(u >= 0 && u < 1);
    buckets[Math.floor(u * 10)]++;
  }
  for (const b of buckets) assert.ok(Math.abs(b - n / 10) < n / 10 * 0.03, `bucket ${b}`);
  const a = new FastRandom(7);
  const b = new FastRandom(7);
  assert.deepEqual([a.next(), a.next()], [b.next(), b.next()]);
  const s = seededRandom(7);
  assert.equal(new FastRandom(7).next(), s(), 'same generator as seededRandom');
  assert.notEqual(new FastRandom().next(), new FastRandom().next());
  assert.equal(toRng(() => 0.25).next(), 0.25);
});

test('makeEndpoint builds the canonical id', () => {
  assert.deepEqual(makeEndpoint('10.0.0.1', 8080), { id: '10.0.0.1:8080', address: '10.0.0.1', port: 8080, weight: 1 });
  assert.ok(Object.isFrozen(makeEndpoint('a', 1, 3)));
});
