// The HTTP/1.1 server of cleartext listeners: the fast one (src/dataplane/h1) by default, node:http
// with PORTCULLIS_HTTP1=node (the escape hatch). Both answer a client the same way.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { freePort, runCli, startGateway, tmpDir, type GatewayProc } from './helpers/cli.ts';
import { backendYaml, gatewayYaml, routeYaml } from './helpers/config.ts';
import { startUpstream, type Upstream } from './helpers/upstream.ts';

const cleanup: (() => unknown)[] = [];
after(async () => { for (const c of cleanup.reverse()) await c(); });

async function config(up: Upstream): Promise<{ dir: string; port: number }> {
  const port = await freePort();
  const dir = tmpDir();
  fs.writeFileSync(path.join(dir, 'c.yaml'), `${gatewayYaml(port)}\n---\n${routeYaml('up')}\n---\n${backendYaml('up', [up.port])}\n`);
  return { dir, port };
}

async function gateway(up: Upstream, env: string | undefined): Promise<{ gw: GatewayProc; port: number }> {
  const { dir, port } = await config(up);
  const saved = process.env.PORTCULLIS_HTTP1;
  if (env === undefined) delete process.env.PORTCULLIS_HTTP1; else process.env.PORTCULLIS_HTTP1 = env;
  try {
    const gw = await startGateway(dir);
    cleanup.push(() => gw.stop());
    return { gw, port };
  } finally {
    if (saved === undefined) delete process.env.PORTCULLIS_HTTP1; else process.env.PORTCULLIS_HTTP1 = saved;
  }
}

function raw(port: number, text: string): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(text));
    let out = '';
    s.setTimeout(2000, () => s.destroy());
    s.on('data', (d) => (out += d));
    s.on('close', () => resolve(out));
    s.on('error', () => resolve(out));
  });
}

/** What a client sees, without the values that differ per request (Date, request id, upstream echo). */
async function conversation(port: number): Promise<string[]> {
  const H = 'Host: app.example\r\n';
  const probes = [
    `GET /a HTTP/1.1\r\n${H}Connection: close\r\n\r\n`,
    `HEAD /a HTTP/1.1\r\n${H}Connection: close\r\n\r\n`,
    `GET /a HTTP/1.1\r\n${H}\r\nGET /b HTTP/1.1\r\n${H}Connection: close\r\n\r\n`,
    `POST /a HTTP/1.1\r\n${H}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
    `GET /a HTTP/1.1\r\n${H}X-Folded: a\r\n b\r\n\r\n`,
    `GET /a HTTP/1.1\r\nConnection: close\r\n\r\n`,
    `GET /a HTTP/1.0\r\n${H}\r\n`,
    `POST /a HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n`,
  ];
  const out: string[] = [];
  for (const p of probes) {
    out.push((await raw(port, p))
      .replace(/Date: [^\r]+/gi, 'Date: X')
      .replace(/[0-9a-f]{20}/g, 'ID')
      .replace(/\r\n[0-9a-f]+\r\n\{[^]*?\}\r\n0\r\n\r\n/g, '\r\nBODY')
      .replace(/\{"method"[^]*?\}\}/g, 'BODY')
      .replace(/content-length: \d+/gi, 'content-length: N')
      .replace(/"remote(Port|Address)":[^,}]+/g, ''));
  }
  return out;
}

test('fast HTTP/1.1 server by default, node:http with PORTCULLIS_HTTP1=node; a client cannot tell them apart', async () => {
  const up = await startUpstream('up');
  cleanup.push(() => up.close());
  const fast = await gateway(up, undefined);
  const node = await gateway(up, 'node');
  assert.match(await fast.gw.waitForLog(/config applied/, 2000, 0), /"http1":"fast"/);
  assert.match(await node.gw.waitForLog(/config applied/, 2000, 0), /"http1":"node"/);
  const before = up.requests;
  const [a, b] = [await conversation(fast.port), await conversation(node.port)];
  assert.deepEqual(a, b);
  assert.match(a[0], /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(a[3], /^HTTP\/1\.1 400 Bad Request\r\n[^]*application\/problem\+json/);
  assert.match(a[4], /^HTTP\/1\.1 400 Bad Request\r\n[^]*application\/problem\+json/);
  assert.match(a[5], /^HTTP\/1\.1 400 Bad Request\r\n/, 'HTTP/1.1 without Host');
  assert.equal(up.requests - before, 2 * 6, 'the bad requests never reached the upstream');
});

test('an unknown PORTCULLIS_HTTP1 value refuses to start, with a clear message', async () => {
  const up = await startUpstream('up2');
  cleanup.push(() => up.close());
  const { dir } = await config(up);
  const saved = process.env.PORTCULLIS_HTTP1;
  process.env.PORTCULLIS_HTTP1 = 'fastest';
  try {
    const r = runCli(['start', '--config', dir, '--admin', '127.0.0.1:0', '--state-dir', tmpDir('pcs-state-')]);
    assert.notEqual(r.code, 0);
    assert.match(r.stdout + r.stderr, /PORTCULLIS_HTTP1=fastest: expected \\?"fast\\?" \(the default\) or \\?"node\\?"/);
  } finally {
    if (saved === undefined) delete process.env.PORTCULLIS_HTTP1; else process.env.PORTCULLIS_HTTP1 = saved;
  }
});
