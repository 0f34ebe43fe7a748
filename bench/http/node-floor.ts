/**
 * Reference proxies for the proxy benchmark (not part of Portcullis): how fast can a Node.js
 * reverse proxy be on this machine at all? Two of them, each with N processes sharing the port
 * (SO_REUSEPORT), forwarding GETs to one keep-alive upstream and doing nothing else:
 *
 *   --mode undici  node:http server + an undici Pool (dispatch with a handler object): the
 *                  "minimal 2-worker undici proxy" issue 3 quotes (≈ 0.55x nginx there).
 *   --mode raw     node:net sockets and Node's own HTTP parser (llhttp, via `_http_common`):
 *                  no IncomingMessage/ServerResponse, no streams, no undici; one write per
 *                  response. The floor of what a Node proxy costs per request.
 *
 * Neither removes hop-by-hop headers properly, streams bodies, handles errors, pipelining or
 * anything else a proxy must do: they exist only to put Portcullis's figure in context (if the
 * raw floor is below the 0.7x target, no Node proxy reaches it on this machine).
 *
 *   node bench/http/node-floor.ts --mode raw|undici --port P --upstream PORT [--workers 2]
 */
import { fork } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { Pool, type Dispatcher } from 'undici';

const { values: a } = parseArgs({ options: { mode: { type: 'string' }, port: { type: 'string' }, upstream: { type: 'string' }, workers: { type: 'string' }, child: { type: 'boolean' } }, strict: true });
const mode = a.mode, port = Number(a.port), upstreamPort = Number(a.upstream), workers = Number(a.workers ?? 2);
if ((mode !== 'raw' && mode !== 'undici') || !port || !upstreamPort || !(workers >= 1)) {
  console.error('usage: node bench/http/node-floor.ts --mode raw|undici --port P --upstream PORT [--workers 2]');
  process.exit(2);
}

if (!a.child) {
  const kids = Array.from({ length: workers }, () => fork(process.argv[1], [...process.argv.slice(2), '--child'], { stdio: 'inherit' }));
  const stopAll = () => { for (const k of kids) k.kill('SIGTERM'); process.exit(0); };
  process.on('SIGTERM', stopAll);
  process.on('SIGINT', stopAll);
  for (const k of kids) k.on('exit', (c) => { console.error(`node-floor: a worker exited (${c})`); stopAll(); });
} else if (mode === 'undici') {
  const pool = new Pool(`http://127.0.0.1:${upstreamPort}`, { connections: 128 });
  http.createServer({ noDelay: true }, (req, res) => {
    const chunks: Buffer[] = [];
    pool.dispatch({ path: req.url ?? '/', method: 'GET', headers: { host: req.headers.host ?? 'localhost' } }, {
      onRequestStart() {},
      onResponseStart(_c: Dispatcher.DispatchController, status: number, headers: Record<string, string | string[] | undefined>) { res.writeHead(status, headers as http.OutgoingHttpHeaders); },
      onResponseData(_c: Dispatcher.DispatchController, chunk: Buffer) { chunks.push(chunk); },
      onResponseEnd() { res.end(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)); },
      onResponseError() { if (!res.headersSent) res.writeHead(502); res.end(); },
    });
  }).listen({ port, host: '127.0.0.1', reusePort: true });
} else {
  const require = createRequire(import.meta.url);
  const { HTTPParser, methods } = require('_http_common') as { HTTPParser: any; methods: string[] };
  const ON_HEADERS = HTTPParser.kOnHeadersComplete | 0, ON_BODY = HTTPParser.kOnBody | 0, ON_END = HTTPParser.kOnMessageComplete | 0;
  interface Exchange { head: string; body: Buffer[]; client: net.Socket }
  interface Upstream { sock: net.Socket; cur: Exchange | null }
  const idle: Upstream[] = [];
  const connect = (): Upstream => {
    const u: Upstream = { sock: net.connect(upstreamPort, '127.0.0.1'), cur: null };
    u.sock.setNoDelay(true);
    const p = new HTTPParser();
    p.initialize(HTTPParser.RESPONSE, {}, 0, 0);
    p[ON_HEADERS] = (_maj: number, _min: number, hs: string[], _m: number, _u: string, status: number, msg: string) => {
      let h = `HTTP/1.1 ${status} ${msg}\r\n`;
      for (let i = 0; i < hs.length; i += 2) h += `${hs[i]}: ${hs[i + 1]}\r\n`;
      u.cur!.head = h + '\r\n';
    };
    p[ON_BODY] = (b: Buffer) => { u.cur!.body.push(Buffer.from(b)); };
    p[ON_END] = () => {
      const x = u.cur!;
      u.cur = null;
      idle.push(u);
      x.client.cork();
      x.client.write(x.head);
      for (const b of x.body) x.client.write(b);
      x.client.uncork();
    };
    u.sock.on('data', (d) => p.execute(d));
    u.sock.on('error', () => {});
    u.sock.on('close', () => { const i = idle.indexOf(u); if (i >= 0) idle.splice(i, 1); if (u.cur) u.cur.client.destroy(); });
    return u;
  };
  net.createServer({ noDelay: true }, (client) => {
    const p = new HTTPParser();
    p.initialize(HTTPParser.REQUEST, {}, 0, 0);
    p[ON_HEADERS] = (_maj: number, _min: number, hs: string[], method: number, url: string) => {
      let h = `${methods[method]} ${url} HTTP/1.1\r\n`;
      for (let i = 0; i < hs.length; i += 2) if (hs[i].toLowerCase() !== 'connection') h += `${hs[i]}: ${hs[i + 1]}\r\n`;
      const u = idle.pop() ?? connect();
      u.cur = { head: '', body: [], client };
      u.sock.write(h + '\r\n');
    };
    client.on('data', (d) => { if (p.execute(d) instanceof Error) client.destroy(); });
    client.on('error', () => {});
  }).listen({ port, host: '127.0.0.1', reusePort: true });
}
