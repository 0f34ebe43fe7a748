/**
 * MurmurHash3 (x86, 32-bit) of a string's UTF-16LE encoding, computed straight from char codes:
 * no encoding step, no allocation, only 32-bit integer math (Math.imul). Used by the consistent
 * hashing balancers. Envoy uses xxHash64; a 64-bit hash needs BigInt in JS, which is far slower,
 * and 32 bits are plenty for rings of up to a few million points.
 */
export function hash32(s: string, seed = 0): number {
  let h = seed | 0;
  const n = s.length;
  let i = 0;
  for (; i + 1 < n; i += 2) {
    let k = s.charCodeAt(i) | (s.charCodeAt(i + 1) << 16);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  if (i < n) {
    let k = s.charCodeAt(i);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
  }
  h ^= n * 2;
  return fmix32(h);
}

/** The MurmurHash3 finalizer: a bijective 32-bit mix. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Derives the n-th alternative hash from a hash (used to probe again past an ineligible endpoint). */
export function rehash32(h: number, n: number): number {
  return fmix32((h ^ Math.imul(n + 1, 0x9e3779b9)) | 0);
}
