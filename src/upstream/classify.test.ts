/** classifyError against real undici failures on loopback, fed into RetryPolicy and BackendHealth. */
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { once } from 'node:events';
import { PoolRegistry } from './pool.ts';
import { RetryPolicy, classifyError } from './resilience.ts';
import type { AttemptOutcome } from './resilience.ts';
import { HealthRegistry } from './health-registry.ts';
import { makeEndpoint } from './types.ts';

async function listen(server: net.Server) {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return makeEndpoint('127.0.0.1', (server.address() as net.AddressInfo).port);
}

async function failure(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  assert.fail('expected the request to fail');
}

describe('classifyError with real undici errors', () => {
  const pools = new PoolRegistry();
  const servers: net.Server[] = [];
  after(async () => {
    await pools.close().catch(() => {});
    for (const s of servers) { (s as http.Server).closeAllConnections?.(); s.close(); }
  });

  test('connection refused -> connect-failure (retried even for POST)', async () => {
    const s = net.createServer();
    const e = await listen(s);
    await new Promise((r) => s.close(r));
    const err = await failure(pools.getPool(e, {}).request({ method: 'POST', path: '/', body: 'x' }));
    const o = classifyError(err);
    assert.deepEqual(o, { kind: 'connect-failure' });
    assert.equal(new RetryPolicy().decide({ method: 'POST', attempt: 1, outcome: o! }).retry, true);
  });

  test('upstream closes the connection before answering -> reset before response', async () => {
    const s = http.createServer((req) => req.socket.destroy());
    servers.push(s);
    const e = await listen(s);
    const err = await failure(pools.getPool(e, {}).request({ method: 'GET', path: '/' }));
    const o = classifyError(err);
    assert.deepEqual(o, { kind: 'reset', responseStarted: false });
    const p = new RetryPolicy();
    assert.equal(p.decide({ method: 'GET', attempt: 1, outcome: o! }).retry, true);
    assert.deepEqual(p.decide({ method: 'POST', attempt: 1, outcome: o! }), { retry: false, reason: 'not-idempotent' });
  });

  test('no response headers in time -> per-try-timeout', async () => {
    const s = http.createServer(() => { /* never answers */ });
    servers.push(s);
    const e = await listen(s);
    const err = await failure(pools.getPool(e, {}).request({ method: 'GET', path: '/', headersTimeout: 50 }));
    assert.deepEqual(classifyError(err), { kind: 'per-try-timeout', responseStarted: false });
  });

  test('connection dies in the middle of the body -> reset after response started (never retried)', async () => {
    const s = http.createServer((_q, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('partial');
      setTimeout(() => res.socket?.destroy(), 10);
    });
    servers.push(s);
    const e = await listen(s);
    const res = await pools.getPool(e, {}).request({ method: 'GET', path: '/' });
    const err = await failure(res.body.text());
    const o = classifyError(err, true);
    assert.deepEqual(o, { kind: 'reset', responseStarted: true });
    assert.deepEqual(new RetryPolicy().decide({ method: 'GET', attempt: 1, outcome: o! }), { retry: false, reason: 'response-started' });
  });

  test('an attempt aborted by us is not an upstream failure', async () => {
    const s = http.createServer(() => {});
    servers.push(s);
    const e = await listen(s);
    const ac = new AbortController();
    const p = pools.getPool(e, {}).request({ method: 'GET', path: '/', signal: ac.signal });
    setTimeout(() => ac.abort(), 10);
    assert.equal(classifyError(await failure(p)), undefined);
  });

  test('outcomes feed outlier detection: connect failures and resets eject', () => {
    const reg = new HealthRegistry();
    const bh = reg.backend('b', { outlier: { consecutive5xx: 2, consecutiveConnectFailures: 2, maxEjectionPercent: 100 } });
    const [a, b] = [makeEndpoint('10.0.0.1', 80), makeEndpoint('10.0.0.2', 80)];
    bh.setEndpoints([a, b]);
    const reset: AttemptOutcome = { kind: 'reset', responseStarted: false };
    bh.onOutcome(a.id, { kind: 'connect-failure' });
    bh.onOutcome(a.id, { kind: 'connect-failure' });
    bh.onOutcome(b.id, reset);
    bh.onOutcome(b.id, { kind: 'status', status: 200 });
    bh.onOutcome(b.id, reset);
    assert.equal(bh.isHealthy(a), false);
    assert.equal(bh.isHealthy(b), true, 'a success in between reset the count');
    bh.onOutcome(b.id, { kind: 'per-try-timeout' });
    assert.equal(bh.isHealthy(b), false);
  });
});
