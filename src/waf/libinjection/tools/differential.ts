/*
 * Differential check of this port against the real libinjection (C) through
 * tools/oracle.py. Dev-time only: needs python3 and libmodsecurity.so.3
 * (which embeds libinjection 3.9.2), see oracle.py.
 *
 *   LIBMODSECURITY=/path/libmodsecurity.so.3 node src/waf/libinjection/tools/differential.ts \
 *       [--n 20000] [--seed 1] [--golden out.jsonl --golden-n 1500]
 *
 * Generates SQL-ish, HTML-ish, mutated-sample and random-byte inputs, runs both
 * implementations and compares: the libinjection_sqli() verdict and
 * fingerprint, the fingerprint of each of the 5 contexts, the raw token
 * stream and the folded tokens, and libinjection_xss().
 * With --golden it writes a sample of the oracle's answers as test vectors.
 */

import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import {
  detectSQLi, sqliFingerprint, sqliFoldDetails, sqliTokenDetails,
  FLAG_QUOTE_DOUBLE, FLAG_QUOTE_NONE, FLAG_QUOTE_SINGLE, FLAG_SQL_ANSI, FLAG_SQL_MYSQL,
} from '../sqli.ts';
import type { SqliTokenDetail } from '../sqli.ts';
import { detectXSS } from '../xss.ts';
import { toByteString } from '../sqli.ts';
import { readSamples } from '../samples.ts';
import { SQL_KEYWORDS } from '../sqli-data.ts';

const here = dirname(fileURLToPath(import.meta.url));
const CONTEXTS = [
  FLAG_QUOTE_NONE | FLAG_SQL_ANSI, FLAG_QUOTE_NONE | FLAG_SQL_MYSQL,
  FLAG_QUOTE_SINGLE | FLAG_SQL_ANSI, FLAG_QUOTE_SINGLE | FLAG_SQL_MYSQL,
  FLAG_QUOTE_DOUBLE | FLAG_SQL_MYSQL,
];

// ---- deterministic PRNG (mulberry32) ----
let seed = 1;
function rnd(): number {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
function pick<T>(a: readonly T[]): T {
  return a[Math.floor(rnd() * a.length)]!;
}
function randCase(s: string): string {
  let o = '';
  for (const c of s) {
    const k = c.charCodeAt(0);
    o += k < 128 ? (rnd() < 0.5 ? c.toLowerCase() : c.toUpperCase()) : c;
  }
  return o;
}

const WORDS = SQL_KEYWORDS.filter((e) => e[0] !== 'F').map((e) => e.slice(1));
const SQL_FRAGMENTS = [
  '1', '0', '42', '0x1f', '0x', '0b01', '0b', '1.5', '1.5e3', '1e', '1.e', '.5', '.', '1f', '1d', '1fUNION', '$1,000', '$.', '$',
  "'a'", '"b"', "'", '"', "'x", "''", "'a''b'", "'a\\'b'", "N'x'", "n'", "E'x'", "q'[x]'", "Q'<x>'", "nq'{x}'", "U&'x'",
  "x'41'", "X'4g'", "b'01'", "B'2'", '$$x$$', '$$', '$a$x$a$', '$ab$x', '`x`', '`', '`sleep`', '``',
  '=', '<', '>', '<=', '>=', '<>', '!=', '<=>', '||', '&&', '|', '&', '^', '~', '!', '!!', '+', '-', '*', '/', '%', '::', ':=', ':',
  '(', ')', ',', ';', '{', '}', '[x]', '[', ']', '?',
  '--', '-- ', '--x', '#', '#x', '/*', '*/', '/* x */', '/*! x */', '/* /* */', '/**/', '/*x',
  '@a', '@@version', '@', '@@', "@'x'", '@`x`', '\\N', '\\', '\\%',
  ' ', ' ', ' ', '\t', '\n', '\x0b', '\xa0', '\0', '\x80', '\xe9', '\xff',
  'sp_password', 'IN', 'NOT IN', 'LIKE', 'NOT LIKE', 'INTO OUTFILE', 'COLLATE', 'utf8_bin', 'USER', 'IF', 'CASE', 'WHEN',
];
const XSS_FRAGMENTS = [
  '<', '>', '</', '/>', '/', '<!', '<!--', '-->', '--!>', '-', '<?', '?>', '<%', '%>', '<![CDATA[', ']]>', ']',
  'script', 'img', 'svg', 'svganimate', 'xsl', 'a', 'x', 'xss', 'style', 'iframe', 'div', 'p', 'base', 'meta', 'link', 'object',
  '!DOCTYPE', 'DOCTYPE', 'xml', 'import', 'entity', '[if', 'x:script',
  'href', 'src', 'onerror', 'onx', 'on', 'onload', 'style', 'filter', 'xmlns', 'xmlns:x', 'xlink:href', 'attributename', 'data',
  'datasrc', 'formaction', 'to', 'by', 'values', 'from', 'background',
  '=', '"', "'", '`', ' ', ' ', '\t', '\n', '\0', '\x0b', '\x0c', '\r',
  'javascript:alert(1)', 'JaVaScRiPt:', 'java', 'data:', 'vbscript:', 'view-source:', 'http://x', 'alert(1)',
  '&#106;', '&#x6A;', '&#0;', '&#', '&#x', '&lt;', '&', '&#32;', '&#x20;', '&#1114367;', '&#x110000;', 'j', 'ava',
  '\x80', '\xff', 'text', 'onclick', 'class',
];

function genSql(): string {
  const n = 1 + Math.floor(rnd() * (rnd() < 0.25 ? 30 : 10));
  let s = '';
  for (let i = 0; i < n; i++) {
    const r = rnd();
    let f = r < 0.25 ? pick(WORDS) : pick(SQL_FRAGMENTS);
    if (rnd() < 0.3) f = randCase(f);
    s += f;
    if (rnd() < 0.6) s += pick([' ', ' ', ' ', '', '\n', '\t']);
  }
  return s;
}

function genXss(): string {
  const n = 1 + Math.floor(rnd() * 12);
  let s = '';
  for (let i = 0; i < n; i++) {
    let f = pick(XSS_FRAGMENTS);
    if (rnd() < 0.3) f = randCase(f);
    s += f;
  }
  return s;
}

const ALPHABET = " '\"`<>=/*-#!@$\\(),;.:&|01aexnqubNOR\t\n\0\xa0\xff[]{}%+";
function genBytes(): string {
  const n = 1 + Math.floor(rnd() * 16);
  let s = '';
  for (let i = 0; i < n; i++) {
    s += rnd() < 0.8 ? ALPHABET[Math.floor(rnd() * ALPHABET.length)] : String.fromCharCode(Math.floor(rnd() * 256));
  }
  return s;
}

const SAMPLES = [
  // Upstream's sample files are not committed (third-party data); point LIBINJECTION_SAMPLES_DIR
  // at a local copy of libinjection's data/ folder to add them to the comparison.
  ...(process.env.LIBINJECTION_SAMPLES_DIR
    ? ['sqli-misc.txt', 'false_positives.txt', 'xss-smoke-test.txt', 'xss-owasp-cheatsheet-20131120.txt']
      .map((f) => join(process.env.LIBINJECTION_SAMPLES_DIR!, f)).filter((f) => existsSync(f)).flatMap((f) => readSamples(f))
    : []),
].map((s) => s.input);

function mutate(): string {
  let s = pick(SAMPLES);
  const edits = 1 + Math.floor(rnd() * 3);
  for (let e = 0; e < edits; e++) {
    const i = Math.floor(rnd() * (s.length + 1));
    const r = rnd();
    if (r < 0.4) s = s.slice(0, i) + s.slice(i + 1);
    else if (r < 0.8) s = s.slice(0, i) + ALPHABET[Math.floor(rnd() * ALPHABET.length)] + s.slice(i);
    else s = s.slice(0, i) + pick(SQL_FRAGMENTS) + s.slice(i);
  }
  return s;
}

interface OracleResult {
  sqli: boolean;
  fp: string;
  xss: boolean;
  ctx: string[];
  tokens: Array<[string, string, number, number, number, number]>;
  fold: Array<[string, string, number, number, number, number]>;
}

function runOracle(inputs: string[]): OracleResult[] {
  // the same byte mapping as the detectors use
  const hex = inputs.map((s) => Buffer.from(toByteString(s), 'latin1').toString('hex')).join('\n') + '\n';
  const r = spawnSync('python3', [join(here, 'oracle.py')], { input: hex, maxBuffer: 1 << 30, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`oracle failed: ${r.stderr}`);
  return r.stdout.trim().split('\n').map((l) => JSON.parse(l) as OracleResult);
}

function toks(d: SqliTokenDetail[]): string {
  return JSON.stringify(d.map((t) => [t.type, t.val, t.strOpen, t.strClose, t.len, t.count]));
}

function main(): void {
  const args = process.argv.slice(2);
  const arg = (k: string, d: string): string => {
    const i = args.indexOf(k);
    return i >= 0 ? args[i + 1]! : d;
  };
  const n = Number(arg('--n', '20000'));
  seed = Number(arg('--seed', '1'));
  const golden = arg('--golden', '');
  const goldenN = Number(arg('--golden-n', '1500'));

  const inputs: string[] = [...SAMPLES];
  while (inputs.length < n + SAMPLES.length) {
    const r = rnd();
    inputs.push(r < 0.35 ? genSql() : r < 0.6 ? genXss() : r < 0.85 ? mutate() : genBytes());
  }
  const oracle = runOracle(inputs);
  const diffs: Record<string, number> = {};
  const examples: string[] = [];
  for (let i = 0; i < inputs.length; i++) {
    const s = inputs[i]!;
    const o = oracle[i]!;
    const mine = detectSQLi(s);
    const problems: string[] = [];
    if (mine.isSqli !== o.sqli || mine.fingerprint !== o.fp) problems.push(`sqli ${JSON.stringify(mine)} vs ${o.sqli}/${o.fp}`);
    for (let c = 0; c < CONTEXTS.length; c++) {
      const fp = sqliFingerprint(s, CONTEXTS[c]);
      if (fp !== o.ctx[c]) problems.push(`ctx${c} ${fp} vs ${o.ctx[c]}`);
    }
    const t = toks(sqliTokenDetails(s));
    if (t !== JSON.stringify(o.tokens)) problems.push(`tokens ${t} vs ${JSON.stringify(o.tokens)}`);
    const f = toks(sqliFoldDetails(s));
    if (f !== JSON.stringify(o.fold)) problems.push(`fold ${f} vs ${JSON.stringify(o.fold)}`);
    const x = detectXSS(s);
    if (x !== o.xss) problems.push(`xss ${x} vs ${o.xss}`);
    for (const p of problems) {
      const k = p.split(' ')[0]!;
      diffs[k] = (diffs[k] ?? 0) + 1;
      if (examples.length < 40) {
        examples.push(`${JSON.stringify(s)}: ${p.slice(0, 400)} (previous input: ${JSON.stringify(inputs[i - 1])})`);
      }
    }
  }
  for (const e of examples) console.log(e);
  console.log(`inputs: ${inputs.length}; differences by kind: ${JSON.stringify(diffs)}`);
  const sqliPos = oracle.filter((o) => o.sqli).length;
  const xssPos = oracle.filter((o) => o.xss).length;
  console.log(`oracle positives: sqli ${sqliPos}, xss ${xssPos}`);

  if (golden) {
    // a deterministic sample: every sample line plus random picks, balanced a bit towards positives
    const out: string[] = [];
    const chosen = new Set<number>();
    for (let i = 0; i < SAMPLES.length; i++) chosen.add(i);
    const gen: number[] = [];
    for (let i = SAMPLES.length; i < inputs.length; i++) gen.push(i);
    for (const i of gen) {
      if (chosen.size >= goldenN) break;
      const o = oracle[i]!;
      if (o.sqli || o.xss || rnd() < 0.35) chosen.add(i);
    }
    for (const i of [...chosen].sort((a, b) => a - b)) {
      const o = oracle[i]!;
      out.push(JSON.stringify({ in: inputs[i], sqli: o.sqli, fp: o.fp, xss: o.xss, ctx: o.ctx }));
    }
    writeFileSync(golden, out.join('\n') + '\n');
    console.log(`wrote ${out.length} golden vectors to ${golden}`);
  }
}

main();
