// The WAF on the request path: phase 1 (URI, headers) and phase 2 (body) of the rule set the
// route's WafPolicy compiled. Bodies are buffered up to the policy's limit before anything is
// sent upstream (as ModSecurity does), which also makes them replayable for retries. Every rule
// that matched is a security event in the log. The filter fails closed: an engine error is a 500,
// never a pass.
//
// And on the response path (the CRS outbound rules, RESPONSE-95x): phase 3 (status, headers) and
// phase 4 (body) run on the upstream's answer before any of it is sent to the client, so an
// outbound block replaces the answer with a 403. The body is inspected only when the policy says
// so (responseBody.inspect) and its Content-Type is listed: then its first `limit` bytes are held
// (decoded first when the upstream compressed them) and the rest streams through uninspected, as
// ModSecurity's ProcessPartial. Otherwise phase 4 runs with an empty body, as ModSecurity's does
// with SecResponseBodyAccess Off.
//
// When the exchange ends (the answer sent, or the client gone), phase 5 runs: the logging rules,
// CRS's RESPONSE-980 correlation, whose 980170 is the "Anomaly Scores: ..." summary of a
// transaction that scored, logged as one more security event (endTransaction).
//
// Under load, the handler runs both sides in batches per turn of the event loop (turns.ts): the
// requests without a body of one turn through phases 1-2 together, and the answers whose body is
// not held through phases 3-4 together. Each transaction is still its own.
import type { HttpRequest } from './http-types.ts';
import zlib from 'node:zlib';
import type { Logger } from 'pino';
import type { WafRuntime } from '../compiler/waf.ts';
import type { Transaction } from '../waf/index.ts';
import type { RequestContext } from './context.ts';

export type WafVerdict =
  | { readonly pass: true; readonly tx?: Transaction }
  | { readonly pass: false; readonly status: number; readonly ruleId: number; readonly reason: 'blocked' | 'body-too-large' | 'error' | 'client-gone' };

/** The handler's logger and security-event counter (HandlerDeps has both: it is passed as is). */
export interface WafFilterDeps { readonly logger: Logger; readonly metrics: { readonly securityEvents: { inc(labels: { kind: string }): void } } }

/** Phases 1 and 2 of a request without a body, synchronously (what inspectRequest does for one, without a promise). */
export function inspectBodyless(ctx: RequestContext, w: WafRuntime, deps: WafFilterDeps): WafVerdict {
  try {
    const tx = startTransaction(ctx, w);
    const intr = tx.processRequestHeaders() ?? tx.processRequestBody();
    return requestVerdict(ctx, w, tx, intr, deps);
  } catch (err) {
    return failed(ctx, w, err, deps);
  }
}

function startTransaction(ctx: RequestContext, w: WafRuntime): Transaction {
  const req = ctx.req;
  const tx = w.waf.newTransaction({ id: ctx.id, remoteAddr: ctx.clientIp, remotePort: req.socket.remotePort ?? 0, serverAddr: req.socket.localAddress ?? '', serverPort: req.socket.localPort ?? 0 });
  tx.processUri(req.method ?? 'GET', req.url ?? '/', `HTTP/${req.httpVersion}`);
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) if (raw[i].charCodeAt(0) !== 58 /* HTTP/2 pseudo-headers */) tx.addRequestHeader(raw[i], raw[i + 1]);
  if (req.httpVersionMajor === 2 && req.headers[':authority'] && req.headers.host === undefined) tx.addRequestHeader('Host', String(req.headers[':authority']));
  ctx.waf = { tx, w };
  return tx;
}

/**
 * Phase 5 of the request's transaction, if it has one: called once the exchange is over (the
 * handler's finish), off the answer's path. What matched there is logged like any other match
 * (for CRS: 980170 when the transaction scored). Never throws: the answer is gone already.
 */
export function endTransaction(ctx: RequestContext, deps: WafFilterDeps): void {
  const t = ctx.waf;
  if (t === undefined) return;
  ctx.waf = undefined;
  try {
    const before = t.tx.matchedRules.length;
    t.tx.processLogging();
    if (t.tx.matchedRules.length > before) log(ctx, t.w, t.tx.matchedRules.slice(before), deps, undefined);
  } catch (err) {
    deps.logger.error({ err, requestId: ctx.id, policy: t.w.policyId }, 'WAF logging phase failed');
  }
}

function requestVerdict(ctx: RequestContext, w: WafRuntime, tx: Transaction, intr: { status: number; ruleId: number } | null, deps: WafFilterDeps): WafVerdict {
  log(ctx, w, tx.matchedRules, deps, intr ? intr.status : undefined);
  // A rule's 400 is kept: it says the request could not be read (the recommended rule 200002,
  // a body that does not parse), as ModSecurity answers; every other block is a 403.
  if (intr && w.mode === 'Block') return { pass: false, status: intr.status === 413 || intr.status === 400 ? intr.status : 403, ruleId: intr.ruleId, reason: 'blocked' };
  return { pass: true, tx };
}

function failed(ctx: RequestContext, w: WafRuntime, err: unknown, deps: WafFilterDeps): WafVerdict {
  deps.logger.error({ err, requestId: ctx.id, policy: w.policyId }, 'WAF failed; the request is refused (fail closed)');
  return { pass: false, status: 500, ruleId: 0, reason: 'error' };
}

/** Phases 1 and 2 of a request with a body: phase 1, the body read (when the policy inspects bodies), phase 2. */
export async function inspectRequest(ctx: RequestContext, w: WafRuntime, deps: WafFilterDeps): Promise<WafVerdict> {
  try {
    const tx = startTransaction(ctx, w);
    let intr = tx.processRequestHeaders();
    if (!intr && w.inspectBody) {
      // w.bodyLimit is the policy's SecRequestBodyLimit (files included): past it, 413 here. A
      // SecRequestBodyNoFilesLimit in the rule set is the engine's, in processRequestBody: a
      // non-file body over it is REQBODY_ERROR, refused (400) by rule 200002 like one that does
      // not parse (see src/compiler/waf.ts).
      let body: Buffer | null;
      try {
        body = await readBody(ctx.req, w.bodyLimit);
      } catch (err) {
        // the client went away before its body was in: nothing was inspected, nothing goes
        // upstream, nobody is left to answer; not the WAF's failure (and not an error to log)
        deps.logger.debug({ requestId: ctx.id, err: (err as Error).message }, 'the client left while its request body was read');
        return { pass: false, status: 400, ruleId: 0, reason: 'client-gone' };
      }
      if (body === null) { log(ctx, w, tx.matchedRules, deps, 413); return { pass: false, status: 413, ruleId: 0, reason: 'body-too-large' }; }
      ctx.body = body;
      tx.appendRequestBody(body);
    }
    intr ??= tx.processRequestBody();
    return requestVerdict(ctx, w, tx, intr, deps);
  } catch (err) {
    return failed(ctx, w, err, deps);
  }
}

/** The upstream's answer as the outbound rules see it. */
export interface UpstreamAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** Whether the answer can have a body at all (not for HEAD, 1xx, 204, 304). */
  readonly hasBody: boolean;
}

/** Whether the policy wants this answer's body held and inspected (before collecting it). */
export function wantsResponseBody(w: WafRuntime, a: UpstreamAnswer): boolean {
  if (!w.inspectResponseBody || !a.hasBody) return false;
  const ct = a.headers['content-type'];
  const v = (Array.isArray(ct) ? ct[0] : ct) ?? '';
  const semi = v.indexOf(';');
  return w.responseMimeTypes.has((semi < 0 ? v : v.slice(0, semi)).trim().toLowerCase());
}

/**
 * Phases 3 and 4 for one answer. `body` is the start of the body held for inspection (null when
 * not inspected). Logs what matched in these phases.
 */
export async function inspectResponse(ctx: RequestContext, w: WafRuntime, tx: Transaction, a: UpstreamAnswer, body: readonly Buffer[] | null, deps: WafFilterDeps): Promise<WafVerdict> {
  const before = tx.matchedRules.length;
  try {
    const h = a.headers;
    const enc = headerText(h['content-encoding']).trim().toLowerCase();
    // A compressed body is decoded for the rules, so they see the decoded representation: without
    // the Content-Encoding (and Content-Length) that describe the compressed one. (CRS skips its
    // leak rules for compressed answers, because ModSecurity can only see the compressed bytes.)
    const decode = body !== null && body.length > 0 && enc !== '' && enc !== 'identity';
    for (const k in h) {
      const v = h[k];
      if (v === undefined || (decode && (k === 'content-encoding' || k === 'content-length'))) continue;
      if (typeof v === 'string') tx.addResponseHeader(k, v);
      else for (const x of v) tx.addResponseHeader(k, x);
    }
    let intr = tx.processResponseHeaders(a.status, `HTTP/${ctx.req.httpVersion}`);
    if (!intr && body && body.length > 0) {
      const raw = body.length === 1 ? body[0] : Buffer.concat(body as Buffer[]);
      const plain = decode ? await decodedPrefix(raw, enc, w.responseBodyLimit) : raw;
      if (plain === null) {
        // a body that cannot be decoded cannot be inspected: fail closed
        deps.logger.warn({ requestId: ctx.id, policy: w.policyId, contentEncoding: enc }, 'WAF cannot decode the upstream response body for inspection; the response is refused (fail closed)');
        return { pass: false, status: 502, ruleId: 0, reason: 'error' };
      }
      tx.appendResponseBody(plain.length > w.responseBodyLimit ? plain.subarray(0, w.responseBodyLimit) : plain);
    }
    intr ??= tx.processResponseBody();
    log(ctx, w, tx.matchedRules.slice(before), deps, intr ? intr.status : undefined);
    if (intr && w.mode === 'Block') return { pass: false, status: 403, ruleId: intr.ruleId, reason: 'blocked' };
    return { pass: true };
  } catch (err) {
    deps.logger.error({ err, requestId: ctx.id, policy: w.policyId }, 'WAF failed on the response; it is refused (fail closed)');
    return { pass: false, status: 500, ruleId: 0, reason: 'error' };
  }
}

function headerText(v: string | string[] | undefined): string {
  return v === undefined ? '' : Array.isArray(v) ? v.join(',') : v;
}

const DECODERS: Record<string, () => zlib.Gunzip | zlib.Inflate | zlib.BrotliDecompress> = {
  // a flush at the end instead of a finish: a held prefix of a longer body decodes as far as it goes
  gzip: () => zlib.createGunzip({ finishFlush: zlib.constants.Z_SYNC_FLUSH }),
  'x-gzip': () => zlib.createGunzip({ finishFlush: zlib.constants.Z_SYNC_FLUSH }),
  deflate: () => zlib.createInflate({ finishFlush: zlib.constants.Z_SYNC_FLUSH }),
  br: () => zlib.createBrotliDecompress({ finishFlush: zlib.constants.BROTLI_OPERATION_FLUSH }),
};

/** The first `limit` decoded bytes of a (possibly truncated) encoded body; null for an unknown or corrupt encoding. */
export function decodedPrefix(raw: Buffer, encoding: string, limit: number): Promise<Buffer | null> {
  const make = DECODERS[encoding];
  if (!make) return Promise.resolve(null);
  return new Promise((resolve) => {
    const d = make();
    const out: Buffer[] = [];
    let n = 0;
    let settled = false;
    const settle = (v: Buffer | null) => { if (!settled) { settled = true; d.destroy(); resolve(v); } };
    d.on('data', (c: Buffer) => {
      out.push(c);
      n += c.length;
      if (n >= limit) settle(Buffer.concat(out).subarray(0, limit));
    });
    d.on('end', () => settle(Buffer.concat(out)));
    d.on('error', () => settle(null));
    d.end(raw);
  });
}

/** The whole body, or null once it passes `limit` bytes. */
async function readBody(req: HttpRequest, limit: number): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > limit) return null;
    chunks.push(c);
  }
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
}

function log(ctx: RequestContext, w: WafRuntime, matched: readonly { id: number; msg: string; logdata: string; severity: string | null; tags: string[]; matchedVar: string; matchedValue: string }[], deps: WafFilterDeps, status: number | undefined): void {
  for (const m of matched) {
    deps.metrics.securityEvents.inc({ kind: 'waf-match' });
    deps.logger.warn({
      msg: 'security event',
      type: 'waf',
      requestId: ctx.id,
      client: ctx.clientIp,
      method: ctx.req.method,
      host: ctx.host,
      path: ctx.path,
      route: ctx.rule?.label,
      policy: w.policyId,
      mode: w.mode,
      ruleId: m.id,
      message: m.msg,
      severity: m.severity,
      tags: m.tags,
      matchedVar: m.matchedVar,
      // An excerpt only (the engine caps it at 200 bytes): never a whole body or header.
      matchedValue: m.matchedValue.slice(0, 120),
      logdata: m.logdata.slice(0, 200),
      ...(status !== undefined ? { blocked: w.mode === 'Block', status } : {}),
    });
  }
}
