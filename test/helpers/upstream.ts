// Real upstream servers on loopback for integration tests.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Upstream { name: string; port: number; server: http.Server; requests: number; close(): Promise<void> }

/** An HTTP server answering `{"upstream": name, "path": ...}`; `?delay=ms` delays the answer. */
export async function startUpstream(name: string, opts: { port?: number } = {}): Promise<Upstream> {
  const u = { name, port: 0, requests: 0 } as Upstream;
  const server = http.createServer((req, res) => {
    u.requests++;
    const url = new URL(req.url ?? '/', 'http://x');
    const delay = Number(url.searchParams.get('delay') ?? 0);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => setTimeout(() => {
      const body = JSON.stringify({ upstream: name, method: req.method, path: req.url, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(200, { 'content-type': 'application/json', 'x-upstream': name });
      res.end(body);
    }, delay));
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(opts.port ?? 0, '127.0.0.1', r));
  u.port = (server.address() as AddressInfo).port;
  u.server = server;
  u.close = () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); });
  return u;
}
