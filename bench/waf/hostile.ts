/**
 * bench/waf/hostile.ts: what one hostile request costs the WAF. Pathological form bodies (64 KiB of
 * one character that CRS patterns treat as a command separator, a tag start, a quote...) sent one
 * at a time to Portcullis + CRS and to nginx + ModSecurity v3 + the same CRS, in the same run:
 * the CPU time of each server's process tree per request (from /proc), and the wall time.
 *
 *   node bench/waf/hostile.ts [--kb 16] [--rounds 3] [--pl 1] [--timeout 60]
 *
 * Needs what bench/waf/run.ts needs (sh scripts/install-bench-tools.sh). Each body is sent
 * `rounds` times after a warm-up; the figures are per request. A request either engine blocks
 * (403) costs the same as one it passes: the anomaly score is read after every rule ran. A
 * request not answered within --timeout seconds is reported as such, and that server is
 * restarted before the next body (its worker may still be matching).
 */
import fs from 'node:fs';
import http from 'node:http';
import { parseArgs } from 'node:util';
import { CLOCK_TICKS, freePort, sampleTree, stop, stopAll, benchSession } from '../http/procs.ts';
import { MODSEC_MODULE, findTool, log, startModsecurity, startPortcullis, startUpstream, type Server, type WafSettings } from './common.ts';

const { values: argv } = parseArgs({ options: { kb: { type: 'string' }, rounds: { type: 'string' }, pl: { type: 'string' }, timeout: { type: 'string' } } });
const KB = Number(argv.kb ?? 16);
/** A request not answered within this many seconds is reported as such; its server is restarted for the next body. */
const TIMEOUT_S = Number(argv.timeout ?? 60);
const ROUNDS = Number(argv.rounds ?? 3);
const PL = Number(argv.pl ?? 1) as WafSettings['paranoia'];
if (!(KB > 0 && KB <= 120) || !(ROUNDS >= 1) || ![1, 2, 3, 4].includes(PL)) {
  console.error('usage: node bench/waf/hostile.ts [--kb 1..120] [--rounds N] [--pl 1..4] (120 KiB: under the bench ModSecurity config\'s SecRequestBodyNoFilesLimit 128 KiB)');
  process.exit(2);
}
const NGINX = findTool('nginx');
if (!NGINX || !fs.existsSync(MODSEC_MODULE)) {
  console.error('bench/waf/hostile: needs nginx and the ModSecurity module: sh scripts/install-bench-tools.sh');
  process.exit(2);
}

/** The bodies: `q=` and KB KiB of one unit, as application/x-www-form-urlencoded (nothing to decode). */
const UNITS: Array<[string, string]> = [
  ['benign words', 'lorem ipsum dolor '],
  ['|', '|'],
  ['<', '<'],
  ['newline', '\n'],
  ["'", "'"],
  [';', ';'],
  ['(', '('],
  ['a', 'a'],
];
const body = (unit: string) => 'q=' + unit.repeat(Math.ceil((KB * 1024) / unit.length)).slice(0, KB * 1024);

const session = benchSession('portcullis-waf-hostile-', 'the benchmark', log);

function post(port: number, b: string, agent: http.Agent): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/submit', agent, headers: { host: 'api.example.com', 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(b, 'latin1') } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.setTimeout(TIMEOUT_S * 1000, () => req.destroy(new TimeoutError()));
    req.on('error', reject);
    req.end(b, 'latin1');
  });
}

class TimeoutError extends Error {}

/** cpuMs/wallMs null: the request was not answered within TIMEOUT_S */
interface Row { unit: string; cpuMs: number | null; wallMs: number | null; status: number }

async function measure(launch: () => Promise<Server>): Promise<Row[]> {
  let srv = await launch();
  let agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const rows: Row[] = [];
  try {
    await post(srv.port, body('lorem ipsum dolor '), agent);
    for (const [name, unit] of UNITS) {
      const b = body(unit);
      try {
        await post(srv.port, b, agent); // warm-up (and JIT) on this shape
        const t0 = sampleTree(srv.s.pid).cpuTicks;
        const w0 = performance.now();
        let status = 0;
        for (let i = 0; i < ROUNDS; i++) status = await post(srv.port, b, agent);
        const wallMs = (performance.now() - w0) / ROUNDS;
        const cpuMs = ((sampleTree(srv.s.pid).cpuTicks - t0) * 1000) / CLOCK_TICKS / ROUNDS;
        rows.push({ unit: name, cpuMs, wallMs, status });
        log(`  ${srv.s.name}: ${JSON.stringify(name)}: ${cpuMs.toFixed(0)} ms CPU, ${wallMs.toFixed(0)} ms wall, status ${status}`);
      } catch (e) {
        if (!(e instanceof TimeoutError)) throw e;
        rows.push({ unit: name, cpuMs: null, wallMs: null, status: 0 });
        log(`  ${srv.s.name}: ${JSON.stringify(name)}: no answer within ${TIMEOUT_S} s; restarting it`);
        agent.destroy();
        await stop(srv.s, 5000);
        srv = await launch();
        agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      }
    }
  } finally { agent.destroy(); await stop(srv.s, 5000); }
  return rows;
}

async function main(): Promise<number> {
  const up = await startUpstream();
  const waf: WafSettings = { paranoia: PL, inboundThreshold: 5 };
  const results: Array<[string, Row[]]> = [];
  try {
    log(`bench/waf/hostile: ${KB} KiB form bodies, CRS PL${PL}, ${ROUNDS} requests each`);
    results.push(['Portcullis', await measure(async () => startPortcullis('portcullis', session.tmp, await freePort(), up.port, waf, []))]);
    results.push(['nginx + ModSecurity', await measure(async () => startModsecurity('nginx+modsecurity', NGINX!, session.tmp, await freePort(), up.port, waf))]);
  } finally { await up.close(); }
  const [pr, mr] = [results[0][1], results[1][1]];
  const out = [
    `# bench/waf/hostile: ${KB} KiB form bodies (q=<unit repeated>), CRS v4.28.0 PL${PL}, ${ROUNDS} requests each, one connection`,
    '',
    '| body | Portcullis CPU ms/req | wall ms | status | nginx + ModSecurity CPU ms/req | wall ms | status | Portcullis / ModSecurity CPU |',
    '|---|--:|--:|--:|--:|--:|--:|--:|',
    ...pr.map((r, i) => {
      const q = mr[i];
      const ms = (x: number | null) => (x === null ? `> ${TIMEOUT_S * 1000} (no answer)` : x.toFixed(0));
      const ratio = r.cpuMs === null || q.cpuMs === null ? (q.cpuMs === null && r.cpuMs !== null ? `< ${(r.cpuMs / (TIMEOUT_S * 1000)).toFixed(4)}` : 'n/a') : q.cpuMs > 0 ? (r.cpuMs / q.cpuMs).toFixed(2) : 'n/a';
      return `| ${JSON.stringify(r.unit).replaceAll("|", "\\|")} | ${ms(r.cpuMs)} | ${ms(r.wallMs)} | ${r.status || '-'} | ${ms(q.cpuMs)} | ${ms(q.wallMs)} | ${q.status || '-'} | ${ratio} |`;
    }),
    '',
    `CPU from /proc in 10 ms ticks over ${ROUNDS} requests; the Portcullis figure is its whole process tree, the nginx one its master and workers.`,
  ];
  console.log(out.join('\n'));
  return 0;
}

main().then(async (code) => { await stopAll(); session.cleanup(); process.exit(code); }, async (e) => {
  log(`bench/waf/hostile: ${(e as Error).stack ?? e}`);
  await stopAll().catch(() => {});
  session.cleanup();
  process.exit(1);
});
