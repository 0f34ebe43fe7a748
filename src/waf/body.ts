/**
 * Request body processors on byte strings: URLENCODED, JSON, MULTIPART, XML.
 * They only extract data; limits and error variables are applied by the transaction.
 */
import { urlDecode } from './transforms.ts';

export interface BodyResult {
  args: Array<[string, string]>;
  error: string | null;
  files?: Array<{ field: string; filename: string; size: number }>;
  partHeaders?: Array<[string, string]>; // [part name, "Header: value"]
  multipartStrictError?: boolean;
  multipartUnmatchedBoundary?: boolean;
  xml?: { text: string; attrs: string[] };
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

/** JSON -> ARGS named like ModSecurity/Coraza: json.a.b, arrays json.a.0 (array length as json.a). */
export function parseJson(body: string, depthLimit: number, argLimit: number): BodyResult {
  const args: Array<[string, string]> = [];
  let text: string;
  try { text = Buffer.from(body, 'latin1').toString('utf8'); } catch { text = body; }
  let doc: unknown;
  try { doc = JSON.parse(text); } catch (e) {
    return { args, error: `JSON parsing error: ${(e as Error).message}` };
  }
  const enc = (s: string) => Buffer.from(s, 'utf8').toString('latin1');
  let err: string | null = null;
  const walk = (v: unknown, key: string, depth: number) => {
    if (err) return;
    if (depth > depthLimit) { err = `JSON depth limit ${depthLimit} exceeded`; return; }
    if (args.length > argLimit) { err = `JSON argument limit ${argLimit} exceeded`; return; }
    if (Array.isArray(v)) {
      args.push([enc(key), String(v.length)]);
      v.forEach((x, k) => walk(x, `${key}.${k}`, depth + 1));
    } else if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) walk(x, `${key}.${k}`, depth + 1);
    } else {
      args.push([enc(key), v === null ? '' : enc(String(v))]);
    }
  };
  walk(doc, 'json', 0);
  return { args, error: err };
}

function headerParam(h: string, name: string): string | null {
  const re = new RegExp(`(?:^|;)\\s*${name}\\s*=\\s*(?:"((?:[^"\\\\]|\\\\.)*)"|([^;\\s]*))`, 'i');
  const m = re.exec(h);
  if (!m) return null;
  // like ModSecurity, only \" and \\ are unescaped inside quotes (a filename "a\s" keeps its backslash)
  return m[1] !== undefined ? m[1].replace(/\\(["\\])/g, '$1') : m[2];
}

export function multipartBoundary(contentType: string): string | null {
  const b = headerParam(contentType, 'boundary');
  return b && b.length > 0 ? b : null;
}

/** multipart/form-data */
export function parseMultipart(body: string, contentType: string, argLimit: number): BodyResult {
  const args: Array<[string, string]> = [];
  const files: Array<{ field: string; filename: string; size: number }> = [];
  const partHeaders: Array<[string, string]> = [];
  const boundary = multipartBoundary(contentType);
  if (!boundary) return { args, error: 'Multipart: boundary not found in Content-Type', files, partHeaders, multipartStrictError: true };
  const delim = '--' + boundary;
  let strict = false;
  let unmatched = false;
  let pos = body.indexOf(delim);
  if (pos < 0) return { args, error: 'Multipart: no boundary found in body', files, partHeaders, multipartStrictError: true };
  if (pos > 0) strict = true; // preamble
  let finished = false;
  while (pos >= 0) {
    let p = pos + delim.length;
    if (body.startsWith('--', p)) { finished = true; break; }
    // skip trailing whitespace after boundary, then CRLF
    while (body[p] === ' ' || body[p] === '\t') p++;
    if (body.startsWith('\r\n', p)) p += 2;
    else if (body[p] === '\n') { p += 1; strict = true; } else { strict = true; }
    const next = body.indexOf('\r\n' + delim, p);
    const nextLf = next < 0 ? body.indexOf('\n' + delim, p) : -1;
    const end = next >= 0 ? next : nextLf;
    const part = end >= 0 ? body.slice(p, end) : body.slice(p);
    if (end < 0) unmatched = true;
    // headers
    let hEnd = part.indexOf('\r\n\r\n');
    let sepLen = 4;
    if (hEnd < 0) { hEnd = part.indexOf('\n\n'); sepLen = 2; if (hEnd >= 0) strict = true; }
    const headerText = hEnd < 0 ? part : part.slice(0, hEnd);
    const content = hEnd < 0 ? '' : part.slice(hEnd + sepLen);
    const headers = headerText.split(/\r?\n/).filter((l) => l !== '');
    let name: string | null = null;
    let filename: string | null = null;
    for (const h of headers) {
      if (/^content-disposition\s*:/i.test(h)) {
        const v = h.slice(h.indexOf(':') + 1);
        if (!/^\s*form-data/i.test(v)) strict = true;
        name = headerParam(v, 'name');
        filename = headerParam(v, 'filename\\*') ?? headerParam(v, 'filename');
      }
    }
    const partName = name ?? '';
    for (const h of headers) partHeaders.push([partName, h]);
    if (name === null) strict = true;
    if (filename !== null) files.push({ field: partName, filename, size: content.length });
    else if (name !== null) {
      if (args.length >= argLimit) break;
      args.push([name, content]);
    }
    if (end < 0) break;
    pos = end + (body[end] === '\r' ? 2 : 1);
  }
  if (!finished) strict = true;
  return { args, error: null, files, partHeaders, multipartStrictError: strict, multipartUnmatchedBoundary: unmatched };
}

const XML_ENT: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function xmlUnescape(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (m, e: string) => {
    if (e[0] === '#') {
      const cp = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return Buffer.from(String.fromCodePoint(cp), 'utf8').toString('latin1');
    }
    return XML_ENT[e.toLowerCase()] ?? m;
  });
}

/** A small well-formedness-checking XML reader: text content (XML:/*) and attribute values (XML://@*). */
export function parseXml(body: string): BodyResult {
  const texts: string[] = [];
  const attrs: string[] = [];
  const stack: string[] = [];
  let i = 0;
  const n = body.length;
  let rootSeen = false;
  const fail = (msg: string): BodyResult => ({ args: [], error: `XML parsing error: ${msg}` });
  while (i < n) {
    const lt = body.indexOf('<', i);
    const text = lt < 0 ? body.slice(i) : body.slice(i, lt);
    if (text.length) {
      if (stack.length === 0) { if (text.trim() !== '') return fail('text outside the root element'); } else texts.push(xmlUnescape(text));
    }
    if (lt < 0) break;
    i = lt;
    if (body.startsWith('<!--', i)) { const e = body.indexOf('-->', i + 4); if (e < 0) return fail('unterminated comment'); i = e + 3; continue; }
    if (body.startsWith('<![CDATA[', i)) { const e = body.indexOf(']]>', i + 9); if (e < 0) return fail('unterminated CDATA'); if (stack.length) texts.push(body.slice(i + 9, e)); i = e + 3; continue; }
    if (body.startsWith('<?', i)) { const e = body.indexOf('?>', i + 2); if (e < 0) return fail('unterminated processing instruction'); i = e + 2; continue; }
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
      i = j + 1;
      continue;
    }
    const m = /^<(\/?)([A-Za-z_:][-A-Za-z0-9_:.]*)((?:\s+[A-Za-z_:][-A-Za-z0-9_:.]*\s*=\s*(?:"[^"<]*"|'[^'<]*'))*)\s*(\/?)>/.exec(body.slice(i, i + 65536));
    if (!m) return fail(`malformed tag at offset ${i}`);
    const [whole, close, name, attrText, selfClose] = m;
    if (close) {
      if (attrText || selfClose) return fail('malformed end tag');
      if (stack.pop() !== name) return fail(`mismatched end tag </${name}>`);
    } else {
      if (stack.length === 0) { if (rootSeen) return fail('more than one root element'); rootSeen = true; }
      const ar = /([A-Za-z_:][-A-Za-z0-9_:.]*)\s*=\s*(?:"([^"<]*)"|'([^'<]*)')/g;
      let am: RegExpExecArray | null;
      while ((am = ar.exec(attrText)) !== null) attrs.push(xmlUnescape(am[2] ?? am[3] ?? ''));
      if (!selfClose) stack.push(name);
    }
    i += whole.length;
  }
  if (stack.length) return fail(`unclosed element <${stack[stack.length - 1]}>`);
  if (!rootSeen) return fail('no root element');
  return { args: [], error: null, xml: { text: texts.join(''), attrs } };
}
