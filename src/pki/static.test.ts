import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InternalCA } from './ca.ts';
import { ManualClock, RenewalScheduler, type RenewalFailedEvent, type RenewedEvent } from './renewal.ts';
import { StaticFileIssuer } from './static.ts';
import { tempKeyStore } from './testutil.ts';

test('StaticFileIssuer: loads files, checks the pair and names; an unreplaced file past its renewal point raises the alert', async (t) => {
  const clock = new ManualClock(Date.now());
  const { dir, keystore } = await tempKeyStore(t);
  const ca = await InternalCA.open({ keystore, certDir: join(dir, 'ca'), now: () => new Date(clock.now()) });
  const certFile = join(dir, 'tls.crt');
  const keyFile = join(dir, 'tls.key');
  const a = await ca.issue({ dnsNames: ['static.portcullis.test'] });
  await writeFile(certFile, a.chainPem);
  await writeFile(keyFile, a.keyPem.reveal());
  const issuer = new StaticFileIssuer({ certFile, keyFile, now: () => new Date(clock.now()) });
  const first = await issuer.issue({ dnsNames: ['static.portcullis.test'] });
  assert.equal(first.serialNumber, a.serialNumber);
  await assert.rejects(issuer.issue({ dnsNames: ['other.portcullis.test'] }), { code: 'PCS_ERR_CA_BAD_REQUEST' });

  const s = new RenewalScheduler({ clock, random: () => 0, renew: () => issuer.issue() });
  t.after(() => s.stop());
  const failed = once(s, 'renewal_failed');
  await clock.advanceTo(s.add('static', first));
  const [f] = (await failed) as [RenewalFailedEvent];
  assert.equal((f.error as { code?: string }).code, 'PCS_ERR_RENEWAL');
  assert.match(f.error.message, /replace the file/);

  // someone drops in a new certificate: the next retry picks it up
  const b = await ca.issue({ dnsNames: ['static.portcullis.test'] });
  await writeFile(certFile, b.chainPem);
  await writeFile(keyFile, b.keyPem.reveal());
  const renewed = once(s, 'renewed');
  await clock.advanceTo(f.nextRetryAt);
  const [r] = (await renewed) as [RenewedEvent];
  assert.equal(r.serialNumber, b.serialNumber);

  // mismatched pair and missing files are refused
  await writeFile(keyFile, a.keyPem.reveal());
  await assert.rejects(issuer.issue(), { code: 'PCS_ERR_CA_STATE' });
  await assert.rejects(new StaticFileIssuer({ certFile: join(dir, 'nope'), keyFile }).issue(), { code: 'PCS_ERR_CERT_PARSE' });
});
