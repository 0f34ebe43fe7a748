// Request body processors against what ModSecurity 3.0.9 does with the same bytes (observed with
// bench/waf/differential.ts and nginx + libmodsecurity 3.0.9).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseJson, parseMultipart, parseXml } from './body.ts';
import { compileWaf } from './index.ts';

const latin1 = (b: number[]) => Buffer.from(b).toString('latin1');

test('JSON: every member of repeated keys is an argument, in order (JSON.parse would keep the last one only)', () => {
  const r = parseJson('{"q":"<script>alert(1)</script>","q":"shoes","a":{"q":1,"q":2}}', 512, 1000);
  assert.equal(r.error, null);
  assert.deepEqual(r.args, [['json.q', '<script>alert(1)</script>'], ['json.q', 'shoes'], ['json.a.q', '1'], ['json.a.q', '2']]);

  const w = compileWaf({ directives: 'SecRuleEngine On\nSecRule ARGS "@contains <script>" "id:1,phase:2,deny,status:403"' }, null);
  const tx = w.newTransaction();
  tx.processUri('POST', '/', 'HTTP/1.1');
  tx.addRequestHeader('Content-Type', 'application/json');
  tx.processRequestHeaders();
  tx.appendRequestBody('{"q":"<script>alert(1)</script>","q":"shoes"}');
  assert.equal(tx.processRequestBody()?.ruleId, 1);
});

test('JSON: what yajl refuses is an error (trailing comma, NaN, comments, single quotes, BOM, control bytes, invalid UTF-8, bytes after the value)', () => {
  for (const body of ['{"a":1,}', '{"a":NaN}', '{"a":Infinity}', '{"a":1/*x*/}', "{'a':1}", '\xef\xbb\xbf{}', '{"a":"x\ty"}', '{"a":"\xff"}',
    '{"\xe9":1}', '{"a":1} x', '{"a":1}{"b":2}', '{"a":01}', '{"a":1.}', '{"a":+1}', '{"a":"\\x41"}', '{"a":"\\u41"}', '{"a":True}', '   ', '[1,]']) {
    assert.match(parseJson(body, 512, 1000).error ?? '', /^JSON parsing error/, JSON.stringify(body));
  }
});

test('JSON: values as yajl gives them: numbers as written, bytes kept, \\u escapes as UTF-8, yajl\'s whitespace', () => {
  const r = parseJson('{"n":[1e5,-0.0,12345678901234567890],"t":true,"f":false,"z":null,"e":"caf\\u00e9 \\ud83d\\ude00 \\ud800x \\udc00","b":"\xc0\xae\xc3\xa9"}\v\f', 512, 1000);
  assert.equal(r.error, null);
  assert.deepEqual(r.args, [
    ['json.n.array_0', '1e5'], ['json.n.array_1', '-0.0'], ['json.n.array_2', '12345678901234567890'],
    ['json.t', 'true'], ['json.f', 'false'], ['json.z', ''],
    // é, U+1F600 as 4 bytes, a lone high surrogate as '?', a lone low one as its 3 bytes
    ['json.e', `caf${latin1([0xc3, 0xa9])} ${latin1([0xf0, 0x9f, 0x98, 0x80])} ?x ${latin1([0xed, 0xb0, 0x80])}`],
    // an overlong sequence passes yajl's check and reaches the rules as it came (920250 sees it)
    ['json.b', latin1([0xc0, 0xae, 0xc3, 0xa9])],
  ]);
  assert.deepEqual(parseJson('"top"', 512, 1000).args, [['json', 'top']]);
});

// The names below are libmodsecurity 3.0.9's (Debian libmodsecurity3 3.0.9-1+deb12u2 under nginx
// with libnginx-mod-http-modsecurity), observed by posting each body with Content-Type
// application/json and rules that append every match to a TX variable logged to the JSON audit log:
//   SecRule ARGS "@rx ^(.*)$" "id:10,phase:2,pass,nolog,setvar:'tx.a=%{tx.a}|%{MATCHED_VAR_NAME}~%{MATCHED_VAR}'"
//   (and the same over ARGS_NAMES, ARGS_POST, ARGS_POST_NAMES; then a SecAction logging %{tx.a}).
// ModSecurity lists ARGS in hash order; the expected lists here are in document order. Beyond these
// cases, 1,100 random nested bodies (keys '', 'a.b', 'empty-key', 'array_0', 'é', ...) gave the same
// name/value multisets from parseJson and from ModSecurity.
const MODSEC_JSON_NAMES: Array<[string, Array<[string, string]>]> = [
  // nested objects, arrays, arrays of arrays, arrays of objects, empty ones, a key with a dot, a repeated key
  ['{"a":{"b":"x","c":[1,[2,3],{"d":"e"}],"e":[],"f":{}},"g.h":"i","a":"rep"}', [
    ['json.a.b', 'x'], ['json.a.c.array_0', '1'], ['json.a.c.array_1.array_0', '2'], ['json.a.c.array_1.array_1', '3'],
    ['json.a.c.array_2.d', 'e'], ['json.g.h', 'i'], ['json.a', 'rep'],
  ]],
  ['{"a":[{"b":1},{"c":2}]}', [['json.a.array_0.b', '1'], ['json.a.array_1.c', '2']]],
  // top-level arrays and scalars
  ['[1,2]', [['json.array_0', '1'], ['json.array_1', '2']]],
  ['[{"a":1},[{"b":2}]]', [['json.array_0.a', '1'], ['json.array_1.array_0.b', '2']]],
  ['[[1,[]],{"a":[{"b":[true,null,false]}]}]', [
    ['json.array_0.array_0', '1'], ['json.array_1.a.array_0.b.array_0', 'true'], ['json.array_1.a.array_0.b.array_1', ''],
    ['json.array_1.a.array_0.b.array_2', 'false'],
  ]],
  ['"s"', [['json', 's']]],
  ['5', [['json', '5']]],
  // empty containers give nothing, and count as elements of an array
  ['[]', []],
  ['{}', []],
  ['{"f":[{},1,[],{"g":{"h":[]}},2]}', [['json.f.array_1', '1'], ['json.f.array_4', '2']]],
  // an empty key is "empty-key"; unicode keys as UTF-8 bytes, raw or \u-escaped; other characters as they are
  ['{"":"x","k":{"":{"":"z"}},"":[1]}', [['json.empty-key', 'x'], ['json.k.empty-key.empty-key', 'z'], ['json.empty-key.array_0', '1']]],
  ['{"\u00e9x":"v","é":"u"}', [[latin1([...Buffer.from('json.éx')]), 'v'], [latin1([...Buffer.from('json.é')]), 'u']]],
  ['{"a b":1,"a\\"q":2,"x[y]":3}', [['json.a b', '1'], ['json.a"q', '2'], ['json.x[y]', '3']]],
];

test('JSON: argument names as libmodsecurity 3.0.9 gives them (json.a.array_0, no length argument, empty-key)', () => {
  for (const [body, want] of MODSEC_JSON_NAMES) {
    const r = parseJson(latin1([...Buffer.from(body)]), 512, 1000);
    assert.equal(r.error, null, body);
    assert.deepEqual(r.args, want, body);
  }
});

test('JSON: the arguments are in ARGS and ARGS_NAMES, not in ARGS_POST or ARGS_POST_NAMES; REQUEST_BODY holds the body (as in libmodsecurity 3.0.9)', () => {
  const w = compileWaf({
    directives: `SecRuleEngine On
SecRule ARGS:json.items.array_0.note "@streq hi" "id:1,phase:2,pass,log"
SecRule ARGS_NAMES "@streq json.items.array_0.note" "id:2,phase:2,pass,log"
SecRule ARGS_POST "@rx ." "id:3,phase:2,pass,log"
SecRule ARGS_POST_NAMES "@rx ." "id:4,phase:2,pass,log"
SecRule &ARGS "@eq 2" "id:5,phase:2,pass,log"
SecRule ARGS:json.items "@rx ." "id:6,phase:2,pass,log"
SecRule ARGS_COMBINED_SIZE "@eq 27" "id:7,phase:2,pass,log"
SecRule ARGS_GET:q "@streq 1" "id:8,phase:2,pass,log"
SecRule REQUEST_BODY "@rx ^[{].items.:[[][{].note.:.hi.[}][]][}]$" "id:9,phase:2,pass,log"`,
  }, null);
  const tx = w.newTransaction();
  tx.processUri('POST', '/?q=1', 'HTTP/1.1');
  tx.addRequestHeader('Content-Type', 'application/json');
  tx.processRequestHeaders();
  tx.appendRequestBody('{"items":[{"note":"hi"}]}');
  assert.equal(tx.processRequestBody(), null);
  // ARGS_COMBINED_SIZE counts the JSON arguments: "q" "1" "json.items.array_0.note" "hi" = 1 + 1 + 23 + 2
  // (ModSecurity 3.0.9 gives 27 for this request too)
  // REQUEST_BODY holds the raw JSON body, as in ModSecurity 3.0.9 (CRS 934210 matches JSON keys there)
  assert.deepEqual(tx.matchedRules.map((m) => m.id), [1, 2, 5, 7, 8, 9]);
});

test('JSON: an exclusion ported from ModSecurity (ctl:ruleRemoveTargetById with a json...array_N name) takes effect', () => {
  const w = compileWaf({
    directives: `SecRuleEngine On
SecRule REQUEST_URI "@beginsWith /api/orders" "id:10,phase:1,pass,nolog,ctl:ruleRemoveTargetById=942100;ARGS:json.items.array_0.note"
SecRule ARGS "@contains union select" "id:942100,phase:2,deny,status:403"`,
  }, null);
  const run = (uri: string, body: string) => {
    const tx = w.newTransaction();
    tx.processUri('POST', uri, 'HTTP/1.1');
    tx.addRequestHeader('Content-Type', 'application/json');
    tx.processRequestHeaders();
    tx.appendRequestBody(body);
    return tx.processRequestBody()?.ruleId ?? null;
  };
  assert.equal(run('/api/orders', '{"items":[{"note":"union select"}]}'), null);
  assert.equal(run('/api/orders', '{"items":[{"x":1},{"note":"union select"}]}'), 942100); // array_1: not excluded
  assert.equal(run('/other', '{"items":[{"note":"union select"}]}'), 942100);
});

test('JSON: depth and argument limits still apply', () => {
  assert.match(parseJson('{"a":{"b":{"c":{"d":1}}}}', 3, 1000).error ?? '', /depth limit 3/);
  assert.match(parseJson('[1,2,3,4]', 512, 2).error ?? '', /argument limit 2/);
});

test('XML: well-formed as libxml2 sees it: UTF-8 names and a byte order mark are fine; what it refuses is an error', () => {
  const ok = (b: string) => assert.equal(parseXml(b).error, null, JSON.stringify(b));
  const bad = (b: string) => assert.match(parseXml(b).error ?? '', /^XML parsing error/, JSON.stringify(b));
  ok(latin1([...Buffer.from('<café><名前>x</名前></café>')]));
  ok('\xef\xbb\xbf<r/>');
  ok('<?xml version="1.0" encoding="ISO-8859-1"?><r>caf\xe9</r>');
  ok('<!DOCTYPE r [<!ENTITY e "hi">]><r>&e;</r>');
  ok('<!DOCTYPE note SYSTEM "note.dtd"><note>&nbsp;</note>'); // an external DTD may declare it
  ok('<r a="x>y" b=\'it"s\'>&#x1F600;&lt;&amp;</r>');
  for (const b of ['<r>&nbsp;</r>', '<r>a & b</r>', '<r>a]]>b</r>', '<r a="1" a="2"/>', '<r><!-- a -- b --></r>', ' <?xml version="1.0"?><r/>',
    '<r>&#0;</r>', '<r>a\x01b</r>', '<r>\xff</r>', '<r/>x', '<a/><b/>', '<r a=1/>', '<r><1a/></r>']) bad(b);
  assert.deepEqual(parseXml('<r k="&lt;v&gt;">a&amp;b<![CDATA[<c>]]></r>').xml, { text: 'a&b<c>', attrs: ['<v>'] });
});

test('multipart: what ModSecurity 3.0.9 refuses is an error, what it accepts parses', () => {
  const CT = 'multipart/form-data; boundary=xyz';
  const part = (cd: string, data = 'hello') => `--xyz\r\n${cd}\r\n\r\n${data}\r\n`;
  const ok = (body: string, ct = CT) => { const r = parseMultipart(body, ct, 100); assert.equal(r.error, null, JSON.stringify([ct, body])); return r; };
  const bad = (body: string, ct = CT) => assert.match(parseMultipart(body, ct, 100).error ?? '', /^Multipart: /, JSON.stringify([ct, body]));
  const fine = part('Content-Disposition: form-data; name="a"') + '--xyz--\r\n';
  assert.deepEqual(ok(fine).args, [['a', 'hello']]);
  // Content-Type: other parameters after the boundary are fine, before it or quoted after a quoted boundary they are not
  for (const ct of ['multipart/form-data; boundary=xyz; charset=UTF-8', 'multipart/form-data;boundary=xyz', 'multipart/form-data boundary=xyz', 'Multipart/Form-Data; boundary=xyz']) ok(fine, ct);
  for (const ct of ['multipart/form-data; charset=UTF-8; boundary=xyz', 'multipart/form-data; boundary="xyz"; charset=UTF-8', 'multipart/form-data; Boundary=xyz',
    'multipart/form-data; boundary=xyz; boundary=abc', 'multipart/form-data; boundary = xyz', 'multipart/form-data; boundary=xyz ; x=y', 'multipart/form-data;; boundary=xyz']) bad(fine, ct);
  // the last boundary, and nothing else, closes the body
  bad(part('Content-Disposition: form-data; name="a"'));
  ok(part('Content-Disposition: form-data; name="a"') + '--xyz--');
  for (const last of ['--xyz--  \r\n', '--xyz-- junk\r\n', '--xyz \r\n']) bad(part('Content-Disposition: form-data; name="a"') + last);
  bad(part('Content-Disposition: form-data; name="a"') + '--xyzabc\r\n' + part('Content-Disposition: form-data; name="b"') + '--xyz--\r\n');
  // a part's headers: a form-data Content-Disposition with a name, and name/filename only
  for (const cd of ['Content-Disposition: form-data', 'Content-Type: text/plain', 'Content-Disposition: attachment; name="a"', 'Content-Disposition: Form-Data; name="a"',
    'Content-Disposition: form-data; name="a"; name="b"', 'Content-Disposition: form-data; name="a"; size=3', 'Content-Disposition: form-data; name=""',
    'Content-Disposition: form-data; name="a"x', 'Content-Disposition: form-data; name="f"; filename*=UTF-8\'\'a.txt', 'Content-Disposition form-data; name="a"',
    'Content-Disposition: form-data; name="a"\0']) bad(part(cd) + '--xyz--\r\n');
  for (const cd of ['Content-Disposition: form-data;name=a', 'CONTENT-DISPOSITION: form-data; name="a"', 'Content-Disposition: form-data; name = "a"; filename="b.txt"',
    'Content-Disposition: form-data; name="a"\r\nContent-Type: text/plain\r\nContent-Type: text/html']) ok(part(cd) + '--xyz--\r\n');
  // a boundary right after a part's headers (no data, not even an empty line)
  bad('--xyz\r\nContent-Disposition: form-data; name="a"\r\n\r\n--xyz--\r\n');
  // filename= wins over filename*; an empty filename is a form field
  const f = ok(part('Content-Disposition: form-data; name="f"; filename="a.txt"; filename*=UTF-8\'\'b.txt') + part('Content-Disposition: form-data; name="g"; filename=""', 'x') + '--xyz--\r\n');
  assert.deepEqual(f.files, [{ field: 'f', filename: 'a.txt', size: 5 }]);
  assert.deepEqual(f.args, [['g', 'x']]);
  assert.deepEqual(f.partHeaders, [['f', 'Content-Disposition: form-data; name="f"; filename="a.txt"; filename*=UTF-8\'\'b.txt'], ['g', 'Content-Disposition: form-data; name="g"; filename=""']]);
});

// SecRequestBodyNoFilesLimit as nginx + libmodsecurity 3.0.9 applies it (SecRequestBodyNoFilesLimit
// 100 and 300, SecRequestBodyLimit 1000, rules logging REQBODY_ERROR(_MSG), INBOUND_DATA_ERROR, &ARGS,
// XML:/* and REQUEST_BODY; the multipart sizes found by moving the first size refused one byte at a
// time, and 314 random multipart bodies sized to 300 and 301 counted bytes agreed with ModSecurity).
test('multipart: the bytes held against SecRequestBodyNoFilesLimit are those outside boundaries, files, preamble and epilogue', () => {
  const CT = 'multipart/form-data; boundary=XyZ';
  const count = (b: string) => { const r = parseMultipart(b, CT, 100); assert.equal(r.error, null, b); return r.noFilesLength; };
  const cd = 'Content-Disposition: form-data; name="n"'; // 40 bytes
  // a field: its header line, the empty line, its value without the line ending before the boundary
  assert.equal(count(`--XyZ\r\n${cd}\r\n\r\n${'v'.repeat(256)}\r\n--XyZ--\r\n`), 42 + 2 + 256); // ModSecurity: 300 passes, one more byte is over
  // a file part's headers count, its contents do not
  const file = `--XyZ\r\nContent-Disposition: form-data; name="up"; filename="f.txt"\r\n\r\n${'F'.repeat(500)}\r\n`;
  assert.equal(count(`--XyZ\r\n${cd}\r\n\r\n${'v'.repeat(100)}\r\n${file}--XyZ--\r\n`), 44 + 100 + 61 + 2);
  // line endings inside a value count; LF line endings; preamble and epilogue do not count
  assert.equal(count(`--XyZ\r\n${cd}\r\n\r\nab\r\ncd\r\n--XyZ--\r\n`), 44 + 6);
  assert.equal(count(`--XyZ\n${cd}\n\nabc\n--XyZ--\n`), 41 + 1 + 3);
  assert.equal(count(`${'P'.repeat(250)}\r\n--XyZ\r\n${cd}\r\n\r\nabc\r\n--XyZ--\r\n${'E'.repeat(250)}`), 44 + 3);
  // a file part with an empty filename is a field: its value counts
  assert.equal(count(`--XyZ\r\nContent-Disposition: form-data; name="g"; filename=""\r\n\r\nxyz\r\n--XyZ--\r\n`), 55 + 2 + 3);
});

test('SecRequestBodyNoFilesLimit: over it, REQBODY_ERROR and INBOUND_DATA_ERROR are set, URLENCODED/JSON/XML bodies are not parsed, no interruption by itself', () => {
  const rules = `SecRuleEngine On
SecRequestBodyNoFilesLimit 100
SecRule REQBODY_ERROR "@eq 1" "id:1,phase:2,pass,log,logdata:'%{REQBODY_ERROR_MSG}'"
SecRule INBOUND_DATA_ERROR "@eq 1" "id:2,phase:2,pass,log"
SecRule &ARGS "@gt 0" "id:3,phase:2,pass,log"
SecRule REQUEST_BODY "@rx ." "id:4,phase:2,pass,log"
SecRule XML:/* "@rx x" "id:5,phase:2,pass,log"
SecRule REQBODY_PROCESSOR_ERROR "@eq 1" "id:6,phase:2,pass,log"`;
  const send = (ct: string | null, body: string, more = '', recommended = false) => {
    const w = compileWaf({ directives: rules + more, recommendedBodyProcessors: recommended }, null);
    const tx = w.newTransaction();
    tx.processUri('POST', '/', 'HTTP/1.1');
    if (ct) tx.addRequestHeader('Content-Type', ct);
    tx.processRequestHeaders();
    assert.equal(tx.appendRequestBody(body), null);
    const intr = tx.processRequestBody();
    return { ids: tx.matchedRules.map((m) => m.id), intr, msg: tx.matchedRules.find((m) => m.id === 1)?.logdata };
  };
  const MSG = 'Request body excluding files is bigger than the maximum expected.';
  const form = (n: number) => 'a=' + 'x'.repeat(n - 2);
  // the whole body of a URLENCODED one: 100 bytes pass, 101 do not; arguments are not extracted, REQUEST_BODY is still there
  assert.deepEqual(send('application/x-www-form-urlencoded', form(100)).ids, [3, 4]);
  const over = send('application/x-www-form-urlencoded', form(101));
  assert.deepEqual(over.ids, [1, 2, 4]);
  assert.equal(over.msg, MSG);
  assert.equal(over.intr, null);
  // JSON and XML alike (neither is parsed: no ARGS, no XML, and no parse error of the processor)
  const json = `{"a":"${'x'.repeat(93)}"}`;
  assert.equal(json.length, 101);
  const procs = `
SecRule REQUEST_HEADERS:Content-Type "@rx json" "id:7,phase:1,pass,nolog,ctl:requestBodyProcessor=JSON"
SecRule REQUEST_HEADERS:Content-Type "@rx xml" "id:8,phase:1,pass,nolog,ctl:requestBodyProcessor=XML"`;
  assert.deepEqual(send('application/json', json, procs).ids, [1, 2, 4]);
  assert.deepEqual(send('application/json', json.slice(0, 98) + '"}', procs).ids, [3, 4]);
  const xml = `<a>${'x'.repeat(94)}</a>`;
  assert.deepEqual(send('application/xml', xml, procs).ids, [1, 2]); // no 4: REQUEST_BODY is not kept for XML (see populateBody)
  assert.deepEqual(send('application/xml', xml.slice(0, 90) + '</a>', procs).ids, [5]);
  // a body without a processor is not limited by it
  assert.deepEqual(send('text/plain', form(300)).ids, [4]);
  assert.deepEqual(send(null, form(300)).ids, [4]);
  // ProcessPartial does not change it
  assert.deepEqual(send('application/x-www-form-urlencoded', form(101), '\nSecRequestBodyLimitAction ProcessPartial').ids, [1, 2, 4]);
  // with the recommended rule 200002 the request is refused with 400
  const refused = send('application/x-www-form-urlencoded', form(101), '', true);
  assert.deepEqual(refused.intr, { status: 400, ruleId: 200002, action: 'deny' });
  // SecRequestBodyNoFilesLimit 0: any non-empty body is over it
  assert.deepEqual(send('application/x-www-form-urlencoded', 'a=1', '\nSecRequestBodyNoFilesLimit 0').ids, [1, 2, 4]);
});

test('SecRequestBodyNoFilesLimit on multipart: files do not count, fields do; the body is still parsed; a parse error wins', () => {
  const w = compileWaf({ directives: `SecRuleEngine On
SecRequestBodyNoFilesLimit 300
SecRule REQBODY_ERROR "@eq 1" "id:1,phase:2,pass,log,logdata:'%{REQBODY_ERROR_MSG}'"
SecRule &ARGS "@eq 2" "id:3,phase:2,pass,log"
SecRule &FILES "@eq 1" "id:4,phase:2,pass,log"`, recommendedBodyProcessors: false }, null);
  const send = (body: string) => {
    const tx = w.newTransaction();
    tx.processUri('POST', '/', 'HTTP/1.1');
    tx.addRequestHeader('Content-Type', 'multipart/form-data; boundary=XyZ');
    tx.processRequestHeaders();
    tx.appendRequestBody(body);
    tx.processRequestBody();
    return { ids: tx.matchedRules.map((m) => m.id), msg: tx.matchedRules.find((m) => m.id === 1)?.logdata };
  };
  const field = (name: string, v: string) => `--XyZ\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${v}\r\n`;
  const file = `--XyZ\r\nContent-Disposition: form-data; name="up"; filename="f.txt"\r\n\r\n${'F'.repeat(5000)}\r\n`;
  // 44 + 44 + 2 + 61 + 2 = 153 counted bytes besides the first field's value
  assert.deepEqual(send(field('a', 'v'.repeat(147)) + field('b', 'bb') + file + '--XyZ--\r\n').ids, [3, 4]); // 300
  const over = send(field('a', 'v'.repeat(148)) + field('b', 'bb') + file + '--XyZ--\r\n'); // 301
  assert.deepEqual(over.ids, [1, 3, 4]);
  assert.equal(over.msg, 'Request body excluding files is bigger than the maximum expected.');
  assert.match(send(field('a', 'v'.repeat(400)) + field('b', 'bb')).msg ?? '', /^Multipart: Final boundary missing/);
});
