import { test } from 'node:test';
import assert from 'node:assert/strict';
import { endOfTurn, inTurn } from './turns.ts';

test('inTurn: the first stages of a turn\'s jobs run together at the end of the turn, in order, then the second stages, in order', async () => {
  const seen: string[] = [];
  for (const name of ['a', 'b', 'c']) {
    inTurn(() => { seen.push(`1${name}`); return name === 'b' ? undefined : () => { seen.push(`2${name}`); }; });
  }
  assert.equal(seen.length, 0, 'nothing runs before the end of the turn');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(seen, ['1a', '1b', '1c', '2a', '2c']);
  // a later turn is a new batch
  inTurn(() => { seen.push('1d'); return undefined; });
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(seen.slice(5), ['1d']);
});

test('endOfTurn: the waiters of one turn go on together, in the order they came, after the turn\'s other callbacks', async () => {
  const seen: string[] = [];
  const waits = ['x', 'y', 'z'].map((n) => endOfTurn().then(() => { seen.push(n); }));
  await Promise.resolve();
  seen.push('same turn');
  await Promise.all(waits);
  assert.deepEqual(seen, ['same turn', 'x', 'y', 'z']);
});
