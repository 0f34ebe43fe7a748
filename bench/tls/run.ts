/**
 * TLS benchmark: nginx and Portcullis terminating TLS side by side, same machine, same run, with
 * two Node reference servers beside them.
 *
 *   node bench/tls/run.ts [--duration 10] [--warmup 2] [--connections 64] [--threads 2]
 *                         [--clients 4] [--rounds 1] [--only ka,hs] [--servers nginx,portcullis,node-floor]
 *                         [--quick] [--json PATH|-]
 *
 * The issue's target: "TLS keep-alive req/s >= 0.7x nginx, new handshakes per second >= 0.9x nginx
 * (ECDSA P-256 and RSA-2048)". For each key type (a self-signed ECDSA P-256 and RSA-2048
 * certificate made with openssl, bench/tls/common.ts) nginx and Portcullis are started one after
 * the other on an ephemeral loopback port, in front of the same fixed upstream as bench/http (nginx,
 * 200 + 100-byte body), with the same TLS settings (TLS 1.2 and 1.3, the same ECDHE AEAD suites,
 * X25519/P-256/P-384, server order, ALPN h2 + http/1.1). nginx runs 2 workers, Portcullis
 * `--workers 2`. The node floors (bench/http/node-floor.ts, 2 processes sharing the port, the same
 * TLS_DEFAULTS and certificate) are reference points, not products: what any Node.js TLS server
 * costs on this machine at the least, so that their ratio to nginx bounds what Portcullis can reach:
 *   node floor (tls+llhttp)  the raw net+llhttp floor proxy of bench/http behind a tls.Server (ALPN
 *                            http/1.1 only), also on a plain HTTP port; keep-alive only.
 *   node floor (tls.Server)  a bare tls.Server that does nothing after the handshake; handshakes only.
 * Measured:
 *   ka  keep-alive HTTPS req/s: `wrk -t2 -c64 --latency` (ECDSA certificate only: once a connection
 *       is up, the key type no longer matters). wrk negotiates TLS 1.2 here. Then the same server
 *       over plain HTTP on a second port: HTTPS minus HTTP is what TLS itself costs per request,
 *       apart from the proxying (bench/http measures that alone).
 *   hs  new full handshakes per second: `--clients` parallel `openssl s_time -new` processes, each
 *       opening connection after connection with a full handshake (no session resumption, which
 *       `wrk -H 'Connection: close'` would do: wrk keeps the session of a closed connection and
 *       resumes it, see bench/README.md), TLS 1.3 with X25519, no request. The rate is the sum of
 *       the handshakes over the wall time of the run.
 * During every run the server's process tree is sampled from /proc: CPU time per request or per
 * handshake is the figure least disturbed by other load on the machine.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BODY_100, nginxUpstreamConf } from '../http/configs.ts';
import { BenchError, CLOCK_TICKS, freePort, launchPortcullis, machineBusyTicks, sampleTree, start, stop, stopAll, tail, type Started, benchSession } from '../http/procs.ts';
import { runWrk } from '../http/wrk.ts';
import { TLS_DEFAULTS } from '../../src/compiler/compile.ts';
import { makeCert, nginxTlsDirectives, nginxTlsProxyConf, portcullisTlsConfig, TLS_HOST, type KeyKind, type TestCert } from './common.ts';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

// ---------- arguments ----------
const { values: argv } = parseArgs({
  options: {
    duration: { type: 'string' }, warmup: { type: 'string' }, connections: { type: 'string' }, threads: { type: 'string' },
    clients: { type: 'string' }, rounds: { type: 'string' }, only: { type: 'string' }, servers: { type: 'string' }, quick: { type: 'boolean' }, json: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
  strict: true,
});
if (argv.help) {
  console.log('usage: node bench/tls/run.ts [--duration 10] [--warmup 2] [--connections 64] [--threads 2] [--clients 4] [--rounds 1] [--only ka,hs] [--servers nginx,portcullis,node-floor] [--quick] [--json PATH|-]');
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
const WARMUP = num(argv.warmup, quick ? 1 : 2, 'warmup');
const CONNECTIONS = num(argv.connections, 64, 'connections');
const THREADS = num(argv.threads, 2, 'threads');
const CLIENTS = num(argv.clients, 4, 'clients');
const ROUNDS = num(argv.rounds, 1, 'rounds');
const ONLY = (argv.only ?? 'ka,hs').split(',').map((x) => x.trim()).filter(Boolean);
if (ONLY.some((k) => k !== 'ka' && k !== 'hs')) { console.error('--only: ka (keep-alive req/s), hs (handshakes/s)'); process.exit(2); }
const SERVER_KEYS = ['nginx', 'portcullis', 'node-floor'];
const SERVERS = (argv.servers ?? SERVER_KEYS.join(',')).split(',').map((x) => x.trim()).filter(Boolean);
if (SERVERS.some((k) => !SERVER_KEYS.includes(k))) { console.error(`--servers: ${SERVER_KEYS.join(', ')} (node-floor: both node floors, each in its own measurement)`); process.exit(2); }
const log = (s: string) => process.stderr.write(s + '\n');

// ---------- tools ----------
function findTool(name: string): string | undefined {
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/local/sbin', '/sbin']) {
    const p = path.join(dir, name);
    try { fs.accessSync(p, fs.constants.X_OK); return p; } catch { /* next */ }
  }
  return undefined;
}
const tools = { nginx: findTool('nginx'), wrk: findTool('wrk'), openssl: findTool('openssl') };
const missing = Object.entries(tools).filter(([, p]) => !p).map(([n]) => n);
if (missing.length) {
  console.error(`bench/tls: missing tool(s): ${missing.join(', ')}.\nInstall them (Debian, as root) with:  sh scripts/install-bench-tools.sh`);
  process.exit(2);
}
const NGINX = tools.nginx!, WRK = tools.wrk!, OPENSSL = tools.openssl!;
const version = (cmd: string, args: string[]) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 10_000 });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.split('\n').map((l) => l.trim()).find((l) => l) ?? 'unknown';
};
const versions = { nginx: version(NGINX, ['-v']), wrk: version(WRK, ['-v']), openssl: version(OPENSSL, ['version']), nodeOpenssl: process.versions.openssl, node: process.version };

// ---------- cleanup on every exit path ----------
const session = benchSession('portcullis-tls-bench-', 'the benchmark', log);
const TMP = session.tmp;
const cleanupSync = session.cleanup;
process.on('uncaughtException', (e) => { log(`bench/tls: ${e.stack ?? e}`); cleanupSync(); process.exit(1); });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------- readiness ----------
function probe(port: number, timeoutMs = 2000): Promise<{ status: number; body: string; protocol: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, path: '/', servername: TLS_HOST, rejectUnauthorized: false, agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, protocol: (res.socket as import('node:tls').TLSSocket).getProtocol?.() ?? '?' }));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** One full handshake and no request: the readiness check of a server that speaks no HTTP. */
function handshakeProbe(port: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const sock = tls.connect({ host: '127.0.0.1', port, servername: TLS_HOST, rejectUnauthorized: false, timeout: timeoutMs }, () => { sock.end(); resolve(); });
    sock.on('timeout', () => sock.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    sock.on('error', reject);
  });
}

async function waitReady(s: Started, port: number, timeoutMs: number, handshakeOnly = false): Promise<void> {
  const t0 = performance.now();
  let last = 'no attempt';
  let exited: number | string | undefined;
  void s.exited.then((c) => { exited = c; });
  while (performance.now() - t0 < timeoutMs) {
    if (exited !== undefined) throw new BenchError('PCS_ERR_BENCH_EXITED', `${s.name} exited (${exited}) before it was ready. Its output:\n${tail(s.output())}`);
    try {
      if (handshakeOnly) { await handshakeProbe(port, 1000); return; }
      const r = await probe(port, 1000);
      if (r.status === 200 && r.body === BODY_100) return;
      last = `HTTP ${r.status}: ${r.body.slice(0, 200)}`;
      if (r.status !== 502 && r.status !== 503) break;
    } catch (e) { last = (e as Error).message; }
    await sleep(100);
  }
  throw new BenchError('PCS_ERR_BENCH_NOT_READY', `${s.name} on 127.0.0.1:${port} did not ${handshakeOnly ? 'complete a TLS handshake' : 'answer 200 with the 100-byte body over HTTPS'} within ${timeoutMs} ms; last: ${last}\nIts output:\n${tail(s.output())}`);
}

/** The certificate the server presents to an ECDSA-and-RSA client: checks we measure the intended key. */
function servedKeyType(port: number): string {
  const out = execFileSync(OPENSSL, ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', TLS_HOST], { input: '', encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], timeout: 10_000 });
  return /Peer signature type: (\S+)/.exec(out)?.[1] ?? /Server public key is (\d+) bit/.exec(out)?.[0] ?? 'unknown';
}

// ---------- servers ----------
interface Launched { s: Started; port: number; plainPort?: number }

async function startNginx(upstreamPort: number, cert: TestCert): Promise<Launched> {
  const port = await freePort();
  const plainPort = await freePort();
  const dir = fs.mkdtempSync(path.join(TMP, 'nginx-'));
  for (const t of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) fs.mkdirSync(path.join(dir, `${t}_temp`));
  fs.chmodSync(dir, 0o755);
  const file = path.join(dir, 'nginx.conf');
  fs.writeFileSync(file, nginxTlsProxyConf(dir, port, upstreamPort, [cert], nginxTlsDirectives(TLS_DEFAULTS.ciphers, TLS_DEFAULTS.ecdhCurve), plainPort));
  const s = start(`nginx (${cert.kind})`, NGINX, ['-p', dir, '-c', file, '-e', 'stderr']);
  try { await waitReady(s, port, 10_000); } catch (e) { await stop(s); throw e; }
  return { s, port, plainPort };
}

async function startPortcullis(upstreamPort: number, cert: TestCert): Promise<Launched> {
  const port = await freePort();
  const plainPort = await freePort();
  const { s } = await launchPortcullis(`portcullis (${cert.kind})`, REPO, TMP, portcullisTlsConfig(port, upstreamPort, [cert], { plainPort }), ['--workers', '2']);
  try { await waitReady(s, port, 15_000); } catch (e) { await stop(s, 5000); throw e; }
  return { s, port, plainPort };
}

// Reference points, not products (bench/http/node-floor.ts, 2 processes sharing the port): each
// imports TLS_DEFAULTS itself, so its TLS settings are Portcullis's by construction.
const FLOOR_KA = 'node floor (tls+llhttp)', FLOOR_HS = 'node floor (tls.Server)';

/**
 * bench/http/node-floor.ts with 2 workers: ready once it answers on `port` (a full HTTPS exchange,
 * or with `handshakeOnly` a TLS handshake) and both workers say they listen, since the first
 * answer may come from one worker alone.
 */
async function startFloor(name: string, port: number, args: string[], handshakeOnly: boolean): Promise<Started> {
  const s = start(name, process.execPath, ['bench/http/node-floor.ts', ...args, '--port', String(port), '--workers', '2'], { cwd: REPO });
  try {
    await waitReady(s, port, 10_000, handshakeOnly);
    const t0 = performance.now();
    while ((s.output().match(/^node-floor: worker \d+ listening/gm) ?? []).length < 2) {
      if (performance.now() - t0 > 10_000) throw new BenchError('PCS_ERR_BENCH_NOT_READY', `${name}: not every worker listens after 10 s. Its output:\n${tail(s.output())}`);
      await sleep(50);
    }
  } catch (e) { await stop(s); throw e; }
  return s;
}

/** The raw net+llhttp floor proxy behind a tls.Server (ALPN http/1.1), and on a plain HTTP port. */
async function startFloorProxy(upstreamPort: number, cert: TestCert): Promise<Launched> {
  const port = await freePort();
  const plainPort = await freePort();
  const s = await startFloor(`${FLOOR_KA} (${cert.kind})`, port, ['--mode', 'raw', '--plain-port', String(plainPort), '--upstream', String(upstreamPort), '--tls-cert', cert.certFile, '--tls-key', cert.keyFile], false);
  return { s, port, plainPort };
}

/** A bare tls.Server (ALPN h2 + http/1.1) that does nothing after the handshake. */
async function startFloorTls(_upstreamPort: number, cert: TestCert): Promise<Launched> {
  const port = await freePort();
  const s = await startFloor(`${FLOOR_HS} (${cert.kind})`, port, ['--mode', 'tls', '--tls-cert', cert.certFile, '--tls-key', cert.keyFile], true);
  return { s, port };
}

/** Every server, the --servers key that selects it and the measurements it takes part in. */
const SERVER_CASES: readonly { key: string; name: string; launch: (upstreamPort: number, cert: TestCert) => Promise<Launched>; measures: readonly ('ka' | 'hs')[] }[] = [
  { key: 'nginx', name: 'nginx', launch: startNginx, measures: ['ka', 'hs'] },
  { key: 'portcullis', name: 'portcullis', launch: startPortcullis, measures: ['ka', 'hs'] },
  { key: 'node-floor', name: FLOOR_KA, launch: startFloorProxy, measures: ['ka'] },
  { key: 'node-floor', name: FLOOR_HS, launch: startFloorTls, measures: ['hs'] },
];

// ---------- measurements ----------
interface Usage { cpuPct: number; otherCpuPct: number; wallS: number }

/** Run `work` while sampling the server's tree and the machine; CPU % of the server and of everything else. */
async function sampled<T>(server: Started, clientsTicks: () => number, work: () => Promise<T>): Promise<{ value: T; usage: Usage }> {
  const t0 = performance.now();
  const s0 = sampleTree(server.pid).cpuTicks, m0 = machineBusyTicks();
  let s1 = s0, m1 = m0, t1 = t0, c1 = 0;
  const timer = setInterval(() => { s1 = sampleTree(server.pid).cpuTicks; m1 = machineBusyTicks(); c1 = clientsTicks(); t1 = performance.now(); }, 500);
  let value: T;
  try { value = await work(); } finally { clearInterval(timer); }
  const secs = Math.max(0.001, (t1 - t0) / 1000);
  const serverTicks = s1 - s0;
  return { value, usage: { cpuPct: serverTicks / CLOCK_TICKS / secs * 100, otherCpuPct: Math.max(0, (m1 - m0 - serverTicks - c1) / CLOCK_TICKS / secs * 100), wallS: (performance.now() - t0) / 1000 } };
}

function treeTicks(pids: number[]): number {
  let t = 0;
  for (const p of pids) t += sampleTree(p).cpuTicks;
  return t;
}

interface KaRow { kind: 'ka' | 'ka-plain'; server: string; keyKind: KeyKind; rps: number; p50Ms: number; p99Ms: number; errors: number; cpuPct: number; otherCpuPct: number; cpuUsPerUnit: number }
interface HsRow { kind: 'hs'; server: string; keyKind: KeyKind; hps: number; handshakes: number; errors: number; cpuPct: number; otherCpuPct: number; cpuUsPerUnit: number }
type Row = KaRow | HsRow;

async function keepAlive(name: string, keyKind: KeyKind, server: Started, port: number, plain = false): Promise<KaRow> {
  const url = `${plain ? 'http' : 'https'}://127.0.0.1:${port}/`;
  log(`  ${name}: keep-alive ${plain ? 'plain HTTP ' : ''}warm-up ${WARMUP}s, then wrk -t${THREADS} -c${CONNECTIONS} -d${DURATION}s`);
  await runWrk({ bin: WRK, url, threads: THREADS, connections: CONNECTIONS, seconds: WARMUP });
  let wrkPid = 0;
  const { value: r, usage } = await sampled(server, () => (wrkPid ? treeTicks([wrkPid]) : 0), () => runWrk({ bin: WRK, url, threads: THREADS, connections: CONNECTIONS, seconds: DURATION }, (pid) => { wrkPid = pid; }));
  const errors = r.non2xx3xx + r.socketErrors.connect + r.socketErrors.read + r.socketErrors.write + r.socketErrors.timeout;
  return { kind: plain ? 'ka-plain' : 'ka', server: name, keyKind, rps: r.rps, p50Ms: r.p50, p99Ms: r.p99, errors, cpuPct: usage.cpuPct, otherCpuPct: usage.otherCpuPct, cpuUsPerUnit: usage.cpuPct / 100 / r.rps * 1e6 };
}

/** `openssl s_time -new` x CLIENTS for `seconds`: full handshakes (TLS 1.3, X25519), summed. */
async function sTime(port: number, seconds: number, onPids?: (pids: number[]) => void): Promise<{ handshakes: number; wallS: number; failures: string[] }> {
  const t0 = performance.now();
  const procs = Array.from({ length: CLIENTS }, () => start('openssl s_time', OPENSSL, ['s_time', '-connect', `127.0.0.1:${port}`, '-new', '-time', String(seconds)]));
  onPids?.(procs.map((p) => p.pid));
  const codes = await Promise.all(procs.map((p) => p.exited));
  const wallS = (performance.now() - t0) / 1000;
  let handshakes = 0;
  const failures: string[] = [];
  procs.forEach((p, i) => {
    const m = /(\d+) connections in [\d.]+s;/.exec(p.output());
    if (!m || codes[i] !== 0) failures.push(`s_time exit ${codes[i]}: ${tail(p.output().replace(/\*+/g, ''), 5)}`);
    if (m) handshakes += Number(m[1]);
  });
  return { handshakes, wallS, failures };
}

async function handshakes(name: string, keyKind: KeyKind, server: Started, port: number): Promise<HsRow> {
  log(`  ${name}: handshake warm-up ${WARMUP}s, then ${CLIENTS} x openssl s_time -new -time ${DURATION}`);
  await sTime(port, WARMUP);
  let pids: number[] = [];
  const { value: r, usage } = await sampled(server, () => treeTicks(pids), () => sTime(port, DURATION, (p) => { pids = p; }));
  if (r.failures.length) log(`  ${name}: ${r.failures.length} s_time client(s) failed:\n${r.failures.join('\n')}`);
  const hps = r.handshakes / r.wallS;
  return { kind: 'hs', server: name, keyKind, hps, handshakes: r.handshakes, errors: r.failures.length, cpuPct: usage.cpuPct, otherCpuPct: usage.otherCpuPct, cpuUsPerUnit: usage.cpuPct / 100 / hps * 1e6 };
}

// ---------- output ----------
const fmtMs = (ms: number) => (ms < 1 ? `${(ms * 1000).toFixed(0)}us` : `${ms.toFixed(2)}ms`);
function table(head: string[], body: string[][]): string {
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ');
  return [line(head), w.map((n) => '-'.repeat(n)).join('  '), ...body.map(line)].join('\n');
}

function median<T extends Row>(rows: T[]): T & { rounds: number[] } {
  const val = (r: Row) => (r.kind === 'hs' ? r.hps : r.rps);
  const sorted = [...rows].sort((a, b) => val(a) - val(b));
  return { ...sorted[Math.floor((sorted.length - 1) / 2)], rounds: rows.map((r) => Math.round(val(r))) };
}

function machine() {
  const cpus = os.cpus();
  let gitCommit = 'unknown', srcDirty = false;
  try {
    gitCommit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO, encoding: 'utf8' }).trim();
    srcDirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: REPO, encoding: 'utf8' }).trim() !== '';
  } catch { /* not a git checkout */ }
  return { cpus: cpus.length, cpuModel: cpus[0]?.model ?? 'unknown', kernel: os.release(), loadavgAtStart: os.loadavg().map((x) => +x.toFixed(2)), gitCommit, srcDirty, versions };
}

// ---------- main ----------
async function main(): Promise<number> {
  const m = machine();
  log(`bench/tls: ${m.cpus} CPU(s) ${m.cpuModel}, load ${m.loadavgAtStart.join(' ')}; ${versions.nginx}; ${versions.wrk}; ${versions.openssl} (client); node ${versions.node} (OpenSSL ${versions.nodeOpenssl})`);
  if (m.loadavgAtStart[0] > 0.5) log(`bench/tls: WARNING: 1-minute load average is ${m.loadavgAtStart[0]} before the run: other work on this machine will skew the figures (see "other CPU %")`);
  const certs = { ecdsa: makeCert(TMP, 'ecdsa'), rsa: makeCert(TMP, 'rsa') };
  const upstreamPort = await freePort();
  const upDir = fs.mkdtempSync(path.join(TMP, 'upstream-'));
  for (const t of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) fs.mkdirSync(path.join(upDir, `${t}_temp`));
  fs.chmodSync(upDir, 0o755);
  fs.writeFileSync(path.join(upDir, 'nginx.conf'), nginxUpstreamConf(upDir, upstreamPort, 2));
  const upstream = start('upstream nginx', NGINX, ['-p', upDir, '-c', path.join(upDir, 'nginx.conf'), '-e', 'stderr']);
  await sleep(300);
  if (upstream.child.exitCode !== null) throw new BenchError('PCS_ERR_BENCH_EXITED', `the upstream nginx exited:\n${tail(upstream.output())}`);

  const failures: string[] = [];
  const results = new Map<string, Row[]>();
  const servers = SERVER_CASES.filter((c) => SERVERS.includes(c.key));
  for (let round = 1; round <= ROUNDS; round++) {
    const order = round % 2 === 1 ? servers : [...servers].reverse();
    for (const kind of ['ecdsa', 'rsa'] as const) {
      for (const { name, launch, measures } of order) {
        if (session.interrupted()) return 130;
        // keep-alive with the ECDSA certificate only: once a connection is up the key type no longer matters
        const todo = measures.filter((x) => ONLY.includes(x) && (x === 'hs' || kind === 'ecdsa'));
        if (!todo.length) continue;
        const label = `${name} ${kind === 'ecdsa' ? 'ECDSA P-256' : 'RSA-2048'}`;
        try {
          log(`${label}: starting${ROUNDS > 1 ? ` (round ${round})` : ''}`);
          const { s, port, plainPort } = await launch(upstreamPort, certs[kind]);
          try {
            log(`  ${label}: serves ${servedKeyType(port)}`);
            const rows: Row[] = [];
            if (todo.includes('ka')) rows.push(await keepAlive(name, kind, s, port));
            // the same server over plain HTTP: what TLS adds per request, apart from the proxying
            if (todo.includes('ka') && plainPort) rows.push(await keepAlive(name, kind, s, plainPort, true));
            if (todo.includes('hs')) rows.push(await handshakes(name, kind, s, port));
            for (const r of rows) { const k = `${r.kind} ${r.server} ${r.keyKind}`; results.set(k, [...(results.get(k) ?? []), r]); }
          } finally { await stop(s, 5000); }
        } catch (e) {
          if (session.interrupted()) return 130;
          const msg = e instanceof BenchError ? `${e.code}: ${e.message}` : (e as Error).stack ?? String(e);
          failures.push(`${label}: ${msg}`);
          log(`  ${label} FAILED: ${msg}`);
        }
      }
    }
  }
  await stop(upstream);

  const get = <K extends Row['kind']>(kind: K, server: string, key: KeyKind) => {
    const rows = results.get(`${kind} ${server} ${key}`) as (K extends 'hs' ? HsRow : KaRow)[] | undefined;
    return rows && median(rows);
  };
  const rate = (r: Row) => (r.kind === 'hs' ? r.hps : r.rps);
  /** A server's figure (req/s or handshakes/s) and CPU per unit as multiples of nginx's, same measurement. */
  const vsNginx = (kind: Row['kind'], key: KeyKind, server: string) => {
    const n = get(kind, 'nginx', key), r = get(kind, server, key);
    return n && r ? { x: rate(r) / rate(n), cpu: r.cpuUsPerUnit / n.cpuUsPerUnit } : undefined;
  };
  // With several rounds: the ratio to the same round's nginx, steadier than the ratio of the
  // medians when the machine's load drifts.
  const perRound = (kind: Row['kind'], key: KeyKind, server: string) => {
    const n = results.get(`${kind} nginx ${key}`) ?? [], p = results.get(`${kind} ${server} ${key}`) ?? [];
    if (n.length !== p.length) return undefined;
    return `${n.map((r, i) => (rate(p[i]) / rate(r)).toFixed(2)).join(', ')}x (CPU ${n.map((r, i) => (p[i].cpuUsPerUnit / r.cpuUsPerUnit).toFixed(1)).join(', ')}x)`;
  };
  const out: string[] = [''];
  out.push(`TLS benchmark, ${new Date().toISOString()}, ${m.cpus} CPU(s) (${m.cpuModel}), git ${m.gitCommit}${m.srcDirty ? ' (src/ has uncommitted changes)' : ''}; nginx 2 workers, Portcullis --workers 2, node floors 2 processes${ROUNDS > 1 ? `; ${ROUNDS} rounds, median shown` : ''}`);
  const summary: string[] = [];
  const targets: Record<string, { target: number; vsNginx: Record<string, { x: number; cpu: number }> }> = {};
  /** One of the issue's targets: Portcullis and the node floor against nginx, a summary line and the JSON's `targets`. */
  const target = (id: string, what: string, kind: 'ka' | 'hs', key: KeyKind, floor: string, goal: number, unit: string) => {
    const them = ([['portcullis', 'portcullis'], ['node floor', floor]] as const).flatMap(([label, server]) => { const v = vsNginx(kind, key, server); return v ? [{ label, server, ...v }] : []; });
    if (!them.length) return;
    targets[id] = { target: goal, vsNginx: Object.fromEntries(them.map((t) => [t.server, { x: +t.x.toFixed(3), cpu: +t.cpu.toFixed(2) }])) };
    const rounds = ROUNDS > 1 ? them.flatMap((t) => { const r = perRound(kind, key, t.server); return r ? [`${t.label} ${r}`] : []; }) : [];
    summary.push(`${what}: ${them.map((t, i) => `${t.label} ${t.x.toFixed(2)}x${i ? '' : ' nginx'}`).join(', ')} (target >= ${goal.toFixed(2)}); CPU per ${unit}: ${them.map((t) => `${t.label} ${t.cpu.toFixed(1)}x`).join(', ')} nginx's${rounds.length ? `; per round: ${rounds.join(', ')}` : ''}`);
  };
  const kaRows = (['ka', 'ka-plain'] as const).flatMap((kind) => ['nginx', 'portcullis', FLOOR_KA].map((server) => get(kind, server, 'ecdsa'))).filter((r): r is NonNullable<typeof r> => !!r);
  if (kaRows.length) {
    out.push('', `(a) keep-alive HTTPS, ECDSA P-256 (and the same servers over plain HTTP, for reference): wrk -t${THREADS} -c${CONNECTIONS} -d${DURATION}s after ${WARMUP}s warm-up`);
    out.push(table(['server', 'scheme', 'req/s', 'p50', 'p99', 'CPU %', 'CPU us/req', 'other CPU %', 'x nginx', 'errors'], kaRows.map((r) => {
      const n = get(r.kind, 'nginx', 'ecdsa');
      return [r.server, r.kind === 'ka' ? 'https' : 'http', Math.round(r.rps).toLocaleString('en-US'), fmtMs(r.p50Ms), fmtMs(r.p99Ms), r.cpuPct.toFixed(0), r.cpuUsPerUnit.toFixed(1), r.otherCpuPct.toFixed(0), n ? (r.rps / n.rps).toFixed(2) : '-', String(r.errors)];
    })));
    target('ka', 'keep-alive HTTPS req/s', 'ka', 'ecdsa', FLOOR_KA, 0.7, 'request');
    const tlsCost = ([['nginx', 'nginx'], ['portcullis', 'portcullis'], ['node floor', FLOOR_KA]] as const).flatMap(([label, server]) => {
      const h = get('ka', server, 'ecdsa'), p = get('ka-plain', server, 'ecdsa');
      return h && p ? [`${label} ${(h.cpuUsPerUnit - p.cpuUsPerUnit).toFixed(1)} us`] : [];
    });
    const plain = ([['portcullis', 'portcullis'], ['node floor', FLOOR_KA]] as const).flatMap(([label, server]) => { const v = vsNginx('ka-plain', 'ecdsa', server); return v ? [`${label} ${v.x.toFixed(2)}x`] : []; });
    if (tlsCost.length > 1) summary.push(`TLS adds per request (HTTPS minus plain HTTP CPU, same servers): ${tlsCost.join(', ')}${plain.length ? `; plain HTTP req/s: ${plain.join(', ')} nginx` : ''}`);
  }
  const hs = (['ecdsa', 'rsa'] as const).flatMap((k) => ['nginx', 'portcullis', FLOOR_HS].map((server) => get('hs', server, k))).filter((r): r is NonNullable<typeof r> => !!r);
  if (hs.length) {
    out.push('', `(b) new full handshakes (no resumption): ${CLIENTS} x openssl s_time -new -time ${DURATION} after ${WARMUP}s warm-up, TLS 1.3, no request`);
    out.push(table(['server', 'key', 'handshakes/s', 'CPU %', 'CPU us/handshake', 'other CPU %', 'x nginx', 'errors'], hs.map((r) => {
      const n = get('hs', 'nginx', r.keyKind);
      return [r.server, r.keyKind === 'ecdsa' ? 'ECDSA P-256' : 'RSA-2048', Math.round(r.hps).toLocaleString('en-US'), r.cpuPct.toFixed(0), r.cpuUsPerUnit.toFixed(0), r.otherCpuPct.toFixed(0), n ? (r.hps / n.hps).toFixed(2) : '-', String(r.errors)];
    })));
    for (const k of ['ecdsa', 'rsa'] as const) target(`hs ${k}`, `handshakes/s ${k === 'ecdsa' ? 'ECDSA P-256' : 'RSA-2048'}`, 'hs', k, FLOOR_HS, 0.9, 'handshake');
  }
  out.push('', ...summary);
  if (ROUNDS > 1) for (const [k, rows] of results) out.push(`  ${k}: per round ${median(rows).rounds.join(', ')}`);
  out.push('', 'Notes:');
  out.push(`- ${m.cpus} CPU(s) shared by the clients (wrk / openssl s_time), the upstream nginx and the server under test. CPU us/req and CPU us/handshake (server process tree CPU time / count) are the figures least disturbed by other load; other CPU % above a few % means the row ran on a busy machine.`);
  out.push(`- Load average before the run: ${m.loadavgAtStart.join(' ')}; after: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}.`);
  for (const f of failures) out.push(`- FAILED ${f}`);
  console.log(out.join('\n'));
  const result = { date: new Date().toISOString(), machine: m, settings: { durationS: DURATION, warmupS: WARMUP, connections: CONNECTIONS, threads: THREADS, clients: CLIENTS, rounds: ROUNDS, only: ONLY, servers: SERVERS }, results: Object.fromEntries([...results].map(([k, rows]) => [k, median(rows)])), targets, summary, failures };
  if (argv.json === '-') console.log(JSON.stringify(result, null, 2));
  else if (argv.json) fs.writeFileSync(argv.json, JSON.stringify(result, null, 2) + '\n');
  return failures.length || [...results.values()].flat().some((r) => r.errors) ? 1 : 0;
}

main().then(async (code) => { await stopAll(); cleanupSync(); process.exit(code); }, async (e) => {
  log(`bench/tls: ${e instanceof BenchError ? `${e.code}: ${e.message}` : (e as Error).stack ?? e}`);
  await stopAll().catch(() => {});
  cleanupSync();
  process.exit(1);
});
