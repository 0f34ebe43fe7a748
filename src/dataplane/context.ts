// Per-request state, created once per request and passed down the filter chain.
import { randomBytes } from 'node:crypto';
import type { HttpRequest, HttpResponse } from './http-types.ts';
import type { BackendRuntime, EndpointRuntime, ListenerRuntime, RuleRuntime, Runtime } from '../runtime/runtime.ts';
import type { WafRuntime } from '../compiler/waf.ts';
import type { Transaction } from '../waf/index.ts';

export interface RequestContext {
  readonly id: string;
  /** The Runtime this request started on; it keeps it to the end, whatever reloads happen. */
  readonly runtime: Runtime;
  readonly req: HttpRequest;
  readonly res: HttpResponse;
  readonly startNs: bigint;
  /** The client's address: the peer, or what trusted proxies reported (see client-ip.ts). */
  clientIp: string;
  /** The connection's peer address. */
  readonly peerIp: string;
  readonly host: string;
  /** How the client reached us: http, or https on a TLS listener. */
  readonly scheme: 'http' | 'https';
  path: string;
  query: string;
  listener?: ListenerRuntime;
  rule?: RuleRuntime;
  backend?: BackendRuntime;
  endpoint?: EndpointRuntime;
  /** Set by whoever answers: the status sent to the client. */
  status?: number;
  /** The verified client certificate of an mTLS connection: for authorization filters and XFCC. */
  clientCert?: ClientCertificate;
  /** The request body when a filter (the WAF) had to read it first; sent upstream as is. */
  body?: Buffer;
  /** Machine-readable reason when Portcullis answered itself (PCS_ERR_...). */
  errorCode?: string;
  /** The WAF transaction of this request and its policy: its logging phase runs when the exchange ends (waf-filter.ts endTransaction). */
  waf?: { readonly tx: Transaction; readonly w: WafRuntime };
}

export interface ClientCertificate {
  readonly subject: string;
  readonly sans: readonly string[];
  /** SPIFFE ID from a URI SAN, when there is one. */
  readonly spiffe?: string;
  readonly fingerprint256: string;
}

/** The verified peer certificate of a TLS connection, if the client presented one that verified. */
export function clientCertificateOf(req: HttpRequest): ClientCertificate | undefined {
  const sock = req.socket as unknown as { authorized?: boolean; getPeerCertificate?: () => { subject?: Record<string, string>; subjectaltname?: string; fingerprint256?: string } };
  if (!sock.authorized || typeof sock.getPeerCertificate !== 'function') return undefined;
  const c = sock.getPeerCertificate();
  if (!c || !c.fingerprint256) return undefined;
  const sans = c.subjectaltname ? c.subjectaltname.split(/,\s*/) : [];
  const uri = sans.find((x) => x.startsWith('URI:spiffe://'));
  return {
    subject: Object.entries(c.subject ?? {}).map(([k, v]) => `${k}=${v}`).join(','),
    sans,
    ...(uri ? { spiffe: uri.slice(4) } : {}),
    fingerprint256: c.fingerprint256.replace(/:/g, '').toLowerCase(),
  };
}

// Request ids: a per-process random prefix plus a counter: unique, cheap, and not a clock.
const PREFIX = randomBytes(6).toString('hex');
let counter = 0;
const VALID_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Propagate a sane incoming X-Request-Id, otherwise mint one. */
export function requestIdFor(incoming: string | string[] | undefined): string {
  if (typeof incoming === 'string' && VALID_ID.test(incoming)) return incoming;
  counter = (counter + 1) >>> 0;
  return `${PREFIX}${counter.toString(16).padStart(8, '0')}`;
}

export function clientIpOf(req: HttpRequest): string {
  // h2c connections reach node:http2 through a replaying stream (see gateway.ts) that carries the
  // peer address; node:http2 wraps it, so look one level down when the socket has none.
  const sock = req.socket as unknown as { remoteAddress?: string; stream?: { remoteAddress?: string } };
  const a = sock.remoteAddress ?? sock.stream?.remoteAddress ?? '';
  return a.startsWith('::ffff:') ? a.slice(7) : a;
}
