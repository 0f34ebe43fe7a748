// The Gateway's backend client certificate (spec.tls.backend.clientCertificateRef) as the
// BackendTLSPolicy analysis resolves it: into the Backend's TLS settings, refused when it does not
// resolve or when two Gateways disagree about one Backend (fail closed in both cases).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildConfig } from '../compiler/compile.ts';
import { selfSignedCert } from '../upstream/testutil.ts';

let a: { cert: string; key: string }, b: { cert: string; key: string };
before(() => { a = selfSignedCert('gw-a.test'); b = selfSignedCert('gw-b.test'); });

const b64 = (s: string) => Buffer.from(s).toString('base64');
const secret = (name: string, c: { cert: string; key: string }) => `---
apiVersion: v1
kind: Secret
metadata: { name: ${name}, namespace: default }
type: kubernetes.io/tls
data: { tls.crt: ${b64(c.cert)}, tls.key: ${b64(c.key)} }
`;
const gateway = (name: string, port: number, ref?: string) => `---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: ${name}, namespace: default }
spec:
  gatewayClassName: portcullis
  listeners: [{ name: http, protocol: HTTP, port: ${port} }]
${ref ? `  tls: { backend: { clientCertificateRef: { name: ${ref} } } }\n` : ''}`;
const route = (name: string, gw: string, backend: string) => `---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: ${name}, namespace: default }
spec:
  parentRefs: [{ name: ${gw} }]
  rules: [{ backendRefs: [{ group: portcullis.dev, kind: Backend, name: ${backend} }] }]
`;
const backendWithPolicy = (name: string) => `---
apiVersion: portcullis.dev/v1alpha1
kind: Backend
metadata: { name: ${name}, namespace: default }
spec: { endpoints: [{ address: 10.0.0.1, port: 8443 }] }
---
apiVersion: gateway.networking.k8s.io/v1
kind: BackendTLSPolicy
metadata: { name: ${name}, namespace: default }
spec:
  targetRefs: [{ group: portcullis.dev, kind: Backend, name: ${name} }]
  validation: { wellKnownCACertificates: System, hostname: ${name}.internal.test }
`;

function build(yaml: string) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pcs-btls-unit-'));
  try {
    fs.writeFileSync(path.join(dir, 'c.yaml'), yaml);
    return buildConfig(path.join(dir, 'c.yaml'));
  } finally { fs.rmSync(dir, { recursive: true, force: true }); }
}

test('the Gateway client certificate reaches the TLS settings of the Backends its routes use', () => {
  const r = build(gateway('gw', 8080, 'client-a') + secret('client-a', a) + route('r', 'gw', 'api') + backendWithPolicy('api') + route('r2', 'gw', 'plain') + `---
apiVersion: portcullis.dev/v1alpha1
kind: Backend
metadata: { name: plain, namespace: default }
spec: { endpoints: [{ address: 10.0.0.2, port: 80 }] }
`);
  assert.deepEqual(r.errors, []);
  const api = r.runtime!.backends.get('Backend/default/api')!;
  assert.equal(api.poolOptions.tls?.cert, a.cert);
  assert.equal(api.poolOptions.tls?.servername, 'api.internal.test');
  assert.equal(api.poolOptions.tls?.ca, undefined, 'System: Node\'s bundled roots');
  assert.equal(api.endpoints[0].origin, 'https://10.0.0.1:8443');
  assert.equal(r.runtime!.backends.get('Backend/default/plain')!.poolOptions.tls, undefined, 'no policy, no TLS, no client certificate');
});

test('an unresolvable client certificate: error on the Gateway, ResolvedRefs=False, and its TLS Backends fail closed', () => {
  const r = build(gateway('gw', 8080, 'missing') + route('r', 'gw', 'api') + backendWithPolicy('api'));
  const d = r.errors.find((x) => x.resource === 'Gateway/default/gw');
  assert.ok(d, 'the Gateway is named');
  assert.equal(d.path, 'spec.tls.backend.clientCertificateRef.name');
  assert.match(d.message, /Secret default\/missing not found/);
  const gwConds = (r.status['Gateway/default/gw'].conditions as { type: string; status: string; reason: string }[]);
  assert.ok(gwConds.some((c) => c.type === 'ResolvedRefs' && c.status === 'False' && c.reason === 'InvalidClientCertificateRef'));
  assert.ok('error' in r.ir!.backends.get('Backend/default/api')!.tls!, 'the Backend is marked to fail closed');
});

test('two Gateways with different client certificates on one Backend: refused, not guessed', () => {
  const r = build(gateway('gw-a', 8080, 'client-a') + gateway('gw-b', 8081, 'client-b') + secret('client-a', a) + secret('client-b', b)
    + route('ra', 'gw-a', 'api') + route('rb', 'gw-b', 'api') + backendWithPolicy('api'));
  const d = r.errors.find((x) => x.resource === 'BackendTLSPolicy/default/api');
  assert.match(d?.message ?? '', /different backend client certificates/);
  const st = r.status['BackendTLSPolicy/default/api'] as { ancestors: { ancestorRef: { name: string }; conditions: { type: string; status: string }[] }[] };
  assert.deepEqual(st.ancestors.map((x) => x.ancestorRef.name), ['gw-a', 'gw-b']);
  assert.equal(st.ancestors[0].conditions.find((c) => c.type === 'Accepted')?.status, 'False');
});
