/** SecLang directives -> compiled, immutable rule set. */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { resolve, dirname, basename, isAbsolute, join } from 'node:path';
import { parseSecLang, parseActions, parseVariables, type Directive, type VariableSpec } from './parser.ts';
import { WafParseError, WafCompileError } from './errors.ts';
import { compileOperator, numeric, OperatorError, type LibInjection, type OpCompileContext } from './operators.ts';
import { TRANSFORMS, chainDangerBytes, triggerBytes, type Transform } from './transforms.ts';
import { compileMacro, type Macro } from './macro.ts';
import { translatePcre } from './regex.ts';
import { ValueScanner } from './literals.ts';
import type {
  Ctl, Disruptive, EngineMode, Exclusion, LoadReport, PhaseEntry, Rule, RuleLink, SetVar, Target, TxGate, WafLimits,
} from './ruleset.ts';
import { skipNeedsOf, targetKind } from './ruleset.ts';

const SEVERITIES = ['EMERGENCY', 'ALERT', 'CRITICAL', 'ERROR', 'WARNING', 'NOTICE', 'INFO', 'DEBUG'];

/** Directives accepted and ignored (logging, storage, server settings that do not change verdicts). */
const IGNORED = new Set([
  'secauditengine', 'secauditlog', 'secauditlog2', 'secauditlogparts', 'secauditlogrelevantstatus', 'secauditlogtype',
  'secauditlogstoragedir', 'secauditlogdirmode', 'secauditlogfilemode', 'secauditlogformat', 'secdebuglog',
  'secdebugloglevel', 'sectmpdir', 'secdatadir', 'secuploaddir', 'secuploadkeepfiles', 'secuploadfilemode',
  'secuploadfilelimit', 'seccollectiontimeout', 'secpcrematchlimit', 'secpcrematchlimitrecursion',
  'secunicodemapfile', 'secstatusengine', 'secserversignature', 'secwebappid', 'secrequestbodyinmemorylimit',
  'sectmpsaverequestbody', 'secargumentseparator', 'seccookieformat', 'secxmlexternalentity', 'secconnengine',
  'secremoterules', 'secremoterulesfailaction', 'secgeolookupdb', 'sechttpblkey', 'secsensorid', 'seccomponentsignature',
]);

export interface CompileOptions {
  libinjection: LibInjection | null;
  warn(msg: string): void;
}

interface DefaultActions {
  disruptive: Disruptive;
  log: boolean;
  transforms: string[];
  status: number;
}

interface TargetUpdate { kind: 'id'; ranges: Array<[number, number]>; specs: VariableSpec[]; file: string; line: number }
interface TargetUpdateTag { kind: 'tag'; tag: string; specs: VariableSpec[]; file: string; line: number }

/** A node of the transformation trie: one step after its parent's chain. */
export interface TNode {
  parent: number;
  fn: Transform;
  /** union of the trigger bytes of every step up to here (transforms.ts triggerBytes); null when a step always runs */
  trig: Int32Array | null;
}

export interface CompiledRuleSet {
  phases: PhaseEntry[][]; // index 1..5
  /**
   * Per phase, per entry: -1 for a marker, else the rule's skipNeeds. runPhase decides from these
   * packed arrays which entries to pass over, without loading rule objects scattered in the heap.
   */
  entryNeeds: Int32Array[];
  /** Per phase, per entry: the specId of a one-link rule with a packed byte prefilter (entryReq), else -1 */
  entrySpec: Int32Array[];
  /** Per phase: 8 words per entry, the raw bytes one of which a value of entrySpec's list must hold for the rule to match */
  entryReq: Int32Array[];
  /** Per phase, per entry: the first link's vidx (-1: none, or a marker) */
  entryVidx: Int32Array[];
  /** number of links with a vidx */
  verdictLinks: number;
  /** whether transactions keep value verdicts across transactions (LoadWafOptions.rememberVerdicts) */
  rememberVerdicts: boolean;
  /** per phase: marker name -> index of the marker entry */
  markers: Array<Map<string, number>>;
  engineMode: EngineMode;
  limits: WafLimits;
  report: LoadReport;
  ruleById: Map<number, Rule>;
  tnodes: ReadonlyArray<TNode>;
  /** one automaton over the required literals of all @rx operators (null when none) */
  literals: ValueScanner | null;
  /**
   * Every collection a rule of phases 3-5 reads, through a target or a macro (in an operand, msg,
   * logdata, setvar or redirect), chains included: request data outside it is never read again
   * once phase 2 is over (Transaction.releaseRequestPhases).
   */
  lateReads: ReadonlySet<string>;
  /**
   * Collection -> the shared lists built from it: the specIds (RuleLink.specId) and target ids
   * (RuleLink.targetIds) whose targets read it. When a collection changes, a transaction drops
   * only these lists (Transaction.changed); the others stay valid across phases.
   */
  listsByColl: ReadonlyMap<string, { readonly specs: readonly number[]; readonly tids: readonly number[] }>;
  /** number of specIds and of target ids: a transaction's list caches are arrays of these lengths */
  specCount: number;
  targetIdCount: number;
}

export function parseIdRanges(s: string, file: string, line: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const part of s.split(/[\s,]+/).filter(Boolean)) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new WafParseError(file, line, `bad rule id or range '${part}'`);
    out.push([Number(m[1]), Number(m[2] ?? m[1])]);
  }
  return out;
}

function lateReads(phases: PhaseEntry[][]): Set<string> {
  const out = new Set<string>();
  const macro = (m: Macro | null) => { if (m) for (const p of m) if (typeof p !== 'string') out.add(p.collection); };
  for (let phase = 3; phase < phases.length; phase++) {
    for (const e of phases[phase] ?? []) {
      if (e.kind !== 'rule') continue;
      macro(e.msg);
      macro(e.logdata);
      if (e.redirect !== null) macro(compileMacro(e.redirect));
      for (let l: RuleLink | null = e; l; l = l.next) {
        for (const t of l.targets) out.add(t.collection);
        macro(compileMacro(l.opParam));
        for (const sv of l.setvars) { macro(sv.name); macro(sv.value); }
      }
    }
  }
  return out;
}

export const inRanges = (id: number, ranges: Array<[number, number]>) => ranges.some(([a, b]) => id >= a && id <= b);

function keyRegex(src: string, file: string, line: number): RegExp {
  try {
    const t = translatePcre(src, true);
    return new RegExp(t.source, t.flags);
  } catch (e) {
    throw new WafParseError(file, line, `bad /regex/ key '${src}': ${(e as Error).message}`);
  }
}

export function toExclusion(v: VariableSpec, file: string, line: number): Exclusion {
  return {
    collection: v.collection,
    key: v.key !== undefined ? v.key.toLowerCase() : undefined,
    keyRe: v.keyRegex !== undefined ? keyRegex(v.keyRegex, file, line) : undefined,
  };
}

function toTarget(v: VariableSpec, file: string, line: number): Target {
  return {
    collection: v.collection,
    key: v.key !== undefined ? v.key.toLowerCase() : undefined,
    rawKey: v.key,
    keyRe: v.keyRegex !== undefined ? keyRegex(v.keyRegex, file, line) : undefined,
    keyPrefix: v.keyRegex !== undefined && /^\^[\w-]+$/.test(v.keyRegex) ? v.keyRegex.slice(1).toLowerCase() : undefined,
    count: v.count,
    kind: targetKind(v.collection),
  };
}

export class Compiler {
  readonly phases: PhaseEntry[][] = [[], [], [], [], [], []];
  readonly ruleById = new Map<number, Rule>();
  readonly rules: Rule[] = [];
  engineMode: EngineMode = 'On';
  readonly limits: WafLimits = {
    requestBodyAccess: true, requestBodyLimit: 13107200, requestBodyNoFilesLimit: 131072,
    requestBodyLimitAction: 'Reject', responseBodyAccess: true, responseBodyLimit: 524288,
    responseBodyLimitAction: 'ProcessPartial', responseBodyMimeTypes: ['text/plain', 'text/html', 'text/xml'],
    argumentsLimit: 1000, jsonDepthLimit: 1024,
  };
  readonly report: LoadReport = {
    warnings: [], rules: 0, nonLinearRegexes: [], regexNotes: [],
    redosGuard: { backtrackFallback: false, linearCheck: false }, regexCount: 0,
  };
  private readonly defaults = new Map<number, DefaultActions>();
  private readonly removeIds: Array<[number, number]> = [];
  private readonly removeTags: string[] = [];
  private readonly removeMsgs: string[] = [];
  private readonly targetUpdates: Array<TargetUpdate | TargetUpdateTag> = [];
  private readonly tchainIds = new Map<string, number>();
  private readonly dataCache = new Map<string, string[]>();
  private pendingChain: { head: Rule; tail: RuleLink } | null = null;
  private readonly opts: CompileOptions;
  private includeDepth = 0;

  constructor(opts: CompileOptions) {
    this.opts = opts;
  }

  warn(msg: string): void {
    this.report.warnings.push(msg);
    this.opts.warn(msg);
  }

  loadFile(path: string): void {
    let text: string;
    try { text = readFileSync(path, 'latin1'); } catch (e) {
      throw new WafParseError(path, 0, `cannot read rules file: ${(e as Error).message}`);
    }
    this.loadText(text, path);
  }

  loadText(text: string, name: string): void {
    for (const d of parseSecLang(text, name)) this.directive(d);
  }

  private directive(d: Directive): void {
    const name = d.name.toLowerCase();
    const need = (k: number) => {
      if (d.args.length < k) throw new WafParseError(d.file, d.line, `${d.name} needs ${k} argument(s), got ${d.args.length}`);
    };
    if (this.pendingChain && name !== 'secrule') {
      throw new WafParseError(d.file, d.line, `rule ${this.pendingChain.head.id} ends with 'chain' but is followed by ${d.name}, not SecRule`);
    }
    switch (name) {
      case 'secrule': need(2); this.secRule(d, d.args[0], d.args[1], d.args[2] ?? ''); return;
      case 'secaction': need(1); this.secRule(d, null, null, d.args[0]); return;
      case 'secmarker': {
        need(1);
        for (let p = 1; p <= 5; p++) this.phases[p].push({ kind: 'marker', name: d.args[0] });
        return;
      }
      case 'secdefaultaction': need(1); this.secDefaultAction(d); return;
      case 'secruleengine': need(1); this.engineMode = engineMode(d.args[0], d); return;
      case 'secruleremovebyid': need(1); this.removeIds.push(...parseIdRanges(d.args.join(' '), d.file, d.line)); return;
      case 'secruleremovebytag': need(1); this.removeTags.push(...d.args); return;
      case 'secruleremovebymsg': need(1); this.removeMsgs.push(...d.args); return;
      case 'secruleupdatetargetbyid': {
        need(2);
        if (d.args[2]) throw new WafParseError(d.file, d.line, 'SecRuleUpdateTargetById with a replacement target is not supported');
        this.targetUpdates.push({ kind: 'id', ranges: parseIdRanges(d.args[0], d.file, d.line), specs: parseVariables(d.args[1], d.file, d.line), file: d.file, line: d.line });
        return;
      }
      case 'secruleupdatetargetbytag': {
        need(2);
        this.targetUpdates.push({ kind: 'tag', tag: d.args[0], specs: parseVariables(d.args[1], d.file, d.line), file: d.file, line: d.line });
        return;
      }
      case 'secruleupdateactionbyid':
        throw new WafParseError(d.file, d.line, 'SecRuleUpdateActionById is not supported');
      case 'include': need(1); this.include(d); return;
      case 'secrequestbodyaccess': need(1); this.limits.requestBodyAccess = onOff(d.args[0], d); return;
      case 'secresponsebodyaccess': need(1); this.limits.responseBodyAccess = onOff(d.args[0], d); return;
      case 'secrequestbodylimit': need(1); this.limits.requestBodyLimit = int(d.args[0], d); return;
      case 'secrequestbodynofileslimit': need(1); this.limits.requestBodyNoFilesLimit = int(d.args[0], d); return;
      case 'secresponsebodylimit': need(1); this.limits.responseBodyLimit = int(d.args[0], d); return;
      case 'secargumentslimit': need(1); this.limits.argumentsLimit = int(d.args[0], d); return;
      case 'secrequestbodyjsondepthlimit': need(1); this.limits.jsonDepthLimit = int(d.args[0], d); return;
      case 'secrequestbodylimitaction': need(1); this.limits.requestBodyLimitAction = limitAction(d.args[0], d); return;
      case 'secresponsebodylimitaction': need(1); this.limits.responseBodyLimitAction = limitAction(d.args[0], d); return;
      case 'secresponsebodymimetype': need(1); this.limits.responseBodyMimeTypes = d.args.join(' ').split(/\s+/).filter(Boolean).map((s) => s.toLowerCase()); return;
      case 'secresponsebodymimetypesclear': this.limits.responseBodyMimeTypes = []; return;
      default:
        if (IGNORED.has(name)) return;
        if (name.startsWith('sec')) { this.warn(`${d.file}:${d.line}: directive ${d.name} is not supported and was ignored`); return; }
        throw new WafParseError(d.file, d.line, `unknown directive '${d.name}'`);
    }
  }

  private include(d: Directive): void {
    if (this.includeDepth > 10) throw new WafParseError(d.file, d.line, 'Include nested too deeply');
    const pat = isAbsolute(d.args[0]) ? d.args[0] : resolve(dirname(d.file), d.args[0]);
    const files = expandGlob(pat);
    if (files.length === 0 && !/[*?[]/.test(pat)) throw new WafParseError(d.file, d.line, `Include: no such file ${pat}`);
    this.includeDepth++;
    try { for (const f of files) this.loadFile(f); } finally { this.includeDepth--; }
  }

  private secDefaultAction(d: Directive): void {
    const acts = parseActions(d.args[0], d.file, d.line);
    let phase = 2;
    const def: DefaultActions = { disruptive: 'pass', log: true, transforms: [], status: 0 };
    for (const [k, v] of acts) {
      const lk = k.toLowerCase();
      if (lk === 'phase') phase = phaseNum(v ?? '', d);
      else if (['pass', 'deny', 'drop', 'block', 'allow', 'redirect'].includes(lk)) def.disruptive = lk as Disruptive;
      else if (lk === 'log') def.log = true;
      else if (lk === 'nolog') def.log = false;
      else if (lk === 't') { if ((v ?? '').toLowerCase() === 'none') def.transforms = []; else def.transforms.push(v ?? ''); } else if (lk === 'status') def.status = int(v ?? '', d);
    }
    this.defaults.set(phase, def);
  }

  /** Transformation chains form a trie so that shared prefixes are computed once per value. */
  readonly tnodes: TNode[] = [];

  private transformChainId(names: string[]): number {
    let node = -1;
    let key = '';
    for (const n of names) {
      key += ',' + n;
      let id = this.tchainIds.get(key);
      if (id === undefined) {
        id = this.tnodes.length;
        const own = triggerBytes(n);
        const up = node < 0 ? new Int32Array(8) : this.tnodes[node].trig;
        let trig: Int32Array | null = null;
        if (own !== null && up !== null) { trig = new Int32Array(8); for (let w = 0; w < 8; w++) trig[w] = own[w] | up[w]; }
        this.tnodes.push({ parent: node, fn: TRANSFORMS[n] as Transform, trig });
        this.tchainIds.set(key, id);
      }
      node = id;
    }
    return node;
  }

  private secRule(d: Directive, vars: string | null, operator: string | null, actionText: string): void {
    const acts = parseActions(actionText, d.file, d.line);
    const chainHead = this.pendingChain?.head ?? null;
    // First pass: id/phase so that errors can name the rule
    let id = chainHead ? chainHead.id : 0;
    let phase = chainHead ? chainHead.phase : 2;
    for (const [k, v] of acts) {
      const lk = k.toLowerCase();
      if (lk === 'id' && !chainHead) {
        if (!/^\d+$/.test(v ?? '')) throw new WafParseError(d.file, d.line, `bad rule id '${v}'`);
        id = Number(v);
      } else if (lk === 'phase' && !chainHead) phase = phaseNum(v ?? '', d);
    }
    if (!chainHead && id === 0) throw new WafParseError(d.file, d.line, 'rule has no id action');
    if (!chainHead && this.ruleById.has(id)) throw new WafParseError(d.file, d.line, `duplicate rule id ${id}`);
    const def = this.defaults.get(phase) ?? { disruptive: 'pass' as Disruptive, log: true, transforms: [], status: 0 };
    const tnames: string[] = chainHead ? [] : [...def.transforms];
    // Both objects are written out whole, the fields every evaluation reads first (runPhase,
    // evalRule, evalLink): V8 lays fields out in this order, inside the object, so a rule visit
    // touches its first cache lines only. (A `{ ...link, more }` copy put the rule's own fields in a
    // separate property array: one more indirection and cache line per visit.) Measured with the
    // engine's data evicted between requests, as in a gateway: see bench/waf-engine.ts.
    const link: RuleLink = {
      txGate: null, specId: -1, vidx: -1, exclByColl: null, req: null, rawReq: null, lit: -1, op: () => true, opNegated: false, tchain: -1, multiMatch: false, capture: false,
      next: null, setvars: [], ctls: [], targets: [], targetIds: [], tsteps: [],
      exclusions: [], opName: 'unconditionalMatch', opParam: '', transforms: [], transformNames: [], line: d.line,
    };
    const rule: Rule = {
      kind: 'rule', skipNeeds: 0, unconditional: vars === null,
      txGate: null, specId: -1, vidx: -1, exclByColl: null, req: null, rawReq: null, lit: -1, op: link.op, opNegated: false, tchain: -1, multiMatch: false, capture: false,
      next: null, setvars: link.setvars, ctls: link.ctls, targets: link.targets, targetIds: link.targetIds, tsteps: link.tsteps,
      disruptive: def.disruptive, log: def.log, severity: null, skipAfter: null, skipTo: -1, skip: 0, allowScope: 'all', id, phase,
      exclusions: link.exclusions, opName: 'unconditionalMatch', opParam: '', transforms: link.transforms, transformNames: link.transformNames, line: d.line,
      file: d.file, msg: null, logdata: null, tags: [], ver: null, status: def.status || 403, redirect: null,
    };
    let disruptiveSet = false;
    let isChain = false;
    const target: RuleLink = chainHead ? link : rule;
    for (const [k, v] of acts) {
      const lk = k.toLowerCase();
      const val = v ?? '';
      const headOnly = (what: string) => {
        if (chainHead) throw new WafParseError(d.file, d.line, `action '${what}' is only allowed in the first rule of a chain (rule ${id})`);
      };
      switch (lk) {
        case 'id': case 'phase': break;
        case 'chain': isChain = true; break;
        case 't':
          if (val.toLowerCase() === 'none') tnames.length = 0;
          else {
            if (!TRANSFORMS[val.toLowerCase()]) throw new WafParseError(d.file, d.line, `rule ${id}: unknown transformation t:${val}`);
            tnames.push(val.toLowerCase());
          }
          break;
        case 'msg': headOnly(lk); rule.msg = compileMacro(val); break;
        case 'logdata': (chainHead ?? rule).logdata = compileMacro(val); break;
        case 'tag': headOnly(lk); rule.tags.push(val); break;
        case 'ver': rule.ver = val; break;
        case 'rev': case 'maturity': case 'accuracy': case 'auditlog': case 'noauditlog': case 'sanitisematched':
        case 'sanitisearg': case 'sanitiserequestheader': case 'sanitiseresponseheader': case 'sanitisematchedbytes':
        case 'expirevar': case 'deprecatevar': case 'initcol': case 'setuid': case 'setsid': case 'setenv': case 'setrsc':
        case 'xmlns': case 'append': case 'prepend':
          break;
        case 'severity': {
          headOnly(lk);
          const s = /^\d$/.test(val) ? SEVERITIES[Number(val)] : val.toUpperCase();
          if (!SEVERITIES.includes(s)) throw new WafParseError(d.file, d.line, `rule ${id}: bad severity '${val}'`);
          rule.severity = s;
          break;
        }
        case 'pass': case 'deny': case 'drop': case 'block': case 'allow': case 'redirect':
          headOnly(lk);
          rule.disruptive = lk === 'block' ? def.disruptive : lk;
          if (lk === 'block' && def.disruptive === 'block') rule.disruptive = 'pass';
          if (lk === 'allow') rule.allowScope = val === 'phase' ? 'phase' : val === 'request' ? 'request' : 'all';
          if (lk === 'redirect') rule.redirect = val;
          disruptiveSet = true;
          break;
        case 'status': headOnly(lk); rule.status = int(val, d); break;
        case 'log': headOnly(lk); rule.log = true; break;
        case 'nolog': headOnly(lk); rule.log = false; break;
        case 'capture': target.capture = true; break;
        case 'multimatch': target.multiMatch = true; break;
        case 'skipafter': headOnly(lk); rule.skipAfter = val; break;
        case 'skip': headOnly(lk); rule.skip = int(val, d); break;
        case 'setvar': target.setvars.push(compileSetvar(val, d, id)); break;
        case 'ctl': target.ctls.push(compileCtl(val, d, id)); break;
        case 'exec':
          throw new WafParseError(d.file, d.line, `rule ${id}: action exec (external scripts) is not supported`);
        default:
          throw new WafParseError(d.file, d.line, `rule ${id}: unknown action '${k}'`);
      }
    }
    void disruptiveSet;
    target.transformNames = tnames;
    target.transforms = tnames.map((t) => TRANSFORMS[t]) as Transform[];
    target.tchain = this.transformChainId(tnames);
    if (vars !== null && operator !== null) {
      const specs = parseVariables(vars, d.file, d.line);
      for (const s of specs) {
        if (s.negated) target.exclusions.push(toExclusion(s, d.file, d.line));
        else target.targets.push(toTarget(s, d.file, d.line));
      }
      let op = operator;
      let negated = false;
      if (op.startsWith('!')) { negated = true; op = op.slice(1); }
      let opName = 'rx';
      let opParam = op;
      if (op.startsWith('@')) {
        const sp = op.search(/\s/);
        opName = sp < 0 ? op.slice(1) : op.slice(1, sp);
        opParam = sp < 0 ? '' : op.slice(sp + 1).replace(/^\s+/, '');
      }
      target.opName = opName;
      target.opParam = opParam;
      target.opNegated = negated;
      const ctx: OpCompileContext = {
        file: d.file, line: d.line, ruleId: id, warn: (m) => this.warn(`${d.file}:${d.line}: ${m}`),
        libinjection: this.opts.libinjection, dataCache: this.dataCache,
        regexReport: (e) => {
          this.report.regexCount++;
          if (e.notes.length) this.report.regexNotes.push({ ruleId: e.ruleId, file: e.file, line: e.line, notes: [...new Set(e.notes)] });
          if (e.linear === false) {
            this.report.nonLinearRegexes.push({
              ruleId: e.ruleId, file: e.file, line: e.line,
              handling: 'runs on the backtracking engine only, without the linear-time fallback (backreference or lookahead); review it for ReDoS',
            });
          }
        },
      };
      try {
        target.op = compileOperator(opName, opParam, ctx);
        target.req = target.op.req ?? null;
      } catch (e) {
        if (e instanceof OperatorError) throw new WafCompileError(d.file, d.line, `rule ${id}: ${e.message}`);
        throw e;
      }
    }
    if (chainHead) {
      this.pendingChain!.tail.next = link;
      this.pendingChain!.tail = link;
      if (!isChain) this.pendingChain = null;
      return;
    }
    this.ruleById.set(id, rule);
    this.rules.push(rule);
    this.phases[phase].push(rule);
    if (isChain) this.pendingChain = { head: rule, tail: rule };
  }

  finish(): CompiledRuleSet {
    if (this.pendingChain) throw new WafParseError(this.pendingChain.head.file, this.pendingChain.head.line, `rule ${this.pendingChain.head.id} ends with 'chain' but no rule follows`);
    // Target updates apply to all rules regardless of order (as ModSecurity v3 stores them as exceptions).
    for (const u of this.targetUpdates) {
      const rules = u.kind === 'id' ? this.rules.filter((r) => inRanges(r.id, u.ranges)) : this.rules.filter((r) => r.tags.includes(u.tag));
      for (const r of rules) {
        for (const s of u.specs) {
          if (s.negated) r.exclusions.push(toExclusion(s, u.file, u.line));
          else r.targets.push(toTarget(s, u.file, u.line));
        }
      }
    }
    const removed = (r: Rule) => inRanges(r.id, this.removeIds) || r.tags.some((t) => this.removeTags.includes(t)) ||
      (r.msg !== null && this.removeMsgs.includes(r.msg.map((p) => (typeof p === 'string' ? p : '')).join('')));
    const phases = this.phases.map((list) => list.filter((e) => e.kind === 'marker' || !removed(e)));
    const markers = phases.map((list) => {
      const m = new Map<string, number>();
      list.forEach((e, k) => { if (e.kind === 'marker') m.set(e.name, k); });
      return m;
    });
    // validate skipAfter targets, and resolve them
    for (const r of this.rules) {
      if (r.skipAfter === null) continue;
      const k = markers[r.phase].get(r.skipAfter);
      r.skipTo = k ?? phases[r.phase].length - 1;
      if (k === undefined) this.warn(`${r.file}:${r.line}: rule ${r.id}: skipAfter target '${r.skipAfter}' has no SecMarker; the rule skips to the end of the phase`);
    }
    this.report.rules = phases.reduce((a, l) => a + l.filter((e) => e.kind === 'rule').length, 0);
    const ruleById = new Map<number, Rule>();
    for (const list of phases) for (const e of list) if (e.kind === 'rule') ruleById.set(e.id, e);
    const tids = new Map<string, number>();
    const sig = (x: { collection: string; key?: string; keyRe?: RegExp }) => `${x.collection}:${x.key ?? ''}:${x.keyRe?.source ?? ''}`;
    const specs = new Map<string, number>();
    const listsByColl = new Map<string, { specs: number[]; tids: number[] }>();
    const listsOf = (c: string) => { let x = listsByColl.get(c); if (x === undefined) { x = { specs: [], tids: [] }; listsByColl.set(c, x); } return x; };
    const volatile = /^(TX|IP|GLOBAL|SESSION|USER|RESOURCE|MATCHED_VARS?|MATCHED_VARS?_NAMES?|MATCHED_VAR_NAME|RULE|DURATION|HIGHEST_SEVERITY|TIME.*)$/;
    for (const r of this.rules) {
      for (let l: RuleLink | null = r; l; l = l.next) {
        l.targetIds = l.targets.map((t) => {
          if (volatile.test(t.collection)) return -1;
          const key = (t.count ? '&' : '') + sig(t) + '!' + l!.exclusions.filter((x) => x.collection === t.collection).map(sig).sort().join('|');
          let id = tids.get(key);
          if (id === undefined) { id = tids.size; tids.set(key, id); listsOf(t.collection).tids.push(id); }
          return id;
        });
        if (l.targets.length === 0 || l.targets.some((t) => volatile.test(t.collection))) continue;
        const key = l.targets.map((t) => `${t.count ? '&' : ''}${t.collection}:${t.key ?? ''}:${t.keyRe?.source ?? ''}`).join('|') + '!' +
          l.exclusions.map((x) => `${x.collection}:${x.key ?? ''}:${x.keyRe?.source ?? ''}`).sort().join('|');
        let id = specs.get(key);
        if (id === undefined) {
          id = specs.size;
          specs.set(key, id);
          for (const c of new Set(l.targets.map((t) => t.collection))) listsOf(c).specs.push(id);
        }
        l.specId = id;
      }
    }
    for (const r of this.rules) r.skipNeeds = skipNeedsOf(r);
    // links whose outcome on a value depends on that value only (see RuleLink.vidx)
    let verdictLinks = 0;
    for (const r of this.rules) {
      for (let l: RuleLink | null = r; l; l = l.next) {
        l.vidx = l.specId >= 0 && !(l === r && r.unconditional) && !l.targets.some((t) => t.count) && !l.opParam.includes('%{') ? verdictLinks++ : -1;
      }
    }
    const interned = new Map<string, Exclusion[]>();
    for (const r of this.rules) for (let l: RuleLink | null = r; l; l = l.next) l.exclByColl = groupExclusions(l.exclusions, interned);
    // ctl:ruleRemoveTarget* - resolve the affected rules once, at load
    for (const r of this.rules) {
      for (let l: RuleLink | null = r; l; l = l.next) {
        for (const c of l.ctls) {
          if (c.kind === 'ruleRemoveTargetById') for (const x of this.rules) { if (inRanges(x.id, c.ranges)) c.ruleIds.add(x.id); }
          if (c.kind === 'ruleRemoveTargetByTag') for (const x of this.rules) { if (x.tags.includes(c.tag)) c.ruleIds.add(x.id); }
        }
      }
    }
    // and per phase, which entries such a ctl (or a ctl:ruleRemoveById) names: runPhase reads
    // these masks instead of looking each entry's id up (CRS 941010's ctl fires in most requests)
    const masksOf = (hit: (id: number) => boolean) => phases.map((list) => Uint8Array.from(list, (e) => (e.kind === 'rule' && hit(e.id) ? 1 : 0)));
    for (const r of this.rules) {
      for (let l: RuleLink | null = r; l; l = l.next) {
        for (const c of l.ctls) {
          if (c.kind === 'ruleRemoveTargetById' || c.kind === 'ruleRemoveTargetByTag') c.masks = masksOf((id) => c.ruleIds.has(id));
          else if (c.kind === 'ruleRemoveById') c.masks = masksOf((id) => inRanges(id, c.ranges));
        }
      }
    }
    // literal prefilter: one bit per distinct required-literal set of an @rx and per distinct @pm
    // phrase list, all found by one scan per distinct value (literals.ts)
    const litIds = new Map<string, number>();
    const litSets: string[][] = [];
    const phraseIds = new Map<string, number>();
    const phraseSets: string[][] = [];
    const phraseLinks: Array<[RuleLink, number]> = [];
    let gates = 0;
    phases.forEach((list, phase) => {
      for (const e of list) {
        if (e.kind !== 'rule') continue;
        for (let l: RuleLink | null = e; l; l = l.next) {
          // chain prefix nodes, so multiMatch can reuse the per-transaction transformation cache
          l.tsteps = [];
          for (let n = l.tchain; n >= 0; n = this.tnodes[n].parent) l.tsteps.unshift(n);
          // a value whose raw bytes cannot become a byte the operator needs is skipped untransformed
          l.rawReq = l.req !== null && l.transformNames.length > 0 ? chainDangerBytes(l.transformNames, l.req) : null;
          l.txGate = txGateOf(l, gates);
          if (l.txGate !== null) gates++;
          const phrases = l.op.phrases;
          // phrase lists of request rules only: the response ones (error pages) are large and
          // would make the automaton several times bigger
          if (phrases && phase <= 2) {
            const key = phrases.join('\0');
            let k = phraseIds.get(key);
            if (k === undefined) { k = phraseSets.length; phraseSets.push(phrases); phraseIds.set(key, k); }
            phraseLinks.push([l, k]);
            continue;
          }
          const lits = l.op.lits;
          if (!lits || lits.length === 0) continue;
          const key = lits.join('\0');
          let g = litIds.get(key);
          if (g === undefined) { g = litSets.length; litSets.push(lits); litIds.set(key, g); }
          l.lit = g;
        }
      }
    });
    for (const [l, k] of phraseLinks) l.lit = litSets.length + k;
    const literals = litSets.length + phraseSets.length > 0 ? new ValueScanner(litSets, phraseSets) : null;
    // what runPhase reads of every entry before deciding to evaluate it, packed per phase
    const entryNeeds = phases.map((list) => Int32Array.from(list, (e) => (e.kind === 'marker' ? -1 : e.skipNeeds)));
    // one-link rules over a shared value list (specId) whose operator needs one of a set of raw
    // bytes (rawReq, or req when nothing transforms the values): the list and that set, packed
    // (no count target: a ctl:ruleRemoveTarget* can only shrink the list, so a test that holds for
    // the whole list holds for the narrowed one too, which a count, changed by the narrowing, breaks)
    const packedReq = (e: PhaseEntry) => (e.kind === 'rule' && e.next === null && !e.opNegated && !e.unconditional && e.txGate === null && e.specId >= 0 &&
      !e.targets.some((t) => t.count) ? e.rawReq ?? (e.tchain === -1 ? e.req : null) : null);
    const entrySpec = phases.map((list) => Int32Array.from(list, (e) => (packedReq(e) !== null ? (e as Rule).specId : -1)));
    const entryReq = phases.map((list) => {
      const a = new Int32Array(list.length * 8);
      list.forEach((e, i) => { const r = packedReq(e); if (r !== null) a.set(r, i * 8); });
      return a;
    });
    const entryVidx = phases.map((list) => Int32Array.from(list, (e) => (e.kind === 'rule' ? e.vidx : -1)));
    return { phases, entryNeeds, entrySpec, entryReq, entryVidx, verdictLinks, rememberVerdicts: true, markers, engineMode: this.engineMode, limits: { ...this.limits }, report: this.report, ruleById, tnodes: this.tnodes, literals, lateReads: lateReads(phases), listsByColl, specCount: specs.size, targetIdCount: tids.size };
  }
}

const GATE_OPS = ['eq', 'ge', 'gt', 'le', 'lt'];

/** The TX comparison fast path of a link (see RuleLink.txGate), when it has exactly that shape. */
function txGateOf(l: RuleLink, index: number): TxGate | null {
  if (l.targets.length !== 1 || l.exclusions.length !== 0 || l.transforms.length !== 0 || l.multiMatch) return null;
  const t = l.targets[0];
  if (t.collection !== 'TX' || t.key === undefined || t.keyRe !== undefined) return null;
  const cmp = GATE_OPS.indexOf(l.opName.toLowerCase());
  if (cmp < 0 || l.opParam.includes('%{')) return null;
  return { key: t.key, count: t.count, countName: t.rawKey !== undefined ? `&TX:${t.rawKey}` : '&TX', cmp, operand: numeric(l.opParam), index };
}

/**
 * Group exclusions by collection. With `intern`, identical per-collection lists are shared between
 * rules, so a transaction can cache the filtered values per (list, collection contents).
 */
export function groupExclusions(list: Exclusion[], intern?: Map<string, Exclusion[]>): Map<string, Exclusion[]> | null {
  if (list.length === 0) return null;
  const m = new Map<string, Exclusion[]>();
  for (const x of list) {
    const a = m.get(x.collection);
    if (a) a.push(x);
    else m.set(x.collection, [x]);
  }
  if (intern) {
    for (const [coll, xs] of m) {
      const key = coll + '\0' + xs.map((x) => (x.key !== undefined ? 'k:' + x.key : x.keyRe ? 'r:' + x.keyRe.source : '*')).sort().join('\0');
      const hit = intern.get(key);
      if (hit) m.set(coll, hit);
      else intern.set(key, xs);
    }
  }
  return m;
}

function compileSetvar(s: string, d: Directive, id: number): SetVar {
  let t = s.trim();
  let del = false;
  if (t.startsWith('!')) { del = true; t = t.slice(1); }
  const eq = t.indexOf('=');
  const lhs = eq < 0 ? t : t.slice(0, eq);
  const dot = lhs.indexOf('.');
  if (dot < 0) throw new WafParseError(d.file, d.line, `rule ${id}: setvar '${s}' needs collection.name`);
  const collection = lhs.slice(0, dot).toUpperCase();
  const name = compileMacro(lhs.slice(dot + 1));
  if (del) return { collection, name, op: 'del', value: [] };
  if (eq < 0) return { collection, name, op: 'set', value: ['1'] };
  let rhs = t.slice(eq + 1);
  let op: SetVar['op'] = 'set';
  if (rhs.startsWith('+')) { op = 'add'; rhs = rhs.slice(1); } else if (rhs.startsWith('-')) { op = 'sub'; rhs = rhs.slice(1); }
  return { collection, name, op, value: compileMacro(rhs) };
}

/** ctl:ruleRemoveTarget* actions compiled so far in this process (their uids) */
let targetCtls = 0;

function compileCtl(s: string, d: Directive, id: number): Ctl {
  const eq = s.indexOf('=');
  if (eq < 0) throw new WafParseError(d.file, d.line, `rule ${id}: ctl '${s}' needs name=value`);
  const name = s.slice(0, eq).trim();
  const value = s.slice(eq + 1).trim();
  const targetsOf = (v: string) => {
    const semi = v.indexOf(';');
    if (semi < 0) throw new WafParseError(d.file, d.line, `rule ${id}: ctl:${name} needs 'what;TARGET'`);
    const specs = parseVariables(v.slice(semi + 1), d.file, d.line);
    return { what: v.slice(0, semi), targets: specs.map((sp) => toExclusion(sp, d.file, d.line)) };
  };
  switch (name.toLowerCase()) {
    case 'ruleengine': return { kind: 'ruleEngine', mode: engineMode(value, d) };
    case 'ruleremovebyid': return { kind: 'ruleRemoveById', ranges: parseIdRanges(value, d.file, d.line) };
    case 'ruleremovebytag': return { kind: 'ruleRemoveByTag', tag: value };
    case 'ruleremovebymsg': return { kind: 'ruleRemoveByMsg', msg: value };
    case 'ruleremovetargetbyid': { const t = targetsOf(value); return { kind: 'ruleRemoveTargetById', ranges: parseIdRanges(t.what, d.file, d.line), targets: t.targets, ruleIds: new Set(), uid: ++targetCtls }; }
    case 'ruleremovetargetbytag': { const t = targetsOf(value); return { kind: 'ruleRemoveTargetByTag', tag: t.what, targets: t.targets, ruleIds: new Set(), uid: ++targetCtls }; }
    case 'requestbodyprocessor': return { kind: 'requestBodyProcessor', processor: value.toUpperCase() };
    case 'forcerequestbodyvariable': return { kind: 'forceRequestBodyVariable', on: onOff(value, d) };
    case 'requestbodyaccess': return { kind: 'requestBodyAccess', on: onOff(value, d) };
    case 'responsebodyaccess': return { kind: 'responseBodyAccess', on: onOff(value, d) };
    case 'requestbodylimit': return { kind: 'requestBodyLimit', limit: int(value, d) };
    case 'auditengine': case 'auditlogparts': case 'debugloglevel': case 'hashengine': case 'hashenforcement':
      return { kind: 'ignored', name };
    default: throw new WafParseError(d.file, d.line, `rule ${id}: unsupported ctl '${name}'`);
  }
}

function engineMode(v: string, d: Directive): EngineMode {
  const l = v.toLowerCase();
  if (l === 'on') return 'On';
  if (l === 'off') return 'Off';
  if (l === 'detectiononly') return 'DetectionOnly';
  throw new WafParseError(d.file, d.line, `bad engine mode '${v}' (On, Off or DetectionOnly)`);
}

function onOff(v: string, d: Directive): boolean {
  const l = v.toLowerCase();
  if (l === 'on' || l === 'true' || l === '1') return true;
  if (l === 'off' || l === 'false' || l === '0') return false;
  throw new WafParseError(d.file, d.line, `expected On or Off, got '${v}'`);
}

function int(v: string, d: Directive): number {
  if (!/^\d+$/.test(v.trim())) throw new WafParseError(d.file, d.line, `expected a number, got '${v}'`);
  return Number(v);
}

function limitAction(v: string, d: Directive): 'Reject' | 'ProcessPartial' {
  if (v.toLowerCase() === 'reject') return 'Reject';
  if (v.toLowerCase() === 'processpartial') return 'ProcessPartial';
  throw new WafParseError(d.file, d.line, `expected Reject or ProcessPartial, got '${v}'`);
}

function phaseNum(v: string, d: Directive): number {
  const l = v.toLowerCase();
  if (l === 'request') return 2;
  if (l === 'response') return 4;
  if (l === 'logging') return 5;
  if (/^[1-5]$/.test(l)) return Number(l);
  throw new WafParseError(d.file, d.line, `bad phase '${v}'`);
}

/** Minimal glob for Include: '*' and '?' in the last path segment. */
export function expandGlob(pattern: string): string[] {
  const dir = dirname(pattern);
  const base = basename(pattern);
  if (!/[*?[]/.test(base)) {
    try { statSync(pattern); return [pattern]; } catch { return []; }
  }
  const re = new RegExp('^' + base.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$');
  let names: string[];
  try { names = readdirSync(dir); } catch { return []; }
  return names.filter((n) => re.test(n)).sort().map((n) => join(dir, n));
}
