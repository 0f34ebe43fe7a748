/** Compiled rule set types (immutable after load). */
import type { OpFn } from './operators.ts';
import type { Transform } from './transforms.ts';
import type { Macro } from './macro.ts';

export type EngineMode = 'On' | 'DetectionOnly' | 'Off';
export type Disruptive = 'pass' | 'deny' | 'drop' | 'block' | 'allow' | 'redirect';

export interface Target {
  collection: string; // upper case, e.g. ARGS
  key?: string; // lower case literal key
  keyRe?: RegExp;
  /** when keyRe is `^literal` (letters, digits, '_', '-'): the literal, lower case, for a startsWith test (CRS: TX:/^header_name_920450_/) */
  keyPrefix?: string;
  count: boolean;
  /** how values() reads it: TARGET_PLAIN (a collection of the request or response), TARGET_KEYED (TX, IP, ...), TARGET_MATCHED (MATCHED_*), TARGET_OTHER (XML, RULE, DURATION, HIGHEST_SEVERITY, TIME*) */
  kind: number;
  /** display name for the key part, original case */
  rawKey?: string;
}

export interface TxGate {
  /** lower-case TX key */
  key: string;
  /** &TX:key (0 or 1) rather than the value */
  count: boolean;
  /** variable name reported for a count (&TX:Key) */
  countName: string;
  /** 0 eq, 1 ge, 2 gt, 3 le, 4 lt */
  cmp: number;
  /** the constant operand, parsed like the operator does */
  operand: number;
  /** position among the rule set's gates (index of its folded outcome, see txPrefixOf) */
  index: number;
}

export interface Exclusion {
  collection: string;
  key?: string;
  keyRe?: RegExp;
}

export interface SetVar {
  collection: string; // TX, IP, GLOBAL, ...
  name: Macro;
  op: 'set' | 'add' | 'sub' | 'del';
  value: Macro;
}

export type Ctl =
  | { kind: 'ruleEngine'; mode: EngineMode }
  | { kind: 'ruleRemoveById'; ranges: Array<[number, number]>; masks?: Uint8Array[] }
  | { kind: 'ruleRemoveByTag'; tag: string }
  | { kind: 'ruleRemoveByMsg'; msg: string }
  // uid: a number per ctl:ruleRemoveTarget* action, for keying what a transaction derives from the set that fired (Transaction.exclusionsFor)
  | { kind: 'ruleRemoveTargetById'; ranges: Array<[number, number]>; targets: Exclusion[]; ruleIds: Set<number>; masks?: Uint8Array[]; uid: number }
  | { kind: 'ruleRemoveTargetByTag'; tag: string; targets: Exclusion[]; ruleIds: Set<number>; masks?: Uint8Array[]; uid: number }
  | { kind: 'requestBodyProcessor'; processor: string }
  | { kind: 'forceRequestBodyVariable'; on: boolean }
  | { kind: 'requestBodyAccess'; on: boolean }
  | { kind: 'responseBodyAccess'; on: boolean }
  | { kind: 'requestBodyLimit'; limit: number }
  | { kind: 'ignored'; name: string };

export interface RuleLink {
  targets: Target[];
  exclusions: Exclusion[];
  op: OpFn;
  /** prefilter of the operator (see OpFn.req) */
  req: Int32Array | null;
  /** raw-value prefilter: the bytes without which the transformation chain cannot output a `req` byte (transforms.ts chainDangerBytes); null = none */
  rawReq: Int32Array | null;
  /**
   * Fast path for a numeric comparison of one TX variable with a constant (the CRS paranoia-level
   * gates and setup checks): set at load when the link has exactly that shape, else null.
   */
  txGate: TxGate | null;
  /** literal prefilter: bit of the operator's required-literal set in the rule set's LiteralScanner (-1 = none) */
  lit: number;
  opName: string;
  opParam: string;
  opNegated: boolean;
  transforms: Transform[];
  transformNames: string[];
  /** id of the transformation chain, for caching per value (-1 = no transformation) */
  tchain: number;
  /** transformation node after each step of the chain (for multiMatch), filled at the end of compilation */
  tsteps: number[];
  /** exclusions grouped by collection (filled at the end of compilation) */
  exclByColl: Map<string, Exclusion[]> | null;
  /** id of the (targets, exclusions) spec shared by identical links; -1 when values are not cacheable */
  specId: number;
  /**
   * Position of the link in the value verdict store (Transaction: a bit per value and link, set
   * once the link has evaluated that value without a match), or -1. Set for links whose outcome on
   * a value depends on nothing but the value: every target is request or response data (specId),
   * none is a count, and the operand has no macro.
   */
  vidx: number;
  /** per target: id of the (target, exclusions of its collection) pair shared across rules; -1 = volatile */
  targetIds: number[];
  multiMatch: boolean;
  capture: boolean;
  setvars: SetVar[];
  ctls: Ctl[];
  next: RuleLink | null;
  /** has targets whose values are not cacheable (TX, MATCHED_VAR...) */
  line: number;
}

export interface Rule extends RuleLink {
  kind: 'rule';
  id: number;
  phase: number;
  file: string;
  msg: Macro | null;
  logdata: Macro | null;
  severity: string | null;
  tags: string[];
  ver: string | null;
  disruptive: Disruptive;
  status: number;
  redirect: string | null;
  allowScope: 'all' | 'phase' | 'request';
  log: boolean;
  skipAfter: string | null;
  /** with skipAfter: the index of its marker in the phase (the last entry's when there is none) */
  skipTo: number;
  skip: number;
  /** SecAction: no operator/targets */
  unconditional: boolean;
  /** SKIP_BITS of the collections the rule reads when it can only match on their values; 0 = always evaluate */
  skipNeeds: number;
}

export interface Marker {
  kind: 'marker';
  name: string;
}

export type PhaseEntry = Rule | Marker;

export const TARGET_PLAIN = 0;
export const TARGET_KEYED = 1;
export const TARGET_MATCHED = 2;
export const TARGET_OTHER = 3;
/** Collections of variables set by name (setvar), read with Target.kind TARGET_KEYED. */
export const KEYED_COLLECTIONS: ReadonlySet<string> = new Set(['TX', 'IP', 'GLOBAL', 'SESSION', 'USER', 'RESOURCE']);
export function targetKind(collection: string): number {
  if (KEYED_COLLECTIONS.has(collection)) return TARGET_KEYED;
  if (collection.startsWith('MATCHED')) return TARGET_MATCHED;
  if (collection === 'XML' || collection === 'RULE' || collection === 'DURATION' || collection === 'HIGHEST_SEVERITY' || collection.startsWith('TIME')) return TARGET_OTHER;
  return TARGET_PLAIN;
}

export interface WafLimits {
  requestBodyAccess: boolean;
  requestBodyLimit: number;
  requestBodyNoFilesLimit: number;
  requestBodyLimitAction: 'Reject' | 'ProcessPartial';
  responseBodyAccess: boolean;
  responseBodyLimit: number;
  responseBodyLimitAction: 'Reject' | 'ProcessPartial';
  responseBodyMimeTypes: string[];
  argumentsLimit: number;
  jsonDepthLimit: number;
}

export interface LoadReport {
  /** non-fatal problems (ignored directives, unavailable operators...) */
  warnings: string[];
  rules: number;
  /** @rx patterns V8's linear engine cannot run, with how they are handled */
  nonLinearRegexes: Array<{ ruleId: number; file: string; line: number; handling: string }>;
  /** PCRE constructs approximated during translation */
  regexNotes: Array<{ ruleId: number; file: string; line: number; notes: string[] }>;
  redosGuard: { backtrackFallback: boolean; linearCheck: boolean };
  regexCount: number;
}


/**
 * Collections read straight from `colls` (or, for XML, from the parsed document), one bit each: a
 * transaction keeps the bits of the ones that hold at least one value (`present`). A rule whose
 * every target is one of them, all empty, has no value to test, so it cannot match: runPhase skips
 * it without evaluating (Rule.skipNeeds). Everything else (TX-like, MATCHED_*, counts, scalars that are
 * always set) is not in the table, and a rule reading any of it is always evaluated.
 */
export const SKIP_BITS: Record<string, number> = {};
['ARGS', 'ARGS_NAMES', 'ARGS_GET', 'ARGS_GET_NAMES', 'ARGS_POST', 'ARGS_POST_NAMES', 'REQUEST_COOKIES', 'REQUEST_COOKIES_NAMES',
  'REQUEST_HEADERS', 'REQUEST_HEADERS_NAMES', 'FILES', 'FILES_NAMES', 'FILES_SIZES', 'MULTIPART_PART_HEADERS', 'RESPONSE_HEADERS',
  'RESPONSE_HEADERS_NAMES', 'REQUEST_BODY', 'RESPONSE_BODY', 'XML'].forEach((c, i) => { SKIP_BITS[c] = 1 << i; });

/** The SKIP_BITS a rule's first link reads, or 0 when it must always be evaluated (set at load, Rule.skipNeeds). */
export function skipNeedsOf(r: Rule): number {
  let n = 0;
  if (!r.unconditional && r.targets.length > 0) {
    for (const t of r.targets) {
      const b = t.count ? 0 : (SKIP_BITS[t.collection] ?? 0);
      if (b === 0) { n = 0; break; }
      n |= b;
    }
  }
  return n;
}
