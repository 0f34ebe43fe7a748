import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { once } from 'node:events';
import { ActiveHealthChecker, HttpProbe, TcpProbe, parseStatusRanges } from './health.ts';
import type { HealthChangeEvent, Probe } from './health.ts';
import { makeEndpoint } from './types.ts';
import { UpstreamError } from './errors.ts';
import { selfSignedCert } from './testutil.ts';

async function listen(server: net.Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as net.AddressInfo).port;
}

/** A port with nothing listening: bind, read the port, close. */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  const port = await listen(s);
  await new Promise((r) => s.close(r));
  return port;
}

function waitFor(events: HealthChangeEvent[], pred: (ev: HealthChangeEvent) => boolean, ms = 3000): Promise<HealthChangeEvent> {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + ms;
    const tick = () => {
      const ev = events.find(pred);
      if (ev) return resolve(ev);
      if (Date.now() > deadline) return reject(new Error(`no matching event in ${ms}ms; got ${JSON.stringify(events)}`));
      setTimeout(tick, 5);
    };
    tick();
  });
}

describe('parseStatusRanges', () => {
  test('single codes, ranges and lists', () => {
    const m = parseStatusRanges('200-299, 404');
    assert.deepEqual([199, 200, 250, 299, 300, 404, 503].map(m), [false, true, true, true, false, true, false]);
    assert.equal(parseStatusRanges([204, '300-301'])(301), true);
  });
  test('bad specs are rejected with a typed error', () => {
    for (const bad of ['', '20', '200-', '399-200', '200-700', 'abc', '99']) {
      assert.throws(() => parseStatusRanges(bad), (e: unknown) => e instanceof UpstreamError && e.code === 'PCS_ERR_UPSTREAM_INVALID_OPTION', bad);
    }
  });
});

/** Shared Probe contract, run against every Probe implementation. */
const probes: [string, () => Probe][] = [
  ['http', () => new HttpProbe({ path: '/healthz' })],
  ['tcp', () => new TcpProbe()],
];
for (const [name, make] of probes) {
  describe(`Probe contract: ${name}`, () => {
    const server = http.createServer((_req, res) => res.end('ok'));
    let port = 0;
    after(() => new Promise((r) => server.close(r)));

    test('a live endpoint passes', async () => {
      port = await listen(server);
      const r = await make().check(makeEndpoint('127.0.0.1', port), new AbortController().signal);
      assert.equal(r.ok, true, r.reason);
    });

    test('a closed port fails with the connect error', async () => {
      const r = await make().check(makeEndpoint('127.0.0.1', await closedPort()), new AbortController().signal);
      assert.equal(r.ok, false);
      assert.match(r.reason, /ECONNREFUSED/);
    });

    test('an aborted check settles as a failure', async () => {
      const ac = new AbortController();
      ac.abort(new Error('stop'));
      const r = await make().check(makeEndpoint('127.0.0.1', port), ac.signal);
      assert.equal(r.ok, false);
    });
  });
}

describe('HttpProbe', () => {
  test('sends method, path and host header; judges the status against the expected ranges', async () => {
    let seen: { method?: string; url?: string; host?: string } = {};
    let status = 204;
    const server = http.createServer((req, res) => {
      seen = { method: req.method, url: req.url, host: req.headers.host };
      res.statusCode = status;
      res.end();
    });
    const port = await listen(server);
    try {
      const probe = new HttpProbe({ method: 'head', path: '/ready?full=1', host: 'api.internal', expectedStatuses: '200-299' });
      const ep = makeEndpoint('127.0.0.1', port);
      assert.deepEqual(await probe.check(ep, new AbortController().signal), { ok: true, reason: 'status 204' });
      assert.deepEqual(seen, { method: 'HEAD', url: '/ready?full=1', host: 'api.internal' });
      status = 302;
      assert.deepEqual(await probe.check(ep, new AbortController().signal), { ok: false, reason: 'status 302' });
      assert.equal((await new HttpProbe().check(ep, new AbortController().signal)).ok, true, 'default range 200-399 accepts 302');
    } finally {
      server.close();
    }
  });

  test('over TLS: verifies the certificate against the given CA and name', async () => {
    const { cert, key } = selfSignedCert('svc.test');
    const server = https.createServer({ cert, key }, (_q, r) => r.end('ok'));
    const ep = makeEndpoint('127.0.0.1', await listen(server));
    try {
      const signal = new AbortController().signal;
      assert.deepEqual(await new HttpProbe({ tls: { servername: 'svc.test', ca: cert } }).check(ep, signal), { ok: true, reason: 'status 200' });
      const untrusted = await new HttpProbe({ tls: { servername: 'svc.test' } }).check(ep, signal);
      assert.equal(untrusted.ok, false);
      assert.match(untrusted.reason, /SELF_SIGNED|UNABLE_TO_VERIFY|DEPTH_ZERO/);
      const wrongName = await new HttpProbe({ tls: { servername: 'other.test', ca: cert } }).check(ep, signal);
      assert.deepEqual(wrongName, { ok: false, reason: 'connect ERR_TLS_CERT_ALTNAME_INVALID' });
    } finally {
      server.close();
    }
  });

  test('bad options are rejected', () => {
    assert.throws(() => new HttpProbe({ path: 'healthz' }), UpstreamError);
    assert.throws(() => new HttpProbe({ path: '/a b' }), UpstreamError);
    assert.throws(() => new HttpProbe({ method: 'GE T' }), UpstreamError);
    assert.throws(() => new HttpProbe({ expectedStatuses: '2xx' }), UpstreamError);
  });
});

describe('ActiveHealthChecker', () => {
  test('an endpoint that starts failing goes unhealthy after the threshold, then recovers', async () => {
    let failing = false;
    let hits = 0;
    const server = http.createServer((_req, res) => {
      hits++;
      res.statusCode = failing ? 503 : 200;
      res.end();
    });
    const port = await listen(server);
    const ep = makeEndpoint('127.0.0.1', port);
    const checker = new ActiveHealthChecker(new HttpProbe(), [ep], { intervalMs: 10, timeoutMs: 500, unhealthyThreshold: 3, healthyThreshold: 2 });
    const events: HealthChangeEvent[] = [];
    checker.onChange((ev) => events.push(ev));
    try {
      checker.start();
      while (hits < 3) await new Promise((r) => setTimeout(r, 5));
      assert.equal(checker.isHealthy(ep.id), true);
      assert.equal(events.length, 0, 'no event while healthy');
      failing = true;
      const hitsAtFailure = hits;
      const down = await waitFor(events, (e) => !e.healthy);
      assert.deepEqual(down, { endpointId: ep.id, healthy: false, reason: 'status 503' });
      assert.ok(hits - hitsAtFailure >= 3, `went down after ${hits - hitsAtFailure} failed checks, threshold is 3`);
      assert.equal(checker.isHealthy(ep.id), false);
      failing = false;
      const up = await waitFor(events, (e) => e.healthy);
      assert.equal(up.reason, 'status 200');
      assert.equal(checker.isHealthy(ep.id), true);
      assert.equal(events.length, 2);
    } finally {
      await checker.stop();
      server.close();
    }
  });

  test('a closed endpoint is marked unhealthy on its first check (TCP)', async () => {
    const server = net.createServer((s) => s.destroy());
    const live = makeEndpoint('127.0.0.1', await listen(server));
    const dead = makeEndpoint('127.0.0.1', await closedPort());
    const checker = new ActiveHealthChecker(new TcpProbe(), [live, dead], { intervalMs: 10_000, unhealthyThreshold: 5 });
    const events: HealthChangeEvent[] = [];
    checker.onChange((ev) => events.push(ev));
    try {
      await checker.checkAll();
      assert.equal(checker.isHealthy(live.id), true);
      assert.equal(checker.isHealthy(dead.id), false);
      assert.deepEqual(events, [{ endpointId: dead.id, healthy: false, reason: 'connect ECONNREFUSED' }]);
      // Closing the live server: it takes unhealthyThreshold (5) failures to go down.
      await new Promise((r) => server.close(r));
      for (let i = 0; i < 4; i++) await checker.checkAll();
      assert.equal(checker.isHealthy(live.id), true);
      await checker.checkAll();
      assert.equal(checker.isHealthy(live.id), false);
    } finally {
      await checker.stop();
    }
  });

  test('a check that does not answer in time fails with a timeout', async () => {
    const sockets = new Set<net.Socket>();
    const server = http.createServer(() => { /* never answers */ });
    server.on('connection', (s) => sockets.add(s));
    const ep = makeEndpoint('127.0.0.1', await listen(server));
    const checker = new ActiveHealthChecker(new HttpProbe(), [ep], { timeoutMs: 50, initiallyHealthy: false });
    try {
      await checker.checkAll();
      assert.deepEqual(checker.status(ep.id), { healthy: false, checked: true, reason: 'timeout after 50ms' });
    } finally {
      await checker.stop();
      for (const s of sockets) s.destroy();
      server.close();
    }
  });

  test('setEndpoints keeps state of kept endpoints and stops checking removed ones', async () => {
    let hitsB = 0;
    const a = http.createServer((_q, r) => { r.statusCode = 500; r.end(); });
    const b = http.createServer((_q, r) => { hitsB++; r.end(); });
    const ea = makeEndpoint('127.0.0.1', await listen(a));
    const eb = makeEndpoint('127.0.0.1', await listen(b));
    const checker = new ActiveHealthChecker(new HttpProbe(), [ea, eb], { intervalMs: 5 });
    try {
      await checker.checkAll();
      assert.equal(checker.isHealthy(ea.id), false);
      checker.start();
      checker.setEndpoints([ea]);
      const before = hitsB;
      await new Promise((r) => setTimeout(r, 60));
      assert.ok(hitsB - before <= 1, `removed endpoint still checked: ${hitsB - before} hits`);
      assert.equal(checker.isHealthy(ea.id), false, 'kept endpoint keeps its state');
      assert.equal(checker.status(eb.id), undefined);
    } finally {
      await checker.stop();
      a.close();
      b.close();
    }
  });

  test('bad options are rejected', () => {
    assert.throws(() => new ActiveHealthChecker(new TcpProbe(), [], { intervalMs: 0 }), UpstreamError);
    assert.throws(() => new ActiveHealthChecker(new TcpProbe(), [], { unhealthyThreshold: Number.NaN }), UpstreamError);
  });
});
