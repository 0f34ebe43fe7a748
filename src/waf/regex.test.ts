import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { installRedosGuard, RegexRunner, LONG_INPUT } from './regex.ts';
import { compileRegexWithPrefilter } from './operators.ts';
import { loadWaf } from './index.ts';
import { CRS_DIR } from '../../scripts/shared.ts';

installRedosGuard();

/** The @rx operand of a CRS rule, as written in its .conf file. */
function crsPattern(id: number): string {
  const file = join(CRS_DIR, 'rules', id >= 942000 && id < 943000 ? 'REQUEST-942-APPLICATION-ATTACK-SQLI.conf' : 'REQUEST-932-APPLICATION-ATTACK-RCE.conf');
  const lines = readFileSync(file, 'utf8').split('\n');
  const at = lines.findIndex((l) => l.includes(`"id:${id},`));
  for (let i = at; i >= 0; i--) {
    const m = /^SecRule \S+ "@rx ((?:[^"\\]|\\.)*)"/.exec(lines[i]);
    if (m) return m[1].replace(/\\"/g, '"');
  }
  throw new Error(`no @rx for ${id}`);
}

const PROSE = 'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua ';
const prose = (n: number) => PROSE.repeat(Math.ceil(n / PROSE.length)).slice(0, n);

function same(a: RegExpExecArray | null, b: RegExpExecArray | null, what: string): void {
  assert.equal(a?.index ?? -1, b?.index ?? -1, `${what}: index`);
  assert.deepEqual(a ? [...a] : null, b ? [...b] : null, `${what}: groups`);
}

test('position by position gives the plain search\'s match (index and groups), also when the budget hands over', () => {
  const patterns = [
    ...[932230, 932235, 932250, 932260, 942190].map((id) => compileRegexWithPrefilter(crsPattern(id), null)),
    // anchors with the m flag, \\b at a start position, a lookbehind, an empty match, groups
    // an empty match only at the end of the input (the last start position)
    ...['^(cat|ls)\\s+/etc', '\\bpasswd\\b', '(?<=/)etc/(\\w+)', 'x*', '(foo)(bar)?$', '[\\r\\n](\\w+)=', '\\d*$'].map((p) => compileRegexWithPrefilter(p, null)),
  ];
  const n = LONG_INPUT * 3;
  const inputs = [
    prose(n),
    prose(n) + ';cat /etc/passwd',
    ';cat /etc/passwd ' + prose(n),
    prose(n / 2) + '\nls /etc/shadow\n' + prose(n / 2),
    prose(n / 2) + "' or 1=1 union select password from users -- " + prose(n / 2),
    '\n'.repeat(n),
    'a\nfoo'.repeat(n / 4) + 'foobar',
    prose(n) + 'xx',
    // first matches at index 1: the handover's plain search starts right after the first position
    'x\nfoo=1;cat /etc/passwd ' + prose(n),
    'x/etc/passwd ' + prose(n),
  ];
  for (const c of patterns) {
    assert.equal(c.linear, true, `${c.re.source.slice(0, 40)} runs on the linear engine`);
    for (const budget of [200, 0]) { // 0 (and no floor): hands over to the plain search after the first position
      const r = new RegexRunner(c.re, true, budget, budget === 0 ? 0 : undefined);
      for (const s of inputs) same(r.byPosition(s), c.re.exec(s), `${c.re.source.slice(0, 30)} on ${JSON.stringify(s.slice(0, 20))}, budget ${budget}`);
    }
  }
});

test('a pattern whose plain search restarts on the linear engine for long prose goes position by position after two such searches', () => {
  const c = compileRegexWithPrefilter(crsPattern(932235), null);
  const r = new RegexRunner(c.re, true);
  const s = prose(16 * 1024);
  // the linear engine runs this pattern at ~1 µs per char, ten times the threshold (100 ns)
  r.exec(s);
  assert.equal(r.perPosition, false, 'one slow search is not enough (a GC pause could be)');
  r.exec(s);
  assert.equal(r.perPosition, true);
  // short inputs and patterns without the linear fallback never learn
  const short = new RegexRunner(c.re, true);
  for (let i = 0; i < 4; i++) short.exec(prose(LONG_INPUT - 1));
  assert.equal(short.perPosition, false);
  const noFallback = new RegexRunner(c.re, false);
  for (let i = 0; i < 4; i++) noFallback.exec(s);
  assert.equal(noFallback.perPosition, false);
});

test('a cheap pattern never goes position by position, and a runner that learned wrong unlearns at its next plain search', () => {
  const c = compileRegexWithPrefilter('^\\d+$', null);
  const r = new RegexRunner(c.re, true);
  const s = prose(64 * 1024);
  for (let i = 0; i < 4; i++) r.exec(s);
  assert.equal(r.perPosition, false);
  r.perPosition = true; // as if two GC pauses in a row had made it slow
  for (let i = 0; i < 64; i++) assert.equal(r.exec(s), null);
  assert.equal(r.perPosition, false, 'the 64th long input was searched plainly, fast, and reset the runner');
});

test('a position-by-position search that runs over its budget has the next 64 long inputs searched plainly', () => {
  const c = compileRegexWithPrefilter(crsPattern(932230), null);
  const r = new RegexRunner(c.re, true, 0, 0); // no budget: every position-by-position search runs over it
  r.perPosition = true;
  const s = '\n'.repeat(4 * 1024); // each anchored attempt restarts on the linear engine and reads to the end
  same(r.exec(s), c.re.exec(s), 'newlines');
  assert.equal(r.coolingDown, true);
  for (let i = 0; i < 64; i++) r.exec(prose(LONG_INPUT));
  assert.equal(r.coolingDown, false);
});

test('CRS at PL1: a 16 KiB prose body with a command injection at its end is still blocked after the runners learned', async () => {
  const waf = await loadWaf({ crsDir: CRS_DIR, paranoiaLevel: 1 });
  const send = (q: string) => {
    const body = 'q=' + encodeURIComponent(q);
    const tx = waf.newTransaction({ remoteAddr: '192.0.2.1' });
    tx.processUri('POST', '/notes', 'HTTP/1.1');
    tx.addRequestHeader('Host', 'example.com');
    tx.addRequestHeader('Content-Type', 'application/x-www-form-urlencoded');
    tx.addRequestHeader('Content-Length', String(body.length));
    assert.equal(tx.processRequestHeaders(), null);
    tx.appendRequestBody(body);
    const verdict = tx.processRequestBody();
    return { verdict, ids: tx.matchedRules.map((m) => m.id) };
  };
  for (let i = 0; i < 3; i++) assert.equal(send(prose(16 * 1024)).verdict, null, 'prose passes');
  const attack = send(prose(16 * 1024) + ';cat /etc/passwd');
  assert.equal(attack.verdict?.status, 403);
  assert.ok(attack.ids.some((id) => id >= 932000 && id < 933000), `a 932 rule matched: ${attack.ids.join(',')}`);
});
