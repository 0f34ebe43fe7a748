// Helpers for integration tests: run the real CLI, start the real gateway as a child process.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = path.join(ROOT, 'src', 'cli', 'main.ts');

export function runCli(args: string[], opts: { cwd?: string } = {}): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: opts.cwd ?? ROOT, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export function tmpDir(prefix = 'pcs-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export { freePort } from './ports.ts';

export interface GatewayProc {
  proc: ChildProcess;
  adminPort: number;
  token: string;
  logs: string[];
  waitForLog(re: RegExp, timeoutMs?: number, from?: number): Promise<string>;
  admin(pathname: string, init?: RequestInit): Promise<Response>;
  stop(): Promise<number | null>;
}

/** Start `portcullis start` on a config, admin on an ephemeral loopback port. */
export async function startGateway(configPath: string, extra: string[] = []): Promise<GatewayProc> {
  // `--state-dir DIR` in extra reuses a state directory (a restart); otherwise a fresh one.
  const si = extra.indexOf('--state-dir');
  const stateDir = si >= 0 ? extra[si + 1] : tmpDir('pcs-state-');
  const proc = spawn(process.execPath, [CLI, 'start', '--config', configPath, '--admin', '127.0.0.1:0', ...(si >= 0 ? [] : ['--state-dir', stateDir]), ...extra], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: string[] = [];
  const waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  let buf = '';
  const onData = (d: Buffer) => {
    buf += d.toString('utf8');
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      logs.push(line);
      for (const w of [...waiters]) if (w.re.test(line)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(line); }
    }
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  // Looks at lines logged from `from` on (default: from now), so an old line never satisfies a new wait.
  const waitForLog = (re: RegExp, timeoutMs = 10_000, from = logs.length) => {
    const hit = logs.slice(from).find((l) => re.test(l));
    if (hit) return Promise.resolve(hit);
    return new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timed out waiting for log ${re}; logs:\n${logs.join('\n')}`)), timeoutMs);
      waiters.push({ re, resolve: (l) => { clearTimeout(t); resolve(l); } });
    });
  };
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const started = await Promise.race([waitForLog(/"msg":"portcullis started"/, 15_000, 0), exited.then((c) => { throw new Error(`gateway exited with ${c}:\n${logs.join('\n')}`); })]);
  const adminPort = Number(/"admin":"http:\/\/127\.0\.0\.1:(\d+)"/.exec(started)![1]);
  const token = fs.readFileSync(path.join(stateDir, 'admin-token'), 'utf8').trim();
  return {
    proc, adminPort, token, logs, waitForLog,
    admin: (p, init) => fetch(`http://127.0.0.1:${adminPort}${p}`, { ...init, headers: { authorization: `Bearer ${token}`, ...(init?.headers as Record<string, string> ?? {}) } }),
    stop: async () => { if (proc.exitCode === null) proc.kill('SIGTERM'); return exited; },
  };
}
