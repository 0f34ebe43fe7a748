// A throwaway internal CA for TLS tests (the project's own src/pki, keys encrypted in a temp dir).
import path from 'node:path';
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
