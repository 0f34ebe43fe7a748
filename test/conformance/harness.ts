// Gateway API conformance, off-cluster: the upstream suite's manifests and expectations, run
// against the real gateway process with real loopback echo backends.
//
// How the cluster world is translated (see docs/conformance.md):
// - Every Service of the base manifests (infra-backend-v1..v3 in gateway-conformance-infra,
//   app-backend-v1/v2 in gateway-conformance-app-backend, web-backend in
//   gateway-conformance-web-backend) is a `portcullis.dev` Backend pointing at one echo server
//   started here, which answers like the conformance echo server: its own name and namespace, the
//   path, host, method and headers it received.
// - A backendRef to a Service (no group/kind, or kind Service) becomes a ref to that Backend; any
//   other group/kind is kept as written (the "unknown kind" tests need it).
// - Each Gateway listens on 127.0.0.1. A conformance listener port (80, 8080, ...) becomes an
//   ephemeral port per Gateway and port, so two Gateways never share a socket, as two Gateways
//   with their own addresses do in a cluster. parentRef ports are mapped the same way.
// - The base manifests (namespaces, the same-namespace / all-namespaces / backend-namespaces
//   Gateways, the Backends) are written with every test's manifests, like the suite applies them.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { Agent, request } from 'undici';
import { freePort, startGateway, tmpDir, type GatewayProc } from '../helpers/cli.ts';

export const INFRA = 'gateway-conformance-infra';
export const APP = 'gateway-conformance-app-backend';
export const WEB = 'gateway-conformance-web-backend';
export const GATEWAY_CLASS = 'portcullis';

/** What the echo backend saw, as the conformance echo server reports it. */
export interface Captured {
  pod: string;
  namespace: string;
  path: string;
  host: string;
  method: string;
  headers: Record<string, string>;
}

export interface EchoBackend { name: string; namespace: string; port: number; requests: Captured[]; server: http.Server }

const BACKENDS: { name: string; namespace: string }[] = [
  { name: 'infra-backend-v1', namespace: INFRA },
  { name: 'infra-backend-v2', namespace: INFRA },
  { name: 'infra-backend-v3', namespace: INFRA },
  { name: 'app-backend-v1', namespace: APP },
  { name: 'app-backend-v2', namespace: APP },
  { name: 'web-backend', namespace: WEB },
];

/** Go duration as the echo server's ?delay= takes it: 1s, 500ms, 2m. */
function goDurationMs(s: string): number {
  let ms = 0;
  for (const m of s.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) ms += Number(m[1]) * ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as Record<string, number>)[m[2]];
  return ms;
}

/**
 * An echo server like the conformance suite's echo-basic: answers 200 with JSON describing the
 * request; `?delay=1s` waits first; `X-Echo-Set-Header: Name:value,Name2:value2` adds response
 * headers (the response header modifier tests need headers coming from the backend);
 * `?responseCode=&succeedAfter=&uuid=` simulates a backend that recovers (the retry test).
 */
export async function startEcho(name: string, namespace: string): Promise<EchoBackend> {
  const b = { name, namespace, port: 0, requests: [] as Captured[] } as EchoBackend;
  const attempts = new Map<string, number>();
  b.server = http.createServer((req, res) => {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headersDistinct)) headers[k] = (v ?? []).join(',');
    const seen: Captured = { pod: `${name}-0`, namespace, path: req.url ?? '/', host: req.headers.host ?? '', method: req.method ?? 'GET', headers };
    b.requests.push(seen);
    const url = new URL(req.url ?? '/', 'http://x');
    const delay = url.searchParams.get('delay');
    req.resume();
    req.on('end', () => setTimeout(() => {
      if (res.destroyed) return;
      const out: Record<string, string> = { 'content-type': 'application/json' };
      for (const item of (headers['x-echo-set-header'] ?? '').split(',')) {
        const i = item.indexOf(':');
        if (i > 0) out[item.slice(0, i).trim()] = item.slice(i + 1).trim();
      }
      // The retry simulation of echo-basic: ?responseCode=500&succeedAfter=2&uuid=U answers
      // responseCode to the first succeedAfter requests carrying uuid U, then 200.
      const code = Number(url.searchParams.get('responseCode') ?? 0);
      const uuid = url.searchParams.get('uuid');
      if (code && uuid) {
        const n = (attempts.get(uuid) ?? 0) + 1;
        attempts.set(uuid, n);
        if (n <= Number(url.searchParams.get('succeedAfter') ?? 0)) { res.writeHead(code, out); res.end(JSON.stringify(seen)); return; }
      }
      res.writeHead(200, out);
      res.end(JSON.stringify(seen));
    }, delay ? goDurationMs(delay) : 0));
  });
  b.server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => b.server.listen(0, '127.0.0.1', r));
  b.port = (b.server.address() as AddressInfo).port;
  return b;
}

export interface Request { path: string; host?: string; method?: string; headers?: Record<string, string> }
export interface Response { status: number; headers: Record<string, string>; body: string; captured?: Captured }

/** A conformance `http.ExpectedResponse`. */
export interface Case {
  /** The Gateway the request goes to (default same-namespace) and its conformance listener port (default 80). */
  gateway?: string;
  port?: number;
  request: Request;
  /** Expected status (default 200). */
  status?: number;
  /** The backend (echo server name) that must answer, and its namespace (default gateway-conformance-infra). */
  backend?: string;
  namespace?: string;
  /** What the backend must have received; as in the suite, defaults to the request itself. */
  expectedRequest?: { path?: string; host?: string; method?: string; headers?: Record<string, string>; absentHeaders?: string[] };
  /** Response headers that must be present (values compared) or absent. */
  responseHeaders?: Record<string, string>;
  absentResponseHeaders?: string[];
  /** For redirects: the Location parts that must match; unset host/port are not checked, unset scheme/path default to the request's. */
  redirect?: { scheme?: string; host?: string; port?: string; path?: string };
}

export interface ReloadRecord { result: string; trigger: string; version?: string; errors: string[] }
export type Condition = { type: string; status: string; reason: string; message?: string; observedGeneration?: number };
export interface RouteParentStatus { parentRef: { name: string; namespace?: string; sectionName?: string; port?: number }; conditions: Condition[] }

export interface ConformanceOptions {
  /** Pass --allow-partial: serve what a Kubernetes controller would serve when parts are invalid. */
  allowPartial?: boolean;
}

export class Conformance {
  gw!: GatewayProc;
  dir!: string;
  backends = new Map<string, EchoBackend>();
  readonly agent = new Agent({ connections: 32, keepAliveTimeout: 10_000 });
  private ports = new Map<string, number>();
  private pool: number[] = [];
  private last = '';

  static async start(opts: ConformanceOptions = {}): Promise<Conformance> {
    const c = new Conformance();
    for (const b of BACKENDS) c.backends.set(b.name, await startEcho(b.name, b.namespace));
    for (let i = 0; i < 24; i++) c.pool.push(await freePort());
    c.dir = tmpDir('pcs-conformance-');
    c.write('');
    try {
      c.gw = await startGateway(c.dir, ['--no-access-log', ...(opts.allowPartial ? ['--allow-partial'] : [])]);
    } catch (err) {
      // the caller never gets `c` to stop: close the backends here, or their listeners keep the
      // test file's process alive after its tests failed (a hung CI run)
      await c.closeBackends();
      throw err;
    }
    return c;
  }

  async stop(): Promise<void> {
    // Client connections first: the gateway drains open connections on SIGTERM.
    await this.agent.close();
    await this.gw?.stop();
    await this.closeBackends();
  }

  /** The echo backends and the config directory. */
  private async closeBackends(): Promise<void> {
    for (const b of this.backends.values()) { b.server.closeAllConnections(); await new Promise((r) => b.server.close(r)); }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  /** The real port standing for conformance port `port` of Gateway `ns/gateway`. */
  portFor(gateway: string, port = 80, ns = INFRA): number {
    const key = `${ns}/${gateway}:${port}`;
    let p = this.ports.get(key);
    if (p === undefined) {
      p = this.pool.shift();
      assert.ok(p !== undefined, 'out of pre-allocated ports');
      this.ports.set(key, p);
    }
    return p;
  }

  /** The base manifests (as the suite's conformance/base/manifests.yaml), translated. */
  base(): string {
    const gw = (name: string, from: string, extra = '') => `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: ${name}, namespace: ${INFRA} }
spec:
  gatewayClassName: "{GATEWAY_CLASS_NAME}"
  listeners:
  - name: http
    port: 80
    protocol: HTTP
    allowedRoutes:
      namespaces:
        from: ${from}${extra}
`;
    return [
      `apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: { name: ${GATEWAY_CLASS} }
spec: { controllerName: portcullis.dev/gateway-controller }
`,
      `apiVersion: v1\nkind: Namespace\nmetadata: { name: ${INFRA}, labels: { gateway-conformance: infra } }\n`,
      `apiVersion: v1\nkind: Namespace\nmetadata: { name: ${APP}, labels: { gateway-conformance: backend } }\n`,
      `apiVersion: v1\nkind: Namespace\nmetadata: { name: ${WEB}, labels: { gateway-conformance: backend } }\n`,
      gw('same-namespace', 'Same'),
      gw('all-namespaces', 'All'),
      gw('backend-namespaces', 'Selector', '\n        selector:\n          matchLabels:\n            gateway-conformance: backend'),
      ...[...this.backends.values()].map((b) => `apiVersion: portcullis.dev/v1alpha1
kind: Backend
metadata: { name: ${b.name}, namespace: ${b.namespace} }
spec: { endpoints: [{ address: 127.0.0.1, port: ${b.port} }] }
`),
    ].join('---\n');
  }

  /** Translate upstream conformance manifests to a Portcullis config (see the file header). */
  translate(manifests: string): string {
    const out: string[] = [];
    for (const d of parseAllDocuments(manifests)) {
      if (d.errors.length) throw d.errors[0];
      const doc = d.toJS() as any;
      if (!doc) continue;
      doc.metadata ??= {};
      if (doc.metadata.namespace === 'gw-conf-infra') doc.metadata.namespace = INFRA;
      const ns = doc.metadata.namespace ?? 'default';
      if (doc.kind === 'Gateway') {
        doc.apiVersion = 'gateway.networking.k8s.io/v1';
        if (doc.spec.gatewayClassName === '{GATEWAY_CLASS_NAME}') doc.spec.gatewayClassName = GATEWAY_CLASS;
        doc.spec.addresses = [{ type: 'IPAddress', value: '127.0.0.1' }];
        for (const l of doc.spec.listeners) l.port = this.portFor(doc.metadata.name, l.port, ns);
        delete doc.metadata.labels;
      }
      if (doc.kind === 'HTTPRoute' || doc.kind === 'GRPCRoute') {
        for (const pr of doc.spec.parentRefs ?? []) {
          if (pr.namespace === 'gw-conf-infra') pr.namespace = INFRA;
          if (pr.port !== undefined) pr.port = this.portFor(pr.name, pr.port, pr.namespace ?? ns);
        }
        for (const rule of doc.spec.rules ?? []) {
          for (const br of rule.backendRefs ?? []) translateBackendRef(br);
          for (const f of rule.filters ?? []) if (f.requestMirror) translateBackendRef(f.requestMirror.backendRef);
        }
      }
      if (doc.kind === 'ReferenceGrant') {
        for (const f of doc.spec.from) if (f.namespace === 'gw-conf-infra') f.namespace = INFRA;
        // A grant to core Services becomes a grant to Backends; other targets are kept.
        for (const t of doc.spec.to) if (t.group === '' && t.kind === 'Service') { t.group = 'portcullis.dev'; t.kind = 'Backend'; }
      }
      out.push(stringify(doc));
    }
    return out.join('---\n');
  }

  private write(manifests: string): string {
    const text = this.translate(this.base() + '---\n' + manifests);
    const f = path.join(this.dir, 'config.yaml');
    fs.writeFileSync(f + '.tmp', text);
    fs.renameSync(f + '.tmp', f);
    return text;
  }

  /**
   * Replace the test manifests (the base stays) and reload; resolves with the reload record.
   * `expectFailure` allows a refused reload (strict mode), otherwise a refusal fails the test.
   */
  async apply(manifests: string, opts: { expectFailure?: boolean } = {}): Promise<ReloadRecord> {
    if (manifests === this.last) return { result: 'unchanged', trigger: 'none', errors: [] };
    this.write(manifests);
    // The file watcher may be reloading already; only a reload started by this request is sure
    // to have read the new file.
    let rec: ReloadRecord;
    for (let i = 0; ; i++) {
      const res = await this.gw.admin('/reload', { method: 'POST' });
      rec = await res.json() as ReloadRecord;
      if (rec.trigger === 'admin-api' || i > 5) break;
    }
    if (!opts.expectFailure && rec.result === 'failure') assert.fail(`config refused:\n${rec.errors.join('\n')}`);
    this.last = manifests;
    return rec;
  }

  async status(): Promise<Record<string, any>> {
    const st = await (await this.gw.admin('/status')).json() as { resources: Record<string, any> };
    return st.resources;
  }

  /** status.parents of a route (HTTPRoute by default), or [] when the route has no status. */
  async routeParents(name: string, ns = INFRA, kind = 'HTTPRoute'): Promise<RouteParentStatus[]> {
    return (await this.status())[`${kind}/${ns}/${name}`]?.parents ?? [];
  }

  /** As kubernetes.HTTPRouteMustHaveCondition: the route's status for parent gwNN has the condition (any reason if reason is ''). */
  async routeMustHaveCondition(route: string, gateway: string, want: { type: string; status: string; reason?: string }, ns = INFRA, gwNs = INFRA, kind = 'HTTPRoute'): Promise<void> {
    const parents = await this.routeParents(route, ns, kind);
    const p = parents.find((x) => x.parentRef.name === gateway && (x.parentRef.namespace ?? ns) === gwNs);
    assert.ok(p, `${kind} ${ns}/${route} has no status for parent ${gwNs}/${gateway}: ${JSON.stringify(parents)}`);
    const c = p.conditions.find((x) => x.type === want.type);
    assert.ok(c, `no ${want.type} condition on ${ns}/${route}: ${JSON.stringify(p.conditions)}`);
    assert.equal(c.status, want.status, `${want.type} of ${ns}/${route}: ${JSON.stringify(c)}`);
    if (want.reason) assert.equal(c.reason, want.reason, `${want.type} reason of ${ns}/${route}: ${JSON.stringify(c)}`);
  }

  /** As kubernetes.GatewayAndHTTPRoutesMustBeAccepted (GatewayAndRoutesMustBeAccepted for other kinds): every route is Accepted by the Gateway. */
  async routesMustBeAccepted(gateway: string, routes: string[], ns = INFRA, kind = 'HTTPRoute'): Promise<void> {
    for (const r of routes) {
      const [rns, rname] = r.includes('/') ? r.split('/') : [ns, r];
      await this.routeMustHaveCondition(rname, gateway, { type: 'Accepted', status: 'True' }, rns, ns, kind);
    }
  }

  /** As kubernetes.HTTPRouteMustHaveResolvedRefsConditionsTrue. */
  async resolvedRefsMustBeTrue(route: string, gateway: string, ns = INFRA, gwNs = INFRA): Promise<void> {
    await this.routeMustHaveCondition(route, gateway, { type: 'ResolvedRefs', status: 'True' }, ns, gwNs);
  }

  /** As kubernetes.HTTPRouteMustHaveNoAcceptedParents. */
  async routeMustHaveNoAcceptedParents(route: string, ns = INFRA): Promise<void> {
    const parents = await this.routeParents(route, ns);
    for (const p of parents) assert.ok(!p.conditions.some((c) => c.type === 'Accepted' && c.status === 'True'), `${ns}/${route} is accepted by ${JSON.stringify(p.parentRef)}`);
  }

  /** As kubernetes.GatewayMustHaveZeroRoutes: attachedRoutes is 0 on every listener. */
  async gatewayMustHaveZeroRoutes(gateway: string, ns = INFRA): Promise<void> {
    const gw = (await this.status())[`Gateway/${ns}/${gateway}`];
    assert.ok(gw, `no status for Gateway ${ns}/${gateway}`);
    for (const l of gw.listeners) assert.equal(l.attachedRoutes, 0, `listener ${l.name} of ${gateway} has ${l.attachedRoutes} routes`);
  }

  async listenerStatus(gateway: string, ns = INFRA): Promise<{ name: string; attachedRoutes: number; supportedKinds: { group: string; kind: string }[]; conditions: Condition[] }[]> {
    return (await this.status())[`Gateway/${ns}/${gateway}`]?.listeners ?? [];
  }

  /** Send one request to Gateway `gateway` on conformance port `port`. */
  async send(req: Request, gateway = 'same-namespace', port = 80, gwNs = INFRA): Promise<Response> {
    const p = this.portFor(gateway, port, gwNs);
    const res = await request(`http://127.0.0.1:${p}${req.path}`, {
      method: (req.method ?? 'GET') as 'GET', dispatcher: this.agent,
      headers: { host: req.host ?? `127.0.0.1:${p}`, ...req.headers },
    });
    const body = await res.body.text();
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(res.headers)) headers[k] = Array.isArray(v) ? v.join(',') : String(v);
    let captured: Captured | undefined;
    if (headers['content-type'] === 'application/json') { try { captured = JSON.parse(body) as Captured; } catch { /* not the echo server */ } }
    return { status: res.statusCode, headers, body, captured };
  }

  /** As http.MakeRequestAndExpectEventuallyConsistentResponse (one try: the reload has completed). */
  async expect(tc: Case): Promise<Response> {
    const port = tc.port ?? 80;
    const gateway = tc.gateway ?? 'same-namespace';
    const r = await this.send(tc.request, gateway, port);
    const label = `${tc.request.method ?? 'GET'} ${tc.request.host ?? ''}${tc.request.path} ${JSON.stringify(tc.request.headers ?? {})}`;
    const want = tc.status ?? 200;
    assert.equal(r.status, want, `${label}: status ${r.status}, want ${want}; body ${r.body.slice(0, 300)}`);
    if (tc.redirect) {
      const loc = r.headers.location;
      assert.ok(loc, `${label}: no Location header`);
      const u = new URL(loc);
      const reqUrl = new URL(tc.request.path, 'http://x');
      const scheme = tc.redirect.scheme ?? 'http';
      assert.equal(u.protocol, scheme + ':', `${label}: Location ${loc}: scheme`);
      if (tc.redirect.host !== undefined) assert.equal(u.hostname, tc.redirect.host, `${label}: Location ${loc}: host`);
      if (tc.redirect.port !== undefined) assert.equal(u.port || (u.protocol === 'https:' ? '443' : '80'), tc.redirect.port, `${label}: Location ${loc}: port`);
      assert.equal(u.pathname, tc.redirect.path ?? reqUrl.pathname, `${label}: Location ${loc}: path`);
      return r;
    }
    if (want >= 300 && want < 400) return r;
    if (want !== 200 && !tc.backend) return r;
    const c = r.captured;
    assert.ok(c, `${label}: not answered by an echo backend: ${r.body.slice(0, 300)}`);
    if (tc.backend) {
      assert.ok(c.pod.startsWith(tc.backend), `${label}: answered by ${c.pod}, want ${tc.backend}`);
      assert.equal(c.namespace, tc.namespace ?? INFRA, `${label}: backend namespace`);
    }
    const er = { ...tc.request, ...tc.expectedRequest, headers: tc.expectedRequest ? tc.expectedRequest.headers : tc.request.headers };
    assert.equal(c.path, er.path, `${label}: backend saw path ${c.path}`);
    assert.equal(c.method, er.method ?? 'GET', `${label}: backend saw method ${c.method}`);
    // As the suite: with no expectedRequest the request itself is expected, Host included.
    const wantHost = tc.expectedRequest ? tc.expectedRequest.host : tc.request.host;
    if (wantHost !== undefined) assert.equal(c.host, wantHost, `${label}: backend saw host ${c.host}, want ${wantHost}`);
    for (const [k, v] of Object.entries(er.headers ?? {})) {
      assert.equal(c.headers[k.toLowerCase()], v, `${label}: backend saw header ${k}: ${c.headers[k.toLowerCase()]}, want ${v}`);
    }
    for (const k of tc.expectedRequest?.absentHeaders ?? []) assert.equal(c.headers[k.toLowerCase()], undefined, `${label}: header ${k} must not reach the backend`);
    for (const [k, v] of Object.entries(tc.responseHeaders ?? {})) assert.equal(r.headers[k.toLowerCase()], v, `${label}: response header ${k}: ${r.headers[k.toLowerCase()]}, want ${v}`);
    for (const k of tc.absentResponseHeaders ?? []) assert.equal(r.headers[k.toLowerCase()], undefined, `${label}: response header ${k} must be absent`);
    return r;
  }

  /** Run cases concurrently, like the suite's t.Parallel() subtests; all failures are reported. */
  async expectAll(cases: Case[]): Promise<void> {
    const results = await Promise.allSettled(cases.map((tc) => this.expect(tc)));
    const failed = results.flatMap((r) => r.status === 'rejected' ? [String((r.reason as Error).message)] : []);
    assert.deepEqual(failed, [], `${failed.length} of ${cases.length} cases failed`);
  }
}

function translateBackendRef(br: any): void {
  if ((br.group ?? '') === '' && (br.kind ?? 'Service') === 'Service') {
    br.group = 'portcullis.dev';
    br.kind = 'Backend';
    delete br.port;
  }
  if (br.namespace === 'gw-conf-infra') br.namespace = INFRA;
}

/** Count which backend answered `n` requests (concurrency 10), as the weight tests do. */
export async function distribution(c: Conformance, req: Request, n: number): Promise<Record<string, number>> {
  const seen: Record<string, number> = {};
  let next = 0;
  const worker = async () => {
    while (next < n) {
      next++;
      const r = await c.send(req);
      assert.equal(r.status, 200, r.body);
      const pod = r.captured!.pod.replace(/-0$/, '');
      seen[pod] = (seen[pod] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: 10 }, worker));
  return seen;
}

/**
 * The suite's tls-validity-checks-certificate Secret: a self-signed certificate (openssl CLI) for
 * `names`, as a kubernetes.io/tls Secret manifest, and its PEM for clients to trust.
 */
export function tlsSecret(names: string[], name = 'tls-validity-checks-certificate', ns = INFRA): { manifest: string; cert: string } {
  const dir = tmpDir('pcs-conformance-cert-');
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
      '-subj', `/CN=${names[0]}`, '-addext', `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}`,
      '-keyout', path.join(dir, 'k.pem'), '-out', path.join(dir, 'c.pem')], { stdio: 'ignore' });
    const cert = fs.readFileSync(path.join(dir, 'c.pem'), 'utf8');
    const key = fs.readFileSync(path.join(dir, 'k.pem'), 'utf8');
    const manifest = stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: ns }, type: 'kubernetes.io/tls', stringData: { 'tls.crt': cert, 'tls.key': key } });
    return { manifest, cert };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
