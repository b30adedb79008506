import test from 'ava';
import type { AdvisoryInfo } from '../../src/domain/advisories.ts';
import { hides, isActive, parseIgnoreRuleDraft, type IgnoreRule } from '../../src/domain/audit-ignores.ts';
import { InvalidInputError } from '../../src/domain/errors.ts';

// The ignore rules' own rules, on an explicit clock (no waiting for time to pass).

const NOW = Date.parse('2026-06-01T12:00:00Z');
const advisory: AdvisoryInfo = { id: 'GHSA-aaaa-bbbb-cccc', aliases: ['CVE-2026-1234', 'PYSEC-2026-9'], summary: 's' };
const rule = (extra: Partial<IgnoreRule> = {}): IgnoreRule => ({
  id: 'r', advisory: 'CVE-2026-1234', reason: 'reviewed', userId: 'u', createdAt: NOW, expiresAt: NOW + 60_000, ...extra,
});

test('a rule hides its advisory by id or any alias, in any case, within its package and processor scope, until it expires', (t) => {
  t.true(hides(rule(), advisory, 'numpy', 'p1', NOW));
  t.true(hides(rule({ advisory: 'ghsa-AAAA-bbbb-cccc' }), advisory, 'numpy', 'p1', NOW));
  t.false(hides(rule({ advisory: 'CVE-2026-9999' }), advisory, 'numpy', 'p1', NOW));
  t.true(hides(rule({ package: 'NumPy' }), advisory, 'numpy', 'p1', NOW), 'PEP 503 spellings are one');
  t.true(hides(rule({ package: 'py_yaml' }), advisory, 'Py.YAML', 'p1', NOW));
  t.false(hides(rule({ package: 'scipy' }), advisory, 'numpy', 'p1', NOW));
  t.true(hides(rule({ processor: 'p1' }), advisory, 'numpy', 'p1', NOW));
  t.false(hides(rule({ processor: 'p2' }), advisory, 'numpy', 'p1', NOW));
  t.true(hides(rule(), advisory, 'numpy', 'p1', NOW + 59_999));
  t.false(hides(rule(), advisory, 'numpy', 'p1', NOW + 60_000), 'at its expiry it hides nothing');
  t.false(isActive(rule(), NOW + 60_000));
});

test('a draft is read from a body on the clock given, and each wrong field is named', (t) => {
  t.deepEqual(parseIgnoreRuleDraft({ advisory: 'CVE-2026-1234', reason: '  reviewed  ', expiresAt: '2026-06-02' }, NOW), {
    advisory: 'CVE-2026-1234', reason: 'reviewed', expiresAt: Date.parse('2026-06-02T00:00:00Z'),
  });
  t.deepEqual(parseIgnoreRuleDraft({ advisory: 'X-1', package: 'numpy', processor: 'p1', reason: 'r', expiresAt: '2026-06-01T14:00:00+02:00' }, NOW - 1), {
    advisory: 'X-1', package: 'numpy', processor: 'p1', reason: 'r', expiresAt: NOW,
  });
  const error = (body: unknown) => t.throws(() => parseIgnoreRuleDraft(body, NOW), { instanceOf: InvalidInputError })!;
  t.regex(error({ advisory: 'X-1', reason: 'r', expiresAt: '2026-06-01T12:00:00Z' }).message, /not in the future/, 'now itself is not ahead');
  t.regex(error({ advisory: 'X-1', reason: 'r', expiresAt: '2029-06-05' }).message, /days ahead/);
  t.regex(error({ advisory: 'X-1', reason: 'r', expiresAt: '2026-06-02', extra: 1, more: 2 }).message, /unknown fields "extra", "more"/);
  t.is(error(null).code, 'INVALID_BODY');
});
