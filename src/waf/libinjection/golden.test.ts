import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

import { detectSQLi, detectXSS, sqliFingerprint } from './index.ts';
import { FLAG_QUOTE_DOUBLE, FLAG_QUOTE_NONE, FLAG_QUOTE_SINGLE, FLAG_SQL_ANSI, FLAG_SQL_MYSQL } from './sqli.ts';

/*
 * Golden vectors: answers of the real libinjection 3.9.2 (C, as built into
 * ModSecurity 3.0.9's libmodsecurity.so.3) for 2000 inputs: the upstream
 * sample lines plus generated SQL-ish/HTML-ish/mutated/random-byte inputs.
 * Produced by tools/differential.ts --golden (see tools/oracle.py).
 * Inputs are byte strings (one code unit per byte).
 */
interface Golden {
  in: string;
  sqli: boolean;
  fp: string;
  xss: boolean;
  ctx: string[];
}

const here = dirname(fileURLToPath(import.meta.url));
const vectors = readFileSync(join(here, 'testdata/golden-libinjection-3.9.2.jsonl'), 'utf8')
  .split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Golden);
const CONTEXTS = [
  FLAG_QUOTE_NONE | FLAG_SQL_ANSI, FLAG_QUOTE_NONE | FLAG_SQL_MYSQL,
  FLAG_QUOTE_SINGLE | FLAG_SQL_ANSI, FLAG_QUOTE_SINGLE | FLAG_SQL_MYSQL,
  FLAG_QUOTE_DOUBLE | FLAG_SQL_MYSQL,
];

test('golden vectors file is present and varied', () => {
  assert.ok(vectors.length >= 2000);
  assert.ok(vectors.filter((v) => v.sqli).length > 300);
  assert.ok(vectors.filter((v) => v.xss).length > 100);
  assert.ok(vectors.filter((v) => !v.sqli && !v.xss).length > 1000);
});

test('detectSQLi matches libinjection_sqli() on every golden vector', () => {
  const wrong: string[] = [];
  for (const v of vectors) {
    const r = detectSQLi(v.in);
    if (r.isSqli !== v.sqli || r.fingerprint !== v.fp) {
      wrong.push(`${JSON.stringify(v.in)}: got ${r.isSqli}/${r.fingerprint}, want ${v.sqli}/${v.fp}`);
    }
  }
  assert.deepEqual(wrong.slice(0, 20), []);
});

test('fingerprints of all five contexts match libinjection_sqli_fingerprint()', () => {
  const wrong: string[] = [];
  for (const v of vectors) {
    for (let c = 0; c < CONTEXTS.length; c++) {
      const fp = sqliFingerprint(v.in, CONTEXTS[c]);
      if (fp !== v.ctx[c]) wrong.push(`${JSON.stringify(v.in)} ctx${c}: got ${fp}, want ${v.ctx[c]}`);
    }
  }
  assert.deepEqual(wrong.slice(0, 20), []);
});

test('detectXSS matches libinjection_xss() on every golden vector', () => {
  const wrong: string[] = [];
  for (const v of vectors) {
    const r = detectXSS(v.in);
    if (r !== v.xss) wrong.push(`${JSON.stringify(v.in)}: got ${r}, want ${v.xss}`);
  }
  assert.deepEqual(wrong.slice(0, 20), []);
});
