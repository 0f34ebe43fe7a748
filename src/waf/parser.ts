/**
 * SecLang tokenizer: turns configuration text into directives with file:line.
 * Handles comments, backslash line continuations and quoting the way ModSecurity's
 * (Apache-style) configuration reader does. Semantics live in compile.ts.
 */
import { WafParseError } from './errors.ts';

export interface Directive {
  name: string;
  args: string[];
  file: string;
  line: number;
}

export function parseSecLang(text: string, file: string): Directive[] {
  const out: Directive[] = [];
  const lines = text.split(/\r?\n/);
  let i = 0;
  while (i < lines.length) {
    const startLine = i + 1;
    let logical = lines[i];
    i++;
    // Continuation: a line ending with a backslash joins the next one.
    while (/\\\s*$/.test(logical) && !/^\s*#/.test(logical)) {
      logical = logical.replace(/\\\s*$/, '');
      if (i >= lines.length) break;
      logical += lines[i];
      i++;
    }
    const trimmed = logical.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const tokens = tokenize(trimmed, file, startLine);
    if (tokens.length === 0) continue;
    out.push({ name: tokens[0], args: tokens.slice(1), file, line: startLine });
  }
  return out;
}

function tokenize(s: string, file: string, line: number): string[] {
  const out: string[] = [];
  let i = 0;
  const n = s.length;
  while (i < n) {
    while (i < n && (s[i] === ' ' || s[i] === '\t')) i++;
    if (i >= n) break;
    const q = s[i];
    if (q === '"' || q === "'") {
      i++;
      let tok = '';
      let closed = false;
      while (i < n) {
        const c = s[i];
        if (c === '\\' && i + 1 < n && (s[i + 1] === q)) { tok += q; i += 2; continue; }
        if (c === q) { closed = true; i++; break; }
        tok += c;
        i++;
      }
      if (!closed) throw new WafParseError(file, line, `unterminated ${q === '"' ? 'double' : 'single'}-quoted argument`);
      out.push(tok);
    } else {
      let tok = '';
      while (i < n && s[i] !== ' ' && s[i] !== '\t') { tok += s[i]; i++; }
      out.push(tok);
    }
  }
  return out;
}

/** Split an action list `id:1,phase:2,msg:'a, b'` into [name, param] pairs. */
export function parseActions(s: string, file: string, line: number): Array<[string, string | undefined]> {
  const out: Array<[string, string | undefined]> = [];
  let i = 0;
  const n = s.length;
  while (i < n) {
    while (i < n && /[\s,]/.test(s[i])) i++;
    if (i >= n) break;
    let name = '';
    while (i < n && s[i] !== ':' && s[i] !== ',') { name += s[i]; i++; }
    name = name.trim();
    let param: string | undefined;
    if (i < n && s[i] === ':') {
      i++;
      while (i < n && (s[i] === ' ' || s[i] === '\t')) i++;
      if (s[i] === "'") {
        i++;
        let v = '';
        let closed = false;
        while (i < n) {
          if (s[i] === '\\' && s[i + 1] === "'") { v += "'"; i += 2; continue; }
          if (s[i] === "'") { closed = true; i++; break; }
          v += s[i];
          i++;
        }
        if (!closed) throw new WafParseError(file, line, `unterminated quote in action '${name}'`);
        param = v;
        while (i < n && s[i] !== ',') i++;
      } else {
        let v = '';
        while (i < n && s[i] !== ',') { v += s[i]; i++; }
        param = v.trim();
      }
    }
    if (name === '') throw new WafParseError(file, line, `empty action in '${s.slice(0, 60)}'`);
    out.push([name, param]);
  }
  return out;
}

export interface VariableSpec {
  collection: string; // upper case
  key?: string; // literal key (original case)
  keyRegex?: string; // /regex/ key
  negated: boolean; // !VAR:key  (exclusion)
  count: boolean; // &VAR
}

/** Parse `ARGS|!ARGS:foo|&TX:x|REQUEST_COOKIES:/^__utm/|XML:/*`. */
export function parseVariables(s: string, file: string, line: number): VariableSpec[] {
  const out: VariableSpec[] = [];
  let i = 0;
  const n = s.length;
  while (i < n) {
    while (i < n && (s[i] === '|' || s[i] === ' ' || s[i] === '\t')) i++;
    if (i >= n) break;
    let negated = false;
    let count = false;
    if (s[i] === '!') { negated = true; i++; }
    if (s[i] === '&') { count = true; i++; }
    let name = '';
    while (i < n && /[A-Za-z0-9_]/.test(s[i])) { name += s[i]; i++; }
    if (name === '') throw new WafParseError(file, line, `bad variable list near '${s.slice(i, i + 30)}'`);
    const spec: VariableSpec = { collection: name.toUpperCase(), negated, count };
    if (s[i] === ':') {
      i++;
      if (s[i] === '/' && spec.collection !== 'XML') {
        i++;
        let re = '';
        let closed = false;
        while (i < n) {
          if (s[i] === '\\' && i + 1 < n) { re += s[i] + s[i + 1]; i += 2; continue; }
          if (s[i] === '/') { closed = true; i++; break; }
          re += s[i];
          i++;
        }
        if (!closed) throw new WafParseError(file, line, `unterminated /regex/ key in variable ${name}`);
        spec.keyRegex = re;
      } else if (s[i] === "'") {
        i++;
        let k = '';
        while (i < n && s[i] !== "'") { k += s[i]; i++; }
        i++;
        spec.key = k;
      } else {
        let k = '';
        while (i < n && s[i] !== '|') { k += s[i]; i++; }
        spec.key = k.trim();
      }
    }
    out.push(spec);
  }
  return out;
}
