/**
 * TLS configuration scan of a Portcullis HTTPS listener with testssl.sh (Debian package `testssl.sh`,
 * installed by scripts/install-bench-tools.sh).
 *
 *   node scripts/testssl.ts [--min-severity LOW|MEDIUM|HIGH|CRITICAL] [--json PATH] [--keep]
 *
 * Starts, on 127.0.0.1 ephemeral ports: a small upstream (200 "ok"), and Portcullis with one HTTPS
 * listener serving a self-signed ECDSA P-256 and a self-signed RSA-2048 certificate (made with
 * openssl, as in bench/tls) and a ClientTrafficPolicy with hsts (max-age 1 year, includeSubDomains).
 * Runs `testssl --quiet --warnings off --color 0 --nodns none --ip 127.0.0.1 --jsonfile ...`
 * against it, then prints every finding at or above --min-severity (default MEDIUM: "above LOW";
 * the LOW ones are listed after them), each marked:
 *   [test cert]   caused by the self-signed throw-away certificate, not by Portcullis (untrusted
 *                 chain, no OCSP/CRL/CT/CAA, short validity, ...): a real deployment's certificate
 *                 from a CA does not have it;
 *   [test app]    about the test upstream's bare response (security headers an application sends);
 *   [portcullis]  caused by how Portcullis speaks TLS or HTTP: to be fixed or explained in docs/tls.md.
 * The severity filter is applied here, not with testssl's --severity, so that the JSON (--json
 * PATH) also keeps the OK/INFO results that show what is right (e.g. the HSTS header).
 *
 * Exit code: 0 when no [portcullis] finding is at or above --min-severity, 1 otherwise, 2 when a
 * tool is missing or something did not start. testssl takes 1 to 3 minutes on loopback: this is
 * not part of `npm test`; test/tls-quality.test.ts checks the same properties directly.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BenchError, freePort, killAllNow, launchPortcullis, stop, stopAll, tail } from '../bench/http/procs.ts';
import { makeCert, portcullisTlsConfig, TLS_HOST } from '../bench/tls/common.ts';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const LEVELS = ['OK', 'INFO', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL', 'WARN', 'FATAL'] as const;
const RANK: Record<string, number> = { OK: 0, INFO: 1, LOW: 2, MEDIUM: 3, HIGH: 4, CRITICAL: 5, WARN: 2, FATAL: 5 };

export interface TestsslFinding { id: string; ip?: string; port?: string; severity: string; finding: string; cve?: string; cwe?: string }

/**
 * testssl ids whose finding comes from the self-signed, throw-away certificate (or from the
 * loopback test setup) rather than from Portcullis. Matched on the id prefix.
 */
export const CAUSED_BY_TEST_CERT: readonly { prefix: string; why: string }[] = [
  { prefix: 'cert_chain_of_trust', why: 'self-signed test certificate: no CA vouches for it' },
  { prefix: 'cert_trust', why: 'the name checked is the test certificate\'s; a self-signed certificate is never trusted' },
  { prefix: 'cert_caIssuers', why: 'a self-signed certificate has no issuer to point to' },
  { prefix: 'cert_ocspURL', why: 'a self-signed certificate has no OCSP responder' },
  { prefix: 'cert_crlDistributionPoints', why: 'a self-signed certificate has no CRL' },
  { prefix: 'cert_revocation', why: 'a self-signed certificate has neither CRL nor OCSP' },
  { prefix: 'OCSP_stapling', why: 'no OCSP responder for a self-signed certificate, so nothing to staple' },
  { prefix: 'cert_mustStapleExtension', why: 'test certificate without must-staple' },
  { prefix: 'certificate_transparency', why: 'a self-signed certificate is not logged in CT' },
  { prefix: 'DNS_CAArecord', why: 'no DNS for the test name (--nodns none)' },
  { prefix: 'cert_validityPeriod', why: 'the test certificate lives 30 days' },
  { prefix: 'cert_expirationStatus', why: 'the test certificate lives 30 days' },
  { prefix: 'cert_extlifeSpan', why: 'the test certificate lives 30 days' },
  { prefix: 'cert_notAfter', why: 'the test certificate lives 30 days' },
  { prefix: 'cert_commonName', why: 'the test certificate\'s name' },
  { prefix: 'cert_subjectAltName', why: 'the test certificate\'s names' },
  { prefix: 'cert_crl', why: 'a self-signed certificate has no CRL' },
  { prefix: 'cert_ocsp', why: 'a self-signed certificate has no OCSP responder' },
  { prefix: 'trust', why: 'self-signed test certificate' },
  { prefix: 'chain_of_trust', why: 'self-signed test certificate' },
  { prefix: 'intermediate_cert', why: 'a self-signed certificate has no intermediate' },
  { prefix: 'scanProblem', why: 'a testssl limitation on this machine, not a property of the server' },
];

/**
 * testssl ids that judge the application's HTTP response, not TLS: the test upstream answers a bare
 * "ok". Security headers (X-Frame-Options, Content-Security-Policy, ...) are the application's to
 * send; like Envoy Gateway, Traefik and Caddy, Portcullis does not invent them (a route adds them
 * with a ResponseHeaderModifier filter). HSTS, the one that is about transport, is the Gateway's.
 */
export const CAUSED_BY_TEST_APP: readonly { prefix: string; why: string }[] = [
  { prefix: 'security_headers', why: 'the test upstream sends no X-Frame-Options/CSP/...: the application\'s headers (ResponseHeaderModifier can add them)' },
  { prefix: 'cookie_', why: 'the test upstream sets no cookies' },
];

function lookup(list: readonly { prefix: string; why: string }[], id: string): string | undefined {
  return list.find((c) => id === c.prefix || id.startsWith(c.prefix + ' ') || id.startsWith(c.prefix + '_') || (c.prefix.endsWith('_') && id.startsWith(c.prefix)))?.why;
}

/** Why a finding is not Portcullis's ([test cert] or [test app]), or undefined when it is. */
export function explain(id: string): { tag: string; why: string } | undefined {
  const cert = lookup(CAUSED_BY_TEST_CERT, id);
  if (cert) return { tag: '[test cert] ', why: cert };
  const app = lookup(CAUSED_BY_TEST_APP, id);
  return app ? { tag: '[test app]  ', why: app } : undefined;
}

function parseArgs(argv: string[]): { minSeverity: string; json?: string; keep: boolean } {
  const o: { minSeverity: string; json?: string; keep: boolean } = { minSeverity: 'MEDIUM', keep: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--min-severity') { o.minSeverity = String(argv[++i] ?? '').toUpperCase(); if (!(LEVELS as readonly string[]).includes(o.minSeverity)) throw new BenchError('PCS_ERR_USAGE', `--min-severity: one of ${LEVELS.join(', ')}`); }
    else if (a === '--json') o.json = argv[++i];
    else if (a === '--keep') o.keep = true;
    else throw new BenchError('PCS_ERR_USAGE', `unknown option ${a}; usage: node scripts/testssl.ts [--min-severity LEVEL] [--json PATH] [--keep]`);
  }
  return o;
}

function testsslBinary(): string {
  for (const b of ['testssl', 'testssl.sh']) {
    for (const dir of (process.env.PATH ?? '').split(':')) if (dir && fs.existsSync(path.join(dir, b))) return path.join(dir, b);
  }
  throw new BenchError('PCS_ERR_BENCH_TOOL_MISSING', 'testssl is not installed; run: sudo sh scripts/install-bench-tools.sh');
}

async function main(): Promise<number> {
  const o = parseArgs(process.argv.slice(2));
  const bin = testsslBinary();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pcs-testssl-'));
  const upstream = http.createServer((_req, res) => { res.writeHead(200, { 'content-type': 'text/plain' }); res.end('ok\n'); });
  try {
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const upPort = (upstream.address() as { port: number }).port;
    const certs = [makeCert(tmp, 'ecdsa'), makeCert(tmp, 'rsa')];
    const port = await freePort();
    const { s } = await launchPortcullis('portcullis', REPO, tmp, portcullisTlsConfig(port, upPort, certs, { hsts: '{ maxAge: 31536000, includeSubDomains: true }' }), []);
    const jsonFile = path.join(tmp, 'testssl.json');
    const args = ['--quiet', '--warnings', 'off', '--color', '0', '--nodns', 'none', '--ip', '127.0.0.1', '--jsonfile', jsonFile, `https://${TLS_HOST}:${port}/`];
    process.stderr.write(`running: ${bin} ${args.join(' ')}\n(1 to 3 minutes)\n`);
    const t0 = Date.now();
    const code = await new Promise<number>((resolve) => {
      const c = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      c.stdout.on('data', (d: Buffer) => { out += d.toString(); });
      c.stderr.on('data', (d: Buffer) => { out += d.toString(); });
      c.on('exit', (code) => { if (!fs.existsSync(jsonFile)) process.stderr.write(tail(out, 40) + '\n'); resolve(code ?? -1); });
    });
    process.stderr.write(`testssl exited with ${code} after ${Math.round((Date.now() - t0) / 1000)} s\n`);
    await stop(s);
    if (!fs.existsSync(jsonFile)) throw new BenchError('PCS_ERR_BENCH_TESTSSL', 'testssl wrote no JSON file');
    const all = JSON.parse(fs.readFileSync(jsonFile, 'utf8')) as TestsslFinding[];
    if (o.json) fs.writeFileSync(o.json === '-' ? '/dev/stdout' : o.json, JSON.stringify(all, null, 2) + '\n');
    return report(all, o.minSeverity);
  } finally {
    upstream.close();
    await stopAll();
    if (!o.keep) fs.rmSync(tmp, { recursive: true, force: true });
    else process.stderr.write(`kept ${tmp}\n`);
  }
}

/** Print the findings at or above `min` (then the LOW ones), marked; 1 if one is Portcullis's. */
export function report(all: readonly TestsslFinding[], min: string): number {
  const rows = (f: TestsslFinding) => {
    const e = explain(f.id);
    return `  ${f.severity.padEnd(8)} ${e ? e.tag : '[portcullis]'} ${f.id}: ${f.finding}${f.cve ? ` (${f.cve})` : ''}${e ? `\n             -> ${e.why}` : ''}`;
  };
  const above = all.filter((f) => RANK[f.severity] >= RANK[min] && f.severity !== 'WARN');
  const low = all.filter((f) => f.severity === 'LOW' && RANK[min] > RANK.LOW);
  const warn = all.filter((f) => f.severity === 'WARN');
  console.log(`testssl findings at or above ${min}: ${above.length}`);
  for (const f of above) console.log(rows(f));
  if (low.length) { console.log(`\nLOW findings: ${low.length}`); for (const f of low) console.log(rows(f)); }
  if (warn.length) { console.log(`\ntestssl warnings (the scan, not the server): ${warn.length}`); for (const f of warn) console.log(`  WARN     ${f.id}: ${f.finding}`); }
  // What is right matters too: the properties the issue asks about, as testssl saw them.
  console.log('\nselected OK/INFO results:');
  for (const id of ['TLS1', 'TLS1_1', 'TLS1_2', 'TLS1_3', 'ALPN_HTTP2', 'ALPN', 'PFS_ECDHE_curves', 'cipherorder_TLSv1_2', 'cipherorder_TLSv1_3', 'HSTS', 'HSTS_time', 'HSTS_subdomains', 'HSTS_preload', 'secure_renego', 'secure_client_renego', 'CRIME_TLS', 'BREACH', 'fallback_SCSV', 'sessionresumption_ticket', 'sessionresumption_ID']) {
    const f = all.find((x) => x.id === id);
    if (f) console.log(`  ${f.severity.padEnd(8)} ${id}: ${f.finding}`);
  }
  const ours = above.filter((f) => !explain(f.id));
  console.log(`\n${ours.length} finding(s) at or above ${min} caused by Portcullis, ${above.length - ours.length} by the test certificate or the test application`);
  return ours.length ? 1 : 0;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.on('exit', killAllNow);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => { void stopAll().finally(() => process.exit(130)); });
  main().then((code) => process.exit(code), (err: Error & { code?: string }) => {
    console.error(`${err.code ?? 'error'}: ${err.message}`);
    process.exit(err instanceof BenchError ? 2 : 1);
  });
}
