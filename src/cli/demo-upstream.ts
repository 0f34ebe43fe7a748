// The quickstart's upstream: a tiny echo service that answers with what it received, so a
// `curl localhost:8080/...` shows routing, header changes and which endpoint answered.
import http from 'node:http';

export interface DemoUpstream { name: string; port: number; host?: string }

export function echoHandler(name: string) {
  return (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.stringify({
        upstream: name,
        method: req.method,
        path: req.url,
        headers: req.headers,
        ...(chunks.length ? { body: Buffer.concat(chunks).toString('utf8').slice(0, 4096) } : {}),
      }, null, 2) + '\n';
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-upstream': name });
      res.end(body);
    });
  };
}

export async function startDemoUpstreams(list: DemoUpstream[]): Promise<http.Server[]> {
  return Promise.all(list.map((u) => new Promise<http.Server>((resolve, reject) => {
    const s = http.createServer(echoHandler(u.name));
    s.once('error', (err: NodeJS.ErrnoException) => reject(new Error(`demo upstream ${u.name} cannot listen on ${u.host ?? '127.0.0.1'}:${u.port}: ${err.code}`)));
    s.listen(u.port, u.host ?? '127.0.0.1', () => resolve(s));
  })));
}
