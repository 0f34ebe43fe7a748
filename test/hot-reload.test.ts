// Hot reload as an operator sees it: while traffic flows, a valid edit applies within a second
// with no failed request; an invalid edit is refused and the old config keeps serving.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Agent, request } from 'undici';
import { freePort, startGateway, tmpDir, type GatewayProc } from './helpers/cli.ts';
import { backendYaml, gatewayWith } from './helpers/config.ts';
import { startUpstream, type Upstream } from './helpers/upstream.ts';

let a: Upstream, b: Upstream, gw: GatewayProc, dir: string, port: number;
const agent = new Agent({ connections: 16, keepAliveTimeout: 30_000 });

function config(backend: string, extraRoute = ''): string {
  return `${gatewayWith([`{ name: http, protocol: HTTP, port: ${port} }`])}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: r, namespace: default }
spec:
  parentRefs: [{ name: gw }]
  rules:
    - matches: [{ path: { type: PathPrefix, value: /r } }]
      backendRefs: [{ group: portcullis.dev, kind: Backend, name: ${backend} }]
${extraRoute}---
${backendYaml('a', [a.port])}
---
${backendYaml('b', [b.port])}
`;
}

/** Write the way editors do: a new file renamed over the old one. */
function save(text: string) {
  const f = path.join(dir, 'config.yaml');
  fs.writeFileSync(f + '.tmp', text);
  fs.renameSync(f + '.tmp', f);
}

before(async () => {
  a = await startUpstream('a');
  b = await startUpstream('b');
  port = await freePort();
  dir = tmpDir();
  save(config('a'));
  gw = await startGateway(dir, ['--no-access-log']);
});
after(async () => { await gw?.stop(); await a?.close(); await b?.close(); await agent.close(); });

async function get(p: string): Promise<{ status: number; upstream?: string; body: string }> {
  const res = await request(`http://127.0.0.1:${port}${p}`, { dispatcher: agent });
  const body = await res.body.text();
  return { status: res.statusCode, upstream: res.headers['x-upstream'] as string | undefined, body };
}

/**
 * An open-loop load of 200 req/s: requests are sent on a schedule, not when the previous answer
 * arrives, so a slow machine cannot quietly lower the load. Records every result with its time.
 */
function load(rate = 200) {
  const results: { t: number; status: number; upstream?: string; error?: string }[] = [];
  const inflight = new Set<Promise<void>>();
  const t0 = performance.now();
  let sent = 0;
  const fire = () => {
    const t = performance.now();
    const p: Promise<void> = get('/r/x').then(
      (r) => { results.push({ t, status: r.status, upstream: r.upstream }); },
      (err) => { results.push({ t, status: 0, error: String(err) }); },
    ).finally(() => inflight.delete(p));
    inflight.add(p);
  };
  const timer = setInterval(() => {
    const due = Math.floor(((performance.now() - t0) / 1000) * rate);
    while (sent < due) { sent++; fire(); }
  }, 5);
  timer.unref(); // a failed assertion must not leave the load running and the test file hanging
  return {
    results,
    get sent() { return sent; },
    stop: async () => { clearInterval(timer); await Promise.all([...inflight]); results.sort((a, b) => a.t - b.t); },
  };
}

test('valid edit applies within a second under load, with no failed request', async () => {
  const l = load();
  await new Promise((r) => setTimeout(r, 700));
  assert.ok(l.results.every((r) => r.upstream === 'a'), 'serving backend a before the edit');
  const t0 = performance.now();
  save(config('b'));
  await gw.waitForLog(/"msg":"config applied"/, 5000).catch(() => {});
  // Wait until b answers, then a little more traffic.
  const deadline = Date.now() + 3000;
  while (!l.results.some((r) => r.t > t0 && r.upstream === 'b') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 500));
  await l.stop();
  const failed = l.results.filter((r) => r.status !== 200);
  assert.deepEqual(failed, [], 'no request failed during the reload');
  const firstB = l.results.find((r) => r.upstream === 'b');
  assert.ok(firstB, 'the edit took effect');
  const latency = firstB!.t - t0;
  assert.ok(latency < 1000, `applied in ${latency.toFixed(0)} ms`);
  const rate = l.results.length / ((l.results.at(-1)!.t - l.results[0].t) / 1000);
  assert.ok(rate > 150, `load was ${rate.toFixed(0)} req/s`);
  // After the switch, only b.
  const afterSwitch = l.results.filter((r) => r.t > firstB!.t + 50);
  assert.ok(afterSwitch.length > 0 && afterSwitch.every((r) => r.upstream === 'b'));
});

test('invalid edit is refused under load: old config keeps serving, error in log, /status and metrics', async () => {
  const before = await (await gw.admin('/status')).json() as { version: string };
  const l = load();
  await new Promise((r) => setTimeout(r, 300));
  // An unknown field and a missing backend: both must be reported, neither applied.
  save(config('b').replace('kind: HTTPRoute\nmetadata: { name: r, namespace: default }\nspec:', 'kind: HTTPRoute\nmetadata: { name: r, namespace: default }\nspec:\n  hostname: oops\n').replace('name: b }]', 'name: missing }]'));
  const line = await gw.waitForLog(/config reload refused/, 5000);
  assert.match(line, /"errors":2/);
  await new Promise((r) => setTimeout(r, 500));
  await l.stop();
  assert.deepEqual(l.results.filter((r) => r.status !== 200 || r.upstream !== 'b'), [], 'still served by the old config');
  assert.ok(gw.logs.some((x) => /"diagnostic":".*config\.yaml:\d+:\d+: HTTPRoute\/default\/r: spec\.hostname: unknown field \\"hostname\\"/.test(x)), 'the error with file:line:col is logged');
  const st = await (await gw.admin('/status')).json() as { version: string; lastReload: { result: string; errors: string[] } };
  assert.equal(st.version, before.version, 'the served version did not change');
  assert.equal(st.lastReload.result, 'failure');
  assert.ok(st.lastReload.errors.some((e) => /Backend default\/missing not found/.test(e)), JSON.stringify(st.lastReload));
  const metrics = await (await gw.admin('/metrics')).text();
  assert.match(metrics, /portcullis_config_reloads_total\{result="failure"\} [1-9]/);
  assert.match(metrics, /portcullis_config_last_reload_successful 0/);
});

test('an emptied config file (a save caught half-way) is refused: the listeners stay open and serving', async () => {
  const l = load();
  const from = gw.logs.length;
  try {
    await new Promise((r) => setTimeout(r, 300));
    fs.writeFileSync(path.join(dir, 'config.yaml'), '# nothing here yet\n');
    gw.proc.kill('SIGHUP');
    await gw.waitForLog(/config reload refused/, 5000, from);
    assert.ok(gw.logs.slice(from).some((x) => /config\.yaml:1:1: the file has no resources/.test(x)), 'the reason is logged with the file');
    await new Promise((r) => setTimeout(r, 300));
  } finally { await l.stop(); }
  assert.deepEqual(l.results.filter((r) => r.status !== 200), [], 'every request served by the old config');
  save(config('b')); // the config being served: an unchanged reload
});

test('SIGHUP reloads; a request in flight finishes on the config it started with', async () => {
  save(config('a'));
  await gw.waitForLog(/"msg":"config applied".*"trigger":"file-change"|"trigger":"file-change".*"msg":"config applied"/, 5000);
  // Make sure a serves, then start a slow request on a, then switch to b while it is in flight.
  assert.equal((await get('/r/ready')).upstream, 'a');
  const slow = get('/r/slow?delay=800');
  await new Promise((r) => setTimeout(r, 150));
  const n = gw.logs.length;
  fs.writeFileSync(path.join(dir, 'config.yaml'), config('b')); // in-place write this time
  gw.proc.kill('SIGHUP');
  const deadline = Date.now() + 3000;
  while ((await get('/r/now')).upstream !== 'b' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal((await get('/r/now')).upstream, 'b', 'new requests go to b');
  const s = await slow;
  assert.equal(s.status, 200);
  assert.equal(s.upstream, 'a', 'the in-flight request finished on the old config');
  assert.ok(gw.logs.slice(n).some((l) => /"msg":"config applied"/.test(l)));
});

test('a new listener port is opened and a removed one closed by a reload', async () => {
  const port2 = await freePort();
  save(config('b').replace(`    - { name: http, protocol: HTTP, port: ${port} }`, `    - { name: http, protocol: HTTP, port: ${port} }\n    - { name: http2, protocol: HTTP, port: ${port2} }`));
  const deadline = Date.now() + 3000;
  let ok = false;
  while (!ok && Date.now() < deadline) {
    ok = await fetch(`http://127.0.0.1:${port2}/r/x`).then((r) => r.headers.get('x-upstream') === 'b', () => false);
    if (!ok) await new Promise((r) => setTimeout(r, 20));
  }
  assert.ok(ok, 'the new port serves');
  save(config('b'));
  const deadline2 = Date.now() + 3000;
  let closed = false;
  while (!closed && Date.now() < deadline2) {
    closed = await fetch(`http://127.0.0.1:${port2}/r/x`, { headers: { connection: 'close' } }).then(() => false, () => true);
    if (!closed) await new Promise((r) => setTimeout(r, 20));
  }
  assert.ok(closed, 'the removed port no longer accepts connections');
});
