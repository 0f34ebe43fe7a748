import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HttpRouter, parseQuery, type RouteEntry, type RequestView } from './http-router.ts';

type E = Partial<RouteEntry<string>> & { rule: string };
function entry(e: E): RouteEntry<string> {
  return { pathType: 'PathPrefix', pathValue: '/', headers: [], query: [], creationTimestamp: '', routeId: 'default/r', ruleIndex: 0, matchIndex: 0, ...e };
}
function req(path: string, opts: { method?: string; headers?: Record<string, string>; query?: string } = {}): RequestView {
  return { path, method: opts.method ?? 'GET', query: opts.query ?? '', header: (n) => opts.headers?.[n] };
}
function build(list: [string[], E][]) {
  const r = new HttpRouter<string>();
  for (const [hosts, e] of list) r.add(hosts, entry(e));
  return r.seal();
}

test('PathPrefix matches whole segments only, trailing slash ignored', () => {
  const r = build([[[], { rule: 'abc', pathValue: '/abc' }], [[], { rule: 'slash', pathValue: '/v2/' }]]);
  assert.equal(r.match('h', req('/abc'))?.rule, 'abc');
  assert.equal(r.match('h', req('/abc/'))?.rule, 'abc');
  assert.equal(r.match('h', req('/abc/def'))?.rule, 'abc');
  assert.equal(r.match('h', req('/abcd')), undefined);
  assert.equal(r.match('h', req('/v2'))?.rule, 'slash');
  assert.equal(r.match('h', req('/v2/x'))?.rule, 'slash');
});

test('Exact beats RegularExpression beats the longest prefix beats a shorter prefix', () => {
  const r = build([
    [[], { rule: 'root', pathValue: '/' }],
    [[], { rule: 'api', pathValue: '/api' }],
    [[], { rule: 'api-v1', pathValue: '/api/v1' }],
    [[], { rule: 'exact', pathType: 'Exact', pathValue: '/api/v1/users' }],
    [[], { rule: 'regex', pathType: 'RegularExpression', pathValue: '/api/v[0-9]+/items', pathRe: /^(?:\/api\/v[0-9]+\/items)$/ }],
  ]);
  assert.equal(r.match('h', req('/api/v1/users'))?.rule, 'exact');
  assert.equal(r.match('h', req('/api/v1/items'))?.rule, 'regex');
  assert.equal(r.match('h', req('/api/v1/other'))?.rule, 'api-v1');
  assert.equal(r.match('h', req('/api/v2'))?.rule, 'api');
  assert.equal(r.match('h', req('/other'))?.rule, 'root');
});

test('method > more headers > more query params, for the same path', () => {
  const r = build([
    [[], { rule: 'plain', pathValue: '/p' }],
    [[], { rule: 'q', pathValue: '/p', query: [{ name: 'a', exact: '1' }] }],
    [[], { rule: 'h1', pathValue: '/p', headers: [{ name: 'x', exact: '1' }] }],
    [[], { rule: 'h2', pathValue: '/p', headers: [{ name: 'x', exact: '1' }, { name: 'y', exact: '2' }] }],
    [[], { rule: 'm', pathValue: '/p', method: 'POST' }],
  ]);
  assert.equal(r.match('h', req('/p', { method: 'POST', headers: { x: '1', y: '2' }, query: 'a=1' }))?.rule, 'm');
  assert.equal(r.match('h', req('/p', { headers: { x: '1', y: '2' }, query: 'a=1' }))?.rule, 'h2');
  assert.equal(r.match('h', req('/p', { headers: { x: '1' }, query: 'a=1' }))?.rule, 'h1');
  assert.equal(r.match('h', req('/p', { query: 'a=1' }))?.rule, 'q');
  assert.equal(r.match('h', req('/p', { query: 'a=2' }))?.rule, 'plain');
});

test('ties: oldest creationTimestamp, then namespace/name, then rule order', () => {
  const r = build([
    [[], { rule: 'young', pathValue: '/t', creationTimestamp: '2024-05-01T00:00:00Z', routeId: 'a/a' }],
    [[], { rule: 'old', pathValue: '/t', creationTimestamp: '2023-01-01T00:00:00Z', routeId: 'z/z' }],
    [[], { rule: 'b-rule1', pathValue: '/n', routeId: 'default/b', ruleIndex: 1 }],
    [[], { rule: 'b-rule0', pathValue: '/n', routeId: 'default/b', ruleIndex: 0 }],
    [[], { rule: 'c', pathValue: '/n', routeId: 'default/c' }],
  ]);
  assert.equal(r.match('h', req('/t'))?.rule, 'old');
  assert.equal(r.match('h', req('/n'))?.rule, 'b-rule0');
});

test('hostnames: exact > longer wildcard > shorter wildcard > any, with fall-through', () => {
  const r = build([
    [['foo.example.com'], { rule: 'exact', pathValue: '/only' }],
    [['*.example.com'], { rule: 'wild', pathValue: '/' }],
    [['*.b.example.com'], { rule: 'wild-long', pathValue: '/' }],
    [[], { rule: 'any', pathValue: '/' }],
  ]);
  assert.equal(r.match('foo.example.com', req('/only'))?.rule, 'exact');
  assert.equal(r.match('foo.example.com', req('/x'))?.rule, 'wild', 'a path the exact host lacks falls through to the wildcard');
  assert.equal(r.match('a.b.example.com', req('/'))?.rule, 'wild-long');
  assert.equal(r.match('deep.a.example.com', req('/'))?.rule, 'wild', 'wildcards match any depth');
  assert.equal(r.match('example.com', req('/'))?.rule, 'any', '*.example.com does not match example.com');
});

test('header and query regex matches', () => {
  const r = build([[[], { rule: 're', pathValue: '/', headers: [{ name: 'v', re: /^(?:v[0-9])$/ }], query: [{ name: 'q', re: /^(?:a.*)$/ }] }]]);
  assert.equal(r.match('h', req('/', { headers: { v: 'v1' }, query: 'q=abc' }))?.rule, 're');
  assert.equal(r.match('h', req('/', { headers: { v: 'v10' }, query: 'q=abc' })), undefined);
});

test('query parsing: decoding, first value wins, malformed escapes kept', () => {
  const q = parseQuery('a=1&a=2&b=x%20y&c=%zz&d');
  assert.equal(q.get('a'), '1');
  assert.equal(q.get('b'), 'x y');
  assert.equal(q.get('c'), '%zz');
  assert.equal(q.get('d'), '');
});

test('10,000 routes: lookups still find the right route', () => {
  const r = new HttpRouter<string>();
  for (let i = 0; i < 10000; i++) r.add([`svc${i % 100}.example.com`], entry({ rule: `r${i}`, pathValue: `/api/${i}` }));
  r.seal();
  assert.equal(r.match('svc42.example.com', req('/api/4242/x'))?.rule, 'r4242');
  assert.equal(r.match('svc41.example.com', req('/api/4242/x')), undefined);
});
