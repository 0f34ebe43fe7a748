// Request counting for the hot path: plain numbers per listener/route/status class, handed to
// prom-client only when metrics are read (its `collect` hook runs on every scrape, and on every
// worker's read for the cluster aggregate). prom-client's own inc()/observe() hash and validate the
// label set on every call, even through a labels() child: a few percent of the proxy's CPU.
import type { Counter, Histogram } from 'prom-client';

const CLASSES = ['0xx', '1xx', '2xx', '3xx', '4xx', '5xx'];

interface RouteStats { readonly counts: number[]; readonly flushed: number[]; other: number; otherFlushed: number }

interface ListenerStats {
  readonly routes: Map<string, RouteStats>;
  /** Observations per histogram bucket (not cumulative; the last slot is above every bound). */
  readonly buckets: number[];
  sum: number;
  count: number;
}

/** The shape prom-client keeps per label set in Histogram#hashMap (lib/histogram.js createBaseValues). */
interface HistogramEntry { labels: { listener: string }; bucketValues: Record<number, number>; sum: number; count: number }

export class RequestStats {
  private readonly listeners = new Map<string, ListenerStats>();
  private readonly bounds: readonly number[];
  private readonly counter: Counter<'listener' | 'route' | 'code'>;
  private readonly histogram: Histogram<'listener'>;

  constructor(counter: Counter<'listener' | 'route' | 'code'>, histogram: Histogram<'listener'>) {
    this.counter = counter;
    this.histogram = histogram;
    this.bounds = (histogram as unknown as { upperBounds: readonly number[] }).upperBounds;
    (counter as unknown as { collect: () => void }).collect = () => this.flushCounter();
    (histogram as unknown as { collect: () => void }).collect = () => this.flushHistogram();
  }

  /** One finished request. `statusClass` is one of 0xx..5xx, or anything else for "other". */
  count(listener: string, route: string, statusClass: string, seconds: number): void {
    let l = this.listeners.get(listener);
    if (l === undefined) {
      l = { routes: new Map(), buckets: new Array<number>(this.bounds.length + 1).fill(0), sum: 0, count: 0 };
      this.listeners.set(listener, l);
    }
    let r = l.routes.get(route);
    if (r === undefined) {
      r = { counts: [0, 0, 0, 0, 0, 0], flushed: [0, 0, 0, 0, 0, 0], other: 0, otherFlushed: 0 };
      l.routes.set(route, r);
    }
    const c = statusClass.charCodeAt(0) - 48;
    if (c >= 0 && c <= 5 && statusClass.length === 3) r.counts[c]++;
    else r.other++;
    const bounds = this.bounds;
    let b = 0;
    while (b < bounds.length && seconds > bounds[b]) b++;
    l.buckets[b]++;
    l.sum += seconds;
    l.count++;
  }

  /** Counter: add what was counted since the last read. */
  private flushCounter(): void {
    for (const [listener, l] of this.listeners) {
      for (const [route, r] of l.routes) {
        for (let c = 0; c < CLASSES.length; c++) {
          const d = r.counts[c] - r.flushed[c];
          if (d > 0) { this.counter.inc({ listener, route, code: CLASSES[c] }, d); r.flushed[c] = r.counts[c]; }
        }
        const d = r.other - r.otherFlushed;
        if (d > 0) { this.counter.inc({ listener, route, code: 'other' }, d); r.otherFlushed = r.other; }
      }
    }
  }

  /**
   * Histogram: prom-client has no bulk API, so the entries it exports are written as it keeps them
   * (request-stats.test.ts compares the exposition with one fed through observe(), so a prom-client
   * that keeps them differently fails that test, not production).
   */
  private flushHistogram(): void {
    const map: Record<string, HistogramEntry> = {};
    for (const [listener, l] of this.listeners) {
      const bucketValues: Record<number, number> = {};
      for (let i = 0; i < this.bounds.length; i++) bucketValues[this.bounds[i]] = l.buckets[i];
      map[`listener:${listener}`] = { labels: { listener }, bucketValues, sum: l.sum, count: l.count };
    }
    (this.histogram as unknown as { hashMap: Record<string, HistogramEntry> }).hashMap = map;
  }
}
