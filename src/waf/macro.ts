/** Macro expansion: %{tx.score}, %{MATCHED_VAR}, %{rule.id}, %{REQUEST_HEADERS.host} ... compiled once. */
export interface MacroRef {
  collection: string; // upper case
  key?: string; // lower case
}
export type Macro = Array<string | MacroRef>;

export function compileMacro(text: string): Macro {
  const out: Macro = [];
  let i = 0;
  while (i < text.length) {
    const k = text.indexOf('%{', i);
    if (k < 0) { out.push(text.slice(i)); break; }
    const e = text.indexOf('}', k + 2);
    if (e < 0) { out.push(text.slice(i)); break; }
    if (k > i) out.push(text.slice(i, k));
    const ref = text.slice(k + 2, e).trim();
    const dot = ref.search(/[.:]/);
    if (dot < 0) out.push({ collection: ref.toUpperCase() });
    else out.push({ collection: ref.slice(0, dot).toUpperCase(), key: ref.slice(dot + 1).toLowerCase() });
    i = e + 1;
  }
  return out;
}

export function isConstant(m: Macro): boolean {
  return m.every((p) => typeof p === 'string');
}
