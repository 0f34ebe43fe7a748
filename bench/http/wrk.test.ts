import { test } from 'node:test';
import assert from 'node:assert/strict';
import { durationMs, parseWrk, WrkParseError } from './wrk.ts';

// wrk 4.1.0 output, as printed on this machine (with --latency), plus the error lines it adds.
const REPORT = `Running 1s test @ http://127.0.0.1:18555/
  2 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   189.07us  429.79us   8.09ms   96.98%
    Req/Sec    27.59k     6.16k   47.91k    76.19%
  Latency Distribution
     50%  135.00us
     75%  153.00us
     90%  192.00us
     99%    2.47ms
  57704 requests in 1.10s, 8.36MB read
  Socket errors: connect 0, read 3, write 1, timeout 7
  Non-2xx or 3xx responses: 12
Requests/sec:  52468.96
Transfer/sec:      7.61MB
`;

test('parseWrk reads req/s, the latency percentiles in ms, and the error counters', () => {
  const r = parseWrk(REPORT);
  assert.equal(r.rps, 52468.96);
  assert.equal(r.requests, 57704);
  assert.equal(r.seconds, 1.1);
  assert.equal(r.p50, 0.135);
  assert.equal(r.p99, 2.47);
  assert.equal(r.p90, 0.192);
  assert.equal(r.non2xx3xx, 12);
  assert.deepEqual(r.socketErrors, { connect: 0, read: 3, write: 1, timeout: 7 });
});

test('parseWrk: a clean report has zero errors', () => {
  const clean = REPORT.split('\n').filter((l) => !/Socket errors|Non-2xx/.test(l)).join('\n');
  const r = parseWrk(clean);
  assert.equal(r.non2xx3xx, 0);
  assert.deepEqual(r.socketErrors, { connect: 0, read: 0, write: 0, timeout: 0 });
});

test('parseWrk refuses output without --latency or without a summary', () => {
  assert.throws(() => parseWrk(REPORT.replace(/^\s+99%.*$/m, '')), WrkParseError);
  assert.throws(() => parseWrk('unable to connect to 127.0.0.1:1 Connection refused'), WrkParseError);
});

test('durationMs converts every unit wrk prints', () => {
  assert.equal(durationMs('135.00us'), 0.135);
  assert.equal(durationMs('2.47ms'), 2.47);
  assert.equal(durationMs('1.01s'), 1010);
  assert.equal(durationMs('2.00m'), 120_000);
  assert.throws(() => durationMs('12 parsecs'), WrkParseError);
});
