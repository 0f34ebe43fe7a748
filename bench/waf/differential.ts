/**
 * Differential check of the WAF against ModSecurity on traffic that is not the CRS test corpus:
 * the same requests, byte for byte, to Portcullis (WafPolicy, CRS v4.28.0) and to nginx +
 * ModSecurity v3 loading the same CRS directory, same paranoia level, inbound threshold 5, Block;
 * both in front of one upstream that answers 200 to everything.
 *
 *   node bench/waf/differential.ts [--pl 1] [--corpus FILE.jsonl] [--only ID,...] [--rules]
 *                                  [--json FILE] [--write-corpus FILE]
 *
 * The corpus is bench/waf/differential-corpus.ts (about 267 benign API requests and 182 attacks
 * written for this check), or any JSONL file in waf-eval.mjs's format (--corpus; `raw_b64`,
 * `body_b64`, `version`, `autocomplete` and `Name#2` duplicate headers work as there).
 * --write-corpus FILE writes the built-in corpus as JSONL (for waf-eval.mjs) and exits.
 *
 * Each request is sent raw over TCP on its own connection, one at a time per server (both servers
 * at once). The verdict compared is whether the request reached the upstream (its 200) or was
 * refused (any other answer, or none): a WAF block is a 403, but ModSecurity refuses a body it
 * cannot parse with 400 (modsecurity.conf-recommended's rule 200002), and either server's HTTP
 * layer may refuse a request with 400 before any rule runs. The table also counts waf-eval's
 * "blocked" (403 or a connection closed before a status line), for comparison with
 * bench/waf/eval.ts. Matched rules: Portcullis logs a "security event" JSON line per matched rule
 * (joined on the x-request-id it answers with); ModSecurity writes one JSON audit log line per
 * transaction (SecAuditEngine On), joined on the client port of the request's connection. Phase 5
 * rules (CRS 980xxx, reporting only) are left out: Portcullis does not log phase 5.
 *
 * Prints the verdict agreement, every request whose verdict differs (id, category, both answers,
 * the rule ids only one side matched and those both matched), the requests with the same verdict
 * but different answers (e.g. a 403 from one and a 400 from the other), and with --rules the
 * requests with the same verdict but different rule ids. Exit code: 0 when every verdict agrees,
 * 1 when one differs or a run failed, 2 on bad usage or a missing tool. Every process started is
 * stopped and the temporary directory removed on exit.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { parseArgs } from 'node:util';
import { freePort, stop, stopAll, benchSession } from '../http/procs.ts';
import { BenchError, CRS_DIR, MODSEC_MODULE, REPO, findTool, log, startModsecurity, sleep, startPortcullis, startUpstream, type Server, type WafSettings } from './common.ts';
import { differentialCorpus, type DiffRecord } from './differential-corpus.ts';

const { values: argv } = parseArgs({
  options: {
    pl: { type: 'string' }, corpus: { type: 'string' }, only: { type: 'string' }, rules: { type: 'boolean' },
    json: { type: 'string' }, 'write-corpus': { type: 'string' }, help: { type: 'boolean', short: 'h' },
  },
  strict: true,
});
const USAGE = 'usage: node bench/waf/differential.ts [--pl 1] [--corpus FILE.jsonl] [--only ID,...] [--rules] [--json FILE] [--write-corpus FILE]';
if (argv.help) { console.log(USAGE); process.exit(0); }

type Rec = DiffRecord & { version?: string; raw_b64?: string };
let corpus: Rec[];
if (argv.corpus) {
  corpus = fs.readFileSync(argv.corpus, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as Rec)
    .filter((r) => (r as { phase?: string }).phase !== 'response');
} else corpus = differentialCorpus();
if (argv['write-corpus']) {
  fs.writeFileSync(argv['write-corpus'], corpus.map((r) => JSON.stringify(r)).join('\n') + '\n');
  log(`wrote ${corpus.length} records to ${argv['write-corpus']}`);
  process.exit(0);
}
if (argv.only) {
  const ids = new Set(argv.only.split(','));
  corpus = corpus.filter((r) => ids.has(r.id));
  if (!corpus.length) { console.error(`--only: no record has any of the ids ${argv.only}`); process.exit(2); }
}
const PL = Number(argv.pl ?? '1');
if (![1, 2, 3, 4].includes(PL)) { console.error(`--pl: 1..4, got "${argv.pl}"`); process.exit(2); }
const WAF: WafSettings = { paranoia: PL as WafSettings['paranoia'], inboundThreshold: 5 };
const NGINX = findTool('nginx');
if (!NGINX || !fs.existsSync(MODSEC_MODULE)) {
  console.error(`bench/waf/differential: needs nginx and ${MODSEC_MODULE}; install them (Debian, as root) with:  sh scripts/install-bench-tools.sh`);
  process.exit(2);
}
if (!fs.existsSync(path.join(CRS_DIR, 'rules'))) { console.error(`bench/waf/differential: no CRS at ${CRS_DIR}`); process.exit(2); }

const session = benchSession('portcullis-waf-diff-', 'the check', log);
const TMP = session.tmp;
const cleanupSync = session.cleanup;

// ---------------------------------------------------------------- sending
/** The request's bytes, built as waf-eval.mjs builds them (its buildRequest, without --host-header). */
function requestBytes(r: Rec): Buffer {
  if (r.raw_b64) return Buffer.from(r.raw_b64, 'base64');
  const body = r.body_b64 ? Buffer.from(r.body_b64, 'base64') : Buffer.from(r.body ?? '', 'utf8');
  const entries = Array.isArray(r.headers) ? (r.headers as Array<[string, string]>) : Object.entries(r.headers ?? {});
  let lines = '';
  let framed = false;
  for (const [k0, v] of entries) {
    const k = String(k0).replace(/#\d+$/, ''); // "Name#2": a repeated header
    if (/^(content-length|transfer-encoding)$/i.test(k)) framed = true;
    lines += `${k}: ${v ?? ''}\r\n`;
  }
  if (r.autocomplete !== false && !framed && body.length > 0) lines += `Content-Length: ${body.length}\r\n`;
  return Buffer.concat([Buffer.from(`${r.method ?? 'GET'} ${r.uri ?? '/'} ${r.version ?? 'HTTP/1.1'}\r\n${lines}\r\n`, 'utf8'), body]);
}

interface Answer { status: number; outcome: 'status' | 'reset' | 'closed' | 'timeout' | 'error' | 'garbled'; headers: Record<string, string>; localPort: number }

/** One request on its own connection; resolves with the status line and headers of the answer. */
function send(port: number, payload: Buffer, timeoutMs = 10_000): Promise<Answer> {
  return new Promise((resolve) => {
    let buf = Buffer.alloc(0);
    let done = false;
    const sock = net.createConnection({ host: '127.0.0.1', port });
    const finish = (a: Omit<Answer, 'localPort'>) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.removeAllListeners('data');
      sock.on('error', () => {});
      const localPort = sock.localPort ?? 0;
      sock.destroy();
      resolve({ ...a, localPort });
    };
    const timer = setTimeout(() => finish({ status: 0, outcome: 'timeout', headers: {} }), timeoutMs);
    sock.on('connect', () => sock.write(payload));
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) { if (buf.length > 65536) finish({ status: 0, outcome: 'garbled', headers: {} }); return; }
        const [line, ...rest] = buf.subarray(0, end).toString('latin1').split('\r\n');
        const m = /^HTTP\/\d(?:\.\d)? (\d{3})/.exec(line);
        if (!m) { finish({ status: 0, outcome: 'garbled', headers: {} }); return; }
        const status = Number(m[1]);
        if (status >= 100 && status < 200) { buf = buf.subarray(end + 4); continue; } // 100 Continue
        const headers: Record<string, string> = {};
        for (const h of rest) { const c = h.indexOf(':'); if (c > 0) headers[h.slice(0, c).trim().toLowerCase()] = h.slice(c + 1).trim(); }
        finish({ status, outcome: 'status', headers });
        return;
      }
    });
    sock.on('error', (e: NodeJS.ErrnoException) => finish({ status: 0, outcome: e.code === 'ECONNRESET' || e.code === 'EPIPE' ? 'reset' : 'error', headers: {} }));
    sock.on('close', () => finish({ status: 0, outcome: buf.length ? 'garbled' : 'closed', headers: {} }));
  });
}

/** the request did not reach the upstream, which answers 200 to everything */
const refused = (a: Answer) => !(a.outcome === 'status' && a.status === 200);
/** waf-eval.mjs's "blocked" */
const blocked = (a: Answer) => (a.outcome === 'status' && a.status === 403) || a.outcome === 'reset' || a.outcome === 'closed';
const shown = (a: Answer) => (a.outcome === 'status' ? String(a.status) : a.outcome);
/** CRS 980xxx: phase 5 reporting, which ModSecurity logs and Portcullis does not */
const compared = (ids: number[]) => [...new Set(ids)].filter((id) => Math.floor(id / 1000) !== 980).sort((a, b) => a - b);

// ---------------------------------------------------------------- the two servers' rule logs
/** Portcullis: requestId -> rule ids, from the "security event" lines on its stdout. */
function portcullisEvents(srv: Server): Map<string, number[]> {
  const byId = new Map<string, number[]>();
  let partial = '';
  srv.s.child.stdout!.on('data', (d: Buffer) => {
    partial += d.toString('utf8');
    let nl: number;
    while ((nl = partial.indexOf('\n')) >= 0) {
      const line = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      if (!line.includes('"security event"')) continue;
      try {
        const e = JSON.parse(line) as { requestId?: string; ruleId?: number };
        if (e.requestId && typeof e.ruleId === 'number') byId.set(e.requestId, [...(byId.get(e.requestId) ?? []), e.ruleId]);
      } catch { /* not a JSON line */ }
    }
  });
  return byId;
}

/** ModSecurity's JSON audit log, read as it grows: one entry per transaction. */
class AuditLog {
  private offset = 0;
  private partial = '';
  private readonly decoder = new StringDecoder('utf8');
  private readonly entries: Array<{ port: number; ids: number[] }> = [];
  private readonly file: string;
  constructor(file: string) { this.file = file; }
  private read(): void {
    let fd: number;
    try { fd = fs.openSync(this.file, 'r'); } catch { return; } // not written yet
    try {
      const size = fs.fstatSync(fd).size;
      if (size <= this.offset) return;
      const b = Buffer.alloc(size - this.offset);
      fs.readSync(fd, b, 0, b.length, this.offset);
      this.offset = size;
      this.partial += this.decoder.write(b);
    } finally { fs.closeSync(fd); }
    let nl: number;
    while ((nl = this.partial.indexOf('\n')) >= 0) {
      const line = this.partial.slice(0, nl);
      this.partial = this.partial.slice(nl + 1);
      if (!line.trim()) continue;
      // by pattern, not JSON.parse: a value with bytes that are not UTF-8 can make ModSecurity
      // 3.0.9's JSON invalid
      const port = Number(/"client_port":(\d+)/.exec(line)?.[1] ?? 0);
      const ids = [...line.matchAll(/"ruleId":"(\d+)"/g)].map((m) => Number(m[1]));
      this.entries.push({ port, ids });
    }
  }
  /**
   * The rule ids of the transaction of the connection from this client port (one request per
   * connection; the request line would not do: requests can share one, and nginx may log an
   * absolute-form target as a path); waits up to `ms` for it.
   */
  async take(clientPort: number, ms: number): Promise<number[] | null> {
    const t0 = Date.now();
    for (;;) {
      this.read();
      const i = this.entries.findIndex((e) => e.port === clientPort);
      if (i >= 0) return this.entries.splice(i, 1)[0].ids;
      if (Date.now() - t0 > ms) return null;
      await sleep(5);
    }
  }
}

// ---------------------------------------------------------------- the run
interface Row {
  rec: Rec;
  pc: Answer; ms: Answer;
  pcRules: number[]; msRules: number[] | null;
}

async function runOne(srv: Server, onEach: (r: Rec, a: Answer) => Promise<void>): Promise<void> {
  for (const r of corpus) await onEach(r, await send(srv.port, requestBytes(r)));
}

function table(rows: string[][]): string {
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ')).join('\n');
}

async function main(): Promise<number> {
  const t0 = Date.now();
  log(`bench/waf/differential: ${corpus.length} requests, CRS ${CRS_DIR}, PL${PL}, inbound threshold 5, Block; node ${process.version}`);
  const up = await startUpstream();
  const pcPort = await freePort();
  const pc = await startPortcullis(`portcullis PL${PL}`, TMP, pcPort, up.port, WAF, [], 'ok');
  const events = portcullisEvents(pc);
  log(`portcullis: serving on 127.0.0.1:${pcPort} (${(pc.startupMs / 1000).toFixed(1)} s)`);
  let auditFile = '';
  const msPort = await freePort();
  const ms = await startModsecurity(`nginx+modsecurity PL${PL}`, NGINX!, TMP, msPort, up.port, WAF, {
    // data/ is writable by the unprivileged workers
    auditLog: (dir) => (auditFile = path.join(dir, 'data', 'audit.log')),
    body: 'ok',
  });
  const audit = new AuditLog(auditFile);
  log(`nginx+modsecurity: serving on 127.0.0.1:${msPort} (${(ms.startupMs / 1000).toFixed(1)} s)`);

  const pcAnswers = new Map<string, Answer>();
  const msAnswers = new Map<string, { a: Answer; ids: number[] | null }>();
  await Promise.all([
    runOne(pc, async (r, a) => { pcAnswers.set(r.id, a); }),
    // an answer nginx gave without ModSecurity (e.g. its own 400) has no audit entry: wait a little only
    runOne(ms, async (r, a) => { msAnswers.set(r.id, { a, ids: await audit.take(a.localPort, a.outcome === 'status' && (a.status === 200 || a.status === 403) ? 2000 : 300) }); }),
  ]);
  await sleep(300); // the last security events are still in the pipe
  for (const s of [pc, ms]) {
    if (s.s.child.exitCode !== null || s.s.child.signalCode !== null) throw new BenchError('PCS_ERR_BENCH_EXITED', `${s.s.name} exited during the check`);
  }
  await stop(pc.s, 5000);
  await stop(ms.s, 5000);
  const upstreamRequests = up.requests();
  await up.close();

  const rows: Row[] = corpus.map((rec) => {
    const p = pcAnswers.get(rec.id)!;
    const m = msAnswers.get(rec.id)!;
    const rid = p.headers['x-request-id'];
    return { rec, pc: p, ms: m.a, pcRules: compared(rid ? events.get(rid) ?? [] : []), msRules: m.ids && compared(m.ids) };
  });

  let git = 'unknown';
  try { git = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO, encoding: 'utf8' }).trim(); } catch { /* not a checkout */ }
  const out: string[] = [];
  const benign = rows.filter((r) => r.rec.expect === 'benign'), attack = rows.filter((r) => r.rec.expect === 'attack');
  out.push(`\nWAF differential check, ${new Date().toISOString()}, git ${git}: ${argv.corpus ? path.basename(argv.corpus) : 'bench/waf/differential-corpus.ts'}, ${rows.length} requests (${benign.length} benign, ${attack.length} attacks), CRS v4.28.0 PL${PL}, inbound threshold 5, Block; ${((Date.now() - t0) / 1000).toFixed(0)} s; the upstream got ${upstreamRequests} requests`);
  const hist = (rs: Row[], side: 'pc' | 'ms') => {
    const h = new Map<string, number>();
    for (const r of rs) h.set(shown(r[side]), (h.get(shown(r[side])) ?? 0) + 1);
    return [...h.entries()].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k}:${v}`).join(' ');
  };
  const count = (rs: Row[], side: 'pc' | 'ms', f: (a: Answer) => boolean) => `${rs.filter((r) => f(r[side])).length}/${rs.length}`;
  out.push(table([
    ['server', 'attacks refused', 'benign refused', 'attacks blocked (waf-eval)', 'benign blocked (waf-eval)', 'answers to attacks', 'answers to benign'],
    ...(['pc', 'ms'] as const).map((side) => [side === 'pc' ? 'portcullis' : 'nginx+modsecurity',
      count(attack, side, refused), count(benign, side, refused), count(attack, side, blocked), count(benign, side, blocked), hist(attack, side), hist(benign, side)]),
  ]));
  const differ = rows.filter((r) => refused(r.pc) !== refused(r.ms));
  const agree = rows.length - differ.length;
  out.push(`\nverdict agreement: ${(100 * agree / rows.length).toFixed(1)}% (${agree}/${rows.length})`);
  const noAudit = rows.filter((r) => r.msRules === null);
  if (noAudit.length) out.push(`no ModSecurity audit entry (nginx answered without it): ${noAudit.map((r) => `${r.rec.id} (${shown(r.ms)})`).join(', ')}`);
  const ruleText = (r: Row) => {
    const pcs = new Set(r.pcRules), mss = new Set(r.msRules ?? []);
    const only = (a: number[], b: Set<number>) => a.filter((x) => !b.has(x)).join(',') || '-';
    return `only portcullis [${only(r.pcRules, mss)}]  only modsecurity [${r.msRules ? only(r.msRules, pcs) : 'no audit entry'}]  both [${r.pcRules.filter((x) => mss.has(x)).join(',') || '-'}]`;
  };
  out.push(`\ndisagreements (${differ.length}):`);
  for (const r of differ) out.push(`  ${r.rec.id}  ${r.rec.category}  ${r.rec.method} ${r.rec.uri.slice(0, 90)}\n    portcullis ${shown(r.pc)}  modsecurity ${shown(r.ms)}  ${ruleText(r)}`);
  const sameVerdict = rows.filter((r) => refused(r.pc) === refused(r.ms));
  const statusDiff = sameVerdict.filter((r) => shown(r.pc) !== shown(r.ms));
  out.push(`\nsame verdict, different answer (${statusDiff.length}):`);
  for (const r of statusDiff) out.push(`  ${r.rec.id}  ${r.rec.category}  portcullis ${shown(r.pc)}  modsecurity ${shown(r.ms)}  ${ruleText(r)}`);
  const ruleDiff = sameVerdict.filter((r) => r.msRules !== null && r.pcRules.join(',') !== r.msRules.join(','));
  out.push(`\nsame verdict, different rule ids: ${ruleDiff.length}${argv.rules ? '' : ' (--rules lists them)'}`);
  if (argv.rules) for (const r of ruleDiff) out.push(`  ${r.rec.id}  ${r.rec.category}  ${shown(r.pc)}/${shown(r.ms)}  ${ruleText(r)}`);
  console.log(out.join('\n'));
  if (argv.json) {
    fs.writeFileSync(argv.json, JSON.stringify(rows.map((r) => ({
      id: r.rec.id, category: r.rec.category, expect: r.rec.expect,
      portcullis: { answer: shown(r.pc), refused: refused(r.pc), rules: r.pcRules },
      modsecurity: { answer: shown(r.ms), refused: refused(r.ms), rules: r.msRules },
    })), null, 1));
  }
  return differ.length ? 1 : 0;
}

main().then(async (code) => { await stopAll(); cleanupSync(); process.exit(code); }, async (e) => {
  log(`bench/waf/differential: ${e instanceof BenchError ? `${e.code}: ${e.message}` : (e as Error).stack ?? e}`);
  await stopAll().catch(() => {});
  cleanupSync();
  process.exit(1);
});
