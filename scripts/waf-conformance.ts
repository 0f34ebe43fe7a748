/**
 * Engine-level CRS conformance runner (no network), in the spirit of go-ftw.
 *
 *   node scripts/waf-conformance.ts [--filter 942[,941...]] [--json out.json] [--per-pl]
 *        [--corpus file.jsonl] [--crs dir] [--write-known-failures] [--verbose]
 *   node scripts/waf-conformance.ts --blocking 1      (detection / blocked-benign %, like waf-eval)
 *
 * Engine setup (the CRS project's own regression setup, tests/docker-compose.yml of coreruleset):
 * SecRuleEngine DetectionOnly, blocking paranoia level 4 (every rule runs, the test's
 * paranoia_level is informational), arg_length=400, total_arg_length=6400, max_file_size=64100,
 * combined_file_sizes=65535, crs_validate_utf8_encoding=1, response body inspection of
 * text/plain text/html text/xml application/json. The backend is emulated like albedo
 * (POST /reflect returns the status, headers and body given in the JSON request body).
 * With --per-pl, each test instead runs at blocking paranoia level = its own paranoia_level.
 *
 * Scoring: an 'attack' or 'benign' test passes when every id of expect_ids was logged and no id of
 * no_expect_ids was. 'other' tests only check an HTTP status produced by the web server in front of
 * the engine (Apache/nginx request-line parsing); they are not scoreable at engine level and are
 * reported as skipped.
 * Exit status: 1 when a test that is not listed in waf/known-failures.json fails.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadWaf, type Waf } from '../src/waf/index.ts';
import { CRS_CORPUS, CRS_DIR } from './shared.ts';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');

export interface CorpusTest {
  id: string;
  rule_id: number;
  category: string;
  expect: 'attack' | 'benign' | 'other';
  paranoia_level: number | null;
  phase: 'request' | 'response';
  method: string;
  uri: string;
  version: string;
  headers: Record<string, string> | Array<[string, string]>;
  body: string;
  raw_b64?: string;
  expect_ids: number[];
  no_expect_ids: number[];
}

export interface TestResult {
  id: string;
  family: string;
  pass: boolean;
  skipped: boolean;
  missing: number[];
  unexpected: number[];
  error?: string;
}

export function testSetup(paranoia: number): string {
  return `
SecRuleEngine DetectionOnly
SecRequestBodyAccess On
SecResponseBodyAccess On
SecResponseBodyMimeType text/plain text/html text/xml application/json
SecAction "id:900005,phase:1,nolog,pass,t:none,\\
  setvar:tx.blocking_paranoia_level=${paranoia},\\
  setvar:tx.crs_validate_utf8_encoding=1,\\
  setvar:tx.arg_name_length=100,\\
  setvar:tx.max_num_args=255,\\
  setvar:tx.arg_length=400,\\
  setvar:tx.total_arg_length=6400,\\
  setvar:tx.max_file_size=64100,\\
  setvar:tx.combined_file_sizes=65535"
`;
}

interface RawRequest {
  method: string;
  uri: string;
  version: string;
  headers: Array<[string, string]>;
  body: string; // latin1 bytes
}

/** Parse raw HTTP/1.x request bytes (latin1 string). */
export function parseRawRequest(raw: string): RawRequest {
  let headEnd = raw.indexOf('\r\n\r\n');
  let sep = 4;
  if (headEnd < 0) { headEnd = raw.indexOf('\n\n'); sep = 2; }
  const head = headEnd < 0 ? raw : raw.slice(0, headEnd);
  let body = headEnd < 0 ? '' : raw.slice(headEnd + sep);
  const lines = head.split(/\r?\n/);
  const rl = lines.shift() ?? '';
  const m = /^(\S*)\s+(.*?)(?:\s+(HTTP\/\S+))?\s*$/.exec(rl);
  const method = m?.[1] ?? '';
  const uri = m?.[2] ?? '';
  const version = m?.[3] ?? 'HTTP/1.1';
  const headers: Array<[string, string]> = [];
  for (const l of lines) {
    const c = l.indexOf(':');
    if (c <= 0) continue;
    headers.push([l.slice(0, c), l.slice(c + 1).trim()]);
  }
  const te = headers.find(([k]) => k.toLowerCase() === 'transfer-encoding')?.[1];
  const cl = headers.find(([k]) => k.toLowerCase() === 'content-length')?.[1];
  if (te === undefined && cl !== undefined && /^\d+$/.test(cl)) body = body.slice(0, Number(cl));
  return { method, uri, version, headers, body };
}

function dechunk(s: string): string {
  let out = '';
  let i = 0;
  for (;;) {
    const e = s.indexOf('\r\n', i);
    if (e < 0) break;
    const size = parseInt(s.slice(i, e).split(';')[0].trim(), 16);
    if (!Number.isFinite(size) || size <= 0) break;
    out += s.slice(e + 2, e + 2 + size);
    i = e + 2 + size + 2;
  }
  return out;
}

/**
 * What a standards-following HTTP/1.1 server hands to the WAF (Node's parser, nginx and httpd agree):
 * a chunked body is de-chunked and Content-Length is dropped when Transfer-Encoding is present;
 * without Content-Length or Transfer-Encoding there is no body. Returns null when the server would
 * reject the request before the WAF runs (bare CR/LF in a header value).
 */
export function serverView(req: RawRequest): RawRequest | null {
  if (req.headers.some(([k, v]) => /[\r\n]/.test(k) || /[\r\n]/.test(v))) return null;
  const te = req.headers.find(([k]) => k.toLowerCase() === 'transfer-encoding')?.[1];
  if (te !== undefined) {
    const headers = req.headers.filter(([k]) => k.toLowerCase() !== 'content-length');
    return { ...req, headers, body: /chunked/i.test(te) && /^[0-9a-f]+\r?\n/i.test(req.body) ? dechunk(req.body) : req.body };
  }
  if (!req.headers.some(([k]) => k.toLowerCase() === 'content-length')) return { ...req, body: '' };
  return req;
}

function requestOf(t: CorpusTest): RawRequest {
  if (t.raw_b64) return parseRawRequest(Buffer.from(t.raw_b64, 'base64').toString('latin1'));
  const headers: Array<[string, string]> = Array.isArray(t.headers) ? t.headers : Object.entries(t.headers ?? {});
  // the corpus holds text; requests are sent as UTF-8 bytes
  const enc = (s: string) => Buffer.from(s ?? '', 'utf8').toString('latin1');
  return { method: enc(t.method), uri: enc(t.uri), version: t.version || 'HTTP/0.9', headers: headers.map(([k, v]) => [enc(k), enc(String(v))]), body: enc(t.body ?? '') };
}

/** Emulated backend response (albedo /reflect; other paths: 200, empty body). */
function responseOf(req: RawRequest): { status: number; headers: Array<[string, string]>; body: string } {
  if (req.method === 'POST' && req.uri.split('?')[0] === '/reflect') {
    try {
      const spec = JSON.parse(Buffer.from(req.body, 'latin1').toString('utf8')) as { status?: number; headers?: Record<string, string>; body?: string; encodedBody?: string };
      const body = spec.body ? Buffer.from(spec.body, 'utf8').toString('latin1') : spec.encodedBody ? Buffer.from(spec.encodedBody, 'base64').toString('latin1') : '';
      const headers = Object.entries(spec.headers ?? {});
      if (!headers.some(([k]) => k.toLowerCase() === 'content-type')) headers.push(['Content-Type', 'text/plain; charset=utf-8']);
      return { status: spec.status && spec.status >= 100 ? spec.status : 200, headers, body };
    } catch {
      return { status: 400, headers: [['Content-Type', 'text/plain']], body: 'Invalid JSON in request body' };
    }
  }
  return { status: 200, headers: [['Content-Type', 'text/plain']], body: '' };
}

export function runTest(waf: Waf, t: CorpusTest): { logged: Set<number> } {
  const req = serverView(requestOf(t));
  if (!req) return { logged: new Set() }; // rejected by the HTTP layer, the WAF never sees it
  const tx = waf.newTransaction({ remoteAddr: '127.0.0.1', remotePort: 40000, serverAddr: '127.0.0.1', serverPort: 80 });
  tx.processUri(req.method, req.uri, req.version);
  for (const [k, v] of req.headers) tx.addRequestHeader(k, v);
  tx.processRequestHeaders();
  if (req.body) tx.appendRequestBody(req.body);
  tx.processRequestBody();
  const res = responseOf(req);
  for (const [k, v] of res.headers) tx.addResponseHeader(k, v);
  tx.processResponseHeaders(res.status, 'HTTP/1.1');
  if (res.body) tx.appendResponseBody(res.body);
  tx.processResponseBody();
  tx.processLogging();
  return { logged: new Set(tx.matchedRules.map((r) => r.id)) };
}

export function familyOf(t: CorpusTest): string {
  return String(t.rule_id).slice(0, 3);
}

export function judge(t: CorpusTest, logged: Set<number>): TestResult {
  const family = familyOf(t);
  if (t.expect === 'other') return { id: t.id, family, pass: false, skipped: true, missing: [], unexpected: [] };
  const missing = (t.expect_ids ?? []).filter((id) => !logged.has(id));
  const unexpected = (t.no_expect_ids ?? []).filter((id) => logged.has(id));
  return { id: t.id, family, pass: missing.length === 0 && unexpected.length === 0, skipped: false, missing, unexpected };
}

export async function runConformance(opts: { corpus: string; crs: string; filter?: string; perPl?: boolean }): Promise<TestResult[]> {
  const tests = readFileSync(opts.corpus, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as CorpusTest)
    .filter((t) => !opts.filter || opts.filter.split(',').some((f) => t.id.startsWith(f) || String(t.rule_id).startsWith(f) || t.category.startsWith(f)));
  const wafs = new Map<number, Waf>();
  const wafFor = async (pl: number) => {
    let w = wafs.get(pl);
    if (!w) {
      w = await loadWaf({ crsDir: opts.crs, beforeCrs: testSetup(pl) });
      wafs.set(pl, w);
    }
    return w;
  };
  const results: TestResult[] = [];
  for (const t of tests) {
    const pl = opts.perPl ? Math.min(4, Math.max(1, t.paranoia_level ?? 1)) : 4;
    const waf = await wafFor(pl);
    try {
      const { logged } = runTest(waf, t);
      results.push(judge(t, logged));
    } catch (e) {
      results.push({ id: t.id, family: familyOf(t), pass: false, skipped: false, missing: t.expect_ids ?? [], unexpected: [], error: (e as Error).stack ?? String(e) });
    }
  }
  return results;
}

export function summarize(results: TestResult[]): { families: Record<string, { pass: number; total: number }>; pass: number; total: number; skipped: number } {
  const families: Record<string, { pass: number; total: number }> = {};
  let pass = 0;
  let total = 0;
  let skipped = 0;
  for (const r of results) {
    if (r.skipped) { skipped++; continue; }
    const f = (families[r.family] ??= { pass: 0, total: 0 });
    f.total++;
    total++;
    if (r.pass) { f.pass++; pass++; }
  }
  return { families, pass, total, skipped };
}

function reasonOf(r: TestResult): string {
  if (r.error) return `engine error: ${r.error.split('\n')[0]}`;
  const parts: string[] = [];
  if (r.missing.length) parts.push(`expected rule(s) ${r.missing.join(',')} did not fire`);
  if (r.unexpected.length) parts.push(`rule(s) ${r.unexpected.join(',')} fired but must not`);
  return parts.join('; ');
}

/**
 * Blocking evaluation at engine level, scored like shared/tools/waf-eval.mjs: CRS at blocking
 * paranoia level `pl` with its default anomaly thresholds, engine On, request phases only, tests
 * with paranoia_level <= pl; an 'attack' counts as detected when the engine interrupts it, a
 * 'benign' test counts as blocked when it does (such a request may still be an attack for other rules).
 */
export async function blockingEval(opts: { corpus: string; crs: string; pl: number }): Promise<{ detected: number; attacks: number; blocked: number; benign: number }> {
  const waf = await loadWaf({ crsDir: opts.crs, paranoiaLevel: opts.pl, engineMode: 'On' });
  const tests = readFileSync(opts.corpus, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as CorpusTest)
    .filter((t) => t.phase !== 'response' && t.expect !== 'other' && (t.paranoia_level ?? 1) <= opts.pl);
  const r = { detected: 0, attacks: 0, blocked: 0, benign: 0 };
  for (const t of tests) {
    const req = serverView(requestOf(t));
    let intr = null;
    if (req) {
      const tx = waf.newTransaction({ remoteAddr: '127.0.0.1', remotePort: 40000, serverAddr: '127.0.0.1', serverPort: 80 });
      tx.processUri(req.method, req.uri, req.version);
      for (const [k, v] of req.headers) tx.addRequestHeader(k, v);
      intr = tx.processRequestHeaders();
      if (!intr && req.body) intr = tx.appendRequestBody(req.body);
      if (!intr) intr = tx.processRequestBody();
    }
    if (t.expect === 'attack') { r.attacks++; if (intr) r.detected++; } else { r.benign++; if (intr) r.blocked++; }
  }
  return r;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const opt = (name: string) => { const k = args.indexOf(name); return k >= 0 ? args[k + 1] : undefined; };
  const corpus = opt('--corpus') ?? CRS_CORPUS;
  const crs = opt('--crs') ?? CRS_DIR;
  const blocking = opt('--blocking');
  if (blocking !== undefined) {
    const r = await blockingEval({ corpus, crs, pl: Number(blocking) });
    console.log(`engine-level blocking at PL${blocking}: detection=${(100 * r.detected / r.attacks).toFixed(1)}% (${r.detected}/${r.attacks}) benign-tests-blocked=${(100 * r.blocked / r.benign).toFixed(1)}% (${r.blocked}/${r.benign})`);
    return;
  }
  const filter = opt('--filter');
  const jsonOut = opt('--json');
  const kfPath = resolve(root, 'waf/known-failures.json');
  const t0 = performance.now();
  const results = await runConformance({ corpus, crs, filter, perPl: args.includes('--per-pl') });
  const ms = performance.now() - t0;
  const s = summarize(results);
  let known: Record<string, string> = {};
  try { known = JSON.parse(readFileSync(kfPath, 'utf8')) as Record<string, string>; } catch { known = {}; }
  console.log('family   pass/total   %');
  for (const [f, v] of Object.entries(s.families).sort()) console.log(`${f}      ${String(v.pass).padStart(4)}/${String(v.total).padEnd(5)} ${(100 * v.pass / v.total).toFixed(1)}%`);
  console.log(`overall  ${s.pass}/${s.total} = ${(100 * s.pass / Math.max(1, s.total)).toFixed(2)}%  (skipped 'other' tests: ${s.skipped}; ${ms.toFixed(0)} ms)`);
  const failures = results.filter((r) => !r.pass && !r.skipped);
  const newFailures = failures.filter((r) => !(r.id in known));
  const ranIds = new Set(results.map((r) => r.id));
  const nowPassing = Object.keys(known).filter((id) => ranIds.has(id) && results.find((r) => r.id === id)?.pass);
  if (args.includes('--verbose')) for (const r of failures) console.log(`FAIL ${r.id}: ${reasonOf(r)}`);
  if (args.includes('--write-known-failures')) {
    const out: Record<string, string> = {};
    for (const r of failures.sort((a, b) => a.id.localeCompare(b.id, 'en', { numeric: true }))) out[r.id] = known[r.id] ?? reasonOf(r);
    writeFileSync(kfPath, JSON.stringify(out, null, 2) + '\n');
    console.log(`wrote ${failures.length} known failures to ${kfPath}`);
  }
  if (jsonOut) writeFileSync(jsonOut, JSON.stringify({ summary: s, results }, null, 2));
  console.log(`known failures now passing: ${nowPassing.length}${nowPassing.length ? ' (' + nowPassing.join(' ') + ')' : ''}`);
  if (newFailures.length && !args.includes('--write-known-failures')) {
    console.log(`NEW failures (not in waf/known-failures.json): ${newFailures.length}`);
    for (const r of newFailures.slice(0, 50)) console.log(`  ${r.id}: ${reasonOf(r)}`);
    process.exitCode = 1;
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
