// Admin API. Loopback only, on its own port, and authenticated:
// - a bearer token generated on first start into a 0600 file (its path is logged, never its value);
// - requests whose Host or Origin is not a loopback name are refused, so a web page cannot reach
//   the API through DNS rebinding even from the operator's own browser;
// - /healthz and /readyz need no token (probes rarely carry one) but are still loopback-only.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Gateway } from '../runtime/gateway.ts';
import type { Metrics } from '../observability/metrics.ts';
import { PROBLEMS, sendProblem } from '../dataplane/problem.ts';
import { requestIdFor } from '../dataplane/context.ts';
import { certificateSeries, servedCertificates } from '../observability/certificates.ts';

export interface AdminOptions {
  readonly host: string;
  readonly port: number;
  readonly tokenFile: string;
  readonly gateway: Gateway;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** The Prometheus text for /metrics; default: this process's registry (the primary adds its workers'). */
  readonly metricsText?: () => Promise<string>;
}

export class AdminError extends Error {
  readonly code: string;
  constructor(code: string, message: string) { super(message); this.code = code; this.name = 'AdminError'; }
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

export function isLoopbackAddress(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** The admin API never listens off loopback: fail before anything starts. */
export function assertLoopback(host: string): void {
  if (!isLoopbackAddress(host)) throw new AdminError('PCS_ERR_ADMIN_NOT_LOOPBACK', `the admin API only listens on loopback; ${host} is not a loopback address (use 127.0.0.1 or [::1])`);
}

/** Default state directory: $PORTCULLIS_STATE_DIR, else $XDG_STATE_HOME/portcullis, else ~/.local/state/portcullis. */
export function defaultStateDir(): string {
  if (process.env.PORTCULLIS_STATE_DIR) return process.env.PORTCULLIS_STATE_DIR;
  const base = process.env.XDG_STATE_HOME || path.join(os.homedir(), '.local', 'state');
  return path.join(base, 'portcullis');
}

/** Read a secret of `size` random bytes from a 0600 file, creating it if absent (session-token keys). */
export function ensureSecretFile(file: string, size = 32): Buffer {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  try {
    const b = fs.readFileSync(file);
    if (b.length >= size) return b.subarray(0, size);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const key = crypto.randomBytes(size);
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, key, { mode: 0o600, flag: 'wx' });
  fs.renameSync(tmp, file);
  return key;
}

/** Read the admin token, creating it (32 random bytes, base64url) in a 0600 file if absent. */
export function ensureAdminToken(file: string): { token: string; created: boolean } {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  try {
    const st = fs.statSync(file);
    if ((st.mode & 0o077) !== 0) fs.chmodSync(file, 0o600); // tighten a token someone loosened
    const token = fs.readFileSync(file, 'utf8').trim();
    if (token.length >= 32) return { token, created: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const token = crypto.randomBytes(32).toString('base64url');
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, token + '\n', { mode: 0o600, flag: 'wx' });
  fs.renameSync(tmp, file);
  return { token, created: true };
}

function hostOnly(hostHeader: string): string {
  if (hostHeader.startsWith('[')) return hostHeader.slice(0, hostHeader.indexOf(']') + 1);
  const i = hostHeader.lastIndexOf(':');
  return (i >= 0 ? hostHeader.slice(0, i) : hostHeader).toLowerCase();
}

export async function startAdmin(opts: AdminOptions): Promise<http.Server> {
  assertLoopback(opts.host);
  const { token, created } = ensureAdminToken(opts.tokenFile);
  opts.logger.info({ tokenFile: opts.tokenFile, created }, 'admin API token file (send it as: Authorization: Bearer $(cat FILE))');
  const expected = crypto.createHash('sha256').update(token).digest();
  const authorized = (req: http.IncomingMessage) => {
    const h = req.headers.authorization ?? '';
    if (!h.startsWith('Bearer ')) return false;
    const got = crypto.createHash('sha256').update(h.slice(7).trim()).digest();
    return crypto.timingSafeEqual(got, expected);
  };
  const { gateway, metrics } = opts;
  // Certificate gauges follow the served Runtime: set now, after every swap, and checked at scrape.
  const syncCertificates = () => metrics.setCertificates(certificateSeries(gateway.runtime));
  syncCertificates();
  gateway.on('reload', syncCertificates);

  const server = http.createServer(async (req, res) => {
    const id = requestIdFor(undefined);
    const host = hostOnly(req.headers.host ?? '');
    if (!LOOPBACK_HOSTS.has(host) && !/^127\.\d+\.\d+\.\d+$/.test(host)) return sendProblem(res, PROBLEMS.forbidden, id, 'the admin API answers only to loopback host names');
    const origin = req.headers.origin;
    if (origin !== undefined) {
      let ok = false;
      try { ok = isLoopbackAddress(new URL(origin).hostname); } catch {}
      if (!ok) return sendProblem(res, PROBLEMS.forbidden, id, 'cross-origin requests to the admin API are refused');
    }
    const url = new URL(req.url ?? '/', 'http://admin');
    const json = (status: number, body: unknown) => {
      const s = JSON.stringify(body, null, 2);
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
      res.end(s + '\n');
    };
    const rt = gateway.runtime;
    if (url.pathname === '/healthz') return json(200, { status: 'ok' });
    if (url.pathname === '/readyz') return rt ? json(200, { status: 'ready', version: rt.version }) : json(503, { status: 'not ready' });
    if (!authorized(req)) {
      res.setHeader('www-authenticate', 'Bearer realm="portcullis-admin"');
      return sendProblem(res, PROBLEMS.unauthorized, id, `send the token from ${path.basename(opts.tokenFile)} as a Bearer token`);
    }
    try {
      if (req.method === 'GET' && url.pathname === '/config') {
        return json(200, { version: rt?.version ?? null, createdAt: rt?.createdAt ?? null, sources: rt?.sources ?? [], resources: rt?.config ?? [] });
      }
      if (req.method === 'GET' && url.pathname === '/status') {
        return json(200, {
          version: rt?.version ?? null,
          createdAt: rt?.createdAt ?? null,
          listeners: gateway.boundPorts,
          lastReload: gateway.lastReload,
          warnings: (rt?.warnings ?? []).map((w) => `${w.file}:${w.line}:${w.col}: ${w.resource}: ${w.path}: ${w.message}`),
          resources: gateway.status,
        });
      }
      if (req.method === 'GET' && url.pathname === '/certificates') return json(200, servedCertificates(rt));
      if (req.method === 'GET' && url.pathname === '/metrics') {
        syncCertificates();
        const text = opts.metricsText ? await opts.metricsText() : await metrics.registry.metrics();
        res.writeHead(200, { 'content-type': metrics.registry.contentType });
        return res.end(text);
      }
      if (req.method === 'POST' && url.pathname === '/reload') {
        const rec = await gateway.reload('admin-api');
        return json(rec.result === 'failure' ? 422 : 200, rec);
      }
      return sendProblem(res, PROBLEMS.notFound, id, 'admin endpoints: GET /healthz /readyz /config /status /certificates /metrics, POST /reload');
    } catch (err) {
      opts.logger.error({ err }, 'admin request failed');
      return sendProblem(res, PROBLEMS.internal, id);
    }
  });
  server.once('close', () => gateway.off('reload', syncCertificates));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: opts.host.replace(/^\[|\]$/g, ''), port: opts.port }, () => { server.off('error', reject); resolve(); });
  });
  return server;
}
