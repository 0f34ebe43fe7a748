// The certificates the current Runtime serves on its HTTPS and TLS Terminate listeners, inspected by the PKI
// inventory (src/pki/inventory.ts: expiry, weak keys and signatures, self-signed leaf, name
// mismatch, incomplete chain). Backs GET /certificates on the admin API and the certificate
// gauges in /metrics. Read from the Runtime, so a reload that rotates or removes a certificate
// changes both on the next swap.
import type { Runtime } from '../runtime/runtime.ts';
import { inspectPem, type CertEntry, type FindingCode } from '../pki/inventory.ts';

export interface ServedCertificate extends CertEntry {
  /** `namespace/gateway/listener` */
  readonly listener: string;
  /** The listener's socket (`https://address:port`). */
  readonly socket: string;
  /** The listener's hostname (SNI), null for a catch-all listener. */
  readonly hostname: string | null;
  /** The certificateRef the chain came from (`namespace/name`). */
  readonly ref: string;
}

export interface CertificateInventory {
  readonly version: string | null;
  readonly generatedAt: string;
  /** Every certificate of every served chain (leaf first, then the chain as configured). */
  readonly certificates: readonly ServedCertificate[];
  /** Chains that could not be inspected (the rest of the inventory is still there). */
  readonly errors: readonly { readonly listener: string; readonly ref: string; readonly code: string; readonly message: string }[];
  /** Certificates per finding code, and the worst severity seen (null: no finding). */
  readonly summary: { readonly certificates: number; readonly findings: Partial<Record<FindingCode, number>>; readonly worst: string | null };
}

const SEVERITY_ORDER = ['low', 'medium', 'high', 'critical'];

/**
 * Inspect the chains served by `rt`. The leaf is checked against the listener's hostname (a
 * wildcard hostname `*.example.com` is checked with one name under it); a catch-all listener has
 * no name to check. A chain that does not reach a root Node trusts (or a self-signed root it
 * carries) is CHAIN_INCOMPLETE: clients without that private root cannot verify it either.
 */
export function servedCertificates(rt: Runtime | null, now = new Date()): CertificateInventory {
  const certificates: ServedCertificate[] = [];
  const errors: { listener: string; ref: string; code: string; message: string }[] = [];
  for (const port of rt?.ports.values() ?? []) {
    // HTTPS listeners, and TLS Terminate listeners (src/tls) on HTTPS or TLS-only ports.
    const terminating = (port.passthrough?.listeners.entriesWithKeys() ?? []).flatMap(([, l]) => l?.terminate ? [{ id: l.id, hostname: l.hostname, certificates: l.terminate.certificates }] : []);
    const served = [...(port.protocol === 'HTTPS' ? port.listeners.entriesWithKeys().map(([, l]) => l) : []), ...terminating];
    for (const l of served) {
      for (const c of l.certificates ?? []) {
        const expectedHostname = l.hostname ? l.hostname.replace(/^\*\./, 'wildcard-name-check.') : undefined;
        try {
          for (const e of inspectPem(c.chain, { now, source: c.ref, ...(expectedHostname ? { expectedHostname } : {}) })) {
            certificates.push({ listener: l.id, socket: port.key, hostname: l.hostname ?? null, ref: c.ref, ...e });
          }
        } catch (err) {
          // The leaf was parsed when the config was checked; a broken later block in the chain
          // must not take the inventory (or the metrics update at a swap) down with it.
          errors.push({ listener: l.id, ref: c.ref, code: (err as { code?: string }).code ?? 'PCS_ERR_CERT_PARSE', message: (err as Error).message });
        }
      }
    }
  }
  const findings: Partial<Record<FindingCode, number>> = {};
  let worst = -1;
  for (const c of certificates) {
    for (const f of c.findings) {
      findings[f.code] = (findings[f.code] ?? 0) + 1;
      worst = Math.max(worst, SEVERITY_ORDER.indexOf(f.severity));
    }
  }
  return { version: rt?.version ?? null, generatedAt: now.toISOString(), certificates, errors, summary: { certificates: certificates.length, findings, worst: worst < 0 ? null : SEVERITY_ORDER[worst] } };
}

/** One gauge series per served certificate: labels and its notAfter (ms since the epoch). */
export interface CertificateSeries { readonly listener: string; readonly ref: string; readonly subject: string; readonly serial: string; readonly notAfterMs: number }

const seriesCache = new WeakMap<Runtime, readonly CertificateSeries[]>();

/** The gauge series of `rt`'s certificates; computed once per Runtime (a Runtime never changes). */
export function certificateSeries(rt: Runtime | null): readonly CertificateSeries[] {
  if (!rt) return [];
  let s = seriesCache.get(rt);
  if (!s) {
    const seen = new Set<string>();
    s = servedCertificates(rt).certificates.flatMap((c) => {
      const key = `${c.listener}\0${c.ref}\0${c.subject}\0${c.serialNumber}`;
      if (seen.has(key)) return []; // the same certificate twice in one chain
      seen.add(key);
      return [{ listener: c.listener, ref: c.ref, subject: c.subject, serial: c.serialNumber, notAfterMs: Date.parse(c.notAfter) }];
    });
    seriesCache.set(rt, s);
  }
  return s;
}
