// Secrets never leave the process: the admin API shows config with secret-looking values replaced.
// Field names are matched case-insensitively; new kinds with secret fields are covered by name.
const SECRET_KEY = /(secret|password|passwd|token|apikey|api_key|privatekey|private_key|credential|clientsecret|^key$|^keys$|hmac)/i;

export const REDACTED = '[redacted]';

export function redact(value: unknown): unknown {
  // A Secret's payload is secret whatever its keys are called (tls.key, ca.crt, ...).
  if (value && typeof value === 'object' && (value as { kind?: string }).kind === 'Secret') {
    const v = value as Record<string, unknown>;
    return { ...v, ...(v.data ? { data: redactLeaves(v.data) } : {}), ...(v.stringData ? { stringData: redactLeaves(v.stringData) } : {}) };
  }
  if (Array.isArray(value)) return value.map(redact);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEY.test(k) && v !== null && typeof v !== 'object' ? REDACTED : SECRET_KEY.test(k) && v && typeof v === 'object' ? redactLeaves(v) : redact(v);
    return out;
  }
  return value;
}

function redactLeaves(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(redactLeaves);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, redactLeaves(x)]));
  return REDACTED;
}
