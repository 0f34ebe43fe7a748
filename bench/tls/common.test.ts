// The TLS benchmark's and the testssl scan's generated configs are valid, the testssl report
// tells the test certificate's findings from Portcullis's, and the benchmark's Node floor servers
// (bench/http/node-floor.ts in its TLS modes) serve.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { makeCert, nginxTlsDirectives, portcullisTlsConfig } from './common.ts';
import { freePort, start, stop, tail } from '../http/procs.ts';
import { explain } from '../../scripts/testssl.ts';
import { runCli } from '../../test/helpers/cli.ts';
import { TLS_DEFAULTS } from '../../src/compiler/compile.ts';

const hasOpenssl = spawnSync('openssl', ['version']).status === 0;

test('the Portcullis config of the TLS benchmark (ECDSA + RSA, hsts) passes validate', { skip: !hasOpenssl && 'openssl CLI not installed' }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pcs-tls-bench-'));
  try {
    const certs = [makeCert(dir, 'ecdsa'), makeCert(dir, 'rsa')];
    assert.match(certs[0].key, /BEGIN PRIVATE KEY/);
    const cfg = path.join(dir, 'cfg');
    fs.mkdirSync(cfg);
    for (const [f, text] of Object.entries(portcullisTlsConfig(8443, 8080, certs, { hsts: '{ maxAge: 31536000, includeSubDomains: true }' }))) fs.writeFileSync(path.join(cfg, f), text);
    const r = runCli(['validate', cfg]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
  } finally { fs.rmSync(dir, { recursive: true, force: true }); }
});

test('nginx gets the same suites and groups as Portcullis, in its own curve names', () => {
  const d = nginxTlsDirectives(TLS_DEFAULTS.ciphers, TLS_DEFAULTS.ecdhCurve);
  assert.match(d, /ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:[A-Z0-9:-]*CHACHA20-POLY1305;/);
  assert.doesNotMatch(d, /ssl_ciphers [^;]*TLS_/, 'TLS 1.3 suites are not ssl_ciphers in nginx');
  assert.match(d, /ssl_conf_command Ciphersuites TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256;/);
  assert.match(d, /ssl_ecdh_curve X25519:prime256v1:secp384r1;/);
  assert.match(d, /ssl_protocols TLSv1\.2 TLSv1\.3;/);
});

test('testssl findings: the self-signed certificate and the bare test app are told apart from Portcullis', () => {
  assert.equal(explain('cert_chain_of_trust <cert#1>')?.tag.trim(), '[test cert]');
  assert.equal(explain('cert_revocation <cert#2>')?.tag.trim(), '[test cert]');
  assert.equal(explain('security_headers')?.tag.trim(), '[test app]');
  for (const id of ['HSTS', 'secure_client_renego', 'TLS1', 'cipherlist_AVERAGE', 'BREACH']) assert.equal(explain(id), undefined, `${id} is Portcullis's`);
});

const FLOOR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'http', 'node-floor.ts');

/** One GET with a fresh connection: status, body and (over TLS, offering h2 too) the negotiated ALPN protocol. */
function get(scheme: 'http' | 'https', port: number): Promise<{ status: number; body: string; alpn: string | false | null }> {
  return new Promise((resolve, reject) => {
    const done = (res: http.IncomingMessage) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, alpn: (res.socket as tls.TLSSocket).alpnProtocol ?? null }));
    };
    const opts = { host: '127.0.0.1', port, path: '/x', agent: false, timeout: 2000 } as const;
    // https.get hands ALPNProtocols to tls.connect; its RequestOptions type does not list it
    const tlsOpts: https.RequestOptions & tls.ConnectionOptions = { ...opts, rejectUnauthorized: false, ALPNProtocols: ['h2', 'http/1.1'] };
    const req = scheme === 'http' ? http.get(opts, done) : https.get(tlsOpts, done);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** A full handshake with a default Node client: what the server negotiated. */
function handshake(port: number): Promise<{ protocol: string | null; cipher: string; alpn: string | false | null; key: string | undefined }> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ALPNProtocols: ['h2', 'http/1.1'] }, () => {
      resolve({ protocol: s.getProtocol(), cipher: s.getCipher().standardName, alpn: s.alpnProtocol, key: s.getPeerX509Certificate()?.publicKey.asymmetricKeyType });
      s.end();
    });
    s.on('error', reject);
  });
}

async function until<T>(what: () => Promise<T>, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try { return await what(); } catch (e) { if (Date.now() > deadline) throw e; }
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('the node floors of the TLS benchmark serve: the llhttp proxy over HTTPS and plain HTTP, the bare tls.Server with TLS_DEFAULTS', { skip: !hasOpenssl && 'openssl CLI not installed' }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pcs-tls-floor-'));
  const upstream = http.createServer((req, res) => res.end(`floor ok ${req.url}`));
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const upstreamPort = (upstream.address() as net.AddressInfo).port;
  const cert = makeCert(dir, 'ecdsa');
  const floorArgs = ['--workers', '1', '--tls-cert', cert.certFile, '--tls-key', cert.keyFile];
  const port = await freePort(), plainPort = await freePort(), hsPort = await freePort();
  const proxy = start('floor proxy', process.execPath, [FLOOR, '--mode', 'raw', '--port', String(port), '--upstream', String(upstreamPort), '--plain-port', String(plainPort), ...floorArgs]);
  const bare = start('floor tls', process.execPath, [FLOOR, '--mode', 'tls', '--port', String(hsPort), ...floorArgs]);
  try {
    const r = await until(() => get('https', port), 10_000).catch((e) => assert.fail(`${e}\n${tail(proxy.output())}`));
    assert.deepEqual(r, { status: 200, body: 'floor ok /x', alpn: 'http/1.1' });
    assert.deepEqual(await get('http', plainPort), { status: 200, body: 'floor ok /x', alpn: null });
    const h = await until(() => handshake(hsPort), 10_000).catch((e) => assert.fail(`${e}\n${tail(bare.output())}`));
    // AES-128 first is TLS_DEFAULTS' order, honoured over the client's (Node's default puts AES-256 first)
    assert.deepEqual(h, { protocol: 'TLSv1.3', cipher: 'TLS_AES_128_GCM_SHA256', alpn: 'h2', key: 'ec' });
    // bench/tls/run.ts measures only once every worker has said this
    for (const s of [proxy, bare]) await until(async () => assert.match(s.output(), /^node-floor: worker \d+ listening$/m), 2000);
  } finally {
    await Promise.all([stop(proxy), stop(bare)]);
    upstream.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
