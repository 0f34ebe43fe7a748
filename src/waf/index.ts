/**
 * Portcullis WAF engine: load a SecLang rule set (e.g. OWASP CRS v4) once, then run one
 * Transaction per request.
 *
 *   const waf = await loadWaf({ crsDir: '/path/to/crs', paranoiaLevel: 1 });
 *   const tx = waf.newTransaction({ remoteAddr: '1.2.3.4' });
 *   tx.processUri('GET', '/?q=1', 'HTTP/1.1'); tx.addRequestHeader('Host', 'x');
 *   tx.processRequestHeaders(); tx.processRequestBody();
 *   if (tx.interruption) ...block...
 */
import { resolve, join } from 'node:path';
import { existsSync } from 'node:fs';
import { Compiler, expandGlob, type CompiledRuleSet } from './compile.ts';
import { installRedosGuard } from './regex.ts';
import { Transaction, type TransactionInit } from './transaction.ts';
import type { LibInjection } from './operators.ts';
import type { EngineMode, LoadReport, WafLimits } from './ruleset.ts';

export { WafParseError, WafCompileError } from './errors.ts';
export { Transaction } from './transaction.ts';
export type { Interruption, MatchedRule, TransactionInit } from './transaction.ts';
export type { EngineMode, LoadReport, WafLimits } from './ruleset.ts';

export interface LoadWafOptions {
  /** Directory of an OWASP CRS checkout: loads crs-setup.conf(.example) and rules/*.conf in order. */
  crsDir?: string;
  /** SecLang files (glob in the last segment allowed), loaded in order, after the CRS when crsDir is set. */
  files?: string[];
  /** Inline SecLang loaded before the CRS (settings, exclusions like REQUEST-900). */
  beforeCrs?: string;
  /** Inline SecLang loaded last (rules, SecRuleRemoveById, SecRuleUpdateTargetById ...). */
  directives?: string;
  /** Resolves relative paths in `files` and `crsDir`. Default: process.cwd(). */
  baseDir?: string;
  /** CRS blocking paranoia level (1-4); sets tx.blocking_paranoia_level. */
  paranoiaLevel?: number;
  /** CRS detection paranoia level (>= paranoiaLevel); rules above the blocking level only score. */
  detectionParanoiaLevel?: number;
  inboundAnomalyThreshold?: number;
  outboundAnomalyThreshold?: number;
  /** Overrides SecRuleEngine. */
  engineMode?: EngineMode;
  /**
   * Remember across transactions which values (names and non-secret header values only) a rule
   * evaluated without a match, and pass them over from then on (transaction.ts ValueVerdicts).
   * Default true.
   */
  rememberVerdicts?: boolean;
  /**
   * The body rules of ModSecurity's recommended config: JSON / XML body processors chosen from
   * Content-Type (200000, 200001), and a body they cannot parse refused with 400 (200002). Default true.
   */
  recommendedBodyProcessors?: boolean;
  /** Overrides of body limits (bytes, counts). */
  limits?: Partial<WafLimits>;
  /** Turn on V8's backtracking -> linear engine fallback (process-wide). Default true. */
  redosGuard?: boolean;
  /** Backtracks before falling back to the linear engine. Default 1000 (like ModSecurity's recommended SecPcreMatchLimit). */
  backtrackLimit?: number;
  /** Load warnings callback (they are also in waf.report.warnings). */
  onWarning?: (msg: string) => void;
  /** Inject a libinjection implementation (default: src/waf/libinjection/index.ts when present). */
  libinjection?: LibInjection | null;
}

export interface Waf {
  readonly report: LoadReport;
  readonly engineMode: EngineMode;
  readonly limits: Readonly<WafLimits>;
  readonly ruleCount: number;
  newTransaction(init?: TransactionInit): Transaction;
  /** ids of the loaded rules (after removals) */
  ruleIds(): number[];
}

// 200002: a body the processor cannot read was not inspected; what it would have carried to an
// application with a more lenient parser (a JSON {"q":"<attack>",} or with NaN, a multipart body
// without its last boundary) is refused, as ModSecurity's recommended config refuses it.
const RECOMMENDED = `
SecRule REQUEST_HEADERS:Content-Type "@rx (?i)^(?:application(?:/soap\\+|/)|text/)xml" "id:200000,phase:1,t:none,pass,nolog,ctl:requestBodyProcessor=XML"
SecRule REQUEST_HEADERS:Content-Type "@rx (?i)^application/(?:[a-z0-9.+-]+\\+)?json" "id:200001,phase:1,t:none,pass,nolog,ctl:requestBodyProcessor=JSON"
SecRule REQBODY_ERROR "!@eq 0" "id:200002,phase:2,t:none,log,deny,status:400,msg:'Failed to parse request body.',logdata:'%{reqbody_error_msg}',severity:2"
`;

async function defaultLibinjection(): Promise<LibInjection | null> {
  const spec = new URL('./libinjection/index.ts', import.meta.url);
  if (!existsSync(spec)) return null;
  try {
    const mod = (await import(spec.href)) as Partial<LibInjection>;
    if (typeof mod.detectSQLi === 'function' && typeof mod.detectXSS === 'function') {
      return { detectSQLi: mod.detectSQLi, detectXSS: mod.detectXSS };
    }
  } catch { /* reported below as a warning */ }
  return null;
}

export async function loadWaf(opts: LoadWafOptions): Promise<Waf> {
  const warnings: string[] = [];
  const li = opts.libinjection !== undefined ? opts.libinjection : await defaultLibinjection();
  return compileWaf(opts, li, warnings);
}

/** Synchronous variant (libinjection must be passed explicitly, or @detectSQLi/@detectXSS never match). */
export function compileWaf(opts: LoadWafOptions, libinjection: LibInjection | null, warnings: string[] = []): Waf {
  const guard = opts.redosGuard === false ? { fallback: false, linearCheck: false } : installRedosGuard(opts.backtrackLimit ?? 1000);
  const base = opts.baseDir ?? process.cwd();
  const c = new Compiler({ libinjection, warn: (m) => { warnings.push(m); opts.onWarning?.(m); } });
  c.report.redosGuard = { backtrackFallback: guard.fallback, linearCheck: guard.linearCheck };
  if (!libinjection) c.warn('libinjection module not available: @detectSQLi and @detectXSS never match');
  if (opts.recommendedBodyProcessors !== false) c.loadText(RECOMMENDED, '<recommended>');
  const settings: string[] = [];
  if (opts.paranoiaLevel !== undefined) settings.push(`setvar:tx.blocking_paranoia_level=${int(opts.paranoiaLevel, 'paranoiaLevel', 1, 4)}`);
  if (opts.detectionParanoiaLevel !== undefined) settings.push(`setvar:tx.detection_paranoia_level=${int(opts.detectionParanoiaLevel, 'detectionParanoiaLevel', 1, 4)}`);
  if (opts.inboundAnomalyThreshold !== undefined) settings.push(`setvar:tx.inbound_anomaly_score_threshold=${int(opts.inboundAnomalyThreshold, 'inboundAnomalyThreshold', 1, 1e9)}`);
  if (opts.outboundAnomalyThreshold !== undefined) settings.push(`setvar:tx.outbound_anomaly_score_threshold=${int(opts.outboundAnomalyThreshold, 'outboundAnomalyThreshold', 1, 1e9)}`);
  if (settings.length) c.loadText(`SecAction "id:9000001,phase:1,pass,nolog,t:none,${settings.join(',')}"`, '<options>');
  if (opts.beforeCrs) c.loadText(opts.beforeCrs, '<beforeCrs>');
  if (opts.crsDir) {
    const dir = resolve(base, opts.crsDir);
    const setup = existsSync(join(dir, 'crs-setup.conf')) ? join(dir, 'crs-setup.conf') : join(dir, 'crs-setup.conf.example');
    c.loadFile(setup);
    for (const f of expandGlob(join(dir, 'rules', '*.conf'))) c.loadFile(f);
  }
  for (const f of opts.files ?? []) {
    const matches = expandGlob(resolve(base, f));
    if (matches.length === 0) c.loadFile(resolve(base, f)); // reports the missing file
    for (const m of matches) c.loadFile(m);
  }
  if (opts.directives) c.loadText(opts.directives, '<directives>');
  const rs: CompiledRuleSet = c.finish();
  if (opts.engineMode) rs.engineMode = opts.engineMode;
  rs.rememberVerdicts = opts.rememberVerdicts !== false;
  if (opts.limits) Object.assign(rs.limits, opts.limits);
  Object.freeze(rs.limits);
  return makeWaf(rs);
}

function makeWaf(rs: CompiledRuleSet): Waf {
  return Object.freeze({
    report: rs.report,
    engineMode: rs.engineMode,
    limits: rs.limits,
    ruleCount: rs.report.rules,
    newTransaction: (init?: TransactionInit) => new Transaction(rs, init),
    ruleIds: () => [...rs.ruleById.keys()],
  });
}

function int(v: number, name: string, min: number, max: number): number {
  if (!Number.isInteger(v) || v < min || v > max) throw new RangeError(`${name} must be an integer in [${min}, ${max}], got ${v}`);
  return v;
}
