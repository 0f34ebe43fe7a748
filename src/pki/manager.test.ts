import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { InternalCA, type IssuedCertificate } from './ca.ts';
import { CertificateManager, matchesRequest } from './manager.ts';
import { ManualClock, type RenewalFailedEvent, type RenewedEvent } from './renewal.ts';
import { CertificateStore } from './store.ts';
import { tempKeyStore } from './testutil.ts';

const DAY = 86_400_000;

async function setup(t: Parameters<typeof tempKeyStore>[0], clock?: ManualClock) {
  const { dir, keystore } = await tempKeyStore(t);
  const ca = await InternalCA.open({ keystore, certDir: join(dir, 'ca'), now: clock ? () => new Date(clock.now()) : undefined });
  const store = new CertificateStore({ certDir: join(dir, 'certs'), keystore });
  return { dir, keystore, ca, store };
}

test('CertificateStore: chain file 0644 + encrypted key; load verifies the pair', async (t) => {
  const { dir, ca, store, keystore } = await setup(t);
  const a = await ca.issue({ dnsNames: ['a.portcullis.test'] });
  const b = await ca.issue({ dnsNames: ['b.portcullis.test'] });
  assert.equal(await store.load('a'), undefined);
  await store.save('a', a);
  await store.save('b', b);
  assert.deepEqual(await store.list(), ['a', 'b']);
  assert.equal((await stat(join(dir, 'certs', 'a.pem'))).mode & 0o777, 0o644);
  assert.ok(!(await readFile(join(dir, 'certs', 'a.pem'), 'utf8')).includes('PRIVATE'));
  assert.ok(await keystore.has('cert-a'));
  const l = (await store.load('a'))!;
  assert.equal(l.serialNumber, a.serialNumber);
  assert.equal(l.notAfter.getTime(), a.notAfter.getTime());
  assert.equal(l.keyPem.reveal(), a.keyPem.reveal());
  assert.equal(l.caPem, ca.rootCertPem);
  // b's chain under a's name: the key no longer matches
  await writeFile(join(dir, 'certs', 'a.pem'), b.chainPem);
  await assert.rejects(store.load('a'), { code: 'PCS_ERR_CA_STATE' });
  await store.delete('a');
  assert.deepEqual(await store.list(), ['b']);
  assert.equal(await keystore.has('cert-a'), false);
  await assert.rejects(store.save('../x', a), { code: 'PCS_ERR_KEYSTORE_BAD_NAME' });
});

test('matchesRequest compares names and key type', async (t) => {
  const { ca } = await setup(t);
  const c = await ca.issue({ dnsNames: ['m.portcullis.test', 'n.portcullis.test'], ipAddresses: ['10.0.0.1'], uris: ['spiffe://td/x'] });
  assert.ok(matchesRequest(c, { dnsNames: ['N.portcullis.test', 'm.portcullis.test'], ipAddresses: ['10.0.0.1'], uris: ['spiffe://td/x'] }));
  assert.ok(!matchesRequest(c, { dnsNames: ['m.portcullis.test'], ipAddresses: ['10.0.0.1'], uris: ['spiffe://td/x'] }));
  assert.ok(!matchesRequest(c, { dnsNames: ['m.portcullis.test', 'n.portcullis.test'], uris: ['spiffe://td/x'] }));
  assert.ok(!matchesRequest(c, { dnsNames: ['m.portcullis.test', 'n.portcullis.test'], ipAddresses: ['10.0.0.1'], uris: ['spiffe://td/x'], key: { type: 'ecdsa', curve: 'P-384' } }));
});

test('CertificateManager: issue once, reuse after restart, reissue on changed request, renew + persist + notify', async (t) => {
  const clock = new ManualClock(Date.now());
  const { ca, store } = await setup(t, clock);
  const seen: Array<[string, string]> = [];
  const make = () => {
    const m = new CertificateManager({ store, clock, random: () => 0 });
    m.onCertificate((name, c) => void seen.push([name, c.serialNumber]));
    t.after(() => m.stop());
    return m;
  };
  const spec = { name: 'web', issuer: ca, request: { dnsNames: ['web.portcullis.test'], lifetimeMs: DAY } };
  const m1 = make();
  const c1 = await m1.ensure(spec);
  assert.deepEqual(seen, [['web', c1.serialNumber]]);
  m1.stop();

  // restart: the stored certificate is reused
  const m2 = make();
  const c2 = await m2.ensure(spec);
  assert.equal(c2.serialNumber, c1.serialNumber);
  const st = m2.status()[0];
  assert.ok(st.daysLeft > 0.99 && st.daysLeft < 1.01, String(st.daysLeft));
  assert.equal(st.nextAttemptAt?.getTime(), c1.notBefore.getTime() + (c1.notAfter.getTime() - c1.notBefore.getTime()) * (2 / 3));

  // scheduled renewal: persisted, listeners told, m.get() updated
  const renewed = once(m2, 'renewed');
  await clock.advanceTo(st.nextAttemptAt!);
  const [ev] = (await renewed) as [RenewedEvent];
  assert.notEqual(ev.serialNumber, c1.serialNumber);
  assert.equal(m2.get('web')?.serialNumber, ev.serialNumber);
  assert.equal((await store.load('web'))?.serialNumber, ev.serialNumber);
  assert.deepEqual(seen.at(-1), ['web', ev.serialNumber]);
  m2.stop();

  // request changed (a name added): reissued at once
  const m3 = make();
  const c3 = await m3.ensure({ ...spec, request: { ...spec.request, dnsNames: ['web.portcullis.test', 'api.portcullis.test'] } });
  assert.notEqual(c3.serialNumber, ev.serialNumber);
  assert.ok(new X509Certificate(c3.certPem).checkHost('api.portcullis.test'));

  // failures re-emitted with the alert payload; the current certificate stays
  const broken = { issue: (): Promise<IssuedCertificate> => Promise.reject(new Error('issuer down')) };
  m3.remove('web');
  const c4 = await m3.ensure({ name: 'web', issuer: ca, request: { dnsNames: ['web.portcullis.test', 'api.portcullis.test'], lifetimeMs: DAY } });
  assert.equal(c4.serialNumber, c3.serialNumber, 'still valid and matching: reused');
  m3.remove('web');
  await m3.ensure({ name: 'web', issuer: broken, request: { dnsNames: ['web.portcullis.test', 'api.portcullis.test'], lifetimeMs: DAY } }).then(
    (c) => assert.equal(c.serialNumber, c3.serialNumber),
  );
  const failed = once(m3, 'renewal_failed');
  await m3.renewNow('web');
  const [f] = (await failed) as [RenewalFailedEvent];
  assert.equal(f.error.message, 'issuer down');
  assert.equal(m3.get('web')?.serialNumber, c3.serialNumber);

  // the request changes while the issuer is down: the stored (still valid) certificate keeps
  // being served and the renewal is retried in the background, with the alert
  m3.remove('web');
  const failedAgain = once(m3, 'renewal_failed');
  const kept = await m3.ensure({ name: 'web', issuer: broken, request: { dnsNames: ['moved.portcullis.test'], lifetimeMs: DAY } });
  assert.equal(kept.serialNumber, c3.serialNumber);
  const [f2] = (await failedAgain) as [RenewalFailedEvent];
  assert.equal(f2.attempt, 1);
  assert.ok(f2.nextRetryAt.getTime() > clock.now());
  // nothing stored and the issuer down: ensure() rejects
  await assert.rejects(m3.ensure({ name: 'fresh', issuer: broken, request: { dnsNames: ['fresh.portcullis.test'] } }), /issuer down/);
});
