import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import { once } from 'node:events';
import type { AddressInfo, Socket } from 'node:net';
import { PoolRegistry } from './pool.ts';
import type { PoolOptions } from './pool.ts';
import { makeEndpoint } from './types.ts';
import { UpstreamError } from './errors.ts';
import { classifyError } from './resilience.ts';
import { selfSignedCert } from './testutil.ts';

/** A loopback upstream that counts TCP connections; `delayMs` delays each response. */
async function upstream(delayMs = 0) {
  let connections = 0;
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    setTimeout(() => res.end(`hello ${req.url}`), delayMs);
  });
  server.keepAliveTimeout = 10_000;
  server.on('connection', (s: Socket) => {
    connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: makeEndpoint('127.0.0.1', port),
    connections: () => connections,
    open: () => sockets.size,
    close: () => { for (const s of sockets) s.destroy(); return new Promise<void>((r) => server.close(() => r())); },
  };
}

async function get(pool: ReturnType<PoolRegistry['getPool']>, path: string): Promise<string> {
  const res = await pool.request({ method: 'GET', path });
  assert.equal(res.statusCode, 200);
  return res.body.text();
}

describe('PoolRegistry', () => {
  test('keep-alive: sequential requests reuse one connection; the same pool is returned', async () => {
    const up = await upstream();
    const reg = new PoolRegistry();
    const opts: PoolOptions = {};
    try {
      // Between requests a turn of the event loop lets the connection report itself free.
      for (let i = 0; i < 20; i++) {
        assert.equal(await get(reg.getPool(up.endpoint, opts), `/r${i}`), `hello /r${i}`);
        await new Promise((r) => setImmediate(r));
      }
      assert.equal(up.connections(), 1);
      // Back-to-back (undici frees the connection one tick after the body ends): at most 2, never one per request.
      for (let i = 0; i < 50; i++) await get(reg.getPool(up.endpoint, opts), `/b${i}`);
      assert.ok(up.connections() <= 2, `${up.connections()} connections for 70 sequential requests`);
      assert.equal(reg.getPool(up.endpoint, opts), reg.getPool(up.endpoint, opts));
      assert.equal(reg.size, 1);
    } finally {
      await reg.close();
      await up.close();
    }
  });

  test('max connections per endpoint bounds concurrency', async () => {
    const up = await upstream(20);
    const reg = new PoolRegistry();
    const opts: PoolOptions = { connections: 3 };
    try {
      const pool = reg.getPool(up.endpoint, opts);
      const bodies = await Promise.all(Array.from({ length: 12 }, (_, i) => get(pool, `/c${i}`)));
      assert.equal(bodies.length, 12);
      assert.equal(up.connections(), 3);
    } finally {
      await reg.close();
      await up.close();
    }
  });

  test('retain() closes unused pools after their in-flight requests finish, and keeps the rest', async () => {
    const a = await upstream();
    const b = await upstream(150);
    const reg = new PoolRegistry();
    const opts: PoolOptions = {};
    try {
      const pa = reg.getPool(a.endpoint, opts);
      const pb = reg.getPool(b.endpoint, opts);
      await get(pa, '/warm');
      const inflight = get(pb, '/slow');
      await new Promise((r) => setTimeout(r, 30)); // request is at the upstream now
      const retained = reg.retain([reg.keyFor(a.endpoint, opts)]);
      assert.equal(pb.closed, true, 'b closed at once for new requests');
      assert.equal(await inflight, 'hello /slow', 'in-flight request on the retired pool completed');
      await retained;
      assert.equal(pb.destroyed, true);
      assert.equal(pa.closed, false);
      assert.deepEqual(reg.keys(), [reg.keyFor(a.endpoint, opts)]);
      await get(pa, '/again');
      assert.equal(a.connections(), 1, 'kept pool kept its connection');
      const deadline = Date.now() + 2000;
      while (b.open() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      assert.equal(b.open(), 0, 'retired pool closed its connection');
      // A later getPool for the dropped key builds a fresh pool.
      const pb2 = reg.getPool(b.endpoint, opts);
      assert.notEqual(pb2, pb);
      assert.equal(await get(pb2, '/new'), 'hello /new');
    } finally {
      await reg.close();
      await a.close();
      await b.close();
    }
  });

  test('different transport settings get different pools; equal settings share one', () => {
    const reg = new PoolRegistry();
    const e = makeEndpoint('127.0.0.1', 1);
    const plain = reg.keyFor(e, {});
    const tls1 = reg.keyFor(e, { tls: { servername: 'a.example', ca: 'PEM-A' } });
    const tls2 = reg.keyFor(e, { tls: { servername: 'a.example', ca: 'PEM-B' } });
    const tls1again = reg.keyFor(e, { tls: { ca: 'PEM-A', servername: 'a.example' } });
    assert.equal(new Set([plain, tls1, tls2]).size, 3);
    assert.equal(tls1again, tls1);
    assert.ok(!tls1.includes('PEM'), 'key material does not appear in keys');
    assert.notEqual(reg.getPool(e, { connections: 2 }), reg.getPool(e, { connections: 3 }));
  });

  test('bad options and use after close are rejected with typed errors', async () => {
    const reg = new PoolRegistry();
    const e = makeEndpoint('127.0.0.1', 1);
    for (const o of [{ connections: 0 }, { connections: 1.5 }, { connectTimeoutMs: -1 }, { keepAliveTimeoutMs: 0 }]) {
      assert.throws(() => reg.getPool(e, o), (err: unknown) => err instanceof UpstreamError && err.code === 'PCS_ERR_UPSTREAM_INVALID_OPTION', JSON.stringify(o));
    }
    await reg.close();
    assert.throws(() => reg.getPool(e, {}), (err: unknown) => err instanceof UpstreamError && err.code === 'PCS_ERR_UPSTREAM_POOL_CLOSED');
  });
});

describe('PoolRegistry over TLS', () => {
  let cert = '';
  let key = '';
  before(() => ({ cert, key } = selfSignedCert('upstream.test')));

  test('verifies the upstream certificate against the given CA and SNI name', async () => {
    let sni = '';
    const server = https.createServer({ cert, key }, (_q, r) => r.end('secure'));
    server.on('secureConnection', (s) => { sni = (s as unknown as { servername: string }).servername; });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const e = makeEndpoint('127.0.0.1', (server.address() as AddressInfo).port);
    const reg = new PoolRegistry();
    try {
      const good = reg.getPool(e, { tls: { servername: 'upstream.test', ca: cert } });
      assert.equal(await get(good, '/'), 'secure');
      assert.equal(sni, 'upstream.test');
      const untrusted = reg.getPool(e, { tls: { servername: 'upstream.test' } });
      const err = await untrusted.request({ method: 'GET', path: '/' }).then(() => undefined, (e: unknown) => e);
      assert.match(String((err as Error)?.message), /self[- ]signed|unable to verify|UNABLE_TO_VERIFY|DEPTH_ZERO/i);
      assert.deepEqual(classifyError(err), { kind: 'connect-failure' }, 'a failed TLS handshake never reached the upstream');
      const wrongName = reg.getPool(e, { tls: { servername: 'other.test', ca: cert } });
      await assert.rejects(wrongName.request({ method: 'GET', path: '/' }), /altnames|ERR_TLS_CERT_ALTNAME_INVALID|does not match/i);
    } finally {
      await reg.close();
      server.closeAllConnections();
      server.close();
    }
  });

  test('the configured SNI is sent whatever Host the requests carry, on one kept-alive connection', async () => {
    const snis: string[] = [];
    const server = https.createServer({ cert, key }, (q, r) => r.end(String(q.headers.host)));
    server.on('secureConnection', (s) => { snis.push(String((s as unknown as { servername: string }).servername)); });
    server.keepAliveTimeout = 10_000;
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const e = makeEndpoint('127.0.0.1', (server.address() as AddressInfo).port);
    const reg = new PoolRegistry();
    try {
      const pool = reg.getPool(e, { connections: 1, tls: { servername: 'upstream.test', ca: cert } });
      for (const host of ['a.example', 'b.example', 'a.example']) {
        const res = await pool.request({ method: 'GET', path: '/', headers: { host } });
        assert.equal(await res.body.text(), host, 'the Host header is passed through');
        await new Promise((r) => setImmediate(r));
      }
      assert.deepEqual(snis, ['upstream.test'], 'one handshake, with the configured name (undici alone would use each Host and reconnect)');
    } finally {
      await reg.close();
      server.closeAllConnections();
      server.close();
    }
  });
});
