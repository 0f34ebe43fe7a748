import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Counter, Histogram, Registry } from 'prom-client';
import { Metrics } from './metrics.ts';

/** The same metrics fed through prom-client's own API: what the exposition must look like. */
function reference(): { registry: Registry; count: (l: string, r: string, c: string, s: number) => void } {
  const registry = new Registry();
  const help = (m: unknown) => (m as { help: string }).help;
  const m = new Metrics({ defaultMetrics: false });
  const requests = new Counter({ name: 'portcullis_http_requests_total', help: help(m.requests), labelNames: ['listener', 'route', 'code'] as const, registers: [registry] });
  const duration = new Histogram({ name: 'portcullis_http_request_duration_seconds', help: help(m.requestDuration), labelNames: ['listener'] as const, buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [registry] });
  return { registry, count: (l, r, c, s) => { requests.inc({ listener: l, route: r, code: c }); duration.observe({ listener: l }, s); } };
}

const pick = (text: string) => text.split('\n').filter((l) => l.startsWith('portcullis_http_request')).sort().join('\n');

test('countRequest exports the same counter and histogram as prom-client fed request by request', async () => {
  const m = new Metrics({ defaultMetrics: false });
  const ref = reference();
  const calls: [string, string, string, number][] = [
    ['gw/http', 'HTTPRoute/default/a#0', '2xx', 0.0004], ['gw/http', 'HTTPRoute/default/a#0', '2xx', 0.001], ['gw/http', 'HTTPRoute/default/a#0', '5xx', 0.3],
    ['gw/http', '', '4xx', 0.02], ['gw/https', 'HTTPRoute/default/b#1', '2xx', 12], ['gw/https', 'HTTPRoute/default/b#1', 'other', 0.005],
  ];
  for (const c of calls.slice(0, 3)) { m.countRequest(...c); ref.count(...c); }
  // Read in between: what is read twice must not be counted twice.
  assert.equal(pick(await m.registry.metrics()), pick(await ref.registry.metrics()));
  for (const c of calls.slice(3)) { m.countRequest(...c); ref.count(...c); }
  m.requests.inc({ listener: 'gw/http', route: 'x', code: '1xx' }); // the upgrade path counts directly
  ref.count('gw/http', 'x', '1xx', 0);
  const got = pick(await m.registry.metrics());
  const want = pick(await ref.registry.metrics()).split('\n').filter((l) => !(l.includes('duration') && l.includes('listener="gw/http"'))).join('\n');
  // The direct inc() has no duration; compare the duration series of gw/http on their own.
  assert.equal(got.split('\n').filter((l) => !(l.includes('duration') && l.includes('listener="gw/http"'))).join('\n'), want);
  assert.match(got, /portcullis_http_request_duration_seconds_count\{listener="gw\/http"\} 4/);
  assert.match(got, /portcullis_http_request_duration_seconds_bucket\{le="0\.001",listener="gw\/http"\} 2/);
  assert.match(got, /portcullis_http_requests_total\{listener="gw\/http",route="HTTPRoute\/default\/a#0",code="2xx"\} 2/);
  // The JSON the cluster aggregator reads carries the same values.
  const json = await m.registry.getMetricsAsJSON();
  const count = json.find((x) => x.name === 'portcullis_http_requests_total')!;
  assert.equal((count.values as { value: number }[]).reduce((a, v) => a + v.value, 0), 7);
});
