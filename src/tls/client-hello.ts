// The TLS ClientHello, read from the first bytes of a connection without terminating TLS: what a
// passthrough listener routes on (SNI) and logs (ALPN). It reassembles the handshake message from
// as many TLS records and TCP reads as the client used (a hello may be split at any byte), and it
// is bounded: the hello may not be larger than `maxHelloBytes`, may not come in more than
// `maxRecords` records, and must arrive within `timeoutMs`.
//
// Everything read is kept (`ClientHelloReader.buffered`), so the caller can forward the exact
// bytes to the backend: the gateway never changes a byte of a passthrough connection.
import type { Socket } from 'node:net';

/** What the first bytes of a connection are. `ok` may carry no `sni` (the client sent none). */
export type HelloResult =
  | { readonly kind: 'ok'; readonly sni?: string; readonly alpn: readonly string[]; readonly tlsVersion: string }
  | { readonly kind: 'not-tls'; readonly reason: string }
  | { readonly kind: 'malformed'; readonly reason: string }
  | { readonly kind: 'too-large'; readonly reason: string }
  /** The connection ended (or failed) before the hello was complete. */
  | { readonly kind: 'truncated'; readonly reason: string }
  | { readonly kind: 'timeout'; readonly reason: string };

export interface HelloLimits {
  /** Largest ClientHello handshake message accepted (bytes). Default 16 KiB. */
  readonly maxHelloBytes?: number;
  /** Most TLS records the hello may be fragmented into. Default 64. */
  readonly maxRecords?: number;
}

export const DEFAULT_MAX_HELLO_BYTES = 16 * 1024;
export const DEFAULT_MAX_RECORDS = 64;
export const DEFAULT_HELLO_TIMEOUT_MS = 10_000;

const RECORD_HANDSHAKE = 22;
const HANDSHAKE_CLIENT_HELLO = 1;
const EXT_SERVER_NAME = 0;
const EXT_ALPN = 16;
const EXT_SUPPORTED_VERSIONS = 43;

/**
 * Feed it the bytes of a connection as they arrive; `push` returns undefined while it needs more,
 * then the result (and keeps returning it). Never throws on input.
 */
export class ClientHelloReader {
  private readonly chunks: Buffer[] = [];
  private length = 0;
  private result: HelloResult | undefined;
  /** Bytes needed before a scan can say more (the end of the record being read): 1-byte reads cost no rescans. */
  private need = 1;
  private readonly maxHello: number;
  private readonly maxRecords: number;

  constructor(limits: HelloLimits = {}) {
    this.maxHello = limits.maxHelloBytes ?? DEFAULT_MAX_HELLO_BYTES;
    this.maxRecords = limits.maxRecords ?? DEFAULT_MAX_RECORDS;
  }

  /** Every byte pushed so far, in order: what to send to the backend first. */
  get buffered(): Buffer {
    if (this.chunks.length > 1) { const all = Buffer.concat(this.chunks, this.length); this.chunks.length = 0; this.chunks.push(all); }
    return this.chunks[0] ?? Buffer.alloc(0);
  }

  get done(): HelloResult | undefined { return this.result; }

  push(chunk: Buffer): HelloResult | undefined {
    if (this.result) return this.result;
    if (chunk.length === 0) return undefined;
    this.chunks.push(chunk);
    this.length += chunk.length;
    if (this.length < this.need) return undefined;
    const r = scan(this.buffered, this.maxHello, this.maxRecords);
    if (typeof r === 'number') { this.need = r; return undefined; }
    return (this.result = r);
  }

  /** The stream ended: a hello still incomplete is truncated. */
  end(reason = 'the connection ended before the ClientHello was complete'): HelloResult {
    return (this.result ??= { kind: 'truncated', reason });
  }
}

/** The result for a complete buffer (a convenience for tests and one-shot callers). */
export function parseClientHello(buf: Buffer, limits: HelloLimits = {}): HelloResult {
  const r = scan(buf, limits.maxHelloBytes ?? DEFAULT_MAX_HELLO_BYTES, limits.maxRecords ?? DEFAULT_MAX_RECORDS);
  return typeof r === 'number' ? { kind: 'truncated', reason: 'the ClientHello is incomplete' } : r;
}

/**
 * Walk the records from the start of `buf`, collecting handshake bytes until the ClientHello is
 * complete. A number = incomplete: the buffer length at which scanning again can tell more.
 */
function scan(buf: Buffer, maxHello: number, maxRecords: number): HelloResult | number {
  if (buf.length >= 1 && buf[0] !== RECORD_HANDSHAKE) {
    // SSLv2-compatible hellos (first bit set) are TLS in a sense, but no client has sent one in a
    // decade and they carry no SNI: call them what they are for routing purposes.
    return { kind: 'not-tls', reason: buf[0] & 0x80 ? 'an SSLv2-format hello (no SNI possible)' : `first byte 0x${buf[0].toString(16).padStart(2, '0')} is not a TLS handshake record` };
  }
  const hs: Buffer[] = [];
  let hsLen = 0;
  let msgLen = -1; // handshake body length once its 4-byte header is in
  let off = 0;
  let records = 0;
  while (off + 5 <= buf.length) {
    const type = buf[off], major = buf[off + 1], minor = buf[off + 2];
    const len = buf.readUInt16BE(off + 3);
    if (type !== RECORD_HANDSHAKE) return { kind: 'malformed', reason: `record type ${type} before the ClientHello was complete` };
    if (major !== 3 || minor > 4) return records === 0 && major !== 3
      ? { kind: 'not-tls', reason: `record version ${major}.${minor} is not TLS` }
      : { kind: 'malformed', reason: `record version ${major}.${minor} is not TLS` };
    if (len === 0) return { kind: 'malformed', reason: 'empty handshake record' };
    if (len > 16384) return { kind: 'malformed', reason: `record length ${len} exceeds 2^14` };
    if (++records > maxRecords) return { kind: 'too-large', reason: `the ClientHello spans more than ${maxRecords} records` };
    const end = Math.min(off + 5 + len, buf.length);
    hs.push(buf.subarray(off + 5, end));
    hsLen += end - off - 5;
    if (msgLen < 0 && hsLen >= 4) {
      const h = hsLen === hs[0].length ? hs[0] : Buffer.concat(hs, hsLen);
      if (h[0] !== HANDSHAKE_CLIENT_HELLO) return { kind: 'malformed', reason: `handshake message type ${h[0]} is not a ClientHello` };
      msgLen = h.readUIntBE(1, 3);
      if (msgLen > maxHello) return { kind: 'too-large', reason: `the ClientHello is ${msgLen} bytes, more than the limit of ${maxHello}` };
    }
    if (msgLen >= 0 && hsLen >= 4 + msgLen) {
      const h = hs.length === 1 ? hs[0] : Buffer.concat(hs, hsLen);
      return parseHelloBody(h.subarray(4, 4 + msgLen));
    }
    // Record still arriving: scan again at its end, or sooner to read the handshake header (so an
    // oversized hello is refused from its first bytes).
    if (end < off + 5 + len) return msgLen < 0 ? Math.min(off + 5 + len, buf.length + 4 - hsLen) : off + 5 + len;
    off = end;
  }
  // A partial record header: check what is there already, so garbage fails at once.
  if (off < buf.length) {
    if (buf.length - off >= 2 && buf[off + 1] !== 3) return records === 0 ? { kind: 'not-tls', reason: `record version ${buf[off + 1]} is not TLS` } : { kind: 'malformed', reason: 'bad record version' };
    if (buf[off] !== RECORD_HANDSHAKE) return { kind: 'malformed', reason: `record type ${buf[off]} before the ClientHello was complete` };
  }
  return Math.max(off + 5, buf.length + 1);
}

/** Parse the ClientHello body (after the 4-byte handshake header); strict about every length. */
function parseHelloBody(b: Buffer): HelloResult {
  const bad = (reason: string): HelloResult => ({ kind: 'malformed', reason });
  let p: number;
  if (b.length < 2 + 32 + 1) return bad('ClientHello too short');
  const legacyVersion = b.readUInt16BE(0);
  if (b[0] !== 3) return bad(`client version 0x${legacyVersion.toString(16)} is not TLS`);
  p = 2 + 32;
  const sidLen = b[p]; p += 1;
  if (sidLen > 32 || p + sidLen > b.length) return bad('bad session id length');
  p += sidLen;
  if (p + 2 > b.length) return bad('truncated cipher suites');
  const csLen = b.readUInt16BE(p); p += 2;
  if (csLen < 2 || csLen % 2 !== 0 || p + csLen > b.length) return bad('bad cipher suites length');
  p += csLen;
  if (p + 1 > b.length) return bad('truncated compression methods');
  const cmLen = b[p]; p += 1;
  if (cmLen < 1 || p + cmLen > b.length) return bad('bad compression methods length');
  p += cmLen;
  let version = versionName(legacyVersion);
  if (p === b.length) return { kind: 'ok', alpn: [], tlsVersion: version }; // no extensions at all
  if (p + 2 > b.length) return bad('truncated extensions length');
  const extLen = b.readUInt16BE(p); p += 2;
  if (p + extLen !== b.length) return bad('extensions length does not match the ClientHello length');
  let sni: string | undefined;
  let alpn: string[] = [];
  const seen = new Set<number>();
  while (p < b.length) {
    if (p + 4 > b.length) return bad('truncated extension header');
    const type = b.readUInt16BE(p), len = b.readUInt16BE(p + 2);
    p += 4;
    if (p + len > b.length) return bad(`extension ${type} overruns the ClientHello`);
    if (seen.has(type)) return bad(`extension ${type} appears twice`);
    seen.add(type);
    const data = b.subarray(p, p + len);
    p += len;
    if (type === EXT_SERVER_NAME) {
      const r = parseServerName(data);
      if (typeof r !== 'string' && r !== undefined) return bad(r.error);
      sni = r;
    } else if (type === EXT_ALPN) {
      const r = parseAlpn(data);
      if (!Array.isArray(r)) return bad(r.error);
      alpn = r;
    } else if (type === EXT_SUPPORTED_VERSIONS) {
      // The highest version offered (TLS 1.3 clients say 1.2 in legacy_version): for logs only.
      if (data.length >= 3 && data[0] === data.length - 1 && data[0] % 2 === 0) {
        let best = 0;
        for (let i = 1; i + 1 < data.length; i += 2) { const v = data.readUInt16BE(i); if ((v & 0x0f0f) !== 0x0a0a && v > best) best = v; } // skip GREASE
        if (best) version = versionName(best);
      }
    }
  }
  return { kind: 'ok', ...(sni !== undefined ? { sni } : {}), alpn, tlsVersion: version };
}

// RFC 6066 §3: a list with at most one host_name; ASCII, no trailing dot. A name that is not a
// DNS name (spaces, control bytes, an IP literal is allowed through as is) is refused: it would
// otherwise reach logs and routing tables.
function parseServerName(d: Buffer): string | undefined | { error: string } {
  if (d.length === 0) return undefined; // servers echo an empty extension; a client sending one means no name
  if (d.length < 2 || d.readUInt16BE(0) !== d.length - 2) return { error: 'bad server_name list length' };
  let p = 2;
  let host: string | undefined;
  while (p < d.length) {
    if (p + 3 > d.length) return { error: 'truncated server_name entry' };
    const nameType = d[p], len = d.readUInt16BE(p + 1);
    p += 3;
    if (p + len > d.length) return { error: 'server_name entry overruns the list' };
    if (nameType === 0) {
      if (host !== undefined) return { error: 'more than one host_name in server_name' };
      if (len === 0 || len > 253) return { error: `host_name length ${len}` };
      const name = d.toString('latin1', p, p + len);
      if (!/^[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?$/.test(name) || name.includes('..')) return { error: 'host_name is not a DNS name' };
      host = name.toLowerCase();
    }
    p += len;
  }
  return host;
}

function parseAlpn(d: Buffer): string[] | { error: string } {
  if (d.length < 2 || d.readUInt16BE(0) !== d.length - 2) return { error: 'bad ALPN list length' };
  const out: string[] = [];
  let p = 2;
  while (p < d.length) {
    const len = d[p]; p += 1;
    if (len === 0 || p + len > d.length) return { error: 'bad ALPN protocol length' };
    // For logs: printable ASCII only, anything else as \xNN.
    out.push(d.toString('latin1', p, p + len).replace(/[^\x21-\x7e]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`));
    p += len;
  }
  return out;
}

function versionName(v: number): string {
  switch (v) {
    case 0x0300: return 'SSLv3';
    case 0x0301: return 'TLSv1';
    case 0x0302: return 'TLSv1.1';
    case 0x0303: return 'TLSv1.2';
    case 0x0304: return 'TLSv1.3';
    default: return `0x${v.toString(16)}`;
  }
}

/**
 * Read a ClientHello from a socket: resolves with the result and every byte read (to replay to
 * the backend). The socket is left paused with no 'data' listener of ours. `timeoutMs` bounds the
 * whole read (a slowloris sending one byte a second is cut at the limit, not kept alive by each byte).
 */
export function readClientHello(socket: Socket, opts: HelloLimits & { timeoutMs?: number } = {}): Promise<{ result: HelloResult; buffered: Buffer }> {
  const reader = new ClientHelloReader(opts);
  return new Promise((resolve) => {
    let settled = false;
    const finish = (result: HelloResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.off('data', onData); socket.off('end', onEnd); socket.off('error', onError); socket.off('close', onEnd);
      socket.pause();
      resolve({ result, buffered: reader.buffered });
    };
    const onData = (c: Buffer) => { const r = reader.push(c); if (r) finish(r); };
    const onEnd = () => finish(reader.end());
    const onError = (err: Error) => finish(reader.end(`the connection failed before the ClientHello was complete: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
    const ms = opts.timeoutMs ?? DEFAULT_HELLO_TIMEOUT_MS;
    const timer = setTimeout(() => finish({ kind: 'timeout', reason: `no complete ClientHello within ${ms} ms` }), ms);
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
    socket.once('error', onError);
    socket.resume();
  });
}
