/**
 * Where the consistent-hashing key comes from (Envoy Gateway ConsistentHash types SourceIP,
 * Header, Cookie; Envoy hash_policy). Built once per policy at compile time; the returned
 * function reads one request.
 */
import { UpstreamError } from './errors.ts';

export type HashKeySource =
  | { readonly type: 'source-ip' }
  | { readonly type: 'header'; readonly name: string }
  | { readonly type: 'cookie'; readonly name: string };

/** Request headers as Node gives them (lower-case names). */
export type HeaderBag = Readonly<Record<string, string | string[] | undefined>>;

export type HashKeyExtractor = (headers: HeaderBag, clientIp: string) => string | undefined;

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Compiles a hash-key source. Header: the first value (repeated headers: the first one, as Envoy).
 * Cookie: the first cookie of that name across Cookie headers. Source IP: the client address as
 * the listener resolved it (after trusted-proxy processing). Absent → undefined (the selector then
 * picks at random, as Envoy does without a hash).
 */
export function compileHashKey(source: HashKeySource): HashKeyExtractor {
  switch (source.type) {
    case 'source-ip':
      return (_h, ip) => (ip === '' ? undefined : ip);
    case 'header': {
      if (!TOKEN.test(source.name)) throw new UpstreamError('PCS_ERR_UPSTREAM_INVALID_OPTION', `hash header name "${source.name}" is not a valid header name`);
      const name = source.name.toLowerCase();
      return (h) => {
        const v = h[name];
        return Array.isArray(v) ? v[0] : v;
      };
    }
    case 'cookie': {
      if (!TOKEN.test(source.name)) throw new UpstreamError('PCS_ERR_UPSTREAM_INVALID_OPTION', `hash cookie name "${source.name}" is not a valid cookie name`);
      const name = source.name;
      return (h) => {
        const v = h.cookie;
        if (v === undefined) return undefined;
        if (typeof v === 'string') return cookieValue(v, name);
        for (const line of v) {
          const c = cookieValue(line, name);
          if (c !== undefined) return c;
        }
        return undefined;
      };
    }
    default:
      throw new UpstreamError('PCS_ERR_UPSTREAM_INVALID_OPTION', `unknown hash key source ${JSON.stringify(source)}`);
  }
}

/** Value of cookie `name` in one Cookie header (RFC 6265 §5.4 "name=value; name2=value2"). */
export function cookieValue(header: string, name: string): string | undefined {
  let i = 0;
  const n = header.length;
  while (i < n) {
    while (i < n && (header.charCodeAt(i) === 0x20 || header.charCodeAt(i) === 0x3b)) i++; // spaces and ';'
    const end = header.indexOf(';', i);
    const stop = end < 0 ? n : end;
    if (header.startsWith(name, i) && header.charCodeAt(i + name.length) === 0x3d /* = */ && i + name.length < stop) {
      let v = header.slice(i + name.length + 1, stop).trim();
      if (v.length >= 2 && v.charCodeAt(0) === 0x22 && v.charCodeAt(v.length - 1) === 0x22) v = v.slice(1, -1);
      return v;
    }
    i = stop + 1;
  }
  return undefined;
}
