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

/** best (minimum) and median µs/call over several short rounds: robust on a busy machine */
function bench(name: string, fn: (s: string) => unknown, s: string): number {
  for (let i = 0; i < 20000; i++) fn(s);
  const rounds: number[] = [];
  for (let r = 0; r < 9; r++) {
    const n = 20000;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn(s);
    rounds.push(Number(process.hrtime.bigint() - t0) / 1000 / n);
  }
  rounds.sort((a, b) => a - b);
  const best = rounds[0]!;
  console.log(`${name.padEnd(28)} best ${best.toFixed(3)} µs/call, median ${rounds[4]!.toFixed(3)} µs/call  (len ${s.length})`);
  return best;
}

for (const [name, s] of INPUTS) {
  bench(`detectSQLi ${name}`, detectSQLi, s);
  bench(`detectXSS  ${name}`, detectXSS, s);
}
