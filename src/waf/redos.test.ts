import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileWaf, loadWaf } from './index.ts';
import { translatePcre, linearCompatible, installRedosGuard } from './regex.ts';
import { CRS_DIR as CRS } from '../../scripts/shared.ts';


function timeIt(f: () => void): number {
  const t0 = performance.now();
  f();
  return performance.now() - t0;
}

test('classic catastrophic patterns stay fast through the engine (backtracking -> linear fallback)', () => {
  const w = compileWaf({
    directives: [
      'SecRule ARGS "@rx ^(a+)+$" "id:1,phase:2,pass,log"',
      'SecRule ARGS "@rx ^(\\w+\\s?)*$" "id:2,phase:2,pass,log"',
      'SecRule ARGS "@rx (x+x+)+y" "id:3,phase:2,pass,log"',
      'SecRule ARGS "@rx ^(a|aa)+$" "id:4,phase:2,pass,log"',
    ].join('\n'),
  }, null);
  const report = w.report;
  assert.equal(report.redosGuard.backtrackFallback, true);
  assert.deepEqual(report.nonLinearRegexes, [], 'all four patterns must be runnable by the linear engine');
  const payloads = ['a'.repeat(40) + 'b', 'word '.repeat(30) + '!', 'x'.repeat(5000), 'a'.repeat(60) + '!'];
  for (const p of payloads) {
    const ms = timeIt(() => {
      const tx = w.newTransaction();
      tx.processUri('GET', '/?q=' + encodeURIComponent(p), 'HTTP/1.1');
      tx.processRequestHeaders();
      tx.processRequestBody();
    });
    // without the fallback the first payload alone takes minutes
    assert.ok(ms < 1000, `payload of ${p.length} bytes took ${ms.toFixed(0)} ms`);
  }
});

test('case-insensitive and large counted repetitions are rewritten so the linear engine can run them', () => {
  installRedosGuard();
  for (const p of ['(?i)select\\s+from', '[a-z]{1,255}x', '(?i:ab){2,40}c', 'sess_[,\\-0-9a-z]{20,256}$']) {
    const t = translatePcre(p);
    let ok = linearCompatible(t.source, t.flags);
    if (!ok) { const t2 = translatePcre(p, false, true); ok = linearCompatible(t2.source, t2.flags); }
    assert.equal(ok, true, p);
  }
  // backreferences can never run in linear time and are reported
  const br = translatePcre('(a)\\1');
  assert.equal(linearCompatible(br.source, br.flags), false);
});

test('CRS at PL4: load report, and hostile inputs stay fast', async () => {
  const waf = await loadWaf({ crsDir: CRS, paranoiaLevel: 4, engineMode: 'DetectionOnly' });
  assert.deepEqual(waf.report.warnings, []);
  assert.ok(waf.ruleCount > 600);
  // every CRS pattern runs on (or falls back to) V8's linear-time engine
  assert.deepEqual(waf.report.nonLinearRegexes, []);
  // 8 KB of '<' takes minutes in rule 941160's pattern on a plain backtracking engine
  const hostile = ['<'.repeat(8000), "'".repeat(8000), '('.repeat(4000) + ')'.repeat(4000), '\r\n'.repeat(4000) + 'x',
    ',' + '1,'.repeat(4000) + '(', 'select '.repeat(1000) + 'from', '`' + 'a'.repeat(8000)];
  for (const h of hostile) {
    const ms = timeIt(() => {
      const tx = waf.newTransaction();
      tx.processUri('POST', '/', 'HTTP/1.1');
      tx.addRequestHeader('Content-Type', 'application/x-www-form-urlencoded');
      tx.addRequestHeader('User-Agent', h.slice(0, 4000));
      tx.processRequestHeaders();
      tx.appendRequestBody('a=' + encodeURIComponent(h));
      tx.processRequestBody();
    });
    assert.ok(ms < 3000, `hostile input ${JSON.stringify(h.slice(0, 12))}... took ${ms.toFixed(0)} ms`);
  }
});

test('CRS at PL1: a 512 KiB JSON string of " /" (the 932 rules\' t:cmdLine) is inspected in linear time', async () => {
  // as the gateway loads it: the policy's 1 MiB body limit is also SecRequestBodyNoFilesLimit
  const waf = await loadWaf({ crsDir: CRS, paranoiaLevel: 1, engineMode: 'On', beforeCrs: 'SecRequestBodyNoFilesLimit 1048576' });
  const body = JSON.stringify({ note: ' /'.repeat(256 * 1024) });
  let intr: unknown;
  const ms = timeIt(() => {
    const tx = waf.newTransaction();
    tx.processUri('POST', '/api/notes', 'HTTP/1.1');
    for (const [k, v] of [['Host', 'api.example.com'], ['User-Agent', 'curl/8.5.0'], ['Accept', '*/*'], ['Content-Type', 'application/json']]) tx.addRequestHeader(k, v);
    tx.processRequestHeaders();
    tx.appendRequestBody(body);
    intr = tx.processRequestBody();
  });
  assert.equal(intr, null);
  // 14 s when t:cmdLine was quadratic; ~0.3 s here
  assert.ok(ms < 5000, `took ${ms.toFixed(0)} ms`);
});
