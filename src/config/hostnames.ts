// Gateway API hostname rules: wildcard matching and listener/route intersection.

/** `*.example.com` matches `a.example.com` and `a.b.example.com`, never `example.com`. */
export function wildcardMatches(pattern: string, host: string): boolean {
  if (!pattern.startsWith('*.')) return pattern === host;
  const suffix = pattern.slice(1); // ".example.com"
  return host.length > suffix.length && host.endsWith(suffix);
}

/**
 * The hostnames a route serves on a listener: the intersection of the route's hostnames with the
 * listener's. `undefined` for the listener means any host; an empty route list means any host.
 * Returns `null` when nothing intersects, `[]` when both accept any host.
 */
export function intersectHostnames(listener: string | undefined, route: readonly string[]): string[] | null {
  if (route.length === 0) return listener ? [listener] : [];
  if (!listener) return [...route];
  const out = new Set<string>();
  for (const r of route) {
    if (r === listener) out.add(r);
    else if (listener.startsWith('*.') && !r.startsWith('*.') && wildcardMatches(listener, r)) out.add(r);
    else if (r.startsWith('*.') && !listener.startsWith('*.') && wildcardMatches(r, listener)) out.add(listener);
    else if (r.startsWith('*.') && listener.startsWith('*.')) {
      // Both wildcards: the narrower one, if the wider one covers it.
      if (r.slice(1).endsWith(listener.slice(1))) out.add(r);
      else if (listener.slice(1).endsWith(r.slice(1))) out.add(listener);
    }
  }
  return out.size ? [...out] : null;
}

/**
 * Sort key for listener and route hostname precedence: exact names first, then wildcards with
 * more labels, then the catch-all. Larger is more specific.
 */
export function hostnameSpecificity(h: string | undefined): number {
  if (!h) return 0;
  if (h.startsWith('*.')) return 1 + h.length;
  return 100000 + h.length;
}

/** Lower-case and strip the port from a Host header value (Gateway API: matching ignores the port). */
export function normalizeHost(hostHeader: string | undefined): string {
  if (!hostHeader) return '';
  let h = hostHeader;
  if (h.charCodeAt(0) === 91 /* [ */) {
    const end = h.indexOf(']');
    return (end > 0 ? h.slice(0, end + 1) : h).toLowerCase();
  }
  const colon = h.indexOf(':');
  if (colon >= 0) h = h.slice(0, colon);
  if (h.endsWith('.')) h = h.slice(0, -1);
  return h.toLowerCase();
}
