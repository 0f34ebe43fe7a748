// Structured JSON logs (pino). One process logger; the access log is a child with its own level so
// it can be turned off without touching the rest. Secrets are redacted by path as a last line of
// defence (they should never reach a log call in the first place).
import { pino, type Logger } from 'pino';

export type { Logger };

export interface LoggerOptions { level?: string; destination?: number | string; sync?: boolean }

export function createLogger(opts: LoggerOptions = {}): Logger {
  const dest = pino.destination({ dest: opts.destination ?? 1, sync: opts.sync ?? true });
  return pino({
    level: opts.level ?? process.env.PORTCULLIS_LOG_LEVEL ?? 'info',
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: ['*.authorization', '*.cookie', '*.token', '*.password', '*.secret', 'headers.authorization', 'headers.cookie'], censor: '[redacted]' },
    formatters: { level: (label) => ({ level: label }) },
  }, dest);
}
