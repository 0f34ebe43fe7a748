// Free loopback ports for listeners that a test or a benchmark configures and a child process
// binds later (used by test/helpers/cli.ts and bench/http/procs.ts).
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/**
 * The kernel's ephemeral port range (ip_local_port_range): the ports `listen(0)` hands out, and the
 * source ports of every outgoing connection.
 */
function ephemeralRange(): [number, number] {
  try {
    const [lo, hi] = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (lo > 0 && hi >= lo) return [lo, hi];
  } catch { /* not Linux */ }
  return [32768, 60999];
}

/** Free loopback ports for the listeners a test configures, outside the ephemeral range (see freePort). */
const PORTS: [number, number] = (() => {
  const [lo, hi] = ephemeralRange();
  return lo > 12_000 ? [lo - 10_000, lo - 1] : [hi + 1, Math.min(65_535, hi + 10_000)];
})();

/** Every port freePort returned in this process. */
const handedOut = new Set<number>();

/**
 * Ports handed out by every process on this machine: one file per port, made with O_EXCL, so two
 * test files running at once (node --test --test-concurrency) never get the same port between one's
 * draw and its gateway's bind. A file older than RESERVATION_MS is from a process that died without
 * cleaning up and is taken over. Each process removes its own files when it exits.
 */
export const RESERVATIONS = path.join(os.tmpdir(), `portcullis-ports-${process.getuid?.() ?? 'user'}`);
const RESERVATION_MS = 10 * 60_000;
const reserved: string[] = [];
let started = false;

function reserve(port: number): boolean {
  if (!started) {
    // once per process: the directory, and the clean-up of this process's reservations at exit
    started = true;
    fs.mkdirSync(RESERVATIONS, { recursive: true, mode: 0o700 });
    process.once('exit', () => { for (const f of reserved) { try { fs.unlinkSync(f); } catch { /* gone */ } } });
  }
  const file = path.join(RESERVATIONS, String(port));
  try {
    fs.closeSync(fs.openSync(file, 'wx'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    try {
      if (Date.now() - fs.statSync(file).mtimeMs < RESERVATION_MS) return false;
      fs.utimesSync(file, new Date(), new Date()); // a stale reservation: taken over
    } catch { return false; }
  }
  reserved.push(file);
  return true;
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/**
 * A loopback port that was free a moment ago, for a listener the gateway binds later. Not from
 * `listen(0)`: that is an ephemeral port, the range outgoing connections take their source ports
 * from, and with two test files running at once the other one's client connections took such a
 * port between this check and the gateway's bind (seen in CI: "address already in use"). A random
 * port below the ephemeral range is never a connection's source port.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = PORTS[0] + Math.floor(Math.random() * (PORTS[1] - PORTS[0] + 1));
    // never the same port twice in a process: a port handed out is free until its listener binds
    // it, so a second draw could return it again (24 draws of ~10,000 ports, as the conformance
    // harness makes, repeat one in ~3 % of runs: two Gateways on one port, seen in CI)
    if (handedOut.has(port)) continue;
    // and never a port another process holds (see RESERVATIONS)
    if (!reserve(port)) continue;
    if (await bindable(port)) { handedOut.add(port); return port; }
    handedOut.add(port); // bound by something else: not drawn again (its reservation stays until exit)
  }
  throw new Error(`no free port in ${PORTS[0]}-${PORTS[1]} after 50 tries`);
}
