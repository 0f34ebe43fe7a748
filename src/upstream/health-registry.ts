/**
 * Long-lived health state, keyed by Backend name + endpoint id, that survives config swaps.
 * A BackendHealth merges active checks and passive outlier detection into one eligibility
 * predicate (with the panic threshold) for Selector.pick. The registry is get-or-create plus
 * retain(keys), which drops state (and stops active checkers) of endpoints no longer configured.
 *
 * Intended use on a config swap, after the new Runtime is in place:
 *   for each backend: registry.backend(name, opts).setEndpoints(endpoints); .configureActive(spec)
 *   registry.retain(all healthKey(backend, endpoint.id) of the new config)
 * On the request path: `const eligible = bh.eligibility(); selector.pick(ctx, eligible)`, then
 * report the outcome with bh.onResponse / bh.onConnectFailure.
 */
import type { Endpoint } from './types.ts';
import { OutlierDetector } from './outlier.ts';
import type { OutlierOptions, OutlierChangeEvent } from './outlier.ts';
import { ActiveHealthChecker, HttpProbe, TcpProbe } from './health.ts';
import type { ActiveHealthCheckOptions, HttpProbeOptions } from './health.ts';
import { ALL_ELIGIBLE, DEFAULT_PANIC_THRESHOLD_PERCENT, isPanic } from './panic.ts';
import { checkNumber } from './errors.ts';
import type { AttemptOutcome } from './resilience.ts';

/** The key of one endpoint's health state: Backend name + endpoint id. */
export function healthKey(backend: string, endpointId: string): string {
  return `${backend}#${endpointId}`;
}

export interface BackendHealthOptions {
  /** Passive outlier detection; false or absent: off (as in Envoy unless configured). The clock is the registry's. */
  outlier?: OutlierOptions | false;
  /** Panic threshold in percent of healthy endpoints. Default 50; 0 disables. */
  panicThresholdPercent?: number;
}

/** Active check configuration; `undefined` turns active checking off. */
export type ActiveCheckSpec =
  | ({ kind: 'http' } & HttpProbeOptions & ActiveHealthCheckOptions)
  | ({ kind: 'tcp' } & ActiveHealthCheckOptions);

/** Health of one endpoint as the admin API and the dashboard show it. */
export interface EndpointHealthStatus {
  readonly id: string;
  /** Eligible for traffic, ignoring panic mode. */
  readonly healthy: boolean;
  readonly activeHealthy: boolean;
  readonly activeReason: string;
  readonly ejected: boolean;
  readonly ejectionRemainingMs: number;
}

/** Change of an endpoint's active or passive state, with the backend name. */
export interface EndpointHealthEvent {
  readonly backend: string;
  readonly endpointId: string;
  readonly source: 'active' | 'outlier';
  readonly healthy: boolean;
  readonly reason: string;
}

interface ActiveState {
  healthy: boolean;
  reason: string;
}

export class BackendHealth {
  readonly name: string;
  readonly outlier: OutlierDetector;
  private outlierEnabled = false;
  private panicThreshold = DEFAULT_PANIC_THRESHOLD_PERCENT;
  private endpoints: readonly Endpoint[] = [];
  private readonly active = new Map<string, ActiveState>();
  private checker: ActiveHealthChecker | undefined;
  private checkerKey = '';
  private activeInitiallyHealthy = true;
  private unsubscribeChecker: (() => void) | undefined;
  private readonly listeners: Set<(ev: EndpointHealthEvent) => void>;
  private version = 0;
  private cachedVersion = -1;
  private cachedOutlierVersion = -1;
  private panic = false;

  constructor(name: string, options: BackendHealthOptions = {}, now?: () => number, listeners = new Set<(ev: EndpointHealthEvent) => void>()) {
    this.name = name;
    this.listeners = listeners;
    this.outlier = new OutlierDetector([], { now });
    this.outlier.onChange((ev: OutlierChangeEvent) => this.emit({ backend: this.name, endpointId: ev.endpointId, source: 'outlier', healthy: !ev.ejected, reason: ev.reason }));
    this.configure(options);
  }

  /** Applies options (config swap); state carries over. */
  configure(options: BackendHealthOptions): void {
    this.panicThreshold = checkNumber('panicThresholdPercent', options.panicThresholdPercent ?? DEFAULT_PANIC_THRESHOLD_PERCENT, 0, 100);
    this.outlierEnabled = options.outlier !== undefined && options.outlier !== false;
    if (options.outlier) this.outlier.configure(options.outlier);
    this.version++;
  }

  /** Sets the configured endpoints; state of endpoints no longer listed is dropped. */
  setEndpoints(endpoints: readonly Endpoint[]): void {
    const known = new Set(this.endpoints.map((e) => e.id));
    this.endpoints = endpoints.slice();
    const ids = new Set(endpoints.map((e) => e.id));
    for (const id of this.active.keys()) if (!ids.has(id)) this.active.delete(id);
    if (this.checker && !this.activeInitiallyHealthy) {
      for (const e of endpoints) if (!known.has(e.id) && !this.active.has(e.id)) this.active.set(e.id, { healthy: false, reason: 'not checked yet' });
    }
    this.outlier.setEndpoints(ids);
    this.checker?.setEndpoints(this.endpoints);
    this.version++;
  }

  /** Currently configured endpoints. */
  get endpointList(): readonly Endpoint[] {
    return this.endpoints;
  }

  /**
   * Runs (or stops, with undefined) the active checker of this backend. The same spec keeps the
   * running checker and its state; a different one replaces it.
   */
  configureActive(spec: ActiveCheckSpec | undefined): void {
    const key = spec === undefined ? '' : JSON.stringify(spec);
    if (key === this.checkerKey) return;
    void this.stopActive();
    this.checkerKey = key;
    if (spec === undefined) return;
    const probe = spec.kind === 'http' ? new HttpProbe(spec) : new TcpProbe();
    const checker = new ActiveHealthChecker(probe, this.endpoints, spec);
    this.checker = checker;
    this.unsubscribeChecker = checker.onChange((ev) => this.setActive(ev.endpointId, ev.healthy, ev.reason));
    this.activeInitiallyHealthy = spec.initiallyHealthy ?? true;
    if (!this.activeInitiallyHealthy) for (const e of this.endpoints) this.setActive(e.id, false, 'not checked yet');
    checker.start();
  }

  /** Stops the active checker, if any; active state is forgotten (endpoints count as healthy). */
  async stopActive(): Promise<void> {
    const c = this.checker;
    this.unsubscribeChecker?.();
    this.unsubscribeChecker = undefined;
    this.checker = undefined;
    this.checkerKey = '';
    if (this.active.size > 0) {
      this.active.clear();
      this.version++;
    }
    if (c) await c.stop();
  }

  /** Records an active check result (from this backend's checker or an external one). */
  setActive(endpointId: string, healthy: boolean, reason: string): void {
    const prev = this.active.get(endpointId);
    if (prev && prev.healthy === healthy) {
      prev.reason = reason;
      return;
    }
    this.active.set(endpointId, { healthy, reason });
    this.version++;
    this.emit({ backend: this.name, endpointId, source: 'active', healthy, reason });
  }

  /** Passive reporting: a response status from the endpoint. */
  onResponse(endpointId: string, status: number): void {
    if (this.outlierEnabled) this.outlier.onResponse(endpointId, status);
  }

  /** Passive reporting: connect failure or connect timeout. */
  onConnectFailure(endpointId: string): void {
    if (this.outlierEnabled) this.outlier.onConnectFailure(endpointId);
  }

  /**
   * Passive reporting from a retry-policy outcome: a status as onResponse, a connect failure as
   * onConnectFailure, a reset as a 502 and a timeout as a 504 (Envoy counts them as 5xx too).
   */
  onOutcome(endpointId: string, outcome: AttemptOutcome): void {
    if (!this.outlierEnabled) return;
    switch (outcome.kind) {
      case 'status':
        this.outlier.onResponse(endpointId, outcome.status);
        break;
      case 'connect-failure':
        this.outlier.onConnectFailure(endpointId);
        break;
      case 'reset':
        this.outlier.onResponse(endpointId, 502);
        break;
      case 'per-try-timeout':
        this.outlier.onResponse(endpointId, 504);
        break;
    }
  }

  /** Passive reporting: success without a status (for example a TCP proxy session). */
  onSuccess(endpointId: string): void {
    if (this.outlierEnabled) this.outlier.onSuccess(endpointId);
  }

  /** Healthy = passes active checks (or has none) and is not ejected. Ignores panic mode. */
  readonly isHealthy = (e: Endpoint): boolean => {
    const a = this.active.get(e.id);
    if (a !== undefined && !a.healthy) return false;
    return !(this.outlierEnabled && this.outlier.isEjected(e.id));
  };

  /** Eligible = healthy, or anything while in panic mode. */
  readonly isEligible = (e: Endpoint): boolean => this.inPanic() || this.isHealthy(e);

  /** The predicate to pick with for one request: isHealthy, or ALL_ELIGIBLE in panic. O(1) amortized. */
  eligibility(): (e: Endpoint) => boolean {
    return this.inPanic() ? ALL_ELIGIBLE : this.isHealthy;
  }

  /** True when the healthy share is below the panic threshold; cached until state changes. */
  inPanic(): boolean {
    this.outlier.releaseExpired();
    if (this.cachedVersion === this.version && this.cachedOutlierVersion === this.outlier.version) return this.panic;
    let healthy = 0;
    for (const e of this.endpoints) if (this.isHealthy(e)) healthy++;
    this.panic = isPanic(healthy, this.endpoints.length, this.panicThreshold);
    this.cachedVersion = this.version;
    this.cachedOutlierVersion = this.outlier.version;
    return this.panic;
  }

  /** Per-endpoint view for the admin API. */
  status(): EndpointHealthStatus[] {
    return this.endpoints.map((e) => {
      const a = this.active.get(e.id);
      const ejected = this.outlierEnabled && this.outlier.isEjected(e.id);
      return {
        id: e.id,
        healthy: this.isHealthy(e),
        activeHealthy: a?.healthy ?? true,
        activeReason: a?.reason ?? (this.checker ? 'not checked yet' : 'no active check'),
        ejected,
        ejectionRemainingMs: ejected ? this.outlier.ejectionRemainingMs(e.id) : 0,
      };
    });
  }

  private emit(ev: EndpointHealthEvent): void {
    for (const l of this.listeners) {
      try {
        l(ev);
      } catch {
        // listeners must not break health accounting
      }
    }
  }
}

export class HealthRegistry {
  private readonly backends = new Map<string, BackendHealth>();
  private readonly now: (() => number) | undefined;
  private readonly listeners = new Set<(ev: EndpointHealthEvent) => void>();

  constructor(options: { now?: () => number } = {}) {
    this.now = options.now;
  }

  /** Get-or-create the state of a backend; options, if given, are applied (state carries over). */
  backend(name: string, options?: BackendHealthOptions): BackendHealth {
    let b = this.backends.get(name);
    if (!b) {
      b = new BackendHealth(name, options, this.now, this.listeners);
      this.backends.set(name, b);
    } else if (options) {
      b.configure(options);
    }
    return b;
  }

  /** The backend's state if it exists (no creation). */
  peek(name: string): BackendHealth | undefined {
    return this.backends.get(name);
  }

  /** Eligibility of one endpoint of a backend; a backend without state has nothing against it, so true. */
  isEligible(backend: string, e: Endpoint): boolean {
    const b = this.backends.get(backend);
    return b === undefined ? true : b.isEligible(e);
  }

  /** Subscribes to active and passive changes of every backend. */
  onChange(listener: (ev: EndpointHealthEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Keys of every endpoint with state (healthKey(backend, id)). */
  keys(): string[] {
    const out: string[] = [];
    for (const [name, b] of this.backends) for (const e of b.endpointList) out.push(healthKey(name, e.id));
    return out;
  }

  /**
   * Drops state of every endpoint whose healthKey is not in `keys`; a backend left without
   * endpoints is removed and its active checker stopped. Resolves when checkers have stopped.
   */
  async retain(keys: Iterable<string>): Promise<void> {
    const keep = new Set(keys);
    const stopping: Promise<void>[] = [];
    for (const [name, b] of this.backends) {
      const eps = b.endpointList.filter((e) => keep.has(healthKey(name, e.id)));
      if (eps.length === 0) {
        this.backends.delete(name);
        stopping.push(b.stopActive());
      } else if (eps.length !== b.endpointList.length) {
        b.setEndpoints(eps);
      }
    }
    await Promise.all(stopping);
  }

  /** Stops every active checker and forgets all state. */
  async close(): Promise<void> {
    await this.retain([]);
  }
}
