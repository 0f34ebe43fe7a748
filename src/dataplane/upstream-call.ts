// One upstream exchange through undici's lowest-level API (dispatch with a handler object), for
// the request path. pool.request would wrap the response body in a Readable, pipe it into the
// client's response, and add an AbortSignal listener per request; streams, pipes and listeners
// were most of the proxy's own CPU per request (see bench/http). Here the response body goes from
// undici's parser straight into ServerResponse.write, with undici's pause/resume as backpressure,
// and a small body that arrived with the headers leaves in the same write as the response head.
import type { HttpResponse } from './http-types.ts';
import type { Dispatcher } from 'undici';

export type UpstreamHeaders = Record<string, string | string[] | undefined>;

export interface UpstreamCallOptions {
  readonly origin: string;
  readonly path: string;
  readonly method: string;
  readonly headers: UpstreamHeaders;
  readonly body?: AsyncIterable<Buffer> | Buffer;
  readonly headersTimeout: number;
  readonly bodyTimeout: number;
}

/** Bytes buffered before the response is attached to a client; past this undici pauses reading. */
const BUFFER_LIMIT = 64 * 1024;

/**
 * Start a request on `dispatcher`. The promise settles with the call once the upstream's response
 * head is in (or with the error if none came). Then exactly one of pipeTo / discard must be called.
 */
export function callUpstream(dispatcher: Dispatcher, opts: UpstreamCallOptions, call: UpstreamCall): Promise<UpstreamCall> {
  const p = new Promise<UpstreamCall>((resolve, reject) => { call.resolve = resolve; call.reject = reject; });
  dispatcher.dispatch(opts as unknown as Dispatcher.DispatchOptions, call);
  return p;
}

/** What collect() held: the body's first chunks, and an upstream error. */
export interface Collected { readonly chunks: readonly Buffer[]; readonly error: Error | null }

export class UpstreamCall implements Dispatcher.DispatchHandler {
  statusCode = 0;
  headers: UpstreamHeaders = {};
  trailers: UpstreamHeaders | undefined = undefined;
  resolve: ((c: UpstreamCall) => void) | null = null;
  reject: ((e: Error) => void) | null = null;
  private controller: Dispatcher.DispatchController | null = null;
  /** Set once aborted (by the client going away or a timeout); later events are ignored. */
  private abortReason: Error | null = null;
  /** Body chunks that arrived before pipeTo (usually the whole body of a small response). */
  private pending: Buffer[] | null = null;
  private pendingBytes = 0;
  private ended = false;
  private failed: Error | null = null;
  private discarding = false;
  private sink: HttpResponse | null = null;
  private wantsTrailers = false;
  private onFinish: ((err: Error | null) => void) | null = null;
  /** Bytes held before pipeTo; raised by collect() (the WAF holds a response to inspect it). */
  private holdLimit = BUFFER_LIMIT;
  private collector: ((v: Collected) => void) | null = null;
  private readonly resumeFn = (): void => { this.controller?.resume(); };

  /** Abort the exchange (before or after the head came); the pending promise rejects with `reason`. */
  abort(reason: Error): void {
    if (this.abortReason || this.ended || this.failed) return;
    this.abortReason = reason;
    if (this.controller && !this.controller.aborted) this.controller.abort(reason);
  }

  get aborted(): boolean { return this.abortReason !== null; }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.abortReason) controller.abort(this.abortReason);
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: UpstreamHeaders): void {
    this.statusCode = statusCode;
    this.headers = headers;
    const resolve = this.resolve;
    this.resolve = this.reject = null;
    resolve?.(this);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.discarding) return;
    const sink = this.sink;
    if (sink) {
      if (!sink.write(chunk)) { controller.pause(); sink.once('drain', this.resumeFn); }
      return;
    }
    (this.pending ??= []).push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes >= this.holdLimit) {
      controller.pause();
      this.settleCollect();
    }
  }

  onResponseEnd(_controller: Dispatcher.DispatchController, trailers: UpstreamHeaders): void {
    this.ended = true;
    this.trailers = trailers;
    this.settleCollect();
    if (this.sink) this.finish(null);
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    if (this.ended || this.failed) return;
    this.failed = this.abortReason ?? err;
    const reject = this.reject;
    if (reject) { this.resolve = this.reject = null; reject(this.failed); return; }
    this.settleCollect();
    if (this.sink) this.finish(this.failed);
  }

  /**
   * Hold the response body (after the head came, before pipeTo) until `limit` bytes are in or it
   * ended: what arrived is the start of the body (all of it, if it ended). pipeTo then
   * sends what was held, and streams the rest. An upstream error settles it with `error`.
   */
  collect(limit: number): Promise<Collected> {
    this.holdLimit = Math.max(limit, 1);
    return new Promise<Collected>((resolve) => {
      this.collector = resolve;
      if (this.ended || this.failed || this.pendingBytes >= this.holdLimit) this.settleCollect();
      else if (this.controller?.paused) this.controller.resume();
    });
  }

  private settleCollect(): void {
    const done = this.collector;
    if (!done) return;
    this.collector = null;
    done({ chunks: this.pending ?? [], error: this.failed });
  }

  /** Drop the body (a retried status, a trailers-only gRPC answer): read it to the end. */
  discard(): void {
    this.discarding = true;
    this.pending = null;
    if (this.controller?.paused) this.controller.resume();
  }

  /**
   * Send the body into `res` (its head already written), then add the upstream's trailers when
   * `wantsTrailers`, end it, and call `onFinish(null)`; on an upstream error call `onFinish(err)`
   * and leave `res` to the caller. Called once per call.
   */
  pipeTo(res: HttpResponse, wantsTrailers: boolean, onFinish: (err: Error | null) => void): void {
    this.sink = res;
    this.wantsTrailers = wantsTrailers;
    this.onFinish = onFinish;
    if (this.failed) { this.finish(this.failed); return; }
    const pending = this.pending;
    this.pending = null;
    if (this.ended) {
      // The whole body is here: one end() call, so head and body leave in one write.
      if (pending && pending.length > 1) res.write(pending.length === 2 ? pending[0] : Buffer.concat(pending.slice(0, -1)));
      this.finish(null, pending ? pending[pending.length - 1] : undefined);
      return;
    }
    if (pending) {
      let ok = true;
      for (const c of pending) ok = res.write(c);
      if (!ok) { res.once('drain', this.resumeFn); return; }
    }
    if (this.controller?.paused) this.controller.resume();
  }

  private finish(err: Error | null, last?: Buffer): void {
    const onFinish = this.onFinish;
    if (!onFinish) return;
    this.onFinish = null;
    const res = this.sink!;
    res.off('drain', this.resumeFn);
    if (err) { onFinish(err); return; }
    const t = this.trailers;
    if (this.wantsTrailers && t) {
      for (const _ in t) { res.addTrailers(t as Record<string, string>); break; }
    }
    if (last) res.end(last); else res.end();
    onFinish(null);
  }
}
