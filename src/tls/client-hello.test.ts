// The ClientHello parser against real hellos sent by node:tls clients to a local socket: split at
// every byte boundary (TCP reads) and re-framed into many TLS records, plus malformed, truncated,
// oversized and randomly damaged input.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { ClientHelloReader, parseClientHello, readClientHello, type HelloResult } from './client-hello.ts';

/** The first flight a node:tls client sends for these options, captured on a raw socket. */
async function capture(opts: tls.ConnectionOptions): Promise<Buffer> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  try {
    const got = new Promise<Buffer>((resolve) => {
      server.once('connection', (s) => {
        const reader = new ClientHelloReader({ maxHelloBytes: 1 << 20, maxRecords: 1024 });
        s.on('data', (c) => { if (reader.push(c)) { resolve(reader.buffered); s.destroy(); } });
      });
    });
    const c = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...opts });
    c.on('error', () => {});
    const buf = await got;
    c.destroy();
    return buf;
  } finally { server.close(); }
}

const hellos: Record<string, Buffer> = {};
before(async () => {
  hellos.sni = await capture({ servername: 'db.example.test', ALPNProtocols: ['h2', 'http/1.1'] });
  hellos.noSni = await capture({}); // connecting to an IP literal: node sends no SNI
  hellos.tls12 = await capture({ servername: 'Legacy.Example.Test', maxVersion: 'TLSv1.2' });
  // > 16 KiB: node splits it over two records.
  hellos.big = await capture({ servername: 'big.example.test', ALPNProtocols: Array.from({ length: 90 }, (_, i) => `p${i}-${'x'.repeat(200)}`) });
});

function ok(r: HelloResult | undefined): { sni?: string; alpn: readonly string[]; tlsVersion: string } {
  assert.ok(r, 'a result');
  assert.equal(r.kind, 'ok', JSON.stringify(r));
  return r as Extract<HelloResult, { kind: 'ok' }>;
}

/** Re-frame the records of `buf` so the handshake bytes sit in records of at most `size` bytes. */
function reframe(buf: Buffer, size: number): Buffer {
  const hs: Buffer[] = [];
  for (let off = 0; off + 5 <= buf.length;) { const len = buf.readUInt16BE(off + 3); hs.push(buf.subarray(off + 5, off + 5 + len)); off += 5 + len; }
  const all = Buffer.concat(hs);
  const out: Buffer[] = [];
  for (let i = 0; i < all.length; i += size) {
    const frag = all.subarray(i, i + size);
    const h = Buffer.from([22, 3, 1, 0, 0]); h.writeUInt16BE(frag.length, 3);
    out.push(h, frag);
  }
  return Buffer.concat(out);
}

test('real hellos: SNI (lower-cased), ALPN, version; none when the client sends no SNI', () => {
  const a = ok(parseClientHello(hellos.sni));
  assert.equal(a.sni, 'db.example.test');
  assert.deepEqual(a.alpn, ['h2', 'http/1.1']);
  assert.equal(a.tlsVersion, 'TLSv1.3');
  const b = ok(parseClientHello(hellos.noSni));
  assert.equal(b.sni, undefined);
  const c = ok(parseClientHello(hellos.tls12));
  assert.equal(c.sni, 'legacy.example.test');
  assert.equal(c.tlsVersion, 'TLSv1.2');
});

test('a hello split at every byte boundary into two reads, and one byte per read', () => {
  for (const name of ['sni', 'noSni', 'tls12'] as const) {
    const h = hellos[name];
    const want = ok(parseClientHello(h));
    for (let i = 1; i < h.length; i++) {
      const r = new ClientHelloReader();
      assert.equal(r.push(h.subarray(0, i)), undefined, `${name}: incomplete after ${i} of ${h.length} bytes`);
      assert.deepEqual(r.push(h.subarray(i)), want, `${name}: split at ${i}`);
      assert.ok(r.buffered.equals(h), 'every byte kept for the backend');
    }
    const r = new ClientHelloReader();
    let res: HelloResult | undefined;
    for (let i = 0; i < h.length; i++) { res = r.push(h.subarray(i, i + 1)); if (i < h.length - 1) assert.equal(res, undefined); }
    assert.deepEqual(res, want);
  }
});

test('a hello over several TLS records (node splits a >16 KiB hello; re-framed at many sizes)', () => {
  const big = hellos.big;
  assert.ok(big.readUInt16BE(3) < big.length - 5, 'node sent more than one record');
  assert.equal(parseClientHello(big).kind, 'too-large', 'over the default 16 KiB limit');
  assert.equal(ok(parseClientHello(big, { maxHelloBytes: 64 * 1024 })).sni, 'big.example.test');
  const h = hellos.sni;
  for (const size of [1, 2, 3, 5, 17, 100, 255, 1000]) {
    const framed = reframe(h, size);
    const records = Math.ceil((h.length - 5) / size);
    const r = parseClientHello(framed, { maxRecords: 10_000 });
    assert.equal(ok(r).sni, 'db.example.test', `records of ${size}`);
    if (records > 64) assert.equal(parseClientHello(framed).kind, 'too-large', `${records} records are over the default limit`);
    // ... and split across reads as well.
    const rd = new ClientHelloReader({ maxRecords: 10_000 });
    let res: HelloResult | undefined;
    for (let i = 0; i < framed.length; i += 7) res = rd.push(framed.subarray(i, i + 7));
    assert.equal(ok(res).sni, 'db.example.test');
  }
});

test('every truncation of a real hello is incomplete, never a wrong answer', () => {
  const h = hellos.sni;
  for (let i = 0; i < h.length; i++) assert.equal(parseClientHello(h.subarray(0, i)).kind, 'truncated', `prefix ${i}`);
  const r = new ClientHelloReader();
  r.push(h.subarray(0, 50));
  assert.equal(r.end().kind, 'truncated');
});

test('not TLS: HTTP, SSLv2-format, other record types', () => {
  assert.equal(parseClientHello(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')).kind, 'not-tls');
  assert.equal(new ClientHelloReader().push(Buffer.from('G'))?.kind, 'not-tls', 'decided on the first byte');
  assert.equal(parseClientHello(Buffer.from([0x80, 0x2e, 0x01, 0x03, 0x01])).kind, 'not-tls');
  assert.equal(parseClientHello(Buffer.from([22, 9, 9, 0, 1, 1])).kind, 'not-tls');
  assert.equal(parseClientHello(Buffer.from('PRI * HTTP/2.0\r\n')).kind, 'not-tls');
});

test('malformed and oversized hellos get clear results', () => {
  const h = hellos.sni;
  const mutate = (f: (b: Buffer) => void) => { const b = Buffer.from(h); f(b); return parseClientHello(b); };
  assert.equal(mutate((b) => { b[5] = 2; }).kind, 'malformed', 'handshake type ServerHello');
  assert.equal(mutate((b) => { b[0] = 21; }).kind, 'not-tls', 'an alert record first');
  assert.match((mutate((b) => { b[5 + 4 + 34] = 33; }) as { reason: string }).reason, /session id/);
  assert.equal(parseClientHello(Buffer.from([22, 3, 1, 0, 0])).kind, 'malformed', 'empty record');
  assert.equal(parseClientHello(Buffer.from([22, 3, 1, 0x50, 0x00])).kind, 'malformed', 'record over 2^14');
  // A hello announcing 1 MiB is refused from its header, before the bytes arrive.
  assert.equal(parseClientHello(Buffer.from([22, 3, 1, 0x01, 0x00, 1, 0x10, 0x00, 0x00])).kind, 'too-large');
  const rd = new ClientHelloReader();
  for (const b of [22, 3, 1, 0x40, 0x00, 1, 0x10]) assert.equal(rd.push(Buffer.from([b])), undefined);
  assert.equal(rd.push(Buffer.from([0x00]))?.kind, undefined, 'header not complete yet');
  assert.equal(rd.push(Buffer.from([0x00]))?.kind, 'too-large', 'read byte by byte: refused as soon as the handshake header is in');
  // Two SNI extensions / a bad host name.
  const withSni = (names: Buffer[]) => {
    const list = Buffer.concat(names.map((n) => Buffer.concat([Buffer.from([0, n.length >> 8, n.length & 255]), n])));
    const ext = Buffer.concat([Buffer.from([0, 0, (list.length + 2) >> 8, (list.length + 2) & 255, list.length >> 8, list.length & 255]), list]);
    return helloWith(ext);
  };
  assert.equal(ok(parseClientHello(withSni([Buffer.from('a.example')]))).sni, 'a.example');
  assert.equal(parseClientHello(withSni([Buffer.from('a.example'), Buffer.from('b.example')])).kind, 'malformed');
  assert.equal(parseClientHello(withSni([Buffer.from('bad name')])).kind, 'malformed');
  assert.equal(parseClientHello(withSni([Buffer.from('a\x00.example')])).kind, 'malformed');
  assert.equal(parseClientHello(withSni([Buffer.from('trailing.dot.')])).kind, 'malformed');
  assert.equal(parseClientHello(helloWith(Buffer.concat([Buffer.from([0, 16, 0, 1, 0]), Buffer.from([0, 16, 0, 1, 0])]))).kind, 'malformed', 'duplicate extension');
  assert.equal(ok(parseClientHello(helloWith(Buffer.alloc(0)))).sni, undefined, 'no extensions at all');
});

test('fuzz: damaged real hellos never throw and always get a result', () => {
  let seed = 12345;
  const rnd = () => { seed = (seed * 1103515245 + 12345) >>> 0; return seed / 2 ** 32; };
  const kinds = new Map<string, number>();
  for (let n = 0; n < 3000; n++) {
    const src = [hellos.sni, hellos.noSni, hellos.tls12][n % 3];
    const b = Buffer.from(src);
    const edits = 1 + Math.floor(rnd() * 4);
    for (let e = 0; e < edits; e++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
    const cut = rnd() < 0.2 ? b.subarray(0, Math.floor(rnd() * b.length)) : b;
    const r = parseClientHello(cut);
    assert.ok(['ok', 'not-tls', 'malformed', 'too-large', 'truncated'].includes(r.kind));
    if (r.kind === 'ok' && r.sni !== undefined) assert.match(r.sni, /^[a-z0-9_.-]+$/);
    kinds.set(r.kind, (kinds.get(r.kind) ?? 0) + 1);
  }
  assert.ok((kinds.get('malformed') ?? 0) > 0 && (kinds.get('ok') ?? 0) > 0, JSON.stringify([...kinds]));
});

test('readClientHello: reads from a socket, keeps the bytes, times out a slow client', async () => {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  try {
    const accept = () => new Promise<net.Socket>((r) => server.once('connection', r));
    let s = accept();
    const c1 = net.connect(port, '127.0.0.1');
    const h = hellos.sni;
    const srv1 = await s;
    const pending = readClientHello(srv1);
    for (let i = 0; i < h.length; i += 64) { c1.write(h.subarray(i, i + 64)); await new Promise((r) => setImmediate(r)); }
    const got = await pending;
    assert.equal(ok(got.result).sni, 'db.example.test');
    assert.ok(got.buffered.equals(h));
    c1.destroy(); srv1.destroy();

    s = accept();
    const c2 = net.connect(port, '127.0.0.1');
    c2.write(h.subarray(0, 10));
    const r2 = await readClientHello(await s, { timeoutMs: 200 });
    assert.equal(r2.result.kind, 'timeout');
    c2.destroy();

    s = accept();
    const c3 = net.connect(port, '127.0.0.1');
    const srv3 = await s;
    c3.end(h.subarray(0, 20));
    assert.equal((await readClientHello(srv3)).result.kind, 'truncated');
  } finally { server.close(); }
});

/** A minimal ClientHello record with the given extensions block (empty = no extensions field). */
function helloWith(exts: Buffer): Buffer {
  const body = Buffer.concat([
    Buffer.from([3, 3]), Buffer.alloc(32, 7), Buffer.from([0]), Buffer.from([0, 2, 0x13, 0x01]), Buffer.from([1, 0]),
    ...(exts.length ? [Buffer.from([exts.length >> 8, exts.length & 255]), exts] : []),
  ]);
  const hs = Buffer.concat([Buffer.from([1, 0, body.length >> 8, body.length & 255]), body]);
  return Buffer.concat([Buffer.from([22, 3, 1, hs.length >> 8, hs.length & 255]), hs]);
}
