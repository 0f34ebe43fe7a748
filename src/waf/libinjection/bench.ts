/*
 * Micro benchmark: µs per call of detectSQLi / detectXSS.
 *   node src/waf/libinjection/bench.ts
 */
import { detectSQLi, detectXSS } from './index.ts';

const INPUTS: Array<[string, string]> = [
  ['benign 50 chars', 'The quick brown fox jumps over the lazy dog, 2024!'],
  ['benign email', 'jane.doe+newsletter@example.com'],
  ['benign json', '{"name":"O\'Reilly","tags":["a","b"],"count":12}'],
  ['sqli union', "1' UNION SELECT username, password FROM users--"],
  ['sqli or', "admin' OR '1'='1"],
  ['xss script', '<script>alert(document.cookie)</script>'],
  ['xss attr', '"><img src=x onerror=alert(1)>'],
];

function bench(name: string, fn: (s: string) => unknown, s: string): number {
  const warm = 20000;
  for (let i = 0; i < warm; i++) fn(s);
  let n = 0;
  const t0 = process.hrtime.bigint();
  let t1 = t0;
  while (t1 - t0 < 300_000_000n) {
    for (let i = 0; i < 5000; i++) fn(s);
    n += 5000;
    t1 = process.hrtime.bigint();
  }
  const us = Number(t1 - t0) / 1000 / n;
  console.log(`${name.padEnd(28)} ${us.toFixed(3)} µs/call  (${n} calls)`);
  return us;
}

for (const [name, s] of INPUTS) {
  bench(`detectSQLi ${name}`, detectSQLi, s);
  bench(`detectXSS  ${name}`, detectXSS, s);
}
