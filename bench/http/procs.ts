/**
 * Child processes for the proxy benchmark: every process is started in its own process group and
 * recorded, so that cleanup() can stop every one of them (and their children: nginx workers,
 * Portcullis workers) on success, error, Ctrl-C or SIGTERM. Also: memory (RSS/PSS) and CPU time of a
 * process tree, read from /proc.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface Started {
  name: string;
  child: ChildProcess;
  pid: number;
  /** stdout + stderr, for error reports (kept to the last 64 KB). */
  output(): string;
  /** resolves with the exit code (or signal name) once the process has exited */
  exited: Promise<number | string>;
}

const live = new Set<Started>();

export function start(name: string, cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; onLine?: (line: string) => void } = {}): Started {
  const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let buf = '';
  let partial = '';
  const take = (d: Buffer) => {
    const s = d.toString('utf8');
    buf = (buf + s).slice(-65536);
    if (opts.onLine) {
      partial += s;
      let nl: number;
      while ((nl = partial.indexOf('\n')) >= 0) { opts.onLine(partial.slice(0, nl)); partial = partial.slice(nl + 1); }
    }
  };
  child.stdout!.on('data', take);
  child.stderr!.on('data', take);
  const exited = new Promise<number | string>((resolve) => {
    child.on('exit', (code, sig) => resolve(code ?? sig ?? 'unknown'));
    child.on('error', (err) => { buf += `\nspawn error: ${err.message}`; resolve('spawn-error'); });
  });
  if (child.pid === undefined) throw new Error(`could not start ${name} (${cmd})`);
  const s: Started = { name, child, pid: child.pid, output: () => buf, exited };
  live.add(s);
  void exited.then(() => live.delete(s));
  return s;
}

function killGroup(pid: number, sig: NodeJS.Signals): void {
  try { process.kill(-pid, sig); } catch { /* already gone */ }
}

/** SIGTERM the process group, SIGKILL it after `graceMs` if the leader has not exited. */
export async function stop(s: Started, graceMs = 3000): Promise<void> {
  if (!live.has(s)) { killGroup(s.pid, 'SIGKILL'); return; }
  killGroup(s.pid, 'SIGTERM');
  const t = setTimeout(() => killGroup(s.pid, 'SIGKILL'), graceMs);
  await s.exited;
  clearTimeout(t);
  killGroup(s.pid, 'SIGKILL'); // stragglers in the group (workers)
  await groupGone(s.pid, graceMs);
  live.delete(s);
}

/** Wait (up to `ms`) until no process of the group is left: SIGKILL is asynchronous. */
async function groupGone(pgid: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try { process.kill(-pgid, 0); } catch { return; } // ESRCH: the group is empty
    if (Date.now() >= deadline) return;
    await new Promise((r) => setTimeout(r, 10));
  }
}

export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((s) => stop(s)));
}

/** Synchronous last resort (process 'exit' handler): SIGKILL every group still recorded. */
export function killAllNow(): void {
  for (const s of live) killGroup(s.pid, 'SIGKILL');
  live.clear();
}

export function liveCount(): number { return live.size; }

const SIGNALS = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 } as const;

/**
 * A benchmark run's temporary directory (for generated configs) and its cleanup on every exit
 * path: at exit every process still recorded is killed and the directory removed; on SIGINT,
 * SIGTERM or SIGHUP the processes are first stopped (at most 5 s), then the run exits with
 * 128 + the signal's number. `interrupted()` tells the run's loops to stop starting new cases.
 */
export function benchSession(prefix: string, what: string, log: (s: string) => void): { tmp: string; cleanup: () => void; interrupted: () => boolean } {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chmodSync(tmp, 0o755); // nginx workers drop to an unprivileged user when started as root
  let cleaned = false;
  let interrupted = false;
  const cleanup = () => {
    if (cleaned) return;
    cleaned = true;
    killAllNow();
    try { fs.rmSync(tmp, { recursive: true, force: true }); } catch { /* best effort */ }
  };
  process.on('exit', cleanup);
  for (const [sig, num] of Object.entries(SIGNALS)) {
    process.on(sig, () => {
      interrupted = true;
      log(`\n${sig}: stopping every process ${what} started`);
      void stopAll().finally(() => { cleanup(); process.exit(128 + num); });
      setTimeout(() => { cleanup(); process.exit(128 + num); }, 5000).unref();
    });
  }
  return { tmp, cleanup, interrupted: () => interrupted };
}

/** A loopback port that was free a moment ago, below the ephemeral range (test/helpers/ports.ts says why). */
export { freePort } from '../../test/helpers/ports.ts';

/** pid and every descendant, from /proc/<pid>/stat's ppid field. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const ent of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(ent)) continue;
    const ppid = readStat(Number(ent))?.ppid;
    if (ppid === undefined) continue;
    const list = children.get(ppid) ?? [];
    list.push(Number(ent));
    children.set(ppid, list);
  }
  const out: number[] = [];
  const todo = [root];
  while (todo.length) {
    const p = todo.pop()!;
    if (!fs.existsSync(`/proc/${p}`)) continue;
    out.push(p);
    todo.push(...(children.get(p) ?? []));
  }
  return out;
}

function readStat(pid: number): { ppid: number; ticks: number } | undefined {
  let s: string;
  try { s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8'); } catch { return undefined; }
  // the comm field is in parentheses and may contain spaces: split after the last ')'
  const rest = s.slice(s.lastIndexOf(')') + 2).split(' ');
  // rest[0] = state (field 3); ppid = field 4; utime = 14, stime = 15
  return { ppid: Number(rest[1]), ticks: Number(rest[11]) + Number(rest[12]) };
}

function statusKb(pid: number, key: string): number {
  try {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch { return 0; }
}

function pssKb(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch { return 0; }
}

export interface TreeSample { pids: number[]; rssKb: number; pssKb: number; cpuTicks: number }

/** Sum of VmRSS (and PSS, which does not count shared pages twice) and CPU ticks over the tree. */
export function sampleTree(root: number): TreeSample {
  const pids = processTree(root);
  let rss = 0, pss = 0, ticks = 0;
  for (const p of pids) {
    rss += statusKb(p, 'VmRSS');
    pss += pssKb(p);
    ticks += readStat(p)?.ticks ?? 0;
  }
  return { pids, rssKb: rss, pssKb: pss, cpuTicks: ticks };
}

/** USER_HZ: clock ticks per second in /proc/<pid>/stat (100 on every Linux we run on). */
export const CLOCK_TICKS = 100;

/** Busy CPU ticks of the whole machine (all CPUs: everything but idle and iowait), from /proc/stat. */
export function machineBusyTicks(): number {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]; // "cpu  user nice system idle iowait irq softirq steal ..."
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  return f.reduce((a, b) => a + b, 0) - f[3] - f[4];
}

/** CPU ticks (user + system) of one process, 0 if it is gone. */
export function processTicks(pid: number): number {
  return readStat(pid)?.ticks ?? 0;
}

/** A benchmark failure with a stable code (the scripts print `code: message`). */
export class BenchError extends Error {
  readonly code: string;
  constructor(code: string, message: string) { super(message); this.code = code; }
}

/** The last `lines` lines of a process's output, indented for an error message. */
export function tail(s: string, lines = 30): string {
  return s.trimEnd().split('\n').slice(-lines).map((x) => '  | ' + x).join('\n');
}

/**
 * `node src/cli/main.ts start` (run from `repo`) on a fresh config dir under `tmp` holding `files`;
 * resolves once it logs "portcullis started", with the time that took. Waiting for it to serve is
 * the caller's (each benchmark checks its own route and body).
 */
export async function launchPortcullis(name: string, repo: string, tmp: string, files: Record<string, string>, workerArgs: string[]): Promise<{ s: Started; startupMs: number }> {
  const dir = fs.mkdtempSync(path.join(tmp, 'portcullis-'));
  const cfg = path.join(dir, 'config');
  fs.mkdirSync(cfg);
  for (const [f, text] of Object.entries(files)) fs.writeFileSync(path.join(cfg, f), text);
  const state = path.join(dir, 'state');
  fs.mkdirSync(state, { mode: 0o700 });
  let ready: () => void = () => {};
  const started = new Promise<void>((r) => { ready = r; });
  const t0 = performance.now();
  const s = start(name, process.execPath, ['src/cli/main.ts', 'start', '--config', cfg, '--admin', '127.0.0.1:0', '--state-dir', state, '--no-access-log', ...workerArgs], {
    cwd: repo,
    env: { ...process.env, PORTCULLIS_DRAIN_MS: '1000' },
    onLine: (line) => { if (line.includes('"msg":"portcullis started"')) ready(); },
  });
  const timeoutMs = 120_000;
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    started.then(() => 'ready' as const),
    s.exited.then((c) => `exited (${c})`),
    new Promise<'timeout'>((r) => { timer = setTimeout(() => r('timeout'), timeoutMs); }),
  ]);
  clearTimeout(timer);
  if (outcome !== 'ready') {
    await stop(s);
    throw new BenchError('PCS_ERR_BENCH_NOT_READY', `${name} did not log "portcullis started" (${outcome === 'timeout' ? `within ${timeoutMs} ms` : outcome}). Its output:\n${tail(s.output())}`);
  }
  return { s, startupMs: performance.now() - t0 };
}

/**
 * Holds the CPUs out of their idle states while it is held: a PM QoS request of 0 µs exit
 * latency through /dev/cpu_dma_latency (what `pyperf system tune` and tuned's latency-performance
 * profile do), so that an idle CPU polls instead of halting. Needs root; null when the file cannot
 * be written (not root, not Linux). Released by close(), or when the process exits.
 *
 * Why a benchmark wants it: in a VM, a halted vCPU returns to the host, which runs other work on
 * the core; whatever process runs next finds colder caches and branch predictors. A server at one
 * connection halts twice per request (waiting for the upstream, then for the client), so its CPU
 * time per request grows with how much it touches per request, whatever it does (measured:
 * docs/waf-results.md section 13).
 */
export function holdCpusAwake(): { close(): void } | null {
  let fd: number;
  try { fd = fs.openSync('/dev/cpu_dma_latency', 'w'); } catch { return null; }
  try {
    const b = Buffer.alloc(4);
    b.writeInt32LE(0);
    fs.writeSync(fd, b);
  } catch {
    fs.closeSync(fd);
    return null;
  }
  let open = true;
  return { close() { if (open) { open = false; fs.closeSync(fd); } } };
}
