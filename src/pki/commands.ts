/**
 * The bodies of `portcullis certs list` and `portcullis certs scan`: the CLI parses arguments and
 * prints `output`; it exits with `exitCode` (0 ok, 1 a finding at or above `failOn`, 2 a path or
 * target that could not be read/scanned — partial results are still in `output`).
 */
import { readFile } from 'node:fs/promises';
import { formatTable, inventoryPath, scanMany, toJson, type CertEntry, type InventoryError, type ScanResult, type Severity } from './inventory.ts';

const RANK: Record<Severity, number> = { low: 1, medium: 2, high: 3, critical: 4 };

export interface CommonCertsOptions {
  json?: boolean;
  expiresSoonDays?: number;
  /** PEM files of extra trust anchors/intermediates for CHAIN_INCOMPLETE and verification. */
  trustStorePaths?: string[];
  useSystemTrust?: boolean;
  /** Exit 1 when a finding has at least this severity (default 'none': findings alone do not fail). */
  failOn?: Severity | 'none';
  now?: Date;
}

export interface CommandResult {
  output: string;
  exitCode: number;
}

async function readTrust(paths: string[] = []): Promise<string[]> {
  return Promise.all(paths.map((p) => readFile(p, 'utf8')));
}

function exitFor(entries: CertEntry[], failOn: Severity | 'none' | undefined, hadErrors: boolean): number {
  if (hadErrors) return 2;
  if (!failOn || failOn === 'none') return 0;
  return entries.some((e) => e.findings.some((f) => RANK[f.severity] >= RANK[failOn])) ? 1 : 0;
}

export async function certsList(paths: string[], opts: CommonCertsOptions & { expectedHostname?: string } = {}): Promise<CommandResult> {
  const trustStore = await readTrust(opts.trustStorePaths);
  const entries: CertEntry[] = [];
  const errors: InventoryError[] = [];
  for (const p of paths) {
    try {
      const r = await inventoryPath(p, { trustStore, useSystemTrust: opts.useSystemTrust, expiresSoonDays: opts.expiresSoonDays, expectedHostname: opts.expectedHostname, now: opts.now });
      entries.push(...r.entries);
      errors.push(...r.errors);
    } catch (e) {
      errors.push({ source: p, code: (e as { code?: string }).code ?? 'PCS_ERR_CERT_PARSE', message: (e as Error).message });
    }
  }
  const output = opts.json
    ? toJson(entries, { generatedAt: (opts.now ?? new Date()).toISOString(), errors }) + '\n'
    : formatTable(entries) + errors.map((e) => `error: ${e.source}: ${e.message}\n`).join('');
  return { output, exitCode: exitFor(entries, opts.failOn, errors.length > 0) };
}

export async function certsScan(targets: string[], opts: CommonCertsOptions & { servername?: string; timeoutMs?: number } = {}): Promise<CommandResult> {
  const trustStore = await readTrust(opts.trustStorePaths);
  const results = await scanMany(targets, { trustStore, useSystemTrust: opts.useSystemTrust, expiresSoonDays: opts.expiresSoonDays, servername: opts.servername, timeoutMs: opts.timeoutMs, now: opts.now });
  const ok = results.filter((r): r is ScanResult => 'entries' in r);
  const failed = results.filter((r): r is { target: string; error: { code: string; message: string } } => 'error' in r);
  const entries = ok.flatMap((r) => r.entries);
  const output = opts.json
    ? JSON.stringify({ generatedAt: (opts.now ?? new Date()).toISOString(), results }, null, 2) + '\n'
    : formatTable(entries) +
      ok.map((r) => `${r.target}: ${r.protocol ?? '?'} ${r.cipher ?? ''} ${r.authorized ? 'verified' : `NOT verified (${r.authorizationError})`}\n`).join('') +
      failed.map((f) => `error: ${f.target}: ${f.error.message}\n`).join('');
  return { output, exitCode: exitFor(entries, opts.failOn, failed.length > 0) };
}
