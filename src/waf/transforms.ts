/**
 * Transformations (t:...) on byte strings (one char per byte, latin1), following the
 * ModSecurity v3 implementations: the CRS is written and tested against them, so their edge cases
 * decide verdicts too (checked against libmodsecurity 3.0.9 one transformation at a time, with
 * `@rx ^(.*)$` captures, by bench/waf/differential.ts's setup). One deliberate difference: cssDecode.
 */
import { createHash } from 'node:crypto';
import { byteBits, intersects } from './regex.ts';

export type Transform = (s: string) => string;

const isHex = (c: number) => (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
const hexVal = (c: number) => (c <= 57 ? c - 48 : (c | 0x20) - 87);
/** ASCII whitespace as C's isspace: space, \t, \n, \v, \f, \r (NaN, past a string's end, is not). */
export const isSpace = (c: number) => c === 32 || (c >= 9 && c <= 13);

export function lowercase(s: string): string {
  // ASCII only (C locale tolower), leave bytes >= 0x80 alone
  if (!/[A-Z]/.test(s)) return s;
  if (!/[\x80-\xff]/.test(s)) return s.toLowerCase();
  return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}

export function uppercase(s: string): string {
  return s.replace(/[a-z]+/g, (m) => m.toUpperCase());
}

// The decoders below copy the runs between the sequences they decode with one slice each, never
// character by character: a rope of single characters costs ~50 ns a byte (a 1 MiB upload's
// REQUEST_BODY went through urlDecodeUni in 53 ms, now ~2 ms).

/** Where the run of characters from `from` up to the next `ch` (or the end) ends. */
function runEnd(s: string, ch: string, from: number): number {
  const k = s.indexOf(ch, from);
  return k < 0 ? s.length : k;
}

export function urlDecode(s: string): string {
  if (s.indexOf('%') < 0 && s.indexOf('+') < 0) return s;
  let out = '';
  let last = 0; // start of the run not copied yet
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 37 && i + 2 <= n - 1 && isHex(s.charCodeAt(i + 1)) && isHex(s.charCodeAt(i + 2))) {
      out += s.slice(last, i) + String.fromCharCode(hexVal(s.charCodeAt(i + 1)) * 16 + hexVal(s.charCodeAt(i + 2)));
      i += 2;
      last = i + 1;
    } else if (c === 43) { out += s.slice(last, i) + ' '; last = i + 1; }
  }
  return last === 0 ? s : out + s.slice(last);
}

/** urlDecodeUni: %XX, %uXXXX (low byte, full-width ASCII mapped down), '+' as space. */
export function urlDecodeUni(s: string): string {
  if (s.indexOf('%') < 0 && s.indexOf('+') < 0) return s;
  let out = '';
  let last = 0; // start of the run not copied yet (a '%' that starts no sequence is part of it)
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 37) {
      if (i + 5 < n && (s[i + 1] === 'u' || s[i + 1] === 'U') && isHex(s.charCodeAt(i + 2)) && isHex(s.charCodeAt(i + 3)) &&
        isHex(s.charCodeAt(i + 4)) && isHex(s.charCodeAt(i + 5))) {
        const hi = hexVal(s.charCodeAt(i + 2)) * 16 + hexVal(s.charCodeAt(i + 3));
        let lo = hexVal(s.charCodeAt(i + 4)) * 16 + hexVal(s.charCodeAt(i + 5));
        if (hi === 0xff && lo > 0 && lo < 0x5f) lo += 0x20;
        out += s.slice(last, i) + String.fromCharCode(lo);
        i += 5;
        last = i + 1;
        continue;
      }
      if (i + 2 < n && isHex(s.charCodeAt(i + 1)) && isHex(s.charCodeAt(i + 2))) {
        out += s.slice(last, i) + String.fromCharCode(hexVal(s.charCodeAt(i + 1)) * 16 + hexVal(s.charCodeAt(i + 2)));
        i += 2;
        last = i + 1;
      }
    } else if (c === 43) { out += s.slice(last, i) + ' '; last = i + 1; }
  }
  return last === 0 ? s : out + s.slice(last);
}

const ENTITIES: Record<string, string> = { quot: '"', amp: '&', lt: '<', gt: '>', nbsp: '\xa0' };

/** htmlEntityDecode: &#DDD; &#xHH; and quot/amp/lt/gt/nbsp, semicolon optional. */
export function htmlEntityDecode(s: string): string {
  if (s.indexOf('&') < 0) return s;
  let out = '';
  const n = s.length;
  let i = 0;
  while (i < n) {
    if (s[i] !== '&') { const e = runEnd(s, '&', i); out += s.slice(i, e); i = e; continue; }
    if (i + 1 >= n) { out += '&'; i++; continue; }
    let j = i + 1;
    if (s[j] === '#') {
      j++;
      let hex = false;
      if (s[j] === 'x' || s[j] === 'X') { hex = true; j++; }
      const start = j;
      while (j < n && (hex ? isHex(s.charCodeAt(j)) : s.charCodeAt(j) >= 48 && s.charCodeAt(j) <= 57)) j++;
      if (j > start) {
        const v = parseInt(s.slice(start, j), hex ? 16 : 10);
        out += String.fromCharCode(v & 0xff);
        if (s[j] === ';') j++;
        i = j;
        continue;
      }
      out += s[i];
      i++;
      continue;
    }
    const start = j;
    while (j < n && /[A-Za-z0-9]/.test(s[j])) j++;
    const name = s.slice(start, j).toLowerCase();
    const ent = ENTITIES[name];
    if (ent !== undefined) {
      out += ent;
      if (s[j] === ';') j++;
      i = j;
      continue;
    }
    out += s[i];
    i++;
  }
  return out;
}

// C escapes shared by jsDecode and escapeSeqDecode (the latter also takes \\ \? \' \").
const C_ESCAPES: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' };
const ESCAPE_SEQ_EXTRA: Record<string, string> = { '\\': '\\', '?': '?', "'": "'", '"': '"' };

const isOctal = (c: string | undefined) => c !== undefined && c >= '0' && c <= '7';

/** Up to 3 octal digits from s[i]: the digits, as ModSecurity reads them. */
function octal(s: string, i: number, n: number): string {
  let j = 0;
  while (i + j < n && j < 3) {
    j++;
    if (!isOctal(s[i + j])) break;
  }
  return s.slice(i, i + j);
}

/**
 * jsDecode, as ModSecurity: \uHHHH (the low byte; full-width ASCII U+FF01-U+FF5E mapped down), \xHH
 * (lowercase u and x only), \OOO (three digits only up to \377, else two), \a \b \f \n \r \t \v,
 * any other \C is C, a backslash at the end stays.
 */
export function jsDecode(s: string): string {
  if (s.indexOf('\\') < 0) return s;
  let out = '';
  const n = s.length;
  let i = 0;
  while (i < n) {
    if (s[i] !== '\\') { const e = runEnd(s, '\\', i); out += s.slice(i, e); i = e; continue; }
    const d = s[i + 1];
    if (d === 'u' && i + 5 < n && isHex(s.charCodeAt(i + 2)) && isHex(s.charCodeAt(i + 3)) && isHex(s.charCodeAt(i + 4)) && isHex(s.charCodeAt(i + 5))) {
      let lo = hexVal(s.charCodeAt(i + 4)) * 16 + hexVal(s.charCodeAt(i + 5));
      if (lo > 0 && lo < 0x5f && (s[i + 2] === 'f' || s[i + 2] === 'F') && (s[i + 3] === 'f' || s[i + 3] === 'F')) lo += 0x20;
      out += String.fromCharCode(lo);
      i += 6;
    } else if (d === 'x' && i + 3 < n && isHex(s.charCodeAt(i + 2)) && isHex(s.charCodeAt(i + 3))) {
      out += String.fromCharCode(hexVal(s.charCodeAt(i + 2)) * 16 + hexVal(s.charCodeAt(i + 3)));
      i += 4;
    } else if (isOctal(d)) {
      let digits = octal(s, i + 1, n);
      if (digits.length === 3 && digits[0] > '3') digits = digits.slice(0, 2);
      out += String.fromCharCode(parseInt(digits, 8));
      i += 1 + digits.length;
    } else if (d !== undefined) {
      out += C_ESCAPES[d] ?? d;
      i += 2;
    } else { out += s[i]; i++; }
  }
  return out;
}

/**
 * cssDecode: CSS 2.x escapes, \HHHHHH (1-6 hex digits, optional following whitespace), \X -> X.
 * ModSecurity 3.0.9 cuts its result at the first NUL byte (C string handling), so in the CRS XSS
 * chain (..., htmlEntityDecode, jsDecode, cssDecode, removeNulls) a "&#0;" or "\0" before a payload
 * hides it from libinjection and most 941 rules. Not copied: the whole value is decoded here.
 */
export function cssDecode(s: string): string {
  if (s.indexOf('\\') < 0) return s;
  let out = '';
  const n = s.length;
  let i = 0;
  while (i < n) {
    if (s[i] !== '\\') { const e = runEnd(s, '\\', i); out += s.slice(i, e); i = e; continue; }
    if (i + 1 >= n) { i++; continue; } // trailing backslash removed
    let j = i + 1;
    let hexLen = 0;
    while (j < n && hexLen < 6 && isHex(s.charCodeAt(j))) { j++; hexLen++; }
    if (hexLen > 0) {
      const hex = s.slice(i + 1, j);
      let v: number;
      const last2 = parseInt(hex.slice(-2), 16);
      v = last2;
      // full-width ASCII (U+FF01..U+FF5E) mapped to ASCII
      if (hexLen >= 5 || hexLen === 4) {
        const full = parseInt(hex, 16);
        if (full >= 0xff01 && full <= 0xff5e) v = full - 0xfee0;
      }
      out += String.fromCharCode(v);
      if (j < n && isSpace(s.charCodeAt(j))) j++;
      i = j;
      continue;
    }
    if (s[j] === '\n') { i = j + 1; continue; }
    out += s[j];
    i = j + 1;
  }
  return out;
}

/** cmdLine: as ModSecurity's t:cmdLine. */
export function cmdLine(s: string): string {
  if (!/["'\\^,;\s/(A-Z]/.test(s)) return s;
  let out = '';
  // a run of separators is one space, written only once the next character is known: a '/' or
  // '(' after it drops it (ModSecurity appends the space and removes it again; removing the last
  // character of a long result copies it, which made " / / / ..." quadratic)
  let space = false;
  let last = 0; // start of the run of characters copied as they are
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    const sep = c === 32 || c === 44 || c === 59 || c === 9 || c === 13 || c === 10; // space , ; \t \r \n
    const keep = c === 47 || c === 40; // '/' '(': kept, without a space before
    const upper = c >= 65 && c <= 90; // lower-cased
    if (!sep && !keep && !upper && c !== 34 && c !== 39 && c !== 92 && c !== 94) continue; // copied as it is (" ' \ ^ are dropped)
    // the run before this character, behind the pending space
    if (i > last) { out += space ? ' ' + s.slice(last, i) : s.slice(last, i); space = false; }
    if (sep) space = true;
    else if (keep) space = false;
    else if (upper) { out += space ? ' ' + String.fromCharCode(c + 32) : String.fromCharCode(c + 32); space = false; }
    last = keep ? i : i + 1;
  }
  if (n > last) out += space ? ' ' + s.slice(last) : s.slice(last);
  else if (space) out += ' ';
  return out;
}

/** compressWhitespace: runs of C isspace() bytes (not 0xA0: ModSecurity 3.0.9 does not count it here) to one space. */
export function compressWhitespace(s: string): string {
  // nothing to do unless a run of 2+ spaces or a non-space whitespace byte is present
  if (!/[\t\n\v\f\r]| {2}/.test(s)) return s;
  return s.replace(/[\t\n\v\f\r ]+/g, ' ');
}

/**
 * removeWhitespace: C isspace() bytes and, as ModSecurity 3.0.9 removes "non-breaking spaces" byte
 * by byte, every 0xA0 and every 0xC2 (the bytes of UTF-8 U+00A0, but also the lead byte of U+0080-U+00BF).
 */
export function removeWhitespace(s: string): string {
  if (!/[\t\n\v\f\r \xa0\xc2]/.test(s)) return s;
  return s.replace(/[\t\n\v\f\r \xa0\xc2]+/g, '');
}

export function removeNulls(s: string): string {
  return s.indexOf('\0') < 0 ? s : s.replace(/\0/g, '');
}

export function replaceNulls(s: string): string {
  return s.indexOf('\0') < 0 ? s : s.replace(/\0/g, ' ');
}

const NEEDS_NORMALIZE = /\/\/|(?:^|[./])\.(?:\/|$)/;
const NEEDS_NORMALIZE_WIN = /\\|\/\/|(?:^|[./])\.(?:\/|$)/;

/**
 * normalizePath / normalizePathWin: ModSecurity's normalize_path_inplace, step for step (its
 * results decide what the CRS path rules see): self references and empty segments removed, back
 * references resolved (a relative path keeps the ones it cannot resolve, an absolute one stops at
 * the root), no trailing slash unless the input had one; Win turns backslashes into slashes as it
 * goes (a run of them after a slash is skipped unconverted, as there).
 */
export function normalizePath(s: string, win = false): string {
  const n = s.length;
  // Nothing to do without a backslash (Win), an empty segment or a dot segment ('.' or '..' ending
  // a segment, or a '.' ending one after a '.', ModSecurity's test): most values, prose and numbers
  // with dots included, are returned as they are (transforms.test.ts checks this against the full
  // algorithm on every string of '/', '.', '\\' and 'a' up to 8 characters).
  if (n === 0 || !(win ? NEEDS_NORMALIZE_WIN : NEEDS_NORMALIZE).test(s)) return s;
  return normalizePathFull(s, win);
}

/** The whole algorithm, for every input (exported for the test of normalizePath's shortcut). */
export function normalizePathFull(s: string, win = false): string {
  const n = s.length;
  if (n === 0) return s;
  const b: number[] = new Array(n);
  for (let k = 0; k < n; k++) b[k] = s.charCodeAt(k);
  const SL = 47, BSL = 92, DOT = 46;
  const end = n - 1;
  const relative = !(b[0] === SL || (win && b[0] === BSL));
  const trailing = b[end] === SL || (win && b[end] === BSL);
  let src = 0, dst = 0, hitroot = false, done = false;
  while (!done && src <= end && dst <= end) {
    if (win) {
      if (b[src] === BSL) b[src] = SL;
      if (src < end && b[src + 1] === BSL) b[src + 1] = SL;
    }
    let skipCopy = false;
    let normalize = true;
    if (src === end) done = true;
    else if (b[src + 1] !== SL) normalize = false; // not the end of a segment
    if (normalize && !(src !== end && b[src] === SL)) {
      if (b[src] === DOT) {
        if (dst > 0 && b[dst - 1] === DOT) {
          // a back reference
          if (relative && (hitroot || dst - 2 <= 0)) hitroot = true; // kept: nothing to go back to
          else {
            dst -= 3;
            while (dst > 0 && b[dst] !== SL) dst--;
            if (dst <= 0) {
              hitroot = true;
              dst = 0;
              if (!relative && src === end) dst++;
            }
            if (done) skipCopy = true;
            else src++;
          }
        } else if (dst === 0) {
          if (done) skipCopy = true; // a relative self reference
          else src++;
        } else if (b[dst - 1] === SL) {
          if (done) skipCopy = true; // a self reference
          else { dst--; src++; }
        }
      } else if (dst > 0) hitroot = false;
    }
    if (skipCopy) continue;
    if (b[src] === SL) {
      // to the last of several slashes
      while (src < end && (b[src + 1] === SL || (win && b[src + 1] === BSL))) src++;
      if (relative && dst === 0) { src++; continue; }
    }
    b[dst++] = b[src++];
  }
  if (!trailing && dst > 0 && b[dst - 1] === SL) dst--;
  return fromCodes(b, dst);
}

/** The string of the first `len` code units of `codes` (bytes, or any code units for an array), without per-character concatenation. */
function fromCodes(codes: number[] | Uint8Array, len: number): string {
  if (codes instanceof Uint8Array) return Buffer.from(codes.buffer, codes.byteOffset, len).toString('latin1');
  let out = '';
  for (let k = 0; k < len; k += 8192) out += String.fromCharCode.apply(null, codes.slice(k, Math.min(len, k + 8192)));
  return out;
}

const B64 = new Int16Array(256).fill(-1);
'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.split('').forEach((c, k) => { B64[c.charCodeAt(0)] = k; });

/**
 * base64Decode as ModSecurity 3.0.9 (mbedtls 2's base64_decode behind it): the value, up to a NUL,
 * must be base64 as a whole (standard alphabet, at most two '=' and only at the end, line breaks
 * anywhere, spaces only before a line break or at the end), else the result is empty; only complete
 * groups of four characters are decoded. CRS 934100 and 934160 decode with it in the middle of
 * their chains, so text that is not base64 reaches their patterns as "".
 */
export function base64Decode(s: string): string {
  const nul = s.indexOf('\0');
  if (nul >= 0) s = s.slice(0, nul);
  const n = s.length;
  let count = 0;
  let pad = 0;
  for (let i = 0; i < n; i++) {
    let spaces = 0;
    while (i < n && s.charCodeAt(i) === 32) { i++; spaces++; }
    if (i === n) break;
    if (s[i] === '\n' || (s[i] === '\r' && s[i + 1] === '\n')) continue;
    if (spaces !== 0) return '';
    const c = s.charCodeAt(i);
    if (c === 61) { if (++pad > 2) return ''; } else if (c > 127 || B64[c] < 0 || pad !== 0) return '';
    count++;
  }
  if (count === 0) return '';
  let out = '';
  let acc = 0;
  let quad = 0;
  let keep = 3;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 13 || c === 10 || c === 32) continue;
    if (c === 61) keep--;
    acc = ((acc << 6) | (c === 61 ? 0 : B64[c])) & 0xffffff;
    if (++quad === 4) {
      quad = 0;
      if (keep > 0) out += String.fromCharCode(acc >> 16);
      if (keep > 1) out += String.fromCharCode((acc >> 8) & 0xff);
      if (keep > 2) out += String.fromCharCode(acc & 0xff);
    }
  }
  return out;
}

/** base64DecodeExt: forgiving, skips what is not base64 ('-' and '_' read as '+' and '/'). */
export function base64DecodeExt(s: string): string {
  const out = new Uint8Array((s.length * 3) >> 2);
  let len = 0;
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 61) break; // '='
    const v = c === 45 ? 62 : c === 95 ? 63 : c < 256 ? B64[c] : -1;
    if (v < 0) continue;
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) { bits -= 8; out[len++] = (acc >> bits) & 0xff; }
  }
  return fromCodes(out, len);
}

export const base64Encode = (s: string) => Buffer.from(s, 'latin1').toString('base64');

export function hexDecode(s: string): string {
  const out = new Uint8Array(s.length >> 1);
  let len = 0;
  for (let i = 0; i + 1 < s.length; i += 2) {
    const a = s.charCodeAt(i);
    const b = s.charCodeAt(i + 1);
    if (!isHex(a) || !isHex(b)) break;
    out[len++] = hexVal(a) * 16 + hexVal(b);
  }
  return fromCodes(out, len);
}

export const hexEncode = (s: string) => Buffer.from(s, 'latin1').toString('hex');

/**
 * utf8toUnicode, as ModSecurity 3.0.9 computes it (the CRS XSS, SQLi and path rules start their
 * chains with it): a 2-4 byte sequence becomes %u and at least four lowercase hex digits (five for a
 * code point above U+FFFF, of which urlDecodeUni then reads the first four); an overlong form or
 * an encoded surrogate is followed by its lead byte again; a lead byte F5-F7 is kept in front; a
 * lead byte without its continuation bytes is dropped, and so is every NUL byte; other bytes stay.
 */
export function utf8toUnicode(s: string): string {
  if (!/[\x80-\xff\0]/.test(s)) return s;
  const n = s.length;
  const byte = (k: number) => (k < n ? s.charCodeAt(k) : 0);
  const cont = (k: number) => (byte(k) & 0xc0) === 0x80;
  let out = '';
  let last = 0; // start of the run of bytes that stay as they are
  let i = 0;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (c < 0x80) { if (c === 0) { out += s.slice(last, i); last = i + 1; } i++; continue; }
    // a continuation byte, or F8-FF, where a character should start: it stays
    if ((c & 0xe0) !== 0xc0 && (c & 0xf0) !== 0xe0 && (c & 0xf8) !== 0xf0) { i++; continue; }
    out += s.slice(last, i);
    let len = 0;
    let cp = 0;
    if ((c & 0xe0) === 0xc0) {
      if (cont(i + 1)) { len = 2; cp = ((c & 0x1f) << 6) | (byte(i + 1) & 0x3f); }
    } else if ((c & 0xf0) === 0xe0) {
      if (cont(i + 1) && cont(i + 2)) { len = 3; cp = ((c & 0x0f) << 12) | ((byte(i + 1) & 0x3f) << 6) | (byte(i + 2) & 0x3f); }
    } else {
      if (c >= 0xf5) out += s[i];
      if (cont(i + 1) && cont(i + 2) && cont(i + 3)) { len = 4; cp = ((c & 0x07) << 18) | ((byte(i + 1) & 0x3f) << 12) | ((byte(i + 2) & 0x3f) << 6) | (byte(i + 3) & 0x3f); }
    }
    if (len === 0) { i++; last = i; continue; }
    out += '%u' + cp.toString(16).padStart(4, '0');
    if (cp >= 0xd800 && cp <= 0xdfff) out += s[i];
    if ((len === 4 && cp < 0x10000) || (len === 3 && cp < 0x800) || (len === 2 && cp < 0x80)) out += s[i];
    i += len;
    last = i;
  }
  return out + s.slice(last);
}

/** replaceComments: C-style comments -> one space; an unterminated comment runs to the end. */
export function replaceComments(s: string): string {
  if (s.indexOf('/*') < 0) return s;
  let out = '';
  let i = 0;
  while (i < s.length) {
    const k = s.indexOf('/*', i);
    if (k < 0) { out += s.slice(i); break; }
    out += s.slice(i, k) + ' ';
    const e = s.indexOf('*/', k + 2);
    if (e < 0) break;
    i = e + 2;
  }
  return out;
}

/** removeComments: drops /* *\/, <!-- -->, and everything after -- or # . */
export function removeComments(s: string): string {
  if (!/\/\*|<!--|--|#/.test(s)) return s;
  let out = '';
  let i = 0;
  const n = s.length;
  while (i < n) {
    if (s.startsWith('/*', i)) { const e = s.indexOf('*/', i + 2); if (e < 0) break; i = e + 2; continue; }
    if (s.startsWith('<!--', i)) { const e = s.indexOf('-->', i + 4); if (e < 0) break; i = e + 3; continue; }
    if (s.startsWith('--', i) || s[i] === '#') break;
    // the run up to the next character that can start a comment
    let e = i + 1;
    while (e < n) { const c = s.charCodeAt(e); if (c === 47 || c === 60 || c === 45 || c === 35) break; e++; }
    out += s.slice(i, e);
    i = e;
  }
  return out;
}

export function removeCommentsChar(s: string): string {
  return s.replace(/\/\*|\*\/|<!--|-->|--|#/g, '');
}

/**
 * escapeSeqDecode (ANSI C escapes), as ModSecurity: \a \b \f \n \r \t \v \\ \? \' \", \xHH or \XHH,
 * \O to \OOO (the byte's low 8 bits); for any other \C the backslash is dropped.
 */
export function escapeSeqDecode(s: string): string {
  if (s.indexOf('\\') < 0) return s;
  let out = '';
  const n = s.length;
  let i = 0;
  while (i < n) {
    if (s[i] !== '\\') { const e = runEnd(s, '\\', i); out += s.slice(i, e); i = e; continue; }
    if (i + 1 >= n) { out += '\\'; i++; continue; }
    const d = s[i + 1];
    const c = C_ESCAPES[d] ?? ESCAPE_SEQ_EXTRA[d];
    if (c !== undefined) { out += c; i += 2; continue; }
    if ((d === 'x' || d === 'X') && i + 3 < n && isHex(s.charCodeAt(i + 2)) && isHex(s.charCodeAt(i + 3))) {
      out += String.fromCharCode(hexVal(s.charCodeAt(i + 2)) * 16 + hexVal(s.charCodeAt(i + 3)));
      i += 4;
      continue;
    }
    if (isOctal(d)) {
      const digits = octal(s, i + 1, n);
      out += String.fromCharCode(parseInt(digits, 8) & 0xff);
      i += 1 + digits.length;
      continue;
    }
    out += d;
    i += 2;
  }
  return out;
}

export function trim(s: string): string { return s.replace(/^[\t\n\v\f\r ]+|[\t\n\v\f\r ]+$/g, ''); }

export const TRANSFORMS: Record<string, Transform> = {
  lowercase, uppercase, urldecode: urlDecode, urldecodeuni: urlDecodeUni, htmlentitydecode: htmlEntityDecode,
  jsdecode: jsDecode, cssdecode: cssDecode, cmdline: cmdLine, compresswhitespace: compressWhitespace,
  removewhitespace: removeWhitespace, removenulls: removeNulls, replacenulls: replaceNulls,
  normalizepath: (s) => normalizePath(s), normalisepath: (s) => normalizePath(s),
  normalizepathwin: (s) => normalizePath(s, true), normalisepathwin: (s) => normalizePath(s, true),
  base64decode: base64Decode, base64decodeext: base64DecodeExt, base64encode: base64Encode,
  hexdecode: hexDecode, hexencode: hexEncode, utf8tounicode: utf8toUnicode, replacecomments: replaceComments,
  removecomments: removeComments, removecommentschar: removeCommentsChar, escapeseqdecode: escapeSeqDecode,
  sha1: (s) => createHash('sha1').update(Buffer.from(s, 'latin1')).digest().toString('latin1'),
  md5: (s) => createHash('md5').update(Buffer.from(s, 'latin1')).digest().toString('latin1'),
  length: (s) => String(s.length), trim, trimleft: (s) => s.replace(/^[\t\n\v\f\r ]+/, ''),
  trimright: (s) => s.replace(/[\t\n\v\f\r ]+$/, ''),
  urlencode: (s) => encodeURIComponent(Buffer.from(s, 'latin1').toString('utf8')),
};

/**
 * Bytes without which a transformation leaves its input unchanged (each implementation above
 * returns its input when none is present). A value containing none of the trigger bytes of a
 * whole chain is its own transformed value, so the chain is not run. Transformations missing here
 * (base64, hex, hashes, length, urlEncode) always run.
 */
const WS = '\\t\\n\\v\\f\\r ';
const BS = '\\\\';
const TRIGGER_CHARS: Record<string, string> = {
  lowercase: 'A-Z', uppercase: 'a-z', urldecode: '%+', urldecodeuni: '%+', htmlentitydecode: '&',
  jsdecode: BS, cssdecode: BS, escapeseqdecode: BS, cmdline: `"'${BS}^,;/(A-Z${WS}`,
  compresswhitespace: WS, removewhitespace: `${WS}\\xa0\\xc2`, removenulls: '\\0', replacenulls: '\\0',
  normalizepath: '/.', normalisepath: '/.', normalizepathwin: `/.${BS}`, normalisepathwin: `/.${BS}`,
  utf8tounicode: '\\0\\x80-\\xff', replacecomments: '*', removecomments: '*\\-#', removecommentschar: '*\\-#',
  trim: WS, trimleft: WS, trimright: WS,
};

/** 256-bit set of the trigger bytes of a transformation (see TRIGGER_CHARS), or null when it always runs. */
export function triggerBytes(name: string): Int32Array | null {
  const chars = TRIGGER_CHARS[name];
  return chars === undefined ? null : classBytes(chars);
}

/** The bytes of a regex character-class body (`a-z\\t%`), as a 256-bit set. */
function classBytes(chars: string): Int32Array {
  const re = new RegExp(`[${chars}]`);
  return byteBits((c) => re.test(String.fromCharCode(c)));
}

/**
 * What bytes a transformation can output, given the bytes of its input: a superset, for the
 * prefilter that skips a rule on a value before transforming it (chainDangerBytes). Per
 * transformation: `explode`, bytes whose presence makes any output possible (a decoder's escape
 * character); `map`, letters that may change case; `adds`, [bytes, what they may add]: bytes it may
 * write that were not in its input when one of those is (a range as in a regex class). Without an
 * explode byte, output ⊆ input ∪ case-mapped input ∪ what its bytes add (transforms.test.ts checks
 * this on random inputs against every implementation above). Missing: any output possible.
 */
interface OutputRule { explode?: string; map?: 'lower' | 'upper'; adds?: Array<[string, string]> }
const SPACE_FROM_WS: Array<[string, string]> = [['\\t\\n\\v\\f\\r ', ' ']];
const OUTPUT: Record<string, OutputRule> = {
  none: {}, lowercase: { map: 'lower' }, uppercase: { map: 'upper' },
  urldecode: { explode: '%', adds: [['+', ' ']] }, urldecodeuni: { explode: '%', adds: [['+', ' ']] }, htmlentitydecode: { explode: '&' },
  jsdecode: { explode: '\\' }, cssdecode: { explode: '\\' }, escapeseqdecode: { explode: '\\' },
  cmdline: { map: 'lower', adds: [[',;\\t\\r\\n ', ' ']] }, compresswhitespace: { adds: SPACE_FROM_WS },
  removewhitespace: {}, removenulls: {}, replacenulls: { adds: [['\\0', ' ']] },
  normalizepath: {}, normalisepath: {}, normalizepathwin: { adds: [['\\\\', '/']] }, normalisepathwin: { adds: [['\\\\', '/']] },
  utf8tounicode: { adds: [['\\x80-\\xff', '%u0-9a-f']] }, replacecomments: { adds: [['/', ' ']] }, removecomments: {}, removecommentschar: {},
  trim: {}, trimleft: {}, trimright: {},
};

const OUTPUT_SETS = new Map<string, { explode: Int32Array | null; adds: Array<[Int32Array, Int32Array]> }>(
  Object.entries(OUTPUT).map(([k, r]) => [k, {
    explode: r.explode === undefined ? null : classBytes(r.explode.replace(/[\\\]^-]/g, '\\$&')),
    adds: (r.adds ?? []).map(([from, to]) => [classBytes(from), classBytes(to)]),
  }]),
);

/** A superset of the bytes `name` can output for an input whose bytes are `input`; null: any byte. */
export function outputBytes(name: string, input: Int32Array): Int32Array | null {
  const r = OUTPUT[name];
  const sets = OUTPUT_SETS.get(name);
  if (r === undefined || sets === undefined) return null;
  if (sets.explode !== null && intersects(sets.explode, input)) return null;
  const has = (c: number) => (input[c >> 5] & (1 << (c & 31))) !== 0;
  const out = Int32Array.from(input);
  const set = (c: number) => { out[c >> 5] |= 1 << (c & 31); };
  if (r.map === 'lower') for (let c = 65; c <= 90; c++) { if (has(c)) set(c + 32); }
  if (r.map === 'upper') for (let c = 97; c <= 122; c++) { if (has(c)) set(c - 32); }
  for (const [from, to] of sets.adds) if (intersects(from, input)) for (let w = 0; w < 8; w++) out[w] |= to[w];
  return out;
}

/**
 * The raw bytes that can lead a chain of transformations to output one of `req` (an operator's
 * prefilter): a value holding none of them cannot match, so it is skipped untransformed. Null when
 * no such set helps: a step can output anything from nothing (base64, hashes, length...), or the
 * chain can add a `req` byte to any value. (Each step's output bound is a union over its input
 * bytes plus constants, so testing each byte alone is exact for the bound; an empty value stays
 * empty through every step allowed here.)
 */
export function chainDangerBytes(names: readonly string[], req: Int32Array): Int32Array | null {
  for (const n of names) if (OUTPUT[n] === undefined) return null;
  const danger = new Int32Array(8);
  let all = true;
  for (let b = 0; b < 256; b++) {
    let s: Int32Array | null = new Int32Array(8);
    s[b >> 5] |= 1 << (b & 31);
    for (const n of names) { s = outputBytes(n, s); if (s === null) break; }
    if (s === null || intersects(s, req)) danger[b >> 5] |= 1 << (b & 31);
    else all = false;
  }
  return all ? null : danger;
}
