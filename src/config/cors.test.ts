import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkCors, parseOriginPattern, type CorsSpec } from './cors.ts';

const pattern = (s: string) => {
  const r = parseOriginPattern(s);
  assert.ok(r.ok, `${s}: ${r.ok ? '' : r.message}`);
  return r.pattern;
};
const problem = (s: string) => {
  const r = parseOriginPattern(s);
  assert.ok(!r.ok, `${s} should be refused`);
  return `${r.message} (${r.hint})`;
};

test('origin patterns are normalized as browsers serialize origins', () => {
  assert.deepEqual(pattern('*'), { kind: 'any' });
  assert.deepEqual(pattern('https://www.foo.com'), { kind: 'exact', origin: 'https://www.foo.com' });
  assert.deepEqual(pattern('HTTPS://WWW.Foo.com'), { kind: 'exact', origin: 'https://www.foo.com' });
  assert.deepEqual(pattern('https://www.foo.com:443'), { kind: 'exact', origin: 'https://www.foo.com' }, 'default port left out');
  assert.deepEqual(pattern('http://www.foo.com:80'), { kind: 'exact', origin: 'http://www.foo.com' });
  assert.deepEqual(pattern('http://www.foo.com:443'), { kind: 'exact', origin: 'http://www.foo.com:443' }, 'not the default port of http');
  assert.deepEqual(pattern('http://localhost:3000'), { kind: 'exact', origin: 'http://localhost:3000' });
  assert.deepEqual(pattern('http://127.0.0.1:8080'), { kind: 'exact', origin: 'http://127.0.0.1:8080' });
  assert.deepEqual(pattern('http://[0:0::1]:3000'), { kind: 'exact', origin: 'http://[::1]:3000' });
  assert.deepEqual(pattern('https://*.bar.com'), { kind: 'wildcard', scheme: 'https', suffix: '.bar.com', port: '' });
  assert.deepEqual(pattern('https://*.bar.com:8443'), { kind: 'wildcard', scheme: 'https', suffix: '.bar.com', port: '8443' });
  assert.deepEqual(pattern('https://*'), { kind: 'wildcard', scheme: 'https', suffix: '', port: '' });
});

test('a malformed origin is refused with what is wrong and the fix', () => {
  assert.match(problem('https://app.example.com/'), /has a path \("\/"\) \(remove it: https:\/\/app\.example\.com;/);
  assert.match(problem('https://app.example.com/api'), /has a path/);
  assert.match(problem('https://app.example.com?x=1'), /has a query/);
  assert.match(problem('app.example.com'), /has no scheme \(write https:\/\/app\.example\.com/);
  assert.match(problem('ftp://app.example.com'), /scheme "ftp" is not allowed.*use http:\/\/ or https:\/\//);
  assert.match(problem('chrome-extension://abcdef'), /scheme "chrome-extension" is not allowed/);
  assert.match(problem('null'), /"null" cannot be allowed/);
  assert.match(problem('https://www.*.com'), /"\*" must be the whole leftmost label.*write https:\/\/\*\.example\.com,/);
  assert.match(problem('https://*foo.bar.com'), /"\*" must be the whole leftmost label.*https:\/\/\*\.bar\.com/);
  assert.match(problem('https://*.*.bar.com'), /more than one "\*"/);
  assert.match(problem('https://app.example.com:*'), /port cannot be a wildcard/);
  assert.match(problem('https://app.example.com:0'), /port "0" is not a number from 1 to 65535/);
  assert.match(problem('https://app.example.com:70000'), /port "70000"/);
  assert.match(problem('https://app.example.com:'), /ends with ":" and no port/);
  assert.match(problem('https://user@app.example.com'), /has a user name/);
  assert.match(problem('https://app..example.com'), /empty label/);
  assert.match(problem('https://bücher.example'), /not ASCII.*punycode/);
  assert.match(problem('https://[zz]:1'), /not an IPv6 address/);
  assert.match(problem('https://'), /has no host/);
  assert.match(problem(' https://a.com'), /whitespace/);
});

function check(spec: CorsSpec) {
  const out: { path: string; message: string; hint?: string; severity: string }[] = [];
  const ok = checkCors(spec, (p, message, hint, severity = 'error') => out.push({ path: p.join('.'), message, hint, severity }));
  return { ok, errors: out.filter((d) => d.severity === 'error'), warnings: out.filter((d) => d.severity === 'warning') };
}

test('checkCors: the conformance suite\'s policies are valid', () => {
  for (const spec of [
    { allowOrigins: ['https://www.foo.com', 'https://*.bar.com'], allowMethods: ['GET', 'OPTIONS'], allowHeaders: ['x-header-1', 'x-header-2'], exposeHeaders: ['x-header-3', 'x-header-4'], allowCredentials: true, maxAge: 3600 },
    { allowOrigins: ['https://www.foo.com'], allowMethods: ['*'] },
    { allowOrigins: ['*'], allowMethods: ['PUT'], allowCredentials: false },
    { allowOrigins: ['*'], allowMethods: ['*'], allowHeaders: ['*'], allowCredentials: false },
  ]) assert.deepEqual(check(spec), { ok: true, errors: [], warnings: [] }, JSON.stringify(spec));
});

test('checkCors: "*" alone, no duplicates, with the path of the entry', () => {
  const r = check({ allowOrigins: ['*', 'https://a.com', 'https://A.com:443', 'https://*.b.com', 'https://*.B.com'], allowMethods: ['GET', '*', 'GET'], allowHeaders: ['X-A', 'x-a'], exposeHeaders: ['X-B', 'x-b'] });
  assert.equal(r.ok, false);
  const at = (path: string) => r.errors.filter((e) => e.path === path).map((e) => e.message);
  assert.match(at('allowOrigins').join(), /"\*" allows every origin and cannot be listed with other origins/);
  assert.match(at('allowOrigins.2').join(), /same as allowOrigins\[1\] \("https:\/\/a\.com"\)/);
  assert.match(at('allowOrigins.4').join(), /same as allowOrigins\[3\]/);
  assert.match(at('allowMethods').join(), /"\*" allows every method/);
  assert.match(at('allowMethods.2').join(), /method GET is listed twice/);
  assert.match(at('allowHeaders.1').join(), /header "x-a" is listed twice/);
  assert.match(at('exposeHeaders.1').join(), /header "x-b" is listed twice/);
});

test('checkCors: credentials with every origin works but warns; "*" exposed with credentials is refused', () => {
  const w = check({ allowOrigins: ['*'], allowCredentials: true, allowMethods: ['*'], allowHeaders: ['*'] });
  assert.equal(w.ok, true);
  assert.equal(w.warnings.length, 1);
  assert.equal(w.warnings[0].path, 'allowCredentials');
  assert.match(w.warnings[0].message, /any website can send requests with the user's cookies/);
  assert.equal(check({ allowOrigins: ['https://*'], allowCredentials: true }).warnings.length, 1, 'a scheme-wide wildcard is every host too');
  assert.equal(check({ allowOrigins: ['https://*.a.com'], allowCredentials: true }).warnings.length, 0);
  const e = check({ allowOrigins: ['https://a.com'], allowCredentials: true, exposeHeaders: ['X-A', '*'] });
  assert.equal(e.ok, false);
  assert.equal(e.errors[0].path, 'exposeHeaders.1');
  assert.match(e.errors[0].message, /would expose nothing/);
  assert.equal(check({ allowOrigins: ['https://a.com'], exposeHeaders: ['*'] }).ok, true, 'fine without credentials');
});

test('checkCors: a filter that allows no origin is a warning', () => {
  const r = check({ allowMethods: ['GET'] });
  assert.equal(r.ok, true);
  assert.match(r.warnings[0].message, /allows no origin/);
  assert.equal(r.warnings[0].path, 'allowOrigins');
});
