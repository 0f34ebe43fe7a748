// WafPolicy end to end: the OWASP CRS v4 (../shared/waf) in front of a real upstream.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import http from 'node:http';
import net from 'node:net';
import { Pool, request } from 'undici';
import WebSocket, { WebSocketServer } from 'ws';
import { freePort, runCli, startGateway, tmpDir, type GatewayProc } from './helpers/cli.ts';
import { backendYaml, gatewayYaml, prefixRouteYaml } from './helpers/config.ts';
import { startUpstream, type Upstream } from './helpers/upstream.ts';
import { CRS_DIR as CRS } from '../scripts/shared.ts';

let up: Upstream, gw: GatewayProc, port: number, dir: string;
// a WebSocket echo upstream behind /ws (the Gateway's WafPolicy covers it), counting every upgrade request that reaches it
let wsUp: { server: http.Server; port: number; upgrades: number };

function config(extraPolicy = ''): string {
  return `${gatewayYaml(port)}
---
${prefixRouteYaml('up', [['login', '/login'], ['watch', '/watch']], { fallback: true })}
---
${backendYaml('up', [up.port])}
---
${prefixRouteYaml('ws', [['ws', '/ws']], { name: 'sockets' })}
---
${backendYaml('ws', [wsUp.port])}
---
apiVersion: portcullis.dev/v1alpha1
kind: WafPolicy
metadata: { name: crs, namespace: default }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: Gateway, name: gw }]
  ruleSet: { crsDir: ${JSON.stringify(path.relative(dir, CRS))} }
  paranoiaLevel: 1
---
apiVersion: portcullis.dev/v1alpha1
kind: WafPolicy
metadata: { name: login, namespace: default }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: HTTPRoute, name: app, sectionName: login }]
  ruleSet: { crsDir: ${JSON.stringify(path.relative(dir, CRS))} }
  exclusions: [{ tags: [attack-sqli], targets: [ARGS:password] }]
---
apiVersion: portcullis.dev/v1alpha1
kind: WafPolicy
metadata: { name: watch, namespace: default }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: HTTPRoute, name: app, sectionName: watch }]
  ruleSet: { crsDir: ${JSON.stringify(path.relative(dir, CRS))} }
  mode: DetectionOnly
${extraPolicy}`;
}

before(async () => {
  up = await startUpstream('up');
  const server = http.createServer((_req, res) => res.end('not a websocket'));
  const wss = new WebSocketServer({ noServer: true });
  wsUp = { server, port: 0, upgrades: 0 };
  server.on('upgrade', (req, socket, head) => { wsUp.upgrades++; wss.handleUpgrade(req, socket, head, (ws) => ws.on('message', (m) => ws.send(`echo:${m}`))); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  wsUp.port = (server.address() as net.AddressInfo).port;
  port = await freePort();
  dir = tmpDir();
  fs.writeFileSync(path.join(dir, 'c.yaml'), config());
  gw = await startGateway(dir);
});
after(async () => { await gw?.stop(); await up?.close(); wsUp?.server.closeAllConnections(); wsUp?.server.close(); });

async function send(p: string, opts: { method?: string; body?: string; headers?: Record<string, string> } = {}) {
  const r = await request(`http://127.0.0.1:${port}${p}`, { method: (opts.method ?? 'GET') as 'GET', body: opts.body, headers: { 'user-agent': 'portcullis-test', accept: '*/*', ...opts.headers } });
  const text = await r.body.text();
  return { status: r.statusCode, text, headers: r.headers };
}

test('an SQL injection in the query is blocked with 403 problem+json and logged as a security event', async () => {
  const r = await send("/products?id=1'%20OR%20'1'='1");
  assert.equal(r.status, 403, r.text);
  const body = JSON.parse(r.text);
  assert.equal(body.code, 'PCS_ERR_WAF_BLOCKED');
  assert.equal(body.requestId, r.headers['x-request-id']);
  const ev = await gw.waitForLog(new RegExp(`"msg":"security event".*"requestId":"${body.requestId}".*"ruleId":942`), 3000, 0);
  const e = JSON.parse(ev);
  assert.equal(e.policy, 'WafPolicy/default/crs');
  assert.match(e.matchedVar, /^ARGS/);
  assert.ok(e.tags.includes('attack-sqli'));
});

test('when an exchange ends, the logging phase runs: a request that scored gets CRS\'s 980170 anomaly score summary as a security event, a clean one gets none', async () => {
  const from = gw.logs.length;
  const blocked = await send("/products?id=1'%20OR%20'1'='1");
  assert.equal(blocked.status, 403);
  const id = blocked.headers['x-request-id'];
  const summary = JSON.parse(await gw.waitForLog(new RegExp(`"msg":"security event".*"requestId":"${id}".*"ruleId":980170`), 3000, from));
  assert.match(summary.message, /^Anomaly Scores: \(Inbound Scores: blocking=([1-9]\d*), detection=\1, .*threshold=5\)/);
  assert.match(summary.message, /SQLI=[1-9]/);
  assert.deepEqual(summary.tags, ['reporting', 'OWASP_CRS']);
  // in DetectionOnly the request passes, and is summed up too
  const watched = await send("/watch?id=1'%20OR%20'1'='1");
  assert.equal(watched.status, 200);
  await gw.waitForLog(new RegExp(`"msg":"security event".*"requestId":"${watched.headers['x-request-id']}".*"ruleId":980170`), 3000, from);
  const clean = await send('/search?q=red+shoes', { headers: { host: 'shop.example.com' } }); // (a numeric Host scores: CRS 920350)
  assert.equal(clean.status, 200);
  const cleanId = clean.headers['x-request-id'];
  // phase 5 runs before the access log line is written: once that line is there, a summary would be too
  await gw.waitForLog(new RegExp(`"msg":"access".*"requestId":"${cleanId}"`), 3000, from);
  const events = gw.logs.slice(from).filter((l) => l.includes(`"requestId":"${cleanId}"`) && l.includes('"security event"'));
  assert.deepEqual(events, [], 'no security event for a clean request');
});

test('a client that leaves before its body is in: nothing goes upstream, the access log says the client left, and it is not logged as a WAF failure', async () => {
  const before = up.requests;
  const from = gw.logs.length;
  await new Promise<void>((resolve) => {
    const c = net.connect(port, '127.0.0.1', () => {
      c.write('POST /login HTTP/1.1\r\nHost: shop.example.com\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nusername=a');
      setTimeout(() => c.destroy(), 100);
    });
    c.on('close', () => resolve()).on('error', () => resolve());
  });
  // (the access log is written when the connection closes, before the body read fails: 499 and aborted)
  const line = await gw.waitForLog(/"msg":"access".*"path":"\/login".*"aborted":true/, 3000, from);
  assert.match(line, /"status":499,/);
  await new Promise((r) => setTimeout(r, 300)); // (what the failed body read logs comes just after)
  assert.deepEqual(gw.logs.slice(from).filter((l) => /"level":"error"|WAF failed/.test(l)), []);
  assert.equal(up.requests, before, 'nothing reached the upstream');
});

test('an Upgrade header is no way around the WAF: an attack in a WebSocket upgrade gets 403 problem+json and never reaches the upstream; a clean WebSocket works', async () => {
  const before = wsUp.upgrades;
  const raw = await new Promise<string>((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1', () => c.write(
      "GET /ws/chat?id=1'%20OR%20'1'='1 HTTP/1.1\r\nHost: shop.example.com\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
      'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n'));
    let got = '';
    c.on('data', (d) => { got += d.toString('latin1'); }).on('end', () => resolve(got)).on('error', reject);
  });
  assert.match(raw, /^HTTP\/1\.1 403 /);
  const body = JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4));
  assert.equal(body.code, 'PCS_ERR_WAF_BLOCKED');
  assert.equal(wsUp.upgrades, before, 'the upgrade request never reached the upstream');
  await gw.waitForLog(new RegExp(`"msg":"security event".*"requestId":"${body.requestId}".*"ruleId":942`), 3000, 0);
  await gw.waitForLog(new RegExp(`"msg":"security event".*"requestId":"${body.requestId}".*"ruleId":980170`), 3000, 0);
  // a clean one is judged too, and goes through
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws/chat?room=1`, { headers: { host: 'shop.example.com', 'user-agent': 'portcullis-test' } });
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); ws.once('unexpected-response', (_q, r) => reject(new Error(`status ${r.statusCode}`))); });
  const echo = new Promise<string>((resolve) => ws.once('message', (m) => resolve(m.toString())));
  ws.send('hi');
  assert.equal(await echo, 'echo:hi');
  ws.close();
  assert.equal(wsUp.upgrades, before + 1);
});

test('GETs that arrive together are each judged on their own (the WAF works through a turn of the event loop as a batch): 48 at once over 48 connections, attacks among them', async () => {
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 48, pipelining: 1 });
  try {
    // (warm the connections first, so the 48 requests below are in flight together)
    await Promise.all(Array.from({ length: 48 }, async () => { const r = await pool.request({ path: '/warm', method: 'GET' }); await r.body.text(); }));
    const before = up.requests;
    const paths = Array.from({ length: 48 }, (_, i) => (i % 3 === 1 ? `/items?id=${i}'%20OR%20'1'='1` : `/items?n=${i}&q=red+shoes`));
    const answers = await Promise.all(paths.map(async (p) => {
      const r = await pool.request({ path: p, method: 'GET', headers: { 'user-agent': 'portcullis-test', accept: '*/*' } });
      return { p, status: r.statusCode, text: await r.body.text(), id: r.headers['x-request-id'] };
    }));
    for (const a of answers) {
      if (a.p.includes('OR')) {
        assert.equal(a.status, 403, a.p);
        assert.equal(JSON.parse(a.text).requestId, a.id);
      } else {
        assert.equal(a.status, 200, a.p);
        assert.equal(JSON.parse(a.text).path, a.p, 'each client gets the answer to its own request');
      }
    }
    assert.equal(up.requests - before, 32, 'only the benign requests reached the upstream');
  } finally { await pool.close(); }
});

test('benign traffic passes, bodies included (a 2 KB JSON and a form reach the upstream intact)', async () => {
  assert.equal((await send('/search?q=red+shoes&page=2')).status, 200);
  const json = JSON.stringify({ items: Array.from({ length: 20 }, (_, i) => ({ sku: `A-${i}`, qty: i, note: 'gift wrap please' })) });
  const r = await send('/cart', { method: 'POST', body: json, headers: { 'content-type': 'application/json' } });
  assert.equal(r.status, 200, r.text);
  assert.equal(JSON.parse(r.text).body, json);
  const f = await send('/profile', { method: 'POST', body: 'name=Ada+Lovelace&city=London', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  assert.equal(f.status, 200);
});

test('attacks in a JSON body are found (XSS) and blocked before anything reaches the upstream', async () => {
  const before = up.requests;
  const r = await send('/comments', { method: 'POST', body: JSON.stringify({ text: '<script>alert(document.cookie)</script>' }), headers: { 'content-type': 'application/json' } });
  assert.equal(r.status, 403);
  assert.equal(up.requests, before);
});

test('an uploaded file\'s contents are inspected through REQUEST_BODY, as ModSecurity 3.0.9 does: a JSP shell in a .txt file is blocked, a Java source file passes', async () => {
  const upload = (filename: string, data: string) => {
    const b = '----WebKitFormBoundary7MA4YWxkTrZu0gW';
    const body = `--${b}\r\nContent-Disposition: form-data; name="title"\r\n\r\nreport\r\n--${b}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: application/octet-stream\r\n\r\n${data}\r\n--${b}--\r\n`;
    return send('/uploads', { method: 'POST', body, headers: { 'content-type': `multipart/form-data; boundary=${b}` } });
  };
  const before = up.requests;
  const r = await upload('notes.txt', '<% java.lang.Runtime.getRuntime().exec(request.getParameter("cmd")); %>');
  assert.equal(r.status, 403, r.text);
  assert.equal(up.requests, before);
  const ev = JSON.parse(await gw.waitForLog(new RegExp(`"msg":"security event".*"requestId":"${r.headers['x-request-id']}".*"ruleId":944`), 3000, 0));
  assert.equal(ev.matchedVar, 'REQUEST_BODY');
  assert.equal((await upload('Main.java', 'public class Main { public static void main(String[] args) { System.out.println("hi"); } }')).status, 200);
});

test('a JSON body that does not parse is refused with 400 (it was not inspected), as ModSecurity\'s recommended rule 200002 does', async () => {
  const before = up.requests;
  const r = await send('/comments', { method: 'POST', body: '{"text": "<img src=x onerror=alert(1)>", "score": NaN}', headers: { 'content-type': 'application/json' } });
  assert.equal(r.status, 400, r.text);
  assert.equal(JSON.parse(r.text).code, 'PCS_ERR_WAF_BAD_REQUEST');
  assert.equal(up.requests, before);
  await gw.waitForLog(new RegExp(`"requestId":"${r.headers['x-request-id']}".*"ruleId":200002`), 3000, 0);
});

test('per-rule policies: an exclusion lets ARGS:password through; DetectionOnly logs but passes', async () => {
  const login = await send('/login', { method: 'POST', body: "user=ada&password=x'%20or%20'1'='1", headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  assert.equal(login.status, 200, 'the password field is excluded from SQLi rules on /login');
  const blocked = await send('/login', { method: 'POST', body: "user=x'%20or%20'1'='1&password=x", headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  assert.equal(blocked.status, 403, 'other fields are still inspected');
  const watch = await send("/watch?id=1'%20OR%20'1'='1");
  assert.equal(watch.status, 200);
  await gw.waitForLog(/"msg":"security event".*"policy":"WafPolicy\/default\/watch".*"mode":"DetectionOnly"/, 3000, 0);
});

test('a broken rule set is refused with file:line, and the running WAF keeps protecting', async () => {
  const from = gw.logs.length;
  fs.writeFileSync(path.join(dir, 'c.yaml'), config(`---
apiVersion: portcullis.dev/v1alpha1
kind: WafPolicy
metadata: { name: broken, namespace: default }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: HTTPRoute, name: app }]
  ruleSet: { directives: 'SecRule ARGS "@rx x" "id:1,phase:2,bogusaction"' }
`));
  const line = await gw.waitForLog(/"diagnostic":".*WafPolicy\/default\/broken: spec\.ruleSet: the rule set does not load/, 5000, from);
  assert.match(line, /bogusaction/);
  assert.equal((await send("/products?id=1'%20OR%20'1'='1")).status, 403);
  const v = runCli(['validate', dir]);
  assert.equal(v.code, 1);
  assert.match(v.stderr, /c\.yaml:\d+:\d+: WafPolicy\/default\/broken: spec\.ruleSet: the rule set does not load/);
});
