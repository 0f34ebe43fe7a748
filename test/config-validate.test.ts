// `portcullis validate` as a user runs it: every mistake at once, with file:line:col, and exit 1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from './helpers/cli.ts';
import { gatewayYaml } from './helpers/config.ts';

test('a config with five mistakes gets all five reported with their lines, exit 1', () => {
  const r = runCli(['validate', 'test/fixtures/five-mistakes']);
  assert.equal(r.code, 1, r.stderr);
  const lines = r.stderr.split('\n').filter((l) => /^test\//.test(l));
  assert.equal(lines.length, 5, r.stderr);
  const has = (re: RegExp) => assert.ok(lines.some((l) => re.test(l)), `no line matches ${re}:\n${r.stderr}`);
  // 1. bad YAML indentation: the line whose indentation is wrong
  has(/^test\/fixtures\/five-mistakes\/backends\.yaml:17:\d+: YAML: .*indentation/);
  // 2. an unknown field, at the field itself, naming the allowed ones
  has(/^test\/fixtures\/five-mistakes\/routes\.yaml:30:7: HTTPRoute\/default\/api: spec\.rules\[0\]\.timeout: unknown field "timeout" \(allowed here: .*timeouts/);
  // 3. two conflicting listeners
  has(/^test\/fixtures\/five-mistakes\/gateway\.yaml:13:7: Gateway\/default\/edge: spec\.listeners\[1\]: listener "web-again" conflicts with listener "web".*gateway\.yaml:9:7/);
  // 4. a backendRef to a missing Backend
  has(/^test\/fixtures\/five-mistakes\/routes\.yaml:29:\d+: HTTPRoute\/default\/api: spec\.rules\[0\]\.backendRefs\[0\]\.name: Backend default\/api-v2 not found/);
  // 5. a route whose hostnames do not intersect its listener
  has(/^test\/fixtures\/five-mistakes\/routes\.yaml:11:5: HTTPRoute\/default\/shop: spec\.hostnames: no hostname of the route \(shop\.other\.org\) matches the listener hostname \(admin\.example\.com\)/);
});

test('validate --status prints the conditions a controller would write', () => {
  const r = runCli(['validate', '--status', 'test/fixtures/five-mistakes']);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /listener web-again \(attachedRoutes 0\):\n(.*\n)*?\s+Conflicted=True \(HostnameConflict\)/);
  assert.match(r.stdout, /HTTPRoute\/default\/shop:\n\s+parent default\/edge\/admin:\n\s+Accepted=False \(NoMatchingListenerHostname\)/);
  assert.match(r.stdout, /HTTPRoute\/default\/api:\n\s+parent default\/edge\/admin:\n\s+Accepted=True \(Accepted\).*\n\s+ResolvedRefs=False \(BackendNotFound\)/);
  assert.match(r.stdout, /Gateway\/default\/edge:\n\s+Accepted=True \(ListenersNotValid\)/);
});

test('the quickstart config is valid, exit 0, with a content-hash version', () => {
  const r = runCli(['validate', 'examples/quickstart']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^ok: 6 resource\(s\) valid, version [0-9a-f]{16}$/m);
});

test('a missing path is a usage error (exit 2), not a crash', () => {
  const r = runCli(['validate', 'does/not/exist']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /no such file or directory/);
});

test('the committed editor schema is what `portcullis schema` prints', async () => {
  const fs = await import('node:fs');
  const r = runCli(['schema']);
  assert.equal(r.code, 0);
  const committed = fs.readFileSync(new URL('../portcullis.schema.json', import.meta.url), 'utf8');
  assert.equal(committed, r.stdout, 'regenerate with: node src/cli/main.ts schema > portcullis.schema.json');
  const schema = JSON.parse(r.stdout);
  assert.ok(schema.$defs.HTTPRoute && schema.$defs.Backend && schema.$defs.Gateway);
});

const GATEWAY = `${gatewayYaml(18999)}
---
`;

/** `portcullis validate` on a one-file config made of GATEWAY + `routes`. */
function validateRoutes(routes: string): ReturnType<typeof runCli> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pcs-validate-'));
  try {
    fs.writeFileSync(path.join(dir, 'c.yaml'), GATEWAY + routes);
    return runCli(['validate', dir]);
  } finally { fs.rmSync(dir, { recursive: true, force: true }); }
}

test('a header value with a control character (CR, LF) is refused at validation, not met at request time', () => {
  const r = validateRoutes(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: r, namespace: default }
spec:
  parentRefs: [{ name: gw }]
  rules:
    - filters:
        - type: ResponseHeaderModifier
          responseHeaderModifier: { set: [{ name: X-A, value: "a\\r\\nSet-Cookie: x=1" }] }
        - type: RequestRedirect
          requestRedirect: { statusCode: 302, hostname: example.com }
`);
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stderr, /c\.yaml:17:\d+: HTTPRoute\/default\/r: spec\.rules\[0\]\.filters\[0\]\.responseHeaderModifier\.set\[0\]\.value: invalid value: expected no control characters/);
});

test('a GRPCRoute takes only the filters Gateway API gives it (no redirect, rewrite or CORS)', () => {
  const r = validateRoutes(`apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: { name: g, namespace: default }
spec:
  parentRefs: [{ name: gw }]
  rules:
    - filters:
        - type: RequestHeaderModifier
          requestHeaderModifier: { set: [{ name: X-A, value: b }] }
        - type: URLRewrite
          urlRewrite: { hostname: example.com }
`);
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stderr, /c\.yaml:\d+:\d+: GRPCRoute\/default\/g: spec\.rules\[0\]\.filters\[1\]\.type: filter URLRewrite is not supported on a GRPCRoute/);
  assert.doesNotMatch(r.stderr, /filters\[0\]/);
});
