/**
 * PCRE -> JavaScript regex translation and ReDoS protection.
 *
 * ModSecurity v3 compiles @rx with PCRE DOTALL|MULTILINE; we use the JS flags `sm` to match.
 * Inputs are byte strings (latin1: one char per byte), so `\x{HH}` maps to `\xHH`.
 * ReDoS: V8's backtracking engine falls back to its linear-time engine after a backtrack budget
 * when the flag --enable-experimental-regexp-engine-on-excessive-backtracks is on. We turn it on
 * at load (v8.setFlagsFromString) unless told not to, and check each pattern against the linear
 * engine (flag `l`) so the ones it cannot run (backreferences, lookarounds) are reported.
 */
import v8 from 'node:v8';
import type { Value } from 'regjsparser';
import { analyse, parseRegex, type Analysis } from './regex-ast.ts';

export interface TranslatedRegex {
  source: string;
  flags: string;
  /** notes about constructs that were approximated */
  notes: string[];
}

export class RegexTranslateError extends Error {
  readonly code = 'PCS_ERR_WAF_REGEX';
}

const POSIX: Record<string, string> = {
  alpha: 'A-Za-z', digit: '0-9', alnum: 'A-Za-z0-9', upper: 'A-Z', lower: 'a-z', space: '\\t\\n\\v\\f\\r ',
  xdigit: '0-9A-Fa-f', punct: '!-\\/:-@\\[-`{-~', word: 'A-Za-z0-9_', blank: ' \\t', cntrl: '\\x00-\\x1f\\x7f',
  print: '\\x20-\\x7e', graph: '\\x21-\\x7e',
};

const PCRE_SPACE = '\\t\\n\\v\\f\\r ';

function hexByte(cp: number): string {
  return '\\x' + cp.toString(16).padStart(2, '0');
}

function utf8Escapes(cp: number): string {
  return Array.from(Buffer.from(String.fromCodePoint(cp), 'utf8')).map(hexByte).join('');
}

const isLower = (c: string) => c >= 'a' && c <= 'z';
const isUpper = (c: string) => c >= 'A' && c <= 'Z';
const swapCase = (c: string) => (isLower(c) ? c.toUpperCase() : c.toLowerCase());

/** Extra class items so that range lo-hi also matches the other case of its letters. */
function caseRanges(lo: number, hi: number): string {
  let out = '';
  const add = (a: number, b: number, delta: number) => {
    const s = Math.max(lo, a);
    const e = Math.min(hi, b);
    if (s <= e) out += String.fromCharCode(s + delta) + (e > s ? '-' + String.fromCharCode(e + delta) : '');
  };
  add(97, 122, -32);
  add(65, 90, 32);
  return out;
}

/**
 * Translate a PCRE pattern (as written in SecLang) into a JS RegExp source + flags.
 * Case-insensitivity ((?i), (?i:...), caseless) is emulated with letter classes ([aA]) rather than
 * the /i flag, because V8's linear-time engine cannot run /i patterns.
 */
export function translatePcre(pattern: string, caseless = false, expandCounts = false, zAsDollar = false): TranslatedRegex {
  const notes: string[] = [];
  let ci = caseless;
  let src = pattern;
  const lead = /^\(\?([imsx]+)\)/.exec(src);
  if (lead) {
    for (const f of lead[1]) {
      if (f === 'x') throw new RegexTranslateError('extended mode (?x) is not supported');
      if (f === 'i') ci = true;
    }
    src = src.slice(lead[0].length);
  }
  let out = '';
  let inClass = false;
  let classStart = false;
  let lastQuant = false; // previous token was a quantifier (possessive detection)
  const groups: Array<{ ci: boolean; start: number }> = []; // case-insensitivity to restore, output offset
  let atomStart = 0; // output offset of the last atom (for rewriting counted repetition)
  const n = src.length;
  let i = 0;
  // a single byte given by code: add the other case when case-insensitive
  const classAware = (code: number): string => {
    const ch = String.fromCharCode(code);
    if (!ci || !(isLower(ch) || isUpper(ch))) return hexByte(code);
    return inClass ? ch + swapCase(ch) : `[${ch}${swapCase(ch)}]`;
  };
  // one class member at position k: a literal byte or a single-byte escape; null for class escapes (\d ...)
  const classAtom = (k: number): { code: number; next: number } | null => {
    const ch = src[k];
    if (ch === undefined) return null;
    if (ch !== '\\') return { code: ch.charCodeAt(0), next: k + 1 };
    const e = src[k + 1];
    if (e === 'x') {
      if (src[k + 2] === '{') { const end = src.indexOf('}', k + 3); if (end < 0) return null; return { code: parseInt(src.slice(k + 3, end), 16), next: end + 1 }; }
      const h = /^[0-9a-fA-F]{1,2}/.exec(src.slice(k + 2));
      return h ? { code: parseInt(h[0], 16), next: k + 2 + h[0].length } : null;
    }
    if (e >= '0' && e <= '7') { const o = /^[0-7]{1,3}/.exec(src.slice(k + 1))![0]; return { code: parseInt(o, 8) & 0xff, next: k + 1 + o.length }; }
    const simple: Record<string, number> = { n: 10, r: 13, t: 9, f: 12, v: 11, a: 7, e: 27 };
    if (simple[e] !== undefined) return { code: simple[e], next: k + 2 };
    if (e !== undefined && !/[A-Za-z0-9]/.test(e)) return { code: e.charCodeAt(0), next: k + 2 };
    return null;
  };
  while (i < n) {
    const c = src[i];
    if (inClass && c !== ']' && !(c === '[' && src[i + 1] === ':')) {
      const a = classAtom(i);
      if (a && src[a.next] === '-' && src[a.next + 1] !== ']' && src[a.next + 1] !== undefined) {
        const b = classAtom(a.next + 1);
        if (b) {
          if (b.code < a.code) throw new RegexTranslateError('range out of order in character class');
          classStart = false;
          out += hexByte(a.code) + '-' + hexByte(b.code);
          if (ci) out += caseRanges(a.code, b.code);
          i = b.next;
          continue;
        }
      }
      if (a && !(c === '^' && classStart)) {
        classStart = false;
        out += a.code > 0xff ? (() => { throw new RegexTranslateError('code point above 0xFF inside a class'); })() : classAware(a.code);
        i = a.next;
        continue;
      }
    }
    if (c === '\\') {
      if (!inClass) atomStart = out.length;
      const d = src[i + 1];
      if (d === undefined) throw new RegexTranslateError('pattern ends with a backslash');
      i += 2;
      lastQuant = false;
      classStart = false;
      if (d === 'x' && src[i] === '{') {
        const end = src.indexOf('}', i);
        if (end < 0) throw new RegexTranslateError('unterminated \\x{...}');
        const cp = parseInt(src.slice(i + 1, end), 16);
        i = end + 1;
        if (cp <= 0xff) out += hexByte(cp);
        else if (inClass) throw new RegexTranslateError(`\\x{${cp.toString(16)}} above 0xFF inside a class`);
        else { out += '(?:' + utf8Escapes(cp) + ')'; notes.push('code point > 0xFF matched as UTF-8 bytes'); }
        continue;
      }
      if (d === 'Q') {
        const end = src.indexOf('\\E', i);
        const lit = end < 0 ? src.slice(i) : src.slice(i, end);
        i = end < 0 ? n : end + 2;
        for (const ch of lit) out += ci && (isLower(ch) || isUpper(ch)) ? `[${ch}${swapCase(ch)}]` : ch.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
        continue;
      }
      if (d === 'E') continue;
      if (d === 'x' && /^[0-9a-fA-F]{1,2}/.test(src.slice(i))) {
        const h = /^[0-9a-fA-F]{1,2}/.exec(src.slice(i))![0];
        i += h.length;
        out += classAware(parseInt(h, 16));
        continue;
      }
      if (d === 'u' && /^[0-9a-fA-F]{4}/.test(src.slice(i))) { out += '\\u' + src.slice(i, i + 4); i += 4; continue; }
      if (d === 'c' && i < n) { out += '\\c' + src[i]; i++; continue; }
      if (d === 'z') {
        // exact end of subject needs a lookahead, which the linear engine cannot run; the retry
        // for linear time approximates it with the (multi-line) end of line
        if (zAsDollar) { out += '$'; notes.push('\\z approximated as end of line ($) to run in linear time'); } else out += '(?![\\s\\S])';
        continue;
      }
      if (d === 'Z') { out += '(?=\\n?(?![\\s\\S]))'; continue; }
      if (d === 'A') { out += '(?<![\\s\\S])'; continue; }
      if (d === 'G') throw new RegexTranslateError('\\G is not supported');
      if (d === 'h') { out += inClass ? ' \\t\\xa0' : '[ \\t\\xa0]'; continue; }
      if (d === 'H') { if (inClass) throw new RegexTranslateError('\\H inside a class'); out += '[^ \\t\\xa0]'; continue; }
      if (d === 'R') { if (inClass) throw new RegexTranslateError('\\R inside a class'); out += '(?:\\r\\n|[\\n\\v\\f\\r\\x85])'; continue; }
      if (d === 'e') { out += '\\x1b'; continue; }
      if (d === 'a') { out += '\\x07'; continue; }
      if (d === 's') { out += inClass ? PCRE_SPACE : `[${PCRE_SPACE}]`; continue; }
      if (d === 'S') { out += inClass ? '\\S' : `[^${PCRE_SPACE}]`; continue; }
      if (d === 'p' || d === 'P') throw new RegexTranslateError('Unicode properties \\p/\\P are not supported on byte strings');
      if (d >= '0' && d <= '7' && (d === '0' || inClass)) {
        let oct = d;
        while (oct.length < 3 && src[i] >= '0' && src[i] <= '7') { oct += src[i]; i++; }
        out += hexByte(parseInt(oct, 8) & 0xff);
        continue;
      }
      out += '\\' + d;
      continue;
    }
    if (inClass) {
      if (c === '[' && src[i + 1] === ':') {
        const end = src.indexOf(':]', i + 2);
        if (end > 0) {
          let name = src.slice(i + 2, end);
          const neg = name.startsWith('^');
          if (neg) name = name.slice(1);
          const cls = POSIX[name];
          if (!cls || neg) throw new RegexTranslateError(`POSIX class [:${name}:] not supported`);
          out += cls;
          i = end + 2;
          classStart = false;
          continue;
        }
      }
      if (c === ']' && !classStart) { inClass = false; out += ']'; i++; lastQuant = false; continue; }
      if (c === '^' && classStart) { out += '^'; i++; continue; }
      classStart = false;
      if (c === ']') { out += '\\]'; i++; continue; }
      out += c === '[' || c === '/' ? '\\' + c : c;
      i++;
      continue;
    }
    if (c === '[') { atomStart = out.length; inClass = true; classStart = true; out += '['; i++; lastQuant = false; continue; }
    if (c === '(') {
      lastQuant = false;
      if (src[i + 1] === '?') {
        const rest = src.slice(i + 2);
        if (rest.startsWith('>')) { out += '(?:'; i += 3; notes.push('atomic group treated as non-capturing'); groups.push({ ci, start: out.length }); continue; }
        if (rest.startsWith('|')) { out += '(?:'; i += 3; notes.push('branch-reset group treated as non-capturing'); groups.push({ ci, start: out.length }); continue; }
        if (rest.startsWith('P<')) { out += '(?<'; i += 4; groups.push({ ci, start: out.length }); continue; }
        if (rest.startsWith('#')) { const end = src.indexOf(')', i); i = end < 0 ? n : end + 1; continue; }
        const m = /^([imsx]*)(?:-([imsx]+))?([:)])/.exec(rest);
        if (m && (m[1] || m[2])) {
          if ((m[1] + (m[2] ?? '')).includes('x')) throw new RegexTranslateError('extended mode (?x) is not supported');
          const on = m[1].includes('i');
          const off = (m[2] ?? '').includes('i');
          if (m[3] === ':') { groups.push({ ci, start: out.length }); out += '(?:'; }
          if (on) ci = true;
          if (off) ci = false;
          i += 2 + m[0].length;
          continue;
        }
        groups.push({ ci, start: out.length });
        out += '(';
        i++;
        continue;
      }
      groups.push({ ci, start: out.length });
      out += '(';
      i++;
      continue;
    }
    if (c === ')') {
      if (groups.length === 0) throw new RegexTranslateError('unmatched )');
      const g = groups.pop()!;
      ci = g.ci;
      atomStart = g.start;
      out += ')';
      i++;
      lastQuant = false;
      continue;
    }
    if (c === '*' || c === '+' || c === '?') {
      if (c === '+' && lastQuant) { i++; lastQuant = false; notes.push('possessive quantifier treated as greedy'); continue; }
      if (c === '?' && lastQuant && src[i - 1] !== '?') { out += '?'; i++; lastQuant = false; continue; }
      out += c;
      i++;
      lastQuant = true;
      continue;
    }
    if (c === '{') {
      const m = /^\{\d*(?:,\d*)?\}/.exec(src.slice(i));
      if (m && m[0] !== '{}' && m[0] !== '{,}' && !m[0].startsWith('{,')) {
        const [lo, hi] = m[0].slice(1, -1).split(',');
        const min = Number(lo);
        const max = hi === undefined ? min : hi === '' ? Infinity : Number(hi);
        const atom = out.slice(atomStart);
        if (expandCounts && (max > 16 || min > 16) && !/(^|[^\\])\((?!\?)/.test(atom) && max < 4096) {
          // The linear engine replicates at most 16: spell X{m,n} as X..X (?:X(?:X...)?)?
          i += m[0].length;
          let lazy = false;
          if (src[i] === '?') { lazy = true; i++; } else if (src[i] === '+') i++;
          const q = lazy ? '??' : '?';
          let s = '';
          if (max === Infinity) s = `(?:${atom})*${lazy ? '?' : ''}`;
          else for (let k = 0; k < max - min; k++) s = `(?:${atom}${s})${q}`;
          out = out.slice(0, atomStart) + `(?:${atom})`.repeat(min) + s;
          notes.push(`counted repetition ${m[0]} spelled out for the linear engine`);
          lastQuant = false;
          continue;
        }
        out += m[0];
        i += m[0].length;
        lastQuant = true;
        continue;
      }
      out += '\\{';
      i++;
      lastQuant = false;
      continue;
    }
    lastQuant = false;
    atomStart = out.length;
    if (c === '}') { out += '\\}'; i++; continue; }
    if (c === '/') { out += '\\/'; i++; continue; }
    if (ci && (isLower(c) || isUpper(c))) { out += `[${c}${swapCase(c)}]`; i++; continue; }
    out += c;
    i++;
  }
  if (inClass) throw new RegexTranslateError('unterminated character class');
  if (groups.length) throw new RegexTranslateError('missing )');
  return { source: out, flags: 'ms', notes };
}

let guardInstalled = false;
let linearCheckAvailable = false;

/** Turn on V8's linear-engine fallback for excessive backtracking (process-wide). */
export function installRedosGuard(backtracksBeforeFallback = 1000): { fallback: boolean; linearCheck: boolean } {
  if (!guardInstalled) {
    v8.setFlagsFromString('--enable-experimental-regexp-engine-on-excessive-backtracks');
    v8.setFlagsFromString(`--regexp-backtracks-before-fallback=${backtracksBeforeFallback}`);
    v8.setFlagsFromString('--enable-experimental-regexp-engine');
    guardInstalled = true;
    const linearFlag = 'l'; // V8-only flag, hidden from static checks
    try { new RegExp('a', linearFlag); linearCheckAvailable = true; } catch { linearCheckAvailable = false; }
  }
  return { fallback: guardInstalled, linearCheck: linearCheckAvailable };
}

/** Whether V8's linear-time engine can run this pattern (null when the check is unavailable). */
export function linearCompatible(source: string, flags: string): boolean | null {
  if (!linearCheckAvailable) return null;
  try { new RegExp(source, flags + 'l'); return true; } catch { return false; }
}

// ---------------------------------------------------------------------------------------------
// Prefilter: the set of bytes of which every match must contain at least one. Computed from the
// translated (JS) source; when a value contains none of them the regex cannot match and is skipped.

type ByteSet = Uint8Array | null; // null = unconstrained

interface Info { set: ByteSet; optional: boolean }

const CLASS_D = () => range(48, 57);
const CLASS_W = () => { const s = range(48, 57); fill(s, 65, 90); fill(s, 97, 122); s[95] = 1; return s; };
const CLASS_S = () => { const s = new Uint8Array(256); for (const c of [9, 10, 11, 12, 13, 32, 0xa0]) s[c] = 1; return s; };
function range(a: number, b: number): Uint8Array { const s = new Uint8Array(256); fill(s, a, b); return s; }
function fill(s: Uint8Array, a: number, b: number): void { for (let c = a; c <= Math.min(b, 255); c++) s[c] = 1; }
function invert(s: Uint8Array): Uint8Array { const o = new Uint8Array(256); for (let c = 0; c < 256; c++) o[c] = s[c] ? 0 : 1; return o; }
function count(s: Uint8Array): number { let n = 0; for (let c = 0; c < 256; c++) n += s[c]; return n; }
function score(s: Uint8Array): number {
  let n = 0;
  for (let c = 0; c < 256; c++) if (s[c]) n += (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) ? 8 : 1;
  return n;
}

/** One byte, or an empty set for a code point no byte (latin1 value) can be. */
function codeSet(v: Value): Uint8Array {
  const s = new Uint8Array(256);
  // an escape above 0xFF can never be in a value; a character written as itself is taken by its low byte
  if ((v.kind === 'unicodeEscape' || v.kind === 'unicodeCodePointEscape') && v.codePoint > 255) return s;
  s[v.codePoint & 0xff] = 1;
  return s;
}

function escapeSet(e: 'd' | 'D' | 'w' | 'W' | 's' | 'S'): Uint8Array {
  const base = e === 'd' || e === 'D' ? CLASS_D() : e === 'w' || e === 'W' ? CLASS_W() : CLASS_S();
  return e === 'D' || e === 'W' || e === 'S' ? invert(base) : base;
}

/** Bytes one of which every match contains (the most selective such set of a sequence). */
const BYTES: Analysis<Info> = {
  zeroWidth: () => ({ set: null, optional: true }),
  unknown: () => ({ set: null, optional: false }),
  value: (v) => (v.kind === 'octal' ? { set: null, optional: false } : { set: codeSet(v), optional: false }),
  classEscape: (e) => ({ set: escapeSet(e), optional: false }),
  characterClass(c) {
    const set = new Uint8Array(256);
    for (const item of c.body) {
      if (item.type === 'characterClassEscape') { const e = escapeSet(item.value); for (let k = 0; k < 256; k++) if (e[k]) set[k] = 1; } else if (item.type === 'value') { const e = codeSet(item); for (let k = 0; k < 256; k++) if (e[k]) set[k] = 1; } else if (item.type === 'characterClassRange') {
        const lo = codeSet(item.min).indexOf(1), hi = codeSet(item.max).indexOf(1);
        if (lo < 0 || hi < 0) throw new Error('class range');
        fill(set, lo, hi);
      } else throw new Error('class item');
    }
    return { set: c.negative ? invert(set) : set, optional: false };
  },
  quantified: (atom, min) => (min === 0 ? { set: null, optional: true } : atom),
  sequence(items) {
    let best: Uint8Array | null = null;
    let mandatory = false;
    for (const it of items) {
      if (it.optional) continue;
      mandatory = true;
      if (it.set && (best === null || score(it.set) < score(best))) best = it.set;
    }
    return { set: best, optional: !mandatory };
  },
  choice(alts) {
    if (alts.length === 1) return alts[0];
    if (alts.some((a) => a.optional || a.set === null)) return { set: null, optional: alts.some((a) => a.optional) };
    const u = new Uint8Array(256);
    for (const a of alts) for (let c = 0; c < 256; c++) if (a.set![c]) u[c] = 1;
    return { set: u, optional: false };
  },
};

/**
 * 256-bit set (8 x 32-bit words) of bytes that every match of the JS regex source must contain,
 * or null when no useful constraint is known (the regex then always runs).
 */
export function requiredBytes(source: string): Int32Array | null {
  let set: ByteSet;
  try { const info = analyse(parseRegex(source), BYTES); set = info.optional ? null : info.set; } catch { return null; }
  if (!set || count(set) >= 200) return null;
  const s = set;
  return byteBits((c) => s[c] !== 0);
}

/** The 256-bit set (8 x 32-bit words) of the bytes `has` accepts: every load-time byte set is built here. */
export function byteBits(has: (byte: number) => boolean): Int32Array {
  const bits = new Int32Array(8);
  for (let c = 0; c < 256; c++) if (has(c)) bits[c >> 5] |= 1 << (c & 31);
  return bits;
}

/** 256-bit presence set of the bytes of a string, as an Int32Array like the load-time sets (for load-time code and tests; a transaction builds ValueBytes: valueBytes). */
export function bytesOf(s: string): Int32Array {
  const bits = new Int32Array(8);
  for (let i = 0; i < s.length; i++) { const c = s.charCodeAt(i) & 0xff; bits[c >> 5] |= 1 << (c & 31); }
  return bits;
}

/**
 * A byte set built while a transaction runs (of a value, or a union of values): the same 8 x 32
 * bits as the load-time sets, in a plain array of doubles instead of an Int32Array. V8 makes an
 * Int32Array(8) ~250 bytes of heap plus a malloc'd buffer extension the GC must sweep; this is
 * ~90 bytes and nothing else, and a GET at PL1 builds ~130 such sets. The literal -0 gives the
 * array double elements from the start, so it never changes kind (a bit 31 is no small integer).
 * The hot code only ever sees this one kind in these arrays, and Int32Array in the load-time sets.
 */
export type ValueBytes = number[];

export function emptyValueBytes(): ValueBytes {
  return [-0, 0, 0, 0, 0, 0, 0, 0];
}

/** The byte set of a string, as a ValueBytes. */
export function valueBytes(s: string): ValueBytes {
  const bits = emptyValueBytes();
  for (let i = 0; i < s.length; i++) { const c = s.charCodeAt(i) & 0xff; bits[c >> 5] |= 1 << (c & 31); }
  return bits;
}

/**
 * Whether a transaction's byte set and a load-time one share a byte: `intersects` with a ValueBytes
 * on the left, kept apart so each function's call sites see one kind of array (V8's feedback is per
 * function: one shared function would make every bit test polymorphic).
 */
export function meets(a: ValueBytes, b: Int32Array): boolean {
  return ((a[0] & b[0]) | (a[1] & b[1]) | (a[2] & b[2]) | (a[3] & b[3]) | (a[4] & b[4]) | (a[5] & b[5]) | (a[6] & b[6]) | (a[7] & b[7])) !== 0;
}

export function intersects(a: Int32Array, b: Int32Array): boolean {
  return ((a[0] & b[0]) | (a[1] & b[1]) | (a[2] & b[2]) | (a[3] & b[3]) | (a[4] & b[4]) | (a[5] & b[5]) | (a[6] & b[6]) | (a[7] & b[7])) !== 0;
}

// ---------------------------------------------------------------------------------------------
// Long inputs. V8's backtrack budget (installRedosGuard) counts the backtracks of a whole search,
// over every start position, so a long benign value (16 KiB of prose) spends it on the small
// backtracks of thousands of start positions and the search restarts on the linear engine: CRS's
// 932 family took 18 ms per pattern on 16 KiB of words there, against 0.1 ms on the backtracking
// engine without a budget. A search is the first start position whose anchored (sticky) match
// succeeds, so searching position by position with the sticky twin gives the same match (index
// and groups), and each position gets a budget of its own.

/** Inputs shorter than this always take one plain search: the budget rarely runs out on them. */
export const LONG_INPUT = 1024;
/** A plain search on a long input slower than this (ns per char) went to the linear engine. */
const SLOW_NS_PER_CHAR = 100;
/** What the position-by-position search may spend (ns per char) before it hands over to one plain search. */
const BUDGET_NS_PER_CHAR = 200;
/** ... plus this much (ms), so that a GC pause does not hand a search of a few KiB over */
const BUDGET_FLOOR_MS = 0.5;
/** Position by position from the second slow plain search in a row on; every RECHECK-th long input is searched plainly again. */
const STRIKES = 2;
const RECHECK = 64;
/** After a position-by-position search ran over its budget, this many long inputs are searched plainly. */
const COOLDOWN = 64;

/**
 * Runs one @rx. Short inputs: `re` as it is. Long inputs: a plain search, timed; once two in a
 * row ran slow (the budget ran out and the linear engine took over: a GC pause in one of them is
 * not enough), later long inputs are searched position by position with a sticky twin of `re`,
 * each position with a backtrack budget of its own. Every RECHECK-th long input is searched
 * plainly again, timed, so a runner that learned wrong (a cheap pattern slowed down twice by
 * something else) finds out: position by position costs ~70 ns per char, whatever the pattern.
 *
 * Bounded: the position-by-position search checks the clock after every position (after every
 * one: a single anchored attempt can itself restart on the linear engine and read to the end of
 * the input) and, past BUDGET_NS_PER_CHAR per char of the input, finishes with one plain search
 * from the next position (`global`, the same pattern with `g`). An input on which the anchored
 * attempts restart on the linear engine (16 KiB of newlines against CRS 932230) costs the budget,
 * one attempt and one plain search: up to twice the plain search. The next COOLDOWN long inputs
 * are then searched plainly, so a flood of such inputs costs what it cost before this runner.
 * Only for patterns the linear engine runs (`fallback`): the others have no budget to run out of.
 *
 * What the runner learns changes the cost of a search, never its result.
 */
export class RegexRunner {
  readonly re: RegExp;
  /** long inputs go position by position */
  perPosition = false;
  private readonly fallback: boolean;
  private readonly budgetNsPerChar: number;
  private readonly budgetFloorMs: number;
  private strikes = 0;
  private longRuns = 0;
  private cooldown = 0;
  private sticky: RegExp | null = null;
  private global: RegExp | null = null;
  constructor(re: RegExp, fallback: boolean, budgetNsPerChar = BUDGET_NS_PER_CHAR, budgetFloorMs = BUDGET_FLOOR_MS) {
    this.re = re;
    this.fallback = fallback;
    this.budgetNsPerChar = budgetNsPerChar;
    this.budgetFloorMs = budgetFloorMs;
  }

  exec(s: string): RegExpExecArray | null {
    if (s.length < LONG_INPUT || !this.fallback) return this.re.exec(s);
    if (this.cooldown > 0) this.cooldown--;
    else if (this.perPosition && ++this.longRuns % RECHECK !== 0) return this.byPosition(s);
    const t0 = performance.now();
    const m = this.re.exec(s);
    if (performance.now() - t0 > s.length * SLOW_NS_PER_CHAR / 1e6) {
      if (++this.strikes >= STRIKES) this.perPosition = true;
    } else {
      this.strikes = 0;
      this.perPosition = false;
    }
    return m;
  }

  /** long inputs are searched plainly for now (a position-by-position search ran over its budget) */
  get coolingDown(): boolean { return this.cooldown > 0; }

  test(s: string): boolean {
    return s.length < LONG_INPUT || !this.fallback ? this.re.test(s) : this.exec(s) !== null;
  }

  /** The first match of `re` in s, one start position at a time (see the class comment). */
  byPosition(s: string): RegExpExecArray | null {
    let y = this.sticky;
    if (y === null) {
      // compiled before the clock starts (one attempt at the end of a long subject: V8 compiles
      // it to native code at once), so the budget is not spent compiling
      y = this.sticky = new RegExp(this.re.source, this.re.flags + 'y');
      y.lastIndex = s.length;
      y.exec(s);
    }
    const budget = this.budgetFloorMs + s.length * this.budgetNsPerChar / 1e6;
    let deadline = performance.now() + budget;
    const cpu0 = cpuMs();
    for (let p = 0; p <= s.length; p++) {
      y.lastIndex = p;
      const m = y.exec(s);
      if (m !== null) return m;
      if (performance.now() > deadline) {
        // the clock also ran while another process had the CPU: what counts is CPU time (read
        // only here, when the clock says the budget is spent)
        const used = cpuMs() - cpu0;
        if (used < budget) { deadline = performance.now() + (budget - used); continue; }
        this.cooldown = COOLDOWN;
        if (p === s.length) return null;
        const g = this.global ??= new RegExp(this.re.source, this.re.flags + 'g');
        g.lastIndex = p + 1;
        return g.exec(s);
      }
    }
    return null;
  }
}

/** CPU time of this process (user and system), in ms. */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}
