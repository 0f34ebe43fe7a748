// Gateway API conformance: GRPCRoute. The tests use a minimal gRPC client and echo server on
// node:http2 (no gRPC library): a unary call is a POST of one length-prefixed message with
// content-type application/grpc; the status is the grpc-status trailer. The echo backends report
// their name in the x-echo-pod response header (the suite's echo-basic puts it in the EchoResponse).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { Conformance, INFRA } from './harness.ts';

const SERVICE = 'gateway_api_conformance.echo_basic.grpcecho.GrpcEcho';
const UNIMPLEMENTED = 12;

let c: Conformance;
const grpcBackends = new Map<string, { server: http2.Http2Server; port: number }>();

async function start(): Promise<void> {
  c = await Conformance.start();
  for (const name of ['grpc-infra-backend-v1', 'grpc-infra-backend-v2', 'grpc-infra-backend-v3']) {
    const server = http2.createServer();
    server.on('stream', (stream) => {
      stream.on('data', () => {});
      stream.on('end', () => {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'x-echo-pod': `${name}-0` }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        stream.end(Buffer.from([0, 0, 0, 0, 0])); // an empty EchoResponse
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    grpcBackends.set(name, { server, port: (server.address() as AddressInfo).port });
  }
}
before(start);
after(async () => {
  await c?.stop();
  for (const b of grpcBackends.values()) await new Promise((r) => b.server.close(r));
});

/** Backends for the grpc-infra-backend Services (appProtocol kubernetes.io/h2c). */
function grpcBackendManifests(): string {
  return [...grpcBackends].map(([name, b]) => `---
apiVersion: portcullis.dev/v1alpha1
kind: Backend
metadata: { name: ${name}, namespace: gateway-conformance-infra }
spec: { appProtocol: h2c, endpoints: [{ address: 127.0.0.1, port: ${b.port} }] }
`).join('');
}

/** One unary call through the gateway; resolves with the grpc-status and the answering backend. */
function grpcCall(gateway: string, opts: { method?: string; authority?: string; metadata?: Record<string, string> } = {}): Promise<{ code: number; pod?: string }> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${c.portFor(gateway)}`);
    session.on('error', reject);
    const s = session.request({
      ':method': 'POST', ':path': `/${SERVICE}/${opts.method ?? 'Echo'}`, ':authority': opts.authority ?? `127.0.0.1:${c.portFor(gateway)}`,
      'content-type': 'application/grpc', te: 'trailers', ...opts.metadata,
    });
    let pod: string | undefined;
    let code = -1;
    s.on('response', (h) => { pod = h['x-echo-pod'] as string | undefined; if (h['grpc-status'] !== undefined) code = Number(h['grpc-status']); });
    s.on('trailers', (t) => { code = Number(t['grpc-status']); });
    s.on('data', () => {});
    s.on('end', () => { session.close(); resolve({ code, pod }); });
    s.on('error', (e) => { session.close(); reject(e); });
    s.end(Buffer.from([0, 0, 0, 0, 0])); // an empty EchoRequest
  });
}

async function expectGrpc(gateway: string, opts: Parameters<typeof grpcCall>[1], want: { backend?: string; code?: number }): Promise<void> {
  const r = await grpcCall(gateway, opts);
  assert.equal(r.code, want.code ?? 0, `${JSON.stringify(opts)}: grpc-status ${r.code}`);
  if (want.backend) assert.ok(r.pod?.startsWith(want.backend), `${JSON.stringify(opts)}: answered by ${r.pod}, want ${want.backend}`);
}

test('GRPCRouteHeaderMatching', async () => {
  await c.apply(`apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: { name: grpc-header-matching, namespace: gateway-conformance-infra }
spec:
  parentRefs: [{ name: same-namespace }]
  rules:
  - matches: [{ headers: [{ name: version, value: one }] }]
    backendRefs: [{ name: grpc-infra-backend-v1, port: 8080 }]
  - matches: [{ headers: [{ name: version, value: two }] }]
    backendRefs: [{ name: grpc-infra-backend-v2, port: 8080 }]
  - matches: [{ headers: [{ name: version, value: two }, { name: color, value: orange }] }]
    backendRefs: [{ name: grpc-infra-backend-v1, port: 8080 }]
  - matches: [{ headers: [{ name: color, value: blue }] }, { headers: [{ name: color, value: green }] }]
    backendRefs: [{ name: grpc-infra-backend-v1, port: 8080 }]
  - matches: [{ headers: [{ name: color, value: red }] }, { headers: [{ name: color, value: yellow }] }]
    backendRefs: [{ name: grpc-infra-backend-v2, port: 8080 }]
${grpcBackendManifests()}`);
  await c.routesMustBeAccepted('same-namespace', ['grpc-header-matching'], INFRA, 'GRPCRoute');
  const cases: [Record<string, string>, { backend?: string; code?: number }][] = [
    [{ version: 'one' }, { backend: 'grpc-infra-backend-v1' }],
    [{ version: 'two' }, { backend: 'grpc-infra-backend-v2' }],
    [{ version: 'two', color: 'orange' }, { backend: 'grpc-infra-backend-v1' }],
    [{ version: 'two', color: 'blue' }, { backend: 'grpc-infra-backend-v2' }],
    [{ color: 'orange' }, { code: UNIMPLEMENTED }],
    [{ 'some-other-header': 'one' }, { code: UNIMPLEMENTED }],
    [{ color: 'blue' }, { backend: 'grpc-infra-backend-v1' }],
    [{ color: 'green' }, { backend: 'grpc-infra-backend-v1' }],
    [{ color: 'red' }, { backend: 'grpc-infra-backend-v2' }],
    [{ color: 'yellow' }, { backend: 'grpc-infra-backend-v2' }],
    [{ color: 'purple' }, { code: UNIMPLEMENTED }],
  ];
  for (const [metadata, want] of cases) await expectGrpc('same-namespace', { metadata }, want);
});

test('GRPCRouteListenerHostnameMatching', async () => {
  const gw = 'grpcroute-listener-hostname-matching';
  await c.apply(`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: ${gw}, namespace: gateway-conformance-infra }
spec:
  gatewayClassName: "{GATEWAY_CLASS_NAME}"
  listeners:
  - { name: listener-1, port: 80, protocol: HTTP, allowedRoutes: { namespaces: { from: Same } }, hostname: bar.com }
  - { name: listener-2, port: 80, protocol: HTTP, allowedRoutes: { namespaces: { from: Same } }, hostname: foo.bar.com }
  - { name: listener-3, port: 80, protocol: HTTP, allowedRoutes: { namespaces: { from: Same } }, hostname: "*.bar.com" }
  - { name: listener-4, port: 80, protocol: HTTP, allowedRoutes: { namespaces: { from: Same } }, hostname: "*.foo.com" }
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: { name: backend-v1, namespace: gateway-conformance-infra }
spec:
  parentRefs: [{ name: ${gw}, namespace: gateway-conformance-infra, sectionName: listener-1 }]
  rules: [{ backendRefs: [{ name: grpc-infra-backend-v1, port: 8080 }] }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: { name: backend-v2, namespace: gateway-conformance-infra }
spec:
  parentRefs: [{ name: ${gw}, namespace: gateway-conformance-infra, sectionName: listener-2 }]
  rules: [{ backendRefs: [{ name: grpc-infra-backend-v2, port: 8080 }] }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: { name: backend-v3, namespace: gateway-conformance-infra }
spec:
  parentRefs:
  - { name: ${gw}, namespace: gateway-conformance-infra, sectionName: listener-3 }
  - { name: ${gw}, namespace: gateway-conformance-infra, sectionName: listener-4 }
  rules: [{ backendRefs: [{ name: grpc-infra-backend-v3, port: 8080 }] }]
${grpcBackendManifests()}`);
  await c.routesMustBeAccepted(gw, ['backend-v1', 'backend-v2', 'backend-v3'], INFRA, 'GRPCRoute');
  const cases: [string, { backend?: string; code?: number }][] = [
    ['bar.com', { backend: 'grpc-infra-backend-v1' }],
    ['foo.bar.com', { backend: 'grpc-infra-backend-v2' }],
    ['baz.bar.com', { backend: 'grpc-infra-backend-v3' }],
    ['boo.bar.com', { backend: 'grpc-infra-backend-v3' }],
    ['multiple.prefixes.bar.com', { backend: 'grpc-infra-backend-v3' }],
    ['multiple.prefixes.foo.com', { backend: 'grpc-infra-backend-v3' }],
    ['foo.com', { code: UNIMPLEMENTED }],
    ['no.matching.host', { code: UNIMPLEMENTED }],
  ];
  for (const [authority, want] of cases) await expectGrpc(gw, { authority }, want);
});

test('GRPCRouteNamedRule', async () => {
  await c.apply(`apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: { name: grpc-named-rules, namespace: gateway-conformance-infra }
spec:
  parentRefs: [{ name: same-namespace }]
  rules:
  - name: named-rule
    matches: [{ method: { service: ${SERVICE}, method: Echo } }]
    backendRefs: [{ name: grpc-infra-backend-v1, port: 8080 }]
  - matches: [{ method: { service: ${SERVICE}, method: EchoTwo } }]
    backendRefs: [{ name: grpc-infra-backend-v2, port: 8080 }]
${grpcBackendManifests()}`);
  await c.routesMustBeAccepted('same-namespace', ['grpc-named-rules'], INFRA, 'GRPCRoute');
  await expectGrpc('same-namespace', { method: 'Echo' }, { backend: 'grpc-infra-backend-v1' });
  await expectGrpc('same-namespace', { method: 'EchoTwo' }, { backend: 'grpc-infra-backend-v2' });
});

test('GRPCRouteWeight', async () => {
  await c.apply(`apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: { name: weighted-backends, namespace: gateway-conformance-infra }
spec:
  parentRefs: [{ name: same-namespace }]
  rules:
  - backendRefs:
    - { name: grpc-infra-backend-v1, port: 8080, weight: 70 }
    - { name: grpc-infra-backend-v2, port: 8080, weight: 30 }
    - { name: grpc-infra-backend-v3, port: 8080, weight: 0 }
${grpcBackendManifests()}`);
  await c.routesMustBeAccepted('same-namespace', ['weighted-backends'], INFRA, 'GRPCRoute');
  // As the suite: 500 calls, each share within 5 points of its weight; up to 10 tries.
  let last = '';
  for (let i = 0; i < 10; i++) {
    const seen: Record<string, number> = {};
    for (let n = 0; n < 500; n++) {
      const r = await grpcCall('same-namespace');
      assert.equal(r.code, 0);
      const b = r.pod!.replace(/-0$/, '');
      seen[b] = (seen[b] ?? 0) + 1;
    }
    const errs = ([['grpc-infra-backend-v1', 0.7], ['grpc-infra-backend-v2', 0.3], ['grpc-infra-backend-v3', 0]] as const)
      .filter(([b, want]) => Math.abs((seen[b] ?? 0) / 500 - want) > 0.05).map(([b, want]) => `${b}: ${(seen[b] ?? 0) / 500}, want ${want}`);
    if (!errs.length) return;
    last = errs.join('; ');
  }
  assert.fail(`Weighted distribution tests failed: ${last}`);
});
