// BackendTLSPolicy (Gateway API v1, since v1.4) and the Gateway's backend client certificate
// (spec.tls.backend.clientCertificateRef, v1.5, GEP-3155): which Backends the gateway speaks TLS
// to, what it trusts there, the name it sends and verifies, and the certificate it presents.
//
// Fail closed: a Backend targeted by a policy that is not valid (a CA reference that does not
// resolve, a bad option, a client certificate that cannot be loaded) gets `tls: { error }` in the
// IR. The compiler then treats every reference to it as invalid (500, like Gateway API's invalid
// backendRefs) and runs no health check on it: its traffic is never sent in cleartext and never
// over unverified TLS. The same problems are error diagnostics, so `validate` and a reload refuse
// the config; the fail-closed IR is what `--allow-partial` (controller mode) serves.
import { GATEWAY_GROUP, PORTCULLIS_GROUP, type BackendTLSPolicyT, type GatewayT } from './schema.ts';
import { resourceId, type Resource } from './validate-schema.ts';
import { cond } from './attach.ts';
import type { BackendIR, Condition, HTTPRouteIR, ListenerIR, StatusMap } from './semantic.ts';

/** What a Backend's connections use, or why they are refused. Key material stays in memory only. */
export type BackendTlsIR =
  | {
    /** The policy's resource id. */
    readonly policy: string;
    /** SNI; also the name verified when there are no subjectAltNames. */
    readonly servername: string;
    /** PEM trust anchors; undefined = Node's bundled roots (wellKnownCACertificates: System). */
    readonly ca?: string;
    readonly subjectAltNames: readonly { readonly type: 'Hostname' | 'URI'; readonly value: string }[];
    readonly minVersion: 'TLSv1.2' | 'TLSv1.3';
    /** Client certificate for upstream mTLS (the Gateway's spec.tls.backend.clientCertificateRef). */
    readonly clientCertificate?: { readonly cert: string; readonly key: string; readonly ref: string };
  }
  | { readonly policy: string; readonly error: string };

type Report = (r: Resource, p: (string | number)[], message: string, hint?: string, severity?: 'error' | 'warning') => void;
type CaResolver = (ref: { group?: string; kind: string; name: string; namespace?: string }, ns: string) => { pem: string } | { error: string; hint: string };
type CertResolver = (ref: { group?: string; kind?: string; name: string; namespace?: string }, ns: string) => { cert: string; key: string; ref: string } | { pending: string } | { error: string; reason: string; hint: string; field?: string };

export interface BackendTlsInput {
  readonly resources: readonly Resource[];
  readonly backends: ReadonlyMap<string, BackendIR>;
  /** The listeners that serve traffic, with their attached routes: they make the policy ancestors. */
  readonly listeners: readonly ListenerIR[];
  readonly routes: ReadonlyMap<string, HTTPRouteIR>;
  readonly status: StatusMap;
  readonly report: Report;
  readonly resolveCaRef: CaResolver;
  readonly resolveCertificateRef: CertResolver;
  readonly order: (a: Resource, b: Resource) => number;
  readonly controllerName: string;
}

/** spec.options keys Portcullis reads. Anything else is refused (a misspelt option must not be ignored silently). */
export const BACKEND_TLS_OPTIONS = { minTlsVersion: 'portcullis.dev/min-tls-version' } as const;

export function analyzeBackendTls(input: BackendTlsInput): void {
  const { resources, backends, report, status } = input;
  const gen = (r: Resource) => (r.doc.metadata?.generation as number | undefined) ?? 1;

  // Backend id -> the Gateways whose routes send traffic (or mirrors) to it.
  const gatewaysOf = new Map<string, Set<string>>();
  for (const l of input.listeners) {
    for (const a of l.attachments) {
      const route = input.routes.get(a.route);
      for (const rule of route?.rules ?? []) {
        for (const id of [...rule.backendRefs.map((b) => b.backend), ...rule.mirrors.map((m) => m.backend)]) {
          if (!id) continue;
          let s = gatewaysOf.get(id);
          if (!s) gatewaysOf.set(id, (s = new Set()));
          s.add(l.gateway);
        }
      }
    }
  }

  // The Gateways' backend client certificates, resolved once each.
  const gateways = new Map(resources.filter((r) => r.kind === 'Gateway').map((r) => [r.id, r as Resource<GatewayT>]));
  const clientCerts = new Map<string, { cert: string; key: string; ref: string } | { error: string }>();
  for (const gw of gateways.values()) {
    const ref = gw.doc.spec.tls?.backend?.clientCertificateRef;
    if (!ref) continue;
    const r = input.resolveCertificateRef(ref, gw.namespace);
    const p = ['spec', 'tls', 'backend', 'clientCertificateRef'];
    if ('pending' in r) {
      // A Certificate (src/certs) not issued yet: not a config error, but until it is issued the
      // Backends that need it fail closed (never TLS without the client certificate).
      clientCerts.set(gw.id, { error: `the backend client certificate of Gateway ${gw.namespace}/${gw.name} is not issued yet: ${r.pending}` });
      const st = status[gw.id] as { conditions?: Condition[] } | undefined;
      st?.conditions?.push(cond('ResolvedRefs', false, 'CertificatePending', `spec.tls.backend.clientCertificateRef: ${r.pending}`, gen(gw)));
    } else if ('error' in r) {
      report(gw, r.field ? [...p, r.field] : p, `backend client certificate: ${r.error}`, r.hint);
      clientCerts.set(gw.id, { error: `the backend client certificate of Gateway ${gw.namespace}/${gw.name} is not usable: ${r.error}` });
      const st = status[gw.id] as { conditions?: Condition[] } | undefined;
      // GEP-3155: RefNotPermitted for a cross-namespace Secret no ReferenceGrant allows, else InvalidClientCertificateRef.
      st?.conditions?.push(cond('ResolvedRefs', false, r.reason === 'RefNotPermitted' ? 'RefNotPermitted' : 'InvalidClientCertificateRef', `spec.tls.backend.clientCertificateRef: ${r.error}`, gen(gw)));
    } else clientCerts.set(gw.id, r);
  }

  const claimed = new Map<string, string>(); // Backend id -> winning policy id
  const policies = (resources.filter((r) => r.kind === 'BackendTLSPolicy') as Resource<BackendTLSPolicyT>[]).sort(input.order);
  for (const pol of policies) {
    const g = gen(pol);
    const spec = pol.doc.spec;
    const v = spec.validation;
    const errors: string[] = [];
    let accepted: { ok: boolean; reason: string; message: string } | undefined;
    let resolved = { ok: true, reason: 'ResolvedRefs', message: 'all references resolved' };
    const bad = (p: (string | number)[], message: string, hint: string) => { report(pol, ['spec', ...p], message, hint); errors.push(message); };

    // ---- trust anchors: caCertificateRefs XOR wellKnownCACertificates
    const refs = v.caCertificateRefs ?? [];
    let ca: string | undefined;
    if (refs.length && v.wellKnownCACertificates) bad(['validation'], 'caCertificateRefs and wellKnownCACertificates cannot both be set', 'keep caCertificateRefs for a private CA, or wellKnownCACertificates: System for public roots');
    else if (!refs.length && !v.wellKnownCACertificates) bad(['validation'], 'the policy names no trust anchors', 'add caCertificateRefs: [{ group: "", kind: ConfigMap, name: my-ca }] or wellKnownCACertificates: System');
    const pems: string[] = [];
    refs.forEach((ref, i) => {
      const p = ['validation', 'caCertificateRefs', i];
      if ((ref.group ?? '') !== '' || (ref.kind !== 'ConfigMap' && ref.kind !== 'Secret')) {
        bad([...p, 'kind'], `caCertificateRef kind ${ref.group ? `${ref.group}/` : ''}${ref.kind} is not supported`, 'reference a ConfigMap (group "", kind ConfigMap) with a PEM bundle under ca.crt');
        resolved = { ok: false, reason: 'InvalidKind', message: `caCertificateRefs[${i}]: kind ${ref.kind} is not supported` };
        return;
      }
      const r = input.resolveCaRef({ group: '', kind: ref.kind, name: ref.name }, pol.namespace);
      if ('error' in r) {
        bad([...p, 'name'], r.error, r.hint);
        resolved = { ok: false, reason: 'InvalidCACertificateRef', message: r.error };
      } else pems.push(r.pem);
    });
    if (pems.length) ca = pems.join('\n');
    if (refs.length && !pems.length) accepted = { ok: false, reason: 'NoValidCACertificate', message: 'no caCertificateRef resolves to a CA certificate' };

    // ---- subjectAltNames: each names its value in the field of its type
    const sans: { type: 'Hostname' | 'URI'; value: string }[] = [];
    (v.subjectAltNames ?? []).forEach((s, i) => {
      const p = ['validation', 'subjectAltNames', i];
      const value = s.type === 'Hostname' ? s.hostname : s.uri;
      const other = s.type === 'Hostname' ? s.uri : s.hostname;
      if (value === undefined) { bad(p, `a subjectAltName of type ${s.type} needs ${s.type === 'Hostname' ? 'hostname' : 'uri'}`, s.type === 'Hostname' ? 'add hostname: api.internal.example' : 'add uri: spiffe://example.org/ns/prod/sa/api'); return; }
      if (other !== undefined) { bad(p, `a subjectAltName of type ${s.type} takes only ${s.type === 'Hostname' ? 'hostname' : 'uri'}`, 'one entry per name: split it in two'); return; }
      if (s.type === 'URI' && !/^[a-zA-Z][a-zA-Z0-9+.-]*:\S+$/.test(value)) { bad([...p, 'uri'], `"${value}" is not an absolute URI`, 'write scheme:rest, e.g. spiffe://example.org/ns/prod/sa/api'); return; }
      sans.push({ type: s.type, value });
    });

    // ---- options
    let minVersion: 'TLSv1.2' | 'TLSv1.3' = 'TLSv1.2';
    for (const [k, val] of Object.entries(spec.options ?? {})) {
      if (k === BACKEND_TLS_OPTIONS.minTlsVersion) {
        if (val === 'TLSv1.2' || val === 'TLSv1.3') minVersion = val;
        else bad(['options', k], `${k} "${val}" is not supported`, 'use TLSv1.2 (default) or TLSv1.3');
      } else bad(['options', k], `option "${k}" is not known`, `supported: ${Object.values(BACKEND_TLS_OPTIONS).join(', ')}`);
    }
    if (errors.length && !accepted) accepted = { ok: false, reason: 'Invalid', message: errors[0] };

    // ---- targets
    const targets: BackendIR[] = [];
    const losing: BackendIR[] = [];
    let conflicted: string | undefined;
    let notFound: string | undefined;
    spec.targetRefs.forEach((t, ti) => {
      const tp = ['spec', 'targetRefs', ti];
      if (t.group !== PORTCULLIS_GROUP || t.kind !== 'Backend') {
        // HTTPRoute backendRefs take portcullis.dev Backends only (no Services off-cluster), so a
        // policy on a Service could never apply: say so rather than accept it.
        report(pol, tp, `targetRef ${t.group ? `${t.group}/` : ''}${t.kind} is not supported`, `target a Backend: { group: ${PORTCULLIS_GROUP}, kind: Backend, name: ... }`);
        notFound ??= `targetRef ${t.kind} ${t.name} is not supported`;
        return;
      }
      if (t.sectionName !== undefined) {
        report(pol, [...tp, 'sectionName'], 'a BackendTLSPolicy applies to all endpoints of a Backend', 'remove sectionName');
        errors.push('sectionName');
        accepted ??= { ok: false, reason: 'Invalid', message: 'sectionName is not supported on a Backend' };
      }
      const b = backends.get(resourceId('Backend', pol.namespace, t.name));
      if (!b) {
        const known = [...backends.values()].filter((x) => x.namespace === pol.namespace).map((x) => x.name);
        report(pol, [...tp, 'name'], `Backend ${pol.namespace}/${t.name} not found`, known.length ? `known Backends in ${pol.namespace}: ${known.join(', ')}` : 'policies attach to Backends in their own namespace');
        notFound ??= `Backend ${t.name} not found`;
        return;
      }
      const owner = claimed.get(b.id);
      if (owner) {
        report(pol, [...tp, 'name'], `Backend ${t.name} already has BackendTLSPolicy ${owner}`, 'one policy per Backend: the older one applies; remove or merge this one', 'warning');
        conflicted = owner;
        losing.push(b);
        return;
      }
      claimed.set(b.id, pol.id);
      targets.push(b);
    });
    if (notFound && !targets.length && !conflicted) accepted ??= { ok: false, reason: 'TargetNotFound', message: notFound };
    else if (notFound) { errors.push(notFound); accepted ??= { ok: false, reason: 'Invalid', message: notFound }; }
    if (conflicted && !targets.length) accepted = { ok: false, reason: 'Conflicted', message: `superseded by the older ${conflicted}` };

    // ---- program the targets (fail closed when anything above is wrong)
    for (const b of targets) {
      if (errors.length) { b.tls = { policy: pol.id, error: errors[0] }; continue; }
      const gws = [...(gatewaysOf.get(b.id) ?? [])];
      const certs = new Map<string, { cert: string; key: string; ref: string }>();
      let certError: string | undefined;
      for (const gw of gws) {
        const c = clientCerts.get(gw);
        if (c === undefined) continue;
        if ('error' in c) certError ??= c.error;
        else certs.set(c.ref, c);
      }
      // One pool per Backend carries one client certificate. Gateways disagreeing about it is
      // refused rather than guessed (Envoy Gateway has one per Gateway because its clusters are).
      if (!certError && certs.size > 1) {
        certError = `Backend ${b.name} is reached through Gateways with different backend client certificates (${[...certs.keys()].join(', ')})`;
        report(pol, ['spec', 'targetRefs'], certError, 'give those Gateways the same spec.tls.backend.clientCertificateRef, or use one Backend per Gateway');
      }
      // A Gateway without a client certificate next to one with it: the certificate is presented
      // to the Backend on both paths (the pool is shared); that only adds an identity, never removes a check.
      if (certError) { b.tls = { policy: pol.id, error: certError }; errors.push(certError); accepted ??= { ok: false, reason: 'Invalid', message: certError }; continue; }
      const clientCertificate = certs.size ? [...certs.values()][0] : undefined;
      b.tls = { policy: pol.id, servername: v.hostname, ...(ca !== undefined ? { ca } : {}), subjectAltNames: sans, minVersion, ...(clientCertificate ? { clientCertificate } : {}) };
    }

    // ---- status, per ancestor (the Gateways that reach the targets; the Backend itself when none does)
    const conditions = [
      cond('Accepted', accepted?.ok ?? true, accepted?.reason ?? 'Accepted', accepted?.message ?? 'policy attached', g),
      cond('ResolvedRefs', resolved.ok, resolved.reason, resolved.message, g),
    ];
    const ancestorIds = new Set<string>();
    for (const b of [...targets, ...losing]) for (const gw of gatewaysOf.get(b.id) ?? []) ancestorIds.add(gw);
    const ancestors = [...ancestorIds].sort().map((id) => {
      const [, namespace, name] = id.split('/');
      return { ancestorRef: { group: GATEWAY_GROUP, kind: 'Gateway', namespace, name }, controllerName: input.controllerName, conditions };
    });
    if (!ancestors.length) {
      const t = targets[0] ?? losing[0] ?? { name: spec.targetRefs[0].name };
      ancestors.push({ ancestorRef: { group: PORTCULLIS_GROUP, kind: 'Backend', namespace: pol.namespace, name: t.name }, controllerName: input.controllerName, conditions });
    }
    status[pol.id] = { ancestors };
  }
}
