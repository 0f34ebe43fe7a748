import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { join } from 'node:path';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { InternalCA, type IssuedCertificate } from './ca.ts';
import { backoffDelay, computeRenewalTime, createSecureContextSwap, ManualClock, RenewalScheduler, type Clock, type ExpiringEvent, type RenewalFailedEvent, type RenewedEvent } from './renewal.ts';
import { PkiError } from './errors.ts';
import { tempKeyStore } from './testutil.ts';

const H = 3600_000;
const DAY = 24 * H;

test('computeRenewalTime: 2/3 of the lifetime, jitter bounded and only earlier, deterministic', () => {
  const notBefore = new Date('2026-01-01T00:00:00Z');
  const v = { notBefore, notAfter: new Date(notBefore.getTime() + DAY) };
  const at = (r: number) => computeRenewalTime(v, {}, () => r).getTime() - notBefore.getTime();
  assert.equal(at(0), 16 * H);
  assert.equal(at(1), 16 * H - 0.05 * DAY);
  assert.equal(at(0.5), 16 * H - 0.025 * DAY);
  assert.equal(at(0.5), at(0.5), 'same random, same time');
  for (let i = 0; i < 200; i++) {
    const t = computeRenewalTime(v).getTime() - notBefore.getTime();
    assert.ok(t <= 16 * H && t >= 16 * H - 0.05 * DAY, String(t));
  }
  // 90 days: jitter capped at 6 h
  const long = { notBefore, notAfter: new Date(notBefore.getTime() + 90 * DAY) };
  assert.equal(computeRenewalTime(long, {}, () => 1).getTime() - notBefore.getTime(), 60 * DAY - 6 * H);
  assert.equal(computeRenewalTime(v, { renewFraction: 0.5, jitterFraction: 0 }, () => 1).getTime() - notBefore.getTime(), 12 * H);
  assert.throws(() => computeRenewalTime({ notBefore, notAfter: notBefore }), { code: 'PCS_ERR_RENEWAL' });
  assert.throws(() => computeRenewalTime(v, { renewFraction: 1.5 }), { code: 'PCS_ERR_RENEWAL' });
});

test('backoffDelay: exponential, capped, jitter at most 10%', () => {
  assert.deepEqual([1, 2, 3, 4].map((a) => backoffDelay(a, {}, () => 0)), [30_000, 60_000, 120_000, 240_000]);
  assert.equal(backoffDelay(20, {}, () => 0), 3600_000);
  assert.equal(backoffDelay(1, { initialMs: 1000 }, () => 1), 900);
  assert.equal(backoffDelay(3, { initialMs: 1000, factor: 3, maxMs: 5000 }, () => 0), 5000);
});

async function setup(t: Parameters<typeof tempKeyStore>[0], clock: ManualClock) {
  const { dir, keystore } = await tempKeyStore(t);
  const ca = await InternalCA.open({ keystore, certDir: join(dir, 'ca'), now: () => new Date(clock.now()) });
  return ca;
}

/** Wait (in real time) until `cond` holds; the issuer does real async crypto work. */
async function waitFor(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

function collect(s: RenewalScheduler) {
  const events: Array<[string, unknown]> = [];
  for (const n of ['scheduled', 'renewed', 'renewal_failed', 'expiring']) s.on(n, (e) => events.push([n, e]));
  return events;
}

test('renews a real CA certificate at 2/3 of its lifetime and hands it to the swap hook', async (t) => {
  const clock = new ManualClock(Date.parse('2026-03-01T00:00:00Z'));
  const ca = await setup(t, clock);
  const req = { dnsNames: ['svc.portcullis.test'], lifetimeMs: DAY };
  const first = await ca.issue(req);
  const swapped: IssuedCertificate[] = [];
  const s = new RenewalScheduler({ clock, random: () => 0, renew: () => ca.issue(req), onSwap: (_id, c) => void swapped.push(c) });
  t.after(() => s.stop());
  const events = collect(s);
  const at = s.add('svc', first);
  // notBefore is backdated 5 min, so 2/3 of (24h + 5min) after it
  assert.equal(at.getTime(), first.notBefore.getTime() + (DAY + 5 * 60_000) * (2 / 3));
  await clock.advanceTo(at.getTime() - 1000);
  assert.equal(swapped.length, 0, 'not before its time');
  const renewed = once(s, 'renewed');
  await clock.advance(1000);
  const [ev] = (await renewed) as [RenewedEvent];
  assert.equal(swapped.length, 1);
  assert.notEqual(swapped[0].serialNumber, first.serialNumber);
  assert.equal(ev.serialNumber, swapped[0].serialNumber);
  assert.equal(ev.attempts, 1);
  assert.ok(swapped[0].notAfter > first.notAfter);
  // next renewal computed from the new certificate
  assert.equal(s.nextAttemptAt('svc')?.getTime(), swapped[0].notBefore.getTime() + (DAY + 5 * 60_000) * (2 / 3));
  assert.deepEqual(events.map((e) => e[0]), ['scheduled', 'renewed', 'scheduled']);
});

test('failures: alert event per attempt with the error and next retry, exponential backoff, expiring, recovery', async (t) => {
  const clock = new ManualClock(Date.parse('2026-03-01T00:00:00Z'));
  const ca = await setup(t, clock);
  const first = await ca.issue({ dnsNames: ['f.portcullis.test'] });
  let failing = true;
  // a real issuer call that fails: an invalid request, as a broken configuration would produce
  const renew = () => ca.issue(failing ? { dnsNames: ['bad_name'] } : { dnsNames: ['f.portcullis.test'] });
  const s = new RenewalScheduler({ clock, random: () => 0, renew, backoff: { initialMs: 60_000, maxMs: 2 * H } });
  t.after(() => s.stop());
  const events = collect(s);
  const at = s.add('f', first);
  await clock.advanceTo(at);
  const failed = () => events.filter((e) => e[0] === 'renewal_failed').map((e) => e[1] as RenewalFailedEvent);
  await waitFor(() => failed().length === 1, 'first failure');
  assert.equal(failed().length, 1);
  const f1 = failed()[0];
  assert.equal(f1.severity, 'alert');
  assert.equal(f1.attempt, 1);
  assert.ok(f1.error instanceof PkiError && f1.error.code === 'PCS_ERR_CA_BAD_REQUEST');
  assert.equal(f1.nextRetryAt.getTime(), clock.now() + 60_000);
  assert.equal(f1.notAfter.getTime(), first.notAfter.getTime());
  // 1 min, 2 min, 4 min, ... capped at 2 h
  const retryGaps: number[] = [];
  let prev = clock.now();
  for (let k = 0; k < 8; k++) {
    const n = failed().length;
    await clock.advanceTo(failed()[n - 1].nextRetryAt);
    await waitFor(() => failed().length === n + 1, `failure ${n + 1}`);
    assert.equal(failed().length, n + 1);
    retryGaps.push(clock.now() - prev);
    prev = clock.now();
  }
  assert.deepEqual(retryGaps.map((g) => g / 60_000), [1, 2, 4, 8, 16, 32, 64, 120]);
  // 16h + ~4h of retries: inside the last sixth of the lifetime, so `expiring` was raised
  const exp = events.filter((e) => e[0] === 'expiring').map((e) => e[1] as ExpiringEvent);
  assert.ok(exp.length >= 1, 'expiring emitted');
  assert.equal(exp[0].expired, false);
  assert.ok(exp[0].msLeft < 4 * H + 5 * 60_000);
  // the issuer recovers: the next retry succeeds, attempts counted
  failing = false;
  const renewed = once(s, 'renewed');
  await clock.advanceTo(failed().at(-1)!.nextRetryAt);
  const [ok] = (await renewed) as [RenewedEvent];
  assert.equal(ok.attempts, 10);
  assert.equal(s.status()[0].failedAttempts, 0);
});

test('a hung issuer counts as a failure after attemptTimeoutMs; remove() cancels', async () => {
  const clock = new ManualClock(0);
  const s = new RenewalScheduler({ clock, random: () => 0, attemptTimeoutMs: 5000, renew: () => new Promise(() => {}) });
  const failed = once(s, 'renewal_failed');
  s.add('h', { notBefore: new Date(0), notAfter: new Date(3 * H) });
  await clock.advanceTo(2 * H);
  await clock.advance(5000);
  const [ev] = (await failed) as [RenewalFailedEvent];
  assert.match(ev.error.message, /timed out after 5000 ms/);
  s.remove('h');
  assert.equal(clock.pending.count, 0, 'no timer left after remove');
  assert.deepEqual(s.status(), []);
});

test('long lifetimes: timers never exceed the 2^31-1 ms setTimeout limit, renewal still fires', async () => {
  const inner = new ManualClock(0);
  const delays: number[] = [];
  const clock: Clock = { now: () => inner.now(), setTimer: (fn, ms) => (delays.push(ms), inner.setTimer(fn, ms)) };
  let calls = 0;
  const s = new RenewalScheduler({
    clock,
    random: () => 0,
    renew: async () => {
      calls++;
      throw new Error('stop here');
    },
  });
  s.on('renewal_failed', () => s.stop());
  s.add('long', { notBefore: new Date(0), notAfter: new Date(90 * DAY) });
  assert.ok(delays.every((d) => d <= 2_147_483_647), String(delays));
  await inner.advanceTo(60 * DAY - 1);
  assert.equal(calls, 0);
  await inner.advance(1);
  assert.equal(calls, 1);
  assert.ok(delays.length >= 3, 'the wait was re-armed in steps');
});

test('already past its renewal point: renewed at once; expired: expiring{expired:true}', async () => {
  const clock = new ManualClock(10 * DAY);
  let calls = 0;
  const s = new RenewalScheduler({ clock, random: () => 0, renew: async () => { calls++; throw new Error('x'); } });
  const exp = once(s, 'expiring');
  s.add('old', { notBefore: new Date(0), notAfter: new Date(DAY) });
  const [e] = (await exp) as [ExpiringEvent];
  assert.equal(e.expired, true);
  await clock.advance(0);
  assert.equal(calls, 1);
  s.stop();
});

test('hot swap on a real TLS server: open connections survive, new handshakes get the new certificate', async (t) => {
  const clock = new ManualClock(Date.now());
  const ca = await setup(t, clock);
  const req = { dnsNames: ['hot.portcullis.test'] };
  const first = await ca.issue(req);
  const server = tls.createServer({ key: first.keyPem.reveal(), cert: first.chainPem }, (sock) => sock.pipe(sock));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const sockets: tls.TLSSocket[] = [];
  t.after(async () => {
    for (const c of sockets) c.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });
  const port = (server.address() as AddressInfo).port;
  const dial = (session?: Buffer) =>
    new Promise<tls.TLSSocket>((resolve, reject) => {
      const c = tls.connect({ host: '127.0.0.1', port, servername: 'hot.portcullis.test', ca: ca.rootCertPem, session }, () => resolve(c));
      sockets.push(c);
      c.on('error', reject);
    });
  const echo = async (c: tls.TLSSocket, msg: string) => {
    const got = once(c, 'data');
    c.write(msg);
    return String((await got)[0]);
  };
  const old = await dial();
  assert.equal(old.getPeerCertificate().serialNumber, first.serialNumber.toUpperCase());
  // a TLS 1.3 session ticket arrives after the handshake
  const ticket = (await once(old, 'session'))[0] as Buffer;
  const s = new RenewalScheduler({ clock, random: () => 0, renew: () => ca.issue(req), onSwap: createSecureContextSwap(server) });
  t.after(() => s.stop());
  s.add('hot', first);
  const renewed = once(s, 'renewed');
  await s.renewNow('hot');
  const [ev] = (await renewed) as [RenewedEvent];
  const fresh = await dial();
  assert.equal(fresh.getPeerCertificate().serialNumber, ev.serialNumber.toUpperCase());
  assert.notEqual(ev.serialNumber, first.serialNumber);
  assert.equal(await echo(old, 'still here'), 'still here', 'the connection opened before the swap still works');
  assert.equal(await echo(fresh, 'new'), 'new');
  assert.equal(old.getPeerCertificate().serialNumber, first.serialNumber.toUpperCase());
  // session resumption across the swap: the ticket issued before it is still accepted
  const resumed = await dial(ticket);
  assert.equal(resumed.isSessionReused(), true, 'session resumed after the certificate swap');
  assert.equal(await echo(resumed, 'resumed'), 'resumed');
});
