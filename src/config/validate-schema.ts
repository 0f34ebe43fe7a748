// Stage 2: schema validation with validators precompiled once at module load (a bad schema fails
// at boot, not on the first reload). Turns Ajv's errors into diagnostics a person can act on.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { KINDS, type KindName } from './schema.ts';
import { formatPath, type Diagnostic } from './diagnostics.ts';
import type { SourceDoc } from './load.ts';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
// verbose: errors carry their schema, so an unknown-field error can list the allowed fields.
const ajv = new Ajv({ allErrors: true, strict: false, allowUnionTypes: true, verbose: true });
addFormats(ajv);

const validators = new Map<KindName, ValidateFunction>();
for (const [kind, k] of Object.entries(KINDS)) validators.set(kind as KindName, ajv.compile(k.schema));

/** A document that passed the schema: typed enough for the semantic stage. */
export interface Resource<T = any> {
  readonly kind: KindName;
  readonly namespace: string;
  readonly name: string;
  /** `Kind/namespace/name` */
  readonly id: string;
  readonly doc: T;
  readonly src: SourceDoc;
}

/** Kinds without a namespace (Kubernetes cluster scope). */
export const CLUSTER_SCOPED = new Set(['GatewayClass', 'Namespace']);

export function resourceId(kind: string, namespace: string, name: string): string {
  return namespace ? `${kind}/${namespace}/${name}` : `${kind}/${name}`;
}

export function validateSchema(docs: readonly SourceDoc[]): { resources: Resource[]; diagnostics: Diagnostic[] } {
  const resources: Resource[] = [];
  const diagnostics: Diagnostic[] = [];
  const seen = new Map<string, SourceDoc>();
  for (const src of docs) {
    const v = src.value as Record<string, any>;
    const diag = (p: (string | number)[], message: string, hint?: string, resource = '', key = false) => {
      const pos = src.locate(p, key);
      diagnostics.push({ file: src.file, line: pos.line, col: pos.col, phase: 'schema', severity: 'error', resource, path: formatPath(p), message, hint, code: 'PCS_ERR_CONFIG_SCHEMA' });
    };
    if (typeof v !== 'object' || Array.isArray(v)) {
      diag([], 'a document must be a mapping with apiVersion, kind, metadata and spec');
      continue;
    }
    const kind = v.kind as string;
    const k = (KINDS as Record<string, { apiVersions: readonly string[] }>)[kind];
    if (typeof kind !== 'string' || !k) {
      diag(['kind'], typeof kind === 'string' ? `unknown kind "${kind}"` : 'missing kind', `supported kinds: ${Object.keys(KINDS).join(', ')}`);
      continue;
    }
    const ns = CLUSTER_SCOPED.has(kind) ? '' : (typeof v.metadata?.namespace === 'string' ? v.metadata.namespace : 'default') as string;
    const name = typeof v.metadata?.name === 'string' ? v.metadata.name : '?';
    const id = resourceId(kind, ns, name);
    if (!k.apiVersions.includes(v.apiVersion)) {
      diag(['apiVersion'], `apiVersion "${v.apiVersion ?? ''}" is not served for ${kind}`, `use ${k.apiVersions.join(' or ')}`, id);
      continue;
    }
    const validate = validators.get(kind as KindName)!;
    // The schema pins apiVersion to the first served version; accept every served one.
    const candidate = v.apiVersion === k.apiVersions[0] ? v : { ...v, apiVersion: k.apiVersions[0] };
    if (!validate(candidate)) {
      const errs = simplify(validate.errors ?? []);
      for (const e of errs) {
        const p = pointerToPath(e.instancePath);
        if (e.keyword === 'additionalProperties') {
          const field = (e.params as { additionalProperty: string }).additionalProperty;
          const allowed = Object.keys((e.parentSchema as { properties?: object })?.properties ?? {});
          diag([...p, field], `unknown field "${field}"`, allowed.length ? `allowed here: ${allowed.join(', ')}` : 'remove it', id, true);
        } else {
          diag(p, describe(e), hintFor(e), id);
        }
      }
      // Only unknown fields: drop them and keep checking the resource's meaning, so that one
      // typo does not hide the other mistakes. The config stays invalid either way.
      if (errs.every((e) => e.keyword === 'additionalProperties')) {
        const stripped = structuredClone(v);
        for (const e of errs) {
          const parent = pointerToPath(e.instancePath).reduce<any>((o, k) => o?.[k], stripped);
          if (parent) delete parent[(e.params as { additionalProperty: string }).additionalProperty];
        }
        if (validate(stripped.apiVersion === k.apiVersions[0] ? stripped : { ...stripped, apiVersion: k.apiVersions[0] }) && !seen.has(id)) {
          seen.set(id, src);
          resources.push({ kind: kind as KindName, namespace: ns, name, id, doc: stripped, src });
        }
      }
      continue;
    }
    const dup = seen.get(id);
    if (dup) {
      const first = dup.locate([]);
      diag(['metadata', 'name'], `duplicate resource ${id}`, `first defined at ${dup.file}:${first.line}:${first.col}; names must be unique per kind and namespace`, id);
      continue;
    }
    seen.set(id, src);
    resources.push({ kind: kind as KindName, namespace: ns, name, id, doc: v, src });
  }
  return { resources, diagnostics };
}

function pointerToPath(ptr: string): (string | number)[] {
  if (!ptr) return [];
  return ptr.slice(1).split('/').map((s) => {
    const u = s.replace(/~1/g, '/').replace(/~0/g, '~');
    return /^\d+$/.test(u) ? Number(u) : u;
  });
}

/** Collapse Ajv's union noise: for an anyOf of literals report one "must be one of" line. */
function simplify(errors: ErrorObject[]): ErrorObject[] {
  const anyOfPaths = new Set(errors.filter((e) => e.keyword === 'anyOf').map((e) => e.instancePath));
  const out: ErrorObject[] = [];
  const seen = new Set<string>();
  for (const e of errors) {
    if (e.keyword !== 'anyOf' && anyOfPaths.has(e.instancePath) && (e.keyword === 'const' || e.keyword === 'type' || e.keyword === 'enum')) continue;
    if (e.keyword === 'anyOf' && [...anyOfPaths].some((p) => p !== e.instancePath && p.startsWith(e.instancePath + '/'))) continue;
    const key = `${e.instancePath}|${e.keyword}|${JSON.stringify(e.params)}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(e);
  }
  return out;
}

function literals(schema: unknown): unknown[] | null {
  const s = schema as { anyOf?: { const?: unknown }[] };
  if (!Array.isArray(s?.anyOf)) return null;
  const vals = s.anyOf.map((b) => b.const);
  return vals.every((x) => x !== undefined) ? vals : null;
}

function describe(e: ErrorObject): string {
  switch (e.keyword) {
    case 'anyOf': {
      const lits = literals(e.schema === true ? undefined : e.parentSchema);
      return lits ? `must be one of: ${lits.join(', ')}` : 'does not match any allowed shape';
    }
    case 'required': return `missing required field "${(e.params as { missingProperty: string }).missingProperty}"`;
    case 'type': return `must be ${(e.params as { type: string }).type}`;
    case 'const': return `must be ${JSON.stringify((e.params as { allowedValue: unknown }).allowedValue)}`;
    case 'pattern': {
      const desc = (e.parentSchema as { description?: string })?.description;
      return `invalid value${desc ? `: expected ${desc}` : ` (must match ${(e.params as { pattern: string }).pattern})`}`;
    }
    default: return e.message ?? 'invalid';
  }
}

function hintFor(e: ErrorObject): string | undefined {
  if (e.keyword === 'required') return `add ${(e.params as { missingProperty: string }).missingProperty}`;
  if (e.keyword === 'minItems') return 'add at least one item';
  return undefined;
}
