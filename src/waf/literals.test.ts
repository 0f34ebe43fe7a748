import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LiteralScanner, ValueScanner, requiredLiterals, zeroBits } from './literals.ts';
import { bytesOf, intersects, meets, requiredBytes, translatePcre, valueBytes } from './regex.ts';

const lits = (pcre: string) => requiredLiterals(translatePcre(pcre).source);

test('required literals: concatenation, alternation, case folding, repetition', () => {
  assert.deepEqual(lits('(?i)union\\s+select'), ['select']); // both are required: the longer one is kept
  assert.deepEqual(lits('(?i)(?:select|union)\\s+from')?.sort(), ['select', 'union']);
  assert.deepEqual(lits('abc[dD]ef'), ['abcdef']);
  assert.deepEqual(lits('(?:^|[/;])\\.{2,3}[/;]'), ['..']);
  assert.deepEqual(lits('<script'), ['<script']);
  assert.deepEqual(lits('ab?c'), ['abc', 'ac'].sort((a, b) => a.length - b.length));
});

test('required literals: none when a branch can match without one', () => {
  assert.equal(lits('^.*$'), null);
  assert.equal(lits('select|\\d+'), null);
  assert.equal(lits('(?:abc)?def|x'), null); // 'x' is too short to be selective
  assert.equal(lits('[a-z]+'), null);
  assert.equal(lits('(a)\\1'), null); // a backreference is unknown; 'a' alone is too short
  assert.deepEqual(lits('caf\\xe9'), ['caf']); // non-ASCII bytes are never part of a literal
});

test('named groups and named backreferences are read as the regex engine reads them', () => {
  // the hand-written parser this replaced took the `<n>` of \k<n> for literal text: 'abab' would
  // have been skipped for lacking "<n>"
  assert.deepEqual(lits('(?<n>ab)\\k<n>'), ['ab']);
  const req = requiredBytes(translatePcre('(?<n>xy)\\k<n>').source);
  assert.ok(req && intersects(req, bytesOf('xyxy')) && !intersects(req, bytesOf('<n>')));
});

// Property: whenever the regex matches, the (case-folded) input contains one of the literals.
const PATTERNS = [
  '(?i)(?:select|union|insert)[\\s/*]+(?:from|all|into)',
  '(?i)<(?:script|iframe|object)\\b[^>]*>',
  '(?:^|[/;\\x5c])\\.{2,3}[/;\\x5c]',
  '(?i)(?:\\$|&dollar;?)(?:\\{|&l(?:brace|cub);?)(?:jndi|ctx)',
  'a(?:bc|d)?e{2}f+',
  '(?i)java\\.lang\\.(?:runtime|processbuilder)',
  'x(?=yz)yz',
  '(?:on|xx)(?:load|error)=',
];
const ALPHABET = 'abcdefjilnorstuxyzACDEFLNORSTUXYZ.;/\\$&{}<>= *-_()[]\'"';

function randomString(rnd: () => number, pieces: string[]): string {
  let s = '';
  const n = Math.floor(rnd() * 6);
  for (let k = 0; k < n; k++) {
    if (rnd() < 0.5) s += pieces[Math.floor(rnd() * pieces.length)];
    else s += ALPHABET[Math.floor(rnd() * ALPHABET.length)];
  }
  return s;
}

function mulberry32(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('required literals: every match contains one (randomized, fixed seed)', () => {
  const rnd = mulberry32(42);
  for (const p of PATTERNS) {
    const t = translatePcre(p);
    const re = new RegExp(t.source, t.flags);
    const set = requiredLiterals(t.source);
    assert.ok(set, `literals for ${p}`);
    const pieces = [...set, ...set.map((x) => x.toUpperCase()), 'select ', 'union/**/all', '<script>', '../', '${jndi', 'java.lang.Runtime', 'abcee', 'adeeff', 'onload=', 'xyz'];
    let matches = 0;
    for (let k = 0; k < 3000; k++) {
      const s = randomString(rnd, pieces);
      if (!re.test(s)) continue;
      matches++;
      const low = s.toLowerCase();
      assert.ok(set.some((x) => low.includes(x)), `${p} matched ${JSON.stringify(s)} without any of ${JSON.stringify(set)}`);
    }
    assert.ok(matches > 0, `no random input matched ${p}`);
  }
});

test('ValueScanner.bitsFor: the shared empty set for a value without literals, a new set otherwise, the scratch left clear', () => {
  const sc = new ValueScanner([['select'], ['union']], [['etc/passwd']]);
  assert.equal(sc.bitsFor(0, 'running shoes'), sc.none);
  const a = sc.bitsFor(0, 'x UNION y');
  assert.notEqual(a, sc.none);
  assert.equal((a[0] & 2) !== 0, true);
  assert.equal((a[0] & 1) !== 0, false);
  // the phrase automaton only: the literal found above must not leak into this answer
  assert.equal(sc.bitsFor(2, 'union select'), sc.none);
  const p = sc.bitsFor(2, '/etc/passwd');
  assert.equal((p[0] & 4) !== 0, true);
  assert.equal((p[0] & 3) !== 0, false);
  assert.deepEqual(sc.none, zeroBits(sc.words));
  assert.equal(sc.bitsFor(0, 'nothing here'), sc.none);
});

test('ValueBytes: the same bits as the load-time byte sets, for every byte', () => {
  for (let c = 0; c < 256; c++) {
    const s = String.fromCharCode(c);
    const v = valueBytes(s);
    assert.deepEqual([...v].map((w) => w | 0), [...bytesOf(s)], `byte ${c}`);
    assert.equal(meets(v, bytesOf(s)), true);
    assert.equal(meets(v, bytesOf(String.fromCharCode((c + 1) & 0xff))), false);
  }
});

test('scanner: a bit per literal set, ASCII case-insensitive, same as a naive search', () => {
  const sets = [['select', 'union'], ['..'], ['<script', 'onerror'], ['abc'], ['b']];
  const sc = new LiteralScanner(sets);
  const rnd = mulberry32(7);
  const pieces = ['SeLeCt', 'uniON', '..', '.', '<scr', 'ipt', 'ONERROR', 'ab', 'c', 'B', '\xe9'];
  for (let k = 0; k < 2000; k++) {
    let s = '';
    for (let j = Math.floor(rnd() * 6); j > 0; j--) s += pieces[Math.floor(rnd() * pieces.length)];
    const bits = zeroBits(sc.words);
    sc.scanInto(s, bits);
    const low = s.replace(/[A-Z]/g, (c) => c.toLowerCase());
    sets.forEach((set, g) => {
      const want = set.some((x) => low.includes(x));
      const got = (bits[g >> 5] & (1 << (g & 31))) !== 0;
      assert.equal(got, want, `${JSON.stringify(s)} set ${g}`);
    });
  }
});
