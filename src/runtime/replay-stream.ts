import type net from 'node:net';
import { Duplex } from 'node:stream';

/**
 * A duplex over `socket` that first yields `first`, the bytes already read from it: for handing a
 * connection whose opening was peeked (the HTTP/2 preface, a ClientHello) to http2 or node:tls.
 * The socket's addresses are copied, so logs and source-IP hashing still see the client.
 */
export function replayStream(socket: net.Socket, first: Buffer): Duplex {
  const d = new Duplex({
    read() { socket.resume(); },
    write(chunk, _enc, cb) { socket.write(chunk, cb); },
    final(cb) { socket.end(); cb(); },
    destroy(err, cb) { socket.destroy(err ?? undefined); cb(err); },
  });
  for (const k of ['remoteAddress', 'remotePort', 'remoteFamily', 'localAddress', 'localPort'] as const) Object.defineProperty(d, k, { value: socket[k] });
  d.push(first);
  socket.on('data', (c: Buffer) => { if (!d.push(c)) socket.pause(); });
  socket.on('end', () => d.push(null));
  socket.on('close', () => d.destroy());
  socket.resume();
  return d;
}
