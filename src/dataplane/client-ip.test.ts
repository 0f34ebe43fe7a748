import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BlockList } from 'node:net';
import { resolveClientIp, setForwardingHeaders } from './client-ip.ts';

const trusted = new BlockList();
trusted.addSubnet('10.0.0.0', 8, 'ipv4');
trusted.addSubnet('fd00::', 8, 'ipv6');
const client = { trusted, forwarded: true, xfcc: 'Sanitize' as const };

test('an untrusted peer is the client, whatever it claims', () => {
  assert.equal(resolveClientIp('203.0.113.9', { 'x-forwarded-for': '1.2.3.4' }, client), '203.0.113.9');
  assert.equal(resolveClientIp('203.0.113.9', { 'x-forwarded-for': '1.2.3.4' }, undefined), '203.0.113.9');
  const out: Record<string, string | string[] | undefined> = { forwarded: 'for=1.2.3.4' };
  setForwardingHeaders(out, '203.0.113.9', '203.0.113.9', 'app.example', { 'x-forwarded-for': '1.2.3.4', 'x-forwarded-proto': 'https', forwarded: 'for=1.2.3.4' }, client);
  assert.equal(out['x-forwarded-for'], '203.0.113.9');
  assert.equal(out['x-forwarded-proto'], 'http');
  assert.equal(out['x-forwarded-host'], 'app.example');
  assert.equal(out.forwarded, 'for=203.0.113.9;host=app.example;proto=http');
});

test('a trusted peer: the right-most untrusted hop is the client, trusted hops skipped', () => {
  const h = { 'x-forwarded-for': '198.51.100.7, 1.2.3.4, 10.1.1.1', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'public.example', forwarded: 'for=1.2.3.4' };
  assert.equal(resolveClientIp('10.0.0.2', h, client), '1.2.3.4', 'a client-written left part is not believed past the first untrusted hop');
  const out: Record<string, string | string[] | undefined> = {};
  setForwardingHeaders(out, '10.0.0.2', '1.2.3.4', 'app.example', h, client);
  assert.equal(out['x-forwarded-for'], '198.51.100.7, 1.2.3.4, 10.1.1.1, 10.0.0.2');
  assert.equal(out['x-forwarded-proto'], 'https');
  assert.equal(out['x-forwarded-host'], 'public.example');
  assert.equal(out.forwarded, 'for=1.2.3.4, for=10.0.0.2;host=app.example;proto=http');
});

test('all hops trusted: the left-most is the client; garbage stops the walk at the peer', () => {
  assert.equal(resolveClientIp('10.0.0.2', { 'x-forwarded-for': '10.9.9.9, 10.1.1.1' }, client), '10.9.9.9');
  assert.equal(resolveClientIp('10.0.0.2', { 'x-forwarded-for': 'evil, 10.1.1.1' }, client), '10.0.0.2');
  assert.equal(resolveClientIp('fd00::1', { 'x-forwarded-for': '[2001:db8::5]:443' }, client), '2001:db8::5');
});
