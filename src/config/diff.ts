// `portcullis diff OLD NEW`: what applying NEW instead of OLD would change, in the terms a gateway
// operator thinks in (listeners, routes, matches, filters, backends, endpoints, policies), not
// lines of YAML. Reordering documents, files or keys changes nothing here.
import { canon } from './canonical.ts';
import type { Resource } from './validate-schema.ts';
import type { BackendT, GatewayT, HTTPRouteMatchT, HTTPRouteT, HTTPRouteRuleT, ListenerT } from './schema.ts';

export interface Change { readonly op: '+' | '-' | '~'; readonly resource: string; readonly what: string }

export function formatChange(c: Change): string {
  return `${c.op} ${c.resource}${c.what ? `: ${c.what}` : ''}`;
}

export function diffResources(oldRes: readonly Resource[], newRes: readonly Resource[]): Change[] {
  const out: Change[] = [];
  const a = new Map(oldRes.map((r) => [r.id, r]));
  const b = new Map(newRes.map((r) => [r.id, r]));
  const ids = [...new Set([...a.keys(), ...b.keys()])].sort(kindOrder);
  for (const id of ids) {
    const x = a.get(id), y = b.get(id);
    const label = id.replace(/^(\w+)\//, '$1 ');
    if (!x) { out.push({ op: '+', resource: label, what: summary(y!) }); continue; }
    if (!y) { out.push({ op: '-', resource: label, what: summary(x) }); continue; }
    const push = (op: Change['op'], what: string) => out.push({ op, resource: label, what });
    switch (x.kind) {
      case 'Gateway': diffGateway(x.doc as GatewayT, y.doc as GatewayT, push); break;
      case 'HTTPRoute': diffRoute(x.doc as HTTPRouteT, y.doc as HTTPRouteT, push); break;
      case 'Backend': diffBackend(x.doc as BackendT, y.doc as BackendT, push); break;
      default:
        if (canon(x.doc.spec) !== canon(y.doc.spec)) push('~', `spec changed: ${fieldChanges(x.doc.spec, y.doc.spec, 'spec').join('; ')}`);
    }
    if (canon(x.doc.metadata?.labels) !== canon(y.doc.metadata?.labels)) push('~', 'labels changed');
  }
  return out;
}

const ORDER = ['GatewayClass', 'Gateway', 'HTTPRoute', 'Backend', 'ReferenceGrant', 'Namespace'];
function kindOrder(p: string, q: string): number {
  const kp = ORDER.indexOf(p.split('/')[0]), kq = ORDER.indexOf(q.split('/')[0]);
  return (kp < 0 ? 99 : kp) - (kq < 0 ? 99 : kq) || p.localeCompare(q);
}

function summary(r: Resource): string {
  if (r.kind === 'Gateway') return (r.doc as GatewayT).spec.listeners.map(listenerText).join(', ');
  if (r.kind === 'HTTPRoute') { const s = (r.doc as HTTPRouteT).spec; return `${s.rules?.length ?? 1} rule(s)${s.hostnames?.length ? ` for ${s.hostnames.join(', ')}` : ''}`; }
  if (r.kind === 'Backend') return (r.doc as BackendT).spec.endpoints.map((e) => `${e.address}:${e.port ?? '?'}`).join(', ');
  return '';
}

function listenerText(l: ListenerT): string {
  return `listener "${l.name}" ${l.protocol} :${l.port}${l.hostname ? ` ${l.hostname}` : ''}`;
}

function diffGateway(x: GatewayT, y: GatewayT, push: (op: Change['op'], what: string) => void) {
  if (x.spec.gatewayClassName !== y.spec.gatewayClassName) push('~', `gatewayClassName ${x.spec.gatewayClassName} -> ${y.spec.gatewayClassName}`);
  if (canon(x.spec.addresses) !== canon(y.spec.addresses)) push('~', `addresses ${canon(x.spec.addresses ?? [])} -> ${canon(y.spec.addresses ?? [])}`);
  const la = new Map(x.spec.listeners.map((l) => [l.name, l]));
  const lb = new Map(y.spec.listeners.map((l) => [l.name, l]));
  for (const [name, l] of la) if (!lb.has(name)) push('-', listenerText(l));
  for (const [name, l] of lb) {
    const o = la.get(name);
    if (!o) { push('+', listenerText(l)); continue; }
    const ch = fieldChanges(o, l, '');
    if (ch.length) push('~', `listener "${name}": ${ch.join('; ')}`);
  }
}

function matchText(m: HTTPRouteMatchT): string {
  const parts = [`path ${m.path?.type ?? 'PathPrefix'} ${m.path?.value ?? '/'}`];
  if (m.method) parts.push(`method ${m.method}`);
  for (const h of m.headers ?? []) parts.push(`header ${h.name}${h.type === 'RegularExpression' ? '~' : '='}${h.value}`);
  for (const q of m.queryParams ?? []) parts.push(`query ${q.name}${q.type === 'RegularExpression' ? '~' : '='}${q.value}`);
  return parts.join(' ');
}

function diffSet(label: string, xs: string[], ys: string[], push: (op: Change['op'], what: string) => void) {
  const sa = new Set(xs), sb = new Set(ys);
  for (const v of xs) if (!sb.has(v)) push('-', `${label} ${v}`);
  for (const v of ys) if (!sa.has(v)) push('+', `${label} ${v}`);
}

function ruleKey(r: HTTPRouteRuleT, i: number): string { return r.name ?? `#${i}`; }

function diffRoute(x: HTTPRouteT, y: HTTPRouteT, push: (op: Change['op'], what: string) => void) {
  diffSet('hostname', x.spec.hostnames ?? [], y.spec.hostnames ?? [], push);
  diffSet('parentRef', (x.spec.parentRefs ?? []).map((p) => canon(p)), (y.spec.parentRefs ?? []).map((p) => canon(p)), push);
  const ra = x.spec.rules ?? [], rb = y.spec.rules ?? [];
  const n = Math.max(ra.length, rb.length);
  for (let i = 0; i < n; i++) {
    const o = ra[i], r = rb[i];
    if (!o) { push('+', `rule ${ruleKey(r, i)}: ${(r.matches ?? [{}]).map(matchText).join(' | ')} -> ${(r.backendRefs ?? []).map((b) => b.name).join(', ') || 'no backends'}`); continue; }
    if (!r) { push('-', `rule ${ruleKey(o, i)}: ${(o.matches ?? [{}]).map(matchText).join(' | ')}`); continue; }
    const p = (op: Change['op'], what: string) => push(op, `rule ${ruleKey(r, i)}: ${what}`);
    diffSet('match', (o.matches ?? [{}]).map(matchText), (r.matches ?? [{}]).map(matchText), p);
    // Filters: each type appears at most once per rule, so compare them by type.
    const fa = new Map((o.filters ?? []).map((f) => [f.type, f]));
    const fb = new Map((r.filters ?? []).map((f) => [f.type, f]));
    for (const [t, f] of fa) if (!fb.has(t)) p('-', `filter ${t} ${canon(f)}`);
    for (const [t, f] of fb) {
      const of = fa.get(t);
      if (!of) p('+', `filter ${t} ${canon(f)}`);
      else if (canon(of) !== canon(f)) p('~', `filter ${t}: ${fieldChanges(of, f, '').join('; ')}`);
    }
    const ba = new Map((o.backendRefs ?? []).map((b) => [`${b.namespace ?? ''}/${b.name}`, b]));
    const bb = new Map((r.backendRefs ?? []).map((b) => [`${b.namespace ?? ''}/${b.name}`, b]));
    for (const [k, b] of ba) if (!bb.has(k)) p('-', `backendRef ${b.name}`);
    for (const [k, b] of bb) {
      const ob = ba.get(k);
      if (!ob) p('+', `backendRef ${b.name} (weight ${b.weight ?? 1})`);
      else if ((ob.weight ?? 1) !== (b.weight ?? 1)) p('~', `backendRef ${b.name} weight ${ob.weight ?? 1} -> ${b.weight ?? 1}`);
      else if (canon(ob) !== canon(b)) p('~', `backendRef ${b.name}: ${fieldChanges(ob, b, '').join('; ')}`);
    }
    if (canon(o.timeouts) !== canon(r.timeouts)) p('~', `timeouts ${canon(o.timeouts ?? {})} -> ${canon(r.timeouts ?? {})}`);
    for (const k of ['retry', 'sessionPersistence', 'name'] as const) if (canon(o[k]) !== canon(r[k])) p('~', `${k} ${canon(o[k] ?? null)} -> ${canon(r[k] ?? null)}`);
  }
}

function diffBackend(x: BackendT, y: BackendT, push: (op: Change['op'], what: string) => void) {
  const ea = new Map(x.spec.endpoints.map((e) => [`${e.address}:${e.port}`, e]));
  const eb = new Map(y.spec.endpoints.map((e) => [`${e.address}:${e.port}`, e]));
  for (const k of ea.keys()) if (!eb.has(k)) push('-', `endpoint ${k}`);
  for (const [k, e] of eb) {
    const o = ea.get(k);
    if (!o) push('+', `endpoint ${k}${e.weight !== undefined ? ` (weight ${e.weight})` : ''}`);
    else if ((o.weight ?? 1) !== (e.weight ?? 1)) push('~', `endpoint ${k} weight ${o.weight ?? 1} -> ${e.weight ?? 1}`);
  }
}

/** Leaf-level changes between two plain values, as `path: old -> new`. */
function fieldChanges(a: unknown, b: unknown, prefix: string): string[] {
  if (canon(a) === canon(b)) return [];
  const isObj = (v: unknown) => v !== null && typeof v === 'object' && !Array.isArray(v);
  if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) {
    return a.flatMap((x, i) => fieldChanges(x, b[i], `${prefix}[${i}]`));
  }
  if (isObj(a) && isObj(b)) {
    const out: string[] = [];
    const keys = [...new Set([...Object.keys(a as object), ...Object.keys(b as object)])].sort();
    for (const k of keys) out.push(...fieldChanges((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], prefix ? `${prefix}.${k}` : k));
    return out;
  }
  return [`${prefix || 'value'} ${a === undefined ? '(unset)' : canon(a)} -> ${b === undefined ? '(unset)' : canon(b)}`];
}
