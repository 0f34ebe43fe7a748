// The fast HTTP/1.1 server against node:http itself: the same raw bytes go to both, with the same
// handler and the same client-error answer, and the bytes that come back must be the same (the
// Date value aside). Then what a byte comparison cannot show: backpressure, timeouts, draining.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { createHash } from 'node:crypto';
import { H1Server, type H1ServerOptions } from './server.ts';
import { METHODS } from './llhttp.ts';
import type { HttpRequest, HttpResponse } from '../http-types.ts';

const SETTINGS = { requireHostHeader: true, headersTimeout: 30_000, requestTimeout: 300_000, keepAliveTimeout: 65_000, maxHeaderSize: 32 * 1024 } as const;

async function readAll(req: HttpRequest): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

/** One handler for both servers: what it does depends on the path. */
function handler(req: HttpRequest, res: HttpResponse): void {
  const url = new URL(req.url ?? '/', 'http://x');
  const p = url.pathname;
  const json = (o: unknown) => { const b = JSON.stringify(o); res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(b) }); res.end(b); };
  if (p === '/echo') { readAll(req).then((b) => json({ method: req.method, url: req.url, version: req.httpVersion, headers: req.headers, raw: req.rawHeaders.length, body: b.toString('latin1') }), () => {}); return; }
  if (p === '/cl') { res.writeHead(200, { 'content-length': 5, 'x-path': 'cl' }); res.end('hello'); return; }
  if (p === '/chunked') { res.writeHead(200, { 'content-type': 'text/plain' }); res.write('ab'); res.write(Buffer.from('cd')); res.end('e'); return; }
  if (p === '/trailers') { res.writeHead(200, { 'content-type': 'text/plain' }); res.write('body'); res.addTrailers({ 'x-checksum': 'abc', 'grpc-status': '0' }); res.end(); return; }
  if (p === '/204') { res.writeHead(204, { 'x-a': '1' }); res.end(); return; }
  if (p === '/304') { res.writeHead(304, { etag: '"x"' }); res.end(); return; }
  if (p === '/implicit') { res.statusCode = 201; res.end('made'); return; }
  if (p === '/empty') { res.writeHead(200, {}); res.end(); return; }
  if (p === '/multi') { res.writeHead(200, { 'set-cookie': ['a=1', 'b=2'], 'x-list': ['p', 'q'], 'content-length': 0 }); res.end(); return; }
  if (p === '/delay') { setTimeout(() => { res.writeHead(200, { 'content-length': p.length + 6, 'x-delay': url.searchParams.get('ms') ?? '' }); res.end(`${p}:done`); }, Number(url.searchParams.get('ms') ?? 0)); return; }
  if (p === '/nobody') { res.writeHead(200, { 'content-length': 2 }); res.end('ok'); return; }
  if (p === '/badheader' || p === '/badname') {
    try { res.writeHead(200, p === '/badheader' ? { 'x-evil': 'a\r\nSet-Cookie: pwned=1' } : { 'bad name': 'x' }); res.end('should not be sent'); }
    catch (err) { const code = String((err as { code?: string }).code); res.writeHead(500, { 'content-length': code.length }); res.end(code); }
    return;
  }
  res.writeHead(404, { 'content-length': 0 });
  res.end();
}

function clientError(err: NodeJS.ErrnoException, socket: import('node:stream').Duplex): void {
  if (err.code === 'ECONNRESET' || err.code === 'EPIPE') { socket.destroy(); return; }
  if (socket.writable) socket.end(`HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: ${String(err.code).length}\r\n\r\n${String(err.code)}`);
  else socket.destroy();
}

function upgrade(req: HttpRequest, socket: import('node:stream').Duplex, head: Buffer): void {
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nupgrade: ${String(req.headers.upgrade)}\r\nconnection: Upgrade\r\n\r\nhead=${head.toString('latin1')};`);
  socket.on('data', (d: Buffer) => socket.write(`echo=${d.toString('latin1')};`));
}

interface Pair { nodePort: number; fastPort: number; fast: H1Server; close(): Promise<void> }

/** A node:http server and a fast one, both fed by a net listener as gateway.ts does. */
async function pair(fastOpts: H1ServerOptions = SETTINGS, h: typeof handler = handler): Promise<Pair> {
  const nodeH1 = http.createServer({ insecureHTTPParser: false, ...SETTINGS }, h as unknown as http.RequestListener);
  nodeH1.emit('listening');
  nodeH1.on('upgrade', upgrade as never);
  nodeH1.on('clientError', clientError);
  const fast = new H1Server(fastOpts, h, upgrade, clientError);
  const a = net.createServer({ noDelay: true }, (s) => s.once('data', (first: Buffer) => { s.pause(); s.unshift(first); nodeH1.emit('connection', s); s.resume(); }));
  const b = net.createServer({ noDelay: true }, (s) => { s.on('error', () => s.destroy()); s.once('data', (first: Buffer) => { s.pause(); fast.connection(s, first); }); });
  await Promise.all([new Promise<void>((r) => a.listen(0, '127.0.0.1', r)), new Promise<void>((r) => b.listen(0, '127.0.0.1', r))]);
  return {
    nodePort: (a.address() as net.AddressInfo).port, fastPort: (b.address() as net.AddressInfo).port, fast,
    async close() { nodeH1.closeAllConnections(); nodeH1.close(); fast.closeAllConnections(); fast.close(); await Promise.all([new Promise((r) => a.close(r)), new Promise((r) => b.close(r))]); },
  };
}

/** Send `parts` (with a pause between them), collect what comes back until close or `quietMs` of silence. */
function exchange(port: number, parts: (string | Buffer)[], quietMs = 150, gapMs = 30): Promise<{ out: string; closed: boolean }> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let out = '';
    let timer: NodeJS.Timeout | undefined;
    let done = false;
    const finish = (closed: boolean) => { if (done) return; done = true; clearTimeout(timer); s.destroy(); resolve({ out, closed }); };
    const arm = () => { clearTimeout(timer); timer = setTimeout(() => finish(false), quietMs); };
    s.on('data', (d) => { out += d.toString('latin1'); arm(); });
    s.on('close', () => finish(true));
    s.on('error', () => finish(true));
    s.on('connect', async () => {
      for (let i = 0; i < parts.length; i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, gapMs));
        if (s.destroyed) break;
        if (parts[i] === END) s.end(); else s.write(parts[i]);
      }
      arm();
    });
  });
}

/** In a list of parts: half-close the connection (FIN) here. */
const END = '\u0000END';

const normalize = (s: string) => s.replace(/Date: [^\r]+\r\n/g, 'Date: X\r\n');

let shared: Pair | undefined;
async function both(parts: (string | Buffer)[], quietMs?: number): Promise<{ node: { out: string; closed: boolean }; fast: { out: string; closed: boolean } }> {
  shared ??= await pair();
  const [n, f] = await Promise.all([exchange(shared.nodePort, parts, quietMs), exchange(shared.fastPort, parts, quietMs)]);
  return { node: { ...n, out: normalize(n.out) }, fast: { ...f, out: normalize(f.out) } };
}
after(async () => { await shared?.close(); });

const H = 'Host: app.example\r\n';
const CASES: Record<string, (string | Buffer)[]> = {
  'GET, keep-alive, Content-Length': [`GET /cl HTTP/1.1\r\n${H}\r\n`],
  'GET, chunked answer': [`GET /chunked HTTP/1.1\r\n${H}\r\n`],
  'GET, Connection: close': [`GET /cl HTTP/1.1\r\n${H}Connection: close\r\n\r\n`],
  'HTTP/1.0, close-delimited answer': ['GET /chunked HTTP/1.0\r\n\r\n'],
  'HTTP/1.0, TE: chunked': ['GET /chunked HTTP/1.0\r\nTE: chunked\r\n\r\n'],
  'HTTP/1.0 keep-alive with Content-Length': ['GET /cl HTTP/1.0\r\nConnection: keep-alive\r\n\r\n', 'GET /cl HTTP/1.0\r\nConnection: keep-alive\r\n\r\n'],
  'HTTP/1.0 keep-alive, chunked answer impossible': ['GET /chunked HTTP/1.0\r\nConnection: keep-alive\r\n\r\n'],
  'HEAD keeps Content-Length, no body': [`HEAD /cl HTTP/1.1\r\n${H}\r\n`, `HEAD /chunked HTTP/1.1\r\n${H}\r\n`, `HEAD /implicit HTTP/1.1\r\n${H}\r\n`],
  'trailers': [`GET /trailers HTTP/1.1\r\n${H}TE: trailers\r\n\r\n`],
  '204 and 304 without body': [`GET /204 HTTP/1.1\r\n${H}\r\n`, `GET /304 HTTP/1.1\r\n${H}\r\n`],
  'implicit head, empty end, array headers': [`GET /implicit HTTP/1.1\r\n${H}\r\n`, `GET /empty HTTP/1.1\r\n${H}\r\n`, `GET /multi HTTP/1.1\r\n${H}\r\n`],
  'pipelined, answered in order': [`GET /delay?ms=80 HTTP/1.1\r\n${H}\r\nGET /delay?ms=0 HTTP/1.1\r\n${H}\r\nGET /cl HTTP/1.1\r\n${H}\r\nPOST /echo HTTP/1.1\r\n${H}Content-Length: 3\r\n\r\nabcGET /delay?ms=20 HTTP/1.1\r\n${H}\r\n`],
  'keep-alive reuse': [`GET /cl HTTP/1.1\r\n${H}\r\n`, `GET /chunked HTTP/1.1\r\n${H}\r\n`, `POST /echo HTTP/1.1\r\n${H}Content-Length: 2\r\n\r\nhi`],
  'missing Host on HTTP/1.1': ['GET /cl HTTP/1.1\r\n\r\n'],
  'Expect: 100-continue': [`POST /echo HTTP/1.1\r\n${H}Expect: 100-continue\r\nContent-Length: 5\r\n\r\n`, 'hello'],
  'Expect: something else -> 417': [`POST /echo HTTP/1.1\r\n${H}Expect: teapot\r\nContent-Length: 5\r\n\r\nhello`, `GET /cl HTTP/1.1\r\n${H}\r\n`],
  'chunked request body': [`POST /echo HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n`, '6\r\n world\r\n0\r\n\r\n'],
  'chunked request body with trailers': [`POST /echo HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-Trailer: t\r\n\r\n`],
  'unread body is skipped, the connection goes on': [`POST /nobody HTTP/1.1\r\n${H}Content-Length: 10\r\n\r\n0123456789GET /cl HTTP/1.1\r\n${H}\r\n`],
  'unread body arriving later': [`POST /nobody HTTP/1.1\r\n${H}Content-Length: 10\r\n\r\n01234`, `56789GET /cl HTTP/1.1\r\n${H}\r\n`],
  'duplicate headers, Node rules': [`GET /echo HTTP/1.1\r\n${H}Host: second.example\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\nCookie: c=1\r\nCookie: d=2\r\nX-Dup: 1\r\nx-dup: 2\r\nContent-Type: a/b\r\nContent-Type: c/d\r\nAccept: x\r\nAccept: y\r\nUser-Agent: u1\r\nUser-Agent: u2\r\nAuthorization: one\r\nAuthorization: two\r\nVary: a\r\nVary: b\r\n\r\n`],
  'more than 32 header lines': [`GET /echo HTTP/1.1\r\n${H}${Array.from({ length: 60 }, (_, i) => `X-H${i}: v${i}\r\n`).join('')}\r\n`],
  'a long URL': [`GET /echo?${'q'.repeat(20_000)} HTTP/1.1\r\n${H}\r\n`],
  'smuggling: Content-Length and Transfer-Encoding': [`POST /echo HTTP/1.1\r\n${H}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n${H}\r\n`],
  'smuggling: two Content-Lengths': [`POST /echo HTTP/1.1\r\n${H}Content-Length: 4\r\nContent-Length: 30\r\n\r\nabcdGET /smuggled HTTP/1.1\r\n${H}\r\n`],
  'smuggling: obs-fold': [`GET /echo HTTP/1.1\r\n${H}X-Folded: a\r\n b\r\n\r\nGET /smuggled HTTP/1.1\r\n${H}\r\n`],
  'smuggling: bad byte in a header name': [`GET /echo HTTP/1.1\r\n${H}X Bad: 1\r\n\r\n`],
  'smuggling: control byte in a header value': [`GET /echo HTTP/1.1\r\n${H}X-Bad: a\x01b\r\n\r\n`],
  'smuggling: bare LF': [`GET /echo HTTP/1.1\n${H}\n\nGET /smuggled HTTP/1.1\r\n${H}\r\n`],
  'smuggling: bare CR': [`GET /echo HTTP/1.1\r\nHost: a\rX: b\r\n\r\n`],
  'smuggling: TE not chunked last': [`POST /echo HTTP/1.1\r\n${H}Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n`],
  'smuggling: space before colon': [`GET /echo HTTP/1.1\r\n${H}Content-Length : 5\r\n\r\nhello`],
  'smuggling: bad chunk size': [`POST /echo HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n`],
  'data after Connection: close': [`GET /cl HTTP/1.1\r\n${H}Connection: close\r\n\r\nGET /smuggled HTTP/1.1\r\n${H}\r\n`],
  'oversized headers': [`GET /echo HTTP/1.1\r\n${H}X-Big: ${'a'.repeat(33 * 1024)}\r\n\r\n`],
  'headers just under the limit': [`GET /cl HTTP/1.1\r\n${H}X-Big: ${'a'.repeat(31 * 1024)}\r\n\r\n`],
  'invalid response header value is refused (ERR_INVALID_CHAR)': [`GET /badheader HTTP/1.1\r\n${H}\r\n`],
  'invalid response header name is refused': [`GET /badname HTTP/1.1\r\n${H}\r\n`],
  'upgrade goes to the upgrade handler with the bytes after the head': [`GET /ws HTTP/1.1\r\n${H}Connection: Upgrade\r\nUpgrade: websocket\r\n\r\nearly`, 'later'],
  'Upgrade header without Connection: upgrade is a plain request': [`GET /cl HTTP/1.1\r\n${H}Upgrade: websocket\r\n\r\n`],
  'CONNECT closes the connection': [`CONNECT app.example:443 HTTP/1.1\r\n${H}\r\n`],
  // the answer comes 200 ms after the request, the FIN 30 ms after it (exchange's gapMs): both
  // servers see the FIN first (a 30 ms delay raced the 30 ms gap, so either could answer first)
  'client half-closes after its request': [`GET /delay?ms=200 HTTP/1.1\r\n${H}\r\n`, END],
  'client half-closes after a synchronous answer': [`GET /cl HTTP/1.1\r\n${H}\r\n`, END],
  'client half-closes in the middle of a body': [`POST /echo HTTP/1.1\r\n${H}Content-Length: 10\r\n\r\nabc`, END],
  'client half-closes in the middle of the headers': [`GET /cl HTTP/1.1\r\n${H}`, END],
  'HTTP/2.0 through the HTTP/1 parser': [`GET /cl HTTP/2.0\r\n${H}\r\n`],
  'garbage': ['\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03'],
  'a request cut short then end': [`POST /echo HTTP/1.1\r\n${H}Content-Length: 10\r\n\r\nabc`],
};

for (const [name, parts] of Object.entries(CASES)) {
  test(`same bytes as node:http: ${name}`, async () => {
    const r = await both(parts);
    assert.equal(r.fast.out, r.node.out);
    assert.equal(r.fast.closed, r.node.closed, `connection closed: fast ${r.fast.closed}, node ${r.node.closed}`);
    if (name.startsWith('smuggling') || name.startsWith('data after')) {
      assert.match(r.fast.out, /400 Bad Request|^HTTP\/1\.1 200 OK[^]*400 Bad Request/);
      assert.doesNotMatch(r.fast.out, /smuggled/);
    }
  });
}

test('every method llhttp accepts has its name', async () => {
  const seen: string[] = [];
  const p = await pair(SETTINGS, (req, res) => { seen.push(req.method ?? ''); res.writeHead(200, { 'content-length': 0 }); res.end(); });
  try {
    for (const m of METHODS) {
      if (m === 'CONNECT' || m === 'PRI') continue;
      const r = await exchange(p.fastPort, [`${m} /x HTTP/1.1\r\n${H}\r\n`], 50);
      if (r.out.startsWith('HTTP/1.1 200')) assert.equal(seen.at(-1), m);
    }
    assert.ok(seen.includes('QUERY') && seen.includes('GET') && seen.includes('PATCH') && seen.includes('M-SEARCH'), seen.join(','));
  } finally { await p.close(); }
});

test('a chunked upload to a slow consumer: the client is held back, memory stays bounded, nothing is lost', async (t) => {
  let consume: (() => void) | undefined;
  const go = new Promise<void>((r) => { consume = r; });
  let received = 0;
  let maxHeld = 0;
  const result = new Promise<{ bytes: number; sum: string }>((resolve) => {
    const srv = new H1Server(SETTINGS, (req, res) => {
      void (async () => {
        await go;
        let bytes = 0;
        const h = createHash('sha256');
        for await (const c of req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) { bytes += c.length; h.update(c); }
        const sum = h.digest('hex');
        res.writeHead(200, { 'content-length': String(bytes).length }); res.end(String(bytes));
        resolve({ bytes, sum });
      })();
    }, null, clientError);
    const l = net.createServer((s) => s.once('data', (first: Buffer) => { s.pause(); srv.connection(s, first); }));
    l.listen(0, '127.0.0.1', () => run((l.address() as net.AddressInfo).port, l, srv));
  });
  const total = 16 * 1024 * 1024;
  const clientHash = createHash('sha256');
  let client!: net.Socket;
  const run = (port: number, l: net.Server, srv: H1Server) => {
    client = net.connect(port, '127.0.0.1', () => {
      client.write(`POST /up HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n`);
      let sent = 0;
      const chunk = Buffer.alloc(64 * 1024);
      const pump = () => {
        while (sent < total) {
          for (let i = 0; i < chunk.length; i += 4096) chunk[i] = (sent / 65536 + i) & 0xff;
          clientHash.update(chunk);
          sent += chunk.length;
          client.write(`${chunk.length.toString(16)}\r\n`);
          client.write(Buffer.from(chunk));
          const ok = client.write('\r\n');
          if (sent >= total) { client.write('0\r\n\r\n'); break; }
          if (!ok) { client.once('drain', pump); return; }
        }
      };
      pump();
    });
    client.on('data', () => {});
    const conns = (srv as unknown as { conns: Set<{ incoming: { held: number } | null }> }).conns;
    const probe = setInterval(() => { for (const c of conns) if (c.incoming) maxHeld = Math.max(maxHeld, c.incoming.held); }, 5);
    setTimeout(() => {
      received = client.bytesWritten;
      clearInterval(probe);
      consume!();
      void result.then(() => { client.destroy(); l.close(); srv.close(); });
    }, 700);
  };
  const r = await result;
  t.diagnostic(`client wrote ${received} of ${total} while the consumer waited; server held at most ${maxHeld}`);
  assert.ok(received < total / 2, `the client could write ${received} of ${total} bytes while nobody read`);
  assert.ok(client.writableLength > 0 || received < total, 'the client was held back');
  assert.ok(maxHeld <= 256 * 1024, `the server held ${maxHeld} body bytes for a consumer that was not reading`);
  assert.equal(r.bytes, total);
  assert.equal(r.sum, clientHash.digest('hex'));
});

test('slowloris: a client that trickles its headers is cut off at headersTimeout', async () => {
  const errors: string[] = [];
  const srv = new H1Server({ ...SETTINGS, headersTimeout: 300, checkInterval: 50 }, handler, null, (err, s) => { errors.push(String(err.code)); clientError(err, s); });
  const l = net.createServer((s) => s.once('data', (first: Buffer) => { s.pause(); srv.connection(s, first); }));
  await new Promise<void>((r) => l.listen(0, '127.0.0.1', r));
  try {
    const t0 = Date.now();
    const s = net.connect((l.address() as net.AddressInfo).port, '127.0.0.1');
    let out = '';
    s.on('data', (d) => (out += d));
    const closed = new Promise<void>((r) => s.on('close', () => r()));
    s.write(`GET /cl HTTP/1.1\r\n${H}`);
    const trickle = setInterval(() => { if (!s.destroyed) s.write('X-Slow: 1\r\n'); }, 40);
    await closed;
    clearInterval(trickle);
    const took = Date.now() - t0;
    assert.ok(took >= 250 && took < 1500, `cut off after ${took} ms`);
    assert.deepEqual(errors, ['ERR_HTTP_REQUEST_TIMEOUT']);
    assert.match(out, /^HTTP\/1\.1 400 /);
    // a request that completes in time is not affected, and an idle keep-alive connection is not a slow request
    const r = await exchange((l.address() as net.AddressInfo).port, [`GET /cl HTTP/1.1\r\n${H}\r\n`], 500);
    assert.match(r.out, /^HTTP\/1\.1 200 /);
    assert.equal(r.closed, false);
  } finally { srv.closeAllConnections(); srv.close(); l.close(); }
});

test('requestTimeout: a body that never ends is cut off; keepAliveTimeout closes an idle connection', async () => {
  const errors: string[] = [];
  const srv = new H1Server({ ...SETTINGS, headersTimeout: 200, requestTimeout: 400, keepAliveTimeout: 300, keepAliveTimeoutBuffer: 0, checkInterval: 50 }, handler, null, (err, s) => { errors.push(String(err.code)); clientError(err, s); });
  const l = net.createServer((s) => s.once('data', (first: Buffer) => { s.pause(); srv.connection(s, first); }));
  await new Promise<void>((r) => l.listen(0, '127.0.0.1', r));
  const port = (l.address() as net.AddressInfo).port;
  try {
    let t0 = Date.now();
    const slow = await exchange(port, [`POST /echo HTTP/1.1\r\n${H}Content-Length: 100\r\n\r\nabc`], 2000);
    assert.ok(slow.closed && Date.now() - t0 >= 350, `closed ${slow.closed} after ${Date.now() - t0} ms`);
    assert.deepEqual(errors, ['ERR_HTTP_REQUEST_TIMEOUT']);
    t0 = Date.now();
    const idle = await exchange(port, [`GET /cl HTTP/1.1\r\n${H}\r\n`], 2000);
    assert.match(idle.out, /Keep-Alive: timeout=0\r\n/);
    assert.ok(idle.closed && Date.now() - t0 >= 250 && Date.now() - t0 < 1500, `idle connection closed after ${Date.now() - t0} ms`);
    assert.equal(errors.length, 1, 'an idle connection closing is not a client error');
  } finally { srv.closeAllConnections(); srv.close(); l.close(); }
});

test('close(): idle connections close at once, a busy one finishes its answer with Connection: close', async () => {
  const p = await pair();
  try {
    const idle = net.connect(p.fastPort, '127.0.0.1');
    let idleOut = '';
    idle.on('data', (d) => (idleOut += d));
    const idleClosed = new Promise<void>((r) => idle.on('close', () => r()));
    idle.write(`GET /cl HTTP/1.1\r\n${H}\r\n`);
    while (!idleOut.includes('hello')) await new Promise((r) => setTimeout(r, 5));
    const busy = exchange(p.fastPort, [`GET /delay?ms=200 HTTP/1.1\r\n${H}\r\n`], 1000);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(p.fast.connectionCount, 2);
    p.fast.close();
    await idleClosed;
    const b = await busy;
    assert.match(b.out, /^HTTP\/1\.1 200 OK\r\n[^]*Connection: close\r\n[^]*\/delay:done$/);
    assert.equal(b.closed, true);
    assert.equal(p.fast.connectionCount, 0);
  } finally { await p.close(); }
});

test('closeAllConnections() ends busy connections; the handler sees close without finish', async () => {
  let closedUnfinished = false;
  const p = await pair(SETTINGS, (req, res) => { res.once('close', () => { closedUnfinished = !res.writableFinished; }); });
  try {
    const r = exchange(p.fastPort, [`GET /hang HTTP/1.1\r\n${H}\r\n`], 2000);
    await new Promise((res) => setTimeout(res, 50));
    p.fast.closeAllConnections();
    assert.equal((await r).closed, true);
    await new Promise((res) => setTimeout(res, 10));
    assert.equal(closedUnfinished, true);
  } finally { await p.close(); }
});

test('a body read by a client that goes away: the reader gets ECONNRESET (aborted)', async () => {
  let error: NodeJS.ErrnoException | undefined;
  const got = new Promise<void>((resolve) => {
    void pair(SETTINGS, (req) => { readAll(req).catch((e) => { error = e; resolve(); }); }).then(async (p) => {
      const s = net.connect(p.fastPort, '127.0.0.1', () => s.write(`POST /x HTTP/1.1\r\n${H}Content-Length: 100\r\n\r\nabc`));
      setTimeout(() => s.destroy(), 50);
      await got;
      await p.close();
    });
  });
  await got;
  assert.equal(error?.code, 'ECONNRESET');
  assert.equal(error?.message, 'aborted');
});

test('a GET allocates no stream: the request and answer are plain objects', async () => {
  let seen: { req: object; res: object } | undefined;
  const p = await pair(SETTINGS, (req, res) => { seen = { req, res }; handler(req, res); });
  try {
    await exchange(p.fastPort, [`GET /cl HTTP/1.1\r\n${H}\r\n`], 50);
    const { Readable, Writable } = await import('node:stream');
    const { EventEmitter } = await import('node:events');
    assert.ok(seen && !(seen.req instanceof Readable) && !(seen.res instanceof Writable) && !(seen.res instanceof EventEmitter));
  } finally { await p.close(); }
});

test('a large answer to a slow reader: write() says when to stop, drain says when to go on, nothing is held in memory', async () => {
  const total = 32 * 1024 * 1024;
  let maxQueued = 0;
  let falses = 0;
  const p = await pair(SETTINGS, (_req, res) => {
    res.writeHead(200, { 'content-length': total });
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    let sent = 0;
    const sock = (res as unknown as { socket: net.Socket }).socket;
    const pump = () => {
      while (sent < total) {
        sent += chunk.length;
        if (sent >= total) { res.end(chunk); return; }
        const ok = res.write(chunk);
        maxQueued = Math.max(maxQueued, sock.writableLength);
        if (!ok) { falses++; res.once('drain', pump); return; }
      }
    };
    pump();
  });
  try {
    const got = await new Promise<number>((resolve) => {
      const s = net.connect(p.fastPort, '127.0.0.1', () => s.write(`GET /big HTTP/1.1\r\n${H}Connection: close\r\n\r\n`));
      let n = 0;
      s.on('data', (d) => {
        n += d.length;
        s.pause();
        setTimeout(() => s.resume(), 1); // a slow reader
      });
      s.on('close', () => resolve(n));
    });
    assert.ok(got > total, `received ${got}`);
    assert.ok(falses > 0, 'write() returned false at some point');
    assert.ok(maxQueued <= 256 * 1024, `at most ${maxQueued} bytes queued in the socket`);
  } finally { await p.close(); }
});

test('an answer written while an earlier one is pending waits its turn, and its writer gets drain when the turn comes', async () => {
  const order: string[] = [];
  const p = await pair(SETTINGS, (req, res) => {
    if (req.url === '/slow') { setTimeout(() => { order.push('slow'); res.writeHead(200, { 'content-length': 4 }); res.end('slow'); }, 100); return; }
    res.writeHead(200, {});
    const big = Buffer.alloc(40 * 1024, 0x62);
    const ok = res.write(big);
    order.push(`fast wrote, ok=${ok}`);
    if (!ok) res.once('drain', () => { order.push('fast drained'); res.end('!'); });
    else res.end('!');
  });
  try {
    const r = await exchange(p.fastPort, [`GET /slow HTTP/1.1\r\n${H}\r\nGET /fast HTTP/1.1\r\n${H}Connection: close\r\n\r\n`], 1000);
    assert.deepEqual(order, ['fast wrote, ok=false', 'slow', 'fast drained']);
    assert.ok(r.out.indexOf('slow') < r.out.indexOf('bbbb'), 'answers in request order');
    assert.ok(r.out.endsWith('1\r\n!\r\n0\r\n\r\n'));
  } finally { await p.close(); }
});
