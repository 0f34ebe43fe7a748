import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CircuitBreaker, CircuitBreakerRegistry, RetryBudget, RetryPolicy, isRejection } from './resilience.ts';
import type { AttemptOutcome, BreakerRejection, Release, RetryCondition, RetryDecision } from './resilience.ts';
import { seededRandom } from './types.ts';
import { UpstreamError } from './errors.ts';

const connect: AttemptOutcome = { kind: 'connect-failure' };
const resetEarly: AttemptOutcome = { kind: 'reset', responseStarted: false };
const resetLate: AttemptOutcome = { kind: 'reset', responseStarted: true };
const status = (s: number): AttemptOutcome => ({ kind: 'status', status: s });

describe('RetryPolicy', () => {
  const p = new RetryPolicy({ random: () => 0 });
  const decide = (method: string, outcome: AttemptOutcome, attempt = 1, bodyReplayable?: boolean): RetryDecision => p.decide({ method, outcome, attempt, bodyReplayable });

  test('defaults: connect failure, reset before response, 502/503/504 are retried for idempotent methods', () => {
    for (const m of ['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE', 'get']) {
      for (const o of [connect, resetEarly, status(502), status(503), status(504)]) assert.ok(decide(m, o).retry, `${m} ${JSON.stringify(o)}`);
    }
    for (const s of [200, 404, 500, 501, 505]) assert.deepEqual(decide('GET', status(s)), { retry: false, reason: 'not-retryable' });
  });

  test('non-idempotent methods are retried only when the request never reached the upstream', () => {
    assert.equal(decide('POST', connect).retry, true);
    assert.equal(decide('PATCH', { kind: 'reset', responseStarted: false, requestSent: false }).retry, true);
    assert.deepEqual(decide('POST', resetEarly), { retry: false, reason: 'not-idempotent' });
    assert.deepEqual(decide('POST', status(503)), { retry: false, reason: 'not-idempotent' });
    assert.deepEqual(decide('PATCH', status(502)), { retry: false, reason: 'not-idempotent' });
  });

  test('no retry once response bytes arrived, after max attempts, or with a spent body', () => {
    assert.deepEqual(decide('GET', resetLate), { retry: false, reason: 'response-started' });
    assert.equal(decide('GET', status(503), 2).retry, true);
    assert.deepEqual(decide('GET', status(503), 3), { retry: false, reason: 'max-attempts' });
    assert.deepEqual(decide('PUT', status(503), 1, false), { retry: false, reason: 'body-not-replayable' });
    assert.equal(decide('POST', connect, 1, false).retry, true, 'connect failure: the body was never sent');
  });

  test('configurable statuses and conditions', () => {
    const q = new RetryPolicy({ retriableStatuses: [500, 429] });
    assert.equal(q.decide({ method: 'GET', attempt: 1, outcome: status(500) }).retry, true);
    assert.equal(q.decide({ method: 'GET', attempt: 1, outcome: status(429) }).retry, true);
    assert.equal(q.decide({ method: 'GET', attempt: 1, outcome: status(503) }).retry, true, 'defaults kept');
    assert.equal(q.retryableStatus(418), false);
    const only = new RetryPolicy({ retryOn: ['connect-failure'] });
    assert.equal(only.decide({ method: 'GET', attempt: 1, outcome: connect }).retry, true);
    assert.deepEqual(only.decide({ method: 'GET', attempt: 1, outcome: status(503) }), { retry: false, reason: 'not-retryable' });
    assert.deepEqual(only.decide({ method: 'GET', attempt: 1, outcome: resetEarly }), { retry: false, reason: 'not-retryable' });
    assert.deepEqual(p.decide({ method: 'GET', attempt: 1, outcome: { kind: 'per-try-timeout' } }), { retry: false, reason: 'not-retryable' });
    const t = new RetryPolicy({ retryOn: ['per-try-timeout'] });
    assert.equal(t.decide({ method: 'GET', attempt: 1, outcome: { kind: 'per-try-timeout' } }).retry, true);
    assert.equal(new RetryPolicy({ maxAttempts: 1 }).decide({ method: 'GET', attempt: 1, outcome: connect }).retry, false);
  });

  test('exponential backoff with full jitter, capped', () => {
    const top = new RetryPolicy({ backoffBaseMs: 10, backoffMaxMs: 50, random: () => 0.999999 });
    assert.deepEqual([1, 2, 3, 4, 5].map((a) => top.backoff(a)), [10, 20, 40, 50, 50]);
    const r = new RetryPolicy({ backoffBaseMs: 100, random: seededRandom(7) });
    const samples = Array.from({ length: 4000 }, () => r.backoff(2));
    assert.ok(samples.every((d) => d >= 0 && d <= 200));
    const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
    assert.ok(Math.abs(mean - 100) < 5, `mean ${mean} should be ~100 (uniform over 0..200)`);
    assert.ok(samples.filter((d) => d < 20).length > 200, 'full jitter reaches near zero');
    const d = r.decide({ method: 'GET', attempt: 1, outcome: connect });
    assert.ok(d.retry && d.delayMs >= 0 && d.delayMs <= 100);
  });

  test('bad options are rejected', () => {
    const bad: object[] = [{ maxAttempts: 0 }, { maxAttempts: 1.5 }, { retriableStatuses: [99] }, { retryOn: ['5xx' as RetryCondition] }, { backoffBaseMs: 100, backoffMaxMs: 10 }];
    for (const o of bad) assert.throws(() => new RetryPolicy(o), (e: unknown) => e instanceof UpstreamError && e.code === 'PCS_ERR_UPSTREAM_INVALID_OPTION', JSON.stringify(o));
  });
});

describe('RetryBudget', () => {
  test('retries in flight <= max(minRetryConcurrency, budgetPercent of active requests)', () => {
    const b = new RetryBudget();
    assert.equal(b.limit(0), 3);
    assert.equal(b.limit(100), 20);
    assert.equal(b.allows(100, 19), true);
    assert.equal(b.allows(100, 20), false);
    const strict = new RetryBudget({ budgetPercent: 10, minRetryConcurrency: 0 });
    assert.equal(strict.allows(5, 0), false);
    assert.equal(strict.allows(10, 0), true);
  });
});

describe('CircuitBreaker', () => {
  const acquireN = (cb: CircuitBreaker, n: number, r: 'request' | 'pending' | 'connection' | 'retry' = 'request') => {
    const out: (Release | BreakerRejection)[] = [];
    for (let i = 0; i < n; i++) out.push(cb.tryAcquire(r));
    return out;
  };

  test('rejects beyond each limit with a reason, counts overflows, and frees on release', () => {
    const cb = new CircuitBreaker({ maxRequests: 2, maxPendingRequests: 1, maxConnections: 3, maxRetries: 1 });
    const reqs = acquireN(cb, 3);
    assert.equal(typeof reqs[0], 'function');
    assert.deepEqual(reqs[2], { code: 'PCS_ERR_UPSTREAM_OVERFLOW', reason: 'max-requests' });
    assert.deepEqual(acquireN(cb, 2, 'pending')[1], { code: 'PCS_ERR_UPSTREAM_OVERFLOW', reason: 'max-pending-requests' });
    assert.deepEqual(acquireN(cb, 4, 'connection')[3], { code: 'PCS_ERR_UPSTREAM_OVERFLOW', reason: 'max-connections' });
    assert.deepEqual(acquireN(cb, 2, 'retry')[1], { code: 'PCS_ERR_UPSTREAM_OVERFLOW', reason: 'max-retries' });
    let s = cb.stats();
    assert.deepEqual(s.active, { connections: 3, pending: 1, requests: 2, retries: 1 });
    assert.deepEqual(s.overflow, { connections: 1, pending: 1, requests: 1, retries: 1 });
    assert.equal(s.open.requests, true);
    const first = reqs[0];
    assert.ok(!isRejection(first));
    first();
    first(); // double release must not free a second slot
    s = cb.stats();
    assert.equal(s.active.requests, 1);
    assert.equal(s.open.requests, false);
    assert.ok(!isRejection(cb.tryAcquire()));
    assert.ok(isRejection(cb.tryAcquire()));
  });

  test('a retry budget replaces maxRetries', () => {
    const cb = new CircuitBreaker({ maxRetries: 0, retryBudget: { budgetPercent: 20, minRetryConcurrency: 1 } });
    assert.ok(!isRejection(cb.tryAcquire('retry')), 'min concurrency 1');
    assert.deepEqual(cb.tryAcquire('retry'), { code: 'PCS_ERR_UPSTREAM_OVERFLOW', reason: 'retry-budget' });
    acquireN(cb, 15); // 15 active requests -> 20% = 3 retries
    assert.ok(!isRejection(cb.tryAcquire('retry')));
    assert.ok(!isRejection(cb.tryAcquire('retry')));
    assert.ok(isRejection(cb.tryAcquire('retry')));
  });

  test('reconfiguring keeps in-flight counts (config swap)', () => {
    const reg = new CircuitBreakerRegistry();
    const cb = reg.get('ns/api', { maxRequests: 5 });
    acquireN(cb, 4);
    assert.equal(reg.get('ns/api', { maxRequests: 4 }), cb);
    assert.ok(isRejection(cb.tryAcquire()), '4 in flight carried over, new limit 4');
    reg.retain(['ns/other']);
    assert.deepEqual(reg.names(), []);
    assert.notEqual(reg.get('ns/api'), cb);
    assert.throws(() => new CircuitBreaker({ maxRequests: -1 }), UpstreamError);
  });
});
