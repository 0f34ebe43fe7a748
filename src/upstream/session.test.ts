import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SessionPersistence, isSessionHit } from './session.ts';
import { makeEndpoint } from './types.ts';
import { UpstreamError } from './errors.ts';

const eps = [makeEndpoint('10.0.0.1', 8080), makeEndpoint('10.0.0.2', 8080), makeEndpoint('10.0.0.3', 8080)];
const key = 'k'.repeat(32);
const all = () => true;
const T0 = Date.UTC(2026, 0, 1);

describe('SessionPersistence', () => {
  test('a token routes back to the endpoint it was issued for, and reveals nothing about it', () => {
    const sp = new SessionPersistence(eps, { key, scope: 'ns/api' });
    for (const e of eps) {
      const token = sp.issue(e, T0);
      assert.ok(!token.includes('10.0.0') && !Buffer.from(token.split('.')[1], 'base64url').toString('latin1').includes('10.0'));
      const r = sp.resolve(token, all, T0 + 1000);
      assert.ok(isSessionHit(r));
      assert.equal(r.endpoint, e);
      assert.equal(r.createdAt, T0);
    }
  });

  test('the same key and scope in another instance (another worker) accepts the token; another scope or key does not', () => {
    const token = new SessionPersistence(eps, { key, scope: 'ns/api' }).issue(eps[1], T0);
    const again = new SessionPersistence([...eps].reverse(), { key, scope: 'ns/api' }).resolve(token, all, T0);
    assert.ok(isSessionHit(again) && again.endpoint.id === eps[1].id);
    assert.equal(new SessionPersistence(eps, { key, scope: 'ns/other' }).resolve(token, all, T0), 'bad-mac');
    assert.equal(new SessionPersistence(eps, { key: 'x'.repeat(32), scope: 'ns/api' }).resolve(token, all, T0), 'bad-mac');
  });

  test('forged, tampered and malformed tokens are refused', () => {
    const sp = new SessionPersistence(eps, { key, scope: 'ns/api' });
    const token = sp.issue(eps[0], T0);
    const parts = token.split('.');
    const otherTag = sp.issue(eps[2], T0).split('.')[1];
    assert.equal(sp.resolve([parts[0], otherTag, ...parts.slice(2)].join('.'), all, T0), 'bad-mac', 'tag swapped to another endpoint');
    assert.equal(sp.resolve([...parts.slice(0, 3), (parseInt(parts[3], 36) + 99).toString(36), parts[4]].join('.'), all, T0), 'bad-mac', 'time edited');
    for (const bad of ['x', 'v1....', `${token}x`, token.replace('v1', 'v2'), 'v1.' + 'A'.repeat(200)]) assert.equal(sp.resolve(bad, all, T0), 'malformed', bad);
    assert.equal(sp.resolve(undefined, all, T0), 'absent');
  });

  test('absolute and idle timeouts, ineligible and removed endpoints', () => {
    const sp = new SessionPersistence(eps, { key, scope: 's', absoluteTimeoutMs: 3_600_000, idleTimeoutMs: 600_000 });
    const t = sp.issue(eps[0], T0);
    assert.ok(isSessionHit(sp.resolve(t, all, T0 + 599_000)));
    assert.equal(sp.resolve(t, all, T0 + 601_000), 'expired', 'idle');
    const refreshed = sp.issue(eps[0], T0 + 590_000, T0);
    assert.ok(isSessionHit(sp.resolve(refreshed, all, T0 + 1_000_000)), 're-issued token extends the idle window');
    const late = sp.issue(eps[0], T0 + 3_500_000, T0);
    assert.equal(sp.resolve(late, all, T0 + 3_700_000), 'expired', 'absolute timeout counts from creation');
    assert.equal(sp.resolve(t, (e) => e !== eps[0], T0), 'ineligible');
    const smaller = new SessionPersistence(eps.slice(1), { key, scope: 's' });
    assert.equal(smaller.resolve(t, all, T0), 'unknown-endpoint');
  });

  test('a short key is rejected', () => {
    assert.throws(() => new SessionPersistence(eps, { key: 'short', scope: 's' }), (e: unknown) => e instanceof UpstreamError && e.code === 'PCS_ERR_UPSTREAM_INVALID_OPTION');
  });
});
