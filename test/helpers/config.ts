// YAML building blocks shared by the integration tests (each test writes the rest of its config).

/** A Gateway named `name` bound to 127.0.0.1, up to its listeners. */
function gatewayHead(name: string): string {
  return `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: ${name}, namespace: default }
spec:
  gatewayClassName: portcullis
  addresses: [{ type: IPAddress, value: 127.0.0.1 }]`;
}

/** A Gateway named `name` bound to 127.0.0.1 with one HTTP listener on `port`. */
export function gatewayYaml(port: number, name = 'gw'): string {
  return `${gatewayHead(name)}
  listeners: [{ name: http, protocol: HTTP, port: ${port} }]`;
}

/**
 * A Gateway named `name` bound to 127.0.0.1 with these listeners, one flow mapping each (`{ name:
 * https, protocol: HTTPS, port: 8443, tls: ... }`), in block form: more spec fields may follow.
 */
export function gatewayWith(listeners: string[], name = 'gw'): string {
  return `${gatewayHead(name)}
  listeners:
${listeners.map((l) => `    - ${l}`).join('\n')}`;
}

/** A Backend with loopback endpoints on `ports`. */
export function backendYaml(name: string, ports: number[]): string {
  return `apiVersion: portcullis.dev/v1alpha1
kind: Backend
metadata: { name: ${name}, namespace: default }
spec: { endpoints: [${ports.map((p) => `{ address: 127.0.0.1, port: ${p} }`).join(', ')}] }`;
}

/** An HTTPRoute `name` on Gateway `gw` (optionally one listener) sending everything to Backend `backend`. */
export function routeYaml(backend: string, opts: { name?: string; sectionName?: string } = {}): string {
  return `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: ${opts.name ?? 'r'}, namespace: default }
spec:
  parentRefs: [{ name: gw${opts.sectionName ? `, sectionName: ${opts.sectionName}` : ''} }]
  rules: [{ backendRefs: [{ group: portcullis.dev, kind: Backend, name: ${backend} }] }]`;
}

/**
 * An HTTPRoute `name` on Gateway `gw` with one named rule per [rule name, path prefix], each sending
 * to Backend `backend` (policies attach to a rule with sectionName), then, with `fallback`, a rule
 * for every other path.
 */
export function prefixRouteYaml(backend: string, rules: Array<[string, string]>, opts: { name?: string; fallback?: boolean } = {}): string {
  const to = `backendRefs: [{ group: portcullis.dev, kind: Backend, name: ${backend} }]`;
  return `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: ${opts.name ?? 'app'}, namespace: default }
spec:
  parentRefs: [{ name: gw }]
  rules:
${[...rules.map(([name, prefix]) => `    - name: ${name}
      matches: [{ path: { type: PathPrefix, value: ${prefix} } }]
      ${to}`), ...(opts.fallback ? [`    - ${to}`] : [])].join('\n')}`;
}

/**
 * A kubernetes.io/tls Secret holding a PEM chain and key, written the three ways users write them:
 * base64 `data` (as kubectl does), `stringData` with block scalars, or `stringData` with quoted strings.
 */
export function tlsSecretYaml(name: string, c: { chain: string; key: string }, form: 'data' | 'block' | 'quoted' = 'data'): string {
  const head = `apiVersion: v1
kind: Secret
metadata: { name: ${name}, namespace: default }
type: kubernetes.io/tls`;
  const block = (pem: string) => pem.trim().split('\n').map((l) => `    ${l}`).join('\n');
  if (form === 'block') return `${head}\nstringData:\n  tls.crt: |\n${block(c.chain)}\n  tls.key: |\n${block(c.key)}`;
  if (form === 'quoted') return `${head}\nstringData:\n  tls.crt: ${JSON.stringify(c.chain)}\n  tls.key: ${JSON.stringify(c.key)}`;
  return `${head}\ndata:\n  tls.crt: ${Buffer.from(c.chain).toString('base64')}\n  tls.key: ${Buffer.from(c.key).toString('base64')}`;
}
