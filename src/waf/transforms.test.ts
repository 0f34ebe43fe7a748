import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TRANSFORMS as T, triggerBytes } from './transforms.ts';

const b = (s: string) => Buffer.from(s, 'utf8').toString('latin1');

test('url decoding', () => {
  assert.equal(T.urldecode('a%20b+c%2'), 'a b c%2');
  assert.equal(T.urldecodeuni('%u0041%uff1c%3cscript%3E+x%zz'), 'A<<script> x%zz');
  assert.equal(T.urldecodeuni('%C3%A9'), '\xc3\xa9');
});

test('html entities, js and css escapes', () => {
  assert.equal(T.htmlentitydecode('&lt;a&#x3e;&#62&quot;&nbsp;&amp;&bogus;'), '<a>>"\xa0&&bogus;');
  assert.equal(T.jsdecode('\\x3cscript\\u003e\\101\\n\\q'), '<script>A\nq');
  assert.equal(T.cssdecode('\\3c script\\3E\\\n\\u'), '<script>u');
  assert.equal(T.cssdecode('\\ff1c'), '<');
  assert.equal(T.escapeseqdecode('a\\x41\\101\\n\\z'), 'aAA\n\\z');
});

test('cmdLine, whitespace, nulls, comments', () => {
  assert.equal(T.cmdline('C:\\WINDOWS\\"s"y^s\'t,e;m32 /c  (X)'), 'c:windowssyst e m32/c(x)');
  assert.equal(T.compresswhitespace('a \t\n b\xa0c'), 'a b c');
  assert.equal(T.removewhitespace(' a b\tc '), 'abc');
  assert.equal(T.removenulls('a\0b'), 'ab');
  assert.equal(T.replacecomments('SEL/* x */ECT /* open'), 'SEL ECT  ');
  assert.equal(T.removecommentschar('a/*b*/c--d#e'), 'abcde');
  assert.equal(T.removecomments('a/*x*/b<!--y-->c-- rest'), 'abc');
});

test('case, paths, encodings, hashes, length', () => {
  assert.equal(T.lowercase('ABC\xc9d'), 'abc\xc9d'); // ASCII only, bytes >= 0x80 untouched
  assert.equal(T.normalizepath('/a/./b/../../c//d/'), '/c/d/');
  assert.equal(T.normalizepathwin('\\a\\..\\..\\windows\\win.ini'), '/windows/win.ini');
  assert.equal(T.base64decode('PHNjcmlwdD4=x'), '<script>');
  assert.equal(T.base64decodeext('PHN.jcm!lwdD4'), '<script>');
  assert.equal(T.hexdecode('3c7363'), '<sc');
  assert.equal(T.hexencode('<a'), '3c61');
  assert.equal(T.utf8tounicode(b('é<')), '%u00e9<');
  assert.equal(T.sha1('abc'), Buffer.from('a9993e364706816aba3e25717850c26c9cd0d89d', 'hex').toString('latin1'));
  assert.equal(T.length(b('é')), '2');
  assert.equal(T.trim(' \t x \n'), 'x');
});

test('jsDecode and escapeSeqDecode: hex, octal and C escapes; what each does with an unknown escape', async () => {
  const { jsDecode, escapeSeqDecode } = await import('./transforms.ts');
  assert.equal(jsDecode('\\x41\\101\\u0042\\uff01\\n\\q\\'), 'AAB!\nq\\');
  assert.equal(jsDecode('no escapes'), 'no escapes');
  assert.equal(escapeSeqDecode('\\x41\\101\\7\\n\\\\\\?\\\'\\"\\q\\'), 'AA\x07\n\\?\'"\\q\\');
  assert.equal(escapeSeqDecode('\\xZZ'), '\\xZZ');
});

test('trigger bytes: a value without any of them is left unchanged (randomized, fixed seed)', () => {
  let seed = 1;
  const rnd = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed / 0x80000000; };
  for (const name of Object.keys(T)) {
    const trig = triggerBytes(name);
    if (trig === null) continue;
    const allowed: number[] = [];
    for (let c = 0; c < 256; c++) if (!(trig[c >> 5] & (1 << (c & 31)))) allowed.push(c);
    for (let k = 0; k < 3000; k++) {
      let s = '';
      for (let n = Math.floor(rnd() * 12); n > 0; n--) s += String.fromCharCode(allowed[Math.floor(rnd() * allowed.length)]);
      assert.equal(T[name](s), s, `t:${name} changed ${JSON.stringify(s)}`);
    }
  }
  assert.equal(triggerBytes('base64decode'), null); // always runs
});
