import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TICKET_KEY_BYTES, TicketKeyError, TicketKeyRotation, checkRotationPeriod, checkTicketKeys } from './ticket-keys.ts';

test('a rotation makes new random keys of the right size and tells the listener', async () => {
  const r = new TicketKeyRotation(1000);
  const first = r.current;
  assert.equal(first.length, TICKET_KEY_BYTES);
  const seen: Buffer[] = [];
  r.start((k) => seen.push(k));
  await new Promise((res) => setTimeout(res, 1150));
  r.stop();
  assert.equal(seen.length, 1);
  assert.notDeepEqual(seen[0], first);
  assert.equal(r.current, seen[0]);
  assert.notDeepEqual(r.rotate(), seen[0]);
});

test('bad keys and periods are refused', () => {
  assert.throws(() => checkTicketKeys(Buffer.alloc(32)), TicketKeyError);
  assert.throws(() => checkRotationPeriod(10), /between 1s and 168h/);
  assert.throws(() => checkRotationPeriod(8 * 24 * 3600_000), TicketKeyError);
  assert.equal(checkRotationPeriod(60_000), 60_000);
  assert.throws(() => new TicketKeyRotation(1000, Buffer.alloc(47)), TicketKeyError);
});
