// The CORS filter as a browser and an operator meet it: requests from an allowed origin reach the
// upstream and come back with the policy's headers (the upstream's own Access-Control-* replaced),
// preflights are answered by the gateway (after the WAF), and a bad policy is refused with
// file:line:col.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { request } from 'undici';
import { freePort, runCli, startGateway, tmpDir, type GatewayProc } from './helpers/cli.ts';
import { backendYaml, gatewayYaml } from './helpers/config.ts';

// An upstream with a CORS opinion of its own (everything allowed), which the gateway must not pass on.
const seen: { method: string; path: string; origin?: string }[] = [];
let upstream: http.Server, gw: GatewayProc, port: number;

before(async () => {
  upstream = http.createServer((req, res) => {
    seen.push({ method: req.method!, path: req.url!, origin: req.headers.origin });
    res.writeHead(200, { 'content-type': 'application/json', vary: 'Accept-Encoding', 'access-control-allow-origin': '*', 'access-control-allow-methods': 'DELETE', 'x-total-count': '42' });
    res.end(JSON.stringify({ upstream: 'api', method: req.method, path: req.url }));
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  port = await freePort();
  const dir = tmpDir();
  fs.writeFileSync(path.join(dir, 'c.yaml'), `${gatewayYaml(port)}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: api, namespace: default }
spec:
  parentRefs: [{ name: gw }]
  rules:
    - matches: [{ path: { type: PathPrefix, value: /api } }]
      filters:
        - type: CORS
          cors:
            allowOrigins: [https://app.example.com, "https://*.preview.example.com"]
            allowMethods: [GET, POST, DELETE]
            allowHeaders: [Authorization, Content-Type]
            exposeHeaders: [X-Total-Count]
            allowCredentials: true
            maxAge: 600
      backendRefs: [{ group: portcullis.dev, kind: Backend, name: api }]
    - matches: [{ path: { type: PathPrefix, value: /plain } }]
      backendRefs: [{ group: portcullis.dev, kind: Backend, name: api }]
---
apiVersion: portcullis.dev/v1alpha1
kind: WafPolicy
metadata: { name: waf, namespace: default }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: HTTPRoute, name: api }]
  ruleSet:
    directives: 'SecRule REQUEST_HEADERS:X-Attack "@streq yes" "id:10001,phase:1,deny,status:403,log,msg:''attack''"'
---
${backendYaml('api', [(upstream.address() as AddressInfo).port])}
`);
  gw = await startGateway(dir);
});
after(async () => { await gw?.stop(); if (upstream?.listening) { upstream.closeAllConnections(); await new Promise((r) => upstream.close(r)); } });

async function send(method: string, p: string, headers: Record<string, string>) {
  const before = seen.length;
  const res = await request(`http://127.0.0.1:${port}${p}`, { method: method as 'GET', headers });
  const body = await res.body.text();
  const h = res.headers as Record<string, string | undefined>;
  const cors = Object.fromEntries(Object.entries(h).filter(([k]) => k.startsWith('access-control-')));
  return { status: res.statusCode, h, body, cors, upstreamSaw: seen.slice(before) };
}

test('a request from an allowed origin reaches the upstream and gets the policy\'s headers, not the upstream\'s', async () => {
  for (const origin of ['https://app.example.com', 'https://pr-17.preview.example.com']) {
    const r = await send('GET', '/api/orders', { origin, cookie: 'session=1' });
    assert.equal(r.status, 200);
    assert.deepEqual(r.upstreamSaw, [{ method: 'GET', path: '/api/orders', origin }], 'proxied once, Origin passed on');
    assert.equal(JSON.parse(r.body).upstream, 'api');
    assert.deepEqual(r.cors, {
      'access-control-allow-origin': origin, // not the upstream's "*"
      'access-control-allow-credentials': 'true',
      'access-control-expose-headers': 'X-Total-Count',
    }, 'the upstream\'s Access-Control-Allow-Methods is gone too');
    assert.equal(r.h.vary, 'Accept-Encoding, Origin');
    assert.equal(r.h['x-total-count'], '42');
  }
});

test('a request from another origin is still proxied, without any Access-Control-* header', async () => {
  const r = await send('POST', '/api/orders', { origin: 'https://evil.example', 'content-type': 'text/plain' });
  assert.equal(r.status, 200);
  assert.equal(r.upstreamSaw.length, 1, 'the browser enforces CORS on the answer; the gateway does not block');
  assert.deepEqual(r.cors, {});
  assert.equal(r.h.vary, 'Accept-Encoding, Origin');
  const none = await send('GET', '/api/orders', {});
  assert.deepEqual(none.cors, {}, 'no Origin: no CORS headers');
  assert.equal(none.h.vary, 'Accept-Encoding, Origin', 'the answer still depends on Origin for caches');
});

test('preflights are answered by the gateway and never reach the upstream', async () => {
  const ok = await send('OPTIONS', '/api/orders/7', { origin: 'https://app.example.com', 'access-control-request-method': 'DELETE', 'access-control-request-headers': 'authorization' });
  assert.equal(ok.status, 200);
  assert.deepEqual(ok.upstreamSaw, []);
  assert.deepEqual(ok.cors, {
    'access-control-allow-origin': 'https://app.example.com',
    'access-control-allow-credentials': 'true',
    'access-control-allow-methods': 'GET, POST, DELETE',
    'access-control-allow-headers': 'Authorization, Content-Type',
    'access-control-expose-headers': 'X-Total-Count',
    'access-control-max-age': '600',
  });
  assert.equal(ok.h.vary, 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers');
  assert.ok(ok.h['x-request-id']);
  assert.equal(ok.body, '');

  const denied = await send('OPTIONS', '/api/orders/7', { origin: 'https://evil.example', 'access-control-request-method': 'DELETE' });
  assert.equal(denied.status, 403);
  assert.deepEqual(denied.upstreamSaw, []);
  assert.deepEqual(denied.cors, {});
  assert.equal(JSON.parse(denied.body).code, 'PCS_ERR_CORS_ORIGIN_NOT_ALLOWED');

  // The WAF comes first (filter-chain.ts): a preflight it blocks is not answered as one.
  const blocked = await send('OPTIONS', '/api/orders/7', { origin: 'https://app.example.com', 'access-control-request-method': 'DELETE', 'x-attack': 'yes' });
  assert.equal(blocked.status, 403);
  assert.equal(JSON.parse(blocked.body).code, 'PCS_ERR_WAF_BLOCKED');
  assert.equal(blocked.cors['access-control-allow-methods'], undefined);
  assert.deepEqual(blocked.upstreamSaw, []);

  // An OPTIONS that is not a preflight (no Access-Control-Request-Method) is an ordinary request.
  const plain = await send('OPTIONS', '/api/orders', { origin: 'https://app.example.com' });
  assert.equal(plain.upstreamSaw.length, 1);
  assert.equal(plain.cors['access-control-allow-origin'], 'https://app.example.com');
});

test('a rule without the filter passes the upstream\'s CORS headers through untouched', async () => {
  const r = await send('GET', '/plain', { origin: 'https://evil.example' });
  assert.equal(r.cors['access-control-allow-origin'], '*');
  assert.equal(r.h.vary, 'Accept-Encoding');
  const pre = await send('OPTIONS', '/plain', { origin: 'https://evil.example', 'access-control-request-method': 'DELETE' });
  assert.equal(pre.upstreamSaw.length, 1, 'no filter: a preflight is the upstream\'s business');
});

test('the gateway\'s own errors on the rule carry the headers, so a page can read them', async () => {
  // The upstream goes away (the last test that needs it): the gateway answers 502/503 itself.
  upstream.closeAllConnections();
  await new Promise((r) => upstream.close(r));
  const r = await send('GET', '/api/orders', { origin: 'https://app.example.com' });
  assert.ok(r.status >= 500, String(r.status));
  assert.equal(r.h['content-type'], 'application/problem+json');
  assert.equal(r.cors['access-control-allow-origin'], 'https://app.example.com');
  assert.equal(r.cors['access-control-allow-credentials'], 'true');
  assert.equal(r.h.vary, 'Origin');
});

test('an invalid CORS policy is refused by validate with file:line:col, the path and the fix', () => {
  const dir = tmpDir();
  fs.writeFileSync(path.join(dir, 'cors.yaml'), `${gatewayYaml(8080)}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: web, namespace: default }
spec:
  parentRefs: [{ name: gw }]
  rules:
    - filters:
        - type: CORS
          cors:
            allowOrigins:
              - https://app.example.com/
              - "https://www.*.example.com"
              - "*"
            allowCredentials: true
            exposeHeaders: ["*"]
      backendRefs: [{ group: portcullis.dev, kind: Backend, name: api }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: schema, namespace: default }
spec:
  parentRefs: [{ name: gw }]
  rules:
    - filters:
        - type: CORS
          cors: { allowOrigins: ["https://a.example"], allowMethods: [FETCH], maxAge: 0 }
      backendRefs: [{ group: portcullis.dev, kind: Backend, name: api }]
---
${backendYaml('api', [9001])}
`);
  const r = runCli(['validate', dir]);
  assert.equal(r.code, 1, r.stderr);
  const f = path.join(dir, 'cors.yaml');
  const lines = r.stderr.split('\n').filter((l) => l.startsWith(f));
  const has = (re: RegExp) => assert.ok(lines.some((l) => re.test(l.slice(f.length))), `no line matches ${re}:\n${r.stderr}`);
  has(/^:19:17: HTTPRoute\/default\/web: spec\.rules\[0\]\.filters\[0\]\.cors\.allowOrigins\[0\]: origin "https:\/\/app\.example\.com\/" has a path \("\/"\) \(remove it: https:\/\/app\.example\.com;/);
  has(/^:20:17: HTTPRoute\/default\/web: spec\.rules\[0\]\.filters\[0\]\.cors\.allowOrigins\[1\]: .*"\*" must be the whole leftmost label of the host \(write https:\/\/\*\.example\.com/);
  has(/^:19:15: HTTPRoute\/default\/web: spec\.rules\[0\]\.filters\[0\]\.cors\.allowOrigins: "\*" allows every origin and cannot be listed with other origins/);
  has(/^:23:29: HTTPRoute\/default\/web: spec\.rules\[0\]\.filters\[0\]\.cors\.exposeHeaders\[0\]: with allowCredentials, .*would expose nothing \(list the response headers/);
  has(/^:34:71: HTTPRoute\/default\/schema: spec\.rules\[0\]\.filters\[0\]\.cors\.allowMethods\[0\]: must be one of: GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, PATCH, \*/);
  has(/^:34:87: HTTPRoute\/default\/schema: spec\.rules\[0\]\.filters\[0\]\.cors\.maxAge: must be >= 1/);
  has(/^:22:31: HTTPRoute\/default\/web: spec\.rules\[0\]\.filters\[0\]\.cors\.allowCredentials: warning: .*any website can send requests with the user's cookies/);
  assert.match(r.stderr, /6 error\(s\); the config is not valid/);
});
