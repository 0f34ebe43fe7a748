import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { InternalCA } from './ca.ts';
import { certsList, certsScan } from './commands.ts';
import { tempKeyStore } from './testutil.ts';

test('certs list: table and --json, exit codes for findings and unreadable paths', async (t) => {
  const { dir, keystore } = await tempKeyStore(t);
  const ca = await InternalCA.open({ keystore, certDir: join(dir, 'ca') });
  const leaf = await ca.issue({ dnsNames: ['list.portcullis.test'], lifetimeMs: 2 * 86_400_000 });
  await writeFile(join(dir, 'leaf.pem'), leaf.chainPem);
  const rootFile = join(dir, 'ca', 'portcullis-ca-root.pem');

  const fresh = await certsList([join(dir, 'leaf.pem')], { trustStorePaths: [rootFile], useSystemTrust: false, failOn: 'low' });
  assert.equal(fresh.exitCode, 0, fresh.output);
  const now = new Date(Date.now() + 1.5 * 86_400_000); // past the 2/3 point of the 2-day certificate
  const r = await certsList([join(dir, 'leaf.pem')], { trustStorePaths: [rootFile], useSystemTrust: false, now });
  assert.equal(r.exitCode, 0);
  assert.match(r.output, /^SUBJECT/);
  assert.match(r.output, /list\.portcullis\.test .*EXPIRES_SOON/);
  const j = JSON.parse((await certsList([join(dir, 'leaf.pem')], { json: true, trustStorePaths: [rootFile], useSystemTrust: false, now })).output);
  assert.equal(j.certificates.length, 2);
  assert.deepEqual(j.certificates[0].findings.map((f: { code: string }) => f.code), ['EXPIRES_SOON']);
  // EXPIRES_SOON in < 7 days is 'high'
  assert.equal((await certsList([join(dir, 'leaf.pem')], { trustStorePaths: [rootFile], useSystemTrust: false, failOn: 'high', now })).exitCode, 1);
  assert.equal((await certsList([join(dir, 'leaf.pem')], { trustStorePaths: [rootFile], useSystemTrust: false, failOn: 'critical', now })).exitCode, 0);
  const missing = await certsList([join(dir, 'leaf.pem'), join(dir, 'nope')]);
  assert.equal(missing.exitCode, 2);
  assert.match(missing.output, /error: .*nope/);
});

test('certs scan: reachable and unreachable targets', async (t) => {
  const { dir, keystore } = await tempKeyStore(t);
  const ca = await InternalCA.open({ keystore, certDir: join(dir, 'ca') });
  const leaf = await ca.issue({ dnsNames: ['scan.portcullis.test'] });
  const server = tls.createServer({ key: leaf.keyPem.reveal(), cert: leaf.chainPem }, (s) => s.end());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const target = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const rootFile = join(dir, 'ca', 'portcullis-ca-root.pem');
  const ok = await certsScan([target], { servername: 'scan.portcullis.test', trustStorePaths: [rootFile], failOn: 'high' });
  assert.equal(ok.exitCode, 0, ok.output);
  const late = await certsScan([target], { servername: 'scan.portcullis.test', trustStorePaths: [rootFile], failOn: 'high', now: new Date(Date.now() + 20 * 3600_000) });
  assert.equal(late.exitCode, 1, 'a 24 h certificate 4 h before expiry: EXPIRES_SOON, high');
  assert.match(late.output, /EXPIRES_SOON/);
  assert.match(ok.output, /verified/);
  const bad = await certsScan([target, '127.0.0.1:1'], { servername: 'scan.portcullis.test', trustStorePaths: [rootFile], json: true });
  assert.equal(bad.exitCode, 2);
  const j = JSON.parse(bad.output);
  assert.equal(j.results.length, 2);
  assert.equal(j.results[1].error.code, 'PCS_ERR_CERT_SCAN');
});
