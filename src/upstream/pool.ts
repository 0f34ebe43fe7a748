/**
 * Upstream connection pools (undici Pool, one per endpoint and transport settings), long-lived
 * across config swaps. The data plane calls getPool(endpoint, options) per attempt (a WeakMap
 * lookup and two Map lookups) and then pool.request / pool.stream / pool.dispatch itself.
 * After a swap, retain(keys of the new config) closes the pools nobody configures any more;
 * pool.close() lets requests in flight finish first.
 */
import { createHash } from 'node:crypto';
import { Pool, type Dispatcher } from 'undici';
import type { Endpoint } from './types.ts';
import { UpstreamError, checkNumber } from './errors.ts';
import { tlsConnectOptions } from './tls.ts';

/** TLS to the upstream (BackendTLSPolicy). Key material only ever enters a digest, never a log. */
export interface UpstreamTlsOptions {
  /** SNI and certificate name to verify. Default: the endpoint address (no SNI for IP addresses). */
  servername?: string;
  /** Trusted CA certificates (PEM). Default: Node's bundled roots. */
  ca?: string | Buffer | readonly (string | Buffer)[];
  /** Client certificate and key for mTLS (PEM). */
  cert?: string | Buffer;
  key?: string | Buffer;
  /** Default true. Only tests and explicit opt-outs turn it off. */
  rejectUnauthorized?: boolean;
  /**
   * The certificate must carry one of these (DNS name, or URI such as a SPIFFE ID) instead of
   * `servername` (Gateway API subjectAltNames). Data, not a callback, so it enters the pool digest.
   */
  subjectAltNames?: readonly { readonly type: 'Hostname' | 'URI'; readonly value: string }[];
  /** Lowest TLS version offered. Default TLSv1.2. */
  minVersion?: 'TLSv1.2' | 'TLSv1.3';
}

export interface PoolOptions {
  /** Max connections per endpoint (nginx upstream `max_conns`). Default 256. */
  connections?: number;
  /** Idle keep-alive time before a connection is closed (nginx `keepalive_timeout`); capped by the server's Keep-Alive hint. Default 4000 ms (undici). */
  keepAliveTimeoutMs?: number;
  /** Upper bound on a server-suggested keep-alive time. Default 600000 ms (undici). */
  keepAliveMaxTimeoutMs?: number;
  /** TCP (and TLS) connect timeout (Envoy cluster connect_timeout, default 5s). Default 5000 ms. */
  connectTimeoutMs?: number;
  /** Requests pipelined per connection; 1 = plain keep-alive. Default 1. */
  pipelining?: number;
  /** Time to receive response headers (undici headersTimeout). Default 300000 ms; 0 disables. */
  headersTimeoutMs?: number;
  /** Max time between body chunks (undici bodyTimeout, like nginx proxy_read_timeout). Default 300000 ms; 0 disables. */
  bodyTimeoutMs?: number;
  /** Close a connection after this many requests (nginx `keepalive_requests`, default 1000). Default 0 = unlimited. */
  maxRequestsPerConnection?: number;
  /** Use HTTP/2 when the upstream offers it over TLS (ALPN). Default false. */
  allowH2?: boolean;
  /** Speak HTTP/2 with prior knowledge over cleartext (h2c), e.g. to gRPC servers. Default false. */
  h2c?: boolean;
  /** TLS to the upstream; absent means cleartext HTTP. */
  tls?: UpstreamTlsOptions;
}

interface Entry {
  readonly key: string;
  readonly pool: Pool;
}

const DEFAULTS = Object.freeze({});

/** Stable digest of the options (Buffers as hex; key material never leaves this function). */
function optionsKey(o: PoolOptions): string {
  const canon = (v: unknown): unknown => {
    if (Buffer.isBuffer(v)) return { $buf: v.toString('hex') };
    if (Array.isArray(v)) return v.map(canon);
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(v).sort()) if ((v as Record<string, unknown>)[k] !== undefined) out[k] = canon((v as Record<string, unknown>)[k]);
      return out;
    }
    return v;
  };
  const json = JSON.stringify(canon(o));
  return `${o.tls ? 'https' : 'http'}~${createHash('sha256').update(json).digest('hex').slice(0, 24)}`;
}

function hostPort(e: Endpoint): string {
  return e.address.includes(':') ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
}

function validate(o: PoolOptions): void {
  if (o.connections !== undefined && (!Number.isInteger(o.connections) || o.connections < 1)) {
    throw new UpstreamError('PCS_ERR_UPSTREAM_INVALID_OPTION', `connections must be an integer >= 1, got ${o.connections}`);
  }
  if (o.keepAliveTimeoutMs !== undefined) checkNumber('keepAliveTimeoutMs', o.keepAliveTimeoutMs, 1);
  if (o.keepAliveMaxTimeoutMs !== undefined) checkNumber('keepAliveMaxTimeoutMs', o.keepAliveMaxTimeoutMs, 1);
  if (o.connectTimeoutMs !== undefined) checkNumber('connectTimeoutMs', o.connectTimeoutMs, 1);
  if (o.pipelining !== undefined) checkNumber('pipelining', o.pipelining, 1, 100);
  if (o.headersTimeoutMs !== undefined) checkNumber('headersTimeoutMs', o.headersTimeoutMs, 0);
  if (o.bodyTimeoutMs !== undefined) checkNumber('bodyTimeoutMs', o.bodyTimeoutMs, 0);
  if (o.maxRequestsPerConnection !== undefined) checkNumber('maxRequestsPerConnection', o.maxRequestsPerConnection, 0);
}

export class PoolRegistry {
  /** options key -> endpoint id -> pool */
  private readonly byOptions = new Map<string, Map<string, Entry>>();
  private readonly keyCache = new WeakMap<PoolOptions, string>();
  private readonly closing = new Set<Promise<void>>();
  private closed = false;

  /** The identity of the pool for an endpoint and options (what retain() takes). */
  keyFor(endpoint: Endpoint, options: PoolOptions = DEFAULTS): string {
    return `${this.optionsKeyOf(options)}|${endpoint.id}`;
  }

  /**
   * The pool for this endpoint and transport options, created on first use. Options objects are
   * digested once (WeakMap), so pass the same object per Backend, not a fresh literal per request.
   */
  getPool(endpoint: Endpoint, options: PoolOptions = DEFAULTS): Pool {
    if (this.closed) throw new UpstreamError('PCS_ERR_UPSTREAM_POOL_CLOSED', 'pool registry is closed');
    const ok = this.optionsKeyOf(options);
    let byEndpoint = this.byOptions.get(ok);
    if (byEndpoint === undefined) {
      byEndpoint = new Map();
      this.byOptions.set(ok, byEndpoint);
    }
    const entry = byEndpoint.get(endpoint.id);
    if (entry !== undefined) return entry.pool;
    const pool = this.create(endpoint, options);
    byEndpoint.set(endpoint.id, { key: `${ok}|${endpoint.id}`, pool });
    return pool;
  }

  /** Keys of the open pools. */
  keys(): string[] {
    const out: string[] = [];
    for (const m of this.byOptions.values()) for (const e of m.values()) out.push(e.key);
    return out;
  }

  get size(): number {
    let n = 0;
    for (const m of this.byOptions.values()) n += m.size;
    return n;
  }

  /**
   * Closes every pool whose key is not listed. Requests in flight on those pools finish first
   * (undici Pool.close); the promise resolves when they have. New getPool calls for a dropped key
   * create a fresh pool.
   */
  async retain(keys: Iterable<string>): Promise<void> {
    const keep = new Set(keys);
    const closing: Promise<void>[] = [];
    for (const [ok, m] of this.byOptions) {
      for (const [id, e] of m) {
        if (keep.has(e.key)) continue;
        m.delete(id);
        closing.push(this.closePool(e.pool));
      }
      if (m.size === 0) this.byOptions.delete(ok);
    }
    await Promise.all(closing);
  }

  /** Closes every pool (gracefully) and refuses new ones. */
  async close(): Promise<void> {
    this.closed = true;
    await this.retain([]);
    await Promise.all(this.closing);
  }

  /** Aggregate undici stats per pool key, for metrics. */
  stats(): Map<string, { connected: number; free: number; pending: number; queued: number; running: number; size: number }> {
    const out = new Map<string, { connected: number; free: number; pending: number; queued: number; running: number; size: number }>();
    for (const m of this.byOptions.values()) {
      for (const e of m.values()) {
        const s = e.pool.stats;
        out.set(e.key, { connected: s.connected, free: s.free, pending: s.pending, queued: s.queued, running: s.running, size: s.size });
      }
    }
    return out;
  }

  private optionsKeyOf(options: PoolOptions): string {
    let k = this.keyCache.get(options);
    if (k === undefined) {
      validate(options);
      k = optionsKey(options);
      this.keyCache.set(options, k);
    }
    return k;
  }

  private closePool(pool: Pool): Promise<void> {
    const p = pool.close().catch(() => pool.destroy().catch(() => {}));
    this.closing.add(p);
    return p.finally(() => this.closing.delete(p));
  }

  private create(e: Endpoint, o: PoolOptions): Pool {
    const tls = o.tls;
    const tlsOptions = tls && tlsConnectOptions(tls, e.address);
    const connect: Record<string, unknown> = { timeout: o.connectTimeoutMs ?? 5000, keepAlive: true, keepAliveInitialDelay: 60_000, ...tlsOptions };
    const P = tlsOptions?.servername !== undefined ? fixedServername(tlsOptions.servername) : Pool;
    return new P(`${tls ? 'https' : 'http'}://${hostPort(e)}`, {
      connections: o.connections ?? 256,
      keepAliveTimeout: o.keepAliveTimeoutMs ?? 4000,
      keepAliveMaxTimeout: o.keepAliveMaxTimeoutMs ?? 600_000,
      pipelining: o.h2c ? 100 : (o.pipelining ?? 1),
      headersTimeout: o.headersTimeoutMs ?? 300_000,
      bodyTimeout: o.bodyTimeoutMs ?? 300_000,
      maxRequestsPerClient: o.maxRequestsPerConnection || undefined,
      allowH2: (o.allowH2 ?? false) || o.h2c === true,
      // h2c: HTTP/2 with prior knowledge; requests are multiplexed as streams (pipelining is the
      // per-connection stream limit undici dispatches up to).
      connect: o.h2c ? { ...connect, useH2c: true } : connect,
    });
  }
}

/**
 * undici takes the SNI of a TLS connection from each request's Host header unless the request
 * names a `servername`, and drops a connection when the next request's differs. Upstream TLS must
 * send (and verify) the configured name whatever the client's Host is, so every request through
 * this pool names it.
 */
function fixedServername(servername: string): typeof Pool {
  return class TlsPool extends Pool {
    override dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
      return super.dispatch((opts as { servername?: string }).servername === servername ? opts : { ...opts, servername } as Dispatcher.DispatchOptions, handler);
    }
  };
}
