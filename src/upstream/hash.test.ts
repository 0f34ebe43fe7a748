import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hash32 } from './hash.ts';

/** Byte-wise reference MurmurHash3_x86_32, written from the published algorithm. */
function murmur3Bytes(buf: Buffer, seed: number): number {
  let h = seed >>> 0;
  const nblocks = buf.length >> 2;
  for (let b = 0; b < nblocks; b++) {
    let k = buf.readUInt32LE(b * 4);
    k = Math.imul(k, 0xcc9e2d51); k = (k << 15) | (k >>> 17); k = Math.imul(k, 0x1b873593);
    h ^= k; h = (h << 13) | (h >>> 19); h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  let k = 0;
  const tail = nblocks * 4;
  const rem = buf.length & 3;
  if (rem > 0) {
    if (rem === 3) k ^= buf[tail + 2] << 16;
    if (rem >= 2) k ^= buf[tail + 1] << 8;
    k ^= buf[tail];
    k = Math.imul(k, 0xcc9e2d51); k = (k << 15) | (k >>> 17); k = Math.imul(k, 0x1b873593); h ^= k;
  }
  h ^= buf.length;
  h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b); h ^= h >>> 13; h = Math.imul(h, 0xc2b2ae35); h ^= h >>> 16;
  return h >>> 0;
}

test('hash32 equals MurmurHash3_x86_32 of the UTF-16LE bytes', () => {
  // Known vector: MurmurHash3_x86_32 of the empty input with seed 0 is 0, with seed 1 is 0x514E28B7.
  assert.equal(hash32('', 0), 0);
  assert.equal(hash32('', 1), 0x514e28b7);
  for (const s of ['a', 'ab', 'abc', '10.0.0.1:8080', 'user-42', 'ünïcødé ✓', '🙂x', 'x'.repeat(101)]) {
    for (const seed of [0, 1, 0xdeadbeef]) {
      assert.equal(hash32(s, seed), murmur3Bytes(Buffer.from(s, 'utf16le'), seed), `${s}/${seed}`);
    }
  }
});

test('hash32 spreads sequential keys evenly over 16 buckets', () => {
  const buckets = new Array(16).fill(0);
  const n = 64000;
  for (let i = 0; i < n; i++) buckets[hash32(`key-${i}`) & 15]++;
  for (const b of buckets) assert.ok(Math.abs(b - n / 16) < (n / 16) * 0.05, `bucket ${b}`);
});
