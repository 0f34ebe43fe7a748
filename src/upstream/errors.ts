/** Typed errors of the upstream toolkit, each with a stable code. */
export type UpstreamErrorCode =
  | 'PCS_ERR_UPSTREAM_INVALID_ENDPOINT'
  | 'PCS_ERR_UPSTREAM_INVALID_OPTION'
  | 'PCS_ERR_UPSTREAM_UNKNOWN_BALANCER'
  | 'PCS_ERR_UPSTREAM_POOL_CLOSED';

export class UpstreamError extends Error {
  readonly code: UpstreamErrorCode;
  constructor(code: UpstreamErrorCode, message: string) {
    super(message);
    this.name = 'UpstreamError';
    this.code = code;
  }
}

/** Throws PCS_ERR_UPSTREAM_INVALID_OPTION unless `value` is a finite number within [min, max]. */
export function checkNumber(name: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new UpstreamError('PCS_ERR_UPSTREAM_INVALID_OPTION', `${name} must be a number in [${min}, ${max}], got ${String(value)}`);
  }
  return value;
}
