import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

import { htmlDecode, loadCases, runCase, urlDecode } from './crs-corpus.ts';
import { CORPUS_DIR } from '../../../scripts/shared.ts';

const dir = existsSync(CORPUS_DIR) ? CORPUS_DIR : undefined;

test('corpus helpers decode like the CRS transformations', () => {
  assert.equal(urlDecode('a+b%27%20c%u0041%zz'), "a b' cA%zz");
  assert.equal(urlDecode('%C3%A9'), '\u00e9');
  assert.equal(htmlDecode('&lt;a&gt; &#x41;&#66; &quot;'), '<a> AB "');
});

for (const file of ['crs-v4.28.0-tests.jsonl', 'crs-v3.3.4-tests.jsonl']) {
  test(`CRS ${file}: rules 942100/941100/941101`, { skip: dir === undefined ? 'corpus not found' : false }, () => {
    const cases = loadCases(resolve(dir!, file));
    assert.ok(cases.length >= 20, `only ${cases.length} cases`);
    const wrong: string[] = [];
    for (const c of cases) {
      const r = runCase(c);
      if (r.detected !== (c.expect === 'attack')) wrong.push(`${c.id} expect=${c.expect} detected=${r.detected}`);
    }
    assert.deepEqual(wrong, []);
  });
}
