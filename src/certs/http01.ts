// ACME HTTP-01 on the gateway's own HTTP listeners: GET /.well-known/acme-challenge/<token> for
// a pending challenge is answered before routing (Caddy and Traefik do the same). Other paths,
// and tokens the gateway did not ask for, are routed as usual, so a backend can still answer its
// own challenges. Cost on the request path while nothing is pending: one property read.
import type { HttpHandler } from '../dataplane/http-types.ts';
import type { CertificateService } from './service.ts';

export function withAcmeHttp01(certs: CertificateService, handler: HttpHandler): HttpHandler {
  const store = certs.http01;
  // Workers of a multi-worker gateway read the primary's tokens from the state directory.
  const shared = certs.sharedChallengeDir !== undefined;
  return function handle(req, res) {
    if ((store.size !== 0 || shared) && (req.method === 'GET' || req.method === 'HEAD')) {
      const body = certs.answerHttp01(req.url ?? '/');
      if (body !== undefined) {
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : body);
        return;
      }
    }
    handler(req, res);
  };
}
