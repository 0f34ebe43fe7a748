// Gateway API conformance: HTTPRoute attachment, matching, precedence and weights.
// Each test is named after the upstream conformance test (conformance/tests/<name>.go) and
// carries its manifest and its request cases; see harness.ts for the off-cluster translation.
// One gateway for the whole file, in strict mode: every config here must be valid as a whole.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Conformance, distribution, INFRA, WEB } from './harness.ts';

let c: Conformance;
before(async () => { c = await Conformance.start(); });
after(async () => { await c?.stop(); });

const ns = INFRA;

test('HTTPRouteSimpleSameNamespace', async () => {
  await c.apply(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: gateway-conformance-infra-test, namespace: gateway-conformance-infra }
spec:
  parentRefs: [{ name: same-namespace }]
  rules:
  - backendRefs: [{ name: infra-backend-v1, port: 8080 }]
`);
  await c.routesMustBeAccepted('same-namespace', ['gateway-conformance-infra-test']);
  await c.resolvedRefsMustBeTrue('gateway-conformance-infra-test', 'same-namespace');
  await c.expect({ request: { path: '/' }, status: 200, backend: 'infra-backend-v1', namespace: ns });
});

test('HTTPRouteCrossNamespace', async () => {
  await c.apply(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: cross-namespace, namespace: gateway-conformance-web-backend }
spec:
  parentRefs: [{ name: backend-namespaces, namespace: gateway-conformance-infra }]
  rules:
  - backendRefs: [{ name: web-backend, port: 8080 }]
`);
  await c.routesMustBeAccepted('backend-namespaces', [`${WEB}/cross-namespace`]);
  await c.resolvedRefsMustBeTrue('cross-namespace', 'backend-namespaces', WEB);
  await c.expect({ gateway: 'backend-namespaces', request: { path: '/' }, status: 200, backend: 'web-backend', namespace: WEB });
});

test('HTTPRouteMatching', async () => {
  await c.apply(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: matching, namespace: gateway-conformance-infra }
spec:
  parentRefs: [{ name: same-namespace }]
  rules:
  - matches:
    - path: { type: PathPrefix, value: / }
    - headers: [{ name: version, value: one }]
    backendRefs: [{ name: infra-backend-v1, port: 8080 }]
  - matches:
    - path: { type: PathPrefix, value: /v2 }
    - headers: [{ name: version, value: two }]
    backendRefs: [{ name: infra-backend-v2, port: 8080 }]
`);
  await c.routesMustBeAccepted('same-namespace', ['matching']);
  await c.expectAll([
    { request: { path: '/' }, backend: 'infra-backend-v1' },
    { request: { path: '/example' }, backend: 'infra-backend-v1' },
    { request: { path: '/', headers: { Version: 'one' } }, backend: 'infra-backend-v1' },
    { request: { path: '/v2' }, backend: 'infra-backend-v2' },
    { request: { path: '/v2/example' }, backend: 'infra-backend-v2' },
    { request: { path: '/', headers: { Version: 'two' } }, backend: 'infra-backend-v2' },
  ]);
});

test('HTTPRouteExactPathMatching', async () => {
  await c.apply(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: exact-matching, namespace: gateway-conformance-infra }
spec:
  parentRefs: [{ name: same-namespace }]
  rules:
  - matches: [{ path: { type: Exact, value: /one } }]
    backendRefs: [{ name: infra-backend-v1, port: 8080 }]
  - matches: [{ path: { type: Exact, value: /two } }]
    backendRefs: [{ name: infra-backend-v2, port: 8080 }]
`);
  await c.routesMustBeAccepted('same-namespace', ['exact-matching']);
  await c.resolvedRefsMustBeTrue('exact-matching', 'same-namespace');
  await c.expectAll([
    { request: { path: '/one' }, backend: 'infra-backend-v1' },
    { request: { path: '/two' }, backend: 'infra-backend-v2' },
    { request: { path: '/' }, status: 404 },
    { request: { path: '/one/example' }, status: 404 },
    { request: { path: '/two/' }, status: 404 },
    { request: { path: '/Two' }, status: 404 },
  ]);
});

test('HTTPRouteHeaderMatching', async () => {
  await c.apply(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: header-matching, namespace: gateway-conformance-infra }
spec:
  parentRefs: [{ name: same-namespace }]
  rules:
  - matches: [{ headers: [{ name: version, value: one }] }]
    backendRefs: [{ name: infra-backend-v1, port: 8080 }]
  - matches: [{ headers: [{ name: version, value: two }] }]
    backendRefs: [{ name: infra-backend-v2, port: 8080 }]
  - matches: [{ headers: [{ name: version, value: two }, { name: color, value: orange }] }]
    backendRefs: [{ name: infra-backend-v1, port: 8080 }]
  - matches: [{ headers: [{ name: color, value: blue }] }, { headers: [{ name: color, value: green }] }]
    backendRefs: [{ name: infra-backend-v1, port: 8080 }]
  - matches: [{ headers: [{ name: color, value: red }] }, { headers: [{ name: color, value: yellow }] }]
    backendRefs: [{ name: infra-backend-v2, port: 8080 }]
`);
  await c.routesMustBeAccepted('same-namespace', ['header-matching']);
  await c.resolvedRefsMustBeTrue('header-matching', 'same-namespace');
  await c.expectAll([
    { request: { path: '/', headers: { Version: 'one' } }, backend: 'infra-backend-v1' },
    { request: { path: '/', headers: { Version: 'two' } }, backend: 'infra-backend-v2' },
    { request: { path: '/', headers: { Version: 'two', Color: 'orange' } }, backend: 'infra-backend-v1' },
    { request: { path: '/', headers: { Version: 'two', Color: 'blue' } }, backend: 'infra-backend-v2' },
    { request: { path: '/', headers: { Color: 'orange' } }, status: 404 },
    { request: { path: '/', headers: { 'Some-Other-Header': 'one' } }, status: 404 },
    { request: { path: '/', headers: { Color: 'blue' } }, backend: 'infra-backend-v1' },
    { request: { path: '/', headers: { Color: 'green' } }, backend: 'infra-backend-v1' },
    { request: { path: '/', headers: { Color: 'red' } }, backend: 'infra-backend-v2' },
    { request: { path: '/', headers: { Color: 'yellow' } }, backend: 'infra-backend-v2' },
    { request: { path: '/', headers: { Color: 'purple' } }, status: 404 },
  ]);
});

test('HTTPRouteMethodMatching', async () => {
  await c.apply(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: method-matching, namespace: gateway-conformance-infra }
spec:
  parentRefs: [{ name: same-namespace }]
  rules:
  - matches: [{ method: POST }]
    backendRefs: [{ name: infra-backend-v1, port: 8080 }]
  - matches: [{ method: GET }]
    backendRefs: [{ name: infra-backend-v2, port: 8080 }]
  - matches: [{ path: { type: PathPrefix, value: /path1 }, method: GET }]
    backendRefs: [{ name: infra-backend-v1, port: 8080 }]
  - matches: [{ headers: [{ name: version, value: one }], method: PUT }]
    backendRefs: [{ name: infra-backend-v2, port: 8080 }]
  - matches: [{ path: { type: PathPrefix, value: /path2 }, headers: [{ name: version, value: two }], method: POST }]
    backendRefs: [{ name: infra-backend-v3, port: 8080 }]
  - matches:
    - { path: { type: PathPrefix, value: /path3 }, method: PATCH }
    - { path: { type: PathPrefix, value: /path4 }, headers: [{ name: version, value: three }], method: DELETE }
    backendRefs: [{ name: infra-backend-v1, port: 8080 }]
  - matches: [{ path: { type: PathPrefix, value: /path5 } }]
    backendRefs: [{ name: infra-backend-v1, port: 8080 }]
  - matches: [{ method: PATCH }]
    backendRefs: [{ name: infra-backend-v2, port: 8080 }]
  - matches: [{ headers: [{ name: version, value: four }] }]
    backendRefs: [{ name: infra-backend-v3, port: 8080 }]
`);
  await c.routesMustBeAccepted('same-namespace', ['method-matching']);
  await c.resolvedRefsMustBeTrue('method-matching', 'same-namespace');
  await c.expectAll([
    { request: { method: 'POST', path: '/' }, backend: 'infra-backend-v1' },
    { request: { method: 'GET', path: '/' }, backend: 'infra-backend-v2' },
    { request: { method: 'HEAD', path: '/' }, status: 404 },
    { request: { path: '/path1', method: 'GET' }, backend: 'infra-backend-v1' },
    { request: { headers: { version: 'one' }, path: '/', method: 'PUT' }, backend: 'infra-backend-v2' },
    { request: { headers: { version: 'two' }, path: '/path2', method: 'POST' }, backend: 'infra-backend-v3' },
    { request: { path: '/path3', method: 'PATCH' }, backend: 'infra-backend-v1' },
    { request: { headers: { version: 'three' }, path: '/path4', method: 'DELETE' }, backend: 'infra-backend-v1' },
    { request: { path: '/', method: 'PUT' }, status: 404 },
    { request: { path: '/path4', method: 'DELETE' }, status: 404 },
    { request: { path: '/path5', method: 'PATCH' }, backend: 'infra-backend-v1' },
    { request: { headers: { version: 'four' }, path: '/', method: 'PATCH' }, backend: 'infra-backend-v2' },
  ]);
});

test('HTTPRouteQueryParamMatching', async () => {
  await c.apply(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: query-param-matching, namespace: gateway-conformance-infra }
spec:
  parentRefs: [{ name: same-namespace }]
  rules:
  - matches: [{ queryParams: [{ name: animal, value: whale }] }]
    backendRefs: [{ name: infra-backend-v1, port: 8080 }]
  - matches: [{ queryParams: [{ name: animal, value: dolphin }] }]
    backendRefs: [{ name: infra-backend-v2, port: 8080 }]
  - matches:
    - queryParams: [{ name: animal, value: dolphin }, { name: color, value: blue }]
    - queryParams: [{ name: ANIMAL, value: Whale }]
    backendRefs: [{ name: infra-backend-v3, port: 8080 }]
  - matches: [{ path: { type: PathPrefix, value: /path1 }, queryParams: [{ name: animal, value: whale }] }]
    backendRefs: [{ name: infra-backend-v1, port: 8080 }]
  - matches: [{ headers: [{ name: version, value: one }], queryParams: [{ name: animal, value: whale }] }]
    backendRefs: [{ name: infra-backend-v2, port: 8080 }]
  - matches: [{ path: { type: PathPrefix, value: /path2 }, headers: [{ name: version, value: two }], queryParams: [{ name: animal, value: whale }] }]
    backendRefs: [{ name: infra-backend-v3, port: 8080 }]
  - matches:
    - { path: { type: PathPrefix, value: /path3 }, queryParams: [{ name: animal, value: shark }] }
    - { path: { type: PathPrefix, value: /path4 }, headers: [{ name: version, value: three }], queryParams: [{ name: animal, value: kraken }] }
    backendRefs: [{ name: infra-backend-v1, port: 8080 }]
  - matches: [{ path: { type: PathPrefix, value: /path5 } }]
    backendRefs: [{ name: infra-backend-v1, port: 8080 }]
  - matches: [{ queryParams: [{ name: animal, value: hydra }] }]
    backendRefs: [{ name: infra-backend-v2, port: 8080 }]
  - matches: [{ headers: [{ name: version, value: four }] }]
    backendRefs: [{ name: infra-backend-v3, port: 8080 }]
`);
  await c.routesMustBeAccepted('same-namespace', ['query-param-matching']);
  await c.resolvedRefsMustBeTrue('query-param-matching', 'same-namespace');
  await c.expectAll([
    { request: { path: '/?animal=whale' }, backend: 'infra-backend-v1' },
    { request: { path: '/?animal=dolphin' }, backend: 'infra-backend-v2' },
    { request: { path: '/?animal=dolphin&color=blue' }, backend: 'infra-backend-v3' },
    { request: { path: '/?ANIMAL=Whale' }, backend: 'infra-backend-v3' },
    { request: { path: '/?animal=whale&otherparam=irrelevant' }, backend: 'infra-backend-v1' },
    { request: { path: '/?animal=dolphin&color=yellow' }, backend: 'infra-backend-v2' },
    { request: { path: '/?color=blue' }, status: 404 },
    { request: { path: '/?animal=dog' }, status: 404 },
    { request: { path: '/?animal=whaledolphin' }, status: 404 },
    { request: { path: '/' }, status: 404 },
    { request: { path: '/path1?animal=whale' }, backend: 'infra-backend-v1' },
    { request: { headers: { version: 'one' }, path: '/?animal=whale' }, backend: 'infra-backend-v2' },
    { request: { headers: { version: 'two' }, path: '/path2?animal=whale' }, backend: 'infra-backend-v3' },
    { request: { path: '/path3?animal=shark' }, backend: 'infra-backend-v1' },
    { request: { headers: { version: 'three' }, path: '/path4?animal=kraken' }, backend: 'infra-backend-v1' },
    { request: { path: '/?animal=shark' }, status: 404 },
    { request: { path: '/path4?animal=kraken' }, status: 404 },
    { request: { path: '/path5?animal=hydra' }, backend: 'infra-backend-v1' },
    { request: { headers: { version: 'four' }, path: '/?animal=hydra' }, backend: 'infra-backend-v3' },
  ]);
});

test('HTTPRoutePathMatchOrder', async () => {
  await c.apply(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: path-matching-order, namespace: gateway-conformance-infra }
spec:
  parentRefs: [{ name: same-namespace }]
  rules:
  - matches: [{ path: { type: Exact, value: /match } }]
    backendRefs: [{ name: infra-backend-v1, port: 8080 }]
  - matches: [{ path: { type: Exact, value: /match/exact } }]
    backendRefs: [{ name: infra-backend-v2, port: 8080 }]
  - matches: [{ path: { type: Exact, value: /match/exact/one } }]
    backendRefs: [{ name: infra-backend-v3, port: 8080 }]
  - matches: [{ path: { type: PathPrefix, value: /match/ } }]
    backendRefs: [{ name: infra-backend-v3, port: 8080 }]
  - matches: [{ path: { type: PathPrefix, value: /match/prefix/ } }]
    backendRefs: [{ name: infra-backend-v1, port: 8080 }]
  - matches: [{ path: { type: PathPrefix, value: /match/prefix/one } }]
    backendRefs: [{ name: infra-backend-v2, port: 8080 }]
`);
  await c.routesMustBeAccepted('same-namespace', ['path-matching-order']);
  await c.resolvedRefsMustBeTrue('path-matching-order', 'same-namespace');
  await c.expectAll([
    { request: { path: '/match/exact/one' }, backend: 'infra-backend-v3' },
    { request: { path: '/match/exact' }, backend: 'infra-backend-v2' },
    { request: { path: '/match' }, backend: 'infra-backend-v1' },
    { request: { path: '/match/prefix/one/any' }, backend: 'infra-backend-v2' },
    { request: { path: '/match/prefix/any' }, backend: 'infra-backend-v1' },
    { request: { path: '/match/any' }, backend: 'infra-backend-v3' },
  ]);
});

test('HTTPRouteMatchingAcrossRoutes', async () => {
  await c.apply(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: matching-part1, namespace: gateway-conformance-infra }
spec:
  parentRefs: [{ name: same-namespace }]
  hostnames: [example.com, example.net]
  rules:
  - matches:
    - path: { type: PathPrefix, value: / }
    - headers: [{ name: version, value: one }]
    backendRefs: [{ name: infra-backend-v1, port: 8080 }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: matching-part2, namespace: gateway-conformance-infra }
spec:
  hostnames: [example.com]
  parentRefs: [{ name: same-namespace }]
  rules:
  - matches:
    - path: { type: PathPrefix, value: /v2 }
    - headers: [{ name: version, value: two }]
    backendRefs: [{ name: infra-backend-v2, port: 8080 }]
`);
  await c.routesMustBeAccepted('same-namespace', ['matching-part1', 'matching-part2']);
  await c.resolvedRefsMustBeTrue('matching-part1', 'same-namespace');
  await c.resolvedRefsMustBeTrue('matching-part2', 'same-namespace');
  await c.expectAll([
    { request: { host: 'example.com', path: '/' }, backend: 'infra-backend-v1' },
    { request: { host: 'example.com', path: '/example' }, backend: 'infra-backend-v1' },
    { request: { host: 'example.net', path: '/example' }, backend: 'infra-backend-v1' },
    { request: { host: 'example.com', path: '/example', headers: { Version: 'one' } }, backend: 'infra-backend-v1' },
    { request: { host: 'example.com', path: '/v2' }, backend: 'infra-backend-v2' },
    { request: { host: 'example.net', path: '/v2' }, backend: 'infra-backend-v1' },
    { request: { host: 'example.com', path: '/v2/example' }, backend: 'infra-backend-v2' },
    { request: { host: 'example.com', path: '/', headers: { Version: 'two' } }, backend: 'infra-backend-v2' },
  ]);
});


test('HTTPRouteListenerHostnameMatching', async () => {
  await c.apply(`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: httproute-listener-hostname-matching, namespace: gateway-conformance-infra }
spec:
  gatewayClassName: "{GATEWAY_CLASS_NAME}"
  listeners:
  - { name: listener-1, port: 80, protocol: HTTP, allowedRoutes: { namespaces: { from: Same } }, hostname: bar.com }
  - { name: listener-2, port: 80, protocol: HTTP, allowedRoutes: { namespaces: { from: Same } }, hostname: foo.bar.com }
  - { name: listener-3, port: 80, protocol: HTTP, allowedRoutes: { namespaces: { from: Same } }, hostname: "*.bar.com" }
  - { name: listener-4, port: 80, protocol: HTTP, allowedRoutes: { namespaces: { from: Same } }, hostname: "*.foo.com" }
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: backend-v1, namespace: gateway-conformance-infra }
spec:
  parentRefs: [{ name: httproute-listener-hostname-matching, namespace: gateway-conformance-infra, sectionName: listener-1 }]
  rules: [{ backendRefs: [{ name: infra-backend-v1, port: 8080 }] }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: backend-v2, namespace: gateway-conformance-infra }
spec:
  parentRefs: [{ name: httproute-listener-hostname-matching, namespace: gateway-conformance-infra, sectionName: listener-2 }]
  rules: [{ backendRefs: [{ name: infra-backend-v2, port: 8080 }] }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: backend-v3, namespace: gateway-conformance-infra }
spec:
  parentRefs:
  - { name: httproute-listener-hostname-matching, namespace: gateway-conformance-infra, sectionName: listener-3 }
  - { name: httproute-listener-hostname-matching, namespace: gateway-conformance-infra, sectionName: listener-4 }
  rules: [{ backendRefs: [{ name: infra-backend-v3, port: 8080 }] }]
`);
  const gw = 'httproute-listener-hostname-matching';
  for (const r of ['backend-v1', 'backend-v2', 'backend-v3']) {
    await c.routesMustBeAccepted(gw, [r]);
    await c.resolvedRefsMustBeTrue(r, gw);
  }
  await c.expectAll([
    { request: { host: 'bar.com', path: '/' }, backend: 'infra-backend-v1' },
    { request: { host: 'foo.bar.com', path: '/' }, backend: 'infra-backend-v2' },
    { request: { host: 'baz.bar.com', path: '/' }, backend: 'infra-backend-v3' },
    { request: { host: 'boo.bar.com', path: '/' }, backend: 'infra-backend-v3' },
    { request: { host: 'multiple.prefixes.bar.com', path: '/' }, backend: 'infra-backend-v3' },
    { request: { host: 'multiple.prefixes.foo.com', path: '/' }, backend: 'infra-backend-v3' },
    { request: { host: 'foo.com', path: '/' }, status: 404 },
    { request: { host: 'no.matching.host', path: '/' }, status: 404 },
  ].map((x) => ({ ...x, gateway: gw })));
});

test('HTTPRouteListenerPortMatching', async () => {
  await c.apply(`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: httproute-listener-port-matching, namespace: gateway-conformance-infra }
spec:
  gatewayClassName: "{GATEWAY_CLASS_NAME}"
  listeners:
  - { name: listener-1, port: 80, protocol: HTTP, allowedRoutes: { namespaces: { from: Same } }, hostname: foo.com }
  - { name: listener-2, port: 8080, protocol: HTTP, allowedRoutes: { namespaces: { from: Same } }, hostname: foo.com }
  - { name: listener-3, port: 8080, protocol: HTTP, allowedRoutes: { namespaces: { from: Same } }, hostname: bar.com }
  - { name: listener-4, port: 8090, protocol: HTTP, allowedRoutes: { namespaces: { from: Same } }, hostname: foo.com }
  - { name: listener-5, port: 8090, protocol: HTTP, allowedRoutes: { namespaces: { from: Same } }, hostname: bar.com }
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: backend-v1, namespace: gateway-conformance-infra }
spec:
  parentRefs: [{ name: httproute-listener-port-matching, namespace: gateway-conformance-infra, port: 80 }]
  rules: [{ backendRefs: [{ name: infra-backend-v1, port: 8080 }] }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: backend-v2, namespace: gateway-conformance-infra }
spec:
  parentRefs: [{ name: httproute-listener-port-matching, namespace: gateway-conformance-infra, port: 8080 }]
  rules: [{ backendRefs: [{ name: infra-backend-v2, port: 8080 }] }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: backend-v3, namespace: gateway-conformance-infra }
spec:
  parentRefs: [{ name: httproute-listener-port-matching, namespace: gateway-conformance-infra, port: 8090, sectionName: listener-4 }]
  rules: [{ backendRefs: [{ name: infra-backend-v3, port: 8080 }] }]
`);
  const gw = 'httproute-listener-port-matching';
  for (const r of ['backend-v1', 'backend-v2', 'backend-v3']) {
    await c.routesMustBeAccepted(gw, [r]);
    await c.resolvedRefsMustBeTrue(r, gw);
  }
  // The Host header keeps the conformance port; the request goes to the real port standing for it.
  await c.expectAll([
    { port: 80, request: { host: 'foo.com', path: '/' }, backend: 'infra-backend-v1' },
    { port: 8080, request: { host: 'foo.com:8080', path: '/' }, backend: 'infra-backend-v2' },
    { port: 8080, request: { host: 'bar.com:8080', path: '/' }, backend: 'infra-backend-v2' },
    { port: 8090, request: { host: 'foo.com:8090', path: '/' }, backend: 'infra-backend-v3' },
    { port: 8090, request: { host: 'bar.com:8090', path: '/' }, status: 404 },
  ].map((x) => ({ ...x, gateway: gw })));
});

test('HTTPRouteMultipleGateways', async (t) => {
  await c.apply(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: multiple-gateways-shared-route, namespace: gateway-conformance-infra }
spec:
  parentRefs: [{ name: same-namespace }, { name: all-namespaces }]
  rules:
  - matches: [{ path: { type: PathPrefix, value: /shared } }]
    backendRefs: [{ name: infra-backend-v1, port: 8080 }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: same-namespace-dedicated-route, namespace: gateway-conformance-infra }
spec:
  parentRefs: [{ name: same-namespace }]
  rules:
  - matches: [{ path: { type: PathPrefix, value: / } }]
    backendRefs: [{ name: infra-backend-v2, port: 8080 }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: all-namespaces-dedicated-route, namespace: gateway-conformance-infra }
spec:
  parentRefs: [{ name: all-namespaces }]
  rules:
  - matches: [{ path: { type: PathPrefix, value: / } }]
    backendRefs: [{ name: infra-backend-v3, port: 8080 }]
`);
  await t.test('Gateway same-namespace', async () => {
    await c.routesMustBeAccepted('same-namespace', ['multiple-gateways-shared-route', 'same-namespace-dedicated-route']);
    await c.expect({ gateway: 'same-namespace', request: { path: '/shared' }, backend: 'infra-backend-v1' });
    await c.expect({ gateway: 'same-namespace', request: { path: '/' }, backend: 'infra-backend-v2' });
  });
  await t.test('Gateway all-namespaces', async () => {
    await c.routesMustBeAccepted('all-namespaces', ['multiple-gateways-shared-route', 'all-namespaces-dedicated-route']);
    await c.expect({ gateway: 'all-namespaces', request: { path: '/shared' }, backend: 'infra-backend-v1' });
    await c.expect({ gateway: 'all-namespaces', request: { path: '/' }, backend: 'infra-backend-v3' });
  });
});

test('HTTPRouteNamedRule', async () => {
  await c.apply(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: http-named-rules, namespace: gateway-conformance-infra }
spec:
  parentRefs: [{ name: same-namespace }]
  rules:
  - name: named-rule
    matches: [{ path: { type: PathPrefix, value: /named } }]
    backendRefs: [{ name: infra-backend-v1, port: 8080 }]
  - matches: [{ path: { type: PathPrefix, value: /unnamed } }]
    backendRefs: [{ name: infra-backend-v2, port: 8080 }]
`);
  await c.routesMustBeAccepted('same-namespace', ['http-named-rules']);
  await c.resolvedRefsMustBeTrue('http-named-rules', 'same-namespace');
  // The suite checks only status 200 and the namespace; the backends are checked too here.
  await c.expectAll([
    { request: { path: '/named' }, status: 200, backend: 'infra-backend-v1' },
    { request: { path: '/unnamed' }, status: 200, backend: 'infra-backend-v2' },
  ]);
});

test('HTTPRouteWeight', async (t) => {
  await c.apply(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: weighted-backends, namespace: gateway-conformance-infra }
spec:
  parentRefs: [{ name: same-namespace }]
  rules:
  - backendRefs:
    - { name: infra-backend-v1, port: 8080, weight: 70 }
    - { name: infra-backend-v2, port: 8080, weight: 30 }
    - { name: infra-backend-v3, port: 8080, weight: 0 }
`);
  await c.routesMustBeAccepted('same-namespace', ['weighted-backends']);
  await c.resolvedRefsMustBeTrue('weighted-backends', 'same-namespace');
  await t.test('Requests should have a distribution that matches the weight', async () => {
    await c.expect({ request: { path: '/' }, status: 200 });
    // As the suite: 500 requests, 10 at a time, each share within 5 points; up to 10 tries.
    let last = '';
    for (let i = 0; i < 10; i++) {
      const seen = await distribution(c, { path: '/' }, 500);
      const errs: string[] = [];
      if (Object.keys(seen).length !== 2) errs.push(`expected only two backends to receive traffic: ${JSON.stringify(seen)}`);
      for (const [b, want] of [['infra-backend-v1', 0.7], ['infra-backend-v2', 0.3], ['infra-backend-v3', 0]] as const) {
        const got = (seen[b] ?? 0) / 500;
        if (Math.abs(got - want) > 0.05) errs.push(`${b} got ${got}, want ${want} ±0.05`);
      }
      if (!errs.length) return;
      last = errs.join('; ');
    }
    assert.fail(`Weighted distribution tests failed: ${last}`);
  });
});

test('HTTPRouteServiceTypes', async () => {
  // Off-cluster there are no Service types; the equivalent is the shapes a Backend can take:
  // an IP endpoint, a hostname endpoint, several endpoints, weighted endpoints. Each path of the
  // suite's manifest gets one such Backend, all pointing at infra-backend-v1's echo server.
  const v1 = c.backends.get('infra-backend-v1')!.port;
  const types: [string, string][] = [
    ['headless', `[{ address: 127.0.0.1, port: ${v1} }]`],
    ['manual-endpoints', `[{ address: localhost, port: ${v1} }]`],
    ['headless-manual-endpoints', `[{ address: 127.0.0.1, port: ${v1} }, { address: localhost, port: ${v1} }]`],
    ['manual-endpointslices', `[{ address: 127.0.0.1, port: ${v1}, weight: 2 }, { address: localhost, port: ${v1}, weight: 1 }]`],
    ['headless-manual-endpointslices', `[{ address: 127.0.0.1, port: ${v1}, weight: 1 }]`],
  ];
  await c.apply(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: service-types, namespace: gateway-conformance-infra }
spec:
  parentRefs: [{ name: same-namespace }]
  rules:
${types.map(([n]) => `  - matches: [{ path: { type: Exact, value: /${n} } }]\n    backendRefs: [{ group: portcullis.dev, kind: Backend, name: ${n} }]\n`).join('')}${types.map(([n, eps]) => `---
apiVersion: portcullis.dev/v1alpha1
kind: Backend
metadata: { name: ${n}, namespace: gateway-conformance-infra }
spec: { endpoints: ${eps} }
`).join('')}`);
  await c.routesMustBeAccepted('same-namespace', ['service-types']);
  await c.resolvedRefsMustBeTrue('service-types', 'same-namespace');
  await c.expectAll(types.map(([n]) => ({ request: { path: `/${n}` }, status: 200, backend: 'infra-backend-v1' })));
});


