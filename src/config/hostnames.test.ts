import { test } from 'node:test';
import assert from 'node:assert/strict';
import { intersectHostnames, normalizeHost, wildcardMatches } from './hostnames.ts';

test('wildcards match one or more labels, never the bare suffix', () => {
  assert.ok(wildcardMatches('*.example.com', 'a.example.com'));
  assert.ok(wildcardMatches('*.example.com', 'a.b.example.com'));
  assert.ok(!wildcardMatches('*.example.com', 'example.com'));
  assert.ok(!wildcardMatches('*.example.com', 'aexample.com'));
});

test('listener/route hostname intersection (Gateway API)', () => {
  assert.deepEqual(intersectHostnames(undefined, []), []);
  assert.deepEqual(intersectHostnames('a.com', []), ['a.com']);
  assert.deepEqual(intersectHostnames(undefined, ['x.com']), ['x.com']);
  assert.deepEqual(intersectHostnames('*.example.com', ['foo.example.com', 'bar.other.org']), ['foo.example.com']);
  assert.deepEqual(intersectHostnames('foo.example.com', ['*.example.com']), ['foo.example.com']);
  assert.deepEqual(intersectHostnames('*.example.com', ['*.foo.example.com']), ['*.foo.example.com']);
  assert.deepEqual(intersectHostnames('*.foo.example.com', ['*.example.com']), ['*.foo.example.com']);
  assert.equal(intersectHostnames('admin.example.com', ['shop.other.org']), null);
  assert.equal(intersectHostnames('*.example.com', ['example.com']), null);
});

test('Host header normalisation ignores the port and case', () => {
  assert.equal(normalizeHost('Foo.Example.com:8080'), 'foo.example.com');
  assert.equal(normalizeHost('[::1]:80'), '[::1]');
  assert.equal(normalizeHost('example.com.'), 'example.com');
  assert.equal(normalizeHost(undefined), '');
});
