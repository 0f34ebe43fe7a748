// The HTTP/1.1 request path: find the listener by Host, the rule by the router, apply the rule's
// filters, pick a backend and an endpoint, and stream the request and the response through an
// undici pool. Everything it reads comes from the Runtime snapshot taken at the start.
import { STATUS_CODES, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import type { HttpHandler, HttpRequest, HttpResponse } from './http-types.ts';
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { Logger } from 'pino';
import { normalizeHost } from '../config/hostnames.ts';
import type { RequestView, RouteMatch } from '../router/http-router.ts';
import type { BackendChoice, BackendRuntime, EndpointRuntime, HeaderMods, PortRuntime, RuleRuntime, Runtime, RuntimeHolder } from '../runtime/runtime.ts';
import { classifyError } from '../upstream/index.ts';
import type { Metrics } from '../observability/metrics.ts';
import { clientCertificateOf, clientIpOf, requestIdFor, type RequestContext } from './context.ts';
import { resolveClientIp, setForwardingHeaders } from './client-ip.ts';
import { endTransaction, inspectBodyless, inspectRequest, inspectResponse, wantsResponseBody, type WafVerdict } from './waf-filter.ts';
import type { Transaction } from '../waf/index.ts';
import { PROBLEMS, problemBody, sendProblem, type ProblemSpec } from './problem.ts';
import { UpstreamCall, callUpstream } from './upstream-call.ts';
import { endOfTurn, inTurn } from './turns.ts';
import { PREFLIGHT_VARY, addCorsHeaders, allowOrigin, isPreflight, preflightHeaders } from './cors.ts';

export interface PoolProvider { get(endpoint: EndpointRuntime, backend: BackendRuntime, grpc?: boolean): Dispatcher }

export interface HandlerDeps {
  readonly holder: RuntimeHolder;
  readonly pools: PoolProvider;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly accessLog: boolean;
  /** The listener's scheme: X-Forwarded-Proto and the default of redirects. */
  readonly scheme?: 'http' | 'https';
}

/** Requests of this process between their arrival and their response's close: the WAF batches its work per turn of the event loop only when there are others (turns.ts). */
let inFlight = 0;

// RFC 9110 §7.6.1 hop-by-hop headers, plus proxy-connection which some clients still send, and
// Expect: the gateway answers 100-continue itself (Node does) and then streams the body.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'proxy-authenticate', 'proxy-authorization', 'expect']);

export function createHttpHandler(deps: HandlerDeps, portKey: string): HttpHandler {
  const { holder, logger } = deps;
  return function handle(req, res) {
    const runtime = holder.current;
    inFlight++;
    const id = requestIdFor(req.headers['x-request-id']);
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const ctx: RequestContext = {
      id, runtime: runtime!, req, res, startNs: process.hrtime.bigint(), clientIp: '', peerIp: clientIpOf(req), scheme: deps.scheme ?? 'http',
      host: normalizeHost(req.headers.host ?? (req.headers[':authority'] as string | undefined)), path: q < 0 ? url : url.slice(0, q), query: q < 0 ? '' : url.slice(q + 1),
    };
    ctx.clientIp = ctx.peerIp;
    // One listener: a ServerResponse emits 'close' after 'finish' too (aborted = never finished).
    res.once('close', () => { inFlight--; finish(ctx, deps, !res.writableFinished); });
    // Whatever goes wrong with one request stays with it: this runs inside the HTTP/1 parser's
    // callback, where a throw would end the process and every connection in it.
    try {
      route(ctx, req, res, runtime);
    } catch (err) {
      logger.error({ err, requestId: id }, 'request handling failed');
      if (!res.headersSent) answer(ctx, PROBLEMS.internal);
      else res.destroy();
    }
  };

  function route(ctx: RequestContext, req: HttpRequest, res: HttpResponse, runtime: Runtime | null): void {
    const id = ctx.id;
    const r = resolveRoute(runtime, portKey, ctx, req);
    if ('problem' in r) {
      if (r.closeConnection) res.shouldKeepAlive = false;
      return answer(ctx, r.problem, r.detail);
    }
    const { port, m } = r;
    const rule = m.rule;
    // A CORS preflight is the gateway's to answer (after the WAF, before anything else), on a
    // redirect rule too: the browser preflights before it sends the request that is redirected.
    const preflight = rule.cors !== undefined && isPreflight(req);
    if (preflight && !rule.waf) {
      try { answerPreflight(ctx, rule); } catch (err) { logger.error({ err, requestId: id }, 'preflight failed'); answer(ctx, PROBLEMS.internal); }
      return;
    }
    if (rule.redirect && !preflight) {
      // (validation keeps bad header values out; should anything still throw, the client gets a 500, and the process lives)
      try { redirect(ctx, rule, m.entry.pathValue, port.port); } catch (err) { logger.error({ err, requestId: id }, 'redirect failed'); answer(ctx, PROBLEMS.internal); }
      return;
    }
    const prefix = m.entry.pathType === 'PathPrefix' ? m.entry.pathValue : undefined;
    if (rule.waf && !requestHasBody(req)) {
      // (turns.ts: with other requests in flight, the WAF runs with the rest of this turn's)
      const w = rule.waf;
      if (inFlight > 1) {
        inTurn(() => {
          if (res.destroyed) return undefined; // the client left while it waited
          const v = inspectBodyless(ctx, w, deps);
          return () => afterInspection(ctx, rule, prefix, deps, preflight, v);
        });
      } else afterInspection(ctx, rule, prefix, deps, preflight, inspectBodyless(ctx, w, deps));
      return;
    }
    (rule.waf ? inspectThenProxy(ctx, rule, prefix, deps, preflight) : proxy(ctx, rule, prefix, deps)).catch((err) => proxyFailed(ctx, deps, err));
  }
}

type Resolved =
  | { port: PortRuntime; m: RouteMatch<RuleRuntime> }
  | { problem: ProblemSpec; detail?: string; closeConnection?: boolean };

/** Port -> listener (by Host) -> rule (by the router). Fills ctx.listener and ctx.rule. */
function resolveRoute(runtime: Runtime | null, portKey: string, ctx: RequestContext, req: HttpRequest): Resolved {
  if (!runtime) return { problem: PROBLEMS.noEndpoint, detail: 'the gateway has no configuration yet' };
  const port = runtime.ports.get(portKey);
  // The port was removed by a reload while this keep-alive connection was open.
  if (!port) return { problem: PROBLEMS.notFound, closeConnection: true };
  // HTTP/1 framing with another version in the request line ("GET / HTTP/2.0"; both HTTP/1 parsers
  // pass it on): 505, as nginx answers. (It used to reach code that took it for an HTTP/2 stream.)
  if (!isHttp2(req) && req.httpVersionMajor !== 1) return { problem: PROBLEMS.httpVersion, detail: `HTTP/${req.httpVersion} in an HTTP/1 request line`, closeConnection: true };
  if ((req.url ?? '/').charCodeAt(0) !== 47 /* / */) return { problem: PROBLEMS.badRequest, detail: 'the request target must be an absolute path' };
  let listener = port.listeners.lookup(ctx.host);
  // A connection made for one name (SNI) may carry requests for another (HTTP/2 coalescing, or a
  // client sending a Host that differs from its SNI); if that name belongs to another listener,
  // say so (421) so the client opens a proper connection.
  // The TLS handshake chose the listener (by SNI). A request for a name that belongs to another
  // listener is misdirected (421) when the connection was made for a name this listener serves: a
  // listener with a hostname, or a catch-all listener with a route for that name. Otherwise (an
  // SNI nobody serves) the catch-all listener routes the request itself, so a name none of its
  // routes serve is a 404 there (Gateway API listener isolation).
  if (ctx.scheme === 'https') {
    const sni = (req.socket as unknown as { servername?: string | false }).servername;
    const name = sni ? String(sni).toLowerCase() : '';
    const byName = name ? port.listeners.lookup(name) : undefined;
    if (byName && byName !== listener) {
      if (byName.hostname || byName.router.servesHostByName(name)) return { problem: PROBLEMS.misdirected };
      listener = byName;
    }
  }
  if (!listener) return { problem: PROBLEMS.notFound };
  ctx.listener = listener;
  if (listener.client) ctx.clientIp = resolveClientIp(ctx.peerIp, req.headers, listener.client);
  if (port.clientAuth) ctx.clientCert = clientCertificateOf(req);
  const view: RequestView = { path: ctx.path, method: req.method ?? 'GET', query: ctx.query, header: (n) => headerValue(req.headers, n) };
  const m = listener.router.match(ctx.host, view);
  if (!m) return { problem: PROBLEMS.notFound };
  ctx.rule = m.rule;
  return { port, m };
}

/** Request headers for the upstream: hop-by-hop dropped, forwarding headers set, route filters applied. */
function upstreamHeaders(ctx: RequestContext, rule: RuleRuntime, choice: BackendChoice): Record<string, string | string[] | undefined> {
  const req = ctx.req;
  const headers: Record<string, string | string[] | undefined> = {};
  const connTokens = req.headers.connection ? String(req.headers.connection).toLowerCase().split(/\s*,\s*/) : null;
  for (const [k, v] of Object.entries(req.headers)) {
    if (HOP_BY_HOP.has(k) || (connTokens && connTokens.includes(k)) || k.charCodeAt(0) === 58 /* : HTTP/2 pseudo-header */) continue;
    headers[k] = v;
  }
  if (headers.host === undefined && req.headers[':authority']) headers.host = req.headers[':authority'] as string;
  setForwardingHeaders(headers, ctx.peerIp, ctx.clientIp, headers.host as string | undefined, req.headers, ctx.listener?.client, ctx.scheme);
  // X-Forwarded-Client-Cert is never taken from the client; with SanitizeSet it carries the
  // certificate the gateway itself verified (Envoy's XFCC format).
  // (Deleted only when present: a delete turns the object into a slow dictionary-mode one.)
  if (headers['x-forwarded-client-cert'] !== undefined) delete headers['x-forwarded-client-cert'];
  if (ctx.clientCert && ctx.listener?.client?.xfcc === 'SanitizeSet') {
    const c = ctx.clientCert;
    headers['x-forwarded-client-cert'] = [`Hash=${c.fingerprint256}`, `Subject="${c.subject.replace(/"/g, '\\"')}"`, ...(c.spiffe ? [`URI=${c.spiffe}`] : []), ...c.sans.filter((x) => x.startsWith('DNS:')).map((x) => `DNS=${x.slice(4)}`)].join(';');
  }
  headers['x-request-id'] = ctx.id;
  if (req.headers.te && /\btrailers\b/i.test(String(req.headers.te))) headers.te = 'trailers';
  if (rule.requestHeaders) applyMods(headers, rule.requestHeaders);
  if (choice.requestHeaders) applyMods(headers, choice.requestHeaders);
  if (rule.rewrite?.hostname) headers.host = rule.rewrite.hostname;
  return headers;
}

function rewrittenTarget(ctx: RequestContext, rule: RuleRuntime, matchedPrefix: string | undefined): string {
  let path = ctx.path;
  if (rule.rewrite?.path) path = rule.rewrite.path.type === 'ReplaceFullPath' ? rule.rewrite.path.value : replacePrefix(ctx.path, matchedPrefix ?? '/', rule.rewrite.path.value);
  return ctx.query ? `${path}?${ctx.query}` : path;
}

function headerValue(h: IncomingHttpHeaders, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v.join(',') : v;
}

function answer(ctx: RequestContext, p: ProblemSpec, detail?: string): void {
  ctx.status = p.status;
  ctx.errorCode = p.code;
  const ct = ctx.req.headers['content-type'];
  if (typeof ct === 'string' && ct.startsWith('application/grpc')) return sendGrpcError(ctx, p);
  // On a CORS rule the gateway's own errors carry the policy's headers, so a page can read them.
  let extra: Record<string, string> | undefined;
  const cors = ctx.rule?.cors;
  if (cors) addCorsHeaders(cors, ctx.req.headers.origin, extra = {});
  sendProblem(ctx.res, p, ctx.id, detail, extra);
}

/**
 * The answer to a CORS preflight (src/dataplane/cors.ts): 200 with the policy's headers for an
 * allowed origin, 403 without any Access-Control-* header otherwise. Never sent upstream.
 */
function answerPreflight(ctx: RequestContext, rule: RuleRuntime): void {
  const { req, res } = ctx;
  if (requestHasBody(req)) res.shouldKeepAlive = false; // the body is not read: do not parse it as the next request
  const allowed = allowOrigin(rule.cors!, req.headers.origin!);
  if (allowed === undefined) {
    ctx.status = PROBLEMS.corsOriginNotAllowed.status;
    ctx.errorCode = PROBLEMS.corsOriginNotAllowed.code;
    sendProblem(res, PROBLEMS.corsOriginNotAllowed, ctx.id, undefined, { vary: PREFLIGHT_VARY });
    return;
  }
  const headers: OutgoingHttpHeaders = preflightHeaders(rule.cors!, allowed, req.headers);
  headers['content-length'] = 0;
  headers['x-request-id'] = ctx.id;
  if (ctx.listener?.hsts) headers['strict-transport-security'] = ctx.listener.hsts;
  if (rule.responseHeaders) applyMods(headers, rule.responseHeaders);
  ctx.status = 200;
  res.writeHead(200, headers);
  res.end();
}

// HTTP status -> gRPC status code, as Envoy maps them (and 404: UNIMPLEMENTED, as Gateway API asks).
const GRPC_STATUS: Record<number, number> = { 400: 13, 401: 16, 403: 7, 404: 12, 429: 14, 500: 13, 502: 14, 503: 14, 504: 4 };

/** A gRPC client understands a trailers-only response: HTTP 200 with grpc-status, not a problem body. */
function sendGrpcError(ctx: RequestContext, p: ProblemSpec): void {
  const res = ctx.res;
  if (res.headersSent) { res.destroy(); return; }
  const headers = {
    'content-type': 'application/grpc',
    'grpc-status': String(GRPC_STATUS[p.status] ?? 2),
    'grpc-message': encodeURIComponent(p.title),
    'x-request-id': ctx.id,
  };
  // Over HTTP/2 a trailers-only response is one HEADERS frame that ends the stream.
  const stream = (res as unknown as { stream?: { respond(h: object, o: object): void } }).stream;
  if (stream) { stream.respond({ ':status': 200, ...headers }, { endStream: true }); return; }
  res.writeHead(200, headers);
  res.end();
}

function replacePrefix(path: string, prefix: string, replacement: string): string {
  const pre = prefix.replace(/\/+$/, '');
  const rest = path.slice(pre.length);
  let out = replacement.replace(/\/+$/, '') + rest;
  if (out === '') out = '/';
  else if (out.charCodeAt(0) !== 47) out = '/' + out;
  return out;
}

function redirect(ctx: RequestContext, rule: RuleRuntime, matchedPrefix: string, listenerPort: number): void {
  const r = rule.redirect!;
  const scheme = r.scheme ?? ctx.scheme;
  const host = r.hostname ?? ctx.host;
  // Gateway API: an explicit port wins; with a scheme and no port, the scheme's well-known port;
  // otherwise the listener's port. The default port of the scheme is left out of Location.
  const port = r.port ?? (r.scheme ? (r.scheme === 'https' ? 443 : 80) : listenerPort);
  const showPort = !((scheme === 'http' && port === 80) || (scheme === 'https' && port === 443));
  let path = ctx.path;
  if (r.path) path = r.path.type === 'ReplaceFullPath' ? r.path.value : replacePrefix(ctx.path, matchedPrefix, r.path.value);
  const location = `${scheme}://${host}${showPort ? `:${port}` : ''}${path}${ctx.query ? `?${ctx.query}` : ''}`;
  ctx.status = r.statusCode;
  const headers: OutgoingHttpHeaders = { location, 'content-length': 0, 'x-request-id': ctx.id };
  if (ctx.listener?.hsts) headers['strict-transport-security'] = ctx.listener.hsts;
  if (rule.cors) addCorsHeaders(rule.cors, ctx.req.headers.origin, headers);
  if (rule.responseHeaders) applyMods(headers, rule.responseHeaders);
  ctx.res.writeHead(r.statusCode, headers);
  ctx.res.end();
}

function applyMods(h: Record<string, string | string[] | number | undefined>, mods: HeaderMods): void {
  for (const [k, v] of mods.set) h[k] = v;
  for (const [k, v] of mods.add) {
    const cur = h[k];
    h[k] = cur === undefined ? v : Array.isArray(cur) ? [...cur, v] : `${cur},${v}`;
  }
  for (const k of mods.remove) delete h[k];
}

function pickChoice(rule: RuleRuntime) {
  if (rule.backends.length === 1) return rule.backends[0];
  let n = Math.random() * rule.totalWeight;
  for (const c of rule.backends) { n -= c.weight; if (n < 0) return c; }
  return rule.backends[rule.backends.length - 1];
}

function proxyFailed(ctx: RequestContext, deps: HandlerDeps, err: unknown): void {
  deps.logger.error({ err, requestId: ctx.id }, 'proxy failed');
  answer(ctx, PROBLEMS.internal);
}

/** A request with a body: phase 1, the body read, phase 2, then on. */
async function inspectThenProxy(ctx: RequestContext, rule: RuleRuntime, prefix: string | undefined, deps: HandlerDeps, preflight: boolean): Promise<void> {
  const v = await inspectRequest(ctx, rule.waf!, deps);
  return afterInspection(ctx, rule, prefix, deps, preflight, v);
}

/** On after the WAF's verdict on the request: proxied (or, a CORS preflight, answered), or refused. Never rejects. */
function afterInspection(ctx: RequestContext, rule: RuleRuntime, prefix: string | undefined, deps: HandlerDeps, preflight: boolean, v: WafVerdict): void {
  try {
    if (v.pass) {
      if (preflight) answerPreflight(ctx, rule);
      else proxy(ctx, rule, prefix, deps, v.tx).catch((err) => proxyFailed(ctx, deps, err));
      return;
    }
    if (v.reason === 'client-gone') {
      ctx.errorCode = 'PCS_ERR_CLIENT_GONE';
      ctx.res.destroy();
      return;
    }
    ctx.res.shouldKeepAlive = !ctx.req.readable || ctx.req.readableEnded; // an unread body cannot be skipped safely
    answer(ctx, requestRefusal(v, deps));
  } catch (err) {
    proxyFailed(ctx, deps, err);
  }
}

async function proxy(ctx: RequestContext, rule: RuleRuntime, matchedPrefix: string | undefined, deps: HandlerDeps, wafTx?: Transaction): Promise<void> {
  const { req, res } = ctx;
  if (rule.backends.length === 0 || rule.totalWeight === 0) return answer(ctx, PROBLEMS.invalidBackend);
  // Session persistence: a valid token names the backend choice and endpoint; otherwise pick as
  // usual and hand out a token with the answer.
  let choiceIndex = -1;
  let pinned: EndpointRuntime | undefined;
  let sessionCreated: number | undefined;
  const session = rule.session;
  if (session) {
    const raw = session.type === 'Cookie' ? cookieValue(req.headers.cookie, session.name) : headerValue(req.headers, session.name.toLowerCase());
    const dot = raw ? raw.indexOf('.') : -1;
    const i = dot > 0 ? Number(raw!.slice(0, dot)) : -1;
    const signer = i >= 0 ? session.signers[i] : undefined;
    const b = i >= 0 ? rule.backends[i]?.backend : undefined;
    if (signer && b) {
      const hit = signer.resolve(raw!.slice(dot + 1), b.health ? b.health.eligibility() : () => true);
      if (typeof hit === 'object') { choiceIndex = i; pinned = hit.endpoint as EndpointRuntime; sessionCreated = hit.createdAt; }
    }
  }
  const choice = choiceIndex >= 0 ? rule.backends[choiceIndex] : pickChoice(rule);
  const backend = choice.backend;
  if (!backend) return answer(ctx, PROBLEMS.invalidBackend);
  ctx.backend = backend;
  const retryPolicy = rule.retry ?? backend.retry;

  const headers = upstreamHeaders(ctx, rule, choice);
  const target = rewrittenTarget(ctx, rule, matchedPrefix);
  const hasBody = requestHasBody(req);
  const hashKey = backend.hashKey ? backend.hashKey(req.headers, ctx.clientIp) : undefined;

  let body: AsyncIterable<Buffer> | Buffer | undefined = ctx.body ?? (hasBody ? lazyBody(req) : undefined);
  if (rule.mirrors.length) {
    // Sampling is a counter, not a coin: exactly percent% of requests are mirrored (per process
    // and config), so a 10% mirror is 10%, not 10% ± noise.
    const targets = rule.mirrors.filter((m) => {
      if (m.percent >= 100) return true;
      const n = ++m.sampler.n;
      return Math.floor((n * m.percent) / 100) > Math.floor(((n - 1) * m.percent) / 100);
    });
    if (targets.length) {
      const send = (payload?: Buffer) => { for (const m of targets) mirror(m.backend, req.method ?? 'GET', target, headers, payload, deps); };
      if (!hasBody || ctx.body) send(ctx.body);
      else body = tapBody(req, MIRROR_BODY_LIMIT, (payload) => { if (payload) send(payload); else deps.metrics.upstreamErrors.inc({ backend: targets[0].backend.id, kind: 'mirror-body-too-large' }); });
    }
  }

  const release = backend.breaker.tryAcquire('request');
  if (typeof release !== 'function') return answer(ctx, PROBLEMS.overflow);
  // No AbortController per request: the client going away or the request timeout aborts the call
  // in flight (and a call started after that aborts at once), through `abortWith`.
  let abortReason: Error | undefined;
  let call: UpstreamCall | undefined;
  const abortWith = (reason: Error) => { if (!abortReason) { abortReason = reason; call?.abort(reason); } };
  const onClientGone = () => { if (!res.writableFinished) abortWith(new ClientGoneError('the client closed the connection')); };
  res.once('close', onClientGone);
  let timer: NodeJS.Timeout | undefined;
  if (rule.requestTimeoutMs > 0) timer = setTimeout(() => abortWith(new TimeoutError()), rule.requestTimeoutMs);
  const done = () => { if (timer) clearTimeout(timer); release(); res.off('close', onClientGone); };
  let retryRelease: (() => void) | undefined;
  // Endpoints that failed this request: a retry goes elsewhere (Envoy's previous_hosts predicate).
  let tried: Set<string> | undefined;
  const method = req.method ?? 'GET';
  try {
    for (let attempt = 1; ; attempt++) {
      const ep = (attempt === 1 && pinned) || (backend.pick(hashKey, tried) ?? (tried ? backend.pick(hashKey) : undefined));
      if (!ep) { done(); return answer(ctx, PROBLEMS.noEndpoint); }
      ctx.endpoint = ep;
      backend.selector.onStart?.(ep);
      let up: UpstreamCall;
      try {
        call = new UpstreamCall();
        if (abortReason) call.abort(abortReason);
        up = await callUpstream(deps.pools.get(ep, backend, rule.grpc), {
          origin: ep.origin, path: target, method, headers, body,
          headersTimeout: rule.backendTimeoutMs || 60_000, bodyTimeout: rule.backendTimeoutMs || 300_000,
        }, call);
      } catch (err) {
        backend.selector.onEnd?.(ep);
        retryRelease?.(); retryRelease = undefined;
        if (abortReason && !(abortReason instanceof TimeoutError)) { done(); return; } // the client went away
        const timedOut = abortReason instanceof TimeoutError || (err as { code?: string }).code === 'UND_ERR_HEADERS_TIMEOUT';
        const outcome = timedOut ? { kind: 'per-try-timeout' as const } : classifyError(err);
        if (outcome) backend.health?.onOutcome(ep.id, outcome);
        const kind = timedOut ? 'timeout' : outcome?.kind ?? 'other';
        deps.metrics.upstreamErrors.inc({ backend: backend.id, kind });
        if (outcome && !timedOut) {
          // A body already streamed cannot be sent again; a connect failure never read it.
          const d = retryPolicy.decide({ method, attempt, outcome, bodyReplayable: !hasBody || ctx.body !== undefined || !req.readableDidRead });
          if (d.retry) {
            const r = backend.breaker.tryAcquire('retry');
            if (typeof r === 'function') {
              retryRelease = r;
              (tried ??= new Set()).add(ep.id);
              if (d.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, d.delayMs));
              continue;
            }
          }
        }
        done();
        return answer(ctx, timedOut ? PROBLEMS.gatewayTimeout : PROBLEMS.badGateway);
      }
      retryRelease?.(); retryRelease = undefined;
      backend.health?.onResponse(ep.id, up.statusCode);
      if (retryPolicy.retryableStatus(up.statusCode)) {
        const d = retryPolicy.decide({ method, attempt, outcome: { kind: 'status', status: up.statusCode }, bodyReplayable: !hasBody || ctx.body !== undefined });
        if (d.retry) {
          backend.selector.onEnd?.(ep);
          (tried ??= new Set()).add(ep.id);
          up.discard();
          if (d.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, d.delayMs));
          continue;
        }
      }
      if (wafTx) {
        // the outbound rules see the answer before the client does (waf-filter.ts)
        const w = rule.waf!;
        const a = { status: up.statusCode, headers: up.headers, hasBody: method !== 'HEAD' && up.statusCode !== 204 && up.statusCode !== 304 };
        let held: readonly Buffer[] | null = null;
        if (wantsResponseBody(w, a)) {
          const c = await up.collect(w.responseBodyLimit);
          if (c.error) {
            backend.selector.onEnd?.(ep);
            done();
            if (abortReason && !(abortReason instanceof TimeoutError)) return; // the client went away
            deps.metrics.upstreamErrors.inc({ backend: backend.id, kind: abortReason ? 'timeout' : 'body' });
            return answer(ctx, abortReason ? PROBLEMS.gatewayTimeout : PROBLEMS.badGateway);
          }
          held = c.chunks;
        }
        // (turns.ts: with other requests in flight, the outbound phases run with the rest of this turn's answers)
        if (held === null && inFlight > 1) await endOfTurn();
        const v = await inspectResponse(ctx, w, wafTx, a, held, deps);
        if (!v.pass) {
          // the held body (or what is left of it) is not wanted: an unfinished one costs the connection
          up.abort(new Error('the WAF withheld the response'));
          backend.selector.onEnd?.(ep);
          done();
          return answer(ctx, responseRefusal(v, deps));
        }
      }
      const out: Record<string, string | string[] | undefined> = {};
      const upHeaders = up.headers;
      const cors = rule.cors;
      // With a CORS filter the policy owns the Access-Control-* headers: the upstream's are dropped.
      if (cors) { for (const k in upHeaders) if (!HOP_BY_HOP.has(k) && !k.startsWith('access-control-')) out[k] = upHeaders[k]; }
      else for (const k in upHeaders) if (!HOP_BY_HOP.has(k)) out[k] = upHeaders[k];
      out['x-request-id'] = ctx.id;
      if (ctx.listener?.hsts) out['strict-transport-security'] = ctx.listener.hsts; // HTTPS listeners only; replaces the upstream's
      if (cors) addCorsHeaders(cors, req.headers.origin, out);
      if (rule.responseHeaders) applyMods(out, rule.responseHeaders);
      if (choice.responseHeaders) applyMods(out, choice.responseHeaders);
      if (session && (pinned !== ep)) {
        const i = choiceIndex >= 0 ? choiceIndex : rule.backends.indexOf(choice);
        const token = `${i}.${session.signers[i]!.issue(ep, Date.now(), pinned ? sessionCreated : undefined)}`;
        if (session.type === 'Header') out[session.name.toLowerCase()] = token;
        else {
          const prev = out['set-cookie'];
          const cookie = `${session.name}=${token}${session.cookieAttributes}`;
          out['set-cookie'] = prev === undefined ? cookie : [...(Array.isArray(prev) ? prev : [prev]), cookie];
        }
      }
      ctx.status = up.statusCode;
      // A gRPC trailers-only answer (grpc-status in the headers, no body) must stay one HEADERS
      // frame that ends the stream, or gRPC clients report INTERNAL.
      const h2stream = (res as unknown as { stream?: { respond(h: object, o: object): void } }).stream;
      if (rule.grpc && out['grpc-status'] !== undefined && h2stream) {
        up.discard();
        backend.selector.onEnd?.(ep);
        done();
        h2stream.respond({ ':status': up.statusCode, ...out }, { endStream: true });
        return;
      }
      res.writeHead(up.statusCode, out as OutgoingHttpHeaders);
      // Trailers (gRPC's grpc-status, or HTTP/1.1 clients that said TE: trailers) are forwarded, so
      // the response is ended after the trailers are added.
      const wantsTrailers = rule.grpc || isHttp2(req) || headers.te === 'trailers';
      // The client going away now (res 'close' before the end) aborts the call (onClientGone),
      // and undici reports that as an error: the end callback then destroys what is left.
      up.pipeTo(res, wantsTrailers, (err) => {
        backend.selector.onEnd?.(ep);
        done();
        if (err && !res.destroyed) res.destroy();
      });
      return;
    }
  } catch (err) {
    // Whatever threw (an upstream header Node refuses to write, say), the upstream exchange in
    // flight is dropped rather than left paused on its connection until the body timeout.
    call?.abort(err instanceof Error ? err : new Error(String(err)));
    done();
    throw err;
  }
}

type Refused = Extract<WafVerdict, { pass: false }>;

/** The answer to a request the WAF refused (a block is counted as a security event). */
function requestRefusal(v: Refused, deps: HandlerDeps): ProblemSpec {
  if (v.reason === 'blocked') deps.metrics.securityEvents.inc({ kind: 'waf-block' });
  return v.status === 413 ? PROBLEMS.tooLarge : v.status === 500 ? PROBLEMS.internal : v.status === 400 ? PROBLEMS.wafBadRequest : PROBLEMS.wafBlocked;
}

/** The answer in place of an upstream answer the WAF refused (a block is counted as a security event). */
function responseRefusal(v: Refused, deps: HandlerDeps): ProblemSpec {
  if (v.reason === 'blocked') deps.metrics.securityEvents.inc({ kind: 'waf-block' });
  return v.status === 403 ? PROBLEMS.wafResponseBlocked : v.status === 502 ? PROBLEMS.wafResponseUnreadable : PROBLEMS.internal;
}

/** Why a call was aborted: the client closed its connection first. */
class ClientGoneError extends Error { readonly code = 'PCS_ERR_CLIENT_GONE'; }

/** The HTTP/2 stream of a request that came over HTTP/2 (node:http2's compatibility request has it), whatever its request line said. */
function http2Stream(req: HttpRequest): { readonly endAfterHeaders: boolean } | undefined {
  return (req as unknown as { stream?: { endAfterHeaders: boolean } }).stream;
}

function isHttp2(req: HttpRequest): boolean {
  return http2Stream(req) !== undefined;
}

/** HTTP/1.1 says so in Content-Length / Transfer-Encoding; HTTP/2 by not ending the stream with the headers. */
function requestHasBody(req: HttpRequest): boolean {
  const stream = http2Stream(req);
  if (stream !== undefined) return !stream.endAfterHeaders;
  return req.headers['content-length'] !== undefined ? req.headers['content-length'] !== '0' : req.headers['transfer-encoding'] !== undefined;
}

/**
 * The request body as undici should see it: read only when undici starts sending (after the
 * connection is up), and never destroyed by undici on an upstream error. So a connect failure
 * leaves the body unread and the request can go to another endpoint, and a failed attempt never
 * tears down the client's connection.
 */
function lazyBody(req: HttpRequest): AsyncIterable<Buffer> {
  return { [Symbol.asyncIterator]: () => req.iterator({ destroyOnReturn: false })[Symbol.asyncIterator]() };
}

/** Mirrored requests carry bodies up to this size; larger ones are not mirrored (and counted). */
const MIRROR_BODY_LIMIT = 1024 * 1024;

/** Like lazyBody, and hands a copy of the whole body to `done` (undefined if over `limit`). */
function tapBody(req: HttpRequest, limit: number, done: (payload: Buffer | undefined) => void): AsyncIterable<Buffer> {
  return {
    async *[Symbol.asyncIterator]() {
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const c of req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
        size += c.length;
        if (size <= limit) chunks.push(c);
        yield c;
      }
      done(size <= limit ? Buffer.concat(chunks) : undefined);
    },
  };
}

/** RequestMirror: fire and forget; the answer and any error are dropped (errors are counted). */
function mirror(backend: BackendRuntime, method: string, target: string, headers: Record<string, string | string[] | undefined>, body: Buffer | undefined, deps: HandlerDeps): void {
  const ep = backend.pick();
  if (!ep) return;
  deps.pools.get(ep, backend).request({ origin: ep.origin, path: target, method: method as Dispatcher.HttpMethod, headers, body, headersTimeout: 10_000, bodyTimeout: 10_000 })
    .then((r) => r.body.dump(), () => { deps.metrics.upstreamErrors.inc({ backend: backend.id, kind: 'mirror' }); });
}

const STATUS_CLASS = ['0xx', '1xx', '2xx', '3xx', '4xx', '5xx'];

class TimeoutError extends Error { readonly code = 'PCS_ERR_REQUEST_TIMEOUT'; }

function finish(ctx: RequestContext, deps: HandlerDeps, aborted = false): void {
  const durNs = Number(process.hrtime.bigint() - ctx.startNs);
  if (ctx.waf !== undefined) endTransaction(ctx, deps);
  // a client that left before any answer was sent: 499, nginx's "client closed request" (the
  // response's default 200 would count it as served)
  const status = ctx.status ?? (aborted && !ctx.res.headersSent ? 499 : ctx.res.statusCode);
  const listener = ctx.listener?.id ?? '';
  deps.metrics.countRequest(listener, ctx.rule?.label ?? '', STATUS_CLASS[Math.floor(status / 100)] ?? 'other', durNs / 1e9);
  if (!deps.accessLog) return;
  deps.logger.info({
    msg: 'access',
    requestId: ctx.id,
    client: ctx.clientIp,
    method: ctx.req.method,
    host: ctx.host,
    path: ctx.path,
    status,
    durationMs: Math.round(durNs / 1e4) / 100,
    listener,
    route: ctx.rule?.label,
    upstream: ctx.endpoint?.id,
    config: ctx.runtime?.version,
    ...(ctx.errorCode ? { error: ctx.errorCode } : {}),
    ...(aborted ? { aborted: true } : {}),
  });
}

/**
 * WebSocket (and any HTTP/1.1 Upgrade): routed exactly like a request, then the upstream's 101 is
 * relayed and the two sockets are piped. The tunnel belongs to no Runtime, so reloads never cut it;
 * `tunnels` lets a drain close the ones still open at the deadline.
 */
export function createUpgradeHandler(deps: HandlerDeps, portKey: string, tunnels: Set<Duplex>): (req: HttpRequest, socket: Duplex, head: Buffer) => void {
  // (as for requests: a throw while handling one upgrade must not end the process)
  return function upgrade(req, socket, head) {
    try {
      upgradeOne(req, socket, head);
    } catch (err) {
      deps.logger.error({ err }, 'upgrade handling failed');
      socket.destroy();
    }
  };

  function upgradeOne(req: HttpRequest, socket: Duplex, head: Buffer): void {
    const id = requestIdFor(req.headers['x-request-id']);
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const ctx = {
      id, runtime: deps.holder.current!, req, res: undefined as unknown as HttpResponse, startNs: process.hrtime.bigint(), clientIp: '', peerIp: clientIpOf(req), scheme: deps.scheme ?? 'http',
      host: normalizeHost(req.headers.host), path: q < 0 ? url : url.slice(0, q), query: q < 0 ? '' : url.slice(q + 1),
    } as RequestContext;
    ctx.clientIp = ctx.peerIp;
    const fail = (p: ProblemSpec) => {
      ctx.status = p.status;
      const body = problemBody(p, id);
      socket.end(`HTTP/1.1 ${p.status} ${STATUS_CODES[p.status]}\r\ncontent-type: application/problem+json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nx-request-id: ${id}\r\nconnection: close\r\n\r\n${body}`);
      logUpgrade(ctx, deps, p.status);
    };
    socket.on('error', () => socket.destroy());
    const r = resolveRoute(deps.holder.current, portKey, ctx, req);
    if ('problem' in r) return fail(r.problem);
    const rule = r.m.rule;
    if (rule.redirect || rule.backends.length === 0 || rule.totalWeight === 0) return fail(rule.redirect ? PROBLEMS.badRequest : PROBLEMS.invalidBackend);
    // The WAF judges the upgrade request (phases 1-2) before anything goes upstream, as any other
    // request: an Upgrade header must not be a way around it. What flows through the tunnel after
    // the 101 is not inspected (nor by ModSecurity). A body on an upgrade request cannot be
    // inspected here: refused (fail closed).
    const w = rule.waf;
    if (w) {
      if (requestHasBody(req)) return fail(PROBLEMS.badRequest);
      const v = inspectBodyless(ctx, w, deps);
      if (!v.pass) return fail(requestRefusal(v, deps));
    }
    const choice = pickChoice(rule);
    const backend = choice.backend;
    if (!backend) return fail(PROBLEMS.invalidBackend);
    const ep = backend.pick(backend.hashKey?.(req.headers, ctx.clientIp));
    if (!ep) return fail(PROBLEMS.noEndpoint);
    ctx.backend = backend;
    ctx.endpoint = ep;
    const headers = upstreamHeaders(ctx, rule, choice);
    deps.pools.get(ep, backend).upgrade({
      path: rewrittenTarget(ctx, rule, r.m.entry.pathType === 'PathPrefix' ? r.m.entry.pathValue : undefined),
      method: (req.method ?? 'GET') as Dispatcher.HttpMethod,
      headers,
      protocol: String(req.headers.upgrade ?? 'websocket'),
    }).then(async ({ headers: upHeaders, socket: upstream }) => {
      if (socket.destroyed) { upstream.destroy(); return; }
      if (w && ctx.waf) {
        // the outbound rules see the 101's status and headers (phase 3; phase 4 with no body)
        const v = await inspectResponse(ctx, w, ctx.waf.tx, { status: 101, headers: upHeaders, hasBody: false }, null, deps);
        if (!v.pass) {
          upstream.destroy();
          return fail(responseRefusal(v, deps));
        }
        if (socket.destroyed) { upstream.destroy(); return; }
      }
      let head101 = 'HTTP/1.1 101 Switching Protocols\r\n';
      for (const [k, v] of Object.entries(upHeaders)) {
        if (k === 'x-request-id') continue;
        for (const one of Array.isArray(v) ? v : [v]) if (one !== undefined) head101 += `${k}: ${one}\r\n`;
      }
      socket.write(`${head101}x-request-id: ${id}\r\n\r\n`);
      if (head.length) upstream.write(head);
      ctx.status = 101;
      logUpgrade(ctx, deps, 101);
      tunnels.add(socket);
      const close = () => { tunnels.delete(socket); socket.destroy(); upstream.destroy(); };
      upstream.on('error', close).on('close', close);
      socket.on('error', close).on('close', close);
      upstream.pipe(socket);
      socket.pipe(upstream);
    }, (err: { code?: string }) => {
      const outcome = classifyError(err);
      if (outcome) backend.health?.onOutcome(ep.id, outcome);
      deps.metrics.upstreamErrors.inc({ backend: backend.id, kind: outcome?.kind ?? 'other' });
      fail(PROBLEMS.badGateway);
    }).catch((err: unknown) => {
      deps.logger.error({ err, requestId: id }, 'upgrade handling failed');
      socket.destroy();
    });
  }
}

function logUpgrade(ctx: RequestContext, deps: HandlerDeps, status: number): void {
  if (ctx.waf !== undefined) endTransaction(ctx, deps);
  const listener = ctx.listener?.id ?? '';
  deps.metrics.requests.inc({ listener, route: ctx.rule?.label ?? '', code: `${Math.floor(status / 100)}xx` });
  if (!deps.accessLog) return;
  deps.logger.info({ msg: 'access', requestId: ctx.id, client: ctx.clientIp, method: ctx.req.method, host: ctx.host, path: ctx.path, status, upgrade: String(ctx.req.headers.upgrade ?? ''), listener, route: ctx.rule?.label, upstream: ctx.endpoint?.id, config: ctx.runtime?.version });
}

function cookieValue(header: string | string[] | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const line of Array.isArray(header) ? header : [header]) {
    for (const part of line.split(';')) {
      const eq = part.indexOf('=');
      if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
    }
  }
  return undefined;
}
