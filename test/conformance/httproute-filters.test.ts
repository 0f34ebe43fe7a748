// Gateway API conformance: HTTPRoute filters (header modifiers, rewrites, redirects, mirrors,
// CORS), timeouts and retries. Each test is named after the upstream conformance test and carries
// its manifest and request cases; see harness.ts for the off-cluster translation.
// One gateway for the whole file, in strict mode: every config here must be valid as a whole.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { Conformance, tlsSecret, type Case } from './harness.ts';

let c: Conformance;
before(async () => { c = await Conformance.start(); });
after(async () => { await c?.stop(); });

// ------------------------------------------------------------------ request header modifiers

const requestHeaderRules = [
  ['/set', `set: [{ name: X-Header-Set, value: set-overwrites-values }]`],
  ['/add', `add: [{ name: X-Header-Add, value: add-appends-values }]`],
  ['/remove', `remove: [X-Header-Remove]`],
  ['/multiple', `set: [{ name: X-Header-Set-1, value: header-set-1 }, { name: X-Header-Set-2, value: header-set-2 }]
      add: [{ name: X-Header-Add-1, value: header-add-1 }, { name: X-Header-Add-2, value: header-add-2 }, { name: X-Header-Add-3, value: header-add-3 }]
      remove: [X-Header-Remove-1, X-Header-Remove-2]`],
  ['/case-insensitivity', `set: [{ name: X-Header-Set, value: header-set }]
      add: [{ name: X-Header-Add, value: header-add }]
      remove: [X-Header-Remove]`],
] as const;

const requestHeaderCases: Case[] = [
  { request: { path: '/set', headers: { 'Some-Other-Header': 'val' } }, expectedRequest: { path: '/set', headers: { 'Some-Other-Header': 'val', 'X-Header-Set': 'set-overwrites-values' } }, backend: 'infra-backend-v1' },
  { request: { path: '/set', headers: { 'Some-Other-Header': 'val', 'X-Header-Set': 'some-other-value' } }, expectedRequest: { path: '/set', headers: { 'Some-Other-Header': 'val', 'X-Header-Set': 'set-overwrites-values' } }, backend: 'infra-backend-v1' },
  { request: { path: '/add', headers: { 'Some-Other-Header': 'val' } }, expectedRequest: { path: '/add', headers: { 'Some-Other-Header': 'val', 'X-Header-Add': 'add-appends-values' } }, backend: 'infra-backend-v1' },
  { request: { path: '/add', headers: { 'Some-Other-Header': 'val', 'X-Header-Add': 'some-other-value' } }, expectedRequest: { path: '/add', headers: { 'Some-Other-Header': 'val', 'X-Header-Add': 'some-other-value,add-appends-values' } }, backend: 'infra-backend-v1' },
  { request: { path: '/remove', headers: { 'X-Header-Remove': 'val' } }, expectedRequest: { path: '/remove', absentHeaders: ['X-Header-Remove'] }, backend: 'infra-backend-v1' },
  {
    request: { path: '/multiple', headers: { 'X-Header-Set-2': 'set-val-2', 'X-Header-Add-2': 'add-val-2', 'X-Header-Remove-2': 'remove-val-2', 'Another-Header': 'another-header-val' } },
    expectedRequest: { path: '/multiple', headers: { 'X-Header-Set-1': 'header-set-1', 'X-Header-Set-2': 'header-set-2', 'X-Header-Add-1': 'header-add-1', 'X-Header-Add-2': 'add-val-2,header-add-2', 'X-Header-Add-3': 'header-add-3', 'Another-Header': 'another-header-val' }, absentHeaders: ['X-Header-Remove-1', 'X-Header-Remove-2'] },
    backend: 'infra-backend-v1',
  },
  {
    // The filter uses canonical header names, the request lower-case ones.
    request: { path: '/case-insensitivity', headers: { 'x-header-set': 'original-val-set', 'x-header-add': 'original-val-add', 'x-header-remove': 'original-val-remove', 'Another-Header': 'another-header-val' } },
    expectedRequest: { path: '/case-insensitivity', headers: { 'X-Header-Set': 'header-set', 'X-Header-Add': 'original-val-add,header-add', 'Another-Header': 'another-header-val' }, absentHeaders: ['x-header-remove', 'X-Header-Remove'] },
    backend: 'infra-backend-v1',
  },
];

test('HTTPRouteRequestHeaderModifier', async () => {
  await c.apply(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: request-header-modifier, namespace: gateway-conformance-infra }
spec:
  parentRefs: [{ name: same-namespace }]
  rules:
${requestHeaderRules.map(([p, mod]) => `  - matches: [{ path: { type: PathPrefix, value: ${p} } }]
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier:
        ${mod.replaceAll('\n      ', '\n        ')}
    backendRefs: [{ name: infra-backend-v1, port: 8080 }]
`).join('')}`);
  await c.routesMustBeAccepted('same-namespace', ['request-header-modifier']);
  await c.resolvedRefsMustBeTrue('request-header-modifier', 'same-namespace');
  await c.expectAll(requestHeaderCases);
});

test('HTTPRouteBackendRequestHeaderModifier', async () => {
  // The same cases with the filters on the backendRef (httproute-request-header-modifier-backend.yaml).
  await c.apply(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: request-header-modifier-backend, namespace: gateway-conformance-infra }
spec:
  parentRefs: [{ name: same-namespace }]
  rules:
${requestHeaderRules.map(([p, mod]) => `  - matches: [{ path: { type: PathPrefix, value: ${p} } }]
    backendRefs:
    - name: infra-backend-v1
      port: 8080
      filters:
      - type: RequestHeaderModifier
        requestHeaderModifier:
          ${mod.replaceAll('\n      ', '\n          ')}
`).join('')}`);
  await c.routesMustBeAccepted('same-namespace', ['request-header-modifier-backend']);
  await c.resolvedRefsMustBeTrue('request-header-modifier-backend', 'same-namespace');
  await c.expectAll(requestHeaderCases);
});

test('HTTPRouteRequestHeaderModifierBackendWeights', async () => {
  await c.apply(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: request-header-modifier-backend-weights, namespace: gateway-conformance-infra }
spec:
  parentRefs: [{ name: same-namespace }]
  rules:
  - backendRefs:
    - name: infra-backend-v1
      port: 8080
      weight: 10
      filters:
      - type: RequestHeaderModifier
        requestHeaderModifier: { set: [{ name: Backend, value: infra-backend-v1 }] }
    - name: infra-backend-v2
      port: 8080
      weight: 10
      filters:
      - type: RequestHeaderModifier
        requestHeaderModifier: { set: [{ name: Backend, value: infra-backend-v2 }] }
`);
  await c.routesMustBeAccepted('same-namespace', ['request-header-modifier-backend-weights']);
  await c.resolvedRefsMustBeTrue('request-header-modifier-backend-weights', 'same-namespace');
  await c.expect({ request: { path: '/' }, status: 200 });
  const seen = new Set<string>();
  for (let i = 0; i < 100; i++) {
    const r = await c.send({ path: '/' });
    assert.equal(r.status, 200);
    const backendHeader = r.captured!.headers['backend'];
    assert.ok(backendHeader && !backendHeader.includes(','), `expected a single 'Backend' header, got ${backendHeader}`);
    assert.ok(r.captured!.pod.startsWith(backendHeader), `the backendRef's filter set Backend: ${backendHeader} but ${r.captured!.pod} answered`);
    seen.add(backendHeader);
  }
  assert.equal(seen.size, 2, 'both backends got traffic');
});

// ------------------------------------------------------------------ response header modifier

test('HTTPRouteResponseHeaderModifier', async () => {
  await c.apply(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: response-header-modifier, namespace: gateway-conformance-infra }
spec:
  parentRefs: [{ name: same-namespace }]
  rules:
  - matches: [{ path: { type: PathPrefix, value: /set } }]
    filters:
    - type: ResponseHeaderModifier
      responseHeaderModifier: { set: [{ name: X-Header-Set, value: set-overwrites-values }] }
    backendRefs: [{ name: infra-backend-v1, port: 8080 }]
  - matches: [{ path: { type: PathPrefix, value: /add } }]
    filters:
    - type: ResponseHeaderModifier
      responseHeaderModifier: { add: [{ name: X-Header-Add, value: add-appends-values }] }
    backendRefs: [{ name: infra-backend-v1, port: 8080 }]
  - matches: [{ path: { type: PathPrefix, value: /remove } }]
    filters:
    - type: ResponseHeaderModifier
      responseHeaderModifier: { remove: [X-Header-Remove] }
    backendRefs: [{ name: infra-backend-v1, port: 8080 }]
  - matches: [{ path: { type: PathPrefix, value: /multiple } }]
    filters:
    - type: ResponseHeaderModifier
      responseHeaderModifier:
        set: [{ name: X-Header-Set-1, value: header-set-1 }, { name: X-Header-Set-2, value: header-set-2 }]
        add: [{ name: X-Header-Add-1, value: header-add-1 }, { name: X-Header-Add-2, value: header-add-2 }, { name: X-Header-Add-3, value: header-add-3 }]
        remove: [X-Header-Remove-1, X-Header-Remove-2]
    backendRefs: [{ name: infra-backend-v1, port: 8080 }]
  - matches: [{ path: { type: PathPrefix, value: /case-insensitivity } }]
    filters:
    - type: ResponseHeaderModifier
      responseHeaderModifier:
        set: [{ name: X-Header-Set, value: header-set }]
        add:
        - { name: X-Header-Add, value: header-add }
        - { name: x-lowercase-add, value: lowercase-add }
        - { name: x-Mixedcase-ADD-1, value: mixedcase-add-1 }
        - { name: X-mixeDcase-add-2, value: mixedcase-add-2 }
        - { name: X-UPPERCASE-ADD, value: uppercase-add }
        remove: [X-Header-Remove]
    backendRefs: [{ name: infra-backend-v1, port: 8080 }]
  - matches: [{ path: { type: PathPrefix, value: /response-and-request-header-modifiers } }]
    filters:
    - type: ResponseHeaderModifier
      responseHeaderModifier:
        set: [{ name: X-Header-Set-1, value: header-set-1 }, { name: X-Header-Set-2, value: header-set-2 }]
        add: [{ name: X-Header-Add-1, value: header-add-1 }, { name: X-Header-Add-2, value: header-add-2 }]
        remove: [X-Header-Remove-1, X-Header-Remove-2]
    - type: RequestHeaderModifier
      requestHeaderModifier:
        set: [{ name: X-Header-Set, value: set-overwrites-values }]
        add: [{ name: X-Header-Add, value: header-val-1 }, { name: X-Header-Add-Append, value: header-val-2 }]
        remove: [X-Header-Remove]
    backendRefs: [{ name: infra-backend-v1, port: 8080 }]
`);
  await c.routesMustBeAccepted('same-namespace', ['response-header-modifier']);
  // The suite's echo server returns the headers named in X-Echo-Set-Header; the filter then edits
  // the response. `backendSends` is what the backend answers with.
  const rc = (p: string, backendSends: Record<string, string>, responseHeaders: Record<string, string>, absentResponseHeaders: string[] = [], extra: Partial<Case> = {}): Case => ({
    request: { path: p, headers: { 'X-Echo-Set-Header': Object.entries(backendSends).map(([k, v]) => `${k}:${v}`).join(',') } },
    expectedRequest: { path: p, ...extra.expectedRequest },
    responseHeaders, absentResponseHeaders, backend: 'infra-backend-v1',
  });
  await c.expectAll([
    rc('/set', { 'Some-Other-Header': 'val' }, { 'Some-Other-Header': 'val', 'X-Header-Set': 'set-overwrites-values' }),
    rc('/set', { 'Some-Other-Header': 'val', 'X-Header-Set': 'some-other-value' }, { 'Some-Other-Header': 'val', 'X-Header-Set': 'set-overwrites-values' }),
    rc('/add', { 'Some-Other-Header': 'val' }, { 'Some-Other-Header': 'val', 'X-Header-Add': 'add-appends-values' }),
    rc('/add', { 'Some-Other-Header': 'val', 'X-Header-Add': 'some-other-value' }, { 'Some-Other-Header': 'val', 'X-Header-Add': 'some-other-value,add-appends-values' }),
    rc('/remove', { 'X-Header-Remove': 'val' }, {}, ['X-Header-Remove']),
    rc('/multiple', { 'X-Header-Set-2': 'set-val-2', 'X-Header-Add-2': 'add-val-2', 'X-Header-Remove-2': 'remove-val-2', 'Another-Header': 'another-header-val' },
      { 'X-Header-Set-1': 'header-set-1', 'X-Header-Set-2': 'header-set-2', 'X-Header-Add-1': 'header-add-1', 'X-Header-Add-2': 'add-val-2,header-add-2', 'X-Header-Add-3': 'header-add-3', 'Another-Header': 'another-header-val' },
      ['X-Header-Remove-1', 'X-Header-Remove-2']),
    rc('/case-insensitivity', { 'x-header-set': 'original-val-set', 'x-header-add': 'original-val-add', 'x-header-remove': 'original-val-remove', 'Another-Header': 'another-header-val' },
      { 'X-Header-Set': 'header-set', 'X-Header-Add': 'original-val-add,header-add', 'X-Lowercase-Add': 'lowercase-add', 'X-Mixedcase-Add-1': 'mixedcase-add-1', 'X-Mixedcase-Add-2': 'mixedcase-add-2', 'X-Uppercase-Add': 'uppercase-add', 'Another-Header': 'another-header-val' },
      ['x-header-remove', 'X-Header-Remove']),
    {
      ...rc('/response-and-request-header-modifiers', { 'X-Header-Set-2': 'set-val-2', 'X-Header-Add-2': 'add-val-2', 'X-Header-Remove-2': 'remove-val-2' },
        { 'X-Header-Set-1': 'header-set-1', 'X-Header-Set-2': 'header-set-2', 'X-Header-Add-1': 'header-add-1', 'X-Header-Add-2': 'add-val-2,header-add-2' },
        ['X-Header-Remove-1', 'X-Header-Remove-2']),
      expectedRequest: { path: '/response-and-request-header-modifiers', headers: { 'X-Header-Set': 'set-overwrites-values', 'X-Header-Add': 'header-val-1', 'X-Header-Add-Append': 'header-val-2' }, absentHeaders: ['X-Header-Remove'] },
    },
  ]);
});

// ------------------------------------------------------------------ URL rewrites

test('HTTPRouteRewriteHost', async () => {
  await c.apply(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: rewrite-host, namespace: gateway-conformance-infra }
spec:
  hostnames: [rewrite.example]
  parentRefs: [{ name: same-namespace }]
  rules:
  - matches: [{ path: { type: PathPrefix, value: /one } }]
    filters: [{ type: URLRewrite, urlRewrite: { hostname: one.example.org } }]
    backendRefs: [{ name: infra-backend-v1, port: 8080 }]
  - filters: [{ type: URLRewrite, urlRewrite: { hostname: example.org } }]
    backendRefs: [{ name: infra-backend-v2, port: 8080 }]
  - matches: [{ path: { type: PathPrefix, value: /rewrite-host-and-modify-headers } }]
    filters:
    - { type: URLRewrite, urlRewrite: { hostname: test.example.org } }
    - type: RequestHeaderModifier
      requestHeaderModifier:
        set: [{ name: X-Header-Set, value: set-overwrites-values }]
        add: [{ name: X-Header-Add, value: header-val-1 }, { name: X-Header-Add-Append, value: header-val-2 }]
        remove: [X-Header-Remove]
    backendRefs: [{ name: infra-backend-v2, port: 8080 }]
`);
  await c.routesMustBeAccepted('same-namespace', ['rewrite-host']);
  await c.resolvedRefsMustBeTrue('rewrite-host', 'same-namespace');
  await c.expectAll([
    { request: { path: '/one', host: 'rewrite.example' }, expectedRequest: { path: '/one', host: 'one.example.org' }, backend: 'infra-backend-v1' },
    { request: { path: '/two', host: 'rewrite.example' }, expectedRequest: { path: '/two', host: 'example.org' }, backend: 'infra-backend-v2' },
    {
      request: { path: '/rewrite-host-and-modify-headers', host: 'rewrite.example', headers: { 'X-Header-Remove': 'remove-val', 'X-Header-Add-Append': 'append-val-1' } },
      expectedRequest: { path: '/rewrite-host-and-modify-headers', host: 'test.example.org', headers: { 'X-Header-Add': 'header-val-1', 'X-Header-Add-Append': 'append-val-1,header-val-2', 'X-Header-Set': 'set-overwrites-values' }, absentHeaders: ['X-Header-Remove'] },
      backend: 'infra-backend-v2',
    },
  ]);
});

test('HTTPRouteRewritePath', async () => {
  await c.apply(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: rewrite-path, namespace: gateway-conformance-infra }
spec:
  parentRefs: [{ name: same-namespace }]
  rules:
  - matches: [{ path: { type: PathPrefix, value: /prefix/one } }]
    filters: [{ type: URLRewrite, urlRewrite: { path: { type: ReplacePrefixMatch, replacePrefixMatch: /one } } }]
    backendRefs: [{ name: infra-backend-v1, port: 8080 }]
  - matches: [{ path: { type: PathPrefix, value: /strip-prefix } }]
    filters: [{ type: URLRewrite, urlRewrite: { path: { type: ReplacePrefixMatch, replacePrefixMatch: / } } }]
    backendRefs: [{ name: infra-backend-v1, port: 8080 }]
  - matches: [{ path: { type: PathPrefix, value: /full/one } }]
    filters: [{ type: URLRewrite, urlRewrite: { path: { type: ReplaceFullPath, replaceFullPath: /one } } }]
    backendRefs: [{ name: infra-backend-v1, port: 8080 }]
  - matches: [{ path: { type: PathPrefix, value: /full/rewrite-path-and-modify-headers } }]
    filters:
    - { type: URLRewrite, urlRewrite: { path: { type: ReplaceFullPath, replaceFullPath: /test } } }
    - type: RequestHeaderModifier
      requestHeaderModifier:
        set: [{ name: X-Header-Set, value: set-overwrites-values }]
        add: [{ name: X-Header-Add, value: header-val-1 }, { name: X-Header-Add-Append, value: header-val-2 }]
        remove: [X-Header-Remove]
    backendRefs: [{ name: infra-backend-v1, port: 8080 }]
  - matches: [{ path: { type: PathPrefix, value: /prefix/rewrite-path-and-modify-headers } }]
    filters:
    - { type: URLRewrite, urlRewrite: { path: { type: ReplacePrefixMatch, replacePrefixMatch: /prefix } } }
    - type: RequestHeaderModifier
      requestHeaderModifier:
        set: [{ name: X-Header-Set, value: set-overwrites-values }]
        add: [{ name: X-Header-Add, value: header-val-1 }, { name: X-Header-Add-Append, value: header-val-2 }]
        remove: [X-Header-Remove]
    backendRefs: [{ name: infra-backend-v1, port: 8080 }]
`);
  await c.routesMustBeAccepted('same-namespace', ['rewrite-path']);
  await c.resolvedRefsMustBeTrue('rewrite-path', 'same-namespace');
  const modified = { 'X-Header-Add': 'header-val-1', 'X-Header-Add-Append': 'append-val-1,header-val-2', 'X-Header-Set': 'set-overwrites-values' };
  const sent = { 'X-Header-Remove': 'remove-val', 'X-Header-Add-Append': 'append-val-1', 'X-Header-Set': 'set-val' };
  await c.expectAll([
    { request: { path: '/prefix/one/two' }, expectedRequest: { path: '/one/two' }, backend: 'infra-backend-v1' },
    { request: { path: '/strip-prefix/three' }, expectedRequest: { path: '/three' }, backend: 'infra-backend-v1' },
    { request: { path: '/strip-prefix' }, expectedRequest: { path: '/' }, backend: 'infra-backend-v1' },
    { request: { path: '/full/one/two' }, expectedRequest: { path: '/one' }, backend: 'infra-backend-v1' },
    { request: { path: '/full/rewrite-path-and-modify-headers/test', headers: sent }, expectedRequest: { path: '/test', headers: modified, absentHeaders: ['X-Header-Remove'] }, backend: 'infra-backend-v1' },
    { request: { path: '/prefix/rewrite-path-and-modify-headers/one', headers: sent }, expectedRequest: { path: '/prefix/one', headers: modified, absentHeaders: ['X-Header-Remove'] }, backend: 'infra-backend-v1' },
  ]);
});

// ------------------------------------------------------------------ redirects

test('HTTPRouteRedirectHostAndStatus', async () => {
  await c.apply(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: redirect-host-and-status, namespace: gateway-conformance-infra }
spec:
  parentRefs: [{ name: same-namespace }]
  rules:
  - matches: [{ path: { type: PathPrefix, value: /hostname-redirect } }]
    filters: [{ type: RequestRedirect, requestRedirect: { hostname: example.org } }]
  - matches: [{ path: { type: PathPrefix, value: /host-and-status } }]
    filters: [{ type: RequestRedirect, requestRedirect: { statusCode: 301, hostname: example.org } }]
`);
  await c.routesMustBeAccepted('same-namespace', ['redirect-host-and-status']);
  await c.resolvedRefsMustBeTrue('redirect-host-and-status', 'same-namespace');
  await c.expectAll([
    { request: { path: '/hostname-redirect' }, status: 302, redirect: { host: 'example.org' } },
    { request: { path: '/host-and-status' }, status: 301, redirect: { host: 'example.org' } },
  ]);
});

test('HTTPRouteRedirectPath', async () => {
  await c.apply(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: redirect-path, namespace: gateway-conformance-infra }
spec:
  parentRefs: [{ name: same-namespace }]
  rules:
  - matches: [{ path: { type: PathPrefix, value: /original-prefix } }]
    filters: [{ type: RequestRedirect, requestRedirect: { path: { type: ReplacePrefixMatch, replacePrefixMatch: /replacement-prefix } } }]
  - matches: [{ path: { type: PathPrefix, value: /full } }]
    filters: [{ type: RequestRedirect, requestRedirect: { path: { type: ReplaceFullPath, replaceFullPath: /full-path-replacement } } }]
  - matches: [{ path: { type: PathPrefix, value: /path-and-host } }]
    filters: [{ type: RequestRedirect, requestRedirect: { hostname: example.org, path: { type: ReplacePrefixMatch, replacePrefixMatch: /replacement-prefix } } }]
  - matches: [{ path: { type: PathPrefix, value: /path-and-status } }]
    filters: [{ type: RequestRedirect, requestRedirect: { path: { type: ReplacePrefixMatch, replacePrefixMatch: /replacement-prefix }, statusCode: 301 } }]
  - matches: [{ path: { type: PathPrefix, value: /full-path-and-host } }]
    filters: [{ type: RequestRedirect, requestRedirect: { hostname: example.org, path: { type: ReplaceFullPath, replaceFullPath: /replacement-full } } }]
  - matches: [{ path: { type: PathPrefix, value: /full-path-and-status } }]
    filters: [{ type: RequestRedirect, requestRedirect: { path: { type: ReplaceFullPath, replaceFullPath: /replacement-full }, statusCode: 301 } }]
`);
  await c.routesMustBeAccepted('same-namespace', ['redirect-path']);
  await c.resolvedRefsMustBeTrue('redirect-path', 'same-namespace');
  await c.expectAll([
    { request: { path: '/original-prefix/lemon' }, status: 302, redirect: { path: '/replacement-prefix/lemon' } },
    { request: { path: '/full/path/original' }, status: 302, redirect: { path: '/full-path-replacement' } },
    { request: { path: '/path-and-host' }, status: 302, redirect: { host: 'example.org', path: '/replacement-prefix' } },
    { request: { path: '/path-and-status' }, status: 301, redirect: { path: '/replacement-prefix' } },
    { request: { path: '/full-path-and-host' }, status: 302, redirect: { host: 'example.org', path: '/replacement-full' } },
    { request: { path: '/full-path-and-status' }, status: 301, redirect: { path: '/replacement-full' } },
  ]);
});

test('HTTPRouteRedirectPort', async () => {
  await c.apply(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: redirect-port, namespace: gateway-conformance-infra }
spec:
  parentRefs: [{ name: same-namespace }]
  rules:
  - matches: [{ path: { type: PathPrefix, value: /port } }]
    filters: [{ type: RequestRedirect, requestRedirect: { port: 8083 } }]
  - matches: [{ path: { type: PathPrefix, value: /port-and-host } }]
    filters: [{ type: RequestRedirect, requestRedirect: { hostname: example.org, port: 8083 } }]
  - matches: [{ path: { type: PathPrefix, value: /port-and-status } }]
    filters: [{ type: RequestRedirect, requestRedirect: { port: 8083, statusCode: 301 } }]
  - matches: [{ path: { type: PathPrefix, value: /port-and-host-and-status } }]
    filters: [{ type: RequestRedirect, requestRedirect: { port: 8083, hostname: example.org, statusCode: 302 } }]
`);
  await c.routesMustBeAccepted('same-namespace', ['redirect-port']);
  await c.resolvedRefsMustBeTrue('redirect-port', 'same-namespace');
  await c.expectAll([
    { request: { path: '/port' }, status: 302, redirect: { port: '8083' } },
    { request: { path: '/port-and-host' }, status: 302, redirect: { host: 'example.org', port: '8083' } },
    { request: { path: '/port-and-status' }, status: 301, redirect: { port: '8083' } },
    { request: { path: '/port-and-host-and-status' }, status: 302, redirect: { port: '8083', host: 'example.org' } },
  ]);
});

test('HTTPRouteRedirectScheme', async () => {
  await c.apply(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: redirect-scheme, namespace: gateway-conformance-infra }
spec:
  parentRefs: [{ name: same-namespace }]
  rules:
  - matches: [{ path: { type: PathPrefix, value: /scheme } }]
    filters: [{ type: RequestRedirect, requestRedirect: { scheme: https } }]
  - matches: [{ path: { type: PathPrefix, value: /scheme-and-host } }]
    filters: [{ type: RequestRedirect, requestRedirect: { hostname: example.org, scheme: https } }]
  - matches: [{ path: { type: PathPrefix, value: /scheme-and-status } }]
    filters: [{ type: RequestRedirect, requestRedirect: { scheme: https, statusCode: 301 } }]
  - matches: [{ path: { type: PathPrefix, value: /scheme-and-host-and-status } }]
    filters: [{ type: RequestRedirect, requestRedirect: { scheme: https, statusCode: 302, hostname: example.org } }]
`);
  await c.routesMustBeAccepted('same-namespace', ['redirect-scheme']);
  await c.resolvedRefsMustBeTrue('redirect-scheme', 'same-namespace');
  await c.expectAll([
    { request: { path: '/scheme' }, status: 302, redirect: { scheme: 'https' } },
    { request: { path: '/scheme-and-host' }, status: 302, redirect: { host: 'example.org', scheme: 'https' } },
    { request: { path: '/scheme-and-status' }, status: 301, redirect: { scheme: 'https' } },
    { request: { path: '/scheme-and-host-and-status' }, status: 302, redirect: { scheme: 'https', host: 'example.org' } },
  ]);
});

test('HTTPRouteRedirectPortAndScheme', async (t) => {
  // The suite's third Gateway (same-namespace-with-https-listener, port 443) and its route are
  // added in the HTTPS subtest below.
  const http80and8080 = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: same-namespace-with-http-listener-on-8080, namespace: gateway-conformance-infra }
spec:
  gatewayClassName: "{GATEWAY_CLASS_NAME}"
  listeners:
  - { name: http, port: 8080, protocol: HTTP, allowedRoutes: { namespaces: { from: Same } } }
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: http-route-for-listener-on-port-80, namespace: gateway-conformance-infra }
spec:
  parentRefs: [{ name: same-namespace }]
  rules:
  - matches: [{ path: { type: PathPrefix, value: /scheme-nil-and-port-nil } }]
    filters: [{ type: RequestRedirect, requestRedirect: { hostname: example.org } }]
  - matches: [{ path: { type: PathPrefix, value: /scheme-nil-and-port-80 } }]
    filters: [{ type: RequestRedirect, requestRedirect: { port: 80, hostname: example.org } }]
  - matches: [{ path: { type: PathPrefix, value: /scheme-nil-and-port-8080 } }]
    filters: [{ type: RequestRedirect, requestRedirect: { port: 8080, hostname: example.org } }]
  - matches: [{ path: { type: PathPrefix, value: /scheme-https-and-port-nil } }]
    filters: [{ type: RequestRedirect, requestRedirect: { scheme: https, hostname: example.org } }]
  - matches: [{ path: { type: PathPrefix, value: /scheme-https-and-port-443 } }]
    filters: [{ type: RequestRedirect, requestRedirect: { scheme: https, port: 443, hostname: example.org } }]
  - matches: [{ path: { type: PathPrefix, value: /scheme-https-and-port-8443 } }]
    filters: [{ type: RequestRedirect, requestRedirect: { scheme: https, port: 8443, hostname: example.org } }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: http-route-for-listener-on-port-8080, namespace: gateway-conformance-infra }
spec:
  parentRefs: [{ name: same-namespace-with-http-listener-on-8080 }]
  rules:
  - matches: [{ path: { type: PathPrefix, value: /scheme-nil-and-port-nil } }]
    filters: [{ type: RequestRedirect, requestRedirect: { hostname: example.org } }]
  - matches: [{ path: { type: PathPrefix, value: /scheme-nil-and-port-80 } }]
    filters: [{ type: RequestRedirect, requestRedirect: { port: 80, hostname: example.org } }]
  - matches: [{ path: { type: PathPrefix, value: /scheme-https-and-port-nil } }]
    filters: [{ type: RequestRedirect, requestRedirect: { scheme: https, hostname: example.org } }]
`;
  await c.apply(http80and8080);
  await c.routesMustBeAccepted('same-namespace', ['http-route-for-listener-on-port-80']);
  await c.resolvedRefsMustBeTrue('http-route-for-listener-on-port-80', 'same-namespace');
  await c.routesMustBeAccepted('same-namespace-with-http-listener-on-8080', ['http-route-for-listener-on-port-8080']);
  await c.resolvedRefsMustBeTrue('http-route-for-listener-on-port-8080', 'same-namespace-with-http-listener-on-8080');
  // A missing expected port means any port is acceptable, as in the suite. Where the suite expects
  // the listener's own port (8080), the listener here is on an ephemeral port, which is expected.
  await t.test('http-listener-on-80', async () => {
    await c.expectAll([
      { request: { path: '/scheme-nil-and-port-nil' }, status: 302, redirect: { scheme: 'http', host: 'example.org' } },
      { request: { path: '/scheme-nil-and-port-80' }, status: 302, redirect: { scheme: 'http', host: 'example.org' } },
      { request: { path: '/scheme-nil-and-port-8080' }, status: 302, redirect: { scheme: 'http', port: '8080', host: 'example.org' } },
      { request: { path: '/scheme-https-and-port-nil' }, status: 302, redirect: { scheme: 'https', host: 'example.org' } },
      { request: { path: '/scheme-https-and-port-443' }, status: 302, redirect: { scheme: 'https', host: 'example.org' } },
      { request: { path: '/scheme-https-and-port-8443' }, status: 302, redirect: { scheme: 'https', port: '8443', host: 'example.org' } },
    ]);
  });
  await t.test('http-listener-on-8080', async () => {
    const gw = 'same-namespace-with-http-listener-on-8080';
    const listenerPort = String(c.portFor(gw, 8080));
    await c.expectAll([
      { gateway: gw, port: 8080, request: { path: '/scheme-nil-and-port-nil' }, status: 302, redirect: { scheme: 'http', port: listenerPort, host: 'example.org' } },
      { gateway: gw, port: 8080, request: { path: '/scheme-nil-and-port-80' }, status: 302, redirect: { scheme: 'http', host: 'example.org' } },
      { gateway: gw, port: 8080, request: { path: '/scheme-https-and-port-nil' }, status: 302, redirect: { scheme: 'https', host: 'example.org' } },
    ]);
  });
  await t.test('https-listener-on-443', async () => {
    // The HTTPS Gateway and its Secret are added for this part only.
    const { manifest, cert } = tlsSecret(['example.org']);
    await c.apply(`${http80and8080}---
${manifest}---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: same-namespace-with-https-listener, namespace: gateway-conformance-infra }
spec:
  gatewayClassName: "{GATEWAY_CLASS_NAME}"
  listeners:
  - name: https
    port: 443
    protocol: HTTPS
    allowedRoutes: { namespaces: { from: Same } }
    tls: { certificateRefs: [{ group: "", kind: Secret, name: tls-validity-checks-certificate, namespace: gateway-conformance-infra }] }
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: http-route-for-listener-on-port-443, namespace: gateway-conformance-infra }
spec:
  parentRefs: [{ name: same-namespace-with-https-listener }]
  rules:
  - matches: [{ path: { type: PathPrefix, value: /scheme-nil-and-port-nil } }]
    filters: [{ type: RequestRedirect, requestRedirect: { hostname: example.org } }]
  - matches: [{ path: { type: PathPrefix, value: /scheme-nil-and-port-443 } }]
    filters: [{ type: RequestRedirect, requestRedirect: { port: 443, hostname: example.org } }]
  - matches: [{ path: { type: PathPrefix, value: /scheme-nil-and-port-8443 } }]
    filters: [{ type: RequestRedirect, requestRedirect: { port: 8443, hostname: example.org } }]
  - matches: [{ path: { type: PathPrefix, value: /scheme-http-and-port-nil } }]
    filters: [{ type: RequestRedirect, requestRedirect: { scheme: http, hostname: example.org } }]
  - matches: [{ path: { type: PathPrefix, value: /scheme-http-and-port-80 } }]
    filters: [{ type: RequestRedirect, requestRedirect: { scheme: http, port: 80, hostname: example.org } }]
  - matches: [{ path: { type: PathPrefix, value: /scheme-http-and-port-8080 } }]
    filters: [{ type: RequestRedirect, requestRedirect: { scheme: http, port: 8080, hostname: example.org } }]
`);
    const gw = 'same-namespace-with-https-listener';
    await c.routesMustBeAccepted(gw, ['http-route-for-listener-on-port-443']);
    const cases: [string, string, string?][] = [
      // path, expected scheme, expected port (unset: any)
      ['/scheme-nil-and-port-nil', 'https'],
      ['/scheme-nil-and-port-443', 'https'],
      ['/scheme-nil-and-port-8443', 'https', '8443'],
      ['/scheme-http-and-port-nil', 'http'],
      ['/scheme-http-and-port-80', 'http'],
      ['/scheme-http-and-port-8080', 'http', '8080'],
    ];
    for (const [p, scheme, port] of cases) {
      const res = await new Promise<{ status: number; location?: string }>((resolve, reject) => {
        const req = https.request({ host: '127.0.0.1', port: c.portFor(gw, 443), path: p, servername: 'example.org', ca: cert, headers: { host: 'example.org' } }, (r) => { r.resume(); resolve({ status: r.statusCode ?? 0, location: r.headers.location }); });
        req.on('error', reject);
        req.end();
      });
      assert.equal(res.status, 302, p);
      const u = new URL(res.location ?? '');
      assert.equal(u.protocol, `${scheme}:`, `${p}: ${res.location}`);
      assert.equal(u.hostname, 'example.org', `${p}: ${res.location}`);
      if (port) assert.equal(u.port, port, `${p}: ${res.location}`);
      assert.equal(u.pathname, p);
    }
  });
});

for (const [name, code, p] of [['HTTPRoute303Redirect', 303, '/see-other'], ['HTTPRoute307Redirect', 307, '/temporary'], ['HTTPRoute308Redirect', 308, '/permanent']] as const) {
  test(name, async () => {
    const route = `${code}-redirect`;
    await c.apply(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: ${route}, namespace: gateway-conformance-infra }
spec:
  parentRefs: [{ name: same-namespace }]
  rules:
  - matches: [{ path: { type: PathPrefix, value: ${p} } }]
    filters: [{ type: RequestRedirect, requestRedirect: { statusCode: ${code} } }]
`);
    await c.routesMustBeAccepted('same-namespace', [route]);
    await c.resolvedRefsMustBeTrue(route, 'same-namespace');
    // 303 is tested with POST, as in the suite.
    await c.expect({ request: { path: p, method: code === 303 ? 'POST' : 'GET' }, status: code, redirect: { path: p } });
  });
}

// ------------------------------------------------------------------ timeouts

test('HTTPRouteTimeoutRequest', async () => {
  await c.apply(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: request-timeout, namespace: gateway-conformance-infra }
spec:
  parentRefs: [{ name: same-namespace }]
  rules:
  - matches: [{ path: { type: PathPrefix, value: /request-timeout } }]
    backendRefs: [{ name: infra-backend-v1, port: 8080 }]
    timeouts: { request: 500ms }
  - matches: [{ path: { type: PathPrefix, value: /disable-request-timeout } }]
    backendRefs: [{ name: infra-backend-v1, port: 8080 }]
    timeouts: { request: 0s }
`);
  await c.routesMustBeAccepted('same-namespace', ['request-timeout']);
  await c.resolvedRefsMustBeTrue('request-timeout', 'same-namespace');
  await c.expectAll([
    { request: { path: '/request-timeout' }, status: 200 },
    { request: { path: '/request-timeout?delay=1s' }, status: 504 },
    { request: { path: '/disable-request-timeout?delay=1s' }, status: 200 },
  ]);
});

test('HTTPRouteTimeoutBackendRequest', async () => {
  await c.apply(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: backend-request-timeout, namespace: gateway-conformance-infra }
spec:
  parentRefs: [{ name: same-namespace }]
  rules:
  - matches: [{ path: { type: PathPrefix, value: /backend-timeout } }]
    backendRefs: [{ name: infra-backend-v1, port: 8080 }]
    timeouts: { backendRequest: 500ms }
`);
  await c.routesMustBeAccepted('same-namespace', ['backend-request-timeout']);
  await c.resolvedRefsMustBeTrue('backend-request-timeout', 'same-namespace');
  await c.expectAll([
    { request: { path: '/backend-timeout' }, status: 200 },
    { request: { path: '/backend-timeout?delay=1s' }, status: 504 },
  ]);
});

// ------------------------------------------------------------------ not implemented yet

const modifyHeaders = `    - type: RequestHeaderModifier
      requestHeaderModifier:
        set: [{ name: X-Header-Set, value: set-overwrites-values }]
        add: [{ name: X-Header-Add, value: header-val-1 }, { name: X-Header-Add-Append, value: header-val-2 }]
        remove: [X-Header-Remove]
`;
const mirrorTo = (backend: string, extra = '') => `    - { type: RequestMirror, requestMirror: { backendRef: { name: ${backend}, namespace: gateway-conformance-infra, port: 8080 }${extra} } }\n`;
const modifiedRequest = (path: string): Case => ({
  request: { path, headers: { 'X-Header-Remove': 'remove-val', 'X-Header-Add-Append': 'append-val-1' } },
  expectedRequest: { path, headers: { 'X-Header-Add': 'header-val-1', 'X-Header-Add-Append': 'append-val-1,header-val-2', 'X-Header-Set': 'set-overwrites-values' }, absentHeaders: ['X-Header-Remove'] },
  backend: 'infra-backend-v1',
});

/** As http.ExpectMirroredRequest: each mirror backend got a request for `path` (after `since`). */
async function expectMirrored(mirrors: string[], path: string, since: Map<string, number>): Promise<void> {
  for (const name of mirrors) {
    const b = c.backends.get(name)!;
    await waitFor(() => b.requests.slice(since.get(name)).some((r) => r.path === path), `${name} got the mirrored ${path}`);
  }
}
const marks = () => new Map([...c.backends].map(([n, b]) => [n, b.requests.length]));

test('HTTPRouteRequestMirror', async () => {
  await c.apply(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: request-mirror, namespace: gateway-conformance-infra }
spec:
  parentRefs: [{ name: same-namespace }]
  rules:
  - matches: [{ path: { type: PathPrefix, value: /mirror } }]
    filters:
${mirrorTo('infra-backend-v2')}    backendRefs: [{ name: infra-backend-v1, port: 8080, namespace: gateway-conformance-infra }]
  - matches: [{ path: { type: PathPrefix, value: /mirror-and-modify-headers } }]
    filters:
${modifyHeaders}${mirrorTo('infra-backend-v2')}    backendRefs: [{ name: infra-backend-v1, port: 8080, namespace: gateway-conformance-infra }]
`);
  await c.routesMustBeAccepted('same-namespace', ['request-mirror']);
  for (const tc of [{ request: { path: '/mirror' }, expectedRequest: { path: '/mirror' }, backend: 'infra-backend-v1' }, modifiedRequest('/mirror-and-modify-headers')]) {
    const m = marks();
    await c.expect(tc);
    await expectMirrored(['infra-backend-v2'], tc.request.path, m);
  }
});

test('HTTPRouteRequestMultipleMirrors', async () => {
  await c.apply(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: request-multiple-mirrors, namespace: gateway-conformance-infra }
spec:
  parentRefs: [{ name: same-namespace }]
  rules:
  - matches: [{ path: { type: PathPrefix, value: /multi-mirror } }]
    filters:
${mirrorTo('infra-backend-v2')}${mirrorTo('infra-backend-v3')}    backendRefs: [{ name: infra-backend-v1, port: 8080, namespace: gateway-conformance-infra }]
  - matches: [{ path: { type: PathPrefix, value: /multi-mirror-and-modify-request-headers } }]
    filters:
${modifyHeaders}${mirrorTo('infra-backend-v2')}${mirrorTo('infra-backend-v3')}    backendRefs: [{ name: infra-backend-v1, port: 8080, namespace: gateway-conformance-infra }]
`);
  await c.routesMustBeAccepted('same-namespace', ['request-multiple-mirrors']);
  for (const tc of [{ request: { path: '/multi-mirror' }, expectedRequest: { path: '/multi-mirror' }, backend: 'infra-backend-v1' }, modifiedRequest('/multi-mirror-and-modify-request-headers')]) {
    const m = marks();
    await c.expect(tc);
    await expectMirrored(['infra-backend-v2', 'infra-backend-v3'], tc.request.path, m);
  }
});

test('HTTPRouteRequestPercentageMirror', async (t) => {
  await c.apply(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: request-percentage-mirror, namespace: gateway-conformance-infra }
spec:
  parentRefs: [{ name: same-namespace }]
  rules:
  - matches: [{ path: { type: PathPrefix, value: /percent-mirror } }]
    filters:
${mirrorTo('infra-backend-v2', ', percent: 20')}    backendRefs: [{ name: infra-backend-v1, port: 8080, namespace: gateway-conformance-infra }]
  - matches: [{ path: { type: PathPrefix, value: /percent-mirror-fraction } }]
    filters:
${mirrorTo('infra-backend-v2', ', fraction: { numerator: 25, denominator: 50 }')}    backendRefs: [{ name: infra-backend-v1, port: 8080, namespace: gateway-conformance-infra }]
  - matches: [{ path: { type: PathPrefix, value: /percent-multi-mirror-and-modify-headers } }]
    filters:
${modifyHeaders}${mirrorTo('infra-backend-v2', ', percent: 35')}${mirrorTo('infra-backend-v3', ', percent: 50')}    backendRefs: [{ name: infra-backend-v1, port: 8080, namespace: gateway-conformance-infra }]
`);
  await c.routesMustBeAccepted('same-namespace', ['request-percentage-mirror']);
  await c.resolvedRefsMustBeTrue('request-percentage-mirror', 'same-namespace');
  const cases: [Case, [string, number][]][] = [
    [{ request: { path: '/percent-mirror' }, expectedRequest: { path: '/percent-mirror' }, backend: 'infra-backend-v1' }, [['infra-backend-v2', 20]]],
    [{ request: { path: '/percent-mirror-fraction' }, expectedRequest: { path: '/percent-mirror-fraction' }, backend: 'infra-backend-v1' }, [['infra-backend-v2', 50]]],
    [modifiedRequest('/percent-multi-mirror-and-modify-headers'), [['infra-backend-v2', 35], ['infra-backend-v3', 50]]],
  ];
  for (const [tc, mirrors] of cases) {
    await t.test(tc.request.path, async () => {
      await c.expect(tc);
      // As the suite: 500 requests, 10 at a time; each mirror's count within ±5% of
      // 500 × percent; up to 5 tries.
      let last = '';
      for (let k = 0; k < 5; k++) {
        const m = marks();
        let next = 0;
        await Promise.all(Array.from({ length: 10 }, async () => { while (next < 500) { next++; await c.expect(tc); } }));
        await new Promise((r) => setTimeout(r, 200)); // mirrors are fire and forget
        const errs: string[] = [];
        for (const [name, pct] of mirrors) {
          const got = c.backends.get(name)!.requests.slice(m.get(name)).filter((r) => r.path === tc.request.path).length;
          const want = 500 * pct / 100;
          if (got < want * 0.95 || got > want * 1.05) errs.push(`${name}: ${got} mirrored, want ${want * 0.95}..${want * 1.05}`);
        }
        if (!errs.length) return;
        last = errs.join('; ');
      }
      assert.fail(`Percentage based mirror distribution tests failed: ${last}`);
    });
  }
});

test('HTTPRouteCORS', async () => {
  const cors = (name: string, rules: [string, string][]) => `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: ${name}, namespace: gateway-conformance-infra }
spec:
  parentRefs: [{ name: same-namespace }]
  rules:
${rules.map(([p, spec]) => `  - filters: [{ type: CORS, cors: ${spec} }]
    matches: [{ path: { type: PathPrefix, value: ${p} } }]
    backendRefs: [{ name: infra-backend-v1, port: 8080 }]
`).join('')}`;
  await c.apply([
    cors('cors-multiple-origins-methods-headers', [['/cors-1', '{ allowOrigins: ["https://www.foo.com", "https://*.bar.com"], allowMethods: [GET, OPTIONS], allowHeaders: [x-header-1, x-header-2], exposeHeaders: [x-header-3, x-header-4], allowCredentials: true, maxAge: 3600 }']]),
    cors('cors-wildcard-methods', [['/cors-2', '{ allowOrigins: ["https://www.foo.com"], allowMethods: ["*"] }']]),
    cors('cors-wildcard-origin', [['/cors-wildcard-origin', '{ allowOrigins: ["*"], allowMethods: [PUT], allowCredentials: false }']]),
    cors('cors-wildcard-methods-headers', [
      ['/cors-wildcard-methods-headers', '{ allowOrigins: ["*"], allowMethods: ["*"], allowHeaders: ["*"], allowCredentials: true }'],
      ['/cors-wildcard-methods-headers-unauth', '{ allowOrigins: ["*"], allowMethods: ["*"], allowHeaders: ["*"], allowCredentials: false }'],
    ]),
  ].join('---\n'));
  const routes = ['cors-multiple-origins-methods-headers', 'cors-wildcard-methods', 'cors-wildcard-origin', 'cors-wildcard-methods-headers'];
  await c.routesMustBeAccepted('same-namespace', routes);
  for (const r of routes) await c.resolvedRefsMustBeTrue(r, 'same-namespace');
  // The suite's cases. `valid`: the header must have one of the values (whitespace ignored);
  // `backend`: a simple request is answered by the backend; a preflight by the gateway.
  interface CorsCase { name: string; path: string; method: string; headers: Record<string, string>; status: number[]; valid?: Record<string, string[]>; absent?: string[]; backend?: boolean }
  const both = (a: string, b: string) => [`${a}, ${b}`, `${b}, ${a}`];
  const full1 = (origin: string) => ({ 'access-control-allow-origin': [origin], 'access-control-allow-methods': both('GET', 'OPTIONS'), 'access-control-allow-headers': both('x-header-1', 'x-header-2'), 'access-control-expose-headers': both('x-header-3', 'x-header-4'), 'access-control-max-age': ['3600'], 'access-control-allow-credentials': ['true'] });
  const pre = (origin: string, method: string, reqHeaders?: string) => ({ Origin: origin, 'access-control-request-method': method, ...(reqHeaders ? { 'access-control-request-headers': reqHeaders } : {}) });
  const cases: CorsCase[] = [
    { name: 'CORS preflight request from an exact matching origin should be allowed', path: '/cors-1', method: 'OPTIONS', headers: pre('https://www.foo.com', 'GET', 'x-header-1, x-header-2'), status: [200, 204], valid: full1('https://www.foo.com') },
    { name: 'CORS preflight request from a wildcard matching origin should be allowed', path: '/cors-1', method: 'OPTIONS', headers: pre('https://www.bar.com', 'GET', 'x-header-1, x-header-2'), status: [200], valid: full1('https://www.bar.com') },
    { name: "CORS preflight request from a wildcard matching any number of periods left to '*' should be allowed", path: '/cors-1', method: 'OPTIONS', headers: pre('https://xpto.www.bar.com', 'GET', 'x-header-1, x-header-2'), status: [200], valid: full1('https://xpto.www.bar.com') },
    { name: 'CORS preflight request from a non-matching origin should not be allowed', path: '/cors-1', method: 'OPTIONS', headers: pre('https://foobar.com', 'GET'), status: [200, 204, 403], absent: ['access-control-allow-origin'] },
    { name: 'Simple request from an exact matching origin should be allowed', path: '/cors-1', method: 'GET', headers: pre('https://www.foo.com', 'GET', 'x-header-1, x-header-2'), status: [200, 204], valid: { 'access-control-allow-origin': ['https://www.foo.com'] }, backend: true },
    { name: 'Simple request from a wildcard matching origin should be allowed', path: '/cors-1', method: 'GET', headers: pre('https://www.bar.com', 'GET', 'x-header-1, x-header-2'), status: [200, 204], valid: { 'access-control-allow-origin': ['https://www.bar.com'] }, backend: true },
    { name: 'Simple request from a non-matching origin should not be allowed', path: '/cors-1', method: 'GET', headers: pre('https://foobar.com', 'GET'), status: [200], absent: ['access-control-allow-origin'], backend: true },
    { name: 'CORS preflight request with POST method should be allowed by allowMethods with wildcard', path: '/cors-2', method: 'OPTIONS', headers: pre('https://www.foo.com', 'POST'), status: [200, 204], valid: { 'access-control-allow-methods': ['POST', '*'], 'access-control-allow-origin': ['https://www.foo.com'] }, absent: ['access-control-allow-credentials'] },
    { name: "Pre-flight request from a wildcard origin should return header with '*' or with the requested Origin", path: '/cors-wildcard-origin', method: 'OPTIONS', headers: pre('https://foobar.com', 'PUT'), status: [200, 204], valid: { 'access-control-allow-origin': ['https://foobar.com', '*'], 'access-control-allow-methods': ['PUT'] }, absent: ['access-control-allow-credentials'] },
    { name: "Pre-flight request from a wildcard origin containing a port should return header with '*' or with the requested Origin", path: '/cors-wildcard-origin', method: 'OPTIONS', headers: pre('https://foobar.com:12345', 'PUT'), status: [200, 204], valid: { 'access-control-allow-origin': ['https://foobar.com:12345', '*'], 'access-control-allow-methods': ['PUT'] }, absent: ['access-control-allow-credentials'] },
    { name: "Request from a wildcard origin containing a port should return header with '*' or with the requested Origin", path: '/cors-wildcard-origin', method: 'PUT', headers: { Origin: 'https://foobar.com:12345' }, status: [200], valid: { 'access-control-allow-origin': ['https://foobar.com:12345', '*'] }, backend: true },
    { name: "Simple request from a wildcard origin should return header with '*' or with the requested Origin", path: '/cors-wildcard-origin', method: 'PUT', headers: { Origin: 'https://foobar.com' }, status: [200, 204], valid: { 'access-control-allow-origin': ['https://foobar.com', '*'] }, backend: true },
    { name: 'CORS preflight request requesting auth and specific method and headers should be allowed and always echo the origin', path: '/cors-wildcard-methods-headers', method: 'OPTIONS', headers: pre('https://other.foo.com', 'PUT', 'x-header-1, x-header-2'), status: [200], valid: { 'access-control-allow-origin': ['https://other.foo.com'], 'access-control-allow-methods': ['PUT'], 'access-control-allow-headers': both('x-header-1', 'x-header-2'), 'access-control-allow-credentials': ['true'] } },
    { name: 'CORS preflight request requesting auth and specific method and headers should hide auth headers on unauth path', path: '/cors-wildcard-methods-headers-unauth', method: 'OPTIONS', headers: pre('https://other.foo.com', 'PUT', 'x-header-1, x-header-2'), status: [200], valid: { 'access-control-allow-origin': ['https://other.foo.com', '*'], 'access-control-allow-methods': ['PUT', '*'], 'access-control-allow-headers': [...both('x-header-1', 'x-header-2'), '*'] }, absent: ['access-control-allow-credentials'] },
    { name: 'Simple request with credentials auth should be allowed and always echo the origin', path: '/cors-wildcard-methods-headers', method: 'GET', headers: { Origin: 'https://other.foo.com', Authorization: 'Bearer test' }, status: [200], valid: { 'access-control-allow-origin': ['https://other.foo.com'], 'access-control-allow-credentials': ['true'] }, backend: true },
    { name: 'Simple request with credentials should hide auth headers on unauth path', path: '/cors-wildcard-methods-headers-unauth', method: 'GET', headers: { Origin: 'https://other.foo.com', Authorization: 'Bearer test' }, status: [200], valid: { 'access-control-allow-origin': ['https://other.foo.com'] }, absent: ['access-control-allow-credentials'], backend: true },
  ];
  const failures: string[] = [];
  const squash = (v: string) => v.replace(/\s+/g, '');
  for (const tc of cases) {
    const r = await c.send({ path: tc.path, method: tc.method, headers: tc.headers });
    const errs: string[] = [];
    if (!tc.status.includes(r.status)) errs.push(`status ${r.status}, want one of ${tc.status}`);
    for (const [h, ok] of Object.entries(tc.valid ?? {})) if (!ok.map(squash).includes(squash(r.headers[h] ?? ''))) errs.push(`${h}: ${r.headers[h]}, want one of ${JSON.stringify(ok)}`);
    for (const h of tc.absent ?? []) if (r.headers[h] !== undefined) errs.push(`${h} must be absent, got ${r.headers[h]}`);
    if (tc.backend && !r.captured?.pod.startsWith('infra-backend-v1')) errs.push('not answered by infra-backend-v1');
    if (errs.length) failures.push(`${tc.name}: ${errs.join('; ')}`);
  }
  assert.deepEqual(failures, [], `${failures.length} of ${cases.length} CORS cases failed`);
});

test('HTTPRouteRetry', async () => {
  await c.apply(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: retries, namespace: gateway-conformance-infra }
spec:
  parentRefs: [{ name: same-namespace }]
  rules:
  - matches: [{ path: { type: PathPrefix, value: /retry/code-500-attempts-3 } }]
    retry: { codes: [500], attempts: 3 }
    backendRefs: [{ name: infra-backend-v3, port: 8080 }]
  - matches: [{ path: { type: PathPrefix, value: /retry/code-all-attempts-2 } }]
    retry: { codes: [500, 502, 503, 504], attempts: 2 }
    backendRefs: [{ name: infra-backend-v3, port: 8080 }]
  - matches: [{ path: { type: PathPrefix, value: /retry/code-all-attempts-0 } }]
    retry: { codes: [500, 502, 503, 504], attempts: 0 }
    backendRefs: [{ name: infra-backend-v3, port: 8080 }]
`);
  await c.routesMustBeAccepted('same-namespace', ['retries']);
  await c.resolvedRefsMustBeTrue('retries', 'same-namespace');
  const cases: [string, number, number, number][] = [
    // path, responseCode, succeedAfter, expected status
    ['/retry/code-500-attempts-3', 500, 2, 200],
    ['/retry/code-500-attempts-3', 500, 4, 500],
    ['/retry/code-500-attempts-3', 503, 2, 503],
    ['/retry/code-all-attempts-2', 500, 1, 200],
    ['/retry/code-all-attempts-2', 500, 3, 500],
    ['/retry/code-all-attempts-2', 502, 1, 200],
    ['/retry/code-all-attempts-2', 502, 3, 502],
    ['/retry/code-all-attempts-2', 503, 1, 200],
    ['/retry/code-all-attempts-2', 503, 3, 503],
    ['/retry/code-all-attempts-2', 504, 1, 200],
    ['/retry/code-all-attempts-2', 504, 3, 504],
  ];
  await c.expectAll(cases.map(([p, code, after, status], i) => ({
    request: { path: `${p}?responseCode=${code}&succeedAfter=${after}&uuid=retry-${i}-${Date.now()}` },
    status, backend: 'infra-backend-v3',
  })));
});

async function waitFor(cond: () => boolean, what: string, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

