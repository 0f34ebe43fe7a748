import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSecLang, parseActions, parseVariables } from './parser.ts';
import { WafParseError } from './errors.ts';
import { compileWaf } from './index.ts';

test('directives: comments, continuations and quoting', () => {
  const ds = parseSecLang([
    '# a comment',
    'SecRuleEngine On',
    '',
    'SecRule ARGS|!ARGS:foo "@rx a\\"b" \\',
    '    "id:1,\\',
    '    phase:2,\\',
    "    msg:'hello, world'\"",
    'SecMarker "END-X"',
  ].join('\n'), 'x.conf');
  assert.equal(ds.length, 3);
  assert.deepEqual(ds[0], { name: 'SecRuleEngine', args: ['On'], file: 'x.conf', line: 2 });
  assert.equal(ds[1].name, 'SecRule');
  assert.equal(ds[1].line, 4);
  assert.deepEqual(ds[1].args[0], 'ARGS|!ARGS:foo');
  assert.equal(ds[1].args[1], '@rx a"b');
  assert.deepEqual(parseActions(ds[1].args[2], 'x.conf', 4), [['id', '1'], ['phase', '2'], ['msg', 'hello, world']]);
  assert.deepEqual(ds[2].args, ['END-X']);
});

test('actions keep quoted commas and ctl values', () => {
  const a = parseActions("id:5,setvar:'tx.a=+%{tx.b}',ctl:ruleRemoveTargetByTag=xss;REQUEST_FILENAME,t:none,t:lowercase,nolog", 'f', 1);
  assert.deepEqual(a, [['id', '5'], ['setvar', 'tx.a=+%{tx.b}'], ['ctl', 'ruleRemoveTargetByTag=xss;REQUEST_FILENAME'], ['t', 'none'], ['t', 'lowercase'], ['nolog', undefined]]);
});

test('variables: negation, counting, regex keys with |, XML paths', () => {
  const v = parseVariables('REQUEST_COOKIES|!REQUEST_COOKIES:/^(?:a|b)$/|&ARGS|ARGS:foo|XML:/*|XML://@*|TX:/^x_/', 'f', 1);
  assert.deepEqual(v.map((x) => [x.collection, x.negated, x.count, x.key, x.keyRegex]), [
    ['REQUEST_COOKIES', false, false, undefined, undefined],
    ['REQUEST_COOKIES', true, false, undefined, '^(?:a|b)$'],
    ['ARGS', false, true, undefined, undefined],
    ['ARGS', false, false, 'foo', undefined],
    ['XML', false, false, '/*', undefined],
    ['XML', false, false, '//@*', undefined],
    ['TX', false, false, undefined, '^x_'],
  ]);
});

test('parse errors carry file:line and the PCS_ERR_WAF_PARSE code', () => {
  const cases: Array<[string, RegExp]> = [
    ['SecRule ARGS "@rx a" "id:1,phase:2,pass', /unterminated double-quoted/],
    ['SecRule ARGS "@rx a" "phase:2,pass"', /rule has no id/],
    ['SecRule ARGS "@rx a" "id:1,phase:2,bogus"', /unknown action 'bogus'/],
    ['SecRule ARGS "@rx a" "id:1,t:nosuch"', /unknown transformation t:nosuch/],
    ['SecRule ARGS "@rx a" "id:1,chain"', /ends with 'chain'/],
    ['SecRule ARGS "@rx a" "id:1"\nSecRule ARGS "@rx b" "id:1"', /duplicate rule id 1/],
    ['Frobnicate yes', /unknown directive 'Frobnicate'/],
    ['SecRuleEngine Maybe', /bad engine mode/],
    ['SecRule ARGS "@rx a" "id:1,ctl:noSuchCtl=1"', /unsupported ctl/],
  ];
  for (const [text, re] of cases) {
    assert.throws(() => compileWaf({ directives: text, recommendedBodyProcessors: false }, null), (e: unknown) => {
      assert.ok(e instanceof WafParseError, `expected WafParseError for ${text}`);
      assert.equal(e.code, 'PCS_ERR_WAF_PARSE');
      assert.match(e.message, /^<directives>:\d+: /);
      assert.match(e.message, re);
      return true;
    });
  }
});

test('a bad regex is a compile error naming file, line and rule', () => {
  assert.throws(() => compileWaf({ directives: '\n\nSecRule ARGS "@rx (unclosed" "id:77,pass"', recommendedBodyProcessors: false }, null),
    (e: unknown) => (e as { code: string }).code === 'PCS_ERR_WAF_COMPILE' && /<directives>:3: rule 77: cannot compile @rx/.test((e as Error).message));
});
