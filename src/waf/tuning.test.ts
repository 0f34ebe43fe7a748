// The evaluation shortcuts of transaction.ts (precomputed start of phase 1, shared value lists)
// against the plain path: same matches, messages, matched values, verdicts and TX variables.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { compileWaf, loadWaf, type Waf } from './index.ts';
import { engineTuning, txPrefixOf, ValueVerdicts, verdictsOf, type Transaction } from './transaction.ts';
import { testSetup, serverView, parseRawRequest, type CorpusTest } from '../../scripts/waf-conformance.ts';
import { CRS_CORPUS as CORPUS, CRS_DIR as CRS } from '../../scripts/shared.ts';


interface Req { method: string; uri: string; headers: Array<[string, string]>; body: string }

function run(w: Waf, r: Req): Transaction {
  const tx = w.newTransaction({ id: 'fixed', remoteAddr: '10.0.0.1', remotePort: 1234, serverAddr: '127.0.0.1', serverPort: 80 });
  tx.processUri(r.method, r.uri, 'HTTP/1.1');
  for (const [k, v] of r.headers) tx.addRequestHeader(k, v);
  tx.processRequestHeaders();
  if (r.body) tx.appendRequestBody(r.body);
  tx.processRequestBody();
  tx.addResponseHeader('Content-Type', 'text/html');
  tx.processResponseHeaders(200);
  tx.processResponseBody();
  tx.processLogging();
  return tx;
}

/** Everything a transaction exposes, with the shortcuts on or off. */
function observe(w: Waf, r: Req, on: boolean): unknown {
  engineTuning.phase1Prefix = on;
  engineTuning.sharedLists = on;
  engineTuning.skipEmpty = on;
  engineTuning.rawPrefilter = on;
  engineTuning.valueVerdicts = on;
  try {
    const tx = run(w, r);
    return { rules: tx.matchedRules, intr: tx.interruption, det: tx.detectedInterruption, tx: tx.collectionVars('TX').filter(([k]) => k !== 'duration') };
  } finally {
    engineTuning.phase1Prefix = true;
    engineTuning.sharedLists = true;
    engineTuning.skipEmpty = true;
    engineTuning.rawPrefilter = true;
    engineTuning.valueVerdicts = true;
  }
}

const li = {
  detectSQLi: (s: string) => ({ isSqli: /' or 1=1/i.test(s), fingerprint: 's&1' }),
  detectXSS: (s: string) => /<script/i.test(s),
};

test('phase 1 prefix: TX-only rules are precomputed, request rules among them still run in order, later rules see the same state', () => {
  const w = compileWaf({
    directives: `
SecRuleEngine On
SecAction "id:1,phase:1,pass,nolog,setvar:tx.a=1,setvar:tx.lvl=2"
SecRule REQUEST_HEADERS:X-Probe "@rx (p+)" "id:2,phase:1,pass,log,msg:'probe',logdata:'%{REQUEST_HEADERS.X-Probe}',setvar:ip.seen=1"
SecRule &TX:b "@eq 0" "id:3,phase:1,pass,nolog,setvar:tx.b=5"
SecRule TX:lvl "@ge 2" "id:4,phase:1,pass,nolog,skipAfter:END-LVL"
SecRule REQUEST_URI "@rx ." "id:5,phase:1,deny,status:403,log"
SecMarker END-LVL
SecRule &TX:c "@eq 1" "id:6,phase:1,pass,nolog,setvar:'tx.ua=%{REQUEST_HEADERS.User-Agent}'"
SecRule TX:b "@eq 5" "id:7,phase:1,pass,nolog,severity:WARNING,setvar:tx.sum=+%{tx.b}"
SecAction "id:12,phase:1,pass,nolog,setvar:'tx.ua2=%{REQUEST_HEADERS.User-Agent}'"
SecAction "id:8,phase:1,pass,nolog,setvar:'tx.last=%{MATCHED_VAR_NAME}=%{MATCHED_VAR}',setvar:'tx.mv=%{MATCHED_VARS}'"
SecRule REQUEST_HEADERS:X-Late "@rx ." "id:9,phase:1,pass,nolog,setvar:tx.late=%{tx.b}"
SecRule HIGHEST_SEVERITY "@eq 4" "id:11,phase:2,pass,log,msg:'severity 4'"
SecRule ARGS "@rx attack" "id:10,phase:2,deny,status:403,log,msg:'attack in %{MATCHED_VAR_NAME}'"
`,
  }, li);
  const rs = (w.newTransaction() as unknown as { rs: Parameters<typeof txPrefixOf>[0] }).rs;
  const pre = txPrefixOf(rs);
  // rules 1, 3, 4 (with its skip over 5) and 6, 7: simulated; 2 (and the two body processor
  // rules compileWaf adds first): kept for run time; 12 reads a header: the prefix stops there
  assert.ok(pre.end > 0, 'a prefix is found');
  assert.deepEqual(pre.kept.map((k) => (rs.phases[1][k] as { id: number }).id), [200000, 200001, 2], JSON.stringify(pre.kept));
  assert.equal(pre.tx.get('sum')?.value, '5');
  const reqs: Req[] = [
    { method: 'GET', uri: '/', headers: [['Host', 'a']], body: '' },
    { method: 'GET', uri: '/x', headers: [['Host', 'a'], ['X-Probe', 'ppp'], ['X-Late', '1']], body: '' },
    { method: 'GET', uri: '/?q=attack', headers: [['Host', 'a'], ['X-Probe', 'p'], ['User-Agent', 'u']], body: '' },
  ];
  for (const r of reqs) {
    const a = observe(w, r, true);
    assert.deepEqual(a, observe(w, r, false), `same state for ${r.uri}`);
  }
  const probe = observe(w, reqs[1], true) as { tx: Array<[string, string]>; rules: Array<{ id: number; msg: string }> };
  // the kept rule 2 matched after the simulated rules 1 and before 3: MATCHED_VAR seen by rule 8
  // is the one of rule 7 (the last match in rule order), not of rule 2
  assert.deepEqual(probe.rules.map((x) => [x.id, x.msg]), [[2, 'probe'], [11, 'severity 4']]);
  assert.ok(probe.tx.some(([k, v]) => k === 'last' && v === 'TX:b=5'), JSON.stringify(probe.tx));
  assert.ok(probe.tx.some(([k, v]) => k === 'late' && v === '5'));
});

test('shared value lists narrowed by ctl:ruleRemoveTargetById give the same matches as the plain path', () => {
  const w = compileWaf({
    directives: `
SecRuleEngine On
SecRule REQUEST_URI "@beginsWith /skip" "id:1,phase:1,pass,nolog,ctl:ruleRemoveTargetById=20-21;ARGS:a"
SecRule ARGS "@rx evil" "id:20,phase:2,pass,log,t:lowercase,setvar:tx.s=+1,msg:'%{MATCHED_VAR_NAME}'"
SecRule ARGS "@rx evil" "id:21,phase:2,pass,log,t:lowercase,setvar:tx.s=+1,msg:'%{MATCHED_VAR_NAME}'"
SecRule ARGS "!@rx ^[a-z]*$" "id:22,phase:2,pass,log,t:lowercase,msg:'%{MATCHED_VAR_NAME}'"
SecRule ARGS "!@rx evil" "id:24,phase:2,pass,log,msg:'%{MATCHED_VAR_NAME}'"
SecRule ARGS "@pm select union" "id:23,phase:2,pass,log,t:urlDecode,msg:'%{MATCHED_VAR_NAME}'"
`,
  }, li);
  for (const uri of ['/skip?a=EVIL&b=Evil1&c=x', '/?a=EVIL&b=fine&c=sel%65ct', '/skip?a=ok&b=ok', '/?x=1&y=2']) {
    const r: Req = { method: 'GET', uri, headers: [['Host', 'a']], body: '' };
    assert.deepEqual(observe(w, r, true), observe(w, r, false), uri);
  }
  const t = observe(w, { method: 'GET', uri: '/skip?a=EVIL&b=Evil1', headers: [['Host', 'a']], body: '' }, true) as { rules: Array<{ id: number; msg: string }> };
  assert.deepEqual(t.rules.filter((x) => x.id === 20 || x.id === 21).map((x) => x.msg), ['ARGS:b', 'ARGS:b']);
});

test('a list collected in phase 1 is kept for phase 2 unless its collection changed: body arguments reach phase 2 rules', () => {
  // each rule appends the name of every value it matched, in order, to tx.seen
  const seen = (id: number, phase: number, targets: string) => `SecRule ${targets} "@rx zzz" "id:${id},phase:${phase},pass,nolog,setvar:'tx.seen=%{tx.seen} ${id}:%{MATCHED_VAR_NAME}'"`;
  const w = compileWaf({
    directives: ['SecRuleEngine On', 'SecRequestBodyAccess On', 'SecAction "id:9,phase:1,pass,nolog,setvar:tx.seen=."',
      seen(1, 1, 'ARGS|REQUEST_HEADERS:X-A'), seen(2, 1, 'REQUEST_HEADERS:X-A|REQUEST_COOKIES'),
      seen(3, 2, 'ARGS|REQUEST_HEADERS:X-A'), seen(4, 2, 'REQUEST_HEADERS:X-A|REQUEST_COOKIES'), seen(5, 2, 'REQUEST_BODY')].join('\n'),
  }, li);
  const r: Req = { method: 'POST', uri: '/?q=zzz1', headers: [['Host', 'a'], ['X-A', 'zzz'], ['Content-Type', 'application/x-www-form-urlencoded']], body: 'b=zzz2' };
  const got = observe(w, r, true) as { tx: Array<[string, string]> };
  assert.deepEqual(got, observe(w, r, false));
  // phase 2: the body's argument is there (ARGS changed), the header list is the same
  assert.equal(got.tx.find(([k]) => k === 'seen')?.[1],
    '. 1:ARGS:q 1:REQUEST_HEADERS:X-A 2:REQUEST_HEADERS:X-A 3:ARGS:q 3:ARGS:b 3:REQUEST_HEADERS:X-A 4:REQUEST_HEADERS:X-A 5:REQUEST_BODY');
});

test('a list is skipped on the byte union of its targets, which follows their collections: body arguments added in phase 2 are seen', () => {
  const w = compileWaf({
    directives: `
SecRuleEngine On
SecRequestBodyAccess On
SecRule ARGS|REQUEST_HEADERS:X-A "@rx <" "id:1,phase:1,pass,log,msg:'p1 %{MATCHED_VAR_NAME}'"
SecRule ARGS|REQUEST_HEADERS:X-A "@rx <" "id:2,phase:2,pass,log,msg:'p2 %{MATCHED_VAR_NAME}'"
SecRule ARGS "@rx <" "id:3,phase:2,pass,log,msg:'p2 %{MATCHED_VAR_NAME}'"
`,
  }, li);
  const post = (q: string, body: string, xa: string): Req => ({ method: 'POST', uri: `/?${q}`, headers: [['Host', 'a'], ['X-A', xa], ['Content-Type', 'application/x-www-form-urlencoded']], body });
  const msgs = (r: Req) => (observe(w, r, true) as { rules: Array<{ msg: string }> }).rules.map((x) => x.msg);
  for (const r of [post('a=x', 'b=%3c', 'y'), post('a=%3c', 'b=x', 'y'), post('a=x', 'b=x', '<'), post('a=x', 'b=x', 'y')]) assert.deepEqual(observe(w, r, true), observe(w, r, false), r.uri + r.body);
  // phase 1 found no "<" in ARGS (a=x) nor in X-A; the body's b=< must reach both phase 2 rules
  assert.deepEqual(msgs(post('a=x', 'b=%3c', 'y')), ['p2 ARGS:b', 'p2 ARGS:b']);
  assert.deepEqual(msgs(post('a=x', 'b=x', '<')), ['p1 REQUEST_HEADERS:X-A', 'p2 REQUEST_HEADERS:X-A']);
});

test('TX:/regex/ after the phase 1 prefix: keys added later are found in the map order, a deleted key is gone, one set again comes last', () => {
  const w = compileWaf({
    directives: `
SecAction "id:1,phase:1,pass,nolog,setvar:tx.base_a=1,setvar:tx.other=2,setvar:tx.order=."
SecRule REQUEST_HEADERS_NAMES "@rx ^.*$" "id:2,phase:1,pass,nolog,capture,t:lowercase,setvar:'tx.hn_%{tx.0}=%{tx.0}'"
SecAction "id:3,phase:1,pass,nolog,setvar:!tx.hn_host"
SecAction "id:4,phase:1,pass,nolog,setvar:tx.hn_host=again"
SecRule TX:/^hn_/ "@rx ." "id:5,phase:1,pass,nolog,setvar:'tx.order=%{tx.order} %{MATCHED_VAR_NAME}'"
SecRule TX:/^base_/ "@rx ." "id:6,phase:1,pass,nolog,setvar:'tx.order=%{tx.order} %{MATCHED_VAR_NAME}'"
`,
  }, li);
  const r: Req = { method: 'GET', uri: '/', headers: [['Host', 'a'], ['X-B', 'b'], ['X-C', 'c']], body: '' };
  const got = observe(w, r, true) as { tx: Array<[string, string]> };
  assert.deepEqual(got, observe(w, r, false));
  assert.equal(got.tx.find(([k]) => k === 'order')?.[1], '. TX:hn_x-b TX:hn_x-c TX:hn_host TX:base_a');
});

test('a folded TX gate narrowed by a ctl is evaluated on its narrowed target (a count can change), not skipped', () => {
  const w = compileWaf({
    directives: `
SecAction "id:1,phase:1,pass,nolog,setvar:tx.x=1"
SecRule REQUEST_HEADERS:X-Narrow "@streq 1" "id:2,phase:1,pass,nolog,ctl:ruleRemoveTargetById=30;TX:x"
SecRule &TX:x "@eq 0" "id:30,phase:2,pass,log,msg:'no x'"
`,
  }, li);
  const req = (narrow: boolean): Req => ({ method: 'GET', uri: '/', headers: [['Host', 'a'], ...(narrow ? [['X-Narrow', '1']] : [])] as Array<[string, string]>, body: '' });
  // tx.x is set in the phase 1 prefix and never written after it: the gate folds to "no match"
  const folds = txPrefixOf((w.newTransaction() as unknown as { rs: Parameters<typeof txPrefixOf>[0] }).rs).folds;
  assert.ok(folds.some((f) => f === null), 'the gate folded to no match');
  assert.deepEqual((observe(w, req(false), true) as { rules: Array<{ id: number }> }).rules.map((r) => r.id), []);
  // the ctl removes TX:x from rule 30: &TX:x counts 0 there, and the rule matches
  const narrowed = observe(w, req(true), true) as { rules: Array<{ id: number }> };
  assert.deepEqual(narrowed.rules.map((r) => r.id), [30]);
  assert.deepEqual(narrowed, observe(w, req(true), false));
});

test('a rule narrowed by a ctl is still skipped when its whole list lacks what it needs; a count target it narrows is evaluated', () => {
  const w = compileWaf({
    directives: `
SecRuleEngine On
SecRule REQUEST_HEADERS:X-Narrow "@streq 1" "id:1,phase:1,pass,nolog,ctl:ruleRemoveTargetById=20-22;ARGS:a"
SecRule ARGS "@rx <" "id:20,phase:2,pass,log,t:urlDecodeUni,msg:'%{MATCHED_VAR_NAME}'"
SecRule ARGS "@rx x" "id:21,phase:2,pass,log,msg:'%{MATCHED_VAR_NAME}'"
SecRule &ARGS:a "@rx 0" "id:22,phase:2,pass,log,msg:'no a'"
SecRule MATCHED_VARS "@rx ." "id:23,phase:2,pass,log,msg:'%{MATCHED_VAR_NAME}'"
`,
  }, li);
  const req = (q: string, narrow: boolean): Req => ({ method: 'GET', uri: `/?${q}`, headers: [['Host', 'a'], ...(narrow ? [['X-Narrow', '1']] : [])] as Array<[string, string]>, body: '' });
  for (const q of ['a=x&b=y', 'a=%3c&b=x', 'a=1&b=%3c', 'b=1', 'a=x'] as const) {
    for (const narrow of [false, true]) assert.deepEqual(observe(w, req(q, narrow), true), observe(w, req(q, narrow), false), `${q} ${narrow}`);
  }
  // &ARGS:a is "1" for the whole list: no "0" in it, but the ctl takes ARGS:a out of rule 22's
  // list, so it counts 0 there and the rule matches (a count is not a subset of the list's bytes)
  const ids = (q: string) => (observe(w, req(q, true), true) as { rules: Array<{ id: number; msg: string }> }).rules.map((r) => `${r.id} ${r.msg}`);
  assert.deepEqual(ids('a=x&b=y'), ['22 no a', '23 MATCHED_VARS:&ARGS:a']);
  assert.deepEqual(ids('a=%3c&b=x'), ['21 ARGS:b', '22 no a', '23 MATCHED_VARS:&ARGS:a']);
});

test('a folded gate that only skips is jumped over with the match it records: MATCHED_VAR(S) as if it was evaluated', () => {
  const w = compileWaf({
    directives: `
SecRuleEngine On
SecAction "id:1,phase:1,pass,nolog,setvar:tx.level=1"
SecRule TX:level "@lt 2" "id:10,phase:2,pass,nolog,skipAfter:END-A"
SecRule ARGS "@contains attack" "id:11,phase:2,deny,status:403,log"
SecMarker END-A
SecRule MATCHED_VARS "@rx ^1$" "id:12,phase:2,pass,log,msg:'%{MATCHED_VAR_NAME}=%{MATCHED_VAR}'"
SecRule TX:level "@lt 2" "id:13,phase:2,pass,nolog,skipAfter:END-B"
SecAction "id:14,phase:2,pass,log,msg:'after 13'"
SecMarker END-B
SecRule TX:level "@lt 2" "id:15,phase:2,pass,nolog,setvar:tx.seen=1,skipAfter:END-C"
SecAction "id:16,phase:2,pass,log,msg:'after 15'"
SecMarker END-C
SecAction "id:17,phase:2,pass,log,msg:'%{MATCHED_VAR_NAME}'"
SecRule TX:level "@gt 5" "id:18,phase:2,pass,log,msg:'never',chain"
  SecRule ARGS "@rx ." "setvar:tx.chained18=1"
SecRule TX:level "@lt 5" "id:19,phase:2,pass,log,msg:'chain %{MATCHED_VAR_NAME}',chain"
  SecRule ARGS "@rx ." "setvar:tx.chained19=1"
`,
  }, li);
  const pre = txPrefixOf((w.newTransaction() as unknown as { rs: Parameters<typeof txPrefixOf>[0] }).rs);
  // 10 and 13 only skip: jumped; 15 sets a variable on its match: evaluated
  const phase2 = (w.newTransaction() as unknown as { rs: { phases: Array<Array<{ kind: string; id?: number }>> } }).rs.phases[2];
  const jumped = phase2.flatMap((e, i) => (e.kind === 'rule' && pre.jumpTo[2][i] >= 0 ? [e.id] : []));
  assert.deepEqual(jumped, [10, 13]);
  // a chain whose first link is a gate folded to no match is passed over like a one-link gate
  assert.deepEqual(phase2.flatMap((e, i) => (e.kind === 'rule' && pre.never[2][i] === 1 ? [e.id] : [])), [18]);
  for (const q of ['a=attack', 'a=1', '']) {
    const r: Req = { method: 'GET', uri: `/?${q}`, headers: [['Host', 'a']], body: '' };
    assert.deepEqual(observe(w, r, true), observe(w, r, false), q);
    const t = observe(w, r, true) as { rules: Array<{ id: number; msg: string }>; intr: unknown; tx: Array<[string, string]> };
    assert.deepEqual(t.rules.map((x) => `${x.id} ${x.msg}`), ['12 MATCHED_VARS:TX:level=1', '17 TX:level', ...(q === '' ? [] : ['19 chain ARGS:a'])], q);
    assert.equal(t.intr, null);
    assert.equal(new Map(t.tx).get('seen'), '1');
    assert.equal(new Map(t.tx).get('chained19'), q === '' ? undefined : '1');
    assert.equal(new Map(t.tx).get('chained18'), undefined);
  }
});

test('rules with nothing to read are skipped as if evaluated: MATCHED_VARS is emptied all the same', () => {
  const w = compileWaf({
    directives: `
SecRuleEngine On
SecRule REQUEST_HEADERS:X-A "@rx ." "id:1,phase:1,pass,nolog"
SecRule ARGS|REQUEST_COOKIES "@rx ." "id:2,phase:1,pass,nolog,setvar:tx.args=1"
SecRule MATCHED_VARS "@rx ." "id:7,phase:1,pass,nolog,setvar:tx.saw=1"
SecAction "id:3,phase:1,pass,nolog,setvar:'tx.mv=%{MATCHED_VARS}',setvar:'tx.mvn=%{MATCHED_VAR_NAME}'"
SecRule &ARGS "@eq 0" "id:4,phase:1,pass,nolog,setvar:tx.noargs=1"
SecRule XML:/* "@rx ." "id:5,phase:2,pass,nolog,setvar:tx.xml=1"
SecRule ARGS|REQUEST_COOKIES "!@rx zzz" "id:6,phase:2,pass,nolog,setvar:tx.neg=+1"
`,
  }, li);
  for (const uri of ['/', '/?q=1']) {
    for (const headers of [[['Host', 'a'], ['X-A', 'v']], [['Host', 'a'], ['Cookie', 'c=1']], [['Host', 'a']]] as Array<Array<[string, string]>>) {
      const r: Req = { method: 'GET', uri, headers, body: '' };
      assert.deepEqual(observe(w, r, true), observe(w, r, false), `${uri} ${JSON.stringify(headers)}`);
    }
  }
  // rule 2 has no value on '/' without cookies: rule 7 finds MATCHED_VARS empty (rule 1's match is gone), MATCHED_VAR stays
  const t = observe(w, { method: 'GET', uri: '/', headers: [['Host', 'a'], ['X-A', 'v']], body: '' }, true) as { tx: Array<[string, string]> };
  const tx = new Map(t.tx);
  assert.equal(tx.get('saw'), undefined);
  assert.equal(tx.get('mv'), '');
  assert.equal(tx.get('mvn'), 'REQUEST_HEADERS:X-A');
  assert.equal(tx.get('noargs'), '1', 'a count target is never skipped');
  assert.equal(tx.get('args'), undefined);
});

test('TX gates fold to their prefix outcome only when no rule after the prefix can write their variable', () => {
  const rules = (writer: string) => compileWaf({
    directives: `
SecAction "id:1,phase:1,pass,nolog,setvar:tx.level=1,setvar:tx.fixed=1"
${writer}
SecRule TX:level "@lt 2" "id:10,phase:2,pass,nolog,skipAfter:END-LEVEL"
SecRule ARGS "@contains attack" "id:11,phase:2,deny,status:403,log"
SecMarker END-LEVEL
SecRule TX:fixed "@lt 2" "id:20,phase:2,pass,nolog,skipAfter:END-FIXED"
SecRule ARGS "@contains other" "id:21,phase:2,deny,status:403,log"
SecMarker END-FIXED
`,
  }, li);
  const req = (q: string): Req => ({ method: 'GET', uri: `/?${q}`, headers: [['Host', 'x']], body: '' });
  const writers = {
    // the same variable written by name, by a name built with a macro, by a capture into it
    static: 'SecRule ARGS:raise "@streq 1" "id:2,phase:1,pass,nolog,setvar:tx.level=2"',
    dynamic: 'SecRule ARGS:raise "@rx ^(el)$" "id:2,phase:1,pass,nolog,capture,setvar:\'tx.lev%{tx.1}=2\'"',
  };
  for (const [kind, writer] of Object.entries(writers)) {
    const w = rules(writer);
    const folds = txPrefixOf((w.newTransaction() as unknown as { rs: Parameters<typeof txPrefixOf>[0] }).rs).folds;
    // tx.fixed has no writer after the prefix: its gate folds; tx.level's does not
    assert.equal(folds.filter((f) => f !== undefined).length, 1, kind);
    const raise = kind === 'static' ? 'raise=1' : 'raise=el';
    const raised = run(w, req(`${raise}&a=attack`));
    assert.equal(raised.interruption?.ruleId, 11, `${kind}: level raised to 2 in this request, rule 11 runs`);
    assert.equal(run(w, req('a=attack')).interruption, null, `${kind}: level 1, rule 11 is skipped`);
    assert.equal(run(w, req(`${raise}&a=other`)).interruption, null, `${kind}: the folded gate still skips rule 21`);
    for (const q of [`${raise}&a=attack`, 'a=attack', 'a=other', `${raise}&b=other`]) assert.deepEqual(observe(w, req(q), true), observe(w, req(q), false), `${kind} ${q}`);
  }
});

test('raw-value prefilter: values that cannot become what an operator needs are skipped untransformed, with the same results', () => {
  const w = compileWaf({
    directives: `
SecRule ARGS "@rx <script" "id:1,phase:2,pass,log,t:none,t:urlDecodeUni,t:htmlEntityDecode,t:lowercase,msg:'xss %{MATCHED_VAR}'"
SecRule MATCHED_VARS "@rx ." "id:2,phase:2,pass,log,msg:'after 1: %{MATCHED_VAR_NAME}'"
SecRule ARGS "@rx \\.\\./" "id:3,phase:2,pass,log,multiMatch,t:none,t:utf8toUnicode,t:urlDecodeUni,t:cmdLine"
SecRule REQUEST_HEADERS:X-Skip "@streq 1" "id:4,phase:1,pass,nolog,ctl:ruleRemoveById=1"
SecRule ARGS "!@rx ^[a-z]+$" "id:5,phase:2,pass,log,t:none,t:lowercase"
SecRule REQUEST_HEADERS:X-Narrow "@streq 1" "id:6,phase:1,pass,nolog,ctl:ruleRemoveTargetById=1;ARGS:a"
SecRule ARGS "@rx <script" "id:7,phase:2,pass,log,t:none,t:urlDecodeUni"
`,
  }, li);
  const req = (q: string, skip = false, narrow = false): Req => ({ method: 'GET', uri: `/?${q}`, headers: [['Host', 'x'], ...(skip ? [['X-Skip', '1']] : []), ...(narrow ? [['X-Narrow', '1']] : [])] as Array<[string, string]>, body: '' });
  // a ctl narrowing rule 1 leaves rule 7 (the same list, no narrowing) on the shortcuts
  for (const [q, want] of [['a=%253Cscript', [5, 7]], ['b=%253Cscript', [1, 2, 5, 7]], ['a=x', []]] as Array<[string, number[]]>) {
    const on = observe(w, req(q, false, true), true) as { rules: Array<{ id: number }> };
    assert.deepEqual(on, observe(w, req(q, false, true), false), `narrowed ${q}`);
    assert.deepEqual(on.rules.map((r) => r.id), want, `narrowed ${q}`);
  }
  const cases: Array<[string, boolean, number[]]> = [
    ['a=plain&b=words', false, []],
    ['a=%3CSCRIPT%3E', false, [1, 2, 5]], // '%' can decode to '<'
    ['a=%26lt;script', false, [1, 2, 5]], // so can '&' (an entity)
    ['a=%3Cscript', true, [5, 7]], // rule 1 removed by a ctl: nothing skipped differently
    ['p=%u002e%u002e/', false, [3, 5]], // %u escapes: urlDecodeUni makes them dots
    ['p=%c0%ae%c0%ae/', false, [5]], // overlong UTF-8 dots become %u002e (run, but ModSecurity keeps the lead byte: no "../")
    ['p=..%2f', false, [3, 5]],
    ['a=UPPER', false, []],
  ];
  for (const [q, skip, want] of cases) {
    const on = observe(w, req(q, skip), true) as { rules: Array<{ id: number }> };
    assert.deepEqual(on, observe(w, req(q, skip), false), q);
    assert.deepEqual(on.rules.map((r) => r.id), want, q);
  }
});

test('CRS v4.28.0 at PL1: the paranoia-level gates are folded', { skip: !existsSync(CRS) && 'no CRS checkout at ../shared/waf' }, async () => {
  const w = await loadWaf({ crsDir: CRS, paranoiaLevel: 1, engineMode: 'On' });
  const folds = txPrefixOf((w.newTransaction() as unknown as { rs: Parameters<typeof txPrefixOf>[0] }).rs).folds;
  assert.ok(folds.filter((f) => f !== undefined).length > 200, 'most of the CRS gates fold');
  // the paranoia-level gates above the level only skip: jumped over without evaluating them
  const jumps = txPrefixOf((w.newTransaction() as unknown as { rs: Parameters<typeof txPrefixOf>[0] }).rs).jumpTo;
  assert.ok(jumps.reduce((n, a) => n + a.filter((k) => k >= 0).length, 0) > 40, 'the skipping gates are jumped');
});

/** Every `step`-th request of the CRS corpus from `from`, as the server sees it, and the two rule set configurations. */
async function corpusSample(from: number, step: number): Promise<{ wafs: Waf[]; reqs: Array<{ id: string; r: Req }> }> {
  const tests = readFileSync(CORPUS, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as CorpusTest);
  const wafs = [await loadWaf({ crsDir: CRS, beforeCrs: testSetup(4) }), await loadWaf({ crsDir: CRS, paranoiaLevel: 1, engineMode: 'On' })];
  const reqs: Array<{ id: string; r: Req }> = [];
  const enc = (x: string) => Buffer.from(x ?? '', 'utf8').toString('latin1');
  for (let k = from; k < tests.length; k += step) {
    const t = tests[k];
    const headers: Array<[string, string]> = (Array.isArray(t.headers) ? t.headers : Object.entries(t.headers ?? {})).map(([a, b]) => [enc(a), enc(String(b))]);
    const seen = serverView(t.raw_b64 ? parseRawRequest(Buffer.from(t.raw_b64, 'base64').toString('latin1'))
      : { method: enc(t.method), uri: enc(t.uri), version: t.version || 'HTTP/1.1', headers, body: enc(t.body ?? '') });
    if (seen) reqs.push({ id: t.id, r: { method: seen.method, uri: seen.uri, headers: seen.headers, body: seen.body } });
  }
  return { wafs, reqs };
}

test('CRS v4.28.0: a sample of the regression corpus gives the same state with and without the shortcuts', { skip: !existsSync(CORPUS) || !existsSync(CRS) }, async () => {
  const { wafs, reqs } = await corpusSample(0, 23);
  for (const { id, r } of reqs) for (const w of wafs) assert.deepEqual(observe(w, r, true), observe(w, r, false), id);
  assert.ok(reqs.length > 100, `compared ${reqs.length} requests`);
});

test('CRS v4.28.0: value verdicts remembered from earlier transactions give the same state as evaluating every value', { skip: !existsSync(CORPUS) || !existsSync(CRS) }, async () => {
  // every request twice with the shortcuts: the second run finds the verdicts of the first (and of
  // every earlier request) in the store; both must equal the plain path
  const { wafs, reqs } = await corpusSample(3, 11);
  for (const { id, r } of reqs) {
    for (const w of wafs) {
      const first = observe(w, r, true);
      const second = observe(w, r, true);
      const plain = observe(w, r, false);
      assert.deepEqual(first, plain, `${id} (first)`);
      assert.deepEqual(second, plain, `${id} (again)`);
    }
  }
  assert.ok(reqs.length > 300, `compared ${reqs.length} requests`);
  const rs = (wafs[1].newTransaction() as unknown as { rs: Parameters<typeof verdictsOf>[0] }).rs;
  assert.ok(verdictsOf(rs).size > 100, 'the store was used');
});

test('value verdicts: a value a link did not match is passed over in later transactions; matches, macros and secrets are never remembered', () => {
  const w = compileWaf({
    directives: `
SecRuleEngine On
SecRule ARGS:ua "@rx (.*)" "id:1,phase:1,pass,nolog,capture,setvar:'tx.ua=%{tx.1}'"
SecRule REQUEST_HEADERS|REQUEST_COOKIES|ARGS "@streq evil bot" "id:10,phase:1,pass,log,t:lowercase,msg:'evil in %{MATCHED_VAR_NAME}'"
SecRule REQUEST_HEADERS:User-Agent "@streq %{tx.ua}" "id:11,phase:1,pass,log,msg:'ua equals the argument'"
SecRule REQUEST_HEADERS_NAMES "@beginsWith X-" "id:12,phase:1,pass,log,msg:'x header'"
`,
  }, li);
  const rs = (w.newTransaction() as unknown as { rs: { phases: Array<Array<{ kind: string; id?: number; op?: unknown }>> } }).rs;
  // count what the operators of rules 10 and 12 are asked (white-box: the compiled link's matcher;
  // operators without a prefilter, so every value reaches them)
  const asked: string[] = [];
  for (const e of rs.phases[1]) {
    if (e.kind !== 'rule' || (e.id !== 10 && e.id !== 12)) continue;
    const op = e.op as (v: string, ...rest: unknown[]) => boolean;
    e.op = Object.assign((v: string, ...rest: unknown[]) => { asked.push(`${e.id}:${v}`); return op(v, ...rest); }, op);
  }
  const req = (ua: string, q = 'a=1', more: Array<[string, string]> = []): Req =>
    ({ method: 'GET', uri: `/?${q}`, headers: [['Host', 'h'], ['User-Agent', ua], ['Cookie', 'sid=s3cret'], ['Authorization', 'Basic dTpw'], ...more], body: '' });
  const ids = (r: Req) => (run(w, r).matchedRules).map((m) => `${m.id} ${m.msg}`);

  assert.deepEqual(ids(req('Mozilla/5.0')), []);
  assert.ok(asked.includes('10:mozilla/5.0') && asked.includes('10:s3cret') && asked.includes('12:User-Agent'), asked.join());
  asked.length = 0;
  // seen a second time, the values are stored (ValueVerdicts admits a value on its second sighting)
  // and evaluated once more
  assert.deepEqual(ids(req('Mozilla/5.0')), []);
  assert.ok(asked.includes('10:mozilla/5.0') && asked.includes('12:User-Agent'), asked.join());
  asked.length = 0;
  // the third time: the header values and names are known no-match; the cookie (and the Cookie
  // header), the Authorization header and the argument are asked again (never remembered)
  assert.deepEqual(ids(req('Mozilla/5.0')), []);
  assert.deepEqual(asked.sort(), ['10:1', '10:basic dtpw', '10:s3cret', '10:sid=s3cret'], 'only the values that are not remembered');
  asked.length = 0;
  // a value that matched is asked every time, and matches every time
  for (let k = 0; k < 2; k++) {
    assert.deepEqual(ids(req('Evil Bot', 'a=1', [['X-Trace', '1']])), ['10 evil in REQUEST_HEADERS:User-Agent', '12 x header']);
  }
  assert.equal(asked.filter((a) => a === '10:evil bot').length, 2);
  assert.equal(asked.filter((a) => a === '12:X-Trace').length, 2);
  // an operand with a macro depends on the transaction: rule 11 did not match 'Mozilla/5.0' before, it does now
  assert.deepEqual(ids(req('Mozilla/5.0', 'ua=Mozilla/5.0')), ['11 ua equals the argument']);
  // and the results equal the plain path's, store warm or not
  for (const r of [req('Mozilla/5.0'), req('Evil Bot'), req('Mozilla/5.0', 'ua=Mozilla/5.0'), req('x', 'a=evil+bot')]) assert.deepEqual(observe(w, r, true), observe(w, r, false));
});

test('value verdicts: rememberVerdicts false keeps nothing across transactions', () => {
  const directives = 'SecRule REQUEST_HEADERS "@streq evil" "id:10,phase:1,pass,log"';
  for (const remember of [true, false]) {
    const w = compileWaf({ directives, rememberVerdicts: remember }, li);
    const rs = (w.newTransaction() as unknown as { rs: { phases: Array<Array<{ kind: string; id?: number; op?: unknown }>> } }).rs;
    let asked = 0;
    for (const e of rs.phases[1]) {
      if (e.kind !== 'rule' || e.id !== 10) continue;
      const op = e.op as (v: string, ...rest: unknown[]) => boolean;
      e.op = Object.assign((v: string, ...rest: unknown[]) => { asked++; return op(v, ...rest); }, op);
    }
    // two header values: asked in the first two transactions when remembered (stored on the
    // second sighting), in every transaction otherwise
    for (let k = 0; k < 3; k++) run(w, { method: 'GET', uri: '/', headers: [['Host', 'h'], ['Accept', '*/*']], body: '' });
    assert.equal(asked, remember ? 4 : 6, `rememberVerdicts ${remember}`);
  }
});

test('value verdicts: the store is bounded, and a value keeps its bits when it moves to the newer generation', () => {
  const words = 3;
  const v = new ValueVerdicts(words);
  assert.equal(v.get('keep-me'), null, 'a value seen for the first time is not stored');
  const a = v.get('keep-me')!;
  a[2] |= 1 << 5;
  for (let k = 0; k < 20_000; k++) {
    v.get(`value-${k}`);
    v.get(`value-${k}`)![0] |= 1;
    if (k % 1000 === 0) assert.equal((v.get('keep-me')![2] >> 5) & 1, 1, `bit kept at ${k}`);
    assert.ok(v.size <= 2 * 8192, `size ${v.size}`);
  }
  assert.equal(v.get('x'.repeat(5000)), null, 'a long value is not kept');
  // characters are bounded too: 300 values of 1,000 characters fill a generation long before 8,192 values
  const w = new ValueVerdicts(words);
  for (let k = 0; k < 3000; k++) { w.get(`${k}`.padEnd(1000, '.')); w.get(`${k}`.padEnd(1000, '.')); }
  assert.ok(w.size <= 2 * ((1 << 20) / 1000 + 1), `size ${w.size}`);
});

test('value verdicts: values seen once (sprayed to flush the store) are not stored and do not push out what repeats', () => {
  const v = new ValueVerdicts(2);
  v.get('repeats');
  v.get('repeats')![1] |= 4;
  for (let k = 0; k < 100_000; k++) v.get(`spray-${k}`);
  // the doorkeeper lets a few through (a hash collision stores a value on its first sighting);
  // without it, 100,000 values would have filled more than 12 generations
  assert.ok(v.size < 20_000, `size ${v.size}`);
  assert.equal((v.get('repeats')![1] >> 2) & 1, 1, 'the repeated value kept its bit');
});

test('CRS v4.28.0: no rule of phases 3-5 reads request data, so a transaction keeps none of it past phase 2', { skip: !existsSync(CRS) && 'no CRS checkout at ../shared/waf' }, async () => {
  // what a transaction keeps while the upstream answers survives every young-generation GC
  // (Transaction.releaseRequestPhases); white-box: the collections themselves are looked at
  const w = await loadWaf({ crsDir: CRS, paranoiaLevel: 1, engineMode: 'On' });
  const tx = w.newTransaction({ remoteAddr: '10.0.0.1' });
  tx.processUri('POST', '/api?a=1&b=2', 'HTTP/1.1');
  for (const [k, v] of [['Host', 'example.com'], ['Content-Type', 'application/json'], ['Cookie', 'sid=abc']]) tx.addRequestHeader(k, v);
  tx.processRequestHeaders();
  tx.appendRequestBody('{"order":{"items":[1,2,3],"note":"plain"}}');
  const colls = (tx as unknown as { colls: Map<string, unknown[]> }).colls;
  // (before phase 2 the request's data is there: phase 1 populated it)
  assert.equal(colls.get('ARGS_GET')?.length, 2);
  tx.processRequestBody();
  assert.equal(tx.interruption, null);
  for (const c of ['ARGS', 'ARGS_NAMES', 'ARGS_GET', 'ARGS_POST', 'REQUEST_HEADERS', 'REQUEST_COOKIES']) assert.equal(colls.get(c)?.length ?? 0, 0, c);
  // and the response phases run as before
  tx.addResponseHeader('Content-Type', 'text/html');
  assert.equal(tx.processResponseHeaders(200), null);
  assert.equal(tx.processResponseBody(), null);
});
