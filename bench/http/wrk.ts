/** Running wrk and reading its text report (wrk 4.x, with --latency). */
import { start, stop } from './procs.ts';

export interface WrkResult {
  requests: number;
  seconds: number;
  rps: number;
  /** milliseconds */
  p50: number;
  p75: number;
  p90: number;
  p99: number;
  /** responses whose status was not 2xx or 3xx */
  non2xx3xx: number;
  socketErrors: { connect: number; read: number; write: number; timeout: number };
  raw: string;
}

export class WrkParseError extends Error {
  readonly code = 'PCS_ERR_BENCH_WRK_OUTPUT';
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** "135.00us" | "2.47ms" | "1.01s" -> milliseconds */
export function durationMs(s: string): number {
  const m = /^([\d.]+)(us|ms|s|m|h)$/.exec(s.trim());
  if (!m) throw new WrkParseError(`not a wrk duration: "${s}"`);
  return Number(m[1]) * UNIT_MS[m[2]];
}

export function parseWrk(text: string): WrkResult {
  const rps = /^Requests\/sec:\s+([\d.]+)/m.exec(text);
  const total = /^\s*(\d+) requests in ([\d.]+\w+),/m.exec(text);
  if (!rps || !total) throw new WrkParseError(`wrk output has no "Requests/sec" / "requests in" line:\n${text}`);
  const pct = (p: number) => {
    const m = new RegExp(`^\\s*${p}%\\s+([\\d.]+\\w+)\\s*$`, 'm').exec(text);
    if (!m) throw new WrkParseError(`wrk output has no ${p}% latency line (was --latency given?):\n${text}`);
    return durationMs(m[1]);
  };
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const non = /Non-2xx or 3xx responses: (\d+)/.exec(text);
  return {
    requests: Number(total[1]),
    seconds: durationMs(total[2]) / 1000,
    rps: Number(rps[1]),
    p50: pct(50), p75: pct(75), p90: pct(90), p99: pct(99),
    non2xx3xx: non ? Number(non[1]) : 0,
    socketErrors: sock
      ? { connect: Number(sock[1]), read: Number(sock[2]), write: Number(sock[3]), timeout: Number(sock[4]) }
      : { connect: 0, read: 0, write: 0, timeout: 0 },
    raw: text,
  };
}

export interface WrkOptions {
  url: string;
  threads: number;
  connections: number;
  seconds: number;
  headers?: string[];
  /** path of the wrk binary (default: wrk on PATH) */
  bin?: string;
}

/**
 * Runs wrk and parses its report; wrk is killed if it overruns its duration by 20 s. wrk runs in its
 * own process group, recorded by procs.ts, so that the benchmark's cleanup stops it too.
 */
export async function runWrk(o: WrkOptions, onSpawn?: (pid: number) => void): Promise<WrkResult> {
  const args = [`-t${o.threads}`, `-c${o.connections}`, `-d${o.seconds}s`, '--latency', '--timeout', '5s'];
  for (const h of o.headers ?? []) args.push('-H', h);
  args.push(o.url);
  const s = start('wrk', o.bin ?? 'wrk', args);
  onSpawn?.(s.pid);
  const timer = setTimeout(() => { void stop(s, 1000); }, (o.seconds + 20) * 1000);
  const code = await s.exited;
  clearTimeout(timer);
  if (code !== 0) throw new Error(`wrk ${args.join(' ')} failed (exit ${code}):\n${s.output()}`);
  return parseWrk(s.output());
}
