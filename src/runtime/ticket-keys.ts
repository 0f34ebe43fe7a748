// TLS session ticket keys: random, in memory only, rotated on a period, the same in every worker.
//
// Decision: the keys are never written to disk. A ticket key that leaks (a file copied off a host,
// a backup) decrypts every session resumed with tickets it sealed, so the keys live only in the
// memory of the processes that use them, like nginx without ssl_session_ticket_key and Caddy's
// in-memory STEKs. With --workers, the primary makes them and hands them to its workers over the
// cluster IPC channel, so a ticket sealed by one worker resumes on another. A restart starts with
// new keys: clients then do one full handshake, which costs a few hundred microseconds each.
//
// Node gives a TLS server one 48-byte key set (name, HMAC secret, AES key), not a ring of old
// keys: a ticket sealed just before a rotation does not resume after it, and the client falls back
// to a full handshake. Tickets live `sessionTimeout` (300 s by default in Node) anyway, so with the
// 12-hour default period that happens to a negligible share of resumptions.
import { randomBytes } from 'node:crypto';

export const TICKET_KEY_BYTES = 48;
/** Default rotation period (Caddy rotates its session ticket keys every 12 hours). */
export const DEFAULT_TICKET_KEY_ROTATION_MS = 12 * 3600_000;
/** Shorter periods only make sense in tests; longer than a week defeats the point. */
export const MIN_TICKET_KEY_ROTATION_MS = 1000;
export const MAX_TICKET_KEY_ROTATION_MS = 7 * 24 * 3600_000;

export class TicketKeyError extends Error {
  readonly code = 'PCS_ERR_TICKET_KEYS';
}

export function newTicketKeys(): Buffer {
  return randomBytes(TICKET_KEY_BYTES);
}

export function checkTicketKeys(k: Buffer): Buffer {
  if (!Buffer.isBuffer(k) || k.length !== TICKET_KEY_BYTES) throw new TicketKeyError(`TLS ticket keys must be ${TICKET_KEY_BYTES} bytes`);
  return k;
}

export function checkRotationPeriod(ms: number): number {
  if (!Number.isFinite(ms) || ms < MIN_TICKET_KEY_ROTATION_MS || ms > MAX_TICKET_KEY_ROTATION_MS) {
    throw new TicketKeyError(`--tls-ticket-key-rotation must be between 1s and 168h, got ${ms} ms`);
  }
  return ms;
}

/**
 * Makes a new key set every `periodMs` and tells `onRotate`. The timer is unref'd: it never keeps
 * a stopping process alive.
 */
export class TicketKeyRotation {
  #current: Buffer;
  #timer: NodeJS.Timeout | undefined;
  readonly periodMs: number;

  constructor(periodMs = DEFAULT_TICKET_KEY_ROTATION_MS, initial: Buffer = newTicketKeys()) {
    this.periodMs = checkRotationPeriod(periodMs);
    this.#current = checkTicketKeys(initial);
  }

  get current(): Buffer { return this.#current; }

  /** Replace the keys now (also what the timer does). */
  rotate(): Buffer {
    this.#current = newTicketKeys();
    return this.#current;
  }

  start(onRotate: (keys: Buffer) => void): void {
    this.stop();
    this.#timer = setInterval(() => onRotate(this.rotate()), this.periodMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
