// Header helpers of the fast HTTP/1.1 server, each the twin of node:http's:
// - requestHeaders: rawHeaders -> req.headers with IncomingMessage's duplicate rules;
// - validateName/validateValue: what OutgoingMessage checks before it writes a header (so a CR or
//   LF in a value throws ERR_INVALID_CHAR and response splitting is impossible);
// - utcDate: the Date header, cached for the rest of the current second (as Node and nginx do).
import type { IncomingHttpHeaders } from 'node:http';

// 0: join with ', '; 1: set-cookie, an array; 2: cookie, join with '; '; 3: first one wins.
// The lists are IncomingMessage's matchKnownFields (Node 24): the fields Node drops duplicates of
// (first wins), and those it joins. Every other field is joined with ', '.
const FIRST_WINS = ['age', 'host', 'from', 'etag', 'server', 'referer', 'expires', 'location', 'user-agent', 'retry-after', 'content-type', 'max-forwards', 'authorization', 'last-modified', 'content-length', 'if-modified-since', 'proxy-authorization', 'if-unmodified-since'];
const RULE = new Map<string, number>([...FIRST_WINS.map((k) => [k, 3] as [string, number]), ['set-cookie', 1], ['cookie', 2]]);

/** `req.headers` from `rawHeaders` (name, value, name, value, ...): lower-case names, Node's duplicate rules. */
export function requestHeaders(raw: readonly string[]): IncomingHttpHeaders {
  const h: Record<string, string | string[]> = {};
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    const value = raw[i + 1];
    const cur = h[name];
    if (cur === undefined) { h[name] = name === 'set-cookie' ? [value] : value; continue; }
    const rule = RULE.get(name) ?? 0;
    if (rule === 0) h[name] = `${cur as string}, ${value}`;
    else if (rule === 1) (cur as string[]).push(value);
    else if (rule === 2) h[name] = `${cur as string}; ${value}`;
    // 3: first wins
  }
  return h as IncomingHttpHeaders;
}

// OutgoingMessage's checks (_http_common checkIsHttpToken / checkInvalidHeaderChar).
const TOKEN = /^[\^_`a-zA-Z\-0-9!#$%&'*+.|~]+$/;
const INVALID_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

class NodeLikeError extends TypeError {
  readonly code: string;
  constructor(code: string, message: string) { super(message); this.code = code; this.name = 'TypeError'; }
  override toString(): string { return `${this.name} [${this.code}]: ${this.message}`; }
}

export function validateName(name: string, label = 'Header name'): void {
  if (typeof name !== 'string' || !name || !TOKEN.test(name)) throw new NodeLikeError('ERR_INVALID_HTTP_TOKEN', `${label} must be a valid HTTP token ["${name}"]`);
}

export function validateValue(name: string, value: unknown, what = 'header content'): void {
  if (value === undefined) throw new NodeLikeError('ERR_HTTP_INVALID_HEADER_VALUE', `Invalid value "undefined" for header "${name}"`);
  if (INVALID_VALUE.test(String(value))) throw new NodeLikeError('ERR_INVALID_CHAR', `Invalid character in ${what} ["${name}"]`);
}

export function headersSentError(): Error {
  return new NodeLikeError('ERR_HTTP_HEADERS_SENT', 'Cannot write headers after they are sent to the client');
}

export function invalidStatusError(status: unknown): Error {
  return new NodeLikeError('ERR_HTTP_INVALID_STATUS_CODE', `Invalid status code: ${String(status)}`);
}

let dateCache: string | undefined;
const resetDate = () => { dateCache = undefined; };

/** `Sun, 22 Nov 2026 23:04:53 GMT`, computed at most once per second. */
export function utcDate(): string {
  if (dateCache === undefined) {
    const d = new Date();
    dateCache = d.toUTCString();
    setTimeout(resetDate, 1000 - d.getMilliseconds()).unref();
  }
  return dateCache;
}
