import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { parseFastYaml } from './yaml-fast.ts';
import { parseConfigText } from './load.ts';
import { portcullisConfig } from '../../bench/http/configs.ts';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** What load.ts would get from `yaml`: index and value of every error-free document. */
function viaYaml(text: string): { index: number; value: unknown }[] | 'error' {
  const docs = parseAllDocuments(text, { prettyErrors: false, uniqueKeys: true, strict: true });
  const list = Array.isArray(docs) ? docs : [];
  if (list.some((d) => d.errors.length > 0)) return 'error';
  return list.map((d, index) => ({ index, value: d.toJS({ maxAliasCount: 100 }) }));
}

/** The fast reader either gives up or agrees with `yaml` exactly. Returns whether it took the text. */
function agrees(text: string): boolean {
  const fast = parseFastYaml(text);
  if (fast === undefined) return false;
  const slow = viaYaml(text);
  assert.notEqual(slow, 'error', `the fast reader accepted text yaml rejects:\n${text}`);
  assert.deepStrictEqual(fast.map((d) => ({ index: d.index, value: d.value })), slow, text);
  return true;
}

function yamlFiles(dir: string, out: string[] = []): string[] {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name.startsWith('.')) continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) yamlFiles(p, out);
    else if (/\.ya?ml$/.test(e.name)) out.push(p);
  }
  return out;
}

test('every YAML file in the repository: the fast reader takes it and agrees with yaml, or gives up', () => {
  const files = yamlFiles(REPO);
  assert.ok(files.length > 5);
  let taken = 0;
  for (const f of files) if (agrees(fs.readFileSync(f, 'utf8'))) taken++;
  assert.ok(taken > files.length / 2, `the fast reader took only ${taken} of ${files.length} files`);
});

test('a file with a PEM block scalar: that document is read by yaml, the others by the fast reader', () => {
  const text = 'kind: A\n---\nkind: Secret\nstringData:\n  tls.crt: |\n    -----BEGIN CERTIFICATE-----\n    MIIB\n    -----END CERTIFICATE-----\n---\nkind: B\n';
  assert.ok(agrees(text));
  assert.deepEqual(parseFastYaml(text)?.map((d) => d.viaYaml), [false, true, false]);
});

test('the benchmark configs (1 and 300 routes) are read by the fast reader, identically', () => {
  for (const n of [1, 300]) for (const text of Object.values(portcullisConfig(8080, 9090, n).files)) assert.ok(agrees(text), text.slice(0, 200));
});

test('scalars resolve as in the YAML 1.2 core schema', () => {
  const values = ['~', 'null', 'Null', 'NULL', 'nULL', 'true', 'True', 'TRUE', 'tRUE', 'false', 'no', 'yes', 'on', 'off', 'y', '0', '-0', '+12', '007', '0o17', '0o8', '0x1F', '0X1F', '0xg',
    '1.5', '1.', '.5', '-.5', '1e3', '1E-3', '+1.5e+3', '.inf', '-.Inf', '+.INF', '.nan', '.NaN', 'NaN', 'inf', '12:30', '2026-11-22', '1_000', '0b101', '9007199254740993',
    'a b', 'http://x:80/y', 'a,b', 'a[0]', '-x', 'x-', 'f', 't', 'n', 'abc#def', '^/api/(v1|v2)/.*$', '::1', '::ffff:10.0.0.1', ':x', 'fe80::1'];
  for (const v of values) {
    assert.ok(agrees(`k: ${v}\n`), v);
    assert.ok(agrees(`- ${v}\n`), v);
    if (!/[,[\]{}]/.test(v)) agrees(`k: [${v}]\nm: { x: ${v} }\n`);
  }
});

test('structures: nesting, compact mappings in sequences, sequences at the key indentation, flow collections, comments, documents', () => {
  const texts = [
    'a:\n  b:\n    c: 1\n  d: [x, "y", \'z\']\n',
    'list:\n- a\n- b\nnext: 1\n',
    'list:\n  - name: a\n    port: 1\n  - { name: b, port: 2 }\n  -\n    name: c\n',
    '# head\n---\na: 1 # trailing\n---\n# only a comment\n---\nb: [ ]\nc: { }\n',
    'a: 1\n---\n',
    '---\n---\na: 1\n',
    'a: "quoted \\"x\\" \\u00e9 \\n"\nb: \'it\'\'s\'\nc: "#not a comment"\n"quoted key": 1\n\'k2\': 2\n',
    'a:\nb:\n  -\nc: []\n',
    'spec:\n  rules:\n    - matches: [{ path: { type: PathPrefix, value: /svc1/ } }]\n      backendRefs: [{ group: portcullis.dev, kind: Backend, name: upstream }]\n',
    'a: { b: [1, 2, { c: d }], e: "f, g" }\n',
    'a: b\n\n\n   # indented comment\nc: d\n',
  ];
  for (const t of texts) assert.ok(agrees(t), t);
});

test('anything outside the subset is left to yaml (and yaml errors are never accepted)', () => {
  const texts = [
    'a: &x 1\nb: *x\n', 'a: !!str 1\n', 'a: |\n  text\n', 'a: >\n  text\n', 'a: plain\n  continued\n', 'a: "multi\n  line"\n',
    'a: [1,\n  2]\n', '%YAML 1.2\n---\na: 1\n', 'a: 1\n...\n', '? complex\n: key\n', '1: one\n', 'null: x\n', 'true: x\n',
    'a: 1\na: 2\n', '__proto__: 1\n', 'a:\tb\n', 'a: 1\r\n', 'a: b: c\n', 'a:b\n', '- - a\n', 'a: @x\n', 'a: `x`\n', '--- a: 1\n',
    '  a: 1\n', 'a:\n  b: 1\n c: 2\n', 'a: [b: c]\n', 'a: { b }\n', 'a: { b: }\n', 'a: "x"y\n', 'a: \'x\'#c\n', 'a: {b: 1}x\n', 'a: "\\q"\n',
    'a: 1\n  - b\n', 'a:\n  - b\n  c: 1\n', '- a\nb: 1\n', 'a: {"b":1}\n',
  ];
  for (const t of texts) {
    assert.doesNotThrow(() => agrees(t), t);
  }
  // Valid YAML outside the subset: that document is read by yaml.
  for (const t of ['a: &x 1\nb: *x\n', 'a: |\n  text\n', 'a: plain\n  continued\n', '1: one\n', 'a:\tb\n', '? complex\n: key\n']) {
    const docs = parseFastYaml(`x: 1\n---\n${t}---\ny: 2\n`);
    assert.deepEqual(docs?.map((d) => d.viaYaml), [false, true, false], t);
  }
  // Errors (and directives, CR): the whole file goes to yaml, which reports them.
  for (const t of ['a: 1\na: 2\n', 'a: b: c\n', '  a: 1\n  b: 1\n c: 2\n', 'a: "x"y\n', '%YAML 1.2\n---\na: 1\n', 'a: 1\r\n', '--- a: 1\n']) {
    assert.equal(parseFastYaml(`x: 1\n---\n${t}`), undefined, t);
  }
});

test('a document read by the fast reader reports the same file:line:col for a JSON path as yaml does', () => {
  const text = '# c\n---\nkind: A\nspec:\n  x: 1\n---\nkind: B\nspec:\n  list:\n    - name: a\n    - name: b\n      port: 5\n';
  assert.ok(parseFastYaml(text));
  const slowText = text + '...\n'; // a document end marker: the whole file goes to yaml
  assert.equal(parseFastYaml(slowText), undefined);
  const fast = parseConfigText(text, 'f.yaml');
  const slow = parseConfigText(slowText, 'f.yaml');
  assert.deepEqual(fast.diagnostics, []);
  assert.equal(fast.docs.length, 2);
  assert.deepEqual(fast.docs.map((d) => [d.index, d.value]), slow.docs.map((d) => [d.index, d.value]));
  const paths: [number, (string | number)[], boolean][] = [[0, ['spec', 'x'], false], [0, ['spec', 'x'], true], [1, ['spec', 'list', 1, 'port'], false], [1, ['spec', 'list', 1, 'port'], true], [1, ['spec', 'missing'], false], [1, [], false]];
  for (const [d, p, key] of paths) assert.deepEqual(fast.docs[d].locate(p, key), slow.docs[d].locate(p, key), JSON.stringify(p));
  assert.deepEqual(fast.docs[1].locate(['spec', 'list', 1, 'port']), { line: 12, col: 13 });
});
