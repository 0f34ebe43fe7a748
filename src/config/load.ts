// Reads YAML config (a file, or every *.yaml / *.yml in a directory tree, many documents per file)
// into raw documents that remember where every node came from, so later stages can name
// file:line:col for any JSON path.
import fs from 'node:fs';
import path from 'node:path';
import { LineCounter, parseAllDocuments, parseDocument, isMap, isSeq, isPair, isScalar, type Document, type Node as YamlNode } from 'yaml';
import type { Diagnostic } from './diagnostics.ts';
import { parseFastYaml, type FastDoc } from './yaml-fast.ts';

export interface SourceDoc {
  readonly file: string;
  /** 0-based index of the document inside its file. */
  readonly index: number;
  readonly value: unknown;
  /** file:line:col of a JSON path; falls back to the deepest node that exists. */
  locate(p: readonly (string | number)[], key?: boolean): { line: number; col: number };
}

export interface LoadResult {
  readonly docs: SourceDoc[];
  readonly diagnostics: Diagnostic[];
  /** The files read, with their content, for hashing and for the diff command. */
  readonly files: { file: string; text: string }[];
}

const YAML_HINTS: Record<string, string> = {
  BAD_INDENT: 'check the indentation: nested keys need more spaces than their parent, siblings the same',
  MISSING_CHAR: 'a quote or bracket is not closed',
  DUPLICATE_KEY: 'each key may appear once in a mapping',
  BLOCK_AS_IMPLICIT_KEY: 'check the indentation of this line against the lines above, and the colon after each key',
  MULTILINE_IMPLICIT_KEY: 'check the indentation of this line against the lines above, and the colon after each key',
  TAB_AS_INDENT: 'YAML indentation must use spaces, not tabs',
  UNEXPECTED_TOKEN: 'check indentation and punctuation near here',
};

/** List config files: the file itself, or *.yaml/*.yml below a directory, sorted for stable order. */
export function listConfigFiles(target: string): string[] {
  const st = fs.statSync(target);
  if (st.isFile()) return [target];
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const ent of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (ent.name.startsWith('.')) continue; // editor swap files, .git
      const p = path.join(dir, ent.name);
      if (ent.isDirectory()) walk(p);
      else if (/\.ya?ml$/i.test(ent.name)) out.push(p);
    }
  };
  walk(target);
  return out;
}

export function loadConfigPath(target: string): LoadResult {
  let files: string[];
  try {
    files = listConfigFiles(target);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return {
      docs: [], files: [],
      diagnostics: [{ file: target, line: 1, col: 1, phase: 'yaml', severity: 'error', resource: '', path: '', code: 'PCS_ERR_CONFIG_READ', message: `cannot read config: ${e.code ?? e.message}`, hint: 'pass a YAML file or a directory of YAML files' }],
    };
  }
  const result: LoadResult = { docs: [], diagnostics: [], files: [] };
  if (files.length === 0) {
    result.diagnostics.push({ file: target, line: 1, col: 1, phase: 'yaml', severity: 'error', resource: '', path: '', code: 'PCS_ERR_CONFIG_READ', message: 'no *.yaml or *.yml files found', hint: 'put Gateway API resources in .yaml files' });
  }
  for (const file of files) {
    const text = fs.readFileSync(file, 'utf8');
    result.files.push({ file, text });
    const r = parseConfigText(text, file);
    result.docs.push(...r.docs);
    result.diagnostics.push(...r.diagnostics);
    // A file with no resource at all is refused rather than read as "remove everything it had":
    // an editor or a script that truncates before writing would otherwise have a reload in that
    // instant close every listener (seen under load: a writeFileSync caught half-way).
    if (!r.docs.length && !r.diagnostics.some((d) => d.severity === 'error')) {
      result.diagnostics.push({ file, line: 1, col: 1, phase: 'yaml', severity: 'error', resource: '', path: '', code: 'PCS_ERR_CONFIG_EMPTY', message: 'the file has no resources (empty, or only comments)', hint: 'add resources to it or delete it; an empty file is refused so that a half-written save never removes the running config' });
    }
  }
  return result;
}

/** Parse one YAML text (many documents). Documents with syntax errors are reported and skipped. */
export function parseConfigText(text: string, file: string): { docs: SourceDoc[]; diagnostics: Diagnostic[] } {
  // Plain config YAML (nearly all of it) is read by the fast reader; positions are looked up only
  // when a diagnostic needs one. Anything else, including every syntax error, goes to `yaml`.
  const fast = parseFastYaml(text);
  if (fast) {
    const docs: SourceDoc[] = [];
    for (const d of fast) {
      if (d.value === null || d.value === undefined) continue;
      docs.push({ file, index: d.index, value: d.value, locate: lazyLocate(text, d) });
    }
    return { docs, diagnostics: [] };
  }
  const lineCounter = new LineCounter();
  const parsed = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: true, strict: true });
  const docs: SourceDoc[] = [];
  const diagnostics: Diagnostic[] = [];
  const list = Array.isArray(parsed) ? parsed : [];
  list.forEach((doc, index) => {
    if (doc.errors.length > 0) {
      const at = new Set<number>();
      for (const e of doc.errors) {
        if (at.has(e.pos[0])) continue; // one message per place: the first is the cause
        at.add(e.pos[0]);
        const pos = lineCounter.linePos(e.pos[0]);
        diagnostics.push({
          file, line: pos.line, col: pos.col, phase: 'yaml', severity: 'error', resource: '', path: '',
          code: 'PCS_ERR_CONFIG_YAML', message: `YAML: ${firstLine(e.message)}`, hint: YAML_HINTS[e.code] ?? 'fix the YAML syntax',
        });
      }
      return;
    }
    const value = doc.toJS({ maxAliasCount: 100 });
    if (value === null || value === undefined) return; // empty document (e.g. a trailing ---)
    docs.push({ file, index, value, locate: (p, key) => locate(doc, lineCounter, p, key) });
  });
  return { docs, diagnostics };
}

/** locate() for a document read by the fast reader: `yaml` parses that one document on first use. */
function lazyLocate(text: string, d: FastDoc): SourceDoc['locate'] {
  let parsed: { doc: Document; lc: LineCounter; line0: number } | undefined;
  return (p, key) => {
    if (!parsed) {
      const lc = new LineCounter();
      const doc = parseDocument(text.slice(d.start, d.end), { lineCounter: lc, prettyErrors: false, uniqueKeys: true, strict: true });
      let line0 = 0;
      for (let i = text.indexOf('\n'); i >= 0 && i < d.start; i = text.indexOf('\n', i + 1)) line0++;
      parsed = { doc, lc, line0 };
    }
    const pos = locate(parsed.doc, parsed.lc, p, key);
    return { line: pos.line + parsed.line0, col: pos.col };
  };
}

function firstLine(s: string): string {
  const i = s.indexOf('\n');
  return (i < 0 ? s : s.slice(0, i)).replace(/ at line \d+, column \d+:?$/, '');
}

function locate(doc: Document, lc: LineCounter, p: readonly (string | number)[], wantKey = false): { line: number; col: number } {
  let node: unknown = doc.contents;
  let best: { range?: [number, number, number] | null } | null = (doc.contents as YamlNode | null) ?? null;
  let keyNode: unknown = null;
  for (const seg of p) {
    keyNode = null;
    if (isMap(node)) {
      const pair = node.items.find((it) => isPair(it) && isScalar(it.key) && String(it.key.value) === String(seg));
      if (!pair) break;
      keyNode = pair.key;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number') {
      node = node.items[seg];
    } else break;
    if (node && typeof node === 'object' && 'range' in node) best = node as typeof best;
    else if (keyNode) best = keyNode as typeof best;
  }
  const target = wantKey && keyNode ? (keyNode as typeof best) : best;
  const offset = target?.range?.[0] ?? 0;
  return lc.linePos(offset);
}
