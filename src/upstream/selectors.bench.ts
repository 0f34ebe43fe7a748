/**
 * Micro-benchmark of Selector.pick (not a test). Run:
 *   node --expose-gc src/upstream/selectors.bench.ts                       (default FastRandom)
 *   BENCH_RANDOM=seeded|math node --expose-gc src/upstream/selectors.bench.ts (seededRandom / Math.random)
 * Prints ns per pick and the number of garbage collections during the timed loop (0 means the
 * loop allocated too little to trigger even a minor GC).
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { createSelector, SELECTOR_KINDS } from './balancers/index.ts';
import { makeEndpoint, seededRandom } from './types.ts';
import type { Endpoint } from './types.ts';

let gcs = 0;
new PerformanceObserver((list) => { gcs += list.getEntries().length; }).observe({ entryTypes: ['gc'] });
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

const N = 2_000_000;
const keys = Array.from({ length: 4096 }, (_, i) => ({ hashKey: `session-${i * 7919}` }));
const noKey = {};

async function run(kind: (typeof SELECTOR_KINDS)[number], n: number, weighted: boolean, downShare: number): Promise<void> {
  const eps = Array.from({ length: n }, (_, i) => makeEndpoint(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, 8080, weighted ? 1 + (i % 5) : 1));
  const down = new Set(eps.filter((_e, i) => i % Math.round(1 / downShare) === 0 && downShare > 0).map((e) => e.id));
  const eligible = down.size === 0 ? () => true : (e: Endpoint) => !down.has(e.id);
  const s = createSelector(kind, eps, { random: process.env.BENCH_RANDOM === 'seeded' ? seededRandom(1) : process.env.BENCH_RANDOM === 'math' ? Math.random : undefined });
  const hashed = kind === 'ring-hash' || kind === 'maglev';
  for (let i = 0; i < 100_000; i++) s.pick(hashed ? keys[i & 4095] : noKey, eligible); // warm up
  gc();
  await new Promise((r) => setTimeout(r, 20));
  const gcBefore = gcs;
  const t0 = process.hrtime.bigint();
  let sink = 0;
  for (let i = 0; i < N; i++) {
    const e = s.pick(hashed ? keys[i & 4095] : noKey, eligible);
    if (e !== undefined) sink = (sink + e.port) | 0;
  }
  const ns = Number(process.hrtime.bigint() - t0) / N;
  await new Promise((r) => setTimeout(r, 20));
  console.log(`${kind.padEnd(14)} n=${String(n).padEnd(5)} ${weighted ? 'weighted' : 'equal   '} down=${String(downShare * 100).padStart(2)}%  ${ns.toFixed(1).padStart(7)} ns/pick  gc=${gcs - gcBefore}  (${sink !== 0 ? "ok" : "-"})`);
}

for (const kind of SELECTOR_KINDS) {
  for (const n of [10, 1000]) {
    await run(kind, n, false, 0);
    await run(kind, n, true, 0);
    await run(kind, n, true, 0.1);
  }
}
