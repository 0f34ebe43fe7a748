// RequestMirror copies requests to a second backend without touching the answer; SIGTERM drains.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { request } from 'undici';
import { freePort, startGateway, tmpDir } from './helpers/cli.ts';
import { gatewayYaml } from './helpers/config.ts';
import { startUpstream } from './helpers/upstream.ts';

const cleanup: (() => Promise<unknown>)[] = [];
after(async () => { for (const c of cleanup.reverse()) await c().catch(() => {}); });

async function gateway(extraRules: string, backends: Record<string, number>, args: string[] = []) {
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
${extraRules}
${Object.entries(backends).map(([n, p]) => `---
apiVersion: portcullis.dev/v1alpha1
kind: Backend
metadata: { name: ${n}, namespace: default }
spec: { endpoints: [{ address: 127.0.0.1, port: ${p} }] }`).join('\n')}
`);
  const gw = await startGateway(dir, args);
  cleanup.push(() => gw.stop());
  return { gw, port };
}

test('HTTPRouteRequestMirror: the mirror gets a copy (body included), the client gets the primary answer', async () => {
  const primary = await startUpstream('primary');
  const shadow = await startUpstream('shadow');
  cleanup.push(() => primary.close(), () => shadow.close());
  const seen: string[] = [];
  shadow.server.prependListener('request', (req) => { let b = ''; req.on('data', (c) => (b += c)); req.on('end', () => seen.push(`${req.method} ${req.url} ${b}`)); });
  const { port } = await gateway(`    - filters:
        - type: RequestMirror
          requestMirror: { backendRef: { group: portcullis.dev, kind: Backend, name: shadow } }
      backendRefs: [{ group: portcullis.dev, kind: Backend, name: primary }]`, { primary: primary.port, shadow: shadow.port });
  const r = await request(`http://127.0.0.1:${port}/orders?x=1`, { method: 'POST', body: 'hello', headers: { 'content-type': 'text/plain' } });
  assert.equal(r.headers['x-upstream'], 'primary');
  assert.equal(JSON.parse(await r.body.text()).body, 'hello');
  const deadline = Date.now() + 2000;
  while (!seen.length && Date.now() < deadline) await new Promise((res) => setTimeout(res, 10));
  assert.deepEqual(seen, ['POST /orders?x=1 hello']);
});

test('SIGTERM: in-flight requests finish, new connections are refused, the process exits 0', async () => {
  const slow = await startUpstream('slow');
  cleanup.push(() => slow.close());
  const { gw, port } = await gateway(`    - backendRefs: [{ group: portcullis.dev, kind: Backend, name: slow }]`, { slow: slow.port });
  const inflight = request(`http://127.0.0.1:${port}/x?delay=700`).then(async (r) => ({ status: r.statusCode, body: await r.body.text() }));
  await new Promise((r) => setTimeout(r, 150));
  const exited = gw.stop();
  await gw.waitForLog(/draining in-flight requests/, 2000, 0);
  await assert.rejects(request(`http://127.0.0.1:${port}/y`, { reset: true }).then((r) => r.body.text()), 'no new connections while draining');
  const done = await inflight;
  assert.equal(done.status, 200);
  assert.equal(JSON.parse(done.body).upstream, 'slow');
  assert.equal(await exited, 0);
});

test('SIGTERM does not wait for idle keep-alive connections', async () => {
  const u = await startUpstream('u');
  cleanup.push(() => u.close());
  const { gw, port } = await gateway(`    - backendRefs: [{ group: portcullis.dev, kind: Backend, name: u }]`, { u: u.port });
  const { Agent } = await import('undici');
  const agent = new Agent({ keepAliveTimeout: 60_000 });
  cleanup.push(() => agent.close());
  const r = await request(`http://127.0.0.1:${port}/`, { dispatcher: agent });
  await r.body.text();
  const t0 = Date.now();
  assert.equal(await gw.stop(), 0);
  assert.ok(Date.now() - t0 < 3000, `stop took ${Date.now() - t0} ms with one idle keep-alive connection (drain deadline 10 s)`);
});
