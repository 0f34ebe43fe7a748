/*
 * SQL injection detection: a TypeScript port of libinjection's
 * libinjection_sqli.c (v3.9.2, the version bundled in ModSecurity v3).
 *
 * Copyright (c) 2012-2016 Nick Galbreath (original C), BSD-3-Clause,
 * see LICENSE-libinjection in this folder. Port for Portcullis.
 *
 * The algorithm works on bytes. `src` below is a "byte string": a JS string
 * whose every code unit is one byte (0..255). See toByteString() for how a
 * JS string is mapped to bytes.
 *
 * Porting notes (differences from C that do not change results):
 *  - the keyword table is a Map (C does a binary search on the same sorted
 *    table with an ASCII-uppercasing compare: equivalent for exact lookups);
 *  - token values are JS strings holding at most 31 bytes, like C's val[32];
 *  - reads past the end of the input return 0, like C's NUL terminator.
 */

import { SQL_KEYWORDS } from './sqli-data.ts';

// ---- token types (char codes, as in C) ----
const T_NONE = 0;
const T_KEYWORD = 0x6b; // 'k'
const T_UNION = 0x55; // 'U'
const T_GROUP = 0x42; // 'B'
const T_EXPRESSION = 0x45; // 'E'
const T_SQLTYPE = 0x74; // 't'
const T_FUNCTION = 0x66; // 'f'
const T_BAREWORD = 0x6e; // 'n'
const T_NUMBER = 0x31; // '1'
const T_VARIABLE = 0x76; // 'v'
const T_STRING = 0x73; // 's'
const T_OPERATOR = 0x6f; // 'o'
const T_LOGIC_OPERATOR = 0x26; // '&'
const T_COMMENT = 0x63; // 'c'
const T_COLLATE = 0x41; // 'A'
const T_LEFTPARENS = 0x28; // '('
const T_RIGHTPARENS = 0x29; // ')'
const T_LEFTBRACE = 0x7b; // '{'
const T_RIGHTBRACE = 0x7d; // '}'
const T_DOT = 0x2e; // '.'
const T_COMMA = 0x2c; // ','
const T_COLON = 0x3a; // ':'
const T_SEMICOLON = 0x3b; // ';'
const T_TSQL = 0x54; // 'T'
const T_UNKNOWN = 0x3f; // '?'
const T_EVIL = 0x58; // 'X'
const T_FINGERPRINT = 0x46; // 'F'
const T_BACKSLASH = 0x5c; // '\\'

const CHAR_NULL = 0;
const CHAR_SINGLE = 0x27;
const CHAR_DOUBLE = 0x22;
const CHAR_TICK = 0x60;

// ---- flags (libinjection_sqli.h) ----
export const FLAG_QUOTE_NONE = 1;
export const FLAG_QUOTE_SINGLE = 2;
export const FLAG_QUOTE_DOUBLE = 4;
export const FLAG_SQL_ANSI = 8;
export const FLAG_SQL_MYSQL = 16;

const TOKEN_SIZE = 32; // sizeof(val)
const MAX_TOKENS = 5;

// ---- keyword table, built once at module load ----
// Open-addressing hash table over the ASCII-uppercased words, so lookups
// hash the input bytes in place without allocating an upper-cased copy.
const KW_COUNT = SQL_KEYWORDS.length;
const KW_WORDS: string[] = new Array<string>(KW_COUNT);
const KW_TYPES = new Uint8Array(KW_COUNT);
const KW_BITS = 15; // 32768 slots for ~9400 words
const KW_MASK = (1 << KW_BITS) - 1;
const KW_TABLE = new Int32Array(1 << KW_BITS); // keyword index + 1, 0 = empty

function upperByte(c: number): number {
  return c >= 0x61 && c <= 0x7a ? c - 0x20 : c;
}

/** FNV-1a over ASCII-uppercased bytes s[start, start+len) */
function hashUpper(s: string, start: number, len: number): number {
  let h = 0x811c9dc5 | 0;
  for (let i = start, end = start + len; i < end; i++) {
    h = Math.imul(h ^ upperByte(s.charCodeAt(i)), 0x01000193);
  }
  return h;
}

for (let k = 0; k < KW_COUNT; k++) {
  const e = SQL_KEYWORDS[k]!;
  const w = e.slice(1);
  KW_WORDS[k] = w;
  KW_TYPES[k] = e.charCodeAt(0);
  let slot = hashUpper(w, 0, w.length) & KW_MASK;
  while (KW_TABLE[slot] !== 0) slot = (slot + 1) & KW_MASK;
  KW_TABLE[slot] = k + 1;
}

/**
 * Keyword lookup of bytes s[start, start+len), ignoring ASCII case (like C's
 * cstrcasecmp against the upper-case table). Returns the type char or 0.
 */
function lookupRange(s: string, start: number, len: number): number {
  if (len === 0) return CHAR_NULL;
  let slot = hashUpper(s, start, len) & KW_MASK;
  for (;;) {
    const k = KW_TABLE[slot]!;
    if (k === 0) return CHAR_NULL;
    const w = KW_WORDS[k - 1]!;
    if (w.length === len) {
      let i = 0;
      while (i < len && upperByte(s.charCodeAt(start + i)) === w.charCodeAt(i)) i++;
      if (i === len) return KW_TYPES[k - 1]!;
    }
    slot = (slot + 1) & KW_MASK;
  }
}

function lookupWord(s: string): number {
  return lookupRange(s, 0, s.length);
}

// ---- char classes for the tokenizer dispatch (char_parse_map) ----
const P_WHITE = 0;
const P_OPERATOR1 = 1;
const P_OPERATOR2 = 2;
const P_STRING = 3;
const P_HASH = 4;
const P_MONEY = 5;
const P_CHAR = 6;
const P_DASH = 7;
const P_NUMBER = 8;
const P_SLASH = 9;
const P_OTHER = 10;
const P_VAR = 11;
const P_WORD = 12;
const P_BSTRING = 13;
const P_ESTRING = 14;
const P_NQSTRING = 15;
const P_QSTRING = 16;
const P_USTRING = 17;
const P_XSTRING = 18;
const P_BWORD = 19;
const P_BACKSLASH = 20;
const P_TICK = 21;

const CHAR_MAP = new Uint8Array(256);
{
  CHAR_MAP.fill(P_WORD);
  for (let i = 0; i <= 32; i++) CHAR_MAP[i] = P_WHITE;
  CHAR_MAP[127] = P_WHITE;
  CHAR_MAP[160] = P_WHITE;
  const set = (chars: string, p: number): void => {
    for (let i = 0; i < chars.length; i++) CHAR_MAP[chars.charCodeAt(i)] = p;
  };
  set('!&*:<=>|', P_OPERATOR2);
  set('"\'', P_STRING);
  set('#', P_HASH);
  set('$', P_MONEY);
  set('%+^~', P_OPERATOR1);
  set('(),;{}', P_CHAR);
  set('-', P_DASH);
  set('.0123456789', P_NUMBER);
  set('/', P_SLASH);
  set('?]', P_OTHER);
  set('@', P_VAR);
  set('Bb', P_BSTRING);
  set('Ee', P_ESTRING);
  set('Nn', P_NQSTRING);
  set('Qq', P_QSTRING);
  set('Uu', P_USTRING);
  set('Xx', P_XSTRING);
  set('[', P_BWORD);
  set('\\', P_BACKSLASH);
  set('`', P_TICK);
}

/** Byte sets as 256-entry tables. NUL is a member of every C strchr() set. */
function byteSet(chars: string): Uint8Array {
  const t = new Uint8Array(256);
  for (let i = 0; i < chars.length; i++) t[chars.charCodeAt(i)] = 1;
  t[0] = 1;
  return t;
}
const WORD_END = byteSet(' []{}<>:\\?=@!#~+-*/&|^%(),\';\t\n\v\f\r"\xa0');
const VAR_END = byteSet(' <>:\\?=@!#~+-*/&|^%(),\';\t\n\v\f\r\'`"');
const WHITE = byteSet(' \t\n\v\f\r\xa0');
const DIGITS_HEX = byteSet('0123456789ABCDEFabcdef');
const DIGITS_BIN = byteSet('01');
const MONEY_DIGITS = byteSet('0123456789.,');
const MONEY_ALPHA = byteSet('abcdefghjiklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ');

class Token {
  type = 0;
  strOpen = 0;
  strClose = 0;
  pos = 0;
  len = 0;
  count = 0;
  val = '';

  clear(): void {
    this.type = 0;
    this.strOpen = 0;
    this.strClose = 0;
    this.pos = 0;
    this.len = 0;
    this.count = 0;
    this.val = '';
  }

  copyFrom(o: Token): void {
    this.type = o.type;
    this.strOpen = o.strOpen;
    this.strClose = o.strClose;
    this.pos = o.pos;
    this.len = o.len;
    this.count = o.count;
    this.val = o.val;
  }

  /** byte i of val, 0 past the end (C: NUL terminator) */
  at(i: number): number {
    return i < this.val.length ? this.val.charCodeAt(i) : 0;
  }
}

/** Parser state; one instance is reused for every call (JS is single threaded). */
class State {
  s = '';
  slen = 0;
  flags = 0;
  pos = 0;
  readonly tokenvec: Token[] = [];
  current: Token;
  fingerprint = '';
  statsCommentDdx = 0;
  statsCommentHash = 0;
  statsFolds = 0;
  statsTokens = 0;

  constructor() {
    for (let i = 0; i < 8; i++) this.tokenvec.push(new Token());
    this.current = this.tokenvec[0]!;
  }

  reset(flags: number): void {
    if (flags === 0) flags = FLAG_QUOTE_NONE | FLAG_SQL_ANSI;
    this.flags = flags;
    this.pos = 0;
    for (const t of this.tokenvec) t.clear();
    this.current = this.tokenvec[0]!;
    this.fingerprint = '';
    this.statsCommentDdx = 0;
    this.statsCommentHash = 0;
    this.statsFolds = 0;
    this.statsTokens = 0;
  }
}

const lastComment = new Token();
const S = new State();

// ---------------------------------------------------------------------------
// small helpers over the byte string

function ch(s: string, slen: number, i: number): number {
  return i < slen ? s.charCodeAt(i) : 0;
}

const ONE_CHAR: string[] = [];
for (let i = 0; i < 256; i++) ONE_CHAR.push(String.fromCharCode(i));

/** memchr: index of byte c in s[from, to) or -1 (to is the input length here) */
function memchr(s: string, from: number, to: number, c: number): number {
  const i = s.indexOf(ONE_CHAR[c]!, from);
  return i >= 0 && i < to ? i : -1;
}

/** memchr2: index i in [from, to-1) with s[i]==c0 && s[i+1]==c1, or -1 */
function memchr2(s: string, from: number, len: number, c0: number, c1: number): number {
  if (len < 2) return -1;
  const last = from + len - 1;
  for (let i = from; i < last; i++) {
    if (s.charCodeAt(i) === c0 && s.charCodeAt(i + 1) === c1) return i;
  }
  return -1;
}

/** strlenspn: length of the prefix of s[from, from+len) made of bytes in set */
function spn(s: string, from: number, len: number, set: Uint8Array): number {
  for (let i = 0; i < len; i++) if (set[s.charCodeAt(from + i)] !== 1) return i;
  return len;
}

/** strlencspn: length of the prefix of s[from, from+len) made of bytes not in set */
function cspn(s: string, from: number, len: number, set: Uint8Array): number {
  for (let i = 0; i < len; i++) if (set[s.charCodeAt(from + i)] === 1) return i;
  return len;
}

function isWhite(c: number): boolean {
  return WHITE[c] === 1;
}

/** st_assign: value is src bytes [start, start+len), truncated to 31 bytes */
function assign(t: Token, type: number, pos: number, len: number, start: number): void {
  const last = len < TOKEN_SIZE ? len : TOKEN_SIZE - 1;
  t.type = type;
  t.pos = pos;
  t.len = last;
  t.val = S.s.substring(start, start + last);
}

function assignStr(t: Token, type: number, pos: number, value: string): void {
  const last = value.length < TOKEN_SIZE ? value.length : TOKEN_SIZE - 1;
  t.type = type;
  t.pos = pos;
  t.len = last;
  t.val = last === value.length ? value : value.substring(0, last);
}

function assignChar(t: Token, type: number, pos: number, c: number): void {
  t.type = type;
  t.pos = pos;
  t.len = 1;
  t.val = String.fromCharCode(c);
}

/** cstrcasecmp(UPPER, val, n) == 0, i.e. val (first n bytes) equals UPPER ignoring ASCII case */
function eqUpper(upper: string, t: Token): boolean {
  const n = t.len;
  if (n !== upper.length) return false;
  for (let i = 0; i < n; i++) {
    let c = t.val.charCodeAt(i);
    if (c >= 0x61 && c <= 0x7a) c -= 0x20;
    if (c !== upper.charCodeAt(i)) return false;
  }
  return true;
}

function isArithmeticOp(t: Token): boolean {
  if (t.type !== T_OPERATOR || t.len !== 1) return false;
  const c = t.val.charCodeAt(0);
  return c === 0x2a || c === 0x2f || c === 0x2d || c === 0x2b || c === 0x25;
}

function isUnaryOp(t: Token): boolean {
  if (t.type !== T_OPERATOR) return false;
  switch (t.len) {
    case 1: {
      const c = t.val.charCodeAt(0);
      return c === 0x2b || c === 0x2d || c === 0x21 || c === 0x7e;
    }
    case 2:
      return t.val.charCodeAt(0) === 0x21 && t.val.charCodeAt(1) === 0x21;
    case 3:
      return eqUpper('NOT', t);
    default:
      return false;
  }
}

// ---------------------------------------------------------------------------
// parsers: each takes the state (S), fills S.current, returns the new position

function parseOperator1(sf: State): number {
  const pos = sf.pos;
  assignChar(sf.current, T_OPERATOR, pos, sf.s.charCodeAt(pos));
  return pos + 1;
}

function parseOther(sf: State): number {
  const pos = sf.pos;
  assignChar(sf.current, T_UNKNOWN, pos, sf.s.charCodeAt(pos));
  return pos + 1;
}

function parseChar(sf: State): number {
  const pos = sf.pos;
  const c = sf.s.charCodeAt(pos);
  assignChar(sf.current, c, pos, c);
  return pos + 1;
}

function parseEolComment(sf: State): number {
  const pos = sf.pos;
  const end = memchr(sf.s, pos, sf.slen, 0x0a);
  if (end < 0) {
    assign(sf.current, T_COMMENT, pos, sf.slen - pos, pos);
    return sf.slen;
  }
  assign(sf.current, T_COMMENT, pos, end - pos, pos);
  return end + 1;
}

function parseHash(sf: State): number {
  sf.statsCommentHash += 1;
  if (sf.flags & FLAG_SQL_MYSQL) {
    sf.statsCommentHash += 1;
    return parseEolComment(sf);
  }
  assignChar(sf.current, T_OPERATOR, sf.pos, 0x23);
  return sf.pos + 1;
}

function parseDash(sf: State): number {
  const { s, slen, pos } = sf;
  if (pos + 2 < slen && s.charCodeAt(pos + 1) === 0x2d && isWhite(s.charCodeAt(pos + 2))) {
    return parseEolComment(sf);
  } else if (pos + 2 === slen && s.charCodeAt(pos + 1) === 0x2d) {
    return parseEolComment(sf);
  } else if (pos + 1 < slen && s.charCodeAt(pos + 1) === 0x2d && sf.flags & FLAG_SQL_ANSI) {
    sf.statsCommentDdx += 1;
    return parseEolComment(sf);
  }
  assignChar(sf.current, T_OPERATOR, pos, 0x2d);
  return pos + 1;
}

function parseSlash(sf: State): number {
  const { s, slen, pos } = sf;
  const pos1 = pos + 1;
  if (pos1 === slen || s.charCodeAt(pos1) !== 0x2a) return parseOperator1(sf);

  // find the closing '*/' after the opening '/*'
  const ptr = memchr2(s, pos + 2, slen - (pos + 2), 0x2a, 0x2f);
  let clen: number;
  let nestedLen: number;
  if (ptr < 0) {
    clen = slen - pos;
    // C computes memchr2(cur + 2, (size_t)(NULL - (cur + 1)), ...) here: the
    // wrapped length makes its end pointer NULL, so no nested search happens
    nestedLen = 0;
  } else {
    clen = ptr + 2 - pos;
    nestedLen = ptr - (pos + 1);
  }
  let ctype = T_COMMENT;
  // nested '/*' (postgresql) or MySQL '/*!' conditional comment: evil
  if (memchr2(s, pos + 2, nestedLen, 0x2f, 0x2a) >= 0) {
    ctype = T_EVIL;
  } else if (pos + 2 < slen && s.charCodeAt(pos + 2) === 0x21) {
    ctype = T_EVIL;
  }
  assign(sf.current, ctype, pos, clen, pos);
  return pos + clen;
}

function parseBackslash(sf: State): number {
  const { s, slen, pos } = sf;
  // MySQL alias for NULL: "\N" (capital N only)
  if (pos + 1 < slen && s.charCodeAt(pos + 1) === 0x4e) {
    assign(sf.current, T_NUMBER, pos, 2, pos);
    return pos + 2;
  }
  assignChar(sf.current, T_BACKSLASH, pos, s.charCodeAt(pos));
  return pos + 1;
}

function parseOperator2(sf: State): number {
  const { s, slen, pos } = sf;
  if (pos + 1 >= slen) return parseOperator1(sf);
  const c0 = s.charCodeAt(pos);
  if (pos + 2 < slen && c0 === 0x3c && s.charCodeAt(pos + 1) === 0x3d && s.charCodeAt(pos + 2) === 0x3e) {
    // special 3-char operator '<=>'
    assign(sf.current, T_OPERATOR, pos, 3, pos);
    return pos + 3;
  }
  const t = lookupRange(s, pos, 2);
  if (t !== CHAR_NULL) {
    assign(sf.current, t, pos, 2, pos);
    return pos + 2;
  }
  if (c0 === 0x3a) {
    // ':' is not an operator
    assign(sf.current, T_COLON, pos, 1, pos);
    return pos + 1;
  }
  return parseOperator1(sf);
}

/** odd number of backslashes ending at `end` (not before `start`) */
function isBackslashEscaped(s: string, end: number, start: number): boolean {
  let p = end;
  while (p >= start && s.charCodeAt(p) === 0x5c) p--;
  return ((end - p) & 1) === 1;
}

function parseStringCore(sf: State, pos: number, t: Token, delim: number, offset: number): number {
  const { s, slen } = sf;
  const start = pos + offset;
  let qpos = memchr(s, start, slen, delim);
  t.strOpen = offset > 0 ? delim : CHAR_NULL;
  for (;;) {
    if (qpos < 0) {
      // string ended with no trailing quote
      assign(t, T_STRING, start, slen - start, start);
      t.strClose = CHAR_NULL;
      return slen;
    } else if (isBackslashEscaped(s, qpos - 1, start)) {
      qpos = memchr(s, qpos + 1, slen, delim);
    } else if (qpos + 1 < slen && s.charCodeAt(qpos + 1) === s.charCodeAt(qpos)) {
      // doubled delimiter: 'foo''bar'
      qpos = memchr(s, qpos + 2, slen, delim);
    } else {
      assign(t, T_STRING, start, qpos - start, start);
      t.strClose = delim;
      return qpos + 1;
    }
  }
}

function parseString(sf: State): number {
  return parseStringCore(sf, sf.pos, sf.current, sf.s.charCodeAt(sf.pos), 1);
}

/** N'..' / n'..' (mysql national charset), E'..' (pgsql escaped string) */
function parseEstring(sf: State): number {
  const { s, slen, pos } = sf;
  if (pos + 2 >= slen || s.charCodeAt(pos + 1) !== CHAR_SINGLE) return parseWord(sf);
  return parseStringCore(sf, pos, sf.current, CHAR_SINGLE, 2);
}

/** U&'..' */
function parseUstring(sf: State): number {
  const { s, slen, pos } = sf;
  if (pos + 2 < slen && s.charCodeAt(pos + 1) === 0x26 && s.charCodeAt(pos + 2) === CHAR_SINGLE) {
    sf.pos += 2;
    const np = parseString(sf);
    sf.current.strOpen = 0x75; // 'u'
    if (sf.current.strClose === CHAR_SINGLE) sf.current.strClose = 0x75;
    return np;
  }
  return parseWord(sf);
}

/** Oracle q'..' strings */
function parseQstringCore(sf: State, offset: number): number {
  const { s, slen } = sf;
  const pos = sf.pos + offset;
  if (pos >= slen) return parseWord(sf);
  const c = s.charCodeAt(pos);
  if ((c !== 0x71 && c !== 0x51) || pos + 2 >= slen || s.charCodeAt(pos + 1) !== CHAR_SINGLE) {
    return parseWord(sf);
  }
  let q = s.charCodeAt(pos + 2);
  // C: `char ch < 33` with signed char, so bytes >= 128 also fall back
  if (q < 33 || q > 127) return parseWord(sf);
  switch (q) {
    case 0x28: q = 0x29; break;
    case 0x5b: q = 0x5d; break;
    case 0x7b: q = 0x7d; break;
    case 0x3c: q = 0x3e; break;
  }
  const strend = memchr2(s, pos + 3, slen - pos - 3, q, CHAR_SINGLE);
  const t = sf.current;
  if (strend < 0) {
    assign(t, T_STRING, pos + 3, slen - pos - 3, pos + 3);
    t.strOpen = 0x71;
    t.strClose = CHAR_NULL;
    return slen;
  }
  assign(t, T_STRING, pos + 3, strend - pos - 3, pos + 3);
  t.strOpen = 0x71;
  t.strClose = 0x71;
  return strend + 2;
}

function parseQstring(sf: State): number {
  return parseQstringCore(sf, 0);
}

function parseNqstring(sf: State): number {
  const { slen, pos } = sf;
  if (pos + 2 < slen && sf.s.charCodeAt(pos + 1) === CHAR_SINGLE) return parseEstring(sf);
  return parseQstringCore(sf, 1);
}

/** b'0101' / x'CAFE' literals */
function parseBXstring(sf: State, digits: Uint8Array): number {
  const { s, slen, pos } = sf;
  if (pos + 2 >= slen || s.charCodeAt(pos + 1) !== CHAR_SINGLE) return parseWord(sf);
  const wlen = spn(s, pos + 2, slen - pos - 2, digits);
  if (pos + 2 + wlen >= slen || s.charCodeAt(pos + 2 + wlen) !== CHAR_SINGLE) return parseWord(sf);
  assign(sf.current, T_NUMBER, pos, wlen + 3, pos);
  return pos + 2 + wlen + 1;
}

/** MS SQL [bracket words] */
function parseBword(sf: State): number {
  const { s, slen, pos } = sf;
  const end = memchr(s, pos, slen, 0x5d);
  if (end < 0) {
    assign(sf.current, T_BAREWORD, pos, slen - pos, pos);
    return slen;
  }
  assign(sf.current, T_BAREWORD, pos, end - pos + 1, pos);
  return end + 1;
}

function parseWord(sf: State): number {
  const { s, slen, pos } = sf;
  const t = sf.current;
  const wlen = cspn(s, pos, slen - pos, WORD_END);
  assign(t, T_BAREWORD, pos, wlen, pos);

  // look inside for '.' and '`': is what comes before a keyword? ("SELECT.1", "SELECT`col`")
  const val = t.val;
  for (let i = 0; i < t.len; i++) {
    const d = val.charCodeAt(i);
    if (d === 0x2e || d === 0x60) {
      const k = lookupRange(val, 0, i);
      if (k !== T_NONE && k !== T_BAREWORD) {
        t.clear();
        assign(t, k, pos, i, pos);
        return pos + i;
      }
    }
  }
  // normal lookup with the word including '.'
  if (wlen < TOKEN_SIZE) {
    const k = lookupWord(val);
    t.type = k === CHAR_NULL ? T_BAREWORD : k;
  }
  return pos + wlen;
}

/** MySQL backticks: a cross between string and bare word */
function parseTick(sf: State): number {
  const np = parseStringCore(sf, sf.pos, sf.current, CHAR_TICK, 1);
  const k = lookupWord(sf.current.val);
  sf.current.type = k === T_FUNCTION ? T_FUNCTION : T_BAREWORD;
  return np;
}

function parseVar(sf: State): number {
  const { s, slen } = sf;
  let pos = sf.pos + 1;
  const t = sf.current;
  if (pos < slen && s.charCodeAt(pos) === 0x40) {
    pos += 1;
    t.count = 2;
  } else {
    t.count = 1;
  }
  // MySQL allows @@`version`
  if (pos < slen) {
    const c = s.charCodeAt(pos);
    if (c === CHAR_TICK) {
      sf.pos = pos;
      const np = parseTick(sf);
      t.type = T_VARIABLE;
      return np;
    } else if (c === CHAR_SINGLE || c === CHAR_DOUBLE) {
      sf.pos = pos;
      const np = parseString(sf);
      t.type = T_VARIABLE;
      return np;
    }
  }
  const xlen = cspn(s, pos, slen - pos, VAR_END);
  assign(t, T_VARIABLE, pos, xlen, pos);
  return pos + xlen;
}

/** my_memmem over the byte string: first index of needle s[nfrom, nfrom+nlen) in s[hfrom, hfrom+hlen) */
function memmem(s: string, hfrom: number, hlen: number, nfrom: number, nlen: number): number {
  const last = hfrom + hlen - nlen;
  const n0 = s.charCodeAt(nfrom);
  for (let cur = hfrom; cur <= last; cur++) {
    if (s.charCodeAt(cur) !== n0) continue;
    let k = 1;
    while (k < nlen && s.charCodeAt(cur + k) === s.charCodeAt(nfrom + k)) k++;
    if (k === nlen) return cur;
  }
  return -1;
}

function parseMoney(sf: State): number {
  const { s, slen, pos } = sf;
  const t = sf.current;
  if (pos + 1 === slen) {
    assignChar(t, T_BAREWORD, pos, 0x24);
    return slen;
  }
  // $1,000.00 or $1.000,00
  let xlen = spn(s, pos + 1, slen - pos - 1, MONEY_DIGITS);
  if (xlen === 0) {
    if (s.charCodeAt(pos + 1) === 0x24) {
      // $$ .. $$ string
      const strend = memchr2(s, pos + 2, slen - pos - 2, 0x24, 0x24);
      if (strend < 0) {
        assign(t, T_STRING, pos + 2, slen - (pos + 2), pos + 2);
        t.strOpen = 0x24;
        t.strClose = CHAR_NULL;
        return slen;
      }
      assign(t, T_STRING, pos + 2, strend - (pos + 2), pos + 2);
      t.strOpen = 0x24;
      t.strClose = 0x24;
      return strend + 2;
    }
    // pgsql $tag$ .. $tag$ strings
    xlen = spn(s, pos + 1, slen - pos - 1, MONEY_ALPHA);
    if (xlen === 0) {
      assignChar(t, T_BAREWORD, pos, 0x24);
      return pos + 1;
    }
    if (pos + xlen + 1 === slen || s.charCodeAt(pos + xlen + 1) !== 0x24) {
      assignChar(t, T_BAREWORD, pos, 0x24);
      return pos + 1;
    }
    // find the closing $tag$ (the upstream 3.9.2 source searches from
    // cs + xlen + 2; the build in ModSecurity searches after the opening tag,
    // as verified against libmodsecurity.so.3 with tools/differential.ts)
    const strend = memmem(s, pos + xlen + 2, slen - (pos + xlen + 2), pos, xlen + 2);
    if (strend < 0) {
      assign(t, T_STRING, pos + xlen + 2, slen - pos - xlen - 2, pos + xlen + 2);
      t.strOpen = 0x24;
      t.strClose = CHAR_NULL;
      return slen;
    }
    assign(t, T_STRING, pos + xlen + 2, strend - (pos + xlen + 2), pos + xlen + 2);
    t.strOpen = 0x24;
    t.strClose = 0x24;
    return strend + xlen + 2;
  } else if (xlen === 1 && s.charCodeAt(pos + 1) === 0x2e) {
    // "$." is a word
    return parseWord(sf);
  }
  assign(t, T_NUMBER, pos, 1 + xlen, pos);
  return pos + 1 + xlen;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function parseNumber(sf: State): number {
  const { s, slen } = sf;
  let pos = sf.pos;
  const t = sf.current;
  if (s.charCodeAt(pos) === 0x30 && pos + 1 < slen) {
    const c1 = s.charCodeAt(pos + 1);
    let digits: Uint8Array | null = null;
    if (c1 === 0x58 || c1 === 0x78) digits = DIGITS_HEX;
    else if (c1 === 0x42 || c1 === 0x62) digits = DIGITS_BIN;
    if (digits !== null) {
      const xlen = spn(s, pos + 2, slen - pos - 2, digits);
      if (xlen === 0) {
        assign(t, T_BAREWORD, pos, 2, pos);
        return pos + 2;
      }
      assign(t, T_NUMBER, pos, 2 + xlen, pos);
      return pos + 2 + xlen;
    }
  }

  const start = pos;
  let haveE = false;
  let haveExp = false;
  while (pos < slen && isDigit(s.charCodeAt(pos))) pos++;
  if (pos < slen && s.charCodeAt(pos) === 0x2e) {
    pos++;
    while (pos < slen && isDigit(s.charCodeAt(pos))) pos++;
    if (pos - start === 1) {
      // only '.' read
      assignChar(t, T_DOT, start, 0x2e);
      return pos;
    }
  }
  if (pos < slen) {
    const c = s.charCodeAt(pos);
    if (c === 0x45 || c === 0x65) {
      haveE = true;
      pos++;
      if (pos < slen) {
        const sign = s.charCodeAt(pos);
        if (sign === 0x2b || sign === 0x2d) pos++;
      }
      while (pos < slen && isDigit(s.charCodeAt(pos))) {
        haveExp = true;
        pos++;
      }
    }
  }
  // oracle's float/double suffix
  if (pos < slen) {
    const c = s.charCodeAt(pos);
    if (c === 0x64 || c === 0x44 || c === 0x66 || c === 0x46) {
      if (pos + 1 === slen) {
        pos++;
      } else {
        const n = s.charCodeAt(pos + 1);
        if (isWhite(n) || n === 0x3b) pos++;
        else if (n === 0x75 || n === 0x55) pos++; // '1fUNION' as '1f UNION'
      }
    }
  }
  if (haveE && !haveExp) {
    // "1234.e", "10.10E": a word, not a number
    assign(t, T_BAREWORD, start, pos - start, start);
  } else {
    assign(t, T_NUMBER, start, pos - start, start);
  }
  return pos;
}

function dispatch(sf: State, c: number): number {
  switch (CHAR_MAP[c]) {
    case P_WHITE: return sf.pos + 1;
    case P_OPERATOR1: return parseOperator1(sf);
    case P_OPERATOR2: return parseOperator2(sf);
    case P_STRING: return parseString(sf);
    case P_HASH: return parseHash(sf);
    case P_MONEY: return parseMoney(sf);
    case P_CHAR: return parseChar(sf);
    case P_DASH: return parseDash(sf);
    case P_NUMBER: return parseNumber(sf);
    case P_SLASH: return parseSlash(sf);
    case P_OTHER: return parseOther(sf);
    case P_VAR: return parseVar(sf);
    case P_BSTRING: return parseBXstring(sf, DIGITS_BIN);
    case P_XSTRING: return parseBXstring(sf, DIGITS_HEX);
    case P_ESTRING: return parseEstring(sf);
    case P_NQSTRING: return parseNqstring(sf);
    case P_QSTRING: return parseQstring(sf);
    case P_USTRING: return parseUstring(sf);
    case P_BWORD: return parseBword(sf);
    case P_BACKSLASH: return parseBackslash(sf);
    case P_TICK: return parseTick(sf);
    default: return parseWord(sf);
  }
}

function tokenize(sf: State): boolean {
  const slen = sf.slen;
  if (slen === 0) return false;
  const current = sf.current;
  current.clear();

  // in quote mode, pretend the input starts with a quote
  if (sf.pos === 0 && sf.flags & (FLAG_QUOTE_SINGLE | FLAG_QUOTE_DOUBLE)) {
    const delim = sf.flags & FLAG_QUOTE_SINGLE ? CHAR_SINGLE : CHAR_DOUBLE;
    sf.pos = parseStringCore(sf, 0, current, delim, 0);
    sf.statsTokens += 1;
    return true;
  }
  const s = sf.s;
  while (sf.pos < slen) {
    sf.pos = dispatch(sf, s.charCodeAt(sf.pos));
    if (current.type !== CHAR_NULL) {
      sf.statsTokens += 1;
      return true;
    }
  }
  return false;
}

/** "UNION" + "ALL" -> "UNION ALL" when the pair is itself a keyword */
function mergeWords(a: Token, b: Token): boolean {
  const at = a.type;
  if (!(at === T_KEYWORD || at === T_BAREWORD || at === T_OPERATOR || at === T_UNION ||
    at === T_FUNCTION || at === T_EXPRESSION || at === T_TSQL || at === T_SQLTYPE)) {
    return false;
  }
  const bt = b.type;
  if (!(bt === T_KEYWORD || bt === T_BAREWORD || bt === T_OPERATOR || bt === T_UNION ||
    bt === T_FUNCTION || bt === T_EXPRESSION || bt === T_TSQL || bt === T_SQLTYPE ||
    bt === T_LOGIC_OPERATOR)) {
    return false;
  }
  const sz3 = a.len + b.len + 1;
  if (sz3 >= TOKEN_SIZE) return false;
  const tmp = a.val + ' ' + b.val;
  const k = lookupWord(tmp);
  if (k !== CHAR_NULL) {
    assignStr(a, k, a.pos, tmp);
    return true;
  }
  return false;
}

/** tokens in `next 2/3` reading loops */
function readTokens(sf: State, pos: number, left: number, want: number, more: { v: boolean }): number {
  const tv = sf.tokenvec;
  while (more.v && pos <= MAX_TOKENS && pos - left < want) {
    sf.current = tv[pos]!;
    more.v = tokenize(sf);
    if (more.v) {
      if (sf.current.type === T_COMMENT) {
        lastComment.copyFrom(sf.current);
      } else {
        lastComment.type = CHAR_NULL;
        pos += 1;
      }
    }
  }
  return pos;
}

const moreBox = { v: true };

function fold(sf: State): number {
  const tv = sf.tokenvec;
  let pos = 0;
  let left = 0;
  const more = moreBox;
  more.v = true;
  lastComment.clear();

  // skip all initial comments, left-parens, sql types and unary operators
  sf.current = tv[0]!;
  while (more.v) {
    more.v = tokenize(sf);
    const c = sf.current;
    if (!(c.type === T_COMMENT || c.type === T_LEFTPARENS || c.type === T_SQLTYPE || isUnaryOp(c))) break;
  }
  if (!more.v) return 0;
  pos += 1;

  for (;;) {
    // with 5 tokens: special cases
    if (pos >= MAX_TOKENS) {
      const t0 = tv[0]!.type, t1 = tv[1]!.type, t2 = tv[2]!.type, t3 = tv[3]!.type, t4 = tv[4]!.type;
      if ((t0 === T_NUMBER && (t1 === T_OPERATOR || t1 === T_COMMA) && t2 === T_LEFTPARENS &&
          t3 === T_NUMBER && t4 === T_RIGHTPARENS) ||
        (t0 === T_BAREWORD && t1 === T_OPERATOR && t2 === T_LEFTPARENS &&
          (t3 === T_BAREWORD || t3 === T_NUMBER) && t4 === T_RIGHTPARENS) ||
        (t0 === T_NUMBER && t1 === T_RIGHTPARENS && t2 === T_COMMA && t3 === T_LEFTPARENS &&
          t4 === T_NUMBER) ||
        (t0 === T_BAREWORD && t1 === T_RIGHTPARENS && t2 === T_OPERATOR && t3 === T_LEFTPARENS &&
          t4 === T_BAREWORD)) {
        if (pos > MAX_TOKENS) {
          tv[1]!.copyFrom(tv[MAX_TOKENS]!);
          pos = 2;
          left = 0;
        } else {
          pos = 1;
          left = 0;
        }
      }
    }

    if (!more.v || left >= MAX_TOKENS) {
      left = pos;
      break;
    }

    // get up to two tokens
    pos = readTokens(sf, pos, left, 2, more);
    if (pos - left < 2) {
      left = pos;
      continue;
    }

    const a = tv[left]!;
    const b = tv[left + 1]!;
    // two-token folding
    if (a.type === T_STRING && b.type === T_STRING) {
      pos -= 1;
      sf.statsFolds += 1;
      continue;
    } else if (a.type === T_SEMICOLON && b.type === T_SEMICOLON) {
      pos -= 1;
      sf.statsFolds += 1;
      continue;
    } else if ((a.type === T_OPERATOR || a.type === T_LOGIC_OPERATOR) &&
      (isUnaryOp(b) || b.type === T_SQLTYPE)) {
      pos -= 1;
      sf.statsFolds += 1;
      left = 0;
      continue;
    } else if (a.type === T_LEFTPARENS && isUnaryOp(b)) {
      pos -= 1;
      sf.statsFolds += 1;
      if (left > 0) left -= 1;
      continue;
    } else if (mergeWords(a, b)) {
      pos -= 1;
      sf.statsFolds += 1;
      if (left > 0) left -= 1;
      continue;
    } else if (a.type === T_SEMICOLON && b.type === T_FUNCTION &&
      (b.at(0) === 0x49 || b.at(0) === 0x69) && (b.at(1) === 0x46 || b.at(1) === 0x66)) {
      // IF after ';' is TSQL control flow
      b.type = T_TSQL;
      continue;
    } else if ((a.type === T_BAREWORD || a.type === T_VARIABLE) && b.type === T_LEFTPARENS && (
      eqUpper('USER_ID', a) || eqUpper('USER_NAME', a) || eqUpper('DATABASE', a) ||
      eqUpper('PASSWORD', a) || eqUpper('USER', a) || eqUpper('CURRENT_USER', a) ||
      eqUpper('CURRENT_DATE', a) || eqUpper('CURRENT_TIME', a) || eqUpper('CURRENT_TIMESTAMP', a) ||
      eqUpper('LOCALTIME', a) || eqUpper('LOCALTIMESTAMP', a))) {
      a.type = T_FUNCTION;
      continue;
    } else if (a.type === T_KEYWORD && (eqUpper('IN', a) || eqUpper('NOT IN', a))) {
      a.type = b.type === T_LEFTPARENS ? T_OPERATOR : T_BAREWORD;
      continue;
    } else if (a.type === T_OPERATOR && (eqUpper('LIKE', a) || eqUpper('NOT LIKE', a))) {
      if (b.type === T_LEFTPARENS) a.type = T_FUNCTION;
    } else if (a.type === T_SQLTYPE && (b.type === T_BAREWORD || b.type === T_NUMBER ||
      b.type === T_SQLTYPE || b.type === T_LEFTPARENS || b.type === T_FUNCTION ||
      b.type === T_VARIABLE || b.type === T_STRING)) {
      a.copyFrom(b);
      pos -= 1;
      sf.statsFolds += 1;
      left = 0;
      continue;
    } else if (a.type === T_COLLATE && b.type === T_BAREWORD) {
      // strchr(val, '_') (C string: stops at NUL)
      const nul = b.val.indexOf('\0');
      const u = b.val.indexOf('_');
      if (u >= 0 && (nul < 0 || u < nul)) {
        b.type = T_SQLTYPE;
        left = 0;
      }
    } else if (a.type === T_BACKSLASH) {
      if (isArithmeticOp(b)) {
        a.type = T_NUMBER;
      } else {
        a.copyFrom(b);
        pos -= 1;
        sf.statsFolds += 1;
      }
      left = 0;
      continue;
    } else if (a.type === T_LEFTPARENS && b.type === T_LEFTPARENS) {
      pos -= 1;
      left = 0;
      sf.statsFolds += 1;
      continue;
    } else if (a.type === T_RIGHTPARENS && b.type === T_RIGHTPARENS) {
      pos -= 1;
      left = 0;
      sf.statsFolds += 1;
      continue;
    } else if (a.type === T_LEFTBRACE && b.type === T_BAREWORD) {
      // MySQL degenerate case '{ ``': evil
      if (b.len === 0) {
        b.type = T_EVIL;
        return left + 2;
      }
      // ODBC {foo expr} -> expr
      left = 0;
      pos -= 2;
      sf.statsFolds += 2;
      continue;
    } else if (b.type === T_RIGHTBRACE) {
      pos -= 1;
      left = 0;
      sf.statsFolds += 1;
      continue;
    }

    // no two-token fold: get one more token
    pos = readTokens(sf, pos, left, 3, more);
    if (pos - left < 3) {
      left = pos;
      continue;
    }

    const x = tv[left]!;
    const y = tv[left + 1]!;
    const z = tv[left + 2]!;
    if (x.type === T_NUMBER && y.type === T_OPERATOR && z.type === T_NUMBER) {
      pos -= 2;
      left = 0;
      continue;
    } else if (x.type === T_OPERATOR && y.type !== T_LEFTPARENS && z.type === T_OPERATOR) {
      left = 0;
      pos -= 2;
      continue;
    } else if (x.type === T_LOGIC_OPERATOR && z.type === T_LOGIC_OPERATOR) {
      pos -= 2;
      left = 0;
      continue;
    } else if (x.type === T_VARIABLE && y.type === T_OPERATOR &&
      (z.type === T_VARIABLE || z.type === T_NUMBER || z.type === T_BAREWORD)) {
      pos -= 2;
      left = 0;
      continue;
    } else if ((x.type === T_BAREWORD || x.type === T_NUMBER) && y.type === T_OPERATOR &&
      (z.type === T_NUMBER || z.type === T_BAREWORD)) {
      pos -= 2;
      left = 0;
      continue;
    } else if ((x.type === T_BAREWORD || x.type === T_NUMBER || x.type === T_VARIABLE ||
      x.type === T_STRING) && y.type === T_OPERATOR && y.len === 2 && y.val === '::' &&
      z.type === T_SQLTYPE) {
      pos -= 2;
      left = 0;
      sf.statsFolds += 2;
      continue;
    } else if ((x.type === T_BAREWORD || x.type === T_NUMBER || x.type === T_STRING ||
      x.type === T_VARIABLE) && y.type === T_COMMA &&
      (z.type === T_NUMBER || z.type === T_BAREWORD || z.type === T_STRING ||
        z.type === T_VARIABLE)) {
      pos -= 2;
      left = 0;
      continue;
    } else if ((x.type === T_EXPRESSION || x.type === T_GROUP || x.type === T_COMMA) &&
      isUnaryOp(y) && z.type === T_LEFTPARENS) {
      // SELECT + (, LIMIT + ( : remove unary operator
      y.copyFrom(z);
      pos -= 1;
      left = 0;
      continue;
    } else if ((x.type === T_KEYWORD || x.type === T_EXPRESSION || x.type === T_GROUP) &&
      isUnaryOp(y) && (z.type === T_NUMBER || z.type === T_BAREWORD || z.type === T_VARIABLE ||
        z.type === T_STRING || z.type === T_FUNCTION)) {
      // select - 1
      y.copyFrom(z);
      pos -= 1;
      left = 0;
      continue;
    } else if (x.type === T_COMMA && isUnaryOp(y) &&
      (z.type === T_NUMBER || z.type === T_BAREWORD || z.type === T_VARIABLE ||
        z.type === T_STRING)) {
      // ", -1" -> ",1" and back up
      y.copyFrom(z);
      left = 0;
      pos -= 3;
      continue;
    } else if (x.type === T_COMMA && isUnaryOp(y) && z.type === T_FUNCTION) {
      y.copyFrom(z);
      pos -= 1;
      left = 0;
      continue;
    } else if (x.type === T_BAREWORD && y.type === T_DOT && z.type === T_BAREWORD) {
      // databasename.table
      pos -= 2;
      left = 0;
      continue;
    } else if (x.type === T_EXPRESSION && y.type === T_DOT && z.type === T_BAREWORD) {
      // select . `foo` --> select `foo`
      y.copyFrom(z);
      pos -= 1;
      left = 0;
      continue;
    } else if (x.type === T_FUNCTION && y.type === T_LEFTPARENS && z.type !== T_RIGHTPARENS) {
      // USER(foo) is not the 0-arg function USER()
      if (eqUpper('USER', x)) x.type = T_BAREWORD;
    }

    // no folding: the left-most token is good
    left += 1;
  }

  // with 4 or fewer tokens and a trailing comment, add it back
  if (left < MAX_TOKENS && lastComment.type === T_COMMENT) {
    tv[left]!.copyFrom(lastComment);
    left += 1;
  }
  if (left > MAX_TOKENS) left = MAX_TOKENS;
  return left;
}

/** libinjection_sqli_fingerprint */
function fingerprint(sf: State, flags: number): string {
  sf.reset(flags);
  const tlen = fold(sf);
  const tv = sf.tokenvec;

  // magic PHP backquote comment: unclosed empty `-string at the end
  if (tlen > 2) {
    const t = tv[tlen - 1]!;
    if (t.type === T_BAREWORD && t.strOpen === CHAR_TICK && t.len === 0 && t.strClose === CHAR_NULL) {
      t.type = T_COMMENT;
    }
  }
  let fp = '';
  let evil = false;
  for (let i = 0; i < tlen; i++) {
    const ty = tv[i]!.type;
    if (ty === T_EVIL) evil = true;
    fp += String.fromCharCode(ty);
  }
  // C: fingerprint is a C string, a NUL type would end it
  const nul = fp.indexOf('\0');
  if (nul >= 0) {
    fp = fp.substring(0, nul);
    evil = fp.indexOf('X') >= 0;
  }
  if (evil) {
    fp = 'X';
    tv[0]!.type = T_EVIL;
    tv[0]!.val = 'X';
    tv[0]!.len = 1;
    tv[1]!.type = CHAR_NULL;
  }
  sf.fingerprint = fp;
  return fp;
}

/** is "0" + upper(fingerprint) in the fingerprint table? */
function blacklist(sf: State): boolean {
  const fp = sf.fingerprint;
  if (fp.length < 1) return false;
  return lookupWord('0' + fp) === T_FINGERPRINT;
}

/** heuristics reducing false positives; true = SQLi */
function notWhitelist(sf: State): boolean {
  const fp = sf.fingerprint;
  const tlen = fp.length;
  const tv = sf.tokenvec;
  const t0 = tv[0]!;
  const t1 = tv[1]!;

  if (tlen > 1 && fp.charCodeAt(tlen - 1) === T_COMMENT) {
    // MS SQL audit log evasion
    if (sf.s.indexOf('sp_password') >= 0) return true;
  }

  switch (tlen) {
    case 2: {
      if (fp.charCodeAt(1) === T_UNION) {
        // "1 union" alone is normal enough; beep only with folding/comments
        return sf.statsTokens !== 2;
      }
      // comment '#': too many false positives
      if (t1.at(0) === 0x23) return false;
      // 'nc': only /* comments count
      if (t0.type === T_BAREWORD && t1.type === T_COMMENT && t1.at(0) !== 0x2f) return false;
      // '1c' ending with /*
      if (t0.type === T_NUMBER && t1.type === T_COMMENT && t1.at(0) === 0x2f) return true;
      // 1234-ABCDEF-- style base64 values: make sure the 1 in 1c is a true number
      if (t0.type === T_NUMBER && t1.type === T_COMMENT) {
        if (sf.statsTokens > 2) return true;
        const c = ch(sf.s, sf.slen, t0.len);
        // C: `char ch <= 32` with a signed char, so bytes >= 0x80 count too
        if (c <= 32 || c >= 0x80) return true;
        if (c === 0x2f && ch(sf.s, sf.slen, t0.len + 1) === 0x2a) return true;
        if (c === 0x2d && ch(sf.s, sf.slen, t0.len + 1) === 0x2d) return true;
        return false;
      }
      // only detect if input ends with '--': '1--' but not '1-- foo'
      if (t1.len > 2 && t1.at(0) === 0x2d) return false;
      break;
    }
    case 3: {
      if (fp === 'sos' || fp === 's&s') {
        // ...foo' + 'bar... : no opening quote, no closing quote
        return t0.strOpen === CHAR_NULL && tv[2]!.strClose === CHAR_NULL && t0.strClose === tv[2]!.strOpen;
      } else if (fp === 's&n' || fp === 'n&1' || fp === '1&1' || fp === '1&v' || fp === '1&s') {
        // 'sexy and 17' not sqli, 'sexy and 17<18' sqli
        if (sf.statsTokens === 3) return false;
      } else if (t1.type === T_KEYWORD) {
        // only "INTO OUTFILE" / "INTO DUMPFILE" count
        if (t1.len < 5) return false;
        let c = 0;
        for (let i = 0; i < 4; i++) {
          let b = t1.at(i);
          if (b >= 0x61 && b <= 0x7a) b -= 0x20;
          if (b !== 'INTO'.charCodeAt(i)) c = 1;
        }
        if (c !== 0) return false;
      }
      break;
    }
    default:
      break;
  }
  return true;
}

function checkFingerprint(sf: State): boolean {
  return blacklist(sf) && notWhitelist(sf);
}

function reparseAsMysql(sf: State): boolean {
  return sf.statsCommentDdx !== 0 || sf.statsCommentHash !== 0;
}

/** libinjection_is_sqli over a byte string */
function isSqli(sf: State): boolean {
  if (sf.slen === 0) return false;
  const s = sf.s;

  fingerprint(sf, FLAG_QUOTE_NONE | FLAG_SQL_ANSI);
  if (checkFingerprint(sf)) return true;
  if (reparseAsMysql(sf)) {
    fingerprint(sf, FLAG_QUOTE_NONE | FLAG_SQL_MYSQL);
    if (checkFingerprint(sf)) return true;
  }
  if (s.indexOf("'") >= 0) {
    fingerprint(sf, FLAG_QUOTE_SINGLE | FLAG_SQL_ANSI);
    if (checkFingerprint(sf)) return true;
    if (reparseAsMysql(sf)) {
      fingerprint(sf, FLAG_QUOTE_SINGLE | FLAG_SQL_MYSQL);
      if (checkFingerprint(sf)) return true;
    }
  }
  if (s.indexOf('"') >= 0) {
    fingerprint(sf, FLAG_QUOTE_DOUBLE | FLAG_SQL_MYSQL);
    if (checkFingerprint(sf)) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------
// byte mapping

const NON_LATIN1 = /[^\u0000-\u00ff]/;

/**
 * Map a JS string to the byte string libinjection sees.
 * A string whose code units are all <= 0xFF is taken as bytes as is (so raw
 * request bytes decoded as 'latin1' reach the detector unchanged); a string
 * with any code unit above 0xFF is encoded as UTF-8 first, as a C/Go
 * implementation would see it.
 */
export function toByteString(input: string): string {
  if (!NON_LATIN1.test(input)) return input;
  return Buffer.from(input, 'utf8').toString('latin1');
}

export interface SqliResult {
  isSqli: boolean;
  fingerprint: string;
}

/** libinjection_sqli(): SQLi check with the three quote contexts */
export function detectSQLi(input: string): SqliResult {
  const s = toByteString(input);
  S.s = s;
  S.slen = s.length;
  const r = isSqli(S);
  const fp = r ? S.fingerprint : '';
  S.s = '';
  return { isSqli: r, fingerprint: fp };
}

/**
 * libinjection_sqli_fingerprint() for one context, for tests and debugging:
 * returns the (mixed case) fingerprint libinjection computes for `input`
 * with the given flags (default: as-is, ANSI).
 */
export function sqliFingerprint(input: string, flags = FLAG_QUOTE_NONE | FLAG_SQL_ANSI): string {
  const s = toByteString(input);
  S.s = s;
  S.slen = s.length;
  const fp = fingerprint(S, flags);
  S.s = '';
  return fp;
}

/** Tokens (type char + value) produced by the tokenizer alone, for tests. */
export function sqliTokens(input: string, flags = FLAG_QUOTE_NONE | FLAG_SQL_ANSI): Array<[string, string]> {
  const s = toByteString(input);
  S.s = s;
  S.slen = s.length;
  S.reset(flags);
  const out: Array<[string, string]> = [];
  const t = S.tokenvec[0]!;
  S.current = t;
  while (tokenize(S)) out.push([String.fromCharCode(t.type), t.val]);
  S.s = '';
  return out;
}

/** A token as seen by tests and the differential checker (C string semantics for val). */
export interface SqliTokenDetail {
  type: string;
  val: string;
  strOpen: number;
  strClose: number;
  len: number;
  count: number;
}

function detail(t: Token): SqliTokenDetail {
  const nul = t.val.indexOf('\0');
  return {
    type: String.fromCharCode(t.type),
    val: nul >= 0 ? t.val.substring(0, nul) : t.val,
    strOpen: t.strOpen,
    strClose: t.strClose,
    len: t.len,
    count: t.count,
  };
}

/** libinjection_sqli_tokenize() results with all token fields (debugging/tests). */
export function sqliTokenDetails(input: string, flags = FLAG_QUOTE_NONE | FLAG_SQL_ANSI): SqliTokenDetail[] {
  const s = toByteString(input);
  S.s = s;
  S.slen = s.length;
  S.reset(flags);
  const out: SqliTokenDetail[] = [];
  const t = S.tokenvec[0]!;
  S.current = t;
  while (tokenize(S) && out.length < 200) out.push(detail(t));
  S.s = '';
  return out;
}

/** libinjection_sqli_fold() results with all token fields (debugging/tests). */
export function sqliFoldDetails(input: string, flags = FLAG_QUOTE_NONE | FLAG_SQL_ANSI): SqliTokenDetail[] {
  const s = toByteString(input);
  S.s = s;
  S.slen = s.length;
  S.reset(flags);
  const n = fold(S);
  const out: SqliTokenDetail[] = [];
  for (let i = 0; i < n; i++) out.push(detail(S.tokenvec[i]!));
  S.s = '';
  return out;
}
