// --workers: several data-plane processes share the listener; a dead worker is replaced; a config
// edit reaches every worker; the admin API and metrics stay in one place.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { request } from 'undici';
import { freePort, startGateway, tmpDir, type GatewayProc } from './helpers/cli.ts';
import { backendYaml, gatewayYaml, routeYaml } from './helpers/config.ts';
import { startUpstream, type Upstream } from './helpers/upstream.ts';

let gw: GatewayProc | undefined, a: Upstream | undefined, b: Upstream | undefined;
after(async () => { await gw?.stop(); await a?.close(); await b?.close(); });

function config(port: number, upstreamPort: number): string {
  return `${gatewayYaml(port)}
---
${routeYaml('svc')}
---
${backendYaml('svc', [upstreamPort])}
`;
}

async function get(port: number): Promise<{ status: number; upstream?: string }> {
  // A new connection each time, so the kernel can hand it to either worker.
  const r = await request(`http://127.0.0.1:${port}/w`, { headers: { connection: 'close' }, reset: true });
  await r.body.text();
  return { status: r.statusCode, upstream: r.headers['x-upstream'] as string | undefined };
}

test('two workers serve one port, a killed worker is replaced, reloads reach every worker', async () => {
  a = await startUpstream('a');
  b = await startUpstream('b');
  const port = await freePort();
  const dir = tmpDir();
  fs.writeFileSync(path.join(dir, 'c.yaml'), config(port, a.port));
  gw = await startGateway(dir, ['--workers', '2']);
  for (let i = 0; i < 60; i++) assert.equal((await get(port)).status, 200);
  const workerIds = new Set(gw.logs.filter((l) => l.includes('"msg":"access"')).map((l) => JSON.parse(l).worker));
  assert.equal(workerIds.size, 2, `requests were served by workers ${[...workerIds]}`);

  // Kill one worker: the other keeps serving and a replacement starts.
  const pids = [...new Set(gw.logs.filter((l) => l.includes('"msg":"access"')).map((l) => JSON.parse(l).pid as number))];
  process.kill(pids[0], 'SIGKILL');
  await gw.waitForLog(/worker died; starting a new one/, 5000, 0);
  await gw.waitForLog(/"worker":3.*"msg":"config applied"|"msg":"config applied".*"worker":3/, 10_000, 0);
  for (let i = 0; i < 20; i++) assert.equal((await get(port)).status, 200);

  // A config edit is validated by the primary and applied by every worker.
  const from = gw.logs.length;
  fs.writeFileSync(path.join(dir, 'c.yaml'), config(port, b.port));
  const deadline = Date.now() + 5000;
  while (gw.logs.slice(from).filter((l) => /"msg":"config applied"/.test(l) && /"worker":/.test(l)).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  for (let i = 0; i < 20; i++) assert.equal((await get(port)).upstream, 'b');

  const metrics = await (await gw.admin('/metrics')).text();
  assert.match(metrics, /portcullis_http_requests_total\{[^}]*code="2xx"[^}]*\} \d+/);
});
