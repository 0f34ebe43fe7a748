// Config -> Runtime. Pure: the same input gives the same Runtime (and version). All the expensive
// work (regexes, route tables, header lists) happens here, once, never on the request path.
import { constants as cryptoConstants, createHash, createPrivateKey, randomBytes } from 'node:crypto';
import { RetryPolicy, SessionPersistence } from '../upstream/index.ts';
import { loadConfigPath, type LoadResult } from '../config/load.ts';
import { validateSchema, type Resource } from '../config/validate-schema.ts';
import { BlockList } from 'node:net';
import { createSecureContext, type SecureContext } from 'node:tls';
import { analyze, durationMs, parseCidr, type ClientPolicyIR, type HstsIR, type GatewayIR, type ListenerTlsIR, type HTTPRouteRuleIR, type StatusMap } from '../config/semantic.ts';
import { sortDiagnostics, type Diagnostic } from '../config/diagnostics.ts';
import type { HTTPRouteFilterT } from '../config/schema.ts';
import { HostTable, HttpRouter, type RouteEntry } from '../router/http-router.ts';
import { redact } from '../config/redact.ts';
import { canon } from '../config/canonical.ts';
import type { SessionRuntime, BackendChoice, BackendRuntime, ClientRuntime, EndpointRuntime, HeaderMods, ListenerRuntime, PortRuntime, RedirectSpec, RewriteSpec, RuleRuntime, Runtime } from '../runtime/runtime.ts';
import { compileBackend, type CompileContext } from './backend.ts';
import { WafCache, type WafRuntime } from './waf.ts';
import { compileCors, type CorsRuntime } from './cors.ts';
import { compilePassthrough, describePassthrough } from '../tls/compile.ts';
import { issuedFingerprint, type IssuedLookup } from '../certs/config.ts';

/** CompileContext plus what the gateway's certificate service has issued (src/certs). */
type BuildContext = CompileContext & { readonly issued?: IssuedLookup };

export interface BuildResult {
  /** Present when there is no error-level diagnostic. */
  readonly runtime?: Runtime;
  readonly diagnostics: readonly Diagnostic[];
  readonly errors: readonly Diagnostic[];
  readonly status: StatusMap;
  readonly resources: readonly Resource[];
  readonly ir?: GatewayIR;
  readonly load: LoadResult;
}

/** Load, validate and compile the config at `target` (a file or a directory). Never throws for bad config. */
export function buildConfig(target: string, ctx: BuildContext = {}): BuildResult {
  const load = loadConfigPath(target);
  const schema = validateSchema(load.docs);
  const wafCache = ctx.wafCache ?? new WafCache();
  const sem = analyze(schema.resources, { wafLoader: (id, spec, dir) => wafCache.load(id, spec, dir), issued: ctx.issued });
  const diagnostics = sortDiagnostics([...load.diagnostics, ...schema.diagnostics, ...sem.diagnostics]);
  const errors = diagnostics.filter((d) => d.severity === 'error');
  const base = { diagnostics, errors, status: sem.status, resources: schema.resources, ir: sem.ir, load };
  if (errors.length) return base;
  const runtime = compileRuntime(sem.ir, sem.status, schema.resources, diagnostics.filter((d) => d.severity === 'warning'), load.files.map((f) => f.file), ctx);
  return { ...base, runtime };
}

export function configVersion(resources: readonly Resource[], issued?: string): string {
  const h = createHash('sha256');
  // Issued certificates (src/certs) are part of what is served: a renewal is a new version.
  if (issued !== undefined) h.update('issued\0').update(issued).update('\0');
  for (const r of [...resources].sort((a, b) => (a.id < b.id ? -1 : 1))) {
    const { status: _status, ...doc } = r.doc as Record<string, unknown>; // status is written by us, never read
    h.update(r.id).update('\0').update(canon(doc)).update('\0');
  }
  return h.digest('hex').slice(0, 16);
}


export function compileRuntime(ir: GatewayIR, status: StatusMap, resources: readonly Resource[], warnings: readonly Diagnostic[], sources: readonly string[], ctx: BuildContext = {}): Runtime {
  const sessionKey = ctx.sessionKey ?? randomBytes(32);
  const backends = new Map<string, BackendRuntime>();
  for (const b of ir.backends.values()) backends.set(b.id, compileBackend(b, b.endpoints.map((e) => endpoint(e, b.tls ? 'https' : 'http')), ctx));
  // A Backend whose BackendTLSPolicy is invalid is referenced by nothing: its share of traffic is
  // a 500 (an invalid backendRef) and it is never mirrored to. Fail closed.
  const usable = new Map([...backends].filter(([id]) => { const t = ir.backends.get(id)?.tls; return !t || !('error' in t); }));

  const ports = new Map<string, PortRuntime>();
  // Routers are per listener; a route attached to several listeners is compiled into each.
  for (const l of ir.listeners) {
    if (l.protocol === 'TLS') continue; // TLS Passthrough: compilePassthrough below
    const protocol = l.protocol === 'HTTPS' ? 'HTTPS' : 'HTTP';
    // Client-certificate settings are fixed when a TLS server is created, so they are part of the
    // socket's identity: changing them replaces the socket.
    const cv = l.tls?.clientValidation;
    const key = `${protocol.toLowerCase()}://${l.address}:${l.port}${cv ? `#mtls-${cv.mode}-${createHash('sha256').update(cv.ca).digest('hex').slice(0, 12)}` : ''}`;
    let port = ports.get(key) as { -readonly [K in keyof PortRuntime]: PortRuntime[K] } | undefined;
    if (!port) { port = { key, address: l.address, port: l.port, protocol, listeners: new HostTable<ListenerRuntime>(), ...(cv ? { clientAuth: cv } : {}) }; ports.set(key, port); }
    const certs = l.tls && orderedCerts(l.tls);
    const tls = certs && secureContext(certs, l.tls!.clientValidation);
    if (tls && certs && (!port.defaultTls || !l.hostname)) port.defaultTls = { context: tls, cert: certs.map((c) => c.cert), key: certs.map((c) => c.key) };
    const router = new HttpRouter<RuleRuntime>();
    for (const a of l.attachments) {
      const route = ir.routes.get(a.route)!;
      for (const rule of route.rules) {
        const waf = (rule.name ? ir.waf.get(`${route.id}#${rule.name}`) : undefined) ?? ir.waf.get(route.id) ?? ir.waf.get(l.gateway);
        const rr = compileRule(route.id, rule, usable, route.grpc === true, sessionKey, waf);
        rule.matches.forEach((m, mi) => {
          const entry: RouteEntry<RuleRuntime> = {
            rule: rr,
            pathType: m.path!.type!,
            pathValue: m.path!.value!,
            pathRe: m.path!.type === 'RegularExpression' ? anchored(m.path!.value!) : undefined,
            method: m.method,
            headers: (m.headers ?? []).map((h) => ({ name: h.name.toLowerCase(), ...(h.type === 'RegularExpression' ? { re: anchored(h.value) } : { exact: h.value }) })),
            query: (m.queryParams ?? []).map((q) => ({ name: q.name, ...(q.type === 'RegularExpression' ? { re: anchored(q.value) } : { exact: q.value }) })),
            creationTimestamp: route.creationTimestamp,
            routeId: `${route.namespace}/${route.name}`,
            ruleIndex: rule.index,
            matchIndex: mi,
          };
          router.add(a.hostnames, entry);
        });
      }
    }
    const [, ns, gw] = l.gateway.split('/');
    port.listeners.getOrCreate(l.hostname ?? '', () => ({
      id: `${ns}/${gw}/${l.name}`, hostname: l.hostname, router: router.seal(), client: l.client && compileClient(l.client), tls,
      // RFC 6797 §7.2: a Strict-Transport-Security header over plain HTTP must be ignored, so it is never sent there.
      ...(protocol === 'HTTPS' && l.client?.hsts ? { hsts: hstsValue(l.client.hsts) } : {}),
      ...(l.tls ? { certificates: l.tls.certs.map((c) => ({ ref: c.ref, chain: c.cert })) } : {}),
    }));
  }
  compilePassthrough(ir, ports, backends, (t) => secureContext(orderedCerts(t), t.clientValidation));
  return Object.freeze({
    version: configVersion(resources, issuedFingerprint(ir.certificates, ctx.issued)),
    createdAt: new Date().toISOString(),
    ports,
    backends,
    status,
    warnings,
    config: resources.map((r) => redact(r.doc)),
    sources,
    wafs: [...new Set(ir.waf.values())],
  });
}

/**
 * TLS settings for every HTTPS listener: TLS 1.2 minimum (1.3 preferred by OpenSSL), forward-secret
 * AEAD suites only for 1.2, X25519 then P-256 for key exchange. TLS 1.3 suites are all AEAD.
 * docs/tls.md lists them; test/tls-quality.test.ts checks them.
 * Renegotiation is refused outright (SSL_OP_NO_RENEGOTIATION): Node would otherwise accept up to 3
 * client-initiated renegotiations per 10 minutes per connection, a CPU cost a client can impose
 * (testssl: "secure client-initiated renegotiation ... mitigated"); nothing we serve needs it (no
 * per-path client certificates; HTTP/2 forbids it; TLS 1.3 has none). See docs/tls.md.
 */
export const TLS_DEFAULTS = {
  minVersion: 'TLSv1.2',
  // TLS 1.3 suites (Node takes them in the same list, by their TLS_ names) in Mozilla's order,
  // AES-128 first as for 1.2: OpenSSL's default puts AES-256-GCM-SHA384 first, whose SHA-384 key
  // schedule costs more per handshake (measured: about 10% of a full ECDSA handshake's CPU, see
  // bench/README.md) for no practical gain in strength.
  ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256',
  ecdhCurve: 'X25519:P-256:P-384',
  honorCipherOrder: true,
  secureOptions: cryptoConstants.SSL_OP_NO_RENEGOTIATION,
} as const;

function secureContext(certs: ListenerTlsIR['certs'], clientValidation: ListenerTlsIR['clientValidation']): SecureContext {
  return createSecureContext({ ...TLS_DEFAULTS, cert: certs.map((c) => c.cert), key: certs.map((c) => c.key), ...(clientValidation ? { ca: clientValidation.ca } : {}) });
}

/**
 * ECDSA last. Node 24 has a bug with several key types in a context chosen by SNI
 * (nodejs/node#54235, fixed upstream by #64700): such a context serves only the last key type
 * loaded, so the listener of the port's default certificate gets full RSA+ECDSA selection (it uses
 * the server's own context), and SNI-selected listeners serve ECDSA, which every current client
 * supports.
 */
function orderedCerts(t: ListenerTlsIR): ListenerTlsIR['certs'] {
  const isEc = (c: { key: string }) => createPrivateKey(c.key).asymmetricKeyType === 'ec';
  return [...t.certs].sort((a, b) => Number(isEc(a)) - Number(isEc(b)));
}

/** The Strict-Transport-Security value (RFC 6797 §6.1), directives in the order browsers' docs show. */
export function hstsValue(h: HstsIR): string {
  return `max-age=${h.maxAge}${h.includeSubDomains ? '; includeSubDomains' : ''}${h.preload ? '; preload' : ''}`;
}

function compileClient(c: ClientPolicyIR): ClientRuntime {
  const trusted = new BlockList();
  for (const cidr of c.trustedCIDRs) { const p = parseCidr(cidr)!; trusted.addSubnet(p.address, p.prefix, p.family); }
  return { trusted, forwarded: c.forwarded, xfcc: c.xfcc };
}

/** Gateway API regex matches are full matches (RE2-like semantics in Envoy): anchor them. */
function anchored(src: string): RegExp {
  return new RegExp(`^(?:${src})$`);
}

function endpoint(e: { address: string; port: number; weight: number }, scheme: 'http' | 'https' = 'http'): EndpointRuntime {
  const host = e.address.includes(':') ? `[${e.address}]` : e.address;
  return { id: `${e.address}:${e.port}`, address: e.address, port: e.port, weight: e.weight, origin: `${scheme}://${host}:${e.port}` };
}

function compileRule(routeId: string, rule: HTTPRouteRuleIR, backends: Map<string, BackendRuntime>, grpc: boolean, sessionKey: Uint8Array, waf: WafRuntime | undefined): RuleRuntime {
  const [, ns, name] = routeId.split('/');
  let requestHeaders: HeaderMods | undefined;
  let responseHeaders: HeaderMods | undefined;
  let redirect: RedirectSpec | undefined;
  let rewrite: RewriteSpec | undefined;
  let cors: CorsRuntime | undefined;
  for (const f of rule.filters) {
    if (f.type === 'RequestHeaderModifier') requestHeaders = headerMods(f.requestHeaderModifier);
    else if (f.type === 'ResponseHeaderModifier') responseHeaders = headerMods(f.responseHeaderModifier);
    else if (f.type === 'RequestRedirect') {
      const r = f.requestRedirect!;
      redirect = { scheme: r.scheme, hostname: r.hostname, port: r.port, statusCode: r.statusCode ?? 302, path: r.path && { type: r.path.type, value: (r.path.type === 'ReplaceFullPath' ? r.path.replaceFullPath : r.path.replacePrefixMatch) ?? '' } };
    } else if (f.type === 'URLRewrite') {
      const u = f.urlRewrite!;
      rewrite = { hostname: u.hostname, path: u.path && { type: u.path.type, value: (u.path.type === 'ReplaceFullPath' ? u.path.replaceFullPath : u.path.replacePrefixMatch) ?? '' } };
    } else if (f.type === 'CORS') cors = compileCors(f.cors!);
  }
  const choices: BackendChoice[] = rule.backendRefs.map((b) => ({
    backend: b.backend ? backends.get(b.backend) : undefined,
    weight: b.weight,
    requestHeaders: headerModsFrom(b.filters, 'RequestHeaderModifier'),
    responseHeaders: headerModsFrom(b.filters, 'ResponseHeaderModifier'),
  }));
  const sp = rule.sessionPersistence;
  const live = choices.filter((c) => c.weight > 0);
  const absoluteMs = sp?.absoluteTimeout ? durationMs(sp.absoluteTimeout) : undefined;
  const session: SessionRuntime | undefined = sp && {
    type: sp.type ?? 'Cookie',
    name: sp.sessionName ?? 'portcullis-session',
    cookieAttributes: `; Path=/; HttpOnly; SameSite=Lax${sp.cookieConfig?.lifetimeType === 'Permanent' && absoluteMs ? `; Max-Age=${Math.floor(absoluteMs / 1000)}` : ''}`,
    signers: live.map((c, i) => c.backend && new SessionPersistence(c.backend.endpoints, { key: sessionKey, scope: `${routeId}/${rule.index}/${i}`, ...(absoluteMs ? { absoluteTimeoutMs: absoluteMs } : {}) })),
  };
  const retry = rule.retry && new RetryPolicy({
    maxAttempts: (rule.retry.attempts ?? 1) + 1,
    retryOn: ['connect-failure', 'reset', ...(rule.retry.codes?.length ? ['retriable-status-codes' as const] : ['gateway-error' as const])],
    retriableStatuses: rule.retry.codes ?? [],
    ...(rule.retry.backoff ? { backoffBaseMs: durationMs(rule.retry.backoff) } : {}),
  });
  return {
    grpc,
    waf,
    session,
    retry,
    routeId,
    ruleIndex: rule.index,
    label: `${ns}/${name}/${rule.name ?? rule.index}`,
    requestHeaders, responseHeaders, redirect, rewrite, cors,
    backends: live,
    mirrors: rule.mirrors.filter((m) => backends.has(m.backend)).map((m) => ({ backend: backends.get(m.backend)!, percent: m.percent, sampler: { n: 0 } })),
    totalWeight: choices.reduce((s, c) => s + c.weight, 0),
    requestTimeoutMs: rule.timeouts?.request ? durationMs(rule.timeouts.request) : 0,
    backendTimeoutMs: rule.timeouts?.backendRequest ? durationMs(rule.timeouts.backendRequest) : 0,
  };
}

function headerModsFrom(filters: readonly HTTPRouteFilterT[], type: 'RequestHeaderModifier' | 'ResponseHeaderModifier'): HeaderMods | undefined {
  const f = filters.find((x) => x.type === type);
  return f ? headerMods(type === 'RequestHeaderModifier' ? f.requestHeaderModifier : f.responseHeaderModifier) : undefined;
}

function headerMods(m: { set?: { name: string; value: string }[]; add?: { name: string; value: string }[]; remove?: string[] } | undefined): HeaderMods {
  return {
    set: (m?.set ?? []).map((h) => [h.name.toLowerCase(), h.value] as const),
    add: (m?.add ?? []).map((h) => [h.name.toLowerCase(), h.value] as const),
    remove: (m?.remove ?? []).map((h) => h.toLowerCase()),
  };
}

/** A stable, readable dump of the compiled route tables: golden tests and debugging. */
export function describeRoutes(rt: Runtime): unknown {
  return [...rt.ports.values()].sort((a, b) => a.key.localeCompare(b.key)).map((p) => ({
    socket: p.key,
    listeners: p.listeners.entriesWithKeys().map(([host, l]) => ({
      host,
      listener: l.id,
      routes: l.router.describe().map(({ host: h, entries }) => ({
        host: h,
        order: entries.map((e) => [
          `${e.pathType} ${e.pathValue}`,
          e.method ? `method ${e.method}` : '',
          ...e.headers.map((x) => `header ${x.name}${x.re ? '~' + x.re.source : '=' + x.exact}`),
          ...e.query.map((x) => `query ${x.name}${x.re ? '~' + x.re.source : '=' + x.exact}`),
          `-> ${e.rule.label}`,
          e.rule.cors ? `cors[${e.rule.cors.origins.join(' ')}]` : '',
          e.rule.redirect ? `redirect ${e.rule.redirect.statusCode}` : e.rule.backends.map((b) => `${b.backend?.id ?? 'INVALID'}*${b.weight}`).join(' '),
        ].filter(Boolean).join(' ')),
      })),
    })),
    ...(p.passthrough ? { passthrough: describePassthrough(p.passthrough) } : {}),
  }));
}
