// The WAF on the request path: phase 1 (URI, headers) and phase 2 (body) of the rule set the
// route's WafPolicy compiled. Bodies are buffered up to the policy's limit before anything is
// sent upstream (as ModSecurity does), which also makes them replayable for retries. Every rule
// that matched is a security event in the log. The filter fails closed: an engine error is a 500,
// never a pass.
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import type { WafRuntime } from '../compiler/waf.ts';
import type { RequestContext } from './context.ts';

export type WafVerdict =
  | { readonly pass: true }
  | { readonly pass: false; readonly status: number; readonly ruleId: number; readonly reason: 'blocked' | 'body-too-large' | 'error' };

export interface WafFilterDeps { readonly logger: Logger; onEvent?(kind: string): void }

export async function inspectRequest(ctx: RequestContext, w: WafRuntime, hasBody: boolean, deps: WafFilterDeps): Promise<WafVerdict> {
  const req = ctx.req;
  try {
    const tx = w.waf.newTransaction({ id: ctx.id, remoteAddr: ctx.clientIp, remotePort: req.socket.remotePort ?? 0, serverAddr: req.socket.localAddress ?? '', serverPort: req.socket.localPort ?? 0 });
    tx.processUri(req.method ?? 'GET', req.url ?? '/', `HTTP/${req.httpVersion}`);
    const raw = req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) if (raw[i].charCodeAt(0) !== 58 /* HTTP/2 pseudo-headers */) tx.addRequestHeader(raw[i], raw[i + 1]);
    if (req.httpVersionMajor === 2 && req.headers[':authority'] && req.headers.host === undefined) tx.addRequestHeader('Host', String(req.headers[':authority']));
    let intr = tx.processRequestHeaders();
    if (!intr && hasBody && w.inspectBody) {
      const body = await readBody(req, w.bodyLimit);
      if (body === null) { log(ctx, w, tx.matchedRules, deps, 413); return { pass: false, status: 413, ruleId: 0, reason: 'body-too-large' }; }
      ctx.body = body;
      tx.appendRequestBody(body);
    }
    intr ??= tx.processRequestBody();
    log(ctx, w, tx.matchedRules, deps, intr ? intr.status : undefined);
    if (intr && w.mode === 'Block') return { pass: false, status: intr.status === 413 ? 413 : 403, ruleId: intr.ruleId, reason: 'blocked' };
    return { pass: true };
  } catch (err) {
    deps.logger.error({ err, requestId: ctx.id, policy: w.policyId }, 'WAF failed; the request is refused (fail closed)');
    return { pass: false, status: 500, ruleId: 0, reason: 'error' };
  }
}

/** The whole body, or null once it passes `limit` bytes. */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | null> {
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
    deps.onEvent?.('waf-match');
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
