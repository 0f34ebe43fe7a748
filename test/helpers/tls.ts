// A throwaway internal CA for TLS tests (the project's own src/pki, keys encrypted in a temp dir).
import path from 'node:path';
import tls from 'node:tls';
import { randomBytes } from 'node:crypto';
import { KeyStore } from '../../src/pki/keystore.ts';
import { Secret } from '../../src/pki/secret.ts';
import { InternalCA } from '../../src/pki/ca.ts';
import { tmpDir } from './cli.ts';

export interface TestCert { chain: string; key: string; serial: string }

export async function testCa(): Promise<{ ca: InternalCA; caPem: string; issue(dnsNames: string[], key?: { type: 'rsa'; bits: 2048 }): Promise<TestCert> }> {
  const work = tmpDir();
  const keystore = await KeyStore.open({ dir: path.join(work, 'keys'), encryptionKey: new Secret(randomBytes(32)) });
  const ca = await InternalCA.open({ keystore, certDir: path.join(work, 'ca') });
  const first = await ca.issue({ dnsNames: ['ca-check.test'] });
  const caPem = first.caPem!;
  return {
    ca, caPem,
    async issue(dnsNames, key) {
      const c = await ca.issue({ dnsNames, ...(key ? { key } : {}) });
      return { chain: c.chainPem, key: c.keyPem.reveal(), serial: c.serialNumber };
    },
  };
}

/**
 * Connect over TLS to 127.0.0.1:`port` (SNI `servername` when given, trusting `ca`) and read the
 * first line the peer sends (the test backends greet). Rejects on an error or an early close.
 */
export function tlsGreeting(port: number, servername: string | undefined, ca: string, opts: tls.ConnectionOptions = {}): Promise<{ s: tls.TLSSocket; greeting: string }> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ...(servername ? { servername } : {}), ca, ...opts });
    s.once('error', reject);
    s.once('close', () => reject(new Error('closed before the greeting')));
    s.once('secureConnect', () => {
      let buf = '';
      const onData = (d: Buffer) => { buf += d; if (buf.includes('\n')) { s.off('data', onData); resolve({ s, greeting: buf.trim() }); } };
      s.on('data', onData);
    });
  });
}

/** Write `msg` and resolve with what comes back once as many characters are in (an echo backend). */
export function tlsEcho(s: tls.TLSSocket, msg: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (d: Buffer) => { buf += d; if (buf.length >= msg.length) { s.off('data', onData); resolve(buf); } };
    s.on('data', onData);
    s.once('error', reject);
    s.write(msg);
  });
}
