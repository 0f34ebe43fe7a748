// What a Gateway API controller does for TLS listeners and TLSRoutes (Passthrough): checks the
// listener's tls block, resolves backendRefs, attaches routes to listeners (kinds, namespaces,
// hostname intersection), writes route status, and produces the TLSRoute IR. Called from
// config/semantic.ts with the listener states it built, so HTTP and TLS routes share one view of
// the listeners (attachedRoutes, supportedKinds).
import { hostnameSpecificity } from '../config/hostnames.ts';
import { attachParentRef, cond } from '../config/attach.ts';
import { GATEWAY_GROUP, PORTCULLIS_GROUP, type GatewayT, type ListenerT, type TLSRouteT } from '../config/schema.ts';
import { resourceId, type Resource } from '../config/validate-schema.ts';
import type { AttachmentIR, BackendIR, Condition, StatusMap } from '../config/semantic.ts';

const CONTROLLER_NAME = 'portcullis.dev/gateway-controller';

export interface TLSRouteIR {
  readonly id: string;
  readonly namespace: string;
  readonly name: string;
  readonly creationTimestamp: string;
  /** `namespace/name` or `namespace/name/ruleName`: logs and metrics. */
  readonly label: string;
  /** backend undefined = invalid reference: its share of connections is refused. */
  readonly backendRefs: readonly { readonly backend?: string; readonly weight: number }[];
}

/** The parts of semantic.ts's listener state this module reads and writes. */
export interface TlsListenerState {
  readonly gw: Resource<GatewayT>;
  readonly l: ListenerT;
  readonly index: number;
  readonly kinds: string[];
  usable: boolean;
  attached: number;
  attachments: AttachmentIR[];
}

type Report = (r: Resource, p: (string | number)[], message: string, hint?: string, severity?: 'error' | 'warning') => void;

export interface TlsAnalyzeContext<S extends TlsListenerState> {
  readonly resources: readonly Resource[];
  readonly listeners: readonly S[];
  readonly gateways: readonly Resource<GatewayT>[];
  readonly backends: ReadonlyMap<string, BackendIR>;
  readonly status: StatusMap;
  report: Report;
  gen(r: Resource): number;
  nsAllowed(s: S, routeNs: string): boolean;
  grantAllows(fromKind: string, fromNs: string, toGroup: string, toKind: string, toNs: string, toName: string): boolean;
}


/**
 * A `protocol: TLS` listener. Terminate mode (the extended TLSRouteModeTerminate feature; the
 * Gateway API default mode) has its certificateRefs and client validation resolved by
 * config/semantic.ts exactly as for HTTPS, so nothing more is checked here; the gateway terminates
 * TLS and relays the decrypted bytes (src/tls/terminate.ts). Passthrough: the checks below.
 * Returns false when the listener cannot be served.
 */
export function checkTlsListener(gw: Resource<GatewayT>, l: ListenerT, p: (string | number)[], g: number, report: Report, setCond: (c: Condition) => void): boolean {
  if (!l.tls) {
    // Terminate is the Gateway API default, but a TLS listener without any tls block is almost
    // always a forgotten `mode: Passthrough`: say what each choice needs instead of guessing.
    report(gw, p, 'a TLS listener needs a tls block', 'add tls: { mode: Passthrough } to route the TLS stream by SNI without terminating it, or tls: { mode: Terminate, certificateRefs: [{ name: my-cert }] } to terminate it here');
    setCond(cond('Accepted', false, 'UnsupportedValue', 'tls is not set', g));
    return false;
  }
  const mode = l.tls.mode ?? 'Terminate';
  if (mode === 'Terminate') return true;
  // Nothing is terminated, so certificates would never be used: say so rather than let a user
  // believe the gateway presents them.
  if (l.tls.certificateRefs?.length) report(gw, [...p, 'tls', 'certificateRefs'], 'certificateRefs are not used by a Passthrough listener: the backend presents its own certificate', 'remove certificateRefs', 'warning');
  if (l.tls.options && Object.keys(l.tls.options).length) report(gw, [...p, 'tls', 'options'], 'tls.options are not used by a Passthrough listener', 'remove options', 'warning');
  // Client certificate validation cannot happen without terminating TLS: fail closed.
  const fe = gw.doc.spec.tls?.frontend;
  const perPort = fe?.perPort?.find((x) => x.port === l.port);
  const v = perPort ? perPort.tls.validation : fe?.default?.validation;
  if (v) {
    report(gw, perPort ? ['spec', 'tls', 'frontend', 'perPort', fe!.perPort!.indexOf(perPort)] : ['spec', 'tls', 'frontend', 'default'],
      `client certificate validation applies to port ${l.port}, where listener "${l.name}" passes TLS through without terminating it, so it cannot check client certificates`,
      `let the backend check them and exempt the port: spec.tls.frontend.perPort: [{ port: ${l.port}, tls: {} }]`);
    setCond(cond('Accepted', false, 'UnsupportedValue', 'frontend client validation cannot apply to a Passthrough listener', g));
    return false;
  }
  return true;
}

/** TLSRoutes: resolve, attach, write status. Returns the IR of every route (attached or not). */
export function analyzeTlsRoutes<S extends TlsListenerState>(ctx: TlsAnalyzeContext<S>): Map<string, TLSRouteIR> {
  const { report, status } = ctx;
  const out = new Map<string, TLSRouteIR>();
  const routes = ctx.resources.filter((r) => r.kind === 'TLSRoute') as Resource<TLSRouteT>[];
  for (const r of routes) {
    const g = ctx.gen(r);
    const spec = r.doc.spec;
    const v1 = r.doc.apiVersion === `${GATEWAY_GROUP}/v1`;
    let valid = true;
    let refsOk = true, refsReason = 'ResolvedRefs', refsMsg = 'all references resolved';
    if (v1 && !spec.hostnames?.length) {
      report(r, ['spec'], 'a TLSRoute (v1) needs hostnames: the SNI names it serves', 'add hostnames: [db.example.com]');
      valid = false;
    }
    if (spec.rules.length > 1) {
      // No matches in a TLSRoute rule: every connection would take the first one.
      report(r, ['spec', 'rules', 1], 'a TLSRoute has exactly one rule (rules have no matches to choose between them)', 'put all backendRefs, with weights, in one rule');
      valid = false;
    }
    const rule = spec.rules[0];
    const backendRefs = rule.backendRefs.map((br, bi) => {
      const bp = ['spec', 'rules', 0, 'backendRefs', bi];
      const res = resolveBackendRef(br, r.namespace);
      if ('error' in res) {
        refsOk = false; refsReason = res.reason; refsMsg = res.error;
        report(r, res.field ? [...bp, res.field] : bp, res.error, res.hint);
        return { weight: br.weight ?? 1 };
      }
      return { backend: res.backend, weight: br.weight ?? 1 };
    });
    const label = `${r.namespace}/${r.name}${rule.name ? `/${rule.name}` : ''}`;
    out.set(r.id, { id: r.id, namespace: r.namespace, name: r.name, creationTimestamp: r.doc.metadata.creationTimestamp ?? '', label, backendRefs });

    // Attachment, per parentRef (src/config/attach.ts: the same rules as HTTPRoute).
    const parents: Record<string, unknown>[] = [];
    const routeHostnames = spec.hostnames ?? [];
    (spec.parentRefs ?? []).forEach((pr, pi) => {
      const { parentRef, conds } = attachParentRef({
        route: r, pr, index: pi, hostnames: routeHostnames, gen: g, listeners: ctx.listeners, gateways: ctx.gateways,
        allows: (s) => s.kinds.includes('TLSRoute') && ctx.nsAllowed(s, r.namespace),
        attach: valid,
        notAllowed: (candidates, gateway) => candidates.some((s) => s.kinds.includes('TLSRoute'))
          ? { message: `no TLS listener of Gateway ${gateway} allows TLSRoutes from namespace ${r.namespace}`, hint: 'set allowedRoutes.namespaces.from on the listener, or move the route' }
          : { message: `no listener of Gateway ${gateway}${pr.sectionName ? ` named "${pr.sectionName}"` : ''} accepts TLSRoutes (they attach to protocol: TLS listeners)`, hint: 'attach to a TLS listener (sectionName), or add one to the Gateway' },
        report: (p, m, h) => report(r, p, m, h),
      });
      // Attached to a listener, but the route itself is invalid.
      const accepted = conds.findIndex((c) => c.type === 'Accepted' && c.status === 'True');
      if (!valid && accepted >= 0) conds[accepted] = cond('Accepted', false, 'UnsupportedValue', 'the route is not valid', g);
      conds.push(cond('ResolvedRefs', refsOk, refsReason, refsMsg, g));
      parents.push({ parentRef, controllerName: CONTROLLER_NAME, conditions: conds });
    });
    if (!spec.parentRefs?.length) report(r, ['spec'], 'route has no parentRefs and serves no traffic', 'add parentRefs: [{ name: <gateway>, sectionName: <tls listener> }]', 'warning');
    status[r.id] = { parents };
  }

  // Two routes claiming one SNI name on one listener: the older route wins (Gateway API's tie
  // rule: creationTimestamp, then namespace/name), the other is told.
  for (const s of ctx.listeners) {
    if (!s.kinds.includes('TLSRoute')) continue;
    const owner = new Map<string, TLSRouteIR>();
    const atts = s.attachments.map((a) => ({ a, ir: out.get(a.route) })).filter((x): x is { a: AttachmentIR; ir: TLSRouteIR } => x.ir !== undefined);
    atts.sort((x, y) => olderFirst(x.ir, y.ir));
    for (const { a, ir } of atts) {
      for (const h of a.hostnames.length ? a.hostnames : ['*']) {
        const prev = owner.get(h);
        if (!prev) { owner.set(h, ir); continue; }
        const res = routes.find((x) => x.id === ir.id)!;
        report(res, ['spec', 'hostnames'], `SNI "${h}" on listener "${s.l.name}" is already routed by ${prev.id}, which is older; this route gets no connections for it`, 'give each TLSRoute its own hostnames', 'warning');
      }
    }
  }
  return out;

  function resolveBackendRef(br: { group?: string; kind?: string; name: string; namespace?: string }, routeNs: string): { backend: string } | { error: string; reason: string; hint: string; field?: string } {
    const group = br.group ?? '';
    const kind = br.kind ?? 'Service';
    const ns = br.namespace ?? routeNs;
    if (group !== PORTCULLIS_GROUP || kind !== 'Backend') {
      return { error: `backendRef kind ${group ? group + '/' : ''}${kind} is not supported`, reason: 'InvalidKind', hint: `off-cluster, reference a Backend: { group: ${PORTCULLIS_GROUP}, kind: Backend, name: ${br.name} }`, field: br.kind ? 'kind' : undefined };
    }
    if (ns !== routeNs && !ctx.grantAllows('TLSRoute', routeNs, PORTCULLIS_GROUP, 'Backend', ns, br.name)) {
      return { error: `backendRef to ${ns}/${br.name} in another namespace is not permitted`, reason: 'RefNotPermitted', hint: `add a ReferenceGrant in namespace ${ns} from TLSRoute in ${routeNs}`, field: 'namespace' };
    }
    const id = resourceId('Backend', ns, br.name);
    if (!ctx.backends.has(id)) {
      const known = [...ctx.backends.values()].filter((b) => b.namespace === ns).map((b) => b.name);
      return { error: `Backend ${ns}/${br.name} not found`, reason: 'BackendNotFound', hint: known.length ? `known Backends in ${ns}: ${known.join(', ')}` : `define a Backend named ${br.name} in namespace ${ns}`, field: 'name' };
    }
    return { backend: id };
  }
}

export function olderFirst(a: TLSRouteIR, b: TLSRouteIR): number {
  // Plain code-unit order: '~' (no timestamp: youngest) sorts after every ISO date, which
  // localeCompare does not guarantee (ICU puts punctuation before digits).
  const ta = a.creationTimestamp || '~', tb = b.creationTimestamp || '~';
  if (ta !== tb) return ta < tb ? -1 : 1;
  const na = `${a.namespace}/${a.name}`, nb = `${b.namespace}/${b.name}`;
  return na < nb ? -1 : na > nb ? 1 : 0;
}

/** Listener hostnames, most specific first (used to describe SNI tables in a stable order). */
export function byHostSpecificity(a: string, b: string): number {
  return hostnameSpecificity(b === '*' ? undefined : b) - hostnameSpecificity(a === '*' ? undefined : a) || a.localeCompare(b);
}
