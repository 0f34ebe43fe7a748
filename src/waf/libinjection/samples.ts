/*
 * Helpers for libinjection's sample files (data/*.txt upstream): one
 * URL-encoded sample per line, '#' comments, decoded like upstream's
 * reader.c (modp_url_decode) into a byte string.
 */
import { readFileSync } from 'node:fs';

function hexval(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  return 256;
}

/** reader.c modp_url_decode: '+' -> ' ', %XX -> byte (only when i+2 < len) */
export function modpUrlDecode(s: string): string {
  let out = '';
  const len = s.length;
  let i = 0;
  while (i < len) {
    const c = s.charCodeAt(i);
    if (c === 0x2b) {
      out += ' ';
      i += 1;
    } else if (c === 0x25 && i + 2 < len) {
      const d = (hexval(s.charCodeAt(i + 1)) << 4) | hexval(s.charCodeAt(i + 2));
      if (d < 256) {
        out += String.fromCharCode(d);
        i += 3;
      } else {
        out += '%';
        i += 1;
      }
    } else {
      out += s[i];
      i += 1;
    }
  }
  return out;
}

/** decoded samples of a sample file, as latin1 byte strings, with line numbers */
export function readSamples(path: string): Array<{ line: number; input: string }> {
  const raw = readFileSync(path, 'latin1');
  const out: Array<{ line: number; input: string }> = [];
  raw.split('\n').forEach((l, i) => {
    const t = l.replace(/[ \n\t\r]+$/, '');
    if (t.length === 0 || t[0] === '#') return;
    out.push({ line: i + 1, input: modpUrlDecode(t) });
  });
  return out;
}
