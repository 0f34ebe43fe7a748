// The admin API: loopback only, token-authenticated, refuses DNS-rebinding and cross-origin calls.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { freePort, runCli, startGateway, tmpDir, type GatewayProc } from './helpers/cli.ts';
import { gatewayYaml } from './helpers/config.ts';

let gw: GatewayProc;
before(async () => {
  const dir = tmpDir();
  const port = await freePort();
  fs.writeFileSync(path.join(dir, 'gw.yaml'), `${gatewayYaml(port)}
`);
  gw = await startGateway(dir);
});
after(async () => { await gw?.stop(); });

/** Raw request so the test controls Host and Origin exactly. */
function raw(p: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: gw.adminPort, path: p, headers, setHost: false }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('the token file is 0600 and its path, never its value, is logged', () => {
  const line = gw.logs.find((l) => l.includes('admin API token file'))!;
  const file = JSON.parse(line).tokenFile as string;
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  assert.ok(!gw.logs.some((l) => l.includes(gw.token)), 'the token never appears in the logs');
});

test('requests without the token, or with a wrong one, get 401 problem+json', async () => {
  const none = await raw('/config', { host: '127.0.0.1' });
  assert.equal(none.status, 401);
  const body = JSON.parse(none.body);
  assert.equal(body.status, 401);
  assert.ok(body.requestId);
  const wrong = await raw('/status', { host: '127.0.0.1', authorization: 'Bearer nope' });
  assert.equal(wrong.status, 401);
  const ok = await raw('/status', { host: '127.0.0.1', authorization: `Bearer ${gw.token}` });
  assert.equal(ok.status, 200);
});

test('a non-loopback Host (DNS rebinding) or Origin is refused even with the token', async () => {
  const auth = { authorization: `Bearer ${gw.token}` };
  assert.equal((await raw('/status', { host: 'attacker.example:9901', ...auth })).status, 403);
  assert.equal((await raw('/healthz', { host: 'attacker.example' })).status, 403);
  assert.equal((await raw('/status', { host: 'localhost', origin: 'http://attacker.example', ...auth })).status, 403);
  assert.equal((await raw('/status', { host: 'localhost', origin: 'http://localhost:3000', ...auth })).status, 200);
});

test('/healthz and /readyz answer without a token; /config shows the version and resources', async () => {
  assert.equal((await raw('/healthz', { host: 'localhost' })).status, 200);
  const ready = JSON.parse((await raw('/readyz', { host: '127.0.0.1' })).body);
  assert.equal(ready.status, 'ready');
  const cfg = await (await gw.admin('/config')).json() as { version: string; resources: { kind: string }[] };
  assert.equal(cfg.version, ready.version);
  assert.deepEqual(cfg.resources.map((r) => r.kind), ['Gateway']);
});

test('POST /reload reloads and reports the result', async () => {
  const r = await gw.admin('/reload', { method: 'POST' });
  assert.equal(r.status, 200);
  assert.equal((await r.json() as { result: string }).result, 'unchanged');
});

test('an admin address off loopback is refused at start', async () => {
  const r = runCli(['start', '--config', 'examples/quickstart', '--admin', '0.0.0.0:0', '--state-dir', tmpDir()]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /only listens on loopback/);
});
