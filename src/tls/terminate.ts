// TLS Terminate (TLSRoute on a `protocol: TLS` listener with `tls.mode: Terminate`): the gateway
// completes the TLS handshake with the listener's certificates, then passthrough.ts relays the
// decrypted bytes to the route's backend over TCP (or over TLS when a BackendTLSPolicy targets
// the backend). The ClientHello has already been read and routed by SNI (passthrough.ts), so the
// route is fixed before the handshake: the connection is bound to the listener it was routed to.
//
// Decisions (see docs/tls-passthrough.md, "TLS Terminate"):
// - Same TLS settings as HTTPS listeners: the listener's context is compiled by compiler/compile.ts
//   from the same certificate resolution (Secrets, Certificate resources) with TLS_DEFAULTS; the
//   session ticket keys are the gateway's (shared by workers), set on the initial context that
//   OpenSSL uses for tickets when SNI switches contexts, as on the HTTPS server.
// - No ALPN is negotiated: the payload is opaque TCP, so offering h2 or http/1.1 would tell the
//   client something untrue. A TLSRoute has no field to ask for ALPN; a client that requires it
//   (an h2-only gRPC client, say) belongs on an HTTPS listener. Envoy's tcp_proxy behind a
//   terminating filter chain does the same unless alpn_protocols is configured.
// - Client certificates (Gateway spec.tls.frontend) are requested and checked as on HTTPS ports:
//   AllowValidOnly refuses a missing or unverified certificate, AllowInsecureFallback lets it in.
// - The handshake must finish within the ClientHello timeout (10 s), not Node's 120 s default:
//   a connection that has not finished its handshake holds resources for nothing.
import type net from 'node:net';
import tls from 'node:tls';
import { TLS_DEFAULTS } from '../compiler/compile.ts';
import type { UpstreamTlsOptions } from '../upstream/pool.ts';
import { tlsConnectOptions } from '../upstream/tls.ts';
import { replayStream } from '../runtime/replay-stream.ts';
import type { TerminateRuntime } from './compile.ts';

/**
 * The initial (certificate-less) context per gateway: TLS_DEFAULTS and the shared ticket keys.
 * OpenSSL seals tickets with the initial context's keys, so a rotation of the keys
 * (src/runtime/ticket-keys.ts) makes a new one.
 */
const baseContexts = new WeakMap<object, { keys: Buffer | undefined; context: tls.SecureContext }>();
function baseContext(owner: object, ticketKeys: Buffer | undefined): tls.SecureContext {
  let c = baseContexts.get(owner);
  if (!c || c.keys !== ticketKeys) {
    c = { keys: ticketKeys, context: tls.createSecureContext({ ...TLS_DEFAULTS, ...(ticketKeys ? { ticketKeys } : {}), sessionIdContext: 'portcullis-tls-terminate' }) };
    baseContexts.set(owner, c);
  }
  return c.context;
}

export interface TerminateResult {
  readonly socket?: tls.TLSSocket;
  readonly error?: Error & { code?: string };
}

/**
 * Complete the TLS handshake on `raw` (whose first bytes, the ClientHello, were already read into
 * `buffered`) with the listener's settings. `done` gets the established socket, or the error.
 */
export function terminateTls(owner: object, ticketKeys: Buffer | undefined, raw: net.Socket, buffered: Buffer, t: TerminateRuntime, timeoutMs: number, done: (r: TerminateResult) => void): void {
  // The accepting server does not allow half-open sockets (an HTTPS port's): the relay must, or a
  // client's FIN would end the backend's direction before it has answered.
  raw.allowHalfOpen = true;
  const s = new tls.TLSSocket(replayStream(raw, buffered), {
    isServer: true,
    secureContext: baseContext(owner, ticketKeys),
    // The route (and so the listener) was chosen from the ClientHello's SNI: its certificates.
    SNICallback: (_name, cb) => cb(null, t.context),
    requestCert: t.clientAuth !== undefined,
    rejectUnauthorized: t.clientAuth?.mode === 'AllowValidOnly',
  });
  let finished = false;
  const finish = (r: TerminateResult) => { if (finished) return; finished = true; clearTimeout(timer); done(r); };
  const timer = setTimeout(() => { const e = Object.assign(new Error('TLS handshake not complete in time'), { code: 'ETIMEDOUT' }); s.destroy(e); }, timeoutMs);
  const onError = (e: Error) => { s.destroy(); finish({ error: e }); };
  s.once('error', onError);
  s.once('close', () => finish({ error: Object.assign(new Error('connection closed during the TLS handshake'), { code: 'ECONNRESET' }) }));
  s.once('secure', () => {
    s.off('error', onError);
    s.on('error', () => {}); // the relay reports errors from here on
    if (t.clientAuth) {
      // What node:tls's server does after a handshake (onServerSocketSecure), which a TLSSocket
      // made outside a tls.Server does not run: the verification result of the client's chain.
      // Fail closed if this internal is ever missing.
      const handle = (s as unknown as { _handle?: { verifyError?: () => (Error & { code?: string }) | null } })._handle;
      const verify = typeof handle?.verifyError === 'function' ? handle.verifyError() : Object.assign(new Error('cannot verify the client certificate'), { code: 'PCS_ERR_TLS_VERIFY' });
      if (verify && t.clientAuth.mode === 'AllowValidOnly') {
        s.destroy();
        finish({ error: Object.assign(new Error(`client certificate refused: ${verify.code ?? verify.message}`), { code: verify.code ?? 'PCS_ERR_TLS_VERIFY' }) });
        return;
      }
    }
    finish({ socket: s });
  });
}

/** How the relay connects to an endpoint: node:tls options when a BackendTLSPolicy targets the backend. */
export function upstreamTlsOptions(t: UpstreamTlsOptions | undefined, address: string): tls.ConnectionOptions | undefined {
  return t ? tlsConnectOptions(t, address) : undefined;
}
