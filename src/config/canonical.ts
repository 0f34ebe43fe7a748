// One canonical text for a config value: JSON with object keys sorted, so that key order in YAML
// never matters (keys quoted, so no two values share a text). Used to compare and show values
// (diff) and to hash a config into its version.
export function canon(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (Array.isArray(v)) return `[${v.map(canon).join(',')}]`;
  if (v && typeof v === 'object') return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canon((v as Record<string, unknown>)[k])}`).join(',')}}`;
  return JSON.stringify(v);
}
