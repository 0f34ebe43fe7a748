// Wires a gateway process together: logger, metrics, pools, the Gateway, the admin API, signals.
import path from 'node:path';
import { assertLoopback, defaultStateDir, startAdmin } from '../admin/server.ts';
import { Metrics } from '../observability/metrics.ts';
import { createLogger } from '../observability/logger.ts';
import { Gateway } from '../runtime/gateway.ts';

export interface RunOptions {
  configPath: string;
  admin?: string;
  stateDir?: string;
  accessLog?: boolean;
  allowPartial?: boolean;
  logLevel?: string;
  demo?: boolean;
}

export function parseHostPort(s: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(s);
  if (!m || Number(m[2]) > 65535) throw Object.assign(new Error(`--admin must be HOST:PORT, got "${s}"`), { code: 'PCS_ERR_USAGE' });
  return { host: m[1], port: Number(m[2]) };
}

export async function startGatewayProcess(o: RunOptions): Promise<Gateway> {
  const logger = createLogger({ level: o.logLevel });
  const metrics = new Metrics();
  // Check everything that can be checked before any socket is opened.
  const admin = parseHostPort(o.admin ?? '127.0.0.1:9901');
  assertLoopback(admin.host);
  const gateway = new Gateway({ configPath: path.resolve(o.configPath), logger, metrics, accessLog: o.accessLog, allowPartial: o.allowPartial });
  await gateway.start();
  const stateDir = path.resolve(o.stateDir ?? defaultStateDir());
  let adminServer;
  try {
    adminServer = await startAdmin({ ...admin, tokenFile: path.join(stateDir, 'admin-token'), gateway, metrics, logger });
  } catch (err) {
    await gateway.stop(0);
    throw err;
  }
  const adminPort = (adminServer.address() as { port: number }).port;
  logger.info({ admin: `http://${admin.host}:${adminPort}`, config: gateway.opts.configPath, version: gateway.runtime?.version, listeners: gateway.boundPorts }, 'portcullis started');
  if (o.demo) {
    const port = gateway.boundPorts[0]?.port ?? 8080;
    process.stderr.write(`\nPortcullis demo is up. Try:\n  curl -s localhost:${port}/echo\n  curl -s localhost:${port}/api/v1/users -H 'x-canary: true'\n  curl -s -H "Authorization: Bearer $(cat ${path.join(stateDir, 'admin-token')})" http://127.0.0.1:${adminPort}/status\n\n`);
  }
  process.on('SIGHUP', () => { void gateway.reload('SIGHUP'); });
  let stopping = false;
  const shutdown = (sig: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal: sig }, 'draining in-flight requests, then exiting');
    adminServer.close();
    gateway.stop(Number(process.env.PORTCULLIS_DRAIN_MS ?? 10_000)).finally(() => { logger.flush(); process.exit(0); });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  return gateway;
}
