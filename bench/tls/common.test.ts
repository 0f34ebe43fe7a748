// The TLS benchmark's and the testssl scan's generated configs are valid, and the testssl report
// tells the test certificate's findings from Portcullis's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeCert, nginxTlsDirectives, portcullisTlsConfig } from './common.ts';
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
