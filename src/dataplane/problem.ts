// RFC 9457 problem+json for every error Portcullis itself answers. The body says what happened in
// words a client can act on and carries the request id; it never carries a stack trace, an
// upstream address or an internal message.
import type { HttpResponse } from './http-types.ts';

export interface ProblemSpec { readonly status: number; readonly title: string; readonly code: string }

export const PROBLEMS = {
  notFound: { status: 404, title: 'No route matches this request', code: 'PCS_ERR_ROUTE_NOT_FOUND' },
  misdirected: { status: 421, title: 'This request was sent to the wrong listener', code: 'PCS_ERR_MISDIRECTED' },
  invalidBackend: { status: 500, title: 'The route points at a backend that is not configured', code: 'PCS_ERR_BACKEND_INVALID' },
  internal: { status: 500, title: 'Internal error', code: 'PCS_ERR_INTERNAL' },
  badGateway: { status: 502, title: 'The upstream service could not be reached', code: 'PCS_ERR_UPSTREAM_CONNECT' },
  noEndpoint: { status: 503, title: 'No healthy upstream endpoint', code: 'PCS_ERR_NO_HEALTHY_UPSTREAM' },
  overflow: { status: 503, title: 'The upstream service is at capacity', code: 'PCS_ERR_UPSTREAM_OVERFLOW' },
  gatewayTimeout: { status: 504, title: 'The upstream service did not answer in time', code: 'PCS_ERR_UPSTREAM_TIMEOUT' },
  badRequest: { status: 400, title: 'Bad request', code: 'PCS_ERR_BAD_REQUEST' },
  httpVersion: { status: 505, title: 'HTTP version not supported', code: 'PCS_ERR_HTTP_VERSION' },
  unauthorized: { status: 401, title: 'Authentication required', code: 'PCS_ERR_UNAUTHORIZED' },
  forbidden: { status: 403, title: 'Forbidden', code: 'PCS_ERR_FORBIDDEN' },
  wafBlocked: { status: 403, title: 'The request was blocked by the web application firewall', code: 'PCS_ERR_WAF_BLOCKED' },
  wafBadRequest: { status: 400, title: 'The web application firewall could not read this request (for example a body that does not parse as its Content-Type)', code: 'PCS_ERR_WAF_BAD_REQUEST' },
  wafResponseBlocked: { status: 403, title: 'The response was withheld by the web application firewall', code: 'PCS_ERR_WAF_RESPONSE_BLOCKED' },
  wafResponseUnreadable: { status: 502, title: 'The upstream response could not be inspected', code: 'PCS_ERR_WAF_RESPONSE_UNREADABLE' },
  corsOriginNotAllowed: { status: 403, title: 'The Origin of this CORS preflight request is not allowed by the route', code: 'PCS_ERR_CORS_ORIGIN_NOT_ALLOWED' },
  tooLarge: { status: 413, title: 'The request body is larger than this route accepts', code: 'PCS_ERR_BODY_TOO_LARGE' },
} as const satisfies Record<string, ProblemSpec>;

export function problemBody(p: ProblemSpec, requestId: string, detail?: string): string {
  return JSON.stringify({
    type: `https://portcullis.dev/problems/${p.code.replace(/^PCS_ERR_/, '').toLowerCase().replace(/_/g, '-')}`,
    title: p.title,
    status: p.status,
    ...(detail ? { detail } : {}),
    code: p.code,
    requestId,
  });
}

export function sendProblem(res: HttpResponse, p: ProblemSpec, requestId: string, detail?: string, extraHeaders?: Record<string, string>): void {
  if (res.headersSent) { res.destroy(); return; }
  const body = problemBody(p, requestId, detail);
  res.writeHead(p.status, {
    'content-type': 'application/problem+json',
    'content-length': Buffer.byteLength(body),
    'x-request-id': requestId,
    'cache-control': 'no-store',
    ...extraHeaders,
  });
  res.end(body);
}
