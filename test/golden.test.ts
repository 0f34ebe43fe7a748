// Golden tests (Envoy Gateway's habit): config in, status conditions + compiled route order +
// diagnostics out, as files under test/golden/<case>/. Run with UPDATE_GOLDEN=1 to rewrite them
// after an intended change, then review the diff.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { buildConfig, compileRuntime, describeRoutes } from '../src/compiler/compile.ts';
import { formatDiagnostic } from '../src/config/diagnostics.ts';
import { ROOT } from './helpers/cli.ts';

const dir = path.join(ROOT, 'test', 'golden');
for (const name of fs.readdirSync(dir).sort()) {
  test(`golden: ${name}`, () => {
    const input = path.relative(ROOT, path.join(dir, name, 'input.yaml'));
    const cwd = process.cwd();
    process.chdir(ROOT);
    let r;
    try { r = buildConfig(input); } finally { process.chdir(cwd); }
    // Compile what a controller would serve, even when parts are invalid (--allow-partial).
    const rt = r.runtime ?? compileRuntime(r.ir!, r.status, r.resources, [], []);
    const outputs: Record<string, string> = {
      'status.json': JSON.stringify(r.status, null, 2) + '\n',
      'routes.json': JSON.stringify(describeRoutes(rt), null, 2) + '\n',
      'diagnostics.txt': r.diagnostics.map(formatDiagnostic).join('\n') + '\n',
    };
    for (const [file, actual] of Object.entries(outputs)) {
      const p = path.join(dir, name, file);
      if (process.env.UPDATE_GOLDEN === '1' || !fs.existsSync(p)) fs.writeFileSync(p, actual);
      assert.equal(actual, fs.readFileSync(p, 'utf8'), `${name}/${file} differs (UPDATE_GOLDEN=1 to accept)`);
    }
  });
}
