// A config problem, reported as `file:line:col: kind/namespace/name: json.path: message (hint)`.
// Every stage (YAML, schema, semantics) reports into one list so a user sees all mistakes at once.

export type Phase = 'yaml' | 'schema' | 'semantic';

export interface Diagnostic {
  readonly file: string;
  readonly line: number; // 1-based
  readonly col: number; // 1-based
  readonly phase: Phase;
  readonly severity: 'error' | 'warning';
  /** `Kind/namespace/name`, or '' when the document could not be read far enough to know it. */
  readonly resource: string;
  /** JSON path inside the document, e.g. `spec.listeners[1].hostname`; '' for the whole document. */
  readonly path: string;
  readonly message: string;
  readonly hint?: string;
  /** Stable code, e.g. PCS_ERR_CONFIG_SCHEMA. */
  readonly code: string;
}

export function formatDiagnostic(d: Diagnostic): string {
  const where = `${d.file}:${d.line}:${d.col}`;
  const parts = [where];
  if (d.resource) parts.push(d.resource);
  if (d.path) parts.push(d.path);
  const sev = d.severity === 'warning' ? 'warning: ' : '';
  return `${parts.join(': ')}: ${sev}${d.message}${d.hint ? ` (${d.hint})` : ''}`;
}

/** `["spec","listeners",1,"hostname"]` -> `spec.listeners[1].hostname` */
export function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out ? `.${seg}` : seg;
  }
  return out;
}

export function sortDiagnostics(list: Diagnostic[]): Diagnostic[] {
  return list.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.col - b.col || a.message.localeCompare(b.message));
}

export class ConfigError extends Error {
  readonly code = 'PCS_ERR_CONFIG_INVALID';
  readonly diagnostics: readonly Diagnostic[];
  constructor(diagnostics: readonly Diagnostic[]) {
    super(`configuration has ${diagnostics.length} error(s):\n${diagnostics.map(formatDiagnostic).join('\n')}`);
    this.name = 'ConfigError';
    this.diagnostics = diagnostics;
  }
}
