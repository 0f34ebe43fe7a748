/**
 * Passive outlier detection, after Envoy's outlier_detection: consecutive 5xx responses or
 * consecutive connect failures eject an endpoint for baseEjectionTime × (times ejected), capped by
 * maxEjectionTime; the multiplier decays by one per `intervalMs` spent un-ejected; never more than
 * maxEjectionPercent of the endpoints are ejected at once (but, as in Envoy, one endpoint always
 * may be). Any success resets the counters. Ejections end lazily, when the endpoint is next asked
 * about, so there are no timers. Time is injectable.
 */
import { checkNumber } from './errors.ts';

export interface OutlierOptions {
  /** Consecutive 5xx responses that eject (Envoy consecutive_5xx). Default 5; 0 disables. */
  consecutive5xx?: number;
  /** Consecutive connect failures/timeouts that eject (Envoy consecutive_local_origin_failure). Default 5; 0 disables. */
  consecutiveConnectFailures?: number;
  /** Ejection time for the first ejection (Envoy base_ejection_time). Default 30000 ms. */
  baseEjectionTimeMs?: number;
  /** Upper bound of one ejection (Envoy max_ejection_time). Default 300000 ms. */
  maxEjectionTimeMs?: number;
  /** Max share of endpoints ejected at once (Envoy max_ejection_percent). Default 10. */
  maxEjectionPercent?: number;
  /** Period after which an un-ejected endpoint's ejection multiplier drops by one (Envoy interval). Default 10000 ms. */
  intervalMs?: number;
  /** Clock in ms; inject a fake one in tests. Default performance.now. */
  now?: () => number;
}

export interface OutlierChangeEvent {
  readonly endpointId: string;
  readonly ejected: boolean;
  readonly reason: string;
  /** For an ejection: how long it lasts. */
  readonly durationMs?: number;
}

export interface OutlierStats {
  /** Ejections performed. */
  ejectionsTotal: number;
  /** Ejections skipped because maxEjectionPercent was reached. */
  ejectionsOverflow: number;
  /** Endpoints ejected right now. */
  ejectedNow: number;
}

interface OutlierState {
  consecutive5xx: number;
  consecutiveConnect: number;
  /** Ejection multiplier (Envoy num_ejections). */
  ejections: number;
  /** 0 when not ejected. */
  ejectedUntil: number;
  /** When the last ejection ended (for the multiplier decay). */
  releasedAt: number;
}

interface Resolved {
  consecutive5xx: number;
  consecutiveConnectFailures: number;
  baseEjectionTimeMs: number;
  maxEjectionTimeMs: number;
  maxEjectionPercent: number;
  intervalMs: number;
}

function resolve(o: OutlierOptions): Resolved {
  const base = checkNumber('baseEjectionTimeMs', o.baseEjectionTimeMs ?? 30_000, 1);
  return {
    consecutive5xx: checkNumber('consecutive5xx', o.consecutive5xx ?? 5, 0, 1e6),
    consecutiveConnectFailures: checkNumber('consecutiveConnectFailures', o.consecutiveConnectFailures ?? 5, 0, 1e6),
    baseEjectionTimeMs: base,
    maxEjectionTimeMs: checkNumber('maxEjectionTimeMs', o.maxEjectionTimeMs ?? Math.max(300_000, base), base),
    maxEjectionPercent: checkNumber('maxEjectionPercent', o.maxEjectionPercent ?? 10, 0, 100),
    intervalMs: checkNumber('intervalMs', o.intervalMs ?? 10_000, 1),
  };
}

export class OutlierDetector {
  private opts: Resolved;
  private readonly now: () => number;
  private readonly states = new Map<string, OutlierState>();
  private readonly listeners = new Set<(ev: OutlierChangeEvent) => void>();
  private ejectedCount = 0;
  private ejectionsTotal = 0;
  private ejectionsOverflow = 0;
  /** Earliest ejectedUntil among ejected endpoints; Infinity when none. */
  private nextRelease = Infinity;
  /** Bumped whenever an endpoint is ejected or released (lets callers cache derived state). */
  version = 0;

  constructor(endpointIds: Iterable<string> = [], options: OutlierOptions = {}) {
    this.opts = resolve(options);
    this.now = options.now ?? (() => performance.now());
    this.setEndpoints(endpointIds);
  }

  /** Applies new options (config swap); counters and ejections carry over. */
  configure(options: OutlierOptions): void {
    this.opts = resolve(options);
  }

  /** Sets the endpoint set (for the ejection percentage); state of endpoints no longer listed is dropped. */
  setEndpoints(endpointIds: Iterable<string>): void {
    const keep = new Set(endpointIds);
    for (const id of this.states.keys()) if (!keep.has(id)) this.states.delete(id);
    for (const id of keep) if (!this.states.has(id)) this.states.set(id, { consecutive5xx: 0, consecutiveConnect: 0, ejections: 0, ejectedUntil: 0, releasedAt: -Infinity });
    this.recount();
  }

  onChange(listener: (ev: OutlierChangeEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Reports a response status from the endpoint: 5xx counts as a failure, anything else as a success. */
  onResponse(endpointId: string, status: number): void {
    if (status >= 500) this.on5xx(endpointId, status);
    else this.onSuccess(endpointId);
  }

  /** Reports a request that got a response (or otherwise went well). */
  onSuccess(endpointId: string): void {
    const s = this.states.get(endpointId);
    if (!s) return;
    s.consecutive5xx = 0;
    s.consecutiveConnect = 0;
  }

  /** Reports a failed or timed-out connection attempt. */
  onConnectFailure(endpointId: string): void {
    const s = this.states.get(endpointId);
    if (!s) return;
    s.consecutiveConnect++;
    const limit = this.opts.consecutiveConnectFailures;
    if (limit > 0 && s.consecutiveConnect >= limit) this.eject(endpointId, s, `${s.consecutiveConnect} consecutive connect failures`);
  }

  private on5xx(endpointId: string, status: number): void {
    const s = this.states.get(endpointId);
    if (!s) return;
    s.consecutiveConnect = 0; // a response arrived, so the connection worked
    s.consecutive5xx++;
    const limit = this.opts.consecutive5xx;
    if (limit > 0 && s.consecutive5xx >= limit) this.eject(endpointId, s, `${s.consecutive5xx} consecutive 5xx (last ${status})`);
  }

  /** True while the endpoint is ejected. Hot path: one map lookup and a comparison. */
  isEjected(endpointId: string): boolean {
    const s = this.states.get(endpointId);
    if (s === undefined || s.ejectedUntil === 0) return false;
    if (this.now() < s.ejectedUntil) return true;
    this.releaseExpired();
    return false;
  }

  /** Remaining ejection time in ms (0 when not ejected). */
  ejectionRemainingMs(endpointId: string): number {
    const s = this.states.get(endpointId);
    if (!s || s.ejectedUntil === 0) return 0;
    return Math.max(0, s.ejectedUntil - this.now());
  }

  /** Ends every ejection whose time has passed (called lazily; cheap when nothing expired). */
  releaseExpired(): void {
    if (this.nextRelease === Infinity) return;
    const now = this.now();
    if (now < this.nextRelease) return;
    for (const [id, s] of this.states) {
      if (s.ejectedUntil !== 0 && now >= s.ejectedUntil) {
        s.releasedAt = s.ejectedUntil; // the real end, even when noticed later
        s.ejectedUntil = 0;
        s.consecutive5xx = 0;
        s.consecutiveConnect = 0;
        this.emit({ endpointId: id, ejected: false, reason: 'ejection time elapsed' });
      }
    }
    this.recount();
  }

  stats(): OutlierStats {
    this.releaseExpired();
    return { ejectionsTotal: this.ejectionsTotal, ejectionsOverflow: this.ejectionsOverflow, ejectedNow: this.ejectedCount };
  }

  private eject(id: string, s: OutlierState, reason: string): void {
    this.releaseExpired();
    if (s.ejectedUntil !== 0) return;
    const total = this.states.size;
    // Envoy: stop once the percentage would be exceeded, but always allow ejecting one endpoint.
    if (this.ejectedCount > 0 && ((this.ejectedCount + 1) * 100) / total > this.opts.maxEjectionPercent) {
      this.ejectionsOverflow++;
      return;
    }
    const now = this.now();
    if (s.ejections > 0 && s.releasedAt > -Infinity) {
      const decay = Math.floor((now - s.releasedAt) / this.opts.intervalMs);
      s.ejections = Math.max(0, s.ejections - decay);
    }
    s.ejections++;
    const duration = Math.min(this.opts.baseEjectionTimeMs * s.ejections, this.opts.maxEjectionTimeMs);
    s.ejectedUntil = now + duration;
    s.consecutive5xx = 0;
    s.consecutiveConnect = 0;
    this.ejectionsTotal++;
    this.recount();
    this.emit({ endpointId: id, ejected: true, reason, durationMs: duration });
  }

  private recount(): void {
    let n = 0;
    let next = Infinity;
    for (const s of this.states.values()) {
      if (s.ejectedUntil === 0) continue;
      n++;
      if (s.ejectedUntil < next) next = s.ejectedUntil;
    }
    this.ejectedCount = n;
    this.nextRelease = next;
    this.version++;
  }

  private emit(ev: OutlierChangeEvent): void {
    for (const l of this.listeners) {
      try {
        l(ev);
      } catch {
        // a listener's failure must not break accounting
      }
    }
  }
}
