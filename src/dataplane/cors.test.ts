import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { compileCors } from '../compiler/cors.ts';
import { PREFLIGHT_VARY, addCorsHeaders, allowOrigin, isPreflight, preflightHeaders, varyWithOrigin } from './cors.ts';

// The conformance suite's policies (httproute-cors.yaml).
const cors1 = compileCors({ allowOrigins: ['https://www.foo.com', 'https://*.bar.com'], allowMethods: ['GET', 'OPTIONS'], allowHeaders: ['x-header-1', 'x-header-2'], exposeHeaders: ['x-header-3', 'x-header-4'], allowCredentials: true, maxAge: 3600 });
const wildcardMethods = compileCors({ allowOrigins: ['https://www.foo.com'], allowMethods: ['*'] });
const anyOrigin = compileCors({ allowOrigins: ['*'], allowMethods: ['PUT'], allowCredentials: false });
const anyAuth = compileCors({ allowOrigins: ['*'], allowMethods: ['*'], allowHeaders: ['*'], allowCredentials: true });
const anyUnauth = compileCors({ allowOrigins: ['*'], allowMethods: ['*'], allowHeaders: ['*'], allowCredentials: false });

test('compiled once: exact origins in a set, wildcards as suffixes, header values joined', () => {
  assert.deepEqual([...cors1.exact], ['https://www.foo.com']);
  assert.deepEqual(cors1.wildcards, [{ scheme: 'https', suffix: '.bar.com', port: '' }]);
  assert.equal(cors1.allowMethods, 'GET, OPTIONS');
  assert.equal(cors1.allowHeaders, 'x-header-1, x-header-2');
  assert.equal(cors1.exposeHeaders, 'x-header-3, x-header-4');
  assert.equal(cors1.maxAge, '3600');
  assert.equal(wildcardMethods.maxAge, '5', 'Gateway API default');
  assert.equal(anyAuth.echoMethod, true);
  assert.equal(anyAuth.echoHeaders, true);
  assert.equal(anyUnauth.allowMethods, '*');
  assert.equal(anyUnauth.allowHeaders, '*');
});

test('origin matcher: exact, wildcard at any depth, never the bare suffix, scheme and port count', () => {
  assert.equal(allowOrigin(cors1, 'https://www.foo.com'), 'https://www.foo.com');
  assert.equal(allowOrigin(cors1, 'https://www.bar.com'), 'https://www.bar.com');
  assert.equal(allowOrigin(cors1, 'https://xpto.www.bar.com'), 'https://xpto.www.bar.com');
  for (const o of [
    'https://bar.com', // the suffix itself
    'https://foobar.com',
    'https://www.bar.com.evil.com',
    'https://evilbar.com',
    'http://www.bar.com', // another scheme
    'http://www.foo.com',
    'https://www.bar.com:8443', // another port
    'https://www.foo.com:8443',
    'https://.bar.com', // an empty label in front of the suffix
    'https://a..bar.com',
    'https://www.foo.com/', // not a serialized origin
    'https://www.foo.com.',
    'null',
    '',
  ]) assert.equal(allowOrigin(cors1, o), undefined, o);
  // What a non-browser client may send: the default port, upper case. Matched, echoed as sent.
  assert.equal(allowOrigin(cors1, 'https://www.foo.com:443'), 'https://www.foo.com:443');
  assert.equal(allowOrigin(cors1, 'HTTPS://WWW.BAR.COM'), 'HTTPS://WWW.BAR.COM');
  const ports = compileCors({ allowOrigins: ['http://localhost:3000', 'https://*.dev.example:8443', 'http://*'] });
  assert.equal(allowOrigin(ports, 'http://localhost:3000'), 'http://localhost:3000');
  assert.equal(allowOrigin(ports, 'http://localhost:3001'), undefined);
  assert.equal(allowOrigin(ports, 'https://a.dev.example:8443'), 'https://a.dev.example:8443');
  assert.equal(allowOrigin(ports, 'https://a.dev.example'), undefined);
  assert.equal(allowOrigin(ports, 'http://anything.example'), 'http://anything.example', 'http://* is every host on port 80');
  assert.equal(allowOrigin(ports, 'http://anything.example:81'), undefined);
  assert.equal(allowOrigin(ports, 'http://[::1]'), 'http://[::1]');
  assert.equal(allowOrigin(ports, 'https://anything.example'), undefined);
});

test('origin matcher: "*" echoes real origins; "null" gets "*" only without credentials', () => {
  assert.equal(allowOrigin(anyOrigin, 'https://foobar.com'), 'https://foobar.com');
  assert.equal(allowOrigin(anyOrigin, 'https://foobar.com:12345'), 'https://foobar.com:12345');
  assert.equal(allowOrigin(anyOrigin, 'null'), '*');
  assert.equal(allowOrigin(anyAuth, 'https://other.foo.com'), 'https://other.foo.com');
  assert.equal(allowOrigin(anyAuth, 'null'), undefined, 'never credentials for an opaque origin');
  assert.equal(allowOrigin(anyAuth, 'https://' + 'a'.repeat(400) + '.com'), undefined, 'absurdly long');
  assert.equal(allowOrigin(compileCors({}), 'https://a.com'), undefined, 'no allowOrigins: nothing');
});

const req = (method: string, headers: Record<string, string>) => ({ method, headers }) as unknown as IncomingMessage;

test('a preflight is OPTIONS with Origin and Access-Control-Request-Method', () => {
  assert.ok(isPreflight(req('OPTIONS', { origin: 'https://a.com', 'access-control-request-method': 'PUT' })));
  assert.ok(!isPreflight(req('OPTIONS', { origin: 'https://a.com' })));
  assert.ok(!isPreflight(req('OPTIONS', { 'access-control-request-method': 'PUT' })));
  assert.ok(!isPreflight(req('GET', { origin: 'https://a.com', 'access-control-request-method': 'GET' })));
});

test('preflight headers: lists as configured, max-age, credentials, Vary', () => {
  const h = preflightHeaders(cors1, 'https://www.bar.com', { 'access-control-request-method': 'GET', 'access-control-request-headers': 'x-header-1, x-header-2' });
  assert.deepEqual(h, {
    'access-control-allow-origin': 'https://www.bar.com',
    'access-control-allow-credentials': 'true',
    'access-control-allow-methods': 'GET, OPTIONS',
    'access-control-allow-headers': 'x-header-1, x-header-2',
    'access-control-expose-headers': 'x-header-3, x-header-4',
    'access-control-max-age': '3600',
    vary: PREFLIGHT_VARY,
  });
  const w = preflightHeaders(wildcardMethods, 'https://www.foo.com', { 'access-control-request-method': 'POST' });
  assert.equal(w['access-control-allow-methods'], '*');
  assert.equal(w['access-control-allow-credentials'], undefined);
  assert.equal(w['access-control-allow-headers'], undefined);
  assert.equal(w['access-control-max-age'], '5');
});

test('preflight headers: "*" with credentials echoes the requested method and headers (cleaned)', () => {
  const h = preflightHeaders(anyAuth, 'https://other.foo.com', { 'access-control-request-method': 'PUT', 'access-control-request-headers': 'X-Header-1,x-header-2 , ,x-header-1, bad header' });
  assert.equal(h['access-control-allow-methods'], 'PUT');
  assert.equal(h['access-control-allow-headers'], 'x-header-1, x-header-2');
  assert.equal(h['access-control-allow-credentials'], 'true');
  const none = preflightHeaders(anyAuth, 'https://other.foo.com', { 'access-control-request-method': 'P UT' });
  assert.equal(none['access-control-allow-methods'], undefined, 'not a method name: not echoed');
  assert.equal(none['access-control-allow-headers'], undefined, 'nothing requested: nothing sent (never "*")');
  const unauth = preflightHeaders(anyUnauth, 'https://other.foo.com', { 'access-control-request-method': 'PUT', 'access-control-request-headers': 'x-header-1' });
  assert.equal(unauth['access-control-allow-methods'], '*');
  assert.equal(unauth['access-control-allow-headers'], '*');
  assert.equal(unauth['access-control-allow-credentials'], undefined);
});

test('actual answers: allow-origin (+ credentials, expose) for an allowed origin, Vary: Origin always', () => {
  const out: Record<string, string | string[] | undefined> = { 'content-type': 'application/json', vary: 'Accept-Encoding' };
  addCorsHeaders(cors1, 'https://www.foo.com', out);
  assert.deepEqual(out, {
    'content-type': 'application/json',
    vary: 'Accept-Encoding, Origin',
    'access-control-allow-origin': 'https://www.foo.com',
    'access-control-allow-credentials': 'true',
    'access-control-expose-headers': 'x-header-3, x-header-4',
  });
  const denied: Record<string, string> = {};
  addCorsHeaders(cors1, 'https://foobar.com', denied);
  assert.deepEqual(denied, { vary: 'Origin' });
  const noOrigin: Record<string, string> = {};
  addCorsHeaders(cors1, undefined, noOrigin);
  assert.deepEqual(noOrigin, { vary: 'Origin' });
  const unauth: Record<string, string> = {};
  addCorsHeaders(anyUnauth, 'https://other.foo.com', unauth);
  assert.deepEqual(unauth, { vary: 'Origin', 'access-control-allow-origin': 'https://other.foo.com' });
});

test('Vary merge', () => {
  assert.equal(varyWithOrigin(undefined), 'Origin');
  assert.equal(varyWithOrigin(''), 'Origin');
  assert.equal(varyWithOrigin('Accept-Encoding'), 'Accept-Encoding, Origin');
  assert.equal(varyWithOrigin(['Accept', 'Cookie']), 'Accept, Cookie, Origin');
  assert.equal(varyWithOrigin('accept-encoding, origin'), 'accept-encoding, origin');
  assert.equal(varyWithOrigin('*'), '*');
});
