import type { IgnoreRule } from '../../src/domain/audit-ignores.ts';
import { type OpenStore, T0, storeTest } from './builders.ts';

const rule = (id: string, extra: Partial<IgnoreRule> = {}): IgnoreRule => ({
  id, advisory: 'GHSA-aaaa-bbbb-cccc', reason: `accepted ${id}`, userId: 'owner', createdAt: T0, expiresAt: T0 + 86_400_000, ...extra,
});

/** Ignore rules of the audit: stored once per id, found, listed oldest first, removed. */
export function auditIgnoreContract(name: string, open: OpenStore): void {
  storeTest(name, open, 'an ignore rule is stored whole, found by id, listed oldest first and removed once', async (t, store) => {
    await store.saveIgnoreRule(rule('r2', { createdAt: T0 + 10, processor: 'alpha', package: 'NumPy' }));
    await store.saveIgnoreRule(rule('r1'));
    await store.saveIgnoreRule(rule('r3', { createdAt: T0 + 10 }));
    t.deepEqual(await store.findIgnoreRule('r2'), rule('r2', { createdAt: T0 + 10, processor: 'alpha', package: 'NumPy' }));
    t.is(await store.findIgnoreRule('nope'), undefined);
    t.deepEqual((await store.listIgnoreRules()).map((r) => r.id), ['r1', 'r2', 'r3']);
    await t.throwsAsync(store.saveIgnoreRule(rule('r1', { reason: 'again' })), { any: true }, 'an id is never given twice');
    t.true(await store.removeIgnoreRule('r2'));
    t.false(await store.removeIgnoreRule('r2'), 'a second removal finds nothing');
    t.deepEqual((await store.listIgnoreRules()).map((r) => [r.id, r.reason]), [['r1', 'accepted r1'], ['r3', 'accepted r3']]);
  });
}
