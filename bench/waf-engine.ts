/**
 * WAF engine CPU per benign request (no network): CRS v4.28.0 at PL1 and PL2, engine mode On.
 *   node bench/waf-engine.ts [--iterations 1000] [--rounds 5] [--crs dir] [--in-flight 64] [--evict 2048]
 *                            [--idle 0,10,100,500,3000]
 * Prints CPU µs per request (best of several rounds of the mean over a loop, after warm-up) for:
 *   GET with a query string, a 2 KB JSON POST, a form POST.
 * Then, at PL1, the same with --in-flight transactions alive between their request phases (1, 2)
 * and their response phases (3, 4), as in a gateway that waits for upstreams while other requests
 * arrive, and the heap each transaction keeps over that wait: what the young-generation GC has to
 * copy (measured: 124 KiB per GET kept that way made 64 in flight cost ~310 instead of ~190 µs).
 * Then, at PL1, the same requests with --evict KiB written between them (0: skip), the cold-cache
 * cost a gateway sees at one connection. Then the same with the thread asleep for --idle µs
 * between requests (nothing written): what an idle CPU alone costs the next request.
 * Last, at PL1, what the value verdict store (transaction.ts ValueVerdicts) is worth: the requests
 * with it switched off, and with it on but every request from a new client (its own User-Agent,
 * path and query values), so that only names and the other header values are known.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { loadWaf, type Waf } from '../src/waf/index.ts';
import { engineTuning } from '../src/waf/transaction.ts';
import { CRS_DIR } from '../scripts/shared.ts';

const args = process.argv.slice(2);
const opt = (n: string) => { const k = args.indexOf(n); return k >= 0 ? args[k + 1] : undefined; };
const iterations = Number(opt('--iterations') ?? 1000);
const rounds = Number(opt('--rounds') ?? 5);
const crsDir = opt('--crs') ?? CRS_DIR;
const inFlight = Number(opt('--in-flight') ?? 64);
const evictKiB = Number(opt('--evict') ?? 2048);
const idleUs = (opt('--idle') ?? '0,10,100,500,3000').split(',').filter((x) => x !== '').map(Number); // 0: timed one by one, no sleep (the baseline)

interface Req { name: string; method: string; uri: string; headers: Array<[string, string]>; body: string }

const browserHeaders: Array<[string, string]> = [
  ['Host', 'api.example.com'],
  ['User-Agent', 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36'],
  ['Accept', 'application/json, text/plain, */*'],
  ['Accept-Language', 'en-US,en;q=0.9'],
  ['Accept-Encoding', 'gzip, deflate, br'],
  ['Cookie', 'session=3f9a1c2e7b; theme=dark'],
];

// a ~2 KB JSON order document
const items: unknown[] = [];
let json = '';
for (let i = 1; json.length < 2000; i++) {
  items.push({ id: i, name: `Item number ${i}`, price: 9.99 + i, tags: ['blue', 'large'], inStock: i % 2 === 0, note: 'A plain product description.' });
  json = JSON.stringify({ order: { customer: 'Jane Doe', email: 'jane@example.com', items } });
}

const requests: Req[] = [
  { name: 'GET with query', method: 'GET', uri: '/api/v1/products?category=shoes&size=42&sort=price&page=2&q=running+shoes', headers: browserHeaders, body: '' },
  { name: `JSON POST (${json.length} B)`, method: 'POST', uri: '/api/v1/orders', headers: [...browserHeaders, ['Content-Type', 'application/json'], ['Content-Length', String(json.length)]], body: json },
  { name: 'form POST', method: 'POST', uri: '/login', headers: [...browserHeaders, ['Content-Type', 'application/x-www-form-urlencoded'], ['Content-Length', '62']], body: 'username=jane.doe&password=correct-horse-battery&remember=on&next=%2Fhome' },
];

type Tx = ReturnType<Waf['newTransaction']>;

function requestPhases(waf: Waf, r: Req): Tx {
  const tx = waf.newTransaction({ remoteAddr: '192.0.2.10', remotePort: 50000, serverAddr: '127.0.0.1', serverPort: 8080 });
  tx.processUri(r.method, r.uri, 'HTTP/1.1');
  for (const [k, v] of r.headers) tx.addRequestHeader(k, v);
  tx.processRequestHeaders();
  if (r.body) tx.appendRequestBody(r.body);
  tx.processRequestBody();
  return tx;
}

function responsePhases(tx: Tx): boolean {
  tx.addResponseHeader('Content-Type', 'application/json');
  tx.processResponseHeaders(200, 'HTTP/1.1');
  tx.processResponseBody();
  tx.processLogging();
  return tx.interruption !== null || tx.anomalyScore > 0;
}

function run(waf: Waf, r: Req): boolean {
  return responsePhases(requestPhases(waf, r));
}

/**
 * CPU (and wall) µs per call of `step`: after a warm-up, the cheapest of `rounds` rounds of
 * `iterations` calls (the minimum is the least disturbed by other load). With `between`, it runs
 * before each call, outside the measured time, and each call is timed on its own.
 */
function measure(step: () => void, between?: () => void): { cpu: number; wall: number } {
  for (let i = 0; i < Math.min(500, iterations); i++) step();
  let cpu = Infinity;
  let wall = Infinity;
  for (let round = 0; round < rounds; round++) {
    let us = 0;
    let ns = 0n;
    if (between) {
      for (let i = 0; i < iterations; i++) {
        between();
        const c0 = process.cpuUsage();
        const t0 = process.hrtime.bigint();
        step();
        ns += process.hrtime.bigint() - t0;
        const cu = process.cpuUsage(c0);
        us += cu.user + cu.system;
      }
    } else {
      const c0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < iterations; i++) step();
      ns = process.hrtime.bigint() - t0;
      const cu = process.cpuUsage(c0);
      us = cu.user + cu.system;
    }
    cpu = Math.min(cpu, us / iterations);
    wall = Math.min(wall, Number(ns) / 1e3 / iterations);
  }
  return { cpu, wall };
}

for (const pl of [1, 2]) {
  const waf = await loadWaf({ crsDir, paranoiaLevel: pl, engineMode: 'On' });
  for (const r of requests) {
    if (run(waf, r)) console.error(`warning: benign request '${r.name}' scored at PL${pl}`);
    const { cpu, wall } = measure(() => run(waf, r));
    console.log(`PL${pl}  ${r.name.padEnd(22)} ${cpu.toFixed(1).padStart(7)} µs CPU/request  (${wall.toFixed(1)} µs wall, best of ${rounds} x ${iterations})`);
  }
}

// ---- PL1 with transactions in flight between the request and the response phases
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
const waf1 = await loadWaf({ crsDir, paranoiaLevel: 1, engineMode: 'On' });
/** KiB of heap each transaction keeps between phase 2 and phase 3 (200 of them kept alive). */
function keptPerTransaction(r: Req): number {
  gc();
  const h0 = process.memoryUsage().heapUsed;
  const kept = Array.from({ length: 200 }, () => requestPhases(waf1, r));
  gc();
  const kib = (process.memoryUsage().heapUsed - h0) / kept.length / 1024;
  kept.length = 0;
  return kib;
}
for (const r of requests) {
  const ring: Array<Tx | undefined> = new Array(inFlight);
  let at = 0;
  const step = () => {
    const old = ring[at];
    if (old && responsePhases(old)) console.error(`warning: benign request '${r.name}' scored`);
    ring[at] = requestPhases(waf1, r);
    at = (at + 1) % inFlight;
  };
  const { cpu } = measure(step);
  ring.fill(undefined);
  const perTx = keptPerTransaction(r);
  console.log(`PL1  ${r.name.padEnd(22)} ${cpu.toFixed(1).padStart(7)} µs CPU/request with ${inFlight} in flight; ${perTx.toFixed(1)} KiB heap kept per transaction between phases 2 and 3`);
}

// ---- PL1 with the engine's data evicted between requests, as in a gateway at one connection
// (its own work, the other processes and the idle CPU empty the caches between two requests):
// `--evict` KiB of memory are written between requests, outside the measured time. The gap to the
// hot loop above is what the engine's working set costs when it is not in cache (measured: 2 MiB
// took the GET from ~216 to ~336 µs). ModSecurity's ~2 ms per request hides that loss; Portcullis's
// cost at one connection is mostly it (docs/waf-results.md section 6).
if (evictKiB > 0) {
  const junk = new Uint8Array(evictKiB * 1024);
  const evict = () => { for (let k = 0; k < junk.length; k += 64) junk[k]++; };
  for (const r of requests) {
    const { cpu } = measure(() => run(waf1, r), evict);
    console.log(`PL1  ${r.name.padEnd(22)} ${cpu.toFixed(1).padStart(7)} µs CPU/request with ${evictKiB} KiB written between requests (cold caches)`);
  }
}

// ---- PL1 with the thread asleep between requests (Atomics.wait: a futex, the CPU goes idle),
// nothing else written: at one connection a gateway sleeps twice per request (waiting for the
// upstream, then for the client's next request). Measured on the 2-vCPU VM of docs/waf-results.md
// section 13: 10 µs of sleep took the GET from ~80 to ~107 µs, 500 µs to ~127, 3 ms to ~268; a
// busy wait of the same length changed nothing. The caches and predictors the next request finds
// are colder after the CPU idled (in a VM, the host runs something else on it), whatever the
// process does.
const sleeper = new Int32Array(new SharedArrayBuffer(4));
for (const us of idleUs) {
  for (const r of requests) {
    const { cpu } = measure(() => run(waf1, r), () => Atomics.wait(sleeper, 0, 0, us / 1000));
    console.log(`PL1  ${r.name.padEnd(22)} ${cpu.toFixed(1).padStart(7)} µs CPU/request ${us === 0 ? 'timed one by one, no sleep between requests' : `with the thread asleep ${us} µs between requests`}`);
  }
}

// ---- PL1: the value verdict store off, and on with a new client every request
for (const r of requests) {
  engineTuning.valueVerdicts = false;
  const { cpu } = measure(() => run(waf1, r));
  engineTuning.valueVerdicts = true;
  console.log(`PL1  ${r.name.padEnd(22)} ${cpu.toFixed(1).padStart(7)} µs CPU/request with the value verdict store off`);
}
let client = 0;
for (const r of requests) {
  const fresh = (): Req => {
    const n = ++client;
    const uri = r.uri.replace(/\?.*$|$/, (q) => `${q === '' ? `/${n}` : q.replace(/=([^&]*)/g, `=$1${n}`)}`);
    return { ...r, uri, headers: r.headers.map(([k, v]): [string, string] => [k, k === 'User-Agent' ? `${v} client/${n}` : v]) };
  };
  // made beforehand (as many as measure() runs), so that making them is not measured
  const pool = Array.from({ length: Math.min(500, iterations) + rounds * iterations }, fresh);
  let at = 0;
  const { cpu } = measure(() => run(waf1, pool[at++]));
  console.log(`PL1  ${r.name.padEnd(22)} ${cpu.toFixed(1).padStart(7)} µs CPU/request, every request from a new client (own User-Agent, path or query values)`);
}
