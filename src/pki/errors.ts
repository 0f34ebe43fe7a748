/**
 * Typed errors of the PKI library. Every error carries a stable `code` (PCS_ERR_...) that callers,
 * the CLI and the admin API can switch on; messages are for humans and never contain key material.
 */
export type PkiErrorCode =
  | 'PCS_ERR_KEYSTORE_NO_KEY'
  | 'PCS_ERR_KEYSTORE_BAD_KEY'
  | 'PCS_ERR_KEYSTORE_KEY_FILE_PERMS'
  | 'PCS_ERR_KEYSTORE_BAD_NAME'
  | 'PCS_ERR_KEYSTORE_NOT_FOUND'
  | 'PCS_ERR_KEYSTORE_FORMAT'
  | 'PCS_ERR_KEYSTORE_WRONG_KEY'
  | 'PCS_ERR_KEYSTORE_TAMPERED'
  | 'PCS_ERR_CA_BAD_REQUEST'
  | 'PCS_ERR_CA_STATE'
  | 'PCS_ERR_CERT_PARSE'
  | 'PCS_ERR_CERT_SCAN'
  | 'PCS_ERR_CERT_SCAN_TIMEOUT'
  | 'PCS_ERR_RENEWAL'
  | 'PCS_ERR_ACME_CONFIG'
  | 'PCS_ERR_ACME_ORDER'
  | 'PCS_ERR_ACME_DNS_HOOK';

export class PkiError extends Error {
  readonly code: PkiErrorCode;
  constructor(code: PkiErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PkiError';
    this.code = code;
  }
}

export function isPkiError(e: unknown, code?: PkiErrorCode): e is PkiError {
  return e instanceof PkiError && (code === undefined || e.code === code);
}
