/**
 * Shared parts of the network-level WAF evaluation (bench/waf/eval.ts) and the WAF benchmark
 * (bench/waf/run.ts): Portcullis configs with a WafPolicy, nginx + ModSecurity v3 configs loading
 * the same CRS v4 rules, and starting either one and waiting until it serves.
 *
 * Process handling (own process group per child, stop on every exit path, /proc sampling) and the
 * plain nginx configs come from the proxy benchmark in bench/http.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { nginxProxyConf, portcullisConfig } from '../http/configs.ts';
import { BenchError, launchPortcullis, start, stop, tail, type Started } from '../http/procs.ts';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
import { CRS_DIR, CRS_CORPUS, WAF_EVAL } from '../../scripts/shared.ts';

export { CRS_DIR, CRS_CORPUS as CORPUS, WAF_EVAL };
export const MODSEC_MODULE = '/usr/lib/nginx/modules/ngx_http_modsecurity_module.so';

export { BenchError, tail } from '../http/procs.ts';

export const log = (s: string) => process.stderr.write(s + '\n');
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


export function findTool(name: string): string | undefined {
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/local/sbin', '/sbin']) {
    const p = path.join(dir, name);
    try { fs.accessSync(p, fs.constants.X_OK); return p; } catch { /* next */ }
  }
  return undefined;
}

// ---------------------------------------------------------------- configs
export interface WafSettings {
  /** CRS blocking paranoia level */
  paranoia: 1 | 2 | 3 | 4;
  /** inbound anomaly score threshold (CRS default 5) */
  inboundThreshold: number;
}

/**
 * Portcullis: bench/http's single-route config (Gateway on 127.0.0.1:port, Backend, HTTPRoute `/`)
 * plus, when `waf` is given, a WafPolicy on the Gateway loading the CRS v4.28.0 directory unchanged.
 */
export function portcullisWafFiles(port: number, upstreamPort: number, waf: WafSettings | null): Record<string, string> {
  const { files } = portcullisConfig(port, upstreamPort, 1);
  if (!waf) return { ...files };
  return {
    ...files,
    'waf.yaml': `apiVersion: portcullis.dev/v1alpha1
kind: WafPolicy
metadata: { name: crs, namespace: default }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: Gateway, name: bench }]
  ruleSet: { crsDir: ${JSON.stringify(CRS_DIR)} }
  paranoiaLevel: ${waf.paranoia}
  anomalyThreshold: { inbound: ${waf.inboundThreshold} }
  mode: Block
`,
  };
}

/**
 * ModSecurity v3 main rules file: the engine settings of ModSecurity's modsecurity.conf-recommended
 * that matter for request inspection (request body access, JSON/XML body processors, limits), the
 * CRS's crs-setup.conf.example, the paranoia level and threshold, then the CRS rules/*.conf. Engine
 * On, audit log off, no debug log. Response bodies are not inspected (SecResponseBodyAccess Off),
 * as in Portcullis's default (WafPolicy responseBody.inspect false): both run phases 3 and 4 on the
 * status and headers only.
 *
 * `auditLog`: a file that gets one JSON line per transaction (SecAuditEngine On, parts A, B and H:
 * the request line and headers, and every rule that matched with its id). bench/waf/differential.ts
 * reads the matched rule ids from it; the error log would do too, but nginx cuts its lines at 2 KB
 * and ModSecurity writes each matching rule's whole regex before the id.
 */
export function modsecRulesConf(dir: string, waf: WafSettings, auditLog?: string): string {
  const audit = auditLog
    ? `SecAuditEngine On\nSecAuditLogType Serial\nSecAuditLogFormat JSON\nSecAuditLogParts ABHZ\nSecAuditLog ${auditLog}`
    : 'SecAuditEngine Off';
  return `# ModSecurity v3 + OWASP CRS ${path.basename(CRS_DIR)} (bench/waf)
SecRuleEngine On
SecRequestBodyAccess On
SecRule REQUEST_HEADERS:Content-Type "^(?:application(?:/soap\\+|/)|text/)xml" \\
     "id:'200000',phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=XML"
SecRule REQUEST_HEADERS:Content-Type "^application/json" \\
     "id:'200001',phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON"
SecRequestBodyLimit 13107200
SecRequestBodyNoFilesLimit 131072
SecRequestBodyLimitAction Reject
SecRule REQBODY_ERROR "!@eq 0" \\
  "id:'200002', phase:2,t:none,log,deny,status:400,msg:'Failed to parse request body.',logdata:'%{reqbody_error_msg}',severity:2"
SecResponseBodyAccess Off
SecTmpDir ${dir}/tmp
SecDataDir ${dir}/data
${audit}
SecArgumentSeparator &
SecCookieFormat 0
SecStatusEngine Off

Include ${CRS_DIR}/crs-setup.conf.example
SecAction "id:900000,phase:1,pass,t:none,nolog,tag:'OWASP_CRS',ver:'OWASP_CRS/4.28.0',setvar:tx.blocking_paranoia_level=${waf.paranoia}"
SecAction "id:900110,phase:1,pass,t:none,nolog,tag:'OWASP_CRS',ver:'OWASP_CRS/4.28.0',setvar:tx.inbound_anomaly_score_threshold=${waf.inboundThreshold},setvar:tx.outbound_anomaly_score_threshold=4"
Include ${CRS_DIR}/rules/*.conf
`;
}

/**
 * nginx + ModSecurity: bench/http's nginx proxy config (2 workers, upstream keepalive 64, HTTP/1.1
 * to the upstream, no access log) with the module loaded and `modsecurity on` for the server.
 */
export function nginxModsecConf(dir: string, port: number, upstreamPort: number, rulesFile: string): string {
  const base = nginxProxyConf(dir, port, upstreamPort);
  const withModule = `load_module ${MODSEC_MODULE};\n${base}`;
  const marker = '  access_log off;\n';
  if (!withModule.includes(marker)) throw new BenchError('PCS_ERR_BENCH_CONFIG', 'bench/http nginxProxyConf changed shape: no "access_log off;" line to put the modsecurity directives after');
  return withModule.replace(marker, `${marker}  modsecurity on;\n  modsecurity_rules_file ${rulesFile};\n  client_max_body_size 16m;\n`);
}

// ---------------------------------------------------------------- starting things
export interface Server { s: Started; port: number; startupMs: number }

/** The upstream of the WAF evaluations: 200 + "ok" to any method and path; the body, if any, is read and dropped. */
export function startUpstream(): Promise<{ port: number; close: () => Promise<void>; requests: () => number }> {
  let n = 0;
  const srv = http.createServer((req, res) => {
    n++;
    req.resume();
    req.on('end', () => { res.writeHead(200, { 'content-type': 'text/plain' }); res.end('ok'); });
  });
  srv.keepAliveTimeout = 30_000;
  return new Promise((resolve, reject) => {
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => resolve({
      port: (srv.address() as { port: number }).port,
      close: () => new Promise((r) => { srv.closeAllConnections(); srv.close(() => r()); }),
      requests: () => n,
    }));
  });
}

/** GET path -> status and body (Connection: close). */
export function probe(port: number, p = '/', timeoutMs = 2000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: p, agent: false, timeout: timeoutMs, headers: { connection: 'close', 'user-agent': 'portcullis-bench', accept: '*/*' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** Poll until GET / answers 200 (and `body` if given). */
export async function waitServing(s: Started, port: number, timeoutMs: number, body?: string): Promise<void> {
  const t0 = performance.now();
  let last = 'no attempt';
  let exited: number | string | undefined;
  void s.exited.then((c) => { exited = c; });
  while (performance.now() - t0 < timeoutMs) {
    if (exited !== undefined) throw new BenchError('PCS_ERR_BENCH_EXITED', `${s.name} exited (${exited}) before it served. Its output:\n${tail(s.output())}`);
    try {
      const r = await probe(port);
      if (r.status === 200 && (body === undefined || r.body === body)) return;
      last = `HTTP ${r.status}: ${r.body.slice(0, 300)}`;
      if (r.status !== 502 && r.status !== 503) break;
    } catch (e) { last = (e as Error).message; }
    await sleep(100);
  }
  await stop(s);
  throw new BenchError('PCS_ERR_BENCH_NOT_READY', `${s.name} on 127.0.0.1:${port} did not answer GET / with 200 within ${timeoutMs} ms; last: ${last}\nIts output:\n${tail(s.output())}`);
}

/** `node src/cli/main.ts start` on a fresh config dir under `tmp`; resolves once it serves. */
export async function startPortcullis(name: string, tmp: string, port: number, upstreamPort: number, waf: WafSettings | null, workerArgs: string[], body?: string): Promise<Server> {
  const { s, startupMs } = await launchPortcullis(name, REPO, tmp, portcullisWafFiles(port, upstreamPort, waf), workerArgs);
  await waitServing(s, port, 10_000, body);
  return { s, port, startupMs };
}

/**
 * nginx + ModSecurity + the CRS at `waf` (modsecRulesConf, written into nginx's own dir), proxying
 * to `upstreamPort`; resolves once it serves. `auditLog` names the audit log for that dir (none:
 * audit off).
 */
export function startModsecurity(name: string, nginxBin: string, tmp: string, port: number, upstreamPort: number, waf: WafSettings, opts: { auditLog?: (dir: string) => string; body?: string } = {}): Promise<Server> {
  return startNginx(name, nginxBin, tmp, port, (dir) => {
    const rules = path.join(dir, 'modsecurity.conf');
    fs.writeFileSync(rules, modsecRulesConf(dir, waf, opts.auditLog?.(dir)));
    return nginxModsecConf(dir, port, upstreamPort, rules);
  }, opts.body);
}

/** nginx in the foreground with `conf` (where __DIR__ is its own temp dir); resolves once it serves. */
export async function startNginx(name: string, nginxBin: string, tmp: string, port: number, conf: (dir: string) => string, body?: string): Promise<Server> {
  const dir = fs.mkdtempSync(path.join(tmp, 'nginx-'));
  for (const t of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) fs.mkdirSync(path.join(dir, `${t}_temp`));
  // ModSecurity's SecTmpDir / SecDataDir (nginx workers drop to an unprivileged user when run as root)
  for (const t of ['tmp', 'data']) { fs.mkdirSync(path.join(dir, t)); fs.chmodSync(path.join(dir, t), 0o777); }
  fs.chmodSync(dir, 0o755);
  const file = path.join(dir, 'nginx.conf');
  fs.writeFileSync(file, conf(dir).replaceAll('__DIR__', dir));
  const t0 = performance.now();
  const s = start(name, nginxBin, ['-p', dir, '-c', file, '-e', 'stderr']);
  await waitServing(s, port, 60_000, body);
  return { s, port, startupMs: performance.now() - t0 };
}
