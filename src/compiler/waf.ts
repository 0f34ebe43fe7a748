// WafPolicy -> a compiled WAF (src/waf). Loading the CRS costs about half a second, so compiled
// rule sets are cached across reloads by their options and the files' modification times: a
// reload that does not touch the WAF does not pay for it, and one that does gets a fresh build
// (the old one keeps serving until the swap).
import fs from 'node:fs';
import path from 'node:path';
import { compileWaf, type LoadWafOptions, type Waf } from '../waf/index.ts';
import { detectSQLi, detectXSS } from '../waf/libinjection/index.ts';
import type { WafPolicyT } from '../config/schema.ts';

export interface WafRuntime {
  readonly policyId: string;
  readonly waf: Waf;
  readonly inspectBody: boolean;
  readonly bodyLimit: number;
  readonly mode: 'Block' | 'DetectionOnly';
  /** Response bodies of these Content-Types are held and inspected (phase 4), up to `responseBodyLimit` bytes. */
  readonly inspectResponseBody: boolean;
  readonly responseBodyLimit: number;
  readonly responseMimeTypes: ReadonlySet<string>;
}

export type WafLoad = { ok: true; value: WafRuntime } | { ok: false; message: string; hint: string };

const DEFAULT_BODY_LIMIT = 1024 * 1024;
/** ModSecurity's SecResponseBodyLimit default. */
const DEFAULT_RESPONSE_BODY_LIMIT = 512 * 1024;
/**
 * ModSecurity's recommended SecResponseBodyMimeType (text/plain text/html text/xml), plus
 * application/json: this is an API gateway, and API error bodies (where SQL errors and stack
 * traces leak) are JSON.
 */
export const DEFAULT_RESPONSE_MIME_TYPES = ['text/plain', 'text/html', 'text/xml', 'application/json'];

export class WafCache {
  private readonly entries = new Map<string, Waf>();

  load(policyId: string, spec: WafPolicyT['spec'], baseDir: string): WafLoad {
    const bodyLimit = spec.requestBody?.limit ?? DEFAULT_BODY_LIMIT;
    const inspectResponseBody = spec.responseBody?.inspect ?? false;
    const responseBodyLimit = spec.responseBody?.limit ?? DEFAULT_RESPONSE_BODY_LIMIT;
    const responseMimeTypes = (spec.responseBody?.mimeTypes ?? DEFAULT_RESPONSE_MIME_TYPES).map((m) => m.toLowerCase());
    const opts: LoadWafOptions = {
      baseDir,
      ...(spec.ruleSet.crsDir ? { crsDir: spec.ruleSet.crsDir } : {}),
      ...(spec.ruleSet.files ? { files: spec.ruleSet.files } : {}),
      directives: [spec.ruleSet.directives ?? '', ...exclusionDirectives(spec.exclusions ?? [])].join('\n'),
      paranoiaLevel: spec.paranoiaLevel ?? 1,
      ...(spec.detectionParanoiaLevel ? { detectionParanoiaLevel: Math.max(spec.detectionParanoiaLevel, spec.paranoiaLevel ?? 1) } : {}),
      ...(spec.anomalyThreshold?.inbound ? { inboundAnomalyThreshold: spec.anomalyThreshold.inbound } : {}),
      ...(spec.anomalyThreshold?.outbound ? { outboundAnomalyThreshold: spec.anomalyThreshold.outbound } : {}),
      engineMode: spec.mode === 'DetectionOnly' ? 'DetectionOnly' : 'On',
      rememberVerdicts: spec.rememberVerdicts ?? true,
      // The request body limits. `requestBody.limit` is the policy's SecRequestBodyLimit: the
      // gateway reads at most that many bytes of a body (files included) and refuses a larger one
      // with 413 before the engine sees it (waf-filter.ts), so it overrides a SecRequestBodyLimit
      // in the rule set. It is also the default SecRequestBodyNoFilesLimit (the engine's default
      // is modsecurity.conf-recommended's 128 KiB): a policy that says "bodies up to 1 MiB are
      // inspected" does not refuse a 200 KB JSON body. A rule set that sets
      // SecRequestBodyNoFilesLimit itself (ruleSet.directives or files, loaded after this) gets
      // ModSecurity 3.0.9's behaviour: a non-file body over it (a multipart body without its
      // files' contents) is REQBODY_ERROR, refused with 400 by rule 200002 (in Block mode).
      beforeCrs: `SecRequestBodyNoFilesLimit ${bodyLimit}`,
      // the response body limit action stays ProcessPartial: a larger body is inspected up to the
      // limit and the rest streams through, as ModSecurity's recommended configuration does
      limits: { requestBodyLimit: bodyLimit, responseBodyAccess: inspectResponseBody, responseBodyLimit, responseBodyMimeTypes: responseMimeTypes, responseBodyLimitAction: 'ProcessPartial' },
    };
    let key: string;
    try {
      key = JSON.stringify(opts) + fingerprint(spec, baseDir);
    } catch (err) {
      return { ok: false, message: `cannot read the rule set: ${(err as Error).message}`, hint: 'check ruleSet.crsDir and ruleSet.files (relative to this file)' };
    }
    let waf = this.entries.get(key);
    if (!waf) {
      try {
        waf = compileWaf(opts, { detectSQLi, detectXSS });
      } catch (err) {
        const e = err as { code?: string; message: string };
        return { ok: false, message: `the rule set does not load: ${e.message}`, hint: e.code === 'PCS_ERR_WAF_PARSE' ? 'fix the SecLang at the file and line named' : 'check ruleSet' };
      }
      this.entries.set(key, waf);
    }
    return { ok: true, value: { policyId, waf, inspectBody: spec.requestBody?.inspect ?? true, bodyLimit, mode: spec.mode ?? 'Block', inspectResponseBody, responseBodyLimit, responseMimeTypes: new Set(responseMimeTypes) } };
  }

  /** Forget rule sets no config uses any more. */
  retain(used: Iterable<Waf>): void {
    const keep = new Set(used);
    for (const [k, w] of this.entries) if (!keep.has(w)) this.entries.delete(k);
  }
}

/** Exclusions in SecLang, the way CRS users write them by hand. */
export function exclusionDirectives(exclusions: NonNullable<WafPolicyT['spec']['exclusions']>): string[] {
  const out: string[] = [];
  const q = (s: string) => `"${s.replace(/["\\]/g, '\\$&')}"`;
  for (const x of exclusions) {
    const targets = x.targets ?? [];
    if (!targets.length) {
      for (const id of x.ruleIds ?? []) out.push(`SecRuleRemoveById ${id}`);
      for (const tag of x.tags ?? []) out.push(`SecRuleRemoveByTag ${q(tag)}`);
      continue;
    }
    const negated = targets.map((t) => `!${t}`).join('|');
    for (const id of x.ruleIds ?? []) out.push(`SecRuleUpdateTargetById ${id} ${q(negated)}`);
    for (const tag of x.tags ?? []) out.push(`SecRuleUpdateTargetByTag ${q(tag)} ${q(negated)}`);
  }
  return out;
}

/** Names and modification times of the rule files, so an edited rule file invalidates the cache. */
function fingerprint(spec: WafPolicyT['spec'], baseDir: string): string {
  const parts: string[] = [];
  const stat = (p: string) => { const st = fs.statSync(p); parts.push(`${p}:${st.mtimeMs}:${st.size}`); };
  if (spec.ruleSet.crsDir) {
    const dir = path.resolve(baseDir, spec.ruleSet.crsDir);
    for (const f of ['crs-setup.conf', 'crs-setup.conf.example']) if (fs.existsSync(path.join(dir, f))) stat(path.join(dir, f));
    const rules = path.join(dir, 'rules');
    for (const f of fs.readdirSync(rules).sort()) stat(path.join(rules, f));
  }
  for (const f of spec.ruleSet.files ?? []) { const p = path.resolve(baseDir, f); if (fs.existsSync(p)) stat(p); }
  return parts.join('|');
}
