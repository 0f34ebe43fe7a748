/** Key generation and WebCrypto import for the CA and ACME issuers. */
import { createPrivateKey, createPublicKey, generateKeyPair, type KeyObject, type webcrypto } from 'node:crypto';
import { promisify } from 'node:util';
import { PkiError } from './errors.ts';
import { Secret } from './secret.ts';

const generateKeyPairAsync = promisify(generateKeyPair);

export type EcCurve = 'P-256' | 'P-384';
export type RsaBits = 2048 | 3072 | 4096;
export type KeySpec = { type: 'ecdsa'; curve?: EcCurve } | { type: 'rsa'; bits?: RsaBits };

export const DEFAULT_KEY: KeySpec = { type: 'ecdsa', curve: 'P-256' };

const NODE_CURVE: Record<EcCurve, string> = { 'P-256': 'prime256v1', 'P-384': 'secp384r1' };

export function normalizeKeySpec(spec: KeySpec | undefined): Required<{ type: 'ecdsa'; curve: EcCurve }> | Required<{ type: 'rsa'; bits: RsaBits }> {
  const s = spec ?? DEFAULT_KEY;
  if (s.type === 'ecdsa') {
    const curve = s.curve ?? 'P-256';
    if (curve !== 'P-256' && curve !== 'P-384') throw new PkiError('PCS_ERR_CA_BAD_REQUEST', `unsupported ECDSA curve ${String(curve)} (P-256 or P-384)`);
    return { type: 'ecdsa', curve };
  }
  if (s.type === 'rsa') {
    const bits = s.bits ?? 2048;
    if (bits !== 2048 && bits !== 3072 && bits !== 4096) throw new PkiError('PCS_ERR_CA_BAD_REQUEST', `unsupported RSA size ${String(bits)} (2048, 3072 or 4096)`);
    return { type: 'rsa', bits };
  }
  throw new PkiError('PCS_ERR_CA_BAD_REQUEST', `unsupported key type ${JSON.stringify((s as { type: unknown }).type)} (ecdsa or rsa)`);
}

/** Generate a private key, PKCS#8 PEM. */
export async function generatePrivateKeyPem(spec?: KeySpec): Promise<Secret<string>> {
  const s = normalizeKeySpec(spec);
  const enc = { privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } } as const;
  const { privateKey } = s.type === 'ecdsa'
    ? await generateKeyPairAsync('ec', { namedCurve: NODE_CURVE[s.curve], ...enc })
    : await generateKeyPairAsync('rsa', { modulusLength: s.bits, publicExponent: 0x10001, ...enc });
  return new Secret(privateKey as unknown as string);
}

export interface WebCryptoKeys {
  privateKey: webcrypto.CryptoKey;
  publicKey: webcrypto.CryptoKey;
  /** Signature algorithm to pass to @peculiar/x509 when this key signs. */
  signingAlgorithm: webcrypto.Algorithm | webcrypto.EcdsaParams;
  /** 'EC P-256', 'RSA 2048', ... */
  description: string;
}

/** Import a PEM private key (PKCS#8, SEC1 or PKCS#1) as a WebCrypto signing key pair. */
export async function importKeyPair(pem: string | Secret<string>): Promise<WebCryptoKeys> {
  let ko: KeyObject;
  try {
    ko = createPrivateKey(typeof pem === 'string' ? pem : pem.reveal());
  } catch (e) {
    throw new PkiError('PCS_ERR_CA_BAD_REQUEST', 'cannot parse private key', { cause: e });
  }
  const pub = createPublicKey(ko);
  const d = ko.asymmetricKeyDetails ?? {};
  if (ko.asymmetricKeyType === 'ec') {
    const curve = d.namedCurve === 'prime256v1' ? 'P-256' : d.namedCurve === 'secp384r1' ? 'P-384' : d.namedCurve === 'secp521r1' ? 'P-521' : undefined;
    if (!curve) throw new PkiError('PCS_ERR_CA_BAD_REQUEST', `unsupported EC curve ${d.namedCurve}`);
    const hash = curve === 'P-256' ? 'SHA-256' : curve === 'P-384' ? 'SHA-384' : 'SHA-512';
    const alg = { name: 'ECDSA', namedCurve: curve };
    return {
      privateKey: ko.toCryptoKey(alg, true, ['sign']) as webcrypto.CryptoKey,
      publicKey: pub.toCryptoKey(alg, true, ['verify']) as webcrypto.CryptoKey,
      signingAlgorithm: { name: 'ECDSA', hash },
      description: `EC ${curve}`,
    };
  }
  if (ko.asymmetricKeyType === 'rsa') {
    const alg = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
    return {
      privateKey: ko.toCryptoKey(alg, true, ['sign']) as webcrypto.CryptoKey,
      publicKey: pub.toCryptoKey(alg, true, ['verify']) as webcrypto.CryptoKey,
      signingAlgorithm: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } as webcrypto.Algorithm,
      description: `RSA ${d.modulusLength}`,
    };
  }
  throw new PkiError('PCS_ERR_CA_BAD_REQUEST', `unsupported key type ${ko.asymmetricKeyType}`);
}
