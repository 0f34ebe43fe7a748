// TLS Passthrough: read the ClientHello from a new connection (without terminating TLS), pick the
// TLSRoute by SNI, pick an endpoint of its backend (weights, health, load balancing from
// src/upstream), connect, send the bytes already read, then pipe both ways with backpressure
// until either side is done. One log line and one metric per connection. TLS Terminate listeners
// (src/tls/terminate.ts) share all of it: the connection is routed by its ClientHello here, the
// handshake is completed with the listener's certificates, then the decrypted stream is relayed
// by the same forward/splice code (to the backend over TCP, or TLS with a BackendTLSPolicy).
//
// Decisions (see docs/tls-passthrough.md):
// - No SNI, an unknown SNI, or a route whose backends cannot be used: the connection is answered
//   with a fatal TLS alert (unrecognized_name, or internal_error when the route exists but has
//   nothing to send to) and closed. A client then reports a clear error instead of "socket hang
//   up"; the alert says nothing an attacker cannot learn by trying names. Not-TLS input is just
//   closed, a malformed hello gets decode_error.
// - A connection stays on the Runtime it started with: reloads do not cut it; a drain (SIGTERM)
//   waits for it up to the drain deadline, then closes it (the gateway's `tunnels` set).
// - Connect failures are retried on another endpoint of the same backend (no byte has reached
//   the backend yet, so this is always safe), at most 3 attempts, and count as passive health
//   failures, like an HTTP connect failure.
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { Counter, Gauge } from 'prom-client';
import type { Metrics } from '../observability/metrics.ts';
import type { EndpointRuntime, RuntimeHolder } from '../runtime/runtime.ts';
import { readClientHello, type HelloResult } from './client-hello.ts';
import { pickChoice, routeBySni, type TlsRouteRuntime } from './compile.ts';
import { terminateTls, upstreamTlsOptions } from './terminate.ts';

export interface PassthroughDeps {
  readonly holder: RuntimeHolder;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Long-lived connections of the gateway: a drain closes what is left at its deadline. */
  readonly connections: Set<Duplex>;
  /** false (--no-access-log): no line per forwarded connection; refusals are still logged. */
  readonly accessLog?: boolean;
  /** 48-byte session ticket keys shared by workers (TLS Terminate listeners, as HTTPS ones). */
  readonly ticketKeys?: Buffer;
}

/** TLS alert descriptions (RFC 8446 §6). */
const ALERT = { decode_error: 50, internal_error: 80, unrecognized_name: 112 } as const;
const MAX_CONNECT_ATTEMPTS = 3;

interface TcpMetrics { connections: Counter<'listener' | 'route' | 'result'>; active: Gauge<'listener'>; bytes: Counter<'listener' | 'direction'> }
const metricsByRegistry = new WeakMap<Metrics, TcpMetrics>();
function tcpMetrics(m: Metrics): TcpMetrics {
  let t = metricsByRegistry.get(m);
  if (!t) {
    t = {
      connections: new Counter({ name: 'portcullis_tcp_connections_total', help: 'TLS passthrough and TLS terminate connections by listener, route and result (forwarded, no_route, no_sni, not_tls, malformed, too_large, timeout, truncated, handshake_failed, no_endpoint, connect_failed, overflow).', labelNames: ['listener', 'route', 'result'] as const, registers: [m.registry] }),
      active: new Gauge({ name: 'portcullis_tcp_active_connections', help: 'TLS passthrough and TLS terminate connections open to a backend now.', labelNames: ['listener'] as const, registers: [m.registry] }),
      bytes: new Counter({ name: 'portcullis_tcp_bytes_total', help: 'Bytes relayed by TLS passthrough and TLS terminate connections to backends (direction in = client to backend; after decryption for terminate).', labelNames: ['listener', 'direction'] as const, registers: [m.registry] }),
    };
    metricsByRegistry.set(m, t);
  }
  return t;
}

/** Create the metrics now so they show up (at zero) before the first connection. */
export function registerPassthroughMetrics(m: Metrics): void { tcpMetrics(m); }

/**
 * Handle one accepted connection on a port with passthrough listeners. `terminate` receives the
 * connection (and the bytes already read) when the SNI belongs to a terminating HTTPS listener of
 * the same port.
 */
export function acceptPassthrough(deps: PassthroughDeps, portKey: string, client: net.Socket, terminate?: (socket: net.Socket, buffered: Buffer) => void): void {
  const started = performance.now();
  const pt = deps.holder.current?.ports.get(portKey)?.passthrough;
  if (!pt) { client.destroy(); return; }
  client.on('error', () => {}); // reported through 'close' and the result below
  deps.connections.add(client);
  client.once('close', () => deps.connections.delete(client));
  void readClientHello(client, { timeoutMs: pt.helloTimeoutMs, maxHelloBytes: pt.maxHelloBytes }).then(({ result, buffered }) => {
    if (client.destroyed) return;
    const m = tcpMetrics(deps.metrics);
    if (result.kind !== 'ok') {
      refuse(deps, m, client, started, { listener: '', route: '', result: result.kind.replace('-', '_') }, result, result.kind === 'malformed' || result.kind === 'too-large' ? ALERT.decode_error : undefined);
      return;
    }
    const sel = routeBySni(pt, result.sni);
    if (sel.kind === 'terminate') {
      if (!terminate) { client.destroy(); return; }
      deps.connections.delete(client); // the HTTPS server owns it now
      terminate(client, buffered);
      return;
    }
    if (sel.kind === 'no-route') {
      refuse(deps, m, client, started, { listener: sel.listener?.id ?? '', route: '', result: result.sni === undefined ? 'no_sni' : 'no_route' }, result, ALERT.unrecognized_name);
      return;
    }
    const term = sel.listener.terminate;
    if (!term) { forward(deps, m, client, buffered, result, sel.listener.id, sel.route, started); return; }
    // TLS Terminate (src/tls/terminate.ts). An ACME TLS-ALPN-01 validation for one of its names
    // goes to the port's TLS server, which answers challenges (src/certs) for every name.
    if (terminate && result.alpn.includes('acme-tls/1')) {
      deps.connections.delete(client);
      terminate(client, buffered);
      return;
    }
    terminateTls(deps, deps.ticketKeys, client, buffered, term, pt.helloTimeoutMs, ({ socket, error }) => {
      if (!socket) {
        deps.metrics.tlsHandshakeErrors.inc();
        m.connections.inc({ listener: sel.listener.id, route: sel.route.label, result: 'handshake_failed' });
        deps.logger.warn({ result: 'handshake_failed', client: client.remoteAddress, listener: sel.listener.id, route: sel.route.label, sni: result.sni, code: error?.code, reason: error?.message, durationMs: Math.round(performance.now() - started) }, 'tls terminate connection refused');
        client.destroy();
        return;
      }
      deps.connections.add(socket);
      socket.once('close', () => deps.connections.delete(socket));
      // A TLSSocket over a JS stream has no remoteAddress of its own: the TCP peer's is passed on.
      forward(deps, m, socket, Buffer.alloc(0), result, sel.listener.id, sel.route, started, client.remoteAddress);
    });
  });
}

/** A fatal TLS alert in a plaintext record (the handshake never started), then close. After a terminated handshake there is no plaintext record to send: just close. */
function alertAndClose(client: net.Socket, alert: number): void {
  if (client instanceof tls.TLSSocket || !client.writable) { client.destroy(); return; }
  client.end(Buffer.from([21, 3, 3, 0, 2, 2, alert]));
  setTimeout(() => client.destroy(), 1000).unref();
}

function refuse(deps: PassthroughDeps, m: TcpMetrics, client: net.Socket, started: number, labels: { listener: string; route: string; result: string }, hello: HelloResult, alert?: number): void {
  m.connections.inc(labels);
  deps.logger[labels.result === 'truncated' ? 'info' : 'warn']({
    result: labels.result, client: client.remoteAddress, ...(labels.listener ? { listener: labels.listener } : {}), ...(labels.route ? { route: labels.route } : {}),
    ...(hello.kind === 'ok' ? { sni: hello.sni ?? null, alpn: hello.alpn } : { reason: hello.reason }),
    durationMs: Math.round(performance.now() - started),
  }, 'tls passthrough connection refused');
  if (alert !== undefined) alertAndClose(client, alert);
  else client.destroy();
}

function forward(deps: PassthroughDeps, m: TcpMetrics, client: net.Socket, first: Buffer, hello: Extract<HelloResult, { kind: 'ok' }>, listener: string, route: TlsRouteRuntime, started: number, remoteAddress = client.remoteAddress): void {
  const choice = pickChoice(route);
  const backend = choice?.backend;
  const terminated = client instanceof tls.TLSSocket;
  const what = terminated ? 'tls terminate' : 'tls passthrough';
  const base = { listener, route: route.label, sni: hello.sni, alpn: hello.alpn, tlsVersion: terminated ? (client.getProtocol() ?? hello.tlsVersion) : hello.tlsVersion, client: remoteAddress, ...(terminated ? { mode: 'Terminate' } : {}) };
  if (!choice || !backend) {
    m.connections.inc({ listener, route: route.label, result: 'no_endpoint' });
    deps.logger.warn({ ...base, result: 'no_endpoint', reason: 'invalid backendRef' }, `${what} connection refused`);
    alertAndClose(client, ALERT.internal_error);
    return;
  }
  // TLS to the backend (BackendTLSPolicy) only when the gateway terminated the client's TLS:
  // passthrough bytes are already TLS, end to end.
  const upstreamTls = terminated ? backend.poolOptions.tls : undefined;
  const release = backend.breaker.tryAcquire('connection');
  if (typeof release !== 'function') {
    m.connections.inc({ listener, route: route.label, result: 'overflow' });
    deps.logger.warn({ ...base, backend: backend.id, result: 'overflow', reason: release.reason }, `${what} connection refused`);
    client.destroy();
    return;
  }
  const tried = new Set<string>();
  let lastError: string | undefined;
  const connectTimeoutMs = backend.poolOptions.connectTimeoutMs ?? 5000;
  const attempt = (): void => {
    const ep: EndpointRuntime | undefined = backend.pick(remoteAddress, tried.size ? tried : undefined);
    if (!ep || tried.size >= MAX_CONNECT_ATTEMPTS || client.destroyed) {
      release();
      const result = tried.size ? 'connect_failed' : 'no_endpoint';
      m.connections.inc({ listener, route: route.label, result });
      deps.logger.warn({ ...base, backend: backend.id, result, attempts: tried.size, ...(lastError ? { lastError } : {}), durationMs: Math.round(performance.now() - started) }, `${what} connection refused`);
      client.destroy();
      return;
    }
    tried.add(ep.id);
    const tlsOptions = upstreamTlsOptions(upstreamTls, ep.address);
    const upstream: net.Socket = tlsOptions
      // allowHalfOpen is honoured by tls.connect (it builds its TLSSocket with it); @types/node omits it.
      ? tls.connect({ ...tlsOptions, host: ep.address, port: ep.port, allowHalfOpen: true } as tls.ConnectionOptions).setNoDelay(true)
      : net.connect({ host: ep.address, port: ep.port, noDelay: true, allowHalfOpen: true });
    const timer = setTimeout(() => upstream.destroy(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' })), connectTimeoutMs);
    const onConnectError = (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      lastError = err.code ?? err.message; // e.g. a backend certificate refused by the BackendTLSPolicy
      backend.health?.onConnectFailure(ep.id);
      deps.metrics.upstreamErrors.inc({ backend: backend.id, kind: err.code === 'ETIMEDOUT' ? 'timeout' : 'connect' });
      deps.logger.debug({ ...base, endpoint: ep.id, code: err.code }, `${what} connect failed`);
      attempt();
    };
    upstream.once('error', onConnectError);
    upstream.once(tlsOptions ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      upstream.off('error', onConnectError);
      backend.health?.onSuccess(ep.id);
      if (client.destroyed) { upstream.destroy(); release(); return; }
      splice(deps, m, client, upstream, first, { ...base, backend: backend.id, endpoint: ep.id, ...(tlsOptions ? { upstreamTls: true } : {}) }, choice.idleTimeoutMs, started, release);
    });
  };
  attempt();
}

/**
 * Pipe both ways with backpressure (pipe pauses the faster side). Half-close aware: a FIN from one
 * side is passed on and the other direction keeps flowing; each socket closes once both of its
 * directions are done. Errors and the idle timeout close both at once.
 */
function splice(deps: PassthroughDeps, m: TcpMetrics, client: net.Socket, upstream: net.Socket, first: Buffer, info: { listener: string; route: string; backend: string; endpoint: string } & Record<string, unknown>, idleTimeoutMs: number, started: number, release: () => void): void {
  deps.connections.add(upstream);
  m.active.inc({ listener: info.listener });
  // The accepting server may not allow half-open sockets (an HTTPS port's): this one must, or a
  // client's FIN would end the backend's direction before it has answered.
  client.allowHalfOpen = true;
  let ended: string | undefined;
  const closeBoth = (why: string) => { ended ??= why; client.destroy(); upstream.destroy(); };
  upstream.on('error', (e: NodeJS.ErrnoException) => closeBoth(`upstream ${e.code ?? 'error'}`));
  client.on('error', (e: NodeJS.ErrnoException) => closeBoth(`client ${e.code ?? 'error'}`));
  // Activity on either socket is activity on both (every byte is read from one, written to the
  // other), so a timeout on one of them means the connection is idle both ways.
  client.setTimeout(idleTimeoutMs, () => closeBoth('idle timeout'));
  upstream.setTimeout(idleTimeoutMs, () => closeBoth('idle timeout'));
  let closed = 0;
  let grace: NodeJS.Timeout | undefined;
  const onClose = (other: net.Socket) => () => {
    if (++closed === 1) {
      // One side is gone: let the other flush what it has, then close (bounded).
      if (!other.destroyed) { other.end(); grace = setTimeout(() => other.destroy(), 5000); grace.unref(); }
      return;
    }
    if (grace) clearTimeout(grace);
    deps.connections.delete(upstream);
    release();
    m.active.dec({ listener: info.listener });
    const bytesIn = upstream.bytesWritten, bytesOut = client.bytesWritten;
    m.bytes.inc({ listener: info.listener, direction: 'in' }, bytesIn);
    m.bytes.inc({ listener: info.listener, direction: 'out' }, bytesOut);
    m.connections.inc({ listener: info.listener, route: info.route, result: 'forwarded' });
    if (deps.accessLog !== false) deps.logger.info({ ...info, result: 'forwarded', bytesIn, bytesOut, durationMs: Math.round(performance.now() - started), ...(ended ? { closedBy: ended } : {}) }, info.mode === 'Terminate' ? 'tls terminate connection' : 'tls passthrough connection');
  };
  client.once('close', onClose(upstream));
  upstream.once('close', onClose(client));
  upstream.write(first);
  client.pipe(upstream);
  upstream.pipe(client);
}
