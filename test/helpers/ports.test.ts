// freePort: ports for listeners a test configures and a child process binds later.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { freePort } from './ports.ts';

test('freePort never hands out the same port twice in a process (a harness draws many before binding any)', async () => {
  // 2,000 draws from a range of ~10,000 ports: without the check, repeats are certain
  const ports: number[] = [];
  for (let i = 0; i < 2000; i++) ports.push(await freePort());
  assert.equal(new Set(ports).size, ports.length);
});

test('two processes drawing at once never get the same port (test files run two at a time)', async () => {
  // 1,000 draws each from ~10,000 ports: without the reservations they would share ~100. Each
  // child holds its ports (as a test file holds them while its gateways run) until both are done:
  // a process's reservations end with it.
  const children = [0, 1].map(() => spawn(process.execPath, ['--input-type=module', '-e',
    `const { freePort } = await import(${JSON.stringify(new URL('./ports.ts', import.meta.url).href)}); const p = []; for (let i = 0; i < 1000; i++) p.push(await freePort()); console.log(JSON.stringify(p)); process.stdin.resume(); process.stdin.on('end', () => process.exit(0));`,
  ], { stdio: ['pipe', 'pipe', 'inherit'] }));
  const exited = children.map((c) => new Promise<number | null>((resolve) => c.on('close', resolve)));
  try {
    const [a, b] = await Promise.all(children.map((c) => new Promise<number[]>((resolve, reject) => {
      let out = '';
      c.stdout!.on('data', (d) => { out += d; if (out.includes('\n')) resolve(JSON.parse(out) as number[]); });
      c.on('error', reject).on('close', (code) => reject(new Error(`exit ${code} before its ports were listed`)));
    })));
    assert.equal(a.length, 1000);
    assert.equal(b.length, 1000);
    const inA = new Set(a);
    assert.deepEqual(b.filter((p) => inA.has(p)), [], 'no port handed to both');
  } finally {
    for (const c of children) c.stdin!.end();
    assert.deepEqual(await Promise.all(exited), [0, 0]);
  }
});
