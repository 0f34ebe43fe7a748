// The Gateway API CORS filter (HTTPRoute `filters: [{ type: CORS, cors: {...} }]`, GA in v1.5):
// what a valid policy is. The schema (schema.ts) has the shape and the limits; this file checks
// what a pattern cannot say well: the form of each origin, '*' standing alone, duplicates, and the
// combinations the CORS protocol cannot express. The compiler (src/compiler/cors.ts) and the data
// plane (src/dataplane/cors.ts) use parseOriginPattern too, so the three agree on what an origin is.
import net from 'node:net';
import type { HTTPRouteFilterT } from './schema.ts';

export type CorsSpec = NonNullable<HTTPRouteFilterT['cors']>;

/**
 * One entry of allowOrigins, normalized: scheme and host lower-case, the scheme's default port
 * left out (browsers never send it, RFC 6454 §6.2), so `https://a.example:443` is `https://a.example`.
 * - `any`: `*`, every origin.
 * - `exact`: `scheme://host[:port]`.
 * - `wildcard`: `scheme://*.suffix[:port]` (suffix `.suffix`: one or more labels before it, not
 *   the suffix itself), or `scheme://*[:port]` (suffix ''): any host, that scheme and port.
 */
export type OriginPattern =
  | { readonly kind: 'any' }
  | { readonly kind: 'exact'; readonly origin: string }
  | { readonly kind: 'wildcard'; readonly scheme: 'http' | 'https'; readonly suffix: string; readonly port: string };

export type ParsedOriginPattern = { readonly ok: true; readonly pattern: OriginPattern } | { readonly ok: false; readonly message: string; readonly hint: string };

const FORM = 'an origin is scheme://host[:port], e.g. https://app.example.com or http://localhost:3000';

export function parseOriginPattern(raw: string): ParsedOriginPattern {
  const bad = (message: string, hint = FORM): ParsedOriginPattern => ({ ok: false, message, hint });
  if (raw === '*') return { ok: true, pattern: { kind: 'any' } };
  if (/\s/.test(raw)) return bad(`origin ${JSON.stringify(raw)} contains whitespace`, 'remove the spaces');
  if (raw === 'null') return bad('origin "null" cannot be allowed: any site can send it (from a sandboxed frame), and so do file: pages', 'list the real origins of your web apps');
  const sep = raw.indexOf('://');
  if (sep < 0) return bad(`origin "${raw}" has no scheme`, /^[A-Za-z0-9*[]/.test(raw) ? `write https://${raw.replace(/\/+$/, '')} (or http:// for a plain-HTTP page)` : FORM);
  const scheme = raw.slice(0, sep).toLowerCase();
  if (scheme !== 'http' && scheme !== 'https') return bad(`scheme "${raw.slice(0, sep)}" is not allowed in an origin`, 'use http:// or https:// (Gateway API CORSOrigin)');
  const rest = raw.slice(sep + 3);
  const cut = rest.search(/[/?#]/);
  if (cut >= 0) return bad(`origin "${raw}" has a ${rest[cut] === '/' ? 'path' : rest[cut] === '?' ? 'query' : 'fragment'} ("${rest.slice(cut)}")`, `remove it: ${scheme}://${rest.slice(0, cut)}; an origin is scheme://host[:port], never a path`);
  if (rest.includes('@')) return bad(`origin "${raw}" has a user name`, `remove everything up to "@": ${scheme}://${rest.slice(rest.lastIndexOf('@') + 1)}`);
  let host: string, port: string;
  if (rest.startsWith('[')) {
    const end = rest.indexOf(']');
    if (end < 0 || !net.isIPv6(rest.slice(1, end))) return bad(`"${rest.slice(0, end + 1) || rest}" is not an IPv6 address`, 'write an IPv6 host in brackets, e.g. http://[::1]:3000');
    host = new URL(`http://${rest.slice(0, end + 1)}`).hostname; // the compressed form browsers send
    const after = rest.slice(end + 1);
    if (after && !after.startsWith(':')) return bad(`unexpected "${after}" after the host in "${raw}"`);
    port = after.slice(1);
    if (after && !port) return bad(`origin "${raw}" ends with ":" and no port`, 'add the port, or remove the ":"');
  } else {
    const colon = rest.lastIndexOf(':');
    host = (colon >= 0 ? rest.slice(0, colon) : rest).toLowerCase();
    port = colon >= 0 ? rest.slice(colon + 1) : '';
    if (colon >= 0 && !port) return bad(`origin "${raw}" ends with ":" and no port`, 'add the port, or remove the ":"');
  }
  if (port) {
    if (port === '*') return bad(`origin "${raw}": the port cannot be a wildcard`, 'list each port, e.g. http://localhost:3000 and http://localhost:5173');
    if (!/^[0-9]{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) return bad(`origin "${raw}": port "${port}" is not a number from 1 to 65535`);
    port = String(Number(port));
    if (port === (scheme === 'https' ? '443' : '80')) port = ''; // the form browsers send
  }
  if (!host) return bad(`origin "${raw}" has no host`);
  if (host === '*') return { ok: true, pattern: { kind: 'wildcard', scheme, suffix: '', port } };
  if (host.startsWith('*.')) {
    const base = host.slice(2);
    if (base.includes('*')) return bad(`origin "${raw}" has more than one "*"`, `use one leading wildcard label: ${scheme}://*.${base.slice(base.lastIndexOf('*') + 2)}`);
    const why = hostProblem(base);
    if (why) return bad(`origin "${raw}": ${why}`, hostHint(base));
    return { ok: true, pattern: { kind: 'wildcard', scheme, suffix: `.${base}`, port } };
  }
  if (host.includes('*')) {
    // The domain after the "*" label, when it looks like one (not a bare TLD).
    let base = host.slice(host.lastIndexOf('*') + 1).replace(/^[^.]*\./, '');
    if (!base.includes('.')) base = 'example.com';
    return bad(`origin "${raw}": "*" must be the whole leftmost label of the host`, `write ${scheme}://*.${base}, which matches every subdomain of ${base} at any depth but not ${base} itself; or "*" for every origin`);
  }
  if (!host.startsWith('[') && !net.isIPv4(host)) {
    const why = hostProblem(host);
    if (why) return bad(`origin "${raw}": ${why}`, hostHint(host));
  }
  return { ok: true, pattern: { kind: 'exact', origin: `${scheme}://${host}${port ? `:${port}` : ''}` } };
}

/** Why `host` is not a DNS name browsers would put in an Origin, or '' when it is one. */
function hostProblem(host: string): string {
  if (/[^\x00-\x7f]/.test(host)) return `host "${host}" is not ASCII`;
  if (host.length > 253) return `host "${host}" is longer than 253 characters`;
  for (const l of host.split('.')) {
    if (!l) return `host "${host}" has an empty label`;
    if (l.length > 63 || !/^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?$/.test(l)) return `"${l}" is not a valid DNS label`;
  }
  return '';
}

function hostHint(host: string): string {
  return /[^\x00-\x7f]/.test(host) ? 'write internationalized names as browsers send them, in punycode (xn--...)' : 'labels are letters, digits and "-", separated by single dots';
}

/** Problems of one CORS filter: `report(path, message, hint, severity)`, path relative to the `cors` field. */
export function checkCors(spec: CorsSpec, report: (p: (string | number)[], m: string, h?: string, severity?: 'error' | 'warning') => void): boolean {
  let ok = true;
  const err = (p: (string | number)[], m: string, h?: string) => { report(p, m, h); ok = false; };
  const origins = spec.allowOrigins ?? [];
  const seen = new Map<string, number>();
  let any = false;
  origins.forEach((o, i) => {
    const r = parseOriginPattern(o);
    if (!r.ok) { err(['allowOrigins', i], r.message, r.hint); return; }
    if (r.pattern.kind === 'any') any = true;
    const key = r.pattern.kind === 'exact' ? r.pattern.origin : r.pattern.kind === 'wildcard' ? `${r.pattern.scheme}://*${r.pattern.suffix}:${r.pattern.port}` : '*';
    const first = seen.get(key);
    if (first !== undefined) err(['allowOrigins', i], `origin "${o}" is the same as allowOrigins[${first}] ("${origins[first]}")`, 'remove one of them');
    else seen.set(key, i);
  });
  if (any && origins.length > 1) err(['allowOrigins'], '"*" allows every origin and cannot be listed with other origins', 'keep only "*", or list the origins without it');
  if (!origins.length) report(['allowOrigins'], 'this CORS filter allows no origin: browsers will refuse every cross-origin request to the rule', 'list the origins of your web apps, e.g. allowOrigins: ["https://app.example.com"]', 'warning');
  const credentials = spec.allowCredentials === true;
  const anyHost = origins.some((o) => { const r = parseOriginPattern(o); return r.ok && (r.pattern.kind === 'any' || (r.pattern.kind === 'wildcard' && r.pattern.suffix === '')); });
  if (credentials && anyHost) {
    report(['allowCredentials'], 'with allowCredentials and an origin wildcard that matches every host, any website can send requests with the user\'s cookies and read the answers: the gateway echoes each request\'s Origin, as the CORS protocol requires with credentials', 'list the origins of your web apps instead', 'warning');
  }
  const methods = spec.allowMethods ?? [];
  if (methods.includes('*') && methods.length > 1) err(['allowMethods'], '"*" allows every method and cannot be listed with other methods', 'keep only "*", or list the methods without it');
  duplicates(methods, (i, j) => err(['allowMethods', i], `method ${methods[i]} is listed twice (also allowMethods[${j}])`, 'remove one'));
  const allowHeaders = spec.allowHeaders ?? [];
  duplicates(allowHeaders.map((h) => h.toLowerCase()), (i, j) => err(['allowHeaders', i], `header "${allowHeaders[i]}" is listed twice (also allowHeaders[${j}]; names are case-insensitive)`, 'remove one'));
  const expose = spec.exposeHeaders ?? [];
  duplicates(expose.map((h) => h.toLowerCase()), (i, j) => err(['exposeHeaders', i], `header "${expose[i]}" is listed twice (also exposeHeaders[${j}]; names are case-insensitive)`, 'remove one'));
  const star = expose.indexOf('*');
  if (credentials && star >= 0) {
    err(['exposeHeaders', star], 'with allowCredentials, browsers read Access-Control-Expose-Headers: * as a header literally named "*", so "*" would expose nothing', 'list the response headers scripts may read, e.g. [X-Request-Id, X-RateLimit-Remaining]');
  }
  return ok;
}

function duplicates(xs: readonly string[], onDup: (i: number, first: number) => void): void {
  const at = new Map<string, number>();
  xs.forEach((x, i) => { const f = at.get(x); if (f === undefined) at.set(x, i); else onDup(i, f); });
}
