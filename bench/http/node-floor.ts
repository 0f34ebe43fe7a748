/**
 * Reference servers for the proxy and TLS benchmarks (not part of Portcullis): how fast can a
 * Node.js reverse proxy, or TLS server, be on this machine at all? Each runs N processes sharing
 * the port (SO_REUSEPORT) and does nothing else:
 *
 *   --mode undici  node:http server + an undici Pool (dispatch with a handler object), forwarding
 *                  GETs to one keep-alive upstream: the "minimal 2-worker undici proxy" issue 3
 *                  quotes (≈ 0.55x nginx there).
 *   --mode raw     the same forwarding over node:net sockets and Node's own HTTP parser (llhttp,
 *                  via `_http_common`): no IncomingMessage/ServerResponse, no streams, no undici;
 *                  one write per response. The floor of what a Node proxy costs per request.
 *                  With --tls-cert/--tls-key the port terminates TLS first (a tls.Server with
 *                  Portcullis's TLS_DEFAULTS, ALPN http/1.1, the floor speaks nothing else), and
 *                  --plain-port serves the same proxy without TLS beside it: bench/tls's
 *                  keep-alive floor, HTTPS minus HTTP being what Node's TLS costs per request.
 *   --mode tls     a bare tls.Server (TLS_DEFAULTS, ALPN h2 + http/1.1) that does nothing after
 *                  the handshake: every Node TLS connection gets a JS TLSSocket, so this is the
 *                  least any Node TLS server costs per handshake (bench/tls's handshake floor).
 *                  No upstream.
 *
 * None removes hop-by-hop headers properly, streams bodies, handles errors, pipelining or anything
 * else a proxy must do: they exist only to put Portcullis's figures in context (if the floor is
 * below a target, no Node server reaches it on this machine).
 *
 *   node bench/http/node-floor.ts --mode raw|undici --port P --upstream PORT [--workers 2]
 *                                 [--tls-cert FILE --tls-key FILE [--plain-port P2]]   (raw only)
 *   node bench/http/node-floor.ts --mode tls --port P --tls-cert FILE --tls-key FILE [--workers 2]
 */
import { fork } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { createRequire } from 'node:module';
import tls from 'node:tls';
import { parseArgs } from 'node:util';
import { Pool, type Dispatcher } from 'undici';

const { values: a } = parseArgs({
  options: {
    mode: { type: 'string' }, port: { type: 'string' }, upstream: { type: 'string' }, workers: { type: 'string' }, child: { type: 'boolean' },
    'tls-cert': { type: 'string' }, 'tls-key': { type: 'string' }, 'plain-port': { type: 'string' },
  },
  strict: true,
});
const mode = a.mode, port = Number(a.port), upstreamPort = Number(a.upstream), workers = Number(a.workers ?? 2), plainPort = a['plain-port'] === undefined ? undefined : Number(a['plain-port']);
const withTls = a['tls-cert'] !== undefined && a['tls-key'] !== undefined;
const usable = port > 0 && workers >= 1 && (a['tls-cert'] === undefined) === (a['tls-key'] === undefined)
  && (mode === 'tls' ? withTls && a.upstream === undefined : (mode === 'raw' || (mode === 'undici' && !withTls)) && upstreamPort > 0)
  && (plainPort === undefined || (plainPort > 0 && mode === 'raw' && withTls));
if (!usable) {
  console.error('usage: node bench/http/node-floor.ts --mode raw|undici --port P --upstream PORT [--workers 2] [--tls-cert FILE --tls-key FILE [--plain-port P2]]   (TLS: raw only)\n'
    + '       node bench/http/node-floor.ts --mode tls --port P --tls-cert FILE --tls-key FILE [--workers 2]');
  process.exit(2);
}

/**
 * Exactly Portcullis's TLS settings (src/compiler/compile.ts), with this certificate. Imported only
 * in the TLS modes: the compiler's module graph adds about 15 MB of heap and a second of start-up
 * that the plain floors of bench/http have no reason to carry.
 */
async function tlsOptions(alpn: string[]): Promise<tls.TlsOptions> {
  const { TLS_DEFAULTS } = await import('../../src/compiler/compile.ts');
  return { ...TLS_DEFAULTS, cert: fs.readFileSync(a['tls-cert']!), key: fs.readFileSync(a['tls-key']!), ALPNProtocols: alpn };
}

/**
 * Every worker says when all its ports listen: one answer on the shared port may come from the
 * first worker alone, so a benchmark waits for this line from each before it measures.
 */
function listen(...servers: [net.Server, number][]): void {
  let pending = servers.length;
  for (const [server, p] of servers) server.listen({ port: p, host: '127.0.0.1', reusePort: true }, () => { if (--pending === 0) console.error(`node-floor: worker ${process.pid} listening`); });
}

if (!a.child) {
  const kids = Array.from({ length: workers }, () => fork(process.argv[1], [...process.argv.slice(2), '--child'], { stdio: 'inherit' }));
  const stopAll = () => { for (const k of kids) k.kill('SIGTERM'); process.exit(0); };
  process.on('SIGTERM', stopAll);
  process.on('SIGINT', stopAll);
  for (const k of kids) k.on('exit', (c) => { console.error(`node-floor: a worker exited (${c})`); stopAll(); });
} else if (mode === 'undici') {
  const pool = new Pool(`http://127.0.0.1:${upstreamPort}`, { connections: 128 });
  listen([http.createServer({ noDelay: true }, (req, res) => {
    const chunks: Buffer[] = [];
    pool.dispatch({ path: req.url ?? '/', method: 'GET', headers: { host: req.headers.host ?? 'localhost' } }, {
      onRequestStart() {},
      onResponseStart(_c: Dispatcher.DispatchController, status: number, headers: Record<string, string | string[] | undefined>) { res.writeHead(status, headers as http.OutgoingHttpHeaders); },
      onResponseData(_c: Dispatcher.DispatchController, chunk: Buffer) { chunks.push(chunk); },
      onResponseEnd() { res.end(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)); },
      onResponseError() { if (!res.headersSent) res.writeHead(502); res.end(); },
    });
  }), port]);
} else if (mode === 'raw') {
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
  const serve = (client: net.Socket) => {
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
  };
  // noDelay on every socket, as Portcullis's listeners (tls.Server hands it to its net.Server)
  const servers: [net.Server, number][] = [[withTls ? tls.createServer({ ...await tlsOptions(['http/1.1']), noDelay: true }, serve) : net.createServer({ noDelay: true }, serve), port]];
  if (plainPort) servers.push([net.createServer({ noDelay: true }, serve), plainPort]);
  listen(...servers);
} else {
  // The handshake and nothing else: the client's close ends the connection (allowHalfOpen is off).
  listen([tls.createServer({ ...await tlsOptions(['h2', 'http/1.1']), noDelay: true }, (socket) => { socket.on('error', () => {}); }), port]);
}
