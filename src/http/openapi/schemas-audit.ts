import { ref, type Schema } from './spec-types.ts';

/** The vulnerability audit's schemas (README "Vulnerability audit"); spread into the document's component schemas. */

const text = (description: string): Schema => ({ type: 'string', description });
const ms = (description: string): Schema => ({ type: 'integer', minimum: 0, description: `${description} (ms since the epoch)` });
const count = (description: string): Schema => ({ type: 'integer', minimum: 0, description });
const object = (properties: Record<string, Schema>, required: string[], description?: string): Schema => ({
  type: 'object', ...(description ? { description } : {}), required, properties,
});

const IGNORE_RULE: Record<string, Schema> = {
  id: text('the rule\'s id (DELETE /audit/ignores/{id})'),
  advisory: text('the advisory id or alias it hides'),
  package: text('only on this package (PEP 503 spellings are one)'),
  processor: text('only on this processor'),
  reason: text('why'),
  userId: text('who made it'),
  createdAt: ms('when'),
  expiresAt: ms('it hides nothing from then on'),
};
const IGNORE_RULE_REQUIRED = ['id', 'advisory', 'reason', 'userId', 'createdAt', 'expiresAt'];

export const auditSchemas: Record<string, Schema> = {
  AdvisoryDatabase: {
    description: 'The advisory database the audit reads (config `advisories`).',
    oneOf: [
      object({ configured: { const: false } }, ['configured'], 'No database is configured: audits answer no findings.'),
      object({
        configured: { const: true },
        source: { enum: ['folder', 'zip'] },
        name: text('the folder or zip\'s own name'),
        loading: { type: 'boolean', description: 'true until the first load has ended' },
        loadedAt: ms('when the database answered now was loaded'),
        advisories: count('advisories with a PyPI package'),
        packages: count('package names with at least one advisory'),
        files: count('advisory files read'),
        skipped: { type: 'array', description: 'files not taken, and why (the first 100)', items: object({ file: text('as the folder or zip names it'), reason: text('why') }, ['file', 'reason']) },
        skippedCount: count('files not taken, in all'),
        lastError: object({ at: ms('when'), message: text('why') }, ['at', 'message'], 'the last load failed, after the one answered now'),
      }, ['configured', 'source', 'name', 'loading', 'advisories', 'packages', 'files', 'skipped', 'skippedCount']),
    ],
  },
  IgnoreRule: object(IGNORE_RULE, IGNORE_RULE_REQUIRED, 'An advisory hidden from audit answers until the rule expires.'),
  IgnoreRuleView: object({ ...IGNORE_RULE, active: { type: 'boolean', description: 'false once expired' } }, [...IGNORE_RULE_REQUIRED, 'active'], 'A rule as listed: with whether it still hides anything.'),
  NewIgnoreRule: {
    ...object({
      advisory: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$', description: 'an advisory id or alias (GHSA-…, PYSEC-…, CVE-…)' },
      package: { type: 'string', maxLength: 200, description: 'only on this package' },
      processor: { ...ref('ProcessorName'), description: 'only on this processor (write permission on it); absent: every processor (administrators)' },
      reason: { type: 'string', minLength: 1, maxLength: 500, description: 'why it does not apply' },
      expiresAt: { type: 'string', description: 'ISO 8601: a date, or a date and time with its zone; in the future, at most 3 years ahead', examples: ['2026-12-31T00:00:00Z'] },
    }, ['advisory', 'reason', 'expiresAt']),
    additionalProperties: false,
  },
  FindingAdvisory: object({
    id: text('the advisory id'),
    aliases: { type: 'array', items: { type: 'string' }, description: 'its other ids (CVE-…, GHSA-…)' },
    summary: text('one line'),
    severity: text('LOW, MODERATE, HIGH or CRITICAL when the database says, else a CVSS vector'),
    fixed: { type: 'array', items: { type: 'string' }, description: 'the versions its ranges name as fixed, in PEP 440 order' },
    ignoredBy: { ...ref('IgnoreRule'), description: 'with ignored=true: the active rule that hides it' },
  }, ['id', 'aliases', 'summary', 'fixed']),
  Finding: object({
    package: text('as the processor\'s packagesInfo.json spells it'),
    manager: { enum: ['pip', 'conda'] },
    version: text('installed'),
    advisories: { type: 'array', items: ref('FindingAdvisory'), minItems: 1 },
    fixedVersion: text('the lowest version that clears every advisory not ignored on this package and that no advisory affects'),
  }, ['package', 'manager', 'version', 'advisories'], 'An installed package that advisories affect.'),
  ProcessorAudit: object({
    processor: text('the processor'),
    manager: { enum: ['pip', 'conda'] },
    database: ref('AdvisoryDatabase'),
    findings: { type: 'array', items: ref('Finding') },
  }, ['processor', 'database', 'findings']),
  FleetAudit: object({
    database: ref('AdvisoryDatabase'),
    processors: {
      type: 'array', description: 'the processors you can read that have findings, by name',
      items: object({ processor: text('name'), type: text('processor type'), manager: { enum: ['pip', 'conda'] }, findings: { type: 'array', items: ref('Finding') } }, ['processor', 'type', 'manager', 'findings']),
    },
    totals: object({ processors: count('with findings'), packages: count('findings'), advisories: count('distinct advisories') }, ['processors', 'packages', 'advisories']),
  }, ['database', 'processors', 'totals']),
};
