/**
 * Active health checking. A Probe checks one endpoint once (HTTP or TCP); an ActiveHealthChecker
 * runs a probe against every endpoint of a set on an interval and applies healthy/unhealthy
 * thresholds, emitting a change event when an endpoint flips. Defaults follow Envoy Gateway's
 * BackendTrafficPolicy healthCheck (interval 3s, timeout 1s, unhealthyThreshold 3,
 * healthyThreshold 1); status ranges default to nginx's "2xx or 3xx".
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { Endpoint } from './types.ts';
import { UpstreamError, checkNumber } from './errors.ts';
import type { UpstreamTlsOptions } from './pool.ts';
import { tlsConnectOptions } from './tls.ts';

export interface ProbeResult {
  readonly ok: boolean;
  /** Short, log-safe explanation ("status 503", "connect ECONNREFUSED", "timeout after 1000ms"). */
  readonly reason: string;
}

/** One check of one endpoint. Must settle (never reject) and stop its I/O when `signal` aborts. */
export interface Probe {
  check(e: Endpoint, signal: AbortSignal): Promise<ProbeResult>;
}

/** A compiled set of status ranges such as "200-399,404". */
export type StatusMatcher = (status: number) => boolean;

/** Parses "200", "200-399", "200-299,404" (also an array of those) into a matcher; throws on bad input. */
export function parseStatusRanges(spec: string | readonly (string | number)[]): StatusMatcher {
  const parts = (typeof spec === 'string' ? spec.split(',') : spec.map(String)).map((s) => s.trim()).filter((s) => s !== '');
  if (parts.length === 0) throw new UpstreamError('PCS_ERR_UPSTREAM_INVALID_OPTION', 'expected statuses: empty');
  const ranges: [number, number][] = [];
  for (const p of parts) {
    const m = /^(\d{3})(?:-(\d{3}))?$/.exec(p);
    const lo = m ? Number(m[1]) : NaN;
    const hi = m ? Number(m[2] ?? m[1]) : NaN;
    if (!m || lo < 100 || hi > 599 || lo > hi) {
      throw new UpstreamError('PCS_ERR_UPSTREAM_INVALID_OPTION', `expected statuses: "${p}" is not a status or range like 200-399 within 100-599`);
    }
    ranges.push([lo, hi]);
  }
  return (status) => {
    for (const [lo, hi] of ranges) if (status >= lo && status <= hi) return true;
    return false;
  };
}

function hostPort(e: Endpoint): string {
  return e.address.includes(':') ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
}

export interface HttpProbeOptions {
  /** Default GET. */
  method?: string;
  /** Request path with query. Default "/". */
  path?: string;
  /** Status ranges that count as healthy. Default "200-399". */
  expectedStatuses?: string | readonly (string | number)[];
  /** Host header. Default the endpoint's address:port. */
  host?: string;
  /** Extra request headers. */
  headers?: Readonly<Record<string, string>>;
  /** Check over TLS (BackendTLSPolicy), verified exactly like the traffic's connections. Default plain HTTP. */
  tls?: UpstreamTlsOptions;
}

/** HTTP check on a fresh connection (closed afterwards, like nginx/Envoy probes do not pool with traffic). */
export class HttpProbe implements Probe {
  private readonly method: string;
  private readonly path: string;
  private readonly expected: StatusMatcher;
  private readonly host: string | undefined;
  private readonly headers: Record<string, string>;
  private readonly tls: HttpProbeOptions['tls'];

  constructor(options: HttpProbeOptions = {}) {
    this.method = (options.method ?? 'GET').toUpperCase();
    if (!/^[A-Z]+$/.test(this.method)) throw new UpstreamError('PCS_ERR_UPSTREAM_INVALID_OPTION', `health check method: invalid "${this.method}"`);
    this.path = options.path ?? '/';
    if (!this.path.startsWith('/') || /[\s\x00-\x1f\x7f]/.test(this.path)) {
      throw new UpstreamError('PCS_ERR_UPSTREAM_INVALID_OPTION', 'health check path must start with "/" and contain no spaces or control characters');
    }
    this.expected = parseStatusRanges(options.expectedStatuses ?? '200-399');
    this.host = options.host;
    this.headers = { 'user-agent': 'portcullis-health-check', ...options.headers };
    this.tls = options.tls;
  }

  check(e: Endpoint, signal: AbortSignal): Promise<ProbeResult> {
    return new Promise((resolve) => {
      let settled = false;
      const done = (r: ProbeResult) => {
        if (settled) return;
        settled = true;
        resolve(r);
      };
      const common = {
        host: e.address,
        port: e.port,
        method: this.method,
        path: this.path,
        headers: { ...this.headers, host: this.host ?? hostPort(e), connection: 'close' },
        agent: false as const,
        signal,
      };
      const req = this.tls
        ? https.request({ ...common, ...tlsConnectOptions(this.tls, e.address) } as https.RequestOptions)
        : http.request(common);
      req.on('response', (res) => {
        const status = res.statusCode ?? 0;
        res.resume();
        res.on('error', () => {});
        done(this.expected(status) ? { ok: true, reason: `status ${status}` } : { ok: false, reason: `status ${status}` });
        res.destroy();
      });
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (signal.aborted) done({ ok: false, reason: String(signal.reason instanceof Error ? signal.reason.message : signal.reason ?? 'aborted') });
        else done({ ok: false, reason: `connect ${err.code ?? err.message}` });
      });
      req.end();
    });
  }
}

/** TCP check: healthy if a connection is accepted (Envoy tcp_health_check without payload). */
export class TcpProbe implements Probe {
  check(e: Endpoint, signal: AbortSignal): Promise<ProbeResult> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve({ ok: false, reason: 'aborted' });
      const socket = net.connect({ host: e.address, port: e.port });
      const onAbort = () => {
        socket.destroy();
        resolve({ ok: false, reason: String(signal.reason instanceof Error ? signal.reason.message : signal.reason ?? 'aborted') });
      };
      signal.addEventListener('abort', onAbort, { once: true });
      socket.once('connect', () => {
        signal.removeEventListener('abort', onAbort);
        socket.destroy();
        resolve({ ok: true, reason: 'connected' });
      });
      socket.once('error', (err: NodeJS.ErrnoException) => {
        signal.removeEventListener('abort', onAbort);
        socket.destroy();
        resolve({ ok: false, reason: `connect ${err.code ?? err.message}` });
      });
    });
  }
}

export interface HealthChangeEvent {
  readonly endpointId: string;
  readonly healthy: boolean;
  readonly reason: string;
}

export interface ActiveHealthCheckOptions {
  /** Time between checks of one endpoint. Default 3000 ms. */
  intervalMs?: number;
  /** A check that has not answered by then fails. Default 1000 ms. */
  timeoutMs?: number;
  /** Consecutive failures that mark a healthy endpoint unhealthy. Default 3. */
  unhealthyThreshold?: number;
  /** Consecutive successes that mark an unhealthy endpoint healthy. Default 1. */
  healthyThreshold?: number;
  /** Random extra delay added to each interval, to spread checks. Default 0. */
  jitterMs?: number;
  /**
   * Eligibility of an endpoint before its first check completes. Default true. Whatever this is,
   * the first result decides the state at once, thresholds apply afterwards (Envoy does the same
   * for hosts pending their first check).
   */
  initiallyHealthy?: boolean;
}

interface EndpointCheckState {
  endpoint: Endpoint;
  healthy: boolean;
  checked: boolean;
  successes: number;
  failures: number;
  reason: string;
  timer: ReturnType<typeof setTimeout> | undefined;
  abort: AbortController | undefined;
  removed: boolean;
}

/** Runs a Probe against every endpoint of a set on an interval; emits HealthChangeEvents. */
export class ActiveHealthChecker {
  private readonly probe: Probe;
  private readonly intervalMs: number;
  private readonly timeoutMs: number;
  private readonly unhealthyThreshold: number;
  private readonly healthyThreshold: number;
  private readonly jitterMs: number;
  private readonly initiallyHealthy: boolean;
  private readonly states = new Map<string, EndpointCheckState>();
  private readonly listeners = new Set<(ev: HealthChangeEvent) => void>();
  private readonly running = new Set<Promise<void>>();
  private started = false;
  /** Bumped by stop(): results of checks begun before it are dropped. */
  private epoch = 0;

  constructor(probe: Probe, endpoints: readonly Endpoint[] = [], options: ActiveHealthCheckOptions = {}) {
    this.probe = probe;
    this.intervalMs = checkNumber('intervalMs', options.intervalMs ?? 3000, 1);
    this.timeoutMs = checkNumber('timeoutMs', options.timeoutMs ?? 1000, 1);
    this.unhealthyThreshold = checkNumber('unhealthyThreshold', options.unhealthyThreshold ?? 3, 1, 1000);
    this.healthyThreshold = checkNumber('healthyThreshold', options.healthyThreshold ?? 1, 1, 1000);
    this.jitterMs = checkNumber('jitterMs', options.jitterMs ?? 0, 0);
    this.initiallyHealthy = options.initiallyHealthy ?? true;
    this.setEndpoints(endpoints);
  }

  /** Replaces the endpoint set; endpoints kept (same id) keep their state. */
  setEndpoints(endpoints: readonly Endpoint[]): void {
    const ids = new Set(endpoints.map((e) => e.id));
    for (const [id, s] of this.states) {
      if (ids.has(id)) continue;
      this.cancel(s);
      s.removed = true;
      this.states.delete(id);
    }
    for (const e of endpoints) {
      const s = this.states.get(e.id);
      if (s) {
        s.endpoint = e;
        continue;
      }
      const fresh: EndpointCheckState = {
        endpoint: e, healthy: this.initiallyHealthy, checked: false, successes: 0, failures: 0,
        reason: 'not checked yet', timer: undefined, abort: undefined, removed: false,
      };
      this.states.set(e.id, fresh);
      if (this.started) this.schedule(fresh, 0);
    }
  }

  /** Starts checking: every endpoint is checked at once, then every interval. */
  start(): void {
    if (this.started) return;
    this.started = true;
    for (const s of this.states.values()) this.schedule(s, 0);
  }

  /** Stops all timers, aborts checks in flight and waits for them to settle. */
  async stop(): Promise<void> {
    this.started = false;
    this.epoch++;
    for (const s of this.states.values()) this.cancel(s);
    await Promise.all(this.running);
  }

  /** Subscribes to state changes; returns the unsubscribe function. */
  onChange(listener: (ev: HealthChangeEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  isHealthy(endpointId: string): boolean {
    return this.states.get(endpointId)?.healthy ?? false;
  }

  /** Current view of one endpoint, for the admin API. */
  status(endpointId: string): { healthy: boolean; checked: boolean; reason: string } | undefined {
    const s = this.states.get(endpointId);
    return s && { healthy: s.healthy, checked: s.checked, reason: s.reason };
  }

  /** Runs one check of every endpoint now and waits for the results (used by tests and warm-up). */
  async checkAll(): Promise<void> {
    await Promise.all([...this.states.values()].map((s) => this.runOnce(s)));
  }

  private schedule(s: EndpointCheckState, delay: number): void {
    if (!this.started || s.removed) return;
    const d = delay + (this.jitterMs > 0 ? Math.random() * this.jitterMs : 0);
    s.timer = setTimeout(() => {
      s.timer = undefined;
      void this.runOnce(s).then(() => this.schedule(s, this.intervalMs));
    }, d);
    s.timer.unref();
  }

  private cancel(s: EndpointCheckState): void {
    if (s.timer) clearTimeout(s.timer);
    s.timer = undefined;
    s.abort?.abort(new Error('health check stopped'));
  }

  private runOnce(s: EndpointCheckState): Promise<void> {
    const p = this.probeOnce(s);
    this.running.add(p);
    return p.finally(() => this.running.delete(p));
  }

  private async probeOnce(s: EndpointCheckState): Promise<void> {
    const epoch = this.epoch;
    const ac = new AbortController();
    s.abort = ac;
    const timer = setTimeout(() => ac.abort(new Error(`timeout after ${this.timeoutMs}ms`)), this.timeoutMs);
    let result: ProbeResult;
    try {
      result = await this.probe.check(s.endpoint, ac.signal);
    } catch (err) {
      result = { ok: false, reason: `probe error: ${(err as Error)?.message ?? String(err)}` };
    } finally {
      clearTimeout(timer);
      if (s.abort === ac) s.abort = undefined;
    }
    if (s.removed || epoch !== this.epoch) return; // stopped or removed meanwhile
    this.record(s, result);
  }

  private record(s: EndpointCheckState, r: ProbeResult): void {
    s.reason = r.reason;
    const first = !s.checked;
    s.checked = true;
    let flip = false;
    if (r.ok) {
      s.failures = 0;
      s.successes++;
      if (!s.healthy && (first || s.successes >= this.healthyThreshold)) flip = true;
    } else {
      s.successes = 0;
      s.failures++;
      if (s.healthy && (first || s.failures >= this.unhealthyThreshold)) flip = true;
    }
    if (!flip) return;
    s.healthy = r.ok;
    const ev: HealthChangeEvent = { endpointId: s.endpoint.id, healthy: s.healthy, reason: r.reason };
    for (const l of this.listeners) {
      try {
        l(ev);
      } catch {
        // a listener's failure must not stop health checking
      }
    }
  }
}
