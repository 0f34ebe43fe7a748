/**
 * Request body processors on byte strings: URLENCODED, JSON, MULTIPART, XML.
 * They only extract data; limits and error variables are applied by the transaction.
 */
import { isSpace, urlDecode } from './transforms.ts';

export interface BodyResult {
  args: Array<[string, string]>;
  error: string | null;
  files?: Array<{ field: string; filename: string; size: number }>;
  partHeaders?: Array<[string, string]>; // [part name, "Header: value"]
  multipartStrictError?: boolean;
  multipartUnmatchedBoundary?: boolean;
  xml?: { text: string; attrs: string[] };
  /** multipart: the bytes SecRequestBodyNoFilesLimit counts (see parseMultipart) */
  noFilesLength?: number;
}

/** application/x-www-form-urlencoded (also used for QUERY_STRING). */
export function parseUrlEncoded(s: string, limit = Infinity): { args: Array<[string, string]>; truncated: boolean } {
  const args: Array<[string, string]> = [];
  if (s === '') return { args, truncated: false };
  let truncated = false;
  for (const part of s.split('&')) {
    if (part === '') continue;
    if (args.length >= limit) { truncated = true; break; }
    const eq = part.indexOf('=');
    if (eq < 0) args.push([urlDecode(part), '']);
    else args.push([urlDecode(part.slice(0, eq)), urlDecode(part.slice(eq + 1))]);
  }
  return { args, truncated };
}

/** Thrown inside parseJson: the error message, without the offset. */
class JsonError { readonly msg: string; constructor(msg: string) { this.msg = msg; } }

/**
 * JSON -> ARGS named as libmodsecurity 3.0.9 names them (its JSON body processor, observed with
 * nginx + libmodsecurity 3.0.9; the names are in body.test.ts):
 * - the top-level value is `json`: a scalar body is the argument `json`, an object's members are
 *   `json.KEY`, a top-level array's elements `json.array_0`, `json.array_1`, ...;
 * - an object member is PARENT.KEY, the key as it is (dots included: {"a.b":1} and {"a":{"b":1}}
 *   are both json.a.b); an empty key is `empty-key`;
 * - an array element is PARENT.array_N, N from 0, counting every element (also nested arrays and
 *   objects, and empty ones): [[1],[2]] gives json.array_0.array_0 and json.array_1.array_0;
 * - no argument for an array's length, nor for an empty array or object;
 * - repeated keys are each an argument.
 * (Coraza names them differently: json.a.0, plus json.a = the array's length.) The transaction
 * adds them to ARGS and ARGS_NAMES only, not ARGS_POST: see populateBody.
 *
 * A parser of its own, on the body's bytes, that reads JSON the way ModSecurity's (yajl) does
 * rather than the way JSON.parse does, because what the WAF reads must be what it judges:
 * - every member is an argument, also each of repeated keys: {"q":"<attack>","q":"x"} gives both
 *   (JSON.parse keeps the last one only, and the first one was never inspected);
 * - strings stay bytes: raw bytes must be UTF-8 in yajl's sense (a lead byte and the right number
 *   of continuation bytes: overlong forms and encoded surrogates pass, as they do there, and reach
 *   the UTF-8 validation rules unchanged); \u escapes become UTF-8, a lone high surrogate '?';
 * - numbers as written (1e5 stays "1e5"), true/false, null as "";
 * - what yajl refuses is an error (trailing commas, comments, NaN, single quotes, control bytes in
 *   strings, a BOM, bytes after the value); whitespace is yajl's: space, \t, \n, \v, \f, \r.
 */
export function parseJson(body: string, depthLimit: number, argLimit: number): BodyResult {
  const args: Array<[string, string]> = [];
  const n = body.length;
  let i = 0;
  const ws = () => { while (isSpace(body.charCodeAt(i))) i++; };
  const add = (key: string, value: string) => {
    if (args.length > argLimit) throw new JsonError(`JSON argument limit ${argLimit} exceeded`);
    args.push([key, value]);
  };
  const str = (): string => {
    i++; // the opening quote
    let out = '';
    let run = i;
    for (;;) {
      if (i >= n) throw new JsonError('unterminated string');
      const c = body.charCodeAt(i);
      if (c === 34) { out += body.slice(run, i); i++; return out; }
      if (c < 32) throw new JsonError('invalid character inside string');
      if (c === 92) {
        out += body.slice(run, i);
        const e = body[i + 1];
        const simple = e === undefined ? undefined : ESCAPES.get(e);
        if (simple !== undefined) { out += simple; i += 2; } else if (e === 'u') {
          let cp = hex4(body, i + 2);
          i += 6;
          if ((cp & 0xfc00) === 0xd800) {
            if (body[i] === '\\' && body[i + 1] === 'u') {
              // yajl's arithmetic, which is the usual one for a valid pair
              cp = ((cp & 0x3f) << 10) | ((((cp >> 6) & 0xf) + 1) << 16) | (hex4(body, i + 2) & 0x3ff);
              i += 6;
              out += utf8(cp);
            } else out += '?';
          } else out += utf8(cp);
        } else throw new JsonError("'\\' before a character that cannot be escaped");
        run = i;
        continue;
      }
      if (c >= 0x80) {
        const len = (c >> 5) === 6 ? 2 : (c >> 4) === 0xe ? 3 : (c >> 3) === 0x1e ? 4 : 0;
        if (len === 0 || i + len > n) throw new JsonError('invalid bytes in UTF8 string');
        for (let k = 1; k < len; k++) if ((body.charCodeAt(i + k) >> 6) !== 2) throw new JsonError('invalid bytes in UTF8 string');
        i += len;
        continue;
      }
      i++;
    }
  };
  const value = (key: string, depth: number): void => {
    if (depth > depthLimit) throw new JsonError(`JSON depth limit ${depthLimit} exceeded`);
    ws();
    const c = body.charCodeAt(i);
    if (c === 123) { // {
      i++; ws();
      if (body.charCodeAt(i) === 125) { i++; return; }
      for (;;) {
        if (body.charCodeAt(i) !== 34) throw new JsonError('invalid object key (must be a string)');
        const k = str();
        ws();
        if (body.charCodeAt(i) !== 58) throw new JsonError("object key and value must be separated by a colon (':')");
        i++;
        value(`${key}.${k === '' ? 'empty-key' : k}`, depth + 1);
        ws();
        const d = body.charCodeAt(i++);
        if (d === 125) return;
        if (d !== 44) throw new JsonError("after key and value, inside map, I expect ',' or '}'");
        ws();
      }
    }
    if (c === 91) { // [
      i++; ws();
      if (body.charCodeAt(i) === 93) { i++; return; }
      for (let k = 0; ; k++) {
        value(`${key}.array_${k}`, depth + 1);
        ws();
        const d = body.charCodeAt(i++);
        if (d === 93) return;
        if (d !== 44) throw new JsonError("after array element, I expect ',' or ']'");
      }
    }
    if (c === 34) { add(key, str()); return; }
    const lit = c === 116 ? 'true' : c === 102 ? 'false' : c === 110 ? 'null' : '';
    if (lit && body.startsWith(lit, i)) { i += lit.length; add(key, lit === 'null' ? '' : lit); return; }
    const m = NUMBER.exec(body.slice(i, i + 512));
    if (!m) throw new JsonError(i >= n ? 'premature EOF' : 'invalid char in json text');
    i += m[0].length;
    add(key, m[0]);
  };
  try {
    value('json', 0);
    ws();
    if (i < n) throw new JsonError('trailing garbage');
  } catch (e) {
    if (!(e instanceof JsonError)) throw e;
    return { args, error: `JSON parsing error: ${e.msg} at offset ${Math.min(i, n)}` };
  }
  return { args, error: null };
}

const ESCAPES = new Map([['"', '"'], ['\\', '\\'], ['/', '/'], ['b', '\b'], ['f', '\f'], ['n', '\n'], ['r', '\r'], ['t', '\t']]);
/** yajl's number: a digit is required after '.', and after 'e' (and its sign); no leading zeros (a second digit is another token) */
const NUMBER = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?/;

function hex4(s: string, at: number): number {
  const h = s.slice(at, at + 4);
  if (!/^[0-9a-fA-F]{4}$/.test(h)) throw new JsonError("invalid (non-hex) character occurs after '\\u' inside string");
  return parseInt(h, 16);
}

/** A code point as UTF-8 bytes (one char per byte), as yajl writes them: surrogates included. */
function utf8(cp: number): string {
  if (cp < 0x80) return String.fromCharCode(cp);
  if (cp < 0x800) return String.fromCharCode(0xc0 | (cp >> 6), 0x80 | (cp & 0x3f));
  if (cp < 0x10000) return String.fromCharCode(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
  if (cp < 0x200000) return String.fromCharCode(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 0x3f), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
  return '?';
}

const MP = 'multipart/form-data'.length;

/** ModSecurity's count_boundary_params: each "boundary" (any case) with a '=' somewhere after it. */
function countBoundaryParams(v: string): number {
  const lower = v.toLowerCase();
  let count = 0;
  for (let k = lower.indexOf('boundary'); k >= 0; k = lower.indexOf('boundary', k + 8)) if (lower.indexOf('=', k + 8) >= 0) count++;
  return count;
}

/** RFC 2046 boundary characters, as ModSecurity checks them (a space, but not at the end). */
const BOUNDARY_CHARS = /^(?:[0-9A-Za-z'()+_,\-./:=?]| (?!$))+$/;

/** A token character of a Content-Disposition parameter value without quotes. */
const isToken = (c: number) => c > 32 && c < 127 && '()<>@,;:\\"/[]?='.indexOf(String.fromCharCode(c)) < 0;

/** The Content-Disposition of a part, parsed as ModSecurity's parse_content_disposition; null when it refuses it. */
function contentDisposition(v: string): { name: string; filename: string | null; quoting: boolean } | null {
  if (!v.startsWith('form-data')) return null;
  let p = 9;
  const n = v.length;
  const ws = () => { while (p < n && (v[p] === ' ' || v[p] === '\t')) p++; };
  ws();
  let name = '';
  let filename: string | null = null;
  let quoting = false;
  if (p >= n) return { name, filename, quoting };
  if (v[p] !== ';') return null;
  p++;
  while (p < n) {
    ws();
    if (p >= n) return null;
    const at = p;
    while (p < n && v[p] !== '=' && v[p] !== '\t' && v[p] !== ' ') p++;
    if (p >= n) return null;
    const param = v.slice(at, p);
    ws();
    if (p >= n || v[p] !== '=') return null;
    p++;
    ws();
    if (p >= n) return null;
    let value = '';
    if (v[p] === '"' || v[p] === "'") {
      const q = v[p];
      if (q === "'") quoting = true;
      p++;
      for (;;) {
        if (p >= n) return null; // no closing quote
        if (v[p] === '\\' && p + 1 < n && (v[p + 1] === q || v[p + 1] === '\\')) p++; // only the quote and \ are escaped
        else if (v[p] === q) break;
        value += v[p++];
      }
      p++;
    } else {
      const t = p;
      while (p < n && isToken(v.charCodeAt(p))) p++;
      value = v.slice(t, p);
    }
    if (value.includes("'")) quoting = true;
    if (param === 'name') { if (name !== '') return null; name = value; } else if (param === 'filename') { if (filename !== null) return null; filename = value; } else if (param === 'filename*') {
      // ModSecurity 3.0.9 takes it beside a filename= (which wins), and refuses it alone
      if (filename === null) return null;
    } else return null;
    ws();
    if (p >= n) break;
    if (v[p] !== ';') return null;
    p++;
  }
  return { name, filename, quoting };
}

/**
 * multipart/form-data, as ModSecurity's multipart parser reads it, line by line: what it refuses
 * is an error (REQBODY_ERROR, so rule 200002 refuses the request; the parts of a body that does not
 * parse were not all inspected): a Content-Type whose boundary it cannot take (quoting, characters,
 * "boundary" twice, other parameters before it), a part without a Content-Disposition, one that is
 * not form-data or has other parameters than name and filename, a part without a name, a header
 * line without a colon or with a NUL byte, a line that starts with the boundary but is not one
 * (trailing whitespace, more characters), a boundary that closes a part before its data began, no
 * final boundary. What it only flags (LF line endings, data before the first or after the last
 * boundary, a missing semicolon, quoting) sets MULTIPART_STRICT_ERROR. A part with an empty
 * filename is a form field, as there. MULTIPART_PART_HEADERS holds the header lines without their
 * line ending (ModSecurity 3.0.9 keeps it, which makes CRS 922110 refuse "text/plain; charset=utf-8").
 *
 * `noFilesLength` is what ModSecurity 3.0.9 holds against SecRequestBodyNoFilesLimit: every part
 * header line with its line ending (the empty line too, of file parts as well) and the data of the
 * parts that are not files, without the line ending before the next boundary; not the boundary
 * lines, not the files' contents, not what comes before the first or after the last boundary.
 * Measured with nginx + libmodsecurity 3.0.9 (the first size refused, moving one byte at a time,
 * with and without files, CRLF and LF, multi-line values, a preamble and an epilogue).
 */
export function parseMultipart(body: string, contentType: string, argLimit: number): BodyResult {
  const args: Array<[string, string]> = [];
  const files: Array<{ field: string; filename: string; size: number }> = [];
  const partHeaders: Array<[string, string]> = [];
  let strict = false;
  let unmatched = false;
  const fail = (msg: string): BodyResult => ({ args, error: `Multipart: ${msg}`, files, partHeaders, multipartStrictError: true, multipartUnmatchedBoundary: unmatched });

  // the boundary, from the Content-Type (ModSecurity's Multipart::init)
  const ct = contentType;
  if (ct.length > 1024) return fail('Invalid boundary in C-T (length).');
  if (countBoundaryParams(ct) > 1) return fail('Multiple boundary parameters in C-T.');
  const at = ct.indexOf('boundary');
  if (at < 0) return fail(countBoundaryParams(ct) > 0 ? 'Invalid boundary in C-T (case sensitivity).' : 'Boundary not found in C-T.');
  let semicolon = false;
  for (let k = MP; k < at; k++) {
    if (isSpace(ct.charCodeAt(k))) continue;
    if (ct[k] === ';' && !semicolon) { semicolon = true; continue; }
    return fail('Invalid boundary in C-T (malformed).');
  }
  if (!semicolon) strict = true;
  const eq = ct.indexOf('=', at + 8);
  if (eq < 0) return fail('Invalid boundary in C-T (malformed).');
  for (let k = at + 8; k < eq; k++) {
    if (!isSpace(ct.charCodeAt(k))) return fail('Invalid boundary in C-T (parameter name).');
    strict = true;
  }
  const raw = ct.slice(eq + 1);
  if (isSpace(raw.charCodeAt(0))) strict = true;
  let boundary: string;
  const quoted = raw.length >= 2 && raw[0] === '"' && raw[raw.length - 1] === '"';
  if (quoted) { boundary = raw.slice(1, -1); strict = true; } else if (raw[0] === '"' || (raw.length >= 2 && raw[raw.length - 1] === '"')) {
    return fail('Invalid boundary in C-T (quote).');
  } else boundary = raw;
  // other parameters after the boundary (boundary=x; charset=utf-8) are not part of it
  const semi = boundary.indexOf(';');
  if (semi >= 0) boundary = boundary.slice(0, semi);
  // ModSecurity gives up on an empty boundary without an error: nothing is parsed
  if (boundary === '') return { args, error: null, files, partHeaders, multipartStrictError: true, multipartUnmatchedBoundary: false };
  if (countBoundaryParams(boundary) !== 0) return fail('Invalid boundary in C-T (content).');
  if (!BOUNDARY_CHARS.test(boundary)) return fail('Invalid boundary in C-T (characters).');

  // the body, line by line (Multipart::process)
  interface Part { headers: Map<string, string>; lines: string[]; lastHeader: string; name: string; filename: string | null; inData: boolean; data: string[] }
  const delim = '--' + boundary;
  let part: Part | null = null;
  let boundaries = 0;
  let complete = false;
  let noFiles = 0;
  const finish = (pt: Part): boolean => {
    // the line ending before the boundary belongs to the boundary
    const last = pt.data.length - 1;
    pt.data[last] = pt.data[last].replace(/\r?\n$/, '');
    const value = pt.data.join('');
    if (pt.filename !== null && pt.filename !== '') files.push({ field: pt.name, filename: pt.filename, size: value.length });
    else {
      noFiles += value.length;
      if (args.length >= argLimit) return false;
      args.push([pt.name, value]);
    }
    return true;
  };
  const n = body.length;
  let i = 0;
  while (i < n && !complete) {
    const nl = body.indexOf('\n', i);
    const line = nl < 0 ? body.slice(i) : body.slice(i, nl + 1);
    i = nl < 0 ? n : nl + 1;
    if (line.endsWith('\n') && !line.endsWith('\r\n')) strict = true; // LF line endings
    if (line.startsWith(delim)) {
      let rest = line.slice(delim.length);
      const final = rest.startsWith('--');
      if (final) rest = rest.slice(2);
      // a boundary line is the boundary and its line ending, nothing else; a final one may end the body without a line ending
      if (rest === '\r\n' || rest === '\n' || (rest === '' && final)) {
        if (part !== null) {
          if (!part.inData || part.data.length === 0) return fail('a boundary before the data of a part began.');
          if (!finish(part)) return fail(`argument limit ${argLimit} exceeded`);
        }
        boundaries++;
        if (final) complete = true;
        else part = { headers: new Map(), lines: [], lastHeader: '', name: '', filename: null, inData: false, data: [] };
        continue;
      }
      if (nl < 0) break; // an unterminated last line is not processed
      return fail(`Invalid boundary: ${line.trimEnd()}`);
    }
    if (line.startsWith('--')) {
      if (quoted && line.startsWith('"' + boundary, 2)) return fail('Invalid boundary (quotes).');
      const ws = /^--\s+/.exec(line);
      if (ws && line.startsWith(boundary, ws[0].length)) return fail('Invalid boundary (whitespace).');
      unmatched = true;
    } else if (line.includes(delim)) unmatched = true;
    if (nl < 0) break;
    if (part === null) { strict = true; continue; } // data before the first boundary is ignored
    if (part.inData) { part.data.push(line); continue; }
    // a header line of the part
    noFiles += line.length;
    if (line.length >= 4096) return fail('Part header line over 4096 bytes long');
    if (line.includes('\0')) return fail('Nul byte in part headers.');
    if (line === '\r\n' || line === '\n') {
      const cdText = part.headers.get('content-disposition');
      if (cdText === undefined) return fail('Part missing Content-Disposition header.');
      const cd = contentDisposition(cdText);
      if (cd === null) return fail(`Invalid Content-Disposition header: ${cdText}`);
      if (cd.quoting) strict = true;
      if (cd.name === '') return fail('Content-Disposition header missing name field.');
      if (cd.filename !== null && cd.filename !== '' && !cdText.includes('filename=')) return fail('Invalid Content-Disposition header (filename).');
      part.name = cd.name;
      part.filename = cd.filename;
      part.inData = true;
      for (const h of part.lines) partHeaders.push([cd.name, h]);
      continue;
    }
    const text = line.replace(/\r?\n$/, '');
    if (isSpace(line.charCodeAt(0))) {
      // header folding
      strict = true;
      if (part.lastHeader === '') return fail('Invalid part header (folding error).');
      const key = part.lastHeader.toLowerCase();
      part.headers.set(key, `${part.headers.get(key)} ${text.replace(/^\s+/, '')}`);
      part.lines[part.lines.length - 1] += ` ${text.replace(/^\s+/, '')}`;
      continue;
    }
    const colon = text.indexOf(':');
    if (colon < 0) return fail(`Invalid part header (colon missing): ${text}`);
    if (colon === 0) return fail('Invalid part header (header name missing).');
    const hname = text.slice(0, colon);
    part.lines.push(text);
    // a repeated header keeps its first value (ModSecurity 3.0.9 does not treat it as an error)
    if (!part.headers.has(hname.toLowerCase())) part.headers.set(hname.toLowerCase(), text.slice(colon + 1).replace(/^[ \t]+/, ''));
    part.lastHeader = hname;
  }
  if (!complete) return fail(boundaries > 0 ? 'Final boundary missing.' : 'No boundaries found in payload.');
  if (i < n) strict = true; // data after the last boundary is ignored
  return { args, error: null, files, partHeaders, multipartStrictError: strict, multipartUnmatchedBoundary: unmatched, noFilesLength: noFiles };
}

const XML_ENT = new Map([['lt', '<'], ['gt', '>'], ['amp', '&'], ['quot', '"'], ['apos', "'"]]);
// XML names, bytes >= 0x80 included (UTF-8 letters: <café>, <名前>)
const XML_NAME = '[A-Za-z_:\\x80-\\xff][-A-Za-z0-9_:.\\x80-\\xff]*';
const XML_TAG = new RegExp(`^<(/?)(${XML_NAME})((?:\\s+${XML_NAME}\\s*=\\s*(?:"[^"<]*"|'[^'<]*'))*)\\s*(/?)>`);
const XML_ATTR = new RegExp(`(${XML_NAME})\\s*=\\s*(?:"([^"<]*)"|'([^'<]*)')`, 'g');
const XML_REF = new RegExp(`&(?:#x([0-9a-fA-F]+)|#([0-9]+)|(${XML_NAME}));`, 'y');
const XML_BAD_CHAR = /[\x00-\x08\x0b\x0c\x0e-\x1f]/;
const UTF8 = new TextDecoder('utf-8', { fatal: true });

const xmlChar = (cp: number) => cp === 9 || cp === 10 || cp === 13 || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);

/**
 * A small XML reader: text content (XML:/*) and attribute values (XML://@*). It refuses what
 * libxml2 (ModSecurity's XML processor) refuses as not well-formed, as far as these checks go,
 * since a body that does not parse is refused (rule 200002) and one that does is inspected: tags,
 * attributes (no repeats), comments (no "--" inside), the XML declaration (only at the very
 * start), references (&name; must be predefined or declared, unless an external DTD could declare
 * it; &#N; must be an XML character), characters (no control bytes; UTF-8 unless the declaration
 * names another encoding), "]]>" outside CDATA, one root element. A UTF-8 byte order mark is skipped.
 */
export function parseXml(body: string): BodyResult {
  const texts: string[] = [];
  const attrs: string[] = [];
  const stack: string[] = [];
  const n = body.length;
  let i = body.startsWith('\xef\xbb\xbf') ? 3 : 0;
  const start = i;
  let rootSeen = false;
  const fail = (msg: string): BodyResult => ({ args: [], error: `XML parsing error: ${msg}` });
  const enc = /^<\?xml\s[^?]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']/.exec(body.slice(i, i + 256));
  if (!enc || /^utf-?8$/i.test(enc[1])) {
    try { UTF8.decode(Buffer.from(body, 'latin1')); } catch { return fail('input is not proper UTF-8'); }
  }
  const declared = new Set<string>();
  let lenientRefs = false; // an external DTD (or parameter entities) may declare what is referenced
  const unescape = (s: string): string | null => {
    if (XML_BAD_CHAR.test(s)) return null;
    let out = '';
    let at = 0;
    for (let k = s.indexOf('&'); k >= 0; k = s.indexOf('&', at)) {
      XML_REF.lastIndex = k;
      const m = XML_REF.exec(s);
      if (!m) return null;
      out += s.slice(at, k);
      at = k + m[0].length;
      if (m[3] === undefined) {
        const cp = m[1] !== undefined ? parseInt(m[1], 16) : parseInt(m[2], 10);
        if (!xmlChar(cp)) return null;
        out += Buffer.from(String.fromCodePoint(cp), 'utf8').toString('latin1');
      } else {
        const v = XML_ENT.get(m[3]);
        if (v !== undefined) out += v;
        else if (declared.has(m[3]) || lenientRefs) out += m[0];
        else return null;
      }
    }
    return out + s.slice(at);
  };
  while (i < n) {
    const lt = body.indexOf('<', i);
    const text = lt < 0 ? body.slice(i) : body.slice(i, lt);
    if (text.length) {
      if (stack.length === 0) { if (text.trim() !== '') return fail('text outside the root element'); } else {
        if (text.includes(']]>')) return fail("']]>' in text");
        const t = unescape(text);
        if (t === null) return fail('invalid character or reference in text');
        texts.push(t);
      }
    }
    if (lt < 0) break;
    i = lt;
    if (body.startsWith('<!--', i)) {
      const e = body.indexOf('-->', i + 4);
      if (e < 0) return fail('unterminated comment');
      const c = body.slice(i + 4, e);
      if (c.includes('--') || c.endsWith('-')) return fail("'--' in a comment");
      i = e + 3;
      continue;
    }
    if (body.startsWith('<![CDATA[', i)) { const e = body.indexOf(']]>', i + 9); if (e < 0) return fail('unterminated CDATA'); if (stack.length) texts.push(body.slice(i + 9, e)); i = e + 3; continue; }
    if (body.startsWith('<?', i)) {
      const e = body.indexOf('?>', i + 2);
      if (e < 0) return fail('unterminated processing instruction');
      if (/^<\?xml(?:\s|\?>)/i.test(body.slice(i, i + 6)) && i !== start) return fail('XML declaration allowed only at the start of the document');
      i = e + 2;
      continue;
    }
    if (body.startsWith('<!', i)) {
      // DOCTYPE, possibly with an internal subset
      let depth = 0;
      let j = i + 2;
      for (; j < n; j++) {
        if (body[j] === '[') depth++;
        else if (body[j] === ']') depth--;
        else if (body[j] === '>' && depth <= 0) break;
      }
      if (j >= n) return fail('unterminated declaration');
      const d = body.slice(i, j + 1);
      if (/^<!DOCTYPE\s+\S+\s+(?:SYSTEM|PUBLIC)\b/.test(d) || /%[^\s;]+;/.test(d)) lenientRefs = true;
      for (const m of d.matchAll(new RegExp(`<!ENTITY\\s+(${XML_NAME})\\s`, 'g'))) declared.add(m[1]);
      i = j + 1;
      continue;
    }
    const m = XML_TAG.exec(body.slice(i, i + 65536));
    if (!m) return fail(`malformed tag at offset ${i}`);
    const [whole, close, name, attrText, selfClose] = m;
    if (close) {
      if (attrText || selfClose) return fail('malformed end tag');
      if (stack.pop() !== name) return fail(`mismatched end tag </${name}>`);
    } else {
      if (stack.length === 0) { if (rootSeen) return fail('more than one root element'); rootSeen = true; }
      const names = new Set<string>();
      for (const am of attrText.matchAll(XML_ATTR)) {
        if (names.has(am[1])) return fail(`attribute ${am[1]} redefined`);
        names.add(am[1]);
        const v = unescape(am[2] ?? am[3] ?? '');
        if (v === null) return fail('invalid character or reference in an attribute value');
        attrs.push(v);
      }
      if (!selfClose) stack.push(name);
    }
    i += whole.length;
  }
  if (stack.length) return fail(`unclosed element <${stack[stack.length - 1]}>`);
  if (!rootSeen) return fail('no root element');
  return { args: [], error: null, xml: { text: texts.join(''), attrs } };
}
