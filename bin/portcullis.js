#!/usr/bin/env node
// Portcullis runs its TypeScript source directly (Node's type stripping, Node >= 22.18 / 24 LTS).
// If this Node is older, re-run the same command with the Node 24 that package.json pins
// (node_modules/node), so `npx portcullis` works even where the system Node is older.
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';
import fs from 'node:fs';

const here = path.dirname(fileURLToPath(import.meta.url));
const main = path.join(here, '..', 'src', 'cli', 'main.ts');
const [major, minor] = process.versions.node.split('.').map(Number);
if (major > 22 || (major === 22 && minor >= 18)) {
  const { runCli } = await import(pathToFileURL(main).href);
  runCli(process.argv.slice(2));
} else {
  const pinned = path.join(here, '..', 'node_modules', 'node', 'bin', 'node');
  if (!fs.existsSync(pinned)) {
    console.error(`portcullis needs Node.js 24 (found ${process.versions.node}); run \`npm install\` first.`);
    process.exit(1);
  }
  const r = spawnSync(pinned, [main, ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
