// A WafPolicy's request body limits end to end: `requestBody.limit` (the gateway buffers that much;
// a larger body is refused with 413 before the engine) and SecRequestBodyNoFilesLimit, which a
// policy gets only when its rule set sets it (otherwise it is the policy's limit): then a non-file
// body over it is refused with 400 by rule 200002, as nginx + ModSecurity 3.0.9 does with
// modsecurity.conf-recommended; the files of a multipart body do not count.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { request } from 'undici';
import { freePort, startGateway, tmpDir, type GatewayProc } from './helpers/cli.ts';
import { backendYaml, gatewayYaml, prefixRouteYaml } from './helpers/config.ts';
import { startUpstream, type Upstream } from './helpers/upstream.ts';
import { CRS_DIR as CRS } from '../scripts/shared.ts';

let up: Upstream, gw: GatewayProc, port: number, dir: string;

function config(): string {
  const crs = JSON.stringify(path.relative(dir, CRS));
  const policy = (name: string, extra: string) => `apiVersion: portcullis.dev/v1alpha1
kind: WafPolicy
metadata: { name: ${name}, namespace: default }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: HTTPRoute, name: app, sectionName: ${name} }]
  requestBody: { limit: 262144 }
${extra}`;
  return `${gatewayYaml(port)}
---
${prefixRouteYaml('up', ['plain', 'strict', 'watch'].map((n) => [n, `/${n}`]))}
---
${backendYaml('up', [up.port])}
---
${policy('plain', `  ruleSet: { crsDir: ${crs} }`)}
---
${policy('strict', `  ruleSet: { crsDir: ${crs}, directives: 'SecRequestBodyNoFilesLimit 4096' }`)}
---
${policy('watch', `  ruleSet: { crsDir: ${crs}, directives: 'SecRequestBodyNoFilesLimit 4096' }
  mode: DetectionOnly`)}
`;
}

before(async () => {
  up = await startUpstream('up');
  port = await freePort();
  dir = tmpDir();
  fs.writeFileSync(path.join(dir, 'c.yaml'), config());
  gw = await startGateway(dir);
});
after(async () => { await gw?.stop(); await up?.close(); });

async function send(p: string, body: string, contentType: string) {
  const r = await request(`http://127.0.0.1:${port}${p}`, { method: 'POST', body, headers: { 'user-agent': 'portcullis-test', accept: '*/*', 'content-type': contentType } });
  return { status: r.statusCode, text: await r.body.text(), headers: r.headers };
}

const words = (n: number) => 'the quick brown fox jumps over the lazy dog '.repeat(Math.ceil(n / 44)).slice(0, n);
const json = (n: number) => JSON.stringify({ note: words(n - 11) });
const MP = 'multipart/form-data; boundary=XyZ';
const multipart = (field: number, file: number) => [
  '--XyZ', 'Content-Disposition: form-data; name="caption"', '', words(field),
  '--XyZ', 'Content-Disposition: form-data; name="photo"; filename="beach.jpg"', 'Content-Type: image/jpeg', '', 'J'.repeat(file),
  '--XyZ--', '',
].join('\r\n');

test('without SecRequestBodyNoFilesLimit in its rule set, a policy inspects and forwards any body up to requestBody.limit', async () => {
  const body = json(200_000); // over modsecurity.conf-recommended's 128 KiB (the engine's default), under the policy's 256 KiB
  const r = await send('/plain', body, 'application/json');
  assert.equal(r.status, 200, r.text);
  assert.equal(JSON.parse(r.text).body, body);
});

test('SecRequestBodyNoFilesLimit in the rule set: a larger JSON or form body is refused with 400 (rule 200002), as ModSecurity does', async () => {
  const before = up.requests;
  for (const [body, ct] of [[json(5000), 'application/json'], [`note=${encodeURIComponent(words(5000))}`, 'application/x-www-form-urlencoded']]) {
    const r = await send('/strict', body, ct);
    assert.equal(r.status, 400, r.text);
    assert.equal(JSON.parse(r.text).code, 'PCS_ERR_WAF_BAD_REQUEST');
    const ev = await gw.waitForLog(new RegExp(`"requestId":"${r.headers['x-request-id']}".*"ruleId":200002`), 3000, 0);
    assert.match(ev, /Request body excluding files is bigger than the maximum expected/);
  }
  assert.equal(up.requests, before);
  assert.equal((await send('/strict', json(4000), 'application/json')).status, 200);
});

test('SecRequestBodyNoFilesLimit on multipart: a large file passes, a large field does not', async () => {
  const ok = multipart(200, 50_000);
  const r = await send('/strict', ok, MP);
  assert.equal(r.status, 200, r.text);
  assert.equal(JSON.parse(r.text).body, ok);
  assert.equal((await send('/strict', multipart(5000, 10), MP)).status, 400);
});

test('in DetectionOnly the body over SecRequestBodyNoFilesLimit is logged (200002) and forwarded', async () => {
  const r = await send('/watch', json(5000), 'application/json');
  assert.equal(r.status, 200, r.text);
  await gw.waitForLog(new RegExp(`"requestId":"${r.headers['x-request-id']}".*"ruleId":200002`), 3000, 0);
});
