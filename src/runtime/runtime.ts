// The Runtime: everything the request path needs, compiled from config, immutable once built.
// A request reads `holder.current` once at its start and uses that snapshot to the end, so a swap
// (one assignment) never changes a request in flight.
import type { BlockList } from 'node:net';
import type { SecureContext } from 'node:tls';
import type { Diagnostic } from '../config/diagnostics.ts';
import type { WafRuntime } from '../compiler/waf.ts';
import type { CorsRuntime } from '../compiler/cors.ts';
import type { StatusMap } from '../config/semantic.ts';
import type { HostTable, HttpRouter } from '../router/http-router.ts';
import type { PassthroughRuntime } from '../tls/compile.ts';
import type { SessionPersistence, ActiveCheckSpec, BackendHealth, BackendHealthOptions, CircuitBreaker, CircuitBreakerLimits, HashKeyExtractor, PoolOptions, RetryPolicy, Selector } from '../upstream/index.ts';

export interface HeaderMods {
  /** [lower-case name, value] */
  readonly set: readonly (readonly [string, string])[];
  readonly add: readonly (readonly [string, string])[];
  readonly remove: readonly string[];
}

export interface RedirectSpec {
  readonly scheme?: 'http' | 'https';
  readonly hostname?: string;
  readonly port?: number;
  readonly path?: { readonly type: 'ReplaceFullPath' | 'ReplacePrefixMatch'; readonly value: string };
  readonly statusCode: number;
}

export interface RewriteSpec {
  readonly hostname?: string;
  readonly path?: { readonly type: 'ReplaceFullPath' | 'ReplacePrefixMatch'; readonly value: string };
}

export interface EndpointRuntime { readonly id: string; readonly address: string; readonly port: number; readonly weight: number; readonly origin: string }

export interface BackendRuntime {
  readonly id: string;
  readonly endpoints: readonly EndpointRuntime[];
  readonly selector: Selector;
  /** Extracts the consistent-hash key from a request, when the balancer hashes. */
  readonly hashKey?: HashKeyExtractor;
  /** Long-lived endpoint health (active + passive); absent outside a running gateway. */
  readonly health?: BackendHealth;
  readonly healthOptions: BackendHealthOptions;
  readonly activeCheck?: ActiveCheckSpec;
  readonly retry: RetryPolicy;
  /** Long-lived circuit breaker of this Backend. */
  readonly breaker: CircuitBreaker;
  readonly breakerLimits: CircuitBreakerLimits;
  /** Frozen, one object per Backend: the pool registry digests it once. */
  readonly poolOptions: PoolOptions;
  /** The same, speaking h2c: for GRPCRoute traffic. */
  readonly grpcPoolOptions: PoolOptions;
  /** Pick an eligible endpoint, not one of `exclude`; undefined when none is available. */
  pick(hashKey?: string, exclude?: ReadonlySet<string>): EndpointRuntime | undefined;
}

export interface BackendChoice {
  /** undefined: the reference is invalid and its share of traffic gets a 500. */
  readonly backend?: BackendRuntime;
  readonly weight: number;
  readonly requestHeaders?: HeaderMods;
  readonly responseHeaders?: HeaderMods;
}

export interface SessionRuntime {
  readonly type: 'Cookie' | 'Header';
  /** Cookie or header name. */
  readonly name: string;
  /** Cookie attributes after the value (Path, HttpOnly, SameSite, Max-Age when Permanent). */
  readonly cookieAttributes: string;
  /** One signer per backend choice of the rule (the token says which choice it belongs to). */
  readonly signers: readonly (SessionPersistence | undefined)[];
}

export interface RuleRuntime {
  /** From a GRPCRoute: errors become gRPC statuses, the upstream is spoken to in h2c. */
  readonly grpc: boolean;
  /** The WAF that inspects this rule's requests (WafPolicy: rule > route > Gateway). */
  readonly waf?: WafRuntime;
  readonly routeId: string;
  readonly ruleIndex: number;
  /** `namespace/name/rule-index`, or the rule name when set: used in logs and metrics. */
  readonly label: string;
  readonly requestHeaders?: HeaderMods;
  readonly responseHeaders?: HeaderMods;
  readonly redirect?: RedirectSpec;
  readonly rewrite?: RewriteSpec;
  /** The CORS filter: preflights answered by the gateway, Access-Control-* on answers (src/dataplane/cors.ts). */
  readonly cors?: CorsRuntime;
  readonly backends: readonly BackendChoice[];
  readonly totalWeight: number;
  /** Gateway API sessionPersistence: a signed token (cookie or header) pins a client to an endpoint. */
  readonly session?: SessionRuntime;
  /** HTTPRoute retry (Gateway API): overrides the Backend's retry policy for this rule. */
  readonly retry?: RetryPolicy;
  /** RequestMirror: a copy of each request (this share of them) to these backends, answers ignored. */
  readonly mirrors: readonly { readonly backend: BackendRuntime; readonly percent: number; readonly sampler: { n: number } }[];
  /** ms, 0 = none */
  readonly requestTimeoutMs: number;
  readonly backendTimeoutMs: number;
}

export interface ClientRuntime {
  /** Proxies trusted to report the client address in X-Forwarded-For / Forwarded. */
  readonly trusted: BlockList;
  /** Also send RFC 7239 Forwarded. */
  readonly forwarded: boolean;
  /** X-Forwarded-Client-Cert: always dropped from client input; SanitizeSet sets it from the verified certificate. */
  readonly xfcc: 'Sanitize' | 'SanitizeSet';
}

export interface ListenerRuntime {
  /** `namespace/gateway/listener` */
  readonly id: string;
  /** HTTPS listeners: the certificates (all of them: RSA and ECDSA side by side) chosen by SNI. */
  readonly tls?: SecureContext;
  readonly client?: ClientRuntime;
  readonly hostname?: string;
  readonly router: HttpRouter<RuleRuntime>;
  /** HTTPS listeners with a ClientTrafficPolicy hsts: the Strict-Transport-Security value, built once. */
  readonly hsts?: string;
  /** HTTPS listeners: the PEM chains served, with the certificateRef each came from (inventory, metrics). */
  readonly certificates?: readonly { readonly ref: string; readonly chain: string }[];
}

export interface PortRuntime {
  /** `address:port` — the socket identity; sockets survive swaps when it stays the same. */
  readonly key: string;
  readonly address: string;
  readonly port: number;
  /** TLS: only TLS listeners (Passthrough and Terminate, src/tls); an HTTPS port may have them too (`passthrough`). */
  readonly protocol: 'HTTP' | 'HTTPS' | 'TLS';
  /** HTTPS: the context for clients that send no SNI (the listener without hostname, else the first). */
  readonly defaultTls?: { readonly context: SecureContext; readonly cert: readonly string[]; readonly key: readonly string[] };
  /** Client certificates: requested on this port, required unless AllowInsecureFallback, verified against `ca`. */
  readonly clientAuth?: { readonly ca: string; readonly mode: 'AllowValidOnly' | 'AllowInsecureFallback' };
  readonly listeners: HostTable<ListenerRuntime>;
  /** TLS listeners (Passthrough and Terminate) of this port: connections routed by the ClientHello's SNI. */
  readonly passthrough?: PassthroughRuntime;
}

export interface Runtime {
  /** Content hash of the config (first 16 hex chars of SHA-256). */
  readonly version: string;
  readonly createdAt: string;
  readonly ports: ReadonlyMap<string, PortRuntime>;
  readonly backends: ReadonlyMap<string, BackendRuntime>;
  readonly status: StatusMap;
  /** Warnings that did not stop the config. */
  readonly warnings: readonly Diagnostic[];
  /** The resources as loaded, secrets redacted, for the admin API. */
  readonly config: readonly unknown[];
  readonly sources: readonly string[];
  /** The compiled WAF rule sets this config uses (to let the WAF cache drop the others). */
  readonly wafs: readonly WafRuntime[];
}

/** The one mutable cell: the current Runtime. Swapped with a single assignment. */
export class RuntimeHolder {
  current: Runtime | null = null;
}
