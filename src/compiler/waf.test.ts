// WafPolicy -> compiled WAF: the policy fields that reach the engine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WafCache } from './waf.ts';
import type { WafPolicyT } from '../config/schema.ts';

const spec = (more: Partial<WafPolicyT['spec']> = {}): WafPolicyT['spec'] => ({
  targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'g' }],
  ruleSet: { directives: 'SecRuleEngine On\nSecRule ARGS "@rx evil" "id:1,phase:2,deny,status:403"' },
  ...more,
});

test('rememberVerdicts: on by default, off when the policy says false (a separate compiled WAF)', () => {
  const cache = new WafCache();
  const verdictsOf = (s: WafPolicyT['spec']) => {
    const r = cache.load('default/p', s, process.cwd());
    assert.ok(r.ok, JSON.stringify(r));
    // white-box: the transaction's store (null when the policy turns it off)
    return (r.value.waf.newTransaction() as unknown as { verdicts: unknown }).verdicts;
  };
  assert.notEqual(verdictsOf(spec()), null);
  assert.notEqual(verdictsOf(spec({ rememberVerdicts: true })), null);
  assert.equal(verdictsOf(spec({ rememberVerdicts: false })), null);
});
