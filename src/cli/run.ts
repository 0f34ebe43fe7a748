// Wires a gateway process together: logger, metrics, the Gateway, the admin API, signals.
//
// With --workers N (or auto = one per core) the process becomes a primary that forks N workers.
// Each worker runs the data plane on the same ports (SO_REUSEPORT: the kernel spreads connections,
// no hand-off through the primary). The primary owns what must be one: the admin API, the config
// watcher and SIGHUP; it validates a new config first and tells workers to load it only when it is
// good. A worker that dies is restarted (with a growing delay if it keeps dying).
import cluster, { type Worker } from 'node:cluster';
import { rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AggregatorRegistry } from 'prom-client';
import { assertLoopback, defaultStateDir, ensureSecretFile, startAdmin } from '../admin/server.ts';
import { Metrics } from '../observability/metrics.ts';
import { createLogger } from '../observability/logger.ts';
import { Gateway, ReloadError, type ReloadRecord } from '../runtime/gateway.ts';
import { DEFAULT_TICKET_KEY_ROTATION_MS, TicketKeyRotation, checkTicketKeys } from '../runtime/ticket-keys.ts';

export interface RunOptions {
  configPath: string;
  admin?: string;
  stateDir?: string;
  accessLog?: boolean;
  allowPartial?: boolean;
  logLevel?: string;
  demo?: boolean;
  /** 1 (default): one process. N > 1 or 'auto': a primary and N workers. */
  workers?: number | 'auto';
  /** TLS session ticket keys rotate this often (ms); default 12 h (src/runtime/ticket-keys.ts). */
  ticketKeyRotationMs?: number;
}

export function parseHostPort(s: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(s);
  if (!m || Number(m[2]) > 65535) throw Object.assign(new Error(`--admin must be HOST:PORT, got "${s}"`), { code: 'PCS_ERR_USAGE' });
  return { host: m[1], port: Number(m[2]) };
}

export function parseWorkers(v: string | undefined): number | 'auto' {
  if (v === undefined) return 1;
  if (v === 'auto') return 'auto';
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 256) throw Object.assign(new Error(`--workers must be a number from 1 to 256 or "auto", got "${v}"`), { code: 'PCS_ERR_USAGE' });
  return n;
}

type WorkerMsg = { type: 'reloaded'; record: ReloadRecord } | { type: 'ready' } | { type: 'ticket-keys?' };
// Ticket keys travel base64-encoded over the cluster IPC channel (a pipe between the primary and
// its own workers), never through files or the environment.
type PrimaryMsg = { type: 'reload'; trigger: string } | { type: 'shutdown' } | { type: 'ticket-keys'; keys: string };

export async function startGatewayProcess(o: RunOptions): Promise<Gateway> {
  const workers = o.workers === 'auto' ? os.availableParallelism() : (o.workers ?? 1);
  if (cluster.isWorker) return runWorker(o);
  if (workers > 1) return runPrimary(o, workers);
  return runSingle(o);
}

async function runSingle(o: RunOptions): Promise<Gateway> {
  const logger = createLogger({ level: o.logLevel });
  const metrics = new Metrics();
  // Check everything that can be checked before any socket is opened.
  const admin = parseHostPort(o.admin ?? '127.0.0.1:9901');
  assertLoopback(admin.host);
  const tickets = ticketKeyRotation(o);
  const gateway = new Gateway({ configPath: path.resolve(o.configPath), logger, metrics, accessLog: o.accessLog, allowPartial: o.allowPartial, sessionKey: sessionKey(o), ticketKeys: tickets.current, stateDir: stateDir(o) });
  await gateway.start();
  tickets.start((keys) => { gateway.setTicketKeys(keys); logger.info({ periodMs: tickets.periodMs }, 'TLS session ticket keys rotated'); });
  const adminServer = await startAdminOrStop(o, admin, gateway, metrics, logger);
  announce(o, gateway, adminServer, logger, 1);
  process.on('SIGHUP', () => { void gateway.reload('SIGHUP'); });
  onShutdown(logger, async () => {
    tickets.stop();
    adminServer.close();
    await gateway.stop(drainMs());
  });
  return gateway;
}

async function runWorker(o: RunOptions): Promise<Gateway> {
  const logger = createLogger({ level: o.logLevel }).child({ worker: cluster.worker!.id });
  const metrics = new Metrics();
  // Answer the primary's metric requests (prom-client adds its worker listener on construction).
  AggregatorRegistry.setRegistries([metrics.registry]);
  new AggregatorRegistry();
  // The primary watches the config and validates it first; a worker only reloads when told.
  const keys = await ticketKeysFromPrimary();
  const gateway = new Gateway({ configPath: path.resolve(o.configPath), logger, metrics, accessLog: o.accessLog, allowPartial: o.allowPartial, watch: false, reusePort: true, sessionKey: sessionKey(o), ticketKeys: keys, stateDir: stateDir(o), certificates: 'load' });
  // Listen to the primary before starting: a message with no listener is lost, and a key rotation
  // or a reload can arrive while the first config loads. A reload then waits for the start.
  let started = false;
  let pendingReload: string | undefined;
  const reload = (trigger: string) => void gateway.reload(trigger).then((record) => process.send?.({ type: 'reloaded', record } satisfies WorkerMsg));
  process.on('message', (m: PrimaryMsg) => {
    if (m.type === 'ticket-keys') gateway.setTicketKeys(checkTicketKeys(Buffer.from(m.keys, 'base64')));
    else if (m.type === 'reload') { if (started) reload(m.trigger); else pendingReload = m.trigger; }
    else if (m.type === 'shutdown') void gateway.stop(drainMs()).finally(() => { logger.flush(); process.exit(0); });
  });
  await gateway.start();
  started = true;
  if (pendingReload) reload(pendingReload);
  process.on('SIGHUP', () => {}); // the primary forwards reloads; ignore a process-group SIGHUP
  process.on('SIGINT', () => {}); // Ctrl-C reaches the whole group: let the primary drive the drain
  process.on('SIGTERM', () => { void gateway.stop(drainMs()).finally(() => process.exit(0)); });
  process.send?.({ type: 'ready' } satisfies WorkerMsg);
  return gateway;
}

async function runPrimary(o: RunOptions, count: number): Promise<Gateway> {
  const logger = createLogger({ level: o.logLevel }).child({ role: 'primary' });
  const metrics = new Metrics();
  const admin = parseHostPort(o.admin ?? '127.0.0.1:9901');
  assertLoopback(admin.host);
  // The primary builds every config too (without sockets): the admin API shows it, and a config
  // it refuses is never sent to the workers.
  const gateway = new Gateway({ configPath: path.resolve(o.configPath), logger, metrics, allowPartial: o.allowPartial, listen: false, sessionKey: sessionKey(o), stateDir: stateDir(o) });
  await gateway.start();
  let stopping = false;
  // The primary owns the TLS session ticket keys: a worker asks for them before it listens, and
  // gets every rotation, so all workers seal and open the same tickets.
  const tickets = ticketKeyRotation(o);
  const ticketMsg = (): PrimaryMsg => ({ type: 'ticket-keys', keys: tickets.current.toString('base64') });
  cluster.on('message', (w, m: WorkerMsg) => { if (m?.type === 'ticket-keys?') w.send(ticketMsg()); });
  tickets.start(() => {
    for (const w of Object.values(cluster.workers ?? {})) w?.send(ticketMsg());
    logger.info({ periodMs: tickets.periodMs }, 'TLS session ticket keys rotated');
  });
  const restarts: number[] = [];
  const fork = (): Promise<Worker> => new Promise((resolve, reject) => {
    const w = cluster.fork();
    const onMsg = (m: WorkerMsg) => { if (m.type === 'ready') { w.off('message', onMsg); resolve(w); } };
    w.on('message', onMsg);
    w.once('exit', (code) => reject(new Error(`worker ${w.id} exited with ${code} during start`)));
  });
  const first = await Promise.allSettled(Array.from({ length: count }, fork));
  const failed = first.find((r) => r.status === 'rejected');
  if (failed) {
    for (const w of Object.values(cluster.workers ?? {})) w?.kill();
    throw new ReloadError('workers failed to start', [(failed as PromiseRejectedResult).reason.message]);
  }
  // Certificates: the workers answer ACME challenges, so the primary orders only now.
  gateway.certs.resume();
  cluster.on('exit', (w, code, signal) => {
    if (stopping) return;
    // A worker that died is replaced; repeated deaths back off (1 s, 2 s, ... up to 30 s).
    const now = Date.now();
    while (restarts.length && now - restarts[0] > 60_000) restarts.shift();
    restarts.push(now);
    const delay = restarts.length > 3 ? Math.min(30_000, 1000 * 2 ** (restarts.length - 4)) : 0;
    logger.error({ worker: w.id, code, signal, restartInMs: delay }, 'worker died; starting a new one');
    setTimeout(() => { if (!stopping) fork().catch((err) => logger.error({ err: err.message }, 'replacement worker failed to start')); }, delay);
  });
  gateway.on('reload', (rec: ReloadRecord) => {
    if (rec.trigger === 'startup' || rec.result !== 'success') return;
    for (const w of Object.values(cluster.workers ?? {})) w?.send({ type: 'reload', trigger: rec.trigger } satisfies PrimaryMsg);
  });
  const aggregator = new AggregatorRegistry();
  const adminServer = await startAdminOrStop(o, admin, gateway, metrics, logger, async () => {
    const workerMetrics = await aggregator.clusterMetrics();
    return `${await metrics.registry.metrics()}\n${workerMetrics}`;
  });
  announce(o, gateway, adminServer, logger, count);
  process.on('SIGHUP', () => { void gateway.reload('SIGHUP'); });
  onShutdown(logger, async () => {
    stopping = true;
    tickets.stop();
    adminServer.close();
    await gateway.stop(0);
    const all = Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w);
    await Promise.all(all.map((w) => new Promise<void>((resolve) => { w.once('exit', () => resolve()); w.send({ type: 'shutdown' } satisfies PrimaryMsg); })));
  });
  return gateway;
}

async function startAdminOrStop(o: RunOptions, admin: { host: string; port: number }, gateway: Gateway, metrics: Metrics, logger: ReturnType<typeof createLogger>, metricsText?: () => Promise<string>) {
  try {
    return await startAdmin({ ...admin, tokenFile: path.join(stateDir(o), 'admin-token'), gateway, metrics, logger, metricsText });
  } catch (err) {
    await gateway.stop(0);
    throw err;
  }
}

function announce(o: RunOptions, gateway: Gateway, adminServer: import('node:http').Server, logger: ReturnType<typeof createLogger>, workers: number) {
  const adminAddr = adminServer.address() as { address: string; port: number };
  const host = adminAddr.address.includes(':') ? `[${adminAddr.address}]` : adminAddr.address;
  const listeners = workers > 1 ? [...(gateway.runtime?.ports.values() ?? [])].map((p) => ({ key: p.key, port: p.port })) : gateway.boundPorts;
  logger.info({ admin: `http://${host}:${adminAddr.port}`, config: gateway.opts.configPath, version: gateway.runtime?.version, listeners, workers }, 'portcullis started');
  if (o.demo) {
    const port = listeners[0]?.port ?? 8080;
    const tokenFile = path.join(stateDir(o), 'admin-token');
    process.stderr.write(`\nPortcullis demo is up. Try:\n  curl -s localhost:${port}/echo\n  curl -s localhost:${port}/api/v1/users -H 'x-canary: true'\n  curl -s -H "Authorization: Bearer $(cat ${tokenFile})" http://${host}:${adminAddr.port}/status\n\n`);
  }
}

/**
 * The state directory: the admin token, the session key, and Certificate keys and issued
 * certificates (src/certs; with workers, the primary issues and renews and the workers read what
 * it stored at each reload).
 */
function stateDir(o: RunOptions): string {
  return path.resolve(o.stateDir ?? defaultStateDir());
}

/** The session-persistence key: one per state dir, so workers and restarts agree on tokens. */
function sessionKey(o: RunOptions): Buffer {
  return ensureSecretFile(path.join(stateDir(o), 'session-key'));
}

/**
 * TLS session ticket keys live in memory only (src/runtime/ticket-keys.ts says why). Earlier
 * versions kept them in <state-dir>/tls-ticket-keys: a secret nothing reads any more is removed.
 */
function ticketKeyRotation(o: RunOptions): TicketKeyRotation {
  rmSync(path.join(stateDir(o), 'tls-ticket-keys'), { force: true });
  return new TicketKeyRotation(o.ticketKeyRotationMs ?? DEFAULT_TICKET_KEY_ROTATION_MS);
}

/** A worker's ticket keys come from its primary, asked for over IPC before it listens. */
function ticketKeysFromPrimary(): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { process.off('message', onMsg); reject(new Error('the primary did not send the TLS ticket keys within 10 s')); }, 10_000);
    const onMsg = (m: PrimaryMsg) => {
      if (m?.type !== 'ticket-keys') return;
      clearTimeout(timer);
      process.off('message', onMsg);
      try { resolve(checkTicketKeys(Buffer.from(m.keys, 'base64'))); } catch (err) { reject(err as Error); }
    };
    process.on('message', onMsg);
    process.send?.({ type: 'ticket-keys?' } satisfies WorkerMsg);
  });
}

function drainMs(): number {
  return Number(process.env.PORTCULLIS_DRAIN_MS ?? 10_000);
}

function onShutdown(logger: ReturnType<typeof createLogger>, stop: () => Promise<void>) {
  let stopping = false;
  const shutdown = (sig: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal: sig }, 'draining in-flight requests, then exiting');
    stop().finally(() => { logger.flush(); process.exit(0); });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}
