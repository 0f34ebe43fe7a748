import { test } from 'node:test';
import assert from 'node:assert/strict';

import { detectSQLi, sqliFingerprint, sqliTokens, toByteString } from './index.ts';
import { FLAG_QUOTE_NONE, FLAG_QUOTE_SINGLE, FLAG_SQL_ANSI, FLAG_SQL_MYSQL } from './sqli.ts';
import { SQL_KEYWORDS, SQL_KEYWORDS_COUNT } from './sqli-data.ts';


test('keyword/fingerprint table is the libinjection 3.9.2 table', () => {
  assert.equal(SQL_KEYWORDS.length, SQL_KEYWORDS_COUNT);
  assert.equal(SQL_KEYWORDS.length, 9352);
  const words = SQL_KEYWORDS.map((e) => e.slice(1));
  for (let i = 1; i < words.length; i++) assert.ok(words[i - 1]! < words[i]!, `sorted/unique at ${i}`);
  const counts: Record<string, number> = {};
  for (const e of SQL_KEYWORDS) counts[e[0]!] = (counts[e[0]!] ?? 0) + 1;
  assert.equal(counts.F, 8367); // fingerprints
  assert.equal(counts.f, 524); // functions
  assert.equal(counts.k, 208); // keywords
  for (const e of ['UUNION', 'ESELECT', 'fSLEEP', '&OR', '&&&', 'o::', 'kINTO OUTFILE', 'F0X', 'F0S&SOS']) {
    assert.ok(SQL_KEYWORDS.includes(e), e);
  }
});

test('tokenizer: token types and values', () => {
  const cases: Array<[string, Array<[string, string]>]> = [
    ['1.5e3', [['1', '1.5e3']]],
    ['1.e', [['n', '1.e']]], // have_e without exponent: a word
    ['0x1F', [['1', '0x1F']]],
    ['0x', [['n', '0x']]],
    ['.', [['.', '.']]],
    ["'abc''def'", [['s', "abc''def"]]],
    ["'ab\\'c'", [['s', "ab\\'c"]]],
    ["x'4142'", [['1', "x'4142'"]]],
    ["b'0101'", [['1', "b'0101'"]]],
    ["N'abc'", [['s', 'abc']]],
    ['$1,000.00', [['1', '$1,000.00']]],
    ['$$abc$$', [['s', 'abc']]],
    ['$tag$body$tag$', [['s', 'body']]],
    ['@@version', [['v', 'version']]],
    ['@x', [['v', 'x']]],
    ['`select`', [['n', 'select']]],
    ['`sleep`', [['f', 'sleep']]],
    ['/*! 50000 select */', [['X', '/*! 50000 select */']]],
    ['/* a /* b */', [['X', '/* a /* b */']]],
    ['/* c */', [['c', '/* c */']]],
    ['-- comment', [['c', '-- comment']]],
    ['--x', [['c', '--x']]], // ANSI: --[not white] is a comment
    ['#foo', [['o', '#'], ['n', 'foo']]], // ANSI: '#' is an operator
    ['\\N', [['1', '\\N']]],
    ['[foo bar]', [['n', '[foo bar]']]],
    ['a <=> b', [['n', 'a'], ['o', '<=>'], ['n', 'b']]],
    ['a||b', [['n', 'a'], ['&', '||'], ['n', 'b']]],
    ['x::int', [['n', 'x'], ['o', '::'], ['t', 'int']]],
    ['SELECT.1', [['E', 'SELECT'], ['1', '.1']]],
    ['a.b', [['n', 'a.b']]],
    ['union all', [['U', 'union'], ['n', 'all']]], // ALL alone is not in the table
    ["U&'x'", [['s', 'x']]],
    ["q'[abc]'", [['s', 'abc']]],
    ['1fUNION', [['1', '1f'], ['U', 'UNION']]],
    ['a\xa0b', [['n', 'a'], ['n', 'b']]], // 0xA0 is white space
  ];
  for (const [input, want] of cases) {
    assert.deepEqual(sqliTokens(input), want, JSON.stringify(input));
  }
  // MySQL mode: '#' starts a comment
  assert.deepEqual(sqliTokens('#foo', FLAG_QUOTE_NONE | FLAG_SQL_MYSQL), [['c', '#foo']]);
  // quote context: the input starts inside a string
  assert.deepEqual(sqliTokens("1' or 1=1", FLAG_QUOTE_SINGLE | FLAG_SQL_ANSI),
    [['s', '1'], ['&', 'or'], ['1', '1'], ['o', '='], ['1', '1']]);
  // token values are capped at 31 bytes like C's val[32]
  const long = 'a'.repeat(40);
  assert.equal(sqliTokens(long)[0]![1].length, 31);
});

test('fingerprints and folding', () => {
  const cases: Array<[string, string]> = [
    ['1 UNION SELECT 1,2,3--', '1UE1c'], // 1,2,3 folds to 1
    ['SELECT * FROM users WHERE id = 1', 'Eoknk'],
    ['1 and sleep(5)', '1&f(1'],
    ['1+1', '1'],
    ['-1', '1'], // leading unary operator skipped
    ['((1))', '1)'], // leading parens skipped, '))' folded
    ['1 /* /* */ */ 2', 'X'], // nested comment: evil
    ['{``.``.id} UNION SELECT 1', 'X'], // MySQL '{ ``' degenerate case: evil
    ['foo.bar', 'n'], // n.n folds
    ['1 IN (1)', '1'], // IN ( is an operator, then the 5-token '1o(1)' special case folds to 1
    ['1 IN (1', '1o(1'],
    ['x collate utf8_bin', 'nAt'],
  ];
  for (const [input, want] of cases) assert.equal(sqliFingerprint(input), want, input);
});

test('detectSQLi: known SQLi with libinjection fingerprints', () => {
  const cases: Array<[string, string]> = [
    ["1' OR '1'='1", 's&sos'],
    ["-1839' or '1'='1", 's&sos'],
    ["admin'--", 'sc'],
    ["' or 1=1#", 's&1c'], // via the MySQL re-parse ('#' comment)
    ['1; DROP TABLE users', '1;Tnn'],
    ['1 UNION SELECT 1,2,3--', '1UE1c'],
    ["-1' and 1=1 union/* foo */select load_file('/etc/passwd')--", 's&1UE'],
    ['1234 OR 1=1', '1&1'],
    ["foo') UNION ALL select NULL --", 's)UEv'],
    ["foo')waitfor delay'5:0:20'--", 's)Esc'],
    ['sleep(20)', 'f(1)'],
    ["x' AND 1=CONVERT(int,@@version)--", 's&1of'],
    ['1 -- sp_password', '1c'],
    ['1 /*comment*/', '1c'],
    ["Q'<hello>'", 'sos'],
  ];
  for (const [input, fp] of cases) {
    assert.deepEqual(detectSQLi(input), { isSqli: true, fingerprint: fp }, input);
  }
});

test('detectSQLi: whitelist heuristics (libinjection_sqli_not_whitelist)', () => {
  // "1 union" alone is not SQLi, with more tokens it is
  assert.equal(detectSQLi('1 UNION').isSqli, false);
  assert.equal(detectSQLi('1 /* junk */ UNION').isSqli, true);
  // 'sexy and 17' is not SQLi, 'sexy and 17<18' is
  assert.equal(detectSQLi('sexy and 17').isSqli, false);
  assert.deepEqual(detectSQLi('sexy and 17<18'), { isSqli: true, fingerprint: 'n&1' });
  // '#' comment after a word is ignored
  assert.equal(detectSQLi('1# blah blah').isSqli, false);
  // bareword + '--' comment is not SQLi, bareword + /* is
  assert.equal(detectSQLi('foo --').isSqli, false);
  // only INTO OUTFILE/DUMPFILE keywords count in 3-token fingerprints
  assert.equal(detectSQLi("1 into outfile 'asd'").isSqli, true);
  // 'foo' "bar" strings without quote context
  assert.equal(detectSQLi('foo "bar"').isSqli, false);
});

test('detectSQLi: benign inputs are not SQLi', () => {
  const benign = [
    'hello', 'hello world', 'The quick brown fox jumps over the lazy dog.',
    "O'Reilly", "Tim O'Reilly's book", "It's a nice day, isn't it?", "Don't stop believin'",
    'john.doe@example.com', 'jane+tag@sub.example.co.uk',
    '{"name":"Alice","age":30,"tags":["a","b"]}', '[1,2,3]', '{"q":"select a product","order":"by price"}',
    '12345', '3.14159', '-42', '1e10', '2024-01-15', '2024-01-15T10:30:00Z',
    '550e8400-e29b-41d4-a716-446655440000', 'SGVsbG8gV29ybGQ=', '+1 (555) 123-4567',
    'https://example.com/path?x=1&y=2', '/api/v1/users/42',
    'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36',
    'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', 'en-US,en;q=0.5',
    'Select your size', 'Union Station', 'drop me a line', 'I like apples and oranges',
    'Fish & Chips', 'R&D department', 'C:\\Users\\alice', '#hashtag', '100%',
    'naïve café', '日本語のテキスト', 'session=abc123; theme=dark', 'true', 'null', '',
  ];
  for (const b of benign) assert.deepEqual(detectSQLi(b), { isSqli: false, fingerprint: '' }, b);
});

test('byte mapping: latin1 strings as bytes, others as UTF-8', () => {
  assert.equal(toByteString('abc'), 'abc');
  assert.equal(toByteString('caf\u00e9'), 'caf\u00e9');
  assert.equal(toByteString('\u65e5'), '\u00e6\u0097\u00a5');
  // a UTF-8 encoded attack still detected
  assert.equal(detectSQLi("\u65e5' OR '1'='1").isSqli, true);
});



test('long and odd inputs do not throw', () => {
  const inputs = [
    "'".repeat(10000), '/*'.repeat(5000), '`'.repeat(1000), '$$'.repeat(1000), '\0'.repeat(100),
    'a'.repeat(100000), '1,'.repeat(20000), "q'", 'U&', 'x\'', '@', '@@', '$', '\\', '[', '--', '#',
    '\ud800', '\uffff'.repeat(10),
  ];
  for (const s of inputs) {
    const r = detectSQLi(s);
    assert.equal(typeof r.isSqli, 'boolean');
    assert.equal(typeof r.fingerprint, 'string');
  }
});

test('C quirks found by differential testing against libmodsecurity.so.3', () => {
  // `char ch <= 32` is signed in C: a high byte after the number counts as white space
  assert.deepEqual(detectSQLi("x'41'\xa0 --x@@versionIF "), { isSqli: true, fingerprint: '1c' });
  assert.deepEqual(detectSQLi('1\xe9--'), { isSqli: false, fingerprint: '' });
  // pgsql $tag$...$tag$ strings close at the second tag
  assert.equal(sqliFingerprint('1 * $a$x$a$1--'), '1os1c');
  // an unterminated /* comment is never 'evil' for nesting (C's NULL pointer arithmetic)
  assert.equal(sqliFingerprint('/* /* x'), '');
  assert.deepEqual(detectSQLi('1 /* /* x'), { isSqli: true, fingerprint: '1c' });
  assert.deepEqual(detectSQLi('/*! x'), { isSqli: true, fingerprint: 'X' });
});
