/**
 * Encrypted key store: each private key (or any secret blob) is one file, encrypted with
 * AES-256-GCM, written 0600 into a 0700 directory by write-temp-then-rename.
 *
 * The 32-byte master key comes from PORTCULLIS_KEY_ENCRYPTION_KEY (base64 or hex) or from a key
 * file. From it two values are derived with HKDF-SHA256: the AES key and a short key id stored in
 * each file, so that a wrong master key (PCS_ERR_KEYSTORE_WRONG_KEY) is told apart from a modified
 * file (PCS_ERR_KEYSTORE_TAMPERED). The entry name is bound into the GCM additional data, so a file
 * copied or renamed to another entry's name is refused too. Every failure throws; nothing is ever
 * returned from a file that did not authenticate.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { PkiError } from './errors.ts';
import { ensurePrivateDir, writeFileAtomic } from './fsutil.ts';
import { Secret } from './secret.ts';

export const KEY_ENV_VAR = 'PORTCULLIS_KEY_ENCRYPTION_KEY';
export const KEY_FILE_ENV_VAR = 'PORTCULLIS_KEY_ENCRYPTION_KEY_FILE';

const FORMAT = 'portcullis-keystore';
const VERSION = 1;
const FILE_SUFFIX = '.pcsk';
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Parse 32 bytes of key material written as 64 hex digits or as base64/base64url. */
export function parseEncryptionKey(text: string, origin = 'key'): Secret<Buffer> {
  const t = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(t)) return new Secret(Buffer.from(t, 'hex'));
  if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(t)) {
    const b = Buffer.from(t.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (b.length === 32) return new Secret(b);
    throw new PkiError('PCS_ERR_KEYSTORE_BAD_KEY', `${origin}: must decode to 32 bytes (base64 or 64 hex digits), got ${b.length} bytes`);
  }
  throw new PkiError('PCS_ERR_KEYSTORE_BAD_KEY', `${origin}: must be 32 bytes written as base64 or 64 hex digits`);
}

export interface LoadKeyOptions {
  /** Environment to read (default process.env). */
  env?: Record<string, string | undefined>;
  /** Key file path; overrides PORTCULLIS_KEY_ENCRYPTION_KEY_FILE. */
  keyFile?: string;
  /** Refuse a key file readable or writable by group/other (default true). */
  strictKeyFilePermissions?: boolean;
}

/**
 * Load the master key: PORTCULLIS_KEY_ENCRYPTION_KEY if set, otherwise the key file (option or
 * PORTCULLIS_KEY_ENCRYPTION_KEY_FILE). A key file holds base64/hex text or exactly 32 raw bytes.
 */
export async function loadEncryptionKey(opts: LoadKeyOptions = {}): Promise<Secret<Buffer>> {
  const env = opts.env ?? process.env;
  const fromEnv = env[KEY_ENV_VAR];
  if (fromEnv !== undefined && fromEnv !== '') return parseEncryptionKey(fromEnv, KEY_ENV_VAR);
  const file = opts.keyFile ?? env[KEY_FILE_ENV_VAR];
  if (!file) {
    throw new PkiError('PCS_ERR_KEYSTORE_NO_KEY', `no key encryption key: set ${KEY_ENV_VAR} (32 bytes, base64 or hex) or ${KEY_FILE_ENV_VAR}`);
  }
  let st;
  let raw: Buffer;
  try {
    st = await stat(file);
    raw = await readFile(file);
  } catch (e) {
    throw new PkiError('PCS_ERR_KEYSTORE_NO_KEY', `cannot read key file ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`, { cause: e });
  }
  if ((opts.strictKeyFilePermissions ?? true) && (st.mode & 0o077) !== 0) {
    throw new PkiError('PCS_ERR_KEYSTORE_KEY_FILE_PERMS', `key file ${file} has mode ${(st.mode & 0o777).toString(8)}; it must not be accessible by group or others (chmod 600)`);
  }
  if (raw.length === 32 && !/^[A-Za-z0-9+/=_-]{32}$/.test(raw.toString('latin1'))) return new Secret(raw);
  return parseEncryptionKey(raw.toString('utf8'), `key file ${file}`);
}

/** A fresh random master key, base64-encoded (for `portcullis keys generate` or setup docs). */
export function generateEncryptionKey(): Secret<string> {
  return new Secret(randomBytes(32).toString('base64'));
}

interface Derived {
  aesKey: Buffer;
  kid: string;
}

function derive(master: Buffer): Derived {
  if (master.length !== 32) throw new PkiError('PCS_ERR_KEYSTORE_BAD_KEY', `key encryption key must be 32 bytes, got ${master.length}`);
  const aesKey = Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), 'portcullis keystore v1 aes-256-gcm', 32));
  const kid = Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), 'portcullis keystore v1 key id', 8)).toString('hex');
  return { aesKey, kid };
}

interface StoredFile {
  format: string;
  v: number;
  alg: string;
  kid: string;
  name: string;
  iv: string;
  tag: string;
  ct: string;
}

function aad(name: string, kid: string): Buffer {
  return Buffer.from(`${FORMAT}:v${VERSION}:${name}:${kid}`);
}

export interface KeyStoreOptions {
  /** Directory of the store; created 0700 (an existing directory is tightened to 0700). */
  dir: string;
  /** The master key, e.g. from loadEncryptionKey(). */
  encryptionKey: Secret<Buffer>;
}

export class KeyStore {
  readonly dir: string;
  readonly #derived: Derived;

  private constructor(dir: string, derived: Derived) {
    this.dir = dir;
    this.#derived = derived;
  }

  static async open(opts: KeyStoreOptions): Promise<KeyStore> {
    const derived = derive(opts.encryptionKey.reveal());
    await ensurePrivateDir(opts.dir);
    return new KeyStore(opts.dir, derived);
  }

  /** The key id (derived from the master key, not secret) stamped into every file. */
  get keyId(): string {
    return this.#derived.kid;
  }

  #path(name: string): string {
    if (!NAME_RE.test(name) || name.includes('..')) {
      throw new PkiError('PCS_ERR_KEYSTORE_BAD_NAME', `invalid key name ${JSON.stringify(name)}: use letters, digits, '.', '_' and '-' (max 128)`);
    }
    return join(this.dir, name + FILE_SUFFIX);
  }

  /** Encrypt and store `data` under `name`, replacing any previous value atomically. */
  async put(name: string, data: string | Uint8Array | Secret<string> | Secret<Buffer>): Promise<void> {
    const path = this.#path(name);
    const plain = data instanceof Secret ? data.reveal() : data;
    const buf = typeof plain === 'string' ? Buffer.from(plain, 'utf8') : Buffer.from(plain);
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#derived.aesKey, iv);
    cipher.setAAD(aad(name, this.#derived.kid));
    const ct = Buffer.concat([cipher.update(buf), cipher.final()]);
    buf.fill(0);
    const file: StoredFile = {
      format: FORMAT,
      v: VERSION,
      alg: 'AES-256-GCM',
      kid: this.#derived.kid,
      name,
      iv: iv.toString('base64'),
      tag: cipher.getAuthTag().toString('base64'),
      ct: ct.toString('base64'),
    };
    await writeFileAtomic(path, JSON.stringify(file) + '\n', 0o600);
  }

  /** Decrypt `name`. Throws NOT_FOUND, FORMAT, WRONG_KEY or TAMPERED; never returns unauthenticated data. */
  async get(name: string): Promise<Secret<Buffer>> {
    const path = this.#path(name);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new PkiError('PCS_ERR_KEYSTORE_NOT_FOUND', `no key named ${JSON.stringify(name)} in ${this.dir}`);
      throw new PkiError('PCS_ERR_KEYSTORE_FORMAT', `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`, { cause: e });
    }
    let f: StoredFile;
    try {
      f = JSON.parse(text) as StoredFile;
    } catch {
      throw new PkiError('PCS_ERR_KEYSTORE_FORMAT', `${path} is not a Portcullis keystore file (not JSON)`);
    }
    if (!f || typeof f !== 'object' || f.format !== FORMAT || f.v !== VERSION || f.alg !== 'AES-256-GCM'
      || typeof f.kid !== 'string' || typeof f.iv !== 'string' || typeof f.tag !== 'string' || typeof f.ct !== 'string') {
      throw new PkiError('PCS_ERR_KEYSTORE_FORMAT', `${path} is not a Portcullis keystore v${VERSION} file`);
    }
    if (f.kid !== this.#derived.kid) {
      throw new PkiError('PCS_ERR_KEYSTORE_WRONG_KEY', `${path} was encrypted with another key encryption key (key id ${f.kid}, loaded key id ${this.#derived.kid})`);
    }
    const iv = Buffer.from(f.iv, 'base64');
    const tag = Buffer.from(f.tag, 'base64');
    if (iv.length !== 12 || tag.length !== 16 || f.name !== name) {
      throw new PkiError('PCS_ERR_KEYSTORE_TAMPERED', `${path} failed its integrity check (header modified or file renamed)`);
    }
    try {
      const d = createDecipheriv('aes-256-gcm', this.#derived.aesKey, iv);
      d.setAAD(aad(name, this.#derived.kid));
      d.setAuthTag(tag);
      return new Secret(Buffer.concat([d.update(Buffer.from(f.ct, 'base64')), d.final()]));
    } catch (e) {
      throw new PkiError('PCS_ERR_KEYSTORE_TAMPERED', `${path} failed its integrity check (modified or corrupted)`, { cause: e });
    }
  }

  /** Decrypt `name` as UTF-8 text (e.g. a PEM private key). */
  async getString(name: string): Promise<Secret<string>> {
    const b = (await this.get(name)).reveal();
    const s = b.toString('utf8');
    b.fill(0);
    return new Secret(s);
  }

  async has(name: string): Promise<boolean> {
    try {
      await stat(this.#path(name));
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw e;
    }
  }

  async delete(name: string): Promise<void> {
    await rm(this.#path(name), { force: true });
  }

  /** Names of the stored entries, sorted. */
  async list(): Promise<string[]> {
    const names = await readdir(this.dir);
    return names.filter((n) => n.endsWith(FILE_SUFFIX)).map((n) => n.slice(0, -FILE_SUFFIX.length)).filter((n) => NAME_RE.test(n)).sort();
  }

  /**
   * Re-encrypt every entry under a new master key (key rotation). Every entry is decrypted first,
   * so a store with one unreadable entry is left untouched; returns a store bound to the new key.
   */
  async rotateEncryptionKey(newKey: Secret<Buffer>): Promise<KeyStore> {
    const names = await this.list();
    const values = [];
    for (const n of names) values.push(await this.get(n));
    const next = new KeyStore(this.dir, derive(newKey.reveal()));
    for (let i = 0; i < names.length; i++) await next.put(names[i], values[i]);
    return next;
  }
}
