/**
 * Session persistence (Gateway API `sessionPersistence`, type Cookie or Header): the first response
 * carries a token naming the chosen endpoint; later requests presenting it go back to that
 * endpoint while it is eligible. Unlike Envoy's stateful-session cookie (the upstream address in
 * base64), the token reveals nothing about the upstream and cannot be forged or pointed at another
 * endpoint: it is
 *
 *   v1.<endpoint tag>.<created, base36 seconds>.<last use, base36 seconds>.<MAC>
 *
 * where the endpoint tag is HMAC-SHA256(key, scope + endpoint id) truncated to 12 bytes and the MAC
 * is HMAC-SHA256(key, scope + the rest) truncated to 16 bytes (both base64url). `scope` is the
 * Backend (or route) name, so a token of one backend is worthless for another. absoluteTimeout is
 * checked against `created`, idleTimeout against `last use`: re-issue the token on every response
 * (keeping `created`) when an idle timeout is set.
 */
import { createHmac, createSecretKey, timingSafeEqual } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import type { Endpoint } from './types.ts';
import { UpstreamError, checkNumber } from './errors.ts';

export interface SessionPersistenceOptions {
  /** HMAC key, at least 16 bytes. Keep it across restarts and share it across instances. */
  key: Uint8Array | string;
  /** Token scope: the Backend or route name. */
  scope: string;
  /** Gateway API absoluteTimeout: max age since the session started. Default: none. */
  absoluteTimeoutMs?: number;
  /** Gateway API idleTimeout: max time since the token was last issued. Default: none. */
  idleTimeoutMs?: number;
}

export interface ResolvedSession {
  readonly endpoint: Endpoint;
  /** When the session started, in ms since the epoch (pass it back to issue() to keep it). */
  readonly createdAt: number;
}

export type SessionMiss = 'absent' | 'malformed' | 'bad-mac' | 'expired' | 'unknown-endpoint' | 'ineligible';

const TAG_BYTES = 12;
const MAC_BYTES = 16;
const TOKEN_RE = /^v1\.([A-Za-z0-9_-]{16})\.([0-9a-z]{1,10})\.([0-9a-z]{1,10})\.([A-Za-z0-9_-]{22})$/;

export class SessionPersistence {
  readonly scope: string;
  private readonly key: KeyObject;
  private readonly absoluteMs: number;
  private readonly idleMs: number;
  private readonly byTag = new Map<string, Endpoint>();
  private readonly tagOf = new Map<string, string>();

  constructor(endpoints: readonly Endpoint[], options: SessionPersistenceOptions) {
    const raw = typeof options.key === 'string' ? Buffer.from(options.key, 'utf8') : options.key;
    if (!raw || raw.length < 16) throw new UpstreamError('PCS_ERR_UPSTREAM_INVALID_OPTION', 'session persistence key must be at least 16 bytes');
    this.key = createSecretKey(raw);
    this.scope = options.scope;
    this.absoluteMs = options.absoluteTimeoutMs === undefined ? Infinity : checkNumber('absoluteTimeoutMs', options.absoluteTimeoutMs, 1000);
    this.idleMs = options.idleTimeoutMs === undefined ? Infinity : checkNumber('idleTimeoutMs', options.idleTimeoutMs, 1000);
    for (const e of endpoints) {
      const tag = this.mac(`tag\n${this.scope}\n${e.id}`, TAG_BYTES);
      this.byTag.set(tag, e);
      this.tagOf.set(e.id, tag);
    }
  }

  /** The token to send (cookie value or header) after routing to `endpoint`. */
  issue(endpoint: Endpoint, now = Date.now(), createdAt = now): string {
    const tag = this.tagOf.get(endpoint.id) ?? this.mac(`tag\n${this.scope}\n${endpoint.id}`, TAG_BYTES);
    const body = `v1.${tag}.${Math.floor(createdAt / 1000).toString(36)}.${Math.floor(now / 1000).toString(36)}`;
    return `${body}.${this.mac(`mac\n${this.scope}\n${body}`, MAC_BYTES)}`;
  }

  /**
   * The endpoint a token names, if the token is genuine, unexpired, and the endpoint is configured
   * and eligible; otherwise why not (pick normally then, and issue a new token).
   */
  resolve(token: string | undefined, eligible: (e: Endpoint) => boolean, now = Date.now()): ResolvedSession | SessionMiss {
    if (token === undefined || token === '') return 'absent';
    const m = token.length <= 80 ? TOKEN_RE.exec(token) : null;
    if (!m) return 'malformed';
    const body = token.slice(0, token.lastIndexOf('.'));
    const expected = Buffer.from(this.mac(`mac\n${this.scope}\n${body}`, MAC_BYTES));
    const given = Buffer.from(m[4]);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'bad-mac';
    const created = parseInt(m[2], 36) * 1000;
    const last = parseInt(m[3], 36) * 1000;
    if (now - created > this.absoluteMs || now - last > this.idleMs || created > now + 60_000) return 'expired';
    const e = this.byTag.get(m[1]);
    if (!e) return 'unknown-endpoint';
    if (!eligible(e)) return 'ineligible';
    return { endpoint: e, createdAt: created };
  }

  private mac(data: string, bytes: number): string {
    return createHmac('sha256', this.key).update(data).digest().subarray(0, bytes).toString('base64url');
  }
}

/** Narrowing helper for resolve(). */
export function isSessionHit(r: ResolvedSession | SessionMiss): r is ResolvedSession {
  return typeof r === 'object';
}
