#!/usr/bin/env node
// portcullis CLI: argument parsing only; the work is in the modules it calls.
import path from 'node:path';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildConfig } from '../compiler/compile.ts';
import { formatDiagnostic } from '../config/diagnostics.ts';
import { diffResources, formatChange } from '../config/diff.ts';
import { editorJsonSchema } from '../config/schema.ts';
import { parseWorkers, startGatewayProcess } from './run.ts';
import { durationMs } from '../config/semantic.ts';
import { checkRotationPeriod } from '../runtime/ticket-keys.ts';

const HELP = `portcullis — a security-first gateway for HTTP APIs

Usage:
  portcullis start --config PATH [--admin HOST:PORT] [--state-dir DIR] [--workers N|auto] [--no-access-log] [--allow-partial]
                  [--tls-ticket-key-rotation DURATION]
  portcullis validate PATH [--status] [--json]
  portcullis diff OLD NEW [--json]
  portcullis schema
  portcullis certs list [--config PATH] [--state-dir DIR] [PEM-FILE|DIR ...] [--json] [--trust PEM] [--expires-soon-days N] [--fail-on low|medium|high|critical]
  portcullis certs scan HOST:PORT ... [--servername NAME] [--json] [--trust PEM] [--fail-on ...]
  portcullis demo                 the quickstart: demo upstreams + the gateway on :8080

PATH is a YAML file or a directory of YAML files (Gateway API + portcullis.dev resources).
--workers N|auto runs N data-plane processes (auto: one per core) sharing the listeners.
--tls-ticket-key-rotation: how often the in-memory TLS session ticket keys change (default 12h).
Exit codes: 0 ok, 1 invalid config (validate) or differences found (diff), 2 usage or I/O error.`;

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'start': return start(rest);
    case 'demo': return demo(rest);
    case 'validate': return validate(rest);
    case 'diff': return diff(rest);
    case 'schema': process.stdout.write(JSON.stringify(editorJsonSchema(), null, 2) + '\n'); return 0;
    case 'certs': return certs(rest);
    case undefined: case '-h': case '--help': case 'help': console.log(HELP); return cmd ? 0 : 2;
    default: console.error(`unknown command "${cmd}"\n\n${HELP}`); return 2;
  }
}

function parse(args: string[], options: NonNullable<NonNullable<Parameters<typeof parseArgs>[0]>['options']>) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

class UsageError extends Error { readonly code = 'PCS_ERR_USAGE'; }

async function start(args: string[]): Promise<number> {
  const { values } = parse(args, {
    config: { type: 'string', short: 'c' }, admin: { type: 'string' }, 'state-dir': { type: 'string' },
    'no-access-log': { type: 'boolean' }, 'allow-partial': { type: 'boolean' }, 'log-level': { type: 'string' }, workers: { type: 'string' },
    'tls-ticket-key-rotation': { type: 'string' },
  });
  if (!values.config) throw new UsageError('start needs --config PATH');
  const rotation = values['tls-ticket-key-rotation'] as string | undefined;
  if (rotation !== undefined && !/^([0-9]{1,5}(h|m|s|ms)){1,4}$/.test(rotation)) throw new UsageError(`--tls-ticket-key-rotation takes a duration such as 12h or 30m, got "${rotation}"`);
  await startGatewayProcess({
    configPath: String(values.config), admin: values.admin as string | undefined, stateDir: values['state-dir'] as string | undefined,
    accessLog: !values['no-access-log'], allowPartial: Boolean(values['allow-partial']), logLevel: values['log-level'] as string | undefined,
    workers: parseWorkers(values.workers as string | undefined),
    ...(rotation !== undefined ? { ticketKeyRotationMs: checkRotationPeriod(durationMs(rotation)) } : {}),
  });
  return -1; // keep running
}

async function demo(args: string[]): Promise<number> {
  const { values } = parse(args, { admin: { type: 'string' }, 'state-dir': { type: 'string' }, 'no-access-log': { type: 'boolean' } });
  const here = path.dirname(fileURLToPath(import.meta.url));
  const dir = path.resolve(here, '..', '..', 'examples', 'quickstart');
  const { startDemoUpstreams } = await import('./demo-upstream.ts');
  await startDemoUpstreams([{ name: 'echo-a', port: 9001 }, { name: 'echo-b', port: 9002 }]);
  await startGatewayProcess({ configPath: dir, admin: values.admin as string | undefined, stateDir: values['state-dir'] as string | undefined, accessLog: !values['no-access-log'], demo: true });
  return -1;
}

function validate(args: string[]): number {
  const { values, positionals } = parse(args, { status: { type: 'boolean' }, json: { type: 'boolean' } });
  if (positionals.length !== 1) throw new UsageError('validate needs exactly one PATH');
  const target = positionals[0];
  if (!fs.existsSync(target)) { console.error(`${target}: no such file or directory`); return 2; }
  const r = buildConfig(target);
  if (values.json) {
    console.log(JSON.stringify({ valid: r.errors.length === 0, version: r.runtime?.version ?? null, diagnostics: r.diagnostics, status: values.status ? r.status : undefined }, null, 2));
    return r.errors.length ? 1 : 0;
  }
  for (const d of r.diagnostics) (d.severity === 'error' ? console.error : console.warn)(formatDiagnostic(d));
  if (values.status) {
    for (const [id, st] of Object.entries(r.status)) {
      console.log(`${id}:`);
      printConditions(st, '  ');
    }
  }
  if (r.errors.length) { console.error(`\n${r.errors.length} error(s); the config is not valid.`); return 1; }
  console.log(`ok: ${r.resources.length} resource(s) valid, version ${r.runtime!.version}`);
  return 0;
}

/** Certificate inventory: files and directories of PEM, the certificates a config serves, remote endpoints. */
async function certs(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  const { values, positionals } = parse(rest, {
    json: { type: 'boolean' }, trust: { type: 'string', multiple: true }, 'expires-soon-days': { type: 'string' },
    'fail-on': { type: 'string' }, config: { type: 'string' }, servername: { type: 'string' }, hostname: { type: 'string' },
    'state-dir': { type: 'string' },
  });
  const { certsList, certsScan } = await import('../pki/commands.ts');
  const common = {
    json: Boolean(values.json),
    trustStorePaths: values.trust as string[] | undefined,
    ...(values['expires-soon-days'] ? { expiresSoonDays: Number(values['expires-soon-days']) } : {}),
    failOn: ((values['fail-on'] as string | undefined) ?? 'none') as 'low' | 'medium' | 'high' | 'critical' | 'none',
  };
  if (!['none', 'low', 'medium', 'high', 'critical'].includes(common.failOn)) throw new UsageError('--fail-on takes low, medium, high or critical');
  if (sub === 'scan') {
    if (!positionals.length) throw new UsageError('certs scan needs HOST:PORT');
    const r = await certsScan(positionals, { ...common, servername: values.servername as string | undefined });
    process.stdout.write(r.output);
    return r.exitCode;
  }
  if (sub !== 'list') throw new UsageError('certs takes list or scan');
  const paths = [...positionals];
  // Certificates the gateway issued (Certificate resources, src/certs): chains only, keys stay encrypted.
  if (values['state-dir']) {
    const issued = path.join(String(values['state-dir']), 'certs');
    if (fs.existsSync(issued)) paths.push(issued);
  }
  let tmp: string | undefined;
  if (values.config) {
    // The certificates (never the keys) of every Secret the config holds, as PEM files to inventory.
    const b = buildConfig(String(values.config));
    tmp = fs.mkdtempSync(path.join((await import('node:os')).tmpdir(), 'pcs-certs-'));
    for (const r of b.resources.filter((x) => x.kind === 'Secret')) {
      const d = r.doc as { data?: Record<string, string>; stringData?: Record<string, string> };
      const pem = d.stringData?.['tls.crt'] ?? (d.data?.['tls.crt'] ? Buffer.from(d.data['tls.crt'], 'base64').toString('utf8') : undefined);
      if (pem) fs.writeFileSync(path.join(tmp, `${r.namespace}-${r.name}.pem`), pem, { mode: 0o600 });
    }
    paths.push(tmp);
  }
  if (!paths.length) throw new UsageError('certs list needs --config PATH or PEM files/directories');
  try {
    const r = await certsList(paths, { ...common, expectedHostname: values.hostname as string | undefined });
    process.stdout.write(r.output);
    return r.exitCode;
  } finally {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  }
}

function printConditions(st: Record<string, unknown>, indent: string): void {
  const line = (c: { type: string; status: string; reason: string; message: string }) => `${indent}${c.type}=${c.status} (${c.reason}): ${c.message}`;
  for (const c of (st.conditions as any[]) ?? []) console.log(line(c));
  for (const l of (st.listeners as any[]) ?? []) {
    console.log(`${indent}listener ${l.name} (attachedRoutes ${l.attachedRoutes}):`);
    for (const c of l.conditions) console.log('  ' + line(c));
  }
  for (const a of (st.ancestors as any[]) ?? []) {
    console.log(`${indent}ancestor ${a.ancestorRef.kind} ${a.ancestorRef.namespace}/${a.ancestorRef.name}:`);
    for (const c of a.conditions) console.log('  ' + line(c));
  }
  for (const p of (st.parents as any[]) ?? []) {
    console.log(`${indent}parent ${p.parentRef.namespace}/${p.parentRef.name}${p.parentRef.sectionName ? `/${p.parentRef.sectionName}` : ''}:`);
    for (const c of p.conditions) console.log('  ' + line(c));
  }
}

function diff(args: string[]): number {
  const { values, positionals } = parse(args, { json: { type: 'boolean' } });
  if (positionals.length !== 2) throw new UsageError('diff needs OLD and NEW');
  const [a, b] = positionals.map((p) => buildConfig(p));
  // Read errors (YAML, schema) make a diff meaningless: say so instead of guessing.
  const broken = [...a.diagnostics, ...b.diagnostics].filter((d) => d.severity === 'error' && d.phase !== 'semantic');
  if (broken.length) {
    for (const d of broken) console.error(formatDiagnostic(d));
    console.error('cannot diff: fix the errors above first');
    return 2;
  }
  const changes = diffResources(a.resources, b.resources);
  if (values.json) console.log(JSON.stringify(changes, null, 2));
  else if (!changes.length) console.log('no changes');
  else for (const c of changes) console.log(formatChange(c));
  const semErrors = b.errors.filter((d) => d.phase === 'semantic');
  if (semErrors.length) {
    console.error(`\nnote: NEW has ${semErrors.length} error(s) and would be refused on reload:`);
    for (const d of semErrors) console.error(formatDiagnostic(d));
  }
  return changes.length ? 1 : 0;
}

/** Run the CLI and set the exit code; long-running commands keep the process alive. */
export function runCli(argv: string[]): void {
  main(argv).then((code) => { if (code >= 0) process.exitCode = code; }, (err) => {
    if (err instanceof UsageError) { console.error(`portcullis: ${err.message}\n\n${HELP}`); process.exitCode = 2; return; }
    const e = err as { code?: string; message: string; details?: string[] };
    console.error(`portcullis: ${e.message}${e.details ? '\n' + e.details.join('\n') : ''}`);
    process.exitCode = e.code === 'PCS_ERR_RELOAD' ? 1 : 2;
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === fs.realpathSync(process.argv[1])) runCli(process.argv.slice(2));
