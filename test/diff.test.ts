// `portcullis diff` names exactly what changed, in gateway terms.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from './helpers/cli.ts';

test('diff names exactly the changed listeners, matches, filters, backends and endpoints', () => {
  const r = runCli(['diff', 'test/fixtures/diff/old', 'test/fixtures/diff/new']);
  assert.equal(r.code, 1, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n'), [
    '+ Gateway default/demo: listener "internal" HTTP :8081 internal.example.com',
    '- HTTPRoute default/api: rule #0: backendRef echo-canary',
    '+ HTTPRoute default/api: rule #0: backendRef echo-canary-v2 (weight 1)',
    '~ HTTPRoute default/api: rule #1: filter RequestHeaderModifier: requestHeaderModifier.set[0].value "api" -> "api-v1"',
    '+ HTTPRoute default/echo: rule #0: match path Exact /ping method GET',
    '~ Backend default/echo: endpoint 127.0.0.1:9002 weight 1 -> 3',
    '+ Backend default/echo: endpoint 127.0.0.1:9003',
    '- Backend default/echo-canary: 127.0.0.1:9002',
    '+ Backend default/echo-canary-v2: 127.0.0.1:9002',
  ]);
});

test('the same config in another file layout has no changes (exit 0)', () => {
  const r = runCli(['diff', 'test/fixtures/diff/old', 'examples/quickstart']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(r.stdout.trim(), 'no changes');
});

test('diff refuses to guess when a side does not parse (exit 2)', () => {
  const r = runCli(['diff', 'test/fixtures/five-mistakes', 'examples/quickstart']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /backends\.yaml:17:\d+: YAML/);
  assert.match(r.stderr, /cannot diff/);
});
