// TLS listeners (Passthrough and Terminate) -> the SNI tables a port's accepting socket reads
// (src/tls/passthrough.ts, src/tls/terminate.ts). Done once per config: lookups on a connection
// are a Map get or two.
import type { SecureContext } from 'node:tls';
import type { GatewayIR, ListenerTlsIR } from '../config/semantic.ts';
import { durationMs } from '../config/semantic.ts';
import { HostTable } from '../router/http-router.ts';
import type { BackendRuntime, PortRuntime } from '../runtime/runtime.ts';
import { DEFAULT_HELLO_TIMEOUT_MS, DEFAULT_MAX_HELLO_BYTES } from './client-hello.ts';
import { byHostSpecificity, olderFirst } from './semantic.ts';

export interface TlsBackendChoice {
  /** undefined: an invalid backendRef; its share of connections is refused. */
  readonly backend?: BackendRuntime;
  readonly weight: number;
  /** Close a connection with no bytes either way for this long (BackendTrafficPolicy timeout.idle; default 1 h, Envoy's tcp_proxy default). */
  readonly idleTimeoutMs: number;
}

export interface TlsRouteRuntime {
  /** `TLSRoute/ns/name` */
  readonly id: string;
  /** `ns/name[/rule]`: logs and metrics. */
  readonly label: string;
  readonly choices: readonly TlsBackendChoice[];
  readonly totalWeight: number;
}

export interface PassthroughListener {
  /** `namespace/gateway/listener` */
  readonly id: string;
  readonly hostname?: string;
  /** Routes by SNI name: exact names first, then the longest wildcard suffix, then a catch-all. */
  readonly routes: HostTable<TlsRouteRuntime>;
  /** Terminate mode: the gateway completes the handshake with these settings, then relays plaintext. */
  readonly terminate?: TerminateRuntime;
}

export interface TerminateRuntime {
  /** The listener's certificates (RSA and ECDSA side by side), TLS_DEFAULTS, client CAs: built like an HTTPS listener's. */
  readonly context: SecureContext;
  /** Client certificates (Gateway spec.tls.frontend for this port): requested, required unless AllowInsecureFallback. */
  readonly clientAuth?: { readonly ca: string; readonly mode: 'AllowValidOnly' | 'AllowInsecureFallback' };
  /** The PEM chains served, with the certificateRef each came from. */
  readonly certificates: readonly { readonly ref: string; readonly chain: string }[];
}

export interface PassthroughRuntime {
  /**
   * Listener by SNI. `null` marks a terminating (HTTPS) listener of the same port: its hostnames
   * go to the TLS server, the rest to TCP. Listener precedence is the HTTP one: exact hostname,
   * then the longest wildcard, then the listener without hostname.
   */
  readonly listeners: HostTable<PassthroughListener | null>;
  /** The port also has HTTPS listeners: connections no passthrough listener owns are terminated. */
  readonly terminates: boolean;
  readonly helloTimeoutMs: number;
  readonly maxHelloBytes: number;
}

/** Envoy's tcp_proxy idle_timeout default: long-lived database sessions are normal on TCP. */
export const DEFAULT_TCP_IDLE_TIMEOUT_MS = 3_600_000;

type MutablePort = { -readonly [K in keyof PortRuntime]: PortRuntime[K] };

/**
 * Add the TLS listeners of `ir` to `ports`: on a port that already has HTTPS listeners (mixed
 * terminate/passthrough), to that port; otherwise to a port of their own (protocol TLS).
 */
export function compilePassthrough(ir: GatewayIR, ports: Map<string, PortRuntime>, backends: ReadonlyMap<string, BackendRuntime>, contextFor?: (t: ListenerTlsIR) => SecureContext): void {
  const routeCache = new Map<string, TlsRouteRuntime>();
  for (const l of ir.listeners) {
    if (l.protocol !== 'TLS') continue;
    let port = [...ports.values()].find((p) => p.protocol === 'HTTPS' && p.port === l.port && p.address === l.address) as MutablePort | undefined;
    if (!port) {
      // The HTTPS socket identity: adding or removing HTTPS listeners beside passthrough ones
      // keeps the socket, and with it every open connection (the gateway serves both kinds).
      const key = `https://${l.address}:${l.port}`;
      port = ports.get(key) as MutablePort | undefined;
      if (!port) { port = { key, address: l.address, port: l.port, protocol: 'TLS', listeners: new HostTable() }; ports.set(key, port); }
    }
    if (!port.passthrough) {
      const table = new HostTable<PassthroughListener | null>();
      // Mixed port: the terminating listeners' hostnames stay with the TLS server.
      for (const [host] of port.listeners.entriesWithKeys()) table.getOrCreate(host, () => null);
      port.passthrough = { listeners: table, terminates: port.protocol === 'HTTPS', helloTimeoutMs: DEFAULT_HELLO_TIMEOUT_MS, maxHelloBytes: DEFAULT_MAX_HELLO_BYTES };
    }
    const [, ns, gw] = l.gateway.split('/');
    const routes = new HostTable<TlsRouteRuntime>();
    // Oldest route first: getOrCreate keeps the first route for a name (semantic.ts warns about the rest).
    const atts = l.attachments.map((a) => ({ a, r: ir.tlsRoutes?.get(a.route) })).filter((x) => x.r !== undefined)
      .sort((x, y) => olderFirst(x.r!, y.r!));
    for (const { a, r } of atts) {
      let rt = routeCache.get(r!.id);
      if (!rt) {
        const choices = r!.backendRefs.map((b) => {
          const idle = b.backend ? ir.backends.get(b.backend)?.policy?.spec.timeout?.idle : undefined;
          return { backend: b.backend ? backends.get(b.backend) : undefined, weight: b.weight, idleTimeoutMs: idle ? durationMs(idle) : DEFAULT_TCP_IDLE_TIMEOUT_MS };
        });
        rt = { id: r!.id, label: r!.label, choices: choices.filter((c) => c.weight > 0), totalWeight: choices.reduce((s, c) => s + c.weight, 0) };
        routeCache.set(r!.id, rt);
      }
      const route = rt;
      for (const h of a.hostnames.length ? a.hostnames : ['']) routes.getOrCreate(h, () => route);
    }
    // Terminate mode: semantic.ts resolved tls (certificates, client validation) as for HTTPS.
    const terminate: TerminateRuntime | undefined = l.tls && contextFor ? {
      context: contextFor(l.tls),
      ...(l.tls.clientValidation ? { clientAuth: l.tls.clientValidation } : {}),
      certificates: l.tls.certs.map((c) => ({ ref: c.ref, chain: c.cert })),
    } : undefined;
    const entry: PassthroughListener = { id: `${ns}/${gw}/${l.name}`, hostname: l.hostname, routes, ...(terminate ? { terminate } : {}) };
    // A passthrough listener and a terminating one with the same hostname conflict (semantic.ts).
    port.passthrough.listeners.getOrCreate(l.hostname ?? '', () => entry);
  }
}

/**
 * The connection's route: listener by SNI, then route by SNI within it. `terminate` when a
 * terminating listener of the port owns the name (mixed port). No SNI never matches a
 * passthrough listener, not even a catch-all route: there is nothing to route on, and a client
 * that sends no SNI is not one a name-routed backend expects (decision; see docs/tls-passthrough.md).
 */
export function routeBySni(pt: PassthroughRuntime, sni: string | undefined): { kind: 'route'; listener: PassthroughListener; route: TlsRouteRuntime } | { kind: 'terminate' } | { kind: 'no-route'; listener?: PassthroughListener } {
  const l = sni === undefined ? undefined : pt.listeners.lookup(sni);
  // Mixed port: whatever no passthrough listener owns (no SNI included) is the TLS server's, as
  // it was before the passthrough listener was added.
  if (l === null || (l === undefined && pt.terminates)) return { kind: 'terminate' };
  if (l === undefined || sni === undefined) return { kind: 'no-route' };
  const route = l.routes.lookup(sni);
  return route ? { kind: 'route', listener: l, route } : { kind: 'no-route', listener: l };
}

/** Pick a backend by weight (invalid refs take their share and get undefined), then an endpoint. */
export function pickChoice(route: TlsRouteRuntime, rnd = Math.random): TlsBackendChoice | undefined {
  if (route.totalWeight <= 0) return undefined;
  let x = rnd() * route.totalWeight;
  for (const c of route.choices) { if ((x -= c.weight) < 0) return c; }
  return undefined; // the share of invalid (dropped) refs
}

/** For golden tests and debugging: the SNI tables of a port, most specific first. */
export function describePassthrough(pt: PassthroughRuntime): unknown {
  return pt.listeners.entriesWithKeys().sort(([a], [b]) => byHostSpecificity(a, b)).map(([host, l]) => l === null ? { host, listener: 'terminate (HTTPS)' } : {
    host,
    listener: l.id,
    ...(l.terminate ? { mode: 'Terminate' } : {}),
    sni: l.routes.entriesWithKeys().map(([h, r]) => `${h} -> ${r.label} ${r.choices.map((c) => `${c.backend?.id ?? 'INVALID'}*${c.weight}`).join(' ')}`),
  });
}
