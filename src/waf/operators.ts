/**
 * Operators (@rx, @pm, @eq, ...). Each is compiled once at load into a matcher function.
 * Inputs are byte strings (latin1).
 */
import { readFileSync } from 'node:fs';
import { resolve, dirname, isAbsolute } from 'node:path';
import { AhoCorasick } from './ahocorasick.ts';
import { translatePcre, linearCompatible, RegexTranslateError, byteBits, requiredBytes, RegexRunner } from './regex.ts';
import { requiredLiterals } from './literals.ts';
import type { Macro } from './macro.ts';
import { compileMacro } from './macro.ts';

export interface OpTx {
  expand(m: Macro): string;
  setCaptures(groups: ArrayLike<string | undefined>): void;
}

export type OpFn = ((input: string, tx: OpTx, capture: boolean) => boolean) & {
  /** bytes of which any matching input contains at least one (a prefilter), when known */
  req?: Int32Array | null;
  /** literals (lower case) of which any matching input contains one, ASCII case folded (literals.ts), when known */
  lits?: string[] | null;
  /** @pm phrases: the operator matches exactly when the input contains one (ASCII case folded) */
  phrases?: string[];
};

export interface LibInjection {
  detectSQLi(input: string): { isSqli: boolean; fingerprint: string };
  detectXSS(input: string): boolean;
}

export interface OpCompileContext {
  file: string;
  line: number;
  ruleId: number;
  warn(msg: string): void;
  regexReport(entry: RegexReportEntry): void;
  libinjection: LibInjection | null;
  /** cache of data files already read */
  dataCache: Map<string, string[]>;
}

export interface RegexReportEntry {
  ruleId: number;
  file: string;
  line: number;
  linear: boolean | null;
  notes: string[];
}

export class OperatorError extends Error {}

/** Matchers shared by rules that load the same phrases (immutable once built). */
const acCache = new Map<string, AhoCorasick>();

/** ModSecurity converts operands with atoi-like parsing: leading digits, otherwise 0. */
export const numeric = (s: string): number => {
  const n = parseInt(s, 10);
  return Number.isNaN(n) ? 0 : n;
};

export function compileRegexWithPrefilter(pattern: string, ctx: OpCompileContext | null): { re: RegExp; linear: boolean | null; req: Int32Array | null; lits: string[] | null } {
  let t = translatePcre(pattern);
  let linear = linearCompatible(t.source, t.flags);
  if (linear === false) {
    // retry with counted repetitions spelled out (the linear engine replicates at most 16),
    // then also with \z approximated as $ (the linear engine has no lookahead)
    for (const z of [false, true]) {
      const t2 = translatePcre(pattern, false, true, z);
      if (linearCompatible(t2.source, t2.flags)) { t = t2; linear = true; break; }
    }
  }
  const re = new RegExp(t.source, t.flags);
  if (ctx) ctx.regexReport({ ruleId: ctx.ruleId, file: ctx.file, line: ctx.line, linear, notes: t.notes });
  return { re, linear, req: requiredBytes(t.source), lits: requiredLiterals(t.source) };
}

function readData(file: string, ctx: OpCompileContext): string[] {
  const path = isAbsolute(file) ? file : resolve(dirname(ctx.file), file);
  let lines = ctx.dataCache.get(path);
  if (!lines) {
    let text: string;
    try { text = readFileSync(path, 'latin1'); } catch (e) { throw new OperatorError(`cannot read data file ${path}: ${(e as Error).message}`); }
    lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
    ctx.dataCache.set(path, lines);
  }
  return lines;
}

/** Parse "1.2.3.0/24,::1" into a matcher. */
export function ipMatcher(list: string[]): (ip: string) => boolean {
  const v4: Array<[number, number]> = [];
  const v6: Array<[bigint, bigint]> = [];
  for (const raw of list) {
    const item = raw.trim();
    if (!item) continue;
    const [addr, bitsStr] = item.split('/');
    if (addr.includes(':')) {
      const v = ip6ToBig(addr);
      if (v === null) throw new OperatorError(`bad IPv6 address '${item}'`);
      const bits = bitsStr === undefined ? 128 : Number(bitsStr);
      const mask = bits === 0 ? 0n : ((1n << 128n) - 1n) ^ ((1n << BigInt(128 - bits)) - 1n);
      v6.push([v & mask, mask]);
    } else {
      const v = ip4ToNum(addr);
      if (v === null) throw new OperatorError(`bad IPv4 address '${item}'`);
      const bits = bitsStr === undefined ? 32 : Number(bitsStr);
      const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
      v4.push([(v & mask) >>> 0, mask]);
    }
  }
  return (ip: string) => {
    if (ip.includes(':')) {
      const m4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
      if (m4) ip = m4[1];
      else {
        const v = ip6ToBig(ip);
        if (v === null) return false;
        return v6.some(([net, mask]) => (v & mask) === net);
      }
    }
    const v = ip4ToNum(ip);
    if (v === null) return false;
    return v4.some(([net, mask]) => ((v & mask) >>> 0) === net);
  };
}

function ip4ToNum(s: string): number | null {
  const p = s.split('.');
  if (p.length !== 4) return null;
  let v = 0;
  for (const x of p) {
    if (!/^\d{1,3}$/.test(x) || Number(x) > 255) return null;
    v = v * 256 + Number(x);
  }
  return v >>> 0;
}

function ip6ToBig(s: string): bigint | null {
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const parse = (h: string) => (h === '' ? [] : h.split(':'));
  const head = parse(halves[0]);
  const tail = halves.length === 2 ? parse(halves[1]) : [];
  const groups = halves.length === 2 ? [...head, ...Array(8 - head.length - tail.length).fill('0'), ...tail] : head;
  if (groups.length !== 8) return null;
  let v = 0n;
  for (const g of groups) {
    if (!/^[0-9a-f]{1,4}$/i.test(g)) return null;
    v = (v << 16n) | BigInt(parseInt(g, 16));
  }
  return v;
}

function byteRange(param: string): Uint8Array {
  const ok = new Uint8Array(256);
  for (const part of param.split(',')) {
    const p = part.trim();
    if (!p) continue;
    const m = /^(\d+)(?:-(\d+))?$/.exec(p);
    if (!m) throw new OperatorError(`bad byte range '${p}'`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (a > 255 || b > 255 || a > b) throw new OperatorError(`bad byte range '${p}'`);
    for (let k = a; k <= b; k++) ok[k] = 1;
  }
  return ok;
}

export function invalidUrlEncoding(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) !== 37) continue;
    if (i + 2 >= s.length) return true;
    const a = s.charCodeAt(i + 1);
    const b = s.charCodeAt(i + 2);
    const hx = (c: number) => (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
    if (!hx(a) || !hx(b)) return true;
    i += 2;
  }
  return false;
}

export function invalidUtf8(s: string): boolean {
  const n = s.length;
  let i = 0;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (c < 0x80) { i++; continue; }
    let len: number;
    let min: number;
    let cp: number;
    if ((c & 0xe0) === 0xc0) { len = 2; min = 0x80; cp = c & 0x1f; } else if ((c & 0xf0) === 0xe0) { len = 3; min = 0x800; cp = c & 0x0f; } else if ((c & 0xf8) === 0xf0) { len = 4; min = 0x10000; cp = c & 0x07; } else return true;
    if (i + len > n) return true;
    for (let k = 1; k < len; k++) {
      const cc = s.charCodeAt(i + k);
      if ((cc & 0xc0) !== 0x80) return true;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return true;
    i += len;
  }
  return false;
}

/** Compile operator `name` with parameter `param`. */
export function compileOperator(name: string, param: string, ctx: OpCompileContext): OpFn {
  const lname = name.toLowerCase();
  const hasMacro = param.includes('%{');
  const pm = hasMacro ? compileMacro(param) : null;
  const arg = (tx: OpTx) => (pm ? tx.expand(pm) : param);
  switch (lname) {
    case 'rx': {
      if (hasMacro) {
        const cache = new Map<string, RegexRunner>();
        return (input, tx, capture) => {
          const p = arg(tx);
          let run = cache.get(p);
          if (!run) {
            const c = compileRegexWithPrefilter(p, null);
            run = new RegexRunner(c.re, c.linear === true);
            if (cache.size < 256) cache.set(p, run);
          }
          return rxMatch(run, input, tx, capture);
        };
      }
      let c: ReturnType<typeof compileRegexWithPrefilter>;
      try { c = compileRegexWithPrefilter(param, ctx); } catch (e) {
        const msg = e instanceof RegexTranslateError || e instanceof SyntaxError ? e.message : String(e);
        throw new OperatorError(`cannot compile @rx pattern: ${msg}`);
      }
      const { req, lits } = c;
      // long inputs may be searched position by position (RegexRunner); only where the linear
      // engine can take over (linear is only known, true or false, once the guard is installed:
      // linearCompatible), which is what makes that search bounded
      const run = new RegexRunner(c.re, c.linear === true);
      const fn: OpFn = (input, tx, capture) => rxMatch(run, input, tx, capture);
      fn.req = req;
      fn.lits = lits;
      return fn;
    }
    case 'pm':
    case 'pmf':
    case 'pmfromfile': {
      let phrases: string[];
      if (lname === 'pm') phrases = param.split(/\s+/).filter(Boolean);
      else phrases = param.split(/\s+/).filter(Boolean).flatMap((f) => readData(f, ctx));
      const key = phrases.join('\n');
      let ac = acCache.get(key);
      if (!ac) { ac = new AhoCorasick(phrases); acCache.set(key, ac); }
      const ac2 = ac;
      const fn: OpFn = (input, tx, capture) => {
        const m = ac2.match(input);
        if (m === null) return false;
        if (capture) tx.setCaptures([m]);
        return true;
      };
      const nonEmpty = phrases.filter((x) => x.length > 0);
      if (nonEmpty.length > 0) fn.phrases = nonEmpty;
      return fn;
    }
    case 'beginswith': return (input, tx) => input.startsWith(arg(tx));
    case 'endswith': return (input, tx) => input.endsWith(arg(tx));
    case 'contains': return (input, tx, capture) => {
      const p = arg(tx);
      if (!input.includes(p)) return false;
      if (capture) tx.setCaptures([p]);
      return true;
    };
    case 'containsword': return (input, tx) => {
      const p = arg(tx);
      if (p === '') return true;
      let from = 0;
      for (;;) {
        const k = input.indexOf(p, from);
        if (k < 0) return false;
        const before = k === 0 ? '' : input[k - 1];
        const after = input[k + p.length] ?? '';
        if (!/\w/.test(before) && !/\w/.test(after)) return true;
        from = k + 1;
      }
    };
    case 'streq': return (input, tx) => input === arg(tx);
    case 'strmatch': return (input, tx) => input.includes(arg(tx));
    case 'within': return (input, tx) => arg(tx).includes(input);
    case 'eq': return (input, tx) => numeric(input) === numeric(arg(tx));
    case 'ge': return (input, tx) => numeric(input) >= numeric(arg(tx));
    case 'gt': return (input, tx) => numeric(input) > numeric(arg(tx));
    case 'le': return (input, tx) => numeric(input) <= numeric(arg(tx));
    case 'lt': return (input, tx) => numeric(input) < numeric(arg(tx));
    case 'ipmatch': case 'ipmatchf': case 'ipmatchfromfile': {
      const list = lname === 'ipmatch' ? param.split(',') : readData(param.trim(), ctx);
      const m = ipMatcher(list);
      return (input) => m(input.trim());
    }
    // the validators match only on a byte they look for: that byte set is their prefilter (req)
    case 'validateurlencoding': return withReq((input) => invalidUrlEncoding(input), (c) => c === 0x25); // '%'
    case 'validateutf8encoding': return withReq((input) => invalidUtf8(input), (c) => c >= 0x80); // ASCII is valid UTF-8
    case 'validatebyterange': {
      const ok = byteRange(param);
      return withReq((input) => {
        for (let i = 0; i < input.length; i++) if (!ok[input.charCodeAt(i) & 0xff]) return true;
        return false;
      }, (c) => ok[c] === 0);
    }
    case 'unconditionalmatch': return () => true;
    case 'nomatch': return () => false;
    case 'detectsqli': {
      const li = ctx.libinjection;
      if (!li) { ctx.warn(`rule ${ctx.ruleId}: @detectSQLi unavailable (libinjection module not loaded); the operator never matches`); return () => false; }
      return (input, tx, capture) => {
        const r = li.detectSQLi(input);
        if (r.isSqli && capture) tx.setCaptures([r.fingerprint]);
        return r.isSqli;
      };
    }
    case 'detectxss': {
      const li = ctx.libinjection;
      if (!li) { ctx.warn(`rule ${ctx.ruleId}: @detectXSS unavailable (libinjection module not loaded); the operator never matches`); return () => false; }
      // libinjection's XSS verdicts all come from a tag, comment or doctype ('<') or from an
      // attribute's value ('='): an input with neither is never XSS (xss.ts isXssInContext; checked
      // on the libinjection golden corpus and by a fuzz test in operators.test.ts)
      return withReq((input) => li.detectXSS(input), (c) => c === 0x3c || c === 0x3d);
    }
    default:
      throw new OperatorError(`unsupported operator @${name}`);
  }
}

/** An operator with its prefilter: the bytes of which every input it matches holds one. */
function withReq(fn: OpFn, needs: (byte: number) => boolean): OpFn {
  fn.req = byteBits(needs);
  return fn;
}

function rxMatch(re: RegexRunner, input: string, tx: OpTx, capture: boolean): boolean {
  if (!capture) return re.test(input);
  const m = re.exec(input);
  if (!m) return false;
  tx.setCaptures(m);
  return true;
}
