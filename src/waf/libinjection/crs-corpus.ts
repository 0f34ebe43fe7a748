/*
 * Quick check against the OWASP CRS regression corpus for the rules that use
 * libinjection: 942100 (@detectSQLi) and 941100/941101 (@detectXSS).
 *
 * This is not the WAF engine: it extracts the candidate values a rule would
 * look at (query/body parameters, path, User-Agent/Referer, XML attribute and
 * text values), applies an approximation of the rules' transformations
 * (URL decoding, for XSS also HTML entity decoding), and asks the detector.
 *
 *   node src/waf/libinjection/crs-corpus.ts [corpus.jsonl]
 */

import { readFileSync } from 'node:fs';
import { detectSQLi } from './sqli.ts';
import { detectXSS } from './xss.ts';
import { CRS_CORPUS } from '../../../scripts/shared.ts';

export const DEFAULT_CORPUS = CRS_CORPUS;
export const RULES = [942100, 941100, 941101];

export interface CorpusCase {
  id: string;
  rule_id: number;
  expect: 'attack' | 'benign';
  method: string;
  uri: string;
  headers: Record<string, string>;
  body: string;
}

export interface CaseResult {
  id: string;
  rule: number;
  expect: 'attack' | 'benign';
  detected: boolean;
  values: string[];
  hit?: string;
  fingerprint?: string;
}

/** urlDecodeUni-like: %XX, %uXXXX and '+'; invalid escapes are kept */
export function urlDecode(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '+') {
      out += ' ';
    } else if (c === '%' && (s[i + 1] === 'u' || s[i + 1] === 'U') && /^[0-9a-fA-F]{4}$/.test(s.slice(i + 2, i + 6))) {
      out += String.fromCharCode(parseInt(s.slice(i + 2, i + 6), 16));
      i += 5;
    } else if (c === '%' && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 1, i + 3))) {
      // bytes -> chars: collect a run and decode as UTF-8 when valid
      const bytes: number[] = [];
      while (s[i] === '%' && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 1, i + 3))) {
        bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
        i += 3;
      }
      i -= 1;
      const buf = Buffer.from(bytes);
      const utf8 = buf.toString('utf8');
      out += utf8.includes('\ufffd') ? buf.toString('latin1') : utf8;
    } else {
      out += c;
    }
  }
  return out;
}

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'", nbsp: '\u00a0' };

/** htmlEntityDecode-like */
export function htmlDecode(s: string): string {
  return s.replace(/&(#[xX][0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);?/g, (m, e: string) => {
    if (e[0] === '#') {
      const n = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return n <= 0x10ffff ? String.fromCodePoint(n) : m;
    }
    return ENTITIES[e.toLowerCase()] ?? m;
  });
}

function params(qs: string): string[] {
  const out: string[] = [];
  for (const part of qs.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    if (eq < 0) {
      out.push(part);
    } else {
      out.push(part.slice(0, eq), part.slice(eq + 1));
    }
  }
  return out;
}

/** raw (still encoded) candidate values of a test request */
export function rawValues(c: CorpusCase): string[] {
  const vals: string[] = [];
  const q = c.uri.indexOf('?');
  const path = q < 0 ? c.uri : c.uri.slice(0, q);
  vals.push(path);
  if (q >= 0) vals.push(...params(c.uri.slice(q + 1)));
  for (const h of ['User-Agent', 'Referer', 'Cookie']) {
    const v = c.headers[h];
    if (v !== undefined) vals.push(v);
  }
  const ct = (c.headers['Content-Type'] ?? '').toLowerCase();
  if (c.body) {
    if (ct.includes('xml')) {
      for (const m of c.body.matchAll(/="([^"]*)"/g)) vals.push(m[1]!);
      for (const m of c.body.matchAll(/>([^<]+)</g)) vals.push(m[1]!);
    } else if (ct.includes('x-www-form-urlencoded')) {
      vals.push(...params(c.body));
      vals.push(c.body);
    } else {
      vals.push(c.body);
    }
  }
  return vals;
}

export function loadCases(file = DEFAULT_CORPUS): CorpusCase[] {
  return readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as CorpusCase)
    .filter((c) => RULES.includes(c.rule_id));
}

export function runCase(c: CorpusCase): CaseResult {
  const isXss = c.rule_id !== 942100;
  const values: string[] = [];
  for (const raw of rawValues(c)) {
    let v = urlDecode(raw).replace(/\0/g, '');
    if (isXss) v = htmlDecode(v);
    values.push(v);
  }
  // 941100 (PL1) does not look at Referer nor the path: 941101 (PL2) does
  const filtered = c.rule_id === 941100
    ? values.filter((_, i) => {
      const raw = rawValues(c)[i]!;
      return raw !== c.headers.Referer && i !== 0;
    })
    : values;
  for (const v of filtered) {
    if (isXss) {
      if (detectXSS(v)) return { id: c.id, rule: c.rule_id, expect: c.expect, detected: true, values: filtered, hit: v };
    } else {
      const r = detectSQLi(v);
      if (r.isSqli) {
        return { id: c.id, rule: c.rule_id, expect: c.expect, detected: true, values: filtered, hit: v, fingerprint: r.fingerprint };
      }
    }
  }
  return { id: c.id, rule: c.rule_id, expect: c.expect, detected: false, values: filtered };
}

function main(): void {
  const file = process.argv[2] ?? DEFAULT_CORPUS;
  const cases = loadCases(file);
  let attacks = 0, caught = 0, benign = 0, fp = 0;
  for (const c of cases) {
    const r = runCase(c);
    if (c.expect === 'attack') {
      attacks++;
      if (r.detected) caught++;
    } else {
      benign++;
      if (r.detected) fp++;
    }
    const ok = r.detected === (c.expect === 'attack');
    console.log(`${ok ? 'ok  ' : 'MISS'} ${c.id.padEnd(12)} ${c.expect.padEnd(6)} detected=${r.detected}` +
      (r.fingerprint ? ` fp=${r.fingerprint}` : '') + (r.hit ? ` hit=${JSON.stringify(r.hit.slice(0, 80))}` : ''));
  }
  console.log(`attacks detected: ${caught}/${attacks}; benign flagged: ${fp}/${benign}`);
}

if (import.meta.main) main();
