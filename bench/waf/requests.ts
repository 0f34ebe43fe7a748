/**
 * The benign requests of the WAF benchmark (the same shapes as bench/waf-engine.ts, which measures
 * the engine alone): a GET with a query string, a ~2 KB JSON POST and a form POST, each with the
 * headers a browser sends; plus a bare `GET /` with a Host header only. And the wrk Lua script that sends one of them on every request.
 */

export interface BenchRequest {
  /** short key: get | json | form */
  key: string;
  name: string;
  method: 'GET' | 'POST';
  path: string;
  /** header name -> value, in order (Content-Length is added by wrk / the client) */
  headers: Array<[string, string]>;
  body: string;
}

export const BROWSER_HEADERS: Array<[string, string]> = [
  // a name, not an IP: CRS rule 920350 scores a numeric Host header, which benign traffic does not have
  ['Host', 'api.example.com'],
  ['User-Agent', 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36'],
  ['Accept', 'application/json, text/plain, */*'],
  ['Accept-Language', 'en-US,en;q=0.9'],
  ['Accept-Encoding', 'gzip, deflate, br'],
  ['Cookie', 'session=3f9a1c2e7b; theme=dark'],
];

/** A ~2 KB JSON order document (the first one of at least `min` bytes). */
export function jsonOrder(min = 2000): string {
  const items: unknown[] = [];
  let json = '';
  for (let i = 1; json.length < min; i++) {
    items.push({ id: i, name: `Item number ${i}`, price: 9.99 + i, tags: ['blue', 'large'], inStock: i % 2 === 0, note: 'A plain product description.' });
    json = JSON.stringify({ order: { customer: 'Jane Doe', email: 'jane@example.com', items } });
  }
  return json;
}

export const REQUESTS: readonly BenchRequest[] = (() => {
  const json = jsonOrder();
  return [
    // the minimal request, as wrk sends it by default (a Host header only): the shape of the reference
    // figure in ../shared/waf/README.md (ModSecurity + CRS PL1: ~0.8 ms CPU per request)
    { key: 'min', name: 'GET / (Host only)', method: 'GET', path: '/', headers: [['Host', 'api.example.com']], body: '' },
    { key: 'get', name: 'GET with query', method: 'GET', path: '/api/v1/products?category=shoes&size=42&sort=price&page=2&q=running+shoes', headers: BROWSER_HEADERS, body: '' },
    { key: 'json', name: `JSON POST (${Buffer.byteLength(json)} B)`, method: 'POST', path: '/api/v1/orders', headers: [...BROWSER_HEADERS, ['Content-Type', 'application/json']], body: json },
    { key: 'form', name: 'form POST', method: 'POST', path: '/login', headers: [...BROWSER_HEADERS, ['Content-Type', 'application/x-www-form-urlencoded']], body: 'username=jane.doe&password=correct-horse-battery&remember=on&next=%2Fhome' },
  ];
})();

/**
 * A Lua (5.1 / LuaJIT) string literal for any byte string: double-quoted, with every byte outside
 * printable ASCII, and every quote and backslash, written as a decimal escape (\ddd).
 */
export function luaString(s: string): string {
  let out = '"';
  for (const b of Buffer.from(s, 'utf8')) {
    out += b >= 0x20 && b < 0x7f && b !== 0x22 && b !== 0x5c ? String.fromCharCode(b) : `\\${String(b).padStart(3, '0')}`;
  }
  return out + '"';
}

/**
 * wrk script: every request is `r` (wrk.format() builds it from these fields and adds
 * Content-Length for the body). No response() callback, which would slow wrk down: non-2xx answers
 * are counted by wrk itself ("Non-2xx or 3xx responses").
 *
 * With `vary`, every request is a new client's, as bench/waf-engine.ts's "new client" rows: a
 * request() function gives each one its own User-Agent (the original plus " client/T-N") and its
 * own path: every query value gets "T-N" appended, a path without a query gets "/T-N" (T: the
 * wrk thread, N: a counter). What a WAF could remember from one request to the next is then only
 * the names and the other header values (Portcullis's value verdict store, src/waf/README.md).
 */
export function wrkLua(r: BenchRequest, opts: { vary?: boolean } = {}): string {
  const lines = [
    `-- bench/waf: ${r.name}${opts.vary ? ' (a new client every request)' : ''}`,
    `wrk.method = ${luaString(r.method)}`,
    `wrk.path = ${luaString(r.path)}`,
  ];
  for (const [k, v] of r.headers) lines.push(`wrk.headers[${luaString(k)}] = ${luaString(v)}`);
  if (r.body) lines.push(`wrk.body = ${luaString(r.body)}`);
  if (opts.vary) {
    const ua = r.headers.find(([k]) => k.toLowerCase() === 'user-agent')?.[1];
    lines.push(
      'local threads = 0',
      'function setup(thread) thread:set("tid", threads); threads = threads + 1 end',
      'local n = 0',
      'function request()',
      '  n = n + 1',
      '  local id = tostring(tid or 0) .. "-" .. n',
      '  local path = wrk.path',
      '  if string.find(path, "?", 1, true) then path = string.gsub(path, "=([^&]*)", function(v) return "=" .. v .. id end)',
      '  else path = path .. (string.sub(path, -1) == "/" and "" or "/") .. id end',
      ...(ua !== undefined ? [`  wrk.headers["User-Agent"] = ${luaString(ua)} .. " client/" .. id`] : []),
      '  return wrk.format(nil, path)',
      'end',
    );
  }
  return lines.join('\n') + '\n';
}
