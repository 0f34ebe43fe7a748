import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { once } from 'node:events';
import { createHash } from 'node:crypto';
import { Pool } from 'undici';
import { UpstreamCall, callUpstream } from './upstream-call.ts';

const BIG = Buffer.alloc(32 * 1024 * 1024, 'abcdefghijklmnopqrstuvwxyz0123456789');
const closers: (() => Promise<unknown> | void)[] = [];
after(async () => { for (const c of closers.reverse()) await c(); });

/** What the upstream saw of each request: whether its response finished or was cut. */
const upstreamEvents: string[] = [];
/** Bytes of /stream the upstream has written so far. */
let streamed = 0;
const CHUNK = Buffer.alloc(64 * 1024, 'x');

async function listen(server: http.Server | net.Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  closers.push(() => new Promise((r) => server.close(r)));
  return (server.address() as net.AddressInfo).port;
}

const upstream = http.createServer((req, res) => {
  res.on('finish', () => upstreamEvents.push(`${req.url} finished`));
  res.on('close', () => { if (!res.writableFinished) upstreamEvents.push(`${req.url} cut`); });
  if (req.url === '/small') { res.writeHead(200, { 'content-type': 'text/plain', 'x-up': '1' }); res.end('x'.repeat(100)); return; }
  if (req.url === '/big') { res.writeHead(200, { 'content-length': BIG.length }); res.end(BIG); return; }
  if (req.url === '/stream') {
    // 256 MB written as the proxy takes it (write() until it says stop, then wait for 'drain'):
    // `streamed` is how far the upstream got
    const total = 256 * 1024 * 1024;
    res.writeHead(200, { 'content-length': total });
    streamed = 0;
    const pump = () => {
      while (streamed < total) {
        streamed += CHUNK.length;
        if (!res.write(CHUNK)) { res.once('drain', pump); return; }
      }
      res.end();
    };
    pump();
    return;
  }
  if (req.url === '/trailers') {
    res.writeHead(200, { trailer: 'grpc-status' });
    res.write('part1,');
    setTimeout(() => { res.addTrailers({ 'grpc-status': '0' }); res.end('part2'); }, 20);
    return;
  }
  res.writeHead(404); res.end();
});
const upPort = await listen(upstream);
const pool = new Pool(`http://127.0.0.1:${upPort}`);
closers.push(() => pool.destroy());

/** A minimal proxy built on callUpstream, as http-handler.ts uses it. */
const proxy = http.createServer((req, res) => {
  const call = new UpstreamCall();
  res.once('close', () => { if (!res.writableFinished) call.abort(new Error('client gone')); });
  callUpstream(pool, { origin: `http://127.0.0.1:${upPort}`, path: req.url!, method: 'GET', headers: { host: 'x' }, headersTimeout: 5000, bodyTimeout: 5000 }, call).then((up) => {
    const h = { ...up.headers };
    delete h.connection; delete h['keep-alive']; delete h['transfer-encoding'];
    res.writeHead(up.statusCode, h as http.OutgoingHttpHeaders);
    up.pipeTo(res, req.headers.te === 'trailers', (err) => { if (err && !res.destroyed) res.destroy(); });
  }, (err: { code?: string }) => { res.writeHead(502, { 'x-error': String(err.code) }); res.end(); });
});
const proxyPort = await listen(proxy);

test('a small body and a 32 MB body arrive intact, with the upstream headers', async () => {
  const small = await fetch(`http://127.0.0.1:${proxyPort}/small`);
  assert.equal(small.status, 200);
  assert.equal(small.headers.get('x-up'), '1');
  assert.equal(await small.text(), 'x'.repeat(100));
  const big = await fetch(`http://127.0.0.1:${proxyPort}/big`);
  const body = Buffer.from(await big.arrayBuffer());
  assert.equal(body.length, BIG.length);
  assert.equal(createHash('sha256').update(body).digest('hex'), createHash('sha256').update(BIG).digest('hex'));
});

test('a client that does not read holds the upstream back (backpressure), and its hang-up cuts the upstream response', async () => {
  const sock = net.connect(proxyPort, '127.0.0.1');
  try {
    await once(sock, 'connect');
    sock.pause(); // read nothing
    sock.write('GET /stream HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise((r) => setTimeout(r, 500));
    // The socket buffers between the upstream and this client (two loopback connections, each
    // with a sender's and a receiver's buffer, sized by the kernel's autotuning: up to tens of MB
    // on some machines) hold what the upstream could write. Without backpressure the proxy would
    // read the 256 MB on at loopback speed (GB/s); with it the upstream stops at those buffers.
    // (A 32 MB body that had to stay unfinished failed once on a CI machine with larger buffers.)
    const held = streamed;
    assert.ok(held < 96 * 1024 * 1024, `the upstream wrote ${held} bytes although the client read nothing`);
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(streamed - held <= 4 * 1024 * 1024, `the upstream went on writing (${held} then ${streamed} bytes)`);
  } finally {
    sock.destroy();
  }
  for (let i = 0; i < 100 && !upstreamEvents.includes('/stream cut'); i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(upstreamEvents.includes('/stream cut'), `the upstream response was not cut: ${upstreamEvents.join(', ')}`);
  assert.ok(!upstreamEvents.includes('/stream finished'));
});

test('trailers are passed on when asked for, and the body around them is complete', async () => {
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => http.get({ port: proxyPort, host: '127.0.0.1', path: '/trailers', headers: { te: 'trailers' } }, resolve).on('error', reject));
  let body = '';
  for await (const c of res) body += c;
  assert.equal(body, 'part1,part2');
  assert.deepEqual(res.trailers, { 'grpc-status': '0' });
});

test('an upstream that refuses the connection rejects the call with undici\'s error code', async () => {
  const dead = net.createServer();
  const port = await listen(dead);
  await new Promise((r) => dead.close(r));
  const p = new Pool(`http://127.0.0.1:${port}`);
  closers.push(() => p.destroy());
  const call = new UpstreamCall();
  await assert.rejects(callUpstream(p, { origin: `http://127.0.0.1:${port}`, path: '/', method: 'GET', headers: {}, headersTimeout: 1000, bodyTimeout: 1000 }, call), (err: { code?: string }) => err.code === 'ECONNREFUSED');
});

test('a call aborted before it starts rejects with the abort reason and never reaches the upstream', async () => {
  const call = new UpstreamCall();
  const reason = new Error('timed out');
  call.abort(reason);
  const before = upstreamEvents.length;
  await assert.rejects(callUpstream(pool, { origin: `http://127.0.0.1:${upPort}`, path: '/small', method: 'GET', headers: {}, headersTimeout: 1000, bodyTimeout: 1000 }, call), (err) => err === reason);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(upstreamEvents.length, before);
});
