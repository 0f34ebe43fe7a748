// Free loopback ports for listeners that a test or a benchmark configures and a child process
// binds later (used by test/helpers/cli.ts and bench/http/procs.ts).
import fs from 'node:fs';
import net from 'node:net';

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
    if (await bindable(port)) { handedOut.add(port); return port; }
  }
  throw new Error(`no free port in ${PORTS[0]}-${PORTS[1]} after 50 tries`);
}
