/**
 * Shared by bench/tls/run.ts (TLS benchmark) and scripts/testssl.ts (TLS configuration scan):
 * throw-away test certificates made with the openssl CLI, and the Portcullis and nginx configs of
 * an HTTPS listener that serves them on loopback in front of one upstream.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { BenchError } from '../http/procs.ts';

/** The two key types the issue measures. */
export type KeyKind = 'ecdsa' | 'rsa';

export interface TestCert { readonly kind: KeyKind; readonly name: string; readonly certFile: string; readonly keyFile: string; readonly cert: string; readonly key: string }

/** The name the certificates are issued for (also 127.0.0.1 and localhost as SANs). */
export const TLS_HOST = 'bench.portcullis.test';

/**
 * A self-signed certificate (30 days, SANs: TLS_HOST, localhost, 127.0.0.1): ECDSA P-256 or
 * RSA-2048, SHA-256 signature, made with `openssl req -x509` in `dir`.
 */
export function makeCert(dir: string, kind: KeyKind): TestCert {
  const name = `bench-${kind}`;
  const certFile = path.join(dir, `${name}.crt`);
  const keyFile = path.join(dir, `${name}.key`);
  const keyArgs = kind === 'rsa' ? ['-newkey', 'rsa:2048'] : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];
  try {
    execFileSync('openssl', ['req', '-x509', ...keyArgs, '-sha256', '-nodes', '-days', '30', '-subj', `/CN=${TLS_HOST}`,
      '-addext', `subjectAltName=DNS:${TLS_HOST},DNS:localhost,IP:127.0.0.1`, '-addext', 'keyUsage=critical,digitalSignature' + (kind === 'rsa' ? ',keyEncipherment' : ''),
      '-addext', 'extendedKeyUsage=serverAuth', '-keyout', keyFile, '-out', certFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: Buffer };
    if (e.code === 'ENOENT') throw new BenchError('PCS_ERR_BENCH_TOOL_MISSING', 'openssl is not installed; run: sudo sh scripts/install-bench-tools.sh');
    throw new BenchError('PCS_ERR_BENCH_CERT', `openssl could not make the ${kind} certificate: ${e.stderr?.toString() ?? e.message}`);
  }
  return { kind, name, certFile, keyFile, cert: fs.readFileSync(certFile, 'utf8'), key: fs.readFileSync(keyFile, 'utf8') };
}

/**
 * Portcullis: a Gateway bound to 127.0.0.1 with one HTTPS listener serving `certs` (a catch-all
 * listener: its certificates are the server's own context, so RSA and ECDSA are both selectable),
 * one Backend, one HTTPRoute `/`. With `hsts`, a ClientTrafficPolicy sets Strict-Transport-Security.
 */
export function portcullisTlsConfig(port: number, upstreamPort: number, certs: readonly TestCert[], opts: { hsts?: string; plainPort?: number } = {}): Record<string, string> {
  const secrets = certs.map((c) => `apiVersion: v1
kind: Secret
metadata: { name: ${c.name}, namespace: default }
type: kubernetes.io/tls
data:
  tls.crt: ${Buffer.from(c.cert).toString('base64')}
  tls.key: ${Buffer.from(c.key).toString('base64')}
`).join('---\n');
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
    - name: https
      protocol: HTTPS
      port: ${port}
      tls: { certificateRefs: [${certs.map((c) => `{ name: ${c.name} }`).join(', ')}] }
${opts.plainPort ? `    - { name: http, protocol: HTTP, port: ${opts.plainPort} }\n` : ''}${opts.hsts ? `---
apiVersion: portcullis.dev/v1alpha1
kind: ClientTrafficPolicy
metadata: { name: tls, namespace: default }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: Gateway, name: bench }]
  hsts: ${opts.hsts}
` : ''}`;
  const route = `apiVersion: portcullis.dev/v1alpha1
kind: Backend
metadata: { name: upstream, namespace: default }
spec:
  endpoints:
    - { address: 127.0.0.1, port: ${upstreamPort} }
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: all, namespace: default }
spec:
  parentRefs: [{ name: bench }]
  rules:
    - matches: [{ path: { type: PathPrefix, value: / } }]
      backendRefs: [{ group: portcullis.dev, kind: Backend, name: upstream }]
`;
  return { 'gateway.yaml': gateway, 'secrets.yaml': secrets, 'routes.yaml': route };
}

/**
 * The TLS settings Portcullis uses (src/compiler/compile.ts TLS_DEFAULTS), in nginx's words: TLS
 * 1.2 and 1.3, the same suites in the same order (six ECDHE AEAD suites for 1.2, the three 1.3
 * suites AES-128 first), X25519/P-256/P-384, server order.
 */
export function nginxTlsDirectives(ciphers: string, curves: string): string {
  // Node takes the TLS 1.3 suites (TLS_*) in the same list; nginx needs them apart (ssl_conf_command).
  const all = ciphers.split(':');
  const v12 = all.filter((c) => !c.startsWith('TLS_')).join(':');
  const v13 = all.filter((c) => c.startsWith('TLS_')).join(':');
  return `    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ciphers ${v12};
${v13 ? `    ssl_conf_command Ciphersuites ${v13};\n` : ''}    ssl_prefer_server_ciphers on;
    ssl_ecdh_curve ${curves.replace(/P-256/g, 'prime256v1').replace(/P-384/g, 'secp384r1')};`;
}

/**
 * nginx as the TLS-terminating proxy: the bench/http nginx proxy with `listen ... ssl http2`
 * (and, with `plainPort`, the same server on a plain HTTP port too).
 */
export function nginxTlsProxyConf(dir: string, port: number, upstreamPort: number, certs: readonly TestCert[], tlsDirectives: string, plainPort?: number): string {
  return `# bench TLS proxy: nginx
worker_processes 2;
daemon off;
pid ${dir}/nginx.pid;
error_log stderr warn;
events { worker_connections 4096; }
http {
  access_log off;
${['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${dir}/${t}_temp;`).join('\n')}
  keepalive_requests 10000000;
  keepalive_timeout 75s;
  upstream bench_upstream {
    server 127.0.0.1:${upstreamPort};
    keepalive 64;
    keepalive_requests 10000000;
  }
  server {
    listen 127.0.0.1:${port} ssl http2 backlog=4096;
${plainPort ? `    listen 127.0.0.1:${plainPort} backlog=4096;\n` : ''}${certs.map((c) => `    ssl_certificate ${c.certFile};\n    ssl_certificate_key ${c.keyFile};`).join('\n')}
${tlsDirectives}
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
