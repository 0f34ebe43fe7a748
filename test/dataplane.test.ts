// The HTTP data path as a client sees it: routing, filters, forwarding headers, safe errors.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { request } from 'undici';
import { freePort, startGateway, tmpDir, type GatewayProc } from './helpers/cli.ts';
import { backendYaml, gatewayWith } from './helpers/config.ts';
import { startUpstream, type Upstream } from './helpers/upstream.ts';

let up: Upstream, gw: GatewayProc, port: number, deadPort: number;

before(async () => {
  up = await startUpstream('up');
  port = await freePort();
  deadPort = await freePort(); // nothing listens here
  const dir = tmpDir();
  fs.writeFileSync(path.join(dir, 'c.yaml'), `${gatewayWith([`{ name: http, protocol: HTTP, port: ${port} }`])}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: r, namespace: default }
spec:
  parentRefs: [{ name: gw }]
  hostnames: [app.example.com]
  rules:
    - matches: [{ path: { type: PathPrefix, value: /api } }]
      filters:
        - type: URLRewrite
          urlRewrite: { hostname: internal.example, path: { type: ReplacePrefixMatch, replacePrefixMatch: /v2 } }
        - type: RequestHeaderModifier
          requestHeaderModifier: { set: [{ name: X-Env, value: prod }], add: [{ name: X-Add, value: b }], remove: [X-Debug] }
        - type: ResponseHeaderModifier
          responseHeaderModifier: { set: [{ name: Cache-Control, value: no-store }], remove: [X-Upstream] }
      backendRefs: [{ group: portcullis.dev, kind: Backend, name: up }]
    - matches: [{ path: { type: Exact, value: /moved } }]
      filters:
        - type: RequestRedirect
          requestRedirect: { scheme: https, hostname: new.example.com, statusCode: 308 }
    - matches: [{ path: { type: PathPrefix, value: /dead } }]
      backendRefs: [{ group: portcullis.dev, kind: Backend, name: dead }]
    - matches: [{ path: { type: PathPrefix, value: / } }]
      backendRefs: [{ group: portcullis.dev, kind: Backend, name: up }]
---
${backendYaml('up', [up.port])}
---
${backendYaml('dead', [deadPort])}
`);
  gw = await startGateway(dir);
});
after(async () => { await gw?.stop(); await up?.close(); });

async function call(p: string, headers: Record<string, string> = {}, method = 'GET', body?: string) {
  const r = await request(`http://127.0.0.1:${port}${p}`, { method: method as 'GET', headers: { host: 'app.example.com', ...headers }, body });
  const text = await r.body.text();
  return { status: r.statusCode, headers: r.headers, text, json: () => JSON.parse(text) };
}

test('route filters: URL rewrite, request and response header modifiers', async () => {
  const r = await call('/api/users?id=7', { 'x-debug': '1', 'x-add': 'a' });
  assert.equal(r.status, 200);
  const seen = r.json();
  assert.equal(seen.path, '/v2/users?id=7');
  assert.equal(seen.headers.host, 'internal.example');
  assert.equal(seen.headers['x-env'], 'prod');
  assert.equal(seen.headers['x-add'], 'a,b');
  assert.equal(seen.headers['x-debug'], undefined);
  assert.equal(r.headers['cache-control'], 'no-store');
  assert.equal(r.headers['x-upstream'], undefined);
});

function dechunk(body: string): string {
  let out = '';
  for (let i = 0; ;) {
    const eol = body.indexOf('\r\n', i);
    const n = parseInt(body.slice(i, eol), 16);
    if (!n) return out;
    out += body.slice(eol + 2, eol + 2 + n);
    i = eol + 2 + n + 2;
  }
}

function rawRequest(text: string): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(text));
    s.setTimeout(3000, () => s.destroy());
    let out = '';
    s.on('data', (d) => (out += d));
    s.on('close', () => resolve(out));
    s.on('error', () => resolve(out));
  });
}

test('forwarding headers: client-sent X-Forwarded-For is replaced (no trusted proxies), hop-by-hop dropped', async () => {
  // Raw bytes: HTTP clients will not send arbitrary Connection tokens.
  const res = await rawRequest('GET /x HTTP/1.1\r\nHost: app.example.com\r\nX-Forwarded-For: 6.6.6.6\r\nConnection: close, x-secret-hop\r\nX-Secret-Hop: v\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\n\r\n');
  assert.match(res, /^HTTP\/1\.1 200 /);
  const seen = JSON.parse(dechunk(res.slice(res.indexOf('\r\n\r\n') + 4)));
  assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
  assert.equal(seen.headers['x-forwarded-proto'], 'http');
  assert.equal(seen.headers['x-forwarded-host'], 'app.example.com');
  assert.equal(seen.headers['x-secret-hop'], undefined, 'headers named in Connection are hop-by-hop');
  assert.equal(seen.headers['keep-alive'], undefined);
  assert.equal(seen.headers['proxy-connection'], undefined);
});

test('request id: generated when absent, propagated when sane, replaced when not', async () => {
  const a = await call('/x');
  assert.match(String(a.headers['x-request-id']), /^[0-9a-f]{20}$/);
  assert.equal(a.json().headers['x-request-id'], a.headers['x-request-id']);
  const b = await call('/x', { 'x-request-id': 'trace-123' });
  assert.equal(b.headers['x-request-id'], 'trace-123');
  const c = await call('/x', { 'x-request-id': 'bad id with spaces' });
  assert.notEqual(c.headers['x-request-id'], 'bad id with spaces');
});

test('RequestRedirect with scheme https drops the default port', async () => {
  const r = await call('/moved?q=1');
  assert.equal(r.status, 308);
  assert.equal(r.headers.location, 'https://new.example.com/moved?q=1');
});

test('errors are problem+json with the request id and no internals', async () => {
  const nf = await call('/x', { host: 'other.example.com' });
  assert.equal(nf.status, 404);
  assert.equal(nf.headers['content-type'], 'application/problem+json');
  const body = nf.json();
  assert.equal(body.requestId, nf.headers['x-request-id']);
  const bad = await call('/dead/x');
  assert.equal(bad.status, 502);
  const b = bad.json();
  assert.equal(b.code, 'PCS_ERR_UPSTREAM_CONNECT');
  assert.ok(!bad.text.includes(String(deadPort)) && !bad.text.includes('ECONNREFUSED') && !bad.text.includes('127.0.0.1'), bad.text);
});

test('request bodies are streamed to the upstream', async () => {
  const payload = 'x'.repeat(256 * 1024);
  const r = await call('/echo', { 'content-type': 'text/plain' }, 'POST', payload);
  assert.equal(r.json().body.length, payload.length);
});

test('smuggling probes: conflicting Content-Length and Transfer-Encoding, obs-fold -> 400, never forwarded', async () => {
  const before = up.requests;
  const probes = [
    'POST / HTTP/1.1\r\nHost: app.example.com\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: app.example.com\r\nX-Folded: a\r\n b\r\n\r\n',
    'POST / HTTP/1.1\r\nHost: app.example.com\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcd',
  ];
  for (const p of probes) {
    const res = await rawRequest(p);
    assert.match(res, /^HTTP\/1\.1 400 /, `probe ${JSON.stringify(p)} got ${res.slice(0, 40)}`);
    assert.match(res, /application\/problem\+json/);
  }
  assert.equal(up.requests, before, 'nothing reached the upstream');
  await gw.waitForLog(/bad request refused/, 2000, 0);
});

test('an HTTP/1 request line that says HTTP/2.0 (which the HTTP/1 parsers pass on: other versions they refuse with 400), with or without a body, or an upgrade, gets 505 problem+json; the gateway keeps serving', async () => {
  const before = up.requests;
  for (const p of [
    'GET / HTTP/2.0\r\nHost: app.example.com\r\n\r\n',
    'POST /api HTTP/2.0\r\nHost: app.example.com\r\nContent-Length: 3\r\n\r\nabc',
    'GET / HTTP/2.0\r\nHost: app.example.com\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n',
  ]) {
    const res = await rawRequest(p);
    assert.match(res, /^HTTP\/1\.1 505 /, `${JSON.stringify(p)} got ${JSON.stringify(res.slice(0, 60))}`);
    assert.match(res, /application\/problem\+json/);
    assert.match(res, /"code":"PCS_ERR_HTTP_VERSION"/);
  }
  assert.equal(up.requests, before, 'nothing reached the upstream');
  assert.equal((await call('/ok')).status, 200, 'the gateway still serves');
});

test('HTTP/2 cleartext with prior knowledge (h2c) on the same port as HTTP/1.1', async () => {
  const http2 = await import('node:http2');
  const session = http2.connect(`http://127.0.0.1:${port}`);
  try {
    const get = (p: string, headers: Record<string, string> = {}) => new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
      const s = session.request({ ':path': p, ':authority': 'app.example.com', ...headers });
      let body = '';
      let h: Record<string, unknown> = {};
      s.on('response', (hh) => { h = hh; });
      s.on('data', (d) => (body += d));
      s.on('end', () => resolve({ status: Number(h[':status']), headers: h, body }));
      s.on('error', reject);
      s.end();
    });
    const [a, b] = await Promise.all([get('/api/one', { 'x-debug': '1' }), get('/moved')]);
    assert.equal(a.status, 200);
    const seen = JSON.parse(a.body);
    assert.equal(seen.path, '/v2/one', 'route filters apply to h2 requests too');
    assert.equal(seen.headers['x-env'], 'prod');
    assert.equal(seen.headers[':authority'], undefined, 'pseudo-headers are not forwarded');
    assert.equal(seen.headers['x-forwarded-host'], 'app.example.com');
    assert.equal(a.headers['cache-control'], 'no-store');
    assert.equal(b.status, 308);
    const nf = await get('/x', { ':authority': 'nobody.example' });
    assert.equal(nf.status, 404);
    assert.equal(JSON.parse(nf.body).status, 404);
  } finally {
    session.close();
  }
});

test('HEAD, Expect: 100-continue and a chunked request body', async () => {
  const head = await call('/x', {}, 'HEAD');
  assert.equal(head.status, 200);
  assert.equal(head.text, '');
  // 100-continue: the gateway answers 100 itself, then streams the body (Expect is not forwarded).
  const res = await new Promise<string>((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.write('POST /echo HTTP/1.1\r\nHost: app.example.com\r\nExpect: 100-continue\r\nContent-Length: 5\r\nConnection: close\r\n\r\n'));
    let out = '';
    s.on('data', (d) => { out += d; if (out.startsWith('HTTP/1.1 100 Continue\r\n\r\n') && !out.includes('200')) s.write('hello'); });
    s.on('close', () => resolve(out));
    s.setTimeout(3000, () => s.destroy());
  });
  assert.match(res, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
  const echoed = JSON.parse(dechunk(res.slice(res.lastIndexOf('\r\n\r\n', res.indexOf('{')) + 4)));
  assert.equal(echoed.body, 'hello');
  assert.equal(echoed.headers.expect, undefined);
  const chunked = await rawRequest('POST /echo HTTP/1.1\r\nHost: app.example.com\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n');
  assert.match(chunked, /^HTTP\/1\.1 200 /);
  const seen = JSON.parse(dechunk(chunked.slice(chunked.indexOf('\r\n\r\n') + 4)));
  assert.equal(seen.body, 'hello world');
  assert.equal(seen.headers['transfer-encoding'], 'chunked', 'a streamed body goes upstream chunked');
});
