/*
 * XSS detection: a TypeScript port of libinjection's libinjection_xss.c
 * (v3.9.2, as bundled in ModSecurity v3: attributes starting with "on" and
 * at least 5 bytes long are always black).
 *
 * Copyright (c) 2012-2016 Nick Galbreath (original C), BSD-3-Clause,
 * see LICENSE-libinjection in this folder. Port for Portcullis.
 */

import {
  ATTR_NAME, ATTR_VALUE, DATA_STATE, DOCTYPE, H5State, TAG_COMMENT, TAG_NAME_OPEN,
  VALUE_BACK_QUOTE, VALUE_DOUBLE_QUOTE, VALUE_NO_QUOTE, VALUE_SINGLE_QUOTE,
} from './html5.ts';
import { toByteString } from './sqli.ts';

const A_NONE = 0;
const A_BLACK = 1; // ban always
const A_URL = 2; // attribute value takes a URL-like object
const A_STYLE = 3;
const A_INDIRECT = 4; // attribute *name* is given in *value*

const BLACKATTR: ReadonlyArray<readonly [string, number]> = [
  ['ACTION', A_URL], // form
  ['ATTRIBUTENAME', A_INDIRECT], // SVG allows indirection of attribute names
  ['BY', A_URL], // SVG
  ['BACKGROUND', A_URL], // IE6, O11
  ['DATAFORMATAS', A_BLACK], // IE
  ['DATASRC', A_BLACK], // IE
  ['DYNSRC', A_URL], // obsolete img attribute
  ['FILTER', A_STYLE], // Opera, SVG inline style
  ['FORMACTION', A_URL], // HTML 5
  ['FOLDER', A_URL], // only on A tags, IE-only
  ['FROM', A_URL], // SVG
  ['HANDLER', A_URL], // SVG Tiny, Opera
  ['HREF', A_URL],
  ['LOWSRC', A_URL], // obsolete img attribute
  ['POSTER', A_URL], // Opera 10,11
  ['SRC', A_URL],
  ['STYLE', A_STYLE],
  ['TO', A_URL], // SVG
  ['VALUES', A_URL], // SVG
  ['XLINK:HREF', A_URL],
];

const BLACKTAG: readonly string[] = [
  'APPLET', 'BASE', 'COMMENT', 'EMBED', 'FRAME', 'FRAMESET', 'HANDLER', 'IFRAME', 'IMPORT',
  'ISINDEX', 'LINK', 'LISTENER', 'META', 'NOSCRIPT', 'OBJECT', 'SCRIPT', 'STYLE', 'VMLFRAME',
  'XML', 'XSS',
];

/** hex digit value, 256 if not a hex digit (gsHexDecodeMap) */
const HEX = new Uint16Array(256).fill(256);
for (let i = 0; i < 10; i++) HEX[0x30 + i] = i;
for (let i = 0; i < 6; i++) {
  HEX[0x41 + i] = 10 + i;
  HEX[0x61 + i] = 10 + i;
}

let src = '';
let srcLen = 0;

/** byte at i of the whole input; 0 past the end (C reads the NUL terminator) */
function at(i: number): number {
  return i < srcLen ? src.charCodeAt(i) : 0;
}

let consumed = 0;

/**
 * html_decode_char_at: decode one (possibly &#..; encoded) char at src[p],
 * with `len` bytes left in the token. Sets `consumed`.
 * Like C it may look at bytes past the token (but within the input).
 */
function htmlDecodeCharAt(p: number, len: number): number {
  if (len === 0) {
    consumed = 0;
    return -1;
  }
  consumed = 1;
  const c0 = at(p);
  if (c0 !== 0x26 || len < 2) return c0;
  if (at(p + 1) !== 0x23) {
    // named entities: not decoded
    return 0x26;
  }
  const c2 = at(p + 2);
  if (c2 === 0x78 || c2 === 0x58) {
    let c = HEX[at(p + 3)]!;
    if (c === 256) return 0x26; // '&#x?'
    let val = c;
    let i = 4;
    while (i < len) {
      const b = at(p + i);
      if (b === 0x3b) {
        consumed = i + 1;
        return val;
      }
      c = HEX[b]!;
      if (c === 256) {
        consumed = i;
        return val;
      }
      val = val * 16 + c;
      if (val > 0x1000ff) return 0x26;
      ++i;
    }
    consumed = i;
    return val;
  }
  let i = 2;
  let b = at(p + i);
  if (b < 0x30 || b > 0x39) return 0x26;
  let val = b - 0x30;
  i += 1;
  while (i < len) {
    b = at(p + i);
    if (b === 0x3b) {
      consumed = i + 1;
      return val;
    }
    if (b < 0x30 || b > 0x39) {
      consumed = i;
      return val;
    }
    val = val * 10 + (b - 0x30);
    if (val > 0x1000ff) return 0x26;
    ++i;
  }
  consumed = i;
  return val;
}

/**
 * cstrcasecmp_with_null(UPPER, src[p..p+n)) == 0: compare ignoring ASCII case
 * and ignoring NUL bytes in the input.
 */
function eqWithNull(upper: string, p: number, n: number): boolean {
  let ai = 0;
  const alen = upper.length;
  while (n-- > 0) {
    let cb = src.charCodeAt(p++);
    if (cb === 0) continue;
    if (ai >= alen) return false;
    const ca = upper.charCodeAt(ai++);
    if (cb >= 0x61 && cb <= 0x7a) cb -= 0x20;
    if (ca !== cb) return false;
  }
  return ai === alen;
}

/**
 * htmlencode_startswith: does the HTML-encoded src[p..p+n) start with UPPER,
 * ignoring case, leading whitespace/control chars, NULs and newlines?
 */
function htmlencodeStartsWith(upper: string, p: number, n: number): boolean {
  let ai = 0;
  const alen = upper.length;
  let first = true;
  while (n > 0) {
    if (ai >= alen) return true;
    let cb = htmlDecodeCharAt(p, n);
    p += consumed;
    n -= consumed;
    if (first && cb <= 32) continue; // leading whitespace and control chars
    first = false;
    if (cb === 0) continue; // NUL
    if (cb === 10) continue; // newline
    if (cb >= 0x61 && cb <= 0x7a) cb -= 0x20;
    // C compares against (char) cb: only the low byte counts
    if (upper.charCodeAt(ai) !== (cb & 0xff)) return false;
    ai++;
  }
  return ai >= alen;
}

/** names bucketed by their first letter (upper case) for quick rejection */
function byFirst<T>(entries: ReadonlyArray<readonly [string, T]>): Array<Array<readonly [string, T]>> {
  const b: Array<Array<readonly [string, T]>> = [];
  for (let i = 0; i < 128; i++) b.push([]);
  for (const e of entries) b[e[0].charCodeAt(0)]!.push(e);
  return b;
}
const TAGS_BY_FIRST = byFirst(BLACKTAG.map((t) => [t, true] as const));
const ATTRS_BY_FIRST = byFirst(BLACKATTR);

/** first non-NUL byte of src[p..p+len), ASCII upper-cased; -1 if none */
function firstUpper(p: number, len: number): number {
  for (let i = 0; i < len; i++) {
    const c = src.charCodeAt(p + i);
    if (c !== 0) return c >= 0x61 && c <= 0x7a ? c - 0x20 : c;
  }
  return -1;
}

function isBlackTag(p: number, len: number): boolean {
  if (len < 3) return false;
  const f = firstUpper(p, len);
  if (f >= 0 && f < 128) {
    const b = TAGS_BY_FIRST[f]!;
    for (let i = 0; i < b.length; i++) if (eqWithNull(b[i]![0], p, len)) return true;
  }
  const c0 = src.charCodeAt(p) | 0x20;
  const c1 = src.charCodeAt(p + 1) | 0x20;
  const c2 = src.charCodeAt(p + 2) | 0x20;
  // anything SVG related
  if (c0 === 0x73 && c1 === 0x76 && c2 === 0x67) return true;
  // anything XSL(t) related
  if (c0 === 0x78 && c1 === 0x73 && c2 === 0x6c) return true;
  return false;
}

function isBlackAttr(p: number, len: number): number {
  if (len < 2) return A_NONE;
  const f = firstUpper(p, len);
  if (len >= 5) {
    // JavaScript on* event handlers
    const c0 = src.charCodeAt(p);
    const c1 = src.charCodeAt(p + 1);
    if ((c0 === 0x6f || c0 === 0x4f) && (c1 === 0x6e || c1 === 0x4e)) return A_BLACK;
    // XMLNS / XLINK can be used to create arbitrary tags
    if (f === 0x58 && (eqWithNull('XMLNS', p, 5) || eqWithNull('XLINK', p, 5))) return A_BLACK;
  }
  if (f >= 0 && f < 128) {
    const b = ATTRS_BY_FIRST[f]!;
    for (let i = 0; i < b.length; i++) if (eqWithNull(b[i]![0], p, len)) return b[i]![1];
  }
  return A_NONE;
}

function isBlackUrl(p: number, len: number): boolean {
  // skip whitespace, control chars and high-bit bytes (signed char <= 32 or 127)
  while (len > 0) {
    const c = src.charCodeAt(p);
    if (c > 32 && c < 127) break;
    ++p;
    --len;
  }
  return htmlencodeStartsWith('DATA', p, len) ||
    htmlencodeStartsWith('VIEW-SOURCE', p, len) ||
    htmlencodeStartsWith('JAVA', p, len) || // JAVA, JAVASCRIPT
    htmlencodeStartsWith('VBSCRIPT', p, len);
}

const h5 = new H5State();

function isXssInContext(flags: number): boolean {
  h5.init(src, flags);
  let attr = A_NONE;
  while (h5.next()) {
    const tt = h5.tokenType;
    if (tt !== ATTR_VALUE) attr = A_NONE;
    const p = h5.tokenStart;
    const len = h5.tokenLen;
    if (tt === DOCTYPE) {
      return true;
    } else if (tt === TAG_NAME_OPEN) {
      if (isBlackTag(p, len)) return true;
    } else if (tt === ATTR_NAME) {
      attr = isBlackAttr(p, len);
    } else if (tt === ATTR_VALUE) {
      switch (attr) {
        case A_NONE:
          break;
        case A_BLACK:
          return true;
        case A_URL:
          if (isBlackUrl(p, len)) return true;
          break;
        case A_STYLE:
          return true;
        case A_INDIRECT:
          // an attribute name given in a value
          if (isBlackAttr(p, len) !== A_NONE) return true;
          break;
      }
      attr = A_NONE;
    } else if (tt === TAG_COMMENT) {
      // IE uses '`' as a tag ending char
      const tick = src.indexOf('`', p);
      if (tick >= 0 && tick < p + len) return true;
      if (len > 3) {
        const c0 = src.charCodeAt(p);
        const c1 = src.charCodeAt(p + 1) | 0x20;
        const c2 = src.charCodeAt(p + 2) | 0x20;
        // IE conditional comment <!--[if
        if (c0 === 0x5b && c1 === 0x69 && c2 === 0x66) return true;
        // <?xml
        if ((c0 | 0x20) === 0x78 && c1 === 0x6d && c2 === 0x6c) return true;
      }
      if (len > 5) {
        // IE <?import pseudo-tag, XML entity definition
        if (eqWithNull('IMPORT', p, 6)) return true;
        if (eqWithNull('ENTITY', p, 6)) return true;
      }
    }
  }
  return false;
}

/** libinjection_xss(): XSS check in the five HTML contexts */
export function detectXSS(input: string): boolean {
  src = toByteString(input);
  srcLen = src.length;
  try {
    return isXssInContext(DATA_STATE) ||
      isXssInContext(VALUE_NO_QUOTE) ||
      isXssInContext(VALUE_SINGLE_QUOTE) ||
      isXssInContext(VALUE_DOUBLE_QUOTE) ||
      isXssInContext(VALUE_BACK_QUOTE);
  } finally {
    src = '';
    srcLen = 0;
    h5.s = '';
  }
}

/** One context only (flags: html5.ts DATA_STATE...VALUE_BACK_QUOTE), for tests. */
export function isXssIn(input: string, flags: number): boolean {
  src = toByteString(input);
  srcLen = src.length;
  try {
    return isXssInContext(flags);
  } finally {
    src = '';
    srcLen = 0;
    h5.s = '';
  }
}
