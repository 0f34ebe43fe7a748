// The CORS filter on the request path (Gateway API HTTPCORSFilter, compiled by
// src/compiler/cors.ts). Its place in the filter order is after the WAF and before authentication
// (filter-chain.ts): browsers send preflights without credentials, so they must be answered
// before anything asks for them.
//
// What the gateway does on a rule with the filter (the choices the spec leaves open are marked *):
// - A preflight (OPTIONS with Origin and Access-Control-Request-Method) is answered by the gateway
//   and never reaches the upstream. From an allowed origin: 200 with Access-Control-Allow-Origin,
//   -Credentials, -Methods, -Headers, -Expose-Headers and -Max-Age. The requested method and
//   headers are not checked against the lists: the browser does that with the lists it is given
//   (as Envoy does, and as the spec describes). * From an origin that is not allowed: 403
//   problem+json without any Access-Control-* header (the spec allows 200/204 or 403; Envoy passes
//   it on to the upstream). Answering it here keeps preflight floods from arbitrary origins off
//   the upstream and says in the browser's network panel why it failed.
// - Any other request is proxied whatever its Origin (the browser enforces CORS on the answer, and
//   a same-origin or non-browser request must keep working). With an allowed Origin the answer
//   gets Access-Control-Allow-Origin, -Credentials and -Expose-Headers; without one, none.
//   * The policy owns the Access-Control-* response headers of the rule: the upstream's are always
//   removed, so a permissive upstream (say `Access-Control-Allow-Origin: *`) cannot widen it.
//   * The gateway's own answers on the rule (a redirect, a 502, a WAF 403) get the same headers,
//   so a page can read why its request failed.
// - `Vary: Origin` is on every answer of the rule (merged into the upstream's Vary), with or without
//   an Origin in the request: the answer depends on it, and a shared cache must not serve one
//   origin's answer to another. Preflight answers vary on the two request headers too.
// - Allowed origins are echoed, never answered with `*`, * also for allowOrigins ["*"] without
//   credentials (as Envoy does; the conformance suite requires the echo on such a route for a
//   request that carries Authorization). * An Origin that is not a serialized http(s) origin
//   (`null` from sandboxed frames and file: pages, or garbage) matches only allowOrigins ["*"]
//   without credentials, and gets `*`: echoing `null` with credentials would hand any sandboxed
//   page the user's cookies.
// - allowMethods/allowHeaders ["*"]: sent as `*` without credentials (browsers honour it there);
//   with credentials the requested method/headers are echoed, as the spec requires, because
//   browsers read `*` literally on credentialed requests. exposeHeaders "*" with credentials is
//   refused at validation (it would expose nothing).
import type { IncomingHttpHeaders } from 'node:http';
import type { HttpRequest } from './http-types.ts';
import type { CorsRuntime } from '../compiler/cors.ts';

/** The Vary of a preflight answer (allowed or not). */
export const PREFLIGHT_VARY = 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers';

// A serialized http(s) origin (RFC 6454 §6.2): scheme://host[:port], no path. Compiled once.
const ORIGIN = /^(https?):\/\/([a-z0-9_.-]+|\[[0-9a-f:.]+\])(?::([0-9]{1,5}))?$/i;
// RFC 9110 token: a method name, a header name.
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Longer Origin values are not parsed (a real one is a scheme, a DNS name and a port). */
const MAX_ORIGIN_LENGTH = 300;

/** OPTIONS with Origin and Access-Control-Request-Method (Fetch's CORS-preflight request). */
export function isPreflight(req: HttpRequest): boolean {
  return req.method === 'OPTIONS' && req.headers.origin !== undefined && req.headers['access-control-request-method'] !== undefined;
}

interface ParsedOrigin { readonly scheme: string; readonly host: string; readonly port: string; readonly normalized: string }

function parseOrigin(o: string): ParsedOrigin | undefined {
  if (o.length > MAX_ORIGIN_LENGTH) return undefined;
  const m = ORIGIN.exec(o);
  if (!m) return undefined;
  const scheme = m[1].toLowerCase();
  const host = m[2].toLowerCase();
  // DNS names: no empty label (a wildcard must have a whole label in front of its suffix).
  if (host.charCodeAt(0) !== 91 /* [ */ && (host.charCodeAt(0) === 46 || host.charCodeAt(host.length - 1) === 46 || host.includes('..'))) return undefined;
  let port = m[3] ?? '';
  if (port) {
    const n = Number(port);
    if (n < 1 || n > 65535) return undefined;
    port = n === (scheme === 'https' ? 443 : 80) ? '' : String(n);
  }
  return { scheme, host, port, normalized: port ? `${scheme}://${host}:${port}` : `${scheme}://${host}` };
}

/**
 * The Access-Control-Allow-Origin value for a request's Origin, or undefined when the policy does
 * not allow it: the Origin itself, or `*` for a non-http(s) Origin under allowOrigins ["*"]
 * without credentials. Exact origins are one Set lookup; wildcards are suffix comparisons.
 */
export function allowOrigin(c: CorsRuntime, origin: string): string | undefined {
  if (c.exact.has(origin)) return origin; // what browsers send: already normalized
  const p = parseOrigin(origin);
  if (!p) return c.anyOrigin && !c.credentials ? '*' : undefined;
  if (c.anyOrigin) return origin;
  if (p.normalized !== origin && c.exact.has(p.normalized)) return origin;
  for (const w of c.wildcards) {
    if (w.scheme === p.scheme && w.port === p.port && (w.suffix === '' || (p.host.length > w.suffix.length && p.host.endsWith(w.suffix)))) return origin;
  }
  return undefined;
}

/** The headers of the gateway's answer to a preflight from an allowed origin (`allowed`: allowOrigin's value). */
export function preflightHeaders(c: CorsRuntime, allowed: string, h: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = { 'access-control-allow-origin': allowed };
  if (c.credentials) out['access-control-allow-credentials'] = 'true';
  if (c.echoMethod) {
    const m = h['access-control-request-method'];
    if (typeof m === 'string' && TOKEN.test(m)) out['access-control-allow-methods'] = m;
  } else if (c.allowMethods) out['access-control-allow-methods'] = c.allowMethods;
  if (c.echoHeaders) {
    const v = requestedHeaders(h['access-control-request-headers']);
    if (v) out['access-control-allow-headers'] = v;
  } else if (c.allowHeaders) out['access-control-allow-headers'] = c.allowHeaders;
  if (c.exposeHeaders) out['access-control-expose-headers'] = c.exposeHeaders;
  out['access-control-max-age'] = c.maxAge;
  out.vary = PREFLIGHT_VARY;
  return out;
}

/** Access-Control-Request-Headers as a clean list (lower-case tokens), '' when there is none. */
function requestedHeaders(v: string | string[] | undefined): string {
  if (v === undefined) return '';
  const names: string[] = [];
  for (const part of (Array.isArray(v) ? v.join(',') : v).split(',')) {
    const n = part.trim().toLowerCase();
    if (n && TOKEN.test(n) && !names.includes(n)) names.push(n);
  }
  return names.join(', ');
}

/**
 * The policy's headers on an actual (non-preflight) answer, set in `out`: Vary gets Origin, and an
 * allowed Origin gets Access-Control-Allow-Origin (+ -Credentials, -Expose-Headers). `out` must
 * not hold the upstream's Access-Control-* headers any more (the proxy drops them as it copies).
 */
export function addCorsHeaders(c: CorsRuntime, origin: string | undefined, out: Record<string, string | string[] | number | undefined>): void {
  out.vary = varyWithOrigin(out.vary);
  if (origin === undefined) return;
  const allowed = allowOrigin(c, origin);
  if (allowed === undefined) return;
  out['access-control-allow-origin'] = allowed;
  if (c.credentials) out['access-control-allow-credentials'] = 'true';
  if (c.exposeHeaders) out['access-control-expose-headers'] = c.exposeHeaders;
}

/** A Vary value that includes Origin (unchanged if it already does, or is `*`). */
export function varyWithOrigin(v: string | string[] | number | undefined): string {
  if (v === undefined || v === '') return 'Origin';
  const s = Array.isArray(v) ? v.join(', ') : String(v);
  for (const t of s.split(',')) {
    const x = t.trim().toLowerCase();
    if (x === 'origin' || x === '*') return s;
  }
  return `${s}, Origin`;
}
