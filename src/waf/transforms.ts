/**
 * Transformations (t:...) on byte strings (one char per byte, latin1), following the
 * ModSecurity v3 implementations.
 */
import { createHash } from 'node:crypto';

export type Transform = (s: string) => string;

const isHex = (c: number) => (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
const hexVal = (c: number) => (c <= 57 ? c - 48 : (c | 0x20) - 87);
const isSpace = (c: number) => c === 32 || (c >= 9 && c <= 13);

export function lowercase(s: string): string {
  // ASCII only (C locale tolower), leave bytes >= 0x80 alone
  if (!/[A-Z]/.test(s)) return s;
  if (!/[\x80-\xff]/.test(s)) return s.toLowerCase();
  return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}

export function uppercase(s: string): string {
  return s.replace(/[a-z]+/g, (m) => m.toUpperCase());
}

export function urlDecode(s: string): string {
  if (s.indexOf('%') < 0 && s.indexOf('+') < 0) return s;
  let out = '';
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 37 && i + 2 < n + 0 && i + 2 <= n - 1 && isHex(s.charCodeAt(i + 1)) && isHex(s.charCodeAt(i + 2))) {
      out += String.fromCharCode(hexVal(s.charCodeAt(i + 1)) * 16 + hexVal(s.charCodeAt(i + 2)));
      i += 2;
    } else if (c === 43) out += ' ';
    else out += s[i];
  }
  return out;
}

/** urlDecodeUni: %XX, %uXXXX (low byte, full-width ASCII mapped down), '+' as space. */
export function urlDecodeUni(s: string): string {
  if (s.indexOf('%') < 0 && s.indexOf('+') < 0) return s;
  let out = '';
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 37) {
      if (i + 5 < n && (s[i + 1] === 'u' || s[i + 1] === 'U') && isHex(s.charCodeAt(i + 2)) && isHex(s.charCodeAt(i + 3)) &&
        isHex(s.charCodeAt(i + 4)) && isHex(s.charCodeAt(i + 5))) {
        const hi = hexVal(s.charCodeAt(i + 2)) * 16 + hexVal(s.charCodeAt(i + 3));
        let lo = hexVal(s.charCodeAt(i + 4)) * 16 + hexVal(s.charCodeAt(i + 5));
        if (hi === 0xff && lo > 0 && lo < 0x5f) lo += 0x20;
        out += String.fromCharCode(lo);
        i += 5;
        continue;
      }
      if (i + 2 < n && isHex(s.charCodeAt(i + 1)) && isHex(s.charCodeAt(i + 2))) {
        out += String.fromCharCode(hexVal(s.charCodeAt(i + 1)) * 16 + hexVal(s.charCodeAt(i + 2)));
        i += 2;
        continue;
      }
      out += '%';
    } else if (c === 43) out += ' ';
    else out += s[i];
  }
  return out;
}

const ENTITIES: Record<string, string> = { quot: '"', amp: '&', lt: '<', gt: '>', nbsp: '\xa0' };

/** htmlEntityDecode: &#DDD; &#xHH; and quot/amp/lt/gt/nbsp, semicolon optional. */
export function htmlEntityDecode(s: string): string {
  if (s.indexOf('&') < 0) return s;
  let out = '';
  const n = s.length;
  let i = 0;
  while (i < n) {
    if (s[i] !== '&' || i + 1 >= n) { out += s[i]; i++; continue; }
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

/** The character hexOrOctalEscape decoded (set on success; avoids a tuple per escape). */
let escaped = '';

/**
 * `\xHH` or `\O`..`\OOO` starting at the backslash s[i]: the index after it, with the character in
 * `escaped`; 0 when s[i] does not start one.
 */
function hexOrOctalEscape(s: string, i: number, n: number): number {
  const d = s[i + 1];
  if ((d === 'x' || d === 'X') && i + 3 < n && isHex(s.charCodeAt(i + 2)) && isHex(s.charCodeAt(i + 3))) {
    escaped = String.fromCharCode(hexVal(s.charCodeAt(i + 2)) * 16 + hexVal(s.charCodeAt(i + 3)));
    return i + 4;
  }
  if (d >= '0' && d <= '7') {
    let j = i + 1;
    let oct = '';
    while (j < n && oct.length < 3 && s[j] >= '0' && s[j] <= '7') { oct += s[j]; j++; }
    escaped = String.fromCharCode(parseInt(oct, 8) & 0xff);
    return j;
  }
  return 0;
}

/** jsDecode: \xHH \uHHHH \OOO \n etc. */
export function jsDecode(s: string): string {
  if (s.indexOf('\\') < 0) return s;
  let out = '';
  const n = s.length;
  let i = 0;
  while (i < n) {
    if (s[i] !== '\\' || i + 1 >= n) { out += s[i]; i++; continue; }
    const d = s[i + 1];
    if ((d === 'u' || d === 'U') && i + 5 < n && isHex(s.charCodeAt(i + 2)) && isHex(s.charCodeAt(i + 3)) && isHex(s.charCodeAt(i + 4)) && isHex(s.charCodeAt(i + 5))) {
      const hi = hexVal(s.charCodeAt(i + 2)) * 16 + hexVal(s.charCodeAt(i + 3));
      let lo = hexVal(s.charCodeAt(i + 4)) * 16 + hexVal(s.charCodeAt(i + 5));
      if (hi === 0xff && lo > 0 && lo < 0x5f) lo += 0x20;
      out += String.fromCharCode(lo);
      i += 6;
      continue;
    }
    const end = hexOrOctalEscape(s, i, n);
    if (end > 0) { out += escaped; i = end; continue; }
    out += C_ESCAPES[d] ?? d;
    i += 2;
  }
  return out;
}

/** cssDecode: CSS 2.x escapes, \HHHHHH (1-6 hex digits, optional following whitespace), \X -> X. */
export function cssDecode(s: string): string {
  if (s.indexOf('\\') < 0) return s;
  let out = '';
  const n = s.length;
  let i = 0;
  while (i < n) {
    if (s[i] !== '\\') { out += s[i]; i++; continue; }
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
  let space = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    switch (c) {
      case '"': case "'": case '\\': case '^':
        break;
      case ' ': case ',': case ';': case '\t': case '\r': case '\n':
        if (!space) { out += ' '; space = true; }
        break;
      case '/': case '(':
        if (space) out = out.slice(0, -1);
        space = false;
        out += c;
        break;
      default:
        out += c >= 'A' && c <= 'Z' ? c.toLowerCase() : c;
        space = false;
    }
  }
  return out;
}

export function compressWhitespace(s: string): string {
  // nothing to do unless a run of 2+ spaces or a non-space whitespace byte is present
  if (!/[\t\n\v\f\r\xa0]| {2}/.test(s)) return s;
  return s.replace(/[\t\n\v\f\r \xa0]+/g, ' ');
}

export function removeWhitespace(s: string): string {
  if (!/[\t\n\v\f\r \xa0]/.test(s)) return s;
  return s.replace(/[\t\n\v\f\r \xa0]+/g, '');
}

export function removeNulls(s: string): string {
  return s.indexOf('\0') < 0 ? s : s.replace(/\0/g, '');
}

export function replaceNulls(s: string): string {
  return s.indexOf('\0') < 0 ? s : s.replace(/\0/g, ' ');
}

export function normalizePath(s: string, win = false): string {
  if (win && s.indexOf('\\') >= 0) s = s.replace(/\\/g, '/');
  if (s === '' || !/(?:^|\/)\.\.?(?:\/|$)|\/\//.test(s)) return s;
  const abs = s.startsWith('/');
  const trailing = /\/\.{0,2}$/.test(s) && s.length > 1;
  const parts = s.split('/');
  const out: string[] = [];
  for (let k = 0; k < parts.length; k++) {
    const p = parts[k];
    if (p === '' || p === '.') continue;
    if (p === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!abs) out.push('..');
      continue;
    }
    out.push(p);
  }
  let r = (abs ? '/' : '') + out.join('/');
  if (trailing && !r.endsWith('/')) r += '/';
  return r;
}

const B64 = new Int16Array(256).fill(-1);
'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.split('').forEach((c, k) => { B64[c.charCodeAt(0)] = k; });
B64['-'.charCodeAt(0)] = 62;
B64['_'.charCodeAt(0)] = 63;

function b64(s: string, skipInvalid: boolean): string {
  let out = '';
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 61) break; // '='
    const v = c < 256 ? B64[c] : -1;
    if (v < 0) { if (skipInvalid) continue; break; }
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) { bits -= 8; out += String.fromCharCode((acc >> bits) & 0xff); }
  }
  return out;
}

export const base64Decode = (s: string) => b64(s, false);
export const base64DecodeExt = (s: string) => b64(s, true);
export const base64Encode = (s: string) => Buffer.from(s, 'latin1').toString('base64');

export function hexDecode(s: string): string {
  let out = '';
  for (let i = 0; i + 1 < s.length; i += 2) {
    const a = s.charCodeAt(i);
    const b = s.charCodeAt(i + 1);
    if (!isHex(a) || !isHex(b)) break;
    out += String.fromCharCode(hexVal(a) * 16 + hexVal(b));
  }
  return out;
}

export const hexEncode = (s: string) => Buffer.from(s, 'latin1').toString('hex');

/** utf8toUnicode: UTF-8 multi-byte sequences -> %uXXXX. */
export function utf8toUnicode(s: string): string {
  if (!/[\x80-\xff]/.test(s)) return s;
  let out = '';
  const n = s.length;
  let i = 0;
  while (i < n) {
    const c = s.charCodeAt(i);
    let len = 0;
    let cp = 0;
    if (c < 0x80) { out += s[i]; i++; continue; }
    if ((c & 0xe0) === 0xc0) { len = 2; cp = c & 0x1f; } else if ((c & 0xf0) === 0xe0) { len = 3; cp = c & 0x0f; } else if ((c & 0xf8) === 0xf0) { len = 4; cp = c & 0x07; }
    let ok = len > 0 && i + len <= n;
    for (let k = 1; ok && k < len; k++) {
      const cc = s.charCodeAt(i + k);
      if ((cc & 0xc0) !== 0x80) ok = false;
      else cp = (cp << 6) | (cc & 0x3f);
    }
    if (!ok) { out += s[i]; i++; continue; }
    out += '%u' + (cp & 0xffff).toString(16).padStart(4, '0');
    i += len;
  }
  return out;
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
    out += s[i];
    i++;
  }
  return out;
}

export function removeCommentsChar(s: string): string {
  return s.replace(/\/\*|\*\/|<!--|-->|--|#/g, '');
}

export function escapeSeqDecode(s: string): string {
  if (s.indexOf('\\') < 0) return s;
  let out = '';
  const n = s.length;
  let i = 0;
  while (i < n) {
    if (s[i] !== '\\' || i + 1 >= n) { out += s[i]; i++; continue; }
    const d = s[i + 1];
    const c = C_ESCAPES[d] ?? ESCAPE_SEQ_EXTRA[d];
    if (c !== undefined) { out += c; i += 2; continue; }
    const end = hexOrOctalEscape(s, i, n);
    if (end > 0) { out += escaped; i = end; continue; }
    out += s[i] + d;
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
const WS = '\\t\\n\\v\\f\\r \\xa0';
const BS = '\\\\';
const TRIGGER_CHARS: Record<string, string> = {
  lowercase: 'A-Z', uppercase: 'a-z', urldecode: '%+', urldecodeuni: '%+', htmlentitydecode: '&',
  jsdecode: BS, cssdecode: BS, escapeseqdecode: BS, cmdline: `"'${BS}^,;/(A-Z${WS}`,
  compresswhitespace: WS, removewhitespace: WS, removenulls: '\\0', replacenulls: '\\0',
  normalizepath: '/.', normalisepath: '/.', normalizepathwin: `/.${BS}`, normalisepathwin: `/.${BS}`,
  utf8tounicode: '\\x80-\\xff', replacecomments: '*', removecomments: '*\\-#', removecommentschar: '*\\-#',
  trim: WS, trimleft: WS, trimright: WS,
};

/** 256-bit set of the trigger bytes of a transformation (see TRIGGER_CHARS), or null when it always runs. */
export function triggerBytes(name: string): Int32Array | null {
  const chars = TRIGGER_CHARS[name];
  if (chars === undefined) return null;
  const re = new RegExp(`[${chars}]`);
  const bits = new Int32Array(8);
  for (let c = 0; c < 256; c++) if (re.test(String.fromCharCode(c))) bits[c >> 5] |= 1 << (c & 31);
  return bits;
}
