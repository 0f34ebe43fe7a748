// SNI tables compiled from real config: listener and route precedence, mixed HTTPS/passthrough
// ports, no SNI, and the weighted choice with an invalid backendRef's share refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildConfig, compileRuntime } from '../compiler/compile.ts';
import { pickChoice, routeBySni, type PassthroughRuntime } from './compile.ts';

function build(yaml: string) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pcs-tls-'));
  fs.writeFileSync(path.join(dir, 'c.yaml'), yaml);
  return buildConfig(dir);
}

const backends = ['a', 'b', 'c', 'd'].map((n) => `---
apiVersion: portcullis.dev/v1alpha1
kind: Backend
metadata: { name: ${n}, namespace: default }
spec: { endpoints: [{ address: 10.0.0.1, port: 1000 }] }`).join('\n');

const route = (name: string, section: string, hosts: string[], refs: string) => `---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TLSRoute
metadata: { name: ${name}, namespace: default }
spec:
  parentRefs: [{ name: gw, sectionName: ${section} }]
  ${hosts.length ? `hostnames: [${hosts.map((h) => `"${h}"`).join(', ')}]` : ''}
  rules: [{ backendRefs: [${refs}] }]`;
const ref = (n: string, w = 1) => `{ group: portcullis.dev, kind: Backend, name: ${n}, weight: ${w} }`;

test('route precedence by SNI: exact, longer wildcard, shorter wildcard, catch-all; no SNI never routes', () => {
  const r = build(`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: gw, namespace: default }
spec:
  gatewayClassName: portcullis
  listeners: [{ name: tls, protocol: TLS, port: 8443, tls: { mode: Passthrough } }]
${route('exact', 'tls', ['db.example.com'], ref('a'))}
${route('long', 'tls', ['*.eu.example.com'], ref('b'))}
${route('short', 'tls', ['*.example.com'], ref('c'))}
${route('all', 'tls', [], ref('d'))}
${backends}`);
  assert.deepEqual(r.errors, []);
  const pt = [...r.runtime!.ports.values()][0].passthrough!;
  const to = (sni: string | undefined) => { const s = routeBySni(pt, sni); return s.kind === 'route' ? s.route.id : s.kind; };
  assert.equal(to('db.example.com'), 'TLSRoute/default/exact');
  assert.equal(to('x.db.example.com'), 'TLSRoute/default/short');
  assert.equal(to('x.eu.example.com'), 'TLSRoute/default/long');
  assert.equal(to('a.b.eu.example.com'), 'TLSRoute/default/long');
  assert.equal(to('eu.example.com'), 'TLSRoute/default/short');
  assert.equal(to('example.com'), 'TLSRoute/default/all');
  assert.equal(to('other.test'), 'TLSRoute/default/all');
  assert.equal(to(undefined), 'no-route');
});

test('a port shared with HTTPS: passthrough names go to TCP, other names and no SNI are terminated', async () => {
  const { InternalCA } = await import('../pki/ca.ts');
  const { KeyStore } = await import('../pki/keystore.ts');
  const { Secret } = await import('../pki/secret.ts');
  const { randomBytes } = await import('node:crypto');
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pcs-tls-ca-'));
  const ca = await InternalCA.open({ keystore: await KeyStore.open({ dir: path.join(work, 'k'), encryptionKey: new Secret(randomBytes(32)) }), certDir: path.join(work, 'ca') });
  const c = await ca.issue({ dnsNames: ['*.example.com'] });
  const r = build(`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: gw, namespace: default }
spec:
  gatewayClassName: portcullis
  listeners:
    - { name: web, protocol: HTTPS, port: 443, hostname: "*.example.com", tls: { certificateRefs: [{ name: cert }] } }
    - { name: db, protocol: TLS, port: 443, hostname: db.example.com, tls: { mode: Passthrough } }
    - { name: mq, protocol: TLS, port: 443, hostname: "*.mq.example.com", tls: { mode: Passthrough } }
${route('db', 'db', [], ref('a'))}
${route('mq', 'mq', ['one.mq.example.com'], ref('b'))}
${backends}
---
apiVersion: v1
kind: Secret
metadata: { name: cert, namespace: default }
type: kubernetes.io/tls
data: { tls.crt: ${Buffer.from(c.chainPem).toString('base64')}, tls.key: ${Buffer.from(c.keyPem.reveal()).toString('base64')} }`);
  assert.deepEqual(r.errors.map((e) => e.message), []);
  assert.equal(r.runtime!.ports.size, 1, 'one socket for the port');
  const port = [...r.runtime!.ports.values()][0];
  assert.equal(port.protocol, 'HTTPS');
  const pt = port.passthrough!;
  const to = (sni: string | undefined) => { const s = routeBySni(pt, sni); return s.kind === 'route' ? s.route.id : s.kind; };
  assert.equal(to('db.example.com'), 'TLSRoute/default/db');
  assert.equal(to('one.mq.example.com'), 'TLSRoute/default/mq');
  assert.equal(to('two.mq.example.com'), 'no-route', 'the passthrough listener owns the name, its routes do not: refused, not terminated');
  assert.equal(to('www.example.com'), 'terminate');
  assert.equal(to('other.test'), 'terminate');
  assert.equal(to(undefined), 'terminate');
});

test('weights: an invalid backendRef keeps its share, and those connections are refused; weight 0 gets nothing', () => {
  const r = build(`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: gw, namespace: default }
spec:
  gatewayClassName: portcullis
  listeners: [{ name: tls, protocol: TLS, port: 8443, tls: { mode: Passthrough } }]
${route('w', 'tls', ['w.example.com'], `${ref('a', 3)}, ${ref('gone', 1)}, ${ref('b', 0)}`)}
${backends}`);
  assert.ok(r.runtime === undefined && r.errors.some((e) => /Backend default\/gone not found/.test(e.message)), 'validate refuses it');
  // What --allow-partial serves (a controller's view): the route, with the invalid share.
  const rt = compileRuntime(r.ir!, r.status, r.resources, [], []);
  const sel = routeBySni(rt.ports.values().next().value!.passthrough!, 'w.example.com');
  assert.equal(sel.kind, 'route');
  const counts: Record<string, number> = {};
  for (let i = 0; i < 400; i++) { const c = pickChoice((sel as Extract<typeof sel, { kind: 'route' }>).route, () => (i + 0.5) / 400); const k = c?.backend?.id ?? 'refused'; counts[k] = (counts[k] ?? 0) + 1; }
  assert.deepEqual(counts, { 'Backend/default/a': 300, refused: 100 });
});

test('pickChoice follows the weights (deterministic draws)', () => {
  const pt = build(`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: gw, namespace: default }
spec:
  gatewayClassName: portcullis
  listeners: [{ name: tls, protocol: TLS, port: 8443, tls: { mode: Passthrough } }]
${route('w', 'tls', ['w.example.com'], `${ref('a', 3)}, ${ref('b', 1)}, ${ref('c', 0)}`)}
${backends}`).runtime!.ports.values().next().value!.passthrough as PassthroughRuntime;
  const sel = routeBySni(pt, 'w.example.com');
  assert.equal(sel.kind, 'route');
  const tr = (sel as Extract<typeof sel, { kind: 'route' }>).route;
  const counts: Record<string, number> = {};
  for (let i = 0; i < 400; i++) { const c = pickChoice(tr, () => (i + 0.5) / 400); counts[c?.backend?.id ?? 'none'] = (counts[c?.backend?.id ?? 'none'] ?? 0) + 1; }
  assert.deepEqual(counts, { 'Backend/default/a': 300, 'Backend/default/b': 100 });
});
