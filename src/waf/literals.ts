/**
 * Literal prefilter for @rx (and @pm): at load, derive from each regex a set of literal strings
 * of which every match must contain at least one (compared with ASCII case folding); at run time
 * scan each distinct (transformed) value once with one Aho-Corasick automaton over the literals of
 * all rules, giving a bit per literal set, so a rule whose literals occur in none of its values is
 * skipped without running its regex, and a value without them is skipped for that rule.
 *
 * Correctness: the set is a necessary condition derived from the translated JS source (the same
 * source the regex runs); when no safe set can be derived (a branch that can match without any
 * literal, a backreference, a set that would be too large or too weak) the rule has no literal
 * prefilter and its regex always runs (after the byte prefilter of regex.ts).
 */
import { analyse, parseRegex, type Analysis } from './regex-ast.ts';

/** Exact: all strings the node can match (small, folded); any: strings one of which every match contains (null = none known). */
interface Info { exact: Set<string> | null; any: Set<string> | null }

const MAX_EXACT = 16;
const MAX_ANY = 400;
const MIN_LITERAL = 2;

const EMPTY_INFO = (): Info => ({ exact: new Set(['']), any: null });
const UNKNOWN = (): Info => ({ exact: null, any: null });

function foldCode(c: number): number {
  return c >= 65 && c <= 90 ? c + 32 : c;
}

/** Score of a candidate "any" set: higher is more selective. */
function strength(s: Set<string> | null): number {
  if (s === null || s.size === 0) return -1;
  let min = Infinity;
  for (const x of s) min = Math.min(min, x.length);
  if (min === 0) return -1;
  return min * 1000 - Math.min(s.size, 999);
}

function cross(a: Set<string>, b: Set<string>): Set<string> | null {
  if (a.size * b.size > MAX_EXACT) return null;
  const out = new Set<string>();
  for (const x of a) for (const y of b) out.add(x + y);
  return out;
}

/** A one-character atom from its possible codes: exact when few (after folding) and ASCII. */
function fromCodes(codes: Iterable<number>): Info {
  const folded = new Set<string>();
  for (const code of codes) {
    if (code >= 0x80) return UNKNOWN(); // keep the alphabet ASCII: non-ASCII folding differs between engines
    folded.add(String.fromCharCode(foldCode(code)));
    if (folded.size > 4) return UNKNOWN();
  }
  if (folded.size === 0) return UNKNOWN();
  return { exact: folded, any: null };
}

/** The exact strings a piece matches (when few) and literals one of which every match contains. */
const LITERALS: Analysis<Info> = {
  zeroWidth: EMPTY_INFO,
  unknown: UNKNOWN,
  value: (v) => (v.kind === 'octal' ? UNKNOWN() : fromCodes([v.codePoint])),
  classEscape: UNKNOWN,
  characterClass(c) {
    if (c.negative) return UNKNOWN();
    const codes = new Set<number>();
    for (const item of c.body) {
      if (item.type === 'value') {
        if (item.kind === 'octal') return UNKNOWN();
        codes.add(item.codePoint);
      } else if (item.type === 'characterClassRange') {
        if (item.min.kind === 'octal' || item.max.kind === 'octal') throw new Error('class range');
        const lo = item.min.codePoint, hi = item.max.codePoint;
        if (hi - lo > 64) return UNKNOWN();
        for (let k = lo; k <= hi; k++) codes.add(k);
      } else return UNKNOWN(); // \d \w \s: many characters
    }
    return fromCodes(codes);
  },
  quantified(atom, min, max) {
    if (min === 1 && max === 1) return atom;
    if (min === 0 && max === 1) {
      if (atom.exact === null) return UNKNOWN();
      const e = new Set(atom.exact);
      e.add('');
      return { exact: e, any: null };
    }
    if (min === 0) return UNKNOWN();
    // at least `min` repetitions: with a small exact set, `min` (up to 3) copies in a row are required
    if (atom.exact !== null && !atom.exact.has('')) {
      let rep: Set<string> | null = atom.exact;
      for (let k = 1; k < Math.min(min, 3) && rep !== null; k++) { const r2: Set<string> | null = cross(rep, atom.exact); if (r2 === null) break; rep = r2; }
      return { exact: null, any: rep };
    }
    return { exact: null, any: atom.exact ?? atom.any };
  },
  sequence(items) {
    let cur: Set<string> = new Set(['']);
    let allExact = true;
    let best: Set<string> | null = null;
    const candidate = (c: Set<string> | null) => { if (strength(c) > strength(best)) best = c; };
    for (const it of items) {
      if (it.exact !== null) {
        const p = cross(cur, it.exact);
        if (p !== null) { cur = p; continue; }
        candidate(cur);
        cur = it.exact;
        allExact = false;
      } else {
        candidate(cur);
        candidate(it.any);
        cur = new Set(['']);
        allExact = false;
      }
    }
    if (allExact) return { exact: cur, any: cur.has('') ? null : cur };
    candidate(cur);
    return { exact: null, any: best };
  },
  choice(alts) {
    if (alts.length === 1) return alts[0];
    let exact: Set<string> | null = new Set();
    let any: Set<string> | null = new Set();
    for (const a of alts) {
      if (exact !== null && a.exact !== null) { for (const x of a.exact) exact.add(x); if (exact.size > MAX_EXACT) exact = null; } else exact = null;
      const req = a.exact ?? a.any;
      if (any !== null && req !== null && !req.has('')) { for (const x of req) any.add(x); if (any.size > MAX_ANY) any = null; } else any = null;
    }
    return { exact, any };
  },
};

/**
 * Literals (folded to lower case) one of which every match of the JS regex source contains, or
 * null when no selective set is known. Only sets whose every literal has >= 2 characters are kept.
 */
export function requiredLiterals(source: string): string[] | null {
  let set: Set<string> | null;
  try { const info = analyse(parseRegex(source), LITERALS); set = info.exact ?? info.any; } catch { return null; }
  if (set === null || set.size === 0 || set.size > MAX_ANY) return null;
  for (const x of set) if (x.length < MIN_LITERAL) return null;
  // drop literals that contain another literal of the set (the shorter one is found anyway)
  const list = [...set].sort((a, b) => a.length - b.length);
  const out: string[] = [];
  for (const x of list) if (!out.some((y) => x.includes(y))) out.push(x);
  return out;
}

/**
 * One automaton over the literal sets of all rules. `scanInto(s, bits)` sets bit `base + g` of
 * `bits` when s contains (case-folded) a literal of set g.
 */
export class LiteralScanner {
  readonly words: number;
  readonly groups: number;
  /** bit of the first set (several scanners can share one bit set) */
  readonly base: number;
  private readonly alpha = new Uint8Array(256);
  private readonly width: number;
  private readonly delta: Uint16Array | Int32Array; // 16-bit when it fits: half the cache footprint
  /** per state: index into outBits (in words) or -1 */
  private readonly outAt: Int32Array;
  private readonly outBits: Int32Array;

  constructor(sets: string[][], base = 0) {
    this.groups = sets.length;
    this.base = base;
    this.words = Math.max(1, (base + sets.length + 31) >> 5);
    let symbols = 1;
    for (const set of sets) {
      for (const p of set) {
        for (let i = 0; i < p.length; i++) {
          const c = foldCode(p.charCodeAt(i) & 0xff);
          if (this.alpha[c] === 0) this.alpha[c] = symbols++;
        }
      }
    }
    for (let c = 65; c <= 90; c++) this.alpha[c] = this.alpha[c + 32];
    this.width = symbols;
    const next: Array<Map<number, number>> = [new Map()];
    const outs: Array<Set<number> | null> = [null];
    sets.forEach((set, g) => {
      for (const p of set) {
        let s = 0;
        for (let i = 0; i < p.length; i++) {
          const sym = this.alpha[foldCode(p.charCodeAt(i) & 0xff)];
          let t = next[s].get(sym);
          if (t === undefined) { t = next.length; next.push(new Map()); outs.push(null); next[s].set(sym, t); }
          s = t;
        }
        (outs[s] ??= new Set()).add(g);
      }
    });
    const n = next.length;
    const fail = new Int32Array(n);
    const delta = n < 65536 ? new Uint16Array(n * this.width) : new Int32Array(n * this.width);
    const queue: number[] = [];
    for (let a = 1; a < this.width; a++) {
      const t = next[0].get(a) ?? 0;
      delta[a] = t;
      if (t !== 0) queue.push(t);
    }
    for (let qi = 0; qi < queue.length; qi++) {
      const s = queue[qi];
      const fo = outs[fail[s]];
      if (fo) { const o = (outs[s] ??= new Set()); for (const g of fo) o.add(g); }
      for (let a = 1; a < this.width; a++) {
        const t = next[s].get(a);
        if (t !== undefined) {
          fail[t] = delta[fail[s] * this.width + a];
          delta[s * this.width + a] = t;
          queue.push(t);
        } else delta[s * this.width + a] = delta[fail[s] * this.width + a];
      }
    }
    this.delta = delta;
    this.outAt = new Int32Array(n).fill(-1);
    const bits: number[] = [];
    const seen = new Map<string, number>();
    for (let s = 0; s < n; s++) {
      const o = outs[s];
      if (!o) continue;
      const w = new Array<number>(this.words).fill(0);
      for (const g0 of o) { const g = g0 + base; w[g >> 5] |= 1 << (g & 31); }
      const key = w.join(',');
      let at = seen.get(key);
      if (at === undefined) { at = bits.length; bits.push(...w); seen.set(key, at); }
      this.outAt[s] = at;
    }
    this.outBits = Int32Array.from(bits);
  }

  /** OR into `into` the bits of the literal sets found in s. */
  scanInto(s: string, into: number[]): void {
    const { alpha, delta, outAt, outBits, width, words } = this;
    let st = 0;
    for (let i = 0; i < s.length; i++) {
      const sym = alpha[s.charCodeAt(i) & 0xff];
      st = sym === 0 ? 0 : delta[st * width + sym];
      const o = outAt[st];
      if (o >= 0) for (let w = 0; w < words; w++) into[w] |= outBits[o + w];
    }
  }
}

/** `words` zero bits in an array with double elements from the start (-0 is no small integer): it never changes kind. */
export function zeroBits(words: number): number[] {
  const a = [-0];
  while (a.length < words) a.push(-0);
  return a.slice();
}

/**
 * The @rx required literals and the @pm phrase lists in one bit space: two automata (the phrase
 * lists are large; kept apart, the literal automaton stays small and cache friendly), one scan of
 * each per distinct value. Bit g < `phraseBase` is literal set g, bit `phraseBase + k` phrase list k.
 */
export class ValueScanner {
  readonly words: number;
  readonly phraseBase: number;
  private readonly parts: LiteralScanner[];

  constructor(literalSets: string[][], phraseSets: string[][]) {
    this.phraseBase = literalSets.length;
    this.parts = [];
    if (literalSets.length) this.parts.push(new LiteralScanner(literalSets, 0));
    if (phraseSets.length) this.parts.push(new LiteralScanner(phraseSets, this.phraseBase));
    this.words = Math.max(1, (literalSets.length + phraseSets.length + 31) >> 5);
    this.none = zeroBits(this.words);
    this.scratch = zeroBits(this.words);
  }

  /** All bits clear, shared (never written to): see bitsFor. Bit sets of this scanner are arrays of doubles, as regex.ts's ValueBytes, and for the same reason. */
  readonly none: number[];
  private readonly scratch: number[];

  /**
   * The bits of the automaton that holds `bit` (scanFor) for s: `none` when s holds no literal of
   * it (most benign values), else a new array. Scanned into a scratch array first, so a value
   * without literals allocates nothing.
   */
  bitsFor(bit: number, s: string): number[] {
    const into = this.scratch;
    this.scanFor(bit, s, into);
    let any = 0;
    for (let w = 0; w < into.length; w++) any |= into[w];
    if (any === 0) return this.none;
    const out = into.slice();
    for (let w = 0; w < into.length; w++) into[w] = 0;
    return out;
  }

  scanInto(s: string, into: number[]): void {
    for (let k = 0; k < this.parts.length; k++) this.parts[k].scanInto(s, into);
  }

  /** Scan with one automaton only: the literal one (bit < phraseBase) or the phrase one. */
  scanFor(bit: number, s: string, into: number[]): void {
    for (let k = 0; k < this.parts.length; k++) {
      const p = this.parts[k];
      if (bit >= p.base && bit < p.base + p.groups) { p.scanInto(s, into); return; }
    }
  }
}
