/**
 * Network-level WAF evaluation: ../shared/tools/waf-eval.mjs against a running Portcullis with the
 * OWASP CRS v4.28.0 (WafPolicy on the Gateway, Block, inbound anomaly threshold 5), at each paranoia
 * level asked for, in front of an upstream that answers 200 to every request.
 *
 *   node bench/waf/eval.ts [--pl 1,2] [--concurrency 16] [--workers N] [--modsecurity]
 *                          [--group-by category] [--show 0] [--json DIR]
 *
 * For each paranoia level: starts Portcullis with a WafPolicy at that level, runs
 *   node waf-eval.mjs --target http://127.0.0.1:PORT --corpus crs-v4.28.0-tests.jsonl --filter-pl N --concurrency 16
 * and prints waf-eval's report (stderr) and its last line (stdout), then a breakdown of the missed
 * attacks by the response they got (a 200 means the WAF let it through; a 400 means the gateway's
 * HTTP parser refused the request before any rule ran; etc.).
 * --modsecurity also runs the same corpus, the same way, through nginx + ModSecurity v3 loading
 * the same CRS directory at the same level (scripts/install-bench-tools.sh installs the module),
 * for a same-machine, same-run reference next to the figures in ../shared/waf/README.md.
 * --json DIR keeps waf-eval's JSON (every request's outcome) as DIR/<target>-pl<N>.json.
 * Exit code: 0 when every run completed, 1 on a failure, 2 on bad usage or a missing tool.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { freePort, start, stop, stopAll, benchSession } from '../http/procs.ts';
import { BenchError, CORPUS, CRS_DIR, MODSEC_MODULE, REPO, WAF_EVAL, findTool, log, startModsecurity, startPortcullis, startUpstream, tail, type Server, type WafSettings } from './common.ts';

const { values: argv } = parseArgs({
  options: {
    pl: { type: 'string' }, concurrency: { type: 'string' }, workers: { type: 'string' }, modsecurity: { type: 'boolean' },
    'group-by': { type: 'string' }, show: { type: 'string' }, json: { type: 'string' }, help: { type: 'boolean', short: 'h' },
  },
  strict: true,
});
if (argv.help) {
  console.log('usage: node bench/waf/eval.ts [--pl 1,2] [--concurrency 16] [--workers N] [--modsecurity] [--group-by category] [--show 0] [--json DIR]');
  process.exit(0);
}
const levels = (argv.pl ?? '1,2').split(',').map(Number);
if (!levels.length || levels.some((n) => !Number.isInteger(n) || n < 1 || n > 4)) { console.error(`--pl: paranoia levels 1..4, comma-separated, got "${argv.pl}"`); process.exit(2); }
const CONCURRENCY = argv.concurrency ?? '16';
const WORKERS = argv.workers ? ['--workers', argv.workers] : [];
const GROUP_BY = argv['group-by'] ?? 'category';
const SHOW = argv.show ?? '0';
for (const f of [CORPUS, WAF_EVAL, CRS_DIR]) if (!fs.existsSync(f)) { console.error(`bench/waf/eval: missing ${f}`); process.exit(2); }
const NGINX = findTool('nginx');
if (argv.modsecurity && (!NGINX || !fs.existsSync(MODSEC_MODULE))) {
  console.error(`bench/waf/eval: --modsecurity needs nginx and ${MODSEC_MODULE}; install them (Debian, as root) with:  sh scripts/install-bench-tools.sh`);
  process.exit(2);
}

const session = benchSession('portcullis-waf-eval-', 'the evaluation', log);
const TMP = session.tmp;
const cleanupSync = session.cleanup;

interface EvalResult { id: string; category: string; expect: string; status: number; outcome: string; blocked: boolean; error?: string }
interface EvalSummary { attacks: number; detected: number; detectionPct: number; benign: number; falsePositives: number; fpPct: number; other: number; skipped: Record<string, number> }

async function runWafEval(label: string, port: number, pl: number): Promise<{ last: string; summary: EvalSummary; results: EvalResult[] }> {
  const jsonFile = path.join(TMP, `${label.replace(/\W+/g, '-')}-pl${pl}.json`);
  const args = [WAF_EVAL, '--target', `http://127.0.0.1:${port}`, '--corpus', CORPUS, '--filter-pl', String(pl), '--concurrency', CONCURRENCY,
    '--group-by', GROUP_BY, '--show', SHOW, '--json', jsonFile];
  log(`  node ${args.map((a) => a.startsWith(TMP) ? '<tmp>/' + path.basename(a) : a).join(' ')}`);
  const s = start('waf-eval', process.execPath, args);
  const code = await s.exited;
  const out = s.output();
  log(out.trimEnd().split('\n').map((l) => '    ' + l).join('\n'));
  if (code !== 0) throw new BenchError('PCS_ERR_BENCH_WAF_EVAL', `waf-eval exited with ${code}:\n${tail(out)}`);
  const last = out.trimEnd().split('\n').at(-1) ?? '';
  if (!/^detection=/.test(last)) throw new BenchError('PCS_ERR_BENCH_WAF_EVAL', `waf-eval's last line is not "detection=...": ${last}`);
  const j = JSON.parse(fs.readFileSync(jsonFile, 'utf8')) as { summary: EvalSummary; results: EvalResult[] };
  if (argv.json) {
    fs.mkdirSync(argv.json, { recursive: true });
    fs.copyFileSync(jsonFile, path.join(argv.json, path.basename(jsonFile)));
  }
  return { last, ...j };
}

/** Missed attacks and false positives grouped by the response they got, with the categories. */
function breakdown(results: EvalResult[]): string[] {
  const lines: string[] = [];
  const group = (rs: EvalResult[], title: string) => {
    if (!rs.length) return;
    const by = new Map<string, EvalResult[]>();
    for (const r of rs) {
      const k = r.outcome === 'status' ? `HTTP ${r.status}` : r.outcome;
      by.set(k, [...(by.get(k) ?? []), r]);
    }
    lines.push(`  ${title}: ${rs.length}`);
    for (const [k, list] of [...by.entries()].sort((a, b) => b[1].length - a[1].length)) {
      const cats = new Map<string, number>();
      for (const r of list) cats.set(r.category, (cats.get(r.category) ?? 0) + 1);
      const catText = [...cats.entries()].sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c} ${n}`).join(', ');
      lines.push(`    ${k}: ${list.length}  (${catText})`);
      lines.push(`      ${list.slice(0, 12).map((r) => r.id).join(' ')}${list.length > 12 ? ' ...' : ''}`);
    }
  };
  group(results.filter((r) => r.expect === 'attack' && !r.blocked), 'missed attacks, by the response they got');
  group(results.filter((r) => r.expect === 'benign' && r.blocked), 'false positives (benign tests blocked), by response');
  return lines;
}

async function main(): Promise<number> {
  log(`bench/waf/eval: ${os.cpus().length} CPU(s), load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}, node ${process.version}; CRS ${CRS_DIR}; corpus ${CORPUS}`);
  const up = await startUpstream();
  log(`upstream: node:http on 127.0.0.1:${up.port}, 200 + "ok" to everything`);
  const summary: string[] = [];
  let failed = false;
  const targets: Array<{ label: string; start: (pl: number) => Promise<Server> }> = [
    {
      label: 'portcullis',
      start: async (pl) => startPortcullis(`portcullis PL${pl}`, TMP, await freePort(), up.port, { paranoia: pl as WafSettings['paranoia'], inboundThreshold: 5 }, WORKERS, 'ok'),
    },
  ];
  if (argv.modsecurity) {
    targets.push({
      label: 'nginx+modsecurity',
      start: async (pl) => {
        const port = await freePort();
        return startModsecurity(`nginx+modsecurity PL${pl}`, NGINX!, TMP, port, up.port, { paranoia: pl as WafSettings['paranoia'], inboundThreshold: 5 }, { body: 'ok' });
      },
    });
  }
  for (const pl of levels) {
    for (const t of targets) {
      log(`${t.label} PL${pl}: starting`);
      let srv: Server | undefined;
      try {
        srv = await t.start(pl);
        log(`  ${t.label} PL${pl}: serving ${(srv.startupMs / 1000).toFixed(1)} s after start`);
        const r = await runWafEval(t.label, srv.port, pl);
        const exited = srv.s.child.exitCode !== null || srv.s.child.signalCode !== null;
        if (exited) throw new BenchError('PCS_ERR_BENCH_EXITED', `${t.label} exited during the evaluation:\n${tail(srv.s.output())}`);
        const s = r.summary;
        summary.push(`${t.label} PL${pl}: ${r.last}  (attacks ${s.detected}/${s.attacks} blocked, benign ${s.falsePositives}/${s.benign} blocked, unscored ${s.other})`);
        summary.push(...breakdown(r.results));
      } catch (e) {
        failed = true;
        const msg = e instanceof BenchError ? `${e.code}: ${e.message}` : (e as Error).stack ?? String(e);
        summary.push(`${t.label} PL${pl}: FAILED ${msg}`);
        log(`  ${t.label} PL${pl} FAILED: ${msg}`);
      } finally {
        if (srv) await stop(srv.s, 5000);
      }
    }
  }
  await up.close();
  let git = 'unknown';
  try { git = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO, encoding: 'utf8' }).trim(); } catch { /* not a checkout */ }
  console.log(`\nNetwork-level WAF evaluation, ${new Date().toISOString()}, git ${git}: waf-eval.mjs, corpus ${path.basename(CORPUS)}, concurrency ${CONCURRENCY}, inbound anomaly threshold 5, Block`);
  console.log('Reference (../shared/waf/README.md): nginx 1.22 + ModSecurity 3.0.9 with the same CRS v4 rules: PL1 detection 97.2%, PL2 97.8%');
  console.log(summary.join('\n'));
  return failed ? 1 : 0;
}

main().then(async (code) => { await stopAll(); cleanupSync(); process.exit(code); }, async (e) => {
  log(`bench/waf/eval: ${e instanceof BenchError ? `${e.code}: ${e.message}` : (e as Error).stack ?? e}`);
  await stopAll().catch(() => {});
  cleanupSync();
  process.exit(1);
});
