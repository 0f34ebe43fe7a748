// What the request path (http-handler.ts and its helpers) uses of a request and its answer. Three
// servers hand it objects: node:http2 (HTTPS and h2c, compatibility API), node:http (the admin
// API; cleartext listeners with PORTCULLIS_HTTP1=node) and the fast HTTP/1.1 server of
// src/dataplane/h1. node:http's IncomingMessage/ServerResponse and node:http2's
// Http2ServerRequest/Http2ServerResponse satisfy these interfaces as they are (gateway.ts hands
// the same handler to all three without a cast); h1's H1Request/H1Response implement exactly
// this and nothing more.
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';

export interface HttpRequest {
  readonly method?: string;
  readonly url?: string;
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: string[];
  readonly httpVersion: string;
  readonly httpVersionMajor: number;
  readonly socket: Socket;
  /** Until the end of the body was read (by anyone). */
  readonly readable: boolean;
  readonly readableEnded: boolean;
  /** Some of the body was read. */
  readonly readableDidRead: boolean;
  /** The body; leaving early destroys the request unless destroyOnReturn is false. */
  iterator(options?: { destroyOnReturn?: boolean }): AsyncIterableIterator<any>;
  [Symbol.asyncIterator](): AsyncIterator<any>;
}

export interface HttpResponse {
  statusCode: number;
  shouldKeepAlive: boolean;
  readonly headersSent: boolean;
  readonly writableFinished: boolean;
  readonly destroyed: boolean;
  writeHead(statusCode: number, headers?: OutgoingHttpHeaders): this;
  write(chunk: Buffer | string): boolean;
  end(chunk?: Buffer | string): this;
  addTrailers(headers: OutgoingHttpHeaders): void;
  on(event: 'close' | 'drain' | 'finish', listener: () => void): unknown;
  once(event: 'close' | 'drain' | 'finish', listener: () => void): unknown;
  off(event: 'close' | 'drain' | 'finish', listener: () => void): unknown;
  destroy(error?: Error): unknown;
}

export type HttpHandler = (req: HttpRequest, res: HttpResponse) => void;
