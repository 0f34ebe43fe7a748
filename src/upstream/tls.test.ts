import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PeerCertificate } from 'node:tls';
import { checkSubjectAltNames, subjectAltNamesOf, tlsConnectOptions } from './tls.ts';

const cert = (subjectaltname: string, CN = 'ignored.example') => ({ subjectaltname, subject: { CN } }) as unknown as PeerCertificate;

test('subjectAltNamesOf reads Node\'s SAN string, quoted values included', () => {
  assert.deepEqual(subjectAltNamesOf(cert('DNS:a.example, URI:spiffe://td/ns/x/sa/y, IP Address:10.0.0.1')), [['DNS', 'a.example'], ['URI', 'spiffe://td/ns/x/sa/y'], ['IP Address', '10.0.0.1']]);
  // Node quotes a value holding ", " so that it cannot forge a second entry.
  assert.deepEqual(subjectAltNamesOf(cert('URI:"spiffe://td/a, URI:spiffe://td/admin"')), [['URI', 'spiffe://td/a, URI:spiffe://td/admin']]);
  assert.deepEqual(subjectAltNamesOf(cert('')), []);
});

test('checkSubjectAltNames: URI entries match exactly, Hostname entries as TLS does, no CN fallback', () => {
  const c = cert('DNS:*.svc.example, URI:spiffe://td/ns/prod/sa/api');
  assert.equal(checkSubjectAltNames([{ type: 'URI', value: 'spiffe://td/ns/prod/sa/api' }], c), undefined);
  assert.ok(checkSubjectAltNames([{ type: 'URI', value: 'spiffe://td/ns/prod/sa/ap' }], c) instanceof Error, 'a prefix is not a match');
  assert.equal(checkSubjectAltNames([{ type: 'Hostname', value: 'db.svc.example' }], c), undefined, 'a wildcard certificate covers one label');
  assert.ok(checkSubjectAltNames([{ type: 'Hostname', value: 'a.db.svc.example' }], c), 'but not two');
  assert.equal(checkSubjectAltNames([{ type: 'Hostname', value: 'nope.example' }, { type: 'URI', value: 'spiffe://td/ns/prod/sa/api' }], c), undefined, 'any one entry is enough');
  const quoted = cert('URI:"spiffe://td/a, URI:spiffe://td/admin"');
  assert.ok(checkSubjectAltNames([{ type: 'URI', value: 'spiffe://td/admin' }], quoted), 'a forged entry inside a quoted value does not match');
  const cnOnly = cert('', 'db.svc.example');
  const err = checkSubjectAltNames([{ type: 'Hostname', value: 'db.svc.example' }], cnOnly) as Error & { code?: string };
  assert.equal(err?.code, 'ERR_TLS_CERT_ALTNAME_INVALID', 'the subject CN is never used');
});

test('tlsConnectOptions: verification on, TLS 1.2 minimum, no SNI for an IP, SAN check only when asked', () => {
  const o = tlsConnectOptions({ ca: 'PEM' }, '10.0.0.1');
  assert.equal(o.rejectUnauthorized, true);
  assert.equal(o.minVersion, 'TLSv1.2');
  assert.equal(o.servername, undefined);
  assert.equal(o.checkServerIdentity, undefined);
  assert.equal(tlsConnectOptions({}, 'api.example').servername, 'api.example');
  const s = tlsConnectOptions({ servername: 'api.internal', subjectAltNames: [{ type: 'URI', value: 'spiffe://td/x' }], minVersion: 'TLSv1.3' }, '10.0.0.1');
  assert.equal(s.servername, 'api.internal');
  assert.equal(s.minVersion, 'TLSv1.3');
  assert.ok(s.checkServerIdentity!('api.internal', cert('DNS:api.internal')) instanceof Error, 'with subjectAltNames the hostname alone does not pass');
  assert.equal(s.checkServerIdentity!('api.internal', cert('URI:spiffe://td/x')), undefined);
});
