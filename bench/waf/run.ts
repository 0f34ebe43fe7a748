/**
 * WAF benchmark at the network level: Portcullis with the OWASP CRS v4.28.0 (WafPolicy) against
 * nginx + ModSecurity v3 loading the same CRS directory, same machine, same run, same upstream.
 *
 *   node bench/waf/run.ts [--pl 1,2] [--c1-duration 4] [--duration 8] [--warmup 2]
 *                         [--connections 64] [--threads 2] [--quick] [--vary] [--cpu-idle both|as-is]
 *                         [--json PATH|-]
 *
 * 1. Cost per benign request (one connection, wrk -t1 -c1 with a Lua script): for each of a bare
 *    GET /, a GET with a query string, a ~2 KB JSON POST and a form POST (bench/waf/requests.ts), latency (p50/p99)
 *    and the CPU time of the proxy's process tree per request (from /proc), for: nginx (no WAF),
 *    nginx + ModSecurity at each --pl level, Portcullis WAF off, Portcullis WAF at each --pl level.
 *    The WAF's own cost is the CPU per request minus that of the same proxy without the WAF.
 * 2. Throughput (wrk -t2 -c64, bounded duration) with the GET and with the JSON POST, for nginx,
 *    nginx + ModSecurity PL1, Portcullis WAF off and Portcullis WAF PL1.
 * Every server gets both parts before the next one starts. Prints two tables and the ratios the
 * issue targets: Portcullis PL1 req/s vs nginx + ModSecurity PL1 (>= 10x), and the WAF's CPU per
 * benign request vs ModSecurity's (<= 1/8).
 *
 * --cpu-idle both (the default): part 1 runs twice, first with the machine's CPU idle states as they
 *    are, then with the CPUs held out of them (a PM QoS request on /dev/cpu_dma_latency, as
 *    `pyperf system tune` does; needs root, else only the first pass runs, said in the output).
 *    At one connection a server idles twice per request, and in a VM an idle vCPU hands its core to
 *    the host: the next request finds colder caches, which costs a server in proportion to what it
 *    touches per request, not to what it computes (docs/waf-results.md section 13). Both passes are
 *    reported, each with its ratios; --cpu-idle as-is runs the first only.
 * --vary: every request is a new client's (its own User-Agent, path and query values; requests.ts
 * wrkLua), for every server alike: what Portcullis's value verdict store gains then is only from
 * names and the other header values.
 * Tools: nginx, wrk, the ModSecurity v3 nginx module (sh scripts/install-bench-tools.sh).
 * Exit code: 0 when every case ran without error responses, 1 otherwise, 2 when a tool is missing.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { BODY_100, nginxProxyConf, nginxUpstreamConf } from '../http/configs.ts';
import { CLOCK_TICKS, freePort, holdCpusAwake, machineBusyTicks, processTicks, sampleTree, start, stop, stopAll, type Started, type TreeSample, benchSession } from '../http/procs.ts';
import { parseWrk, type WrkResult } from '../http/wrk.ts';
import { BenchError, CRS_DIR, MODSEC_MODULE, REPO, findTool, log, startModsecurity, startNginx, startPortcullis, tail, type Server, type WafSettings } from './common.ts';
import { REQUESTS, wrkLua, type BenchRequest } from './requests.ts';

// ---------- arguments ----------
const { values: argv } = parseArgs({
  options: {
    pl: { type: 'string' }, 'c1-duration': { type: 'string' }, duration: { type: 'string' }, warmup: { type: 'string' },
    connections: { type: 'string' }, threads: { type: 'string' }, quick: { type: 'boolean' }, vary: { type: 'boolean' }, json: { type: 'string' },
    'cpu-idle': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
  strict: true,
});
if (argv.help) {
  console.log('usage: node bench/waf/run.ts [--pl 1,2] [--c1-duration 4] [--duration 8] [--warmup 2] [--connections 64] [--threads 2] [--quick] [--vary] [--cpu-idle both|as-is] [--json PATH|-]');
  process.exit(0);
}
const num = (v: string | undefined, d: number, name: string) => {
  if (v === undefined) return d;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) { console.error(`--${name} must be a positive integer, got "${v}"`); process.exit(2); }
  return n;
};
const quick = Boolean(argv.quick);
const VARY = Boolean(argv.vary);
const C1_DURATION = num(argv['c1-duration'], quick ? 2 : 4, 'c1-duration');
const DURATION = num(argv.duration, quick ? 3 : 8, 'duration');
const WARMUP = num(argv.warmup, quick ? 1 : 2, 'warmup');
const CONNECTIONS = num(argv.connections, 64, 'connections');
const THREADS = num(argv.threads, 2, 'threads');
const CPU_IDLE = argv['cpu-idle'] ?? 'both';
if (CPU_IDLE !== 'both' && CPU_IDLE !== 'as-is') { console.error(`--cpu-idle: both or as-is, got "${CPU_IDLE}"`); process.exit(2); }
const LEVELS = (argv.pl ?? '1,2').split(',').map(Number) as Array<WafSettings['paranoia']>;
if (!LEVELS.length || LEVELS.some((n) => !Number.isInteger(n) || n < 1 || n > 4) || !LEVELS.includes(1)) {
  console.error(`--pl: comma-separated paranoia levels 1..4 including 1 (the throughput comparison is at PL1), got "${argv.pl}"`);
  process.exit(2);
}

// ---------- tools ----------
const NGINX = findTool('nginx'), WRK = findTool('wrk');
if (!NGINX || !WRK || !fs.existsSync(MODSEC_MODULE)) {
  console.error(`bench/waf: missing: ${[!NGINX && 'nginx', !WRK && 'wrk', !fs.existsSync(MODSEC_MODULE) && MODSEC_MODULE].filter(Boolean).join(', ')}.\nInstall them (Debian, as root) with:  sh scripts/install-bench-tools.sh`);
  process.exit(2);
}
if (!fs.existsSync('/proc/self/stat')) { console.error('bench/waf: needs Linux /proc (CPU sampling)'); process.exit(2); }
if (!fs.existsSync(path.join(CRS_DIR, 'rules'))) { console.error(`bench/waf: no CRS at ${CRS_DIR}`); process.exit(2); }

// ---------- cleanup on every exit path ----------
const session = benchSession('portcullis-waf-bench-', 'the benchmark', log);
const TMP = session.tmp;
const cleanupSync = session.cleanup;
process.on('uncaughtException', (e) => { log(`bench/waf: ${e.stack ?? e}`); cleanupSync(); process.exit(1); });

// ---------- wrk with a Lua script ----------
const luaFiles = new Map<string, string>();
function luaFile(r: BenchRequest): string {
  let f = luaFiles.get(r.key);
  if (!f) { f = path.join(TMP, `${r.key}.lua`); fs.writeFileSync(f, wrkLua(r, { vary: VARY })); luaFiles.set(r.key, f); }
  return f;
}

async function wrk(port: number, r: BenchRequest, threads: number, connections: number, seconds: number, onSpawn?: (pid: number) => void): Promise<WrkResult> {
  // --timeout 10s: nginx + ModSecurity with the JSON POST serves ~50 req/s, so 64 queued connections
  // wait seconds for an answer; wrk's default (2 s) and bench/http's 5 s would count them as errors
  const args = [`-t${threads}`, `-c${connections}`, `-d${seconds}s`, '--latency', '--timeout', '10s', '-s', luaFile(r), `http://127.0.0.1:${port}`];
  const s = start('wrk', WRK!, args);
  onSpawn?.(s.pid);
  const timer = setTimeout(() => { void stop(s, 1000); }, (seconds + 20) * 1000);
  const code = await s.exited;
  clearTimeout(timer);
  if (code !== 0) throw new BenchError('PCS_ERR_BENCH_WRK', `wrk ${args.join(' ')} failed (exit ${code}):\n${s.output()}`);
  return parseWrk(s.output());
}

/** One request of shape `r` with node:http: status and body. */
function send(port: number, r: BenchRequest): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = Object.fromEntries(r.headers);
    if (r.body) headers['Content-Length'] = String(Buffer.byteLength(r.body));
    const req = http.request({ host: '127.0.0.1', port, method: r.method, path: r.path, headers, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(r.body || undefined);
  });
}

// ---------- one measurement ----------
interface Row {
  server: string;
  request: string;
  connections: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  /** CPU time of the server's process tree / wall time, % of one core */
  cpuPct: number;
  /** that CPU time per request, microseconds */
  cpuUsPerReq: number;
  /** CPU of everything else on the machine (not the server, the upstream or wrk), % of one core */
  otherCpuPct: number;
  errors: number;
}
interface Sample { t: number; server: TreeSample; upstream: number; wrk: number; busy: number }

async function measure(name: string, srv: Server, upstream: Started, r: BenchRequest, threads: number, connections: number, seconds: number, warmup: number): Promise<Row> {
  if (srv.s.child.exitCode !== null || srv.s.child.signalCode !== null) throw new BenchError('PCS_ERR_BENCH_EXITED', `${name} has exited:\n${tail(srv.s.output())}`);
  log(`  ${name}, ${r.name}: wrk -t${threads} -c${connections}, ${warmup}s warm-up + ${seconds}s`);
  await wrk(srv.port, r, threads, connections, warmup);
  let wrkPid = 0;
  const take = (): Sample => ({ t: performance.now(), server: sampleTree(srv.s.pid), upstream: sampleTree(upstream.pid).cpuTicks, wrk: wrkPid ? processTicks(wrkPid) : 0, busy: machineBusyTicks() });
  const first = take();
  let last: Sample | null = null;
  // sampled while wrk runs: wrk's own CPU time is only readable while it exists
  const timer = setInterval(() => { last = take(); }, 250);
  let w: WrkResult;
  try { w = await wrk(srv.port, r, threads, connections, seconds, (pid) => { wrkPid = pid; }); } finally { clearInterval(timer); }
  const end = last as Sample | null;
  if (!end) throw new BenchError('PCS_ERR_BENCH_SAMPLE', `${name}: no CPU sample during the run`);
  const secs = (end.t - first.t) / 1000;
  const serverTicks = end.server.cpuTicks - first.server.cpuTicks;
  const cpuPct = serverTicks / CLOCK_TICKS / secs * 100;
  const ours = serverTicks + (end.upstream - first.upstream) + end.wrk;
  const errors = w.non2xx3xx + w.socketErrors.connect + w.socketErrors.read + w.socketErrors.write + w.socketErrors.timeout;
  if (errors) log(`  ${name}, ${r.name}: ERRORS: ${w.non2xx3xx} non-2xx/3xx of ${w.requests}, socket errors ${JSON.stringify(w.socketErrors)}`);
  return {
    server: name, request: r.name, connections, rps: w.rps, p50Ms: w.p50, p99Ms: w.p99, requests: w.requests,
    cpuPct, cpuUsPerReq: cpuPct / 100 / w.rps * 1e6,
    otherCpuPct: Math.max(0, (end.busy - first.busy - ours) / CLOCK_TICKS / secs * 100),
    errors,
  };
}

// ---------- the servers ----------
interface Case { name: string; kind: 'nginx' | 'modsecurity' | 'portcullis'; waf: WafSettings | null; throughput: boolean }

function portcullisWorkers(): { args: string[]; note: string } {
  let usage: string;
  try {
    usage = execFileSync(process.execPath, ['src/cli/main.ts', 'start', '--help'], { cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string };
    usage = `${err.stdout ?? ''}${err.stderr ?? ''}`;
  }
  if (usage.includes('--workers')) return { args: ['--workers', '2'], note: 'Portcullis ran with --workers 2 (nginx: worker_processes 2)' };
  return { args: [], note: 'Portcullis ran SINGLE-PROCESS (no --workers in this build) against nginx with 2 workers' };
}

async function startCase(c: Case, upstreamPort: number, workerArgs: string[]): Promise<Server> {
  const port = await freePort();
  if (c.kind === 'portcullis') return startPortcullis(c.name, TMP, port, upstreamPort, c.waf, workerArgs, BODY_100);
  if (c.kind === 'nginx') return startNginx(c.name, NGINX!, TMP, port, (dir) => nginxProxyConf(dir, port, upstreamPort), BODY_100);
  return startModsecurity(c.name, NGINX!, TMP, port, upstreamPort, c.waf!, { body: BODY_100 });
}

// ---------- output ----------
const fmtMs = (ms: number) => (ms < 1 ? `${(ms * 1000).toFixed(0)}us` : `${ms.toFixed(2)}ms`);
function table(head: string[], rows: string[][]): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i <= 1 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ');
  return [line(head), w.map((n) => '-'.repeat(n)).join('  '), ...rows.map(line)].join('\n');
}

function machine() {
  const cpus = os.cpus();
  let gitCommit = 'unknown', srcDirty = false;
  try {
    gitCommit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO, encoding: 'utf8' }).trim();
    srcDirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: REPO, encoding: 'utf8' }).trim() !== '';
  } catch { /* not a git checkout */ }
  const v = (cmd: string, args: string[]) => {
    const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 10_000 });
    return `${r.stdout ?? ''}${r.stderr ?? ''}`.split('\n').map((l) => l.trim()).find((l) => l) ?? 'unknown';
  };
  let modsec = 'unknown';
  try { modsec = execFileSync('dpkg-query', ['-W', '-f=${Version}', 'libmodsecurity3'], { encoding: 'utf8' }).trim(); } catch { /* not Debian */ }
  return {
    cpus: cpus.length, cpuModel: cpus[0]?.model ?? 'unknown', kernel: os.release(), gitCommit, srcDirty,
    loadavgAtStart: os.loadavg().map((x) => +x.toFixed(2)),
    versions: { nginx: v(NGINX!, ['-v']), wrk: v(WRK!, ['-v']), libmodsecurity3: modsec, node: process.version },
  };
}

// ---------- main ----------
async function main(): Promise<number> {
  const m = machine();
  const workers = portcullisWorkers();
  log(`bench/waf: ${m.cpus} CPU(s) ${m.cpuModel}, load ${m.loadavgAtStart.join(' ')}; ${m.versions.nginx}; libmodsecurity3 ${m.versions.libmodsecurity3}; ${m.versions.wrk}; node ${m.versions.node}`);
  log(`bench/waf: ${workers.note}`);
  if (m.loadavgAtStart[0] > 0.5) log(`bench/waf: WARNING: 1-minute load average is ${m.loadavgAtStart[0]} before the run: other work on this machine skews the figures (see "other CPU %")`);

  const upstreamPort = await freePort();
  log('upstream: nginx, 2 workers, 200 + 100-byte body');
  const upstream = (await startNginx('upstream nginx', NGINX!, TMP, upstreamPort, (dir) => nginxUpstreamConf(dir, upstreamPort, 2), BODY_100)).s;

  const cases: Case[] = [
    { name: 'nginx (no WAF)', kind: 'nginx', waf: null, throughput: true },
    ...LEVELS.map((pl): Case => ({ name: `nginx+ModSecurity PL${pl}`, kind: 'modsecurity', waf: { paranoia: pl, inboundThreshold: 5 }, throughput: pl === 1 })),
    { name: 'Portcullis WAF off', kind: 'portcullis', waf: null, throughput: true },
    ...LEVELS.map((pl): Case => ({ name: `Portcullis WAF PL${pl}`, kind: 'portcullis', waf: { paranoia: pl, inboundThreshold: 5 }, throughput: pl === 1 })),
  ];
  const tputRequests = REQUESTS.filter((r) => r.key === 'get' || r.key === 'json');
  const c1: Row[] = [], c1Awake: Row[] = [], load: Row[] = [];
  // can the CPUs be held awake (root)? checked once, released at once
  let awakeNote = CPU_IDLE === 'as-is' ? '--cpu-idle as-is' : '';
  if (CPU_IDLE === 'both') {
    const probe = holdCpusAwake();
    if (probe) probe.close();
    else awakeNote = 'cannot write /dev/cpu_dma_latency (run as root for it)';
  }
  const failures: string[] = [];
  const startup = new Map<string, number>();
  for (const c of cases) {
    if (session.interrupted()) return 130;
    let srv: Server | undefined;
    try {
      if (upstream.child.exitCode !== null) throw new BenchError('PCS_ERR_BENCH_EXITED', `the upstream nginx exited:\n${tail(upstream.output())}`);
      log(`${c.name}: starting`);
      srv = await startCase(c, upstreamPort, workers.args);
      startup.set(c.name, srv.startupMs);
      log(`  ${c.name}: serving ${(srv.startupMs / 1000).toFixed(1)} s after start`);
      // every benign request must pass (200 + the upstream's body) before it is measured
      for (const r of REQUESTS) {
        const a = await send(srv.port, r);
        if (a.status !== 200 || a.body !== BODY_100) throw new BenchError('PCS_ERR_BENCH_BLOCKED', `${c.name}: the benign "${r.name}" got HTTP ${a.status}: ${a.body.slice(0, 300)}\n${tail(srv.s.output(), 10)}`);
      }
      for (const r of REQUESTS) c1.push(await measure(c.name, srv, upstream, r, 1, 1, C1_DURATION, 1));
      if (!awakeNote) {
        const awake = holdCpusAwake();
        if (!awake) throw new BenchError('PCS_ERR_BENCH_CPU_IDLE', 'cannot hold the CPUs awake any more (/dev/cpu_dma_latency)');
        log(`  ${c.name}: the CPUs held out of their idle states for the next ${REQUESTS.length} runs`);
        try {
          for (const r of REQUESTS) c1Awake.push(await measure(c.name, srv, upstream, r, 1, 1, C1_DURATION, 1));
        } finally {
          awake.close();
        }
      }
      if (c.throughput) for (const r of tputRequests) load.push(await measure(c.name, srv, upstream, r, THREADS, CONNECTIONS, DURATION, WARMUP));
    } catch (e) {
      if (session.interrupted()) return 130;
      const msg = e instanceof BenchError ? `${e.code}: ${e.message}` : (e as Error).stack ?? String(e);
      failures.push(`${c.name}: ${msg}`);
      log(`  ${c.name} FAILED: ${msg}`);
    } finally {
      if (srv) await stop(srv.s, 5000);
    }
  }
  await stop(upstream);

  // ---- report ----
  const find = (rows: Row[], server: string, request: string) => rows.find((x) => x.server === server && x.request === request);
  const baseOf = (server: string) => (server.startsWith('nginx+ModSecurity') ? 'nginx (no WAF)' : server.startsWith('Portcullis WAF PL') ? 'Portcullis WAF off' : null);
  const wafCost = (rows: Row[], x: Row) => { const b = baseOf(x.server); const br = b ? find(rows, b, x.request) : undefined; return br ? x.cpuUsPerReq - br.cpuUsPerReq : null; };
  const out: string[] = [];
  out.push('');
  out.push(`WAF benchmark, ${new Date().toISOString()}, ${m.cpus} CPU(s) (${m.cpuModel}), git ${m.gitCommit}${m.srcDirty ? ' (src/ has uncommitted changes)' : ''}`);
  out.push(`CRS ${path.basename(CRS_DIR)}, inbound anomaly threshold 5, blocking mode; upstream: nginx returning 200 + 100-byte body; all on 127.0.0.1. ${workers.note}.`);
  out.push('');
  out.push(`1. Cost per benign request, one connection (wrk -t1 -c1 -d${C1_DURATION}s after a 1 s warm-up). "WAF CPU" = CPU us/req minus that of the same proxy without its WAF.`);
  // one connection: one table per pass (as is, CPUs held awake)
  const c1Table = (rows: Row[]) => table(['server', 'request', 'req/s', 'p50', 'p99', 'CPU us/req', 'WAF CPU us/req', 'other CPU %', 'errors'], rows.map((x) => {
    const w = wafCost(rows, x);
    return [x.server, x.request, Math.round(x.rps).toLocaleString('en-US'), fmtMs(x.p50Ms), fmtMs(x.p99Ms), x.cpuUsPerReq.toFixed(1), w === null ? '-' : w.toFixed(1), x.otherCpuPct.toFixed(0), String(x.errors)];
  }));
  out.push(c1Table(c1));
  out.push('');
  if (c1Awake.length) {
    out.push(`1b. The same, with the CPUs held out of their idle states (PM QoS 0 us on /dev/cpu_dma_latency, as \`pyperf system tune\`): idle CPUs poll instead of halting.`);
    out.push(c1Table(c1Awake));
  } else {
    out.push(`1b. (not run: ${awakeNote})`);
  }
  out.push('');
  out.push(`2. Throughput (wrk -t${THREADS} -c${CONNECTIONS} -d${DURATION}s after a ${WARMUP} s warm-up)`);
  out.push(table(['server', 'request', 'req/s', 'p50', 'p99', 'CPU %', 'CPU us/req', 'WAF CPU us/req', 'other CPU %', 'errors'], load.map((x) => {
    const w = wafCost(load, x);
    return [x.server, x.request, Math.round(x.rps).toLocaleString('en-US'), fmtMs(x.p50Ms), fmtMs(x.p99Ms), x.cpuPct.toFixed(0), x.cpuUsPerReq.toFixed(1), w === null ? '-' : w.toFixed(1), x.otherCpuPct.toFixed(0), String(x.errors)];
  })));
  out.push('');
  out.push('Ratios (targets from issue 5):');
  const ratios: Record<string, number | null> = {};
  for (const r of tputRequests) {
    const p = find(load, 'Portcullis WAF PL1', r.name), ms = find(load, 'nginx+ModSecurity PL1', r.name);
    const v = p && ms ? p.rps / ms.rps : null;
    ratios[`throughput ${r.key}`] = v;
    out.push(`- ${r.name}: Portcullis WAF PL1 req/s / nginx+ModSecurity PL1 req/s = ${v === null ? 'n/a' : `${v.toFixed(2)}x`} (target >= 10x)`);
  }
  for (const [rows, label, key] of [[c1, '1 connection', ''], [c1Awake, '1 connection, CPUs held awake', ' awake']] as const) {
    if (!rows.length) continue;
    for (const pl of LEVELS) {
      for (const r of REQUESTS) {
        const p = find(rows, `Portcullis WAF PL${pl}`, r.name), ms = find(rows, `nginx+ModSecurity PL${pl}`, r.name);
        const pw = p ? wafCost(rows, p) : null, mw = ms ? wafCost(rows, ms) : null;
        const v = pw !== null && mw !== null && mw > 0 ? pw / mw : null;
        ratios[`waf cpu pl${pl} ${r.key}${key}`] = v;
        out.push(`- PL${pl} ${r.name}, ${label}: WAF CPU per request, Portcullis ${pw === null ? 'n/a' : `${pw.toFixed(0)} us`} vs ModSecurity ${mw === null ? 'n/a' : `${mw.toFixed(0)} us`} = ${v === null ? 'n/a' : `${v.toFixed(3)} (1/${(1 / v).toFixed(1)})`}${pl === 1 ? ' (target <= 1/8 = 0.125)' : ''}`);
      }
    }
  }
  for (const r of tputRequests) {
    const p = find(load, 'Portcullis WAF PL1', r.name), ms = find(load, 'nginx+ModSecurity PL1', r.name);
    const pw = p ? wafCost(load, p) : null, mw = ms ? wafCost(load, ms) : null;
    if (pw !== null && mw !== null && mw > 0) out.push(`- PL1 ${r.name}, ${CONNECTIONS} connections: WAF CPU per request, Portcullis ${pw.toFixed(0)} us vs ModSecurity ${mw.toFixed(0)} us = ${(pw / mw).toFixed(3)}`);
  }
  out.push('');
  out.push('Notes:');
  out.push(`- ${m.cpus} CPU(s) shared by wrk, the upstream nginx (2 workers) and the server under test. CPU us/req is the CPU time (user + system, /proc, 10 ms ticks) of the server's whole process tree per request; "other CPU %" is what the rest of the machine used during the run (other people's work, the kernel's loopback softirq): tens of % mean a busy machine.`);
  out.push(VARY ? '- --vary: every request was a new client\'s (its own User-Agent, path and query values), for every server.' : '- Every request of a kind was the same (wrk repeats it): one client. --vary makes every request a new client\'s.');
  out.push('- ModSecurity: SecRequestBodyAccess On (JSON/XML processors as in modsecurity.conf-recommended), SecResponseBodyAccess Off (as the Portcullis default, responseBody.inspect false; both judge status and headers), audit log off, no debug log.');
  out.push(`- Start-up (until serving): ${[...startup.entries()].map(([k, v]) => `${k} ${(v / 1000).toFixed(1)} s`).join(', ')}.`);
  out.push(`- Load average before the run: ${m.loadavgAtStart.join(' ')}; after: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}.`);
  for (const f of failures) out.push(`- FAILED ${f}`);
  console.log(out.join('\n'));

  const result = {
    date: new Date().toISOString(), machine: m, portcullis: workers,
    settings: { levels: LEVELS, cpuIdle: awakeNote || 'both', c1DurationS: C1_DURATION, durationS: DURATION, warmupS: WARMUP, threads: THREADS, connections: CONNECTIONS, vary: VARY },
    requests: REQUESTS.map((r) => ({ key: r.key, name: r.name, method: r.method, path: r.path, bodyBytes: Buffer.byteLength(r.body) })),
    perRequest: c1.map((x) => ({ ...x, wafCpuUsPerReq: wafCost(c1, x) })),
    perRequestCpusAwake: c1Awake.map((x) => ({ ...x, wafCpuUsPerReq: wafCost(c1Awake, x) })),
    throughput: load.map((x) => ({ ...x, wafCpuUsPerReq: wafCost(load, x) })),
    ratios, failures,
  };
  if (argv.json === '-') console.log(JSON.stringify(result, null, 2));
  else if (argv.json) { fs.mkdirSync(path.dirname(path.resolve(argv.json)), { recursive: true }); fs.writeFileSync(argv.json, JSON.stringify(result, null, 2) + '\n'); log(`bench/waf: wrote ${argv.json}`); }
  return failures.length || [...c1, ...c1Awake, ...load].some((x) => x.errors) ? 1 : 0;
}

main().then(async (code) => { await stopAll(); cleanupSync(); process.exit(code); }, async (e) => {
  log(`bench/waf: ${e instanceof BenchError ? `${e.code}: ${e.message}` : (e as Error).stack ?? e}`);
  await stopAll().catch(() => {});
  cleanupSync();
  process.exit(1);
});
