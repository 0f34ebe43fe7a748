/** Helpers shared by the pki tests (not part of the public API). */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { KeyStore } from './keystore.ts';
import { Secret } from './secret.ts';

export async function tempDir(t: { after: (fn: () => Promise<void>) => void }, prefix = 'pcs-pki-'): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(d, { recursive: true, force: true }));
  return d;
}

export async function tempKeyStore(t: { after: (fn: () => Promise<void>) => void }): Promise<{ dir: string; keystore: KeyStore }> {
  const dir = await tempDir(t);
  const keystore = await KeyStore.open({ dir: join(dir, 'keys'), encryptionKey: new Secret(randomBytes(32)) });
  return { dir, keystore };
}
