// A fast HTTP/1.1 server for the data plane's cleartext listeners: node:net sockets, Node's own
// llhttp binding (./llhttp.ts) in strict mode, and two light objects per request (H1Request,
// H1Response) instead of node:http's IncomingMessage/ServerResponse streams. It keeps what
// node:http does as gateway.ts configures it (each point is tested in server.test.ts beside this
// file, most of them against node:http itself):
// - parsing: strict llhttp, maxHeaderSize, at most 2000 raw header entries (Node's maxHeaderPairs),
//   Host required on HTTP/1.1 (400, Connection: close, as Node writes it), CONNECT and PRI close
//   the connection, Upgrade requests go to the upgrade handler with (req, socket, head);
// - errors: a parse error, a header/request timeout, a socket error: `onClientError(err, socket)`
//   once, then the connection is the handler's (gateway.ts answers 400 problem+json or drops it);
// - timeouts: headersTimeout and requestTimeout count from the first byte of a request (slowloris),
//   keepAliveTimeout (+1 s, Node's keepAliveTimeoutBuffer) closes an idle keep-alive connection;
// - Expect: 100-continue answered with 100 Continue, another expectation with 417;
// - responses in request order (pipelining), the socket paused while answers queue up, Date on
//   every response, Connection/Keep-Alive as Node writes them, chunked when there is no
//   Content-Length on HTTP/1.1 and close-delimited on HTTP/1.0, trailers on chunked responses,
//   no body for HEAD, 1xx, 204 and 304; header names and values validated (ERR_INVALID_CHAR);
// - request bodies: delivered through an async iterator with backpressure (the socket is paused
//   while the consumer is 64 KiB behind), an unread body is read and dropped after the response
//   (the connection stays usable), the iterator fails with 'aborted' (ECONNRESET) if the client
//   goes away;
// - close(): idle connections close at once; a connection still busy answers its last request
//   with Connection: close and closes; closeIdleConnections() and closeAllConnections() as Node's.
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type net from 'node:net';
import { HTTPParser, K_ON_BODY, K_ON_HEADERS, K_ON_HEADERS_COMPLETE, K_ON_MESSAGE_BEGIN, K_ON_MESSAGE_COMPLETE, LENIENT_NONE, METHODS, type LlhttpParser } from './llhttp.ts';
import { headersSentError, invalidStatusError, requestHeaders, utcDate, validateName, validateValue } from './headers.ts';

export interface H1ServerOptions {
  readonly maxHeaderSize?: number;
  readonly requireHostHeader?: boolean;
  /** ms from the first byte of a request to the end of its headers; 0: none. */
  readonly headersTimeout?: number;
  /** ms from the first byte of a request to the end of its body; 0: none. */
  readonly requestTimeout?: number;
  /** ms an idle keep-alive connection stays open (advertised in Keep-Alive); 0: no limit. */
  readonly keepAliveTimeout?: number;
  /** Added to keepAliveTimeout before an idle connection is closed (Node's keepAliveTimeoutBuffer). */
  readonly keepAliveTimeoutBuffer?: number;
  /** How often the timeouts above are checked (ms). */
  readonly checkInterval?: number;
}

export type RequestHandler = (req: H1Request, res: H1Response) => void;
export type UpgradeHandler = (req: H1Request, socket: net.Socket, head: Buffer) => void;
export type ClientErrorHandler = (err: NodeJS.ErrnoException, socket: net.Socket) => void;

/** Body bytes held for a consumer that is behind before the socket is paused. */
const BODY_HIGH_WATER = 64 * 1024;
/** Bytes queued by pipelined answers waiting their turn before the socket is paused (Node: the socket's writableHighWaterMark). */
const OUT_HIGH_WATER = 16 * 1024;
/** node:http's maxHeaderPairs default (2000 entries of rawHeaders). */
const MAX_HEADER_ENTRIES = 2000;
const CONTINUE_RE = /(?:^|\W)100-continue(?:$|\W)/i;
const CHUNKED_RE = /(?:^|\W)chunked(?:$|\W)/i;
const CONN_CLOSE_RE = /(?:^|\W)close(?:$|\W)/i;
const PAUSE_BODY = 1, PAUSE_OUT = 2;
const CRLF = Buffer.from('\r\n');
/** Up to this many bytes, head and body are copied into one buffer for one write. */
const COALESCE_LIMIT = 16 * 1024;
const RESOURCE = Object.freeze({ type: 'PORTCULLIS_H1' });

// A pool of parsers, as node:http keeps (a parser is a C++ object: freed with close(), not by GC).
const freeParsers: LlhttpParser[] = [];
function closeParser(p: LlhttpParser): void { p.close(); }

export class H1Server {
  readonly opts: Required<H1ServerOptions>;
  private readonly conns = new Set<Conn>();
  private timer: NodeJS.Timeout | null = null;
  closing = false;

  readonly onRequest: RequestHandler;
  readonly onUpgrade: UpgradeHandler | null;
  readonly onClientError: ClientErrorHandler;

  constructor(opts: H1ServerOptions, onRequest: RequestHandler, onUpgrade: UpgradeHandler | null, onClientError: ClientErrorHandler) {
    this.onRequest = onRequest;
    this.onUpgrade = onUpgrade;
    this.onClientError = onClientError;
    this.opts = {
      maxHeaderSize: opts.maxHeaderSize ?? 16 * 1024,
      requireHostHeader: opts.requireHostHeader ?? true,
      headersTimeout: opts.headersTimeout ?? 60_000,
      requestTimeout: opts.requestTimeout ?? 300_000,
      keepAliveTimeout: opts.keepAliveTimeout ?? 5_000,
      keepAliveTimeoutBuffer: opts.keepAliveTimeoutBuffer ?? 1_000,
      checkInterval: opts.checkInterval ?? 1_000,
    };
    this.timer = setInterval(() => this.check(), this.opts.checkInterval).unref();
  }

  /** Take over an accepted socket; `first`: bytes already read from it (the h2c sniffing). */
  connection(socket: net.Socket, first?: Buffer): void {
    const c = new Conn(this, socket);
    this.conns.add(c);
    if (first && first.length) c.onData(first);
    if (c.paused === 0 && !c.closed) socket.resume();
  }

  /** Connections currently tracked (for tests). */
  get connectionCount(): number { return this.conns.size; }

  /** Stop the timeout checks and close idle connections; busy ones close after their answer. */
  close(): void {
    this.closing = true;
    if (this.timer) { clearInterval(this.timer); this.timer = null; }
    this.closeIdleConnections();
  }

  closeIdleConnections(): void {
    for (const c of this.conns) if (c.isIdle()) c.socket.destroy();
  }

  closeAllConnections(): void {
    for (const c of this.conns) c.socket.destroy();
  }

  /** @internal */
  forget(c: Conn): void { this.conns.delete(c); }

  private check(): void {
    const { headersTimeout, requestTimeout, keepAliveTimeout, keepAliveTimeoutBuffer } = this.opts;
    const now = performance.now();
    for (const c of this.conns) {
      if (c.receiving) {
        if ((headersTimeout > 0 && !c.headersDone && now - c.messageStart > headersTimeout) || (requestTimeout > 0 && now - c.messageStart > requestTimeout)) {
          c.receiving = false;
          const err = Object.assign(new Error('Request timeout'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' });
          c.fail(err);
        }
      } else if (keepAliveTimeout > 0 && c.idleSince > 0 && now - c.idleSince > keepAliveTimeout + keepAliveTimeoutBuffer) {
        c.socket.destroy();
      }
    }
  }
}

type Listener = () => void;

/** One client connection: its parser, the request being received, the answers in order. */
class Conn {
  readonly server: H1Server;
  readonly socket: net.Socket;
  parser: LlhttpParser | null;
  /** The request whose body the parser is reading (null between requests). */
  incoming: H1Request | null = null;
  /** Answers in request order; [0] writes to the socket, the others buffer. */
  readonly queue: H1Response[] = [];
  /** Bytes buffered by queued answers. */
  queuedBytes = 0;
  /** A request is being received (first byte seen, body not complete): the timeouts apply. */
  receiving = false;
  headersDone = false;
  messageStart = 0;
  /** When the connection went idle (no request coming in, no answer pending); 0 if not idle. */
  idleSince = 0;
  paused = 0;
  closed = false;
  failed = false;
  /** Headers and URL of a request with more than 32 header lines come in pieces (kOnHeaders). */
  rawAcc: string[] | null = null;
  urlAcc = '';
  /** A request that the upgrade handler takes, set by onHeadersComplete, acted on after execute(). */
  upgrade: H1Request | null = null;
  /** CONNECT/PRI: the connection is dropped once execute() returns. */
  drop = false;

  constructor(server: H1Server, socket: net.Socket) {
    this.server = server;
    this.socket = socket;
    const p = freeParsers.pop() ?? newParser();
    p.initialize(HTTPParser.REQUEST, RESOURCE, server.opts.maxHeaderSize, LENIENT_NONE);
    (p as unknown as { conn: Conn | null }).conn = this;
    this.parser = p;
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onClose);
    socket.on('drain', this.onDrain);
    socket.on('error', this.onError);
  }

  isIdle(): boolean { return !this.receiving && this.queue.length === 0; }

  readonly onData = (d: Buffer): void => {
    const p = this.parser;
    if (!p || this.failed) return;
    const ret = p.execute(d);
    if (typeof ret !== 'number') {
      ret.rawPacket = d;
      if (typeof ret.reason === 'string') ret.message = `Parse Error: ${ret.reason}`;
      this.fail(ret);
      return;
    }
    if (this.upgrade) this.handUpgrade(this.upgrade, d.subarray(ret));
    else if (this.drop) this.socket.destroy();
  };

  private readonly onEnd = (): void => {
    const p = this.parser;
    if (p && !this.failed) {
      const ret = p.finish();
      if (ret !== undefined && typeof ret !== 'number') { this.fail(ret); return; }
    }
    this.socket.end();
  };

  private readonly onError = (err: Error): void => { this.fail(err as NodeJS.ErrnoException); };

  private readonly onDrain = (): void => {
    const r = this.queue[0];
    if (r && r.needDrain && !r.ended) { r.needDrain = false; r.emit(EV_DRAIN); }
  };

  private readonly onClose = (): void => {
    if (this.closed) return;
    this.closed = true;
    this.server.forget(this);
    this.releaseParser();
    const req = this.incoming;
    this.incoming = null;
    if (req && !req.complete) req.abort();
    const q = this.queue.splice(0);
    for (const r of q) { if (!r.req.complete) r.req.abort(); r.closeNow(); }
  };

  /** A parse error, a timeout or a socket error: the client-error handler owns the socket now. */
  fail(err: NodeJS.ErrnoException): void {
    if (this.failed) return;
    this.failed = true;
    this.socket.off('error', this.onError);
    this.socket.on('error', noop);
    this.server.onClientError(err, this.socket);
  }

  private releaseParser(): void {
    const p = this.parser;
    if (!p) return;
    this.parser = null;
    (p as unknown as { conn: Conn | null }).conn = null;
    if (freeParsers.length < 1000) freeParsers.push(p);
    else setImmediate(closeParser, p); // never while its execute() may be on the stack
  }

  pause(reason: number): void {
    if (this.paused === 0) this.socket.pause();
    this.paused |= reason;
  }

  resume(reason: number): void {
    if (!(this.paused & reason)) return;
    this.paused &= ~reason;
    if (this.paused === 0 && !this.closed) this.socket.resume();
  }

  // --- parser callbacks (this = the Conn, called through the parser's slots) ---

  messageBegin(): void {
    this.receiving = true;
    this.headersDone = false;
    this.messageStart = performance.now();
    this.idleSince = 0;
  }

  headersComplete(major: number, minor: number, raw: string[] | undefined, method: number, url: string | undefined, upgrade: boolean, keepAlive: boolean): number {
    this.headersDone = true;
    if (raw === undefined) { raw = this.rawAcc ?? []; this.rawAcc = null; }
    if (url === undefined) { url = this.urlAcc; this.urlAcc = ''; }
    if (raw.length > MAX_HEADER_ENTRIES) raw = raw.slice(0, MAX_HEADER_ENTRIES);
    const req = new H1Request(this, METHODS[method] ?? String(method), url, raw, major, minor);
    this.incoming = req;
    if (upgrade) {
      if (req.method === 'CONNECT' || !this.server.onUpgrade) { this.drop = req.method === 'CONNECT'; if (this.drop) return 2; }
      else { this.upgrade = req; return 2; }
    }
    if (req.method === 'PRI') { this.drop = true; return 0; }
    const res = new H1Response(this, req, keepAlive);
    this.queue.push(res);
    if (this.queue.length > 1 && this.queuedBytes >= OUT_HIGH_WATER) this.pause(PAUSE_OUT);
    if (major === 1 && minor === 1) {
      if (this.server.opts.requireHostHeader && req.rawHost() === undefined) {
        res.writeHead(400, { Connection: 'close' });
        res.end();
        return 0;
      }
      const expect = req.rawExpect();
      if (expect !== undefined) {
        if (CONTINUE_RE.test(expect)) {
          res.expectContinue = true;
          res.writeRaw('HTTP/1.1 100 Continue\r\n\r\n');
        } else {
          res.writeHead(417);
          res.end();
          return 0;
        }
      }
    }
    this.server.onRequest(req, res);
    return 0;
  }

  body(chunk: Buffer): void {
    this.incoming?.push(chunk);
  }

  messageComplete(): void {
    this.receiving = false;
    const req = this.incoming;
    this.incoming = null;
    if (req) req.finishBody();
    if (this.queue.length === 0 && !this.upgrade) {
      if (this.server.closing) this.socket.destroySoon();
      else this.idleSince = performance.now();
    }
  }

  /** The upgrade handler takes the socket as node:http's 'upgrade' event hands it over. */
  private handUpgrade(req: H1Request, head: Buffer): void {
    this.upgrade = null;
    this.receiving = false;
    const s = this.socket;
    s.off('data', this.onData);
    s.off('end', this.onEnd);
    s.off('close', this.onClose);
    s.off('drain', this.onDrain);
    s.off('error', this.onError);
    this.closed = true;
    this.server.forget(this);
    this.releaseParser();
    this.paused = 0;
    (s as { readableFlowing: boolean | null }).readableFlowing = null; // as node:http does before 'upgrade'
    this.incoming = null;
    this.server.onUpgrade!(req, s, head);
  }

  // --- answers ---

  /** The answer at the head of the queue ended: the next one may write; keep-alive bookkeeping. */
  answered(res: H1Response): void {
    if (this.queue[0] !== res) return;
    this.queue.shift();
    const req = res.req;
    // A body nobody read (node:http's req._dump()) is read and dropped, so the connection can go on.
    if (!req.readableEnded) req.dump();
    this.resume(PAUSE_BODY);
    if (res.last || this.closed) {
      this.queue.length = 0;
      // After this tick, as node:http does it on 'finish': bytes already in this read (a request
      // after Connection: close) still reach the parser and its error handling.
      if (!this.closed) process.nextTick(endSocket, this.socket);
      return;
    }
    const next = this.queue[0];
    if (next) { next.activate(); if (this.queuedBytes < OUT_HIGH_WATER) this.resume(PAUSE_OUT); return; }
    this.resume(PAUSE_OUT);
    if (!this.receiving) {
      if (this.server.closing) { this.socket.destroySoon(); return; }
      this.idleSince = performance.now();
    }
  }
}

function noop(): void {}
function endSocket(s: net.Socket): void { if (!s.destroyed) s.destroySoon(); }

function newParser(): LlhttpParser {
  const p = new HTTPParser();
  type WithConn = LlhttpParser & { conn: Conn };
  p[K_ON_MESSAGE_BEGIN] = function (this: WithConn) { this.conn?.messageBegin(); return 0; };
  p[K_ON_HEADERS] = function (this: WithConn, headers: string[], url: string) {
    const c = this.conn;
    if (!c) return;
    (c.rawAcc ??= []).push(...headers);
    c.urlAcc += url;
  };
  p[K_ON_HEADERS_COMPLETE] = function (this: WithConn, major: number, minor: number, headers: string[] | undefined, method: number, url: string | undefined, _status: unknown, _msg: unknown, upgrade: boolean, keepAlive: boolean) {
    return this.conn ? this.conn.headersComplete(major, minor, headers, method, url, upgrade, keepAlive) : 0;
  };
  p[K_ON_BODY] = function (this: WithConn, b: Buffer) { this.conn?.body(b); };
  p[K_ON_MESSAGE_COMPLETE] = function (this: WithConn) { this.conn?.messageComplete(); };
  return p;
}

interface Waiter { resolve(v: IteratorResult<Buffer>): void; reject(e: Error): void }

/**
 * The request as the handler sees it: node:http's IncomingMessage without the stream. The body is
 * read with `for await` or `iterator()`; `readable`, `readableEnded` and `readableDidRead` follow
 * Readable's meaning (readable until the end was read, by someone).
 */
export class H1Request {
  readonly socket: net.Socket;
  private readonly conn: Conn;
  readonly method: string;
  readonly url: string;
  readonly rawHeaders: string[];
  readonly httpVersionMajor: number;
  readonly httpVersionMinor: number;
  private h: IncomingHttpHeaders | undefined = undefined;
  /** The whole body arrived (the parser said so). */
  complete = false;
  private chunks: Buffer[] | null = null;
  private held = 0;
  private waiter: Waiter | null = null;
  private endEmitted = false;
  private didRead = false;
  private error: Error | null = null;
  private dumped = false;
  private destroyedFlag = false;

  constructor(conn: Conn, method: string, url: string, raw: string[], major: number, minor: number) {
    this.conn = conn;
    this.socket = conn.socket;
    this.method = method;
    this.url = url;
    this.rawHeaders = raw;
    this.httpVersionMajor = major;
    this.httpVersionMinor = minor;
  }

  get httpVersion(): string { return this.httpVersionMajor === 1 && this.httpVersionMinor === 1 ? '1.1' : `${this.httpVersionMajor}.${this.httpVersionMinor}`; }
  get headers(): IncomingHttpHeaders { return this.h ??= requestHeaders(this.rawHeaders); }
  get readable(): boolean { return !this.endEmitted && !this.destroyedFlag; }
  get readableEnded(): boolean { return this.endEmitted; }
  get readableDidRead(): boolean { return this.didRead; }
  get destroyed(): boolean { return this.destroyedFlag; }

  /** @internal The first Host value without building `headers` (Host is first-wins). */
  rawHost(): string | undefined { return this.h ? this.h.host : firstRaw(this.rawHeaders, 'host'); }
  /** @internal Expect, joined as Node joins it. */
  rawExpect(): string | undefined { const r = this.rawHeaders; for (let i = 0; i < r.length; i += 2) if (r[i].length === 6 && r[i].toLowerCase() === 'expect') return this.headers.expect; return undefined; }

  /** @internal A body chunk from the parser. */
  push(chunk: Buffer): void {
    if (this.dumped || this.destroyedFlag) return;
    const w = this.waiter;
    if (w) { this.waiter = null; this.didRead = true; w.resolve({ value: chunk, done: false }); return; }
    (this.chunks ??= []).push(chunk);
    this.held += chunk.length;
    if (this.held >= BODY_HIGH_WATER) this.conn.pause(PAUSE_BODY);
  }

  /** @internal The body is complete. */
  finishBody(): void {
    this.complete = true;
    const w = this.waiter;
    if (w && !this.chunks?.length) { this.waiter = null; this.endEmitted = true; w.resolve({ value: undefined, done: true }); }
  }

  /** @internal The body is not wanted (the answer went out without reading it): drop it as it comes. */
  dump(): void {
    this.dumped = true;
    this.chunks = null;
    this.held = 0;
  }

  /** @internal The connection closed before the body was complete: the reader gets node:http's error. */
  abort(): void {
    if (this.destroyedFlag) return;
    this.destroyedFlag = true;
    this.error = Object.assign(new Error('aborted'), { code: 'ECONNRESET' });
    const w = this.waiter;
    if (w) { this.waiter = null; w.reject(this.error); }
  }

  private next(): Promise<IteratorResult<Buffer>> {
    if (this.error) return Promise.reject(this.error);
    const c = this.chunks;
    if (c && c.length) {
      const v = c.shift()!;
      this.held -= v.length;
      this.didRead = true;
      if (this.held < BODY_HIGH_WATER) this.conn.resume(PAUSE_BODY);
      return Promise.resolve({ value: v, done: false });
    }
    if (this.complete) { this.endEmitted = true; return Promise.resolve({ value: undefined, done: true }); }
    if (this.destroyedFlag) return Promise.resolve({ value: undefined, done: true });
    this.conn.resume(PAUSE_BODY);
    return new Promise((resolve, reject) => { this.waiter = { resolve, reject }; });
  }

  /**
   * Readable's async iterator: leaving the loop early destroys the request (and, for a body not
   * read to the end, the connection, as IncomingMessage does) unless destroyOnReturn is false.
   */
  iterator(options?: { destroyOnReturn?: boolean }): AsyncIterableIterator<Buffer> {
    const destroyOnReturn = options?.destroyOnReturn !== false;
    const it: AsyncIterableIterator<Buffer> = {
      next: () => this.next(),
      return: (): Promise<IteratorResult<Buffer>> => {
        if (destroyOnReturn && !this.destroyedFlag) {
          const unfinished = !this.endEmitted || !this.complete;
          this.destroyedFlag = true;
          this.chunks = null;
          if (unfinished) this.socket.destroy();
        }
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]() { return it; },
    };
    return it;
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Buffer> { return this.iterator(); }
}

function firstRaw(raw: readonly string[], lower: string): string | undefined {
  for (let i = 0; i < raw.length; i += 2) if (raw[i].length === lower.length && raw[i].toLowerCase() === lower) return raw[i + 1];
  return undefined;
}

const EV_CLOSE = 0, EV_DRAIN = 1, EV_FINISH = 2;
type EventName = 'close' | 'drain' | 'finish';

/**
 * The answer as the handler writes it: node:http's ServerResponse API as the data plane uses it
 * (writeHead, write, end, addTrailers, the close/drain/finish events, destroy), writing straight
 * to the socket when it is this request's turn and buffering until then otherwise.
 */
export class H1Response {
  readonly req: H1Request;
  private readonly conn: Conn;
  statusCode = 200;
  statusMessage: string | undefined = undefined;
  shouldKeepAlive: boolean;
  /** @internal Close the connection after this answer. */
  last = false;
  /** @internal 'drain' is owed to a writer that got false. */
  needDrain = false;
  /** @internal end() was called. */
  ended = false;
  /** @internal The client asked for 100-continue and got it. */
  expectContinue = false;
  private head: string | null = null;
  private headSent = false;
  private hasBody = true;
  private chunked = false;
  private readonly chunkedByDefault: boolean;
  private trailer = '';
  /** Output waiting for this answer's turn (pipelining). */
  private pending: (string | Buffer)[] | null = null;
  private pendingBytes = 0;
  private finished = false;
  private destroyedFlag = false;
  private closeEmitted = false;
  private closeL: Listener[] | null = null;
  private finishL: Listener[] | null = null;
  private drainL: Listener[] | null = null;
  private drainOnce: Listener[] | null = null;

  constructor(conn: Conn, req: H1Request, keepAlive: boolean) {
    this.conn = conn;
    this.req = req;
    this.shouldKeepAlive = keepAlive;
    if (req.method === 'HEAD') this.hasBody = false;
    // node:http: HTTP/1.0 (and any x.0) answers are chunked only if the client said TE: chunked.
    this.chunkedByDefault = req.httpVersionMajor >= 1 && req.httpVersionMinor >= 1 ? true : CHUNKED_RE.test(String(req.headers.te ?? ''));
  }

  get headersSent(): boolean { return this.head !== null; }
  get writableFinished(): boolean { return this.finished; }
  get writableEnded(): boolean { return this.ended; }
  get destroyed(): boolean { return this.destroyedFlag; }
  get socket(): net.Socket | null { return this.conn.closed ? null : this.conn.socket; }

  // --- events (a few listeners at most: no EventEmitter) ---
  private list(event: EventName): Listener[] {
    if (event === 'close') return this.closeL ??= [];
    if (event === 'finish') return this.finishL ??= [];
    return this.drainL ??= [];
  }
  on(event: EventName, fn: Listener): this { this.list(event).push(fn); return this; }
  /** 'close' and 'finish' happen once: a plain listener is a once listener. */
  once(event: EventName, fn: Listener): this { if (event === 'drain') (this.drainOnce ??= []).push(fn); else this.list(event).push(fn); return this; }
  off(event: EventName, fn: Listener): this {
    const l = event === 'close' ? this.closeL : event === 'finish' ? this.finishL : this.drainL;
    const i = l ? l.lastIndexOf(fn) : -1;
    if (i >= 0) l!.splice(i, 1);
    else if (event === 'drain' && this.drainOnce) { const j = this.drainOnce.lastIndexOf(fn); if (j >= 0) this.drainOnce.splice(j, 1); }
    return this;
  }
  removeListener(event: EventName, fn: Listener): this { return this.off(event, fn); }
  /** @internal Listeners are called as EventEmitter does: those registered when the event fired. */
  emit(i: number): void {
    if (i === EV_CLOSE) { const l = this.closeL; this.closeL = null; if (l) for (const fn of l) fn(); return; }
    if (i === EV_FINISH) { const l = this.finishL; this.finishL = null; if (l) for (const fn of l) fn(); return; }
    const once = this.drainOnce;
    this.drainOnce = null;
    if (this.drainL?.length) for (const fn of this.drainL.slice()) fn();
    if (once) for (const fn of once) fn();
  }

  writeHead(statusCode: number, reasonOrHeaders?: string | OutgoingHttpHeaders, maybeHeaders?: OutgoingHttpHeaders): this {
    if (this.head !== null) throw headersSentError();
    const code = statusCode | 0;
    if (code < 100 || code > 999) throw invalidStatusError(statusCode);
    let headers: OutgoingHttpHeaders | undefined;
    if (typeof reasonOrHeaders === 'string') { this.statusMessage = reasonOrHeaders; headers = maybeHeaders; }
    else { this.statusMessage ||= STATUS_CODES[code] || 'unknown'; headers = reasonOrHeaders; }
    if (INVALID_STATUS_MESSAGE.test(this.statusMessage)) throw Object.assign(new TypeError('Invalid character in statusMessage'), { code: 'ERR_INVALID_CHAR' });
    this.statusCode = code;
    this.storeHead(code, headers, null);
    return this;
  }

  /** node:http's _storeHeader, for the headers the data plane writes. */
  private storeHead(code: number, headers: OutgoingHttpHeaders | undefined, contentLength: number | null): void {
    let head = `HTTP/1.1 ${code} ${this.statusMessage}\r\n`;
    let connection = false, contLen = false, te = false, date = false, trailer = false, defaultKeepAlive = true;
    if (code === 204 || code === 304 || (code >= 100 && code <= 199)) this.hasBody = false;
    // Draining (close()): the last answer expected on this connection closes it.
    if (this.conn.server.closing && this.conn.queue.length <= 1 && !this.conn.receiving) this.shouldKeepAlive = false;
    if (headers) {
      for (const key in headers) {
        if (!Object.hasOwn(headers, key)) continue;
        validateName(key);
        let value = headers[key];
        if (Array.isArray(value)) {
          if (value.length < 2 || key.toLowerCase() !== 'cookie') {
            for (const v of value) { validateValue(key, v); head += `${key}: ${v}\r\n`; }
            if (value.length === 0) continue;
            value = value[value.length - 1];
          } else {
            value = value.join('; ');
            validateValue(key, value);
            head += `${key}: ${value}\r\n`;
          }
        } else {
          validateValue(key, value);
          head += `${key}: ${value}\r\n`;
        }
        if (key.length < 4 || key.length > 17) continue;
        switch (key.toLowerCase()) {
          case 'connection': connection = true; if (CONN_CLOSE_RE.test(String(value))) this.last = true; else this.shouldKeepAlive = true; break;
          case 'transfer-encoding': te = true; if (CHUNKED_RE.test(String(value))) this.chunked = true; break;
          case 'content-length': contLen = true; break;
          case 'date': date = true; break;
          case 'trailer': trailer = true; break;
          case 'keep-alive': defaultKeepAlive = false; break;
        }
      }
    }
    if (!date) head += `Date: ${utcDate()}\r\n`;
    if (this.chunked && (code === 204 || code === 304)) { this.chunked = false; this.shouldKeepAlive = false; }
    if (!connection) {
      if (this.shouldKeepAlive && (contLen || this.chunkedByDefault)) {
        head += 'Connection: keep-alive\r\n';
        const ka = this.conn.server.opts.keepAliveTimeout;
        if (ka && defaultKeepAlive) head += `Keep-Alive: timeout=${Math.floor(ka / 1000)}\r\n`;
      } else {
        this.last = true;
        head += 'Connection: close\r\n';
      }
    }
    if (!contLen && !te) {
      if (!this.hasBody) this.chunked = false;
      else if (!this.chunkedByDefault) this.last = true;
      else if (!trailer && contentLength !== null) head += `Content-Length: ${contentLength}\r\n`;
      else { head += 'Transfer-Encoding: chunked\r\n'; this.chunked = true; }
    }
    if (!this.chunked && trailer) throw Object.assign(new Error('Trailers are invalid with this transfer encoding'), { code: 'ERR_HTTP_TRAILER_INVALID' });
    this.head = head + '\r\n';
  }

  addTrailers(headers: OutgoingHttpHeaders | ReadonlyArray<[string, string]>): void {
    let t = '';
    const entries: [string, unknown][] = Array.isArray(headers) ? (headers as [string, string][]) : Object.entries(headers);
    for (const [field, value] of entries) {
      validateName(field, 'Trailer name');
      if (Array.isArray(value) && value.length > 1) {
        for (const v of value) { if (INVALID_VALUE_RE.test(String(v))) throw trailerCharError(field); t += `${field}: ${v}\r\n`; }
      } else {
        const v = Array.isArray(value) ? value.join('; ') : value;
        if (INVALID_VALUE_RE.test(String(v))) throw trailerCharError(field);
        t += `${field}: ${String(v)}\r\n`;
      }
    }
    this.trailer = t;
  }

  write(chunk: Buffer | string): boolean {
    if (this.ended) return false;
    if (this.head === null) { this.fixStatusMessage(); this.storeHead(this.statusCode, undefined, null); }
    if (!this.hasBody) return true;
    const len = typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
    if (len === 0) return true;
    if (this.chunked) return this.out(len.toString(16) + '\r\n', chunk, CRLF);
    return this.out('', chunk, null);
  }

  end(chunk?: Buffer | string): this {
    if (this.ended) return this;
    if (this.head === null) {
      const len = chunk === undefined ? 0 : typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
      this.fixStatusMessage();
      this.storeHead(this.statusCode, undefined, len);
    }
    this.ended = true;
    if (!this.hasBody) chunk = undefined;
    const len = chunk === undefined ? 0 : typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
    if (this.chunked) {
      const tail = `0\r\n${this.trailer}\r\n`;
      if (len) this.out(len.toString(16) + '\r\n', chunk!, '\r\n' + tail);
      else this.out(tail, null, null);
    } else this.out('', len ? chunk! : null, null);
    if (this.conn.queue[0] === this) this.done();
    return this;
  }

  private fixStatusMessage(): void { this.statusMessage ||= STATUS_CODES[this.statusCode] || 'unknown'; }

  /** @internal Raw bytes before the head (100 Continue): in order with the other answers. */
  writeRaw(s: string): void {
    if (this.conn.queue[0] === this) { if (this.conn.socket.writable) this.conn.socket.write(s, 'latin1'); }
    else this.buffer(s);
  }

  /** Send `pre` (latin1, with the head in front the first time), `body`, `post`, or queue them. */
  private out(pre: string, body: Buffer | string | null, post: string | Buffer | null): boolean {
    if (!this.headSent) { pre = this.head! + pre; this.headSent = true; }
    const conn = this.conn;
    if (conn.queue[0] !== this) {
      if (pre) this.buffer(pre);
      if (body !== null) this.buffer(body, true);
      if (post !== null) this.buffer(post);
      return this.pendingBytes < OUT_HIGH_WATER;
    }
    const s = conn.socket;
    if (!s.writable || this.destroyedFlag) return false;
    let ok: boolean;
    if (body === null) { if (!pre) return true; ok = s.write(pre, 'latin1'); }
    else if (post === null && !pre) ok = s.write(body);
    else if (pre.length + (typeof body === 'string' ? body.length * 3 : body.length) + (post === null ? 0 : post.length) <= COALESCE_LIMIT) {
      // Head (or chunk framing), body and tail in one buffer, one write: cheaper than a writev.
      const bodyLen = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
      const buf = Buffer.allocUnsafe(pre.length + bodyLen + (post === null ? 0 : post.length));
      let o = buf.write(pre, 0, 'latin1');
      o += typeof body === 'string' ? buf.write(body, o, 'utf8') : body.copy(buf, o);
      if (typeof post === 'string') buf.write(post, o, 'latin1');
      else if (post !== null) post.copy(buf, o);
      ok = s.write(buf);
    } else {
      s.cork();
      if (pre) s.write(pre, 'latin1');
      s.write(body);
      ok = post === null ? true : s.write(post as string, 'latin1');
      s.uncork();
      ok = ok && s.writableLength < s.writableHighWaterMark;
    }
    if (!ok) this.needDrain = true;
    return ok;
  }

  /** Strings queued here are written as latin1 (heads, framing): a string body is queued as its UTF-8 bytes. */
  private buffer(x: string | Buffer, utf8 = false): void {
    if (utf8 && typeof x === 'string') x = Buffer.from(x);
    (this.pending ??= []).push(x);
    const n = x.length;
    this.pendingBytes += n;
    this.conn.queuedBytes += n;
    if (this.conn.queuedBytes >= OUT_HIGH_WATER) this.conn.pause(PAUSE_OUT);
  }

  /** @internal This answer's turn came: write what it buffered. */
  activate(): void {
    const p = this.pending;
    const n = this.pendingBytes;
    this.pending = null;
    this.pendingBytes = 0;
    this.conn.queuedBytes -= n;
    const s = this.conn.socket;
    if (p && s.writable) {
      s.cork();
      for (const x of p) { if (typeof x === 'string') s.write(x, 'latin1'); else s.write(x); }
      s.uncork();
    }
    if (this.ended) this.done();
    else if (this.needDrain || n > 0) { this.needDrain = false; process.nextTick(emitDrain, this); }
  }

  /** Ended and its turn: finished; 'finish' and 'close' follow on the next tick, as in node:http. */
  private done(): void {
    if (this.finished) return;
    this.finished = true;
    process.nextTick(emitFinishClose, this);
    this.conn.answered(this);
  }

  /** @internal The connection closed: 'close' (without 'finish' if it was not finished). */
  closeNow(): void {
    if (this.closeEmitted) return;
    this.destroyedFlag = true;
    if (this.finished) return; // 'close' is already scheduled
    this.closeEmitted = true;
    process.nextTick(emitClose, this);
  }

  /** @internal */
  emitFinishThenClose(): void {
    this.emit(EV_FINISH);
    if (this.closeEmitted) return;
    this.closeEmitted = true;
    this.destroyedFlag = true;
    this.emit(EV_CLOSE);
  }

  destroy(_err?: Error): this {
    if (this.destroyedFlag) return this;
    this.destroyedFlag = true;
    // An answer cannot be skipped on an HTTP/1.1 connection: the connection goes with it.
    this.conn.socket.destroy();
    return this;
  }
}

const INVALID_STATUS_MESSAGE = /[^\t\x20-\x7e\x80-\xff]/;
const INVALID_VALUE_RE = /[^\t\x20-\x7e\x80-\xff]/;
function trailerCharError(field: string): Error { return Object.assign(new TypeError(`Invalid character in trailer content ["${field}"]`), { code: 'ERR_INVALID_CHAR' }); }
function emitFinishClose(r: H1Response): void { r.emitFinishThenClose(); }
function emitClose(r: H1Response): void { r.emit(EV_CLOSE); }
function emitDrain(r: H1Response): void { if (!r.ended) r.emit(EV_DRAIN); }
