// The gateway process: owns the Runtime holder, the listening sockets and the long-lived pools,
// and applies new configs the way Caddy does: build and validate the new config completely, start
// what it needs (new sockets), swap it in with one assignment, then stop what the old one had and
// the new one does not. If anything fails before the swap, the old config keeps serving.
import fs from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import path from 'node:path';
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { buildConfig, compileRuntime, type BuildResult } from '../compiler/compile.ts';
import { formatDiagnostic } from '../config/diagnostics.ts';
import { createHttpHandler, createUpgradeHandler, type PoolProvider } from '../dataplane/http-handler.ts';
import { PROBLEMS, problemBody } from '../dataplane/problem.ts';
import { requestIdFor } from '../dataplane/context.ts';
import type { Metrics } from '../observability/metrics.ts';
import { RuntimeHolder, type Runtime } from './runtime.ts';
import { WafCache } from '../compiler/waf.ts';
import { TLS_DEFAULTS } from '../compiler/compile.ts';
import { CircuitBreakerRegistry, HealthRegistry, PoolRegistry, healthKey } from '../upstream/index.ts';
import { acceptPassthrough, registerPassthroughMetrics } from '../tls/passthrough.ts';
import { replayStream } from './replay-stream.ts';
import { CertificateService } from '../certs/service.ts';
import { withAcmeHttp01 } from '../certs/http01.ts';
import { ACME_TLS_ALPN_PROTOCOL } from '../pki/acme.ts';
import { H1Server } from '../dataplane/h1/server.ts';

/**
 * The HTTP/1.1 server of cleartext listeners: 'fast' (src/dataplane/h1, the default) or 'node'
 * (node:http, as before it existed): `PORTCULLIS_HTTP1=node` is the escape hatch.
 */
export function http1Implementation(env: NodeJS.ProcessEnv = process.env): 'fast' | 'node' {
  const v = env.PORTCULLIS_HTTP1;
  if (v === undefined || v === '' || v === 'fast') return 'fast';
  if (v === 'node') return 'node';
  throw new Error(`PORTCULLIS_HTTP1=${v}: expected "fast" (the default) or "node"`);
}

/** The HTTP/1.1 settings of cleartext listeners, the same for node:http and the fast server. */
const H1_SETTINGS = {
  requireHostHeader: true,
  headersTimeout: 30_000,
  requestTimeout: 300_000,
  keepAliveTimeout: 65_000,
  maxHeaderSize: 32 * 1024,
} as const;

export interface ReloadRecord {
  readonly result: 'success' | 'failure' | 'unchanged';
  readonly at: string;
  readonly trigger: string;
  readonly version?: string;
  readonly errors: readonly string[];
  readonly durationMs: number;
}

export interface GatewayOptions {
  readonly configPath: string;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Long-lived state shared across configs; created by the gateway when not given. */
  readonly pools?: PoolRegistry;
  readonly health?: HealthRegistry;
  readonly breakers?: CircuitBreakerRegistry;
  /** HMAC key for session-persistence tokens (see admin/server.ts ensureSecretFile). */
  readonly sessionKey?: Uint8Array;
  /**
   * 48-byte TLS session ticket keys, the same in every worker so a resumed session works on any;
   * replaced by setTicketKeys() when they rotate (src/runtime/ticket-keys.ts).
   */
  readonly ticketKeys?: Buffer;
  readonly accessLog?: boolean;
  /** Serve the partial config a Gateway API controller would (skip invalid parts) instead of refusing it. */
  readonly allowPartial?: boolean;
  readonly watch?: boolean;
  /**
   * false: build, validate and hold the Runtime without opening sockets (the primary process of a
   * multi-worker gateway, which serves the admin API and tells workers when to reload).
   */
  readonly listen?: boolean;
  /** Open listening sockets with SO_REUSEPORT, so several worker processes share a port. */
  readonly reusePort?: boolean;
  /** Keys and issued certificates of Certificate resources (src/certs); without it they stay pending. */
  readonly stateDir?: string;
  /** 'load': read certificates another process issues (multi-worker workers); default 'manage'. */
  readonly certificates?: 'manage' | 'load';
}

export class ReloadError extends Error {
  readonly code = 'PCS_ERR_RELOAD';
  readonly details: readonly string[];
  constructor(message: string, details: readonly string[]) { super(message); this.name = 'ReloadError'; this.details = details; }
}

export class Gateway extends EventEmitter {
  readonly holder = new RuntimeHolder();
  readonly opts: GatewayOptions;
  private readonly servers = new Map<string, PortServer>();
  private lastBuild: BuildResult | null = null;
  lastReload: ReloadRecord | null = null;
  private reloading: Promise<ReloadRecord> | null = null;
  private pendingTrigger: string | null = null;
  private debounce: NodeJS.Timeout | null = null;
  private stopping = false;

  readonly pools: PoolRegistry;
  readonly health: HealthRegistry;
  readonly breakers: CircuitBreakerRegistry;
  readonly wafCache = new WafCache();
  /** Issues and renews Certificate resources; outlives reloads (src/certs/service.ts). */
  readonly certs: CertificateService;
  private readonly poolProvider: PoolProvider;
  /** Upgraded connections (WebSocket tunnels): they outlive reloads; a drain closes them at its deadline. */
  readonly tunnels = new Set<import('node:stream').Duplex>();

  constructor(opts: GatewayOptions) {
    super();
    this.opts = opts;
    this.#ticketKeys = opts.ticketKeys;
    this.pools = opts.pools ?? new PoolRegistry();
    this.health = opts.health ?? new HealthRegistry();
    this.breakers = opts.breakers ?? new CircuitBreakerRegistry();
    const pools = this.pools;
    this.poolProvider = { get: (ep, backend, grpc) => pools.getPool(ep, grpc ? backend.grpcPoolOptions : backend.poolOptions) };
    this.certs = new CertificateService({ stateDir: opts.stateDir, logger: opts.logger, metrics: opts.metrics, mode: opts.certificates, shareChallenges: opts.listen === false, paused: opts.listen === false, onChange: () => { if (!this.stopping) void this.reload('certificate'); } });
    this.health.onChange((e) => opts.logger.warn({ backend: e.backend, endpoint: e.endpointId, healthy: e.healthy, source: e.source, reason: e.reason }, 'endpoint health changed'));
  }

  #ticketKeys: Buffer | undefined;

  /** Rotate the TLS session ticket keys of every TLS server now and for servers opened later. */
  setTicketKeys(keys: Buffer): void {
    this.#ticketKeys = keys;
    for (const s of this.servers.values()) s.tls?.setTicketKeys(keys);
  }

  get runtime(): Runtime | null { return this.holder.current; }
  get status(): BuildResult['status'] { return this.lastBuild?.status ?? {}; }
  /** `address:port` of every open data-plane socket, with the port actually bound. */
  get boundPorts(): { key: string; port: number }[] {
    return [...this.servers.entries()].map(([key, s]) => ({ key, port: (s.listener.address() as { port: number } | null)?.port ?? 0 }));
  }

  /** First load: a config with errors is fatal here (nothing to fall back to). */
  async start(): Promise<void> {
    const rec = await this.reload('startup');
    if (rec.result === 'failure') throw new ReloadError('the configuration is not valid', rec.errors);
    if (this.opts.watch !== false) this.watch();
  }

  /** Reload from disk. Serialised: a reload asked for while one runs happens right after it. */
  reload(trigger: string): Promise<ReloadRecord> {
    if (this.reloading) {
      this.pendingTrigger = trigger;
      return this.reloading;
    }
    this.reloading = this.doReload(trigger).finally(() => {
      this.reloading = null;
      if (this.pendingTrigger && !this.stopping) {
        const t = this.pendingTrigger;
        this.pendingTrigger = null;
        void this.reload(t);
      }
    });
    return this.reloading;
  }

  private async doReload(trigger: string): Promise<ReloadRecord> {
    const t0 = performance.now();
    const { logger, metrics } = this.opts;
    const ctx = { health: this.health, breakers: this.breakers, sessionKey: this.opts.sessionKey, wafCache: this.wafCache, issued: this.certs };
    let build = buildConfig(this.opts.configPath, ctx);
    // Certificates stored by an earlier run are served at once: load them, then build again.
    if (await this.certs.prepare(build.ir?.certificates)) build = buildConfig(this.opts.configPath, ctx);
    const fatal = this.opts.allowPartial ? build.errors.filter((d) => d.phase !== 'semantic') : build.errors;
    let record: ReloadRecord;
    const base = { at: new Date().toISOString(), trigger };
    if (fatal.length || (!build.runtime && !this.opts.allowPartial)) {
      const errors = (fatal.length ? fatal : build.errors).map(formatDiagnostic);
      record = { ...base, result: 'failure', errors, durationMs: performance.now() - t0 };
      for (const e of errors) logger.error({ trigger, diagnostic: e }, 'config error');
      logger.error({ trigger, errors: errors.length, serving: this.holder.current?.version ?? null }, 'config reload refused; the previous config keeps serving');
    } else {
      const runtime = build.runtime ?? compileRuntime(build.ir!, build.status, build.resources, build.diagnostics, build.load.files.map((f) => f.file), ctx);
      if (this.holder.current && this.holder.current.version === runtime.version) {
        record = { ...base, result: 'unchanged', version: runtime.version, errors: [], durationMs: performance.now() - t0 };
        this.lastBuild = build;
        this.certs.sync(build.ir?.certificates);
      } else {
        try {
          await this.apply(runtime);
          this.lastBuild = build;
          this.certs.sync(build.ir?.certificates); // after apply: HTTP-01 needs the listeners up
          record = { ...base, result: 'success', version: runtime.version, errors: [], durationMs: performance.now() - t0 };
          for (const w of runtime.warnings) logger.warn({ diagnostic: formatDiagnostic(w) }, 'config warning');
          logger.info({ trigger, version: runtime.version, listeners: this.boundPorts.map((p) => p.key), http1: http1Implementation(), durationMs: Math.round(record.durationMs) }, 'config applied');
        } catch (err) {
          const e = err as ReloadError;
          record = { ...base, result: 'failure', errors: e.details ?? [e.message], durationMs: performance.now() - t0 };
          logger.error({ trigger, errors: record.errors }, 'config reload failed while starting listeners; the previous config keeps serving');
        }
      }
    }
    metrics.configReloads.inc({ result: record.result });
    metrics.configLastReloadSuccess.set(record.result === 'failure' ? 0 : 1);
    if (this.holder.current) metrics.setConfigVersion(this.holder.current.version);
    this.lastReload = record;
    this.emit('reload', record);
    return record;
  }

  /** Start new sockets, swap, stop old sockets. */
  private async apply(next: Runtime): Promise<void> {
    if (this.opts.listen === false) { this.holder.current = next; return; }
    const opened: string[] = [];
    try {
      for (const [key, port] of next.ports) {
        if (this.servers.has(key)) continue;
        // Same port, other bind address (e.g. 0.0.0.0 -> 127.0.0.1): free the old socket first.
        for (const [oldKey, s] of this.servers) {
          const oldPort = Number(oldKey.slice(oldKey.lastIndexOf(':') + 1));
          if (oldPort === port.port && !next.ports.has(oldKey)) { await closeServer(s); this.servers.delete(oldKey); }
        }
        // TLS (passthrough only) ports get the HTTPS server too: one socket whether or not HTTPS listeners sit beside them.
        const server = port.protocol === 'HTTPS' || port.protocol === 'TLS' ? this.createTlsServer(key, port) : this.createServer(key);
        await listen(server, port.address, port.port, this.opts.reusePort === true);
        this.servers.set(key, server);
        opened.push(key);
      }
    } catch (err) {
      for (const key of opened) { const s = this.servers.get(key)!; this.servers.delete(key); await closeServer(s); }
      const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
      throw new ReloadError(`cannot listen: ${e.message}`, [`listener ${e.address ?? ''}:${e.port ?? ''}: ${e.code === 'EADDRINUSE' ? 'address already in use (another process, or another listener, holds this port)' : e.code === 'EACCES' ? 'permission denied (ports below 1024 need privileges)' : e.message}`]);
    }
    this.holder.current = next; // the swap
    // HTTPS sockets that stay: the no-SNI default certificate may have changed (SNI picks from the
    // new Runtime at each handshake anyway). Ticket keys are passed again so sessions resume.
    for (const [key, s] of this.servers) {
      const p = next.ports.get(key);
      if (p?.defaultTls && s.tls) s.tls.setSecureContext({ ...TLS_DEFAULTS, cert: [...p.defaultTls.cert], key: [...p.defaultTls.key], ...(p.clientAuth ? { ca: p.clientAuth.ca } : {}), ticketKeys: this.#ticketKeys ?? s.tls.getTicketKeys() });
    }
    for (const [key, s] of this.servers) {
      if (next.ports.has(key)) continue;
      this.servers.delete(key);
      void closeServer(s);
    }
    // Long-lived state follows the new config: configure what it uses, drop what it does not.
    const poolKeys: string[] = [];
    const healthKeys: string[] = [];
    for (const b of next.backends.values()) {
      const bh = this.health.backend(b.id, b.healthOptions);
      bh.setEndpoints(b.endpoints);
      bh.configureActive(b.activeCheck);
      this.breakers.get(b.id, b.breakerLimits);
      for (const e of b.endpoints) { poolKeys.push(this.pools.keyFor(e, b.poolOptions), this.pools.keyFor(e, b.grpcPoolOptions)); healthKeys.push(healthKey(b.id, e.id)); }
    }
    this.pools.retain(poolKeys);
    this.health.retain(healthKeys);
    this.breakers.retain(next.backends.keys());
    this.wafCache.retain(next.wafs.map((w) => w.waf));
  }

  /**
   * HTTPS: one TLS server speaks HTTP/2 and HTTP/1.1 (ALPN h2, http/1.1). The certificate is
   * chosen per handshake from the current Runtime by SNI, so a reload rotates certificates without
   * touching open connections.
   */
  private createTlsServer(key: string, port: import('./runtime.ts').PortRuntime): PortServer {
    const deps = this.handlerDeps('https');
    const handler = createHttpHandler(deps, key);
    const holder = this.holder;
    const alpn01 = this.certs.tlsAlpn01;
    const upgrade = createUpgradeHandler(deps, key, this.tunnels);
    // HTTP/1.1 over TLS (ALPN http/1.1, or no ALPN): the fast server of cleartext listeners
    // (src/dataplane/h1), with the same settings and the same answer to a bad request; node:http2
    // only speaks h2 then. With PORTCULLIS_HTTP1=node, node:http2's HTTP/1.1 fallback as before.
    const fastH1 = http1Implementation() === 'fast' ? new H1Server(H1_SETTINGS, handler, upgrade, this.badRequestHandler()) : null;
    const tls = http2.createSecureServer({
      ...TLS_DEFAULTS,
      allowHTTP1: fastH1 === null,
      // h2 then http/1.1, as ALPNProtocols would (same refusal when nothing matches), plus ACME
      // TLS-ALPN-01: acme-tls/1 for a name with a pending challenge (src/certs).
      ALPNCallback: alpn01.alpnCallback(['h2', 'http/1.1']),
      ...(port.defaultTls ? { cert: [...port.defaultTls.cert], key: [...port.defaultTls.key] } : {}),
      // Client mTLS (Gateway API frontend validation): AllowValidOnly fails the handshake without
      // a certificate from the configured CAs; AllowInsecureFallback asks but lets it through.
      ...(port.clientAuth ? { requestCert: true, rejectUnauthorized: port.clientAuth.mode === 'AllowValidOnly', ca: port.clientAuth.ca } : {}),
      ...(this.#ticketKeys ? { ticketKeys: this.#ticketKeys } : {}),
      settings: { maxConcurrentStreams: 256 },
      SNICallback: alpn01.sniCallback((servername, cb) => {
        const p = holder.current?.ports.get(key);
        const l = p?.listeners.lookup(servername.toLowerCase());
        // The default listener's own certificates are the server context (undefined = use it):
        // that keeps RSA/ECDSA selection working for it (see orderedCerts in compile.ts).
        cb(null, !l?.tls || l.tls === p?.defaultTls?.context ? undefined : l.tls);
      }, { alpnAware: true }),
    });
    // A TLS-ALPN-01 validation ends with the handshake: close it before HTTP sees it.
    tls.prependListener('secureConnection', (socket: import('node:tls').TLSSocket) => { if (socket.alpnProtocol === ACME_TLS_ALPN_PROTOCOL) socket.destroy(); });
    tls.on('request', handler); // Http2ServerRequest/Response satisfy HttpRequest/HttpResponse (src/dataplane/http-types.ts)
    const sessions = new Set<http2.Http2Session>();
    tls.on('session', (sess) => { sessions.add(sess); sess.once('close', () => sessions.delete(sess)); });
    if (fastH1) tls.on('unknownProtocol', (socket: import('node:tls').TLSSocket) => fastH1.connection(socket));
    else tls.on('upgrade', upgrade);
    tls.on('tlsClientError', (err: NodeJS.ErrnoException, socket) => {
      this.opts.metrics.tlsHandshakeErrors.inc();
      this.opts.logger.warn({ code: err.code, reason: err.message, client: socket.remoteAddress }, 'TLS handshake failed');
    });
    // The accepting socket hands TCP connections to the TLS server (one place owns listen/close).
    // TLS Passthrough listeners on the port (src/tls): the ClientHello's SNI decides between them
    // and this TLS server, per connection, from the current Runtime.
    if (port.passthrough) registerPassthroughMetrics(this.opts.metrics);
    // ticketKeys is read per connection: the keys rotate (setTicketKeys).
    const currentTicketKeys = () => this.#ticketKeys;
    const pdeps = { holder, logger: this.opts.logger, metrics: this.opts.metrics, connections: this.tunnels, accessLog: this.opts.accessLog ?? true, get ticketKeys() { return currentTicketKeys(); } };
    const listener = net.createServer({ noDelay: true }, (socket) => {
      if (holder.current?.ports.get(key)?.passthrough) acceptPassthrough(pdeps, key, socket, (s, first) => tls.emit('connection', replayStream(s, first)));
      else tls.emit('connection', socket);
    });
    return { listener, h1: fastH1 ?? (tls as unknown as H1Control), h1Own: fastH1 !== null, h2: tls, sessions, tls };
  }

  /** What a port's request and upgrade handlers read: the Runtime holder, the pools, logs and metrics. */
  private handlerDeps(scheme: 'http' | 'https') {
    return { holder: this.holder, pools: this.poolProvider, logger: this.opts.logger, metrics: this.opts.metrics, accessLog: this.opts.accessLog ?? true, scheme };
  }

  /** The answer to a request the HTTP/1.1 parser refuses: 400 problem+json, a log line and a metric. */
  private badRequestHandler(): (err: NodeJS.ErrnoException, socket: import('node:stream').Duplex) => void {
    return (err, socket) => {
      // A client that hangs up (ECONNRESET, EPIPE) sent nothing wrong: just let the socket go.
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') { socket.destroy(); return; }
      this.opts.metrics.badRequests.inc();
      this.opts.logger.warn({ code: err.code, reason: err.message, client: (socket as net.Socket).remoteAddress }, 'bad request refused');
      if (socket.writable) {
        const body = problemBody(PROBLEMS.badRequest, requestIdFor(undefined), 'the request could not be parsed');
        socket.end(`HTTP/1.1 400 Bad Request\r\nContent-Type: application/problem+json\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      }
      else socket.destroy();
    };
  }

  private createServer(key: string): PortServer {
    const deps = this.handlerDeps('http');
    const handler = withAcmeHttp01(this.certs, createHttpHandler(deps, key));
    const upgrade = createUpgradeHandler(deps, key, this.tunnels);
    const clientError = this.badRequestHandler();
    // HTTP/1.1: the fast server (src/dataplane/h1) or node:http (PORTCULLIS_HTTP1=node), with the
    // same settings, the same handlers and the same answer to a bad request.
    let h1: H1Control;
    let h1Connection: (socket: net.Socket, first: Buffer) => void;
    if (http1Implementation() === 'fast') {
      // Strict llhttp (no lenient flag), as node:http without insecureHTTPParser.
      const fast = new H1Server(H1_SETTINGS, handler, upgrade, clientError);
      h1 = fast;
      h1Connection = (socket, first) => fast.connection(socket, first);
    } else {
      const nodeH1 = http.createServer({
        // Strict parsing: Node's llhttp refuses conflicting Content-Length/Transfer-Encoding,
        // obs-fold and bad header bytes with a 400 unless insecureHTTPParser is set. Never set it.
        insecureHTTPParser: false,
        ...H1_SETTINGS,
      }, handler);
      // nodeH1 never listens itself (the accepting socket below hands it connections), so start the
      // connection tracking that listen() would: it enforces headersTimeout/requestTimeout (slowloris)
      // and lets close() end idle keep-alive connections at once.
      nodeH1.emit('listening');
      nodeH1.on('upgrade', upgrade);
      nodeH1.on('clientError', clientError);
      h1 = nodeH1;
      h1Connection = (socket, first) => {
        socket.unshift(first);
        nodeH1.emit('connection', socket);
        socket.resume();
      };
    }
    // HTTP/2 over cleartext with prior knowledge (h2c), on the same port as HTTP/1.1: the first
    // bytes of a connection tell them apart (the HTTP/2 preface starts with "PRI * HTTP/2.0").
    const h2 = http2.createServer({ maxSessionMemory: 32, settings: { maxConcurrentStreams: 256 } });
    h2.on('request', handler);
    const sessions = new Set<http2.Http2Session>();
    h2.on('session', (sess) => { sessions.add(sess); sess.once('close', () => sessions.delete(sess)); });
    const listener = net.createServer({ noDelay: true }, (socket) => {
      socket.on('error', () => socket.destroy());
      socket.once('data', (first: Buffer) => {
        socket.pause();
        const isH2 = first.length >= 3 && first[0] === 0x50 && first[1] === 0x52 && first[2] === 0x49; // "PRI"
        if (!isH2) {
          h1Connection(socket, first);
        } else {
          // node:http2 reads from the socket's native handle, so bytes already read must be fed
          // through a JS stream that replays them (http2 wraps it in its JSStreamSocket).
          h2.emit('connection', replayStream(socket, first));
        }
      });
    });
    return { listener, h1, h1Own: true, h2, sessions };
  }

  private watchers: fs.FSWatcher[] = [];

  /**
   * Watch the config for changes. Directories are watched one by one, not recursively (Node's
   * recursive mode on Linux misses files renamed into place, which is how editors save), and a
   * single file is watched through its directory for the same reason.
   */
  private watch(): void {
    const target = this.opts.configPath;
    const isDir = fs.statSync(target).isDirectory();
    const base = path.basename(target);
    const onEvent = (name: string | null) => {
      if (!isDir && name !== base) return;
      if (isDir && name && !/\.ya?ml$/i.test(name) && !fs.existsSync(path.join(target, name))) return;
      if (this.debounce) clearTimeout(this.debounce);
      this.debounce = setTimeout(() => { this.rewatch(); void this.reload('file-change'); }, 100);
    };
    this.watchOne = (dir: string) => {
      const w = fs.watch(dir, (_event, name) => onEvent(name === null ? null : String(name)));
      w.on('error', (err) => this.opts.logger.error({ err, dir }, 'config watcher failed; reload with SIGHUP'));
      this.watchers.push(w);
      this.watched.add(dir);
    };
    if (!isDir) { this.watchOne(path.dirname(target)); return; }
    this.rewatch();
  }

  private watched = new Set<string>();
  private watchOne: ((dir: string) => void) | null = null;

  /** Watch directories created since the last look (a new sub-folder of config files). */
  private rewatch(): void {
    const target = this.opts.configPath;
    if (!this.watchOne || !fs.existsSync(target) || !fs.statSync(target).isDirectory()) return;
    const walk = (dir: string) => {
      if (!this.watched.has(dir)) this.watchOne!(dir);
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) if (e.isDirectory() && !e.name.startsWith('.')) walk(path.join(dir, e.name));
    };
    try { walk(target); } catch {}
  }

  /** Stop accepting, let in-flight requests finish up to `drainMs`, then close what is left. */
  async stop(drainMs = 10_000): Promise<void> {
    this.stopping = true;
    this.certs.stop();
    for (const w of this.watchers) w.close();
    if (this.debounce) clearTimeout(this.debounce);
    const servers = [...this.servers.values()];
    this.servers.clear();
    await Promise.race([
      Promise.all(servers.map(closeServer)),
      new Promise((r) => setTimeout(r, drainMs).unref()),
    ]);
    // With PORTCULLIS_HTTP1=node an HTTPS port's h1 is the HTTP/2 secure server, which has no
    // closeAllConnections: calling it threw, and the tunnels (WebSockets, TLS passthrough) below
    // were never closed (h1Own).
    for (const s of servers) { if (s.h1Own) s.h1.closeAllConnections(); for (const sess of s.sessions) sess.destroy(); }
    for (const t of this.tunnels) t.destroy();
    await this.pools.close();
    this.health.close();
  }
}

/** What the gateway does with an HTTP/1.1 server: node:http's Server or the fast H1Server. */
interface H1Control { close(cb?: () => void): unknown; closeIdleConnections(): void; closeAllConnections(): void }

/** One listening port: the accepting socket and the HTTP/1.1 and HTTP/2 servers it feeds. */
interface PortServer {
  listener: net.Server;
  h1: H1Control;
  /** h1 is an HTTP/1.1 server of its own (false: it is the TLS server's HTTP/1.1 fallback, which has no close/closeAllConnections of its own) */
  h1Own: boolean;
  h2: http2.Http2Server | http2.Http2SecureServer;
  sessions: Set<http2.Http2Session>;
  tls?: http2.Http2SecureServer;
}

function listen(s: PortServer, host: string, port: number, reusePort: boolean): Promise<void> {
  const server = s.listener;
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => { server.off('listening', onListening); reject(Object.assign(err, { address: host, port })); };
    const onListening = () => { server.off('error', onError); resolve(); };
    server.once('error', onError);
    server.once('listening', onListening);
    // exclusive: each process binds its own socket (no cluster handle sharing through the
    // primary); with reusePort the kernel spreads connections across the workers' sockets.
    server.listen({ host, port, exclusive: true, reusePort });
  });
}

/** Stop accepting; idle keep-alive connections close now, busy ones after their request. */
function closeServer(s: PortServer): Promise<void> {
  return new Promise((resolve) => {
    s.listener.close(() => resolve());
    // Stops h1's connection tracking and closes its idle keep-alive connections; busy ones close
    // after their response (Node answers with Connection: close once the server is closing).
    if (s.h1Own) s.h1.close(() => {});
    s.h1.closeIdleConnections();
    for (const sess of s.sessions) sess.close(); // GOAWAY: streams in flight finish
  });
}
