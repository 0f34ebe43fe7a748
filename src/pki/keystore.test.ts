import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rename, rm, stat, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { randomBytes } from 'node:crypto';
import { KeyStore, loadEncryptionKey, parseEncryptionKey, generateEncryptionKey, KEY_ENV_VAR } from './keystore.ts';
import { Secret } from './secret.ts';
import { PkiError } from './errors.ts';

async function tmp(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'pcs-ks-'));
  t.after(() => rm(d, { recursive: true, force: true }));
  return d;
}

const PEM = '-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n';

test('Secret never prints its value', () => {
  const s = new Secret('hunter2-very-secret');
  assert.equal(String(s), '[redacted]');
  assert.equal(`${s}`, '[redacted]');
  assert.equal(JSON.stringify({ s }), '{"s":"[redacted]"}');
  assert.equal(inspect(s), '[redacted]');
  assert.ok(!inspect({ nested: { s } }).includes('hunter2'));
  assert.equal(s.reveal(), 'hunter2-very-secret');
});

test('parseEncryptionKey accepts hex and base64 of 32 bytes, rejects the rest', () => {
  const raw = randomBytes(32);
  assert.deepEqual(parseEncryptionKey(raw.toString('hex')).reveal(), raw);
  assert.deepEqual(parseEncryptionKey(raw.toString('base64')).reveal(), raw);
  assert.deepEqual(parseEncryptionKey(raw.toString('base64url') + '\n').reveal(), raw);
  assert.throws(() => parseEncryptionKey(randomBytes(16).toString('base64')), (e: PkiError) => e.code === 'PCS_ERR_KEYSTORE_BAD_KEY' && /16 bytes/.test(e.message));
  assert.throws(() => parseEncryptionKey('not a key!'), { code: 'PCS_ERR_KEYSTORE_BAD_KEY' });
  const g = generateEncryptionKey();
  assert.equal(parseEncryptionKey(g.reveal()).reveal().length, 32);
});

test('loadEncryptionKey: env var, key file, strict permissions, missing key', async (t) => {
  const d = await tmp(t);
  const raw = randomBytes(32);
  assert.deepEqual((await loadEncryptionKey({ env: { [KEY_ENV_VAR]: raw.toString('hex') } })).reveal(), raw);
  const f = join(d, 'kek');
  await writeFile(f, raw.toString('base64') + '\n', { mode: 0o600 });
  await chmod(f, 0o600);
  assert.deepEqual((await loadEncryptionKey({ env: {}, keyFile: f })).reveal(), raw);
  assert.deepEqual((await loadEncryptionKey({ env: { PORTCULLIS_KEY_ENCRYPTION_KEY_FILE: f } })).reveal(), raw);
  const bin = join(d, 'kek.bin');
  const rawBin = Buffer.alloc(32, 0xff);
  await writeFile(bin, rawBin, { mode: 0o600 });
  await chmod(bin, 0o600);
  assert.deepEqual((await loadEncryptionKey({ env: {}, keyFile: bin })).reveal(), rawBin);
  await chmod(f, 0o644);
  await assert.rejects(loadEncryptionKey({ env: {}, keyFile: f }), { code: 'PCS_ERR_KEYSTORE_KEY_FILE_PERMS' });
  await assert.rejects(loadEncryptionKey({ env: {} }), { code: 'PCS_ERR_KEYSTORE_NO_KEY' });
  await assert.rejects(loadEncryptionKey({ env: {}, keyFile: join(d, 'missing') }), { code: 'PCS_ERR_KEYSTORE_NO_KEY' });
});

test('round trip, 0600 files in a 0700 dir, no plaintext on disk, no temp files left', async (t) => {
  const d = await tmp(t);
  const dir = join(d, 'keys');
  const ks = await KeyStore.open({ dir, encryptionKey: new Secret(randomBytes(32)) });
  await ks.put('leaf.example.com', PEM);
  await ks.put('acme-account', new Secret('second'));
  assert.equal((await ks.getString('leaf.example.com')).reveal(), PEM);
  assert.equal((await ks.getString('acme-account')).reveal(), 'second');
  assert.deepEqual(await ks.list(), ['acme-account', 'leaf.example.com']);
  assert.equal((await stat(dir)).mode & 0o777, 0o700);
  const files = await readdir(dir);
  assert.deepEqual(files.sort(), ['acme-account.pcsk', 'leaf.example.com.pcsk']);
  for (const f of files) {
    assert.equal((await stat(join(dir, f))).mode & 0o777, 0o600, f);
    const text = await readFile(join(dir, f), 'utf8');
    assert.ok(!text.includes('PRIVATE KEY') && !text.includes('second'), 'plaintext leaked into ' + f);
  }
  // overwrite is atomic and leaves no temp file
  await ks.put('leaf.example.com', 'v2');
  assert.equal((await ks.getString('leaf.example.com')).reveal(), 'v2');
  assert.equal((await readdir(dir)).length, 2);
  assert.equal(await ks.has('leaf.example.com'), true);
  await ks.delete('leaf.example.com');
  assert.equal(await ks.has('leaf.example.com'), false);
  await assert.rejects(ks.get('leaf.example.com'), { code: 'PCS_ERR_KEYSTORE_NOT_FOUND' });
  await assert.rejects(ks.put('../escape', 'x'), { code: 'PCS_ERR_KEYSTORE_BAD_NAME' });
  await assert.rejects(ks.put('a/b', 'x'), { code: 'PCS_ERR_KEYSTORE_BAD_NAME' });
});

test('an existing loose directory is tightened to 0700', async (t) => {
  const d = await tmp(t);
  await chmod(d, 0o755);
  await KeyStore.open({ dir: d, encryptionKey: new Secret(randomBytes(32)) });
  assert.equal((await stat(d)).mode & 0o777, 0o700);
});

test('wrong key, tampered ciphertext, tampered header, renamed file, garbage: all fail closed', async (t) => {
  const dir = await tmp(t);
  const key = new Secret(randomBytes(32));
  const ks = await KeyStore.open({ dir, encryptionKey: key });
  await ks.put('a', PEM);
  await ks.put('b', 'other');

  const wrong = await KeyStore.open({ dir, encryptionKey: new Secret(randomBytes(32)) });
  await assert.rejects(wrong.get('a'), (e: PkiError) => e.code === 'PCS_ERR_KEYSTORE_WRONG_KEY' && !e.message.includes('PRIVATE'));

  const file = join(dir, 'a.pcsk');
  const orig = JSON.parse(await readFile(file, 'utf8'));
  const ct = Buffer.from(orig.ct, 'base64');
  ct[3] ^= 1;
  await writeFile(file, JSON.stringify({ ...orig, ct: ct.toString('base64') }));
  await assert.rejects(ks.get('a'), { code: 'PCS_ERR_KEYSTORE_TAMPERED' });
  const tag = Buffer.from(orig.tag, 'base64');
  tag[0] ^= 1;
  await writeFile(file, JSON.stringify({ ...orig, tag: tag.toString('base64') }));
  await assert.rejects(ks.get('a'), { code: 'PCS_ERR_KEYSTORE_TAMPERED' });
  await writeFile(file, JSON.stringify(orig));
  assert.equal((await ks.getString('a')).reveal(), PEM);

  // b's file moved over a's name: same key, valid ciphertext, but bound to another name
  await rename(join(dir, 'b.pcsk'), file);
  await assert.rejects(ks.get('a'), { code: 'PCS_ERR_KEYSTORE_TAMPERED' });
  const bf = JSON.parse(await readFile(file, 'utf8'));
  await writeFile(file, JSON.stringify({ ...bf, name: 'a' }));
  await assert.rejects(ks.get('a'), { code: 'PCS_ERR_KEYSTORE_TAMPERED' });

  await writeFile(file, 'garbage');
  await assert.rejects(ks.get('a'), { code: 'PCS_ERR_KEYSTORE_FORMAT' });
  await writeFile(file, '{"format":"portcullis-keystore","v":9}');
  await assert.rejects(ks.get('a'), { code: 'PCS_ERR_KEYSTORE_FORMAT' });
});

test('rotateEncryptionKey re-encrypts everything under the new key', async (t) => {
  const dir = await tmp(t);
  const ks = await KeyStore.open({ dir, encryptionKey: new Secret(randomBytes(32)) });
  await ks.put('a', 'one');
  await ks.put('b', 'two');
  const newKey = new Secret(randomBytes(32));
  const next = await ks.rotateEncryptionKey(newKey);
  await assert.rejects(ks.get('a'), { code: 'PCS_ERR_KEYSTORE_WRONG_KEY' });
  const reopened = await KeyStore.open({ dir, encryptionKey: newKey });
  assert.equal((await reopened.getString('a')).reveal(), 'one');
  assert.equal((await next.getString('b')).reveal(), 'two');
});
