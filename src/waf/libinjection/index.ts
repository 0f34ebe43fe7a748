/**
 * libinjection-class SQL injection and XSS detection for the Portcullis WAF,
 * used by the SecLang operators @detectSQLi and @detectXSS.
 *
 * TypeScript port of libinjection v3.9.2 (client9/libinjection, the version
 * bundled in ModSecurity v3), BSD-3-Clause: see LICENSE-libinjection.
 *
 * Inputs are treated as byte strings: a string whose code units are all
 * <= 0xFF is used as is (one code unit = one byte, e.g. raw bytes decoded as
 * 'latin1'); a string with any code unit > 0xFF is UTF-8 encoded first.
 * Both functions are synchronous, allocation-light and safe to call on every
 * request argument.
 */

export { detectSQLi, sqliFingerprint, sqliTokens, toByteString } from './sqli.ts';
export type { SqliResult } from './sqli.ts';
export { detectXSS } from './xss.ts';
