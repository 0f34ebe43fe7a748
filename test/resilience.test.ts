// Upstream failures as a client sees them: an endpoint killed under load costs no idempotent
// request; policies choose the balancer and health checks keep traffic off sick endpoints.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { Agent, request } from 'undici';
import { freePort, startGateway, tmpDir, type GatewayProc } from './helpers/cli.ts';
import { gatewayYaml, routeYaml } from './helpers/config.ts';
import { startUpstream } from './helpers/upstream.ts';

const cleanup: (() => Promise<unknown>)[] = [];
after(async () => { for (const c of cleanup.reverse()) await c().catch(() => {}); });

async function setup(endpointPorts: number[], policy = ''): Promise<{ gw: GatewayProc; port: number }> {
  const port = await freePort();
  const dir = tmpDir();
  fs.writeFileSync(path.join(dir, 'c.yaml'), `${gatewayYaml(port)}
---
${routeYaml('svc')}
---
apiVersion: portcullis.dev/v1alpha1
kind: Backend
metadata: { name: svc, namespace: default }
spec:
  endpoints:
${endpointPorts.map((p) => `    - { address: 127.0.0.1, port: ${p} }`).join('\n')}
${policy}`);
  const gw = await startGateway(dir, ['--no-access-log']);
  cleanup.push(() => gw.stop());
  return { gw, port };
}

async function send(port: number, p: string, opts: { method?: string; headers?: Record<string, string>; body?: string; dispatcher?: Agent } = {}) {
  const r = await request(`http://127.0.0.1:${port}${p}`, { method: (opts.method ?? 'GET') as 'GET', headers: opts.headers, body: opts.body, dispatcher: opts.dispatcher });
  await r.body.text();
  return { status: r.statusCode, upstream: r.headers['x-upstream'] as string | undefined };
}

test('an upstream killed under load: no failed idempotent request, and it is ejected', async () => {
  const a = await startUpstream('a');
  const b = await startUpstream('b');
  cleanup.push(() => a.close(), () => b.close());
  const { gw, port } = await setup([a.port, b.port]);
  const agent = new Agent({ connections: 32 });
  cleanup.push(() => agent.close());
  const results: { status: number; upstream?: string }[] = [];
  const t0 = performance.now();
  let sent = 0;
  const inflight: Promise<void>[] = [];
  const timer = setInterval(() => {
    const due = Math.floor(((performance.now() - t0) / 1000) * 200);
    while (sent < due) {
      sent++;
      inflight.push(send(port, '/x', { dispatcher: agent }).then((r) => { results.push(r); }, () => { results.push({ status: 0 }); }));
    }
  }, 5);
  timer.unref(); // a failed assertion must not leave the load running and the test file hanging
  await new Promise((r) => setTimeout(r, 700));
  await b.close(); // kill b: its listening socket and its keep-alive connections
  await new Promise((r) => setTimeout(r, 1500));
  clearInterval(timer);
  await Promise.all(inflight);
  assert.ok(results.length > 300, `sent ${results.length}`);
  assert.deepEqual(results.filter((r) => r.status !== 200), [], 'no request failed');
  assert.ok(results.some((r) => r.upstream === 'b'), 'b served before it died');
  await gw.waitForLog(/"msg":"endpoint health changed".*"healthy":false|"healthy":false.*"msg":"endpoint health changed"/, 3000, 0);
});

test('a POST to a refused endpoint is retried (the request never reached it); 502 when none is left', async () => {
  const a = await startUpstream('a');
  cleanup.push(() => a.close());
  const dead = await freePort();
  const { port } = await setup([dead, a.port]);
  for (let i = 0; i < 10; i++) {
    const r = await send(port, '/p', { method: 'POST', body: 'x=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(r.status, 200);
    assert.equal(r.upstream, 'a');
  }
  const { port: port2 } = await setup([await freePort()]);
  assert.equal((await send(port2, '/p')).status, 502);
});

test('BackendTrafficPolicy ConsistentHash on a header keeps a key on one endpoint', async () => {
  const ups = await Promise.all(['a', 'b', 'c'].map((n) => startUpstream(n)));
  cleanup.push(...ups.map((u) => () => u.close()));
  const { port } = await setup(ups.map((u) => u.port), `---
apiVersion: portcullis.dev/v1alpha1
kind: BackendTrafficPolicy
metadata: { name: sticky, namespace: default }
spec:
  targetRefs: [{ group: portcullis.dev, kind: Backend, name: svc }]
  loadBalancer: { type: ConsistentHash, consistentHash: { type: Header, header: { name: X-User } } }
`);
  const seen = new Map<string, Set<string>>();
  for (let u = 0; u < 30; u++) {
    for (let i = 0; i < 3; i++) {
      const r = await send(port, '/', { headers: { 'x-user': `user-${u}` } });
      if (!seen.has(`user-${u}`)) seen.set(`user-${u}`, new Set());
      seen.get(`user-${u}`)!.add(r.upstream!);
    }
  }
  assert.ok([...seen.values()].every((s) => s.size === 1), 'each user always lands on the same endpoint');
  assert.ok(new Set([...seen.values()].map((s) => [...s][0])).size >= 2, 'keys spread over endpoints');
});

test('an active HTTP health check keeps traffic off an endpoint that reports unhealthy', async () => {
  const good = await startUpstream('good');
  let sickHits = 0;
  const sick = http.createServer((req, res) => {
    if (req.url === '/healthz') { res.writeHead(503); res.end(); return; }
    sickHits++;
    res.writeHead(200, { 'x-upstream': 'sick' }); res.end('sick');
  });
  await new Promise<void>((r) => sick.listen(0, '127.0.0.1', r));
  cleanup.push(() => good.close(), () => new Promise((r) => { sick.closeAllConnections(); sick.close(r); }));
  const { gw, port } = await setup([good.port, (sick.address() as { port: number }).port], `---
apiVersion: portcullis.dev/v1alpha1
kind: BackendTrafficPolicy
metadata: { name: hc, namespace: default }
spec:
  targetRefs: [{ group: portcullis.dev, kind: Backend, name: svc }]
  healthCheck:
    active: { type: HTTP, interval: 100ms, timeout: 500ms, unhealthyThreshold: 1, http: { path: /healthz, expectedStatuses: [200] } }
`);
  await gw.waitForLog(/endpoint health changed/, 3000, 0);
  sickHits = 0;
  for (let i = 0; i < 20; i++) assert.equal((await send(port, '/')).upstream, 'good');
  assert.equal(sickHits, 0);
  const st = await (await gw.admin('/status')).json() as { resources: Record<string, { conditions: { type: string; status: string }[] }> };
  assert.equal(st.resources['BackendTrafficPolicy/default/hc'].conditions[0].status, 'True');
});

test('sessionPersistence (Cookie): a client with the cookie stays on one endpoint; a forged cookie is ignored', async () => {
  const ups = await Promise.all(['a', 'b', 'c'].map((n) => startUpstream(n)));
  cleanup.push(...ups.map((u) => () => u.close()));
  const port = await freePort();
  const dir = tmpDir();
  fs.writeFileSync(path.join(dir, 'c.yaml'), `${gatewayYaml(port)}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: r, namespace: default }
spec:
  parentRefs: [{ name: gw }]
  rules:
    - sessionPersistence: { sessionName: SID, type: Cookie, absoluteTimeout: 1h, cookieConfig: { lifetimeType: Permanent } }
      backendRefs: [{ group: portcullis.dev, kind: Backend, name: svc }]
---
apiVersion: portcullis.dev/v1alpha1
kind: Backend
metadata: { name: svc, namespace: default }
spec: { endpoints: [${ups.map((u) => `{ address: 127.0.0.1, port: ${u.port} }`).join(', ')}] }
`);
  const gw = await startGateway(dir, ['--no-access-log']);
  cleanup.push(() => gw.stop());
  const first = await request(`http://127.0.0.1:${port}/`);
  await first.body.text();
  const setCookie = String(first.headers['set-cookie']);
  assert.match(setCookie, /^SID=0\.v1\.[^;]+; Path=\/; HttpOnly; SameSite=Lax; Max-Age=3600$/);
  const cookie = setCookie.split(';')[0];
  const pinnedTo = first.headers['x-upstream'];
  for (let i = 0; i < 12; i++) {
    const r = await request(`http://127.0.0.1:${port}/`, { headers: { cookie } });
    await r.body.text();
    assert.equal(r.headers['x-upstream'], pinnedTo);
    assert.equal(r.headers['set-cookie'], undefined, 'a valid session is not re-issued');
  }
  const forged = cookie.slice(0, -3) + (cookie.endsWith('AAA') ? 'BBB' : 'AAA');
  const seen = new Set<string>();
  for (let i = 0; i < 9; i++) {
    const r = await request(`http://127.0.0.1:${port}/`, { headers: { cookie: forged } });
    await r.body.text();
    seen.add(String(r.headers['x-upstream']));
    assert.ok(r.headers['set-cookie'], 'a bad token gets a fresh one');
  }
  assert.ok(seen.size > 1, 'a forged token pins nothing');
});
