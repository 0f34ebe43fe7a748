// freePort: ports for listeners a test configures and a child process binds later.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort } from './ports.ts';

test('freePort never hands out the same port twice in a process (a harness draws many before binding any)', async () => {
  // 2,000 draws from a range of ~10,000 ports: without the check, repeats are certain
  const ports: number[] = [];
  for (let i = 0; i < 2000; i++) ports.push(await freePort());
  assert.equal(new Set(ports).size, ports.length);
});
