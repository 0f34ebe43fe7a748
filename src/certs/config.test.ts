import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigText } from '../config/load.ts';
import { validateSchema } from '../config/validate-schema.ts';
import { analyze } from '../config/semantic.ts';
import { analyzeCertificates, goDurationMs, issuedFingerprint, resolveManagedRef, type IssuedLookup } from './config.ts';

function run(yaml: string, issued?: IssuedLookup) {
  const { docs, diagnostics } = parseConfigText(yaml, '/cfg/c.yaml');
  assert.deepEqual(diagnostics, []);
  const schema = validateSchema(docs);
  assert.deepEqual(schema.diagnostics.map((d) => d.message), []);
  const reports: { path: string; message: string; severity: string }[] = [];
  const status: Record<string, Record<string, unknown>> = {};
  const ir = analyzeCertificates(schema.resources, (_r, p, message, _h, severity = 'error') => reports.push({ path: p.join('.'), message, severity }), status, issued);
  return { ir, reports, status, resources: schema.resources };
}

const ca = `apiVersion: portcullis.dev/v1alpha1
kind: Issuer
metadata: { name: ca, namespace: default }
spec: { ca: {} }
`;
const acme = (solvers = '[{ http01: {} }]') => `apiVersion: portcullis.dev/v1alpha1
kind: Issuer
metadata: { name: le, namespace: default }
spec: { acme: { server: "https://acme.example/dir", solvers: ${solvers} } }
`;
const cert = (spec: string, name = 'c') => `---
apiVersion: portcullis.dev/v1alpha1
kind: Certificate
metadata: { name: ${name}, namespace: default }
spec: ${spec}
`;

test('a valid CA Certificate: defaults (ECDSA P-256, 24h, 2/3, server auth) and the IR', () => {
  const { ir, reports, status } = run(ca + cert('{ secretName: web-tls, issuerRef: { name: ca }, dnsNames: [Web.Example.com], uris: ["spiffe://example.com/ns/a/sa/b"] }'));
  assert.deepEqual(reports, []);
  const c = ir.certificates[0];
  assert.equal(c.secretName, 'web-tls');
  assert.deepEqual(c.request.dnsNames, ['web.example.com']);
  assert.deepEqual(c.request.key, { type: 'ecdsa', curve: 'P-256' });
  assert.equal(c.request.lifetimeMs, 24 * 3600_000);
  assert.deepEqual(c.request.usages, ['server']);
  assert.equal(c.renewFraction, 2 / 3);
  assert.equal(ir.bySecret.get('default/web-tls'), c);
  assert.match(c.storeName, /^default_c\.[0-9a-f]{8}$/);
  assert.match(JSON.stringify(status['Certificate/default/c']), /"Ready","status":"False","reason":"Pending"/);
});

test('renewBefore becomes the renewal fraction; renewAtFraction is taken as is', () => {
  assert.equal(run(ca + cert('{ secretName: a, issuerRef: { name: ca }, dnsNames: [a.example], duration: 30h, renewBefore: 10h }')).ir.certificates[0].renewFraction, 1 - 10 / 30);
  assert.equal(run(ca + cert('{ secretName: a, issuerRef: { name: ca }, dnsNames: [a.example], renewAtFraction: 0.5 }')).ir.certificates[0].renewFraction, 0.5);
  assert.equal(goDurationMs('1h30m10s'), 5410_000);
});

test('config errors are reported with their field, and the Certificate is left out', () => {
  const cases: [string, string, RegExp][] = [
    [ca + cert('{ secretName: a, issuerRef: { name: nope }, dnsNames: [a.example] }'), 'spec.issuerRef.name', /Issuer default\/nope not found/],
    [ca + cert('{ secretName: a, issuerRef: { name: ca } }'), 'spec', /needs dnsNames, ipAddresses or uris/],
    [ca + cert('{ secretName: a, issuerRef: { name: ca }, ipAddresses: [300.1.1.1] }'), 'spec.ipAddresses.0', /not an IP address/],
    [ca + cert('{ secretName: a, issuerRef: { name: ca }, dnsNames: [a.example], privateKey: { algorithm: RSA, size: 1024 } }'), 'spec.privateKey.size', /RSA size 1024/],
    [ca + cert('{ secretName: a, issuerRef: { name: ca }, dnsNames: [a.example], duration: 5s }'), 'spec.duration', /out of range/],
    [ca + cert('{ secretName: a, issuerRef: { name: ca }, dnsNames: [a.example], renewBefore: 1h }'), 'spec.renewBefore', /needs a duration/],
    [ca + cert('{ secretName: a, issuerRef: { name: ca }, dnsNames: [a.example], duration: 1h, renewBefore: 2h }'), 'spec.renewBefore', /must be shorter/],
    [ca + cert('{ secretName: a, issuerRef: { name: ca }, dnsNames: [a.example], duration: 2h, renewBefore: 1h, renewAtFraction: 0.5 }'), 'spec.renewBefore', /not both/],
    [acme() + cert('{ secretName: a, issuerRef: { name: le }, dnsNames: [a.example], uris: ["spiffe://x/y"] }'), 'spec.uris', /DNS names only/],
    [acme() + cert('{ secretName: a, issuerRef: { name: le }, dnsNames: ["*.a.example"] }'), 'spec.dnsNames', /DNS-01/],
    [ca + cert('{ secretName: a, issuerRef: { name: ca }, dnsNames: [a.example] }') + cert('{ secretName: a, issuerRef: { name: ca }, dnsNames: [b.example] }', 'd'), 'spec.secretName', /also written by Certificate\/default\/c/],
  ];
  for (const [yaml, path, re] of cases) {
    const { reports, ir } = run(yaml);
    const errors = reports.filter((r) => r.severity === 'error');
    assert.ok(errors.some((e) => e.path === path && re.test(e.message)), `${re} at ${path}; got ${JSON.stringify(errors)}`);
    assert.ok(ir.certificates.length <= 1);
  }
});

test('Issuer errors: none or two kinds, http URL, bad solvers, relative exec, missing EAB secret', () => {
  const issuer = (spec: string) => `apiVersion: portcullis.dev/v1alpha1
kind: Issuer
metadata: { name: i, namespace: default }
spec: ${spec}
`;
  const cases: [string, string, RegExp][] = [
    ['{}', 'spec', /needs ca, acme or static/],
    ['{ ca: {}, static: { certFile: a, keyFile: b } }', 'spec', /not ca and static/],
    ['{ acme: { server: "http://acme.example/dir", solvers: [{ http01: {} }] } }', 'spec.acme.server', /not an https URL/],
    ['{ acme: { server: "https://a/dir", solvers: [{ http01: {}, dns01: { webhook: { url: "https://h" } } }] } }', 'spec.acme.solvers.0', /one of http01/],
    ['{ acme: { server: "https://a/dir", solvers: [{ dns01: {} }] } }', 'spec.acme.solvers.0.dns01', /exactly one of exec or webhook/],
    ['{ acme: { server: "https://a/dir", solvers: [{ dns01: { exec: { command: [dns-hook] } } }] } }', 'spec.acme.solvers.0.dns01.exec.command.0', /absolute path/],
    ['{ acme: { server: "https://a/dir", solvers: [{ http01: {} }], externalAccountBinding: { keyID: k, keySecretRef: { name: eab } } } }', 'spec.acme.externalAccountBinding.keySecretRef.name', /Secret default\/eab not found/],
    ['{ acme: { server: "https://a/dir", caBundle: "bm90IGEgY2VydA==", solvers: [{ http01: {} }] } }', 'spec.acme.caBundle', /no PEM certificate/],
    ['{ ca: { intermediateValidity: 24h } }', 'spec.ca.intermediateValidity', /longest leaf \(90 days\)/],
  ];
  for (const [spec, path, re] of cases) {
    const { reports, status } = run(issuer(spec));
    assert.ok(reports.some((e) => e.path === path && re.test(e.message)), `${re} at ${path}; got ${JSON.stringify(reports)}`);
    assert.match(JSON.stringify(status['Issuer/default/i']), /"Ready","status":"False"/);
  }
});

test('ACME issuer IR: solver order, dns01 hook, EAB key from a Secret (hashed, never in the IR hash in clear)', () => {
  const yaml = `apiVersion: v1
kind: Secret
metadata: { name: eab, namespace: default }
stringData: { secret: hmac-value-123 }
---
` + acme('[{ dns01: { exec: { command: [/usr/bin/hook, --zone, x], timeout: 10s }, propagationDelay: 5s } }, { http01: {} }]').replace('solvers:', 'externalAccountBinding: { keyID: kid-1, keySecretRef: { name: eab } }, solvers:') + cert('{ secretName: a, issuerRef: { name: le }, dnsNames: ["*.a.example", a.example] }');
  const { ir, reports } = run(yaml);
  assert.deepEqual(reports, []);
  const a = ir.certificates[0].issuer.acme!;
  assert.deepEqual(a.challenges, ['dns-01', 'http-01']);
  assert.deepEqual(a.dns01, { hook: { type: 'exec', command: '/usr/bin/hook', args: ['--zone', 'x'], timeoutMs: 10_000 }, propagationDelayMs: 5000 });
  assert.equal(a.eab!.keyID, 'kid-1');
  assert.equal(a.eab!.hmacKey.reveal(), 'hmac-value-123');
  assert.equal(String(a.eab!.hmacKey), '[redacted]');
  assert.doesNotMatch(JSON.stringify(ir.certificates[0]), /hmac-value-123/);
  const wh = run(acme('[{ dns01: { webhook: { url: "https://dns.internal/acme", timeout: 30s } } }]') + cert('{ secretName: a, issuerRef: { name: le }, dnsNames: [a.example] }'));
  assert.deepEqual(wh.reports, []);
  assert.deepEqual(wh.ir.certificates[0].issuer.acme!.dns01, { hook: { type: 'webhook', url: 'https://dns.internal/acme', timeoutMs: 30_000 } });
});

test('listener refs: pending until issued, then the issued chain; the fingerprint changes with the serial', () => {
  const yaml = ca + cert('{ secretName: web-tls, issuerRef: { name: ca }, dnsNames: [a.example] }');
  const { ir } = run(yaml);
  const name = ir.certificates[0].storeName;
  let serial = '01';
  const lookup: IssuedLookup = {
    get: (n) => (n === name ? { chainPem: 'CHAIN', keyPem: 'KEY', serialNumber: serial, notAfter: new Date(0) } : undefined),
    state: () => undefined,
  };
  assert.deepEqual(resolveManagedRef(ir, undefined, 'default', 'web-tls'), { pending: 'Certificate default/c is not issued yet' });
  assert.equal(resolveManagedRef(ir, undefined, 'default', 'other'), undefined);
  assert.deepEqual(resolveManagedRef(ir, lookup, 'default', 'web-tls'), { cert: 'CHAIN', key: 'KEY', ref: 'default/web-tls' });
  const f1 = issuedFingerprint(ir, lookup);
  serial = '02';
  assert.notEqual(issuedFingerprint(ir, lookup), f1);
  assert.equal(issuedFingerprint(undefined, lookup), undefined);
});

test('semantic: an HTTPS listener on a pending Certificate waits (Programmed False, Pending) without a config error', () => {
  const yaml = ca + cert('{ secretName: web-tls, issuerRef: { name: ca }, dnsNames: [a.example] }') + `---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: gw, namespace: default }
spec:
  gatewayClassName: portcullis
  listeners: [{ name: https, protocol: HTTPS, port: 8443, tls: { certificateRefs: [{ name: web-tls }] } }]
`;
  const { resources } = run(yaml);
  const sem = analyze(resources);
  assert.deepEqual(sem.diagnostics.filter((d) => d.severity === 'error'), []);
  assert.equal(sem.ir.listeners.length, 0);
  const l = JSON.stringify(sem.status['Gateway/default/gw']);
  assert.match(l, /"ResolvedRefs","status":"False","reason":"CertificatePending"/);
  assert.match(l, /"Programmed","status":"False","reason":"Pending"/);
});
