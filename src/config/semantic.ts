// Stage 3: what a Gateway API controller does. Resolves references, attaches routes to listeners,
// detects listener conflicts and hostname mismatches, writes the status conditions a controller
// would write, and produces the intermediate representation (IR) that the compiler turns into a
// Runtime. The IR knows nothing about files or YAML (Envoy Gateway's habit).
import crypto from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import { formatPath, type Diagnostic } from './diagnostics.ts';
import type { WafLoad, WafRuntime } from '../compiler/waf.ts';
import { attachParentRef, cond } from './attach.ts';
import { GATEWAY_GROUP, PORTCULLIS_GROUP, type BackendT, type BackendTrafficPolicyT, type ClientTrafficPolicyT, type GatewayClassT, type GRPCRouteT, type HTTPRouteRuleT, type SecretT, type WafPolicyT, type GatewayT, type HTTPBackendRefT, type HTTPRouteFilterT, type HTTPRouteMatchT, type HTTPRouteT, type ListenerT, type NamespaceT, type ReferenceGrantT } from './schema.ts';
import { resourceId, type Resource } from './validate-schema.ts';
import { analyzeBackendTls, type BackendTlsIR } from './backend-tls.ts';
import { checkCors } from './cors.ts';
import { analyzeTlsRoutes, checkTlsListener, type TLSRouteIR } from '../tls/semantic.ts';
import { analyzeCertificates, resolveManagedRef, type CertificatesIR, type IssuedLookup } from '../certs/config.ts';

export const CONTROLLER_NAME = 'portcullis.dev/gateway-controller';

// ---------------------------------------------------------------- IR
export interface EndpointIR { readonly address: string; readonly port: number; readonly weight: number }
export interface BackendIR {
  readonly id: string; readonly namespace: string; readonly name: string; readonly endpoints: readonly EndpointIR[];
  readonly appProtocol: 'http' | 'h2c';
  /** The BackendTrafficPolicy attached to this Backend, if any. */
  policy?: { readonly id: string; readonly spec: BackendTrafficPolicyT['spec'] };
  /** BackendTLSPolicy: TLS to the endpoints, or an error that makes every reference to it fail closed. */
  tls?: BackendTlsIR;
}
export interface BackendRefIR {
  /** Backend id when resolved; undefined makes the ref invalid (its share of traffic gets 500). */
  readonly backend?: string;
  readonly weight: number;
  readonly filters: readonly HTTPRouteFilterT[];
}
export interface MirrorIR { readonly backend: string; readonly percent: number }
export interface HTTPRouteRuleIR {
  readonly mirrors: readonly MirrorIR[];
  readonly index: number;
  readonly name?: string;
  readonly matches: readonly HTTPRouteMatchT[];
  readonly filters: readonly HTTPRouteFilterT[];
  readonly backendRefs: readonly BackendRefIR[];
  readonly timeouts?: { readonly request?: string; readonly backendRequest?: string };
  readonly sessionPersistence?: HTTPRouteRuleT['sessionPersistence'];
  readonly retry?: HTTPRouteRuleT['retry'];
}
export interface HTTPRouteIR {
  /** A GRPCRoute: errors are gRPC statuses, backends speak h2c. */
  readonly grpc?: boolean;
  readonly id: string;
  readonly namespace: string;
  readonly name: string;
  /** ISO timestamp or '' (ties: oldest first, then namespace/name). */
  readonly creationTimestamp: string;
  readonly rules: readonly HTTPRouteRuleIR[];
}
export interface AttachmentIR { readonly route: string; readonly hostnames: readonly string[] }
export interface ClientPolicyIR { readonly id: string; readonly trustedCIDRs: readonly string[]; readonly forwarded: boolean; readonly xfcc: 'Sanitize' | 'SanitizeSet'; readonly hsts?: HstsIR }
/** Strict-Transport-Security for the Gateway's HTTPS listeners (never sent on plain HTTP, RFC 6797 §7.2). */
export interface HstsIR { readonly maxAge: number; readonly includeSubDomains: boolean; readonly preload: boolean }
/** PEM certificate chains and keys a TLS listener serves (RSA and ECDSA may sit side by side). */
export interface ListenerTlsIR {
  readonly certs: readonly { readonly cert: string; readonly key: string; readonly ref: string }[];
  /** Client certificate validation (Gateway spec.tls.frontend), for this listener's port. */
  readonly clientValidation?: { readonly ca: string; readonly mode: 'AllowValidOnly' | 'AllowInsecureFallback' };
}
export interface ListenerIR {
  readonly tls?: ListenerTlsIR;
  readonly gateway: string;
  readonly client?: ClientPolicyIR;
  readonly name: string;
  readonly protocol: string;
  readonly port: number;
  readonly address: string;
  readonly hostname?: string;
  readonly attachments: readonly AttachmentIR[];
}
export interface GatewayIR {
  /** WafPolicy by target: `Gateway/ns/name`, `HTTPRoute/ns/name`, or `HTTPRoute/ns/name#rule` (most specific wins). */
  readonly waf: ReadonlyMap<string, WafRuntime>;
  readonly listeners: readonly ListenerIR[];
  readonly routes: ReadonlyMap<string, HTTPRouteIR>;
  readonly backends: ReadonlyMap<string, BackendIR>;
  /** TLSRoutes (Passthrough), by id; listeners of protocol TLS attach them (src/tls). */
  readonly tlsRoutes?: ReadonlyMap<string, TLSRouteIR>;
  /** Issuer and Certificate resources (src/certs). */
  readonly certificates?: CertificatesIR;
}

export interface Condition { type: string; status: 'True' | 'False' | 'Unknown'; reason: string; message: string; observedGeneration: number }
export type StatusMap = Record<string, Record<string, unknown>>;

export interface SemanticResult { ir: GatewayIR; status: StatusMap; diagnostics: Diagnostic[] }

const SUPPORTED_PROTOCOLS = new Set(['HTTP', 'HTTPS', 'TLS']);
const ROUTE_KINDS_FOR: Record<string, string[]> = { HTTP: ['HTTPRoute', 'GRPCRoute'], HTTPS: ['HTTPRoute', 'GRPCRoute'], TLS: ['TLSRoute'], TCP: ['TCPRoute'], UDP: ['UDPRoute'] };
/** Filters whose behaviour the data plane implements. Anything else is refused (fail closed). */
const SUPPORTED_FILTERS = new Set(['RequestHeaderModifier', 'ResponseHeaderModifier', 'RequestRedirect', 'URLRewrite', 'RequestMirror', 'CORS']);
const FILTER_FIELD: Record<string, keyof HTTPRouteFilterT> = {
  RequestHeaderModifier: 'requestHeaderModifier', ResponseHeaderModifier: 'responseHeaderModifier', RequestRedirect: 'requestRedirect',
  URLRewrite: 'urlRewrite', RequestMirror: 'requestMirror', CORS: 'cors', ExtensionRef: 'extensionRef',
};

export interface AnalyzeOptions {
  /** Compiles a WafPolicy's rule set (cached by the caller); without it WafPolicies are only checked. */
  readonly wafLoader?: (policyId: string, spec: WafPolicyT['spec'], baseDir: string) => WafLoad;
  /** Certificates issued by the running gateway (src/certs/service.ts); without it Certificates are pending. */
  readonly issued?: IssuedLookup;
}

export function analyze(resources: readonly Resource[], aopts: AnalyzeOptions = {}): SemanticResult {
  const diagnostics: Diagnostic[] = [];
  const status: StatusMap = {};
  const byKind = <T>(k: string) => resources.filter((r) => r.kind === k) as Resource<T>[];
  const classes = new Map(byKind<GatewayClassT>('GatewayClass').map((r) => [r.name, r]));
  const gateways = byKind<GatewayT>('Gateway');
  // GRPCRoutes are routed by the same machinery: a gRPC method is the HTTP/2 path /service/method.
  const routes = [...byKind<HTTPRouteT>('HTTPRoute'), ...byKind<GRPCRouteT>('GRPCRoute').map(grpcAsHttpRoute)];
  const backendsRes = byKind<BackendT>('Backend');
  const grants = byKind<ReferenceGrantT>('ReferenceGrant');
  const namespaces = new Map(byKind<NamespaceT>('Namespace').map((r) => [r.name, r]));

  const report = (r: Resource, p: (string | number)[], message: string, hint?: string, severity: 'error' | 'warning' = 'error', code = 'PCS_ERR_CONFIG_SEMANTIC') => {
    const pos = r.src.locate(p);
    diagnostics.push({ file: r.src.file, line: pos.line, col: pos.col, phase: 'semantic', severity, resource: r.id, path: formatPath(p), message, hint, code });
  };
  const gen = (r: Resource) => (r.doc.metadata?.generation as number | undefined) ?? 1;

  // ---- GatewayClass
  for (const c of classes.values()) {
    const ok = c.doc.spec.controllerName === CONTROLLER_NAME;
    status[c.id] = { conditions: [cond('Accepted', ok, ok ? 'Accepted' : 'Unsupported', ok ? 'handled by Portcullis' : `controllerName is not ${CONTROLLER_NAME}`, gen(c))] };
    if (!ok) report(c, ['spec', 'controllerName'], `controllerName "${c.doc.spec.controllerName}" is not handled by Portcullis`, `set it to ${CONTROLLER_NAME}`, 'warning');
  }

  // ---- Backends
  const backends = new Map<string, BackendIR>();
  for (const b of backendsRes) {
    const endpoints: EndpointIR[] = [];
    b.doc.spec.endpoints.forEach((e, i) => {
      if (e.port === undefined) {
        report(b, ['spec', 'endpoints', i], `endpoint ${e.address} has no port`, 'add port: <1-65535>');
        return;
      }
      endpoints.push({ address: e.address, port: e.port, weight: e.weight ?? 1 });
    });
    backends.set(b.id, { id: b.id, namespace: b.namespace, name: b.name, endpoints, appProtocol: b.doc.spec.appProtocol ?? 'http' });
    status[b.id] = { conditions: [cond('Accepted', endpoints.length > 0, endpoints.length ? 'Accepted' : 'Invalid', `${endpoints.length} endpoint(s)`, gen(b))] };
  }

  // ---- BackendTrafficPolicy: attached to Backends by targetRefs. Two policies on one Backend:
  // the oldest (creationTimestamp, then namespace/name) wins and the other is Conflicted, as
  // Gateway API policy attachment (GEP-713) orders them.
  const policies = byKind<BackendTrafficPolicyT>('BackendTrafficPolicy').sort(oldestFirst);
  for (const pol of policies) {
    const g = gen(pol);
    const conds: Condition[] = [];
    const spec = pol.doc.spec;
    let ok = checkPolicy(spec, (p, m, h) => report(pol, ['spec', ...p], m, h));
    spec.targetRefs.forEach((t, ti) => {
      const tp = ['spec', 'targetRefs', ti];
      if (t.group !== PORTCULLIS_GROUP || t.kind !== 'Backend') { report(pol, tp, `targetRef ${t.group}/${t.kind} is not supported`, `target a Backend: { group: ${PORTCULLIS_GROUP}, kind: Backend, name: ... }`); ok = false; return; }
      const b = backends.get(resourceId('Backend', pol.namespace, t.name));
      if (!b) { report(pol, [...tp, 'name'], `Backend ${pol.namespace}/${t.name} not found`, 'policies attach to Backends in their own namespace'); conds.push(cond('Accepted', false, 'TargetNotFound', `Backend ${t.name} not found`, g)); ok = false; return; }
      if (b.policy) { report(pol, [...tp, 'name'], `Backend ${t.name} already has BackendTrafficPolicy ${b.policy.id}`, 'merge the two policies; the older one applies', 'warning'); conds.push(cond('Accepted', false, 'Conflicted', `superseded by ${b.policy.id} on ${t.name}`, g)); return; }
      if (ok) b.policy = { id: pol.id, spec };
    });
    if (!conds.length) conds.push(cond('Accepted', ok, ok ? 'Accepted' : 'Invalid', ok ? 'policy attached' : 'policy is not valid', g));
    status[pol.id] = { conditions: conds };
  }

  // ---- TLS certificates: Secrets of type kubernetes.io/tls, checked the way a TLS stack will use
  // them (parseable chain, parseable key, key matches the leaf), so a bad one fails validation.
  const secrets = new Map(byKind<SecretT>('Secret').map((r) => [r.id, r]));
  const certIR = analyzeCertificates(resources, report, status, aopts.issued);
  function resolveCertificateRef(ref: { group?: string; kind?: string; name: string; namespace?: string }, gwNs: string): { cert: string; key: string; ref: string } | { pending: string } | { error: string; reason: string; hint: string; field?: string } {
    const group = ref.group ?? '';
    const kind = ref.kind ?? 'Secret';
    if (group !== '' || kind !== 'Secret') return { error: `certificateRef kind ${group ? group + '/' : ''}${kind} is not supported`, reason: 'InvalidCertificateRef', hint: 'reference a Secret (group "", kind Secret) of type kubernetes.io/tls', field: 'kind' };
    const ns = ref.namespace ?? gwNs;
    if (ns !== gwNs && !grants.some((g) => g.namespace === ns && g.doc.spec.from.some((f) => f.group === GATEWAY_GROUP && f.kind === 'Gateway' && f.namespace === gwNs) && g.doc.spec.to.some((t) => t.group === '' && t.kind === 'Secret' && (!t.name || t.name === ref.name)))) {
      return { error: `certificateRef to Secret ${ns}/${ref.name} in another namespace is not permitted`, reason: 'RefNotPermitted', hint: `add a ReferenceGrant in ${ns} from Gateway in ${gwNs} to Secret`, field: 'namespace' };
    }
    // A Certificate's secretName stands for the Secret cert-manager would write.
    const managed = resolveManagedRef(certIR, aopts.issued, ns, ref.name);
    if (managed) return managed;
    const sec = secrets.get(resourceId('Secret', ns, ref.name));
    if (!sec) return { error: `Secret ${ns}/${ref.name} not found`, reason: 'InvalidCertificateRef', hint: 'define a Secret of type kubernetes.io/tls with tls.crt and tls.key', field: 'name' };
    const get = (k: string) => sec.doc.stringData?.[k] ?? (sec.doc.data?.[k] !== undefined ? Buffer.from(sec.doc.data[k], 'base64').toString('utf8') : undefined);
    const cert = get('tls.crt'), key = get('tls.key');
    if (!cert || !key) return { error: `Secret ${ns}/${ref.name} has no tls.crt and tls.key`, reason: 'InvalidCertificateRef', hint: 'set stringData (PEM) or data (base64 PEM) with tls.crt and tls.key' };
    try {
      const leaf = new crypto.X509Certificate(cert);
      const pk = crypto.createPrivateKey(key);
      if (!leaf.checkPrivateKey(pk)) return { error: `Secret ${ns}/${ref.name}: tls.key does not belong to the certificate in tls.crt`, reason: 'InvalidCertificateRef', hint: 'put the key that matches the first certificate of tls.crt' };
    } catch (err) {
      return { error: `Secret ${ns}/${ref.name}: ${(err as Error).message}`, reason: 'InvalidCertificateRef', hint: 'tls.crt must be PEM certificates (leaf first), tls.key a PEM private key' };
    }
    return { cert, key, ref: `${ns}/${ref.name}` };
  }

  function resolveCaRef(ref: { group?: string; kind: string; name: string; namespace?: string }, gwNs: string): { pem: string } | { error: string; hint: string } {
    if ((ref.group ?? '') !== '' || (ref.kind !== 'ConfigMap' && ref.kind !== 'Secret')) return { error: `caCertificateRef kind ${ref.kind} is not supported`, hint: 'reference a ConfigMap or Secret with a ca.crt entry' };
    const ns = ref.namespace ?? gwNs;
    const r = resources.find((x) => x.id === resourceId(ref.kind, ns, ref.name));
    if (!r) return { error: `${ref.kind} ${ns}/${ref.name} not found`, hint: 'define it with a PEM bundle under ca.crt' };
    const d = r.doc as { data?: Record<string, string>; stringData?: Record<string, string> };
    const pem = ref.kind === 'ConfigMap' ? d.data?.['ca.crt'] : d.stringData?.['ca.crt'] ?? (d.data?.['ca.crt'] ? Buffer.from(d.data['ca.crt'], 'base64').toString('utf8') : undefined);
    if (!pem) return { error: `${ref.kind} ${ns}/${ref.name} has no ca.crt`, hint: 'put the PEM CA bundle under ca.crt' };
    try { new crypto.X509Certificate(pem); } catch (err) { return { error: `${ref.kind} ${ns}/${ref.name}: ca.crt is not a PEM certificate (${(err as Error).message})`, hint: 'put PEM certificates under ca.crt' }; }
    return { pem };
  }

  // ---- Gateways and listeners
  interface LState { tls?: ListenerTlsIR; gw: Resource<GatewayT>; l: ListenerT; index: number; address: string; conds: Map<string, Condition>; kinds: string[]; usable: boolean; attached: number; attachments: AttachmentIR[]; pending?: string }
  const lstates: LState[] = [];
  for (const gw of gateways) {
    const g = gen(gw);
    const spec = gw.doc.spec;
    const cls = classes.get(spec.gatewayClassName);
    const classOk = !cls || cls.doc.spec.controllerName === CONTROLLER_NAME;
    if (!classOk) report(gw, ['spec', 'gatewayClassName'], `GatewayClass "${spec.gatewayClassName}" is not handled by Portcullis`, `use a GatewayClass whose controllerName is ${CONTROLLER_NAME}`);
    let address = '0.0.0.0';
    (spec.addresses ?? []).forEach((a, i) => {
      if ((a.type ?? 'IPAddress') !== 'IPAddress' || !isIP(a.value)) report(gw, ['spec', 'addresses', i], `unsupported address ${a.type ?? 'IPAddress'} "${a.value}"`, 'use type: IPAddress with an IPv4 or IPv6 address to bind to');
      else if (i === 0) address = a.value;
    });
    const names = new Set<string>();
    spec.listeners.forEach((l, index) => {
      const conds = new Map<string, Condition>();
      let usable = true;
      let pending: string | undefined;
      const p = ['spec', 'listeners', index];
      if (names.has(l.name)) { report(gw, [...p, 'name'], `duplicate listener name "${l.name}"`, 'listener names must be unique within a Gateway'); usable = false; }
      names.add(l.name);
      if (!SUPPORTED_PROTOCOLS.has(l.protocol)) {
        const known = ROUTE_KINDS_FOR[l.protocol] !== undefined;
        conds.set('Accepted', cond('Accepted', false, 'UnsupportedProtocol', `protocol ${l.protocol} is not supported${known ? ' yet' : ''}`, g));
        report(gw, [...p, 'protocol'], `protocol "${l.protocol}" is not supported${known ? ' by this version' : ''}`, `supported: ${[...SUPPORTED_PROTOCOLS].join(', ')}`);
        usable = false;
      }
      if (l.tls && (l.protocol === 'HTTP' || l.protocol === 'TCP' || l.protocol === 'UDP')) {
        report(gw, [...p, 'tls'], `tls is not allowed on a ${l.protocol} listener`, 'remove tls, or use protocol HTTPS/TLS');
        conds.set('Accepted', cond('Accepted', false, 'UnsupportedValue', 'tls set on a non-TLS listener', g));
        usable = false;
      }
      let tls: ListenerTlsIR | undefined;
      // TLS listeners in Terminate mode (src/tls/terminate.ts) resolve certificates exactly as HTTPS ones do.
      if (l.protocol === 'HTTPS' || (l.protocol === 'TLS' && l.tls && (l.tls.mode ?? 'Terminate') === 'Terminate')) {
        const mode = l.tls?.mode ?? 'Terminate';
        const refs = l.tls?.certificateRefs ?? [];
        if (mode !== 'Terminate') { report(gw, [...p, 'tls', 'mode'], 'an HTTPS listener terminates TLS', 'use mode: Terminate, or protocol TLS for Passthrough'); usable = false; }
        else if (!refs.length) {
          conds.set('ResolvedRefs', cond('ResolvedRefs', false, 'InvalidCertificateRef', 'no certificateRefs', g));
          report(gw, [...p, 'tls'], l.protocol === 'TLS' ? 'a TLS listener in Terminate mode needs tls.certificateRefs' : 'an HTTPS listener needs tls.certificateRefs', `add certificateRefs: [{ name: my-cert }] naming a Secret of type kubernetes.io/tls${l.protocol === 'TLS' ? ', or use mode: Passthrough to let the backend terminate TLS' : ''}`); usable = false;
        } else {
          const certs: ListenerTlsIR['certs'][number][] = [];
          refs.forEach((ref, ri) => {
            const rp = [...p, 'tls', 'certificateRefs', ri];
            const r = resolveCertificateRef(ref, gw.namespace);
            // Not issued yet: no error (the gateway issues it and reloads); the listener waits for
            // its first certificate, other refs of the listener are served meanwhile.
            if ('pending' in r) { conds.set('ResolvedRefs', cond('ResolvedRefs', false, 'CertificatePending', r.pending, g)); pending = r.pending; return; }
            if ('error' in r) {
              conds.set('ResolvedRefs', cond('ResolvedRefs', false, r.reason, r.error, g));
              report(gw, r.field ? [...rp, r.field] : rp, r.error, r.hint); usable = false;
            } else certs.push(r);
          });
          if (pending && !certs.length) usable = false;
          const v = (spec.tls?.frontend?.perPort ?? []).find((x) => x.port === l.port)?.tls.validation ?? spec.tls?.frontend?.default?.validation;
          let clientValidation: ListenerTlsIR['clientValidation'];
          if (v) {
            const cas: string[] = [];
            v.caCertificateRefs.forEach((ref, ci) => {
              const r = resolveCaRef(ref, gw.namespace);
              if ('error' in r) {
                conds.set('ResolvedRefs', cond('ResolvedRefs', false, 'InvalidCACertificateRef', r.error, g));
                report(gw, ['spec', 'tls', 'frontend', 'caCertificateRefs', ci], r.error, r.hint); usable = false;
              } else cas.push(r.pem);
            });
            if (cas.length) clientValidation = { ca: cas.join('\n'), mode: v.mode ?? 'AllowValidOnly' };
          }
          tls = { certs, ...(clientValidation ? { clientValidation } : {}) };
        }
      }
      if (l.protocol === 'TLS' && !checkTlsListener(gw, l, p, g, report, (c) => conds.set(c.type, c))) usable = false;
      if (l.hostname && (l.protocol === 'TCP' || l.protocol === 'UDP')) {
        report(gw, [...p, 'hostname'], `hostname is not allowed on a ${l.protocol} listener`, 'remove hostname');
        usable = false;
      }
      // Route kinds
      const defaults = ROUTE_KINDS_FOR[l.protocol] ?? [];
      let kinds = defaults;
      if (l.allowedRoutes?.kinds) {
        kinds = [];
        l.allowedRoutes.kinds.forEach((k, ki) => {
          if ((k.group ?? GATEWAY_GROUP) === GATEWAY_GROUP && defaults.includes(k.kind)) kinds.push(k.kind);
          else report(gw, [...p, 'allowedRoutes', 'kinds', ki], `route kind ${k.group ? k.group + '/' : ''}${k.kind} is not supported on a ${l.protocol} listener`, `supported: ${defaults.join(', ') || 'none'}`);
        });
        if (kinds.length !== l.allowedRoutes.kinds.length) conds.set('ResolvedRefs', cond('ResolvedRefs', false, 'InvalidRouteKinds', 'some route kinds are not supported', g));
      }
      lstates.push({ tls, gw, l, index, address, conds, kinds, usable: usable && classOk, attached: 0, attachments: [], pending });
    });
  }

  // ---- listener conflicts, across every Gateway: one process binds each address:port once.
  const byPort = new Map<string, LState[]>();
  for (const s of lstates) {
    const transport = s.l.protocol === 'UDP' ? 'udp' : 'tcp';
    // 0.0.0.0 overlaps every IPv4 address: group by port and check addresses pairwise.
    const key = `${transport}:${s.l.port}`;
    byPort.set(key, [...(byPort.get(key) ?? []), s]);
  }
  for (const group of byPort.values()) {
    for (let i = 0; i < group.length; i++) {
      for (let j = i + 1; j < group.length; j++) {
        const a = group[i], b = group[j];
        if (a.address !== b.address && a.address !== '0.0.0.0' && b.address !== '0.0.0.0') continue;
        let reason: string | null = null;
        const tlsish = (p: string) => p === 'HTTPS' || p === 'TLS';
        if (a.l.protocol !== b.l.protocol && !(tlsish(a.l.protocol) && tlsish(b.l.protocol))) reason = 'ProtocolConflict';
        else if ((a.l.protocol === 'TCP' || a.l.protocol === 'UDP')) reason = 'ProtocolConflict';
        else if ((a.l.hostname ?? '') === (b.l.hostname ?? '')) reason = 'HostnameConflict';
        if (!reason) continue;
        for (const [x, y] of [[a, b], [b, a]] as const) {
          x.conds.set('Conflicted', cond('Conflicted', true, reason, `conflicts with listener ${y.gw.namespace}/${y.gw.name}/${y.l.name}`, gen(x.gw)));
          x.usable = false;
        }
        const at = a.gw.src.locate(['spec', 'listeners', a.index]);
        const other = `"${a.l.name}" of ${a.gw.id} (${a.gw.src.file}:${at.line}:${at.col})`;
        report(b.gw, ['spec', 'listeners', b.index], `listener "${b.l.name}" conflicts with listener ${other}: ${reason === 'HostnameConflict' ? `same port ${b.l.port}, protocol ${b.l.protocol} and hostname "${b.l.hostname ?? '*'}"` : `port ${b.l.port} is used with protocol ${a.l.protocol} and ${b.l.protocol}`}`,
          reason === 'HostnameConflict' ? 'give each listener on a port a distinct hostname, or use another port' : 'use another port for one of them');
      }
    }
  }

  // ---- namespace selection for allowedRoutes
  const nsAllowed = (s: LState, routeNs: string): boolean => {
    const from = s.l.allowedRoutes?.namespaces?.from ?? 'Same';
    if (from === 'All') return true;
    if (from === 'Same') return routeNs === s.gw.namespace;
    const sel = s.l.allowedRoutes?.namespaces?.selector;
    const labels = namespaces.get(routeNs)?.doc.metadata.labels ?? {};
    return sel ? selectorMatches(sel, { ...labels, 'kubernetes.io/metadata.name': routeNs }) : false;
  };

  const grantAllows = (fromKind: string, fromNs: string, toGroup: string, toKind: string, toNs: string, toName: string) =>
    grants.some((g) => g.namespace === toNs
      && g.doc.spec.from.some((f) => f.group === GATEWAY_GROUP && f.kind === fromKind && f.namespace === fromNs)
      && g.doc.spec.to.some((t) => t.group === toGroup && t.kind === toKind && (!t.name || t.name === toName)));

  // ---- HTTPRoutes
  const routeIR = new Map<string, HTTPRouteIR>();
  for (const r of routes) {
    const g = gen(r);
    const spec = r.doc.spec;
    let refsOk = true;
    let refsReason = 'ResolvedRefs';
    let refsMsg = 'all references resolved';
    let acceptedRules = 0;
    let droppedRules = 0;
    const rules: HTTPRouteRuleIR[] = [];
    (spec.rules ?? [{}]).forEach((rule, ri) => {
      const rp = ['spec', 'rules', ri];
      let ruleOk = true;
      const matches: HTTPRouteMatchT[] = (rule.matches && rule.matches.length ? rule.matches : [{}]).map((m) => ({
        ...m, path: { type: m.path?.type ?? 'PathPrefix', value: m.path?.value ?? '/' },
      }));
      matches.forEach((m, mi) => {
        const path = m.path!;
        const mp = [...rp, 'matches', mi, 'path', 'value'];
        if (path.type !== 'RegularExpression' && !path.value!.startsWith('/')) { report(r, mp, `path "${path.value}" must start with "/"`, 'write an absolute path such as /api'); ruleOk = false; }
        if (path.type !== 'RegularExpression' && /\/\/|\/\.\.?(\/|$)|[?#%]/.test(path.value!) && !/%[0-9A-Fa-f]{2}/.test(path.value!)) { report(r, mp, `path "${path.value}" is not a normalized path`, 'remove "//", "/./", "/../", "?" and "#"'); ruleOk = false; }
        if (path.type === 'RegularExpression') ruleOk = checkRegex(path.value!, () => report(r, mp, `invalid regular expression "${path.value}"`, 'use JavaScript RegExp syntax')) && ruleOk;
        (m.headers ?? []).forEach((h, hi) => { if (h.type === 'RegularExpression') ruleOk = checkRegex(h.value, () => report(r, [...rp, 'matches', mi, 'headers', hi, 'value'], `invalid regular expression "${h.value}"`, 'use JavaScript RegExp syntax')) && ruleOk; });
        (m.queryParams ?? []).forEach((q, qi) => { if (q.type === 'RegularExpression') ruleOk = checkRegex(q.value, () => report(r, [...rp, 'matches', mi, 'queryParams', qi, 'value'], `invalid regular expression "${q.value}"`, 'use JavaScript RegExp syntax')) && ruleOk; });
      });
      const filters = rule.filters ?? [];
      ruleOk = checkFilters(filters, [...rp, 'filters'], matches, (p, m, h, sev) => report(r, p, m, h, sev), false, r.kind === 'GRPCRoute') && ruleOk;
      if (rule.timeouts?.request && rule.timeouts.backendRequest && durationMs(rule.timeouts.backendRequest) > durationMs(rule.timeouts.request) && durationMs(rule.timeouts.request) !== 0) {
        report(r, [...rp, 'timeouts', 'backendRequest'], 'backendRequest timeout is longer than the request timeout', 'backendRequest must be ≤ request'); ruleOk = false;
      }
      const mirrors: MirrorIR[] = [];
      filters.forEach((f, fi) => {
        if (f.type !== 'RequestMirror' || !f.requestMirror) return;
        const m = f.requestMirror;
        const res = resolveBackendRef({ ...m.backendRef }, r.namespace);
        if (res.error) {
          refsOk = false; refsReason = res.reason!; refsMsg = res.error;
          report(r, [...rp, 'filters', fi, 'requestMirror', 'backendRef', ...(res.field ? [res.field] : [])], res.error, res.hint);
          return;
        }
        if (m.percent !== undefined && m.fraction) { report(r, [...rp, 'filters', fi, 'requestMirror'], 'set percent or fraction, not both', 'keep one'); ruleOk = false; return; }
        const percent = m.fraction ? (100 * m.fraction.numerator) / (m.fraction.denominator ?? 100) : (m.percent ?? 100);
        if (percent > 100) { report(r, [...rp, 'filters', fi, 'requestMirror', 'fraction'], 'fraction is more than 100%', 'numerator must be ≤ denominator'); ruleOk = false; return; }
        mirrors.push({ backend: res.backend!, percent });
      });
      const backendRefs: BackendRefIR[] = [];
      (rule.backendRefs ?? []).forEach((br, bi) => {
        const bp = [...rp, 'backendRefs', bi];
        const res = resolveBackendRef(br, r.namespace);
        if (res.error) {
          refsOk = false; refsReason = res.reason!; refsMsg = res.error;
          report(r, res.field ? [...bp, res.field] : bp, res.error, res.hint);
        }
        if (br.filters?.length) ruleOk = checkFilters(br.filters, [...bp, 'filters'], matches, (p, m, h) => report(r, p, m, h), true) && ruleOk;
        backendRefs.push({ backend: res.backend, weight: br.weight ?? 1, filters: br.filters ?? [] });
      });
      if (!ruleOk) { droppedRules++; return; }
      acceptedRules++;
      rules.push({ index: ri, name: rule.name, matches, filters, backendRefs, mirrors, timeouts: rule.timeouts, sessionPersistence: rule.sessionPersistence, retry: rule.retry });
    });

    function resolveBackendRef(br: HTTPBackendRefT, routeNs: string): { backend?: string; error?: string; reason?: string; hint?: string; field?: string } {
      const group = br.group ?? '';
      const kind = br.kind ?? 'Service';
      const ns = br.namespace ?? routeNs;
      if (group !== PORTCULLIS_GROUP || kind !== 'Backend') {
        return { error: `backendRef kind ${group ? group + '/' : ''}${kind} is not supported`, reason: 'InvalidKind', hint: `off-cluster, reference a Backend: { group: ${PORTCULLIS_GROUP}, kind: Backend, name: ${br.name} }`, field: br.kind ? 'kind' : undefined };
      }
      const id = resourceId('Backend', ns, br.name);
      if (ns !== routeNs && !grantAllows('HTTPRoute', routeNs, PORTCULLIS_GROUP, 'Backend', ns, br.name)) {
        return { error: `backendRef to ${ns}/${br.name} in another namespace is not permitted`, reason: 'RefNotPermitted', hint: `add a ReferenceGrant in namespace ${ns} from HTTPRoute in ${routeNs}`, field: 'namespace' };
      }
      if (!backends.has(id)) {
        const known = [...backends.values()].filter((b) => b.namespace === ns).map((b) => b.name);
        return { error: `Backend ${ns}/${br.name} not found`, reason: 'BackendNotFound', hint: known.length ? `known Backends in ${ns}: ${known.join(', ')}` : `define a Backend named ${br.name} in namespace ${ns}`, field: 'name' };
      }
      return { backend: id };
    }

    routeIR.set(r.id, { id: r.id, namespace: r.namespace, name: r.name, creationTimestamp: r.doc.metadata.creationTimestamp ?? '', rules, grpc: r.kind === 'GRPCRoute' });

    // Attachment, per parentRef (src/config/attach.ts).
    const parents: Record<string, unknown>[] = [];
    const routeHostnames = spec.hostnames ?? [];
    (spec.parentRefs ?? []).forEach((pr, pi) => {
      const { parentRef, conds } = attachParentRef({
        route: r, pr, index: pi, hostnames: routeHostnames, gen: g, listeners: lstates, gateways,
        allows: (s) => s.kinds.includes(r.kind) && nsAllowed(s, r.namespace),
        attach: acceptedRules > 0,
        notAllowed: (_c, gateway) => ({ message: `no listener of Gateway ${gateway} allows ${r.kind}s from namespace ${r.namespace}`, hint: 'set allowedRoutes.namespaces.from on the listener, or move the route' }),
        report: (p, m, h) => report(r, p, m, h),
      });
      conds.push(cond('ResolvedRefs', refsOk, refsReason, refsMsg, g));
      if (droppedRules > 0 && acceptedRules > 0) conds.push(cond('PartiallyInvalid', true, 'UnsupportedValue', `${droppedRules} rule(s) dropped`, g));
      if (acceptedRules === 0 && droppedRules > 0) {
        const i = conds.findIndex((c) => c.type === 'Accepted');
        conds[i] = cond('Accepted', false, 'UnsupportedValue', 'no rule of the route is valid', g);
      }
      parents.push({ parentRef, controllerName: CONTROLLER_NAME, conditions: conds });
    });
    if (!spec.parentRefs?.length) report(r, ['spec'], 'route has no parentRefs and serves no traffic', 'add parentRefs: [{ name: <gateway> }]', 'warning');
    status[r.id] = { parents };
  }

  // ---- TLSRoutes (src/tls): attach to TLS Passthrough listeners by SNI hostname.
  const tlsRoutes = analyzeTlsRoutes({ resources, listeners: lstates, gateways, backends, status, report, gen, nsAllowed, grantAllows });

  // ---- Gateway status
  for (const gw of gateways) {
    const g = gen(gw);
    const ls = lstates.filter((s) => s.gw === gw);
    const listeners = ls.map((s) => {
      const c = s.conds;
      if (!c.has('Accepted')) c.set('Accepted', cond('Accepted', true, 'Accepted', 'listener accepted', g));
      if (!c.has('Conflicted')) c.set('Conflicted', cond('Conflicted', false, 'NoConflicts', 'no conflicts', g));
      if (!c.has('ResolvedRefs')) c.set('ResolvedRefs', cond('ResolvedRefs', true, 'ResolvedRefs', 'references resolved', g));
      c.set('Programmed', cond('Programmed', s.usable, s.usable ? 'Programmed' : s.pending ? 'Pending' : 'Invalid', s.usable ? 'listener programmed' : s.pending ? `waiting for its certificate: ${s.pending}` : 'listener not programmed', g));
      return { name: s.l.name, supportedKinds: s.kinds.map((k) => ({ group: GATEWAY_GROUP, kind: k })), attachedRoutes: s.attached, conditions: [...c.values()] };
    });
    const allOk = ls.every((s) => s.usable || s.pending); // waiting for a certificate is not invalid
    const anyOk = ls.some((s) => s.usable);
    const f = gw.doc.spec.tls?.frontend;
    const insecure = [f?.default, ...(f?.perPort ?? []).map((x) => x.tls)].some((t) => t?.validation?.mode === 'AllowInsecureFallback');
    status[gw.id] = {
      conditions: [
        ...(insecure ? [cond('InsecureFrontendValidationMode', true, 'ConfigurationChanged', 'client certificates are requested but not required (AllowInsecureFallback)', g)] : []),
        cond('Accepted', anyOk, allOk ? 'Accepted' : 'ListenersNotValid', allOk ? 'gateway accepted' : 'some listeners are not valid', g),
        cond('Programmed', anyOk, anyOk ? 'Programmed' : 'Invalid', anyOk ? 'gateway programmed' : 'no listener could be programmed', g),
      ],
      listeners,
    };
  }

  // ---- ClientTrafficPolicy: attached to Gateways or one listener (sectionName); the oldest wins on a conflict.
  const clientPolicies = new Map<string, ClientPolicyIR>();
  const cps = byKind<ClientTrafficPolicyT>('ClientTrafficPolicy').sort(oldestFirst);
  for (const pol of cps) {
    const g = gen(pol);
    let ok = true;
    const cidrs = pol.doc.spec.clientIPDetection?.xForwardedFor?.trustedCIDRs ?? [];
    cidrs.forEach((c, ci) => { if (!parseCidr(c)) { report(pol, ['spec', 'clientIPDetection', 'xForwardedFor', 'trustedCIDRs', ci], `"${c}" is not a CIDR`, 'write an address and a prefix length, e.g. 10.0.0.0/8 or 2001:db8::/32'); ok = false; } });
    const hsts = checkHsts(pol.doc.spec.hsts, (hp, m, h) => { report(pol, ['spec', 'hsts', ...hp], m, h); ok = false; });
    const conds: Condition[] = [];
    pol.doc.spec.targetRefs.forEach((t, ti) => {
      const tp = ['spec', 'targetRefs', ti];
      if (t.group !== GATEWAY_GROUP || t.kind !== 'Gateway') { report(pol, tp, `targetRef ${t.group}/${t.kind} is not supported`, `target a Gateway: { group: ${GATEWAY_GROUP}, kind: Gateway, name: ... }`); ok = false; return; }
      const gwId = resourceId('Gateway', pol.namespace, t.name);
      if (!gateways.some((x) => x.id === gwId)) { report(pol, [...tp, 'name'], `Gateway ${pol.namespace}/${t.name} not found`, 'policies attach to Gateways in their own namespace'); ok = false; return; }
      // sectionName targets one listener (GEP-713); that policy replaces the Gateway's on it, as in Envoy Gateway.
      const gwListeners = gateways.find((x) => x.id === gwId)!.doc.spec.listeners.filter((l) => !t.sectionName || l.name === t.sectionName);
      if (!gwListeners.length) { report(pol, [...tp, 'sectionName'], `Gateway ${t.name} has no listener named "${t.sectionName}"`, 'name one of its listeners, or remove sectionName to target the whole Gateway'); ok = false; return; }
      const key = t.sectionName ? `${gwId}#${t.sectionName}` : gwId;
      const what = t.sectionName ? `Listener ${t.name}/${t.sectionName}` : `Gateway ${t.name}`;
      if (clientPolicies.has(key)) { report(pol, [...tp, 'name'], `${what} already has ClientTrafficPolicy ${clientPolicies.get(key)!.id}`, 'merge the two policies; the older one applies', 'warning'); conds.push(cond('Accepted', false, 'Conflicted', 'superseded by an older policy', g)); return; }
      if (hsts && ok && !gwListeners.some((l) => l.protocol === 'HTTPS')) report(pol, ['spec', 'hsts'], `${what} ${t.sectionName ? 'is not an HTTPS listener' : 'has no HTTPS listener'}, so hsts has no effect on it`, 'Strict-Transport-Security is only sent over HTTPS (RFC 6797); add an HTTPS listener, or remove hsts', 'warning');
      if (ok) clientPolicies.set(key, { id: pol.id, trustedCIDRs: cidrs, forwarded: pol.doc.spec.headers?.forwarded ?? false, xfcc: pol.doc.spec.headers?.xForwardedClientCert?.mode ?? 'Sanitize', ...(hsts ? { hsts } : {}) });
    });
    if (!conds.length) conds.push(cond('Accepted', ok, ok ? 'Accepted' : 'Invalid', ok ? 'policy attached' : 'policy is not valid', g));
    status[pol.id] = { conditions: conds };
  }

  // ---- WafPolicy: on a Gateway, an HTTPRoute/GRPCRoute, or one named rule of a route.
  const waf = new Map<string, WafRuntime>();
  const wps = byKind<WafPolicyT>('WafPolicy').sort(oldestFirst);
  for (const pol of wps) {
    const g = gen(pol);
    const spec = pol.doc.spec;
    let ok = true;
    if (!spec.ruleSet.crsDir && !spec.ruleSet.files?.length && !spec.ruleSet.directives) { report(pol, ['spec', 'ruleSet'], 'the rule set is empty', 'set ruleSet.crsDir to an OWASP CRS directory, or give files/directives'); ok = false; }
    (spec.exclusions ?? []).forEach((x, xi) => {
      if (!x.ruleIds?.length && !x.tags?.length) { report(pol, ['spec', 'exclusions', xi], 'an exclusion needs ruleIds or tags', 'name the rules it applies to'); ok = false; }
    });
    const keys: string[] = [];
    spec.targetRefs.forEach((t, ti) => {
      const tp = ['spec', 'targetRefs', ti];
      const kindOk = t.group === GATEWAY_GROUP && (t.kind === 'Gateway' || t.kind === 'HTTPRoute' || t.kind === 'GRPCRoute');
      if (!kindOk) { report(pol, tp, `targetRef ${t.group}/${t.kind} is not supported`, 'target a Gateway, an HTTPRoute or a GRPCRoute (group gateway.networking.k8s.io)'); ok = false; return; }
      const id = resourceId(t.kind, pol.namespace, t.name);
      const target = resources.find((r) => r.id === id);
      if (!target) { report(pol, [...tp, 'name'], `${t.kind} ${pol.namespace}/${t.name} not found`, 'policies attach to resources in their own namespace'); ok = false; return; }
      if (t.sectionName) {
        if (t.kind === 'Gateway') { report(pol, [...tp, 'sectionName'], 'a WafPolicy applies to a whole Gateway', 'remove sectionName, or target the routes'); ok = false; return; }
        const ruleNames = ((target.doc.spec.rules ?? []) as { name?: string }[]).map((r) => r.name);
        if (!ruleNames.includes(t.sectionName)) { report(pol, [...tp, 'sectionName'], `${t.kind} ${t.name} has no rule named "${t.sectionName}"`, 'name the rule (rules[].name) or drop sectionName'); ok = false; return; }
      }
      keys.push(t.sectionName ? `${id}#${t.sectionName}` : id);
    });
    let loaded: WafRuntime | undefined;
    if (ok && aopts.wafLoader) {
      const r = aopts.wafLoader(pol.id, spec, path.dirname(path.resolve(pol.src.file)));
      if (r.ok) loaded = r.value;
      else { report(pol, ['spec', 'ruleSet'], r.message, r.hint); ok = false; }
    }
    const conds: Condition[] = [];
    for (const k of keys) {
      if (waf.has(k)) { report(pol, ['spec', 'targetRefs'], `${k} already has WafPolicy ${waf.get(k)!.policyId}`, 'merge the two policies; the older one applies', 'warning'); conds.push(cond('Accepted', false, 'Conflicted', `superseded on ${k}`, g)); continue; }
      if (loaded) waf.set(k, loaded);
    }
    if (!conds.length) conds.push(cond('Accepted', ok, ok ? 'Accepted' : 'Invalid', ok ? `rule set loaded${loaded ? `: ${loaded.waf.ruleCount} rules` : ''}` : 'policy is not valid', g));
    status[pol.id] = { conditions: conds };
  }

  const listeners: ListenerIR[] = lstates.filter((s) => s.usable).map((s) => ({
    client: clientPolicies.get(`${s.gw.id}#${s.l.name}`) ?? clientPolicies.get(s.gw.id),
    tls: s.tls,
    gateway: s.gw.id, name: s.l.name, protocol: s.l.protocol, port: s.l.port, address: s.address, hostname: s.l.hostname, attachments: s.attachments,
  }));
  analyzeBackendTls({ resources, backends, listeners, routes: routeIR, status, report, resolveCaRef, resolveCertificateRef, order: oldestFirst, controllerName: CONTROLLER_NAME });
  return { ir: { listeners, routes: routeIR, backends, waf, tlsRoutes, ...(certIR.certificates.length ? { certificates: certIR } : {}) }, status, diagnostics };
}

const GRPC_FILTERS = new Set(['RequestHeaderModifier', 'ResponseHeaderModifier', 'RequestMirror', 'ExtensionRef']);

function checkFilters(filters: readonly HTTPRouteFilterT[], p: (string | number)[], matches: readonly HTTPRouteMatchT[], report: (p: (string | number)[], m: string, h?: string, severity?: 'error' | 'warning') => void, perBackend = false, grpc = false): boolean {
  let ok = true;
  const seen = new Set<string>();
  filters.forEach((f, fi) => {
    const fp = [...p, fi];
    // Every filter type at most once, except RequestMirror (several mirrors: extended feature).
    if (seen.has(f.type) && f.type !== 'RequestMirror') { report([...fp, 'type'], `filter ${f.type} appears more than once`, 'merge them into one'); ok = false; }
    seen.add(f.type);
    const field = FILTER_FIELD[f.type];
    if (field && f[field] === undefined) { report(fp, `filter ${f.type} needs its "${field}" field`, `add ${field}: {...}`); ok = false; return; }
    for (const [t, fld] of Object.entries(FILTER_FIELD)) if (t !== f.type && f[fld] !== undefined) { report([...fp, fld], `field ${fld} does not belong to a ${f.type} filter`, `remove it or set type: ${t}`); ok = false; }
    if (!SUPPORTED_FILTERS.has(f.type) || (perBackend && f.type !== 'RequestHeaderModifier' && f.type !== 'ResponseHeaderModifier')) {
      report([...fp, 'type'], `filter ${f.type} is not supported${perBackend ? ' on a backendRef' : ' yet'}`, `supported: ${perBackend ? 'RequestHeaderModifier, ResponseHeaderModifier' : [...SUPPORTED_FILTERS].join(', ')}`); ok = false;
    }
    // GRPCRoute's filters in Gateway API are the header modifiers and RequestMirror (and
    // ExtensionRef): no redirect, rewrite or CORS (gRPC clients are not browsers).
    if (grpc && !GRPC_FILTERS.has(f.type)) { report([...fp, 'type'], `filter ${f.type} is not supported on a GRPCRoute`, 'GRPCRoute filters: RequestHeaderModifier, ResponseHeaderModifier, RequestMirror'); ok = false; return; }
    if (f.type === 'CORS' && f.cors && !perBackend) ok = checkCors(f.cors, (cp, m, h, sev) => report([...fp, 'cors', ...cp], m, h, sev)) && ok;
    const pathMod = f.type === 'URLRewrite' ? f.urlRewrite?.path : f.type === 'RequestRedirect' ? f.requestRedirect?.path : undefined;
    if (pathMod) {
      const want = pathMod.type === 'ReplaceFullPath' ? 'replaceFullPath' : 'replacePrefixMatch';
      if (pathMod[want] === undefined) { report([...fp, field, 'path'], `path type ${pathMod.type} needs ${want}`, `add ${want}`); ok = false; }
      if (pathMod.type === 'ReplacePrefixMatch' && !matches.every((m) => m.path?.type === 'PathPrefix')) {
        report([...fp, field, 'path'], 'ReplacePrefixMatch needs every match of the rule to be a PathPrefix match', 'use ReplaceFullPath, or PathPrefix matches'); ok = false;
      }
    }
  });
  if (seen.has('RequestRedirect') && seen.has('URLRewrite')) { report(p, 'RequestRedirect and URLRewrite cannot be used together', 'keep one of them'); ok = false; }
  if (seen.has('RequestRedirect') && perBackend) ok = false;
  return ok;
}

/** Policy precedence (GEP-713): the oldest creationTimestamp wins, then namespace/name. */
function oldestFirst(x: Resource, y: Resource): number {
  return (x.doc.metadata.creationTimestamp ?? '~').localeCompare(y.doc.metadata.creationTimestamp ?? '~') || x.id.localeCompare(y.id);
}

function checkPolicy(spec: BackendTrafficPolicyT['spec'], report: (p: (string | number)[], m: string, h?: string) => void): boolean {
  let ok = true;
  const lb = spec.loadBalancer;
  if (lb?.type === 'ConsistentHash') {
    const ch = lb.consistentHash;
    if (!ch) { report(['loadBalancer'], 'ConsistentHash needs consistentHash.type', 'add consistentHash: { type: SourceIP | Header | Cookie }'); ok = false; }
    else if (ch.type === 'Header' && !ch.header) { report(['loadBalancer', 'consistentHash'], 'consistentHash type Header needs header.name', 'add header: { name: X-User }'); ok = false; }
    else if (ch.type === 'Cookie' && !ch.cookie) { report(['loadBalancer', 'consistentHash'], 'consistentHash type Cookie needs cookie.name', 'add cookie: { name: session }'); ok = false; }
  } else if (lb?.consistentHash) { report(['loadBalancer', 'consistentHash'], `consistentHash is only used with type ConsistentHash, not ${lb.type}`, 'remove it or set type: ConsistentHash'); ok = false; }
  const a = spec.healthCheck?.active;
  if (a?.type === 'HTTP' && !a.http) { report(['healthCheck', 'active'], 'an HTTP health check needs http.path', 'add http: { path: /healthz }'); ok = false; }
  if (a?.type === 'TCP' && a.http) { report(['healthCheck', 'active', 'http'], 'http settings on a TCP health check', 'remove http or use type: HTTP'); ok = false; }
  return ok;
}

/**
 * HSTS settings. `preload` is a request to be put on the browsers' built-in list, which accepts
 * only max-age >= 1 year with includeSubDomains (hstspreload.org): a header that asks for it
 * without them would be refused there, so the config is refused here, with the fix.
 */
function checkHsts(h: ClientTrafficPolicyT['spec']['hsts'], report: (p: (string | number)[], m: string, h?: string) => void): HstsIR | undefined {
  if (!h) return undefined;
  const v: HstsIR = { maxAge: h.maxAge, includeSubDomains: h.includeSubDomains ?? false, preload: h.preload ?? false };
  if (v.preload && v.maxAge < HSTS_PRELOAD_MIN_AGE) report(['maxAge'], `preload needs maxAge of at least ${HSTS_PRELOAD_MIN_AGE} (1 year), got ${v.maxAge}`, `set maxAge: ${HSTS_PRELOAD_MIN_AGE} (or more), or remove preload`);
  if (v.preload && !v.includeSubDomains) report(['includeSubDomains'], 'preload needs includeSubDomains: true', 'set includeSubDomains: true (every subdomain must serve HTTPS), or remove preload');
  return v;
}
const HSTS_PRELOAD_MIN_AGE = 31_536_000;

function checkRegex(src: string, onError: () => void): boolean {
  try { new RegExp(src); return true; } catch { onError(); return false; }
}

export function durationMs(d: string): number {
  let ms = 0;
  for (const m of d.matchAll(/([0-9]+)(h|ms|m|s)/g)) {
    const n = Number(m[1]);
    ms += m[2] === 'h' ? n * 3600000 : m[2] === 'm' ? n * 60000 : m[2] === 's' ? n * 1000 : n;
  }
  return ms;
}

function selectorMatches(sel: { matchLabels?: Record<string, string>; matchExpressions?: { key: string; operator: string; values?: string[] }[] }, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const inVals = has && (e.values ?? []).includes(labels[e.key]);
    if (e.operator === 'In' && !inVals) return false;
    if (e.operator === 'NotIn' && inVals) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

function isIP(s: string): boolean {
  return net.isIP(s) !== 0;
}

/** `10.0.0.0/8` or `2001:db8::/32` -> address, family and prefix; null if malformed. */
export function parseCidr(c: string): { address: string; family: 'ipv4' | 'ipv6'; prefix: number } | null {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(c);
  if (!m) return null;
  const family = net.isIPv4(m[1]) ? 'ipv4' : net.isIPv6(m[1]) ? 'ipv6' : null;
  const prefix = Number(m[2]);
  if (!family || prefix > (family === 'ipv4' ? 32 : 128)) return null;
  return { address: m[1], family, prefix };
}

/** A GRPCRoute as the HTTPRoute it routes like (same resource id, kind and source positions). */
function grpcAsHttpRoute(g: Resource<GRPCRouteT>): Resource<HTTPRouteT> {
  const esc = (x: string) => x.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  const spec = g.doc.spec;
  const rules = (spec.rules ?? [{}]).map((r) => ({
    ...(r.name ? { name: r.name } : {}),
    ...(r.filters ? { filters: r.filters } : {}),
    ...(r.backendRefs ? { backendRefs: r.backendRefs } : {}),
    matches: (r.matches && r.matches.length ? r.matches : [{}]).map((m) => {
      const svc = m.method?.service, meth = m.method?.method;
      let path: { type: 'Exact' | 'PathPrefix' | 'RegularExpression'; value: string };
      if (m.method?.type === 'RegularExpression') path = { type: 'RegularExpression', value: `/${svc ?? '[^/]+'}/${meth ?? '[^/]+'}` };
      else if (svc && meth) path = { type: 'Exact', value: `/${svc}/${meth}` };
      else if (svc) path = { type: 'PathPrefix', value: `/${svc}` };
      else if (meth) path = { type: 'RegularExpression', value: `/[^/]+/${esc(meth)}` };
      else path = { type: 'PathPrefix', value: '/' };
      return { path, ...(m.headers ? { headers: m.headers } : {}) };
    }),
  }));
  return { ...g, doc: { ...g.doc, spec: { parentRefs: spec.parentRefs, hostnames: spec.hostnames, rules } } } as unknown as Resource<HTTPRouteT>;
}
