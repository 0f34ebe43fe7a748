import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileOperator, ipMatcher, invalidUtf8, invalidUrlEncoding, type OpCompileContext, type OpTx } from './operators.ts';
import { AhoCorasick } from './ahocorasick.ts';
import { bytesOf } from './regex.ts';
import type { Macro } from './macro.ts';

function ctx(file = join(tmpdir(), 'x.conf')): OpCompileContext {
  return { file, line: 1, ruleId: 1, warn: () => {}, regexReport: () => {}, libinjection: null, dataCache: new Map() };
}

class FakeTx implements OpTx {
  vars: Record<string, string> = {};
  captures: Array<string | undefined> = [];
  expand(m: Macro): string { return m.map((p) => (typeof p === 'string' ? p : this.vars[`${p.collection}.${p.key}`] ?? '')).join(''); }
  setCaptures(g: ArrayLike<string | undefined>): void { this.captures = Array.from(g); }
}

const op = (name: string, param: string, c = ctx()) => compileOperator(name, param, c);

test('@rx: PCRE flags, captures, multiline/dotall like ModSecurity', () => {
  const tx = new FakeTx();
  const rx = op('rx', '(?i)^sel(ect)\\s');
  assert.equal(rx('SELECT x', tx, true), true);
  assert.deepEqual(tx.captures.slice(0, 2), ['SELECT ', 'ECT']);
  assert.equal(op('rx', 'a.b')('a\nb', tx, false), true); // (?s)
  assert.equal(op('rx', '^b$')('a\nb\nc', tx, false), true); // (?m)
  assert.equal(op('rx', 'a++b')('aab', tx, false), true); // possessive accepted
  assert.equal(op('rx', '\\x{41}\\z')('xA', tx, false), true);
  assert.equal(op('rx', '\\x{41}\\z')('xA\n', tx, false), false);
  assert.equal(op('rx', '[a-c]{20,}')('c'.repeat(30), tx, false), true); // spelled out for the linear engine
  // prefilter: the bytes any match must contain
  const lt = op('rx', '<script');
  assert.deepEqual(lt.req && bytesOf('<').every((w, k) => (w & lt.req![k]) === w), true);
  assert.equal(op('rx', 'a*').req, null);
});

test('@pm and @pmFromFile (Aho-Corasick, case-insensitive)', () => {
  const ac = new AhoCorasick(['he', 'she', 'his', 'hers', 'etc/passwd']);
  assert.equal(ac.match('uSHErs'), 'SHE');
  assert.equal(ac.match('/ETC/passwd'), 'ETC/passwd');
  assert.equal(ac.match('nothing at all'), null);
  const tx = new FakeTx();
  assert.equal(op('pm', 'union select')('a UNION b', tx, true), true);
  assert.deepEqual(tx.captures, ['UNION']);
  const dir = mkdtempSync(join(tmpdir(), 'waf-'));
  writeFileSync(join(dir, 'words.data'), '# comment\n\nfoo bar\nbaz\n');
  const pmf = op('pmFromFile', 'words.data', ctx(join(dir, 'rules.conf')));
  assert.equal(pmf('xx FOO BAR yy', tx, false), true);
  assert.equal(pmf('foo', tx, false), false);
  assert.throws(() => op('pmFromFile', 'missing.data', ctx(join(dir, 'rules.conf'))), /cannot read data file/);
});

test('string and numeric operators, with macro parameters', () => {
  const tx = new FakeTx();
  tx.vars['TX.allowed'] = 'GET HEAD POST';
  tx.vars['TX.limit'] = '5';
  assert.equal(op('within', '%{tx.allowed}')('HEAD', tx, false), true);
  assert.equal(op('within', '%{tx.allowed}')('PUT', tx, false), false);
  assert.equal(op('lt', '%{tx.limit}')('4', tx, false), true);
  assert.equal(op('ge', '5')('x', tx, false), false); // non-numbers count as 0
  assert.equal(op('eq', '0')('', tx, false), true);
  assert.equal(op('gt', '1')('2', tx, false), true);
  assert.equal(op('le', '1')('1', tx, false), true);
  assert.equal(op('streq', 'abc')('abc', tx, false), true);
  assert.equal(op('beginsWith', 'ab')('abc', tx, false), true);
  assert.equal(op('endsWith', 'bc')('abc', tx, false), true);
  assert.equal(op('contains', 'b')('abc', tx, false), true);
  assert.equal(op('containsWord', 'cat')('a cat.', tx, false), true);
  assert.equal(op('containsWord', 'cat')('concatenate', tx, false), false);
  assert.equal(op('unconditionalMatch', '')('', tx, false), true);
});

test('@ipMatch with IPv4 and IPv6 CIDRs', () => {
  const m = ipMatcher(['10.0.0.0/8', '192.168.1.7', '2001:db8::/32']);
  assert.equal(m('10.1.2.3'), true);
  assert.equal(m('::ffff:10.1.2.3'), true);
  assert.equal(m('192.168.1.7'), true);
  assert.equal(m('192.168.1.8'), false);
  assert.equal(m('2001:db8:1::1'), true);
  assert.equal(m('2001:db9::1'), false);
  assert.equal(m('not-an-ip'), false);
  assert.throws(() => ipMatcher(['300.1.1.1']), /bad IPv4/);
});

test('validation operators', () => {
  const tx = new FakeTx();
  assert.equal(invalidUrlEncoding('a%2'), true);
  assert.equal(invalidUrlEncoding('a%zz'), true);
  assert.equal(invalidUrlEncoding('a%20b'), false);
  assert.equal(invalidUtf8(Buffer.from('héllo', 'utf8').toString('latin1')), false);
  assert.equal(invalidUtf8('\xc0\xaf'), true); // overlong '/'
  assert.equal(invalidUtf8('\xe2\x82'), true); // truncated
  assert.equal(invalidUtf8('\xed\xa0\x80'), true); // surrogate
  const vbr = op('validateByteRange', '32-126,9');
  assert.equal(vbr('hello\tworld', tx, false), false);
  assert.equal(vbr('bad\x01', tx, false), true);
  assert.throws(() => op('validateByteRange', '300'), /bad byte range/);
  assert.throws(() => op('nosuchop', ''), /unsupported operator/);
});

test('the validators and @detectXSS carry a byte prefilter (req) that every input they match holds', async () => {
  const { detectSQLi, detectXSS } = await import('./libinjection/index.ts');
  const c = { ...ctx(), libinjection: { detectSQLi, detectXSS } };
  const has = (req: Int32Array, s: string) => { const b = bytesOf(s); return b.some((w, i) => (w & req[i]) !== 0); };
  const cases: Array<[string, string, string[], string[]]> = [
    // operator, parameter, inputs it matches, inputs it does not
    ['validateUrlEncoding', '', ['a%zz', '%4', '%'], ['a%20b', 'plain']],
    ['validateUtf8Encoding', '', ['\xc3', '\xff\xfe', '\xe2\x82'], ['caf\xc3\xa9', 'ascii only \x00']],
    ['validateByteRange', '32-126', ['tab\there', '\x00', 'caf\xc3\xa9'], ['printable ASCII ~']],
    ['detectXSS', '', ['<script>alert(1)</script>', 'x onload=alert(1)', '<!DOCTYPE html>'], ['running shoes', 'javascript:alert(1)']],
  ];
  for (const [name, param, yes, no] of cases) {
    const f = op(name, param, c);
    assert.ok(f.req, `@${name} has a prefilter`);
    for (const s of yes) { assert.equal(f(s, new FakeTx(), false), true, `@${name} matches ${JSON.stringify(s)}`); assert.ok(has(f.req, s), `@${name}: ${JSON.stringify(s)} holds a req byte`); }
    for (const s of no) assert.equal(f(s, new FakeTx(), false), false, `@${name} does not match ${JSON.stringify(s)}`);
  }
  // byte range: the prefilter is exactly the bytes outside the range
  const br = op('validateByteRange', '1-255', c);
  for (let b = 0; b < 256; b++) assert.equal(has(br.req!, String.fromCharCode(b)), b === 0);
});

test('@detectXSS never matches an input without "<" and "=" (its prefilter), on the golden corpus and fuzzed HTML-ish input', async () => {
  const { detectXSS } = await import('./libinjection/index.ts');
  const here = join(import.meta.dirname, 'libinjection/testdata/golden-libinjection-3.9.2.jsonl');
  const { readFileSync } = await import('node:fs');
  const golden = readFileSync(here, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { in: string; xss: boolean });
  const xss = golden.filter((v) => v.xss);
  assert.ok(xss.length > 100);
  for (const v of xss) assert.ok(/[<=]/.test(v.in), `golden XSS vector without < or =: ${JSON.stringify(v.in)}`);
  // fuzz: pieces of attributes, tags, URLs and quotes, everything but '<' and '='
  const pieces = ['a', 'x', ' ', '\t', '\n', '\f', '/', '>', '"', "'", '`', '!', '-', '--', '?', '&', '#', ';', '(', ')', ':', '\x00', '\x0b', '[if', 'xml',
    'onload', 'onerror', 'style', 'src', 'href', 'xmlns', 'javascript:', 'vbscript:', 'data:', 'script', 'svg', 'DOCTYPE', 'alert(1)', 'expression', 'import', 'entity'];
  let seed = 0x2545f491;
  const rnd = (n: number) => { seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5; return (seed >>> 0) % n; };
  const gen = (extra: string[]) => { let s = ''; const n = 1 + rnd(12); for (let k = 0; k < n; k++) { const all = rnd(6) === 0 ? extra : pieces; s += all[rnd(all.length)] ?? pieces[rnd(pieces.length)]; } return s; };
  for (let i = 0; i < 20_000; i++) { const s = gen(pieces); assert.equal(detectXSS(s), false, JSON.stringify(s)); }
  // the same generator with '<' and '=' among the pieces does produce XSS: the check above is not vacuous
  let hits = 0;
  for (let i = 0; i < 20_000; i++) if (detectXSS(gen(['<', '=', '<!', '</']))) hits++;
  assert.ok(hits > 100, `only ${hits} XSS verdicts with < and =`);
});
