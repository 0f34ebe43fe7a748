// The real client address and the forwarding headers, with a trusted-proxies list (nginx's
// real_ip_recursive semantics, Envoy Gateway's clientIPDetection.xForwardedFor.trustedCIDRs):
// - a peer that is not trusted is the client; whatever X-Forwarded-* / Forwarded it sent is
//   replaced, so a client cannot spoof its address to later filters or to the upstream;
// - a trusted peer's X-Forwarded-For is walked from the right, skipping trusted hops; the first
//   untrusted address is the client. Its chain is kept and the peer appended.
import net, { type BlockList } from 'node:net';
import type { IncomingHttpHeaders } from 'node:http';
import type { ClientRuntime } from '../runtime/runtime.ts';

function family(ip: string): 'ipv4' | 'ipv6' | null {
  const f = net.isIP(ip);
  return f === 4 ? 'ipv4' : f === 6 ? 'ipv6' : null;
}

export function isTrusted(list: BlockList, ip: string): boolean {
  const f = family(ip);
  return f !== null && list.check(ip, f);
}

function xffEntries(h: IncomingHttpHeaders): string[] {
  const v = h['x-forwarded-for'];
  if (v === undefined) return [];
  return (Array.isArray(v) ? v.join(',') : v).split(',').map((x) => x.trim()).filter(Boolean);
}

/** The client address for this request. */
export function resolveClientIp(peer: string, headers: IncomingHttpHeaders, client: ClientRuntime | undefined): string {
  if (!client || !isTrusted(client.trusted, peer)) return peer;
  const chain = xffEntries(headers);
  for (let i = chain.length - 1; i >= 0; i--) {
    const hop = stripPort(chain[i]);
    if (family(hop) === null) return peer; // garbage in the chain: trust nothing beyond the peer
    if (!isTrusted(client.trusted, hop)) return hop;
  }
  return chain.length ? stripPort(chain[0]) : peer;
}

function stripPort(s: string): string {
  if (s.startsWith('[')) return s.slice(1, s.indexOf(']'));
  const colon = s.indexOf(':');
  return colon > 0 && s.indexOf(':', colon + 1) < 0 ? s.slice(0, colon) : s;
}

/** Set X-Forwarded-For/-Proto/-Host (and Forwarded when asked) on the upstream request headers. */
export function setForwardingHeaders(out: Record<string, string | string[] | undefined>, peer: string, clientIp: string, host: string | undefined, incoming: IncomingHttpHeaders, client: ClientRuntime | undefined, scheme: 'http' | 'https' = 'http'): void {
  const trusted = client !== undefined && isTrusted(client.trusted, peer);
  const chain = trusted ? xffEntries(incoming) : [];
  out['x-forwarded-for'] = chain.length ? `${chain.join(', ')}, ${peer}` : (trusted ? peer : clientIp);
  const proto = trusted ? incoming['x-forwarded-proto'] : undefined;
  out['x-forwarded-proto'] = typeof proto === 'string' && /^https?$/.test(proto) ? proto : scheme;
  const fhost = trusted ? incoming['x-forwarded-host'] : undefined;
  out['x-forwarded-host'] = typeof fhost === 'string' ? fhost : host;
  if (client?.forwarded) {
    const node = (ip: string) => (ip.includes(':') ? `"[${ip}]"` : ip);
    const mine = `for=${node(peer)};host=${quoteIfNeeded(host ?? '')};proto=${scheme}`;
    const prior = trusted ? incoming.forwarded : undefined;
    out.forwarded = prior ? `${Array.isArray(prior) ? prior.join(', ') : prior}, ${mine}` : mine;
  } else if (!trusted && out.forwarded !== undefined) {
    delete out.forwarded; // never pass on a client's own claim
  }
}

function quoteIfNeeded(v: string): string {
  return /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(v) ? v : `"${v.replace(/["\\]/g, '\\$&')}"`;
}
