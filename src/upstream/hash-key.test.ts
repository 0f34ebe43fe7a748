import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileHashKey, cookieValue } from './hash-key.ts';
import { UpstreamError } from './errors.ts';

test('header source: first value, case-insensitive name, absent -> undefined', () => {
  const k = compileHashKey({ type: 'header', name: 'X-User' });
  assert.equal(k({ 'x-user': 'alice' }, '1.2.3.4'), 'alice');
  assert.equal(k({ 'x-user': ['bob', 'eve'] }, '1.2.3.4'), 'bob');
  assert.equal(k({}, '1.2.3.4'), undefined);
});

test('cookie source: finds the named cookie only', () => {
  const k = compileHashKey({ type: 'cookie', name: 'sid' });
  assert.equal(k({ cookie: 'a=1; sid=xyz; b=2' }, ''), 'xyz');
  assert.equal(k({ cookie: 'sid=first;sid=second' }, ''), 'first');
  assert.equal(k({ cookie: 'xsid=1; sidx=2' }, ''), undefined, 'no prefix/suffix confusion');
  assert.equal(k({ cookie: ['a=1', 'sid="quoted"'] }, ''), 'quoted');
  assert.equal(k({ cookie: 'sid=' }, ''), '');
  assert.equal(k({}, ''), undefined);
  assert.equal(cookieValue(';; sid=v ;', 'sid'), 'v');
});

test('source-ip source', () => {
  const k = compileHashKey({ type: 'source-ip' });
  assert.equal(k({}, '203.0.113.9'), '203.0.113.9');
  assert.equal(k({}, ''), undefined);
});

test('invalid names are rejected', () => {
  assert.throws(() => compileHashKey({ type: 'header', name: 'bad name' }), UpstreamError);
  assert.throws(() => compileHashKey({ type: 'cookie', name: 'a=b' }), UpstreamError);
  assert.throws(() => compileHashKey({ type: 'query' } as never), UpstreamError);
});
