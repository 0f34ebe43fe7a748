// The CRS outbound rules (phases 3 and 4) on the upstream's answer, end to end: a real upstream
// that leaks a MySQL error, plain and gzip-compressed, beside answers that must pass untouched.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import zlib from 'node:zlib';
import type { AddressInfo } from 'node:net';
import { Pool, request } from 'undici';
import { freePort, startGateway, tmpDir, type GatewayProc } from './helpers/cli.ts';
import { backendYaml, gatewayYaml, prefixRouteYaml } from './helpers/config.ts';
import { CRS_DIR as CRS } from '../scripts/shared.ts';

const LEAK = "<html><body>Warning: You have an error in your SQL syntax; check the manual that corresponds to your MySQL server version for the right syntax to use near ''' at line 1</body></html>";
const BIG = 'The quick brown fox jumps over the lazy dog. '.repeat(30_000); // ~1.3 MB, benign

let upstream: http.Server, upPort: number, gw: GatewayProc, port: number, dir: string;
let upstreamHits = 0;

function answer(req: http.IncomingMessage, res: http.ServerResponse): void {
  upstreamHits++;
  const p = new URL(req.url ?? '/', 'http://x').pathname.replace(/^\/(inspect|headers-only|detect)/, '');
  const html = { 'content-type': 'text/html; charset=utf-8' };
  switch (p) {
    case '/leak': res.writeHead(200, html); res.end(LEAK); return;
    case '/leak-json': res.writeHead(500, { 'content-type': 'application/json' }); res.end(JSON.stringify({ error: LEAK })); return;
    case '/leak-gzip': res.writeHead(200, { ...html, 'content-encoding': 'gzip' }); res.end(zlib.gzipSync(LEAK)); return;
    case '/leak-image': res.writeHead(200, { 'content-type': 'image/png' }); res.end(LEAK); return;
    case '/bad-gzip': res.writeHead(200, { ...html, 'content-encoding': 'gzip' }); res.end('this is not gzip at all'); return;
    case '/powered': res.writeHead(200, { 'content-type': 'text/plain', 'x-powered-by': 'secret-framework 1.0' }); res.end('ok'); return;
    // benign text past the limit, then a leak the ProcessPartial limit does not reach
    case '/big': res.writeHead(200, { 'content-type': 'text/plain' }); res.end(BIG + LEAK); return;
    case '/stream': {
      res.writeHead(200, { 'content-type': 'text/plain' });
      let n = 0;
      const t = setInterval(() => { res.write(`chunk ${n}\n`); if (++n === 5) { clearInterval(t); res.end('end\n'); } }, 20);
      return;
    }
    default: res.writeHead(200, { 'content-type': 'text/plain' }); res.end('hello'); return;
  }
}

function config(): string {
  const crs = JSON.stringify(path.relative(dir, CRS));
  const policy = (name: string, section: string, extra: string) => `apiVersion: portcullis.dev/v1alpha1
kind: WafPolicy
metadata: { name: ${name}, namespace: default }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: HTTPRoute, name: app, sectionName: ${section} }]
  ruleSet:
    crsDir: ${crs}
    directives: 'SecRule RESPONSE_HEADERS:X-Powered-By "@contains secret" "id:10001,phase:3,deny,status:403,log,msg:''framework disclosed''"'
${extra}`;
  return `${gatewayYaml(port)}
---
${prefixRouteYaml('up', [['inspect', '/inspect'], ['headersonly', '/headers-only'], ['detect', '/detect']])}
---
${backendYaml('up', [upPort])}
---
${policy('inspect', 'inspect', '  responseBody: { inspect: true, limit: 65536 }')}
---
${policy('headersonly', 'headersonly', '')}
---
${policy('detect', 'detect', '  responseBody: { inspect: true }\n  mode: DetectionOnly')}
`;
}

before(async () => {
  upstream = http.createServer(answer);
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  upPort = (upstream.address() as AddressInfo).port;
  port = await freePort();
  dir = tmpDir();
  fs.writeFileSync(path.join(dir, 'c.yaml'), config());
  gw = await startGateway(dir);
});
after(async () => { await gw?.stop(); await new Promise((r) => upstream?.close(r)); });

async function send(p: string, method: 'GET' | 'HEAD' = 'GET', headers: Record<string, string> = {}) {
  const r = await request(`http://127.0.0.1:${port}${p}`, { method, headers: { 'user-agent': 'portcullis-test', accept: '*/*', ...headers } });
  const body = Buffer.from(await r.body.arrayBuffer());
  return { status: r.statusCode, body, text: body.toString(), headers: r.headers };
}

test('a response leaking a MySQL error is withheld: 403 problem+json, events for 951230 and 959100', async () => {
  const r = await send('/inspect/leak');
  assert.equal(r.status, 403, r.text);
  const p = JSON.parse(r.text);
  assert.equal(p.code, 'PCS_ERR_WAF_RESPONSE_BLOCKED');
  assert.equal(p.requestId, r.headers['x-request-id']);
  assert.doesNotMatch(r.text, /SQL syntax/, 'nothing of the upstream body reaches the client');
  const ev = JSON.parse(await gw.waitForLog(new RegExp(`"msg":"security event".*"requestId":"${p.requestId}".*"ruleId":951230`), 3000, 0));
  assert.equal(ev.policy, 'WafPolicy/default/inspect');
  assert.equal(ev.matchedVar, 'RESPONSE_BODY');
  await gw.waitForLog(new RegExp(`"requestId":"${p.requestId}".*"ruleId":959100.*"blocked":true`), 3000, 0);
  // every match and the block are counted
  const metrics = await (await gw.admin('/metrics')).text();
  const count = (kind: string) => Number(new RegExp(`^portcullis_security_events_total\\{kind="${kind}"\\} (\\d+)`, 'm').exec(metrics)?.[1] ?? 0);
  assert.ok(count('waf-match') >= 2, metrics);
  assert.ok(count('waf-block') >= 1, metrics);
});

test('JSON error bodies and gzip-compressed bodies are inspected too (decoded for the rules)', async () => {
  assert.equal((await send('/inspect/leak-json')).status, 403);
  const gz = await send('/inspect/leak-gzip', 'GET', { 'accept-encoding': 'gzip' });
  assert.equal(gz.status, 403, gz.text);
  assert.equal(JSON.parse(gz.text).code, 'PCS_ERR_WAF_RESPONSE_BLOCKED');
});

test('bodies that are not inspected pass byte for byte: other types, HEAD, past the limit, streamed', async () => {
  const img = await send('/inspect/leak-image');
  assert.equal(img.status, 200);
  assert.equal(img.text, LEAK, 'image/png is not in the inspected types');
  const head = await send('/inspect/leak', 'HEAD');
  assert.equal(head.status, 200, 'a HEAD answer has no body to inspect');
  const big = await send('/inspect/big');
  assert.equal(big.status, 200, 'the leak lies past the 64 KiB inspected (ProcessPartial)');
  assert.equal(big.text, BIG + LEAK);
  const s = await send('/inspect/stream');
  assert.equal(s.status, 200);
  assert.equal(s.text, 'chunk 0\nchunk 1\nchunk 2\nchunk 3\nchunk 4\nend\n');
  const plain = await send('/inspect/hello');
  assert.equal(plain.text, 'hello');
});

test('a body that claims gzip but is not cannot be inspected: 502, fail closed', async () => {
  const r = await send('/inspect/bad-gzip', 'GET', { 'accept-encoding': 'gzip' });
  assert.equal(r.status, 502, r.text);
  assert.equal(JSON.parse(r.text).code, 'PCS_ERR_WAF_RESPONSE_UNREADABLE');
});

test('without responseBody.inspect the body streams through, and phase 3 still judges the headers', async () => {
  const leak = await send('/headers-only/leak');
  assert.equal(leak.status, 200);
  assert.equal(leak.text, LEAK);
  const powered = await send('/headers-only/powered');
  assert.equal(powered.status, 403, 'the phase 3 rule on X-Powered-By blocks');
  assert.equal(JSON.parse(powered.text).code, 'PCS_ERR_WAF_RESPONSE_BLOCKED');
  assert.equal(powered.headers['x-powered-by'], undefined);
});

test('answers that arrive together are each judged on their own (the outbound phases of a turn run as a batch): 40 at once, framework disclosures among them', async () => {
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 40, pipelining: 1 });
  try {
    await Promise.all(Array.from({ length: 40 }, async () => { const r = await pool.request({ path: '/headers-only/warm', method: 'GET' }); await r.body.text(); }));
    const paths = Array.from({ length: 40 }, (_, i) => (i % 4 === 0 ? `/headers-only/powered?i=${i}` : `/headers-only/hello?i=${i}`));
    const answers = await Promise.all(paths.map(async (p) => {
      const r = await pool.request({ path: p, method: 'GET', headers: { 'user-agent': 'portcullis-test', accept: '*/*' } });
      return { p, status: r.statusCode, text: await r.body.text(), powered: r.headers['x-powered-by'] };
    }));
    for (const a of answers) {
      if (a.p.includes('powered')) { assert.equal(a.status, 403, a.p); assert.equal(JSON.parse(a.text).code, 'PCS_ERR_WAF_RESPONSE_BLOCKED'); assert.equal(a.powered, undefined); }
      else { assert.equal(a.status, 200, a.p); assert.equal(a.text, 'hello'); }
    }
  } finally { await pool.close(); }
});

test('DetectionOnly logs the outbound match and lets the answer through', async () => {
  const r = await send('/detect/leak');
  assert.equal(r.status, 200);
  assert.equal(r.text, LEAK);
  await gw.waitForLog(new RegExp(`"requestId":"${r.headers['x-request-id']}".*"mode":"DetectionOnly".*"ruleId":951230`), 3000, 0);
});

test('benign requests and answers pass through every policy', async () => {
  const before = upstreamHits;
  for (const p of ['/inspect/hello', '/headers-only/hello', '/detect/hello']) {
    const r = await send(`${p}?q=red+shoes`);
    assert.equal(r.status, 200, p);
    assert.equal(r.text, 'hello');
  }
  assert.equal(upstreamHits, before + 3);
});
