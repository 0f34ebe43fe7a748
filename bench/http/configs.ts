/**
 * Configs for the proxy benchmark. The three proxies do the same work: accept HTTP/1.1 keep-alive on
 * loopback, add X-Forwarded-For (Portcullis always does; nginx and HAProxy are told to), and forward
 * to one upstream over a reused keep-alive connection pool, with no access log.
 */

/** The upstream's reply body: exactly 100 bytes of plain ASCII (no quotes, no backslashes). */
export const BODY_100 = ('portcullis-bench-reply-' + 'x'.repeat(100)).slice(0, 100);

/** Temp paths nginx would otherwise put under its compiled-in prefix (/var/lib/nginx). */
function nginxTemps(dir: string): string {
  return ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((t) => `  ${t}_temp_path ${dir}/${t}_temp;`).join('\n');
}

/** The fixed upstream: nginx answering every request with BODY_100, keep-alive, no log. */
export function nginxUpstreamConf(dir: string, port: number, workers: number): string {
  return `# bench upstream: 200 + 100-byte body for every request
worker_processes ${workers};
daemon off;
pid ${dir}/nginx.pid;
error_log stderr warn;
events { worker_connections 4096; }
http {
  access_log off;
${nginxTemps(dir)}
  keepalive_requests 10000000;
  keepalive_timeout 75s;
  server {
    listen 127.0.0.1:${port} reuseport backlog=4096;
    location / {
      default_type text/plain;
      return 200 "${BODY_100}";
    }
  }
}
`;
}

/** nginx as the proxy under test: upstream block with keepalive 64, HTTP/1.1 to the upstream. */
export function nginxProxyConf(dir: string, port: number, upstreamPort: number): string {
  return `# bench proxy: nginx
worker_processes 2;
daemon off;
pid ${dir}/nginx.pid;
error_log stderr warn;
events { worker_connections 4096; }
http {
  access_log off;
${nginxTemps(dir)}
  keepalive_requests 10000000;
  keepalive_timeout 75s;
  upstream bench_upstream {
    server 127.0.0.1:${upstreamPort};
    keepalive 64;
    keepalive_requests 10000000;
  }
  server {
    listen 127.0.0.1:${port} backlog=4096;
    location / {
      proxy_pass http://bench_upstream;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
    }
  }
}
`;
}

/** HAProxy as the proxy under test: mode http, 2 threads, http-reuse always, no log section. */
export function haproxyConf(port: number, upstreamPort: number): string {
  return `# bench proxy: HAProxy (no "log" line anywhere: nothing is logged)
global
  nbthread 2
  maxconn 4096

defaults
  mode http
  option http-keep-alive
  option forwardfor
  http-reuse always
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  timeout http-keep-alive 75s

frontend bench_in
  bind 127.0.0.1:${port}
  default_backend bench_upstream

backend bench_upstream
  server up1 127.0.0.1:${upstreamPort}
`;
}

export interface PortcullisFiles { [file: string]: string }

export interface RouteTarget {
  /** request path wrk asks for */
  path: string;
  /** Host header wrk sends, if the route needs one */
  host?: string;
}

/**
 * Portcullis config: a Gateway bound to 127.0.0.1:port, one Backend, and `routes` HTTPRoutes.
 * routes = 1: one route, PathPrefix "/", no hostname.
 * routes > 1: `routes` HTTPRoute resources, each with its own hostname (100 routes per hostname:
 * h<i/100>.bench.test) and its own PathPrefix (/svc<i>/), all to the same Backend; the target is the
 * route in the middle of the table.
 */
export function portcullisConfig(port: number, upstreamPort: number, routes: number): { files: PortcullisFiles; target: RouteTarget } {
  const gateway = `apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: { name: portcullis }
spec: { controllerName: portcullis.dev/gateway-controller }
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: bench, namespace: default }
spec:
  gatewayClassName: portcullis
  addresses: [{ type: IPAddress, value: 127.0.0.1 }]
  listeners:
    - { name: http, protocol: HTTP, port: ${port} }
`;
  const backend = `apiVersion: portcullis.dev/v1alpha1
kind: Backend
metadata: { name: upstream, namespace: default }
spec:
  endpoints:
    - { address: 127.0.0.1, port: ${upstreamPort} }
`;
  if (routes <= 1) {
    const route = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: all, namespace: default }
spec:
  parentRefs: [{ name: bench }]
  rules:
    - matches: [{ path: { type: PathPrefix, value: / } }]
      backendRefs: [{ group: portcullis.dev, kind: Backend, name: upstream }]
`;
    return { files: { 'gateway.yaml': gateway, 'backend.yaml': backend, 'routes.yaml': route }, target: { path: '/' } };
  }
  const docs: string[] = [];
  for (let i = 0; i < routes; i++) {
    docs.push(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: r${i}, namespace: default }
spec:
  parentRefs: [{ name: bench }]
  hostnames: [${hostFor(i)}]
  rules:
    - matches: [{ path: { type: PathPrefix, value: /svc${i}/ } }]
      backendRefs: [{ group: portcullis.dev, kind: Backend, name: upstream }]
`);
  }
  const mid = Math.floor(routes / 2);
  return {
    files: { 'gateway.yaml': gateway, 'backend.yaml': backend, 'routes.yaml': docs.join('---\n') },
    target: { path: `/svc${mid}/item`, host: hostFor(mid) },
  };
}

function hostFor(i: number): string {
  return `h${Math.floor(i / 100)}.bench.test`;
}
