// Route attachment as a Gateway API controller does it, one parentRef at a time: shared by
// HTTPRoute/GRPCRoute (semantic.ts) and TLSRoute (src/tls/semantic.ts), so both kinds follow the
// same rules for parent kinds, sectionName/port, allowedRoutes and hostname intersection.
import { intersectHostnames } from './hostnames.ts';
import { GATEWAY_GROUP, type ListenerT } from './schema.ts';
import { resourceId, type Resource } from './validate-schema.ts';
import type { AttachmentIR, Condition } from './semantic.ts';

export function cond(type: string, ok: boolean, reason: string, message: string, gen: number): Condition {
  return { type, status: ok ? 'True' : 'False', reason, message, observedGeneration: gen };
}

/** What attachment reads and updates of a listener's state. */
export interface AttachableListener {
  readonly gw: { readonly id: string };
  readonly l: ListenerT;
  readonly usable: boolean;
  attached: number;
  readonly attachments: AttachmentIR[];
}

export interface ParentRefSpec { group?: string; kind?: string; namespace?: string; name: string; sectionName?: string; port?: number }

export interface AttachInput<S extends AttachableListener> {
  readonly route: Resource;
  readonly pr: ParentRefSpec;
  /** Index of the parentRef in spec.parentRefs (for diagnostics). */
  readonly index: number;
  readonly hostnames: readonly string[];
  readonly gen: number;
  readonly listeners: readonly S[];
  readonly gateways: readonly Resource[];
  /** The listener accepts this route: its kind and its namespace. */
  allows(s: S): boolean;
  /** Whether the route is attached where it matches (false: it is reported but serves nothing). */
  readonly attach: boolean;
  /** Message and hint when listeners were found but none allows the route. */
  notAllowed(candidates: readonly S[], gateway: string): { message: string; hint: string };
  report(p: (string | number)[], message: string, hint: string): void;
}

/**
 * Attach one parentRef: the status parentRef and its Accepted condition (true, or false with the
 * Gateway API reason, each failure also reported as a diagnostic). Matching listeners get the
 * route's intersected hostnames when `attach` is set.
 */
export function attachParentRef<S extends AttachableListener>(a: AttachInput<S>): { parentRef: Record<string, unknown>; conds: Condition[] } {
  const { route: r, pr, gen: g } = a;
  const pp = ['spec', 'parentRefs', a.index];
  const conds: Condition[] = [];
  const parentRef = { group: pr.group ?? GATEWAY_GROUP, kind: pr.kind ?? 'Gateway', namespace: pr.namespace ?? r.namespace, name: pr.name, ...(pr.sectionName ? { sectionName: pr.sectionName } : {}), ...(pr.port ? { port: pr.port } : {}) };
  const fail = (reason: string, message: string, p: (string | number)[], hint: string) => {
    conds.push(cond('Accepted', false, reason, message, g));
    a.report(p, message, hint);
  };
  const gateway = `${parentRef.namespace}/${pr.name}`;
  if (parentRef.group !== GATEWAY_GROUP || parentRef.kind !== 'Gateway') {
    fail('NoMatchingParent', `parentRef kind ${parentRef.kind} is not supported`, pp, 'attach routes to a Gateway');
    return { parentRef, conds };
  }
  const gwId = resourceId('Gateway', parentRef.namespace, pr.name);
  let candidates = a.listeners.filter((s) => s.gw.id === gwId);
  if (candidates.length === 0) {
    const known = a.gateways.map((x) => `${x.namespace}/${x.name}`);
    fail('NoMatchingParent', `Gateway ${gateway} not found`, [...pp, 'name'], known.length ? `known Gateways: ${known.join(', ')}` : 'define the Gateway');
    return { parentRef, conds };
  }
  if (pr.sectionName) candidates = candidates.filter((s) => s.l.name === pr.sectionName);
  if (pr.port) candidates = candidates.filter((s) => s.l.port === pr.port);
  if (candidates.length === 0) {
    fail('NoMatchingParent', `Gateway ${gateway} has no listener${pr.sectionName ? ` named "${pr.sectionName}"` : ''}${pr.port ? ` on port ${pr.port}` : ''}`, [...pp, pr.sectionName ? 'sectionName' : 'port'], 'check sectionName/port against the Gateway listeners');
    return { parentRef, conds };
  }
  const allowed = candidates.filter((s) => a.allows(s));
  if (allowed.length === 0) {
    const { message, hint } = a.notAllowed(candidates, gateway);
    fail('NotAllowedByListeners', message, pp, hint);
    return { parentRef, conds };
  }
  let matched = 0;
  for (const s of allowed) {
    const hosts = intersectHostnames(s.l.hostname, a.hostnames);
    if (hosts === null) continue;
    matched++;
    if (s.usable && a.attach) { s.attached++; s.attachments.push({ route: r.id, hostnames: hosts }); }
  }
  if (matched === 0) {
    const lh = [...new Set(allowed.map((s) => s.l.hostname ?? '*'))].join(', ');
    fail('NoMatchingListenerHostname', `no hostname of the route (${a.hostnames.join(', ')}) matches the listener hostname (${lh})`, ['spec', 'hostnames'], `use a hostname under ${lh}, or attach to another listener with sectionName`);
  } else {
    conds.push(cond('Accepted', true, 'Accepted', 'route attached', g));
  }
  return { parentRef, conds };
}
