import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileWaf, type Waf, type Transaction } from './index.ts';

const li = {
  detectSQLi: (s: string) => ({ isSqli: /' or 1=1/i.test(s), fingerprint: 's&1' }),
  detectXSS: (s: string) => /<script/i.test(s),
};

function waf(directives: string, extra: Parameters<typeof compileWaf>[0] = {}): Waf {
  return compileWaf({ directives, ...extra }, li);
}

interface Req { method?: string; uri?: string; headers?: Array<[string, string]>; body?: string }

function run(w: Waf, r: Req = {}): Transaction {
  const tx = w.newTransaction({ remoteAddr: '10.0.0.1', remotePort: 1234, serverAddr: '127.0.0.1', serverPort: 80 });
  tx.processUri(r.method ?? 'GET', r.uri ?? '/', 'HTTP/1.1');
  for (const [k, v] of r.headers ?? [['Host', 'example.com']]) tx.addRequestHeader(k, v);
  tx.processRequestHeaders();
  if (r.body !== undefined) tx.appendRequestBody(Buffer.from(r.body, 'utf8'));
  tx.processRequestBody();
  tx.addResponseHeader('Content-Type', 'text/html');
  tx.processResponseHeaders(200);
  tx.processResponseBody();
  tx.processLogging();
  return tx;
}

const ids = (tx: Transaction) => tx.matchedRules.map((m) => m.id);

test('macro expansion in setvar, msg and logdata; MATCHED_VAR and rule.id', () => {
  const w = waf(`
SecAction "id:1,phase:1,pass,nolog,setvar:tx.base=10"
SecRule ARGS:q "@rx (b+)" "id:2,phase:2,pass,log,capture,msg:'rule %{rule.id} saw %{MATCHED_VAR_NAME}',logdata:'%{TX.1}/%{MATCHED_VAR}',setvar:tx.score=+%{tx.base},setvar:'tx.%{rule.id}_seen=%{tx.1}'"
`);
  const tx = run(w, { uri: '/?q=abbbc' });
  const m = tx.matchedRules.find((r) => r.id === 2)!;
  assert.equal(m.msg, 'rule 2 saw ARGS:q');
  assert.equal(m.logdata, 'bbb/abbbc');
  assert.equal(m.matchedVar, 'ARGS:q');
  assert.equal(tx.getVar('TX', 'score'), '10');
  assert.equal(tx.getVar('tx', '2_SEEN'), 'bbb');
  assert.deepEqual(ids(tx), [2]); // rule 1 is nolog
});

test('chains need every link; chained rules see the previous link through MATCHED_VARS', () => {
  const w = waf(`
SecRule ARGS "@rx foo" "id:10,phase:2,pass,log,t:lowercase,chain"
  SecRule MATCHED_VARS "@rx foobar" "setvar:tx.hit=1"
SecRule REQUEST_METHOD "@streq POST" "id:11,phase:2,pass,log,chain"
  SecRule ARGS "@rx ."
`);
  assert.deepEqual(ids(run(w, { uri: '/?a=FOOBAR' })), [10]);
  assert.deepEqual(ids(run(w, { uri: '/?a=FOO' })), []);
  assert.equal(run(w, { uri: '/?a=FOOBAR' }).getVar('TX', 'hit'), '1');
});

test('counting, negation, target exclusions and regex keys', () => {
  const w = waf(`
SecRule &ARGS "@ge 3" "id:20,phase:2,pass,log"
SecRule ARGS|!ARGS:safe|!ARGS:/^skip_/ "@rx evil" "id:21,phase:2,pass,log"
SecRule REQUEST_HEADERS:User-Agent "!@rx ^Mozilla" "id:22,phase:1,pass,log"
SecRule &REQUEST_HEADERS:X-Missing "@eq 0" "id:23,phase:1,pass,log"
SecRule ARGS_NAMES "@rx ^evil" "id:24,phase:2,pass,log"
`);
  assert.deepEqual(ids(run(w, { uri: '/?safe=evil&skip_me=evil&other=ok', headers: [['User-Agent', 'Mozilla/5']] })), [23, 20]);
  assert.deepEqual(ids(run(w, { uri: '/?x=evil', headers: [['User-Agent', 'curl']] })), [22, 23, 21]);
  assert.deepEqual(ids(run(w, { uri: '/?evilname=1', headers: [['User-Agent', 'Mozilla']] })), [23, 24]);
});

test('multiMatch checks every transformation step, not only the last', () => {
  const w = waf(`
SecRule ARGS "@rx ^a%41$" "id:30,phase:2,pass,log,t:none,t:urlDecodeUni,multiMatch"
SecRule ARGS "@rx ^a%41$" "id:31,phase:2,pass,log,t:none,t:urlDecodeUni"
`);
  // the raw value is 'a%2541', decoded once to 'a%41': only multiMatch sees the intermediate value... and
  // the query itself is decoded once by the argument parser, so send %2541
  assert.deepEqual(ids(run(w, { uri: '/?x=a%2541' })), [30]);
});

test('skipAfter, SecMarker and phases', () => {
  const w = waf(`
SecRule ARGS:skip "@streq 1" "id:40,phase:2,pass,nolog,skipAfter:END"
SecRule ARGS "@rx ." "id:41,phase:2,pass,log"
SecMarker END
SecRule ARGS "@rx ." "id:42,phase:2,pass,log"
SecRule RESPONSE_STATUS "@streq 200" "id:43,phase:3,pass,log"
SecAction "id:44,phase:5,pass,log"
`);
  assert.deepEqual(ids(run(w, { uri: '/?skip=1' })), [42, 43, 44]);
  assert.deepEqual(ids(run(w, { uri: '/?skip=0' })), [41, 42, 43, 44]);
});

test('ctl: ruleRemoveById, ruleRemoveTargetById, ruleRemoveByTag, ruleEngine', () => {
  const w = waf(`
SecRule REQUEST_URI "@beginsWith /admin" "id:50,phase:1,pass,nolog,ctl:ruleRemoveById=60-61,ctl:ruleRemoveTargetById=62;ARGS:html,ctl:ruleRemoveByTag=noisy"
SecRule ARGS "@rx <" "id:60,phase:2,pass,log"
SecRule ARGS "@rx <" "id:62,phase:2,pass,log"
SecRule ARGS "@rx <" "id:63,phase:2,pass,log,tag:'noisy'"
SecRule REQUEST_URI "@beginsWith /off" "id:64,phase:1,pass,nolog,ctl:ruleEngine=Off"
SecRule ARGS "@rx <" "id:65,phase:2,pass,log"
`);
  assert.deepEqual(ids(run(w, { uri: '/x?html=<b>' })), [60, 62, 63, 65]);
  assert.deepEqual(ids(run(w, { uri: '/admin?html=<b>' })), [65]);
  assert.deepEqual(ids(run(w, { uri: '/admin?html=<b>&other=<i>' })), [62, 65]);
  assert.deepEqual(ids(run(w, { uri: '/off?html=<b>' })), []);
});

test('SecRuleRemoveById/ByTag and SecRuleUpdateTargetById apply regardless of order', () => {
  const w = waf(`
SecRuleRemoveById 71
SecRuleUpdateTargetById 72 "!ARGS:pw"
SecRuleRemoveByTag attack-x
SecRule ARGS "@rx a" "id:71,phase:2,pass,log"
SecRule ARGS "@rx a" "id:72,phase:2,pass,log"
SecRule ARGS "@rx a" "id:73,phase:2,pass,log,tag:'attack-x'"
`);
  assert.deepEqual(ids(run(w, { uri: '/?pw=a' })), []);
  assert.deepEqual(ids(run(w, { uri: '/?q=a' })), [72]);
});

test('engine modes: On blocks, DetectionOnly records, Off does nothing', () => {
  const rules = `SecRule ARGS "@rx attack" "id:80,phase:1,deny,status:406,log"
SecRule ARGS "@rx ." "id:81,phase:2,pass,log"`;
  const on = run(waf(`SecRuleEngine On\n${rules}`), { uri: '/?a=attack' });
  assert.deepEqual(on.interruption, { status: 406, ruleId: 80, action: 'deny' });
  assert.deepEqual(ids(on), [80]); // processing stopped at the interruption
  const det = run(waf(`SecRuleEngine DetectionOnly\n${rules}`), { uri: '/?a=attack' });
  assert.equal(det.interruption, null);
  assert.equal(det.detectedInterruption?.ruleId, 80);
  assert.deepEqual(ids(det), [80, 81]);
  const off = run(waf(`SecRuleEngine Off\n${rules}`), { uri: '/?a=attack' });
  assert.equal(off.interruption, null);
  assert.deepEqual(ids(off), []);
  assert.equal(run(waf(rules, { engineMode: 'DetectionOnly' }), { uri: '/?a=attack' }).interruption, null);
});

test('phase 5 runs to its end after an interruption (its disruptive actions interrupt nothing), as ModSecurity\'s logging phase', () => {
  const w = waf(`SecRuleEngine On
SecRule ARGS "@rx attack" "id:80,phase:1,deny,status:403,log,setvar:tx.score=+5"
SecRule ARGS "@rx ." "id:81,phase:2,pass,log"
SecAction "id:90,phase:5,pass,nolog,setvar:tx.total=%{tx.score}"
SecRule TX:total "@gt 0" "id:91,phase:5,deny,status:500,log,msg:'score %{tx.total}'"
SecRule TX:total "@gt 0" "id:92,phase:5,pass,log,msg:'still here'"`);
  const tx = run(w, { uri: '/?a=attack' });
  assert.deepEqual(tx.interruption, { status: 403, ruleId: 80, action: 'deny' });
  assert.deepEqual(ids(tx), [80, 91, 92]);
  assert.equal(tx.matchedRules[1].msg, 'score 5');
});

test('@detectSQLi / @detectXSS call the libinjection module', () => {
  const w = waf(`
SecRule ARGS "@detectSQLi" "id:90,phase:2,pass,log,capture,logdata:'%{TX.0}'"
SecRule ARGS "@detectXSS" "id:91,phase:2,pass,log"
`);
  const tx = run(w, { uri: "/?a=x'%20or%201=1&b=%3Cscript%3E" });
  assert.deepEqual(ids(tx), [90, 91]);
  assert.equal(tx.matchedRules[0].logdata, 's&1');
});

test('body processors: urlencoded, JSON names, multipart files and parts, XML text and attributes', () => {
  const w = waf(`
SecRule ARGS_POST:user "@streq bob" "id:100,phase:2,pass,log"
SecRule ARGS_NAMES "@streq json.a.b.array_1" "id:101,phase:2,pass,log"
SecRule ARGS:json.a.b.array_1 "@streq x" "id:102,phase:2,pass,log"
SecRule FILES "@endsWith .php" "id:103,phase:2,pass,log"
SecRule FILES_NAMES "@streq upload" "id:104,phase:2,pass,log"
SecRule ARGS:note "@streq hello" "id:105,phase:2,pass,log"
SecRule MULTIPART_PART_HEADERS "@rx ^Content-Type: image/png" "id:106,phase:2,pass,log"
SecRule XML:/* "@rx hello world" "id:107,phase:2,pass,log"
SecRule XML://@* "@streq attr" "id:108,phase:2,pass,log"
SecRule REQBODY_ERROR "!@eq 0" "id:109,phase:2,pass,log"
SecRule REQBODY_PROCESSOR "@streq JSON" "id:110,phase:2,pass,log"
SecRule REQUEST_BODY "@rx user=bob" "id:111,phase:2,pass,log"
SecRule REQUEST_BODY "@rx filename=.shell\\.php.\\r\\nContent-Type: image/png\\r\\n\\r\\n<\\?php" "id:112,phase:2,pass,log"
`);
  const form = run(w, { method: 'POST', headers: [['Content-Type', 'application/x-www-form-urlencoded']], body: 'user=bob' });
  assert.deepEqual(ids(form), [100, 111]);
  const json = run(w, { method: 'POST', headers: [['Content-Type', 'application/json']], body: '{"a":{"b":[1,"x"]}}' });
  assert.deepEqual(ids(json), [101, 102, 110]);
  const mp = [
    '--XyZ', 'Content-Disposition: form-data; name="note"', '', 'hello',
    '--XyZ', 'Content-Disposition: form-data; name="upload"; filename="shell.php"', 'Content-Type: image/png', '', '<?php ?>',
    '--XyZ--', '',
  ].join('\r\n');
  const mtx = run(w, { method: 'POST', headers: [['Content-Type', 'multipart/form-data; boundary=XyZ']], body: mp });
  // REQUEST_BODY is the raw multipart body, part headers and file contents included, as in
  // libmodsecurity 3.0.9 (the CRS rules reading it see an uploaded file's contents there)
  assert.deepEqual(ids(mtx), [103, 104, 105, 106, 112]);
  const xml = run(w, { method: 'POST', headers: [['Content-Type', 'text/xml']], body: '<?xml version="1.0"?><a k="attr"><b>hello</b><c> world</c></a>' });
  assert.deepEqual(ids(xml), [107, 108]);
  // a body that does not parse is refused by the recommended rule 200002 before any other phase 2 rule
  const badJson = run(w, { method: 'POST', headers: [['Content-Type', 'application/json']], body: '{"a":' });
  assert.deepEqual(ids(badJson), [200002]);
  assert.equal(badJson.interruption?.status, 400);
  const badXml = run(w, { method: 'POST', headers: [['Content-Type', 'application/xml']], body: '<a><b></a>' });
  assert.deepEqual(ids(badXml), [200002]);
  // without the recommended rules the error is only a variable
  const own = compileWaf({ recommendedBodyProcessors: false, directives: `
SecRule REQUEST_HEADERS:Content-Type "@rx json" "id:1,phase:1,pass,nolog,ctl:requestBodyProcessor=JSON"
SecRule REQBODY_ERROR "!@eq 0" "id:109,phase:2,pass,log"` }, li);
  assert.deepEqual(ids(run(own, { method: 'POST', headers: [['Content-Type', 'application/json']], body: '{"a":' })), [109]);
});

test('body limits: JSON depth, argument count, request body size', () => {
  const w = waf('SecRule REQBODY_ERROR "!@eq 0" "id:120,phase:2,pass,log,logdata:\'%{REQBODY_ERROR_MSG}\'"', { limits: { jsonDepthLimit: 3, argumentsLimit: 2 } });
  const deep = run(w, { method: 'POST', headers: [['Content-Type', 'application/json']], body: '{"a":{"b":{"c":{"d":1}}}}' });
  assert.match(deep.matchedRules[0]?.logdata ?? '', /depth/);
  const many = run(w, { method: 'POST', headers: [['Content-Type', 'application/x-www-form-urlencoded']], body: 'a=1&b=2&c=3' });
  assert.match(many.matchedRules[0]?.logdata ?? '', /argument limit/);
  const small = waf('SecRuleEngine On', { limits: { requestBodyLimit: 4 } });
  const tx = small.newTransaction();
  tx.processUri('POST', '/', 'HTTP/1.1');
  tx.processRequestHeaders();
  assert.deepEqual(tx.appendRequestBody('123456'), { status: 413, ruleId: 0, action: 'deny' });
});

test('paranoia settings and anomaly score reach TX', () => {
  const w = compileWaf({ paranoiaLevel: 2, inboundAnomalyThreshold: 7, directives: 'SecRule TX:blocking_paranoia_level "@eq 2" "id:130,phase:1,pass,log"' }, li);
  const tx = run(w);
  assert.deepEqual(ids(tx), [130]);
  assert.equal(tx.getVar('TX', 'inbound_anomaly_score_threshold'), '7');
  assert.throws(() => compileWaf({ paranoiaLevel: 5 }, li), /paranoiaLevel/);
});

test('transactions are independent: ctl, TX and captures never leak into the next one', () => {
  const w = waf(`
SecRule ARGS:off "@streq 1" "id:140,phase:1,pass,nolog,ctl:ruleRemoveById=141,setvar:tx.flag=1"
SecRule ARGS "@rx (x+)" "id:141,phase:2,pass,log,capture,logdata:'%{TX.1}/%{TX.flag}'"
`);
  const a = run(w, { uri: '/?off=1&v=xxx' });
  assert.deepEqual(ids(a), []);
  assert.equal(a.getVar('TX', 'flag'), '1');
  const b = run(w, { uri: '/?v=xx' });
  assert.deepEqual(ids(b), [141]);
  assert.equal(b.matchedRules[0].logdata, 'xx/');
  assert.equal(b.getVar('TX', 'flag'), undefined);
  assert.notEqual(a.id, b.id);
});

test('TX comparisons (fast path) decide, record and skip like the general path', () => {
  // the same checks through the fast path (no transformation) and the general one (t:lowercase)
  for (const t of ['t:none', 't:lowercase']) {
    const w = waf(`
      SecAction "id:1,phase:1,pass,nolog,setvar:tx.level=2"
      SecRule TX:LEVEL "@lt 2" "id:2,phase:1,pass,nolog,${t},skipAfter:END"
      SecRule TX:level "@ge 2" "id:3,phase:1,pass,log,${t},msg:'%{MATCHED_VAR_NAME}=%{MATCHED_VAR}'"
      SecRule &TX:missing "@eq 0" "id:4,phase:1,pass,log,${t},msg:'%{MATCHED_VAR_NAME}=%{MATCHED_VAR}'"
      SecRule TX:missing "!@eq 5" "id:5,phase:1,pass,log,${t}"
      SecRule TX:level "!@eq 2" "id:6,phase:1,pass,log,${t}"
      SecMarker END
    `);
    const tx = run(w);
    assert.deepEqual(ids(tx), [3, 4], t);
    assert.equal(tx.matchedRules[0].msg, 'TX:level=2', t);
    assert.equal(tx.matchedRules[1].msg, '&TX:missing=0', t);
  }
  // a ctl removing a target at run time takes the general path
  const w = waf(`
    SecAction "id:1,phase:1,pass,nolog,setvar:tx.level=2,ctl:ruleRemoveTargetById=3;TX:level"
    SecRule TX:level "@ge 2" "id:3,phase:1,pass,log"
  `);
  assert.deepEqual(ids(run(w)), []);
});

test('literal prefilter: the rule runs when a required literal is present in any case, after transformations', () => {
  const w = waf(`
    SecRule ARGS "@rx (?i)union[\\s/*]+select" "id:10,phase:2,pass,log,t:none,t:urlDecodeUni"
    SecRule ARGS "!@rx (?i)union[\\s/*]+select" "id:11,phase:2,pass,log,t:none"
    SecRule ARGS "@rx (?:^|[/;])\\.{2,3}[/;]" "id:12,phase:2,pass,log,t:none,t:urlDecodeUni,multiMatch"
  `);
  assert.deepEqual(ids(run(w, { uri: '/?q=hello' })), [11]);
  assert.deepEqual(ids(run(w, { uri: '/?q=1%20UnIoN%2F**%2FSeLeCt%201' })), [10]);
  assert.deepEqual(ids(run(w, { uri: '/?q=UNION%252F**%252FSELECT' })), [10, 11]); // only the decoded value holds '/**/'
  assert.deepEqual(ids(run(w, { uri: '/?f=%2e%2e%2fetc' })), [11, 12]);
});

test('request data read again in the response phases, after the request-phase caches are released', () => {
  // phases 1 and 2 fill every cache (transformed values, byte and literal sets, shared lists,
  // exclusion maps, key indexes); releaseCaches drops them after phase 2: the same reads in
  // phases 3 and 4 rebuild them and give the same verdicts, ctl target exclusions included
  const w = waf(`
SecRule ARGS "@rx never-present" "id:10,phase:1,pass,nolog,t:none,t:lowercase"
SecRule ARGS|REQUEST_HEADERS "@pm never-present" "id:11,phase:2,pass,nolog,t:none,t:lowercase"
SecRule REQUEST_HEADERS:X-Probe "@rx never-present" "id:12,phase:1,pass,nolog"
SecRule REQUEST_URI "@beginsWith /ctl" "id:13,phase:1,pass,nolog,ctl:ruleRemoveTargetById=31;ARGS:skipme"
SecRule ARGS "@rx attack" "id:30,phase:3,pass,log,t:none,t:lowercase,msg:'phase 3 saw it'"
SecRule ARGS "@pm attack" "id:31,phase:4,pass,log,t:none,t:lowercase,msg:'phase 4 saw it'"
SecRule REQUEST_HEADERS:X-Probe "@streq yes" "id:32,phase:3,pass,log,msg:'header in phase 3'"
`);
  const tx = run(w, { uri: '/?a=ATTACK&b=x', headers: [['Host', 'example.com'], ['X-Probe', 'yes']] });
  assert.deepEqual(ids(tx), [30, 32, 31]);
  assert.equal(tx.matchedRules[0].matchedVar, 'ARGS:a');
  assert.equal(tx.matchedRules[0].matchedValue, 'attack');
  // the ctl from phase 1 still narrows the phase 4 rule's targets once the caches are gone
  assert.deepEqual(ids(run(w, { uri: '/ctl?skipme=attack' })), [30]);
  assert.deepEqual(ids(run(w, { uri: '/ctl?other=attack' })), [30, 31]);
});

test('request data a response-phase rule names only by macro is kept for it after phase 2', () => {
  // request collections no rule of phases 3-5 reads are dropped after phase 2; a macro in a late
  // rule's operand, logdata or setvar counts as a read, so these still see the request's values
  const w = waf(`
SecRule RESPONSE_STATUS "@streq %{ARGS.code}" "id:40,phase:3,pass,log,logdata:'host %{REQUEST_HEADERS.host}',setvar:'tx.cookie=%{REQUEST_COOKIES.sid}'"
SecRule TX:cookie "@streq abc" "id:41,phase:4,pass,log"
SecRule REQUEST_BODY "@rx ." "id:42,phase:2,pass,nolog"
`);
  const tx = run(w, { uri: '/?code=200', headers: [['Host', 'example.com'], ['Cookie', 'sid=abc']], body: 'x=1' });
  assert.deepEqual(ids(tx), [40, 41]);
  assert.equal(tx.matchedRules[0].logdata, 'host example.com');
});

test('arguments past the limit are not inspected, so a request with more is refused (400, rule 200002), from the query string too', () => {
  const w = compileWaf({ limits: { argumentsLimit: 3 }, directives: 'SecRule ARGS "@contains <script>" "id:1,phase:2,deny,status:403"' }, li);
  const q = run(w, { uri: '/?a=1&b=2&c=3&q=<script>' });
  assert.deepEqual(ids(q), [200002]);
  assert.equal(q.interruption?.status, 400);
  assert.match(q.matchedRules[0].logdata, /argument limit 3 exceeded in the query string/);
  assert.deepEqual(ids(run(w, { uri: '/?a=1&b=2&q=<script>' })), [1]);
  const f = run(w, { method: 'POST', headers: [['Content-Type', 'application/x-www-form-urlencoded']], body: 'a=1&b=2&c=3&q=<script>' });
  assert.equal(f.interruption?.status, 400);
});

test('/^literal/ keys: case-insensitive prefix, and a line break in the key lets ^ match after it (multiline, as ModSecurity)', () => {
  const w = waf(`
SecAction "id:1,phase:1,pass,nolog,setvar:tx.pre_a=1,setvar:tx.PRE_b=2,setvar:tx.xpre_c=3"
SecRule &TX:/^pre_/ "@eq 2" "id:2,phase:1,pass,log"
SecRule TX:/^PRE_/ "@eq 2" "id:3,phase:1,pass,log"
SecRule ARGS_NAMES:/^id/ "@rx ." "id:4,phase:2,pass,log"
SecRule &ARGS:/^id/ "@eq 3" "id:5,phase:2,pass,log"
`);
  const tx = run(w, { uri: '/?ID2=a&x%0Aid=b&idx=c&pid=d' });
  assert.deepEqual(ids(tx), [2, 3, 4, 5]);
  const m4 = tx.matchedRules.find((r) => r.id === 4)!;
  assert.equal(m4.matchedVar, 'ARGS_NAMES:idx'); // the last of the three names that match
  assert.deepEqual(ids(run(w, { uri: '/?pid=d' })), [2, 3]);
});
