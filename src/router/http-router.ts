// HTTP route table with Gateway API precedence, compiled once per config.
//
// Lookup cost does not grow with the number of routes: hosts are found by map lookups (exact,
// then each wildcard suffix, then the catch-all), paths by an exact-path map and a segment trie for
// prefixes. Only the candidates those structures return are checked for method, header and query
// matches, in precedence order, and the first full match wins.
//
// Precedence (Gateway API v1.6, HTTPRoute "MUST"):
//   1. the most specific hostname (exact > longer wildcard > shorter wildcard > none);
//   2. Exact path > (RegularExpression, longer pattern first: implementation-specific, placed here
//      as Envoy Gateway does) > longest PathPrefix;
//   3. a method match > more header matches > more query-param matches;
//   4. the oldest route (creationTimestamp), then namespace/name alphabetically;
//   5. rule order inside a route, then match order.

export interface HeaderMatcher { readonly name: string; readonly exact?: string; readonly re?: RegExp }
export interface QueryMatcher { readonly name: string; readonly exact?: string; readonly re?: RegExp }

export interface RouteEntry<R> {
  readonly rule: R;
  readonly pathType: 'Exact' | 'PathPrefix' | 'RegularExpression';
  readonly pathValue: string;
  readonly pathRe?: RegExp;
  readonly method?: string;
  readonly headers: readonly HeaderMatcher[];
  readonly query: readonly QueryMatcher[];
  // tie-breakers
  readonly creationTimestamp: string;
  readonly routeId: string;
  readonly ruleIndex: number;
  readonly matchIndex: number;
}

export interface RequestView {
  readonly path: string; // without the query string
  readonly method: string;
  readonly query: string; // raw query string without '?', '' if none
  header(name: string): string | undefined; // lower-case name
}

export interface RouteMatch<R> { readonly entry: RouteEntry<R>; readonly rule: R }

interface TrieNode<R> { children: Map<string, TrieNode<R>> | null; entries: RouteEntry<R>[] }

class PathIndex<R> {
  readonly exact = new Map<string, RouteEntry<R>[]>();
  readonly regex: RouteEntry<R>[] = [];
  readonly root: TrieNode<R> = { children: null, entries: [] };

  add(e: RouteEntry<R>): void {
    if (e.pathType === 'Exact') {
      const list = this.exact.get(e.pathValue);
      if (list) list.push(e); else this.exact.set(e.pathValue, [e]);
    } else if (e.pathType === 'RegularExpression') {
      this.regex.push(e);
    } else {
      let node = this.root;
      for (const seg of prefixSegments(e.pathValue)) {
        node.children ??= new Map();
        let next = node.children.get(seg);
        if (!next) { next = { children: null, entries: [] }; node.children.set(seg, next); }
        node = next;
      }
      node.entries.push(e);
    }
  }

  seal(): void {
    for (const list of this.exact.values()) list.sort(compareEntries);
    this.regex.sort((a, b) => b.pathValue.length - a.pathValue.length || compareEntries(a, b));
    const walk = (n: TrieNode<R>) => { n.entries.sort(compareEntries); if (n.children) for (const c of n.children.values()) walk(c); };
    walk(this.root);
  }

  match(req: RequestView, query: Map<string, string> | null): RouteEntry<R> | undefined {
    const ex = this.exact.get(req.path);
    if (ex) { const hit = firstMatch(ex, req, query); if (hit) return hit; }
    if (this.regex.length) {
      for (const e of this.regex) if (e.pathRe!.test(req.path) && restMatches(e, req, query)) return e;
    }
    // Walk the trie along the request's segments, remember the nodes, try deepest first.
    const stack: TrieNode<R>[] = [this.root];
    let node = this.root;
    const p = req.path;
    let start = 1;
    while (node.children && start <= p.length) {
      let end = p.indexOf('/', start);
      if (end < 0) end = p.length;
      const next = node.children.get(p.slice(start, end));
      if (!next) break;
      stack.push(next);
      node = next;
      start = end + 1;
    }
    for (let i = stack.length - 1; i >= 0; i--) {
      const entries = stack[i].entries;
      if (entries.length) { const hit = firstMatch(entries, req, query); if (hit) return hit; }
    }
    return undefined;
  }
}

function prefixSegments(prefix: string): string[] {
  const trimmed = prefix.replace(/\/+$/, '');
  return trimmed === '' ? [] : trimmed.slice(1).split('/');
}

function firstMatch<R>(list: RouteEntry<R>[], req: RequestView, query: Map<string, string> | null): RouteEntry<R> | undefined {
  for (const e of list) if (restMatches(e, req, query)) return e;
  return undefined;
}

function restMatches<R>(e: RouteEntry<R>, req: RequestView, query: Map<string, string> | null): boolean {
  if (e.method !== undefined && e.method !== req.method) return false;
  for (const h of e.headers) {
    const v = req.header(h.name);
    if (v === undefined) return false;
    if (h.exact !== undefined ? v !== h.exact : !h.re!.test(v)) return false;
  }
  if (e.query.length) {
    const q = query ?? parseQuery(req.query);
    for (const m of e.query) {
      const v = q.get(m.name);
      if (v === undefined) return false;
      if (m.exact !== undefined ? v !== m.exact : !m.re!.test(v)) return false;
    }
  }
  return true;
}

/** First value wins for a repeated parameter (Gateway API leaves it implementation-specific). */
export function parseQuery(qs: string): Map<string, string> {
  const out = new Map<string, string>();
  if (!qs) return out;
  for (const part of qs.split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const k = safeDecode(eq < 0 ? part : part.slice(0, eq));
    if (!out.has(k)) out.set(k, eq < 0 ? '' : safeDecode(part.slice(eq + 1)));
  }
  return out;
}

function safeDecode(s: string): string {
  if (s.indexOf('%') < 0 && s.indexOf('+') < 0) return s;
  try { return decodeURIComponent(s.replace(/\+/g, ' ')); } catch { return s; }
}

export function compareEntries<R>(a: RouteEntry<R>, b: RouteEntry<R>): number {
  return (Number(b.method !== undefined) - Number(a.method !== undefined))
    || (b.headers.length - a.headers.length)
    || (b.query.length - a.query.length)
    || compareTimestamps(a.creationTimestamp, b.creationTimestamp)
    || (a.routeId < b.routeId ? -1 : a.routeId > b.routeId ? 1 : 0)
    || (a.ruleIndex - b.ruleIndex)
    || (a.matchIndex - b.matchIndex);
}

function compareTimestamps(a: string, b: string): number {
  if (a === b) return 0;
  if (!a) return 1; // routes without a timestamp sort after dated ones
  if (!b) return -1;
  return Date.parse(a) - Date.parse(b);
}

/** Host -> value, with Gateway API hostname precedence. */
export class HostTable<T> {
  private readonly exactHosts = new Map<string, T>();
  private readonly wildcards = new Map<string, T>(); // ".example.com" -> T
  private any: T | undefined;

  getOrCreate(hostname: string, make: () => T): T {
    if (hostname === '' || hostname === '*') return (this.any ??= make());
    const [map, key] = hostname.startsWith('*.') ? [this.wildcards, hostname.slice(1)] : [this.exactHosts, hostname];
    let v = map.get(key);
    if (v === undefined) { v = make(); map.set(key, v); }
    return v;
  }

  /** The most specific value for host (exact, then longest wildcard suffix, then catch-all). */
  lookup(host: string): T | undefined {
    const e = this.exactHosts.get(host);
    if (e !== undefined) return e;
    if (this.wildcards.size) {
      for (let i = host.indexOf('.'); i >= 0; i = host.indexOf('.', i + 1)) {
        const w = this.wildcards.get(host.slice(i));
        if (w !== undefined) return w;
      }
    }
    return this.any;
  }

  /** Like lookup, without the catch-all. */
  lookupNamed(host: string): T | undefined {
    const e = this.exactHosts.get(host);
    if (e !== undefined) return e;
    for (let i = host.indexOf('.'); i >= 0 && this.wildcards.size; i = host.indexOf('.', i + 1)) {
      const w = this.wildcards.get(host.slice(i));
      if (w !== undefined) return w;
    }
    return undefined;
  }

  /**
   * The first non-undefined result of `fn` over every value that applies to host, most specific
   * first (fall-through between buckets). A callback rather than a generator: no allocation on
   * the request path.
   */
  find<X>(host: string, fn: (v: T) => X | undefined): X | undefined {
    const e = this.exactHosts.get(host);
    if (e !== undefined) { const r = fn(e); if (r !== undefined) return r; }
    if (this.wildcards.size) {
      for (let i = host.indexOf('.'); i >= 0; i = host.indexOf('.', i + 1)) {
        const w = this.wildcards.get(host.slice(i));
        if (w !== undefined) { const r = fn(w); if (r !== undefined) return r; }
      }
    }
    return this.any !== undefined ? fn(this.any) : undefined;
  }

  entriesWithKeys(): [string, T][] {
    return [
      ...[...this.exactHosts.entries()].sort(([a], [b]) => a.localeCompare(b)),
      ...[...this.wildcards.entries()].sort(([a], [b]) => b.length - a.length || a.localeCompare(b)).map(([k, v]) => [`*${k}`, v] as [string, T]),
      ...(this.any !== undefined ? [['*', this.any] as [string, T]] : []),
    ];
  }

  values(): T[] {
    return [...this.exactHosts.values(), ...this.wildcards.values(), ...(this.any !== undefined ? [this.any] : [])];
  }
}

export class HttpRouter<R> {
  private readonly hosts = new HostTable<PathIndex<R>>();
  private sealed = false;
  private hasQuery = false;
  size = 0;

  add(hostnames: readonly string[], entry: RouteEntry<R>): void {
    if (this.sealed) throw new Error('router is sealed');
    for (const h of hostnames.length ? hostnames : ['']) this.hosts.getOrCreate(h, () => new PathIndex<R>()).add(entry);
    if (entry.query.length) this.hasQuery = true;
    this.size++;
  }

  seal(): this {
    for (const idx of this.hosts.values()) idx.seal();
    this.sealed = true;
    return this;
  }

  /** Whether some route names this host (exactly or by a wildcard), not counting catch-all routes. */
  servesHostByName(host: string): boolean {
    return this.hosts.lookupNamed(host) !== undefined;
  }

  /** Entries in the order they are tried, per host bucket: for golden tests and `portcullis routes`. */
  describe(): { host: string; entries: RouteEntry<R>[] }[] {
    return this.hosts.entriesWithKeys().map(([host, idx]) => {
      const entries: RouteEntry<R>[] = [];
      for (const list of [...idx.exact.keys()].sort().map((k) => idx.exact.get(k)!)) entries.push(...list);
      entries.push(...idx.regex);
      const walk = (n: TrieNode<R>, depth: number, acc: { d: number; e: RouteEntry<R>[] }[]) => {
        acc.push({ d: depth, e: n.entries });
        if (n.children) for (const k of [...n.children.keys()].sort()) walk(n.children.get(k)!, depth + 1, acc);
        return acc;
      };
      for (const { e } of walk(idx.root, 0, []).sort((a, b) => b.d - a.d)) entries.push(...e);
      return { host, entries };
    });
  }

  match(host: string, req: RequestView): RouteMatch<R> | undefined {
    // Parse the query once, and only if some route matches on it.
    const query = this.hasQuery ? parseQuery(req.query) : null;
    const e = this.hosts.find(host, (idx) => idx.match(req, query));
    return e && { entry: e, rule: e.rule };
  }
}
