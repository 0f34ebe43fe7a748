/**
 * Proxy benchmark: nginx, HAProxy and Portcullis side by side, same machine, same run.
 *
 *   node bench/http/run.ts [--duration 10] [--connections 64] [--threads 2] [--warmup 3]
 *                          [--rounds 1] [--routes 10000] [--only CASE,...] [--quick] [--json PATH|-]
 *
 * Starts a fixed upstream (nginx: 200 + a 100-byte body, keep-alive), measures it directly with wrk,
 * then one after another: nginx, HAProxy, Portcullis with 1 route and Portcullis with 10,000 routes,
 * each on an ephemeral loopback port with an equivalent config. Each is warmed up, then loaded with
 * `wrk -t2 -c64 -d10s --latency`; the RSS (sum over the process tree) and CPU time of the proxy are
 * sampled during the run. Prints one table with req/s, p50, p99, RSS and the ratio to nginx, and
 * the 10k-routes figure as a ratio to single-route Portcullis. --json writes the results as JSON
 * (to stdout with "-"). Tools: nginx, haproxy, wrk (scripts/install-bench-tools.sh installs them).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BODY_100, haproxyConf, nginxProxyConf, nginxUpstreamConf, portcullisConfig, type RouteTarget } from './configs.ts';
import { BenchError, CLOCK_TICKS, freePort, launchPortcullis, machineBusyTicks, processTicks, sampleTree, start, stop, stopAll, tail, type Started, type TreeSample, benchSession } from './procs.ts';
import { runWrk, type WrkResult } from './wrk.ts';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');


// ---------- arguments ----------
const { values: argv } = parseArgs({
  options: {
    duration: { type: 'string' }, connections: { type: 'string' }, threads: { type: 'string' },
    warmup: { type: 'string' }, rounds: { type: 'string' }, only: { type: 'string' }, routes: { type: 'string' }, quick: { type: 'boolean' }, json: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
  strict: true,
});
if (argv.help) {
  console.log('usage: node bench/http/run.ts [--duration 10] [--connections 64] [--threads 2] [--warmup 3] [--rounds 1] [--routes 10000] [--only upstream,nginx,haproxy,portcullis-1,portcullis-many,node-undici,node-raw] [--quick] [--json PATH|-]');
  process.exit(0);
}
const num = (v: string | undefined, d: number, name: string) => {
  if (v === undefined) return d;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) { console.error(`--${name} must be a positive integer, got "${v}"`); process.exit(2); }
  return n;
};
const quick = Boolean(argv.quick);
const DURATION = num(argv.duration, quick ? 3 : 10, 'duration');
const WARMUP = num(argv.warmup, quick ? 1 : 3, 'warmup');
const CONNECTIONS = num(argv.connections, 64, 'connections');
const THREADS = num(argv.threads, 2, 'threads');
const ROUTES = num(argv.routes, 10_000, 'routes');
const ROUNDS = num(argv.rounds, 1, 'rounds');
const ONLY = (argv.only ?? '').split(',').map((x) => x.trim()).filter(Boolean);
const CASE_KEYS = ['upstream', 'nginx', 'haproxy', 'portcullis-1', 'portcullis-many', 'node-undici', 'node-raw'];
if (ONLY.some((k) => !CASE_KEYS.includes(k))) {
  console.error(`--only: unknown case(s) ${ONLY.filter((k) => !CASE_KEYS.includes(k)).join(', ')}; the cases are ${CASE_KEYS.join(', ')}`);
  process.exit(2);
}
const log = (s: string) => process.stderr.write(s + '\n');

// ---------- tools ----------
function findTool(name: string): string | undefined {
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/local/sbin', '/sbin']) {
    const p = path.join(dir, name);
    try { fs.accessSync(p, fs.constants.X_OK); return p; } catch { /* next */ }
  }
  return undefined;
}
const tools = { nginx: findTool('nginx'), haproxy: findTool('haproxy'), wrk: findTool('wrk') };
const missing = Object.entries(tools).filter(([, p]) => !p).map(([n]) => n);
if (missing.length) {
  console.error(`bench/http: missing tool(s): ${missing.join(', ')}.\nInstall them (Debian, as root) with:  sh scripts/install-bench-tools.sh`);
  process.exit(2);
}
if (!fs.existsSync('/proc/self/status')) {
  console.error('bench/http: needs Linux /proc (RSS and CPU sampling)');
  process.exit(2);
}
const NGINX = tools.nginx!, HAPROXY = tools.haproxy!, WRK = tools.wrk!;
const version = (cmd: string, args: string[]) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 10_000 });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.split('\n').map((l) => l.trim()).find((l) => l) ?? 'unknown';
};
const versions = { nginx: version(NGINX, ['-v']), haproxy: version(HAPROXY, ['-v']), wrk: version(WRK, ['-v']), node: process.version };

// ---------- cleanup on every exit path ----------
const session = benchSession('portcullis-bench-', 'the benchmark', log);
const TMP = session.tmp;
const cleanupSync = session.cleanup;
process.on('uncaughtException', (e) => { log(`bench/http: ${e.stack ?? e}`); cleanupSync(); process.exit(1); });

// ---------- helpers ----------
interface Probe { status: number; body: string; headers: http.IncomingHttpHeaders }
function probe(port: number, target: RouteTarget, timeoutMs = 2000): Promise<Probe> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: target.path, headers: target.host ? { host: target.host } : {}, agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll until the proxy answers 200 with the upstream's 100-byte body. */
async function waitReady(s: Started, port: number, target: RouteTarget, timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  let last = 'no attempt';
  let exited: number | string | undefined;
  void s.exited.then((c) => { exited = c; });
  while (performance.now() - t0 < timeoutMs) {
    if (exited !== undefined) throw new BenchError('PCS_ERR_BENCH_EXITED', `${s.name} exited (${exited}) before it was ready. Its output:\n${tail(s.output())}`);
    try {
      const r = await probe(port, target, 1000);
      if (r.status === 200 && r.body === BODY_100) return performance.now() - t0;
      last = `HTTP ${r.status}, ${Buffer.byteLength(r.body)}-byte body: ${r.body.slice(0, 300)}`;
      if (r.status !== 502 && r.status !== 503) break; // a wrong answer, not a "not ready yet"
    } catch (e) { last = (e as Error).message; }
    await sleep(100);
  }
  throw new BenchError('PCS_ERR_BENCH_NOT_READY', `${s.name} on 127.0.0.1:${port}${target.path} did not answer 200 with the 100-byte body within ${timeoutMs} ms; last: ${last}\nIts output:\n${tail(s.output())}`);
}


const STATUS_LUA = `
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) statuses = {} end
function response(status, headers, body) statuses[status] = (statuses[status] or 0) + 1 end
function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("statuses")) do total[k] = (total[k] or 0) + v end
  end
  for k, v in pairs(total) do io.write(string.format("status %d: %d\\n", k, v)) end
  io.write(string.format("socket errors: connect %d, read %d, write %d, timeout %d\\n", summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout))
end
`;

/** A short wrk run with a Lua script that counts responses per status code (slower; diagnosis only). */
function statusBreakdown(url: string, target: RouteTarget): string {
  const script = path.join(TMP, 'status.lua');
  fs.writeFileSync(script, STATUS_LUA);
  const args = [`-t${THREADS}`, `-c${CONNECTIONS}`, '-d2s', '--timeout', '5s', '-s', script];
  if (target.host) args.push('-H', `Host: ${target.host}`);
  args.push(url);
  try {
    const out = execFileSync(WRK, args, { encoding: 'utf8', timeout: 30_000 });
    return out.split('\n').filter((l) => /^status \d+:|^socket errors:/.test(l)).join('\n');
  } catch (e) { return `status breakdown failed: ${(e as Error).message}`; }
}

// ---------- one measurement ----------
interface Row {
  name: string;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  rssMb: number | null;
  pssMb: number | null;
  /** CPU time of the proxy's process tree / wall time, in % of one core */
  cpuPct: number | null;
  /** CPU used by everything else on the machine (not the proxy, the upstream or wrk), % of one core */
  otherCpuPct: number | null;
  requests: number;
  non2xx3xx: number;
  socketErrors: WrkResult['socketErrors'];
  startupMs?: number;
  processes?: number;
  errorDetail?: string;
  /** req/s of every round, when --rounds > 1 */
  roundsRps?: number[];
}

interface Sample { t: number; proxy: TreeSample | null; upstream: number; wrk: number; busy: number }

async function measure(name: string, port: number, target: RouteTarget, proc: Started | null, upstream: Started, logTail?: () => string): Promise<Row> {
  const url = `http://127.0.0.1:${port}${target.path}`;
  const headers = target.host ? [`Host: ${target.host}`] : [];
  log(`  ${name}: warm-up ${WARMUP}s`);
  await runWrk({ bin: WRK, url, threads: THREADS, connections: CONNECTIONS, seconds: WARMUP, headers });
  log(`  ${name}: measuring ${DURATION}s (wrk -t${THREADS} -c${CONNECTIONS} -d${DURATION}s --latency)`);
  let wrkPid = 0;
  const upstreamTicks = () => sampleTree(upstream.pid).cpuTicks;
  const take = (): Sample => ({ t: performance.now(), proxy: proc ? sampleTree(proc.pid) : null, upstream: upstreamTicks(), wrk: wrkPid ? processTicks(wrkPid) : 0, busy: machineBusyTicks() });
  const first = take();
  let last: Sample | null = null;
  const timer = setInterval(() => { last = take(); }, 500);
  let r: WrkResult;
  try {
    r = await runWrk({ bin: WRK, url, threads: THREADS, connections: CONNECTIONS, seconds: DURATION, headers }, (pid) => { wrkPid = pid; });
  } finally {
    clearInterval(timer);
  }
  const end = last as Sample | null;
  let cpuPct: number | null = null, otherCpuPct: number | null = null;
  if (end && end.t > first.t) {
    const secs = (end.t - first.t) / 1000;
    const proxyTicks = end.proxy && first.proxy ? end.proxy.cpuTicks - first.proxy.cpuTicks : 0;
    const ours = proxyTicks + (end.upstream - first.upstream) + end.wrk; // wrk started after `first`
    cpuPct = proc ? proxyTicks / CLOCK_TICKS / secs * 100 : null;
    otherCpuPct = Math.max(0, (end.busy - first.busy - ours) / CLOCK_TICKS / secs * 100);
  }
  const row: Row = {
    name, rps: r.rps, p50Ms: r.p50, p99Ms: r.p99,
    rssMb: end?.proxy ? end.proxy.rssKb / 1024 : null,
    pssMb: end?.proxy ? end.proxy.pssKb / 1024 : null,
    cpuPct, otherCpuPct,
    requests: r.requests, non2xx3xx: r.non2xx3xx, socketErrors: r.socketErrors,
    processes: end?.proxy?.pids.length,
  };
  const sockErr = r.socketErrors.connect + r.socketErrors.read + r.socketErrors.write + r.socketErrors.timeout;
  if (r.non2xx3xx || sockErr) {
    log(`  ${name}: ERRORS under load: ${r.non2xx3xx} non-2xx/3xx responses of ${r.requests}; socket errors ${JSON.stringify(r.socketErrors)}`);
    const breakdown = statusBreakdown(url, target);
    let after: string;
    try { const p = await probe(port, target); after = `a request after the run: HTTP ${p.status}, body ${JSON.stringify(p.body.slice(0, 300))}`; } catch (e) { after = `a request after the run failed: ${(e as Error).message}`; }
    const logs = logTail ? logTail() : proc ? tail(proc.output()) : '';
    row.errorDetail = `${r.non2xx3xx} non-2xx/3xx of ${r.requests} requests; socket errors ${JSON.stringify(r.socketErrors)}\n` +
      `status codes in a 2 s diagnostic run (wrk with a Lua counter):\n${breakdown}\n${after}\nproxy log (last lines):\n${logs}`;
    log(row.errorDetail.split('\n').map((l) => '    ' + l).join('\n'));
  }
  return row;
}

// ---------- the proxies ----------
/** Start, wait until it serves the 100-byte body; on failure stop it again and rethrow. */
async function startAndWait(s: Started, port: number, target: RouteTarget, timeoutMs: number): Promise<Started> {
  try { await waitReady(s, port, target, timeoutMs); } catch (e) { await stop(s); throw e; }
  return s;
}

function startNginx(name: string, conf: string, port: number, target: RouteTarget): Promise<Started> {
  const dir = fs.mkdtempSync(path.join(TMP, 'nginx-'));
  for (const t of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) fs.mkdirSync(path.join(dir, `${t}_temp`));
  fs.chmodSync(dir, 0o755);
  const file = path.join(dir, 'nginx.conf');
  fs.writeFileSync(file, conf.replaceAll('__DIR__', dir));
  return startAndWait(start(name, NGINX, ['-p', dir, '-c', file, '-e', 'stderr']), port, target, 10_000);
}

function startHaproxy(port: number, upstreamPort: number): Promise<Started> {
  const file = path.join(TMP, `haproxy-${port}.cfg`);
  fs.writeFileSync(file, haproxyConf(port, upstreamPort));
  return startAndWait(start('haproxy', HAPROXY, ['-db', '-f', file]), port, { path: '/' }, 10_000);
}

function portcullisWorkersFlag(): { args: string[]; note: string } {
  let usage: string;
  try {
    usage = execFileSync(process.execPath, ['src/cli/main.ts', 'start', '--help'], { cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string };
    usage = `${err.stdout ?? ''}${err.stderr ?? ''}`;
  }
  if (usage.includes('--workers')) return { args: ['--workers', '2'], note: 'Portcullis ran with --workers 2' };
  return { args: [], note: 'Portcullis ran SINGLE-PROCESS: this build has no --workers flag (its usage text does not mention it), so it used 1 core while nginx and HAProxy used 2 workers/threads' };
}

async function startPortcullis(name: string, routes: number, upstreamPort: number, workerArgs: string[]): Promise<{ s: Started; port: number; target: RouteTarget; startupMs: number }> {
  const port = await freePort();
  const { files, target } = portcullisConfig(port, upstreamPort, routes);
  const { s, startupMs } = await launchPortcullis(name, REPO, TMP, files, workerArgs);
  await startAndWait(s, port, target, 10_000);
  return { s, port, target, startupMs };
}

/** Portcullis log lines at warn level or above (pino level >= 40), the last 20. */
function portcullisProblems(s: Started): () => string {
  return () => {
    const lines = s.output().split('\n').filter((l) => {
      try { return (JSON.parse(l) as { level?: number }).level! >= 40; } catch { return l.trim() !== ''; }
    });
    return lines.length ? tail(lines.join('\n'), 20) : '  | (no warn/error lines)';
  };
}

// ---------- machine ----------
function machine() {
  const cpus = os.cpus();
  let gitCommit = 'unknown', srcDirty = false;
  try {
    gitCommit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO, encoding: 'utf8' }).trim();
    srcDirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: REPO, encoding: 'utf8' }).trim() !== '';
  } catch { /* not a git checkout */ }
  let fdLimit = 'unknown';
  try { fdLimit = /^Max open files\s+(\d+)/m.exec(fs.readFileSync('/proc/self/limits', 'utf8'))?.[1] ?? 'unknown'; } catch { /* not Linux */ }
  return {
    cpus: cpus.length, cpuModel: cpus[0]?.model ?? 'unknown', memGb: +(os.totalmem() / 2 ** 30).toFixed(1),
    kernel: os.release(), fdLimit, loadavgAtStart: os.loadavg().map((x) => +x.toFixed(2)), gitCommit, srcDirty, versions,
  };
}

// ---------- output ----------
function fmtMs(ms: number): string { return ms < 1 ? `${(ms * 1000).toFixed(0)}us` : `${ms.toFixed(2)}ms`; }
const round2 = (x: number | null) => (x === null ? null : Math.round(x * 100) / 100);
/** CPU time of the proxy per request, in microseconds: less sensitive to a busy machine than req/s. */
const cpuPerReq = (r: Row) => (r.cpuPct ?? 0) / 100 / r.rps * 1e6;
const errCount = (r: Row) => r.non2xx3xx + r.socketErrors.connect + r.socketErrors.read + r.socketErrors.write + r.socketErrors.timeout;

function table(rows: Row[], nginxRps: number | undefined): string {
  const head = ['name', 'req/s', 'p50', 'p99', 'RSS MB', 'CPU %', 'CPU us/req', 'other CPU %', 'x nginx', 'errors'];
  const body = rows.map((r) => [
    r.name,
    Math.round(r.rps).toLocaleString('en-US'),
    fmtMs(r.p50Ms), fmtMs(r.p99Ms),
    r.rssMb === null ? '-' : r.rssMb.toFixed(1),
    r.cpuPct === null ? '-' : r.cpuPct.toFixed(0),
    r.cpuPct === null ? '-' : cpuPerReq(r).toFixed(1),
    r.otherCpuPct === null ? '-' : r.otherCpuPct.toFixed(0),
    nginxRps ? (r.rps / nginxRps).toFixed(2) : '-',
    String(errCount(r)),
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ');
  return [line(head), w.map((n) => '-'.repeat(n)).join('  '), ...body.map(line)].join('\n');
}

/** The round with the median req/s stands for the case; every round's req/s is kept. */
function median(rounds: Row[]): Row {
  const sorted = [...rounds].sort((a, b) => a.rps - b.rps);
  const mid = sorted[Math.floor((sorted.length - 1) / 2)];
  return rounds.length > 1 ? { ...mid, roundsRps: rounds.map((r) => Math.round(r.rps)), errorDetail: rounds.map((r) => r.errorDetail).filter(Boolean).join('\n') || undefined } : mid;
}

// ---------- main ----------
interface Case { key: string; label: string; run: () => Promise<Row> }

async function main(): Promise<number> {
  const m = machine();
  const workers = portcullisWorkersFlag();
  log(`bench/http: ${m.cpus} CPU(s) ${m.cpuModel}, load ${m.loadavgAtStart.join(' ')}; ${m.versions.nginx}; ${m.versions.haproxy}; ${m.versions.wrk}; node ${m.versions.node}`);
  log(`bench/http: ${workers.note}`);
  if (m.loadavgAtStart[0] > 0.5) log(`bench/http: WARNING: 1-minute load average is ${m.loadavgAtStart[0]} before the run: other work on this machine will lower and skew the figures (see the "other CPU %" column)`);
  const failures: string[] = [];

  // the fixed upstream, for the whole run
  const upstreamPort = await freePort();
  log('upstream: nginx, 2 workers, 200 + 100-byte body');
  const upstream = await startNginx('upstream nginx', nginxUpstreamConf('__DIR__', upstreamPort, 2), upstreamPort, { path: '/' });
  const upstreamAlive = () => {
    if (upstream.child.exitCode !== null || upstream.child.signalCode !== null) throw new BenchError('PCS_ERR_BENCH_EXITED', `the upstream nginx exited:\n${tail(upstream.output())}`);
  };
  const manyLabel = `portcullis (${ROUTES.toLocaleString('en-US')} routes)`;
  const cases: Case[] = [
    { key: 'upstream', label: 'upstream direct (no proxy)', run: () => measure('upstream direct (no proxy)', upstreamPort, { path: '/' }, null, upstream) },
    {
      key: 'nginx', label: 'nginx', run: async () => {
        const port = await freePort();
        log('nginx: proxy_pass, upstream keepalive 64, worker_processes 2');
        const s = await startNginx('nginx', nginxProxyConf('__DIR__', port, upstreamPort), port, { path: '/' });
        try { return await measure('nginx', port, { path: '/' }, s, upstream); } finally { await stop(s); }
      },
    },
    {
      key: 'haproxy', label: 'haproxy', run: async () => {
        const port = await freePort();
        log('haproxy: mode http, nbthread 2, http-reuse always');
        const s = await startHaproxy(port, upstreamPort);
        try { return await measure('haproxy', port, { path: '/' }, s, upstream); } finally { await stop(s); }
      },
    },
    ...([['portcullis (1 route)', 1], [manyLabel, ROUTES]] as const).map(([label, routes]): Case => ({
      key: routes > 1 ? 'portcullis-many' : 'portcullis-1', label, run: async () => {
        log(`${label}: starting${routes > 1 ? ` (generating ${routes} HTTPRoutes, one hostname per 100 routes, a distinct PathPrefix each; wrk asks for the middle one)` : ''}`);
        const p = await startPortcullis(label, routes, upstreamPort, workers.args);
        log(`  ${label}: ready ${(p.startupMs / 1000).toFixed(1)} s after start; target ${p.target.host ?? '(any host)'} ${p.target.path}`);
        try {
          const row = await measure(label, p.port, p.target, p.s, upstream, portcullisProblems(p.s));
          row.startupMs = Math.round(p.startupMs);
          return row;
        } finally { await stop(p.s, 5000); }
      },
    })),
    // Reference points, not products (bench/http/node-floor.ts): the least a Node proxy costs here
    ...([['node minimal (http+undici)', 'undici'], ['node floor (net+llhttp)', 'raw']] as const).map(([label, mode]): Case => ({
      key: `node-${mode}`, label, run: async () => {
        const port = await freePort();
        log(`${label}: bench/http/node-floor.ts --mode ${mode}, 2 processes`);
        const s = await startAndWait(start(label, process.execPath, ['bench/http/node-floor.ts', '--mode', mode, '--port', String(port), '--upstream', String(upstreamPort), '--workers', '2'], { cwd: REPO }), port, { path: '/' }, 10_000);
        try { return await measure(label, port, { path: '/' }, s, upstream); } finally { await stop(s); }
      },
    })),
  ];

  const byCase = new Map<string, Row[]>();
  const selected = ONLY.length ? cases.filter((c) => ONLY.includes(c.key)) : cases;
  for (let round = 1; round <= ROUNDS; round++) {
    // the upstream's own figure first; the proxies in reverse order on even rounds, so that a
    // drift of the machine's load over the run does not always favour the same proxy
    const order = round % 2 === 1 ? selected : [...selected.filter((c) => c.key === 'upstream'), ...selected.filter((c) => c.key !== 'upstream').reverse()];
    if (ROUNDS > 1) log(`round ${round} of ${ROUNDS}: ${order.map((c) => c.key).join(', ')}`);
    for (const c of order) {
      if (session.interrupted()) return 130;
      try {
        upstreamAlive();
        const row = await c.run();
        byCase.set(c.label, [...(byCase.get(c.label) ?? []), row]);
      } catch (e) {
        if (session.interrupted()) return 130;
        const msg = e instanceof BenchError ? `${e.code}: ${e.message}` : (e as Error).stack ?? String(e);
        failures.push(`${c.label}${ROUNDS > 1 ? ` (round ${round})` : ''}: ${msg}`);
        log(`  ${c.label} FAILED: ${msg}`);
      }
    }
  }
  await stop(upstream);
  const rows = cases.map((c) => byCase.get(c.label)).filter((r): r is Row[] => Boolean(r)).map(median);

  const nginxRow = rows.find((r) => r.name === 'nginx');
  const pc1 = rows.find((r) => r.name === 'portcullis (1 route)');
  const pcN = rows.find((r) => r.name === manyLabel);
  const direct = rows.find((r) => r.name === 'upstream direct (no proxy)');
  const bestProxy = Math.max(0, ...rows.filter((r) => r !== direct).map((r) => r.rps));

  const out: string[] = [];
  out.push('');
  out.push(`Proxy benchmark, ${new Date().toISOString()}, ${m.cpus} CPU(s) (${m.cpuModel}), git ${m.gitCommit}${m.srcDirty ? ' (src/ has uncommitted changes)' : ''}`);
  out.push(`wrk -t${THREADS} -c${CONNECTIONS} -d${DURATION}s --latency after a ${WARMUP}s warm-up${ROUNDS > 1 ? `, ${ROUNDS} rounds (median shown)` : ''}; upstream: nginx returning 200 + 100-byte body; all on 127.0.0.1`);
  out.push('');
  out.push(table(rows, nginxRow?.rps));
  out.push('');
  if (pc1 && pcN) out.push(`${pcN.name} vs 1 route: ${(pcN.rps / pc1.rps).toFixed(3)}x req/s (target: >= 0.90), p99 ${fmtMs(pcN.p99Ms)} vs ${fmtMs(pc1.p99Ms)}, CPU/request ${cpuPerReq(pcN).toFixed(0)} vs ${cpuPerReq(pc1).toFixed(0)} us; ready ${((pcN.startupMs ?? 0) / 1000).toFixed(1)} s vs ${((pc1.startupMs ?? 0) / 1000).toFixed(1)} s after start`);
  if (pc1 && nginxRow) out.push(`portcullis (1 route) vs nginx: ${(pc1.rps / nginxRow.rps).toFixed(2)}x req/s (target with 2 workers: >= 0.70), ${(cpuPerReq(pc1) / cpuPerReq(nginxRow)).toFixed(1)}x the CPU per request`);
  if (ROUNDS > 1) for (const r of rows) out.push(`  ${r.name}: req/s per round ${r.roundsRps?.join(', ')}`);
  out.push('');
  out.push('Notes:');
  out.push(`- ${workers.note}.`);
  out.push(`- This machine has ${m.cpus} CPU(s); wrk (${THREADS} threads), the upstream nginx (2 workers) and the proxy under test all share them, so every figure is lower than the proxy alone would reach, and a proxy that uses less CPU per request leaves more for wrk and the upstream.`);
  if (direct) out.push(`- "upstream direct" is wrk against the upstream with no proxy: the ceiling of this setup (${Math.round(direct.rps).toLocaleString('en-US')} req/s${bestProxy ? `, ${(direct.rps / bestProxy).toFixed(1)}x the fastest proxy` : ''}).`);
  out.push('- RSS MB: sum of VmRSS over the proxy\'s process tree (master + workers), sampled at the end of the measured run; shared pages count once per process (PSS is in the JSON). CPU %: CPU time of that tree during the run / wall time (100 = one core, 200 = both); CPU us/req: that CPU time per request.');
  out.push('- other CPU %: CPU used during the run by everything except the proxy, the upstream and wrk (other people\'s tests, builds). Anything above a few % means the row was measured on a busy machine and is not comparable.');
  out.push(`- Load average before the run: ${m.loadavgAtStart.join(' ')}; after: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}.`);
  for (const f of failures) out.push(`- FAILED ${f}`);
  for (const r of rows.filter((x) => x.errorDetail)) out.push(`- ERRORS in ${r.name}: ${r.errorDetail}`);
  console.log(out.join('\n'));

  const result = {
    date: new Date().toISOString(), machine: m,
    settings: { threads: THREADS, connections: CONNECTIONS, durationS: DURATION, warmupS: WARMUP, rounds: ROUNDS, routes: ROUTES, bodyBytes: Buffer.byteLength(BODY_100) },
    portcullis: { workerArgs: workers.args, note: workers.note },
    results: rows.map((r) => ({ ...r, rssMb: round2(r.rssMb), pssMb: round2(r.pssMb), cpuPct: round2(r.cpuPct), otherCpuPct: round2(r.otherCpuPct), cpuUsPerRequest: r.cpuPct === null ? null : +cpuPerReq(r).toFixed(2), ratioToNginx: nginxRow ? +(r.rps / nginxRow.rps).toFixed(3) : null })),
    ratioManyRoutesToOneRoute: pc1 && pcN ? +(pcN.rps / pc1.rps).toFixed(3) : null,
    failures,
  };
  if (argv.json === '-') console.log(JSON.stringify(result, null, 2));
  else if (argv.json) { fs.mkdirSync(path.dirname(path.resolve(argv.json)), { recursive: true }); fs.writeFileSync(argv.json, JSON.stringify(result, null, 2) + '\n'); log(`bench/http: wrote ${argv.json}`); }
  return failures.length || rows.some((r) => r.errorDetail) ? 1 : 0;
}

main().then(async (code) => {
  await stopAll();
  cleanupSync();
  process.exit(code);
}, async (e) => {
  log(`bench/http: ${e instanceof BenchError ? `${e.code}: ${e.message}` : (e as Error).stack ?? e}`);
  await stopAll().catch(() => {});
  cleanupSync();
  process.exit(1);
});
