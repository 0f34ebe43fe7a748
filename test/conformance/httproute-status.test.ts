// Gateway API conformance: HTTPRoute attachment and reference status (Accepted / ResolvedRefs
// conditions and their reasons, attachedRoutes) and what is served when parts are invalid.
// Each test is named after the upstream conformance test and carries its manifest and checks;
// see harness.ts for the off-cluster translation.
//
// These tests need controller behaviour: a Kubernetes controller serves the valid part of a
// config and reports the rest in status, while Portcullis by default refuses a config with any
// error. So this file runs the gateway with --allow-partial (routes that do not attach are skipped,
// an invalid backendRef's share of traffic gets a 500), and reads status from the admin API's
// GET /status.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Conformance, INFRA, APP, WEB, type Case } from './harness.ts';

let c: Conformance;
before(async () => { c = await Conformance.start({ allowPartial: true }); });
after(async () => { await c?.stop(); });

test('HTTPRouteHostnameIntersection', async (t) => {
  await c.apply(`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: httproute-hostname-intersection, namespace: gateway-conformance-infra }
spec:
  gatewayClassName: "{GATEWAY_CLASS_NAME}"
  listeners:
  - { name: listener-1, port: 80, protocol: HTTP, allowedRoutes: { namespaces: { from: Same } }, hostname: very.specific.com }
  - { name: listener-2, port: 80, protocol: HTTP, allowedRoutes: { namespaces: { from: Same } }, hostname: "*.wildcard.io" }
  - { name: listener-3, port: 80, protocol: HTTP, allowedRoutes: { namespaces: { from: Same } }, hostname: "*.anotherwildcard.io" }
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: httproute-hostname-intersection-all, namespace: gateway-conformance-infra }
spec:
  gatewayClassName: "{GATEWAY_CLASS_NAME}"
  listeners:
  - { name: listener-1, port: 80, protocol: HTTP, allowedRoutes: { namespaces: { from: Same } } }
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: specific-host-matches-listener-specific-host, namespace: gateway-conformance-infra }
spec:
  parentRefs: [{ name: httproute-hostname-intersection, namespace: gateway-conformance-infra }]
  hostnames: [non.matching.com, "*.nonmatchingwildcard.io", very.specific.com]
  rules:
  - matches: [{ path: { type: PathPrefix, value: /s1 } }]
    backendRefs: [{ name: infra-backend-v1, port: 8080 }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: specific-host-matches-listener-wildcard-host, namespace: gateway-conformance-infra }
spec:
  parentRefs: [{ name: httproute-hostname-intersection, namespace: gateway-conformance-infra }]
  hostnames: [non.matching.com, wildcard.io, foo.wildcard.io, bar.wildcard.io, foo.bar.wildcard.io]
  rules:
  - matches: [{ path: { type: PathPrefix, value: /s2 } }]
    backendRefs: [{ name: infra-backend-v2, port: 8080 }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: wildcard-host-matches-listener-specific-host, namespace: gateway-conformance-infra }
spec:
  parentRefs: [{ name: httproute-hostname-intersection, namespace: gateway-conformance-infra }]
  hostnames: [non.matching.com, "*.specific.com"]
  rules:
  - matches: [{ path: { type: PathPrefix, value: /s3 } }]
    backendRefs: [{ name: infra-backend-v3, port: 8080 }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: wildcard-host-matches-listener-wildcard-host, namespace: gateway-conformance-infra }
spec:
  parentRefs: [{ name: httproute-hostname-intersection, namespace: gateway-conformance-infra }]
  hostnames: ["*.anotherwildcard.io"]
  rules:
  - matches: [{ path: { type: PathPrefix, value: /s4 } }]
    backendRefs: [{ name: infra-backend-v1, port: 8080 }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: no-intersecting-hosts, namespace: gateway-conformance-infra }
spec:
  parentRefs: [{ name: httproute-hostname-intersection, namespace: gateway-conformance-infra }]
  hostnames: [specific.but.wrong.com, wildcard.io]
  rules:
  - matches: [{ path: { type: PathPrefix, value: /s5 } }]
    backendRefs: [{ name: infra-backend-v2, port: 8080 }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: httproute-hostname-intersection-all, namespace: gateway-conformance-infra }
spec:
  parentRefs: [{ name: httproute-hostname-intersection-all }]
  hostnames: [first.com, sub.first.com, second.com, sub.second.com]
  rules:
  - backendRefs: [{ name: infra-backend-v2, port: 8080 }]
`);
  const gw = 'httproute-hostname-intersection';
  await t.test('HTTPRoutes that do intersect with listener hostnames', async () => {
    const routes = ['specific-host-matches-listener-specific-host', 'specific-host-matches-listener-wildcard-host', 'wildcard-host-matches-listener-specific-host', 'wildcard-host-matches-listener-wildcard-host'];
    await c.routesMustBeAccepted(gw, routes);
    for (const r of routes) await c.resolvedRefsMustBeTrue(r, gw);
    const cases: Case[] = [
      { request: { host: 'very.specific.com', path: '/s1' }, backend: 'infra-backend-v1' },
      { request: { host: 'very.specific.com:1234', path: '/s1' }, backend: 'infra-backend-v1' },
      { request: { host: 'non.matching.com', path: '/s1' }, status: 404 },
      { request: { host: 'foo.nonmatchingwildcard.io', path: '/s1' }, status: 404 },
      { request: { host: 'foo.wildcard.io', path: '/s1' }, status: 404 },
      { request: { host: 'very.specific.com', path: '/non-matching-prefix' }, status: 404 },
      { request: { host: 'foo.wildcard.io', path: '/s2' }, backend: 'infra-backend-v2' },
      { request: { host: 'bar.wildcard.io', path: '/s2' }, backend: 'infra-backend-v2' },
      { request: { host: 'foo.bar.wildcard.io', path: '/s2' }, backend: 'infra-backend-v2' },
      { request: { host: 'non.matching.com', path: '/s2' }, status: 404 },
      { request: { host: 'wildcard.io', path: '/s2' }, status: 404 },
      { request: { host: 'very.specific.com', path: '/s2' }, status: 404 },
      { request: { host: 'foo.wildcard.io', path: '/non-matching-prefix' }, status: 404 },
      { request: { host: 'very.specific.com', path: '/s3' }, backend: 'infra-backend-v3' },
      { request: { host: 'non.matching.com', path: '/s3' }, status: 404 },
      { request: { host: 'foo.specific.com', path: '/s3' }, status: 404 },
      { request: { host: 'foo.wildcard.io', path: '/s3' }, status: 404 },
      { request: { host: 'very.specific.com', path: '/non-matching-prefix' }, status: 404 },
      { request: { host: 'foo.anotherwildcard.io', path: '/s4' }, backend: 'infra-backend-v1' },
      { request: { host: 'bar.anotherwildcard.io', path: '/s4' }, backend: 'infra-backend-v1' },
      { request: { host: 'foo.bar.anotherwildcard.io', path: '/s4' }, backend: 'infra-backend-v1' },
      { request: { host: 'anotherwildcard.io', path: '/s4' }, status: 404 },
      { request: { host: 'foo.wildcard.io', path: '/s4' }, status: 404 },
      { request: { host: 'very.specific.com', path: '/s4' }, status: 404 },
      { request: { host: 'foo.anotherwildcard.io', path: '/non-matching-prefix' }, status: 404 },
    ];
    await c.expectAll(cases.map((x) => ({ ...x, gateway: gw })));
  });
  await t.test('HTTPRoutes that do not intersect with listener hostnames', async () => {
    await c.routeMustHaveCondition('no-intersecting-hosts', gw, { type: 'Accepted', status: 'False', reason: 'NoMatchingListenerHostname' });
    await c.expectAll([
      { gateway: gw, request: { host: 'specific.but.wrong.com', path: '/s5' }, status: 404 },
      { gateway: gw, request: { host: 'wildcard.io', path: '/s5' }, status: 404 },
    ]);
  });
  await t.test('HTTPRoutes have to be counted in AttachedRoutes only if they are Accepted', async () => {
    const ls = await c.listenerStatus(gw);
    assert.deepEqual(ls.map((l) => [l.name, l.attachedRoutes]), [['listener-1', 2], ['listener-2', 1], ['listener-3', 1]]);
    for (const l of ls) {
      // As the suite: the expected kinds must be present; an implementation may support more.
      assert.ok(l.supportedKinds.some((k) => k.group === 'gateway.networking.k8s.io' && k.kind === 'HTTPRoute'), `${l.name} supportedKinds ${JSON.stringify(l.supportedKinds)}`);
      for (const type of ['Accepted', 'ResolvedRefs']) assert.equal(l.conditions.find((x) => x.type === type)?.status, 'True', `${l.name} ${type}`);
    }
  });
  await t.test('HTTPRoutes intersects with an unspecified hostname listener', async () => {
    const all = 'httproute-hostname-intersection-all';
    await c.routesMustBeAccepted(all, [all]);
    await c.resolvedRefsMustBeTrue(all, all);
    await c.expectAll([
      { gateway: all, request: { host: 'first.com', path: '/' }, backend: 'infra-backend-v2' },
      { gateway: all, request: { host: 'sub.first.com', path: '/' }, backend: 'infra-backend-v2' },
      { gateway: all, request: { host: 'second.com', path: '/' }, backend: 'infra-backend-v2' },
      { gateway: all, request: { host: 'sub.second.com', path: '/' }, backend: 'infra-backend-v2' },
      { gateway: all, request: { host: 'third.com', path: '/' }, status: 404 },
      { gateway: all, request: { host: 'sub.third.com', path: '/' }, status: 404 },
    ]);
  });
});

// The suite runs this test only for implementations with TLSRoute support. Portcullis has no TLS
// listeners yet (issue 3): with --allow-partial the listener is reported Accepted=False
// UnsupportedProtocol and not programmed, and the route-kind checks below still apply.
test('HTTPRouteDisallowedKind', async (t) => {
  await c.apply(`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: tlsroutes-only, namespace: gateway-conformance-infra }
spec:
  gatewayClassName: "{GATEWAY_CLASS_NAME}"
  listeners:
  - name: tls
    port: 443
    protocol: TLS
    tls: { mode: Passthrough }
    allowedRoutes:
      namespaces: { from: Same }
      kinds: [{ kind: TLSRoute }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: disallowed-kind, namespace: gateway-conformance-infra }
spec:
  parentRefs: [{ name: tlsroutes-only, namespace: gateway-conformance-infra }]
  rules:
  - backendRefs: [{ name: infra-backend-v1, port: 8080 }]
`);
  await c.resolvedRefsMustBeTrue('disallowed-kind', 'tlsroutes-only');
  await t.test('Route should not have been accepted with reason NotAllowedByListeners', async () => {
    await c.routeMustHaveCondition('disallowed-kind', 'tlsroutes-only', { type: 'Accepted', status: 'False', reason: 'NotAllowedByListeners' });
  });
  await t.test('Route should not have Parents set in status', async () => {
    await c.routeMustHaveNoAcceptedParents('disallowed-kind');
  });
  await t.test('Gateway should have 0 Routes attached', async () => {
    await c.gatewayMustHaveZeroRoutes('tlsroutes-only');
  });
});

test('HTTPRouteInvalidBackendRefUnknownKind', async (t) => {
  await c.apply(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: invalid-backend-ref-unknown-kind, namespace: gateway-conformance-infra }
spec:
  parentRefs: [{ name: same-namespace }]
  rules:
  - backendRefs: [{ group: unknownkind.example.com, kind: NonExistent, name: infra-backend-v1, port: 8080 }]
`);
  await c.routesMustBeAccepted('same-namespace', ['invalid-backend-ref-unknown-kind']);
  await t.test('HTTPRoute with Invalid Kind has a ResolvedRefs Condition with status False and Reason InvalidKind', async () => {
    await c.routeMustHaveCondition('invalid-backend-ref-unknown-kind', 'same-namespace', { type: 'ResolvedRefs', status: 'False', reason: 'InvalidKind' });
  });
  await t.test('HTTP Request to invalid backend with invalid Kind receives a 500', async () => {
    await c.expect({ request: { method: 'GET', path: '/v2' }, status: 500 });
  });
});

test('HTTPRouteInvalidCrossNamespaceBackendRef', async (t) => {
  await c.apply(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: invalid-cross-namespace-backend-ref, namespace: gateway-conformance-infra }
spec:
  parentRefs: [{ name: same-namespace }]
  rules:
  - backendRefs: [{ name: web-backend, namespace: gateway-conformance-web-backend, port: 8080 }]
`);
  await c.routesMustBeAccepted('same-namespace', ['invalid-cross-namespace-backend-ref']);
  await t.test('HTTPRoute with a cross-namespace BackendRef and no ReferenceGrant has a ResolvedRefs Condition with status False and Reason RefNotPermitted', async () => {
    await c.routeMustHaveCondition('invalid-cross-namespace-backend-ref', 'same-namespace', { type: 'ResolvedRefs', status: 'False', reason: 'RefNotPermitted' });
  });
  await t.test('HTTP Request to invalid cross-namespace backend must receive a 500', async () => {
    await c.expect({ request: { method: 'GET', path: '/' }, status: 500 });
  });
});

test('HTTPRouteInvalidCrossNamespaceParentRef', async (t) => {
  await c.apply(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: invalid-cross-namespace-parent-ref, namespace: gateway-conformance-web-backend }
spec:
  parentRefs: [{ name: same-namespace, namespace: gateway-conformance-infra }]
  rules:
  - backendRefs: [{ name: web-backend, port: 8080 }]
`);
  await c.resolvedRefsMustBeTrue('invalid-cross-namespace-parent-ref', 'same-namespace', WEB);
  await t.test('HTTPRoute should have an Accepted: false condition with reason NotAllowedByListeners', async () => {
    await c.routeMustHaveCondition('invalid-cross-namespace-parent-ref', 'same-namespace', { type: 'Accepted', status: 'False', reason: 'NotAllowedByListeners' }, WEB);
  });
  await t.test('Route should not have Parents set in status', async () => {
    await c.routeMustHaveNoAcceptedParents('invalid-cross-namespace-parent-ref', WEB);
  });
  await t.test('Gateway should have 0 Routes attached', async () => {
    await c.gatewayMustHaveZeroRoutes('same-namespace');
  });
});

test('HTTPRouteInvalidNonExistentBackendRef', async (t) => {
  await c.apply(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: invalid-nonexistent-backend-ref, namespace: gateway-conformance-infra }
spec:
  parentRefs: [{ name: same-namespace }]
  rules:
  - backendRefs: [{ name: nonexistent, namespace: gateway-conformance-infra, port: 8080 }]
`);
  await c.routesMustBeAccepted('same-namespace', ['invalid-nonexistent-backend-ref']);
  await t.test('HTTPRoute with only a nonexistent BackendRef has a ResolvedRefs Condition with status False and Reason BackendNotFound', async () => {
    await c.routeMustHaveCondition('invalid-nonexistent-backend-ref', 'same-namespace', { type: 'ResolvedRefs', status: 'False', reason: 'BackendNotFound' });
  });
  await t.test('HTTP Request to invalid nonexistent backend receive a 500', async () => {
    await c.expect({ request: { method: 'GET', path: '/' }, status: 500 });
  });
});

for (const [name, route, gateway, parentRef, extraGateway] of [
  ['HTTPRouteInvalidParentRefNotMatchingListenerPort', 'httproute-listener-not-matching-route-port', 'same-namespace',
    '{ name: same-namespace, namespace: gateway-conformance-infra, port: 81 }', ''],
  ['HTTPRouteInvalidParentRefNotMatchingSectionName', 'httproute-listener-not-matching-section-name', 'same-namespace',
    '{ name: same-namespace, namespace: gateway-conformance-infra, port: 80, sectionName: http1 }', ''],
  ['HTTPRouteInvalidParentRefSectionNameNotMatchingPort', 'httproute-listener-section-name-not-matching-port', 'gw-with-one-section-name-not-matching-port-route',
    '{ name: gw-with-one-section-name-not-matching-port-route, namespace: gateway-conformance-infra, sectionName: http, port: 81 }',
    `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: gw-with-one-section-name-not-matching-port-route, namespace: gateway-conformance-infra }
spec:
  gatewayClassName: "{GATEWAY_CLASS_NAME}"
  listeners:
  - { name: http, port: 80, protocol: HTTP, allowedRoutes: { kinds: [{ kind: HTTPRoute }], namespaces: { from: All } } }
---
`],
] as const) {
  test(name, async (t) => {
    await c.apply(`${extraGateway}apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: ${route}, namespace: gateway-conformance-infra }
spec:
  parentRefs: [${parentRef}]
  rules:
  - backendRefs: [{ name: infra-backend-v1, kind: Service, port: 8080 }]
`);
    if (name !== 'HTTPRouteInvalidParentRefNotMatchingSectionName') await c.resolvedRefsMustBeTrue(route, gateway);
    await t.test(`HTTPRoute with a parentRef matching no listener has an Accepted Condition with status False and Reason NoMatchingParent`, async () => {
      await c.routeMustHaveCondition(route, gateway, { type: 'Accepted', status: 'False', reason: 'NoMatchingParent' });
    });
    await t.test('Route should not have Parents accepted in status', async () => {
      await c.routeMustHaveNoAcceptedParents(route);
    });
    await t.test('Gateway should have 0 Routes attached', async () => {
      await c.gatewayMustHaveZeroRoutes(gateway);
    });
  });
}

test('HTTPRouteReferenceGrant', async (t) => {
  await c.apply(`apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: { name: reference-grant, namespace: gateway-conformance-web-backend }
spec:
  from: [{ group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: gateway-conformance-infra }]
  to: [{ group: "", kind: Service, name: web-backend }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: reference-grant, namespace: gateway-conformance-infra }
spec:
  parentRefs: [{ name: same-namespace }]
  rules:
  - backendRefs: [{ name: web-backend, namespace: gateway-conformance-web-backend, port: 8080 }]
`);
  await c.routesMustBeAccepted('same-namespace', ['reference-grant']);
  await c.resolvedRefsMustBeTrue('reference-grant', 'same-namespace');
  await t.test('Simple HTTP request should reach web-backend', async () => {
    await c.expect({ request: { method: 'GET', path: '/' }, status: 200, backend: 'web-backend', namespace: WEB });
  });
});

test('HTTPRouteInvalidReferenceGrant', async (t) => {
  // Seven ReferenceGrants, each wrong in one field; none permits the route's backendRef.
  const grant = (name: string, ns: string, from: string, to: string) => `apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: { name: ${name}, namespace: ${ns} }
spec:
  from: [${from}]
  to: [${to}]
---
`;
  const okFrom = '{ group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: gateway-conformance-infra }';
  const okTo = '{ group: "", kind: Service, name: web-backend }';
  await c.apply(
    grant('reference-grant-wrong-namespace', INFRA, okFrom, okTo)
    + grant('reference-grant-wrong-from-group', WEB, '{ group: not-the-group-youre-looking-for, kind: HTTPRoute, namespace: gateway-conformance-infra }', okTo)
    + grant('reference-grant-wrong-from-kind', WEB, '{ group: gateway.networking.k8s.io, kind: Gateway, namespace: gateway-conformance-infra }', okTo)
    + grant('reference-grant-wrong-from-namespace', WEB, '{ group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: not-the-namespace-youre-looking-for }', okTo)
    + grant('reference-grant-wrong-to-group', WEB, okFrom, '{ group: not-the-group-youre-looking-for, kind: Service, name: web-backend }')
    + grant('reference-grant-wrong-to-kind', WEB, okFrom, '{ group: "", kind: Secret, name: web-backend }')
    + grant('reference-grant-wrong-to-name', WEB, okFrom, '{ group: "", kind: Service, name: not-the-service-youre-looking-for }')
    + `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: reference-grant, namespace: gateway-conformance-infra }
spec:
  parentRefs: [{ name: same-namespace }]
  rules:
  - backendRefs: [{ name: web-backend, namespace: gateway-conformance-web-backend, port: 8080 }]
`);
  await c.routesMustBeAccepted('same-namespace', ['reference-grant']);
  await t.test('HTTPRoute with BackendRef in another namespace and no ReferenceGrant covering the Service has a ResolvedRefs Condition with status False and Reason RefNotPermitted', async () => {
    await c.routeMustHaveCondition('reference-grant', 'same-namespace', { type: 'ResolvedRefs', status: 'False', reason: 'RefNotPermitted' });
  });
  await t.test('HTTP Request to invalid backend with missing referenceGrant should receive a 500', async () => {
    await c.expect({ request: { method: 'GET', path: '/' }, status: 500 });
  });
});

test('HTTPRoutePartiallyInvalidViaInvalidReferenceGrant', async (t) => {
  await c.apply(`apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: { name: invalid-reference-grant, namespace: gateway-conformance-app-backend }
spec:
  from: [{ group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: gateway-conformance-infra }]
  to: [{ group: "", kind: Service, name: app-backend-v1 }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: invalid-reference-grant, namespace: gateway-conformance-infra }
spec:
  parentRefs: [{ name: same-namespace }]
  rules:
  - matches: [{ path: { type: PathPrefix, value: /v2 } }]
    backendRefs: [{ name: app-backend-v2, namespace: gateway-conformance-app-backend, port: 8080 }]
  - backendRefs: [{ name: app-backend-v1, namespace: gateway-conformance-app-backend, port: 8080 }]
`);
  await c.routesMustBeAccepted('same-namespace', ['invalid-reference-grant']);
  await t.test('HTTPRoute with BackendRef in another namespace and no ReferenceGrant covering the Service has a ResolvedRefs Condition with status False and Reason RefNotPermitted', async () => {
    await c.routeMustHaveCondition('invalid-reference-grant', 'same-namespace', { type: 'ResolvedRefs', status: 'False', reason: 'RefNotPermitted' });
  });
  await t.test('HTTP Request to invalid backend with missing referenceGrant should receive a 500', async () => {
    await c.expect({ request: { method: 'GET', path: '/v2' }, status: 500 });
  });
  await t.test('HTTP Request to valid sibling backend should succeed', async () => {
    await c.expect({ request: { method: 'GET', path: '/' }, status: 200, backend: 'app-backend-v1', namespace: APP });
  });
});

test('HTTPRouteNoBackendRefs', async () => {
  await c.apply(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: omitted-backendrefs, namespace: gateway-conformance-infra }
spec:
  parentRefs: [{ name: same-namespace }]
  rules:
  - matches: [{ path: { type: Exact, value: /omitted-no-forward } }]
  - matches: [{ path: { type: Exact, value: /empty-no-forward } }]
    backendRefs: []
  - matches: [{ path: { type: PathPrefix, value: / } }]
    backendRefs: [{ name: infra-backend-v1, port: 8080 }]
`);
  await c.resolvedRefsMustBeTrue('omitted-backendrefs', 'same-namespace');
  await c.routeMustHaveCondition('omitted-backendrefs', 'same-namespace', { type: 'Accepted', status: 'True' });
  const cases: Case[] = [
    { request: { path: '/forward' }, backend: 'infra-backend-v1' },
    { request: { path: '/omitted-no-forward' }, status: 500 },
    { request: { path: '/empty-no-forward' }, status: 500 },
  ];
  await c.expectAll(cases);
});

test('HTTPRouteObservedGenerationBump', async (t) => {
  // Off-cluster there is no API server to bump metadata.generation on a spec change: the file's
  // author does, and every condition must then report it as observedGeneration.
  const route = (gen: number, backend: string) => `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: observed-generation-bump, namespace: gateway-conformance-infra, generation: ${gen} }
spec:
  parentRefs: [{ name: same-namespace }]
  rules:
  - backendRefs: [{ name: ${backend}, port: 8080 }]
`;
  const latest = async (gen: number) => {
    const parents = await c.routeParents('observed-generation-bump');
    assert.ok(parents.length > 0, 'the route has status');
    for (const p of parents) for (const cond of p.conditions) assert.equal(cond.observedGeneration, gen, `${cond.type} observedGeneration ${cond.observedGeneration}, generation ${gen}`);
  };
  await t.test('observedGeneration should increment', async () => {
    await c.apply(route(1, 'infra-backend-v1'));
    await latest(1);
    await c.apply(route(2, 'infra-backend-v2'));
    await c.routeMustHaveCondition('observed-generation-bump', 'same-namespace', { type: 'Accepted', status: 'True' });
    await latest(2);
    await c.expect({ request: { path: '/' }, backend: 'infra-backend-v2' });
  });
});
