// Prometheus metrics (prom-client), one registry per gateway process. Label sets are bounded:
// routes and listeners come from config, status codes are grouped by class.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { CertificateSeries } from './certificates.ts';
import { RequestStats } from './request-stats.ts';

export class Metrics {
  readonly registry = new Registry();
  readonly configReloads = new Counter({ name: 'portcullis_config_reloads_total', help: 'Config reload attempts by result (success, failure, unchanged).', labelNames: ['result'] as const, registers: [this.registry] });
  readonly configInfo = new Gauge({ name: 'portcullis_config_info', help: 'The config version being served (value is always 1).', labelNames: ['version'] as const, registers: [this.registry] });
  readonly configLastReloadSuccess = new Gauge({ name: 'portcullis_config_last_reload_successful', help: '1 if the last reload attempt succeeded, 0 if it failed.', registers: [this.registry] });
  readonly requests = new Counter({ name: 'portcullis_http_requests_total', help: 'HTTP requests by listener, route and status class.', labelNames: ['listener', 'route', 'code'] as const, registers: [this.registry] });
  readonly requestDuration = new Histogram({ name: 'portcullis_http_request_duration_seconds', help: 'Time from request start to the end of the response.', labelNames: ['listener'] as const, buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [this.registry] });
  readonly upstreamErrors = new Counter({ name: 'portcullis_upstream_errors_total', help: 'Upstream failures by backend and kind (connect, timeout, reset).', labelNames: ['backend', 'kind'] as const, registers: [this.registry] });
  readonly securityEvents = new Counter({ name: 'portcullis_security_events_total', help: 'Security events by kind (waf-match, waf-block, ...).', labelNames: ['kind'] as const, registers: [this.registry] });
  readonly tlsHandshakeErrors = new Counter({ name: 'portcullis_tls_handshake_errors_total', help: 'Failed TLS handshakes (bad client hello, no shared cipher or version, bad client certificate).', registers: [this.registry] });
  // Served certificates (src/observability/certificates.ts), replaced as a whole on every swap. The
  // admin side (single process or primary) sets them; 'omit' keeps workers' empty copies out of the
  // primary's aggregated output.
  private certs: readonly CertificateSeries[] = [];
  readonly certificateExpiry = new Gauge({ name: 'portcullis_certificate_expiry_timestamp_seconds', help: 'notAfter of every certificate served by an HTTPS listener (leaf and chain), in seconds since the epoch.', labelNames: ['listener', 'ref', 'subject', 'serial'] as const, aggregator: 'omit', registers: [this.registry] });
  readonly certificateDaysLeft = new Gauge({
    name: 'portcullis_certificate_days_left', help: 'Days until notAfter of every certificate served by an HTTPS listener (negative once expired), at scrape time.', labelNames: ['listener', 'ref', 'subject', 'serial'] as const, aggregator: 'omit', registers: [this.registry],
    collect: () => {
      const now = Date.now();
      for (const c of this.certs) this.certificateDaysLeft.set({ listener: c.listener, ref: c.ref, subject: c.subject, serial: c.serial }, Math.round((c.notAfterMs - now) / 864e5 * 100) / 100);
    },
  });
  readonly badRequests = new Counter({ name: 'portcullis_http_bad_requests_total', help: 'Requests refused before routing because they could not be parsed safely.', registers: [this.registry] });

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'portcullis_process_' });
  }

  private readonly stats = new RequestStats(this.requests, this.requestDuration);

  /** Count one finished request (hot path: plain numbers, handed to prom-client when read). */
  countRequest(listener: string, route: string, statusClass: string, seconds: number): void {
    this.stats.count(listener, route, statusClass, seconds);
  }

  /** The certificates of the Runtime now served: series of certificates no longer served go away. */
  setCertificates(certs: readonly CertificateSeries[]): void {
    if (certs === this.certs) return;
    this.certs = certs;
    this.certificateExpiry.reset();
    this.certificateDaysLeft.reset();
    for (const c of certs) this.certificateExpiry.set({ listener: c.listener, ref: c.ref, subject: c.subject, serial: c.serial }, Math.floor(c.notAfterMs / 1000));
  }

  setConfigVersion(version: string): void {
    this.configInfo.reset();
    this.configInfo.set({ version }, 1);
  }
}
