import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { runConformance, summarize, judge, parseRawRequest, serverView, type CorpusTest } from '../../scripts/waf-conformance.ts';
import { CRS_CORPUS as CORPUS, CRS_DIR as CRS } from '../../scripts/shared.ts';

const known = JSON.parse(readFileSync(new URL('../../waf/known-failures.json', import.meta.url), 'utf8')) as Record<string, string>;

test('CRS regression corpus, families 921 and 941 (XSS, protocol attacks): no failure outside known-failures', async () => {
  const results = await runConformance({ corpus: CORPUS, crs: CRS, filter: '921,941' });
  const s = summarize(results);
  assert.ok(s.total > 350, `expected the two families, got ${s.total} tests`);
  const unexpected = results.filter((r) => !r.pass && !r.skipped && !(r.id in known));
  assert.deepEqual(unexpected.map((r) => r.id), []);
});

test('the judge fails a test whose expected rule did not fire, or whose forbidden rule fired', () => {
  const t = { id: 'x-1', rule_id: 942100, expect: 'attack', expect_ids: [942100], no_expect_ids: [920100] } as unknown as CorpusTest;
  assert.equal(judge(t, new Set([942100])).pass, true);
  assert.deepEqual(judge(t, new Set([1])).missing, [942100]);
  assert.deepEqual(judge(t, new Set([942100, 920100])).unexpected, [920100]);
  assert.equal(judge({ ...t, expect: 'other' }, new Set()).skipped, true);
});

test('raw requests are parsed and seen the way an HTTP/1.1 server hands them over', () => {
  const raw = parseRawRequest('POST /a?b=1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n3\r\nabc\r\n0\r\n\r\n');
  assert.equal(raw.method, 'POST');
  assert.equal(raw.uri, '/a?b=1');
  const seen = serverView(raw)!;
  assert.equal(seen.body, 'abc');
  assert.equal(seen.headers.some(([k]) => k === 'Content-Length'), false);
  assert.equal(serverView({ ...raw, headers: [['X', 'a\rb']] }), null);
  assert.equal(serverView({ method: 'POST', uri: '/', version: 'HTTP/1.1', headers: [], body: 'ignored' })!.body, '');
});
