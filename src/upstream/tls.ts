/**
 * TLS client settings for upstream connections (BackendTLSPolicy), shared by the connection pools
 * and the active HTTP health checks so both verify the upstream the same way.
 */
import net from 'node:net';
import tls, { type ConnectionOptions, type PeerCertificate } from 'node:tls';
import type { UpstreamTlsOptions } from './pool.ts';

/** Node's `subjectaltname` ("DNS:a, URI:spiffe://x, IP Address:1.2.3.4") as [type, value] pairs. */
export function subjectAltNamesOf(cert: Pick<PeerCertificate, 'subjectaltname'>): [string, string][] {
  const out: [string, string][] = [];
  const s = cert.subjectaltname;
  if (!s) return out;
  // Node JSON-quotes a value that contains a separator or a quote ("URI:\"a, b\""); read those whole.
  const re = /(DNS|URI|IP Address|email|DirName|othername|Registered ID):("(?:[^"\\]|\\.)*"|[^,]*)(?:, |$)/g;
  for (const m of s.matchAll(re)) {
    let v = m[2];
    if (v.startsWith('"')) { try { v = JSON.parse(v) as string; } catch { continue; } }
    out.push([m[1], v]);
  }
  return out;
}

/**
 * Gateway API subjectAltNames: the certificate must carry one of them (and then the hostname is
 * only the SNI). Hostname entries match DNS SANs as TLS does (a `*.` certificate covers one
 * label); URI entries match a URI SAN exactly (SPIFFE IDs are compared as strings).
 * Returns undefined on a match, an Error otherwise (Node's checkServerIdentity contract).
 */
export function checkSubjectAltNames(wanted: NonNullable<UpstreamTlsOptions['subjectAltNames']>, cert: PeerCertificate): Error | undefined {
  const sans = subjectAltNamesOf(cert);
  for (const w of wanted) {
    if (w.type === 'URI') {
      if (sans.some(([t, v]) => t === 'URI' && v === w.value)) return undefined;
    } else if (sans.some(([t]) => t === 'DNS') && tls.checkServerIdentity(w.value, cert) === undefined) return undefined;
  }
  const err = new Error(`upstream certificate matches none of the subjectAltNames (${wanted.map((w) => `${w.type}:${w.value}`).join(', ')})`) as Error & { code: string };
  err.code = 'ERR_TLS_CERT_ALTNAME_INVALID';
  return err;
}

/**
 * node:tls client options for an upstream. Chain verification is always on unless
 * rejectUnauthorized is explicitly false; the name checked is `servername` (Node's default), or the
 * subjectAltNames when given. No SNI is sent for an IP address (RFC 6066).
 */
export function tlsConnectOptions(t: UpstreamTlsOptions, address?: string): ConnectionOptions {
  const o: ConnectionOptions = { rejectUnauthorized: t.rejectUnauthorized ?? true, minVersion: t.minVersion ?? 'TLSv1.2' };
  const servername = t.servername ?? (address && net.isIP(address) === 0 ? address : undefined);
  if (servername !== undefined) o.servername = servername;
  if (t.ca !== undefined) o.ca = t.ca as ConnectionOptions['ca'];
  if (t.cert !== undefined) o.cert = t.cert;
  if (t.key !== undefined) o.key = t.key;
  const sans = t.subjectAltNames;
  if (sans?.length) o.checkServerIdentity = (_host, cert) => checkSubjectAltNames(sans, cert);
  return o;
}
