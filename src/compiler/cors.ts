// CORS filter -> the rule's CorsRuntime, once per config: origins split into an exact set and
// suffix matchers (no regex is built for them, here or per request), header values joined into
// the strings the data plane sends as they are. What the values mean on the wire is decided in
// src/dataplane/cors.ts.
import { parseOriginPattern, type CorsSpec } from '../config/cors.ts';

export interface OriginWildcard {
  readonly scheme: 'http' | 'https';
  /** `.example.com`, or '' for any host. */
  readonly suffix: string;
  /** '' for the scheme's default port. */
  readonly port: string;
}

export interface CorsRuntime {
  /** allowOrigins: ["*"]. */
  readonly anyOrigin: boolean;
  /** Normalized `scheme://host[:port]` (lower-case, no default port). */
  readonly exact: ReadonlySet<string>;
  readonly wildcards: readonly OriginWildcard[];
  readonly credentials: boolean;
  /** Access-Control-Allow-Methods as sent; undefined: not sent (or echoed, see echoMethod). */
  readonly allowMethods?: string;
  /** allowMethods ["*"] with credentials: echo Access-Control-Request-Method ("*" would be taken literally). */
  readonly echoMethod: boolean;
  readonly allowHeaders?: string;
  /** allowHeaders has "*" with credentials: echo Access-Control-Request-Headers. */
  readonly echoHeaders: boolean;
  readonly exposeHeaders?: string;
  /** Access-Control-Max-Age, seconds. */
  readonly maxAge: string;
  /** For describeRoutes (golden files): the origins as configured. */
  readonly origins: readonly string[];
}

/** Gateway API default of maxAge. */
export const DEFAULT_CORS_MAX_AGE = 5;

/** `spec` has passed checkCors; an origin that does not parse is left out (never reached in a valid config). */
export function compileCors(spec: CorsSpec): CorsRuntime {
  const exact = new Set<string>();
  const wildcards: OriginWildcard[] = [];
  let anyOrigin = false;
  for (const o of spec.allowOrigins ?? []) {
    const r = parseOriginPattern(o);
    if (!r.ok) continue;
    const p = r.pattern;
    if (p.kind === 'any') anyOrigin = true;
    else if (p.kind === 'exact') exact.add(p.origin);
    else wildcards.push({ scheme: p.scheme, suffix: p.suffix, port: p.port });
  }
  // Longest suffix first: the most specific pattern is tried first (any match allows, so this is
  // only about doing the likely comparison early).
  wildcards.sort((a, b) => b.suffix.length - a.suffix.length);
  const credentials = spec.allowCredentials === true;
  const methods = spec.allowMethods ?? [];
  const headers = spec.allowHeaders ?? [];
  const expose = spec.exposeHeaders ?? [];
  const echoMethod = credentials && methods.includes('*');
  const echoHeaders = credentials && headers.includes('*');
  return {
    anyOrigin, exact, wildcards, credentials,
    echoMethod,
    echoHeaders,
    ...(methods.length && !echoMethod ? { allowMethods: methods.join(', ') } : {}),
    ...(headers.length && !echoHeaders ? { allowHeaders: headers.join(', ') } : {}),
    ...(expose.length ? { exposeHeaders: expose.join(', ') } : {}),
    maxAge: String(spec.maxAge ?? DEFAULT_CORS_MAX_AGE),
    origins: [...(spec.allowOrigins ?? [])],
  };
}
