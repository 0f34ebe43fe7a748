// A fast reader for the plain YAML that config files are made of: block mappings and sequences,
// one-line flow collections ({ a: 1 }, [x, y]), one-line plain and quoted scalars, comments and
// `---` between documents. It resolves scalars exactly like the `yaml` package's YAML 1.2 core
// schema (what load.ts uses), and leaves anything else to `yaml`, document by document: anchors,
// aliases, tags, block scalars (| >), multi-line scalars or flow collections, complex or non-string
// keys, duplicate keys, tabs. Directives, `...` and CR send the whole file to `yaml`, and so does any
// error `yaml` finds, so errors are always reported by `yaml` (with its positions and messages).
//
// Why: `yaml` builds a CST and a node tree with source positions for every value; for 10,000
// routes that was 60% of a 10 s start-up. Positions are only needed for a diagnostic, so load.ts
// parses the one document concerned with `yaml` when something asks where a path is.
// The equivalence with `yaml` is checked by yaml-fast.test.ts over every YAML file in the repo and
// a list of edge cases.

import { parseDocument } from 'yaml';

export interface FastDoc {
  /** 0-based index among the documents `yaml` would see in the file. */
  readonly index: number;
  readonly value: unknown;
  /** Character offsets of the document's text (after its `---` line) in the file. */
  readonly start: number;
  readonly end: number;
  /** Read by `yaml` because it is outside the subset. */
  readonly viaYaml: boolean;
}

class GiveUp extends Error {}
const giveUp = (): never => { throw new GiveUp(); };

interface Line { indent: number; text: string }

/**
 * Every document of `text`, or undefined when `yaml` must read the whole file. A document outside
 * the subset (a Secret with a PEM block scalar, say) is read by `yaml` alone; if `yaml` finds an
 * error in it, the whole file goes to `yaml` so that errors are reported the usual way.
 */
export function parseFastYaml(text: string): FastDoc[] | undefined {
  if (text.includes('\r') || text.charCodeAt(0) === 0xfeff) return undefined;
  const regions = splitDocuments(text);
  if (!regions) return undefined;
  const docs: FastDoc[] = [];
  for (let index = 0; index < regions.length; index++) {
    const r = regions[index];
    let value: unknown;
    let viaYaml = false;
    try {
      if (r.slow) throw new GiveUp();
      value = r.lines.length ? parseRoot(r.lines) : null;
    } catch (err) {
      if (!(err instanceof GiveUp)) throw err;
      const doc = parseDocument(text.slice(r.start, r.end), YAML_OPTIONS);
      if (doc.errors.length) return undefined;
      value = doc.toJS({ maxAliasCount: 100 });
      viaYaml = true;
    }
    docs.push({ index, value, start: r.start, end: r.end, viaYaml });
  }
  return docs;
}

/** The options load.ts gives `yaml`. */
const YAML_OPTIONS = { prettyErrors: false, uniqueKeys: true, strict: true } as const;

interface Region { start: number; end: number; lines: Line[]; slow: boolean }

/** The file cut at its `---` lines, or undefined for what only `yaml` reads (directives, `...`, `--- value`). */
function splitDocuments(text: string): Region[] | undefined {
  const regions: Region[] = [];
  let cur: Region = { start: 0, end: 0, lines: [], slow: false };
  let first = true;
  const flush = (end: number) => {
    // Only comments before the first ---: no document.
    if (first && cur.lines.length === 0 && !cur.slow) return;
    cur.end = end;
    regions.push(cur);
  };
  let pos = 0;
  while (pos <= text.length) {
    let nl = text.indexOf('\n', pos);
    if (nl < 0) nl = text.length;
    const raw = text.slice(pos, nl);
    const c0 = raw.charCodeAt(0);
    if (c0 === 45 /* - */ && raw.startsWith('---') && (raw.length === 3 || raw.charCodeAt(3) === 32 || raw.charCodeAt(3) === 9)) {
      if (!isBlankOrComment(raw.slice(3))) return undefined;
      flush(pos);
      first = false;
      cur = { start: nl + 1, end: 0, lines: [], slow: false };
    } else if (c0 === 37 /* % */ || (c0 === 46 /* . */ && raw.startsWith('...'))) {
      return undefined;
    } else if (raw.includes('\t')) {
      cur.slow = true;
    } else if (!isBlankOrComment(raw)) {
      let indent = 0;
      while (raw.charCodeAt(indent) === 32) indent++;
      cur.lines.push({ indent, text: raw.slice(indent) });
    }
    pos = nl + 1;
  }
  flush(text.length);
  return regions;
}

function isBlankOrComment(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 32) continue;
    return c === 35; /* # */
  }
  return true;
}

function parseRoot(lines: Line[]): unknown {
  const p = new BlockParser(lines);
  if (lines[0].indent !== 0) giveUp();
  const v = p.node(0);
  if (p.i !== lines.length) giveUp();
  return v;
}

class BlockParser {
  i = 0;
  private readonly lines: Line[];
  constructor(lines: Line[]) { this.lines = lines; }

  /** A block node whose first line is lines[i], at `indent`. */
  node(indent: number): unknown {
    const l = this.lines[this.i];
    if (isSeqItem(l.text)) return this.seq(indent);
    return this.map(indent);
  }

  seq(indent: number): unknown[] {
    const out: unknown[] = [];
    while (this.i < this.lines.length) {
      const l = this.lines[this.i];
      if (l.indent < indent || (l.indent === indent && !isSeqItem(l.text))) break; // the parent goes on
      if (l.indent > indent) giveUp();
      let k = 1;
      while (l.text.charCodeAt(k) === 32) k++;
      const rest = l.text.slice(k);
      if (rest === '' || rest.charCodeAt(0) === 35 /* # */) {
        this.i++;
        out.push(this.nested(indent, false));
      } else if (isSeqItem(rest)) {
        giveUp();
      } else if (startsMapEntry(rest)) {
        // "- key: value": a mapping whose keys line up with `key`.
        this.lines[this.i] = { indent: indent + k, text: rest };
        out.push(this.map(indent + k));
      } else {
        out.push(inlineValue(rest));
        this.i++;
        this.noContinuation(indent);
      }
    }
    return out;
  }

  map(indent: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    while (this.i < this.lines.length) {
      const l = this.lines[this.i];
      if (l.indent < indent) break;
      if (l.indent > indent || isSeqItem(l.text)) giveUp();
      const { key, rest } = mapEntry(l.text);
      if (Object.prototype.hasOwnProperty.call(out, key)) giveUp();
      this.i++;
      if (rest === '') out[key] = this.nested(indent, true);
      else { out[key] = inlineValue(rest); this.noContinuation(indent); }
    }
    return out;
  }

  /** The value on the lines after a "key:" or "-" with nothing after it. */
  private nested(indent: number, inMap: boolean): unknown {
    const next = this.lines[this.i];
    if (next === undefined || next.indent < indent) return null;
    if (next.indent > indent) return this.node(next.indent);
    // "key:" followed by "- item" at the key's own indentation is a sequence.
    if (inMap && isSeqItem(next.text)) return this.seq(indent);
    return null;
  }

  /** A more indented line after a one-line value would continue a multi-line scalar. */
  private noContinuation(indent: number): void {
    const next = this.lines[this.i];
    if (next !== undefined && next.indent > indent) giveUp();
  }
}

function isSeqItem(t: string): boolean {
  return t.charCodeAt(0) === 45 /* - */ && (t.length === 1 || t.charCodeAt(1) === 32);
}

/** Whether `t` starts with "key:" followed by a space or the end of the line. */
function startsMapEntry(t: string): boolean {
  const c = t.charCodeAt(0);
  if (c === 34 || c === 39) {
    const end = quotedEnd(t, 0);
    return t.charCodeAt(end) === 58 && (end + 1 === t.length || t.charCodeAt(end + 1) === 32);
  }
  if (c === 123 || c === 91) return false; // a flow collection
  const colon = keyColon(t);
  return colon > 0;
}

/** Index of the ':' that ends a plain key, or -1. */
function keyColon(t: string): number {
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i);
    if (c === 58 && (i + 1 === t.length || t.charCodeAt(i + 1) === 32)) return i;
    if (c === 35 && i > 0 && t.charCodeAt(i - 1) === 32) return -1; // a comment starts first
  }
  return -1;
}

function mapEntry(t: string): { key: string; rest: string } {
  let key: string;
  let after: number;
  const c = t.charCodeAt(0);
  if (c === 34 || c === 39) {
    const end = quotedEnd(t, 0);
    if (t.charCodeAt(end) !== 58 || (end + 1 < t.length && t.charCodeAt(end + 1) !== 32)) giveUp();
    key = unquote(t.slice(0, end));
    after = end + 1;
  } else {
    const colon = keyColon(t);
    if (colon <= 0) giveUp();
    const raw = t.slice(0, colon).trimEnd();
    checkPlain(raw, false);
    if (typeof resolvePlain(raw) !== 'string') giveUp(); // null/bool/number keys: let yaml decide
    key = raw;
    after = colon + 1;
  }
  if (key === '__proto__' || key.length > 1024) giveUp();
  const rest = t.slice(after).trim();
  return { key, rest: rest.charCodeAt(0) === 35 ? '' : rest };
}

/** A value on one line: a flow collection, a quoted or a plain scalar; trailing comment allowed. */
function inlineValue(t: string): unknown {
  const c = t.charCodeAt(0);
  if (c === 123 || c === 91) {
    const r = new FlowParser(t);
    const v = r.value();
    r.end();
    return v;
  }
  if (c === 34 || c === 39) {
    const end = quotedEnd(t, 0);
    trailing(t, end);
    return unquote(t.slice(0, end));
  }
  let end = t.length;
  for (let i = 1; i < t.length; i++) if (t.charCodeAt(i) === 35 && t.charCodeAt(i - 1) === 32) { end = i; break; }
  const raw = t.slice(0, end).trimEnd();
  checkPlain(raw, false);
  if (raw.includes(': ') || raw.endsWith(':')) giveUp(); // "a: b: c" is an error yaml reports
  return resolvePlain(raw);
}

/** Only spaces and a comment may follow a value. */
function trailing(t: string, from: number): void {
  if (from === t.length) return;
  if (t.charCodeAt(from) !== 32) giveUp();
  const rest = t.slice(from).trimStart();
  if (rest !== '' && rest.charCodeAt(0) !== 35) giveUp();
}

/** Plain scalars that start with an indicator, or carry control characters, go to yaml. */
function checkPlain(raw: string, flow: boolean): void {
  if (raw === '') giveUp();
  const c = raw.charCodeAt(0);
  if ('?,[]{}#&*!|>\'"%@`'.includes(raw[0])) giveUp();
  // "-" and ":" start a plain scalar when a non-space follows (-1, ::1); alone they are indicators.
  if ((c === 45 || c === 58) && (raw.length === 1 || raw.charCodeAt(1) === 32)) giveUp();
  for (let i = 0; i < raw.length; i++) {
    const x = raw.charCodeAt(i);
    if (x < 32 || x === 127) giveUp();
    if (flow && (x === 44 || x === 91 || x === 93 || x === 123 || x === 125)) giveUp();
  }
}

/** Index just past the closing quote of the quoted scalar at `from` (on this line). */
function quotedEnd(t: string, from: number): number {
  const q = t.charCodeAt(from);
  for (let i = from + 1; i < t.length; i++) {
    const c = t.charCodeAt(i);
    if (q === 34 && c === 92) { i++; continue; }
    if (c === q) {
      if (q === 39 && t.charCodeAt(i + 1) === 39) { i++; continue; }
      return i + 1;
    }
  }
  return giveUp();
}

const ESCAPES: Record<string, string> = { '\\': '\\', '"': '"', '/': '/', n: '\n', t: '\t', r: '\r', '0': '\0', b: '\b', ' ': ' ' };

function unquote(q: string): string {
  const body = q.slice(1, -1);
  for (let i = 0; i < body.length; i++) if (body.charCodeAt(i) < 32 || body.charCodeAt(i) === 127) giveUp();
  if (q.charCodeAt(0) === 39) return body.replaceAll("''", "'");
  if (!body.includes('\\')) return body;
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const ch = body[i];
    if (ch !== '\\') { out += ch; continue; }
    const e = body[++i];
    if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(body.slice(i + 1, i + 5))) {
      const code = parseInt(body.slice(i + 1, i + 5), 16);
      if (code >= 0xd800 && code <= 0xdfff) giveUp(); // surrogates: yaml's business
      out += String.fromCharCode(code);
      i += 4;
    } else if (e !== undefined && e in ESCAPES) out += ESCAPES[e];
    else giveUp();
  }
  return out;
}

// YAML 1.2 core schema, in the order `yaml` tries its tags (see yaml/dist/schema/core).
const NULL_RE = /^(?:~|[Nn]ull|NULL)?$/;
const BOOL_RE = /^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/;
const OCT_RE = /^0o[0-7]+$/;
const INT_RE = /^[-+]?[0-9]+$/;
const HEX_RE = /^0x[0-9a-fA-F]+$/;
const NAN_RE = /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/;
const EXP_RE = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/;
const FLOAT_RE = /^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/;

export function resolvePlain(s: string): unknown {
  const c = s.charCodeAt(0);
  // Most values start with a letter other than those of null/true/false: a string, at once.
  if (c >= 97 && c <= 122 && c !== 110 && c !== 116 && c !== 102) return s;
  if (NULL_RE.test(s)) return null;
  if (BOOL_RE.test(s)) return s[0] === 't' || s[0] === 'T';
  if (OCT_RE.test(s)) return parseInt(s.substring(2), 8);
  if (INT_RE.test(s)) return parseInt(s, 10);
  if (HEX_RE.test(s)) return parseInt(s.substring(2), 16);
  if (NAN_RE.test(s)) return s.slice(-3).toLowerCase() === 'nan' ? NaN : s[0] === '-' ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  if (EXP_RE.test(s) || FLOAT_RE.test(s)) return parseFloat(s);
  return s;
}

/** One-line flow collections: { a: 1, b: [x, "y"] }. */
class FlowParser {
  private i = 0;
  private readonly t: string;
  constructor(t: string) { this.t = t; }

  end(): void { trailing(this.t, this.i); }

  private ws(): void { while (this.t.charCodeAt(this.i) === 32) this.i++; }

  value(): unknown {
    this.ws();
    const c = this.t.charCodeAt(this.i);
    if (c === 123) return this.map();
    if (c === 91) return this.seq();
    return this.scalar(false);
  }

  private map(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    this.i++;
    for (;;) {
      this.ws();
      if (this.t.charCodeAt(this.i) === 125) { this.i++; return out; }
      const k = this.scalar(true);
      if (typeof k !== 'string' || k === '__proto__' || Object.prototype.hasOwnProperty.call(out, k)) giveUp();
      if (this.t.charCodeAt(this.i) !== 58 || this.t.charCodeAt(this.i + 1) !== 32) giveUp();
      this.i += 2;
      this.ws();
      const c = this.t.charCodeAt(this.i);
      if (c === 44 || c === 125) giveUp(); // "{ a: }": let yaml decide
      out[k as string] = this.value();
      this.ws();
      const d = this.t.charCodeAt(this.i);
      if (d === 44) { this.i++; continue; }
      if (d !== 125) giveUp();
    }
  }

  private seq(): unknown[] {
    const out: unknown[] = [];
    this.i++;
    for (;;) {
      this.ws();
      if (this.t.charCodeAt(this.i) === 93) { this.i++; return out; }
      out.push(this.value());
      this.ws();
      const d = this.t.charCodeAt(this.i);
      if (d === 44) { this.i++; continue; }
      if (d !== 93) giveUp();
    }
  }

  /** A scalar inside a flow collection; `key` stops at ": ". */
  private scalar(key: boolean): unknown {
    const t = this.t;
    const c = t.charCodeAt(this.i);
    if (c === 34 || c === 39) {
      const end = quotedEnd(t, this.i);
      const v = unquote(t.slice(this.i, end));
      this.i = end;
      this.ws();
      return v;
    }
    const from = this.i;
    let j = from;
    for (; j < t.length; j++) {
      const x = t.charCodeAt(j);
      if (x === 44 || x === 91 || x === 93 || x === 123 || x === 125) break;
      if (x === 58 && (j + 1 === t.length || t.charCodeAt(j + 1) === 32 || t.charCodeAt(j + 1) === 44 || t.charCodeAt(j + 1) === 125 || t.charCodeAt(j + 1) === 93)) break;
      if (x === 35 && j > from && t.charCodeAt(j - 1) === 32) giveUp();
    }
    const raw = t.slice(from, j).trimEnd();
    checkPlain(raw, true);
    this.i = j;
    const atColon = t.charCodeAt(j) === 58;
    if (atColon !== key) giveUp(); // a key without ": ", or "a: b" inside a sequence
    const v = resolvePlain(raw);
    return key && typeof v !== 'string' ? giveUp() : v;
  }
}
